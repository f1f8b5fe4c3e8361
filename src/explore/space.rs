//! The fault space of a topology: every component, the fault kinds that
//! apply to it, and when each is injected.
//!
//! The outages in `seeds/` were confluences of a *latent* fault, present
//! and unnoticed (OpenSRS: a redundancy fault awaiting parts; Fused: a
//! fencing device that would fail when asked), and an *active* one (a
//! shelf controller, a node crash). So each kind has a role: a latent fault
//! is present from T0 (written `at = "-7d"`, injected before anything else),
//! an active one is injected at a phase of the load: the file's T+0 (where
//! its recovery plan expects trouble), the next peak hour of the workload's
//! diurnal curve and the next quietest hour. Two active faults at different
//! phases come in both orders; at the same phase they are injected
//! together.
//!
//! The kinds live in one table, [`KINDS`]: a new fault kind joins the search
//! with one row (its name, role, the components it applies to, and the
//! extra fields its `[[faults]]` entry needs). Kinds that repair (`restart`,
//! `heal`, `lock-restart`) are not faults to search; `partition` and
//! `latency` between two nodes are left out ([`NOT_SEARCHED`] says why), so
//! the coverage table states the scope of a "nothing found".

use mailsim_models::topology::Topology;
use serde::Serialize;

use crate::scenario::{FaultEntry, FenceModeSpec, ScenarioFile};
use crate::units::HumanDuration;

/// Whether a kind is searched as a latent fault (present from T0) or an
/// active one (injected at a phase of the load).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Latent,
    Active,
}

/// One fault kind the explorer searches.
pub struct KindRow {
    /// The scenario file's `kind`.
    pub kind: &'static str,
    pub role: Role,
    /// The components it applies to, by the names scenario files use.
    pub targets: fn(&Topology) -> Vec<String>,
    /// Fills the fields the kind needs besides `kind`, `target` and `at`.
    pub fields: fn(&mut FaultEntry),
}

fn mx_nodes(t: &Topology) -> Vec<String> {
    (1..=t.mx).map(|k| format!("mx-{k}")).collect()
}
fn nodes(t: &Topology) -> Vec<String> {
    let mut v = mx_nodes(t);
    v.push("filer".into());
    v
}
fn filer(_: &Topology) -> Vec<String> {
    vec!["filer".into()]
}
fn letter(i: u32) -> char {
    char::from(b'a' + (i % 26) as u8)
}
fn shelves(t: &Topology) -> Vec<String> {
    (0..t.filer.storage.shelves).map(|s| format!("shelf-{}", letter(s))).collect()
}
fn controllers(t: &Topology) -> Vec<String> {
    let st = &t.filer.storage;
    (0..st.shelves)
        .flat_map(|s| (0..st.controllers_per_shelf).map(move |c| format!("shelf-{}/controller-{}", letter(s), letter(c))))
        .collect()
}
fn groups(t: &Topology) -> Vec<String> {
    (1..=t.filer.storage.groups).map(|g| format!("group-{g}")).collect()
}
fn fence_devices(t: &Topology) -> Vec<String> {
    let Some(c) = &t.cluster else { return Vec::new() };
    (1..=t.mx).flat_map(|k| c.fence_levels.iter().map(move |(level, _)| format!("mx-{k}/fence-{level}"))).collect()
}
fn no_fields(_: &mut FaultEntry) {}

/// The kinds searched, one row each. A new kind joins here.
pub const KINDS: &[KindRow] = &[
    // Latent: present from T0, harmless until something asks for what they
    // broke.
    KindRow { kind: "path-fault", role: Role::Latent, targets: shelves, fields: no_fields },
    KindRow { kind: "latent-sector-error", role: Role::Latent, targets: groups, fields: no_fields },
    KindRow { kind: "fence-broken", role: Role::Latent, targets: fence_devices, fields: |e| e.mode = Some(FenceModeSpec::ReportsFailure) },
    // Active: injected at a phase of the load.
    KindRow { kind: "crash", role: Role::Active, targets: nodes, fields: no_fields },
    KindRow { kind: "isolate", role: Role::Active, targets: nodes, fields: no_fields },
    KindRow { kind: "controller-failure", role: Role::Active, targets: controllers, fields: no_fields },
    KindRow { kind: "disk-failure", role: Role::Active, targets: groups, fields: no_fields },
    KindRow { kind: "cache-failure", role: Role::Active, targets: filer, fields: no_fields },
    KindRow { kind: "lock-broken", role: Role::Active, targets: filer, fields: no_fields },
    KindRow { kind: "hang", role: Role::Active, targets: filer, fields: |e| e.for_ = Some(HumanDuration::hours(1)) },
    KindRow { kind: "degrade", role: Role::Active, targets: filer, fields: |e| e.speed = Some("10%".into()) },
];

/// Kinds of the scenario format the search leaves out, and why.
pub const NOT_SEARCHED: &[(&str, &str)] = &[
    ("restart", "a repair, not a fault"),
    ("heal", "a repair, not a fault"),
    ("lock-restart", "a repair, not a fault"),
    ("partition", "between two nodes: `isolate` cuts each node from all"),
    ("latency", "between two nodes, with a size: not searched yet"),
    ("head-failure", "the file server's HA pair: not in the search space yet"),
    ("local-device-failure", "a node's local device: not in the search space yet"),
    ("data-corruption", "needs backup sets and a restore plan to bound its harm: not searched yet"),
    ("data-loss", "needs backup sets and a restore plan to bound its harm: not searched yet"),
    ("backup-corrupt", "harmless without a data fault; not searched yet"),
    ("site-failure", "needs `[topology.replication]` and a failover step to bound its harm: not searched yet"),
    ("replica-partition", "needs `[topology.replication]`; harmful only with a failover step (split brain): not searched yet"),
];

/// When a fault is injected.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Phase {
    /// `latent`, `t0`, `peak` or `night`.
    pub name: &'static str,
    /// The `at` of its `[[faults]]` entry.
    pub at: HumanDuration,
}

/// A latent fault is present a week before T0 (injected at T+0, before
/// any active fault).
pub const LATENT_AT: HumanDuration = HumanDuration(-7 * 86_400_000_000);

/// The phases of an active fault on this topology: T+0, the next hour of
/// peak load and the next quietest hour (from the workload's diurnal curve
/// and the hour T0 falls on), those before the end of the fault phase (or
/// the run), distinct.
pub fn active_phases(t: &Topology) -> Vec<Phase> {
    let w = &t.workload;
    let weight = |h: u32| w.hourly_weights[((w.start_hour + h) % 24) as usize];
    let max = (0..24).map(weight).max().unwrap_or(0);
    let min = (0..24).map(weight).min().unwrap_or(0);
    let first = |v: u64| (0..24).find(|&h| weight(h) == v).unwrap_or(0);
    let end = t.fault_phase.unwrap_or(t.duration).as_micros() as i64;
    let mut out = vec![Phase { name: "t0", at: HumanDuration(0) }];
    for (name, h) in [("peak", first(max)), ("night", first(min))] {
        let at = HumanDuration::hours(i64::from(h));
        if at.micros() < end && !out.iter().any(|p| p.at == at) {
            out.push(Phase { name, at });
        }
    }
    out
}

/// One fault of the space: a kind on a component at a phase.
#[derive(Clone, Debug, Serialize)]
pub struct Candidate {
    pub kind: String,
    pub target: String,
    pub role: Role,
    pub phase: Phase,
    /// The `[[faults]]` entry that injects it.
    #[serde(skip)]
    pub entry: FaultEntry,
    /// It is one of the input file's own faults.
    pub from_file: bool,
}

impl Candidate {
    /// `controller-failure shelf-a/controller-a @peak`.
    pub fn label(&self) -> String {
        format!("{} {} @{}", self.kind, self.target, self.phase.name)
    }
}

/// The fault space: every kind of [`KINDS`] on every component it applies
/// to, latent ones once, active ones at each phase; then the file's own
/// faults (a file's fault that is already in the space is marked as the
/// file's).
pub fn derive(file: &ScenarioFile, t: &Topology, kinds: Option<&[String]>) -> Vec<Candidate> {
    let phases = active_phases(t);
    let mut out: Vec<Candidate> = Vec::new();
    for row in KINDS {
        if kinds.is_some_and(|k| !k.iter().any(|k| k == row.kind)) {
            continue;
        }
        for target in (row.targets)(t) {
            let ps = match row.role {
                Role::Latent => vec![Phase { name: "latent", at: LATENT_AT }],
                Role::Active => phases.clone(),
            };
            for phase in ps {
                let mut entry = blank_entry(row.kind, &target, phase.at);
                (row.fields)(&mut entry);
                out.push(Candidate { kind: row.kind.into(), target: target.clone(), role: row.role, phase, entry, from_file: false });
            }
        }
    }
    for fe in &file.faults {
        let target = fe.target.clone().unwrap_or_default();
        let latent = fe.at.micros() < 0;
        if let Some(c) = out.iter_mut().find(|c| c.kind == fe.kind && c.target == target && (latent == (c.role == Role::Latent))) {
            if latent || c.phase.at == fe.at {
                c.from_file = true;
                continue;
            }
        }
        let role = if latent { Role::Latent } else { Role::Active };
        let phase = Phase { name: if latent { "latent" } else { "file" }, at: fe.at };
        let mut entry = fe.clone();
        entry.note = None;
        out.push(Candidate { kind: fe.kind.clone(), target, role, phase, entry, from_file: true });
    }
    out
}

fn blank_entry(kind: &str, target: &str, at: HumanDuration) -> FaultEntry {
    FaultEntry {
        at,
        kind: kind.into(),
        target: Some(target.into()),
        peer: None,
        speed: None,
        for_: None,
        latency: None,
        mode: None,
        share: None,
        takeover: None,
        device: None,
        note: None,
    }
}

/// Whether two candidates may appear in one combination: not the same
/// kind on the same component (at two phases it would be one fault, twice).
pub fn compatible(a: &Candidate, b: &Candidate) -> bool {
    !(a.kind == b.kind && a.target == b.target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_searched_kind_is_a_kind_of_the_format_and_every_other_is_named_with_its_reason() {
        let names = mailsim_models::topology::FaultKind::NAMES;
        for row in KINDS {
            assert!(names.contains(&row.kind), "{} is not a fault kind", row.kind);
        }
        for n in names {
            let searched = KINDS.iter().any(|r| r.kind == *n);
            let excused = NOT_SEARCHED.iter().any(|(k, _)| k == n);
            assert!(searched != excused, "`{n}` must be either searched or listed in NOT_SEARCHED, not both or neither");
        }
    }
}
