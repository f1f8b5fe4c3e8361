//! Planted bugs prove that the mail invariants can fail.
//!
//! Each test assembles a small but whole service (`Topology`: filer, MX nodes,
//! senders, operators, and a cluster where the bug needs one), plants one of
//! the bugs the models can switch on, and requires the kernel to end the run
//! with the right outcome class and property; then it runs the very same
//! service, faults and seeds without the bug and requires a clean run with
//! nothing lost. So every test can fail both ways: a checker that misses the
//! bug fails the first half, a checker (or model) that cries wolf fails the
//! second.
//!
//! | bug (switch)                         | outage it mimics                      | caught as            |
//! |--------------------------------------|---------------------------------------|----------------------|
//! | `MtaConfig.ack_before_durable`       | 250 before fsync (RFC 5321 §4.1.1.4)  | custody (safety)     |
//! | `FilerConfig.merge_dedup = false`    | OpenSRS 2008 temp-store merge-back    | custody (duplicate)  |
//! | `FilerConfig.bug_merge_drops_mail`   | a merge-back that empties the temp    | custody (lost at the |
//! |                                      | store but misses a mail               | temporary store)     |
//! | `AgentConfig.failover_without_fence` | Fused 2018, fencing skipped           | no split brain       |
//! | `MtaConfig.lda_skips_lock`           | ECCS 2018: delivery without NFS locks | no split brain       |
//! | `MtaConfig.drop_expired_without_dsn` | a queue that deletes instead of DSN   | custody (lost)       |
//! | no recovery plan                     | OpenSRS storage never repaired        | eventual delivery    |
//!
//! The remaining custody check, a mailbox copy destroyed with its RAID group,
//! is planted in `filer.rs` (`a_third_disk_failure_loses_the_mail_on_the_group`);
//! a loss the ledger itself misses is caught by the end-of-run reconciliation
//! (`reconcile.rs`).
//!
//! Every scenario runs over `SEEDS` seeds; sizes are small (tens of
//! mailboxes, at most a few thousand mails, hours of simulated time) so the
//! whole file runs in well under a second in release.

use mailsim_models::cluster::FenceDeviceConfig;
use mailsim_models::host::ClusterNode;
use mailsim_models::ledger::{CUSTODY, EVENTUAL_DELIVERY, SPLIT_BRAIN};
use mailsim_models::ops::Trigger;
use mailsim_models::senders::Workload;
use mailsim_models::topology::{ClusterSpec, FaultAt, FaultKind, FaultSpec, FenceLevel, StepSpec, Topology, TopologyOptions};
use mailsim_models::{Action, Msg, World};
use mailsim_sim::{Dur, Fault, Outcome, PropertyKind, RunReport, Sim, Time, Violation};

const SEEDS: std::ops::Range<u64> = 1..6;

// ---------------------------------------------------------------------------
// Helpers.

fn fault(when: Dur, kind: FaultKind, target: &str) -> FaultSpec {
    FaultSpec::new(when, kind, target)
}

fn step(name: &str, target: &str, action: Action, trigger: Trigger) -> StepSpec {
    StepSpec::new(name, target, action, trigger)
}

/// A small service: `mx` MX nodes, `mailboxes`, `mails` sent at a flat rate
/// over `window` (no diurnal curve, so the arrival rate is the same at every
/// hour the faults hit), storage whose RAID groups rebuild in 30 minutes.
fn service(seed: u64, mx: u32, mailboxes: u32, mails: u64, window: Dur) -> Topology {
    let mut t = Topology::new(TopologyOptions { seed, mx, mailboxes, mails });
    t.workload = Workload { hourly_weights: [1; 24], ..Workload::total(mails, window, mailboxes) };
    // Five stale disks at 35 MB/s in ~30 minutes at idle (the default: ~12 h).
    t.filer.storage.disk_bytes = 35_000_000 * 1800 / 5;
    t.duration = Dur::days(3);
    t.liveness_window = Dur::hours(12);
    t
}

fn time(d: Dur) -> Time {
    Time::ZERO + d
}

/// The run ended with a violation of `class` ("safety", "liveness") on `property`.
fn expect_violation(seed: u64, report: &RunReport, class: &str, property: &str) -> Violation {
    assert_eq!(report.outcome.class(), class, "seed {seed}: expected a {class} violation of `{property}`, got {}", report.outcome);
    let v = report.outcome.violation().expect("safety and liveness outcomes carry a violation").clone();
    assert_eq!(v.property, property, "seed {seed}: {v}");
    v
}

/// The run was clean: no violation, nothing lost or delivered twice,
/// everything accepted is delivered or returned and the senders hold nothing.
fn expect_clean(seed: u64, sim: &Sim<Msg, World>, report: &RunReport) {
    assert!(report.outcome.is_ok(), "seed {seed}: {}", report.outcome);
    let w = sim.world();
    let c = &w.counts;
    assert_eq!(c.lost, 0, "seed {seed}: {c:?}");
    assert_eq!(c.duplicate_deliveries, 0, "seed {seed}: {c:?}");
    assert!(c.submitted > 0 && c.accepted > 0, "seed {seed}: the run carried mail: {c:?}");
    assert_eq!(c.delivered + c.returned, c.accepted, "seed {seed}: {c:?}");
    assert_eq!(c.sender_bounced, 0, "seed {seed}: {c:?}");
    assert!(w.all_delivered().is_ok(), "seed {seed}: {:?}", w.all_delivered());
}

/// Every scheduled fault took effect (none of these scenarios has a latent
/// one except a path fault, which shows through the controller failure).
fn expect_faults_fired(seed: u64, report: &RunReport) {
    assert!(!report.faults.is_empty(), "seed {seed}: faults were injected");
    for f in &report.faults {
        assert!(f.effect, "seed {seed}: fault without effect: {f:?}");
    }
}

// ---------------------------------------------------------------------------
// Custody: an MTA that answers 250 before its queue write is durable.

/// Two MX nodes; mx-1 crashes four times (5 min down each) while 2,000 mails
/// arrive over two hours. A 250 sent before the queue file is on disk makes
/// mail that a crash in the next milliseconds loses; the ledger flags the
/// 250 itself, the moment it leaves without a durable copy behind it.
fn ack_before_durable(seed: u64, bug: bool) -> Sim<Msg, World> {
    let mut t = service(seed, 2, 50, 2_000, Dur::hours(2));
    t.mta.ack_before_durable = bug;
    t.fault_phase = Some(Dur::hours(3));
    for k in 0..4u64 {
        let down = Dur::mins(10 + 25 * k) + Dur::millis(137 * k);
        t.faults.push(fault(down, FaultKind::Crash, "mx-1"));
        t.faults.push(fault(down + Dur::mins(5), FaultKind::Restart, "mx-1"));
    }
    t.build()
}

#[test]
fn an_mta_acking_before_its_queue_write_is_durable_breaks_custody() {
    for seed in SEEDS {
        let report = ack_before_durable(seed, true).run();
        let v = expect_violation(seed, &report, "safety", CUSTODY.name);
        assert!(v.detail.contains("before it was durable"), "seed {seed}: {}", v.detail);
        assert_eq!(v.kind, PropertyKind::Always);
    }
}

#[test]
fn an_mta_acking_after_its_queue_write_keeps_custody_through_crashes() {
    for seed in SEEDS {
        let mut sim = ack_before_durable(seed, false);
        let report = sim.run();
        expect_clean(seed, &sim, &report);
        expect_faults_fired(seed, &report);
        assert_eq!(sim.world().counts.delivered, sim.world().counts.submitted, "seed {seed}");
    }
}

// ---------------------------------------------------------------------------
// Custody: merge-back of temporary stores without deduplication.

/// OpenSRS, Cluster A, 2008, in miniature. Shelf a carries a latent path
/// fault from before the run; at 1 h the replies from the filer to mx-1 stop
/// arriving (a one-way partition, healed at 1 h 10 min), so the ~20
/// deliveries mx-1 has in flight land in their mailboxes while mx-1 never
/// hears so. At 1 h 05 min a controller of shelf a fails and, with the path
/// fault, takes its three volumes offline; temporary stores were enabled at
/// 1 h 01 min. When mx-1's delivery agents time out (1000 s) it retries, and
/// the mails whose mailbox is now offline go to a temporary store: the same
/// mail is then in its mailbox and in a temp store. Hardware is replaced at
/// 3 h, the volumes are rebuilt one after another, and the temp stores are
/// merged back. Without deduplication, those mails arrive a second time.
fn merge_back(seed: u64, merge_dedup: bool) -> Sim<Msg, World> {
    merge_back_with(seed, merge_dedup, false)
}

fn merge_back_with(seed: u64, merge_dedup: bool, drops_mail: bool) -> Sim<Msg, World> {
    let mut t = service(seed, 1, 40, 1_500, Dur::hours(3));
    t.filer.merge_dedup = merge_dedup;
    t.filer.bug_merge_drops_mail = drops_mail;
    t.fault_phase = Some(Dur::hours(8));
    t.faults.push(FaultSpec { at: FaultAt::BeforeStart, kind: FaultKind::PathFault, target: "shelf-a".into() });
    t.faults.push(fault(Dur::mins(65), FaultKind::ControllerFailure, "shelf-a/controller-a"));
    t.plan.push(step("temp stores", "filer", Action::EnableTempStores, Trigger::At(time(Dur::mins(61)))));
    t.plan.push(step("replace", "filer", Action::ReplaceHardware, Trigger::At(time(Dur::hours(3)))));
    t.plan.push(step(
        "rebuild",
        "filer",
        Action::StartRebuild { parallel: false, order: Default::default() },
        Trigger::After(1, Dur::mins(5)),
    ));
    t.plan.push(step("merge", "filer", Action::MergeBack, Trigger::After(2, Dur::mins(5))));
    let filer = t.node("filer").expect("a filer");
    let mx1 = t.node("mx-1").expect("mx-1");
    let mut sim = t.build();
    sim.schedule(time(Dur::hours(1)), Fault::PartitionOneWay { from: filer, to: mx1 });
    sim.schedule(time(Dur::mins(70)), Fault::HealLink(filer, mx1));
    sim
}

#[test]
fn merge_back_without_dedup_delivers_twice() {
    for seed in SEEDS {
        let mut sim = merge_back(seed, false);
        let report = sim.run();
        let v = expect_violation(seed, &report, "safety", CUSTODY.name);
        assert!(v.detail.contains("duplicate delivery"), "seed {seed}: {}", v.detail);
        // Caught at the merge-back (after the rebuild), not before.
        assert!(v.time > Time::from_hours(3), "seed {seed}: {}", v.time);
        assert!(sim.world().counts.duplicate_deliveries >= 1);
    }
}

/// The same merge-back, deduplicated, but leaving one mail of each temporary
/// store out of the mailbox while emptying the store: the ledger must see
/// that mail leave its last place at the temporary store.
#[test]
fn a_merge_back_that_drops_a_mail_from_the_temp_store_loses_it() {
    for seed in SEEDS {
        let mut sim = merge_back_with(seed, true, true);
        let report = sim.run();
        let v = expect_violation(seed, &report, "safety", CUSTODY.name);
        assert!(v.detail.contains("lost") && v.detail.contains("temporary store"), "seed {seed}: {}", v.detail);
        assert!(v.time > Time::from_hours(3), "seed {seed}: at the merge-back: {}", v.time);
        let c = &sim.world().counts;
        assert!(c.lost > 0, "seed {seed}: {c:?}");
        assert_eq!(c.lost_by.temp_store, c.lost, "seed {seed}: all lost from the temporary store: {c:?}");
        assert_eq!(c.duplicate_deliveries, 0, "seed {seed}: {c:?}");
    }
}

#[test]
fn merge_back_with_dedup_delivers_once() {
    for seed in SEEDS {
        let mut sim = merge_back(seed, true);
        let report = sim.run();
        expect_clean(seed, &sim, &report);
        expect_faults_fired(seed, &report);
        let w = sim.world();
        assert_eq!(w.counts.delivered, w.counts.submitted, "seed {seed}");
        // The scenario did what it is about: about half the mailboxes went
        // offline, and some mail was in a temporary store meanwhile.
        let peak = w.stats.unavailable.iter().map(|u| u.1).max().unwrap_or(0);
        assert!((10..=30).contains(&peak), "seed {seed}: {peak} of 40 mailboxes offline");
    }
}

// ---------------------------------------------------------------------------
// Split brain: failover without a successful fence.

/// A two-node cluster behind a vip; at 30 min the primary mx-1 is isolated
/// from the network (not crashed: it still runs the services). The cluster
/// must fence it (power it off through its IPMI device) before mx-2 takes
/// over; the operators power it on again at 1 h 30 min, after the network
/// healed at 1 h.
fn isolated_primary(seed: u64, bug: bool) -> Sim<Msg, World> {
    let mut t = service(seed, 2, 50, 1_000, Dur::hours(2));
    let mut c = ClusterSpec { fence_levels: vec![FenceLevel::new("ipmi", FenceDeviceConfig::default())], ..ClusterSpec::default() };
    c.agent.failover_without_fence = bug;
    t.cluster = Some(c);
    t.fault_phase = Some(Dur::hours(3));
    t.faults.push(fault(Dur::mins(30), FaultKind::Isolate, "mx-1"));
    t.faults.push(fault(Dur::hours(1), FaultKind::Heal, "mx-1"));
    let mx1 = t.node("mx-1").expect("mx-1");
    t.plan.push(step("power on", "mx-1", Action::PowerOn { node: mx1 }, Trigger::At(time(Dur::mins(90)))));
    t.build()
}

#[test]
fn failover_without_fencing_an_isolated_primary_is_a_split_brain() {
    for seed in SEEDS {
        let report = isolated_primary(seed, true).run();
        let v = expect_violation(seed, &report, "safety", SPLIT_BRAIN.name);
        assert!(v.detail.contains("mx-1") && v.detail.contains("mx-2"), "seed {seed}: {}", v.detail);
        // Right after the token timeout, long before anything heals.
        assert!(v.time > Time::from_secs(1800) && v.time < Time::from_secs(1800 + 60), "seed {seed}: {}", v.time);
    }
}

#[test]
fn fencing_an_isolated_primary_before_failover_keeps_one_brain() {
    for seed in SEEDS {
        let mut sim = isolated_primary(seed, false);
        let report = sim.run();
        expect_clean(seed, &sim, &report);
        expect_faults_fired(seed, &report);
        let mx2_id = sim.node_id("mx-2").expect("mx-2");
        let mx2 = sim.node::<ClusterNode>(mx2_id).expect("mx-2 up");
        assert_eq!(mx2.agent.stats.fences_ok, 1, "seed {seed}: mx-1 fenced once");
        assert!(mx2.agent.runs_services(), "seed {seed}: mx-2 took over and kept the services");
        let started = mx2.agent.stats.started_at.expect("mx-2 started the services");
        assert!(started > Time::from_secs(1800) && started < Time::from_secs(1800 + 120), "seed {seed}: {started}");
    }
}

// ---------------------------------------------------------------------------
// Split brain: a delivery agent that appends without the mailbox lock.

/// Four MX nodes deliver 2,000 mails to three mailboxes over two hours. At
/// 30 min the filer stops answering for 5 minutes (a hard-mount stall); the
/// ~80 appends stalled meanwhile are all served at once when it ends, so
/// appends to one mailbox from several nodes are truly concurrent. With the
/// lock they queue behind each other; without it two nodes write one
/// mailbox at once.
fn unlocked(seed: u64, bug: bool) -> Sim<Msg, World> {
    let mut t = service(seed, 4, 3, 2_000, Dur::hours(2));
    t.mta.lda_skips_lock = bug;
    t.fault_phase = Some(Dur::hours(3));
    t.faults.push(fault(Dur::mins(30), FaultKind::Hang { for_: Dur::mins(5) }, "filer"));
    t.build()
}

#[test]
fn a_delivery_agent_writing_without_the_lock_is_a_split_brain() {
    for seed in SEEDS {
        let report = unlocked(seed, true).run();
        let v = expect_violation(seed, &report, "safety", SPLIT_BRAIN.name);
        assert!(v.detail.contains("mailbox") && v.detail.contains("at once"), "seed {seed}: {}", v.detail);
    }
}

#[test]
fn a_delivery_agent_taking_the_lock_serializes_concurrent_appends() {
    for seed in SEEDS {
        let mut sim = unlocked(seed, false);
        let report = sim.run();
        expect_clean(seed, &sim, &report);
        expect_faults_fired(seed, &report);
        assert_eq!(sim.world().counts.delivered, sim.world().counts.submitted, "seed {seed}");
    }
}

// ---------------------------------------------------------------------------
// Custody: a queue that drops expired mail without a DSN.

/// The file server's lock manager breaks at 10 min (the ECCS upgrade) and is
/// rolled back at 4 h 30 min; 500 mails arrive in the first hour. The MTAs'
/// queue lifetime is shortened from 5 days to 4 hours, so mail that is still
/// undeliverable 4 h after it was queued expires before the fix. A correct
/// queue returns it to its author with a DSN; the buggy one deletes it.
fn expiry(seed: u64, bug: bool) -> Sim<Msg, World> {
    let mut t = service(seed, 2, 50, 500, Dur::hours(1));
    t.mta.retry.lifetime_s = 4 * 3600;
    t.mta.drop_expired_without_dsn = bug;
    t.fault_phase = Some(Dur::hours(6));
    t.faults.push(fault(Dur::mins(10), FaultKind::LockBroken, "filer"));
    t.plan.push(step("rollback", "filer", Action::RollbackUpgrade, Trigger::At(time(Dur::mins(270)))));
    t.build()
}

#[test]
fn a_queue_dropping_expired_mail_without_a_dsn_loses_it() {
    for seed in SEEDS {
        let mut sim = expiry(seed, true);
        let report = sim.run();
        let v = expect_violation(seed, &report, "safety", CUSTODY.name);
        assert!(v.detail.contains("lost") && v.detail.contains("last queue"), "seed {seed}: {}", v.detail);
        assert!(v.time > Time::from_hours(4), "seed {seed}: not before the lifetime: {}", v.time);
        // The run goes on to its end and counts every loss: the mails the
        // clean twin returns with a DSN are the ones the bug loses.
        let lost = sim.world().counts.lost;
        let custody = report.property(CUSTODY.name).expect("declared");
        assert!(
            matches!(custody.status, mailsim_sim::PropertyStatus::Violated { count, .. } if count == lost),
            "seed {seed}: {:?}",
            custody.status
        );
        let mut clean = expiry(seed, false);
        clean.run();
        assert_eq!(lost, clean.world().counts.returned, "seed {seed}: every expired mail is lost, none stops the count");
        assert_eq!(sim.world().counts.lost_by.queue, lost, "seed {seed}: lost from a queue");
    }
}

#[test]
fn a_queue_returning_expired_mail_with_a_dsn_keeps_custody() {
    for seed in SEEDS {
        let mut sim = expiry(seed, false);
        let report = sim.run();
        expect_clean(seed, &sim, &report);
        expect_faults_fired(seed, &report);
        let c = &sim.world().counts;
        // Both outcomes happen: early mail expires, late mail waits out the fix.
        assert!(c.returned > 0 && c.delivered > 0, "seed {seed}: {c:?}");
    }
}

// ---------------------------------------------------------------------------
// Eventual delivery: storage that never comes back.

/// OpenSRS-like storage outage at 1 h (latent path fault plus controller
/// failure on shelf a: about half the mailboxes offline) with 1,000 mails
/// over four hours. With the recovery plan (replace the hardware at 4 h,
/// rebuild) the mail queued at the MTAs is delivered after the fault phase
/// ends at 6 h; without it the volumes never return, the fault phase ends
/// anyway, and the mail for them is still queued when the liveness window
/// (12 h, well inside the MTAs' 5-day queue lifetime) runs out.
fn storage_outage(seed: u64, plan: bool) -> Sim<Msg, World> {
    let mut t = service(seed, 2, 60, 1_000, Dur::hours(4));
    t.fault_phase = Some(Dur::hours(6));
    t.faults.push(fault(Dur::mins(50), FaultKind::PathFault, "shelf-a"));
    t.faults.push(fault(Dur::hours(1), FaultKind::ControllerFailure, "shelf-a/controller-b"));
    if plan {
        t.plan.push(step("replace", "filer", Action::ReplaceHardware, Trigger::At(time(Dur::hours(4)))));
        t.plan.push(step(
            "rebuild",
            "filer",
            Action::StartRebuild { parallel: false, order: Default::default() },
            Trigger::After(0, Dur::mins(10)),
        ));
    }
    t.build()
}

#[test]
fn storage_that_never_recovers_violates_eventual_delivery() {
    for seed in SEEDS {
        let mut sim = storage_outage(seed, false);
        let report = sim.run();
        let v = expect_violation(seed, &report, "liveness", EVENTUAL_DELIVERY);
        assert_eq!(v.kind, PropertyKind::Eventually);
        assert!(sim.world().outstanding() > 0, "seed {seed}: mail is still queued: {}", v.detail);
        // Judged at the end of the liveness window, not during the faults.
        assert!(v.time >= Time::from_hours(6 + 12), "seed {seed}: {}", v.time);
        let c = &sim.world().counts;
        assert_eq!(c.lost, 0, "seed {seed}: waiting is not losing: {c:?}");
        assert!(c.delivered < c.accepted, "seed {seed}: {c:?}");
        assert!(matches!(report.outcome, Outcome::LivenessViolation(_)));
    }
}

#[test]
fn storage_restored_by_the_recovery_plan_delivers_everything() {
    for seed in SEEDS {
        let mut sim = storage_outage(seed, true);
        let report = sim.run();
        expect_clean(seed, &sim, &report);
        expect_faults_fired(seed, &report);
        let c = &sim.world().counts;
        assert_eq!(c.delivered, c.submitted, "seed {seed}: {c:?}");
        // The plan ran: 3 volumes rebuilt one after another, 30 min each.
        assert!(sim.world().last_delivery > Time::from_hours(5), "seed {seed}: {}", sim.world().last_delivery);
    }
}
