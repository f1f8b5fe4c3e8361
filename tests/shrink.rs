//! `mailsim shrink` on planted bugs: a failing run buried under irrelevant
//! faults, recovery steps, extra MX nodes and thousands of mails shrinks to
//! a small scenario that still fails the same way on the seed; the written
//! file loads through the normal path and reproduces the failure; and with
//! the bug fixed, the shrunk file passes (it is a regression test).

use std::path::{Path, PathBuf};

use mailsim::run::run;
use mailsim::scenario::{Bounds, Scenario};
use mailsim::shrink::{failure_of, scenario_from_file, shrink, Failure, ShrinkError, ShrinkOptions, Shrunk};
use mailsim::units::HumanDuration;

fn path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn load(name: &str) -> Scenario {
    Scenario::load(&path(name)).unwrap_or_else(|e| panic!("{e}"))
}

/// Writes the shrunk file, loads it back, runs the seed: same failure.
fn written_file_reproduces(s: &Shrunk, from: &Path, seed: u64) -> Scenario {
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("{}.toml", s.scenario.file.scenario.name));
    std::fs::write(&out, s.to_toml(from, seed)).expect("writable target dir");
    let loaded = Scenario::load(&out).unwrap_or_else(|e| panic!("the shrunk file loads: {e}"));
    assert_eq!(loaded.file.scenario.name, s.scenario.file.scenario.name);
    assert_eq!(failure_of(&loaded, &run(&loaded, seed)).as_ref(), Some(&s.failure), "{}", s.to_toml(from, seed));
    loaded
}

fn custody() -> Failure {
    Failure::Violation { class: "safety".into(), property: "custody".into() }
}

#[test]
fn ack_before_durable_shrinks_to_one_mail_on_one_node() {
    let file = "tests/data/planted-ack-before-durable.toml";
    let original = load(file);
    let seed = 0;
    let s = shrink(&original, seed, &ShrinkOptions::default()).expect("the planted bug fails");
    assert_eq!(s.failure, custody());
    assert!(!s.budget_exhausted, "{:?}", s.log);
    let (before, after) = (&s.before, &s.after);
    assert_eq!((before.faults, before.mx, before.mails), (9, 3, 6000));
    // The ledger catches the early 250 itself: no fault is needed at all.
    assert_eq!(after.faults, 0, "{:?}", s.log);
    assert_eq!(after.recovery_steps, 0, "{:?}", s.log);
    assert_eq!((after.mx, after.mailboxes, after.mails), (1, 1, 1), "{:?}", s.log);
    assert!(s.scenario.file.run.duration < original.file.run.duration);
    assert_eq!(s.scenario.file.scenario.name, "planted-ack-before-durable-shrunk-seed-0");
    assert!(s.scenario.file.scenario.summary.contains("custody") && s.scenario.file.scenario.summary.contains(file));
    // Expectations that held in the original go; the bug itself stays.
    let e = &s.scenario.file.expect;
    assert!(e.lost.is_none() && e.duplicates.is_none() && e.max_delay.is_none(), "{e:?}");
    assert_eq!(s.scenario.file.topology.mta.ack_before_durable, Some(true));
    let text = s.to_toml(&path(file), seed);
    assert!(text.contains("ack_before_durable = true") && !text.contains("[[faults]]"), "{text}");

    let mut fixed = written_file_reproduces(&s, &path(file), seed);
    fixed.file.topology.mta.ack_before_durable = Some(false);
    let fixed = scenario_from_file(fixed.file, &fixed.path).expect("valid");
    let r = run(&fixed, seed);
    assert!(r.passed(), "with the bug fixed the regression test passes: {:?}", r.verdicts);
}

#[test]
fn expiry_without_dsn_keeps_only_the_outage_that_matters() {
    let file = "tests/data/planted-expire-without-dsn.toml";
    let original = load(file);
    let seed = 1;
    let s = shrink(&original, seed, &ShrinkOptions::default()).expect("the planted bug fails");
    assert_eq!(s.failure, custody());
    let f = &s.scenario.file;
    // Mail is lost only because deliveries stall past the queue lifetime:
    // the broken lock manager is the one fault that must stay.
    assert_eq!(f.faults.len(), 1, "{:?}", s.log);
    assert_eq!(f.faults[0].kind, "lock-broken");
    assert!(s.after.faults < s.before.faults && s.after.mails < s.before.mails && s.after.mx < s.before.mx, "{} → {}", s.before, s.after);
    assert!(f.recovery.is_empty(), "the rollback came too late to matter: {:?}", s.log);
    // `returned` held and goes; `lost` failed, but with the custody
    // violation that pins the bug, so it goes too.
    assert!(f.expect.lost.is_none() && f.expect.returned.is_none(), "{:?}", f.expect);
    assert_eq!(f.expect.custody, None, "custody is checked by default");
    let mut fixed = written_file_reproduces(&s, &path(file), seed);
    fixed.file.topology.mta.drop_expired_without_dsn = Some(false);
    let fixed = scenario_from_file(fixed.file, &fixed.path).expect("valid");
    let r = run(&fixed, seed);
    assert!(r.passed(), "with the bug fixed the regression test passes: {:?}", r.verdicts);
    assert!(r.figures.returned > 0, "the expired mail is returned instead");
}

#[test]
fn failover_without_fence_keeps_the_cluster_and_the_isolation() {
    let file = "tests/data/planted-failover-without-fence.toml";
    let original = load(file);
    let seed = 0;
    let s = shrink(&original, seed, &ShrinkOptions::default()).expect("the planted bug fails");
    assert_eq!(s.failure, Failure::Violation { class: "safety".into(), property: "no split brain".into() });
    let f = &s.scenario.file;
    assert_eq!(f.faults.len(), 1, "{:?}", s.log);
    assert_eq!((f.faults[0].kind.as_str(), f.faults[0].target.as_deref()), ("isolate", Some("mx-1")));
    let cluster = f.topology.cluster.as_ref().expect("split brain needs the cluster");
    assert_eq!(cluster.fencing.len(), 1, "the second fencing level is noise: {:?}", s.log);
    assert!(f.topology.clients.is_none() && f.recovery.is_empty(), "{:?}", s.log);
    assert_eq!((s.after.mx, s.after.mailboxes, s.after.mails), (2, 1, 1), "{}", s.after);
    // The bounds that failed only because the run stopped at the violation
    // (failover time, a reset that never came) are not part of the test.
    assert!(f.expect.failover.is_none() && f.expect.no_failover_before.is_none() && f.expect.lost.is_none(), "{:?}", f.expect);
    // The fixed code gets as long again as the failure took.
    let at = f.faults[0].at.micros();
    assert!(f.run.duration.micros() >= 2 * at && f.run.duration <= original.file.run.duration, "{:?}", s.log);

    let mut fixed = written_file_reproduces(&s, &path(file), seed);
    fixed.file.topology.cluster.as_mut().expect("clustered").failover_without_fence = false;
    let fixed = scenario_from_file(fixed.file, &fixed.path).expect("valid");
    let r = run(&fixed, seed);
    assert!(r.passed(), "with the bug fixed the regression test passes: {:?}", r.verdicts);
}

#[test]
fn a_failed_expectation_shrinks_to_the_same_set_of_failed_names() {
    // The ECCS replay with a delay bound it cannot meet: mail waits ~32 h
    // for the fix, the bound says 20 h.
    let mut s = load("scenarios/eccs-2018-nfs-lock-upgrade.toml");
    s.file.expect.max_delay = Some(Bounds::new(None, Some(HumanDuration::hours(20))));
    let seed = 2;
    let r = shrink(&s, seed, &ShrinkOptions::default()).expect("fails");
    assert_eq!(r.failure, Failure::Expectations { names: vec!["max delivery delay".into()] });
    let f = &r.scenario.file;
    assert_eq!(f.faults.len(), 1);
    assert_eq!(f.faults[0].kind, "lock-broken");
    assert_eq!(f.recovery.len(), 1, "without the fix no mail is delivered, so there is no delay to measure");
    assert!(r.after.mails < 20 && r.after.mx == 1, "{}", r.after);
    // Only the failed bound stays.
    assert!(f.expect.max_delay.is_some() && f.expect.lost.is_none() && f.expect.no_delivery_between.is_none(), "{:?}", f.expect);
    written_file_reproduces(&r, &s.path, seed);
}

#[test]
fn a_passing_seed_has_nothing_to_shrink_and_the_budget_is_respected() {
    let mut s = load("tests/data/planted-ack-before-durable.toml");
    s.file.topology.mta.ack_before_durable = Some(false);
    s.file.faults.clear();
    let s = scenario_from_file(s.file, &s.path).expect("valid");
    assert!(matches!(shrink(&s, 0, &ShrinkOptions::default()), Err(ShrinkError::Passes)));

    let s = load("tests/data/planted-expire-without-dsn.toml");
    let r = shrink(&s, 0, &ShrinkOptions { max_runs: 3, ..ShrinkOptions::default() }).expect("fails");
    assert!(r.runs <= 3 && r.budget_exhausted, "{} runs", r.runs);
    assert_eq!(failure_of(&r.scenario, &r.result), Some(custody()), "even a cut-short shrink keeps the failure");
}
