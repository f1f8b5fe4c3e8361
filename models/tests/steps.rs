//! Recovery steps on a whole service: a runbook step that cannot act fails
//! visibly instead of pretending.
//!
//! Each test assembles a small service (`Topology`: filer, MX nodes, senders,
//! operators), breaks its storage, runs a recovery plan, and reads what the
//! operators recorded. The finding that started this file: a `migrate` from
//! a shelf whose two controllers had died brought the shelf's volumes back
//! and delivered everything, as if the data could be copied without being
//! read. Now the filer refuses the step with a reason, the operators retry
//! it a bounded number of times and then give up, the step is recorded as
//! failed (time and reason), the steps after it never run, and the run's
//! recovery never completes. The same plan with the controllers replaced
//! first moves the data and delivers everything, so each test can fail both
//! ways.

use mailsim_models::ops::{Operators, Trigger};
use mailsim_models::senders::Workload;
use mailsim_models::topology::{FaultKind, FaultSpec, StepSpec, Topology, TopologyOptions};
use mailsim_models::{Action, Msg, World};
use mailsim_sim::{Dur, Sim, Time};

const SEEDS: std::ops::Range<u64> = 1..4;

fn fault(when: Dur, kind: FaultKind, target: &str) -> FaultSpec {
    FaultSpec { at: when.into(), kind, target: target.to_string() }
}

fn step(name: &str, action: Action, trigger: Trigger) -> StepSpec {
    StepSpec::new(name, "filer", action, trigger)
}

fn migrate() -> Action {
    Action::Migrate { steps: 1, keep_uidls: true, volumes: Vec::new() }
}

/// Two MX nodes, 60 mailboxes, 600 mails over two hours; both controllers
/// of shelf a fail at 10 min (its three volumes, about half the mailboxes,
/// go offline); the plan migrates at 1 h, after replacing the hardware at
/// 50 min when `replace` is set, and enables temporary stores 10 min after
/// the migration (a step that depends on it).
fn dead_shelf(seed: u64, replace: bool) -> (Sim<Msg, World>, Topology) {
    let mut t = Topology::new(TopologyOptions { seed, mx: 2, mailboxes: 60, mails: 600 });
    t.workload = Workload { hourly_weights: [1; 24], ..Workload::total(600, Dur::hours(2), 60) };
    // A volume copies in 10 minutes.
    t.filer.storage.volume_bytes = 100_000_000 * 600;
    t.duration = Dur::days(2);
    t.fault_phase = Some(Dur::hours(4));
    t.liveness_window = Dur::hours(12);
    t.faults.push(fault(Dur::mins(10), FaultKind::ControllerFailure, "shelf-a/controller-a"));
    t.faults.push(fault(Dur::mins(10) + Dur::secs(1), FaultKind::ControllerFailure, "shelf-a/controller-b"));
    if replace {
        t.plan.push(step("replace", Action::ReplaceHardware, Trigger::At(Time::ZERO + Dur::mins(50))));
    }
    let m = t.plan.len() as u32;
    t.plan.push(step("migrate", migrate(), Trigger::At(Time::ZERO + Dur::hours(1))));
    t.plan.push(step("temp stores", Action::EnableTempStores, Trigger::After(m, Dur::mins(10))));
    (t.build(), t)
}

fn operators<'a>(sim: &'a Sim<Msg, World>, t: &Topology) -> &'a Operators {
    sim.node::<Operators>(t.node("ops").expect("an ops node")).expect("the operators are up")
}

#[test]
fn migrating_from_a_shelf_whose_controllers_are_both_dead_fails_visibly_and_delivers_nothing_from_it() {
    for seed in SEEDS {
        let (mut sim, t) = dead_shelf(seed, false);
        let report = sim.run();
        // The recovery never completes: the kernel says so at the end of the
        // liveness window.
        assert_eq!(report.outcome.class(), "liveness", "seed {seed}: {}", report.outcome);
        let v = report.outcome.violation().expect("a violation");
        assert_eq!(v.property, "recovery", "seed {seed}: {v}");
        // The detail names the failed step and the step still pending, and
        // not the failed one as pending (found by cargo-mutants).
        assert!(v.detail.contains("step `migrate` failed at"), "seed {seed}: {}", v.detail);
        assert!(v.detail.ends_with("not yet done: temp stores"), "seed {seed}: {}", v.detail);
        let ops = operators(&sim, &t);
        let (at, reason) = ops.step_failed(0).expect("the migration failed");
        assert!(reason.contains("cannot migrate") && reason.contains("shelf-a"), "seed {seed}: {reason}");
        // Tried at 1 h, 1 h 30 and 2 h (three attempts), then given up.
        assert!(at >= Time::from_hours(2) && at < Time::from_hours(2) + Dur::secs(1), "seed {seed}: {at}");
        assert_eq!(ops.step_failures(0).len(), 3, "seed {seed}");
        assert!(ops.step_given_up(0), "seed {seed}");
        assert_eq!(ops.steps_done()[0], None, "seed {seed}");
        assert_eq!(ops.steps_started()[1], None, "seed {seed}: the step after the migration never ran");
        assert!(!ops.plan_complete());
        // Mail for the dead shelf's mailboxes waits in the MX queues: none
        // lost, none delivered through a migration that could not read.
        let c = &sim.world().counts;
        assert_eq!(c.lost, 0, "seed {seed}: {c:?}");
        assert!(c.delivered < c.accepted, "seed {seed}: {c:?}");
        let u = &sim.world().stats.unavailable;
        assert!(u.last().is_some_and(|l| l.1 > 0), "seed {seed}: the shelf's mailboxes stay unavailable: {u:?}");
    }
}

#[test]
fn migrating_after_the_controllers_are_replaced_completes_and_delivers_everything() {
    for seed in SEEDS {
        let (mut sim, t) = dead_shelf(seed, true);
        let report = sim.run();
        assert!(report.outcome.is_ok(), "seed {seed}: {}", report.outcome);
        let ops = operators(&sim, &t);
        assert!(ops.plan_complete(), "seed {seed}: {:?}", ops.steps_done());
        assert!((0..3).all(|i| ops.step_failed(i).is_none() && ops.step_failures(i).is_empty()), "seed {seed}");
        // Three affected volumes of ten minutes each: done about 30 min after
        // the command.
        let done = ops.steps_done()[1].expect("migrated");
        assert!(done >= Time::from_hours(1) + Dur::mins(30) && done < Time::from_hours(1) + Dur::mins(31), "seed {seed}: {done}");
        let c = &sim.world().counts;
        assert_eq!(c.lost, 0, "seed {seed}: {c:?}");
        assert_eq!(c.delivered + c.returned + c.sender_bounced, c.submitted, "seed {seed}: {c:?}");
    }
}
