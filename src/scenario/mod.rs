//! Scenario files: outages as data.
//!
//! A scenario is a TOML file declaring a topology, a workload, a fault plan, a
//! recovery plan and expectations (see `scenarios/` and `mailsim schema`). A
//! variant `extends` another file and overrides any field — tables merge key
//! by key, everything else (arrays included) is replaced, and so is a whole
//! bound under `[expect]` (`{ min, max, on_seeds }`) — so a design review
//! compares `opensrs-2008-shelf-controller` with its parallel-rebuild variant
//! without copying the file.
//!
//! Loading is strict: unknown fields, unknown fault kinds, targets that name
//! nothing, impossible values are `ScenarioError`s naming the file, the line
//! and the field. So is a field that would have no effect where it stands
//! (a `delay` on a step triggered by `at`, a `speed` on a fault that is not
//! `degrade`, a `parallel` rebuild switch on a migration …): a reader of the
//! file should never believe a value matters when the run ignores it.
//!
//! Loading is also bounded: `mailsim check` validates every bound that a
//! run depends on, so a file it accepts cannot make `run` allocate without
//! limit, panic or run past its event budget, and no file makes `check`
//! itself take more than a fraction of a second. The limits:
//!
//! - a scenario file is at most 1 MiB of UTF-8 text (`FILE_BYTES_MAX`); an
//!   `extends` chain is at most 16 files long and may not loop
//!   (`EXTENDS_DEPTH_MAX`);
//! - at most 64 MX nodes (`MX_MAX`), 10,000,000 mailboxes (`MAILBOXES_MAX`),
//!   50,000,000 mails per run (`MAILS_MAX`, from `mails` or from a rate
//!   times the window);
//! - storage: at most 26 shelves and 26 controllers per shelf (named by a
//!   letter), 1,000 RAID groups, 1,000 volumes, 64 disks per group;
//! - every duration at most 60 days (`DURATION_MAX`); the run, the workload
//!   window, timeouts and intervals longer than zero; a cluster's
//!   `token_timeout` at least 100 ms (`TOKEN_TIMEOUT_MIN`);
//! - lists: 366 holidays, 10,000 scheduled faults, 64 random fault
//!   processes, 1,000 recovery steps, 8 fencing levels, 100 STONITH attempts,
//!   1,000,000 seeds for the main job;
//! - the run's estimated event count (`estimate_events`: every mail retried
//!   through the whole run, plus client checks, heartbeats, probes and
//!   faults) within the run's event budget (`EVENTS_MAX`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mailsim_models::availability::Service;
use mailsim_models::calendar::{CalendarConfig, Weekday, WorkingHours};
use mailsim_models::choice::Choice;
use mailsim_models::cluster::{AgentConfig, FenceDeviceConfig, NoQuorumPolicy};
use mailsim_models::contention::{ContentionConfig, IoJob};
use mailsim_models::filer::Placement;
use mailsim_models::heads::{HeadsConfig, Takeover};
use mailsim_models::inbound::InboundPolicy;
use mailsim_models::mta::WhenFull;
use mailsim_models::ops::{Delay, Trigger};
use mailsim_models::replication::{LinkLoss, ReplicationMode};
use mailsim_models::retry::RetryProfile;
use mailsim_models::senders::{Recipients, Volume, Workload};
use mailsim_models::storage::{RebuildOrder, RebuildPriority, RebuildRule, StaleDisks};
use mailsim_models::topology::{
    BackupMx, ClusterSpec, FaultKind, FaultSpec, RandomFaultSpec, StepSpec, Topology, TopologyOptions, RANDOM_FAULT_CHOICES,
    RANDOM_FAULT_KINDS,
};
use mailsim_models::{clients::ClientsConfig, Action, FenceMode, LocalDevice};
use mailsim_sim::{Dur, NodeId, Time, MICROS_PER_DAY, MICROS_PER_H};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::error::{FieldPath, InvalidField, ScenarioError};
use crate::units::{parse_byte_rate, parse_count_rate, parse_size, parse_speed, HumanDuration, Share, ShareRange};

mod build;
mod schema;

pub use self::build::build_topology;
pub use self::schema::schema;
use self::schema::{
    bounces_by_profile, durations_by_service, shares_by_service, weights_by_profile, weights_by_protocol, BackupKindName,
    CheckpointEntrySchema, FaultKindName, InboundPolicyName, LinkLossName, LocalDeviceName, NoQuorumPolicyName, RandomFaultKindName,
    RebuildPriorityName, RebuildRuleName, RecipientsName, ReplicationModeName, RetryProfileName, RoleHoursName, StepActionName,
    TakeoverName, WeekdayName, WorkingHoursName,
};

/// Largest scenario file read, in bytes. The replays are a few kilobytes;
/// the bound keeps parsing, and every list a file can hold, small.
pub const FILE_BYTES_MAX: u64 = 1 << 20;
/// Longest `extends` chain, the file itself included. Variants extend a
/// replay, rarely a variant of one; the bound stops runaway chains early.
pub const EXTENDS_DEPTH_MAX: usize = 16;
/// Most MX nodes: node sets are 64-bit masks in the models.
pub const MX_MAX: u32 = 64;
/// Most mailboxes: the filer keeps a few words per mailbox; 10 M mailboxes
/// are ~1 GB, 100× the models benchmark (100,000 mailboxes).
pub const MAILBOXES_MAX: u32 = 10_000_000;
/// Most mails per run: the ledger keeps a few words per mail; 50 M is 50×
/// the models benchmark (1,000,000 mails over 5 days).
pub const MAILS_MAX: u64 = 50_000_000;
/// Most shelves and controllers per shelf: they are named by one letter
/// (`shelf-a/controller-b`).
pub const SHELVES_MAX: u32 = 26;
pub const CONTROLLERS_PER_SHELF_MAX: u32 = 26;
/// Most RAID groups and volumes: the storage keeps a record per group and
/// per volume and scans them on every storage event; real filers have tens.
pub const GROUPS_MAX: u32 = 1_000;
pub const VOLUMES_MAX: u32 = 1_000;
/// Most disks in one RAID group (parity included).
pub const DISKS_PER_GROUP_MAX: u32 = 64;
/// Longest duration anywhere in a file (run, windows, timeouts, delays,
/// fault times): the postmortems span days; 60 days bounds every per-hour
/// series and per-interval count a run keeps.
pub const DURATION_MAX: Dur = Dur::days(60);
/// The longest link latency a `latency` fault may give.
pub const LATENCY_MAX: Dur = Dur::hours(1);
/// Shortest cluster token timeout: heartbeats go every `token_timeout / 4`;
/// corosync's default token is 1 s (3 s in corosync 3), and below 100 ms the
/// heartbeats would swamp the run's event budget without modelling anything
/// real (at 0 there would be no interval at all).
pub const TOKEN_TIMEOUT_MIN: Dur = Dur::millis(100);
/// Most holidays: a year's worth of days.
pub const HOLIDAYS_MAX: usize = 366;
/// Most scheduled faults, random fault processes, recovery steps, fencing
/// levels and STONITH attempts: far above any postmortem, small enough that
/// checking and resolving them is instant.
pub const FAULTS_MAX: usize = 10_000;
pub const RANDOM_FAULTS_MAX: usize = 64;
pub const RECOVERY_STEPS_MAX: usize = 1_000;
pub const FENCE_LEVELS_MAX: usize = 8;
pub const STONITH_ATTEMPTS_MAX: u32 = 100;
/// Most seeds the main job runs per scenario (`run.seeds`); sweeps take
/// their seeds from the command line.
pub const SEEDS_MAX: u32 = 1_000_000;
/// The run's event budget (the kernel's `Config::max_events`): a scenario
/// whose estimated event count exceeds it would end as "budget exceeded"
/// after minutes of work, so `check` rejects it.
pub const EVENTS_MAX: u64 = 1_000_000_000;

/// The recovery actions a step may name (`[[recovery]] action`):
/// `Action::NAMES`, the names of `Action::CHOICES`.
pub const STEP_ACTIONS: &[&str] = Action::NAMES;

/// What can start a recovery step: the `[[recovery]]` field that is given
/// (exactly one). `mailsim schema` lists them as `$defs/RecoveryTrigger`.
pub const TRIGGERS: &[Choice] = &[
    Choice { name: "at", description: "The step fires at that time from T+0 (\"36h\"), whether or not anyone has noticed an alert." },
    Choice {
        name: "after_alert",
        description:
            "The step fires once an operator has noticed the first alert (monitoring's checks, then the calendar's response delay).",
    },
    Choice { name: "after", description: "The step fires when the named earlier step has completed, plus `delay`." },
];

/// The built-in retry profiles by name (`RetryProfile::by_name`), for
/// `topology.mta.retry`, `workload.profiles` and `expect.sender_bounces`.
pub const RETRY_PROFILES: [&str; 5] = ["postfix", "exim", "exchange", "72h", "sendmail"];

/// The protocols of `topology.clients.mix`, in the order of
/// `ClientsConfig::proto_weights`.
pub const PROTOCOLS: [&str; 3] = ["pop", "imap", "webmail"];

/// The days of `topology.operators.start_day`, Monday first (the order of
/// `ClockTime::weekday`). The loader ignores case.
const WEEKDAYS: [(&str, Weekday); 7] = [
    ("mon", Weekday::Mon),
    ("tue", Weekday::Tue),
    ("wed", Weekday::Wed),
    ("thu", Weekday::Thu),
    ("fri", Weekday::Fri),
    ("sat", Weekday::Sat),
    ("sun", Weekday::Sun),
];

/// The recipient distributions of `workload.recipients`.
const RECIPIENTS: [(&str, Recipients); 2] = [("uniform", Recipients::Uniform), ("zipf", Recipients::Zipf)];

/// The services keying `expect.service_down`, `failed_share` and
/// `users_affected`, as figures name them.
fn services() -> [&'static str; 4] {
    Service::ALL.map(Service::name)
}

/// A scenario file as written.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Another scenario file, relative to this one, that this file varies:
    /// that file is read first and this one overrides it, table by table and
    /// key by key (arrays, and whole bounds under `[expect]`, are replaced).
    /// A chain is at most 16 files long and may not loop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    /// What the scenario is and where it comes from.
    pub scenario: Meta,
    /// How long the run lasts, how it is judged, and how many seeds the
    /// main job runs.
    pub run: RunSpec,
    /// The simulated mail service: MX nodes, mailboxes, storage, MTAs, NFS
    /// locking, cluster, clients and operators.
    pub topology: TopologySpec,
    /// The mail the internet's senders send: how much, when, to whom, and
    /// with which retry profiles.
    pub workload: WorkloadSpec,
    /// Scheduled faults (`[[faults]]`), each injected at its time. Default
    /// none; at most 10,000.
    #[serde(default)]
    pub faults: Vec<FaultEntry>,
    /// Random fault processes (`[[random_faults]]`), each injecting its kind
    /// at random times through the run. Default none; at most 64.
    #[serde(default)]
    pub random_faults: Vec<RandomFaultEntry>,
    /// The recovery plan (`[[recovery]]`): runbook steps the operators carry
    /// out, each when its trigger fires. Default none; at most 1,000.
    #[serde(default)]
    pub recovery: Vec<StepEntry>,
    /// What the postmortem reported, checked against every run. Default:
    /// the three invariants only (custody, eventual delivery, no split
    /// brain).
    #[serde(default)]
    pub expect: Expect,
    /// The postmortem's claims in its own clock (`[[checkpoints]]`), held
    /// against each run: reported, and required on a share of seeds when a
    /// checkpoint gives `on_seeds`. Default none; at most 1,000.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(with = "Vec<CheckpointEntrySchema>")]
    pub checkpoints: Vec<crate::checkpoints::CheckpointEntry>,
}

/// What the scenario is and where it comes from.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    /// The scenario's name, as reports, sweep records and JUnit test names
    /// show it.
    pub name: String,
    /// One line saying what the scenario replays or varies, for readers of
    /// the file.
    pub summary: String,
    /// The postmortem it replays: a public citation (title, publisher, date,
    /// URL). Default empty.
    #[serde(default)]
    pub source: String,
    /// What the scenario assumes where the postmortem is silent, one
    /// assumption per entry. Default none.
    #[serde(default)]
    pub assumptions: Vec<String>,
    /// The postmortem's clock at T+0, with its zone: `"2008-08-12 12:00
    /// -04:00"`. Checkpoints may then give clock times, reports show event
    /// times on that clock, and it sets the operators' `start_day` and
    /// `start_hour`. Absent: times are given from T+0 only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub t0: Option<crate::units::ClockTime>,
}

/// How long the run lasts and how it is judged.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Simulated time the run lasts, from T+0 ("7d"): longer than zero and
    /// at most 60 days.
    pub duration: HumanDuration,
    /// When the fault phase ends, from T+0 (at most `duration`). Then the
    /// network is healed and crashed nodes restart; the recovery plan must
    /// complete within `liveness_window`, and then every mail written before
    /// this time must be delivered, returned or given up by its sender
    /// within another `liveness_window`. Absent: no liveness phase, and
    /// eventual delivery of all mail is judged at the end of the run.
    #[serde(default)]
    pub fault_phase: Option<HumanDuration>,
    /// How long recovery may take after the fault phase ends, and then how
    /// long eventual delivery may take after recovery completed. Only used
    /// with `fault_phase`. Default 72h.
    #[serde(default = "default_liveness")]
    pub liveness_window: HumanDuration,
    /// How many seeds the main job (`mailsim` without arguments) runs:
    /// seeds 0 to n-1. Default 8; 1 to 1,000,000. Sweeps take their seeds
    /// from the command line instead.
    #[serde(default = "default_seeds")]
    pub seeds: u32,
    /// Enable a random subset of the random fault processes per seed (at
    /// least one), instead of all of them. Needs `[[random_faults]]`.
    /// Default false.
    #[serde(default)]
    pub swarm: bool,
    /// What the end of the fault phase does to the faults still in force:
    /// `true` (the default) heals the network and restarts every crashed
    /// node, as if the faults simply ended; `false` leaves them as the
    /// faults and steps left them, so a crashed node stays down unless a
    /// `restart` fault or a `power-on` step brings it back (and mail queued
    /// on it waits, or counts against eventual delivery). Only used with
    /// `fault_phase`.
    #[serde(default)]
    pub liveness_heals: Option<bool>,
}

fn default_liveness() -> HumanDuration {
    HumanDuration::hours(72)
}
fn default_seeds() -> u32 {
    8
}

/// The simulated mail service.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// Mail nodes behind the MX record, named `mx-1`, `mx-2` …: 1 to 64 (a
    /// cluster needs at least 2).
    pub mx: u32,
    /// Mailboxes on the file server, each the recipient of some of the mail:
    /// 1 to 10,000,000.
    pub mailboxes: u32,
    /// Run the mail services under a cluster manager behind a virtual IP
    /// (node `vip`): one MX node runs them, and another takes over only after
    /// fencing it. Absent: every MX node serves on its own.
    #[serde(default)]
    pub cluster: Option<ClusterTable>,
    /// What senders see from a crashed MX node: `refuse` (connection
    /// refused: they try the next MX at once) or `silent` (no answer: each
    /// attempt waits out the sender's 600 s reply timeout). Default
    /// `refuse`.
    #[serde(default)]
    pub mx_down: Option<DownSpec>,
    /// The MX records' preferences of the primary hosts, one per MX node
    /// (`mx-1` first), or one (the `vip`'s) in a cluster: senders try the
    /// lowest first, equal ones in random order (RFC 5321 §5.1). Default 10
    /// each.
    #[serde(default)]
    pub mx_preferences: Option<Vec<u16>>,
    /// A backup MX (node `backup-mx`), a higher-preference MX record that
    /// accepts and queues mail when no primary answers and relays it to them
    /// when it can. Absent: none.
    #[serde(default)]
    pub backup_mx: Option<BackupMxTable>,
    /// The file server as an HA pair of heads (`head-a`, `head-b`), each
    /// owning the aggregates of half the RAID groups (group g by head g mod
    /// 2): a `head-failure` takes its volumes offline until the partner
    /// has taken them over. Absent: one head, whose failure takes every
    /// volume offline until `replace-hardware`.
    #[serde(default)]
    pub ha_pair: Option<HaPairTable>,
    /// The mailstore replicated to a second copy at another site
    /// (`[topology.replication]`), synchronously or asynchronously: a
    /// `failover` step promotes the replica (what it lacks is lost), a
    /// `site-failure` fails a site, a `replica-partition` cuts the link
    /// between them. Absent: no replica.
    #[serde(default)]
    pub replication: Option<ReplicationTable>,
    /// The file server's storage hardware and its rebuild and migration
    /// rates. Default: 2 shelves of 2 controllers, 6 RAID groups, 6 volumes.
    #[serde(default)]
    pub storage: StorageTable,
    /// The MX nodes' MTAs: retry profile, queue and delivery to the file
    /// server. Default: Postfix's settings.
    #[serde(default)]
    pub mta: MtaTable,
    /// NFS locking between the delivery agents and the file server.
    #[serde(default)]
    pub nfs: NfsTable,
    /// The POP, IMAP and webmail users whose mail checks measure the service
    /// users saw. Absent: the defaults below (200 users checking every 15
    /// minutes).
    #[serde(default)]
    pub clients: Option<ClientsTable>,
    /// Monitoring's human side: the calendar at T+0, holidays, response
    /// delays and misdiagnosis.
    #[serde(default)]
    pub operators: OperatorsTable,
    /// Monitoring's checks and alert thresholds. Default: Icinga 2's.
    #[serde(default)]
    pub monitoring: MonitoringTable,
    /// Backup sets and snapshots of the mailstore (`[[topology.backups]]`),
    /// which a `restore` step restores from. Absent: none, and the mail of
    /// a mailbox hit by `data-corruption` or `data-loss` is lost at once.
    #[serde(default)]
    pub backups: Vec<BackupTable>,
}

/// A backup set: scheduled copies of every mailbox, their retention and
/// restore rate (defaults per kind: `mailsim_models::backup`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupTable {
    /// The set's name, unique; `restore` steps (`from`) and
    /// `backup-corrupt` faults (`target`) name it.
    pub name: String,
    /// Where its copies live: `snapshot` (on the volume's own storage: a
    /// volume destroyed by `data-loss` takes its snapshots with it), `disk`
    /// (a backup server) or `tape`.
    #[schemars(with = "BackupKindName")]
    pub kind: String,
    /// The first copy in the run, from T+0 ("1h": a nightly backup at 01:00
    /// for a run starting at midnight). Default: one `every` after T+0.
    pub first: Option<HumanDuration>,
    /// One copy every this long. Default 1h for snapshots (ONTAP's default
    /// policy's hourly copies), 1d for disk and tape; longer than zero.
    pub every: Option<HumanDuration>,
    /// Copies kept; the oldest goes when a new one is taken. Default 6 for
    /// snapshots, 14 for disk, 30 for tape; at least 1.
    pub retention: Option<u32>,
    /// The set holds a copy from before the run (the mailboxes at T+0).
    /// Default true.
    pub initial_copy: Option<bool>,
    /// A restore's fixed part (mounting, loading and locating a tape).
    /// Default 5m for snapshots, 1m for disk, 2m for tape.
    pub restore_setup: Option<HumanDuration>,
    /// The data rate of a restore ("360MB/s"), over `topology.storage.
    /// mailbox_size` per mailbox restored. Default 100MB/s for disk, 360MB/s
    /// (LTO-8 native) for tape; a snapshot restore takes `restore_setup`
    /// whatever the size, unless a rate is given.
    pub restore_rate: Option<String>,
}

/// Monitoring's checks of the mail front end and the file server, and
/// when they raise an alert (defaults: Icinga 2's, "Monitoring Basics",
/// <https://icinga.com/docs/icinga-2/latest/doc/03-monitoring-basics/>).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MonitoringTable {
    /// Check period while every target is fine (Icinga 2 `check_interval`).
    /// Default 5m; at least 1s.
    pub check_interval: Option<HumanDuration>,
    /// Check period while a failure is not yet confirmed (Icinga 2
    /// `retry_interval`). Default 1m; at least 1s.
    pub retry_interval: Option<HumanDuration>,
    /// Failed checks in a row before an alert (Icinga 2
    /// `max_check_attempts`). Default 3; 1 to 100.
    pub max_check_attempts: Option<u32>,
    /// Period of repeated alerts while a target keeps failing (Icinga 2
    /// notification `interval`). Default 30m; at least 1s.
    pub realert_interval: Option<HumanDuration>,
}

/// The file server's HA pair (`[topology.ha_pair]`): takeover and giveback
/// timings, NetApp ONTAP's defaults.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HaPairTable {
    /// How long the partner takes to notice a failed head. Default 15s
    /// (ONTAP `cf.takeover.detection.seconds`; 10s to 180s there).
    pub detection: Option<HumanDuration>,
    /// How long the partner then takes to bring the failed head's
    /// aggregates online. Default 30s (an assumption).
    pub takeover: Option<HumanDuration>,
    /// How long a giveback keeps the returned volumes offline. Default 30s
    /// (an assumption).
    pub giveback: Option<HumanDuration>,
    /// Give back automatically once the repaired head has waited
    /// `giveback_delay`. Default true (ONTAP `-auto-giveback`); false: only
    /// a `giveback` step gives back.
    pub auto_giveback: Option<bool>,
    /// How long a repaired head waits before an automatic giveback. Default
    /// 600s (ONTAP `cf.giveback.auto.delay.seconds`).
    pub giveback_delay: Option<HumanDuration>,
}

/// The mailstore's replica (`[topology.replication]`); defaults and their
/// sources: `mailsim_models::replication`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicationTable {
    /// The replica's site name; `site-failure` and `replica-partition`
    /// faults name it. Required.
    pub target: String,
    /// The primary's site name. Default `primary`.
    pub source: Option<String>,
    /// `sync`: a write is acknowledged once both copies have it (a failover
    /// loses nothing acknowledged); `async`: once the primary has it (a
    /// failover loses what the replica lacks). Default `async`.
    #[schemars(with = "Option<ReplicationModeName>")]
    pub mode: Option<String>,
    /// Async: the replica is updated every this long (from T+0); "0s"
    /// streams each write at once (DRBD protocol A). Default 1h.
    pub every: Option<HumanDuration>,
    /// Async: an update's transfer time; sync: the inter-site round trip a
    /// write's acknowledgement waits for. Default 1m (async), 2ms (sync).
    pub lag: Option<HumanDuration>,
    /// Sync: what the primary does while the replica cannot be reached:
    /// `continue` alone, out of sync (SnapMirror Sync, DRBD protocol C), or
    /// `stop` taking writes (SnapMirror StrictSync). Default `continue`.
    #[schemars(with = "Option<LinkLossName>")]
    pub on_link_loss: Option<String>,
    /// The mail nodes at the replica's site (`mx-2` …); the others are at
    /// the primary's. Each writes to the primary of its own site, or over
    /// the link to the other's. Default none.
    pub target_writers: Option<Vec<String>>,
}

/// A backup MX.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BackupMxTable {
    /// Its MX record's preference; senders try it after every primary with
    /// a lower one. Default 20.
    pub preference: Option<u16>,
    /// Retry profile of its queue: backoff, queue runs and lifetime.
    /// Default `postfix`.
    #[schemars(with = "Option<RetryProfileName>")]
    pub retry: Option<String>,
    /// How long a mail may wait in its queue before it is returned to its
    /// author (DSN), overriding the profile's. Backup MX hosts are often
    /// given a longer lifetime than the primaries' (Postfix default 5d).
    pub lifetime: Option<HumanDuration>,
    /// A relay attempt to a primary with no reply within this is deferred
    /// (Postfix `smtp_data_done_timeout`). Default 600s; longer than zero.
    pub relay_timeout: Option<HumanDuration>,
    /// Mails its queue holds; beyond, it answers 452. Default 2,000,000; at
    /// least 1.
    pub queue_capacity: Option<u32>,
}

/// What senders see from a crashed MX node.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DownSpec {
    Refuse,
    Silent,
}

/// The cluster manager.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterTable {
    /// Fencing levels, tried in order when a node must be fenced; each gives
    /// every MX node a device `mx-K/fence-<level>`. At least one; at most 8.
    #[serde(default)]
    pub fencing: Vec<FenceLevel>,
    /// How long a peer may stay silent before it is declared dead (the
    /// corosync token). Default 3s; at least 100ms.
    #[serde(default)]
    pub token_timeout: Option<HumanDuration>,
    /// How long the cluster manager waits for one fencing device to answer
    /// (Pacemaker `stonith-timeout`). Default 60s; longer than zero.
    #[serde(default)]
    pub stonith_timeout: Option<HumanDuration>,
    /// Fencing operations (each through every level) that may fail before
    /// the cluster manager gives up (Pacemaker `stonith-max-attempts`).
    /// Default 10; 1 to 100.
    #[serde(default)]
    pub stonith_attempts: Option<u32>,
    /// Send heartbeat messages (every token_timeout / 4) instead of using the
    /// kernel's failure monitor, which tells the agents what those heartbeats
    /// would without the events. Heartbeats are for lossy links, which the
    /// monitor does not turn into false suspicions. Default false.
    #[serde(default)]
    pub heartbeats: bool,
    /// Planted bug: fail over as soon as a peer is declared dead, without
    /// fencing it first. Default false.
    #[serde(default)]
    pub failover_without_fence: bool,
    /// Vote-only members (nodes `witness-1` …): quorum devices or
    /// tie-breakers with one vote each that run no service. Default 0; at
    /// most 8.
    #[serde(default)]
    pub witnesses: Option<u32>,
    /// What a partition without quorum (more than half of all votes, one
    /// per MX node and witness; two votes in all keep quorum alone,
    /// Corosync `two_node`) does: `stop` its services, `freeze` (keep what
    /// runs, start nothing) or `ignore` (carry on). Default `freeze` (the
    /// models' behaviour before this setting; Pacemaker's own default for
    /// `no-quorum-policy` is `stop`).
    #[serde(default)]
    #[schemars(with = "Option<NoQuorumPolicyName>")]
    pub no_quorum_policy: Option<String>,
}

/// One fencing level.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FenceLevel {
    /// The level's name, letters, digits and dashes (`ipmi`); its devices
    /// are named `mx-K/fence-<level>`.
    pub level: String,
    /// How the level's devices behave from T+0: `works`, `reports-failure`,
    /// `timeout` (never answers) or `lies-success` (reports success without
    /// powering the node off). Default `works`; a `fence-broken` fault
    /// changes it during the run.
    #[serde(default)]
    pub mode: Option<FenceModeSpec>,
}

/// How a fencing device behaves.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FenceModeSpec {
    Works,
    ReportsFailure,
    Timeout,
    LiesSuccess,
}

impl FenceModeSpec {
    fn mode(self) -> FenceMode {
        match self {
            FenceModeSpec::Works => FenceMode::Works,
            FenceModeSpec::ReportsFailure => FenceMode::ReportsFailure,
            FenceModeSpec::Timeout => FenceMode::Timeout,
            FenceModeSpec::LiesSuccess => FenceMode::LiesSuccess,
        }
    }
}

/// The file server's storage hardware.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageTable {
    /// Disk shelves, named `shelf-a`, `shelf-b` …; RAID group g sits on shelf
    /// g mod shelves. Default 2; 1 to 26.
    pub shelves: Option<u32>,
    /// Controllers per shelf, named `shelf-a/controller-a` …; a shelf is
    /// reachable while any of them works, unless a path fault broke that
    /// redundancy. Default 2; 1 to 26.
    pub controllers_per_shelf: Option<u32>,
    /// RAID groups, named `group-1` …; volume v sits on group v mod groups.
    /// Default 6; 1 to 1,000.
    pub groups: Option<u32>,
    /// Disk losses a RAID group survives; one more destroys its data.
    /// Default 2 (RAID-DP, RAID-6); less than `disks_per_group`.
    pub parity_disks: Option<u32>,
    /// Disks per RAID group, parity included (default 14, the OpenSRS
    /// rebuild count); at most 64, and more than `parity_disks`. With
    /// `disk_size` and `stale_disks`, it sets what a rebuild must write.
    pub disks_per_group: Option<u32>,
    /// Volumes, named `volume-1` …; mailboxes are spread over them by
    /// `placement`. Default 6; 1 to 1,000.
    pub volumes: Option<u32>,
    /// How mailboxes are spread over volumes: `random` (as at OpenSRS) or
    /// `round-robin` (mailbox m on volume m mod volumes). Default `random`.
    pub placement: Option<PlacementSpec>,
    /// The capacity of one disk, with its unit ("300GB"): what rebuilding
    /// it writes. Default 300GB (the Fibre Channel class of 2008).
    pub disk_size: Option<String>,
    /// Which disks go stale (need rebuilding) when their shelf loses its
    /// paths, drawn per seed: a share, each disk with that chance ("33.3%",
    /// the default: OpenSRS rebuilt 14 of the 42 disks behind its shelf),
    /// or a count per shelf spread at random over its RAID groups (14, when
    /// the postmortem reports it).
    pub stale_disks: Option<StaleDisksSpec>,
    /// The rebuild rate of one RAID group at idle, limited by its disks
    /// ("35MB/s"); `rebuild_rate_total` is raised to at least this. Default
    /// 35MB/s; not zero.
    pub rebuild_rate: Option<String>,
    /// How much bandwidth rebuilds take from clients under load (NetApp's
    /// `raid.reconstruct.perf_impact`): `low`, `medium` or `high`; under full
    /// client load a rebuild keeps 10%, 40% or 90% of its rate. Default
    /// `medium`.
    #[schemars(with = "Option<RebuildPriorityName>")]
    pub rebuild_priority: Option<String>,
    /// The share of the disks' bandwidth clients use at the busiest hour of
    /// the day, as a range drawn per seed (`["40%", "80%"]`, the default) or
    /// one share. The load follows the workload's hour-of-day curve.
    pub foreground_peak: Option<ShareRange>,
    /// The rebuild bandwidth of the whole storage, shared by rebuilds that
    /// run in parallel ("70MB/s"). Default 70MB/s (two groups at full
    /// speed); not zero.
    pub rebuild_rate_total: Option<String>,
    /// The data per volume that a migration copies, with its unit ("1TB").
    /// Default 1TB.
    pub volume_size: Option<String>,
    /// The copy rate of a migration to new storage ("100MB/s"). Give this or
    /// `migration_per_volume`, not both. Default 100MB/s; not zero.
    pub migration_rate: Option<String>,
    /// Serve a RAID group's volumes while it rebuilds. Default false: the
    /// volumes stay offline until their group is rebuilt, as at OpenSRS.
    pub online_during_rebuild: Option<bool>,
    /// Service time of one mailbox operation at normal speed. Default 6ms.
    pub service_time: Option<HumanDuration>,
    /// Mailbox appends the filer serves per second at normal speed (the mail
    /// share of a shared file server; default 100, at least 1). Scale it
    /// with the workload when a replay needs the storage to be the
    /// bottleneck.
    pub appends_per_s: Option<u32>,
    /// Time to migrate one volume to new storage; sets the copy rate to
    /// `volume_size` divided by it. Give this or `migration_rate`, not both.
    /// Default: 1TB at 100MB/s, about 2.8h.
    pub migration_per_volume: Option<HumanDuration>,
    /// A migration starts at most one step per this interval (night-time
    /// steps). Default 24h.
    pub migration_step_interval: Option<HumanDuration>,
    /// Merge-back skips mails already in the mailbox. Default true; false is
    /// a planted bug: a mail both delivered and in a temporary store becomes
    /// a duplicate.
    pub merge_dedup: Option<bool>,
    /// The data a restore moves per mailbox ("1GB"): the simulated mailboxes
    /// hold only the run's mail, a real one years of it. Default 1GiB; at
    /// least 1MB.
    pub mailbox_size: Option<String>,
    /// What the clients' I/O costs while the write-back cache is lost (a
    /// `cache-failure`): "x3", the default (an assumption between coalesced
    /// full-stripe writes and RAID-6's six I/Os per small write).
    pub write_through_cost: Option<String>,
    /// How much a collapsed (overloaded) storage's load is amplified by
    /// clients' retransmissions: "x3", the default (NFS over TCP sends a
    /// request up to three times, `timeo=600,retrans=2`, nfs(5)). The
    /// storage leaves a collapse only when even the amplified load fits.
    pub retry_amplification: Option<String>,
    /// The useful work a collapsed storage still does, as a share of its
    /// bandwidth ("5%", the default; an assumption). Not zero.
    pub collapse_floor: Option<Share>,
    /// The shelf's controllers share its I/O (an active-active array
    /// controller pair), so a failed controller takes its share of the
    /// bandwidth with it. Default false: shelf modules provide paths, and
    /// the disks bound the bandwidth.
    pub controllers_carry_load: Option<bool>,
    /// How long a `power-cycle` step keeps every volume offline while the
    /// shelves boot and the heads find the disks again. Default 5m (an
    /// assumption).
    pub power_cycle: Option<HumanDuration>,
    /// Background jobs sharing the storage's bandwidth with the clients
    /// (backups, scrubs, snapshots), each on a daily schedule.
    #[serde(default)]
    pub jobs: Vec<IoJobTable>,
}

/// A background job on the storage (`[[topology.storage.jobs]]`).
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct IoJobTable {
    /// What it is ("nightly-backup"), for reports.
    pub name: String,
    /// Its load, as a share of a shelf's healthy bandwidth ("30%").
    pub load: Share,
    /// The wall-clock time of day it starts ("22:00", on the hour).
    pub start: String,
    /// How long it runs each day, in whole hours (1 to 24).
    pub hours: u32,
    /// Low priority: takes only what the clients leave (ionice idle, a
    /// throttled scrub), so it never overloads the storage by itself.
    /// Default false: it takes its load whatever the clients need.
    #[serde(default)]
    pub yields: bool,
}

/// How long a recovery step takes: a duration or an estimate with its source.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged, deny_unknown_fields)]
pub enum TakesSpec {
    /// Always this long ("2h").
    Fixed(HumanDuration),
    /// A distribution: triangular with `mode`, else uniform.
    Estimate {
        /// The shortest it takes.
        min: HumanDuration,
        /// The most likely (makes it triangular).
        #[serde(default)]
        mode: Option<HumanDuration>,
        /// The longest it takes.
        max: HumanDuration,
        /// Where the estimate comes from (a document, or the postmortem's
        /// own words); required.
        #[serde(default)]
        source: Option<String>,
    },
}

/// Stale disks after a shelf lost its paths: a chance per disk or a count per
/// shelf.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(untagged)]
pub enum StaleDisksSpec {
    /// That many disks of the shelf, spread at random over its groups.
    Count(u32),
    /// Each disk with this chance ("33.3%").
    Share(Share),
}

/// How mailboxes are spread over volumes.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementSpec {
    Random,
    RoundRobin,
}

/// The MX nodes' MTAs.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MtaTable {
    /// Retry profile of the cluster's own queues: backoff, queue runs and
    /// queue lifetime. Default `postfix`.
    #[schemars(with = "Option<RetryProfileName>")]
    pub retry: Option<String>,
    /// How long a mail may stay queued before its MTA returns it to its
    /// author (DSN), overriding the profile's (postfix 5d, exim 4d, exchange
    /// 2d, 72h 72h, sendmail 5d).
    pub lifetime: Option<HumanDuration>,
    /// A delivery to the file server with no answer within this is killed
    /// and deferred (Postfix `command_time_limit`). Default 1000s; longer
    /// than zero.
    pub delivery_timeout: Option<HumanDuration>,
    /// Deliveries to the file server one MTA has in flight at most (Postfix
    /// `default_destination_concurrency_limit`). Default 20; at least 1.
    pub delivery_concurrency: Option<u32>,
    /// Mails one MTA's queue holds. Default 2,000,000; at least 1.
    pub queue_capacity: Option<u32>,
    /// What an MTA with a full queue answers: `refuse` (452: senders retry
    /// later) or `accept` (the capacity is only a soft limit). Default
    /// `refuse`.
    pub when_full: Option<WhenFullSpec>,
    /// What an MX answers new mail for a mailbox whose last delivery
    /// failed (Postfix recipient address verification): `accept-and-hold`
    /// (250, queued at the MX), `reject-4xx` (450: the sender retries on its
    /// own profile) or `reject-5xx` (550: the sender returns it to its
    /// author at once). Default `accept-and-hold`.
    #[schemars(with = "Option<InboundPolicyName>")]
    pub inbound_policy: Option<String>,
    /// With a rejecting `inbound_policy`: how long a mailbox found
    /// unavailable is refused before its next mail is accepted as a probe
    /// (Postfix `address_verify_negative_refresh_time`). Default 3h; longer
    /// than zero.
    pub unavailable_refresh: Option<HumanDuration>,
    /// Planted bug: answer 250 on receipt, before the queue write is
    /// durable. Default false.
    pub ack_before_durable: Option<bool>,
    /// Planted bug: delete expired mail without returning it to its author.
    /// Default false.
    pub drop_expired_without_dsn: Option<bool>,
    /// Planted bug: the delivery agent appends to a mailbox without taking
    /// its lock. Default false.
    pub lda_skips_lock: Option<bool>,
}

/// What an MTA with a full queue answers.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WhenFullSpec {
    Refuse,
    Accept,
}

/// NFS locking on the file server.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NfsTable {
    /// How long the delivery agent tries the lock before EX_TEMPFAIL.
    /// Default 20s (Postfix: 20 attempts 1 s apart); longer than zero.
    pub lock_fail_delay: Option<HumanDuration>,
    /// The shortest grace period of a restarted lock manager, during which
    /// locks fail; each grace is drawn uniformly from `lock_grace_min` to
    /// `lock_grace_max`. Default 45s.
    pub lock_grace_min: Option<HumanDuration>,
    /// The longest grace period of a restarted lock manager. Default 90s;
    /// at least `lock_grace_min`.
    pub lock_grace_max: Option<HumanDuration>,
}

/// The users reading mail.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientsTable {
    /// Users sampled from the mailboxes, one mailbox each. Default 200, or
    /// the mailbox count if lower; 1 to `mailboxes`.
    pub users: Option<u32>,
    /// How often each user checks mail (logs in). Default 15m; longer than
    /// zero.
    pub check_interval: Option<HumanDuration>,
    /// Integer weights of the protocols users speak: `pop`, `imap`,
    /// `webmail`. A protocol left out weighs 0, and some weight must be
    /// above 0. Default 40/40/20.
    #[serde(default)]
    #[schemars(schema_with = "weights_by_protocol")]
    pub mix: BTreeMap<String, u64>,
}

/// The operators' calendar and habits.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorsTable {
    /// Day of the week at T+0: `mon`, `tue`, `wed`, `thu`, `fri`, `sat` or
    /// `sun`. Default `mon`; with `scenario.t0` leave it out, or give the day
    /// t0 falls on.
    #[schemars(with = "Option<WeekdayName>")]
    pub start_day: Option<String>,
    /// Hour of the day at T+0 (0-23). Default 9; with `scenario.t0` leave it
    /// out, or give t0's hour.
    #[schemars(range(max = 23))]
    pub start_hour: Option<u32>,
    /// Holidays, as day offsets from the start day (0 = the first day), none
    /// after the run's last day. Default none; at most 366.
    #[serde(default)]
    pub holidays: Vec<u32>,
    /// Probability that the first responder checks the wrong service; a
    /// second person then notices after another response delay. Default 0%.
    pub misdiagnosis: Option<Share>,
    /// The text of monitoring's alerts, followed by the failing target's
    /// name. Default "mailcluster is DOWN".
    pub alert_text: Option<String>,
    /// Response delay to an alert in business hours (09:00-17:00, Monday to
    /// Friday), drawn uniformly from [min, max]. Default ["5m", "15m"].
    pub business_delay: Option<[HumanDuration; 2]>,
    /// Response delay to an alert outside business hours on a working day,
    /// drawn uniformly from [min, max]. Default ["30m", "90m"].
    pub night_delay: Option<[HumanDuration; 2]>,
    /// Response delay to an alert on a Saturday or Sunday, drawn uniformly
    /// from [min, max]. Default ["1h", "4h"].
    pub weekend_delay: Option<[HumanDuration; 2]>,
    /// Response delay to an alert on a holiday (one on a weekend included),
    /// drawn uniformly from [min, max]; needs `holidays`. Default ["4h",
    /// "12h"].
    pub holiday_delay: Option<[HumanDuration; 2]>,
    /// Who carries out recovery steps (`[[topology.operators.roles]]`): each
    /// with its calendar, time to acknowledge and time to diagnose; a step
    /// names one with `recovery[].role`. At most 100. Default none.
    #[serde(default)]
    pub roles: Vec<RoleTable>,
}

/// The values of `topology.operators.roles[].hours`.
pub const ROLE_HOURS: [&str; 3] = ["24x7", "business", "on-call"];

/// A role that carries out recovery steps (`[[topology.operators.roles]]`):
/// the on-call sysadmin, the storage team, the vendor's field engineer.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleTable {
    /// The role's name, unique; steps name it in `recovery[].role`.
    pub name: String,
    /// When it can be reached: `24x7` (at once, around the clock; the
    /// default), `business` (working days in business hours only: a step
    /// out of hours waits for the next business hour, and the role's work
    /// stops at night, on weekends and holidays) or `on-call` (at once in
    /// business hours, after `callout` outside them).
    #[serde(default)]
    #[schemars(with = "Option<RoleHoursName>")]
    pub hours: Option<String>,
    /// Only for `on-call`, and required there: how long a callout out of
    /// business hours takes (paged, wakes up, logs in or drives in): a
    /// duration or a distribution with its `source`, as `recovery[].takes`.
    #[serde(default)]
    pub callout: Option<TakesSpec>,
    /// From being reached to working on it (reading the page, opening the
    /// case): a duration or a distribution with its `source`. Default 0s.
    #[serde(default)]
    pub acknowledge: Option<TakesSpec>,
    /// From working on it to knowing what to do: a duration or a
    /// distribution with its `source`. Default 0s.
    #[serde(default)]
    pub diagnose: Option<TakesSpec>,
    /// Probability that the first diagnosis is wrong and a second one (drawn
    /// again from `diagnose`) is needed. Default 0%.
    #[serde(default)]
    pub misdiagnosis: Option<Share>,
    /// Free text: who this is in the postmortem, and where its figures come
    /// from. The run ignores it.
    #[serde(default)]
    pub note: Option<String>,
}

/// The mail the internet's senders send.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Exactly this many mails, sent over the window. Give exactly one of
    /// `mails`, `per_hour` and `rate`; at most 50,000,000 mails per run.
    #[serde(default)]
    pub mails: Option<u64>,
    /// Or a mean rate in mails per hour over the window, shaped by a
    /// business-day curve (low at night, highest 9-16 h).
    #[serde(default)]
    pub per_hour: Option<u64>,
    /// Or the mean rate with its unit: "1200/h", "20/min", "2/s", "24000/d".
    #[serde(default)]
    pub rate: Option<String>,
    /// How long senders submit new mail, from `begin`: longer than zero, and
    /// `begin` + `window` within the run.
    pub window: HumanDuration,
    /// When submissions start, from T+0. Default 0s.
    #[serde(default)]
    pub begin: Option<HumanDuration>,
    /// How recipients are drawn: `uniform` (every mailbox equally likely) or
    /// `zipf` (mailbox k weighs 1/(k+1)). Default `uniform`.
    #[serde(default)]
    #[schemars(with = "Option<RecipientsName>")]
    pub recipients: Option<String>,
    /// Integer weights of the sending MTAs' retry profiles (postfix, exim,
    /// exchange, 72h, sendmail): the share of mails each sends. Default
    /// postfix 60, exim 20, exchange 15, 72h 5.
    #[serde(default)]
    #[schemars(schema_with = "weights_by_profile")]
    pub profiles: BTreeMap<String, u64>,
}

/// A scheduled fault.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultEntry {
    /// When the fault is injected, from T+0, at most the run's `duration`;
    /// negative ("-7d") for a fault already present when the run starts
    /// (injected at T+0).
    pub at: HumanDuration,
    /// What happens: `crash`, `restart` or `isolate` a node; `partition` it
    /// from `peer`, or slow the link to `peer` (`latency`); `heal` the
    /// whole network; `controller-failure` (a
    /// controller), `path-fault` (a shelf's redundancy), `disk-failure` and
    /// `latent-sector-error` (a RAID group); `degrade`, `lock-broken`,
    /// `lock-restart` and `hang` (the file server); `fence-broken` (a
    /// fencing device); `data-corruption` and `data-loss` (a volume, or
    /// `filer` for every volume, with a `share` of its mailboxes);
    /// `backup-corrupt` (a backup set, by name); `head-failure` (a head of
    /// the file server, `head-a` or `head-b`, with `takeover`);
    /// `local-device-failure` (a mail node's local device, with `device`).
    #[schemars(with = "FaultKindName")]
    pub kind: String,
    /// The component the fault hits: a node (`mx-2`, `filer`, `vip`), a
    /// shelf (`shelf-a`), a controller (`shelf-a/controller-b`), a RAID group
    /// (`group-3`) or a fencing device (`mx-1/fence-ipmi`). Required by every
    /// kind but `heal`, which takes none.
    #[serde(default)]
    pub target: Option<String>,
    /// For `partition` and `latency`, and required there: the node cut off
    /// from `target` (or slowed), in both directions.
    #[serde(default)]
    pub peer: Option<String>,
    /// For `degrade`, and required there: the storage's remaining speed
    /// ("10%") or its latency factor ("x10").
    #[serde(default)]
    pub speed: Option<String>,
    /// For `hang`, and required there: how long the file server stops
    /// answering.
    #[serde(default, rename = "for")]
    pub for_: Option<HumanDuration>,
    /// For `latency`, and required there: the mean one-way delay of every
    /// message between `target` and `peer`, both ways, until `heal` (at
    /// most 1h).
    #[serde(default)]
    pub latency: Option<HumanDuration>,
    /// For `fence-broken`, and required there: how the fencing device
    /// behaves from then on.
    #[serde(default)]
    pub mode: Option<FenceModeSpec>,
    /// For `data-corruption` and `data-loss`: the share of the target's
    /// mailboxes hit ("10%"), drawn per seed. Default 100%: the whole
    /// volume (for `data-loss`, the volume is destroyed with its
    /// snapshots).
    #[serde(default)]
    pub share: Option<Share>,
    /// For `head-failure`: how the partner's takeover goes: `works` (the
    /// default), `fails` or `hangs`.
    #[serde(default)]
    #[schemars(with = "Option<TakeoverName>")]
    pub takeover: Option<String>,
    /// For `local-device-failure`: the device that fails: `queue` (the MX
    /// node's queue disk; the default).
    #[serde(default)]
    #[schemars(with = "Option<LocalDeviceName>")]
    pub device: Option<String>,
    /// Free text: what the postmortem says about this fault. The run ignores
    /// it.
    #[serde(default)]
    pub note: Option<String>,
}

/// A random fault process.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomFaultEntry {
    /// What the process injects: `crash` (a random running MX node),
    /// `restart` (a random crashed MX node), `partition` (isolates a random
    /// MX node), `heal` (the whole network) or `disk-failure` (a random RAID
    /// group).
    #[schemars(with = "RandomFaultKindName")]
    pub kind: String,
    /// The mean time between two of its faults (the gaps are exponentially
    /// distributed): longer than zero.
    pub mean_interval: HumanDuration,
}

/// A recovery step: `action` on `target` when its trigger fires. Give
/// exactly one trigger: `at`, `after_alert = true` or `after`.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepEntry {
    /// The step's name, unique in the plan; `after` and
    /// `expect.no_failover_before` refer to it.
    pub name: String,
    /// What the operators do: `replace-hardware` (failed controllers, paths,
    /// disks and file-server heads at `filer`; a failed local device at a
    /// mail node), `fix-redundancy` (a path fault), `start-rebuild` (degraded
    /// RAID groups), `enable-temp-stores` (new mail for offline mailboxes
    /// goes to temporary stores), `merge-back` (temporary stores into their
    /// mailboxes), `migrate` (affected volumes to new storage),
    /// `rollback-upgrade` (the file server's failed upgrade),
    /// `reset-cluster` (a manual cluster reset), `power-on` (a node),
    /// `flush-queue` (an MTA retries its deferred mail now), `standby` (a
    /// cluster member's planned maintenance: its services move to another
    /// member without fencing), `unstandby` (it may host them again),
    /// `restore` (damaged mailboxes from a backup set, `from`) or
    /// `recreate-accounts` (damaged mailboxes recreated empty).
    /// `giveback` (the file server's taken-over volumes back to their
    /// repaired head) or `power-cycle` (the file server's shelves: every
    /// volume offline for `topology.storage.power_cycle`; a hung takeover
    /// completes after it).
    #[schemars(with = "StepActionName")]
    pub action: String,
    /// The node the command goes to (`filer`, `mx-1`, `vip` …). A target
    /// that cannot carry out the action answers that the step failed, and
    /// the operators retry it, three attempts in all.
    pub target: String,
    /// Fire the step at this time from T+0 ("36h"), whether or not anyone
    /// has noticed an alert; not negative, at most 60 days.
    #[serde(default)]
    pub at: Option<HumanDuration>,
    /// If true, fire the step when an operator has noticed the first alert
    /// (monitoring raises one once three checks in a row, a minute apart,
    /// found a target failing): the calendar's response delay for the
    /// moment the alert arrived after it, and if the responder misdiagnoses
    /// it, a second person's response delay after that. Default false.
    #[serde(default)]
    pub after_alert: bool,
    /// Fire the step when the named earlier step has completed, plus
    /// `delay`. A step that failed for good never completes, and then
    /// neither does this one.
    #[serde(default)]
    pub after: Option<String>,
    /// Only with `after`: how long after the earlier step completed this one
    /// fires. Default 0s, at once.
    #[serde(default)]
    pub delay: Option<HumanDuration>,
    /// How long the operators work on the step once it fires, before the
    /// command reaches its target (diagnosis, parts, travel, finding the
    /// fix): a duration, or, when only an estimate is known, a distribution
    /// drawn per seed with its source: `{ min, mode, max, source }`
    /// (triangular, a three-point estimate) or `{ min, max, source }`
    /// (uniform). Default 0s.
    #[serde(default)]
    pub takes: Option<TakesSpec>,
    /// When the operators do that work: `always` (around the clock, the
    /// on-call team in an outage; the default) or `business` (working days
    /// in business hours only, so `takes` stretches over nights, weekends
    /// and holidays: a vendor's engineer, a parts depot, staff not on call).
    #[serde(default)]
    #[schemars(with = "Option<WorkingHoursName>")]
    pub hours: Option<String>,
    /// Who carries the step out: the `name` of one of
    /// `topology.operators.roles`. Once the step fires, the role is reached
    /// by its calendar, acknowledges and diagnoses (at its first step; later
    /// steps wait only for its hours), and then `takes` begins — in the
    /// role's working hours unless `hours` says otherwise. Default: the
    /// operators who noticed, at once.
    #[serde(default)]
    pub role: Option<String>,
    /// A maintenance window: once the work is done, the command waits for
    /// the next time the wall clock reads this hour ("23:00", on the hour),
    /// as night-time migration steps do. Default: at once.
    #[serde(default)]
    pub window: Option<String>,
    /// Only for `start-rebuild`: rebuild every degraded RAID group at once,
    /// sharing `rebuild_rate_total`, instead of one after another. Default
    /// false.
    #[serde(default)]
    pub parallel: bool,
    /// Only for a serial `start-rebuild`: which degraded RAID group goes
    /// next once the groups named in `order_first` are done:
    /// `index` (group-1 first; the default), `smallest-first` (the least
    /// data to rebuild first), `largest-first`, `most-users-first` (the
    /// group whose volumes hold the most mailboxes first) or
    /// `most-users-per-byte` (the most mailboxes per byte to rebuild first).
    /// Refused with `parallel = true`, where every group rebuilds at once.
    #[serde(default)]
    #[schemars(with = "Option<RebuildRuleName>")]
    pub order: Option<String>,
    /// Only for a serial `start-rebuild`: RAID groups rebuilt first, in this
    /// order, named as groups (`group-2`) or by a volume on them
    /// (`volume-2`); the others follow `order`. Default: none.
    #[serde(default)]
    pub order_first: Option<Vec<String>>,
    /// Only for `migrate`: the batches the volumes are copied in, at most one
    /// per `migration_step_interval`. Default 1; at most the volume count.
    #[serde(default)]
    pub steps: Option<u32>,
    /// Only for `migrate`: keep the mails' UIDLs. Default true; false makes
    /// POP clients download every mail again (client duplicates).
    #[serde(default)]
    pub keep_uidls: Option<bool>,
    /// Only for `power-on`, and required there: the node to power on.
    #[serde(default)]
    pub node: Option<String>,
    /// Only for `restore`, and required there: the backup set restored from
    /// (its newest usable copy).
    #[serde(default)]
    pub from: Option<String>,
    /// Only for `restore` and `recreate-accounts`: the volumes whose damaged
    /// mailboxes are restored or recreated (`["volume-1"]`). Default: every
    /// damaged mailbox.
    #[serde(default)]
    pub volumes: Option<Vec<String>>,
    /// Only for `restore`: the restore keeps the mailboxes' UIDLs and
    /// UIDVALIDITY (a dsync-style backup, Dovecot `doveadm backup`).
    /// Default false: a file-level restore gives clients new identifiers,
    /// and POP and IMAP clients fetch the mailbox again.
    #[serde(default)]
    pub preserve_uids: Option<bool>,
}

/// What one node's mail queue must show.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueExpect {
    /// Its deepest depth (mails, as sampled).
    pub peak: Option<Bounds<u64>>,
    /// When it drained after its peak (the first sample at or below 1% of
    /// the peak), from T+0. A queue that never drained fails a `max` and
    /// meets a `min`.
    pub drained: Option<Bounds<HumanDuration>>,
}

/// A figure with bounds: `{ min = …, max = … }`, either or both. The bounds
/// must hold on every seed, unless `on_seeds` says they are meant to hold on
/// at least that share of seeds only: `max_delay = { min = "8h", on_seeds =
/// "99.9%" }`.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bounds<T> {
    /// The least value that meets the expectation.
    pub min: Option<T>,
    /// The greatest value that meets the expectation.
    pub max: Option<T>,
    /// A rate expectation: the bounds are meant to hold on at least this
    /// share of seeds (more than 0%, less than 100%), not on all. One run
    /// that misses them reports the miss as tolerated and still passes; a
    /// sweep or merge reports the observed share of seeds that met them with
    /// its 95% confidence interval (Wilson score) and fails when that share
    /// is below this one; the default job fails when the seeds it ran miss
    /// it clearly (the interval's upper end is below it). Absent: every seed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_seeds: Option<Share>,
}

impl<T> Bounds<T> {
    /// Bounds that must hold on every seed.
    pub fn new(min: Option<T>, max: Option<T>) -> Bounds<T> {
        Bounds { min, max, on_seeds: None }
    }
}

/// A point of a curve: at `at`, at least `min` and at most `max` of the
/// mailboxes or users (by the list it is in); give `min`, `max` or both.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// The time the share is read at, from T+0.
    pub at: HumanDuration,
    /// The greatest share that meets the checkpoint.
    #[serde(default)]
    pub max: Option<Share>,
    /// The least share that meets the checkpoint.
    #[serde(default)]
    pub min: Option<Share>,
}

/// What the postmortem reported, checked on every seed (a bound with
/// `on_seeds`: meant to hold on at least that share of seeds).
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// No accepted mail lost, none delivered twice (default true).
    pub custody: Option<bool>,
    /// Everything accepted is delivered after recovery (default true).
    pub eventual_delivery: Option<bool>,
    /// Never two writers of one mailbox or resource (default true).
    pub no_split_brain: Option<bool>,
    /// Accepted mails lost: in no queue, mailbox or temporary store, and not
    /// returned to their author.
    pub lost: Option<Bounds<u64>>,
    /// Mails delivered to their mailbox more than once.
    pub duplicates: Option<Bounds<u64>>,
    /// Mails POP/IMAP clients downloaded again because their UIDLs changed
    /// (a migration, restore or recreation that does not keep them).
    pub client_duplicates: Option<Bounds<u64>>,
    /// `client_duplicates` of POP clients (leave-on-server users
    /// re-downloading their mailbox).
    pub pop_redownloads: Option<Bounds<u64>>,
    /// `client_duplicates` of IMAP clients (mails fetched again when the
    /// client resyncs its cache after a UIDVALIDITY change).
    pub imap_resyncs: Option<Bounds<u64>>,
    /// Mails bounced by senders, per retry profile (`postfix` …), or `all`
    /// for every profile together.
    #[serde(default)]
    #[schemars(schema_with = "bounces_by_profile")]
    pub sender_bounces: BTreeMap<String, Bounds<u64>>,
    /// Mails returned to their authors by the cluster's MTAs (DSN) after
    /// the queue lifetime.
    pub returned: Option<Bounds<u64>>,
    /// Peak share of mailboxes unavailable.
    pub peak_unavailable: Option<Bounds<Share>>,
    /// The restoration curve: the share of mailboxes unavailable at given
    /// times.
    #[serde(default)]
    pub unavailable: Vec<Checkpoint>,
    /// When the last unavailable mailbox came back, from T+0.
    pub restored: Option<Bounds<HumanDuration>>,
    /// No mail delivered in this interval, [from, to] from T+0.
    pub no_delivery_between: Option<[HumanDuration; 2]>,
    /// Longest delivery delay (author to mailbox).
    pub max_delay: Option<Bounds<HumanDuration>>,
    /// No failover of the mail services before this recovery step completed.
    pub no_failover_before: Option<String>,
    /// When the first failover happened, from the start. No failover at all
    /// counts as later than any time: it meets `min`, and fails `max`.
    pub failover: Option<Bounds<HumanDuration>>,
    /// Per service (`smtp`, `pop`, `imap`, `webmail`): how long the service
    /// failed for at least one of its users (SMTP: one of its doors).
    #[serde(default)]
    #[schemars(schema_with = "durations_by_service")]
    pub service_down: BTreeMap<String, Bounds<HumanDuration>>,
    /// Per service (`smtp`, `pop`, `imap`, `webmail`): failed attempts over
    /// attempts.
    #[serde(default)]
    #[schemars(schema_with = "shares_by_service")]
    pub failed_share: BTreeMap<String, Bounds<Share>>,
    /// Per service (`smtp`, `pop`, `imap`, `webmail`): the most of its users
    /// without full service at once.
    #[serde(default)]
    #[schemars(schema_with = "shares_by_service")]
    pub users_affected: BTreeMap<String, Bounds<Share>>,
    /// The lowest share of users in full service over the run.
    pub users_full_service_min: Option<Bounds<Share>>,
    /// The share of users in full service at given times (the OpenSRS
    /// "80% of users have full email service" curve).
    #[serde(default)]
    pub users_full_service: Vec<Checkpoint>,
    /// The share of users with partial service only (webmail access to new
    /// mail in a temporary store) at given times.
    #[serde(default)]
    pub users_partial_service: Vec<Checkpoint>,
    /// The deepest mail queue of any node (mails).
    pub queue_peak: Option<Bounds<u64>>,
    /// One node's mail queue, by node name (`mx-1`, `backup-mx` …): its
    /// peak depth and when it drained after that peak.
    #[serde(default)]
    pub queue: BTreeMap<String, QueueExpect>,
    /// Fault kinds expected to change nothing (a design variant whose
    /// redundancy absorbs them), each the kind of a scheduled fault; every
    /// other scheduled fault must have an effect, and these must not.
    #[serde(default)]
    #[schemars(with = "Vec<FaultKindName>")]
    pub absorbed: Vec<String>,
}

/// A loaded, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub path: PathBuf,
    pub file: ScenarioFile,
    pub topology: Topology,
    /// The file's `[[checkpoints]]`, validated.
    pub checkpoints: Vec<crate::checkpoints::Checkpoint>,
    /// The file's ranged parameters (`{ range = [a, b], reason }`), each at
    /// its midpoint in `file` and `topology` (`ranges.rs`).
    pub ranges: Vec<crate::ranges::Ranged>,
    /// The merged TOML with the ranges at their midpoints, for
    /// [`Scenario::with_values`] (empty when built by [`Scenario::from_file`],
    /// which has no ranges).
    table: toml::Table,
}

/// One file of an `extends` chain: the path as named, its canonical form
/// (for loop detection) and its text (for error locations).
struct Link {
    path: PathBuf,
    canonical: PathBuf,
    text: String,
}

/// Reads a scenario file as UTF-8 text of at most `FILE_BYTES_MAX` bytes.
/// Only regular files are read, so a directory, a FIFO or `/dev/zero` is an
/// error instead of a hang or an unbounded read.
fn read_text(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read;
    let io = |source| ScenarioError::Io { file: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        let what = if meta.is_dir() { "a directory" } else { "not a regular file" };
        return Err(ScenarioError::Nowhere { file: path.to_path_buf(), field: None, message: format!("is {what}, not a scenario file") });
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path).and_then(|f| f.take(FILE_BYTES_MAX + 1).read_to_end(&mut bytes)).map_err(io)?;
    if bytes.len() as u64 > FILE_BYTES_MAX {
        return Err(ScenarioError::AtByte {
            file: path.to_path_buf(),
            offset: FILE_BYTES_MAX,
            field: None,
            message: format!("the file is longer than {FILE_BYTES_MAX} bytes, the most a scenario file may hold"),
        });
    }
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        let column = offset - before.iter().rposition(|&b| b == b'\n').map_or(0, |nl| nl + 1) + 1;
        ScenarioError::At {
            file: path.to_path_buf(),
            line,
            column,
            field: None,
            message: format!("invalid UTF-8 at byte {offset}: a scenario file is UTF-8 text"),
        }
    })
}

/// Reads a file and its `extends` chain into one merged TOML table; `chain`
/// gets the files read, most derived first, for error locations.
///
/// Loops are found on canonical paths (so `../dir/a.toml` and `a.toml` are
/// the same file) and the chain is at most `EXTENDS_DEPTH_MAX` files long.
fn load_merged(path: &Path, chain: &mut Vec<Link>) -> Result<toml::Table, ScenarioError> {
    let text = read_text(path)?;
    let canonical = std::fs::canonicalize(path).map_err(|source| ScenarioError::Io { file: path.to_path_buf(), source })?;
    merged_from_text(path, canonical, text, chain)
}

/// [`load_merged`] for a file's text already read (or never on disk:
/// [`Scenario::from_toml`]); `path` locates errors and `extends`.
fn merged_from_text(path: &Path, canonical: PathBuf, text: String, chain: &mut Vec<Link>) -> Result<toml::Table, ScenarioError> {
    if text.len() as u64 > FILE_BYTES_MAX {
        return Err(ScenarioError::AtByte {
            file: path.to_path_buf(),
            offset: FILE_BYTES_MAX,
            field: None,
            message: format!("the text is longer than {FILE_BYTES_MAX} bytes, the most a scenario file may hold"),
        });
    }
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        ScenarioError::at_offset(path, &text, offset, None, e.message().trim().to_string())
    })?;
    chain.push(Link { path: path.to_path_buf(), canonical, text });
    let Some(base) = table.get("extends") else { return Ok(table) };
    let link = chain.last().expect("just pushed");
    let extends_error = |message: String| ScenarioError::at_field(&link.path, &link.text, FieldPath::parse("extends"), message);
    let Some(base_name) = base.as_str() else {
        return Err(extends_error("`extends` must be a file name".into()));
    };
    if base_name.is_empty() {
        return Err(extends_error("`extends` names no file".into()));
    }
    let base_path = path.parent().unwrap_or(Path::new(".")).join(base_name);
    let shown = shorten(base_name);
    let base_meta = std::fs::metadata(&base_path)
        .map_err(|e| extends_error(format!("`{shown}` cannot be read (looked for {}): {e}", shorten(&base_path.display().to_string()))))?;
    if base_meta.is_dir() {
        return Err(extends_error(format!("`{shown}` is a directory, not a scenario file")));
    }
    let base_canonical = std::fs::canonicalize(&base_path).map_err(|e| extends_error(format!("`{shown}` cannot be resolved: {e}")))?;
    if let Some(first) = chain.iter().position(|l| l.canonical == base_canonical) {
        let names: Vec<String> = chain[first..].iter().map(|l| file_name(&l.path)).chain([file_name(&base_path)]).collect();
        return Err(extends_error(format!("`extends` chain loops back: {}", names.join(" → "))));
    }
    if chain.len() >= EXTENDS_DEPTH_MAX {
        return Err(extends_error(format!("`extends` chain longer than {EXTENDS_DEPTH_MAX} files")));
    }
    let mut merged = load_merged(&base_path, chain)?;
    merge(&mut merged, table);
    merged.remove("extends");
    Ok(merged)
}

/// A file's name, for short messages.
fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// Text quoted from a file, cut to a readable length.
fn shorten(s: &str) -> String {
    const MAX: usize = 120;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}

/// Overrides `base` with `over`: tables merge key by key, other values replace.
fn merge(base: &mut toml::Table, over: toml::Table) {
    merge_at(base, over, false);
}

/// As [`merge`], `in_expect` under `[expect]`, where a bound (a table with
/// `min`, `max` or `on_seeds`) replaces the base's bound whole: a variant's
/// `max_delay = { min = "1h" }` must not inherit the base's `on_seeds` (nor
/// its `max`) unseen.
fn merge_at(base: &mut toml::Table, over: toml::Table, in_expect: bool) {
    let is_bound = |t: &toml::Table| ["min", "max", "on_seeds"].iter().any(|k| t.contains_key(*k));
    for (k, v) in over {
        let inner = in_expect || k == "expect";
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) if !(in_expect && is_bound(&o)) => merge_at(b, o, inner),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The error located in the first file of the chain that writes the field,
/// else in the first that writes part of its path, else in the scenario
/// file itself.
fn error_in_chain(chain: &[Link], field: FieldPath, message: String) -> ScenarioError {
    let link = chain
        .iter()
        .find(|l| crate::error::is_written(&l.text, &field))
        .or_else(|| chain.iter().find(|l| crate::error::locate(&l.text, &field).is_some()))
        .unwrap_or(&chain[0]);
    ScenarioError::at_field(&link.path, &link.text, field, message)
}

fn to_path(p: &serde_path_to_error::Path) -> FieldPath {
    let mut out = FieldPath::default();
    for seg in p.iter() {
        match seg {
            serde_path_to_error::Segment::Seq { index } => out = out.index(*index),
            serde_path_to_error::Segment::Map { key } => out = out.key(key),
            serde_path_to_error::Segment::Enum { variant } => out = out.key(variant),
            serde_path_to_error::Segment::Unknown => {}
        }
    }
    out
}

impl Scenario {
    /// Loads, merges, parses and validates a scenario file.
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let mut chain = Vec::new();
        let merged = load_merged(path, &mut chain)?;
        Scenario::from_merged(path, merged, &chain)
    }

    /// A scenario from TOML text in memory, validated as [`Scenario::load`]
    /// validates a file. `path` names it in errors (file, line and field)
    /// and anchors a relative `extends`; it need not exist.
    ///
    /// ```
    /// let s = mailsim::scenario::Scenario::from_toml(
    ///     r#"
    ///     [scenario]
    ///     name = "tiny"
    ///     summary = "one MX, a few mails"
    ///     [run]
    ///     duration = "1d"
    ///     [topology]
    ///     mx = 1
    ///     mailboxes = 10
    ///     [workload]
    ///     mails = 20
    ///     window = "2h"
    ///     "#,
    ///     "tiny.toml",
    /// )
    /// .expect("a valid scenario");
    /// assert_eq!(s.name(), "tiny");
    /// ```
    pub fn from_toml(text: &str, path: impl AsRef<Path>) -> Result<Scenario, ScenarioError> {
        let path = path.as_ref();
        let canonical = match (path.parent().map(std::fs::canonicalize), path.file_name()) {
            (Some(Ok(dir)), Some(name)) => dir.join(name),
            _ => path.to_path_buf(),
        };
        let mut chain = Vec::new();
        let merged = merged_from_text(path, canonical, text.to_string(), &mut chain)?;
        Scenario::from_merged(path, merged, &chain)
    }

    fn from_merged(path: &Path, mut merged: toml::Table, chain: &[Link]) -> Result<Scenario, ScenarioError> {
        let located = |e: InvalidField| error_in_chain(chain, FieldPath::parse(&e.field), e.message);
        let ranges = crate::ranges::extract(&mut merged).map_err(|e| located(e.into()))?;
        let s = Scenario::from_table(path, merged, ranges.clone()).map_err(located)?;
        // Valid at the midpoints; now each range at either end, the others
        // at their midpoints.
        for r in &ranges {
            for (end, v) in [("low", r.lo), ("high", r.hi)] {
                let mut t = s.table.clone();
                crate::ranges::set(&mut t, &r.path, r.value(v));
                Scenario::from_table(path, t, Vec::new()).map_err(|e| {
                    let message = format!("with `{}` at the {end} end of its range ({}): {}", r.path, r.show(v), e.message);
                    located(InvalidField { field: e.field, message })
                })?;
            }
        }
        Ok(s)
    }

    /// Parses and validates a merged table that has no ranges left; errors
    /// are (field, message). A type error at a field that was a range says
    /// that a range stands only for a number, duration, size, rate or share.
    fn from_table(path: &Path, table: toml::Table, ranges: Vec<crate::ranges::Ranged>) -> Result<Scenario, InvalidField> {
        let file: ScenarioFile = serde_path_to_error::deserialize(toml::Value::Table(table.clone())).map_err(|e| {
            let field = to_path(e.path());
            let mut message = e.inner().message().trim().to_string();
            if let Some(r) = ranges.iter().find(|r| field.0.starts_with(&r.path.0)) {
                message =
                    format!("a range stands for a number, duration, size, rate or share, and this field takes none of them ({message})");
                return (r.path.to_string(), message);
            }
            (field.to_string(), message)
        })?;
        let mut s = Scenario::from_file(file, path)?;
        s.table = table;
        s.ranges = ranges;
        Ok(s)
    }

    /// This scenario with its ranged parameters at `values` (one per
    /// [`Scenario::ranges`] entry, in its kind's unit): what `calibrate`
    /// runs for one draw.
    pub fn with_values(&self, values: &[i128]) -> Result<Scenario, InvalidField> {
        assert_eq!(values.len(), self.ranges.len(), "one value per ranged parameter");
        if self.ranges.is_empty() {
            return Ok(self.clone());
        }
        let mut t = self.table.clone();
        for (r, &v) in self.ranges.iter().zip(values) {
            crate::ranges::set(&mut t, &r.path, r.value(v));
        }
        Scenario::from_table(&self.path, t, self.ranges.clone())
    }

    /// A scenario from a file already parsed (in memory, or edited by
    /// `shrink`), through the same validation as [`Scenario::load`].
    pub fn from_file(file: ScenarioFile, path: &Path) -> Result<Scenario, InvalidField> {
        let topology = build_topology(&file)?;
        let checkpoints = crate::checkpoints::compile(
            &file.checkpoints,
            file.scenario.t0,
            file.run.duration,
            &file.recovery.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        )?;
        Ok(Scenario { path: path.to_path_buf(), file, topology, checkpoints, ranges: Vec::new(), table: toml::Table::new() })
    }

    pub fn name(&self) -> &str {
        &self.file.scenario.name
    }

    /// The upper estimate of a run's events that `check` holds against the
    /// budget (`estimate_events`).
    pub fn estimated_events(&self) -> u64 {
        estimate_events(&self.topology, workload_mails(&self.topology.workload))
    }

    /// The topology for one seed.
    pub fn topology(&self, seed: u64) -> Topology {
        let mut t = self.topology.clone();
        t.seed = seed;
        t
    }
}

/// Kernel events a mail costs besides its attempts: submission, the queue's
/// durable write, delivery, the mailbox's durable append and their replies.
const EVENTS_PER_MAIL: u64 = 16;
/// Events one delivery attempt costs: a message, its reply, their timers.
const EVENTS_PER_ATTEMPT: u64 = 4;
/// Events one client mailbox check costs (request, reply, timeout timer).
const EVENTS_PER_CHECK: u64 = 4;
/// Events one fault can set off (failover, fencing, alerts, plan steps).
const EVENTS_PER_FAULT: u64 = 1_000;

/// An upper estimate of the events a run of `t` takes: every mail deferred
/// for the whole run (retried by its sender's profile, or by the cluster's
/// MTA, whichever retries more often), every client check, heartbeat and
/// monitoring probe, and a thousand events per fault. Computed from the
/// validated topology in microseconds: the retry schedules are walked one
/// attempt at a time, at most one attempt per second of a run of at most
/// `DURATION_MAX`.
pub fn estimate_events(t: &Topology, mails: u64) -> u64 {
    let horizon = t.duration + Dur::hours(1);
    let per = |interval: Dur| horizon.as_micros() / interval.as_micros().max(1);
    let weights: u64 = t.senders.profile_weights.iter().sum::<u64>().max(1);
    let sender_attempts: u64 =
        t.senders.profiles.iter().zip(&t.senders.profile_weights).map(|(p, w)| attempts(p, horizon) * w).sum::<u64>() / weights;
    let mta_attempts = attempts(&t.mta.retry, horizon);
    let per_mail = EVENTS_PER_MAIL + EVENTS_PER_ATTEMPT * sender_attempts.max(mta_attempts);
    let mut events = mails.saturating_mul(per_mail);
    if let Some(c) = &t.clients {
        events = events.saturating_add(u64::from(c.users).saturating_mul(per(c.check_interval)).saturating_mul(EVENTS_PER_CHECK));
    }
    if let Some(c) = &t.cluster {
        if c.agent.heartbeats {
            let pairs = u64::from(t.mx) * u64::from(t.mx - 1);
            events = events.saturating_add(pairs.saturating_mul(per(c.agent.heartbeat_interval)).saturating_mul(2));
        }
    }
    // Monitoring probes every MX node (or the vip) and the filer at the retry interval at worst.
    let probes = u64::from(t.mx) + 2;
    events = events.saturating_add(probes.saturating_mul(per(t.ops.probe_retry_interval)).saturating_mul(EVENTS_PER_ATTEMPT));
    // The senders' shared deadline timer ticks through the run.
    events = events.saturating_add(per(t.senders.tick));
    let random: u64 = t.random_faults.iter().map(|r| per(r.mean_interval)).sum();
    let faults = (t.faults.len() as u64).saturating_add(random);
    events.saturating_add(faults.saturating_mul(EVENTS_PER_FAULT))
}

/// The mails a workload sends: its total, or its mean rate over its window.
pub fn workload_mails(w: &Workload) -> u64 {
    match w.volume {
        Volume::Total { mails } => mails,
        Volume::Rate { per_h } => {
            u64::try_from(u128::from(per_h) * u128::from(w.window.as_micros()) / u128::from(MICROS_PER_H)).unwrap_or(u64::MAX)
        }
    }
}

/// Attempts a mail makes under `profile` if every attempt fails, within
/// `horizon` or its lifetime, whichever ends first.
fn attempts(profile: &RetryProfile, horizon: Dur) -> u64 {
    let first = Time::ZERO;
    let (mut now, mut n) = (first, 1u64);
    while let Some(next) = profile.next_retry(n as u32, first, now) {
        if next.since(first) >= horizon || next <= now {
            break;
        }
        now = next;
        n += 1;
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found when the Fused replay's delay bound became a rate: its weekday
    /// variant's `max_delay = { min = "1h" }` silently inherited the
    /// replay's `on_seeds`. A variant's bound replaces the base's whole.
    #[test]
    fn a_variants_bound_replaces_the_base_bound_whole() {
        let mut base: toml::Table = toml::from_str(
            r#"
            [topology]
            mx = 2
            mailboxes = 10
            [expect]
            max_delay = { min = "8h", on_seeds = "99.9%" }
            failover = { min = "8h", max = "25h" }
            sender_bounces = { all = { max = 0 }, exim = { max = 1 } }
            "#,
        )
        .expect("valid toml");
        let over: toml::Table = toml::from_str(
            r#"
            [topology]
            mx = 3
            [expect]
            max_delay = { min = "1h" }
            sender_bounces = { all = { min = 1 } }
            "#,
        )
        .expect("valid toml");
        merge(&mut base, over);
        let want: toml::Table = toml::from_str(
            r#"
            [topology]
            mx = 3
            mailboxes = 10
            [expect]
            max_delay = { min = "1h" }
            failover = { min = "8h", max = "25h" }
            sender_bounces = { all = { min = 1 }, exim = { max = 1 } }
            "#,
        )
        .expect("valid toml");
        assert_eq!(base, want, "other tables still merge key by key");
    }

    #[test]
    fn the_event_limit_is_the_kernels_budget() {
        assert_eq!(EVENTS_MAX, mailsim_sim::Config::new(0).max_events);
    }

    #[test]
    fn attempts_follow_the_retry_schedule() {
        // Postfix: 300 s backoff doubling with age up to 4000 s, 5 days.
        let postfix = RetryProfile::postfix();
        let n = attempts(&postfix, Dur::days(5));
        assert!((100..140).contains(&n), "{n}");
        // Exchange: 6 tries 5 min apart, then every 10 min, for 2 days.
        assert!((280..300).contains(&attempts(&RetryProfile::exchange(), Dur::days(5))));
        assert_eq!(attempts(&postfix, Dur::secs(1)), 1);
    }
}
