//! The NFS file server holding the mailstore: mailboxes spread over volumes on
//! the storage of `storage.rs`, a lock manager (NLM), temporary stores,
//! merge-back and migration. One kernel node.
//!
//! What the outages need from it:
//! - **ECCS, University of Tokyo, 2018**: after an OS upgrade of the shared
//!   file server the NFS lock function stopped working. Every delivery needs
//!   the mailbox lock, so every delivery failed temporarily for ~32 h, until
//!   the fix (`LockBroken`, then `Action::RollbackUpgrade`). A failed lock is
//!   answered `Err(StoreError::Lock)` after `lock_fail_delay`: Postfix's
//!   local(8) tries `deliver_lock_attempts` = 20 times `deliver_lock_delay` =
//!   1 s apart before it gives up with EX_TEMPFAIL (sysexits 75), so the MTA
//!   learns of the failure ~20 s after it asked (Dovecot's ~5 min lock timeout
//!   applies to mailbox readers and dotlocks, not to this retry loop).
//!   A restarted lock manager refuses locks for its grace period (45–90 s,
//!   NLM docs).
//! - **OpenSRS, 2008**: a latent redundancy fault plus a shelf controller
//!   failure took the volumes behind that shelf offline; mailboxes were
//!   spread *randomly* over volumes, so ~50% of them were offline. Delivery
//!   to an offline volume fails temporarily (`Err(Offline)`: mail stays queued
//!   at the MTAs) unless *temporary stores* are enabled, which take new mail
//!   and give users webmail-only access to it; POP/IMAP logins are denied.
//!   After restoration the temporary stores are merged back into the
//!   mailboxes, deduplicated by mail id ("no mail or data was lost").
//! - **Norwegian host, 2018**: storage throughput fell by 90% (`Degrade`,
//!   ×10 latency); data was migrated to new storage in night-time steps and
//!   POP users downloaded mail again because identifiers changed
//!   (`Migrate { keep_uidls: false }` bumps the UIDL epoch, RFC 1939 §7).
//! - **Hard mounts** (`Hang`): a server that stops answering stalls its NFS
//!   clients; with `hard` mounts they retry forever (mount defaults: timeo=600,
//!   retrans=6, ~21 min to "not responding"). Requests received during a hang
//!   are served when it ends; no reply leaves before then.
//!
//! Service: an append's reply leaves after the storage's service time times
//! the volume's latency multiplier, behind a fluid queue that caps appends at
//! `appends_per_s_max` (scaled by the same multiplier, so a ×10 slowdown is a
//! 90% throughput loss). The append is made durable (`Disk::write`) before the
//! ledger hears of it; appends are idempotent per mail id (a redelivery after
//! a lost reply is answered Ok without a second copy). With `locked: true`
//! the filer serializes writers per mailbox (fcntl locks over NLM); an
//! unlocked writer (a buggy delivery agent) writes alongside, and two nodes
//! writing one mailbox at once is reported by the ledger as split brain.
//!
//! Runbook steps check their preconditions here and in `storage.rs`, and a
//! step that cannot act is answered `Ops::StepFailed` with the reason instead
//! of `StepDone`:
//! - `StartRebuild` fails, starting nothing, while a group that needs a
//!   rebuild is behind a shelf without a working path or a group is
//!   destroyed; once started it fails if a rebuild it waits for stops
//!   without completing (a latent sector error beyond the parity, the shelf
//!   losing its paths again). A rebuild step is answered when no rebuild is
//!   queued any more.
//! - `Migrate` moves the volumes it names, or by default the affected ones
//!   (offline, slowed down, or without redundancy when the command arrives);
//!   it fails, moving nothing, if one of them cannot be read (its shelf has
//!   no working path or its RAID group is destroyed), and later if a source
//!   becomes unreadable before its batch is copied. A degraded but readable
//!   volume moves at the speed its storage allows. The Norwegian replay
//!   moves all six volumes: its slowdown is storage-wide.
//! - `MergeBack` fails, merging nothing, while a temporary store's volume is
//!   offline (the mail has nowhere to go); once started it fails if a
//!   mailbox's volume goes offline or its RAID group is destroyed before its
//!   merge is written.
//! - **HA pair** (`heads.rs`): a head failure (`HeadFail`) takes the
//!   volumes of the RAID groups that head owns offline until its partner
//!   has taken them over (detection + takeover), or, when the takeover
//!   fails or hangs, until `ReplaceHardware` repairs the head or (a hung
//!   one) `PowerCycle` power-cycles the shelves. `Giveback` returns
//!   taken-over volumes to their repaired head (a short outage of those
//!   volumes), and fails while that head is still down; `PowerCycle`
//!   takes every volume offline for the power cycle.
//! - `ReplaceHardware` (which also repairs failed heads), `FixRedundancy`,
//!   `EnableTempStores`, `PowerCycle` and `RollbackUpgrade` can always act; with nothing to replace, repair or roll
//!   back they are done at once. Actions that are not the file server's
//!   (`ResetCluster`, `PowerOn`, `FlushQueue`) fail: the step was sent to the
//!   wrong component.
//!
//! Durable state (`Mailstore`): placement, mailbox contents, temporary stores,
//! UIDL epochs and a snapshot of the control state (storage hardware, lock
//! manager upgrade state, temp-store switch), so a restarted filer comes back
//! with its hardware as broken as it was. Rebuilds pause while the filer is
//! down and resume from the last snapshot.

use std::collections::{BTreeMap, VecDeque};

use mailsim_sim::{Ctx, Disk, Dur, Durable, FaultId, Input, Node, NodeConfig, NodeId, Sim, Stream, Time, TimerId, MICROS_PER_S};

use crate::backup::{BackupKind, BackupSet};
use crate::ledger;
use crate::marks::{self, Mark};
use crate::msg::{AccessInfo, Action, Envelope, MailId, MailboxId, ModelFault, Msg, Ops, Proto, StepId, Store, StoreError};
use crate::replication::{ReplicaState, ReplicationConfig, ReplicationMode, Route};
use crate::storage::{Events, Storage, StorageConfig};
use crate::timer::{SetTimer, StoreTimer, Timer};
use crate::World;

/// How mailboxes are spread over volumes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// Uniformly at random (OpenSRS: "mailboxes are spread randomly").
    Random,
    /// Mailbox `m` on volume `m % volumes`.
    RoundRobin,
}

/// The file server and its mailstore.
#[derive(Clone, Debug, PartialEq)]
pub struct FilerConfig {
    /// Mailboxes in the mailstore (ids `0..mailboxes`). Default 1000.
    pub mailboxes: u32,
    /// Default random, as at OpenSRS.
    pub placement: Placement,
    /// The storage behind the mailstore: shelves, RAID groups, volumes.
    pub storage: StorageConfig,
    /// Service time of one mailbox operation at normal speed. Default 6 ms
    /// (NetApp field report: 6 ms read latency at ~4k IOPS).
    pub service_time: Dur,
    /// Appends the filer serves per second at normal speed. Default 100, an
    /// assumption: a delivery costs ~20 NFS operations (lookup, lock, create,
    /// write, commit, rename, unlock) and the mail share of a filer shared
    /// with other services is ~2,000 operations/s.
    pub appends_per_s_max: u32,
    /// When the lock manager refuses a lock, the delivery agent reports the
    /// failure after this. Default 20 s: Postfix local(8)
    /// deliver_lock_attempts = 20 × deliver_lock_delay = 1 s.
    pub lock_fail_delay: Dur,
    /// Grace period of a restarted lock manager: locks fail meanwhile.
    /// Default 45–90 s (NLM docs).
    pub lock_grace_min: Dur,
    /// The longest grace period (drawn uniformly from min..=max).
    pub lock_grace_max: Dur,
    /// A restarted (or rolled-back) filer's lock manager starts in grace.
    pub grace_on_restart: bool,
    /// Merge-back skips mails already in the mailbox. False is a planted bug:
    /// a mail both delivered and in a temporary store becomes a duplicate.
    pub merge_dedup: bool,
    /// Planted bug: a merge-back leaves one mail of each temporary store out
    /// of the mailbox, yet empties the temporary store: that mail is lost.
    pub bug_merge_drops_mail: bool,
    /// Backup sets and snapshots of the mailstore (`backup.rs`). Default
    /// none: a damaged mailbox's mail is then lost at once.
    pub backups: Vec<BackupSet>,
    /// The data a restore moves per mailbox, in MB. Default 1024: an
    /// assumption (the simulated mailboxes hold only the run's mail; a real
    /// one holds years of it, and hosted quotas run from 1 to 50 GB).
    pub mailbox_mb: u32,
    /// Planted bug: mail that no usable backup holds is dropped from its
    /// damaged mailbox without telling the ledger, which goes on counting
    /// it delivered (the reconciliation must catch it).
    pub bug_restore_hides_loss: bool,
    /// The mailstore's replica at a second site (`replication.rs`); `None`
    /// (the default): no replica.
    pub replication: Option<ReplicationConfig>,
}

impl FilerConfig {
    /// The defaults, with `mailboxes` mailboxes.
    pub fn new(mailboxes: u32) -> FilerConfig {
        FilerConfig { mailboxes, ..FilerConfig::default() }
    }

    /// Checks the configuration; an error names the field.
    pub fn validate(&self) -> Result<(), String> {
        self.storage.validate()?;
        if self.appends_per_s_max == 0 {
            return Err("filer.appends_per_s_max must be positive".to_string());
        }
        if self.lock_grace_min > self.lock_grace_max {
            return Err(format!("filer.lock_grace_min {} exceeds lock_grace_max {}", self.lock_grace_min, self.lock_grace_max));
        }
        for (i, b) in self.backups.iter().enumerate() {
            b.validate()?;
            if self.backups[..i].iter().any(|o| o.name == b.name) {
                return Err(format!("two backup sets are named `{}`", b.name));
            }
        }
        if let Some(r) = &self.replication {
            r.validate()?;
        }
        Ok(())
    }
}

impl Default for FilerConfig {
    fn default() -> Self {
        FilerConfig {
            mailboxes: 1000,
            placement: Placement::Random,
            storage: StorageConfig::default(),
            service_time: Dur::millis(6),
            appends_per_s_max: 100,
            lock_fail_delay: Dur::secs(20),
            lock_grace_min: Dur::secs(45),
            lock_grace_max: Dur::secs(90),
            grace_on_restart: true,
            merge_dedup: true,
            bug_merge_drops_mail: false,
            backups: Vec::new(),
            mailbox_mb: 1024,
            bug_restore_hides_loss: false,
            replication: None,
        }
    }
}

/// Control state of the filer that outlives a crash: the storage hardware,
/// the lock manager's upgrade state, and operator switches.
#[derive(Clone, Debug, PartialEq)]
pub struct Control {
    /// The storage hardware, its faults, rebuilds and migration.
    pub storage: Storage,
    /// The lock manager is broken (the ECCS upgrade) until rolled back.
    pub lock_broken: bool,
    /// New mail for offline volumes goes to temporary stores.
    pub temp_enabled: bool,
    /// The running migration keeps UIDLs.
    pub keep_uidls: bool,
}

/// The filer's durable state.
#[derive(Clone, Debug)]
pub struct Mailstore {
    placement: Vec<u16>,
    boxes: Vec<Vec<MailId>>,
    /// One bit per mail id: in its mailbox (a mail has one recipient). The
    /// append's idempotency test in O(1) instead of a scan of the mailbox,
    /// which for a popular recipient holds thousands of mails.
    stored: Vec<u64>,
    temp: BTreeMap<MailboxId, Vec<MailId>>,
    volume_epoch: Vec<u32>,
    control: Control,
    /// Per mailbox: its data is damaged (corrupted or deleted) until it is
    /// restored or recreated.
    damaged: Vec<bool>,
    /// Per mailbox: restores and recreations that changed its identifiers.
    box_epoch: Vec<u32>,
    /// Per backup set of `FilerConfig::backups`: its copies.
    backups: Vec<Copies>,
    /// The replication's state (`replication.rs`; unused without a replica).
    repl: ReplicaState,
}

/// A backup set's copies, oldest first.
#[derive(Clone, Debug)]
pub struct Copies {
    kind: BackupKind,
    retention: u32,
    /// Every copy, those taken and those to come, is unusable.
    broken: bool,
    copies: VecDeque<Copy>,
}

/// One copy of every mailbox.
#[derive(Clone, Debug)]
struct Copy {
    at: Time,
    /// Per mailbox, its mails, or `None` if the copy of it is unusable (the
    /// mailbox was damaged when the copy was taken, or the snapshot died
    /// with its volume).
    boxes: Vec<Option<Vec<MailId>>>,
}

impl Copies {
    /// The newest usable copy of mailbox `mb`: when it was taken and the
    /// mails it holds.
    fn newest(&self, mb: MailboxId) -> Option<(Time, &[MailId])> {
        if self.broken {
            return None;
        }
        self.copies.iter().rev().find_map(|c| c.boxes[mb as usize].as_deref().map(|v| (c.at, v)))
    }
    /// Whether some usable copy holds mail `m` of mailbox `mb`.
    fn holds(&self, mb: MailboxId, m: MailId) -> bool {
        !self.broken && self.copies.iter().any(|c| c.boxes[mb as usize].as_ref().is_some_and(|v| v.contains(&m)))
    }
}

impl Mailstore {
    /// An empty mailstore; placement drawn from the run seed (stream
    /// "filer/placement"), so it is fixed by config and seed.
    pub fn new(cfg: &FilerConfig, seed: u64) -> Mailstore {
        if let Err(e) = cfg.validate() {
            panic!("invalid filer configuration: {e}");
        }
        let volumes = cfg.storage.volumes;
        let storage = Storage::with_seed(cfg.storage.clone(), seed);
        let mut rng = Stream::new(seed, "filer/placement");
        let placement = (0..cfg.mailboxes)
            .map(|m| match cfg.placement {
                Placement::Random => rng.below(volumes as u64) as u16,
                Placement::RoundRobin => (m % volumes) as u16,
            })
            .collect();
        Mailstore {
            placement,
            boxes: vec![Vec::new(); cfg.mailboxes as usize],
            stored: Vec::new(),
            temp: BTreeMap::new(),
            volume_epoch: vec![0; volumes as usize],
            control: Control { storage, lock_broken: false, temp_enabled: false, keep_uidls: true },
            damaged: vec![false; cfg.mailboxes as usize],
            box_epoch: vec![0; cfg.mailboxes as usize],
            backups: cfg
                .backups
                .iter()
                .map(|b| {
                    let empty = Copy { at: Time::ZERO, boxes: vec![Some(Vec::new()); cfg.mailboxes as usize] };
                    Copies {
                        kind: b.kind,
                        retention: b.retention,
                        broken: false,
                        copies: if b.initial_copy { VecDeque::from([empty]) } else { VecDeque::new() },
                    }
                })
                .collect(),
            repl: ReplicaState::default(),
        }
    }
    /// The replication's state as last written (`replication.rs`).
    pub fn replica(&self) -> &ReplicaState {
        &self.repl
    }
    /// Whether mailbox `mb`'s data is damaged (not yet restored or
    /// recreated).
    pub fn damaged(&self, mb: MailboxId) -> bool {
        self.damaged[mb as usize]
    }
    /// Backup set `set`'s copies: when each was taken, oldest first.
    pub fn copy_times(&self, set: u32) -> Vec<Time> {
        self.backups[set as usize].copies.iter().map(|c| c.at).collect()
    }
    /// The newest usable copy of mailbox `mb` in backup set `set`: when it
    /// was taken and what it holds.
    pub fn newest_copy(&self, set: u32, mb: MailboxId) -> Option<(Time, &[MailId])> {
        self.backups[set as usize].newest(mb)
    }
    /// The number of mailboxes.
    pub fn mailboxes(&self) -> u32 {
        self.boxes.len() as u32
    }
    /// The volume a mailbox is placed on (fixed for the run).
    pub fn volume_of(&self, mb: MailboxId) -> u32 {
        self.placement[mb as usize] as u32
    }
    /// The mails durably in a mailbox.
    pub fn mailbox(&self, mb: MailboxId) -> &[MailId] {
        &self.boxes[mb as usize]
    }
    /// Whether mail `id` is durably in its mailbox.
    pub fn holds(&self, id: MailId) -> bool {
        self.stored.get(id as usize / 64).is_some_and(|w| w >> (id % 64) & 1 == 1)
    }

    fn mark(&mut self, id: MailId, on: bool) {
        let (w, b) = (id as usize / 64, id % 64);
        if w >= self.stored.len() {
            if !on {
                return;
            }
            self.stored.resize((w + 1).max(self.stored.len() * 2), 0);
        }
        if on {
            self.stored[w] |= 1 << b;
        } else {
            self.stored[w] &= !(1 << b);
        }
    }

    /// The mails durably in a mailbox's temporary store.
    pub fn temp(&self, mb: MailboxId) -> &[MailId] {
        self.temp.get(&mb).map_or(&[], |v| v.as_slice())
    }
    /// Mailboxes with a non-empty temporary store.
    pub fn temp_mailboxes(&self) -> impl Iterator<Item = MailboxId> + '_ {
        self.temp.iter().filter(|(_, v)| !v.is_empty()).map(|(k, _)| *k)
    }
    /// The mailbox's UIDL epoch: its volume's count of migrations that did
    /// not keep UIDLs, plus its own restores and recreations that did not
    /// (0 at start).
    pub fn uidl_epoch(&self, mb: MailboxId) -> u32 {
        self.volume_epoch[self.volume_of(mb) as usize] + self.box_epoch[mb as usize]
    }
    /// The control state as last written.
    pub fn control(&self) -> &Control {
        &self.control
    }
}

/// A durable write of the filer.
#[derive(Clone, Debug)]
pub enum Op {
    /// Stores a mail in its mailbox.
    Append {
        /// The recipient's mailbox.
        mailbox: MailboxId,
        /// The mail stored.
        mail: MailId,
        /// With a replica: the write's time and what the replica lacks
        /// (`ReplicaState::written`); `None`: nothing.
        replica: Option<(Time, Option<Time>)>,
    },
    /// Stores a mail in its mailbox's temporary store (the mailbox's volume
    /// is offline and temporary stores are enabled).
    Temp {
        /// The recipient's mailbox.
        mailbox: MailboxId,
        /// The mail stored.
        mail: MailId,
    },
    /// Adds `add` to the mailbox and removes `remove` from its temp store.
    Merge {
        /// The mailbox merged into.
        mailbox: MailboxId,
        /// Mails appended to the mailbox.
        add: Vec<MailId>,
        /// Mails removed from the temporary store.
        remove: Vec<MailId>,
    },
    /// The RAID group under these volumes lost its data.
    Lose {
        /// The volumes whose mailboxes are emptied.
        volumes: Vec<u32>,
    },
    /// These volumes' UIDLs changed (migration without keeping them).
    BumpEpochs {
        /// The volumes whose UIDL epoch goes up by one.
        volumes: Vec<u32>,
    },
    /// Replaces the control state (hardware, lock manager, switches).
    Control(Box<Control>),
    /// These mailboxes' data is damaged (`on`) or whole again; with
    /// `destroy_snapshots`, their snapshot copies are gone too.
    Damage {
        /// The mailboxes.
        mailboxes: Vec<MailboxId>,
        /// Damaged (true) or restored/recreated (false).
        on: bool,
        /// Their snapshots die with them (a destroyed volume).
        destroy_snapshots: bool,
    },
    /// Removes mails from a mailbox (lost in a damage, or left out by a
    /// restore from an older copy).
    Drop {
        /// The mailbox.
        mailbox: MailboxId,
        /// The mails removed.
        mails: Vec<MailId>,
    },
    /// Backup set `set` takes a copy of every mailbox (damaged ones
    /// unusable) and drops copies past its retention.
    Backup {
        /// The set, by index.
        set: u32,
        /// When the copy is taken.
        at: Time,
    },
    /// Backup set `set` is corrupt: none of its copies can be restored.
    BreakBackup {
        /// The set, by index.
        set: u32,
    },
    /// These mailboxes get new identifiers (UIDLs, UIDVALIDITY).
    ResetUids {
        /// The mailboxes.
        mailboxes: Vec<MailboxId>,
    },
    /// Replaces the replication's state (a site, the link, a failover).
    Replica(Box<ReplicaState>),
}

/// The durable operations too long to read inside `apply`'s match.
impl Mailstore {
    /// `Op::Merge`: mails appended to a mailbox, removed from its temporary
    /// store (which goes when empty).
    fn merge(&mut self, mailbox: MailboxId, add: &[MailId], remove: &[MailId]) {
        self.boxes[mailbox as usize].extend_from_slice(add);
        for &m in add {
            self.mark(m, true);
        }
        if let Some(t) = self.temp.get_mut(&mailbox) {
            t.retain(|m| !remove.contains(m));
            if t.is_empty() {
                self.temp.remove(&mailbox);
            }
        }
    }

    /// `Op::Lose`: every mail on `volumes` is gone.
    fn lose(&mut self, volumes: &[u32]) {
        for mb in 0..self.boxes.len() {
            if volumes.contains(&(self.placement[mb] as u32)) {
                for m in std::mem::take(&mut self.boxes[mb]) {
                    self.mark(m, false);
                }
            }
        }
    }

    /// `Op::Damage`: mailboxes damaged (`on`) or restored, their snapshots
    /// destroyed with them if asked.
    fn set_damaged(&mut self, mailboxes: &[MailboxId], on: bool, destroy_snapshots: bool) {
        for &mb in mailboxes {
            self.damaged[mb as usize] = on;
        }
        if destroy_snapshots {
            for set in self.backups.iter_mut().filter(|b| b.kind == BackupKind::Snapshot) {
                for c in &mut set.copies {
                    for &mb in mailboxes {
                        c.boxes[mb as usize] = None;
                    }
                }
            }
        }
    }

    /// `Op::Backup`: a copy of every undamaged mailbox into backup `set`,
    /// the oldest copies dropped past its retention.
    fn back_up(&mut self, set: u32, at: Time) {
        let boxes = self.boxes.iter().zip(&self.damaged).map(|(b, d)| (!d).then(|| b.clone())).collect();
        let b = &mut self.backups[set as usize];
        b.copies.push_back(Copy { at, boxes });
        while b.copies.len() > b.retention as usize {
            b.copies.pop_front();
        }
    }
}

impl Durable for Mailstore {
    type Op = Op;
    fn apply(&mut self, op: Op) {
        match op {
            Op::Append { mailbox, mail, replica } => {
                self.boxes[mailbox as usize].push(mail);
                self.mark(mail, true);
                if let Some((now, at)) = replica {
                    self.repl.prune(now);
                    self.repl.behind.push_back((at, mailbox, mail));
                }
            }
            Op::Replica(r) => self.repl = *r,
            Op::Temp { mailbox, mail } => self.temp.entry(mailbox).or_default().push(mail),
            Op::Merge { mailbox, add, remove } => self.merge(mailbox, &add, &remove),
            Op::Lose { volumes } => self.lose(&volumes),
            Op::BumpEpochs { volumes } => {
                for v in volumes {
                    self.volume_epoch[v as usize] += 1;
                }
            }
            Op::Control(c) => self.control = *c,
            Op::Damage { mailboxes, on, destroy_snapshots } => self.set_damaged(&mailboxes, on, destroy_snapshots),
            Op::Drop { mailbox, mails } => {
                self.boxes[mailbox as usize].retain(|m| !mails.contains(m));
                for m in mails {
                    self.mark(m, false);
                }
            }
            Op::Backup { set, at } => self.back_up(set, at),
            Op::BreakBackup { set } => self.backups[set as usize].broken = true,
            Op::ResetUids { mailboxes } => {
                for mb in mailboxes {
                    self.box_epoch[mb as usize] += 1;
                }
            }
        }
    }
}

/// A request waiting for (or holding) a mailbox's lock.
#[derive(Debug)]
enum Req {
    Append { from: NodeId, slot: u32, mail: Envelope, locked: bool },
    Merge,
}

/// What to do when a durable write completes (writes complete in order).
#[derive(Debug)]
enum Pending {
    Append {
        from: NodeId,
        /// The caller's handle, echoed in the reply.
        slot: u32,
        mail: MailId,
        mailbox: MailboxId,
        locked: bool,
        temp: bool,
        /// When the storage has served it (the reply leaves then).
        done_at: Time,
        /// Its RAID group was destroyed while it was in flight.
        doomed: bool,
        /// Redeliveries of the same mail that arrived meanwhile: (caller,
        /// its handle).
        also: Vec<(NodeId, u32)>,
    },
    Merge {
        mailbox: MailboxId,
        add: Vec<MailId>,
        remove: Vec<MailId>,
        doomed: bool,
    },
    Quiet,
    /// Once written, decide what damaged mailboxes lost (a copy expired, a
    /// set broke, a damage is recorded).
    Settle,
}

/// A restore under way: what it puts back, and the step to answer.
#[derive(Debug)]
struct RestoreJob {
    from: NodeId,
    step: StepId,
    /// Each mailbox restored and the copy it gets back.
    mailboxes: Vec<(MailboxId, Vec<MailId>)>,
    preserve_uids: bool,
    timer: TimerId,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HwKind {
    Controller(u32),
    Path(u32),
    Disk(u32),
    Latent(u32),
    Cache,
    Head(u32),
}

/// The file server node.
pub struct Filer {
    cfg: FilerConfig,
    /// Working copy of the durable control state (snapshotted on change).
    ctl: Control,
    /// Mailboxes per volume.
    per_volume: Vec<u32>,
    /// Per volume, whether it is online and its latency multiplier
    /// (per-mille), as of the last `sync`: the storage changes only there
    /// (every change of `ctl.storage` is followed by one), and an append
    /// asks for both.
    volumes: Vec<(bool, u32)>,
    /// Mailboxes unavailable, as last reported.
    unavailable: u32,
    grace_until: Time,
    hung_until: Time,
    stalled: Vec<(NodeId, Store)>,
    /// The fluid queue of appends: when the next one may start.
    next_free: Time,
    /// Mailboxes whose lock is held: one bit per mailbox.
    locked: Vec<u64>,
    /// Requests waiting for a held lock, by mailbox (only contended ones).
    waiters: BTreeMap<MailboxId, VecDeque<Req>>,
    inflight: VecDeque<Pending>,
    hw_faults: Vec<(FaultId, HwKind)>,
    lock_fault: Option<FaultId>,
    grace_fault: Option<FaultId>,
    hang_fault: Option<FaultId>,
    degrade_fault: Option<FaultId>,
    timer: Option<(TimerId, Time)>,
    /// Rebuild steps waiting for every queued rebuild to end, and why some
    /// rebuild stopped without completing meanwhile.
    rebuild_steps: Vec<(NodeId, StepId)>,
    rebuild_failures: Vec<String>,
    /// Migrate steps waiting for every batch to be copied.
    migrate_steps: Vec<(NodeId, StepId)>,
    /// Merge-back steps waiting for their merges, and why some merge could
    /// not be done meanwhile.
    merge_steps: Vec<(NodeId, StepId)>,
    merge_failures: Vec<String>,
    merges_pending: u32,
    /// Per mailbox: its data is damaged (the in-life copy of the durable
    /// flags, set at once so no write reaches a damaged mailbox).
    damaged: Vec<bool>,
    /// Data faults and the mailboxes they damaged, until all are whole.
    data_faults: Vec<(FaultId, Vec<MailboxId>)>,
    /// The restores under way.
    restores: Vec<RestoreJob>,
    /// The replication's working state (`replication.rs`), written on
    /// change; site failures and the link's cut, until repaired or healed.
    repl: ReplicaState,
    site_faults: Vec<(FaultId, usize)>,
    link_fault: Option<FaultId>,
}

type C<'a, 'b> = &'a mut Ctx<'b, Msg, World>;
type D<'a> = &'a mut Disk<Mailstore>;

impl Filer {
    /// A filer; its state is loaded from its disk when it boots.
    pub fn new(cfg: FilerConfig) -> Filer {
        let mailboxes = cfg.mailboxes;
        let ctl = Control { storage: Storage::new(cfg.storage.clone()), lock_broken: false, temp_enabled: false, keep_uidls: true };
        Filer {
            cfg,
            ctl,
            per_volume: Vec::new(),
            volumes: Vec::new(),
            unavailable: 0,
            grace_until: Time::ZERO,
            hung_until: Time::ZERO,
            stalled: Vec::new(),
            next_free: Time::ZERO,
            locked: vec![0; mailboxes.div_ceil(64) as usize],
            waiters: BTreeMap::new(),
            inflight: VecDeque::new(),
            hw_faults: Vec::new(),
            lock_fault: None,
            grace_fault: None,
            hang_fault: None,
            degrade_fault: None,
            timer: None,
            rebuild_steps: Vec::new(),
            rebuild_failures: Vec::new(),
            migrate_steps: Vec::new(),
            merge_steps: Vec::new(),
            merge_failures: Vec::new(),
            merges_pending: 0,
            damaged: Vec::new(),
            data_faults: Vec::new(),
            restores: Vec::new(),
            repl: ReplicaState::default(),
            site_faults: Vec::new(),
            link_fault: None,
        }
    }

    /// The initial durable state for `cfg` in a run seeded with `seed`.
    pub fn initial_disk(cfg: &FilerConfig, seed: u64) -> Mailstore {
        Mailstore::new(cfg, seed)
    }

    /// Registers a filer node named `name`.
    pub fn register(sim: &mut Sim<Msg, World>, name: &str, node: NodeConfig, cfg: FilerConfig) -> NodeId {
        let disk = Mailstore::new(&cfg, sim.config().seed);
        sim.add_node(name, node, disk, move |_| Filer::new(cfg.clone()))
    }

    /// The storage as the running filer sees it.
    pub fn storage(&self) -> &Storage {
        &self.ctl.storage
    }
    /// Mailboxes whose volume is offline now.
    pub fn unavailable(&self) -> u32 {
        self.unavailable
    }

    /// Whether `volume` is online, and its latency multiplier (per-mille).
    #[inline]
    fn volume(&self, volume: u32) -> (bool, u32) {
        let v = self.volumes[volume as usize];
        debug_assert_eq!(v, (self.ctl.storage.volume_online(volume), self.ctl.storage.latency_multiplier_permille(volume)));
        v
    }

    fn lock_ok(&self, now: Time) -> bool {
        !self.ctl.lock_broken && now >= self.grace_until
    }

    fn lock_failed(&mut self, ctx: C) {
        marks::reach(ctx, Mark::LockFailed);
        let now = ctx.now();
        if self.ctl.lock_broken {
            if let Some(id) = self.lock_fault {
                ctx.fault_effect(id);
            }
        } else if now < self.grace_until {
            if let Some(id) = self.grace_fault {
                ctx.fault_effect(id);
            }
        }
    }

    /// A reply leaves after `delay`, and never while the server hangs.
    fn reply(&self, ctx: C, to: NodeId, msg: Store, delay: Dur) {
        let now = ctx.now();
        let delay = delay.max(self.hung_until.since(now));
        ctx.send_after(delay, to, Msg::Store(msg));
    }

    fn reply_append(&self, ctx: C, to: NodeId, slot: u32, id: MailId, result: Result<(), StoreError>, delay: Dur) {
        self.reply(ctx, to, Store::AppendReply { id, result, slot }, delay);
    }

    fn step_done(ctx: C, to: NodeId, step: StepId) {
        ctx.send(to, Msg::Ops(Ops::StepDone { step }));
    }

    fn step_failed(ctx: C, to: NodeId, step: StepId, reason: String) {
        ctx.send(to, Msg::Ops(Ops::StepFailed { step, reason }));
    }

    /// Answers steps waiting together: done, or failed with every reason
    /// gathered while they waited.
    fn answer(ctx: C, steps: Vec<(NodeId, StepId)>, failures: Vec<String>) {
        let reason = failures.join("; ");
        for (to, step) in steps {
            if failures.is_empty() {
                Self::step_done(ctx, to, step);
            } else {
                Self::step_failed(ctx, to, step, reason.clone());
            }
        }
    }

    fn write(&mut self, ctx: C, disk: D, op: Op, pending: Pending) {
        disk.write(ctx, op);
        self.inflight.push_back(pending);
    }

    fn boot(&mut self, ctx: C, disk: D) {
        let now = ctx.now();
        let st = disk.state();
        assert_eq!(st.mailboxes(), self.cfg.mailboxes, "the filer's disk was made for another mailbox count");
        self.ctl = st.control.clone();
        self.ctl.storage.resume(now);
        self.per_volume = vec![0; self.ctl.storage.volumes() as usize];
        for v in &st.placement {
            self.per_volume[*v as usize] += 1;
        }
        let me = ctx.me();
        ledger::node_down(ctx.world, me);
        if now > Time::ZERO {
            // Writes in flight died with the previous life: their writers
            // no longer hold the mailboxes.
            ledger::mailbox_writes_aborted(ctx.world);
            if self.cfg.grace_on_restart {
                self.start_grace(ctx, None);
            }
        }
        self.damaged = disk.state().damaged.clone();
        self.repl = disk.state().repl.clone();
        if let Some(at) = self.cfg.replication.as_ref().and_then(|r| r.heal_at) {
            if at > now {
                ctx.set(at.since(now), StoreTimer::ReplicaHeal);
            }
        }
        for (set, b) in self.cfg.backups.iter().enumerate() {
            let at = b.next_copy(now);
            ctx.set(at.since(now), StoreTimer::Backup { set: set as u32 });
        }
        self.unavailable = u32::MAX;
        self.sync(ctx, disk, false);
    }

    fn start_grace(&mut self, ctx: C, fault: Option<FaultId>) {
        let now = ctx.now();
        let grace = ctx.rng().dur(self.cfg.lock_grace_min, self.cfg.lock_grace_max);
        self.grace_until = self.grace_until.max(now + grace);
        self.grace_fault = fault;
        ctx.set(self.grace_until.since(now), StoreTimer::GraceEnd);
    }

    // ---- mail delivery ----

    fn append(&mut self, ctx: C, disk: D, from: NodeId, slot: u32, mail: Envelope, locked: bool) {
        let mb = mail.rcpt;
        assert!(mb < self.cfg.mailboxes, "mailbox {mb} beyond the filer's {} mailboxes (FilerConfig::mailboxes)", self.cfg.mailboxes);
        if locked && !self.lock_ok(ctx.now()) {
            self.lock_failed(ctx);
            self.reply_append(ctx, from, slot, mail.id, Err(StoreError::Lock), self.cfg.lock_fail_delay);
            return;
        }
        // As `acquire` with an append, without wrapping it in a `Req` unless
        // it has to wait.
        if !locked {
            self.start_append(ctx, disk, from, slot, mail, false);
        } else if self.lock_held(mb) {
            self.waiters.entry(mb).or_default().push_back(Req::Append { from, slot, mail, locked });
        } else if self.start_append(ctx, disk, from, slot, mail, true) {
            self.set_lock_held(mb, true);
        }
    }

    fn lock_held(&self, mb: MailboxId) -> bool {
        self.locked[mb as usize / 64] & (1 << (mb % 64)) != 0
    }

    fn set_lock_held(&mut self, mb: MailboxId, held: bool) {
        let (word, bit) = (&mut self.locked[mb as usize / 64], 1u64 << (mb % 64));
        if held {
            *word |= bit;
        } else {
            *word &= !bit;
        }
    }

    /// Runs a request under the mailbox's lock, or queues it behind the
    /// holder. Unlocked appends take no lock (the planted bug). The lock is
    /// held only while a write is in flight: a request that fails at once
    /// (an offline volume, a redelivery) never holds it.
    fn acquire(&mut self, ctx: C, disk: D, mb: MailboxId, req: Req) {
        if matches!(req, Req::Append { locked: false, .. }) {
            self.start(ctx, disk, mb, req);
            return;
        }
        if self.lock_held(mb) {
            self.waiters.entry(mb).or_default().push_back(req);
            return;
        }
        if self.start(ctx, disk, mb, req) {
            self.set_lock_held(mb, true);
        }
    }

    /// Hands the mailbox's lock to the next waiter, until one starts a write;
    /// frees it when none does.
    #[inline]
    fn release(&mut self, ctx: C, disk: D, mb: MailboxId) {
        if !self.lock_held(mb) {
            return;
        }
        if self.waiters.is_empty() {
            // Nearly always: no mailbox lock is contended.
            self.set_lock_held(mb, false);
            return;
        }
        self.hand_over(ctx, disk, mb);
    }

    /// `release` when some lock has waiters.
    #[inline(never)]
    fn hand_over(&mut self, ctx: C, disk: D, mb: MailboxId) {
        loop {
            let Some(waiters) = self.waiters.get_mut(&mb) else {
                self.set_lock_held(mb, false);
                return;
            };
            let req = waiters.pop_front().expect("no empty waiter queue is kept");
            if waiters.is_empty() {
                self.waiters.remove(&mb);
            }
            if self.start(ctx, disk, mb, req) {
                return;
            }
        }
    }

    /// Serves a request holding the mailbox; true if a write is now in flight.
    fn start(&mut self, ctx: C, disk: D, mb: MailboxId, req: Req) -> bool {
        match req {
            Req::Append { from, slot, mail, locked } => self.start_append(ctx, disk, from, slot, mail, locked),
            Req::Merge => self.start_merge(ctx, disk, mb),
        }
    }

    /// When the storage will have served an operation started now, for a
    /// volume at `permille` latency.
    fn serve_time(&mut self, now: Time, permille: u32) -> Time {
        let gap = Dur(MICROS_PER_S / self.cfg.appends_per_s_max as u64).scale_permille(permille);
        let start = now.max(self.next_free);
        self.next_free = start + gap;
        start + self.cfg.service_time.scale_permille(permille)
    }

    fn start_append(&mut self, ctx: C, disk: D, from: NodeId, slot: u32, mail: Envelope, locked: bool) -> bool {
        let now = ctx.now();
        let mb = mail.rcpt;
        let site = match &self.cfg.replication {
            None => None,
            Some(r) => match self.repl.route(r, from) {
                Route::To(site) => Some(site),
                Route::Refused => {
                    // No primary this writer can reach: as an offline volume.
                    self.reply_append(ctx, from, slot, mail.id, Err(StoreError::Offline), self.cfg.service_time);
                    return false;
                }
            },
        };
        let volume = disk.state().volume_of(mb);
        let (online, latency_permille) = self.volume(volume);
        let online = online && !self.damaged[mb as usize];
        let temp = if online {
            false
        } else if self.ctl.temp_enabled {
            true
        } else {
            self.reply_append(ctx, from, slot, mail.id, Err(StoreError::Offline), self.cfg.service_time);
            return false;
        };
        // Idempotent per mail id: a redelivery is answered, not stored again.
        // An offline volume cannot be read, so only the temp store is checked.
        let st = disk.state();
        let have = if temp { st.temp(mb).contains(&mail.id) } else { st.holds(mail.id) };
        if have {
            self.reply_append(ctx, from, slot, mail.id, Ok(()), self.cfg.service_time);
            return false;
        }
        let same = self.inflight.iter_mut().find_map(|p| match p {
            Pending::Append { mailbox, mail: m, temp: t, also, .. } if *mailbox == mb && *m == mail.id && *t == temp => Some(also),
            _ => None,
        });
        if let Some(also) = same {
            also.push((from, slot));
            return false;
        }
        ledger::mailbox_write_begin(ctx, mb, from);
        let permille = if temp { 1000 } else { latency_permille };
        let mut done_at = self.serve_time(now, permille);
        let mut replica = None;
        if let (Some(r), Some(site), false) = (&self.cfg.replication, site, temp) {
            let (behind, split) = self.repl.written(r, site, now, mb, mail.id);
            replica = behind.map(|at| (now, at));
            if split {
                let (a, b) = (r.source.clone(), r.target.clone());
                ledger::replicas_both_written(ctx, &a, &b);
            }
            if r.mode == ReplicationMode::Sync && self.repl.flowing() {
                // The ack waits for the replica's.
                done_at += r.lag;
            }
        }
        let op = if temp { Op::Temp { mailbox: mb, mail: mail.id } } else { Op::Append { mailbox: mb, mail: mail.id, replica } };
        let pending = Pending::Append { from, slot, mail: mail.id, mailbox: mb, locked, temp, done_at, doomed: false, also: Vec::new() };
        self.write(ctx, disk, op, pending);
        true
    }

    fn durable(&mut self, ctx: C, disk: D) {
        let now = ctx.now();
        match self.inflight.pop_front().expect("one pending entry per durable write") {
            Pending::Quiet => {}
            Pending::Settle => self.settle_damage(ctx, disk),
            Pending::Append { from, slot, mail, mailbox, locked, temp, done_at, doomed, also } => {
                let result = if doomed {
                    // The write landed on a group destroyed meanwhile: the
                    // MTA keeps the mail and retries.
                    Err(StoreError::Io)
                } else {
                    if temp {
                        marks::reach(ctx, Mark::TempStoreTookMail);
                        ledger::stored_temporarily(ctx, mail);
                    } else {
                        ledger::delivered(ctx, mail);
                    }
                    Ok(())
                };
                ledger::mailbox_write_end(ctx, mailbox, from);
                let delay = done_at.since(now);
                self.reply_append(ctx, from, slot, mail, result, delay);
                for (to, slot) in also {
                    self.reply_append(ctx, to, slot, mail, result, delay);
                }
                if locked {
                    self.release(ctx, disk, mailbox);
                }
            }
            Pending::Merge { mailbox, add, remove, doomed } => {
                for m in &add {
                    ledger::delivered(ctx, *m);
                }
                if doomed {
                    for m in &add {
                        ledger::mailbox_lost(ctx, *m);
                    }
                    self.merge_failures.push(format!("mailbox {mailbox}'s RAID group was destroyed during its merge"));
                }
                if !remove.is_empty() {
                    marks::reach(ctx, Mark::TempStoreMerged);
                }
                for m in &remove {
                    ledger::temp_removed(ctx, *m);
                }
                let me = ctx.me();
                ledger::mailbox_write_end(ctx, mailbox, me);
                self.release(ctx, disk, mailbox);
                self.merge_finished(ctx);
            }
        }
    }

    // ---- readers ----

    fn access(&mut self, ctx: C, disk: D, from: NodeId, mailbox: MailboxId, proto: Proto) {
        assert!(mailbox < self.cfg.mailboxes, "mailbox {mailbox} beyond the filer's {} mailboxes", self.cfg.mailboxes);
        let st = disk.state();
        let volume = st.volume_of(mailbox);
        let epoch = st.uidl_epoch(mailbox);
        let (result, delay) = if !self.repl.serving() {
            // The copy that serves readers is at a failed site.
            (Err(StoreError::Offline), self.cfg.service_time)
        } else if proto != Proto::Webmail && !self.lock_ok(ctx.now()) {
            self.lock_failed(ctx);
            (Err(StoreError::Lock), self.cfg.lock_fail_delay)
        } else if let (true, permille) = (self.volume(volume).0 && !self.damaged[mailbox as usize], self.volume(volume).1) {
            let count = st.mailbox(mailbox).len() as u32;
            let delay = self.cfg.service_time.scale_permille(permille);
            (Ok(AccessInfo { count, uidl_epoch: epoch, temporary: false }), delay)
        } else if self.ctl.temp_enabled && proto == Proto::Webmail {
            // OpenSRS: webmail-only access to new mail.
            let count = st.temp(mailbox).len() as u32;
            (Ok(AccessInfo { count, uidl_epoch: epoch, temporary: true }), self.cfg.service_time)
        } else {
            (Err(StoreError::Offline), self.cfg.service_time)
        };
        self.reply(ctx, from, Store::AccessReply { mailbox, proto, result }, delay);
    }

    // ---- merge-back ----

    /// Merges every temporary store into its mailbox. Refused, merging
    /// nothing, while a temporary store's volume is offline.
    /// The mailboxes on each RAID group's volumes (those not migrated away),
    /// for a rebuild order that weighs them.
    fn users_per_group(&self) -> Vec<u64> {
        let s = &self.ctl.storage;
        let groups = s.config().groups;
        (0..groups).map(|g| s.volumes_of_group(g).map(|v| u64::from(self.per_volume.get(v as usize).copied().unwrap_or(0))).sum()).collect()
    }

    fn merge_back(&mut self, ctx: C, disk: D, from: NodeId, step: StepId) {
        let st = disk.state();
        let mut waiting: Vec<u32> = st.temp_mailboxes().map(|mb| st.volume_of(mb)).filter(|v| !self.volumes[*v as usize].0).collect();
        if !waiting.is_empty() {
            let stores = waiting.len();
            waiting.sort_unstable();
            waiting.dedup();
            let names: Vec<String> = waiting.iter().map(|v| Storage::volume_name(*v)).collect();
            let reason = format!("cannot merge back: {stores} temporary stores belong on offline volumes ({})", names.join(", "));
            Self::step_failed(ctx, from, step, reason);
            return;
        }
        let damaged = st.temp_mailboxes().filter(|mb| self.damaged[*mb as usize]).count();
        if damaged > 0 {
            let reason =
                format!("cannot merge back: {damaged} temporary stores belong to damaged mailboxes (restore or recreate them first)");
            Self::step_failed(ctx, from, step, reason);
            return;
        }
        let ready: Vec<MailboxId> = st.temp_mailboxes().collect();
        self.merge_steps.push((from, step));
        self.merges_pending += ready.len() as u32;
        for mb in ready {
            self.acquire(ctx, disk, mb, Req::Merge);
        }
        if self.merges_pending == 0 {
            self.answer_merges(ctx);
        }
    }

    fn start_merge(&mut self, ctx: C, disk: D, mb: MailboxId) -> bool {
        let st = disk.state();
        let remove: Vec<MailId> = st.temp(mb).to_vec();
        let volume = st.volume_of(mb);
        if !remove.is_empty() && !self.ctl.storage.volume_online(volume) {
            self.merge_failures.push(format!("mailbox {mb}'s {} went offline before its merge", Storage::volume_name(volume)));
        }
        if !remove.is_empty() && self.damaged[mb as usize] {
            self.merge_failures.push(format!("mailbox {mb} was damaged before its merge"));
        }
        if remove.is_empty() || !self.ctl.storage.volume_online(volume) || self.damaged[mb as usize] {
            self.merge_finished(ctx);
            return false;
        }
        let add: Vec<MailId> = if self.cfg.merge_dedup {
            let present = st.mailbox(mb);
            remove.iter().copied().filter(|m| !present.contains(m)).collect()
        } else {
            remove.clone()
        };
        // ---- planted bug `bug_merge_drops_mail` (off unless a test sets it) ----
        let add = if self.cfg.bug_merge_drops_mail { add.into_iter().skip(1).collect() } else { add };
        // ---- end of planted bug ----
        let me = ctx.me();
        ledger::mailbox_write_begin(ctx, mb, me);
        let op = Op::Merge { mailbox: mb, add: add.clone(), remove: remove.clone() };
        self.write(ctx, disk, op, Pending::Merge { mailbox: mb, add, remove, doomed: false });
        true
    }

    fn merge_finished(&mut self, ctx: C) {
        self.merges_pending = self.merges_pending.saturating_sub(1);
        if self.merges_pending == 0 {
            self.answer_merges(ctx);
        }
    }

    fn answer_merges(&mut self, ctx: C) {
        Self::answer(ctx, std::mem::take(&mut self.merge_steps), std::mem::take(&mut self.merge_failures));
    }

    // ---- storage ----

    /// Brings everything up to date after the storage may have changed:
    /// data loss, fault reports, UIDL epochs, the durable snapshot,
    /// availability, finished steps and the timer of the next storage event.
    fn sync(&mut self, ctx: C, disk: D, snapshot: bool) {
        let now = ctx.now();
        self.ctl.storage.advance(now);
        let ev = self.ctl.storage.take_events();
        self.storage_changed(ctx, disk, &ev);
        let changed = ev != Default::default();
        if snapshot || changed {
            self.write(ctx, disk, Op::Control(Box::new(self.ctl.clone())), Pending::Quiet);
        }
        self.publish_volumes(ctx, disk);
        self.answer_storage_steps(ctx, ev);
        self.set_storage_timer(ctx, now);
    }

    /// What the storage's events mean: lost groups' mail, hardware faults
    /// that now show or are over, migrated volumes' new UIDL epochs.
    fn storage_changed(&mut self, ctx: C, disk: D, ev: &Events) {
        if !ev.rebuilt.is_empty() {
            marks::reach(ctx, Mark::RebuildDone);
        }
        if !ev.migrated.is_empty() {
            marks::reach(ctx, Mark::VolumeMigrated);
        }
        if ev.contention_changed && (0..self.ctl.storage.config().shelves).any(|sh| self.ctl.storage.collapsed(sh)) {
            marks::reach(ctx, Mark::StorageCollapsed);
        }
        for g in &ev.destroyed {
            self.lose_group(ctx, disk, *g);
        }
        let s = &self.ctl.storage;
        for (id, kind) in &self.hw_faults {
            let shows = match *kind {
                HwKind::Controller(shelf) => !s.shelf_reachable(shelf) || s.collapsed(shelf),
                HwKind::Path(shelf) => !s.shelf_reachable(shelf),
                HwKind::Cache => (0..s.config().shelves).any(|sh| s.collapsed(sh)),
                HwKind::Disk(g) => s.group_destroyed(g),
                HwKind::Latent(g) => s.latent_hidden(g) == 0,
                HwKind::Head(h) => !s.head_serving(h),
            };
            if shows {
                ctx.fault_effect(*id);
            }
        }
        self.hw_faults.retain(|(id, kind)| match *kind {
            HwKind::Latent(g) if ev.rebuilt.contains(&g) || ev.destroyed.contains(&g) => {
                ctx.fault_resolved(*id);
                false
            }
            _ => true,
        });
        if !ev.migrated.is_empty() && !self.ctl.keep_uidls {
            self.write(ctx, disk, Op::BumpEpochs { volumes: ev.migrated.clone() }, Pending::Quiet);
        }
        if (0..self.ctl.storage.volumes()).all(|v| self.ctl.storage.migrated(v)) {
            // The old storage serves nothing now: its slowdowns are over.
            self.resolve_hw(ctx, |k| matches!(k, HwKind::Cache | HwKind::Controller(_)));
        }
        if let Some(id) = self.degrade_fault {
            if (0..self.ctl.storage.volumes()).all(|v| self.ctl.storage.migrated(v)) {
                ctx.fault_resolved(id);
                self.degrade_fault = None;
            }
        }
    }

    /// Each volume's state and latency, as the mailstore serves them, and the
    /// mailboxes unavailable; the trace's storage tracks.
    fn publish_volumes(&mut self, ctx: C, disk: D) {
        let s = &self.ctl.storage;
        self.volumes.clear();
        self.volumes.extend((0..s.volumes()).map(|v| (s.volume_online(v), s.latency_multiplier_permille(v))));
        if ctx.tracing() {
            // Each shelf, controller, group and volume on its own track.
            s.states(|track, state| ctx.track_state(&track, &state));
        }
        let speed = self.volumes.iter().map(|&(online, m)| if online { 1_000_000_000 / u64::from(m.max(1)) } else { 0 }).sum::<u64>()
            / (self.volumes.len().max(1) as u64);
        ledger::storage_speed(ctx, speed.min(1_000_000) as u32);
        let offline: u32 = (0..s.volumes()).filter(|v| !self.volumes[*v as usize].0).map(|v| self.per_volume[v as usize]).sum();
        // Damaged mailboxes on online volumes are unavailable too.
        let placement = &disk.state().placement;
        let damaged = self.damaged.iter().zip(placement).filter(|(d, v)| **d && self.volumes[**v as usize].0).count() as u32;
        let offline = if self.repl.serving() { offline + damaged } else { self.cfg.mailboxes };
        if offline != self.unavailable {
            if offline > 0 {
                marks::reach(ctx, Mark::MailboxesOffline);
            }
            self.unavailable = offline;
            ledger::unavailable(ctx, offline);
            ctx.gauge("mailboxes_unavailable", offline as i64);
        }
    }

    /// Answers the rebuild steps once no group rebuilds, and the migration
    /// steps once nothing migrates (an aborted one failed).
    fn answer_storage_steps(&mut self, ctx: C, ev: Events) {
        if !self.rebuild_steps.is_empty() {
            self.rebuild_failures.extend(ev.rebuild_aborted);
            if !self.ctl.storage.rebuilding() {
                Self::answer(ctx, std::mem::take(&mut self.rebuild_steps), std::mem::take(&mut self.rebuild_failures));
            }
        }
        if !self.ctl.storage.migrating() {
            // An aborted migration leaves nothing in progress.
            Self::answer(ctx, std::mem::take(&mut self.migrate_steps), ev.migration_aborted);
        }
    }

    /// The timer of the storage's next event, moved if it changed.
    fn set_storage_timer(&mut self, ctx: C, now: Time) {
        let next = self.ctl.storage.next_event_time();
        if next != self.timer.map(|t| t.1) {
            if let Some((id, _)) = self.timer.take() {
                ctx.cancel_timer(id);
            }
            if let Some(at) = next {
                let id = ctx.set(at.since(now), StoreTimer::Storage);
                self.timer = Some((id, at));
            }
        }
    }

    /// A RAID group's data is gone: every mail on its volumes is lost, and
    /// writes in flight to them fail.
    fn lose_group(&mut self, ctx: C, disk: D, group: u32) {
        let volumes: Vec<u32> = self.ctl.storage.volumes_of_group(group).collect();
        let st = disk.state();
        for (mb, v) in st.placement.iter().enumerate() {
            if volumes.contains(&(*v as u32)) {
                for m in &st.boxes[mb] {
                    ledger::mailbox_lost(ctx, *m);
                }
            }
        }
        let on_lost = |mb: &MailboxId| volumes.contains(&(st.placement[*mb as usize] as u32));
        for p in &mut self.inflight {
            match p {
                Pending::Append { mailbox, temp: false, doomed, .. } | Pending::Merge { mailbox, doomed, .. } if on_lost(mailbox) => {
                    *doomed = true
                }
                _ => {}
            }
        }
        self.write(ctx, disk, Op::Lose { volumes }, Pending::Quiet);
    }

    fn fault(&mut self, ctx: C, disk: D, id: FaultId, fault: ModelFault) {
        let now = ctx.now();
        match fault {
            ModelFault::LockBroken => {
                self.lock_fault = Some(id);
                if !self.ctl.lock_broken {
                    self.ctl.lock_broken = true;
                    self.sync(ctx, disk, true);
                }
            }
            ModelFault::LockRestart => self.start_grace(ctx, Some(id)),
            ModelFault::Hang { for_ } => {
                ctx.fault_effect(id);
                self.hang_fault = Some(id);
                self.hung_until = self.hung_until.max(now + for_);
                ctx.set(self.hung_until.since(now), StoreTimer::HangEnd);
            }
            ModelFault::ControllerFail { .. }
            | ModelFault::PathFault { .. }
            | ModelFault::DiskFail { .. }
            | ModelFault::LatentSectorError { .. }
            | ModelFault::CacheFail
            | ModelFault::HeadFail { .. }
            | ModelFault::Degrade { .. } => self.hardware_fault(ctx, disk, id, fault),
            ModelFault::DataCorruption { volumes, share_ppm } => self.damage(ctx, disk, id, &volumes, share_ppm, false),
            ModelFault::DataLoss { volumes, share_ppm } => self.damage(ctx, disk, id, &volumes, share_ppm, true),
            ModelFault::BackupCorrupt { set } => {
                let Some(b) = disk.state().backups.get(set as usize) else { return };
                if !b.broken {
                    ctx.fault_effect(id);
                    self.write(ctx, disk, Op::BreakBackup { set }, Pending::Settle);
                }
            }
            ModelFault::SiteFail { site } => self.site_fail(ctx, disk, id, site as usize),
            ModelFault::ReplicaLink { up: false, for_ } => self.replica_link_cut(ctx, disk, id, for_),
            ModelFault::ReplicaLink { up: true, .. } => {
                // A heal is done when it is carried out, cut link or not.
                ctx.fault_effect(id);
                ctx.fault_resolved(id);
                self.replica_heal(ctx, disk);
            }
            ModelFault::FenceBroken { .. } | ModelFault::LocalDeviceFail { .. } => {}
        }
    }

    /// A storage hardware fault (or a degradation) applied to the storage,
    /// and kept to report when it shows.
    fn hardware_fault(&mut self, ctx: C, disk: D, id: FaultId, fault: ModelFault) {
        let now = ctx.now();
        if self.ctl.storage.apply(&fault, now) {
            ctx.fault_effect(id);
        }
        let kind = match fault {
            ModelFault::ControllerFail { shelf, .. } => Some(HwKind::Controller(shelf)),
            ModelFault::PathFault { shelf } => Some(HwKind::Path(shelf)),
            ModelFault::DiskFail { group } => Some(HwKind::Disk(group)),
            ModelFault::LatentSectorError { group } => Some(HwKind::Latent(group)),
            ModelFault::CacheFail => Some(HwKind::Cache),
            ModelFault::HeadFail { head, .. } => Some(HwKind::Head(head)),
            ModelFault::Degrade { permille } => {
                if let Some(old) = self.degrade_fault.take() {
                    ctx.fault_resolved(old);
                }
                if permille == 1000 {
                    ctx.fault_resolved(id);
                } else {
                    self.degrade_fault = Some(id);
                }
                None
            }
            _ => None,
        };
        if let Some(kind) = kind {
            self.hw_faults.push((id, kind));
        }
        self.sync(ctx, disk, true);
    }

    /// The replication link is cut (for `for_`, if given): the replica falls
    /// behind from now.
    fn replica_link_cut(&mut self, ctx: C, disk: D, id: FaultId, for_: Option<Dur>) {
        let now = ctx.now();
        if self.cfg.replication.is_none() {
            return;
        }
        if let Some(d) = for_ {
            ctx.set(d, StoreTimer::ReplicaHeal);
        }
        if self.repl.link_up {
            ctx.fault_effect(id);
            self.link_fault = Some(id);
            self.repl.link_up = false;
            self.repl.disconnected(now);
            self.write_replica(ctx, disk);
        }
    }

    // ---- replication (`replication.rs`) ----

    fn write_replica(&mut self, ctx: C, disk: D) {
        self.write(ctx, disk, Op::Replica(Box::new(self.repl.clone())), Pending::Quiet);
        self.sync(ctx, disk, false);
    }

    /// A site fails: its copy can be neither read nor written.
    fn site_fail(&mut self, ctx: C, disk: D, id: FaultId, site: usize) {
        if self.cfg.replication.is_none() || !self.repl.up[site] {
            return;
        }
        ctx.fault_effect(id);
        self.site_faults.push((id, site));
        self.repl.up[site] = false;
        self.repl.disconnected(ctx.now());
        self.write_replica(ctx, disk);
    }

    /// The link between the copies heals (a heal, its time is up, or the
    /// liveness phase).
    fn replica_heal(&mut self, ctx: C, disk: D) {
        let Some(r) = &self.cfg.replication else { return };
        if self.repl.link_up {
            return;
        }
        self.repl.link_up = true;
        self.repl.reconnected(r, ctx.now());
        if let Some(f) = self.link_fault.take() {
            ctx.fault_resolved(f);
        }
        self.write_replica(ctx, disk);
    }

    /// Fails over to the replica: it becomes the primary; what it lacks is
    /// lost, and the ledger hears of each mail (appends still in flight
    /// fail instead: the MTA keeps them).
    fn failover(&mut self, ctx: C, disk: D, from: NodeId, step: StepId) {
        let Some(r) = self.cfg.replication.clone() else {
            Self::step_failed(ctx, from, step, "the mailstore has no replica ([topology.replication])".to_string());
            return;
        };
        let lost = match self.repl.failover(&r, ctx.now()) {
            Ok(lost) => lost,
            Err(reason) => {
                Self::step_failed(ctx, from, step, reason);
                return;
            }
        };
        let mut by_box: BTreeMap<MailboxId, Vec<MailId>> = BTreeMap::new();
        for (mb, m) in lost {
            let mut in_flight = false;
            for p in &mut self.inflight {
                if let Pending::Append { mailbox, mail, temp: false, doomed, .. } = p {
                    if *mailbox == mb && *mail == m {
                        *doomed = true;
                        in_flight = true;
                    }
                }
            }
            // ---- planted bug `bug_failover_hides_loss` (off unless a test sets it) ----
            if !in_flight && !r.bug_failover_hides_loss {
                ledger::replica_lost(ctx, m);
            }
            // ---- end of planted bug ----
            by_box.entry(mb).or_default().push(m);
        }
        for (mailbox, mails) in by_box {
            self.write(ctx, disk, Op::Drop { mailbox, mails }, Pending::Quiet);
        }
        self.write_replica(ctx, disk);
        Self::step_done(ctx, from, step);
    }

    // ---- data faults, backups and restores (`backup.rs`) ----

    /// A data fault hits `share_ppm` of the mailboxes on `volumes` (all if
    /// empty), drawn from the filer's stream: they are damaged from now on,
    /// writes in flight to them fail, and (a destroyed volume) their
    /// snapshots go with them.
    fn damage(&mut self, ctx: C, disk: D, id: FaultId, volumes: &[u32], share_ppm: u32, destroy: bool) {
        let st = disk.state();
        let mut hit = Vec::new();
        for mb in 0..st.mailboxes() {
            let on = volumes.is_empty() || volumes.contains(&st.volume_of(mb));
            // Draw for every mailbox on the volumes, so the draws do not
            // depend on which mailboxes are already damaged.
            let drawn = on && (share_ppm >= 1_000_000 || ctx.rng().below(1_000_000) < share_ppm as u64);
            if drawn && !self.damaged[mb as usize] {
                hit.push(mb);
            }
        }
        if hit.is_empty() {
            return;
        }
        ctx.fault_effect(id);
        for &mb in &hit {
            self.damaged[mb as usize] = true;
        }
        // Appends in flight to them fail (the MTA keeps the mail); the
        // mail they would add is taken out again after the write lands.
        let mut doomed = Vec::new();
        for p in &mut self.inflight {
            if let Pending::Append { mailbox, mail, temp: false, doomed: d, .. } = p {
                if hit.binary_search(mailbox).is_ok() && !*d {
                    *d = true;
                    doomed.push((*mailbox, *mail));
                }
            }
        }
        for (mailbox, mail) in doomed {
            self.write(ctx, disk, Op::Drop { mailbox, mails: vec![mail] }, Pending::Quiet);
        }
        self.data_faults.push((id, hit.clone()));
        let destroy_snapshots = destroy && share_ppm >= 1_000_000;
        self.write(ctx, disk, Op::Damage { mailboxes: hit, on: true, destroy_snapshots }, Pending::Settle);
        self.sync(ctx, disk, false);
    }

    /// Mails already taken out of their mailbox by writes in flight.
    fn dropping(disk: &Disk<Mailstore>) -> Vec<MailId> {
        let mut v: Vec<MailId> = disk
            .pending()
            .flat_map(|op| match op {
                Op::Drop { mails, .. } => mails.clone(),
                _ => Vec::new(),
            })
            .collect();
        v.sort_unstable();
        v
    }

    /// Every damaged mailbox's mail that no usable copy holds any more is
    /// lost: the ledger hears of each, and it leaves the mailbox.
    fn settle_damage(&mut self, ctx: C, disk: D) {
        let st = disk.state();
        let dropping = Self::dropping(disk);
        let mut drops = Vec::new();
        for mb in 0..st.mailboxes() {
            if !self.damaged[mb as usize] {
                continue;
            }
            let gone: Vec<MailId> = st
                .mailbox(mb)
                .iter()
                .copied()
                .filter(|m| dropping.binary_search(m).is_err() && !st.backups.iter().any(|b| b.holds(mb, *m)))
                .collect();
            if !gone.is_empty() {
                drops.push((mb, gone));
            }
        }
        for (mailbox, mails) in drops {
            // ---- planted bug `bug_restore_hides_loss` (off unless a test sets it) ----
            if !self.cfg.bug_restore_hides_loss {
                for &m in &mails {
                    ledger::mailbox_unrecoverable(ctx, m);
                }
            }
            // ---- end of planted bug ----
            self.write(ctx, disk, Op::Drop { mailbox, mails }, Pending::Quiet);
        }
    }

    /// Backup set `set` takes its copy now (if the filer is up, which it is
    /// when its timer fires), and the next one is scheduled.
    fn take_backup(&mut self, ctx: C, disk: D, set: u32) {
        let now = ctx.now();
        self.write(ctx, disk, Op::Backup { set, at: now }, Pending::Settle);
        let next = self.cfg.backups[set as usize].next_copy(now + Dur(1));
        ctx.set(next.since(now), StoreTimer::Backup { set });
    }

    /// The damaged mailboxes on `volumes` (all if empty).
    fn damaged_on(&self, disk: &Disk<Mailstore>, volumes: &[u32]) -> Vec<MailboxId> {
        let st = disk.state();
        (0..st.mailboxes()).filter(|&mb| self.damaged[mb as usize] && (volumes.is_empty() || volumes.contains(&st.volume_of(mb)))).collect()
    }

    fn restore(&mut self, ctx: C, disk: D, (from, step): (NodeId, StepId), set: u32, volumes: &[u32], preserve_uids: bool) {
        let Some(cfg) = self.cfg.backups.get(set as usize).cloned() else {
            Self::step_failed(ctx, from, step, format!("no backup set {set} (the file server has {})", self.cfg.backups.len()));
            return;
        };
        let busy: Vec<MailboxId> = self.restores.iter().flat_map(|r| r.mailboxes.iter().map(|x| x.0)).collect();
        let targets: Vec<MailboxId> = self.damaged_on(disk, volumes).into_iter().filter(|mb| !busy.contains(mb)).collect();
        if targets.is_empty() {
            // Nothing damaged: nothing to restore.
            Self::step_done(ctx, from, step);
            return;
        }
        let st = disk.state();
        let b = &st.backups[set as usize];
        if b.broken {
            Self::step_failed(ctx, from, step, format!("backup `{}` is corrupt: no copy can be restored", cfg.name));
            return;
        }
        let mut mailboxes = Vec::with_capacity(targets.len());
        let mut missing = 0;
        for &mb in &targets {
            match b.newest(mb) {
                Some((_, mails)) => mailboxes.push((mb, mails.to_vec())),
                None => missing += 1,
            }
        }
        if missing > 0 {
            let kind = cfg.kind.name();
            let reason =
                format!("backup `{}` ({kind}) holds no usable copy of {missing} of the {} mailboxes to restore", cfg.name, targets.len());
            Self::step_failed(ctx, from, step, reason);
            return;
        }
        let took = cfg.restore_time(targets.len() as u64 * self.cfg.mailbox_mb as u64);
        let timer = ctx.set(took, StoreTimer::RestoreDone);
        self.restores.push(RestoreJob { from, step, mailboxes, preserve_uids, timer });
    }

    /// A restore's time is up: its mailboxes get their copy back (mail the
    /// copy lacks is lost), are whole again and, unless the restore keeps
    /// them, get new identifiers.
    fn restore_done(&mut self, ctx: C, disk: D, timer: TimerId) {
        let Some(i) = self.restores.iter().position(|r| r.timer == timer) else { return };
        let job = self.restores.remove(i);
        let st = disk.state();
        let dropping = Self::dropping(disk);
        let mut drops = Vec::new();
        for (mb, copy) in &job.mailboxes {
            let gone: Vec<MailId> =
                st.mailbox(*mb).iter().copied().filter(|m| dropping.binary_search(m).is_err() && !copy.contains(m)).collect();
            if !gone.is_empty() {
                drops.push((*mb, gone));
            }
        }
        for (mailbox, mails) in drops {
            for &m in &mails {
                ledger::mailbox_unrecoverable(ctx, m);
            }
            self.write(ctx, disk, Op::Drop { mailbox, mails }, Pending::Quiet);
        }
        let mailboxes: Vec<MailboxId> = job.mailboxes.iter().map(|x| x.0).collect();
        self.make_whole(ctx, disk, mailboxes, !job.preserve_uids);
        Self::step_done(ctx, job.from, job.step);
    }

    /// Recreates the damaged mailboxes on `volumes` empty: their mail is
    /// lost, their identifiers new.
    fn recreate(&mut self, ctx: C, disk: D, volumes: &[u32]) {
        let busy: Vec<MailboxId> = self.restores.iter().flat_map(|r| r.mailboxes.iter().map(|x| x.0)).collect();
        let targets: Vec<MailboxId> = self.damaged_on(disk, volumes).into_iter().filter(|mb| !busy.contains(mb)).collect();
        let st = disk.state();
        let dropping = Self::dropping(disk);
        let mut drops = Vec::new();
        for &mb in &targets {
            let gone: Vec<MailId> = st.mailbox(mb).iter().copied().filter(|m| dropping.binary_search(m).is_err()).collect();
            if !gone.is_empty() {
                drops.push((mb, gone));
            }
        }
        for (mailbox, mails) in drops {
            for &m in &mails {
                ledger::mailbox_unrecoverable(ctx, m);
            }
            self.write(ctx, disk, Op::Drop { mailbox, mails }, Pending::Quiet);
        }
        if !targets.is_empty() {
            self.make_whole(ctx, disk, targets, true);
        }
    }

    fn make_whole(&mut self, ctx: C, disk: D, mailboxes: Vec<MailboxId>, new_uids: bool) {
        for &mb in &mailboxes {
            self.damaged[mb as usize] = false;
        }
        if new_uids {
            self.write(ctx, disk, Op::ResetUids { mailboxes: mailboxes.clone() }, Pending::Quiet);
        }
        self.write(ctx, disk, Op::Damage { mailboxes, on: false, destroy_snapshots: false }, Pending::Quiet);
        let damaged = &self.damaged;
        self.data_faults.retain(|(id, hit)| {
            let whole = hit.iter().all(|mb| !damaged[*mb as usize]);
            if whole {
                ctx.fault_resolved(*id);
            }
            !whole
        });
        self.sync(ctx, disk, false);
    }

    fn resolve_hw(&mut self, ctx: C, which: impl Fn(HwKind) -> bool) {
        self.hw_faults.retain(|(id, kind)| {
            let hit = which(*kind);
            if hit {
                ctx.fault_resolved(*id);
            }
            !hit
        });
    }

    /// `replace-hardware`: the storage's failed parts replaced (latent
    /// faults stay), their faults resolved, and a cut replication link up
    /// again.
    fn replace_hardware(&mut self, ctx: C, disk: D, from: NodeId, step: StepId) {
        let now = ctx.now();
        self.ctl.storage.replace_hardware(now);
        self.resolve_hw(ctx, |k| !matches!(k, HwKind::Latent(_)));
        if let Some(r) = &self.cfg.replication {
            if self.repl.up != [true, true] {
                self.repl.up = [true, true];
                self.repl.reconnected(r, now);
                for (id, _) in std::mem::take(&mut self.site_faults) {
                    ctx.fault_resolved(id);
                }
                self.write(ctx, disk, Op::Replica(Box::new(self.repl.clone())), Pending::Quiet);
            }
        }
        self.sync(ctx, disk, true);
        Self::step_done(ctx, from, step);
    }

    /// `rollback-upgrade`: the broken lock manager back to the old release,
    /// its fault resolved, and (as configured) a grace period on restart.
    fn rollback_upgrade(&mut self, ctx: C, disk: D, from: NodeId, step: StepId) {
        if self.ctl.lock_broken {
            self.ctl.lock_broken = false;
            if let Some(id) = self.lock_fault.take() {
                ctx.fault_resolved(id);
            }
            // The rolled-back server restarts its lock manager.
            if self.cfg.grace_on_restart {
                self.start_grace(ctx, None);
            }
            self.sync(ctx, disk, true);
        }
        Self::step_done(ctx, from, step);
    }

    /// Carries out a recovery step's command, answering the step done or
    /// failed (a rebuild or a migration answers when it finishes).
    fn command(&mut self, ctx: C, disk: D, from: NodeId, step: StepId, action: Action) {
        let now = ctx.now();
        match action {
            Action::ReplaceHardware => self.replace_hardware(ctx, disk, from, step),
            Action::FixRedundancy => {
                self.ctl.storage.fix_redundancy(now);
                self.resolve_hw(ctx, |k| matches!(k, HwKind::Path(_)));
                self.sync(ctx, disk, true);
                Self::step_done(ctx, from, step);
            }
            Action::StartRebuild { parallel, order } => {
                match self.ctl.storage.start_rebuild_ordered(parallel, &order, &self.users_per_group(), now) {
                    Ok(_) => {
                        self.rebuild_steps.push((from, step));
                        self.sync(ctx, disk, true);
                    }
                    Err(reason) => Self::step_failed(ctx, from, step, reason),
                }
            }
            Action::EnableTempStores => {
                self.ctl.temp_enabled = true;
                self.sync(ctx, disk, true);
                Self::step_done(ctx, from, step);
            }
            Action::MergeBack => self.merge_back(ctx, disk, from, step),
            Action::Migrate { steps, keep_uidls, volumes } => match self.ctl.storage.start_migration(&volumes, steps, now) {
                Ok(_) => {
                    self.ctl.keep_uidls = keep_uidls;
                    self.migrate_steps.push((from, step));
                    self.sync(ctx, disk, true);
                }
                Err(reason) => Self::step_failed(ctx, from, step, reason),
            },
            Action::RollbackUpgrade => self.rollback_upgrade(ctx, disk, from, step),
            Action::Giveback => match self.ctl.storage.giveback(now) {
                Ok(_) => {
                    self.sync(ctx, disk, true);
                    Self::step_done(ctx, from, step);
                }
                Err(reason) => Self::step_failed(ctx, from, step, reason),
            },
            Action::PowerCycle => {
                self.ctl.storage.power_cycle(now);
                self.sync(ctx, disk, true);
                Self::step_done(ctx, from, step);
            }
            Action::Restore { set, volumes, preserve_uids } => self.restore(ctx, disk, (from, step), set, &volumes, preserve_uids),
            Action::RecreateAccounts { volumes } => {
                self.recreate(ctx, disk, &volumes);
                Self::step_done(ctx, from, step);
            }
            Action::Failover => self.failover(ctx, disk, from, step),
            Action::ResetCluster | Action::PowerOn { .. } | Action::FlushQueue | Action::Standby | Action::Unstandby => {
                Self::step_failed(ctx, from, step, format!("the file server does not {}", action.name()))
            }
        }
    }

    #[inline]
    fn serve(&mut self, ctx: C, disk: D, from: NodeId, msg: Store) {
        match msg {
            Store::Append { mail, locked, slot } => self.append(ctx, disk, from, slot, mail, locked),
            Store::Access { mailbox, proto } => self.access(ctx, disk, from, mailbox, proto),
            Store::AppendReply { .. } | Store::AccessReply { .. } => {}
        }
    }
}

impl Node<Msg, World> for Filer {
    type Disk = Mailstore;

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<Mailstore>) {
        match input {
            Input::Start => self.boot(ctx, disk),
            Input::Message { from, msg: Msg::Store(s) } => {
                if ctx.now() < self.hung_until {
                    self.stalled.push((from, s));
                } else {
                    self.serve(ctx, disk, from, s);
                }
            }
            Input::Message { from, msg: Msg::Ops(Ops::Command { step, action }) } => self.command(ctx, disk, from, step, action),
            Input::Fault { id, msg: Msg::Fault(f), .. } => self.fault(ctx, disk, id, f),
            Input::Durable { .. } => self.durable(ctx, disk),
            Input::Timer { tag, id } => match Timer::from_tag(tag) {
                Some(Timer::Store(StoreTimer::Storage)) if self.timer.is_some_and(|x| x.0 == id) => {
                    self.timer = None;
                    self.sync(ctx, disk, false);
                }
                Some(Timer::Store(StoreTimer::HangEnd)) if ctx.now() >= self.hung_until => {
                    if let Some(f) = self.hang_fault.take() {
                        ctx.fault_resolved(f);
                    }
                    for (from, s) in std::mem::take(&mut self.stalled) {
                        self.serve(ctx, disk, from, s);
                    }
                }
                Some(Timer::Store(StoreTimer::Backup { set })) => self.take_backup(ctx, disk, set),
                Some(Timer::Store(StoreTimer::RestoreDone)) => self.restore_done(ctx, disk, id),
                Some(Timer::Store(StoreTimer::ReplicaHeal)) => self.replica_heal(ctx, disk),
                Some(Timer::Store(StoreTimer::GraceEnd)) if ctx.now() >= self.grace_until => {
                    if let Some(f) = self.grace_fault.take() {
                        ctx.fault_resolved(f);
                    }
                }
                _ => {}
            },
            _ => {}
        }
        // What monitoring's check of the file server finds: every volume
        // online, the lock manager working, and an answer (not hung).
        let serving = !self.ctl.lock_broken && self.unavailable == 0 && ctx.now() >= self.hung_until;
        ctx.publish(if serving { crate::ops::SERVING } else { 0 });
    }
}

#[cfg(test)]
mod tests {

    /// The lock grace bounds may be equal; a minimum above the maximum is
    /// refused, naming both (found by cargo-mutants: only the refusal was
    /// tested, not the equal case).
    #[test]
    fn lock_grace_bounds_may_be_equal_but_not_reversed() {
        let mut cfg = FilerConfig::new(10);
        cfg.lock_grace_max = cfg.lock_grace_min;
        cfg.validate().expect("equal bounds are a fixed grace");
        cfg.lock_grace_min = cfg.lock_grace_max + Dur::secs(1);
        assert!(cfg.validate().unwrap_err().contains("lock_grace_min"));
    }
    use super::*;
    use mailsim_sim::{Config, Fault, LinkConfig, Outcome, RunReport};

    // The toy agent's timers: send plan entry i, or resend it.
    const SEND: u64 = 0;
    const RESEND: u64 = 1 << 32;

    /// A toy delivery agent: creates mails on a plan, holds each in a
    /// (pretend) durable queue, appends it to the filer and retries failures.
    struct Agent {
        filer: NodeId,
        locked: bool,
        plan: Vec<(Dur, MailboxId)>,
        /// Plan entries whose first Ok reply is lost (the agent resends).
        lose_first_ok: Vec<usize>,
        retry: Dur,
        ids: Vec<Option<MailId>>,
        oks: Vec<u32>,
        done: Vec<bool>,
        errors: Vec<StoreError>,
        replies: Vec<(MailId, Time)>,
    }

    impl Agent {
        fn new(filer: NodeId, locked: bool, plan: Vec<(Dur, MailboxId)>) -> Agent {
            let n = plan.len();
            Agent {
                filer,
                locked,
                plan,
                lose_first_ok: Vec::new(),
                retry: Dur::mins(10),
                ids: vec![None; n],
                oks: vec![0; n],
                done: vec![false; n],
                errors: Vec::new(),
                replies: Vec::new(),
            }
        }
        fn send(&self, ctx: &mut Ctx<'_, Msg, World>, i: usize) {
            let id = self.ids[i].expect("created");
            let mail = Envelope { id, rcpt: self.plan[i].1, created: Time::ZERO };
            ctx.send(self.filer, Msg::Store(Store::Append { mail, locked: self.locked, slot: i as u32 }));
        }
    }

    impl Node<Msg, World> for Agent {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            match input {
                Input::Start => {
                    for (i, (at, _)) in self.plan.iter().enumerate() {
                        ctx.set(*at, Timer::Custom(SEND | i as u64));
                    }
                }
                Input::Timer { tag, .. } => {
                    let Some(Timer::Custom(p)) = Timer::from_tag(tag) else { panic!("only the agent's own timers") };
                    let i = (p & 0xffff_ffff) as usize;
                    if p & RESEND == 0 {
                        let now = ctx.now();
                        let id = ctx.world.new_mail(self.plan[i].1, now);
                        // Durable in the agent's queue, then accepted.
                        ledger::enqueued(ctx, id);
                        ledger::acknowledged(ctx, id);
                        ledger::sender_released(ctx, id);
                        self.ids[i] = Some(id);
                    }
                    if !self.done[i] {
                        self.send(ctx, i);
                    }
                }
                Input::Message { msg: Msg::Store(Store::AppendReply { id, result, slot }), .. } => {
                    self.replies.push((id, ctx.now()));
                    // The reply names the plan entry it answers (the slot we sent).
                    let i = slot as usize;
                    assert_eq!(self.ids[i], Some(id), "the filer echoes the caller's slot");
                    match result {
                        Ok(()) => {
                            self.oks[i] += 1;
                            if self.lose_first_ok.contains(&i) && self.oks[i] == 1 {
                                ctx.set(self.retry, Timer::Custom(RESEND | i as u64));
                            } else if !self.done[i] {
                                self.done[i] = true;
                                ledger::dequeued(ctx, id);
                            }
                        }
                        Err(e) => {
                            self.errors.push(e);
                            ctx.set(self.retry, Timer::Custom(RESEND | i as u64));
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// A toy operator: runs actions at set times and notes when they finish
    /// or fail.
    struct Operator {
        filer: NodeId,
        plan: Vec<(Dur, Action)>,
        done: Vec<(StepId, Time)>,
        failed: Vec<(StepId, Time, String)>,
    }

    impl Node<Msg, World> for Operator {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            match input {
                Input::Start => {
                    for (i, (at, _)) in self.plan.iter().enumerate() {
                        ctx.set(*at, Timer::Custom(i as u64));
                    }
                }
                Input::Timer { tag, .. } => {
                    let Some(Timer::Custom(step)) = Timer::from_tag(tag) else { panic!("only the operator's own timers") };
                    let step = step as StepId;
                    let action = self.plan[step as usize].1.clone();
                    ctx.send(self.filer, Msg::Ops(Ops::Command { step, action }));
                }
                Input::Message { msg: Msg::Ops(Ops::StepDone { step }), .. } => self.done.push((step, ctx.now())),
                Input::Message { msg: Msg::Ops(Ops::StepFailed { step, reason }), .. } => self.failed.push((step, ctx.now(), reason)),
                _ => {}
            }
        }
    }

    /// Two shelves, two groups, two volumes; mailbox `m` on volume `m % 2`;
    /// a group rebuilds in one hour.
    fn cfg() -> FilerConfig {
        FilerConfig {
            mailboxes: 20,
            placement: Placement::RoundRobin,
            storage: StorageConfig {
                shelves: 2,
                groups: 2,
                volumes: 2,
                // Every disk of a group goes stale; 14 of them at 35 MB/s
                // take an hour; no client load slows the rebuild.
                stale_disks: crate::storage::StaleDisks::Chance(1_000_000),
                disk_bytes: 35_000_000 * 3600 / 14,
                foreground_peak_permille: [0, 0],
                ..StorageConfig::default()
            },
            ..FilerConfig::default()
        }
    }

    struct Run {
        sim: Sim<Msg, World>,
        filer: NodeId,
        agents: Vec<NodeId>,
        ops: Option<NodeId>,
    }

    impl Run {
        fn new(cfg: FilerConfig, hours: u64) -> Run {
            Run::with(cfg, hours, true)
        }
        /// A run that goes on after a violation, as a topology's does.
        fn lasting(cfg: FilerConfig, hours: u64) -> Run {
            Run::with(cfg, hours, false)
        }
        fn with(cfg: FilerConfig, hours: u64, stop_on_violation: bool) -> Run {
            let mut c = Config::new(11);
            c.end_at = Some(Time::from_hours(hours));
            c.stop_on_violation = stop_on_violation;
            let mut sim: Sim<Msg, World> = crate::ledger::new_sim(c);
            let filer = Filer::register(&mut sim, "filer", NodeConfig::default(), cfg);
            Run { sim, filer, agents: Vec::new(), ops: None }
        }
        fn agent(&mut self, name: &str, locked: bool, plan: Vec<(Dur, MailboxId)>, lose_first_ok: Vec<usize>) -> NodeId {
            let filer = self.filer;
            let id = self.sim.add_node(name, NodeConfig::default(), (), move |_| {
                let mut a = Agent::new(filer, locked, plan.clone());
                a.lose_first_ok = lose_first_ok.clone();
                a
            });
            self.agents.push(id);
            id
        }
        fn ops(&mut self, plan: Vec<(Dur, Action)>) {
            let filer = self.filer;
            self.ops = Some(self.sim.add_node("ops", NodeConfig::default(), (), move |_| Operator {
                filer,
                plan: plan.clone(),
                done: vec![],
                failed: vec![],
            }));
        }
        fn fault(&mut self, at: Dur, kind: &str, f: ModelFault) {
            let target = self.filer;
            self.sim.schedule(Time::ZERO + at, Fault::Model { target, kind: kind.to_string(), msg: Msg::Fault(f) });
        }
        fn run(&mut self) -> RunReport {
            self.sim.run()
        }
        fn agent_state(&self, i: usize) -> &Agent {
            self.sim.node::<Agent>(self.agents[i]).expect("agent up")
        }
        fn steps(&self) -> &[(StepId, Time)] {
            &self.sim.node::<Operator>(self.ops.expect("an operator")).expect("operator up").done
        }
        fn failed(&self) -> &[(StepId, Time, String)] {
            &self.sim.node::<Operator>(self.ops.expect("an operator")).expect("operator up").failed
        }
        fn store(&self) -> &Mailstore {
            self.sim.disk::<Filer>(self.filer).expect("a filer").state()
        }
    }

    // ---- data faults, backups and restores ----

    /// `cfg()` with one backup set, the first in-run copy at 2 h; the run
    /// goes on after a violation, as a topology's does.
    fn backed_up(kind: BackupKind) -> FilerConfig {
        let mut c = cfg();
        let mut set = BackupSet::new("nightly", kind, Dur::hours(2));
        set.every = Dur::days(1);
        c.backups = vec![set];
        c
    }

    /// 40 mails at 1 s (before the 2 h copy), 40 more at 3 h 30 min (after
    /// it), over the 20 mailboxes: 20 of each batch on volume 0 (even
    /// mailboxes).
    fn two_batches(run: &mut Run) {
        let mut p = plan(40, Dur::secs(1), 20);
        p.extend(plan(40, Dur::hours(3) + Dur::mins(30), 20));
        run.agent("mx-1", true, p, vec![]);
    }

    fn whole_share() -> u32 {
        1_000_000
    }

    #[test]
    fn a_restore_from_a_good_backup_loses_exactly_the_mail_between_the_copy_and_the_corruption() {
        let mut run = Run::lasting(backed_up(BackupKind::Tape), 8);
        two_batches(&mut run);
        run.fault(Dur::hours(4), "data-corruption", ModelFault::DataCorruption { volumes: vec![0], share_ppm: whole_share() });
        run.ops(vec![(Dur::hours(5), Action::Restore { set: 0, volumes: vec![], preserve_uids: true })]);
        let r = run.run();
        let w = run.sim.world();
        // The second batch's mails on volume 0: delivered after the 2 h
        // copy, before the 4 h corruption.
        let after_copy: Vec<MailId> = (40..80).filter(|i| (i % 40) % 2 == 0).collect();
        assert_eq!(after_copy.len(), 20);
        assert_eq!((w.counts.lost, w.counts.lost_by.mailbox), (20, 20), "{:?}", w.counts);
        assert_eq!(w.counts.delivered, 60);
        assert_eq!(r.violations.len(), 20, "one custody violation per lost mail");
        assert!(r.violations.iter().all(|v| v.detail.contains("no usable backup")), "{:?}", r.violations[0]);
        // The ledger's own record and the mailstore agree, mail by mail.
        let st = run.store();
        for mb in (0..20).step_by(2) {
            assert!(!st.damaged(mb), "restored");
            assert_eq!(st.mailbox(mb).len(), 2, "mailbox {mb} holds its two mails of the first batch");
            assert!(st.mailbox(mb).iter().all(|m| !after_copy.contains(m)));
        }
        assert_eq!(stored(&run), w.counts.delivered, "the mailstore agrees with the ledger");
        assert_eq!(run.steps().len(), 1, "{:?}", run.failed());
        // 10 mailboxes of 1 GB from LTO-8: 2 min + 29 s after the command.
        let (_, done) = run.steps()[0];
        assert_eq!(done.since(Time::from_hours(5)).as_secs() / 10, (120 + 29) / 10, "{done}");
        assert_eq!(st.uidl_epoch(0), 0, "the restore kept the identifiers");
    }

    #[test]
    fn a_corrupt_backup_makes_the_restore_fail_and_the_whole_volume_s_mail_is_lost() {
        let mut run = Run::lasting(backed_up(BackupKind::Disk), 8);
        two_batches(&mut run);
        run.fault(Dur::hours(3), "backup-corrupt", ModelFault::BackupCorrupt { set: 0 });
        run.fault(Dur::hours(4), "data-corruption", ModelFault::DataCorruption { volumes: vec![0], share_ppm: whole_share() });
        run.ops(vec![
            (Dur::hours(5), Action::Restore { set: 0, volumes: vec![], preserve_uids: false }),
            (Dur::hours(6), Action::RecreateAccounts { volumes: vec![0] }),
        ]);
        let r = run.run();
        let w = run.sim.world();
        // Every mail ever delivered to volume 0: 20 of each batch.
        assert_eq!((w.counts.lost, w.counts.delivered), (40, 40), "{:?}", w.counts);
        assert_eq!(r.violations.len(), 40);
        let failed = run.failed();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].2.contains("corrupt"), "{}", failed[0].2);
        assert_eq!(run.steps().len(), 1, "recreate-accounts is done");
        let st = run.store();
        assert!((0..20).all(|mb| !st.damaged(mb) && (mb % 2 == 1 || st.mailbox(mb).is_empty())));
        assert_eq!(st.uidl_epoch(0), 1, "recreated accounts get new identifiers");
        assert_eq!(st.uidl_epoch(1), 0, "volume 1 was not touched");
        assert_eq!(stored(&run), run.sim.world().counts.delivered, "the mailstore agrees with the ledger");
    }

    #[test]
    fn mail_for_a_damaged_mailbox_waits_and_is_delivered_after_the_restore() {
        let mut run = Run::lasting(backed_up(BackupKind::Tape), 8);
        // Both to volume 0: one before the corruption, one during.
        run.agent("mx-1", true, vec![(Dur::mins(1), 0), (Dur::hours(4) + Dur::mins(10), 2)], vec![]);
        run.fault(Dur::hours(4), "data-corruption", ModelFault::DataCorruption { volumes: vec![0], share_ppm: whole_share() });
        run.ops(vec![(Dur::hours(5), Action::Restore { set: 0, volumes: vec![0], preserve_uids: false })]);
        run.run();
        let w = run.sim.world();
        assert_eq!((w.counts.lost, w.counts.delivered, w.outstanding()), (0, 2, 0), "{:?}", w.counts);
        let a = run.agent_state(0);
        assert!(!a.errors.is_empty() && a.errors.iter().all(|e| *e == StoreError::Offline), "{:?}", a.errors);
        assert_eq!(run.store().uidl_epoch(0), 1, "a restore without preserve_uids changes the identifiers");
        assert_eq!(run.store().uidl_epoch(1), 0);
        assert_eq!(w.stats.unavailable.iter().map(|x| x.1).max(), Some(10), "volume 0's ten mailboxes were unavailable");
        assert_eq!(w.stats.unavailable.last().map(|x| x.1), Some(0));
    }

    #[test]
    fn snapshots_survive_a_corruption_but_die_with_a_destroyed_volume() {
        let snapshots = || {
            let mut c = cfg();
            c.backups = vec![BackupSet::new("hourly", BackupKind::Snapshot, Dur::hours(1))];
            c
        };
        let go = |fault: ModelFault| {
            let mut run = Run::lasting(snapshots(), 8);
            two_batches(&mut run);
            run.fault(Dur::hours(4) + Dur::mins(30), "data", fault);
            run.ops(vec![(Dur::hours(5), Action::Restore { set: 0, volumes: vec![0], preserve_uids: true })]);
            run.run();
            let failed: Vec<String> = run.failed().iter().map(|f| f.2.clone()).collect();
            (run.sim.world().counts.lost, failed, run.store().copy_times(0))
        };
        // The 4 h snapshot holds both batches: nothing lost.
        let (lost, failed, copies) = go(ModelFault::DataCorruption { volumes: vec![0], share_ppm: whole_share() });
        assert_eq!((lost, failed.len()), (0, 0), "{failed:?}");
        assert_eq!(copies.len(), 6, "six hourly snapshots kept: {copies:?}");
        assert_eq!(copies.last(), Some(&Time::from_hours(7)));
        // Destroyed with its volume: every snapshot of it too.
        let (lost, failed, _) = go(ModelFault::DataLoss { volumes: vec![0], share_ppm: whole_share() });
        assert_eq!(lost, 40, "every mail of volume 0");
        assert!(failed.len() == 1 && failed[0].contains("no usable copy of 10"), "{failed:?}");
    }

    #[test]
    fn a_share_of_mailboxes_is_hit_and_without_backups_their_mail_is_lost_at_once() {
        let mut c = cfg();
        c.mailboxes = 200;
        let mut run = Run::lasting(c, 4);
        run.agent("mx-1", true, plan(400, Dur::secs(1), 200), vec![]);
        run.fault(Dur::hours(1), "data-loss", ModelFault::DataLoss { volumes: vec![], share_ppm: 250_000 });
        run.run();
        let st = run.store();
        let hit = (0..200).filter(|mb| st.damaged(*mb)).count() as u64;
        assert!((30..=70).contains(&hit), "about a quarter of 200: {hit}");
        let w = run.sim.world();
        assert_eq!(w.counts.lost, 2 * hit, "two mails each");
        assert_eq!(w.counts.delivered, 400 - 2 * hit);
        assert!((0..200).filter(|mb| st.damaged(*mb)).all(|mb| st.mailbox(mb).is_empty()));
        assert_eq!(stored(&run), run.sim.world().counts.delivered, "the mailstore agrees with the ledger");
    }

    /// Planted bug `bug_restore_hides_loss`: the filer drops the mail no
    /// backup holds without telling the ledger, which goes on counting it
    /// delivered: the ledger alone says "lost 0" while the mailstore holds
    /// 20 mails fewer than it counts (the reconciliation's catch, through a
    /// whole topology: `topology::tests`).
    #[test]
    fn a_restore_that_hides_lost_mail_leaves_the_ledger_and_the_mailstore_apart() {
        let go = |bug: bool| {
            let mut c = backed_up(BackupKind::Tape);
            c.bug_restore_hides_loss = bug;
            let mut run = Run::lasting(c, 8);
            two_batches(&mut run);
            run.fault(Dur::hours(4), "data-corruption", ModelFault::DataCorruption { volumes: vec![0], share_ppm: whole_share() });
            run.ops(vec![(Dur::hours(5), Action::Restore { set: 0, volumes: vec![], preserve_uids: true })]);
            run.run();
            let w = run.sim.world();
            (w.counts.lost, w.counts.delivered, stored(&run))
        };
        assert_eq!(go(false), (20, 60, 60), "the clean twin");
        assert_eq!(go(true), (0, 80, 60), "the ledger was not told");
    }

    /// Mails in the mailstore's mailboxes.
    fn stored(run: &Run) -> u64 {
        let st = run.store();
        (0..st.mailboxes()).map(|mb| st.mailbox(mb).len() as u64).sum()
    }

    fn plan(n: u32, start: Dur, mailboxes: u32) -> Vec<(Dur, MailboxId)> {
        (0..n).map(|i| (start + Dur::millis(100 * i as u64), i % mailboxes)).collect()
    }

    fn assert_ok(r: &RunReport) {
        assert!(r.outcome.is_ok(), "{}", r.outcome);
    }

    fn violation(r: &RunReport) -> (String, String) {
        match &r.outcome {
            Outcome::SafetyViolation(v) => (v.property.clone(), v.detail.clone()),
            o => panic!("expected a safety violation, got {o}"),
        }
    }

    #[test]
    fn deliveries_succeed() {
        let mut run = Run::new(cfg(), 1);
        run.agent("mx-1", true, plan(40, Dur::secs(1), 20), vec![]);
        assert_ok(&run.run());
        let w = run.sim.world();
        assert_eq!(w.counts.delivered, 40);
        assert_eq!(w.outstanding(), 0);
        assert!(run.agent_state(0).errors.is_empty());
        let stored: usize = (0..20).map(|m| run.store().mailbox(m).len()).sum();
        assert_eq!(stored, 40);
        assert_eq!(run.store().mailbox(3).len(), 2);
        assert_eq!(w.stats.unavailable, vec![(Time::ZERO, 0)]);
    }

    #[test]
    fn a_broken_lock_manager_fails_every_delivery_until_rolled_back() {
        let mut run = Run::new(cfg(), 4);
        run.fault(Dur::millis(500), "lock-broken", ModelFault::LockBroken);
        run.agent("mx-1", true, plan(10, Dur::secs(1), 20), vec![]);
        run.ops(vec![(Dur::hours(2), Action::RollbackUpgrade)]);
        let rollback = Time::from_hours(2);
        run.sim.always("nothing delivered before the rollback", move |o| {
            if o.now < rollback && o.world.counts.delivered > 0 {
                return Err("a mail was delivered through a broken lock manager".to_string());
            }
            Ok(())
        });
        let report = run.run();
        assert_ok(&report);
        let a = run.agent_state(0);
        assert!(a.errors.len() >= 10 * 11, "every try for two hours fails: {}", a.errors.len());
        assert!(a.errors.iter().all(|e| *e == StoreError::Lock));
        // The failure is reported after the delivery agent's lock retries.
        assert!(a.replies.iter().all(|(_, t)| *t >= Time::from_secs(21)));
        let w = run.sim.world();
        assert_eq!(w.counts.delivered, 10, "all delivered after the fix");
        let f = report.faults.iter().find(|f| f.kind == "lock-broken").expect("injected");
        let ended = f.ended.expect("resolved");
        assert!(f.effect && ended > rollback && ended < rollback + Dur::millis(20), "{f:?}");
        assert_eq!(run.steps().len(), 1);
    }

    #[test]
    fn unlocked_writes_bypass_a_broken_lock_manager() {
        // The planted-bug agent does not care about locks at all.
        let mut run = Run::new(cfg(), 1);
        run.fault(Dur::millis(500), "lock-broken", ModelFault::LockBroken);
        run.agent("mx-1", false, plan(5, Dur::secs(1), 20), vec![]);
        assert_ok(&run.run());
        assert_eq!(run.sim.world().counts.delivered, 5);
    }

    /// The OpenSRS sequence on shelf 0 (volume 0, even mailboxes): latent
    /// path fault, controller failure, temp stores, replacement, rebuild,
    /// merge-back. Mail 0 reaches its mailbox but its reply is lost, so the
    /// agent delivers it again during the outage: it lands in the temp store.
    fn opensrs(merge_dedup: bool) -> Run {
        let mut run = Run::new(FilerConfig { merge_dedup, ..cfg() }, 5);
        run.fault(Dur::secs(30), "path-fault", ModelFault::PathFault { shelf: 0 });
        run.fault(Dur::secs(60), "controller-fail", ModelFault::ControllerFail { shelf: 0, controller: 1 });
        let mut p = vec![(Dur::millis(100), 0)];
        p.extend(plan(20, Dur::secs(120), 20));
        run.agent("mx-1", true, p, vec![0]);
        run.ops(vec![
            (Dur::mins(30), Action::EnableTempStores),
            (Dur::hours(1), Action::ReplaceHardware),
            (Dur::hours(1) + Dur::secs(1), Action::StartRebuild { parallel: false, order: Default::default() }),
            (Dur::hours(3), Action::MergeBack),
        ]);
        run
    }

    #[test]
    fn an_offline_volume_defers_then_temp_stores_and_merge_back_deliver_once() {
        let mut run = opensrs(true);
        let report = run.run();
        assert_ok(&report);
        let a = run.agent_state(0);
        assert!(a.errors.contains(&StoreError::Offline));
        assert!(a.errors.iter().all(|e| *e == StoreError::Offline));
        assert!(a.done.iter().all(|d| *d));
        let w = run.sim.world();
        assert_eq!(w.counts.delivered, 21);
        assert_eq!(w.counts.duplicate_deliveries, 0);
        assert_eq!(w.outstanding(), 0);
        // Half the mailboxes were unavailable, until the rebuild finished
        // (an hour after the command reached the filer).
        let u = &w.stats.unavailable;
        assert_eq!(u.len(), 3, "{u:?}");
        assert_eq!(u[..2], [(Time::ZERO, 0), (Time::from_secs(60), 10)]);
        assert_eq!(u[2].1, 0);
        let rebuilt = u[2].0;
        let ordered = Time::from_hours(2) + Dur::secs(1);
        assert!(rebuilt > ordered && rebuilt < ordered + Dur::millis(10), "{rebuilt}");
        let store = run.store();
        assert_eq!(store.mailbox(0).iter().filter(|m| **m == 0).count(), 1, "mail 0 once");
        assert_eq!(store.temp_mailboxes().count(), 0, "temp stores merged and emptied");
        assert!((0..20).all(|m| store.mailbox(m).len() == 1 + usize::from(m == 0)));
        let steps = run.steps();
        assert_eq!(steps.len(), 4);
        let answered = steps.iter().find(|s| s.0 == 2).expect("rebuild step").1;
        assert!(answered > rebuilt && answered < rebuilt + Dur::millis(10));
        // Both confluent faults had an effect; the path fault only through
        // the controller failure.
        for kind in ["path-fault", "controller-fail"] {
            let f = report.faults.iter().find(|f| f.kind == kind).expect("injected");
            let ended = f.ended.expect("resolved by the replacement");
            assert!(f.effect && ended > Time::from_hours(1) && ended < Time::from_hours(1) + Dur::millis(10), "{f:?}");
        }
    }

    #[test]
    fn merge_back_without_dedup_is_caught_as_duplicate_delivery() {
        let mut run = opensrs(false);
        let (property, detail) = violation(&run.run());
        assert_eq!(property, ledger::CUSTODY);
        assert!(detail.contains("mail 0") && detail.contains("duplicate"), "{detail}");
    }

    #[test]
    fn webmail_reads_the_temp_store_while_pop_and_imap_are_denied() {
        struct Reader {
            filer: NodeId,
            seen: Vec<(Proto, Result<AccessInfo, StoreError>)>,
        }
        impl Node<Msg, World> for Reader {
            type Disk = ();
            fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
                match input {
                    Input::Start => {
                        ctx.set(Dur::mins(50), Timer::Custom(0));
                    }
                    Input::Timer { .. } => {
                        for proto in [Proto::Pop, Proto::Imap, Proto::Webmail] {
                            ctx.send(self.filer, Msg::Store(Store::Access { mailbox: 2, proto }));
                        }
                    }
                    Input::Message { msg: Msg::Store(Store::AccessReply { proto, result, .. }), .. } => self.seen.push((proto, result)),
                    _ => {}
                }
            }
        }
        let mut run = opensrs(true);
        let filer = run.filer;
        let reader = run.sim.add_node("reader", NodeConfig::default(), (), move |_| Reader { filer, seen: vec![] });
        assert_ok(&run.run());
        let mut seen = run.sim.node::<Reader>(reader).expect("up").seen.clone();
        seen.sort_by_key(|s| s.0);
        assert_eq!(
            seen,
            vec![
                (Proto::Pop, Err(StoreError::Offline)),
                (Proto::Imap, Err(StoreError::Offline)),
                (Proto::Webmail, Ok(AccessInfo { count: 1, uidl_epoch: 0, temporary: true })),
            ]
        );
    }

    #[test]
    fn unlocked_concurrent_writers_are_caught_as_split_brain() {
        let two = |locked: bool| {
            let mut run = Run::new(cfg(), 1);
            // Equal, fixed latencies: both appends arrive at once.
            run.sim.set_default_link(LinkConfig { latency_min: Dur::millis(1), latency_max: Dur::millis(1), loss_ppm: 0 });
            run.agent("mx-1", locked, vec![(Dur::secs(1), 7)], vec![]);
            run.agent("mx-2", locked, vec![(Dur::secs(1), 7)], vec![]);
            let report = run.run();
            (run, report)
        };
        let (run, report) = two(true);
        assert_ok(&report);
        assert_eq!(run.store().mailbox(7).len(), 2, "serialized by the lock");
        let (_, report) = two(false);
        let (property, detail) = violation(&report);
        assert_eq!(property, ledger::SPLIT_BRAIN);
        assert!(detail.contains("mailbox 7"), "{detail}");
    }

    #[test]
    fn a_third_disk_failure_loses_the_mail_on_the_group() {
        let disks = |n: u32| {
            let mut run = Run::new(cfg(), 2);
            run.agent("mx-1", true, plan(10, Dur::secs(1), 20), vec![]);
            for k in 0..n {
                run.fault(Dur::hours(1) + Dur::secs(k as u64), "disk-fail", ModelFault::DiskFail { group: 0 });
            }
            let report = run.run();
            (run, report)
        };
        let (run, report) = disks(2);
        assert_ok(&report);
        assert_eq!(run.sim.world().counts.lost, 0);
        let (run, report) = disks(3);
        let (property, detail) = violation(&report);
        assert_eq!(property, ledger::CUSTODY);
        assert!(detail.contains("destroyed"), "{detail}");
        assert!(run.sim.world().counts.lost >= 1);
        assert!(report.faults.iter().all(|f| f.effect));
    }

    #[test]
    fn degraded_storage_slows_replies_and_a_hang_holds_them() {
        let mut run = Run::new(cfg(), 1);
        run.fault(Dur::millis(500), "degrade", ModelFault::Degrade { permille: 10_000 });
        run.fault(Dur::secs(10), "hang", ModelFault::Hang { for_: Dur::mins(5) });
        run.agent("mx-1", true, vec![(Dur::secs(1), 1), (Dur::secs(20), 2)], vec![]);
        assert_ok(&run.run());
        let r = &run.agent_state(0).replies;
        assert_eq!(r.len(), 2);
        // 6 ms × 10 plus the network.
        assert!(r[0].1 >= Time::from_secs(1) + Dur::millis(60) && r[0].1 < Time::from_secs(2), "{:?}", r[0]);
        assert!(r[1].1 >= Time::from_secs(10) + Dur::mins(5), "held by the hang: {:?}", r[1]);
    }

    #[test]
    fn migration_without_uidls_changes_epochs_and_restores_latency() {
        let mut run = Run::new(cfg(), 60);
        run.fault(Dur::millis(500), "degrade", ModelFault::Degrade { permille: 10_000 });
        run.agent("mx-1", true, plan(4, Dur::secs(1), 4), vec![]);
        run.ops(vec![(Dur::hours(1), Action::Migrate { steps: 2, keep_uidls: false, volumes: vec![] })]);
        let report = run.run();
        assert_ok(&report);
        let steps = run.steps();
        assert_eq!(steps.len(), 1);
        assert!(steps[0].1 > Time::from_hours(25), "the second step waits a night: {}", steps[0].1);
        assert!((0..4).all(|m| run.store().uidl_epoch(m) == 1));
        let f = report.faults.iter().find(|f| f.kind == "degrade").expect("injected");
        let ended = f.ended.expect("over once everything moved");
        assert!(ended < steps[0].1 && ended + Dur::millis(10) > steps[0].1, "{f:?}");
        let filer = run.sim.node::<Filer>(run.filer).expect("up");
        assert!((0..2).all(|v| filer.storage().latency_multiplier_permille(v) == 1000));
    }

    #[test]
    fn placement_is_fixed_by_seed_and_spreads_randomly() {
        let c = FilerConfig { mailboxes: 10_000, ..FilerConfig::default() };
        let a = Mailstore::new(&c, 1);
        assert_eq!(a.placement, Mailstore::new(&c, 1).placement);
        assert_ne!(a.placement, Mailstore::new(&c, 2).placement);
        let mut per = [0u32; 6];
        for v in &a.placement {
            per[*v as usize] += 1;
        }
        assert!(per.iter().all(|n| (1500..1850).contains(n)), "{per:?}");
        // Behind shelf 0 (volumes 0, 2, 4): about half.
        let half = per[0] + per[2] + per[4];
        assert!((4800..5200).contains(&half), "{half}");
    }

    #[test]
    fn a_restarted_filer_keeps_mail_and_broken_hardware_and_starts_in_grace() {
        let mut run = Run::new(cfg(), 3);
        run.fault(Dur::secs(30), "path-fault", ModelFault::PathFault { shelf: 0 });
        run.fault(Dur::secs(31), "controller-fail", ModelFault::ControllerFail { shelf: 0, controller: 0 });
        run.agent("mx-1", true, plan(4, Dur::secs(1), 4), vec![]);
        run.agent("mx-2", true, plan(4, Dur::mins(30), 4), vec![]);
        let filer = run.filer;
        run.sim.schedule(Time::from_secs(60), Fault::Crash(filer));
        run.sim.schedule(Time::ZERO + Dur::mins(29) + Dur::secs(30), Fault::Restart(filer));
        assert_ok(&run.run());
        let store = run.store();
        assert_eq!((0..4).map(|m| store.mailbox(m).len()).sum::<usize>(), 4 + 2, "odd mailboxes got the new mail");
        let b = run.agent_state(1);
        assert!(b.errors.contains(&StoreError::Lock), "grace after restart: {:?}", b.errors);
        assert!(b.errors.contains(&StoreError::Offline), "the shelf is still down: {:?}", b.errors);
    }

    #[test]
    fn the_stored_bits_follow_appends_merges_and_losses() {
        let mut st = Mailstore::new(&cfg(), 1);
        let mb = 7;
        let volume = st.volume_of(mb);
        assert!(!st.holds(3) && !st.holds(1_000_000));
        st.apply(Op::Append { mailbox: mb, mail: 3, replica: None });
        st.apply(Op::Merge { mailbox: mb, add: vec![200], remove: vec![] });
        assert!(st.holds(3) && st.holds(200) && !st.holds(4));
        assert_eq!(st.mailbox(mb), &[3, 200]);
        st.apply(Op::Lose { volumes: vec![volume] });
        assert!(!st.holds(3) && !st.holds(200), "a lost volume's mails are gone");
        assert!(st.mailbox(mb).is_empty());
    }

    /// Both controllers of shelf a fail at 30 s: volume 0 (even mailboxes)
    /// cannot be read; mail for 20 mailboxes from 1 min on.
    fn dead_shelf(hours: u64) -> Run {
        let mut run = Run::new(cfg(), hours);
        run.fault(Dur::secs(30), "controller-fail", ModelFault::ControllerFail { shelf: 0, controller: 0 });
        run.fault(Dur::secs(31), "controller-fail", ModelFault::ControllerFail { shelf: 0, controller: 1 });
        run.agent("mx-1", true, plan(20, Dur::mins(1), 20), vec![]);
        run
    }

    #[test]
    fn migrating_from_a_shelf_whose_controllers_are_both_dead_fails_and_delivers_nothing_there() {
        let mut run = dead_shelf(12);
        run.ops(vec![(Dur::hours(1), Action::Migrate { steps: 1, keep_uidls: true, volumes: vec![] })]);
        assert_ok(&run.run());
        assert!(run.steps().is_empty(), "the step is not done: {:?}", run.steps());
        let failed = run.failed();
        assert_eq!(failed.len(), 1, "{failed:?}");
        let (step, at, reason) = &failed[0];
        assert_eq!(*step, 0);
        assert!(*at < Time::from_hours(1) + Dur::secs(1), "refused at once: {at}");
        assert!(reason.contains("volume-1") && reason.contains("shelf-a"), "{reason}");
        let w = run.sim.world();
        assert_eq!(w.counts.delivered, 10, "only the odd mailboxes, on the healthy shelf");
        assert_eq!(w.stats.unavailable.last().map(|u| u.1), Some(10), "the dead shelf's volume stays offline");
        let filer = run.sim.node::<Filer>(run.filer).expect("up");
        assert!(!filer.storage().migrated(0) && !filer.storage().migrated(1), "nothing moved, not even the healthy volume");
    }

    #[test]
    fn migrating_after_the_controllers_are_replaced_moves_only_the_affected_volume() {
        let mut run = dead_shelf(12);
        run.ops(vec![
            (Dur::hours(1), Action::ReplaceHardware),
            (Dur::hours(1) + Dur::secs(1), Action::Migrate { steps: 1, keep_uidls: true, volumes: vec![] }),
        ]);
        assert_ok(&run.run());
        assert!(run.failed().is_empty(), "{:?}", run.failed());
        assert_eq!(run.steps().len(), 2);
        let filer = run.sim.node::<Filer>(run.filer).expect("up");
        assert!(filer.storage().migrated(0), "the resyncing volume was readable and moved");
        assert!(!filer.storage().migrated(1), "the healthy volume stayed");
        assert_eq!(run.sim.world().counts.delivered, 20);
    }

    #[test]
    fn a_rebuild_behind_a_dead_shelf_fails_and_one_ended_by_a_latent_error_fails_with_the_group() {
        let mut run = dead_shelf(12);
        run.fault(Dur::secs(40), "disk-fail", ModelFault::DiskFail { group: 1 });
        run.ops(vec![(Dur::hours(1), Action::StartRebuild { parallel: true, order: Default::default() })]);
        assert_ok(&run.run());
        let failed = run.failed();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].2.contains("group-1") && failed[0].2.contains("shelf-a"), "{failed:?}");
        let filer = run.sim.node::<Filer>(run.filer).expect("up");
        assert!(filer.storage().needs_rebuild(1) && !filer.storage().rebuilding(), "group 2 was not rebuilt either");

        // No mail on group 0: two failed disks and a latent sector error
        // destroy it when its rebuild reads the error.
        let mut run = Run::new(cfg(), 12);
        for k in 0..2 {
            run.fault(Dur::secs(30 + k), "disk-fail", ModelFault::DiskFail { group: 0 });
        }
        run.fault(Dur::secs(40), "latent", ModelFault::LatentSectorError { group: 0 });
        run.ops(vec![(Dur::hours(1), Action::StartRebuild { parallel: false, order: Default::default() })]);
        assert_ok(&run.run());
        assert!(run.steps().is_empty(), "{:?}", run.steps());
        let failed = run.failed();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert!(failed[0].2.contains("the rebuild of group-1 failed"), "{failed:?}");
    }

    #[test]
    fn merge_back_while_a_temporary_store_is_offline_fails_and_keeps_the_mail_there() {
        let mut run = dead_shelf(12);
        run.ops(vec![(Dur::secs(35), Action::EnableTempStores), (Dur::hours(1), Action::MergeBack)]);
        assert_ok(&run.run());
        assert_eq!(run.steps().len(), 1, "temp stores on: {:?}", run.steps());
        let failed = run.failed();
        assert_eq!(failed.len(), 1, "{failed:?}");
        assert_eq!(failed[0].0, 1);
        assert!(failed[0].2.contains("10 temporary stores") && failed[0].2.contains("volume-1"), "{failed:?}");
        assert_eq!(run.store().temp_mailboxes().count(), 10, "nothing merged");
    }

    #[test]
    fn actions_that_are_not_the_file_servers_fail() {
        let mut run = Run::new(cfg(), 2);
        run.ops(vec![(Dur::mins(1), Action::ResetCluster), (Dur::mins(2), Action::FlushQueue), (Dur::mins(3), Action::RollbackUpgrade)]);
        assert_ok(&run.run());
        let failed = run.failed();
        assert_eq!(failed.len(), 2, "{failed:?}");
        assert!(failed[0].2.contains("does not reset-cluster") && failed[1].2.contains("does not flush-queue"), "{failed:?}");
        assert_eq!(run.steps().len(), 1, "nothing to roll back: done");
    }

    // ---- replication (`replication.rs`) ----

    use crate::replication::{ReplicationConfig, ReplicationMode};
    use mailsim_sim::Violation;

    /// `cfg()` replicated to site `dr`: async updates every hour that take
    /// a minute, or sync.
    fn replicated(mode: ReplicationMode) -> FilerConfig {
        let mut c = cfg();
        let mut r = ReplicationConfig::new("dr", mode);
        r.every = Dur::hours(1);
        r.lag = if mode == ReplicationMode::Sync { Dur::millis(2) } else { Dur::mins(1) };
        c.replication = Some(r);
        c
    }

    /// 20 mails at 0:30 (ids 0–19), 20 at 1:30 (20–39) and 20 at 2:10
    /// (40–59); the primary site fails at 2:30, the operators fail over
    /// at 3:00.
    fn lose_the_primary(mode: ReplicationMode) -> Run {
        let mut run = Run::lasting(replicated(mode), 6);
        let mut p = plan(20, Dur::mins(30), 20);
        p.extend(plan(20, Dur::mins(90), 20));
        p.extend(plan(20, Dur::mins(130), 20));
        run.agent("mx-1", true, p, vec![]);
        run.fault(Dur::mins(150), "site-failure", ModelFault::SiteFail { site: 0 });
        run.ops(vec![(Dur::hours(3), Action::Failover)]);
        run
    }

    fn lost_ids(r: &RunReport) -> Vec<MailId> {
        let mut v: Vec<MailId> = r
            .violations
            .iter()
            .filter(|v| v.property == ledger::CUSTODY.name)
            .map(|v| {
                v.detail.strip_prefix("mail ").and_then(|d| d.split(' ').next()).and_then(|n| n.parse().ok()).expect("mail N lost ...")
            })
            .collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn an_async_failover_loses_exactly_the_mail_written_after_the_last_update_and_the_ledger_counts_it() {
        let mut run = lose_the_primary(ReplicationMode::Async);
        let r = run.run();
        let w = run.sim.world();
        // The 1:30 batch went with the 2:00 update (on the replica at 2:01);
        // the 2:10 batch waited for the 3:00 one, which never came.
        let window: Vec<MailId> = (40..60).collect();
        assert_eq!(lost_ids(&r), window, "{:?}", r.violations.first());
        assert_eq!((w.counts.lost, w.counts.lost_by.mailbox, w.counts.delivered), (20, 20, 40), "{:?}", w.counts);
        assert!(r.violations.iter().all(|v| v.detail.contains("replication lag")), "{:?}", r.violations[0]);
        assert_eq!(stored(&run), 40, "the replica holds what the ledger counts delivered");
        assert!((0..40).all(|m| run.store().holds(m)) && (40..60).all(|m| !run.store().holds(m)));
        assert_eq!(run.steps().len(), 1, "{:?}", run.failed());
        let st = run.store().replica();
        assert_eq!((st.active, st.primary), (crate::replication::TARGET, [false, true]));
    }

    #[test]
    fn a_sync_failover_loses_nothing_and_each_ack_waits_for_the_replica() {
        let mut run = lose_the_primary(ReplicationMode::Sync);
        let r = run.run();
        let w = run.sim.world();
        assert!(lost_ids(&r).is_empty(), "{:?}", r.violations.first());
        assert_eq!((w.counts.lost, w.counts.delivered), (0, 60), "{:?}", w.counts);
        assert_eq!(stored(&run), 60);
        assert_eq!(run.steps().len(), 1, "{:?}", run.failed());
        // Each ack waits the 2 ms round trip to the replica: the first
        // reply comes 2 ms later than in the same run replicated async.
        let mut twin = lose_the_primary(ReplicationMode::Async);
        twin.run();
        let (sync, asy) = (run.agent_state(0).replies[0], twin.agent_state(0).replies[0]);
        assert_eq!((sync.0, asy.0), (0, 0));
        assert_eq!(sync.1.since(asy.1), Dur::millis(2), "{sync:?} {asy:?}");
    }

    #[test]
    fn the_primary_site_down_refuses_mail_until_the_failover_then_the_replica_takes_it() {
        let mut run = Run::lasting(replicated(ReplicationMode::Async), 6);
        run.agent("mx-1", true, plan(10, Dur::mins(40), 20), vec![]);
        run.fault(Dur::mins(30), "site-failure", ModelFault::SiteFail { site: 0 });
        run.ops(vec![(Dur::hours(1), Action::Failover)]);
        run.run();
        let a = run.agent_state(0);
        assert!(a.errors.iter().all(|e| *e == StoreError::Offline) && a.errors.len() >= 10, "{:?}", a.errors);
        assert_eq!(run.sim.world().counts.delivered, 10, "delivered to the promoted replica after the retry");
        assert_eq!(run.sim.world().counts.lost, 0);
    }

    #[test]
    fn a_failover_without_a_replica_or_to_a_failed_site_fails_the_step() {
        let mut run = Run::lasting(cfg(), 2);
        run.ops(vec![(Dur::mins(10), Action::Failover)]);
        run.run();
        assert!(run.failed()[0].2.contains("no replica"), "{:?}", run.failed());
        let mut run = Run::lasting(replicated(ReplicationMode::Async), 2);
        run.fault(Dur::mins(5), "site-failure", ModelFault::SiteFail { site: 1 });
        run.ops(vec![(Dur::mins(10), Action::Failover)]);
        run.run();
        assert!(run.failed()[0].2.contains("`dr` is down"), "{:?}", run.failed());
    }

    /// mx-1 at the primary's site, mx-2 at the replica's; the link between
    /// the sites is cut at 1:00 and the operators fail over at 2:00 with
    /// it cut (`cut`) or after it healed at 1:30.
    fn two_sites(cut: bool) -> (Run, RunReport) {
        let mut c = replicated(ReplicationMode::Async);
        let r = c.replication.as_mut().expect("replicated");
        r.every = Dur::ZERO;
        r.target_writers = vec![NodeId(2)];
        let mut run = Run::lasting(c, 6);
        run.agent("mx-1", true, plan(10, Dur::hours(3), 20), vec![]);
        run.agent("mx-2", true, plan(10, Dur::hours(3), 20), vec![]);
        let for_ = (!cut).then_some(Dur::mins(30));
        run.fault(Dur::hours(1), "replica-partition", ModelFault::ReplicaLink { up: false, for_ });
        run.ops(vec![(Dur::hours(2), Action::Failover)]);
        let r = run.run();
        (run, r)
    }

    #[test]
    fn a_failover_across_a_cut_link_with_both_sites_writing_is_reported_as_split_brain() {
        let (run, r) = two_sites(true);
        let split: Vec<&Violation> = r.violations.iter().filter(|v| v.property == ledger::SPLIT_BRAIN.name).collect();
        assert_eq!(split.len(), 1, "{:?}", r.violations);
        assert_eq!(split[0].detail, "mailstore copies at primary and dr both primary and both written");
        assert!(split[0].time >= Time::from_hours(3) && split[0].time < Time::from_hours(3) + Dur::secs(2), "{}", split[0].time);
        assert_eq!(run.store().replica().primary, [true, true]);
        // Its clean twin: the link healed before the failover, which demoted
        // the old primary; both sites' writers reach the new one.
        let (twin, r) = two_sites(false);
        assert!(r.violations.iter().all(|v| v.property != ledger::SPLIT_BRAIN.name), "{:?}", r.violations);
        assert_eq!(twin.store().replica().primary, [false, true]);
        assert_eq!(twin.sim.world().counts.delivered, 20);
    }
}
