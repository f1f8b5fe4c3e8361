//! The end-of-run reconciliation: every mail counted a second way, from the
//! components' final state, and checked against the custody ledger.
//!
//! The ledger (`ledger.rs`) judges custody at each transition a component
//! reports. A checker that is only ever asked about transitions misses a
//! mail that leaves without a transition being checked — a check removed, a
//! component that forgets to report — and then says `lost 0` while mail was
//! destroyed. So, like a bank that counts the vault at closing time instead
//! of trusting the day's ledger, this module looks at where every mail
//! actually is when the run ends:
//! - in a mailbox or a temporary store: the file servers' durable mailstores
//!   (a RAID group's loss whose bookkeeping write is still in flight counts
//!   as done: the data is gone the moment the group is; so does the removal
//!   of mail a damaged mailbox lost, `backup.rs`);
//! - queued: the MTAs' durable queues;
//! - held: the senders' mails not yet accepted nor given up;
//! - returned: the MTAs' own durable record of the mails they returned with
//!   a DSN (a return whose queue removal is still in flight counts as done,
//!   as it does in the ledger);
//! - bounced: the senders' own record of the mails they gave up.
//!
//! A mail written and in none of those places is *lost*. Nothing here reads
//! the ledger's records until [`Reconciliation::check`] compares the two
//! accounts, category by category. Memory: one byte of places per mail
//! written, freed when the count is done.

use mailsim_sim::{Disk, NodeId, Sim};

use crate::filer::{Filer, Mailstore, Op};
use crate::host::ClusterNode;
use crate::msg::{MailId, Msg};
use crate::mta::{MtaNode, QueueDisk};
use crate::senders::Senders;
use crate::World;

const MAILBOX: u8 = 1;
const TEMP: u8 = 2;
const QUEUE: u8 = 4;
const HELD: u8 = 8;
const RETURNED: u8 = 16;
const BOUNCED: u8 = 32;

/// How many lost mail ids a reconciliation keeps, for messages.
const LOST_IDS_MAX: usize = 8;

/// Every mail written in a run, counted from the components' final state.
/// The categories overlap (a mail returned by one MTA may be delivered by
/// another; an accepted mail whose sender missed the 250 is both queued and
/// held), except `lost`: in none of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Reconciliation {
    /// Mails the senders wrote.
    pub written: u64,
    /// Mails in their mailbox.
    pub delivered: u64,
    /// Mailbox copies beyond the first (duplicate deliveries still there).
    pub extra_mailbox_copies: u64,
    /// Mails in a temporary store.
    pub in_temp: u64,
    /// Mails in an MTA's durable queue.
    pub queued: u64,
    /// Mails their senders still hold.
    pub held: u64,
    /// Mails an MTA returned to their author with a DSN.
    pub returned: u64,
    /// Mails their senders gave up.
    pub sender_bounced: u64,
    /// Mails written and in none of the places above.
    pub lost: u64,
    /// The first few lost mails, by id.
    pub lost_ids: Vec<MailId>,
    /// Mail ids found in a component beyond those written (a model bug).
    pub unknown_ids: u64,
}

/// The places of each mail, one byte per mail id written.
struct Places {
    of: Vec<u8>,
    unknown: u64,
}

impl Places {
    fn mark(&mut self, id: MailId, place: u8) -> bool {
        match self.of.get_mut(id as usize) {
            Some(p) => {
                let had = *p & place != 0;
                *p |= place;
                had
            }
            None => {
                self.unknown += 1;
                false
            }
        }
    }
}

/// Counts every mail of `sim` from its components' final state (see the
/// module documentation). Call after `Sim::run`.
pub fn reconcile(sim: &Sim<Msg, World>) -> Reconciliation {
    let ids: Vec<NodeId> = (0..sim.names().len()).map(|i| NodeId(i as u32)).collect();
    let written: u64 = ids.iter().filter_map(|&id| sim.node::<Senders>(id)).map(Senders::generated).sum();
    let mut places = Places { of: vec![0; written as usize], unknown: 0 };
    let mut extra_copies = 0u64;
    for &id in &ids {
        if let Some(disk) = sim.disk::<Filer>(id) {
            extra_copies += places.mark_mailstore(disk);
        }
        let queue = sim.disk::<MtaNode>(id).or_else(|| sim.disk::<ClusterNode>(id));
        if let Some(disk) = queue {
            places.mark_queue(disk, written);
        }
        if let Some(senders) = sim.node::<Senders>(id) {
            places.mark_senders(senders, written);
        }
    }
    let count = |place: u8| places.of.iter().filter(|p| **p & place != 0).count() as u64;
    let mut r = Reconciliation {
        written,
        delivered: count(MAILBOX),
        extra_mailbox_copies: extra_copies,
        in_temp: count(TEMP),
        queued: count(QUEUE),
        held: count(HELD),
        returned: count(RETURNED),
        sender_bounced: count(BOUNCED),
        unknown_ids: places.unknown,
        ..Reconciliation::default()
    };
    for (id, p) in places.of.iter().enumerate() {
        if *p == 0 {
            r.lost += 1;
            if r.lost_ids.len() < LOST_IDS_MAX {
                r.lost_ids.push(id as MailId);
            }
        }
    }
    r
}

impl Places {
    /// Marks the mails in a mailstore's mailboxes and temporary mailboxes,
    /// but not those whose loss or removal is decided and not yet written
    /// down; returns how many were already in a mailbox (extra copies).
    fn mark_mailstore(&mut self, disk: &Disk<Mailstore>) -> u64 {
        let mut extra_copies = 0;
        let st = disk.state();
        // Volumes whose data loss is decided but not yet written down.
        let lost_volumes: Vec<u32> = disk
            .pending()
            .flat_map(|op| match op {
                Op::Lose { volumes } => volumes.clone(),
                _ => Vec::new(),
            })
            .collect();
        // Mails whose removal from a damaged mailbox (`backup.rs`) is
        // decided but not yet written down: gone, as above.
        let mut dropped: Vec<MailId> = disk
            .pending()
            .flat_map(|op| match op {
                Op::Drop { mails, .. } => mails.clone(),
                _ => Vec::new(),
            })
            .collect();
        dropped.sort_unstable();
        for mb in 0..st.mailboxes() {
            if !lost_volumes.contains(&st.volume_of(mb)) {
                for &m in st.mailbox(mb) {
                    if dropped.binary_search(&m).is_err() {
                        extra_copies += u64::from(self.mark(m, MAILBOX));
                    }
                }
            }
        }
        for mb in st.temp_mailboxes() {
            for &m in st.temp(mb) {
                self.mark(m, TEMP);
            }
        }
        extra_copies
    }

    /// Marks the mails in an MTA's durable queue, and those it returned (or
    /// is about to, as decided).
    fn mark_queue(&mut self, disk: &Disk<QueueDisk>, written: u64) {
        let st = disk.state();
        for q in st.iter() {
            self.mark(q.mail.id, QUEUE);
        }
        for (m, returned) in QueueDisk::pending_removals(disk.pending()) {
            if returned {
                self.mark(m, RETURNED);
            }
        }
        for m in 0..written as MailId {
            if st.has_returned(m) {
                self.mark(m, RETURNED);
            }
        }
    }

    /// Marks the mails senders still hold, and those they gave up.
    fn mark_senders(&mut self, senders: &Senders, written: u64) {
        for m in senders.held_mails() {
            self.mark(m, HELD);
        }
        for m in 0..written as MailId {
            if senders.has_bounced(m) {
                self.mark(m, BOUNCED);
            }
        }
    }
}

impl Reconciliation {
    /// Compares this count with the ledger's, category by category; an
    /// error lists every disagreement. A disagreement means one of the two
    /// accounts is wrong: a loss the ledger missed, or a component whose
    /// state does not match what it reported.
    pub fn check(&self, ledger: &World) -> Result<(), String> {
        let census = ledger.census();
        let c = &ledger.counts;
        let pairs = [
            ("written", self.written, c.submitted),
            ("delivered", self.delivered, c.delivered),
            ("extra mailbox copies", self.extra_mailbox_copies, census.extra_mailbox_copies),
            ("in temporary stores", self.in_temp, census.in_temp),
            ("queued", self.queued, census.queued),
            ("held by senders", self.held, ledger.held_by_senders()),
            ("returned", self.returned, c.returned),
            ("bounced by senders", self.sender_bounced, c.sender_bounced),
            ("lost", self.lost, c.lost),
        ];
        let mut wrong: Vec<String> = pairs
            .iter()
            .filter(|(_, ours, theirs)| ours != theirs)
            .map(|(what, ours, theirs)| format!("{what}: {ours} in the components' final state, {theirs} in the ledger"))
            .collect();
        if self.unknown_ids > 0 {
            wrong.push(format!("{} mail ids in components beyond the {} written", self.unknown_ids, self.written));
        }
        if wrong.is_empty() {
            return Ok(());
        }
        let lost = if self.lost_ids.is_empty() { String::new() } else { format!(" (first lost mails: {:?})", self.lost_ids) };
        Err(format!("reconciliation disagrees with the ledger: {}{lost}", wrong.join("; ")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::CUSTODY;
    use crate::ops::Trigger;
    use crate::senders::Workload;
    use crate::topology::{FaultAt, FaultKind, FaultSpec, StepSpec, Topology, TopologyOptions};
    use crate::Action;
    use mailsim_sim::{Dur, Fault, Outcome, Time};

    fn step(name: &str, action: Action, trigger: Trigger) -> StepSpec {
        StepSpec::new(name, "filer", action, trigger)
    }

    /// The OpenSRS merge-back of `models/tests/invariants.rs` in miniature:
    /// a shelf goes offline at 65 min with temporary stores on from 61 min,
    /// mx-1 loses its replies from the filer for ten minutes (so some mails
    /// are both delivered and in a temporary store), the hardware is
    /// replaced at 3 h, rebuilt, and the temporary stores merged back.
    fn merge_back(seed: u64, drops_mail: bool, ledger_blind: bool) -> Sim<Msg, World> {
        let mut t = Topology::new(TopologyOptions { seed, mx: 1, mailboxes: 40, mails: 1_500 });
        t.workload = Workload { hourly_weights: [1; 24], ..Workload::total(1_500, Dur::hours(3), 40) };
        t.filer.storage.disk_bytes = 35_000_000 * 1800 / 5;
        t.filer.bug_merge_drops_mail = drops_mail;
        t.duration = Dur::days(3);
        t.liveness_window = Dur::hours(12);
        t.fault_phase = Some(Dur::hours(8));
        t.faults.push(FaultSpec { at: FaultAt::BeforeStart, kind: FaultKind::PathFault, target: "shelf-a".into() });
        t.faults.push(FaultSpec { at: Dur::mins(65).into(), kind: FaultKind::ControllerFailure, target: "shelf-a/controller-a".into() });
        t.plan.push(step("temp stores", Action::EnableTempStores, Trigger::At(Time::ZERO + Dur::mins(61))));
        t.plan.push(step("replace", Action::ReplaceHardware, Trigger::At(Time::from_hours(3))));
        t.plan.push(step("rebuild", Action::StartRebuild { parallel: false, order: Default::default() }, Trigger::After(1, Dur::mins(5))));
        t.plan.push(step("merge", Action::MergeBack, Trigger::After(2, Dur::mins(5))));
        let filer = t.node("filer").expect("a filer");
        let mx1 = t.node("mx-1").expect("mx-1");
        let mut sim = t.build();
        sim.world_mut().bug_blind_to_temp_store_loss = ledger_blind;
        sim.schedule(Time::from_hours(1), Fault::PartitionOneWay { from: filer, to: mx1 });
        sim.schedule(Time::ZERO + Dur::mins(70), Fault::HealLink(filer, mx1));
        sim
    }

    #[test]
    fn a_clean_run_through_temp_stores_and_merge_back_reconciles_with_the_ledger() {
        for seed in 1..4 {
            let mut sim = merge_back(seed, false, false);
            let report = sim.run();
            assert!(report.outcome.is_ok(), "seed {seed}: {}", report.outcome);
            let r = reconcile(&sim);
            r.check(sim.world()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            // The count is of something: every mail written, all delivered.
            assert_eq!((r.written, r.delivered, r.lost), (1_500, 1_500, 0), "seed {seed}: {r:?}");
            assert_eq!((r.queued, r.held, r.in_temp, r.returned, r.sender_bounced), (0, 0, 0, 0, 0), "seed {seed}: {r:?}");
        }
    }

    #[test]
    fn a_merge_back_dropping_mail_is_caught_by_the_ledger_at_the_temp_store() {
        for seed in 1..4 {
            let mut sim = merge_back(seed, true, false);
            let report = sim.run();
            let v = report.outcome.violation().unwrap_or_else(|| panic!("seed {seed}: {}", report.outcome));
            assert_eq!(v.property, CUSTODY, "seed {seed}: {v}");
            assert!(v.detail.contains("lost") && v.detail.contains("temporary store"), "seed {seed}: {}", v.detail);
            let c = &sim.world().counts;
            assert!(c.lost >= 1 && c.lost == c.lost_by.temp_store, "seed {seed}: {c:?}");
            // Both accounts agree on the loss the ledger caught.
            let r = reconcile(&sim);
            r.check(sim.world()).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
            assert_eq!(r.lost, c.lost, "seed {seed}");
        }
    }

    #[test]
    fn a_loss_the_ledger_misses_is_caught_by_the_reconciliation() {
        for seed in 1..4 {
            let mut sim = merge_back(seed, true, true);
            let report = sim.run();
            // The blind ledger sees nothing wrong...
            assert!(!matches!(report.outcome, Outcome::SafetyViolation(_)), "seed {seed}: {}", report.outcome);
            assert_eq!(sim.world().counts.lost, 0, "seed {seed}");
            // ...but the mails are gone, and the count at closing time says so.
            let r = reconcile(&sim);
            assert!(r.lost >= 1, "seed {seed}: {r:?}");
            let e = r.check(sim.world()).expect_err("the reconciliation disagrees with the blind ledger");
            assert!(e.contains(&format!("lost: {} in the components' final state, 0 in the ledger", r.lost)), "seed {seed}: {e}");
        }
    }

    /// Expired mail, without and with its DSN (the queue lifetime is 4 h,
    /// the lock manager broken from 10 min to 4 h 30 min).
    fn expiry(seed: u64, drop_without_dsn: bool) -> Sim<Msg, World> {
        let mut t = Topology::new(TopologyOptions { seed, mx: 2, mailboxes: 50, mails: 500 });
        t.workload = Workload { hourly_weights: [1; 24], ..Workload::total(500, Dur::hours(1), 50) };
        t.duration = Dur::days(3);
        t.liveness_window = Dur::hours(12);
        t.mta.retry.lifetime_s = 4 * 3600;
        t.mta.drop_expired_without_dsn = drop_without_dsn;
        t.fault_phase = Some(Dur::hours(6));
        t.faults.push(FaultSpec { at: Dur::mins(10).into(), kind: FaultKind::LockBroken, target: "filer".into() });
        t.plan.push(step("rollback", Action::RollbackUpgrade, Trigger::At(Time::ZERO + Dur::mins(270))));
        t.build()
    }

    #[test]
    fn returned_mail_is_found_in_the_mtas_own_records() {
        let mut sim = expiry(1, false);
        assert!(sim.run().outcome.is_ok());
        let r = reconcile(&sim);
        r.check(sim.world()).expect("reconciles");
        assert!(r.returned > 0 && r.delivered > 0 && r.returned + r.delivered == r.written, "{r:?}");
        // A queue dropping expired mail is caught by the ledger, and the
        // count agrees: the mail is nowhere.
        let mut sim = expiry(1, true);
        let report = sim.run();
        assert!(matches!(report.outcome, Outcome::SafetyViolation(_)), "{}", report.outcome);
        let r = reconcile(&sim);
        r.check(sim.world()).expect("both accounts see the loss");
        // The run goes on after the first loss: every expired mail is lost.
        let c = &sim.world().counts;
        assert!(r.lost > 1, "{r:?}");
        assert_eq!((r.lost, c.lost_by.queue), (c.lost, c.lost), "{r:?}");
    }
}
