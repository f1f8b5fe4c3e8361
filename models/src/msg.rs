//! The messages and model faults that mail-cluster components
//! exchange. This file is the contract between components: each component
//! owns its own internals, and talks to others only through these types.
//!
//! A "message" here is a kernel message (a network packet or RPC); an e-mail
//! is a *mail*, identified by a `MailId` that indexes the custody ledger.

use std::hash::{Hash, Hasher};

use mailsim_sim::{Dur, NodeId, Time};

use crate::choice::{self, Choice};

/// An e-mail, by its index in the custody ledger.
pub type MailId = u32;
/// A mailbox (one user), by index.
pub type MailboxId = u32;
/// A runbook step, by index in the recovery plan.
pub type StepId = u32;

/// What travels with an e-mail: enough to deliver it without a lookup.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct Envelope {
    /// The mail's index in the custody ledger.
    pub id: MailId,
    /// The recipient's mailbox (one recipient per mail).
    pub rcpt: MailboxId,
    /// When the author sent it (for delivery delay and queue lifetime).
    pub created: Time,
}

/// The final reply of an SMTP transaction (after DATA).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum SmtpCode {
    /// 250: the receiver is now responsible for the mail (RFC 5321 §4.1.1.4).
    Accepted,
    /// 4xx: try again later (e.g. 452 queue full, 451 local error).
    TempFail,
    /// 5xx: permanent failure; the sender returns the mail to its author.
    PermFail,
}

/// Why a mailstore operation failed temporarily.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum StoreError {
    /// The mailbox lock could not be taken (NLM broken, in grace, timed out).
    Lock,
    /// The volume holding the mailbox is offline.
    Offline,
    /// An I/O error on the volume.
    Io,
    /// No server answers the protocol at this address: the mail services
    /// are stopped on the node, or the cluster's address has no owner (a
    /// refused connection, as a mail reader sees it).
    Refused,
}

/// Protocols a mail user reads mail with.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, PartialOrd, Ord)]
pub enum Proto {
    /// POP3: downloads the mailbox, tracking mails by their UIDLs.
    Pop,
    /// IMAP: reads the mailbox on the server, caching it per UIDVALIDITY.
    Imap,
    /// A webmail front end: needs no mailbox lock to read, and is the only
    /// protocol a temporary store serves.
    Webmail,
}

/// SMTP between the internet's senders and the cluster's MX nodes.
///
/// `slot` is the sending side's own handle on the mail (the index of the
/// slot it keeps it in), echoed unchanged in the reply, as a reply travels
/// back on the connection that carried the mail: the sender finds the mail
/// without a table indexed by every mail id ever sent. Receivers and relays
/// never interpret it.
#[derive(Clone, Debug)]
pub enum Smtp {
    /// A whole transaction (MAIL, RCPT, DATA) in one message.
    Data {
        /// The mail offered.
        mail: Envelope,
        /// The sending side's handle on the mail, echoed in the reply.
        slot: u32,
    },
    /// The receiver's final reply to a `Data`.
    Reply {
        /// The mail replied about.
        id: MailId,
        /// The verdict: accepted (the receiver is now responsible), try
        /// again later, or refused for good.
        code: SmtpCode,
        /// The `slot` of the `Data` replied to, unchanged.
        slot: u32,
    },
}

/// The delivery agent and mail readers talking to the mailstore over NFS.
#[derive(Clone, Debug)]
pub enum Store {
    /// Append a mail to its recipient's mailbox. `locked` is false only for a
    /// (buggy) delivery agent that writes without taking the mailbox lock.
    /// `slot` is the delivering MTA's handle on the mail (its queue slot),
    /// echoed in the reply, as the reply of an NFS call comes back to the
    /// process that made it; the file server never interprets it.
    Append {
        /// The mail to store.
        mail: Envelope,
        /// Whether the agent holds the mailbox lock for the write.
        locked: bool,
        /// The delivering MTA's handle on the mail, echoed in the reply.
        slot: u32,
    },
    /// The mailstore's answer to an `Append`.
    AppendReply {
        /// The mail appended (or not).
        id: MailId,
        /// Ok once the mail is stored; otherwise why it was not, to retry.
        result: Result<(), StoreError>,
        /// The `slot` of the `Append` answered, unchanged.
        slot: u32,
    },
    /// A user opens their mailbox with a protocol.
    Access {
        /// The mailbox opened.
        mailbox: MailboxId,
        /// The protocol the user reads it with.
        proto: Proto,
    },
    /// The mailstore's answer to an `Access`.
    AccessReply {
        /// The mailbox of the `Access` answered.
        mailbox: MailboxId,
        /// The protocol of the `Access` answered.
        proto: Proto,
        /// What the user sees of the mailbox, or why it could not be opened.
        result: Result<AccessInfo, StoreError>,
    },
}

/// What a user who opened a mailbox sees of it (`Store::AccessReply`).
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub struct AccessInfo {
    /// The number of mails served: in the mailbox, or in its temporary store
    /// when `temporary`.
    pub count: u32,
    /// Changes whenever the mailbox's POP UIDLs (or IMAP UIDVALIDITY)
    /// change: a client that saw another epoch downloads (or re-caches)
    /// every mail again.
    pub uidl_epoch: u32,
    /// Served from a temporary store (new mail only, webmail only).
    pub temporary: bool,
}

/// The cluster manager (Corosync/Pacemaker-like) and its fencing devices.
#[derive(Clone, Debug, Hash)]
pub enum Cluster {
    /// "I am alive": the sender's status word (joined, running the
    /// services; see `cluster.rs`).
    Heartbeat {
        /// The agent's node.
        from: NodeId,
        /// Its status bits: joined the cluster, running the services.
        status: u64,
    },
    /// Ask a fencing device to power off `target`.
    Fence {
        /// The node to power off.
        target: NodeId,
        /// The asking agent's number for this request, echoed in the result.
        request: u64,
    },
    /// A fencing device's answer: Ok = target confirmed off.
    FenceResult {
        /// The node the request was about.
        target: NodeId,
        /// The `request` of the `Fence` answered.
        request: u64,
        /// True if the device reports the target off (a lying device says so
        /// without powering it off).
        ok: bool,
    },
    /// The virtual IP of the mail services now points at `owner`.
    VipOwner {
        /// The node running the mail services; None: no owner known.
        owner: Option<NodeId>,
    },
    /// Start the resources the node runs (SMTP, POP, IMAP as one group).
    StartServices,
    /// Stop those resources (another node owns them).
    StopServices,
}

/// Monitoring, operators and the recovery plan.
#[derive(Clone, Debug, Hash)]
pub enum Ops {
    /// An alert from monitoring, with its text.
    Alert {
        /// What the alert says (operators keep it in their log).
        text: String,
        /// The node the alert is about.
        about: NodeId,
    },
    /// An operator executes a runbook step on a component.
    Command {
        /// The step, echoed in the answer.
        step: StepId,
        /// What to do.
        action: Action,
    },
    /// A component finished a step.
    StepDone {
        /// The step of the `Command` carried out.
        step: StepId,
    },
    /// A component could not carry out a step, and why: a precondition did
    /// not hold (the data to move cannot be read, the group to rebuild sits
    /// behind a dead shelf), the step was aborted on the way, or the
    /// component does not do that action. Nothing was done unless the
    /// reason says so. The operators record it and may retry (`ops.rs`).
    StepFailed {
        /// The step of the `Command` refused.
        step: StepId,
        /// Why, for the operators' log and the report.
        reason: String,
    },
}

/// What a runbook step does. The component a step targets checks the
/// action's preconditions in the model and answers `StepDone` when it has
/// carried it out (an action with nothing to do is done at once), or
/// `StepFailed` with a reason when it cannot act, so a step that could not
/// really act never counts as done.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum Action {
    /// Replace failed hardware (controllers, paths, disks) of the storage.
    ReplaceHardware,
    /// Fix a redundancy (path) fault.
    FixRedundancy,
    /// Rebuild degraded RAID groups: one after another or all at once.
    StartRebuild {
        /// Rebuild every degraded group at once instead of one at a time.
        parallel: bool,
        /// The order of a serial rebuild (`Storage::start_rebuild_ordered`);
        /// the default is index order.
        order: crate::storage::RebuildOrder,
    },
    /// Let new mail for mailboxes on offline volumes go to temporary stores.
    EnableTempStores,
    /// Merge temporary stores back into the restored mailboxes.
    MergeBack,
    /// Copy volumes to new storage in `steps` batches; `keep_uidls` false
    /// makes POP clients re-download. `volumes` names the volumes to move
    /// (model indices, from 0; `volume-1` is 0); empty moves the affected
    /// ones, those offline, slowed down or without redundancy when the
    /// command arrives (`Storage::affected`). Fails, moving nothing, if a
    /// volume to move cannot be read (dead shelf, destroyed RAID group), and
    /// later if a source becomes unreadable before its batch is copied.
    Migrate {
        /// The number of batches the volumes are copied in.
        steps: u32,
        /// Keep the mailboxes' UIDLs (and UIDVALIDITY) on the new storage.
        keep_uidls: bool,
        /// The volumes to move, by model index; empty: the affected ones.
        volumes: Vec<u32>,
    },
    /// Roll back (or fix) a failed upgrade of the file server.
    RollbackUpgrade,
    /// Manual cluster state reset / confirm a node is fenced.
    ResetCluster,
    /// Power a node on (replaced hardware).
    PowerOn {
        /// The machine to power on.
        node: NodeId,
    },
    /// Retry every deferred mail of an MTA now (`postqueue -f`).
    FlushQueue,
    /// Put a cluster member in standby for planned maintenance: it hosts no
    /// resource, and the services move to another member without fencing.
    Standby,
    /// End a member's standby: it may host resources again.
    Unstandby,
    /// Give the volumes a partner head took over back to their repaired
    /// head (ONTAP `storage failover giveback`). Fails while a taken-over
    /// head is still down.
    Giveback,
    /// Power-cycle the file server's shelves: every volume is offline for
    /// the power cycle; a hung takeover completes after it.
    PowerCycle,
    /// Restore damaged mailboxes from a backup set's newest usable copy
    /// (`backup.rs`): all or nothing, after the set's restore time. Fails,
    /// restoring nothing, if the set is corrupt or lacks a copy of a
    /// mailbox to restore. Mail the copy lacks is lost.
    Restore {
        /// The backup set, by index in `FilerConfig::backups`.
        set: u32,
        /// The volumes whose damaged mailboxes are restored (model indices);
        /// empty: every damaged mailbox.
        volumes: Vec<u32>,
        /// The restore keeps the mailboxes' UIDLs and UIDVALIDITY (a
        /// dsync-style backup); false: clients see new identifiers.
        preserve_uids: bool,
    },
    /// Recreate the damaged mailboxes empty, giving up on their data: their
    /// mail is lost and their identifiers change.
    RecreateAccounts {
        /// The volumes whose damaged mailboxes are recreated; empty: all.
        volumes: Vec<u32>,
    },
    /// Fail the mailstore over to its replica (`replication.rs`): the
    /// replica becomes the primary; what it lacks is lost. Fails if the
    /// mailstore has no replica or the replica's site is down.
    Failover,
}

impl Action {
    /// Every action a scenario's `[[recovery]]` step may name, with what it
    /// does: the loader accepts exactly these (`step_action` in
    /// `src/scenario/build.rs` refuses any other before parsing), and
    /// `mailsim schema` lists them with their descriptions. A new action is
    /// one entry here, its variant above, its `name` and its parsing.
    pub const CHOICES: &'static [Choice] = &[
        Choice { name: "replace-hardware", description: "Replace the failed hardware (controllers, paths, disks) of the storage." },
        Choice { name: "fix-redundancy", description: "Fix a shelf's path redundancy fault." },
        Choice {
            name: "start-rebuild",
            description: "Rebuild the degraded RAID groups, one after another (in `order`, after the groups named in `order_first`), or all at once with `parallel = true`.",
        },
        Choice { name: "enable-temp-stores", description: "New mail for mailboxes on offline volumes goes to temporary stores." },
        Choice { name: "merge-back", description: "Merge the temporary stores back into the restored mailboxes." },
        Choice {
            name: "migrate",
            description: "Copy the affected volumes to new storage in `steps` batches (`keep_uidls = false`: POP clients download again).",
        },
        Choice { name: "rollback-upgrade", description: "Roll back (or fix) a failed upgrade of the file server." },
        Choice { name: "reset-cluster", description: "Reset the cluster's state by hand: confirm a node is fenced, clear failures." },
        Choice { name: "power-on", description: "Power on the machine `node` (replaced hardware)." },
        Choice { name: "flush-queue", description: "Retry every deferred mail of the target MTA now (`postqueue -f`)." },
        Choice {
            name: "standby",
            description: "Put a cluster member in standby for planned maintenance: its services move without fencing.",
        },
        Choice { name: "unstandby", description: "End a member's standby: it may host services again." },
        Choice {
            name: "restore",
            description: "Restore `volumes` from the backup set `from`: time = data / restore rate; fails if the set is corrupt or has no usable copy.",
        },
        Choice { name: "recreate-accounts", description: "Recreate the damaged mailboxes of `volumes` empty: their mail is lost." },
        Choice { name: "giveback", description: "Give the taken-over volumes back to their repaired head (the HA pair)." },
        Choice { name: "power-cycle", description: "Power-cycle the storage shelves: every volume offline meanwhile; a hung takeover then completes." },
        Choice {
            name: "failover",
            description: "Fail the mailstore over to its replica (`[topology.replication]`): it becomes the primary; mail it lacks (the async lag) is lost.",
        },
    ];
    /// The names of `CHOICES`, in order.
    pub const NAMES: &'static [&'static str] = &choice::names::<{ Action::CHOICES.len() }>(Action::CHOICES);

    /// The action as a recovery plan names it (`migrate`, `start-rebuild` …).
    pub fn name(&self) -> &'static str {
        match self {
            Action::ReplaceHardware => "replace-hardware",
            Action::FixRedundancy => "fix-redundancy",
            Action::StartRebuild { .. } => "start-rebuild",
            Action::EnableTempStores => "enable-temp-stores",
            Action::MergeBack => "merge-back",
            Action::Migrate { .. } => "migrate",
            Action::RollbackUpgrade => "rollback-upgrade",
            Action::ResetCluster => "reset-cluster",
            Action::PowerOn { .. } => "power-on",
            Action::FlushQueue => "flush-queue",
            Action::Standby => "standby",
            Action::Unstandby => "unstandby",
            Action::Giveback => "giveback",
            Action::PowerCycle => "power-cycle",
            Action::Restore { .. } => "restore",
            Action::RecreateAccounts { .. } => "recreate-accounts",
            Action::Failover => "failover",
        }
    }

    /// The action in words for a trace: its name and what it acts on
    /// (`restore volume-1 from backup set #0, keeping UIDs`), a node named
    /// by `node`.
    pub fn words(&self, node: &dyn Fn(&NodeId) -> String) -> String {
        match self {
            Action::Restore { set, volumes, preserve_uids } => format!(
                "restore {} from backup set #{set}, {} UIDs",
                volume_list(volumes).replace("every volume", "every damaged mailbox"),
                if *preserve_uids { "keeping" } else { "renewing" }
            ),
            Action::RecreateAccounts { volumes } => {
                format!("recreate-accounts: the damaged mailboxes on {} recreated empty", volume_list(volumes))
            }
            Action::PowerOn { node: n } => format!("power-on {}", node(n)),
            Action::StartRebuild { parallel: true, .. } => "start-rebuild, every group at once".to_string(),
            Action::StartRebuild { parallel: false, order } => format!("start-rebuild, one group at a time, {}", order.words()),
            other => other.name().to_string(),
        }
    }
}

/// Faults that models define, delivered to their target node.
#[derive(Clone, Debug, Hash, PartialEq, Eq)]
pub enum ModelFault {
    /// A disk-shelf controller fails.
    ControllerFail {
        /// The shelf, by index from 0.
        shelf: u32,
        /// The controller on the shelf, by index from 0 (controllers are
        /// interchangeable: the storage counts failures per shelf).
        controller: u32,
    },
    /// A path/redundancy fault on a shelf: latent until a controller fails.
    PathFault {
        /// The shelf, by index from 0.
        shelf: u32,
    },
    /// A disk of a RAID group fails.
    DiskFail {
        /// The RAID group, by index from 0.
        group: u32,
    },
    /// A latent sector error, found when the group is rebuilt.
    LatentSectorError {
        /// The RAID group, by index from 0.
        group: u32,
    },
    /// Storage performance degraded: latency multiplied (per-mille).
    Degrade {
        /// The latency multiplier in per-mille of normal (1000 = normal,
        /// 10_000 = ten times slower); replaces the previous one, so 1000
        /// ends the degradation.
        permille: u32,
    },
    /// The storage's write-back cache is lost (a failed NVRAM or cache
    /// battery): writes go through to the disks.
    CacheFail,
    /// The file server's lock manager stops working (the ECCS upgrade).
    LockBroken,
    /// The file server restarts its lock manager (grace period follows).
    LockRestart,
    /// The file server stops answering (hard mounts stall) for `for_`.
    Hang {
        /// How long it stops answering (a later hang may extend it).
        for_: Dur,
    },
    /// A head of the file server fails (a panic, a hardware fault); its
    /// partner's takeover goes as `takeover` says.
    HeadFail {
        /// The head, by index from 0 (`head-a` is 0).
        head: u32,
        /// Whether the partner's takeover works, fails or hangs.
        takeover: crate::heads::Takeover,
    },
    /// Stored data is corrupted (a faulty software update, a bad firmware):
    /// the mailboxes hit can be neither read nor written until restored
    /// (`backup.rs`). Their snapshots survive.
    DataCorruption {
        /// The volumes hit (model indices); empty: every volume.
        volumes: Vec<u32>,
        /// The share of their mailboxes hit, per million (drawn per seed).
        share_ppm: u32,
    },
    /// Stored data is destroyed: a share of the mailboxes deleted (their
    /// snapshots survive) or, with the whole share, the volumes themselves
    /// (their snapshots go with them).
    DataLoss {
        /// The volumes hit (model indices); empty: every volume.
        volumes: Vec<u32>,
        /// The share of their mailboxes hit, per million (drawn per seed).
        share_ppm: u32,
    },
    /// A backup set's copies are unusable, those taken and those to come
    /// (a backup job failing silently, unreadable media).
    BackupCorrupt {
        /// The backup set, by index in `FilerConfig::backups`.
        set: u32,
    },
    /// A node's local device fails: the services that need it stop there
    /// (its data is intact, and comes back when the device is replaced).
    LocalDeviceFail {
        /// Which device.
        device: LocalDevice,
    },
    /// A site of the replicated mailstore fails (`replication.rs`): its
    /// copy can be neither read nor written until `ReplaceHardware`.
    SiteFail {
        /// The site: 0 the source, 1 the target (the replica).
        site: u32,
    },
    /// The link between the mailstore's copies is cut (`up` false), for
    /// `for_` if given, or heals (`up` true).
    ReplicaLink {
        /// Heals (true) or is cut (false).
        up: bool,
        /// A cut heals after this, if given.
        for_: Option<Dur>,
    },
    /// A fencing device starts failing in the given way.
    FenceBroken {
        /// How it behaves from now on (`Works` repairs it).
        mode: FenceMode,
    },
}

/// A node-local device a service needs.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum LocalDevice {
    /// An MX node's queue disk (or SSD): the MTA can neither queue new mail
    /// nor read what it queued.
    Queue,
}

impl LocalDevice {
    /// The names a scenario uses.
    pub const NAMES: [&'static str; 1] = ["queue"];

    /// The name a scenario uses for it.
    pub fn name(self) -> &'static str {
        match self {
            LocalDevice::Queue => "queue",
        }
    }

    /// The device named `name` (one of [`LocalDevice::NAMES`]).
    pub fn from_name(name: &str) -> Option<LocalDevice> {
        match name {
            "queue" => Some(LocalDevice::Queue),
            _ => None,
        }
    }
}

/// How a fencing device misbehaves.
#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
pub enum FenceMode {
    /// Powers the target off and reports success (no fault).
    Works,
    /// Reports failure (the Fused outage).
    ReportsFailure,
    /// Never answers; the cluster manager times out (stonith-timeout).
    Timeout,
    /// Reports success without powering the node off (the dangerous one).
    LiesSuccess,
}

/// Every kernel message of the mail models.
#[derive(Clone, Debug)]
pub enum Msg {
    /// SMTP between senders, the virtual IP and the MX nodes.
    Smtp(Smtp),
    /// Mailstore (NFS) traffic of delivery agents and mail readers.
    Store(Store),
    /// Cluster manager traffic: heartbeats, fencing, service placement.
    Cluster(Cluster),
    /// Alerts and the recovery plan's commands and answers.
    Ops(Ops),
    /// A model fault, delivered by the kernel to its target node.
    Fault(ModelFault),
}

// ---------------------------------------------------------------------------
// Trace fingerprints. The kernel hashes every message it delivers into the
// trace (with its stable hasher), so the messages of every mail (SMTP and
// mailstore traffic) are hashed by hand: a tag and their fields packed into
// two or three words, instead of a word per field and per enum level. The
// rare messages (cluster, operations, faults) hash as derived, after a tag.

/// The first word of a hand-hashed message: its tag, a small code and a
/// 32-bit field.
fn head(tag: u64, code: u64, low: u32) -> u64 {
    tag << 56 | code << 32 | low as u64
}

/// The envelope's id and recipient as one word.
fn ids(mail: &Envelope) -> u64 {
    (mail.id as u64) << 32 | mail.rcpt as u64
}

fn store_error(e: StoreError) -> u64 {
    match e {
        StoreError::Lock => 1,
        StoreError::Offline => 2,
        StoreError::Io => 3,
        StoreError::Refused => 4,
    }
}

impl Hash for Smtp {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Smtp::Data { mail, slot } => {
                state.write_u64(head(1, 0, *slot));
                state.write_u64(ids(mail));
                state.write_u64(mail.created.as_micros());
            }
            Smtp::Reply { id, code, slot } => {
                state.write_u64(head(2, *code as u64, *slot));
                state.write_u64(*id as u64);
            }
        }
    }
}

impl Hash for Store {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Store::Append { mail, locked, slot } => {
                state.write_u64(head(3, *locked as u64, *slot));
                state.write_u64(ids(mail));
                state.write_u64(mail.created.as_micros());
            }
            Store::AppendReply { id, result, slot } => {
                let code = match result {
                    Ok(()) => 0,
                    Err(e) => store_error(*e),
                };
                state.write_u64(head(4, code, *slot));
                state.write_u64(*id as u64);
            }
            Store::Access { mailbox, proto } => state.write_u64(head(5, *proto as u64, *mailbox)),
            Store::AccessReply { mailbox, proto, result } => match result {
                Ok(info) => {
                    state.write_u64(head(6, (*proto as u64) << 8 | info.temporary as u64, *mailbox));
                    state.write_u64((info.count as u64) << 32 | info.uidl_epoch as u64);
                }
                Err(e) => state.write_u64(head(7, (*proto as u64) << 8 | store_error(*e), *mailbox)),
            },
        }
    }
}

impl Hash for Msg {
    fn hash<H: Hasher>(&self, state: &mut H) {
        match self {
            Msg::Smtp(m) => m.hash(state),
            Msg::Store(m) => m.hash(state),
            _ => self.hash_rare(state),
        }
    }
}

impl Msg {
    /// The derived hashing of the rare messages, out of line: the mail
    /// traffic's fingerprint then needs no registers saved.
    #[inline(never)]
    fn hash_rare<H: Hasher>(&self, state: &mut H) {
        match self {
            Msg::Smtp(_) | Msg::Store(_) => unreachable!("hashed inline"),
            Msg::Cluster(m) => {
                state.write_u64(head(8, 0, 0));
                m.hash(state);
            }
            Msg::Ops(m) => {
                state.write_u64(head(9, 0, 0));
                m.hash(state);
            }
            Msg::Fault(m) => {
                state.write_u64(head(10, 0, 0));
                m.hash(state);
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Trace text. A full trace labels each message with what a person reading
// the timeline needs (the mail, its mailbox, the verdict), not the debug
// text of the structs; and numbers the mail a message concerns, so that
// `run --trace-mail ID` follows every hop of one mail.

impl Msg {
    /// The message in words for a trace: its kind, a colon, what a reader
    /// needs of it (`SMTP DATA: mail 42 for mailbox 7`). The trace names an
    /// instant by the kind (`deliver: SMTP DATA`). Nodes are numbered; the
    /// trace names them ([`Msg::describe_named`]).
    pub fn describe(&self) -> String {
        self.describe_named(&[])
    }

    /// [`Msg::describe`] with each node a message names (a cluster
    /// member, a fencing target) by its name in `names`, indexed by
    /// `NodeId` as the kernel's are (`heartbeat: from mx-2, status 1`).
    pub fn describe_named(&self, names: &[String]) -> String {
        let node = |n: &NodeId| names.get(n.0 as usize).cloned().unwrap_or_else(|| format!("node {}", n.0));
        match self {
            Msg::Smtp(Smtp::Data { mail, .. }) => format!("SMTP DATA: mail {} for mailbox {}", mail.id, mail.rcpt),
            Msg::Smtp(Smtp::Reply { id, code, .. }) => {
                let verdict = match code {
                    SmtpCode::Accepted => "250 accepted",
                    SmtpCode::TempFail => "4xx try again later",
                    SmtpCode::PermFail => "5xx refused",
                };
                format!("SMTP reply: mail {id}, {verdict}")
            }
            Msg::Store(Store::Append { mail, locked, .. }) => {
                let lock = if *locked { "" } else { " without the mailbox lock" };
                format!("append: mail {} to mailbox {}{lock}", mail.id, mail.rcpt)
            }
            Msg::Store(Store::AppendReply { id, result, .. }) => match result {
                Ok(()) => format!("append reply: mail {id} stored"),
                Err(e) => format!("append reply: mail {id} not stored, {}", store_error_words(*e)),
            },
            Msg::Store(Store::Access { mailbox, proto }) => format!("{} login: mailbox {mailbox}", proto_name(*proto)),
            Msg::Store(Store::AccessReply { mailbox, proto, result }) => match result {
                Ok(info) => {
                    let temp = if info.temporary { " from a temporary store" } else { "" };
                    format!("{} reply: mailbox {mailbox}, {} mails served{temp}", proto_name(*proto), info.count)
                }
                Err(e) => format!("{} reply: mailbox {mailbox} failed, {}", proto_name(*proto), store_error_words(*e)),
            },
            Msg::Cluster(c) => match c {
                Cluster::Heartbeat { from, status } => format!("heartbeat: from {}, status {status}", node(from)),
                Cluster::Fence { target, request } => format!("fence: power off {}, request {request}", node(target)),
                Cluster::FenceResult { target, request, ok } => {
                    format!("fence result: {}, request {request}, {}", node(target), if *ok { "reported off" } else { "failed" })
                }
                Cluster::VipOwner { owner: Some(n) } => format!("virtual IP: now at {}", node(n)),
                Cluster::VipOwner { owner: None } => "virtual IP: no owner".to_string(),
                Cluster::StartServices => "start services: SMTP, POP, IMAP".to_string(),
                Cluster::StopServices => "stop services: SMTP, POP, IMAP".to_string(),
            },
            Msg::Ops(o) => match o {
                Ops::Alert { text, .. } => format!("alert: {text}"),
                Ops::Command { step, action } => format!("command: runbook step {step}, {}", action.words(&node)),
                Ops::StepDone { step } => format!("step done: runbook step {step}"),
                Ops::StepFailed { step, reason } => format!("step failed: runbook step {step}, {reason}"),
            },
            Msg::Fault(f) => format!("fault: {}", f.describe()),
        }
    }

    /// The mail a message concerns (its ledger id), if any: SMTP and
    /// mailstore appends and their replies.
    pub fn subject(&self) -> Option<u64> {
        match self {
            Msg::Smtp(Smtp::Data { mail, .. }) | Msg::Store(Store::Append { mail, .. }) => Some(u64::from(mail.id)),
            Msg::Smtp(Smtp::Reply { id, .. }) | Msg::Store(Store::AppendReply { id, .. }) => Some(u64::from(*id)),
            _ => None,
        }
    }
}

impl ModelFault {
    /// The fault in words, its storage parts named as scenarios name them
    /// (`controller failure: shelf-a/controller-a`).
    pub fn describe(&self) -> String {
        use crate::storage::Storage;
        match self {
            ModelFault::ControllerFail { shelf, controller } => {
                format!("controller failure: {}", Storage::controller_name(*shelf, *controller))
            }
            ModelFault::PathFault { shelf } => format!("path fault: {}", Storage::shelf_name(*shelf)),
            ModelFault::DiskFail { group } => format!("disk failure: {}", Storage::group_name(*group)),
            ModelFault::LatentSectorError { group } => format!("latent sector error: {}", Storage::group_name(*group)),
            ModelFault::Degrade { permille } => format!("storage latency x{}.{:03}", permille / 1000, permille % 1000),
            ModelFault::CacheFail => "write-back cache lost".to_string(),
            ModelFault::LockBroken => "lock manager broken".to_string(),
            ModelFault::LockRestart => "lock manager restarted".to_string(),
            ModelFault::Hang { for_ } => format!("file server hangs for {for_}"),
            ModelFault::HeadFail { head, takeover } => format!(
                "head failure: {}, the takeover {}",
                crate::heads::Heads::name(*head),
                match takeover {
                    crate::heads::Takeover::Works => "works",
                    crate::heads::Takeover::Fails => "fails",
                    crate::heads::Takeover::Hangs => "hangs",
                }
            ),
            ModelFault::DataCorruption { volumes, share_ppm } => {
                format!("data corruption: {} of the mailboxes on {}", share_words(*share_ppm), volume_list(volumes))
            }
            ModelFault::DataLoss { volumes, share_ppm } => {
                format!("data loss: {} of the mailboxes on {}", share_words(*share_ppm), volume_list(volumes))
            }
            ModelFault::BackupCorrupt { set } => format!("backup corrupt: backup set {set}"),
            ModelFault::LocalDeviceFail { device } => format!("local device failure: the {} device", device.name()),
            ModelFault::SiteFail { site } => {
                format!("site failure: {}", if *site == 0 { "the primary site" } else { "the replica's site" })
            }
            ModelFault::ReplicaLink { up: true, .. } => "the link between the mailstore's copies heals".to_string(),
            ModelFault::ReplicaLink { up: false, for_ } => match for_ {
                Some(d) => format!("the link between the mailstore's copies is cut for {d}"),
                None => "the link between the mailstore's copies is cut".to_string(),
            },
            ModelFault::FenceBroken { mode } => format!(
                "fencing device {}",
                match mode {
                    FenceMode::Works => "works",
                    FenceMode::ReportsFailure => "reports failure",
                    FenceMode::Timeout => "never answers",
                    FenceMode::LiesSuccess => "reports success without powering off",
                }
            ),
        }
    }
}

/// A share in per million, as a percentage (`12.5%`).
fn share_words(ppm: u32) -> String {
    format!("{}.{}%", ppm / 10_000, ppm % 10_000 / 1_000)
}

/// Volumes by their scenario names (`volume-1, volume-3`), or every one.
fn volume_list(volumes: &[u32]) -> String {
    if volumes.is_empty() {
        return "every volume".to_string();
    }
    volumes.iter().map(|v| crate::storage::Storage::volume_name(*v)).collect::<Vec<_>>().join(", ")
}

fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Pop => "POP",
        Proto::Imap => "IMAP",
        Proto::Webmail => "webmail",
    }
}

fn store_error_words(e: StoreError) -> &'static str {
    match e {
        StoreError::Lock => "mailbox lock not taken",
        StoreError::Offline => "volume offline",
        StoreError::Io => "I/O error",
        StoreError::Refused => "connection refused",
    }
}

/// A span helper used by defaults tables.
pub const fn secs(s: u64) -> Dur {
    Dur::secs(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsim_sim::stable_hash;

    #[test]
    fn every_field_of_mail_traffic_changes_its_fingerprint() {
        let mail = Envelope { id: 7, rcpt: 3, created: Time::from_secs(5) };
        let other = [Envelope { id: 8, ..mail }, Envelope { rcpt: 4, ..mail }, Envelope { created: Time::from_secs(6), ..mail }];
        let mut msgs = vec![
            Msg::Smtp(Smtp::Data { mail, slot: 1 }),
            Msg::Smtp(Smtp::Data { mail, slot: 2 }),
            Msg::Smtp(Smtp::Reply { id: 7, code: SmtpCode::Accepted, slot: 1 }),
            Msg::Smtp(Smtp::Reply { id: 7, code: SmtpCode::TempFail, slot: 1 }),
            Msg::Smtp(Smtp::Reply { id: 8, code: SmtpCode::Accepted, slot: 1 }),
            Msg::Store(Store::Append { mail, locked: true, slot: 1 }),
            Msg::Store(Store::Append { mail, locked: false, slot: 1 }),
            Msg::Store(Store::AppendReply { id: 7, result: Ok(()), slot: 1 }),
            Msg::Store(Store::AppendReply { id: 7, result: Err(StoreError::Offline), slot: 1 }),
            Msg::Store(Store::AppendReply { id: 7, result: Err(StoreError::Lock), slot: 2 }),
            Msg::Store(Store::Access { mailbox: 3, proto: Proto::Pop }),
            Msg::Store(Store::Access { mailbox: 3, proto: Proto::Imap }),
            Msg::Store(Store::AccessReply {
                mailbox: 3,
                proto: Proto::Pop,
                result: Ok(AccessInfo { count: 1, uidl_epoch: 0, temporary: false }),
            }),
            Msg::Store(Store::AccessReply {
                mailbox: 3,
                proto: Proto::Pop,
                result: Ok(AccessInfo { count: 2, uidl_epoch: 0, temporary: false }),
            }),
            Msg::Store(Store::AccessReply { mailbox: 3, proto: Proto::Pop, result: Err(StoreError::Offline) }),
            Msg::Ops(Ops::StepDone { step: 1 }),
            Msg::Ops(Ops::StepDone { step: 2 }),
            Msg::Ops(Ops::StepFailed { step: 2, reason: "a".to_string() }),
            Msg::Ops(Ops::StepFailed { step: 2, reason: "b".to_string() }),
            Msg::Fault(ModelFault::LockBroken),
        ];
        for m in other {
            msgs.push(Msg::Smtp(Smtp::Data { mail: m, slot: 1 }));
            msgs.push(Msg::Store(Store::Append { mail: m, locked: true, slot: 1 }));
        }
        // Each reads as words in a trace, without debug text, and the mail
        // traffic names its mail.
        for m in &msgs {
            let text = m.describe();
            assert!(!text.contains(['{', '}', '(']) && !text.contains("Envelope"), "{text}");
            if let Some(id) = m.subject() {
                assert!(text.contains(&format!("mail {id}")), "{text}");
            }
        }
        let mut hashes: Vec<u64> = msgs.iter().map(stable_hash).collect();
        hashes.sort_unstable();
        hashes.dedup();
        assert_eq!(hashes.len(), msgs.len(), "distinct messages, distinct fingerprints");
    }

    /// The trace names cluster members and fencing targets as the scenario
    /// does, and the steps and faults added with the data and head faults
    /// read as words.
    #[test]
    fn cluster_messages_steps_and_new_faults_read_as_words_with_node_names() {
        let names: Vec<String> = ["filer", "mx-1", "mx-2"].iter().map(|n| n.to_string()).collect();
        let said = |m: Msg| m.describe_named(&names);
        assert_eq!(said(Msg::Cluster(Cluster::Heartbeat { from: NodeId(2), status: 1 })), "heartbeat: from mx-2, status 1");
        assert_eq!(said(Msg::Cluster(Cluster::Fence { target: NodeId(1), request: 4 })), "fence: power off mx-1, request 4");
        assert_eq!(
            said(Msg::Cluster(Cluster::FenceResult { target: NodeId(1), request: 4, ok: true })),
            "fence result: mx-1, request 4, reported off"
        );
        assert_eq!(said(Msg::Cluster(Cluster::VipOwner { owner: Some(NodeId(2)) })), "virtual IP: now at mx-2");
        // Without names (a unit test's sim), the number.
        assert_eq!(Msg::Cluster(Cluster::VipOwner { owner: Some(NodeId(2)) }).describe(), "virtual IP: now at node 2");
        let cmd = |action: Action| said(Msg::Ops(Ops::Command { step: 3, action }));
        assert_eq!(
            cmd(Action::Restore { set: 0, volumes: vec![0], preserve_uids: false }),
            "command: runbook step 3, restore volume-1 from backup set #0, renewing UIDs"
        );
        assert_eq!(
            cmd(Action::RecreateAccounts { volumes: vec![] }),
            "command: runbook step 3, recreate-accounts: the damaged mailboxes on every volume recreated empty"
        );
        assert_eq!(cmd(Action::PowerOn { node: NodeId(1) }), "command: runbook step 3, power-on mx-1");
        assert_eq!(cmd(Action::Giveback), "command: runbook step 3, giveback");
        assert_eq!(cmd(Action::PowerCycle), "command: runbook step 3, power-cycle");
        let faults = [
            ModelFault::LocalDeviceFail { device: LocalDevice::Queue },
            ModelFault::DataLoss { volumes: vec![0], share_ppm: 1_000_000 },
            ModelFault::DataCorruption { volumes: vec![], share_ppm: 125_000 },
            ModelFault::BackupCorrupt { set: 1 },
            ModelFault::HeadFail { head: 1, takeover: crate::heads::Takeover::Hangs },
        ];
        let said: Vec<String> = faults.into_iter().map(|f| said(Msg::Fault(f))).collect();
        assert_eq!(
            said,
            [
                "fault: local device failure: the queue device",
                "fault: data loss: 100.0% of the mailboxes on volume-1",
                "fault: data corruption: 12.5% of the mailboxes on every volume",
                "fault: backup corrupt: backup set 1",
                "fault: head failure: head-b, the takeover hangs",
            ]
        );
        for text in &said {
            assert!(!text.contains(['{', '}', '(', '[']), "{text}");
        }
    }
}
