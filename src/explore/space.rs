//! The fault space of a topology: every component, the fault kinds that
//! apply to it, and when each is injected.
//!
//! The outages replayed in `scenarios/` were confluences of a *latent* fault, present
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
//! extra fields its `[[faults]]` entry needs). A kind applies only where
//! the topology has what it breaks: `head-failure` to an HA pair's heads
//! (one head is the whole file server, which `crash filer` covers),
//! `local-device-failure` to each mail node's queue device,
//! `data-corruption` and `data-loss` to each volume when the topology has
//! backup sets (without one, every damaged mailbox's mail is lost at once,
//! harmful alone with no plan to bound it), `backup-corrupt` (latent) to
//! each backup set. Kinds that repair (`restart`,
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
    (1..=t.mx).flat_map(|k| c.fence_levels.iter().map(move |l| format!("mx-{k}/fence-{}", l.name))).collect()
}
fn heads(t: &Topology) -> Vec<String> {
    // One head is the whole file server (`crash filer` covers it); an HA
    // pair's heads each fail alone.
    if t.filer.storage.heads.heads < 2 {
        return Vec::new();
    }
    (0..t.filer.storage.heads.heads).map(|h| format!("head-{}", letter(h))).collect()
}
fn volumes_with_backups(t: &Topology) -> Vec<String> {
    // Without a backup set every damaged mailbox's mail is lost at once:
    // harmful alone, and no plan bounds it; with one, the restore does.
    if t.filer.backups.is_empty() {
        return Vec::new();
    }
    (1..=t.filer.storage.volumes).map(|v| format!("volume-{v}")).collect()
}
fn backup_sets(t: &Topology) -> Vec<String> {
    t.filer.backups.iter().map(|b| b.name.clone()).collect()
}
fn no_fields(_: &mut FaultEntry) {}

/// The kinds searched, one row each. A new kind joins here.
pub const KINDS: &[KindRow] = &[
    // Latent: present from T0, harmless until something asks for what they
    // broke.
    KindRow { kind: "path-fault", role: Role::Latent, targets: shelves, fields: no_fields },
    KindRow { kind: "latent-sector-error", role: Role::Latent, targets: groups, fields: no_fields },
    KindRow { kind: "fence-broken", role: Role::Latent, targets: fence_devices, fields: |e| e.mode = Some(FenceModeSpec::ReportsFailure) },
    KindRow { kind: "backup-corrupt", role: Role::Latent, targets: backup_sets, fields: no_fields },
    // Active: injected at a phase of the load.
    KindRow { kind: "crash", role: Role::Active, targets: nodes, fields: no_fields },
    KindRow { kind: "isolate", role: Role::Active, targets: nodes, fields: no_fields },
    KindRow { kind: "controller-failure", role: Role::Active, targets: controllers, fields: no_fields },
    KindRow { kind: "disk-failure", role: Role::Active, targets: groups, fields: no_fields },
    KindRow { kind: "cache-failure", role: Role::Active, targets: filer, fields: no_fields },
    KindRow { kind: "lock-broken", role: Role::Active, targets: filer, fields: no_fields },
    KindRow { kind: "hang", role: Role::Active, targets: filer, fields: |e| e.for_ = Some(HumanDuration::hours(1)) },
    KindRow { kind: "degrade", role: Role::Active, targets: filer, fields: |e| e.speed = Some("10%".into()) },
    KindRow { kind: "head-failure", role: Role::Active, targets: heads, fields: no_fields },
    KindRow { kind: "local-device-failure", role: Role::Active, targets: mx_nodes, fields: |e| e.device = Some("queue".into()) },
    KindRow { kind: "data-corruption", role: Role::Active, targets: volumes_with_backups, fields: no_fields },
    KindRow { kind: "data-loss", role: Role::Active, targets: volumes_with_backups, fields: no_fields },
];

/// Kinds of the scenario format the search leaves out, and why.
pub const NOT_SEARCHED: &[(&str, &str)] = &[
    ("restart", "a repair, not a fault"),
    ("heal", "a repair, not a fault"),
    ("lock-restart", "a repair, not a fault"),
    ("partition", "between two nodes: `isolate` cuts each node from all"),
    ("latency", "between two nodes, with a size: not searched yet"),
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
    /// Its target's place among components the model treats alike
    /// ([`symmetric_classes`]): (class, member). Only combinations using a
    /// class's first members are searched.
    pub symmetry: Option<(usize, usize)>,
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
                out.push(Candidate {
                    kind: row.kind.into(),
                    target: target.clone(),
                    role: row.role,
                    phase,
                    entry,
                    from_file: false,
                    symmetry: None,
                });
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
        out.push(Candidate { kind: fe.kind.clone(), target, role, phase, entry, from_file: true, symmetry: None });
    }
    for (k, class) in symmetric_classes(file, t).iter().enumerate() {
        for c in &mut out {
            if let Some(m) = class.iter().position(|x| *x == c.target) {
                c.symmetry = Some((k, m));
            }
        }
    }
    out
}

/// Components the model treats alike, so that a combination on one is a
/// combination on another renamed: the search runs only combinations that
/// use each class's first members (the rest are the same up to names) and
/// the coverage table says so. Two kinds, both generic:
/// - the controllers of one shelf: either carries the shelf (multipath,
///   `storage.rs`), and nothing else tells them apart;
/// - without a cluster, the mail nodes, when their MX preferences are
///   equal: senders try equal preferences in random order (RFC 5321
///   §5.1), so the nodes differ only by name.
///
/// A class is dropped when the file names one of its members (a fault or
/// a recovery step on it): then they are no longer alike.
pub fn symmetric_classes(file: &ScenarioFile, t: &Topology) -> Vec<Vec<String>> {
    let mut named: Vec<&str> = Vec::new();
    for f in &file.faults {
        named.extend(f.target.as_deref());
        named.extend(f.peer.as_deref());
    }
    for r in &file.recovery {
        named.push(&r.target);
        named.extend(r.node.as_deref());
    }
    let mut classes: Vec<Vec<String>> = Vec::new();
    let st = &t.filer.storage;
    if st.controllers_per_shelf > 1 {
        for s in 0..st.shelves {
            classes.push((0..st.controllers_per_shelf).map(|c| format!("shelf-{}/controller-{}", letter(s), letter(c))).collect());
        }
    }
    let equal_prefs = file.topology.mx_preferences.as_ref().is_none_or(|p| p.windows(2).all(|w| w[0] == w[1]));
    if t.cluster.is_none() && t.mx > 1 && equal_prefs {
        classes.push(mx_nodes(t));
    }
    classes.retain(|c| !c.iter().any(|m| named.contains(&m.as_str())));
    classes
}

/// Whether a combination uses, of each symmetric class, only its first
/// members (see [`symmetric_classes`]).
pub fn canonical(space: &[Candidate], c: &[usize]) -> bool {
    let mut used: Vec<(usize, usize)> = c.iter().filter_map(|&i| space[i].symmetry).collect();
    used.sort_unstable();
    used.dedup();
    let mut next: Vec<(usize, usize)> = Vec::new();
    for (class, member) in used {
        let k = match next.iter_mut().find(|x| x.0 == class) {
            Some(x) => {
                x.1 += 1;
                x.1 - 1
            }
            None => {
                next.push((class, 1));
                0
            }
        };
        if member != k {
            return false;
        }
    }
    true
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
