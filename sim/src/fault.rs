//! Fault plans: scheduled faults, random fault processes and swarm mode.
//!
//! A fault plan is a list of scheduled faults `(at, fault)` plus random fault
//! processes, each a Poisson process with a mean interval and a generator that
//! picks targets. The kernel knows the generic faults (crash, restart,
//! partition, clog, slow link, slow disk); models add their own kinds through
//! `Fault::Model`, which is delivered to the target node as `Input::Fault`.
//!
//! Swarm mode (Groce et al., "Swarm Testing", ISSTA 2012; used by FoundationDB
//! and TigerBeetle) enables a random subset of the fault processes per seed, so
//! a sweep explores runs where some faults never happen and others dominate.
//!
//! After a run every fault is reported with whether it had an observable effect.
//! A replay whose faults never fired must not pass silently.

use std::fmt::Debug;

use crate::rng::Stream;
use crate::time::{Dur, Time};
use crate::NodeId;

/// A fault the kernel can inject.
#[derive(Clone, Debug)]
pub enum Fault<M> {
    /// Crash a node: volatile state and writes in flight are lost.
    Crash(NodeId),
    /// Restart a crashed node from its durable state.
    Restart(NodeId),
    /// Cut both directions between two nodes.
    Partition(NodeId, NodeId),
    /// Cut one direction only: `from` can no longer reach `to`.
    PartitionOneWay {
        /// The node whose messages are cut.
        from: NodeId,
        /// The node they no longer reach.
        to: NodeId,
    },
    /// Cut a node off from every other node.
    Isolate(NodeId),
    /// Heal every partition, isolation, clog and slow link.
    Heal,
    /// Heal both directions between two nodes.
    HealLink(NodeId, NodeId),
    /// Hold messages from `from` to `to` until unclogged.
    Clog {
        /// The node whose messages are held.
        from: NodeId,
        /// The node they are held from.
        to: NodeId,
    },
    /// Release a clog from `from` to `to`: each held message leaves at its
    /// departure time or now, whichever is later, and the network decides
    /// its fate again (it may still be cut or lost).
    Unclog {
        /// The node whose messages were held.
        from: NodeId,
        /// The node they were held from.
        to: NodeId,
    },
    /// Multiply the latency from `from` to `to` (per-mille; 1000 = normal).
    SlowLink {
        /// The sending end of the slowed direction.
        from: NodeId,
        /// The receiving end of the slowed direction.
        to: NodeId,
        /// The latency multiplier; 1000 restores normal latency and ends the
        /// fault.
        permille: u32,
    },
    /// Multiply a node's fsync latency (per-mille; 1000 = normal).
    SlowDisk {
        /// The node whose disk is slowed.
        node: NodeId,
        /// The fsync latency multiplier, applied to writes started from now
        /// on; 1000 restores normal latency and ends the fault.
        permille: u32,
    },
    /// A fault defined by a model, delivered to `target` as `Input::Fault`.
    /// `kind` names the fault kind (for reports and swarm statistics).
    Model {
        /// The node that receives the fault; a target that is down is not told.
        target: NodeId,
        /// The fault kind, as `Fault::kind` returns it.
        kind: String,
        /// The fault's payload, handed to the target in `Input::Fault`.
        msg: M,
    },
}

/// The kernel's own, typed view of a fault's kind, for matching faults to
/// the events that end them (the string of [`Fault::kind`] is for reports,
/// and for the kinds models define).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Tag {
    Crash,
    Restart,
    Partition,
    PartitionOneWay,
    Isolate,
    Heal,
    HealLink,
    Clog,
    Unclog,
    SlowLink,
    SlowDisk,
    Model,
}

impl<M: Debug> Fault<M> {
    /// The fault kind, as reported and as swarm mode groups faults.
    pub fn kind(&self) -> &str {
        match self.tag() {
            Tag::Crash => "crash",
            Tag::Restart => "restart",
            Tag::Partition => "partition",
            Tag::PartitionOneWay => "partition-one-way",
            Tag::Isolate => "isolate",
            Tag::Heal => "heal",
            Tag::HealLink => "heal-link",
            Tag::Clog => "clog",
            Tag::Unclog => "unclog",
            Tag::SlowLink => "slow-link",
            Tag::SlowDisk => "slow-disk",
            Tag::Model => match self {
                Fault::Model { kind, .. } => kind,
                _ => unreachable!("only a model fault has the model tag"),
            },
        }
    }

    pub(crate) fn tag(&self) -> Tag {
        match self {
            Fault::Crash(_) => Tag::Crash,
            Fault::Restart(_) => Tag::Restart,
            Fault::Partition(..) => Tag::Partition,
            Fault::PartitionOneWay { .. } => Tag::PartitionOneWay,
            Fault::Isolate(_) => Tag::Isolate,
            Fault::Heal => Tag::Heal,
            Fault::HealLink(..) => Tag::HealLink,
            Fault::Clog { .. } => Tag::Clog,
            Fault::Unclog { .. } => Tag::Unclog,
            Fault::SlowLink { .. } => Tag::SlowLink,
            Fault::SlowDisk { .. } => Tag::SlowDisk,
            Fault::Model { .. } => Tag::Model,
        }
    }

    /// A fault that restores something (a restart, a heal, an unclog, a
    /// slowdown set back to normal): an instant on the timeline, ended when
    /// it happens.
    pub(crate) fn restores(&self) -> bool {
        match self {
            Fault::Restart(_) | Fault::Heal | Fault::HealLink(..) | Fault::Unclog { .. } => true,
            Fault::SlowLink { permille, .. } | Fault::SlowDisk { permille, .. } => *permille == 1000,
            _ => false,
        }
    }

    /// A human description, with node names.
    pub fn describe(&self, names: &[String]) -> String {
        let n = |id: &NodeId| names.get(id.0 as usize).cloned().unwrap_or_else(|| format!("node#{}", id.0));
        match self {
            Fault::Crash(a) => format!("crash {}", n(a)),
            Fault::Restart(a) => format!("restart {}", n(a)),
            Fault::Partition(a, b) => format!("partition {} <-> {}", n(a), n(b)),
            Fault::PartitionOneWay { from, to } => format!("partition {} -> {}", n(from), n(to)),
            Fault::Isolate(a) => format!("isolate {}", n(a)),
            Fault::Heal => "heal network".to_string(),
            Fault::HealLink(a, b) => format!("heal {} <-> {}", n(a), n(b)),
            Fault::Clog { from, to } => format!("clog {} -> {}", n(from), n(to)),
            Fault::Unclog { from, to } => format!("unclog {} -> {}", n(from), n(to)),
            Fault::SlowLink { from, to, permille } => {
                format!("slow link {} -> {} x{}.{:03}", n(from), n(to), permille / 1000, permille % 1000)
            }
            Fault::SlowDisk { node, permille } => format!("slow disk {} x{}.{:03}", n(node), permille / 1000, permille % 1000),
            Fault::Model { target, kind, msg } => format!("{kind} on {}: {msg:?}", n(target)),
        }
    }

    /// The node a fault targets, if one.
    pub fn target(&self) -> Option<NodeId> {
        match self {
            Fault::Crash(a) | Fault::Restart(a) | Fault::Isolate(a) => Some(*a),
            Fault::SlowDisk { node, .. } => Some(*node),
            Fault::Model { target, .. } => Some(*target),
            Fault::PartitionOneWay { from, .. } | Fault::Clog { from, .. } | Fault::SlowLink { from, .. } => Some(*from),
            Fault::Partition(a, _) | Fault::HealLink(a, _) => Some(*a),
            Fault::Unclog { from, .. } => Some(*from),
            Fault::Heal => None,
        }
    }

    /// The other end of a link fault, if it names one (`target` is the first).
    pub(crate) fn peer(&self) -> Option<NodeId> {
        match self {
            Fault::Partition(_, b) | Fault::HealLink(_, b) => Some(*b),
            Fault::PartitionOneWay { to, .. } | Fault::Clog { to, .. } | Fault::Unclog { to, .. } | Fault::SlowLink { to, .. } => Some(*to),
            _ => None,
        }
    }
}

/// What a fault generator may look at when it picks a target.
pub struct ProcessView<'a> {
    /// The time of this occurrence.
    pub now: Time,
    /// Node names, indexed by `NodeId`.
    pub names: &'a [String],
    /// Whether each node is up, indexed by `NodeId`.
    pub up: &'a [bool],
}

/// Draws one fault occurrence; `None` skips this occurrence.
pub type Generator<M> = Box<dyn FnMut(&mut Stream, &ProcessView<'_>) -> Option<Fault<M>>>;

/// A random fault process: a Poisson process of one fault kind.
pub struct FaultProcess<M> {
    /// Names the process: its `ProcessReport` and its random stream
    /// (`"faults/<kind>"`).
    pub kind: String,
    /// Mean gap between occurrences, which are exponentially distributed;
    /// must be non-zero (`Sim::add_process` panics otherwise).
    pub mean_interval: Dur,
    /// Draws each occurrence from the process's stream.
    pub generate: Generator<M>,
}

impl<M> FaultProcess<M> {
    /// A process of `kind` with occurrences every `mean_interval` on
    /// average, each drawn by `generate`.
    pub fn new(
        kind: impl Into<String>,
        mean_interval: Dur,
        generate: impl FnMut(&mut Stream, &ProcessView<'_>) -> Option<Fault<M>> + 'static,
    ) -> Self {
        FaultProcess { kind: kind.into(), mean_interval, generate: Box::new(generate) }
    }
}

/// A scheduled fault that never fired: the run ended before it was due.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct UnfiredFault {
    /// When it was due.
    pub due: Time,
    /// Its kind (`Fault::kind`).
    pub kind: String,
    /// A human description with node names (`Fault::describe`).
    pub description: String,
}

/// One injected fault, as reported after the run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct FaultReport {
    /// When it was injected.
    pub at: Time,
    /// Its kind (`Fault::kind`): a generic kind such as `crash`, or a model's own.
    pub kind: String,
    /// A human description with node names (`Fault::describe`).
    pub description: String,
    /// False for occurrences of a random process.
    pub scheduled: bool,
    /// Whether injecting it changed anything observable.
    pub effect: bool,
    /// When the fault ended (healed, restarted, resolved by the model).
    pub ended: Option<Time>,
    /// The index of the node it targets (`Fault::target`); `None` for `Heal`.
    pub target: Option<u32>,
}

/// Per-kind statistics of random fault processes in one run.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct ProcessReport {
    /// The process's kind (`FaultProcess::kind`).
    pub kind: String,
    /// Whether swarm mode enabled this process for this seed.
    pub enabled: bool,
    /// Occurrences that injected a fault (the generator returned `Some`).
    pub fired: u32,
}
