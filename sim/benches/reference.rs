//! The reference benchmark: kernel overhead against a hand-written event loop.
//!
//! One workload, run twice with the same node logic:
//! - on the kernel (`mailsim_sim::Sim`, nodes implementing `Node`);
//! - on a minimal loop: a `BinaryHeap` of events ordered by (time, seq), bare
//!   structs, and a `ChaCha8Rng` drawing the latencies exactly as the kernel's
//!   "network" stream does.
//!
//! The node logic (sender, relays, store) is written once against the small
//! `Effects` trait (send, set a timer, stop), so both runs do exactly the same
//! work: the kernel run must process exactly as many events as the plain loop
//! and end at the same simulated instant, which the bench asserts.
//!
//! Workload: 1 sender, 3 relays, 1 store. The store is down (silently: nothing
//! answers) for the first 24 simulated hours. The sender submits M messages
//! round-robin to the relays, evenly spread over the first hour (one every
//! 1 h / M, the first at 1 h / M): a steady trickle that leaves all M in flight
//! at once during the outage. A relay acknowledges the sender on receipt, then
//! tries the store; an attempt times out after 30 s without an ack and is
//! retried after a backoff of 5 min, doubling, capped at 1 h. Latency is
//! uniform in 1-10 ms. The store acknowledges every delivery and stops the run
//! once it holds all M distinct ids; the run ends at 72 h at the latest.
//!
//! Run with `cargo bench -p mailsim-sim --bench reference`. Environment:
//! `REFERENCE_M=10000,100000` (sizes), `REFERENCE_REPS=3` (best of),
//! `REFERENCE_ONLY=kernel|plain` (one implementation, e.g. under a profiler).

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use std::time::Duration;

use mailsim_sim::{Config, Ctx, Disk, DownMode, Dur, Fault, Input, Node, NodeConfig, NodeId, Sim, Time};
use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

#[path = "heap.rs"]
mod heap;
use heap::measure;

// ---------------------------------------------------------------------------
// The workload's node logic, shared by both implementations.

const SEED: u64 = 42;
const SENDER: u32 = 0;
const RELAYS: u32 = 3;
const FIRST_RELAY: u32 = 1;
const STORE: u32 = FIRST_RELAY + RELAYS;
const NODES: usize = STORE as usize + 1;
const SUBMIT_WINDOW: Dur = Dur::hours(1);
const ATTEMPT_TIMEOUT: Dur = Dur::secs(30);
const BACKOFF_FIRST: Dur = Dur::mins(5);
const BACKOFF_CAP: Dur = Dur::hours(1);
const STORE_DOWN_UNTIL: Time = Time::from_hours(24);
const END: Time = Time::from_hours(72);
const LATENCY_MIN_US: u64 = 1_000;
const LATENCY_MAX_US: u64 = 10_000;

#[derive(Clone, Copy, Debug, Hash)]
enum Msg {
    /// Sender -> relay: take this message.
    Submit { id: u32 },
    /// Relay -> sender: taken.
    Accepted { id: u32 },
    /// Relay -> store: one delivery attempt; `slot` is the relay's record.
    Deliver { id: u32, slot: u32 },
    /// Store -> relay: stored.
    Stored { id: u32, slot: u32 },
}

/// What node logic can do to the world: the whole interface it needs.
trait Effects {
    fn send(&mut self, to: u32, msg: Msg);
    fn set_timer(&mut self, after: Dur, tag: u64);
    fn stop(&mut self);
}

struct Sender {
    m: u32,
    next: u32,
    spacing: Dur,
    accepted: u32,
}

impl Sender {
    fn new(m: u32) -> Sender {
        Sender { m, next: 0, spacing: Dur::micros(SUBMIT_WINDOW.as_micros() / m as u64), accepted: 0 }
    }
    #[inline]
    fn start(&mut self, fx: &mut impl Effects) {
        if self.m > 0 {
            fx.set_timer(self.spacing, 0);
        }
    }
    #[inline]
    fn timer(&mut self, fx: &mut impl Effects) {
        let id = self.next;
        fx.send(FIRST_RELAY + id % RELAYS, Msg::Submit { id });
        self.next += 1;
        if self.next < self.m {
            fx.set_timer(self.spacing, 0);
        }
    }
    #[inline]
    fn message(&mut self, msg: Msg) {
        if let Msg::Accepted { .. } = msg {
            self.accepted += 1;
        }
    }
}

const FREE: u8 = 0;
const AWAITING_ACK: u8 = 1;
const BACKING_OFF: u8 = 2;

/// One in-flight message of a relay. Its timer's tag is `(gen << 32) | slot`;
/// `gen` changes when the slot is freed, so stale timers are ignored.
#[derive(Clone, Copy)]
struct Slot {
    id: u32,
    gen: u32,
    attempts: u8,
    state: u8,
}

#[derive(Default)]
struct Relay {
    slots: Vec<Slot>,
    free: Vec<u32>,
}

#[inline]
fn tag(slot: u32, gen: u32) -> u64 {
    (gen as u64) << 32 | slot as u64
}

impl Relay {
    #[inline]
    fn attempt(&mut self, slot: u32, fx: &mut impl Effects) {
        let s = &mut self.slots[slot as usize];
        s.state = AWAITING_ACK;
        fx.send(STORE, Msg::Deliver { id: s.id, slot });
        fx.set_timer(ATTEMPT_TIMEOUT, tag(slot, s.gen));
    }
    #[inline]
    fn message(&mut self, msg: Msg, fx: &mut impl Effects) {
        match msg {
            Msg::Submit { id } => {
                fx.send(SENDER, Msg::Accepted { id });
                let slot = match self.free.pop() {
                    Some(slot) => {
                        let s = &mut self.slots[slot as usize];
                        *s = Slot { id, gen: s.gen, attempts: 0, state: AWAITING_ACK };
                        slot
                    }
                    None => {
                        self.slots.push(Slot { id, gen: 0, attempts: 0, state: AWAITING_ACK });
                        self.slots.len() as u32 - 1
                    }
                };
                self.attempt(slot, fx);
            }
            Msg::Stored { id, slot } => {
                let s = &mut self.slots[slot as usize];
                if s.state != FREE && s.id == id {
                    s.state = FREE;
                    s.gen = s.gen.wrapping_add(1);
                    self.free.push(slot);
                }
            }
            _ => {}
        }
    }
    #[inline]
    fn timer(&mut self, tag: u64, fx: &mut impl Effects) {
        let (slot, gen) = (tag as u32, (tag >> 32) as u32);
        let s = &mut self.slots[slot as usize];
        if s.gen != gen {
            return; // the message was delivered; a stale timeout
        }
        match s.state {
            AWAITING_ACK => {
                // Timed out: back off 5 min, 10, 20, 40, then 1 h.
                let backoff = Dur::micros(BACKOFF_FIRST.as_micros() << s.attempts.min(8)).min(BACKOFF_CAP);
                s.attempts = s.attempts.saturating_add(1);
                s.state = BACKING_OFF;
                fx.set_timer(backoff, tag);
            }
            BACKING_OFF => self.attempt(slot, fx),
            _ => {}
        }
    }
}

struct Store {
    m: u32,
    seen: Vec<u64>,
    count: u32,
}

impl Store {
    fn new(m: u32) -> Store {
        Store { m, seen: vec![0; (m as usize).div_ceil(64)], count: 0 }
    }
    #[inline]
    fn message(&mut self, from: u32, msg: Msg, fx: &mut impl Effects) {
        if let Msg::Deliver { id, slot } = msg {
            let (word, bit) = (id as usize / 64, 1u64 << (id % 64));
            let new = self.seen[word] & bit == 0;
            self.seen[word] |= bit;
            fx.send(from, Msg::Stored { id, slot });
            if new {
                self.count += 1;
                if self.count == self.m {
                    fx.stop();
                }
            }
        }
    }
}

/// What one run produced, compared between the implementations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct RunStats {
    events: u64,
    end: Time,
    delivered: u32,
    accepted: u32,
}

// ---------------------------------------------------------------------------
// (a) On the kernel.

struct KernelFx<'c, 'a> {
    ctx: &'c mut Ctx<'a, Msg, ()>,
}

impl Effects for KernelFx<'_, '_> {
    #[inline]
    fn send(&mut self, to: u32, msg: Msg) {
        self.ctx.send(NodeId(to), msg);
    }
    #[inline]
    fn set_timer(&mut self, after: Dur, tag: u64) {
        self.ctx.set_timer(after, tag);
    }
    #[inline]
    fn stop(&mut self) {
        self.ctx.stop();
    }
}

impl Node<Msg, ()> for Sender {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, ()>, _: &mut Disk<()>) {
        let fx = &mut KernelFx { ctx };
        match input {
            Input::Start => self.start(fx),
            Input::Timer { .. } => self.timer(fx),
            Input::Message { msg, .. } => self.message(msg),
            _ => {}
        }
    }
}

impl Node<Msg, ()> for Relay {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, ()>, _: &mut Disk<()>) {
        let fx = &mut KernelFx { ctx };
        match input {
            Input::Message { msg, .. } => self.message(msg, fx),
            Input::Timer { tag, .. } => self.timer(tag, fx),
            _ => {}
        }
    }
}

impl Node<Msg, ()> for Store {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, ()>, _: &mut Disk<()>) {
        if let Input::Message { from, msg } = input {
            self.message(from.0, msg, &mut KernelFx { ctx });
        }
    }
}

fn run_kernel(m: u32) -> RunStats {
    let mut cfg = Config::new(SEED);
    cfg.end_at = Some(END);
    let mut sim: Sim<Msg, ()> = Sim::new(cfg, ());
    let sender = sim.add_node("sender", NodeConfig::default(), (), move |_| Sender::new(m));
    for i in 0..RELAYS {
        let id = sim.add_node(&format!("relay{i}"), NodeConfig::default(), (), |_| Relay::default());
        assert_eq!(id.0, FIRST_RELAY + i);
    }
    let store = sim.add_node("store", NodeConfig { down: DownMode::Silent, ..NodeConfig::default() }, (), move |_| Store::new(m));
    assert_eq!((sender.0, store.0), (SENDER, STORE));
    sim.schedule(Time::ZERO, Fault::Crash(store));
    sim.schedule(STORE_DOWN_UNTIL, Fault::Restart(store));
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert!(report.faults.iter().all(|f| f.effect), "both faults took effect");
    RunStats {
        events: report.events,
        end: report.end,
        delivered: sim.node::<Store>(store).expect("the store is up at the end").count,
        accepted: sim.node::<Sender>(sender).expect("the sender is up").accepted,
    }
}

// ---------------------------------------------------------------------------
// (b) On a plain loop.

enum Ev {
    Start(u32),
    Deliver { from: u32, to: u32, msg: Msg },
    Timer { node: u32, tag: u64 },
    Crash,
    Restart,
}

struct Entry {
    time: u64,
    seq: u64,
    ev: Ev,
}

impl PartialEq for Entry {
    fn eq(&self, o: &Self) -> bool {
        (self.time, self.seq) == (o.time, o.seq)
    }
}
impl Eq for Entry {}
impl PartialOrd for Entry {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl Ord for Entry {
    /// Reversed: the max-heap pops the earliest (time, seq).
    fn cmp(&self, o: &Self) -> Ordering {
        (o.time, o.seq).cmp(&(self.time, self.seq))
    }
}

/// FNV-1a, as the kernel names its random streams.
const fn fnv1a(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

struct Queue {
    now: u64,
    seq: u64,
    heap: BinaryHeap<Entry>,
    rng: ChaCha8Rng,
    stop: bool,
}

impl Queue {
    #[inline]
    fn push(&mut self, time: u64, ev: Ev) {
        let seq = self.seq;
        self.seq += 1;
        self.heap.push(Entry { time, seq, ev });
    }
    /// Uniform in lo..=hi, by Lemire's multiply-shift with rejection (the
    /// kernel's draw, so both runs see the same latencies).
    #[inline]
    fn latency(&mut self) -> u64 {
        let n = LATENCY_MAX_US - LATENCY_MIN_US + 1;
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = (self.rng.next_u64() as u128) * (n as u128);
            if (m as u64) >= threshold {
                return LATENCY_MIN_US + (m >> 64) as u64;
            }
        }
    }
}

struct PlainFx<'q> {
    q: &'q mut Queue,
    me: u32,
}

impl Effects for PlainFx<'_> {
    #[inline]
    fn send(&mut self, to: u32, msg: Msg) {
        let at = self.q.now + self.q.latency();
        self.q.push(at, Ev::Deliver { from: self.me, to, msg });
    }
    #[inline]
    fn set_timer(&mut self, after: Dur, tag: u64) {
        let at = self.q.now + after.as_micros();
        self.q.push(at, Ev::Timer { node: self.me, tag });
    }
    #[inline]
    fn stop(&mut self) {
        self.q.stop = true;
    }
}

fn run_plain(m: u32) -> RunStats {
    let mut rng = ChaCha8Rng::seed_from_u64(SEED);
    rng.set_stream(fnv1a("network"));
    let mut q = Queue { now: 0, seq: 0, heap: BinaryHeap::new(), rng, stop: false };
    let mut sender = Sender::new(m);
    let mut relays: Vec<Relay> = (0..RELAYS).map(|_| Relay::default()).collect();
    let mut store: Option<Store> = None;
    // The kernel's agenda at the start: every node's boot, then the faults.
    for n in 0..NODES as u32 {
        q.push(0, Ev::Start(n));
    }
    q.push(0, Ev::Crash);
    q.push(STORE_DOWN_UNTIL.as_micros(), Ev::Restart);
    let mut events = 0u64;
    while let Some(e) = q.heap.pop() {
        if e.time > END.as_micros() {
            q.now = END.as_micros();
            break;
        }
        events += 1;
        q.now = e.time;
        match e.ev {
            Ev::Start(n) if n == STORE => store = Some(Store::new(m)),
            Ev::Start(n) if n == SENDER => sender.start(&mut PlainFx { q: &mut q, me: SENDER }),
            Ev::Start(_) => {}
            Ev::Crash => store = None,
            Ev::Restart => store = Some(Store::new(m)),
            Ev::Deliver { from, to, msg } => {
                let fx = &mut PlainFx { q: &mut q, me: to };
                match to {
                    SENDER => sender.message(msg),
                    STORE => {
                        // Down and silent: the message vanishes.
                        if let Some(store) = store.as_mut() {
                            store.message(from, msg, fx);
                        }
                    }
                    r => relays[(r - FIRST_RELAY) as usize].message(msg, fx),
                }
            }
            Ev::Timer { node, tag } => {
                let fx = &mut PlainFx { q: &mut q, me: node };
                match node {
                    SENDER => sender.timer(fx),
                    r => relays[(r - FIRST_RELAY) as usize].timer(tag, fx),
                }
            }
        }
        if q.stop {
            break;
        }
    }
    RunStats { events, end: Time::from_micros(q.now), delivered: store.map_or(0, |s| s.count), accepted: sender.accepted }
}

// ---------------------------------------------------------------------------
// Measurement and report.

struct Best {
    stats: RunStats,
    wall: Duration,
    peak: usize,
}

impl Best {
    fn record(slot: &mut Option<Best>, (stats, wall, peak): (RunStats, Duration, usize)) {
        match slot {
            Some(b) => {
                assert_eq!(b.stats, stats, "a run is deterministic");
                b.wall = b.wall.min(wall);
                b.peak = b.peak.max(peak);
            }
            None => *slot = Some(Best { stats, wall, peak }),
        }
    }
    fn rate(&self) -> f64 {
        self.stats.events as f64 / self.wall.as_secs_f64()
    }
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn row(m: u32, name: &str, b: &Best) {
    println!(
        "{m:>7}  {name:<6}  {:>10}  {:>9.1}  {:>8.2}  {:>9.2}  {:>7.1}  {:>9}",
        b.stats.events,
        b.wall.as_secs_f64() * 1e3,
        b.rate() / 1e6,
        mib(b.peak),
        b.peak as f64 / m as f64,
        format!("{}", b.stats.end),
    );
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn main() {
    assert_eq!(fnv1a("network"), mailsim_sim::stream_id("network"), "the plain loop draws from the kernel's network stream");
    let sizes: Vec<u32> = std::env::var("REFERENCE_M")
        .map(|v| v.split(',').map(|s| s.trim().parse().expect("REFERENCE_M: comma-separated counts")).collect())
        .unwrap_or_else(|_| vec![10_000, 100_000]);
    let reps: u32 = env_or("REFERENCE_REPS", 3).max(1);
    let only = std::env::var("REFERENCE_ONLY").unwrap_or_default();
    let (do_kernel, do_plain) = (only != "plain", only != "kernel");

    println!("reference workload: 1 sender, 3 relays, 1 store down 0-24 h; best of {reps}");
    println!(
        "{:>7}  {:<6}  {:>10}  {:>9}  {:>8}  {:>9}  {:>7}  {:>9}",
        "M", "impl", "events", "wall ms", "Mev/s", "peak MiB", "B/msg", "sim end"
    );
    for &m in &sizes {
        assert!(m > 0, "M must be positive");
        let (mut kernel, mut plain) = (None, None);
        for _ in 0..reps {
            if do_kernel {
                Best::record(&mut kernel, measure(|| run_kernel(m)));
            }
            if do_plain {
                Best::record(&mut plain, measure(|| run_plain(m)));
            }
        }
        for b in kernel.iter().chain(plain.iter()) {
            assert_eq!((b.stats.delivered, b.stats.accepted), (m, m), "every message accepted and delivered");
        }
        if let Some(k) = &kernel {
            row(m, "kernel", k);
        }
        if let Some(p) = &plain {
            row(m, "plain", p);
        }
        if let (Some(k), Some(p)) = (&kernel, &plain) {
            assert_eq!(k.stats, p.stats, "the kernel and the plain loop ran the same events");
            let ratio = k.rate() / p.rate();
            let verdict = if ratio >= 0.7 { "meets" } else { "BELOW" };
            println!(
                "{m:>7}  ratio kernel/plain = {ratio:.2} ({verdict} the 0.7 target); heap kernel/plain = {:.2}",
                k.peak as f64 / p.peak as f64
            );
        }
    }
}
