//! Planted bugs prove that the checkers can fail.
//!
//! The custody property ("every acknowledged value is durable, or in flight on
//! a store that is up") must catch a store that acknowledges a write before its
//! durable write completes, the bug behind every "acked before fsync" data loss,
//! as soon as a crash lands between the acknowledgement and the fsync. The same
//! store without the bug must pass under the same crashes on every seed.

mod common;

use common::*;
use mailsim_sim::*;

/// Two crashes of the store while the writer is busy (it writes from 0 to
/// 200 ms), each followed by a restart.
fn schedule_crashes(sim: &mut Sim<Msg, World>, store: NodeId) {
    sim.schedule(ms(47), Fault::Crash(store));
    sim.schedule(ms(60), Fault::Restart(store));
    sim.schedule(ms(131), Fault::Crash(store));
    sim.schedule(ms(150), Fault::Restart(store));
}

/// Crashes or restarts the store, at random, during a 250 ms fault phase.
fn add_crash_process(sim: &mut Sim<Msg, World>, store: NodeId) {
    sim.add_process(FaultProcess::new("crash", Dur::millis(30), move |_, view| {
        Some(if view.up[store.0 as usize] { Fault::Crash(store) } else { Fault::Restart(store) })
    }));
}

fn with_fault_phase(seed: u64, ack_early: bool) -> (Sim<Msg, World>, NodeId) {
    let mut cfg = Config::new(seed);
    cfg.fault_phase_end = Some(ms(250));
    custody_system_with(cfg, ack_early)
}

#[test]
fn correct_store_keeps_custody_through_crashes_over_200_seeds() {
    for seed in 0..200 {
        let (mut sim, store) = custody_system(seed, false);
        schedule_crashes(&mut sim, store);
        let report = sim.run();
        assert!(report.outcome.is_ok(), "seed {seed}: {}", report.outcome);
        assert_eq!(report.faults.len(), 4);
        assert!(report.faults.iter().all(|f| f.effect), "seed {seed}: every crash and restart took effect");
        // Not vacuous: values were acknowledged, and the crashes lost others.
        let acked = sim.world().acked.len();
        assert!((1..100).contains(&acked), "seed {seed}: {acked} of 100 values acknowledged");
    }
}

#[test]
fn store_acking_before_durable_write_is_caught_by_custody() {
    let seeds = 50;
    let mut caught = 0;
    for seed in 0..seeds {
        let (mut sim, store) = custody_system(seed, true);
        schedule_crashes(&mut sim, store);
        let report = sim.run();
        match &report.outcome {
            Outcome::SafetyViolation(v) => {
                assert_eq!(v.property, CUSTODY, "seed {seed}");
                assert_eq!(v.kind, PropertyKind::Always);
                assert_eq!(v.seed, seed);
                assert!(v.time >= ms(47), "seed {seed}: nothing can be lost before the first crash, yet {v}");
                assert!(v.detail.contains("acknowledged but is neither durable nor in flight"), "{v}");
                assert!(!v.tail.is_empty(), "a violation carries the tail of the trace");
                assert!(report.property(CUSTODY).is_some_and(|p| p.status.violated()), "{:?}", report.properties);
                caught += 1;
            }
            Outcome::Ok => {}
            other => panic!("seed {seed}: unexpected outcome {other}"),
        }
    }
    eprintln!("scheduled crashes caught the planted bug on {caught} of {seeds} seeds");
    assert!(caught * 10 >= seeds * 9, "the planted bug was caught on only {caught} of {seeds} seeds");
}

#[test]
fn random_crashes_catch_the_planted_bug_and_spare_the_correct_store() {
    let seeds = 50;
    let mut caught = 0;
    for seed in 0..seeds {
        let (mut sim, store) = with_fault_phase(seed, false);
        add_crash_process(&mut sim, store);
        let report = sim.run();
        assert!(report.outcome.is_ok(), "seed {seed}: correct store: {}", report.outcome);
        assert!(report.processes[0].fired > 0, "seed {seed}: the crash process never fired");

        let (mut sim, store) = with_fault_phase(seed, true);
        add_crash_process(&mut sim, store);
        match sim.run().outcome {
            Outcome::SafetyViolation(v) if v.property == CUSTODY => caught += 1,
            Outcome::Ok => {}
            other => panic!("seed {seed}: planted bug: unexpected outcome {other}"),
        }
    }
    eprintln!("random crashes caught the planted bug on {caught} of {seeds} seeds");
    assert!(caught * 10 >= seeds * 9, "random crashes caught the planted bug on only {caught} of {seeds} seeds");
}
