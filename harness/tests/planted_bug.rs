//! The planted bug of the harness's MX — 250 before the spool is synced —
//! caught by the models' custody ledger after a crash, and its clean twin
//! passing under the same crash.
//!
//! The store refuses deliveries (451) for the first ten minutes, so mail
//! stays in the MX's spool; the crash falls between two of the buggy
//! server's background fsyncs, so the mails it acknowledged since the last
//! one are gone from its disk when it restarts: the ledger reports the early
//! 250s (custody) and the mails that never arrive (eventual delivery).
//! (With the store up, mail leaves the spool within a second and a removal's
//! fsync covers the earlier appends too: the window for loss is tiny, which
//! is why such bugs survive testing.)

// turmoil semantics (power-fail on crash, held links); madsim has its own
// test (`tests/madsim.rs`).
#![cfg(not(madsim))]

use std::time::Duration;

use mailsim_harness::{run, Fault, Mx, PlantedBug, Setup};
use mailsim_models::ledger::{CUSTODY, EVENTUAL_DELIVERY};

const SEED: u64 = 3;

/// 60 mails in a minute through one MX, which crashes 34.5 s in (4.5 s
/// after its last background fsync) and restarts 5 minutes later; the
/// store tempfails until 10 minutes in.
fn crashing(bug: Option<PlantedBug>) -> Setup {
    let s = Duration::from_secs;
    Setup::new(1, 5, 60, s(60), s(3 * 3600), SEED)
        .server(Mx { bug })
        .fault(s(0), Fault::StoreTempfail)
        .fault(Duration::from_millis(34_500), Fault::Crash("mx-1".into()))
        .fault(s(300), Fault::Restart("mx-1".into()))
        .fault(s(600), Fault::StoreRecovers)
}

#[test]
fn acking_before_the_spool_sync_loses_mail_in_a_crash_and_the_ledger_says_so() {
    let out = run(&crashing(Some(PlantedBug::AckBeforeSync)), SEED).expect("the run completes");
    let a = &out.audit;
    assert_eq!(a.held(CUSTODY.name), Some(false), "custody must be violated: {:?}", a.violations());
    assert_eq!(a.held(EVENTUAL_DELIVERY), Some(false), "acknowledged mail must be missing: {:?}", a.violations());
    let c = &a.world.counts;
    assert!(c.delivered < c.accepted, "some accepted mail never arrives: {c:?}");
    assert!(a.violations().iter().any(|v| v.contains("before it was durable")), "the violation names the early 250: {:?}", a.violations());
}

#[test]
fn the_clean_server_loses_nothing_in_the_same_crash() {
    let out = run(&crashing(None), SEED).expect("the run completes");
    let a = &out.audit;
    assert!(a.passed(), "{:?}", a.violations());
    assert!(out.quiescent, "the run settled before its end ({:?})", out.end);
    let c = &a.world.counts;
    assert_eq!((c.submitted, c.delivered, c.lost, c.duplicate_deliveries), (60, 60, 0, 0), "{c:?}");
}

#[test]
fn without_a_crash_the_bug_loses_nothing_but_every_early_250_is_still_flagged() {
    let setup =
        Setup::new(1, 5, 20, Duration::from_secs(60), Duration::from_secs(3600), SEED).server(Mx { bug: Some(PlantedBug::AckBeforeSync) });
    let a = run(&setup, SEED).expect("the run completes").audit;
    assert_eq!(a.world.counts.delivered, 20);
    assert_eq!(a.held(EVENTUAL_DELIVERY), Some(true));
    assert_eq!(a.held(CUSTODY.name), Some(false), "the ledger checks the 250 itself, not only its consequences");
}
