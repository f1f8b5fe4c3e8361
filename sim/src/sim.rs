//! The simulation loop: one agenda of pending events ordered by (time, seq),
//! a virtual clock that jumps from event to event, and the handler context
//! through which nodes act on the world.
//!
//! A run has two phases, as in TigerBeetle's VOPR. In the *fault phase* the
//! fault plan and the random fault processes run. When it ends the kernel stops
//! the random processes and, unless told otherwise, heals the network and
//! restarts crashed nodes; once the scenario's recovery condition holds, the
//! *liveness phase* begins and every *eventually* property must hold before its
//! deadline. Outcomes: ok, safety violation, liveness violation, model panic,
//! budget exceeded.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::agenda::{Agenda, Ev};
use crate::fault::{Fault, FaultProcess, FaultReport, ProcessReport, ProcessView, Tag, UnfiredFault};

/// The faults a heal of the whole network ends.
const NETWORK_FAULTS: &[Tag] = &[Tag::Partition, Tag::PartitionOneWay, Tag::Isolate, Tag::Clog, Tag::SlowLink];
use crate::monitor::{Monitor, Notice, View};
use crate::net::{DownMode, LinkConfig, Network, Route};
use crate::node::{AnyHost, Disk, Durable, FaultId, Host, Input, Node, NodeConfig, TimerId};
use crate::property::{Check, Declared, Observe, Property, PropertyKind, PropertyReport, PropertyStatus, Violation};
use crate::rng::{Stream, PPM};
use crate::time::{Dur, Time};
use crate::trace::{self, stable_hash, Note, Record, RecordKind, Sample, Slice, Trace, TraceMode};
use crate::{Message, NodeId};

/// The node index used in records made by the kernel itself.
const KERNEL: u32 = u32::MAX;
/// The name under which the recovery gate is reported.
pub const RECOVERY: &str = "recovery";
/// Violations a run keeps in full (with their trace tails); later ones are
/// only counted per property.
const VIOLATIONS_KEPT_MAX: usize = 64;

thread_local! {
    static SIM_NOW: Cell<u64> = const { Cell::new(0) };
}

/// The simulated time of the run executing on this thread (for log timestamps).
pub fn current_time() -> Time {
    Time(SIM_NOW.with(Cell::get))
}

/// Settings of one run.
#[derive(Clone, Debug)]
pub struct Config {
    /// The run's seed: every random stream of the run is derived from it.
    pub seed: u64,
    /// How much of the trace the run keeps (default: `TraceMode::Tail(64)`).
    pub trace: TraceMode,
    /// Budget: a run that needs more events than this is stopped with
    /// `Outcome::BudgetExceeded`.
    pub max_events: u64,
    /// Budget: a run that would go past this simulated time is stopped with
    /// `Outcome::BudgetExceeded`.
    pub max_time: Time,
    /// The normal end of the run, if it has one (a scenario's horizon).
    pub end_at: Option<Time>,
    /// When the fault phase ends; `None` for a run without a liveness phase
    /// (its eventually properties are then checked over the whole run).
    pub fault_phase_end: Option<Time>,
    /// How long recovery may take, and then how long eventually properties
    /// have to hold, each counted from the end of the step before.
    pub liveness_window: Dur,
    /// At the end of the fault phase, heal the network and restart crashed
    /// nodes (the "core" of the system that the liveness phase needs).
    pub heal_for_liveness: bool,
    /// End the run as soon as every eventually property has held in the
    /// liveness phase.
    pub end_when_live: bool,
    /// Enable a random subset of the fault processes for this seed.
    pub swarm: bool,
    /// Number of trace records in a violation's tail.
    pub tail_len: usize,
    /// End the run at the first violation (TigerBeetle's habit: the state
    /// after a bug is suspect). When false the run goes on to its end,
    /// recording every violation, so a run that models real data loss still
    /// measures its whole timeline; the outcome is still the first violation.
    pub stop_on_violation: bool,
}

impl Config {
    /// Settings for `seed` with the defaults: a 64-record trace tail, budgets
    /// of 10^9 events and `u64::MAX / 2` µs, no end time, no fault phase, a
    /// 24 h liveness window, heal for liveness, end when live, no swarm,
    /// 32-record violation tails, stop at the first violation.
    pub fn new(seed: u64) -> Config {
        Config {
            seed,
            trace: TraceMode::default(),
            max_events: 1_000_000_000,
            max_time: Time(u64::MAX / 2),
            end_at: None,
            fault_phase_end: None,
            liveness_window: Dur::hours(24),
            heal_for_liveness: true,
            end_when_live: true,
            swarm: false,
            tail_len: 32,
            stop_on_violation: true,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "class", rename_all = "snake_case")]
pub enum Outcome {
    /// The run ended normally (empty agenda, `Config::end_at`, or a stop)
    /// without any violation.
    Ok,
    /// The run's first violation was of an always property, checked by the
    /// kernel or reported by the model.
    SafetyViolation(Violation),
    /// The run's first violation was of an eventually or sometimes property,
    /// or of the recovery gate.
    LivenessViolation(Violation),
    /// Something panicked during the run (a node handler, a property check,
    /// a fault generator, or a report of an undeclared property); the run
    /// stopped there.
    ModelPanic {
        /// The simulated time of the event being handled.
        time: Time,
        /// The run's seed.
        seed: u64,
        /// The panic message, or a placeholder for a non-string payload.
        message: String,
    },
    /// The run was stopped by one of its budgets.
    BudgetExceeded {
        /// The budget exceeded, with its limit.
        budget: Budget,
        /// The simulated time of the last event handled.
        time: Time,
        /// The run's seed.
        seed: u64,
    },
}

/// A run budget, as `Outcome::BudgetExceeded` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Budget {
    /// `Config::max_events`: the run needed more events than this.
    Events(u64),
    /// `Config::max_time`: the next event was due after this time.
    Time(Time),
}

impl Outcome {
    /// Whether the outcome is `Ok`: no violation, panic or exceeded budget.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }
    /// The outcome class as a short name: ok, safety, liveness, panic, budget.
    pub fn class(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::SafetyViolation(_) => "safety",
            Outcome::LivenessViolation(_) => "liveness",
            Outcome::ModelPanic { .. } => "panic",
            Outcome::BudgetExceeded { .. } => "budget",
        }
    }
    /// The violation, for a safety or liveness outcome.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            Outcome::SafetyViolation(v) | Outcome::LivenessViolation(v) => Some(v),
            _ => None,
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Outcome::Ok => write!(f, "ok"),
            Outcome::SafetyViolation(v) => write!(f, "safety violation: {v}"),
            Outcome::LivenessViolation(v) => write!(f, "liveness violation: {v}"),
            Outcome::ModelPanic { time, seed, message } => write!(f, "model panic at {time} (seed {seed}): {message}"),
            Outcome::BudgetExceeded { budget: Budget::Events(n), time, seed } => {
                write!(f, "budget exceeded: more than {n} events (at {time}, seed {seed})")
            }
            Outcome::BudgetExceeded { budget: Budget::Time(t), seed, .. } => {
                write!(f, "budget exceeded: simulated time past {t} (seed {seed})")
            }
        }
    }
}

/// What a run reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RunReport {
    /// The run's seed.
    pub seed: u64,
    /// How the run ended.
    pub outcome: Outcome,
    /// The running hash over every trace record: the determinism oracle,
    /// which must be the same for every run of one seed.
    pub trace_hash: u64,
    /// How many events the run handled.
    pub events: u64,
    /// The simulated time at which the run ended: that of its last event, or
    /// `Config::end_at` if the next event was due after it.
    pub end: Time,
    /// Every injected fault, scheduled or random, in order of injection
    /// (a `FaultId` is an index into it).
    pub faults: Vec<FaultReport>,
    /// One report per random fault process, in the order they were added.
    pub processes: Vec<ProcessReport>,
    /// Every property (declared, checked by the kernel, and the recovery
    /// gate) with its verdict: held, violated, or not evaluated.
    pub properties: Vec<PropertyReport>,
    /// The violations recorded, in order (the first few in full; a run that
    /// stops at its first violation has one).
    pub violations: Vec<Violation>,
    /// Scheduled faults that never fired (the run ended first).
    pub unfired: Vec<UnfiredFault>,
    /// When the recovery condition came to hold, if the run had one and it did.
    pub recovered: Option<Time>,
}

impl RunReport {
    /// The verdict on one property, by name.
    pub fn property(&self, name: &str) -> Option<&PropertyReport> {
        self.properties.iter().find(|p| p.name == name)
    }
}

/// Everything of a run except the nodes and the world, so that a handler can
/// borrow it while its node is borrowed too.
pub(crate) struct Core<M> {
    seed: u64,
    now: Time,
    next_seq: u64,
    cur_seq: u64,
    agenda: Agenda<M>,
    trace: Trace,
    net: Network,
    net_rng: Stream,
    /// Messages held by clogged links: (from, to, departure time, message).
    held: Vec<(u32, u32, Time, M)>,
    names: Vec<String>,
    up: Vec<bool>,
    inc: Vec<u32>,
    down: Vec<DownMode>,
    next_timer: u64,
    cancelled: BTreeSet<u64>,
    stop: bool,
    /// Violations reported by handlers during the current event.
    violation: Vec<(&'static str, String)>,
    /// Power actions requested by handlers: (node, on, by whom).
    actions: Vec<(u32, bool, u32)>,
    faults: Vec<FaultReport>,
    /// Per fault report: its peer (the other end of a link fault) and tag.
    fault_peer: Vec<(Option<u32>, Tag)>,
    metric_ids: BTreeMap<&'static str, usize>,
    metric_names: Vec<&'static str>,
    samples: Vec<Sample>,
    /// States shown on named tracks (full traces only), in order of
    /// change; an open one has no end yet.
    states: Vec<Slice>,
    /// Per named track, the index in `states` of its current state.
    state_now: BTreeMap<String, usize>,
    monitor: Monitor,
    notices: Vec<Notice>,
    /// How a message reads in a full trace's labels, given the nodes'
    /// names (`Sim::describe_messages`).
    describe: fn(&M, &[String]) -> String,
    /// The item a message concerns, for flows (`Sim::describe_messages`).
    subject: fn(&M) -> Option<u64>,
    /// Notes on what happened to an item (full traces only): `Ctx::note`.
    notes: Vec<Note>,
}

/// The default description of a message: its debug text.
fn debug_text<M: Message>(m: &M, _names: &[String]) -> String {
    format!("{m:?}")
}

/// By default a message concerns no item.
fn no_subject<M>(_: &M) -> Option<u64> {
    None
}

impl<M: Message> Core<M> {
    #[inline]
    fn push(&mut self, time: Time, ev: Ev<M>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.agenda.push(time, seq, ev);
    }

    #[inline]
    fn record(&mut self, kind: RecordKind, node: u32, peer: u32, payload: u64, label: impl FnOnce(&[String]) -> String) {
        let r = Record { time: self.now, seq: self.cur_seq, kind, node, peer, payload };
        let names = &self.names;
        self.trace.push(r, || label(names));
    }

    /// Records a message's event: its label is `head` and the message's
    /// description, and it concerns the message's subject (full traces
    /// only; neither is hashed).
    #[inline]
    fn record_msg(&mut self, kind: RecordKind, node: u32, peer: u32, msg: &M, head: impl FnOnce(&[String]) -> String) {
        let r = Record { time: self.now, seq: self.cur_seq, kind, node, peer, payload: stable_hash(msg) };
        let (names, describe, subject) = (&self.names, self.describe, self.subject);
        self.trace.push_about(r, || (format!("{}{}", head(names), describe(msg, names)), subject(msg)));
    }

    fn send(&mut self, from: u32, to: u32, msg: M, extra: Dur) {
        match self.net.route(NodeId(from), NodeId(to), ()) {
            Route::Drop => {
                self.record_msg(RecordKind::Drop, from, to, &msg, |n| format!("{} -> {} cut: ", n[from as usize], n[to as usize]));
            }
            Route::Hold => {
                let departure = self.now + extra;
                self.held.push((from, to, departure, msg));
            }
            Route::Deliver(link, slow) => {
                if link.loss_ppm > 0 && self.net_rng.chance(link.loss_ppm) {
                    self.record_msg(RecordKind::Drop, from, to, &msg, |n| format!("{} -> {} lost: ", n[from as usize], n[to as usize]));
                    return;
                }
                let mut latency = self.net_rng.dur(link.latency_min, link.latency_max);
                if slow != 1000 {
                    latency = latency.scale_permille(slow);
                }
                let at = self.now + latency + extra;
                let inc = self.inc[from as usize];
                self.push(at, Ev::Deliver { from, to, inc, msg });
            }
        }
    }

    /// Re-evaluates the failure monitor's watches and schedules their notices.
    fn review_watches(&mut self) {
        let mut out = std::mem::take(&mut self.notices);
        let (up, net, rng) = (&self.up, &self.net, &mut self.net_rng);
        self.monitor.review(
            self.now,
            |peer, watcher, timeout| reaches(up, net, peer, watcher, timeout),
            // An up notice travels one link latency, drawn as a message's is.
            |peer, watcher| match net.route(NodeId(peer), NodeId(watcher), ()) {
                Route::Deliver(link, slow) => rng.dur(link.latency_min, link.latency_max).scale_permille(slow),
                Route::Drop | Route::Hold => Dur::ZERO,
            },
            &mut out,
        );
        for n in out.drain(..) {
            self.push(n.at, Ev::Watch { watch: n.watch, gen: n.gen });
        }
        self.notices = out;
    }

    fn release_held(&mut self, pred: impl Fn(u32, u32) -> bool) {
        let held = std::mem::take(&mut self.held);
        for (from, to, departure, msg) in held {
            if pred(from, to) {
                let wait = departure.since(self.now);
                self.send(from, to, msg, wait);
            } else {
                self.held.push((from, to, departure, msg));
            }
        }
    }

    fn metric_id(&mut self, name: &'static str) -> usize {
        if let Some(&id) = self.metric_ids.get(name) {
            return id;
        }
        let id = self.metric_names.len();
        self.metric_names.push(name);
        self.metric_ids.insert(name, id);
        id
    }

    /// Heals every link, releasing what clogs held; ends the network faults.
    fn heal(&mut self) -> bool {
        let changed = self.net.heal_all() | !self.held.is_empty();
        self.end_faults(NETWORK_FAULTS, |_, _| true);
        self.release_held(|_, _| true);
        changed
    }

    /// Heals the link between `a` and `b` both ways; ends the partitions of it.
    fn heal_link(&mut self, a: u32, b: u32) -> bool {
        let x = self.net.cut.remove(&(a, b));
        let changed = self.net.cut.remove(&(b, a)) | x;
        self.end_faults(
            &[Tag::Partition, Tag::PartitionOneWay],
            |r, p| matches!((r.target, p), (Some(t), Some(q)) if (t == a && q == b) || (t == b && q == a)),
        );
        changed
    }

    /// Unclogs `from -> to`, releasing what it held; ends the clog.
    fn unclog(&mut self, from: u32, to: u32) -> bool {
        let changed = self.net.clogged.remove(&(from, to));
        self.end_faults(&[Tag::Clog], |r, p| r.target == Some(from) && p == Some(to));
        self.release_held(|f, t| f == from && t == to);
        changed
    }

    /// Slows `from -> to` by `permille` (1000 sets it back to normal and ends
    /// the slowdown); returns whether the factor changed.
    fn slow_link(&mut self, from: u32, to: u32, permille: u32) -> bool {
        let old = if permille == 1000 { self.net.slow.remove(&(from, to)) } else { self.net.slow.insert((from, to), permille) };
        if permille == 1000 {
            self.end_faults(&[Tag::SlowLink], |r, p| r.target == Some(from) && p == Some(to));
        }
        old.unwrap_or(1000) != permille
    }

    /// Ends every open fault report matching `pred` at the current time.
    /// Ends every running fault of one of the kinds `tags` that `pred` (the
    /// report and the fault's peer) selects.
    fn end_faults(&mut self, tags: &[Tag], pred: impl Fn(&FaultReport, Option<u32>) -> bool) {
        let now = self.now;
        for (r, (peer, t)) in self.faults.iter_mut().zip(self.fault_peer.iter()) {
            if tags.contains(t) && r.effect && r.ended.is_none() && pred(r, *peer) {
                r.ended = Some(now);
            }
        }
    }
}

/// Whether a message from `from` would reach `to` within `timeout`: the
/// failure monitor's notion of a live peer (`monitor.rs`).
fn reaches(up: &[bool], net: &Network, from: u32, to: u32, timeout: Dur) -> bool {
    if !(up[from as usize] && up[to as usize]) {
        return false;
    }
    match net.route(NodeId(from), NodeId(to), ()) {
        Route::Deliver(link, slow) => link.loss_ppm < PPM && link.latency_min.scale_permille(slow) < timeout,
        Route::Drop | Route::Hold => false,
    }
}

/// The handle a node's handler acts through.
pub struct Ctx<'a, M: Message, W> {
    core: &'a mut Core<M>,
    me: u32,
    rng: &'a mut Stream,
    /// The model's ghost state (ledgers, measurements). Models write to it so
    /// that properties can check it; they must not base decisions on it.
    pub world: &'a mut W,
}

impl<'a, M: Message, W> Ctx<'a, M, W> {
    /// The simulated time of the event being handled.
    #[inline]
    pub fn now(&self) -> Time {
        self.core.now
    }
    /// The id of the node being handled.
    #[inline]
    pub fn me(&self) -> NodeId {
        NodeId(self.me)
    }
    /// This node's own random stream (`"node/<name>"`).
    #[inline]
    pub fn rng(&mut self) -> &mut Stream {
        self.rng
    }
    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.core.seed
    }
    /// Sends a message over the network.
    #[inline]
    pub fn send(&mut self, to: NodeId, msg: M) {
        self.core.send(self.me, to.0, msg, Dur::ZERO);
    }
    /// Sends a message that leaves after `delay` (the time this node spends
    /// producing it, e.g. a storage write's service time). The network
    /// decides its fate now.
    #[inline]
    pub fn send_after(&mut self, delay: Dur, to: NodeId, msg: M) {
        self.core.send(self.me, to.0, msg, delay);
    }
    /// Powers a node off (as a power switch or a remote management card does). Applied
    /// right after this handler returns; logged as an action, not a fault.
    pub fn power_off(&mut self, node: NodeId) {
        self.core.actions.push((node.0, false, self.me));
    }
    /// Powers a node on (a replaced or reset machine boots from its durable
    /// state). Applied right after this handler returns.
    pub fn power_on(&mut self, node: NodeId) {
        self.core.actions.push((node.0, true, self.me));
    }
    /// Sets a timer that fires after `after` with `tag`, unless this node
    /// crashes first or cancels it.
    #[inline]
    pub fn set_timer(&mut self, after: Dur, tag: u64) -> TimerId {
        let id = self.core.next_timer;
        self.core.next_timer += 1;
        let at = self.core.now + after;
        let inc = self.core.inc[self.me as usize];
        self.core.push(at, Ev::Timer { node: self.me, inc, id, tag });
        TimerId(id)
    }
    /// Watches `peer` as a heartbeat failure detector with timeout `timeout`
    /// would, without the heartbeats (`monitor.rs` has the contract): this
    /// node gets `Input::Peer` when `peer` has been unreachable for
    /// `timeout`, and when it is reachable again or its published status
    /// changes. Ends when this node crashes.
    pub fn watch(&mut self, peer: NodeId, timeout: Dur) {
        let inc = self.core.inc[self.me as usize];
        self.core.monitor.watch(self.me, inc, peer.0, timeout);
    }
    /// Publishes this node's status word to the nodes watching it (a
    /// heartbeat's payload: a membership epoch, a role). 0 after a boot.
    pub fn publish(&mut self, status: u64) {
        self.core.monitor.publish(self.me, status);
    }
    /// Cancels a timer so that it never fires; no effect on a timer that has
    /// already fired.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.core.cancelled.insert(id.0);
    }
    pub(crate) fn schedule_durable(&mut self, at: Time) {
        let inc = self.core.inc[self.me as usize];
        self.core.push(at, Ev::Durable { node: self.me, inc });
    }
    /// Ends the run (normally) after this event.
    pub fn stop(&mut self) {
        self.core.stop = true;
    }
    /// Reports a violation of a declared safety property, found by
    /// incremental checking in the model. The property must have been
    /// declared with [`Sim::declare`]: reporting an undeclared one is a model
    /// bug, and the run ends as a model panic.
    pub fn violation(&mut self, property: Declared, detail: String) {
        self.core.violation.push((property.name, detail));
    }
    /// Records a metric sample (kept in full traces, exported as a counter).
    pub fn gauge(&mut self, name: &'static str, value: i64) {
        if self.core.trace.is_full() {
            let metric = self.core.metric_id(name);
            let now = self.core.now;
            self.core.samples.push(Sample { time: now, metric, value });
        }
    }
    /// Whether the run keeps a full trace (labels, metric samples, track
    /// states): what only a trace shows is worth computing only then.
    pub fn tracing(&self) -> bool {
        self.core.trace.is_full()
    }
    /// Shows `state` on this node's track named `track` (`filer: volume-1`
    /// for node `filer`) from now until its next change, as a span in the
    /// Chrome export; the same state again changes nothing. Kept in full
    /// traces only, like [`Ctx::gauge`]: a model reports the state of
    /// parts that are not nodes (a component inside a node) this way.
    pub fn track_state(&mut self, track: &str, state: &str) {
        if !self.core.trace.is_full() {
            return;
        }
        let now = self.core.now;
        let core = &mut *self.core;
        let track = format!("{}: {track}", core.names[self.me as usize]);
        if let Some(&i) = core.state_now.get(&track) {
            if core.states[i].name == state {
                return;
            }
            core.states[i].end = now;
        }
        core.state_now.insert(track.clone(), core.states.len());
        core.states.push(Slice { name: state.to_string(), track, start: now, end: Time(u64::MAX) });
    }
    /// Notes that `what` happened to item `subject` at this node now (`42`,
    /// `"queued"`), for a flow that follows the item (`trace::Flow`): the
    /// steps of its way that are no message, such as a durable write.
    /// Kept in full traces only, and never hashed.
    pub fn note(&mut self, subject: u64, what: &'static str) {
        if self.core.trace.is_full() {
            let (time, seq) = (self.core.now, self.core.cur_seq);
            self.core.notes.push(Note { time, seq, node: self.me, subject, what });
        }
    }
    /// Marks an injected model fault as having had an observable effect.
    pub fn fault_effect(&mut self, id: FaultId) {
        if let Some(r) = self.core.faults.get_mut(id.0 as usize) {
            r.effect = true;
        }
    }
    /// Marks an injected model fault as over (for the timeline).
    pub fn fault_resolved(&mut self, id: FaultId) {
        let now = self.core.now;
        if let Some(r) = self.core.faults.get_mut(id.0 as usize) {
            if r.ended.is_none() {
                r.ended = Some(now);
            }
        }
    }
    /// The name node `id` was registered under. Panics if `id` is not a
    /// node of the run.
    pub fn name(&self, id: NodeId) -> &str {
        &self.core.names[id.0 as usize]
    }
    /// The node registered under `name`, if any.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.core.names.iter().position(|n| n == name).map(|i| NodeId(i as u32))
    }
    /// How many nodes the run has; their ids are `0..node_count()`.
    pub fn node_count(&self) -> usize {
        self.core.names.len()
    }
    /// Whether a node is up. Omniscient: for ghost-state bookkeeping (a ledger
    /// forgetting what a crashed node held), never for a model's decisions —
    /// a real node learns this only from messages and timeouts.
    pub fn is_up_ghost(&self, id: NodeId) -> bool {
        self.core.up.get(id.0 as usize).copied().unwrap_or(false)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Faults,
    Recovering {
        deadline: Time,
    },
    Liveness {
        deadline: Time,
    },
    /// No fault phase: eventually properties are judged once, at the end of
    /// the run (holding at the start, before anything happened, proves
    /// nothing).
    Open,
    /// The liveness phase failed (recovery never completed, or a deadline
    /// passed) and the run goes on to measure: nothing more to judge.
    Judged,
}

/// How the recovery gate went, for the report.
#[derive(Clone, Debug)]
enum Recovery {
    /// No recovery condition was set.
    None,
    Pending,
    Done(Time),
    Failed(Time, String),
}

struct ProcessSlot<M> {
    process: FaultProcess<M>,
    rng: Stream,
    report: ProcessReport,
}

/// A simulation: nodes, network, fault plan and properties of one run.
pub struct Sim<M: Message, W> {
    cfg: Config,
    core: Core<M>,
    hosts: Vec<Box<dyn AnyHost<M, W>>>,
    rngs: Vec<Stream>,
    world: W,
    props: Vec<Property<M, W>>,
    /// Indices of the properties checked after every event, in order: the
    /// always ones, and the sometimes ones not yet reached.
    watched: Vec<usize>,
    /// Indices of the eventually properties, in order.
    eventually: Vec<usize>,
    /// Some eventually property has not held yet.
    eventually_open: bool,
    scheduled: Vec<Option<(Time, Fault<M>)>>,
    processes: Vec<ProcessSlot<M>>,
    recovery_done: Option<Check<M, W>>,
    recovery: Recovery,
    phase: Phase,
    /// The first violation's outcome, in a run that goes on after it.
    first_outcome: Option<Outcome>,
    /// Violations kept in full, in order (at most `VIOLATIONS_KEPT_MAX`).
    violations: Vec<Violation>,
    /// Random fault processes run only while this holds.
    in_fault_phase: bool,
    started: bool,
    finished: Option<RunReport>,
    events: u64,
}

impl<M: Message, W: 'static> Sim<M, W> {
    /// An empty simulation (no nodes yet) with settings `cfg` and `world`
    /// as the model's ghost state.
    pub fn new(cfg: Config, world: W) -> Sim<M, W> {
        let core = Core {
            seed: cfg.seed,
            now: Time::ZERO,
            next_seq: 0,
            cur_seq: 0,
            agenda: Agenda::new(),
            trace: Trace::new(cfg.trace),
            net: Network::default(),
            net_rng: Stream::new(cfg.seed, "network"),
            held: Vec::new(),
            names: Vec::new(),
            up: Vec::new(),
            inc: Vec::new(),
            down: Vec::new(),
            next_timer: 0,
            cancelled: BTreeSet::new(),
            stop: false,
            violation: Vec::new(),
            actions: Vec::new(),
            faults: Vec::new(),
            fault_peer: Vec::new(),
            metric_ids: BTreeMap::new(),
            metric_names: Vec::new(),
            samples: Vec::new(),
            states: Vec::new(),
            state_now: BTreeMap::new(),
            monitor: Monitor::default(),
            notices: Vec::new(),
            describe: debug_text::<M>,
            subject: no_subject::<M>,
            notes: Vec::new(),
        };
        Sim {
            cfg,
            core,
            hosts: Vec::new(),
            rngs: Vec::new(),
            world,
            props: Vec::new(),
            watched: Vec::new(),
            eventually: Vec::new(),
            eventually_open: false,
            scheduled: Vec::new(),
            processes: Vec::new(),
            recovery_done: None,
            recovery: Recovery::None,
            phase: Phase::Faults,
            first_outcome: None,
            violations: Vec::new(),
            in_fault_phase: true,
            started: false,
            finished: None,
            events: 0,
        }
    }

    /// The run's settings.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Changes how much of the trace is kept; only before the run starts.
    pub fn set_trace(&mut self, mode: TraceMode) {
        assert!(!self.started, "set_trace after the run started");
        self.cfg.trace = mode;
        self.core.trace = Trace::new(mode);
    }

    /// Registers a node, built now and again at every restart by `factory`
    /// from its durable state (which starts as `disk`). Names must be unique.
    pub fn add_node<N: Node<M, W>>(
        &mut self,
        name: &str,
        cfg: NodeConfig,
        disk: N::Disk,
        factory: impl Fn(&N::Disk) -> N + 'static,
    ) -> NodeId {
        assert!(!self.started, "add_node after the run started");
        assert!(!self.core.names.iter().any(|n| n == name), "node name `{name}` registered twice");
        assert!(cfg.fsync_min <= cfg.fsync_max, "node `{name}`: fsync_min exceeds fsync_max");
        let id = self.hosts.len() as u32;
        let disk = Disk::new(disk, &cfg, Stream::new(self.cfg.seed, &format!("disk/{name}")));
        let host: Host<N, N::Disk> = Host::new(disk, Box::new(factory));
        self.hosts.push(Box::new(host));
        self.rngs.push(Stream::new(self.cfg.seed, &format!("node/{name}")));
        self.core.names.push(name.to_string());
        self.core.up.push(false);
        self.core.inc.push(0);
        self.core.down.push(cfg.down);
        self.core.monitor.add_node();
        self.core.push(Time::ZERO, Ev::Start(id));
        NodeId(id)
    }

    /// The link used where no per-link setting exists.
    pub fn set_default_link(&mut self, link: LinkConfig) {
        link.validate().expect("invalid default link");
        self.core.net.default = link;
    }
    /// Sets one direction of a link.
    pub fn set_link(&mut self, from: NodeId, to: NodeId, link: LinkConfig) {
        link.validate().expect("invalid link");
        self.core.net.links.insert((from.0, to.0), link);
    }
    /// Sets both directions of a link.
    pub fn set_link_both(&mut self, a: NodeId, b: NodeId, link: LinkConfig) {
        self.set_link(a, b, link);
        self.set_link(b, a, link);
    }

    /// Schedules a fault at a time.
    pub fn schedule(&mut self, at: Time, fault: Fault<M>) {
        let idx = self.scheduled.len();
        self.scheduled.push(Some((at, fault)));
        self.core.push(at, Ev::Fault(idx));
    }

    /// Adds a random fault process, active during the fault phase.
    pub fn add_process(&mut self, process: FaultProcess<M>) {
        assert!(process.mean_interval > Dur::ZERO, "fault process `{}` has a zero mean interval", process.kind);
        let rng = Stream::new(self.cfg.seed, &format!("faults/{}", process.kind));
        let report = ProcessReport { kind: process.kind.clone(), enabled: true, fired: 0 };
        self.processes.push(ProcessSlot { process, rng, report });
    }

    fn add_property(&mut self, name: &str, kind: PropertyKind, check: impl Fn(&Observe<'_, M, W>) -> Result<(), String> + 'static) {
        let index = self.props.len();
        match kind {
            PropertyKind::Eventually => {
                self.eventually.push(index);
                self.eventually_open = true;
            }
            PropertyKind::Always | PropertyKind::Sometimes => self.watched.push(index),
        }
        assert!(!self.props.iter().any(|p| p.name == name), "property `{name}` registered twice");
        self.props.push(Property {
            name: name.to_string(),
            kind,
            check: Box::new(check),
            satisfied: false,
            violations: 0,
            first_violation: None,
            checked_by_kernel: true,
        });
    }
    /// Declares a safety property that the model checks itself and reports
    /// through [`Ctx::violation`]; it costs nothing per event and is listed
    /// in the report with its verdict.
    pub fn declare(&mut self, property: Declared) {
        assert!(!self.props.iter().any(|p| p.name == property.name), "property `{property}` declared twice");
        self.props.push(Property {
            name: property.name.to_string(),
            kind: PropertyKind::Always,
            check: Box::new(|_| Ok(())),
            satisfied: false,
            violations: 0,
            first_violation: None,
            checked_by_kernel: false,
        });
    }
    /// A safety property, checked after every event.
    pub fn always(&mut self, name: &str, check: impl Fn(&Observe<'_, M, W>) -> Result<(), String> + 'static) {
        self.add_property(name, PropertyKind::Always, check)
    }
    /// A liveness property, which must hold in the liveness phase before its deadline.
    pub fn eventually(&mut self, name: &str, check: impl Fn(&Observe<'_, M, W>) -> Result<(), String> + 'static) {
        self.add_property(name, PropertyKind::Eventually, check)
    }
    /// A coverage property, which must hold at least once in the run.
    pub fn sometimes(&mut self, name: &str, check: impl Fn(&Observe<'_, M, W>) -> Result<(), String> + 'static) {
        self.add_property(name, PropertyKind::Sometimes, check)
    }
    /// The condition that ends recovery after the fault phase (default: none
    /// to wait for). The liveness phase starts once it holds.
    pub fn recovery_done(&mut self, check: impl Fn(&Observe<'_, M, W>) -> Result<(), String> + 'static) {
        self.recovery_done = Some(Box::new(check));
        self.recovery = Recovery::Pending;
    }

    /// The model's ghost state.
    pub fn world(&self) -> &W {
        &self.world
    }
    /// The model's ghost state, mutably (to set it up before the run).
    pub fn world_mut(&mut self) -> &mut W {
        &mut self.world
    }
    /// The run's trace: its running hash and the records it keeps.
    pub fn trace(&self) -> &Trace {
        &self.core.trace
    }
    /// The node names, indexed by `NodeId`.
    pub fn names(&self) -> &[String] {
        &self.core.names
    }
    /// The node registered under `name`, if any.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.core.names.iter().position(|n| n == name).map(|i| NodeId(i as u32))
    }
    /// The current simulated time; after `run`, when the run ended.
    pub fn now(&self) -> Time {
        self.core.now
    }
    /// A read-only view of the run now, as property checks get it.
    pub fn observe(&self) -> Observe<'_, M, W> {
        Observe { now: self.core.now, world: &self.world, hosts: &self.hosts, up: &self.core.up, names: &self.core.names }
    }
    /// The fault log so far.
    pub fn faults(&self) -> &[FaultReport] {
        &self.core.faults
    }

    /// Runs to the end and reports. Running again returns the same report.
    pub fn run(&mut self) -> RunReport {
        if let Some(r) = &self.finished {
            return r.clone();
        }
        let outcome = match catch_unwind(AssertUnwindSafe(|| self.run_loop())) {
            Ok(outcome) => outcome,
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic with a non-string payload".to_string());
                Outcome::ModelPanic { time: self.core.now, seed: self.cfg.seed, message }
            }
        };
        let properties = self.property_reports(&outcome);
        let report = RunReport {
            seed: self.cfg.seed,
            outcome,
            trace_hash: self.core.trace.hash(),
            events: self.events,
            end: self.core.now,
            faults: self.core.faults.clone(),
            processes: self.processes.iter().map(|p| p.report.clone()).collect(),
            properties,
            violations: self.violations.clone(),
            unfired: self
                .scheduled
                .iter()
                .flatten()
                .map(|(at, f)| UnfiredFault { due: *at, kind: f.kind().to_string(), description: f.describe(&self.core.names) })
                .collect(),
            recovered: match self.recovery {
                Recovery::Done(t) => Some(t),
                _ => None,
            },
        };
        self.finished = Some(report.clone());
        report
    }

    /// Every property's verdict, and the recovery gate's: held, violated,
    /// or not evaluated because the run stopped before it could be judged.
    fn property_reports(&self, outcome: &Outcome) -> Vec<PropertyReport> {
        let stopped = match outcome {
            Outcome::ModelPanic { .. } | Outcome::BudgetExceeded { .. } => Some(format!("the run stopped early: {outcome}")),
            Outcome::SafetyViolation(v) | Outcome::LivenessViolation(v) if self.cfg.stop_on_violation => {
                Some(format!("the run stopped at its first violation (`{}` at {})", v.property, v.time))
            }
            _ => None,
        };
        let recovery_failed = match &self.recovery {
            Recovery::Failed(_, why) => Some(why.clone()),
            _ => None,
        };
        let mut out: Vec<PropertyReport> = self
            .props
            .iter()
            .map(|p| {
                let status = if let Some((first, detail)) = &p.first_violation {
                    PropertyStatus::Violated { first: *first, count: p.violations, detail: detail.clone() }
                } else if p.kind != PropertyKind::Always && p.satisfied {
                    PropertyStatus::Held
                } else if let Some(why) = &stopped {
                    PropertyStatus::NotEvaluated { why: why.clone() }
                } else if let (PropertyKind::Eventually, Some(why)) = (p.kind, &recovery_failed) {
                    PropertyStatus::NotEvaluated { why: format!("recovery did not complete: {why}") }
                } else if p.kind == PropertyKind::Always {
                    PropertyStatus::Held
                } else {
                    PropertyStatus::NotEvaluated { why: "the run ended before it was judged".to_string() }
                };
                PropertyReport { name: p.name.clone(), kind: p.kind, status }
            })
            .collect();
        let recovery = match &self.recovery {
            Recovery::None => None,
            Recovery::Done(_) => Some(PropertyStatus::Held),
            Recovery::Failed(t, why) => Some(PropertyStatus::Violated { first: *t, count: 1, detail: why.clone() }),
            Recovery::Pending => Some(PropertyStatus::NotEvaluated {
                why: stopped.clone().unwrap_or_else(|| "the run ended before the fault phase did".to_string()),
            }),
        };
        if let Some(status) = recovery {
            out.push(PropertyReport { name: RECOVERY.to_string(), kind: PropertyKind::Eventually, status });
        }
        out
    }

    fn start(&mut self) {
        self.started = true;
        // Swarm mode: a random subset of the fault processes, at least one.
        if self.cfg.swarm && !self.processes.is_empty() {
            let mut swarm = Stream::new(self.cfg.seed, "swarm");
            let mut any = false;
            for p in &mut self.processes {
                p.report.enabled = swarm.chance(500_000);
                any |= p.report.enabled;
            }
            if !any {
                let pick = swarm.below(self.processes.len() as u64) as usize;
                self.processes[pick].report.enabled = true;
            }
        }
        for i in 0..self.processes.len() {
            if self.processes[i].report.enabled {
                let mean = self.processes[i].process.mean_interval;
                let gap = self.processes[i].rng.exponential(mean);
                self.core.push(Time::ZERO + gap, Ev::Process(i));
            }
        }
        match self.cfg.fault_phase_end {
            Some(t) => self.core.push(t, Ev::PhaseEnd),
            None => self.phase = Phase::Open,
        }
    }

    fn run_loop(&mut self) -> Outcome {
        if !self.started {
            self.start();
        }
        loop {
            let Some((time, seq, ev)) = self.core.agenda.pop() else {
                return self.finish();
            };
            if let Some(end) = self.cfg.end_at {
                if time > end {
                    self.core.now = end;
                    return self.finish();
                }
            }
            if time > self.cfg.max_time {
                return Outcome::BudgetExceeded { budget: Budget::Time(self.cfg.max_time), time: self.core.now, seed: self.cfg.seed };
            }
            if self.events >= self.cfg.max_events {
                return Outcome::BudgetExceeded { budget: Budget::Events(self.cfg.max_events), time: self.core.now, seed: self.cfg.seed };
            }
            self.events += 1;
            self.core.now = time;
            self.core.cur_seq = seq;
            SIM_NOW.with(|c| c.set(time.0));
            if let Some(outcome) = self.step(ev) {
                return outcome;
            }
            if !self.core.actions.is_empty() {
                self.apply_actions();
            }
            if self.core.monitor.dirty {
                self.core.review_watches();
            }
            // Only what can change the outcome after this event: a
            // violation reported, always/sometimes properties, the recovery
            // gate, eventually properties not yet held in the liveness phase.
            let must_check = !self.core.violation.is_empty()
                || !self.watched.is_empty()
                || match self.phase {
                    Phase::Faults | Phase::Open | Phase::Judged => false,
                    Phase::Recovering { .. } => true,
                    Phase::Liveness { .. } => self.eventually_open,
                };
            if must_check {
                if let Some(outcome) = self.check() {
                    return outcome;
                }
            }
            if self.core.stop {
                return self.finish();
            }
        }
    }

    fn dispatch(&mut self, node: u32, input: Input<M>) {
        let n = node as usize;
        let mut ctx = Ctx { core: &mut self.core, me: node, rng: &mut self.rngs[n], world: &mut self.world };
        self.hosts[n].handle(input, &mut ctx);
    }

    /// Boots a node; `by` is the node that powered it on (itself otherwise).
    fn boot(&mut self, node: u32, kind: RecordKind, by: u32) {
        let n = node as usize;
        self.hosts[n].boot();
        self.core.up[n] = true;
        self.core.monitor.dirty = true;
        self.core.record(kind, node, by, 0, |names| {
            if by == node {
                format!("{} up", names[n])
            } else {
                format!("{} powered on by {}", names[n], names[by as usize])
            }
        });
        tracing::debug!(target: "mailsim_sim", node = %self.core.names[n], "{kind:?}");
        self.dispatch(node, Input::Start);
    }

    fn apply_actions(&mut self) {
        let mut i = 0;
        // Actions may cause more actions (a booted node acts in its Start).
        while i < self.core.actions.len() {
            let (node, on, by) = self.core.actions[i];
            i += 1;
            let n = node as usize;
            if on && !self.core.up[n] {
                self.core.end_faults(&[Tag::Crash], |r, _| r.target == Some(node));
                tracing::debug!(target: "mailsim_sim", node = %self.core.names[n], by = %self.core.names[by as usize], "power on");
                self.boot(node, RecordKind::Restart, by);
            } else if !on && self.core.up[n] {
                tracing::debug!(target: "mailsim_sim", node = %self.core.names[n], by = %self.core.names[by as usize], "power off");
                self.crash(node, by);
            }
        }
        self.core.actions.clear();
    }

    /// Crashes a node; `by` is the node that powered it off (itself otherwise).
    fn crash(&mut self, node: u32, by: u32) {
        let n = node as usize;
        self.hosts[n].crash();
        self.core.up[n] = false;
        self.core.inc[n] += 1;
        self.core.monitor.crashed(node);
        self.core.record(RecordKind::Crash, node, by, 0, |names| {
            if by == node {
                format!("{} crashed", names[n])
            } else {
                format!("{} powered off by {}", names[n], names[by as usize])
            }
        });
    }

    /// One event: each kind is handled by its own method below.
    fn step(&mut self, ev: Ev<M>) -> Option<Outcome> {
        match ev {
            Ev::Start(node) => {
                if !self.core.up[node as usize] {
                    self.boot(node, RecordKind::Start, node);
                }
            }
            Ev::Deliver { from, to, inc, msg } => self.deliver(from, to, inc, msg),
            Ev::Refused { sender, dest, inc, msg } => self.refused(sender, dest, inc, msg),
            Ev::Timer { node, inc, id, tag } => self.timer(node, inc, id, tag),
            Ev::Durable { node, inc } => {
                let n = node as usize;
                if inc == self.core.inc[n] {
                    self.core.record(RecordKind::Durable, node, node, 0, |names| format!("{} write durable", names[n]));
                    let mut ctx = Ctx { core: &mut self.core, me: node, rng: &mut self.rngs[n], world: &mut self.world };
                    self.hosts[n].complete_write(&mut ctx);
                }
            }
            Ev::Watch { watch, gen } => self.watch_notice(watch, gen),
            Ev::Fault(idx) => {
                let (_, fault) = self.scheduled[idx].take().expect("each scheduled fault fires once");
                self.inject(fault, true);
            }
            Ev::Process(i) => {
                if self.in_fault_phase {
                    self.process_tick(i);
                }
            }
            Ev::PhaseEnd => self.phase_end(),
            Ev::Deadline => return self.deadline(),
        }
        None
    }

    /// A message arrives: to its node if up; else refused back over the
    /// reverse link (a node that refuses when down, a sender still in the
    /// same incarnation), or dropped.
    fn deliver(&mut self, from: u32, to: u32, inc: u32, msg: M) {
        let t = to as usize;
        if self.core.up[t] {
            self.core.record_msg(RecordKind::Deliver, to, from, &msg, |n| format!("{} -> {}: ", n[from as usize], n[t]));
            self.dispatch(to, Input::Message { from: NodeId(from), msg });
        } else if self.core.down[t] == DownMode::Refuse && self.core.up[from as usize] && self.core.inc[from as usize] == inc {
            // The refusal travels back over the reverse link, if it can.
            match self.core.net.route(NodeId(to), NodeId(from), ()) {
                Route::Deliver(link, slow) if !(link.loss_ppm > 0 && self.core.net_rng.chance(link.loss_ppm)) => {
                    self.core
                        .record_msg(RecordKind::Refused, to, from, &msg, |n| format!("{} down, refused from {}: ", n[t], n[from as usize]));
                    let back = self.core.net_rng.dur(link.latency_min, link.latency_max).scale_permille(slow);
                    let at = self.core.now + back;
                    self.core.push(at, Ev::Refused { sender: from, dest: to, inc, msg });
                }
                _ => {
                    self.core
                        .record_msg(RecordKind::Drop, to, from, &msg, |n| format!("{} down, refusal to {} lost: ", n[t], n[from as usize]));
                }
            }
        } else {
            self.core.record_msg(RecordKind::Drop, to, from, &msg, |n| format!("{} down, no answer to {}: ", n[t], n[from as usize]));
        }
    }

    /// A refusal reaches its sender, if it is still the incarnation that sent.
    fn refused(&mut self, sender: u32, dest: u32, inc: u32, msg: M) {
        if self.core.up[sender as usize] && self.core.inc[sender as usize] == inc {
            self.core.record_msg(RecordKind::Refused, sender, dest, &msg, |n| {
                format!("{} refused by {}: ", n[sender as usize], n[dest as usize])
            });
            self.dispatch(sender, Input::Refused { to: NodeId(dest), msg });
        }
    }

    /// A timer fires, unless cancelled or set by an earlier incarnation.
    fn timer(&mut self, node: u32, inc: u32, id: u64, tag: u64) {
        let n = node as usize;
        if inc == self.core.inc[n] && self.core.up[n] && (self.core.cancelled.is_empty() || !self.core.cancelled.remove(&id)) {
            self.core.record(RecordKind::Timer, node, node, tag, |names| format!("{} timer {id} tag {tag}", names[n]));
            self.dispatch(node, Input::Timer { id: TimerId(id), tag });
        } else if !self.core.cancelled.is_empty() {
            self.core.cancelled.remove(&id);
        }
    }

    /// A failure monitor notice, if its generation still stands.
    fn watch_notice(&mut self, watch: u32, gen: u64) {
        if let Some((watcher, peer, view)) = self.core.monitor.fire(watch, gen) {
            let (up, status) = match view {
                View::Up(s) => (true, s.unwrap_or(0)),
                View::Down => (false, 0),
            };
            self.core.record(RecordKind::Peer, watcher, peer, status << 1 | u64::from(up), |n| {
                let state = if up { format!("up, status {status}") } else { "down".to_string() };
                format!("{} sees {} {state}", n[watcher as usize], n[peer as usize])
            });
            self.dispatch(watcher, Input::Peer { peer: NodeId(peer), up, status });
        }
    }

    /// Random fault process `i` draws its next fault (if any) and its next
    /// tick.
    fn process_tick(&mut self, i: usize) {
        let view = ProcessView { now: self.core.now, names: &self.core.names, up: &self.core.up };
        let slot = &mut self.processes[i];
        let fault = (slot.process.generate)(&mut slot.rng, &view);
        let gap = slot.rng.exponential(slot.process.mean_interval);
        if let Some(fault) = fault {
            self.processes[i].report.fired += 1;
            self.inject(fault, false);
        }
        let at = self.core.now + gap;
        self.core.push(at, Ev::Process(i));
    }

    /// The fault phase ends: heal everything (unless told not to) and start
    /// the recovery deadline.
    fn phase_end(&mut self) {
        self.in_fault_phase = false;
        self.core.record(RecordKind::Phase, KERNEL, KERNEL, 0, |_| "fault phase ends".to_string());
        if self.cfg.heal_for_liveness {
            if self.core.net.heal_all() {
                self.core.end_faults(NETWORK_FAULTS, |_, _| true);
            }
            self.core.release_held(|_, _| true);
            for host in &mut self.hosts {
                host.set_disk_slow(1000);
            }
            self.core.end_faults(&[Tag::SlowDisk], |_, _| true);
            for node in 0..self.hosts.len() as u32 {
                if !self.core.up[node as usize] {
                    self.core.end_faults(&[Tag::Crash], |r, _| r.target == Some(node));
                    self.boot(node, RecordKind::Restart, node);
                }
            }
        }
        let deadline = self.core.now + self.cfg.liveness_window;
        self.phase = Phase::Recovering { deadline };
        self.core.push(deadline, Ev::Deadline);
    }

    /// A phase deadline: recovery that did not complete, or eventually
    /// properties that did not hold in the liveness window.
    fn deadline(&mut self) -> Option<Outcome> {
        match self.phase {
            Phase::Recovering { deadline } if self.core.now >= deadline => {
                let why = format!("recovery did not complete within {}{}", self.cfg.liveness_window, self.recovery_reason());
                return self.fail_recovery(why);
            }
            Phase::Liveness { deadline } if self.core.now >= deadline => {
                let open: Vec<usize> = self.eventually.iter().copied().filter(|&i| !self.props[i].satisfied).collect();
                if !open.is_empty() {
                    self.phase = Phase::Judged;
                }
                for i in open {
                    let why = format!("did not hold within {} of recovery: {}", self.cfg.liveness_window, self.last_reason(&self.props[i]));
                    if let Some(outcome) = self.record(Some(i), PropertyKind::Eventually, why) {
                        return Some(outcome);
                    }
                }
            }
            _ => {}
        }
        None
    }

    fn last_reason(&self, p: &Property<M, W>) -> String {
        match (p.check)(&self.observe()) {
            Ok(()) => "held only after the deadline".to_string(),
            Err(why) => why,
        }
    }

    /// Why the recovery condition does not hold now (empty if it does).
    fn recovery_reason(&self) -> String {
        match self.recovery_done.as_ref().map(|c| c(&self.observe())) {
            Some(Err(why)) => format!(": {why}"),
            _ => String::new(),
        }
    }

    /// The recovery gate failed: nothing more can be judged in this run.
    fn fail_recovery(&mut self, why: String) -> Option<Outcome> {
        self.recovery = Recovery::Failed(self.core.now, why.clone());
        self.phase = Phase::Judged;
        self.record(None, PropertyKind::Eventually, why)
    }

    /// Records a violation of property `index` (`None`: the recovery gate).
    /// Returns the outcome that ends the run, if the run stops at the first
    /// violation; otherwise keeps it and goes on.
    fn record(&mut self, index: Option<usize>, kind: PropertyKind, detail: String) -> Option<Outcome> {
        let now = self.core.now;
        if let Some(i) = index {
            let p = &mut self.props[i];
            p.violations += 1;
            if p.first_violation.is_some() && !self.cfg.stop_on_violation && self.violations.len() >= VIOLATIONS_KEPT_MAX {
                // Counted; the full record (with its trace tail) is not kept.
                return None;
            }
            if p.first_violation.is_none() {
                p.first_violation = Some((now, detail.clone()));
            }
        }
        let name = index.map_or(RECOVERY.to_string(), |i| self.props[i].name.clone());
        let v = self.violation(&name, kind, detail);
        if self.violations.len() < VIOLATIONS_KEPT_MAX {
            self.violations.push(v.clone());
        }
        let outcome = match kind {
            PropertyKind::Always => Outcome::SafetyViolation(v),
            _ => Outcome::LivenessViolation(v),
        };
        if self.cfg.stop_on_violation {
            return Some(outcome);
        }
        if self.first_outcome.is_none() {
            self.first_outcome = Some(outcome);
        }
        None
    }

    fn violation(&self, property: &str, kind: PropertyKind, detail: String) -> Violation {
        Violation {
            property: property.to_string(),
            kind,
            time: self.core.now,
            seed: self.cfg.seed,
            detail,
            tail: self.core.trace.tail(self.cfg.tail_len),
        }
    }

    /// Injects a fault now and logs it.
    fn inject(&mut self, fault: Fault<M>, scheduled: bool) {
        let instant = fault.restores();
        let id = self.log_fault(&fault, scheduled);
        let effect = self.apply(fault, id);
        let report = &mut self.core.faults[id as usize];
        report.effect |= effect;
        // Faults that restore something are instants on the timeline.
        if instant {
            report.ended = Some(report.at);
        }
    }

    /// Records a fault about to act, in the trace and in the fault reports;
    /// returns its id.
    fn log_fault(&mut self, fault: &Fault<M>, scheduled: bool) -> u32 {
        let id = self.core.faults.len() as u32;
        let description = fault.describe(&self.core.names);
        let kind = fault.kind().to_string();
        let tag = fault.tag();
        let target = fault.target().map(|t| t.0);
        let peer = fault.peer().map(|p| p.0);
        tracing::debug!(target: "mailsim_sim", fault = %description, "inject");
        // Any fault may change who reaches whom.
        self.core.monitor.dirty = true;
        let payload = stable_hash(&description);
        self.core.record(RecordKind::Fault, target.unwrap_or(0), peer.unwrap_or(0), payload, |_| description.clone());
        self.core.faults.push(FaultReport { at: self.core.now, kind, description, scheduled, effect: false, ended: None, target });
        self.core.fault_peer.push((peer, tag));
        id
    }

    /// Makes fault `id` act; returns whether it changed anything.
    fn apply(&mut self, fault: Fault<M>, id: u32) -> bool {
        match fault {
            Fault::Crash(n) => {
                let up = self.core.up[n.0 as usize];
                if up {
                    self.crash(n.0, n.0);
                }
                up
            }
            Fault::Restart(n) => {
                let down = !self.core.up[n.0 as usize];
                if down {
                    self.core.end_faults(&[Tag::Crash], |r, _| r.target == Some(n.0));
                    self.boot(n.0, RecordKind::Restart, n.0);
                }
                down
            }
            Fault::Partition(a, b) => {
                let x = self.core.net.cut.insert((a.0, b.0));
                self.core.net.cut.insert((b.0, a.0)) | x
            }
            Fault::PartitionOneWay { from, to } => self.core.net.cut.insert((from.0, to.0)),
            Fault::Isolate(n) => self.core.net.isolated.insert(n.0),
            Fault::Heal => self.core.heal(),
            Fault::HealLink(a, b) => self.core.heal_link(a.0, b.0),
            Fault::Clog { from, to } => self.core.net.clogged.insert((from.0, to.0)),
            Fault::Unclog { from, to } => self.core.unclog(from.0, to.0),
            Fault::SlowLink { from, to, permille } => self.core.slow_link(from.0, to.0, permille),
            Fault::SlowDisk { node, permille } => {
                self.hosts[node.0 as usize].set_disk_slow(permille);
                if permille == 1000 {
                    self.core.end_faults(&[Tag::SlowDisk], |r, _| r.target == Some(node.0));
                }
                true
            }
            Fault::Model { target, kind, msg } => {
                if self.core.up[target.0 as usize] {
                    self.dispatch(target.0, Input::Fault { id: FaultId(id), kind, msg });
                }
                self.core.faults[id as usize].effect
            }
        }
    }

    /// Checks properties after an event.
    fn check(&mut self) -> Option<Outcome> {
        if let Some(outcome) = self.reported_violations() {
            return Some(outcome);
        }
        if self.recovery_done.is_none() && !self.props.iter().any(|p| p.checked_by_kernel) {
            if let Phase::Recovering { .. } = self.phase {
                self.phase = Phase::Liveness { deadline: self.core.now + self.cfg.liveness_window };
                if self.cfg.end_when_live && self.cfg.fault_phase_end.is_some() {
                    self.core.stop = true;
                }
            }
            return None;
        }
        let failed = self.check_watched();
        if !failed.is_empty() {
            // A violated always property stays violated: judged once, not
            // after every later event.
            self.watched.retain(|i| !failed.iter().any(|(f, _)| f == i));
            for (i, why) in failed {
                if let Some(outcome) = self.record(Some(i), PropertyKind::Always, why) {
                    return Some(outcome);
                }
            }
        }
        let start_deadline = if let Phase::Recovering { .. } = self.phase { self.check_recovered() } else { None };
        if let Phase::Liveness { .. } = self.phase {
            self.check_eventually();
        }
        if let Some(deadline) = start_deadline {
            self.core.push(deadline, Ev::Deadline);
        }
        None
    }

    /// Records the violations the models reported themselves (`Ctx::violate`)
    /// since the last check; the outcome if one stops the run.
    fn reported_violations(&mut self) -> Option<Outcome> {
        for (name, detail) in std::mem::take(&mut self.core.violation) {
            let index = self.props.iter().position(|p| p.name == name && !p.checked_by_kernel).unwrap_or_else(|| {
                panic!("a violation of `{name}` was reported, but no such property was declared (Sim::declare): {detail}")
            });
            if let Some(outcome) = self.record(Some(index), PropertyKind::Always, detail) {
                return Some(outcome);
            }
        }
        None
    }

    /// Evaluates the watched always and sometimes properties; a sometimes
    /// property that held stops being watched. Returns the always properties
    /// that failed, with why (only the first if the run stops on one).
    fn check_watched(&mut self) -> Vec<(usize, String)> {
        let mut failed: Vec<(usize, String)> = Vec::new();
        let obs = Observe { now: self.core.now, world: &self.world, hosts: &self.hosts, up: &self.core.up, names: &self.core.names };
        let mut reached = false;
        for &i in &self.watched {
            let p = &mut self.props[i];
            match p.kind {
                PropertyKind::Always => {
                    if let Err(why) = (p.check)(&obs) {
                        failed.push((i, why));
                        if self.cfg.stop_on_violation {
                            break;
                        }
                    }
                }
                PropertyKind::Sometimes => {
                    if !p.satisfied && (p.check)(&obs).is_ok() {
                        p.satisfied = true;
                        reached = true;
                    }
                }
                PropertyKind::Eventually => {}
            }
        }
        if reached {
            let props = &self.props;
            self.watched.retain(|&i| !(props[i].kind == PropertyKind::Sometimes && props[i].satisfied));
        }
        failed
    }

    /// In the recovery phase: once the recovery condition holds (at once if
    /// there is none), starts the liveness phase; returns its deadline then.
    fn check_recovered(&mut self) -> Option<Time> {
        let obs = Observe { now: self.core.now, world: &self.world, hosts: &self.hosts, up: &self.core.up, names: &self.core.names };
        let done = self.recovery_done.as_ref().is_none_or(|c| c(&obs).is_ok());
        if !done {
            return None;
        }
        if self.recovery_done.is_some() {
            self.recovery = Recovery::Done(self.core.now);
        }
        let deadline = self.core.now + self.cfg.liveness_window;
        self.phase = Phase::Liveness { deadline };
        Some(deadline)
    }

    /// In the liveness phase: marks the eventually properties that now hold,
    /// and stops the run early when all have (if so configured).
    fn check_eventually(&mut self) {
        let obs = Observe { now: self.core.now, world: &self.world, hosts: &self.hosts, up: &self.core.up, names: &self.core.names };
        let mut all = true;
        let mut any = false;
        for &i in &self.eventually {
            let p = &mut self.props[i];
            any = true;
            if !p.satisfied && (p.check)(&obs).is_ok() {
                p.satisfied = true;
            }
            all &= p.satisfied;
        }
        self.eventually_open = !all;
        if all && self.cfg.end_when_live && self.cfg.fault_phase_end.is_some() && (any || self.recovery_done.is_some()) {
            self.core.stop = true;
        }
    }

    /// The run ended normally (agenda empty, end time, or stop): every
    /// eventually and sometimes property must have held. A run that went on
    /// after a violation ends with its first one.
    fn finish(&mut self) -> Outcome {
        if let Some(outcome) = self.check() {
            return outcome;
        }
        match self.phase {
            Phase::Recovering { .. } if self.recovery_done.is_some() => {
                let why = format!("the run ended before recovery completed{}", self.recovery_reason());
                if let Some(outcome) = self.fail_recovery(why) {
                    return outcome;
                }
            }
            Phase::Open => {
                // Without a fault phase, eventually means: by the end.
                let obs = self.observe();
                let held: Vec<usize> = self.eventually.iter().copied().filter(|&i| (self.props[i].check)(&obs).is_ok()).collect();
                for i in held {
                    self.props[i].satisfied = true;
                }
            }
            _ => {}
        }
        let judged = matches!(self.phase, Phase::Judged);
        let liveness = matches!(self.phase, Phase::Liveness { .. } | Phase::Open);
        let open: Vec<usize> =
            self.eventually.iter().copied().filter(|&i| !self.props[i].satisfied && self.props[i].violations == 0).collect();
        if !judged {
            for i in open {
                let why = if liveness { self.last_reason(&self.props[i]) } else { "the run ended before the liveness phase".to_string() };
                if let Some(outcome) = self.record(Some(i), PropertyKind::Eventually, format!("never held: {why}")) {
                    return outcome;
                }
            }
        }
        let unreached: Vec<usize> =
            (0..self.props.len()).filter(|&i| self.props[i].kind == PropertyKind::Sometimes && !self.props[i].satisfied).collect();
        for i in unreached {
            if let Some(outcome) = self.record(Some(i), PropertyKind::Sometimes, "never held during the run".to_string()) {
                return outcome;
            }
        }
        self.first_outcome.clone().unwrap_or(Outcome::Ok)
    }

    /// Metric names and samples (full traces only).
    pub fn samples(&self) -> (&[&'static str], &[Sample]) {
        (&self.core.metric_names, &self.core.samples)
    }

    /// How the full trace describes messages: `describe` gives the text a
    /// person reads (instead of the debug text), naming a node by its name
    /// in the second argument (indexed by `NodeId`), `subject` the item a
    /// message concerns, which a flow follows (`trace::Flow`). Neither is
    /// hashed: the trace hash stays what the records make it.
    pub fn describe_messages(&mut self, describe: fn(&M, &[String]) -> String, subject: fn(&M) -> Option<u64>) {
        self.core.describe = describe;
        self.core.subject = subject;
    }

    /// The trace as JSON lines (complete only in `TraceMode::Full`).
    pub fn json_lines(&self) -> String {
        trace::to_json_lines(&self.core.trace, &self.core.names)
    }

    /// The trace as Chrome trace-event JSON for Perfetto: faults as slices
    /// with readable names on their own tracks, the phases as spans, events
    /// as instants on their node's track (sampled: see
    /// [`crate::INSTANTS_PER_TRACK_HOUR`]), metrics as counters.
    pub fn chrome_trace(&self) -> String {
        self.chrome_trace_with(&[], None, Some(trace::INSTANTS_PER_TRACK_HOUR), &|_| None)
    }

    /// [`Sim::chrome_trace`] with the caller's own spans (`extra`: a
    /// runbook's steps, alerts), a flow to draw, the sampling budget
    /// (`None`: every record), and the names the caller gives a fault's
    /// object (`object_name("part 0, unit 1")`, from the fault's
    /// fields, may give the name its scenario uses; `None` keeps it).
    pub fn chrome_trace_with(
        &self,
        extra: &[Slice],
        flow: Option<trace::Flow>,
        per_track_hour: Option<u32>,
        object_name: &dyn Fn(&str) -> Option<String>,
    ) -> String {
        let end = self.core.now;
        let mut slices: Vec<Slice> = self
            .core
            .faults
            .iter()
            .filter(|f| f.effect)
            .map(|f| {
                let (name, object) = trace::named_fault(&f.description, object_name);
                Slice {
                    name,
                    track: match (object, f.target) {
                        (Some(o), _) => format!("faults: {o}"),
                        (None, Some(t)) => format!("faults: {}", self.core.names[t as usize]),
                        (None, None) => "faults".to_string(),
                    },
                    start: f.at,
                    end: f.ended.unwrap_or(end),
                }
            })
            .collect();
        // Track states: each open one ends with the run; a state replaced
        // at the instant it began (a boot's, before the fault at T+0) is
        // left out.
        slices.extend(self.core.states.iter().filter(|s| s.end > s.start).map(|s| Slice { end: s.end.min(end), ..s.clone() }));
        slices.extend(extra.iter().cloned());
        let export = trace::ChromeExport { slices: &slices, flow, per_track_hour, end, notes: &self.core.notes, object_name };
        trace::to_chrome_json_with(&self.core.trace, &self.core.names, &self.core.metric_names, &self.core.samples, &export)
    }
}

impl<M: Message, W: 'static> Sim<M, W> {
    /// Reads the disk of a node of type `N` (durable state and writes in flight).
    pub fn disk<N: Node<M, W>>(&self, id: NodeId) -> Option<&Disk<N::Disk>>
    where
        N::Disk: Durable,
    {
        self.hosts.get(id.0 as usize)?.as_any().downcast_ref::<Host<N, N::Disk>>().map(|h| h.disk())
    }
    /// Reads a node of type `N`, if it is up.
    pub fn node<N: Node<M, W>>(&self, id: NodeId) -> Option<&N> {
        self.hosts.get(id.0 as usize)?.as_any().downcast_ref::<Host<N, N::Disk>>()?.node()
    }
}
