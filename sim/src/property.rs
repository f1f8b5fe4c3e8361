//! Properties and violations.
//!
//! Properties are labelled as in stateright and Antithesis:
//! - *always*: must hold after every event (safety);
//! - *eventually*: must hold at some point of the liveness phase, which starts
//!   once the fault phase has ended and recovery has completed, before a
//!   deadline (TigerBeetle's VOPR liveness mode);
//! - *sometimes*: must hold at least once in the run, proving that the
//!   situation a test is about actually happened.
//!
//! Properties are checked against an `Observe` view: the world (the model's
//! ghost state, such as a custody ledger) and the nodes' volatile and durable
//! state. A property that is expensive to check should keep incremental state
//! in the world instead and report through `Ctx::violation`.

use std::fmt;

use crate::node::{Disk, Durable, Host, Node};
use crate::time::Time;
use crate::trace::Record;
use crate::{Message, NodeId};

/// When a property must hold, which decides when the kernel checks it and
/// what its violation ends the run as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PropertyKind {
    /// Safety: must hold after every event (`Sim::always`, or declared and
    /// reported by the model). A violation is `Outcome::SafetyViolation`.
    Always,
    /// Liveness: must hold at some point of the liveness phase, before its
    /// deadline, or by the end of a run without a fault phase
    /// (`Sim::eventually`; also the recovery gate). A violation is
    /// `Outcome::LivenessViolation`.
    Eventually,
    /// Coverage: must hold after at least one event of the run
    /// (`Sim::sometimes`). A violation is `Outcome::LivenessViolation`.
    Sometimes,
}

/// Checks a property: `Ok` when it holds, `Err(why)` when it does not.
pub type Check<M, W> = Box<dyn Fn(&Observe<'_, M, W>) -> Result<(), String>>;

pub struct Property<M: Message, W> {
    pub name: String,
    pub kind: PropertyKind,
    pub check: Check<M, W>,
    pub(crate) satisfied: bool,
    /// Violations recorded (a run that does not stop at the first one counts
    /// them all).
    pub(crate) violations: u64,
    /// The first violation: when, and why.
    pub(crate) first_violation: Option<(Time, String)>,
    /// Checked after every event (false for a declared property that only
    /// the model reports through [`crate::Ctx::violation`]).
    pub(crate) checked_by_kernel: bool,
}

/// A safety property a model checks incrementally itself and reports through
/// [`crate::Ctx::violation`]: a handle, declared to the run up front with
/// [`crate::Sim::declare`], so every report lists it with its verdict even
/// when it never fired. Reporting a property that was never declared is a
/// model bug (the run ends as a model panic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Declared {
    /// The property's name, unique in a run, as reports list it.
    pub name: &'static str,
}

impl Declared {
    /// An *always* property checked by the model, named for reports.
    pub const fn always(name: &'static str) -> Declared {
        Declared { name }
    }
}

/// A violation names its property as text: compare it with the handle.
impl PartialEq<Declared> for String {
    fn eq(&self, other: &Declared) -> bool {
        self == other.name
    }
}

impl PartialEq<Declared> for &str {
    fn eq(&self, other: &Declared) -> bool {
        *self == other.name
    }
}

impl fmt::Display for Declared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name)
    }
}

/// What a run can say about one property: it held, it was violated, or the
/// run never got to judge it (stopped early, recovery never completed). A
/// verdict built on a property must treat "not evaluated" as not met.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum PropertyStatus {
    /// It held: an always property was never violated in a run that was not
    /// stopped early; an eventually or sometimes property came to hold.
    Held,
    /// It was violated.
    Violated {
        /// When it was first violated.
        first: Time,
        /// How many violations were recorded, including those not kept in
        /// full in `RunReport::violations`.
        count: u64,
        /// Why it failed the first time.
        detail: String,
    },
    /// The run could not judge it.
    NotEvaluated {
        /// Why: the run stopped early, recovery never completed, or the run
        /// ended before the property could be judged.
        why: String,
    },
}

impl PropertyStatus {
    /// Whether it held (`NotEvaluated` is not held).
    pub fn held(&self) -> bool {
        matches!(self, PropertyStatus::Held)
    }
    /// Whether it was violated (`NotEvaluated` is not violated either).
    pub fn violated(&self) -> bool {
        matches!(self, PropertyStatus::Violated { .. })
    }
}

impl fmt::Display for PropertyStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PropertyStatus::Held => f.write_str("held"),
            PropertyStatus::Violated { first, count: 1, detail } => write!(f, "violated at {first}: {detail}"),
            PropertyStatus::Violated { first, count, detail } => write!(f, "violated {count} times, first at {first}: {detail}"),
            PropertyStatus::NotEvaluated { why } => write!(f, "not evaluated: {why}"),
        }
    }
}

/// One property in a run's report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PropertyReport {
    /// The property's name (`RECOVERY` for the recovery gate).
    pub name: String,
    /// Its kind; the recovery gate is reported as `Eventually`.
    pub kind: PropertyKind,
    /// Its verdict.
    pub status: PropertyStatus,
}

/// A read-only view of a run for property checks.
pub struct Observe<'a, M: Message, W> {
    /// The simulated time the view shows (`Sim::now`): in a property check,
    /// that of the event just handled.
    pub now: Time,
    /// The model's ghost state.
    pub world: &'a W,
    pub(crate) hosts: &'a [Box<dyn crate::node::AnyHost<M, W>>],
    pub(crate) up: &'a [bool],
    pub(crate) names: &'a [String],
}

impl<'a, M: Message, W> Observe<'a, M, W> {
    fn host<N: Node<M, W>>(&self, id: NodeId) -> Option<&'a Host<N, N::Disk>> {
        self.hosts.get(id.0 as usize)?.as_any().downcast_ref::<Host<N, N::Disk>>()
    }
    /// The node's volatile state, if it is up and of type `N`.
    pub fn node<N: Node<M, W>>(&self, id: NodeId) -> Option<&'a N> {
        self.host::<N>(id)?.node()
    }
    /// The node's disk (durable state and writes in flight), if it is of type `N`.
    pub fn disk<N: Node<M, W>>(&self, id: NodeId) -> Option<&'a Disk<N::Disk>>
    where
        N::Disk: Durable,
    {
        Some(self.host::<N>(id)?.disk())
    }
    /// Whether node `id` is up; false for an id that is not a node of the run.
    pub fn is_up(&self, id: NodeId) -> bool {
        self.up.get(id.0 as usize).copied().unwrap_or(false)
    }
    /// The name node `id` was registered under. Panics if `id` is not a
    /// node of the run.
    pub fn name(&self, id: NodeId) -> &str {
        &self.names[id.0 as usize]
    }
    /// How many nodes the run has; their ids are `0..node_count()`.
    pub fn node_count(&self) -> usize {
        self.hosts.len()
    }
}

/// A property that did not hold: a value, not a panic.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Violation {
    /// The violated property's name (`RECOVERY` for the recovery gate).
    pub property: String,
    /// The kind of violation: `Always` for safety; `Eventually` or
    /// `Sometimes` for liveness.
    pub kind: PropertyKind,
    /// When it was recorded.
    pub time: Time,
    /// The run's seed, to replay it.
    pub seed: u64,
    /// Why: the check's error, or the detail the model reported.
    pub detail: String,
    /// The last records of the trace before the violation.
    pub tail: Vec<(Record, String)>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            PropertyKind::Always => "always",
            PropertyKind::Eventually => "eventually",
            PropertyKind::Sometimes => "sometimes",
        };
        writeln!(f, "{kind} property `{}` violated at {} (seed {}): {}", self.property, self.time, self.seed, self.detail)?;
        if !self.tail.is_empty() {
            writeln!(f, "last {} events:", self.tail.len())?;
            for (r, label) in &self.tail {
                writeln!(f, "  {} #{:<8} {:?} node={} peer={} {}", r.time, r.seq, r.kind, r.node, r.peer, label)?;
            }
        }
        Ok(())
    }
}
