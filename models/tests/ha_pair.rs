//! A file server with an HA pair of heads (`heads.rs`) on a whole service:
//! which mailboxes a head failure takes down follows volume ownership, and
//! for how long follows the takeover (works, fails, hangs), the repair, the
//! giveback and a power cycle of the shelves.

use mailsim_models::filer::Filer;
use mailsim_models::heads::{HeadsConfig, Takeover};
use mailsim_models::ops::{Operators, Trigger};
use mailsim_models::topology::{FaultKind, FaultSpec, StepSpec, Topology, TopologyOptions};
use mailsim_models::{Action, Msg, World};
use mailsim_sim::{Dur, Sim, Time};

const MAILBOXES: u32 = 300;

/// Two MX nodes, 300 mailboxes on the default storage (6 RAID groups, 6
/// volumes) behind an HA pair: head-a owns groups 1, 3, 5, head-b groups
/// 2, 4, 6. `head` fails at T+1h with `takeover`; `plan` is the recovery.
fn pair(head: &str, takeover: Takeover, heads: HeadsConfig, plan: Vec<(&str, Action, u64)>) -> Sim<Msg, World> {
    let mut t = Topology::new(TopologyOptions { seed: 5, mx: 2, mailboxes: MAILBOXES, mails: 2_000 });
    t.duration = Dur::days(2);
    t.fault_phase = Some(Dur::hours(12));
    t.filer.storage.heads = heads;
    t.faults.push(FaultSpec::new(Time::from_hours(1), FaultKind::HeadFailure { takeover }, head));
    for (name, action, minutes) in plan {
        t.plan.push(StepSpec::new(name, "filer", action, Trigger::At(Time::ZERO + Dur::mins(minutes))));
    }
    let mut sim = t.build();
    let report = sim.run();
    // A step that cannot act leaves the plan incomplete, which the run
    // reports; every other outcome must be clean.
    let outcome = report.outcome.to_string();
    assert!(report.outcome.is_ok() || outcome.contains("cannot give back: head-a is down"), "{outcome}");
    sim
}

/// The mailboxes on the volumes `head` owns (0: head-a), from the filer's
/// placement: volume `v` is on group `v % 6`, owned by head `group % 2`.
fn owned_by(sim: &Sim<Msg, World>, head: u32) -> u32 {
    let filer = sim.node_id("filer").expect("a filer");
    let store = sim.disk::<Filer>(filer).expect("its disk").state();
    (0..MAILBOXES).filter(|mb| store.volume_of(*mb) % 6 % 2 == head).count() as u32
}

/// The unavailable-mailbox count's changes after T+0, with their times
/// rounded down to the second.
fn timeline(sim: &Sim<Msg, World>) -> Vec<(u64, u32)> {
    let s = &sim.world().stats.unavailable;
    s.iter().filter(|(t, _)| *t > Time::ZERO).map(|(t, n)| (t.as_micros() / 1_000_000, *n)).collect()
}

fn nothing_lost(sim: &Sim<Msg, World>) {
    let c = &sim.world().counts;
    assert_eq!((c.lost, c.duplicate_deliveries), (0, 0));
    assert_eq!(c.delivered, c.accepted, "everything accepted reached its mailbox");
}

#[test]
fn a_working_takeover_keeps_both_heads_volumes_available_after_a_short_gap() {
    let sim = pair("head-a", Takeover::Works, HeadsConfig::pair(), vec![]);
    let a = owned_by(&sim, 0);
    assert!(a > 100 && a < 200, "about half the mailboxes: {a}");
    // Offline for detection (15 s) + takeover (30 s), then the partner
    // serves them for the rest of the run: the head is never repaired.
    assert_eq!(timeline(&sim), vec![(3600, a), (3645, 0)]);
    nothing_lost(&sim);
}

#[test]
fn a_failed_takeover_leaves_exactly_the_dead_heads_volumes_unavailable_until_repair() {
    let sim = pair("head-b", Takeover::Fails, HeadsConfig::pair(), vec![("repair", Action::ReplaceHardware, 5 * 60)]);
    let b = owned_by(&sim, 1);
    assert_eq!(b, MAILBOXES - owned_by(&sim, 0));
    // The repair step's command arrives over the network (1-10 ms).
    assert_eq!(timeline(&sim), vec![(3600, b), (5 * 3600, 0)]);
    nothing_lost(&sim);
}

#[test]
fn without_a_partner_a_head_failure_takes_every_volume_down_until_repair() {
    let sim = pair("head-a", Takeover::Works, HeadsConfig::default(), vec![("repair", Action::ReplaceHardware, 3 * 60)]);
    assert_eq!(timeline(&sim), vec![(3600, MAILBOXES), (3 * 3600, 0)]);
    nothing_lost(&sim);
}

#[test]
fn a_hung_takeover_waits_for_a_power_cycle_of_the_shelves() {
    let sim = pair("head-a", Takeover::Hangs, HeadsConfig::pair(), vec![("power-cycle", Action::PowerCycle, 2 * 60)]);
    let a = owned_by(&sim, 0);
    // Hung from T+1h; the power cycle takes every volume down for 5
    // minutes, then the takeover completes 30 s later.
    assert_eq!(timeline(&sim), vec![(3600, a), (7200, MAILBOXES), (7500, a), (7530, 0)]);
    nothing_lost(&sim);
}

#[test]
fn giveback_returns_ownership_to_the_repaired_head() {
    let manual = HeadsConfig { auto_giveback: false, ..HeadsConfig::pair() };
    let plan =
        vec![("too-early", Action::Giveback, 90), ("repair", Action::ReplaceHardware, 3 * 60), ("giveback", Action::Giveback, 4 * 60)];
    let sim = pair("head-a", Takeover::Works, manual, plan);
    let ops = sim.node_id("ops").expect("ops");
    let failed = sim.node::<Operators>(ops).expect("up").step_failures(0);
    assert_eq!(failed.len(), 3, "a giveback to a head that is down fails, three attempts in all: {failed:?}");
    let a = owned_by(&sim, 0);
    // The takeover's gap, then the giveback's (30 s) when the step says so.
    assert_eq!(timeline(&sim), vec![(3600, a), (3645, 0), (4 * 3600, a), (4 * 3600 + 30, 0)]);
    let filer = sim.node_id("filer").expect("a filer");
    let storage = sim.node::<Filer>(filer).expect("up").storage();
    assert!(!storage.heads().taken_over(0), "head-a serves its own volumes again");
    nothing_lost(&sim);

    // With automatic giveback (the default), the repaired head gets them
    // back 600 s after its repair, without a step.
    let sim = pair("head-a", Takeover::Works, HeadsConfig::pair(), vec![("repair", Action::ReplaceHardware, 3 * 60)]);
    assert_eq!(timeline(&sim), vec![(3600, a), (3645, 0), (3 * 3600 + 600, a), (3 * 3600 + 630, 0)]);
}
