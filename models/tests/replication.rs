//! A replicated mailstore on a whole service (`replication.rs`): the
//! primary site fails and the operators fail over to the replica. Async,
//! the mail written since the replica's last update is lost, counted by the
//! ledger and agreed by the end-of-run reconciliation; sync, nothing is
//! lost; a failover that drops the unreplicated tail without telling the
//! ledger is caught by the reconciliation.

use mailsim_models::ledger::{CUSTODY, SPLIT_BRAIN};
use mailsim_models::ops::Trigger;
use mailsim_models::reconcile::reconcile;
use mailsim_models::replication::{ReplicationConfig, ReplicationMode};
use mailsim_models::senders::Workload;
use mailsim_models::topology::{FaultKind, FaultSpec, StepSpec, Topology, TopologyOptions};
use mailsim_models::{Action, Msg, World};
use mailsim_sim::{Dur, RunReport, Sim, Time};

const SEEDS: std::ops::Range<u64> = 1..4;

/// 100 mailboxes, 2 MX nodes, 1,000 mails at a flat 200 an hour over the
/// first 5 hours; the mailstore replicated to `dr` (async: hourly updates
/// taking a minute); the primary site fails at 2:30, failover at 3:00.
fn service(seed: u64, mode: ReplicationMode, bug: bool) -> (Sim<Msg, World>, RunReport) {
    let mut t = Topology::new(TopologyOptions { seed, mx: 2, mailboxes: 100, mails: 1_000 });
    t.workload = Workload { hourly_weights: [1; 24], ..Workload::total(1_000, Dur::hours(5), 100) };
    t.duration = Dur::days(1);
    let mut r = ReplicationConfig::new("dr", mode);
    r.bug_failover_hides_loss = bug;
    t.filer.replication = Some(r);
    t.faults.push(FaultSpec { at: Dur::mins(150).into(), kind: FaultKind::SiteFailure, target: "primary".into() });
    t.plan.push(StepSpec::new("failover", "filer", Action::Failover, Trigger::At(Time::from_hours(3))));
    let mut sim = t.build();
    let report = sim.run();
    (sim, report)
}

#[test]
fn an_async_failover_loses_the_mail_since_the_last_update_and_the_mailstore_agrees() {
    for seed in SEEDS {
        let (sim, report) = service(seed, ReplicationMode::Async, false);
        let w = sim.world();
        let c = &w.counts;
        // Written 2:00–2:30 at 200 an hour: about 100, all of them lost.
        assert!((60..=140).contains(&c.lost), "seed {seed}: {c:?}");
        assert_eq!(c.lost, c.lost_by.mailbox, "seed {seed}");
        assert_eq!(c.delivered + c.lost, c.accepted, "seed {seed}: nothing else is missing: {c:?}");
        let custody = report.property(CUSTODY.name).expect("listed");
        assert!(custody.status.violated(), "seed {seed}");
        // Each lost mail was written after the 2:00 update, before the failure.
        for v in report.violations.iter().filter(|v| v.property == CUSTODY.name) {
            let id: u32 = v.detail.strip_prefix("mail ").and_then(|d| d.split(' ').next()).and_then(|n| n.parse().ok()).expect("mail N");
            let created = w.created(id);
            assert!(
                created.as_micros() >= (Time::from_hours(2).as_micros() - Dur::mins(1).as_micros())
                    && created < Time::ZERO + Dur::mins(150),
                "seed {seed}: mail {id} at {created}"
            );
        }
        reconcile(&sim).check(w).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        assert!(!report.property(SPLIT_BRAIN.name).expect("listed").status.violated(), "seed {seed}");
    }
}

#[test]
fn a_sync_failover_loses_nothing_and_delivers_everything() {
    for seed in SEEDS {
        let (sim, report) = service(seed, ReplicationMode::Sync, false);
        let c = &sim.world().counts;
        assert_eq!((c.lost, c.delivered), (0, 1_000), "seed {seed}: {c:?}");
        assert!(!report.property(CUSTODY.name).expect("listed").status.violated(), "seed {seed}");
        reconcile(&sim).check(sim.world()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

/// Planted bug `ReplicationConfig::bug_failover_hides_loss`: the failover
/// drops the unreplicated tail without telling the ledger, which then says
/// nothing was lost; the reconciliation, counting the mailboxes, finds the
/// mails it still counts as delivered missing.
#[test]
fn a_failover_that_hides_the_unreplicated_tail_is_caught_by_the_reconciliation() {
    for seed in SEEDS {
        let (sim, _) = service(seed, ReplicationMode::Async, true);
        let w = sim.world();
        assert_eq!(w.counts.lost, 0, "seed {seed}: the ledger was not told");
        let why = reconcile(&sim).check(w).expect_err("the reconciliation must catch the hidden loss");
        assert!(why.contains("delivered"), "seed {seed}: {why}");
    }
}
