//! Data faults, backups and restores through a whole service (`backup.rs`):
//! what a restore loses is counted as lost and agrees with the components'
//! final state; a filer that hides the loss from the ledger is caught by
//! the end-of-run reconciliation; restored mailboxes with new identifiers
//! make POP and IMAP clients fetch everything again, counted per protocol,
//! and a restore that keeps them costs the clients nothing.

use mailsim_models::backup::{BackupKind, BackupSet};
use mailsim_models::clients::Clients;
use mailsim_models::filer::Filer;
use mailsim_models::ledger::CUSTODY;
use mailsim_models::ops::Trigger;
use mailsim_models::reconcile::reconcile;
use mailsim_models::senders::Workload;
use mailsim_models::topology::{FaultKind, FaultSpec, StepSpec, Topology, TopologyOptions};
use mailsim_models::{Action, Msg, Proto, World};
use mailsim_sim::{Dur, RunReport, Sim, Time};

const SEEDS: std::ops::Range<u64> = 1..4;

/// 100 mailboxes on the default volumes; 1,000 mails at a flat rate over
/// the first 5 hours; a nightly tape backup whose first in-run copy is at
/// 2 h; volume-1 corrupted at 6 h, restored from tape at 7 h.
fn service(seed: u64, preserve_uids: bool, bug: bool) -> (Sim<Msg, World>, RunReport) {
    let mut t = Topology::new(TopologyOptions { seed, mx: 1, mailboxes: 100, mails: 1_000 });
    t.workload = Workload { hourly_weights: [1; 24], ..Workload::total(1_000, Dur::hours(5), 100) };
    t.duration = Dur::days(1);
    t.filer.backups = vec![BackupSet::new("nightly", BackupKind::Tape, Dur::hours(2))];
    t.filer.bug_restore_hides_loss = bug;
    t.faults.push(FaultSpec {
        at: Dur::hours(6).into(),
        kind: FaultKind::DataCorruption { share_ppm: 1_000_000 },
        target: "volume-1".into(),
    });
    let restore = Action::Restore { set: t.backup_set("nightly").expect("named"), volumes: vec![], preserve_uids };
    t.plan.push(StepSpec::new("restore", "filer", restore, Trigger::At(Time::ZERO + Dur::hours(7))));
    let mut sim = t.build();
    let report = sim.run();
    (sim, report)
}

fn filer(sim: &Sim<Msg, World>) -> &mailsim_models::filer::Mailstore {
    sim.disk::<Filer>(sim.node_id("filer").expect("a filer")).expect("its disk").state()
}

#[test]
fn a_restore_loses_the_mail_after_the_copy_counts_it_and_the_mailstore_agrees() {
    for seed in SEEDS {
        let (sim, report) = service(seed, true, false);
        let w = sim.world();
        let c = &w.counts;
        assert!(c.lost > 0, "seed {seed}: mail delivered between 2 h and 6 h to volume-1 is lost: {c:?}");
        assert_eq!(c.lost, c.lost_by.mailbox, "seed {seed}");
        assert_eq!(c.delivered + c.lost, c.accepted, "seed {seed}: nothing else is missing: {c:?}");
        let custody = report.property(CUSTODY.name).expect("listed");
        assert!(custody.status.violated(), "seed {seed}: {:?}", custody.status);
        reconcile(&sim).check(w).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        // What is left on volume-1 was all written before the 2 h copy.
        let st = filer(&sim);
        let on_volume_1: Vec<u32> = (0..100).filter(|mb| st.volume_of(*mb) == 0).collect();
        assert!(on_volume_1.iter().all(|mb| !st.damaged(*mb)), "seed {seed}: restored");
        let left: Vec<u32> = on_volume_1.iter().flat_map(|mb| st.mailbox(*mb).to_vec()).collect();
        assert!(!left.is_empty() && left.iter().all(|m| w.created(*m) < Time::from_hours(2)), "seed {seed}");
        // And every mail written before the copy is still there.
        let before: u64 = on_volume_1.iter().map(|mb| st.newest_copy(0, *mb).map_or(0, |c| c.1.len() as u64)).sum();
        assert_eq!(before, left.len() as u64, "seed {seed}");
    }
}

/// Planted bug `FilerConfig::bug_restore_hides_loss`: the mail no backup
/// holds leaves its mailbox without the ledger hearing of it. The ledger
/// then says nothing was lost; the reconciliation, counting the mailboxes,
/// finds the mails it still counts as delivered missing.
#[test]
fn a_filer_that_hides_the_loss_from_the_ledger_is_caught_by_the_reconciliation() {
    for seed in SEEDS {
        let (sim, _) = service(seed, true, true);
        let w = sim.world();
        assert_eq!(w.counts.lost, 0, "seed {seed}: the ledger was not told");
        let why = reconcile(&sim).check(w).expect_err("the reconciliation must catch the hidden loss");
        assert!(why.contains("delivered"), "seed {seed}: {why}");
        // The clean twin reconciles (its loss is counted).
        let (clean, _) = service(seed, true, false);
        assert!(clean.world().counts.lost > 0);
        reconcile(&clean).check(clean.world()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
    }
}

/// For each protocol, the mails on the restored volume that its users
/// fetch again: the whole mailbox, once (no mail arrives after 5 h).
fn expected_refetch(sim: &Sim<Msg, World>, proto: Proto) -> u64 {
    let clients = sim.node::<Clients>(sim.node_id("clients").expect("clients")).expect("up");
    let st = filer(sim);
    clients.users().filter(|(mb, p)| *p == proto && st.volume_of(*mb) == 0).map(|(mb, _)| st.mailbox(mb).len() as u64).sum()
}

#[test]
fn a_restore_that_resets_identifiers_makes_pop_and_imap_clients_fetch_the_mailbox_again() {
    for seed in SEEDS {
        let (sim, _) = service(seed, false, false);
        let c = &sim.world().counts;
        let (pop, imap) = (expected_refetch(&sim, Proto::Pop), expected_refetch(&sim, Proto::Imap));
        assert!(pop > 0 && imap > 0, "seed {seed}: the restored volume has POP and IMAP users with mail");
        assert_eq!((c.pop_redownloads, c.imap_resyncs), (pop, imap), "seed {seed}");
        assert_eq!(c.client_duplicates, pop + imap, "seed {seed}: webmail keeps no copy");
        // The same run with a restore that keeps identifiers: none.
        let (kept, _) = service(seed, true, false);
        let k = &kept.world().counts;
        assert_eq!((k.pop_redownloads, k.imap_resyncs, k.client_duplicates), (0, 0, 0), "seed {seed}");
    }
}
