//! The Norwegian host's outage (November 2019) was a confluence: "two
//! critical faults", of which "each alone would not have caused big
//! problems". The replay models both as mechanisms that load the storage (a
//! lost controller halves the bandwidth, a lost write-back cache makes
//! writes cost more), so removing either fault must leave the mail flowing,
//! and the two together must collapse the storage as the postmortem says.
//! These tests pin that on the replay file itself.

use std::path::PathBuf;

use mailsim::run::{run, RunResult};
use mailsim::scenario::Scenario;

const SEEDS: std::ops::Range<u64> = 0..2;

fn norway() -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/norway-2019-storage-degradation.toml");
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The replay with only the faults `keep` chooses, and none of its
/// expectations (they describe the outage, which a single fault must not
/// cause).
fn with_faults(keep: impl Fn(&str) -> bool) -> Scenario {
    let s = norway();
    let mut file = s.file.clone();
    file.faults.retain(|f| keep(&f.kind));
    file.expect = Default::default();
    file.checkpoints.clear();
    Scenario::from_file(file, &s.path).unwrap_or_else(|e| panic!("{e}"))
}

fn bounced(r: &RunResult) -> u64 {
    r.figures.sender_bounces.iter().map(|(_, n)| n).sum()
}

#[test]
fn the_replay_has_exactly_the_two_faults_of_the_confluence() {
    let kinds: Vec<String> = norway().file.faults.iter().map(|f| f.kind.clone()).collect();
    assert_eq!(kinds, ["controller-failure", "cache-failure"]);
}

#[test]
fn each_fault_alone_is_harmless() {
    for alone in ["controller-failure", "cache-failure"] {
        let s = with_faults(|k| k == alone);
        for seed in SEEDS {
            let r = run(&s, seed);
            let f = &r.figures;
            assert!(
                bounced(&r) == 0 && f.delay_s_max < 600 && f.delivered == f.submitted,
                "{alone} alone, seed {seed}: {} bounced, max delay {} s, {} of {} delivered",
                bounced(&r),
                f.delay_s_max,
                f.delivered,
                f.submitted
            );
        }
    }
}

#[test]
fn together_they_collapse_the_storage_for_days() {
    let s = with_faults(|_| true);
    for seed in SEEDS {
        let r = run(&s, seed);
        let f = &r.figures;
        // Mail written at T0 waits days for the storage, and senders that
        // give up after 72 h bounce some of it.
        assert!(f.delay_s_max > 3 * 86_400 && bounced(&r) > 0, "seed {seed}: max delay {} s, {} bounced", f.delay_s_max, bounced(&r));
        // While collapsed the storage delivers a small share of what it can
        // (the post: "reduced by 90%"): under a quarter of its 3,600/h in
        // each of the first 24 hours.
        let day1 = &f.delivered_per_hour[..24];
        let busy_hours = day1.iter().filter(|n| **n > 900).count();
        assert!(busy_hours <= 4, "seed {seed}: {busy_hours} hours above 900 delivered on day 1: {day1:?}");
    }
}
