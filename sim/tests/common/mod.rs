//! Toy nodes shared by the kernel's integration tests.
//!
//! None of these model a real system; each exists to make one kernel feature
//! observable from outside:
//! - `Store` and `Writer`: a durable store and a client that writes to it and
//!   keeps a ghost ledger of what it saw acknowledged. `Store` has a planted
//!   "acknowledge before the durable write completes" bug behind a flag, the
//!   classic way a crash turns into lost data.
//! - `Sender` and `Receiver`: a message retried until acknowledged, for the
//!   liveness phase.
//! - `Chatter`: sends numbered notes to its peers on a fixed period, so tests can
//!   tell which messages a partition or a clog touched.
//! - `Idle`: does nothing but log what it is handed (timers, model faults).
//!
//! Every node logs what it observes into the shared ghost state `World`, which
//! the tests and properties read after (or during) the run.

#![allow(dead_code)] // Each test binary uses a different subset of the toys.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use mailsim_sim::*;

#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Msg {
    Put(u64),
    Ack(u64),
    Ping(u64),
    Pong(u64),
    Note(u64),
    Nothing,
}

/// One message as a node received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub at: Time,
    pub from: NodeId,
    pub to: NodeId,
    pub msg: Msg,
}

/// Ghost state written by the toys and read by properties and tests.
#[derive(Debug, Default)]
pub struct World {
    /// Values a `Writer` saw acknowledged, in order.
    pub acked: Vec<u64>,
    /// Every message a toy received.
    pub received: Vec<Delivery>,
    /// Every `Input::Refused` a toy received: (when, who, refused by, what).
    pub refused: Vec<(Time, NodeId, NodeId, Msg)>,
    /// Every timer that fired: (when, node, tag).
    pub timers: Vec<(Time, NodeId, u64)>,
    /// Every model fault a toy was handed: (when, node, kind).
    pub model_faults: Vec<(Time, NodeId, String)>,
    /// Named moments ("delivered", "recovered", ...), first occurrence only.
    pub flags: BTreeMap<&'static str, Time>,
}

impl World {
    pub fn flag(&mut self, name: &'static str, at: Time) {
        self.flags.entry(name).or_insert(at);
    }
    pub fn received_by(&self, to: NodeId) -> impl Iterator<Item = &Delivery> {
        self.received.iter().filter(move |d| d.to == to)
    }
}

pub type Observed<'a> = Observe<'a, Msg, World>;

// ---------------------------------------------------------------------------
// Store and Writer: the custody pair.

/// The store's durable state: the values whose durable write completed.
#[derive(Debug, Default)]
pub struct Values(pub BTreeSet<u64>);

impl Durable for Values {
    type Op = u64;
    fn apply(&mut self, v: u64) {
        let fresh = self.0.insert(v);
        assert!(fresh, "value {v} written twice: writers never repeat a value");
    }
}

/// A store that makes each `Put` durable and acknowledges it. With
/// `ack_early` it acknowledges as soon as the write is *started* (the planted
/// bug); otherwise only on `Input::Durable`.
pub struct Store {
    pub ack_early: bool,
    /// Writes started and not yet durable, oldest first, with who to answer.
    waiting: VecDeque<(NodeId, u64)>,
}

impl Store {
    pub fn new(ack_early: bool) -> Store {
        Store { ack_early, waiting: VecDeque::new() }
    }
}

impl Node<Msg, World> for Store {
    type Disk = Values;
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<Values>) {
        match input {
            Input::Message { from, msg: Msg::Put(v) } => {
                disk.write(ctx, v);
                if self.ack_early {
                    ctx.send(from, Msg::Ack(v));
                } else {
                    self.waiting.push_back((from, v));
                    assert_eq!(disk.pending_len(), self.waiting.len(), "one waiting answer per write in flight");
                }
            }
            Input::Durable { .. } if !self.ack_early => {
                // Writes complete in the order they were started.
                let (from, v) = self.waiting.pop_front().expect("a durable write was waiting");
                assert!(disk.state().0.contains(&v), "the completed write is applied before the node hears of it");
                ctx.send(from, Msg::Ack(v));
            }
            _ => {}
        }
    }
}

/// Slow disks make the window between "write started" and "write durable"
/// wide, so a crash almost always lands inside it.
pub fn slow_disk() -> NodeConfig {
    NodeConfig { fsync_min: Dur::millis(5), fsync_max: Dur::millis(20), ..NodeConfig::default() }
}

/// Writes `count` distinct values (`base`, `base + 1`, ...) to a store, one
/// per `period`, without retrying, and records every acknowledgement in the
/// ledger `World::acked`.
pub struct Writer {
    pub store: NodeId,
    pub base: u64,
    pub count: u64,
    pub period: Dur,
    next: u64,
}

impl Writer {
    pub fn new(store: NodeId, base: u64, count: u64, period: Dur) -> Writer {
        Writer { store, base, count, period, next: 0 }
    }
}

impl Node<Msg, World> for Writer {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start | Input::Timer { .. } if self.next < self.count => {
                ctx.send(self.store, Msg::Put(self.base + self.next));
                self.next += 1;
                ctx.set_timer(self.period, 0);
            }
            Input::Message { msg: Msg::Ack(v), .. } => ctx.world.acked.push(v),
            _ => {}
        }
    }
}

pub const CUSTODY: &str = "custody: acknowledged values are durable";

/// The custody property: every value a writer saw acknowledged is in the
/// store's durable state, or (while the store is up) in its writes in flight.
pub fn custody(store: NodeId) -> impl Fn(&Observed<'_>) -> Result<(), String> + 'static {
    move |o| {
        let disk = o.disk::<Store>(store).expect("the store is a Store");
        let up = o.is_up(store);
        for v in &o.world.acked {
            if disk.state().0.contains(v) {
                continue;
            }
            if up && disk.pending().any(|p| p == v) {
                continue;
            }
            let state = if up { "up" } else { "down" };
            return Err(format!("value {v} was acknowledged but is neither durable nor in flight (store {state})"));
        }
        Ok(())
    }
}

/// A store and one writer of 100 values every 2 ms, with the custody property.
pub fn custody_system(seed: u64, ack_early: bool) -> (Sim<Msg, World>, NodeId) {
    custody_system_with(Config::new(seed), ack_early)
}

pub fn custody_system_with(cfg: Config, ack_early: bool) -> (Sim<Msg, World>, NodeId) {
    let mut sim = Sim::new(cfg, World::default());
    let store = sim.add_node("store", slow_disk(), Values::default(), move |_| Store::new(ack_early));
    sim.add_node("writer", NodeConfig::default(), (), move |_| Writer::new(store, 0, 100, Dur::millis(2)));
    sim.always(CUSTODY, custody(store));
    (sim, store)
}

// ---------------------------------------------------------------------------
// Sender and Receiver: retry until acknowledged.

/// Sends `Ping(1)` to `to` every `period` until a `Pong(1)` comes back, then
/// flags "delivered". Logs refusals.
pub struct Sender {
    pub to: NodeId,
    pub period: Dur,
    acked: bool,
}

impl Sender {
    pub fn new(to: NodeId, period: Dur) -> Sender {
        Sender { to, period, acked: false }
    }
}

impl Node<Msg, World> for Sender {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start | Input::Timer { .. } if !self.acked => {
                ctx.send(self.to, Msg::Ping(1));
                ctx.set_timer(self.period, 0);
            }
            Input::Message { msg: Msg::Pong(1), .. } => {
                self.acked = true;
                let now = ctx.now();
                ctx.world.flag("delivered", now);
            }
            Input::Refused { to, msg } => {
                let (now, me) = (ctx.now(), ctx.me());
                ctx.world.refused.push((now, me, to, msg));
            }
            _ => {}
        }
    }
}

/// Answers every `Ping(n)` with `Pong(n)`, unless `mute`. Logs what it receives.
pub struct Receiver {
    pub mute: bool,
}

impl Node<Msg, World> for Receiver {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        if let Input::Message { from, msg } = input {
            let (at, to) = (ctx.now(), ctx.me());
            ctx.world.received.push(Delivery { at, from, to, msg: msg.clone() });
            if let (Msg::Ping(n), false) = (msg, self.mute) {
                ctx.send(from, Msg::Pong(n));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Chatter and Idle.

/// Sends `Note(i)` to every peer at `i * period` for i in 0..count (timers
/// restart from zero after a crash). Logs what it receives and refusals.
pub struct Chatter {
    pub peers: Vec<NodeId>,
    pub period: Dur,
    pub count: u64,
    next: u64,
}

impl Chatter {
    pub fn new(peers: Vec<NodeId>, period: Dur, count: u64) -> Chatter {
        Chatter { peers, period, count, next: 0 }
    }
}

impl Node<Msg, World> for Chatter {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start | Input::Timer { .. } if self.next < self.count => {
                for &p in &self.peers {
                    ctx.send(p, Msg::Note(self.next));
                }
                self.next += 1;
                ctx.set_timer(self.period, 0);
            }
            Input::Message { from, msg } => {
                let (at, to) = (ctx.now(), ctx.me());
                ctx.world.received.push(Delivery { at, from, to, msg });
            }
            Input::Refused { to, msg } => {
                let (now, me) = (ctx.now(), ctx.me());
                ctx.world.refused.push((now, me, to, msg));
            }
            _ => {}
        }
    }
}

/// Does nothing on its own. Logs messages, timers and model faults; marks a
/// model fault of kind "effective" as having had an effect.
pub struct Idle;

impl Node<Msg, World> for Idle {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        let (now, me) = (ctx.now(), ctx.me());
        match input {
            Input::Message { from, msg } => ctx.world.received.push(Delivery { at: now, from, to: me, msg }),
            Input::Timer { tag, .. } => ctx.world.timers.push((now, me, tag)),
            Input::Fault { id, kind, .. } => {
                if kind == "effective" {
                    ctx.fault_effect(id);
                }
                ctx.world.model_faults.push((now, me, kind));
            }
            _ => {}
        }
    }
}

/// A link with a fixed latency, so tests can predict delivery times exactly.
pub fn fixed_link(latency: Dur) -> LinkConfig {
    LinkConfig { latency_min: latency, latency_max: latency, loss_ppm: 0 }
}

pub const fn ms(n: u64) -> Time {
    Time::from_micros(n * 1_000)
}
