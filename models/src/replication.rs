//! Replication of the mailstore to a second copy at another site, and what a
//! failover to that copy keeps, loses, or splits.
//!
//! What design reviews ask of it: "we replicate the mail volumes to the DR
//! site" — synchronously or asynchronously, with some lag — so which mail
//! survives when the primary site is lost and the operators fail over, and
//! what happens when the link between the sites breaks and both sides go on
//! taking mail (split brain).
//!
//! The model (pure state, kept in the file server's durable state; the
//! filer in `filer.rs` asks it where a write may go and tells it what was
//! written):
//! - Two copies: the **source** site (the primary, `source`, default
//!   `primary`) and the **target** site (the replica, `target`). Each
//!   site can fail (`site-failure`, repaired by `replace-hardware`); the
//!   link between them can be cut (`replica-partition`, for a duration, or
//!   until `heal` or the liveness phase heals the network).
//! - **Synchronous** (`mode = "sync"`): a write is acknowledged only once
//!   the replica has it, so the ack waits one inter-site round trip
//!   (`lag`). A failover loses nothing acknowledged. With the replica
//!   unreachable, `on_link_loss = "continue"` (the default) lets the primary
//!   go on alone, out of sync, as NetApp SnapMirror's `Sync` policy and DRBD
//!   protocol C do; `"stop"` refuses writes (4xx: the MTAs keep the mail),
//!   as SnapMirror's `StrictSync` policy does ("the client application
//!   I/O fails if the secondary is unreachable").
//! - **Asynchronous** (`mode = "async"`): a write is acknowledged once the
//!   primary has it; it reaches the replica at the next scheduled update
//!   (`every`; zero: streamed continuously, DRBD protocol A) plus the
//!   transfer time (`lag`). While the copies cannot talk, writes wait; when
//!   they can again, the waiting writes go at the next update.
//! - **Failover** (the `failover` step): the replica becomes the primary
//!   and serves every mailbox. Whatever the old primary holds that has not
//!   reached the replica is lost *at that moment*, and the ledger records
//!   each mail as lost (`ledger::replica_lost`): the checker never hides
//!   it. Replication stops (failback and resync are not modelled). The old
//!   primary is demoted if the failover can reach it (link up); a site that
//!   is down and comes back later comes back demoted.
//! - **Split brain**: a failover while the link is cut and the old primary
//!   is still up leaves two primaries. Writers reach the primary of their
//!   own site (`target_writers` lists the mail nodes at the target site;
//!   every other writer is at the source site), or the other site's
//!   primary over the link. When both primaries have accepted writes, the
//!   ledger reports a violation of *no split brain*, the same property the
//!   cluster checker and `explore` use. Which side's writes a resolution
//!   would throw away is not modelled: both sides' mail stays counted in
//!   its mailbox (as a manual merge would keep it); the split brain itself
//!   is the reported harm.
//! - A write refused because no primary is reachable is answered like an
//!   offline volume (`StoreError::Offline`): the MTA keeps the mail and
//!   retries. Temporary stores are not replicated and are kept across a
//!   failover (they live outside the replicated volumes).
//!
//! Defaults and their sources:
//! - Mode `async`, `every` 1 h: ONTAP's predefined job schedules include
//!   `5min` and `hourly`, and an asynchronous SnapMirror relationship is
//!   updated on the schedule it is given (NetApp, "Create an ONTAP
//!   SnapMirror replication job schedule",
//!   <https://docs.netapp.com/us-en/ontap/data-protection/create-replication-job-schedule-task.html>);
//!   hourly is an assumption for "a schedule", not a vendor default.
//! - Async `lag` (the transfer time of an update) 1 min: an assumption.
//! - Sync `lag` (the inter-site round trip an ack waits for) 2 ms: an
//!   assumption for a metro distance; SnapMirror Synchronous is supported
//!   up to 10 ms round trip.
//! - The sync policies: NetApp, "snapmirror policy create" (the `Sync` and
//!   `StrictSync` policies),
//!   <https://docs.netapp.com/us-en/ontap-cli/snapmirror-policy-create.html>.
//! - DRBD protocols A (a write completes "as soon as the local disk write
//!   has finished, and the replication packet has been placed in the local
//!   TCP send buffer": a forced failover can lose data) and C (completes
//!   when both disks confirm it), and split brain ("both nodes switched to
//!   the primary role while disconnected"): LINBIT, "DRBD 9.0 User's
//!   Guide", <https://linbit.com/drbd-user-guide/drbd-guide-9_0-en/>.

use std::collections::VecDeque;

use mailsim_sim::{Dur, NodeId, Time};

use crate::msg::{MailId, MailboxId};

/// Synchronous or asynchronous replication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReplicationMode {
    /// A write is acknowledged once both copies have it.
    Sync,
    /// A write is acknowledged once the primary has it; the replica gets it
    /// at the next update.
    Async,
}

impl ReplicationMode {
    /// The mode as a scenario names it.
    pub fn name(self) -> &'static str {
        match self {
            ReplicationMode::Sync => "sync",
            ReplicationMode::Async => "async",
        }
    }
    /// The names a scenario may give.
    pub const NAMES: &'static [&'static str] = &["sync", "async"];
    /// The mode a scenario names.
    pub fn from_name(name: &str) -> Option<ReplicationMode> {
        match name {
            "sync" => Some(ReplicationMode::Sync),
            "async" => Some(ReplicationMode::Async),
            _ => None,
        }
    }
}

/// What a synchronous primary does while its replica cannot be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LinkLoss {
    /// Go on alone, out of sync (SnapMirror `Sync`, DRBD protocol C).
    Continue,
    /// Refuse writes (SnapMirror `StrictSync`).
    Stop,
}

impl LinkLoss {
    /// The names a scenario may give.
    pub const NAMES: &'static [&'static str] = &["continue", "stop"];
    /// The policy a scenario names.
    pub fn from_name(name: &str) -> Option<LinkLoss> {
        match name {
            "continue" => Some(LinkLoss::Continue),
            "stop" => Some(LinkLoss::Stop),
            _ => None,
        }
    }
}

/// The source site's index.
pub const SOURCE: usize = 0;
/// The target (replica) site's index.
pub const TARGET: usize = 1;

/// How the mailstore is replicated.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicationConfig {
    /// The primary site's name. Default `primary`.
    pub source: String,
    /// The replica's site name (a fault or step names it).
    pub target: String,
    /// Sync or async. Default async.
    pub mode: ReplicationMode,
    /// Async: an update every this long (from T+0); zero streams each write
    /// at once. Default 1 h.
    pub every: Dur,
    /// Async: an update's transfer time; sync: the round trip a write's ack
    /// waits for. Defaults 1 min and 2 ms (module doc).
    pub lag: Dur,
    /// Sync: what the primary does while the replica is unreachable.
    /// Default `Continue`.
    pub on_link_loss: LinkLoss,
    /// The mail nodes at the target site (the rest are at the source site).
    pub target_writers: Vec<NodeId>,
    /// The link between the copies heals at this instant (the liveness
    /// phase's heal), if set.
    pub heal_at: Option<Time>,
    /// Planted bug: a failover drops the unreplicated tail without telling
    /// the ledger (the reconciliation must catch it).
    pub bug_failover_hides_loss: bool,
}

impl ReplicationConfig {
    /// A replica at site `target` in `mode`, with that mode's defaults.
    pub fn new(target: &str, mode: ReplicationMode) -> ReplicationConfig {
        let lag = match mode {
            ReplicationMode::Sync => Dur::millis(2),
            ReplicationMode::Async => Dur::mins(1),
        };
        ReplicationConfig {
            source: "primary".to_string(),
            target: target.to_string(),
            mode,
            every: Dur::hours(1),
            lag,
            on_link_loss: LinkLoss::Continue,
            target_writers: Vec::new(),
            heal_at: None,
            bug_failover_hides_loss: false,
        }
    }

    /// Checks the configuration; an error names the field.
    pub fn validate(&self) -> Result<(), String> {
        if self.target.is_empty() || self.source.is_empty() {
            return Err("replication: the sites need names (`source`, `target`)".to_string());
        }
        if self.target == self.source {
            return Err(format!("replication: source and target are both `{}`", self.target));
        }
        Ok(())
    }

    /// A site's index by name.
    pub fn site(&self, name: &str) -> Option<usize> {
        if name == self.source {
            Some(SOURCE)
        } else if name == self.target {
            Some(TARGET)
        } else {
            None
        }
    }

    /// The site's name.
    pub fn site_name(&self, site: usize) -> &str {
        if site == SOURCE {
            &self.source
        } else {
            &self.target
        }
    }

    /// When a write made at `at`, with the copies connected, is on the
    /// replica.
    pub fn replicated_at(&self, at: Time) -> Time {
        match self.mode {
            ReplicationMode::Sync => at,
            ReplicationMode::Async => {
                let every = self.every.as_micros();
                let update = if every == 0 { at } else { Time::ZERO + Dur(at.as_micros().div_ceil(every).saturating_mul(every)) };
                update + self.lag
            }
        }
    }
}

/// Where a write from a mail node goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// To the copy at `site`.
    To(usize),
    /// Nowhere: no primary is reachable (or a strict sync primary refuses).
    Refused,
}

/// The replication's state: which copies are up, primary and serving,
/// whether they can talk, and what the replica lacks.
#[derive(Clone, Debug, PartialEq)]
pub struct ReplicaState {
    /// The copy that serves readers (the primary until a failover).
    pub active: usize,
    /// Which copies accept writes.
    pub primary: [bool; 2],
    /// Which sites are up.
    pub up: [bool; 2],
    /// Whether the link between the sites carries replication.
    pub link_up: bool,
    /// Replication runs (until a failover).
    pub replicating: bool,
    /// Per copy: it accepted a write while both were primaries.
    pub dual_writes: [bool; 2],
    /// Writes on the primary that the replica lacks, oldest first, with when
    /// they reach it (`None`: waiting for the copies to reconnect).
    pub behind: VecDeque<(Option<Time>, MailboxId, MailId)>,
}

impl Default for ReplicaState {
    fn default() -> Self {
        ReplicaState {
            active: SOURCE,
            primary: [true, false],
            up: [true, true],
            link_up: true,
            replicating: true,
            dual_writes: [false, false],
            behind: VecDeque::new(),
        }
    }
}

impl ReplicaState {
    /// Replication flows now: both sites up, the link up, not failed over.
    pub fn flowing(&self) -> bool {
        self.replicating && self.link_up && self.up[SOURCE] && self.up[TARGET]
    }

    /// Where a write from `writer` goes now.
    pub fn route(&self, cfg: &ReplicationConfig, writer: NodeId) -> Route {
        let home = if cfg.target_writers.contains(&writer) { TARGET } else { SOURCE };
        let other = 1 - home;
        let site = if self.primary[home] && self.up[home] {
            home
        } else if self.primary[other] && self.up[other] && self.link_up {
            other
        } else {
            return Route::Refused;
        };
        let strict = cfg.mode == ReplicationMode::Sync && cfg.on_link_loss == LinkLoss::Stop;
        if strict && self.replicating && !self.flowing() {
            return Route::Refused;
        }
        Route::To(site)
    }

    /// Whether the copy that serves readers is up.
    pub fn serving(&self) -> bool {
        self.up[self.active]
    }

    /// Records a write of `mail` at copy `site` at `now`: what the replica
    /// now lacks (`Some(when it gets it)`, `None` inside: waiting for the
    /// copies to reconnect; outside `None`: nothing, it has it at once), and
    /// whether this write made both primaries written (a split brain,
    /// reported once).
    pub fn written(
        &mut self,
        cfg: &ReplicationConfig,
        site: usize,
        now: Time,
        mailbox: MailboxId,
        mail: MailId,
    ) -> (Option<Option<Time>>, bool) {
        self.prune(now);
        let mut behind = None;
        if self.replicating {
            let at = self.flowing().then(|| cfg.replicated_at(now));
            if at != Some(now) {
                self.behind.push_back((at, mailbox, mail));
                behind = Some(at);
            }
        }
        let mut split = false;
        if self.primary[SOURCE] && self.primary[TARGET] && !self.dual_writes[site] {
            self.dual_writes[site] = true;
            split = self.dual_writes[1 - site];
        }
        (behind, split)
    }

    /// Drops the writes the replica has by `now`.
    pub fn prune(&mut self, now: Time) {
        while self.behind.front().is_some_and(|(at, _, _)| at.is_some_and(|t| t <= now)) {
            self.behind.pop_front();
        }
    }

    /// The copies can talk again at `now` (a link heal or a site repair):
    /// the waiting writes go at the next update.
    pub fn reconnected(&mut self, cfg: &ReplicationConfig, now: Time) {
        if !self.flowing() {
            return;
        }
        let at = cfg.replicated_at(now);
        for e in self.behind.iter_mut().filter(|e| e.0.is_none()) {
            e.0 = Some(at);
        }
    }

    /// The copies stop talking at `now`: writes not yet on the replica wait.
    pub fn disconnected(&mut self, now: Time) {
        self.prune(now);
        for e in &mut self.behind {
            if e.0.is_some_and(|t| t > now) {
                e.0 = None;
            }
        }
    }

    /// Fails over to the replica at `now`: it becomes the primary and
    /// serves. Returns the writes it lacks (lost), or why it cannot.
    pub fn failover(&mut self, cfg: &ReplicationConfig, now: Time) -> Result<Vec<(MailboxId, MailId)>, String> {
        if self.active == TARGET {
            return Ok(Vec::new());
        }
        if !self.up[TARGET] {
            return Err(format!("cannot fail over: the replica's site `{}` is down", cfg.target));
        }
        self.prune(now);
        let lost = self.behind.drain(..).map(|(_, mb, m)| (mb, m)).collect();
        self.active = TARGET;
        self.primary[TARGET] = true;
        // The failover demotes the old primary if it can reach it; one that
        // is down comes back demoted.
        if self.link_up || !self.up[SOURCE] {
            self.primary[SOURCE] = false;
        }
        self.replicating = false;
        Ok(lost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn async_cfg(every: Dur, lag: Dur) -> ReplicationConfig {
        let mut c = ReplicationConfig::new("dr", ReplicationMode::Async);
        c.every = every;
        c.lag = lag;
        c
    }

    #[test]
    fn an_async_write_reaches_the_replica_at_the_next_update_plus_the_transfer() {
        let c = async_cfg(Dur::hours(1), Dur::mins(1));
        assert_eq!(c.replicated_at(Time::from_hours(1)), Time::from_hours(1) + Dur::mins(1));
        assert_eq!(c.replicated_at(Time::from_hours(1) + Dur::secs(1)), Time::from_hours(2) + Dur::mins(1));
        let streamed = async_cfg(Dur::ZERO, Dur::secs(5));
        assert_eq!(streamed.replicated_at(Time::from_hours(3)), Time::from_hours(3) + Dur::secs(5));
        let sync = ReplicationConfig::new("dr", ReplicationMode::Sync);
        assert_eq!(sync.replicated_at(Time::from_hours(3)), Time::from_hours(3));
    }

    #[test]
    fn a_failover_loses_exactly_the_writes_the_replica_lacks() {
        let c = async_cfg(Dur::hours(1), Dur::mins(1));
        let mut s = ReplicaState::default();
        // Written at 0:30 (on the replica at 1:01), 1:00:30 and 1:30 (at 2:01).
        s.written(&c, SOURCE, Time::ZERO + Dur::mins(30), 1, 10);
        s.written(&c, SOURCE, Time::from_hours(1) + Dur::secs(30), 2, 11);
        s.written(&c, SOURCE, Time::ZERO + Dur::mins(90), 3, 12);
        let lost = s.failover(&c, Time::from_hours(1) + Dur::mins(2)).unwrap();
        assert_eq!(lost, vec![(2, 11), (3, 12)]);
        assert_eq!((s.active, s.primary, s.replicating), (TARGET, [false, true], false));
    }

    #[test]
    fn a_sync_failover_loses_nothing_unless_the_link_was_down() {
        let c = ReplicationConfig::new("dr", ReplicationMode::Sync);
        let mut s = ReplicaState::default();
        s.written(&c, SOURCE, Time::from_hours(1), 1, 10);
        assert!(s.behind.is_empty());
        s.link_up = false;
        s.disconnected(Time::from_hours(2));
        s.written(&c, SOURCE, Time::from_hours(3), 1, 11);
        assert_eq!(s.clone().failover(&c, Time::from_hours(4)).unwrap(), vec![(1, 11)]);
        // Reconnected before the failover: resynced, nothing lost.
        s.link_up = true;
        s.reconnected(&c, Time::from_hours(3) + Dur::mins(1));
        assert_eq!(s.failover(&c, Time::from_hours(4)).unwrap(), vec![]);
    }

    #[test]
    fn strict_sync_refuses_writes_while_the_replica_is_unreachable() {
        let mut c = ReplicationConfig::new("dr", ReplicationMode::Sync);
        let s = ReplicaState { link_up: false, ..ReplicaState::default() };
        assert_eq!(s.route(&c, NodeId(1)), Route::To(SOURCE));
        c.on_link_loss = LinkLoss::Stop;
        assert_eq!(s.route(&c, NodeId(1)), Route::Refused);
    }

    #[test]
    fn a_failover_across_a_cut_link_leaves_two_primaries_and_both_written_is_a_split_brain() {
        let mut c = async_cfg(Dur::ZERO, Dur::secs(1));
        c.target_writers = vec![NodeId(2)];
        let mut s = ReplicaState { link_up: false, ..ReplicaState::default() };
        s.disconnected(Time::from_hours(1));
        // Before the failover the target site's writer cannot reach a primary.
        assert_eq!(s.route(&c, NodeId(2)), Route::Refused);
        s.failover(&c, Time::from_hours(2)).unwrap();
        assert_eq!(s.primary, [true, true], "the old primary could not be demoted");
        assert_eq!((s.route(&c, NodeId(1)), s.route(&c, NodeId(2))), (Route::To(SOURCE), Route::To(TARGET)));
        assert!(!s.written(&c, SOURCE, Time::from_hours(3), 1, 10).1, "one side written is not yet a split brain");
        assert!(!s.written(&c, SOURCE, Time::from_hours(3), 1, 11).1);
        assert!(s.written(&c, TARGET, Time::from_hours(3), 2, 12).1, "both sides written");
        assert!(!s.written(&c, TARGET, Time::from_hours(4), 2, 13).1, "reported once");
    }

    #[test]
    fn a_failover_with_the_link_up_demotes_the_old_primary_so_no_split_brain() {
        let mut c = async_cfg(Dur::ZERO, Dur::secs(1));
        c.target_writers = vec![NodeId(2)];
        let mut s = ReplicaState::default();
        s.failover(&c, Time::from_hours(2)).unwrap();
        assert_eq!(s.primary, [false, true]);
        assert_eq!(s.route(&c, NodeId(1)), Route::To(TARGET), "the source site's writer goes over the link");
        assert!(!s.written(&c, TARGET, Time::from_hours(3), 1, 10).1);
    }
}
