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
use mailsim_models::cluster::{AgentConfig, FenceDeviceConfig, NoQuorumPolicy};
use mailsim_models::contention::{ContentionConfig, IoJob};
use mailsim_models::filer::Placement;
use mailsim_models::inbound::InboundPolicy;
use mailsim_models::mta::WhenFull;
use mailsim_models::ops::{Delay, Trigger};
use mailsim_models::retry::RetryProfile;
use mailsim_models::senders::{Recipients, Volume, Workload};
use mailsim_models::storage::{RebuildPriority, StaleDisks};
use mailsim_models::topology::{
    BackupMx, ClusterSpec, FaultKind, FaultSpec, RandomFaultSpec, StepSpec, Topology, TopologyOptions, RANDOM_FAULT_KINDS,
};
use mailsim_models::{clients::ClientsConfig, Action, FenceMode};
use mailsim_sim::{Dur, NodeId, Time, MICROS_PER_DAY, MICROS_PER_H};
use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

use crate::error::{FieldPath, ScenarioError};
use crate::units::{parse_byte_rate, parse_count_rate, parse_size, parse_speed, HumanDuration, Share, ShareRange};

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

/// The recovery actions a step may name (`[[recovery]] action`), as
/// `build_topology` parses them and `mailsim schema` lists them; each is the
/// `Action::name` of the action it becomes.
pub const STEP_ACTIONS: [&str; 12] = [
    "replace-hardware",
    "fix-redundancy",
    "start-rebuild",
    "enable-temp-stores",
    "merge-back",
    "migrate",
    "rollback-upgrade",
    "reset-cluster",
    "power-on",
    "flush-queue",
    "standby",
    "unstandby",
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

/// A string schema allowing exactly `names`.
fn names_schema(description: &str, names: &[&str]) -> Schema {
    schemars::json_schema!({ "type": "string", "enum": names, "description": description })
}

/// Schema-only types (never values): a string from one of the lists the
/// loader checks against, so that `mailsim schema` shows the same list. The
/// fields stay `String`s for serde, so parsing and its errors do not change.
macro_rules! name_list {
    ($(#[$doc:meta])* $ty:ident, $description:literal, $names:expr) => {
        $(#[$doc])*
        enum $ty {}

        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                stringify!($ty).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                let names: Vec<&str> = $names.iter().map(|n| &**n).collect();
                names_schema($description, &names)
            }
        }
    };
}

name_list!(
    /// `FaultKind::NAMES`: what a scheduled fault can be.
    FaultKindName,
    "A scheduled fault's kind.",
    FaultKind::NAMES
);
name_list!(
    /// `RANDOM_FAULT_KINDS`: what a random fault process can inject.
    RandomFaultKindName,
    "A random fault process's kind.",
    RANDOM_FAULT_KINDS
);
name_list!(
    /// `STEP_ACTIONS`.
    StepActionName,
    "A recovery step's action.",
    STEP_ACTIONS
);
name_list!(
    /// `RETRY_PROFILES`.
    RetryProfileName,
    "A built-in retry profile.",
    RETRY_PROFILES
);
name_list!(
    /// `NoQuorumPolicy::NAMES`.
    NoQuorumPolicyName,
    "What a cluster partition without quorum does (Pacemaker no-quorum-policy): stop (stop its services), freeze (keep what runs, start nothing), ignore (carry on as if quorate).",
    NoQuorumPolicy::NAMES
);
name_list!(
    /// `InboundPolicy::NAMES`.
    InboundPolicyName,
    "What an MX answers new mail for a mailbox it knows is unavailable: accept-and-hold (250, queued at the MX), reject-4xx (450, the sender retries), reject-5xx (550, the sender bounces it at once).",
    InboundPolicy::NAMES
);
name_list!(
    /// `WEEKDAYS`.
    WeekdayName,
    "A day of the week.",
    WEEKDAYS.map(|(name, _)| name)
);
name_list!(
    /// `RECIPIENTS`.
    RecipientsName,
    "A recipient distribution.",
    RECIPIENTS.map(|(name, _)| name)
);
name_list!(
    /// The values of `recovery[].hours`.
    WorkingHoursName,
    "When operators work on a recovery step: always (around the clock) or business (working days, business hours).",
    ["always", "business"]
);
name_list!(
    /// `RebuildPriority::NAMES`.
    RebuildPriorityName,
    "How much bandwidth rebuilds take from clients under load (NetApp's raid.reconstruct.perf_impact).",
    RebuildPriority::NAMES
);
name_list!(
    /// `Metric::NAMES`.
    MetricName,
    "What a checkpoint measures.",
    crate::checkpoints::Metric::NAMES
);

/// A map schema of `V` whose keys are `names`.
fn keyed_by<V: JsonSchema>(g: &mut SchemaGenerator, names: &[&str]) -> Schema {
    let mut schema = g.subschema_for::<BTreeMap<String, V>>();
    schema.insert("propertyNames".into(), serde_json::json!({ "enum": names }));
    schema
}

fn weights_by_profile(g: &mut SchemaGenerator) -> Schema {
    keyed_by::<u64>(g, &RETRY_PROFILES)
}

fn weights_by_protocol(g: &mut SchemaGenerator) -> Schema {
    keyed_by::<u64>(g, &PROTOCOLS)
}

fn bounces_by_profile(g: &mut SchemaGenerator) -> Schema {
    let names: Vec<&str> = RETRY_PROFILES.iter().copied().chain(["all"]).collect();
    keyed_by::<Bounds<u64>>(g, &names)
}

fn durations_by_service(g: &mut SchemaGenerator) -> Schema {
    keyed_by::<Bounds<HumanDuration>>(g, &services())
}

fn shares_by_service(g: &mut SchemaGenerator) -> Schema {
    keyed_by::<Bounds<Share>>(g, &services())
}

/// Schema-only: `CheckpointEntry` with its `metric` one of `Metric::NAMES`.
enum CheckpointEntrySchema {}

impl JsonSchema for CheckpointEntrySchema {
    fn schema_name() -> Cow<'static, str> {
        "CheckpointEntry".into()
    }
    fn schema_id() -> Cow<'static, str> {
        concat!(module_path!(), "::CheckpointEntrySchema").into()
    }
    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut schema = crate::checkpoints::CheckpointEntry::json_schema(g);
        let metric = g.subschema_for::<MetricName>();
        let property = schema
            .get_mut("properties")
            .and_then(|p| p.get_mut("metric"))
            .and_then(serde_json::Value::as_object_mut)
            .expect("CheckpointEntry has a `metric` property");
        property.remove("type");
        property.extend(metric.as_object().expect("a $ref schema is an object").clone());
        schema
    }
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

/// The storage's contention settings from `[topology.storage]`.
fn contention_from(s: &StorageTable, c: &mut ContentionConfig) -> Result<(), Bad> {
    let factor = |v: &Option<String>, field: &str| -> Result<Option<u32>, Bad> {
        let Some(text) = v.as_deref() else { return Ok(None) };
        if !text.trim_start().starts_with('x') {
            return Err(bad(field, format!("`{text}`: expected a factor such as \"x3\"")));
        }
        let m = parse_speed(text).map_err(|e| bad(field, e))?;
        if !(1000..=100_000).contains(&m) {
            return Err(bad(field, format!("`{text}`: a factor from x1 to x100")));
        }
        Ok(Some(m))
    };
    if let Some(m) = factor(&s.write_through_cost, "topology.storage.write_through_cost")? {
        c.write_through_cost_permille = m;
    }
    if let Some(m) = factor(&s.retry_amplification, "topology.storage.retry_amplification")? {
        c.retry_amplification_permille = m;
    }
    if let Some(f) = s.collapse_floor {
        if f.ppm() < 1000 {
            return Err(bad("topology.storage.collapse_floor", "at least 0.1%: a collapsed storage still completes some requests"));
        }
        c.collapse_floor_permille = f.ppm() / 1000;
    }
    if let Some(v) = s.controllers_carry_load {
        c.controllers_carry_load = v;
    }
    for (i, j) in s.jobs.iter().enumerate() {
        let field = |k: &str| format!("topology.storage.jobs[{i}].{k}");
        let start_hour = match j.start.trim().split_once(':') {
            Some((h, "00")) => h.parse::<u32>().ok().filter(|h| *h < 24),
            _ => None,
        }
        .ok_or_else(|| bad(field("start"), format!("`{}`: expected a time on the hour, such as \"22:00\"", j.start)))?;
        if j.hours == 0 || j.hours > 24 {
            return Err(bad(field("hours"), format!("{} hours: a daily job runs 1 to 24 hours", j.hours)));
        }
        if j.load.ppm() < 1000 {
            return Err(bad(field("load"), "at least 0.1% of the bandwidth"));
        }
        c.jobs.push(IoJob { name: j.name.clone(), load_permille: j.load.ppm() / 1000, start_hour, hours: j.hours, yields: j.yields });
    }
    Ok(())
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
    /// fencing device).
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
    /// disks), `fix-redundancy` (a path fault), `start-rebuild` (degraded
    /// RAID groups), `enable-temp-stores` (new mail for offline mailboxes
    /// goes to temporary stores), `merge-back` (temporary stores into their
    /// mailboxes), `migrate` (affected volumes to new storage),
    /// `rollback-upgrade` (the file server's failed upgrade),
    /// `reset-cluster` (a manual cluster reset), `power-on` (a node),
    /// `flush-queue` (an MTA retries its deferred mail now), `standby` (a
    /// cluster member's planned maintenance: its services move to another
    /// member without fencing) or `unstandby` (it may host them again).
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
    /// Only for `start-rebuild`: rebuild every degraded RAID group at once,
    /// sharing `rebuild_rate_total`, instead of one after another. Default
    /// false.
    #[serde(default)]
    pub parallel: bool,
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
    /// (a migration that does not keep them).
    pub client_duplicates: Option<Bounds<u64>>,
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
        let located = |(field, message): Bad| error_in_chain(chain, FieldPath::parse(&field), message);
        let ranges = crate::ranges::extract(&mut merged).map_err(located)?;
        let s = Scenario::from_table(path, merged, ranges.clone()).map_err(located)?;
        // Valid at the midpoints; now each range at either end, the others
        // at their midpoints.
        for r in &ranges {
            for (end, v) in [("low", r.lo), ("high", r.hi)] {
                let mut t = s.table.clone();
                crate::ranges::set(&mut t, &r.path, r.value(v));
                Scenario::from_table(path, t, Vec::new()).map_err(|(field, message)| {
                    located((field, format!("with `{}` at the {end} end of its range ({}): {message}", r.path, r.show(v))))
                })?;
            }
        }
        Ok(s)
    }

    /// Parses and validates a merged table that has no ranges left; errors
    /// are (field, message). A type error at a field that was a range says
    /// that a range stands only for a number, duration, size, rate or share.
    fn from_table(path: &Path, table: toml::Table, ranges: Vec<crate::ranges::Ranged>) -> Result<Scenario, Bad> {
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
    /// runs for one draw. Errors are (field, message).
    pub fn with_values(&self, values: &[i128]) -> Result<Scenario, (String, String)> {
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
    /// `shrink`), through the same validation as [`Scenario::load`]; errors
    /// are (field, message).
    pub fn from_file(file: ScenarioFile, path: &Path) -> Result<Scenario, (String, String)> {
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

type Bad = (String, String);

fn bad(field: impl Into<String>, message: impl Into<String>) -> Bad {
    (field.into(), message.into())
}

/// A non-negative duration of at most `DURATION_MAX`.
fn dur(d: HumanDuration, field: &str) -> Result<Dur, Bad> {
    let v = d.as_dur().ok_or_else(|| bad(field, format!("{d} is negative; a duration here must be positive")))?;
    if v > DURATION_MAX {
        return Err(bad(field, format!("{d} is longer than {}, the longest duration a scenario may give", show(DURATION_MAX))));
    }
    Ok(v)
}

/// A duration longer than zero and at most `DURATION_MAX`.
fn positive_dur(d: HumanDuration, field: &str) -> Result<Dur, Bad> {
    let v = dur(d, field)?;
    if v == Dur::ZERO {
        return Err(bad(field, "must be longer than zero"));
    }
    Ok(v)
}

/// A kernel span as a scenario file writes it.
fn show(d: Dur) -> HumanDuration {
    HumanDuration(i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// A count of at most `max`.
fn at_most(n: u64, max: u64, field: &str, what: &str) -> Result<(), Bad> {
    if n > max {
        return Err(bad(field, format!("{n} {what}: at most {max} are supported")));
    }
    Ok(())
}

/// Bounds that say nothing check nothing; a rate expectation's share is
/// strictly between 0% (it would check nothing) and 100% (that is a bound
/// on every seed: leave `on_seeds` out).
fn some_bound<T>(b: &Option<Bounds<T>>, field: &str) -> Result<(), Bad> {
    match b {
        Some(Bounds { min: None, max: None, .. }) => Err(bad(field, "give `min`, `max` or both; empty bounds check nothing")),
        Some(Bounds { on_seeds: Some(Share(0)), .. }) => {
            Err(bad(format!("{field}.on_seeds"), "0% of seeds checks nothing; give a share above 0%"))
        }
        Some(Bounds { on_seeds: Some(Share(1_000_000)), .. }) => Err(bad(
            format!("{field}.on_seeds"),
            "100% of seeds is every seed: leave `on_seeds` out for a bound that must hold on every seed",
        )),
        _ => Ok(()),
    }
}

fn positive(n: u32, field: &str) -> Result<u32, Bad> {
    if n == 0 {
        return Err(bad(field, "must be at least 1"));
    }
    Ok(n)
}

/// Maps the file onto the models; errors carry the field they are about.
pub fn build_topology(f: &ScenarioFile) -> Result<Topology, Bad> {
    let ts = &f.topology;
    check_sizes(f)?;
    let mailboxes = positive(ts.mailboxes, "topology.mailboxes")?;
    let mx = positive(ts.mx, "topology.mx")?;
    let mut t = Topology::new(TopologyOptions { seed: 0, mx, mailboxes, mails: 0 });
    t.duration = positive_dur(f.run.duration, "run.duration")?;
    t.fault_phase = f.run.fault_phase.map(|p| dur(p, "run.fault_phase")).transpose()?;
    if let Some(p) = t.fault_phase {
        if p > t.duration {
            return Err(bad(
                "run.fault_phase",
                format!("the fault phase ({}) ends after the run ({})", f.run.fault_phase.unwrap_or_default(), f.run.duration),
            ));
        }
    }
    t.liveness_window = dur(f.run.liveness_window, "run.liveness_window")?;
    if f.run.swarm && f.random_faults.is_empty() {
        return Err(bad("run.swarm", "`swarm` picks among the random fault processes, and there are none (`[[random_faults]]`)"));
    }
    t.swarm = f.run.swarm;
    if let Some(h) = f.run.liveness_heals {
        if f.run.fault_phase.is_none() {
            return Err(bad("run.liveness_heals", "has no effect without a `fault_phase`: there is no liveness phase to heal for"));
        }
        t.liveness_heals = h;
    }
    if let Some(d) = ts.mx_down {
        t.mx_refuse_when_down = d == DownSpec::Refuse;
    }
    if let Some(p) = &ts.mx_preferences {
        let want = if ts.cluster.is_some() { 1 } else { ts.mx as usize };
        if p.len() != want {
            return Err(bad(
                "topology.mx_preferences",
                format!("{} preferences for {want} primary MX records (one per MX node; one, the vip's, in a cluster)", p.len()),
            ));
        }
        t.mx_preference = p.clone();
    }
    if let Some(b) = &ts.backup_mx {
        let mut backup = BackupMx::default();
        if let Some(p) = b.preference {
            backup.preference = p;
        }
        if let Some(r) = &b.retry {
            backup.mta.retry = RetryProfile::by_name(r)
                .ok_or_else(|| bad("topology.backup_mx.retry", format!("unknown retry profile `{r}` ({})", RETRY_PROFILES.join(", "))))?;
        }
        if let Some(v) = b.lifetime {
            backup.mta.retry.lifetime_s = positive_dur(v, "topology.backup_mx.lifetime")?.as_secs();
        }
        if let Some(v) = b.relay_timeout {
            backup.mta.delivery_timeout = positive_dur(v, "topology.backup_mx.relay_timeout")?;
        }
        if let Some(v) = b.queue_capacity {
            backup.mta.queue_capacity = positive(v, "topology.backup_mx.queue_capacity")?;
        }
        backup.mta.retry.validate().map_err(|e| bad("topology.backup_mx", e))?;
        t.backup_mx = Some(backup);
    }

    // Storage.
    let s = &ts.storage;
    let st = &mut t.filer.storage;
    if let Some(v) = s.shelves {
        st.shelves = positive(v, "topology.storage.shelves")?;
    }
    if let Some(v) = s.controllers_per_shelf {
        st.controllers_per_shelf = positive(v, "topology.storage.controllers_per_shelf")?;
    }
    if let Some(v) = s.groups {
        st.groups = positive(v, "topology.storage.groups")?;
    }
    if let Some(v) = s.parity_disks {
        st.parity_disks = v;
    }
    let disks = s.disks_per_group.unwrap_or(14);
    if disks <= st.parity_disks {
        let field = if s.disks_per_group.is_some() { "topology.storage.disks_per_group" } else { "topology.storage.parity_disks" };
        return Err(bad(field, format!("a RAID group of {disks} disks cannot hold {} parity disks and any data", st.parity_disks)));
    }
    if let Some(v) = s.volumes {
        st.volumes = positive(v, "topology.storage.volumes")?;
    }
    let size = |v: &Option<String>, field: &str| v.as_deref().map(|t| parse_size(t).map_err(|e| bad(field, e))).transpose();
    let rate = |v: &Option<String>, field: &str| -> Result<Option<u64>, Bad> {
        match v.as_deref().map(|t| parse_byte_rate(t).map_err(|e| bad(field, e))).transpose()? {
            Some(0) => Err(bad(field, "a rate of zero never completes")),
            r => Ok(r),
        }
    };
    st.disks_per_group = disks;
    if let Some(b) = size(&s.disk_size, "topology.storage.disk_size")? {
        if b == 0 {
            return Err(bad("topology.storage.disk_size", "a disk holds some data"));
        }
        st.disk_bytes = b;
    }
    match s.stale_disks {
        Some(StaleDisksSpec::Share(v)) => st.stale_disks = StaleDisks::Chance(v.ppm()),
        Some(StaleDisksSpec::Count(n)) => {
            let holds = u64::from(st.groups / st.shelves.max(1)) * u64::from(disks);
            if u64::from(n) > holds {
                return Err(bad("topology.storage.stale_disks", format!("{n} stale disks per shelf, but a shelf holds only {holds}")));
            }
            st.stale_disks = StaleDisks::PerShelf(n);
        }
        None => {}
    }
    if let Some(p) = &s.rebuild_priority {
        st.rebuild_priority = RebuildPriority::from_name(p).ok_or_else(|| {
            bad("topology.storage.rebuild_priority", format!("unknown level `{p}` ({})", RebuildPriority::NAMES.join(", ")))
        })?;
    }
    if let Some(r) = &s.foreground_peak {
        let (lo, hi) = r.bounds();
        if lo > hi {
            return Err(bad("topology.storage.foreground_peak", "the range's low end is above its high end"));
        }
        st.foreground_peak_permille = [lo.ppm() / 1000, hi.ppm() / 1000];
    }
    if let Some(b) = size(&s.volume_size, "topology.storage.volume_size")? {
        st.volume_bytes = b.max(1);
    }
    if let Some(r) = rate(&s.rebuild_rate, "topology.storage.rebuild_rate")? {
        st.rebuild_bytes_per_s_group = r;
        st.rebuild_bytes_per_s_total = st.rebuild_bytes_per_s_total.max(r);
    }
    if let Some(r) = rate(&s.rebuild_rate_total, "topology.storage.rebuild_rate_total")? {
        st.rebuild_bytes_per_s_total = r;
    }
    if let Some(r) = rate(&s.migration_rate, "topology.storage.migration_rate")? {
        if s.migration_per_volume.is_some() {
            return Err(bad("topology.storage.migration_rate", "give `migration_rate` or `migration_per_volume`, not both"));
        }
        st.migration_bytes_per_s = r;
    }
    if let Some(v) = s.online_during_rebuild {
        st.online_during_rebuild = v;
    }
    if let Some(v) = s.migration_per_volume {
        let secs = dur(v, "topology.storage.migration_per_volume")?.as_secs().max(1);
        st.migration_bytes_per_s = (st.volume_bytes / secs).max(1);
    }
    if let Some(v) = s.migration_step_interval {
        st.migration_step_interval = dur(v, "topology.storage.migration_step_interval")?;
    }
    contention_from(s, &mut st.contention)?;
    if let Some(p) = s.placement {
        t.filer.placement = match p {
            PlacementSpec::Random => Placement::Random,
            PlacementSpec::RoundRobin => Placement::RoundRobin,
        };
    }
    if let Some(v) = s.service_time {
        t.filer.service_time = dur(v, "topology.storage.service_time")?;
    }
    if let Some(v) = s.appends_per_s {
        t.filer.appends_per_s_max = positive(v, "topology.storage.appends_per_s")?;
    }
    if let Some(v) = s.merge_dedup {
        t.filer.merge_dedup = v;
    }
    let n = &ts.nfs;
    if let Some(v) = n.lock_fail_delay {
        t.filer.lock_fail_delay = positive_dur(v, "topology.nfs.lock_fail_delay")?;
    }
    if let Some(v) = n.lock_grace_min {
        t.filer.lock_grace_min = dur(v, "topology.nfs.lock_grace_min")?;
    }
    if let Some(v) = n.lock_grace_max {
        t.filer.lock_grace_max = dur(v, "topology.nfs.lock_grace_max")?;
    }
    t.filer.validate().map_err(|e| bad("topology.storage", e))?;

    // MTAs.
    let m = &ts.mta;
    if let Some(r) = &m.retry {
        t.mta.retry = RetryProfile::by_name(r)
            .ok_or_else(|| bad("topology.mta.retry", format!("unknown retry profile `{r}` ({})", RETRY_PROFILES.join(", "))))?;
    }
    if let Some(v) = m.lifetime {
        t.mta.retry.lifetime_s = dur(v, "topology.mta.lifetime")?.as_secs();
    }
    if let Some(v) = m.delivery_timeout {
        t.mta.delivery_timeout = positive_dur(v, "topology.mta.delivery_timeout")?;
    }
    if let Some(v) = m.delivery_concurrency {
        t.mta.delivery_concurrency = positive(v, "topology.mta.delivery_concurrency")?;
    }
    if let Some(v) = m.queue_capacity {
        t.mta.queue_capacity = positive(v, "topology.mta.queue_capacity")?;
    }
    if let Some(w) = m.when_full {
        t.mta.when_full = match w {
            WhenFullSpec::Refuse => WhenFull::Refuse,
            WhenFullSpec::Accept => WhenFull::Accept,
        };
    }
    if let Some(p) = &m.inbound_policy {
        t.mta.inbound_policy = InboundPolicy::by_name(p).ok_or_else(|| {
            bad("topology.mta.inbound_policy", format!("unknown inbound policy `{p}` ({})", InboundPolicy::NAMES.join(", ")))
        })?;
    }
    if let Some(v) = m.unavailable_refresh {
        t.mta.unavailable_refresh = positive_dur(v, "topology.mta.unavailable_refresh")?;
    }
    t.mta.ack_before_durable = m.ack_before_durable.unwrap_or(false);
    t.mta.drop_expired_without_dsn = m.drop_expired_without_dsn.unwrap_or(false);
    t.mta.lda_skips_lock = m.lda_skips_lock.unwrap_or(false);
    t.mta.retry.validate().map_err(|e| bad("topology.mta", e))?;

    // Cluster.
    if let Some(c) = &ts.cluster {
        if mx < 2 {
            return Err(bad("topology.mx", "a cluster needs at least two nodes"));
        }
        let mut spec =
            ClusterSpec { fence_levels: Vec::new(), agent: AgentConfig::new(Vec::new(), NodeId(0), Vec::new(), None), witnesses: 0 };
        if c.fencing.is_empty() {
            return Err(bad("topology.cluster.fencing", "a cluster needs at least one fencing level"));
        }
        for (i, level) in c.fencing.iter().enumerate() {
            if level.level.is_empty() || !level.level.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-') {
                return Err(bad(format!("topology.cluster.fencing[{i}].level"), "a level name is letters, digits and dashes"));
            }
            let dev = FenceDeviceConfig { mode: level.mode.unwrap_or(FenceModeSpec::Works).mode(), ..FenceDeviceConfig::default() };
            spec.fence_levels.push((level.level.clone(), dev));
        }
        if let Some(v) = c.token_timeout {
            spec.agent.token_timeout = dur(v, "topology.cluster.token_timeout")?;
            if spec.agent.token_timeout < TOKEN_TIMEOUT_MIN {
                return Err(bad(
                    "topology.cluster.token_timeout",
                    format!("{v} is shorter than {}, the shortest supported", show(TOKEN_TIMEOUT_MIN)),
                ));
            }
            spec.agent.heartbeat_interval = Dur(spec.agent.token_timeout.0 / 4);
        }
        if let Some(v) = c.stonith_timeout {
            spec.agent.stonith_timeout = positive_dur(v, "topology.cluster.stonith_timeout")?;
        }
        if let Some(v) = c.stonith_attempts {
            spec.agent.stonith_max_attempts = positive(v, "topology.cluster.stonith_attempts")?;
            at_most(v.into(), STONITH_ATTEMPTS_MAX.into(), "topology.cluster.stonith_attempts", "STONITH attempts")?;
        }
        spec.agent.failover_without_fence = c.failover_without_fence;
        if let Some(w) = c.witnesses {
            at_most(w.into(), 8, "topology.cluster.witnesses", "witnesses")?;
            spec.witnesses = w;
        }
        if let Some(p) = &c.no_quorum_policy {
            spec.agent.no_quorum_policy = NoQuorumPolicy::by_name(p).ok_or_else(|| {
                bad("topology.cluster.no_quorum_policy", format!("unknown no-quorum policy `{p}` ({})", NoQuorumPolicy::NAMES.join(", ")))
            })?;
        }
        spec.agent.heartbeats = c.heartbeats;
        t.cluster = Some(spec);
    }

    // Clients.
    if let Some(c) = &ts.clients {
        let mut cc = ClientsConfig::new(NodeId(0), mailboxes);
        if let Some(u) = c.users {
            if u > mailboxes {
                return Err(bad("topology.clients.users", format!("{u} users but {mailboxes} mailboxes: each user reads one mailbox")));
            }
            cc.users = positive(u, "topology.clients.users")?;
        }
        if let Some(v) = c.check_interval {
            cc.check_interval = positive_dur(v, "topology.clients.check_interval")?;
        }
        if !c.mix.is_empty() {
            let mut w = [0u64; 3];
            for (k, v) in &c.mix {
                let Some(i) = PROTOCOLS.iter().position(|p| p == k) else {
                    let known = PROTOCOLS.join(", ");
                    return Err(bad(format!("topology.clients.mix.{k}"), format!("unknown protocol `{k}` ({known})")));
                };
                w[i] = *v;
            }
            if w.iter().sum::<u64>() == 0 {
                return Err(bad("topology.clients.mix", "at least one protocol needs a weight"));
            }
            cc.proto_weights = w;
        }
        t.clients = Some(cc);
    }

    // Monitoring.
    let mo = &ts.monitoring;
    for (v, field, slot) in [
        (mo.check_interval, "topology.monitoring.check_interval", &mut t.ops.probe_interval),
        (mo.retry_interval, "topology.monitoring.retry_interval", &mut t.ops.probe_retry_interval),
        (mo.realert_interval, "topology.monitoring.realert_interval", &mut t.ops.realert_interval),
    ] {
        if let Some(v) = v {
            let d = dur(v, field)?;
            if d < Dur::secs(1) {
                return Err(bad(field, format!("{v} is shorter than 1s, the shortest supported")));
            }
            *slot = d;
        }
    }
    if let Some(n) = mo.max_check_attempts {
        at_most(n.into(), 100, "topology.monitoring.max_check_attempts", "check attempts")?;
        t.ops.probe_failures_max = positive(n, "topology.monitoring.max_check_attempts")?;
    }

    // Operators.
    let o = &ts.operators;
    let mut cal = CalendarConfig::default();
    if let Some(d) = &o.start_day {
        cal.start_weekday = match WEEKDAYS.iter().find(|(name, _)| name.eq_ignore_ascii_case(d)) {
            Some(&(_, day)) => day,
            None => return Err(bad("topology.operators.start_day", format!("`{d}` is not a day (mon … sun)"))),
        };
    }
    if let Some(h) = o.start_hour {
        if h > 23 {
            return Err(bad("topology.operators.start_hour", format!("{h} is not an hour (0-23)")));
        }
        cal.start_hour = h;
    }
    // The postmortem's clock fixes the operators' calendar at T+0.
    if let Some(t0) = f.scenario.t0 {
        let (day, hour) = (WEEKDAYS[t0.weekday() as usize].1, t0.hour());
        if o.start_day.is_some() && cal.start_weekday != day {
            return Err(bad("topology.operators.start_day", format!("disagrees with scenario.t0 ({t0}); leave it out, t0 sets it")));
        }
        if o.start_hour.is_some() && cal.start_hour != hour {
            return Err(bad("topology.operators.start_hour", format!("disagrees with scenario.t0 ({t0}); leave it out, t0 sets it")));
        }
        cal.start_weekday = day;
        cal.start_hour = hour;
    }
    let last_day = (t.duration.as_micros() + u64::from(cal.start_hour) * MICROS_PER_H) / MICROS_PER_DAY;
    for (i, &d) in o.holidays.iter().enumerate() {
        if u64::from(d) > last_day {
            return Err(bad(format!("topology.operators.holidays[{i}]"), format!("day {d} is after the run's last day ({last_day})")));
        }
    }
    if o.holiday_delay.is_some() && o.holidays.is_empty() {
        return Err(bad("topology.operators.holiday_delay", "there are no `holidays` for it to apply to"));
    }
    cal.holidays = o.holidays.clone();
    for (value, name) in [
        (&o.business_delay, "business_delay"),
        (&o.night_delay, "night_delay"),
        (&o.weekend_delay, "weekend_delay"),
        (&o.holiday_delay, "holiday_delay"),
    ] {
        if let Some([a, b]) = value {
            let field = format!("topology.operators.{name}");
            let (a, b) = (dur(*a, &field)?, dur(*b, &field)?);
            if a > b {
                return Err(bad(field, "the minimum exceeds the maximum"));
            }
            let slot = match name {
                "business_delay" => (&mut cal.business_delay_min, &mut cal.business_delay_max),
                "night_delay" => (&mut cal.night_delay_min, &mut cal.night_delay_max),
                "weekend_delay" => (&mut cal.weekend_delay_min, &mut cal.weekend_delay_max),
                _ => (&mut cal.holiday_delay_min, &mut cal.holiday_delay_max),
            };
            *slot.0 = a;
            *slot.1 = b;
        }
    }
    cal.validate().map_err(|e| bad("topology.operators", e))?;
    t.ops.calendar = cal;
    if let Some(m) = o.misdiagnosis {
        t.ops.misdiagnosis_ppm = m.ppm();
    }
    if let Some(a) = &o.alert_text {
        t.ops.alert_text = a.clone();
    }

    // Workload.
    let w = &f.workload;
    let window = positive_dur(w.window, "workload.window")?;
    let rate = w.rate.as_deref().map(|r| parse_count_rate(r).map_err(|e| bad("workload.rate", e))).transpose()?;
    let mut wl = match (w.mails, w.per_hour, rate) {
        (Some(m), None, None) => Workload::total(m, window, mailboxes),
        (None, Some(r), None) | (None, None, Some(r)) => Workload::rate(r, window, mailboxes),
        _ => return Err(bad("workload", "give exactly one of `mails` (a total), `per_hour` or `rate` (\"1200/h\")")),
    };
    if let Some(b) = w.begin {
        wl.begin = dur(b, "workload.begin")?;
    }
    let mails = workload_mails(&wl);
    let volume_field = if w.mails.is_some() {
        "workload.mails"
    } else if w.per_hour.is_some() {
        "workload.per_hour"
    } else {
        "workload.rate"
    };
    at_most(mails, MAILS_MAX, volume_field, "mails over the window")?;
    if wl.begin + window > t.duration {
        let field = if w.begin.is_some() { "workload.begin" } else { "workload.window" };
        return Err(bad(
            field,
            format!(
                "the workload ends at {} but the run at {}: mail scheduled after the run is never sent",
                show(wl.begin + window),
                f.run.duration
            ),
        ));
    }
    wl.start_hour = t.ops.calendar.start_hour;
    // The clients' load on the storage follows the same hours as the mail.
    t.filer.storage.foreground_hourly = wl.hourly_weights;
    t.filer.storage.start_hour = wl.start_hour;
    if let Some(r) = &w.recipients {
        wl.recipients = match RECIPIENTS.iter().find(|(name, _)| name == r) {
            Some((_, recipients)) => recipients.clone(),
            None => {
                let known = RECIPIENTS.map(|(name, _)| name).join(", ");
                return Err(bad("workload.recipients", format!("unknown distribution `{r}` ({known})")));
            }
        };
    }
    if !w.profiles.is_empty() {
        t.senders.profiles.clear();
        t.senders.profile_weights.clear();
        for (name, weight) in &w.profiles {
            let p = RetryProfile::by_name(name).ok_or_else(|| {
                bad(format!("workload.profiles.{name}"), format!("unknown retry profile `{name}` ({})", RETRY_PROFILES.join(", ")))
            })?;
            t.senders.profiles.push(p);
            t.senders.profile_weights.push(*weight);
        }
    }
    t.workload = wl;

    // Faults.
    for (i, fe) in f.faults.iter().enumerate() {
        let field = |k: &str| format!("faults[{i}].{k}");
        let kind = match fe.kind.as_str() {
            "crash" => FaultKind::Crash,
            "restart" => FaultKind::Restart,
            "isolate" => FaultKind::Isolate,
            "partition" => FaultKind::Partition { peer: fe.peer.clone().ok_or_else(|| bad(field("peer"), "a partition needs a `peer`"))? },
            "heal" => FaultKind::Heal,
            "controller-failure" => FaultKind::ControllerFailure,
            "path-fault" => FaultKind::PathFault,
            "disk-failure" => FaultKind::DiskFailure,
            "cache-failure" => FaultKind::CacheFailure,
            "latent-sector-error" => FaultKind::LatentSectorError,
            "degrade" => {
                let speed = fe.speed.as_deref().ok_or_else(|| bad(field("speed"), "`degrade` needs a `speed` (\"10%\" or \"x10\")"))?;
                FaultKind::Degrade { permille: parse_speed(speed).map_err(|e| bad(field("speed"), e))? }
            }
            "lock-broken" => FaultKind::LockBroken,
            "lock-restart" => FaultKind::LockRestart,
            "hang" => {
                FaultKind::Hang { for_: dur(fe.for_.ok_or_else(|| bad(field("for"), "`hang` needs a `for` duration"))?, &field("for"))? }
            }
            "fence-broken" => {
                FaultKind::FenceBroken { mode: fe.mode.ok_or_else(|| bad(field("mode"), "`fence-broken` needs a `mode`"))?.mode() }
            }
            "latency" => {
                let peer = fe.peer.clone().ok_or_else(|| bad(field("peer"), "`latency` needs a `peer`"))?;
                let d = fe.latency.ok_or_else(|| bad(field("latency"), "`latency` needs a `latency` duration (\"2s\")"))?;
                let latency = positive_dur(d, &field("latency"))?;
                if latency > LATENCY_MAX {
                    return Err(bad(field("latency"), format!("{d} is longer than {}, the longest link latency", show(LATENCY_MAX))));
                }
                FaultKind::Latency { peer, latency }
            }
            other => return Err(bad(field("kind"), format!("unknown fault kind `{other}` (known: {})", FaultKind::NAMES.join(", ")))),
        };
        let is = |k: &str| fe.kind == k;
        for (present, key, applies, to) in [
            (fe.peer.is_some(), "peer", is("partition") || is("latency"), "`partition` and `latency`"),
            (fe.latency.is_some(), "latency", is("latency"), "`latency`"),
            (fe.speed.is_some(), "speed", is("degrade"), "`degrade`"),
            (fe.for_.is_some(), "for", is("hang"), "`hang`"),
            (fe.mode.is_some(), "mode", is("fence-broken"), "`fence-broken`"),
            (fe.target.is_some(), "target", !is("heal"), "every kind but `heal`, which heals the whole network"),
        ] {
            if present && !applies {
                return Err(bad(field(key), format!("`{key}` has no effect on a `{}` fault; it applies to {to}", fe.kind)));
            }
        }
        let target = match (&kind, &fe.target) {
            (FaultKind::Heal, t) => t.clone().unwrap_or_default(),
            (_, Some(t)) => t.clone(),
            (_, None) => return Err(bad(format!("faults[{i}]"), "this fault needs a `target`")),
        };
        if fe.at.micros().unsigned_abs() > DURATION_MAX.as_micros() {
            return Err(bad(field("at"), format!("{} is further from the start than {}", fe.at, show(DURATION_MAX))));
        }
        let spec = FaultSpec { at_us: fe.at.micros(), kind, target };
        if fe.at.micros() > t.duration.as_micros() as i64 {
            return Err(bad(field("at"), format!("{} is after the end of the run ({})", fe.at, f.run.duration)));
        }
        t.resolve_fault(&spec).map_err(|e| bad(if e.contains("peer") { field("peer") } else { field("target") }, e))?;
        t.faults.push(spec);
    }
    for (i, r) in f.random_faults.iter().enumerate() {
        if !RANDOM_FAULT_KINDS.contains(&r.kind.as_str()) {
            return Err(bad(
                format!("random_faults[{i}].kind"),
                format!("unknown random fault kind `{}` (known: {})", r.kind, RANDOM_FAULT_KINDS.join(", ")),
            ));
        }
        let mean = positive_dur(r.mean_interval, &format!("random_faults[{i}].mean_interval"))?;
        t.random_faults.push(RandomFaultSpec { kind: r.kind.clone(), mean_interval: mean });
    }

    // Recovery plan.
    for (i, s) in f.recovery.iter().enumerate() {
        let field = |k: &str| format!("recovery[{i}].{k}");
        if f.recovery[..i].iter().any(|p| p.name == s.name) {
            return Err(bad(field("name"), format!("step name `{}` used twice", s.name)));
        }
        for (present, key, action) in [
            (s.parallel, "parallel", "start-rebuild"),
            (s.steps.is_some(), "steps", "migrate"),
            (s.keep_uidls.is_some(), "keep_uidls", "migrate"),
            (s.node.is_some(), "node", "power-on"),
        ] {
            if present && s.action != action {
                return Err(bad(field(key), format!("`{key}` has no effect on a `{}` step; it applies to `{action}`", s.action)));
            }
        }
        if s.delay.is_some() && s.after.is_none() {
            return Err(bad(field("delay"), "`delay` has no effect here: it applies only to a step triggered by `after`"));
        }
        if let Some(n) = s.steps {
            if n > t.filer.storage.volumes {
                return Err(bad(
                    field("steps"),
                    format!("{n} steps for {} volumes: a step moves at least one volume", t.filer.storage.volumes),
                ));
            }
        }
        let action = match s.action.as_str() {
            "replace-hardware" => Action::ReplaceHardware,
            "fix-redundancy" => Action::FixRedundancy,
            "start-rebuild" => Action::StartRebuild { parallel: s.parallel },
            "enable-temp-stores" => Action::EnableTempStores,
            "merge-back" => Action::MergeBack,
            "migrate" => Action::Migrate {
                steps: positive(s.steps.unwrap_or(1), &field("steps"))?,
                keep_uidls: s.keep_uidls.unwrap_or(true),
                volumes: Vec::new(),
            },
            "rollback-upgrade" => Action::RollbackUpgrade,
            "reset-cluster" => Action::ResetCluster,
            "flush-queue" => Action::FlushQueue,
            "standby" => Action::Standby,
            "unstandby" => Action::Unstandby,
            "power-on" => {
                let node = s.node.as_deref().ok_or_else(|| bad(field("node"), "`power-on` needs a `node`"))?;
                Action::PowerOn { node: t.node(node).ok_or_else(|| bad(field("node"), format!("`{node}` names no node")))? }
            }
            other => return Err(bad(field("action"), format!("unknown action `{other}` ({})", STEP_ACTIONS.join(", ")))),
        };
        let trigger = match (s.at, s.after_alert, &s.after) {
            (Some(at), false, None) => Trigger::At(Time::ZERO + dur(at, &field("at"))?),
            (None, true, None) => Trigger::AfterAlert,
            (None, false, Some(prev)) => {
                let idx = f.recovery[..i]
                    .iter()
                    .position(|p| &p.name == prev)
                    .ok_or_else(|| bad(field("after"), format!("`{prev}` is not an earlier step")))?;
                Trigger::After(idx as u32, s.delay.map(|d| dur(d, &field("delay"))).transpose()?.unwrap_or(Dur::ZERO))
            }
            _ => return Err(bad(format!("recovery[{i}]"), "give exactly one trigger: `at`, `after_alert = true`, or `after`")),
        };
        if t.node(&s.target).is_none() {
            return Err(bad(
                field("target"),
                format!("`{}` names no node of this topology (nodes: {})", s.target, t.node_names().join(", ")),
            ));
        }
        let takes = match &s.takes {
            None => Delay::default(),
            Some(TakesSpec::Fixed(d)) => Delay::Fixed(dur(*d, &field("takes"))?),
            Some(TakesSpec::Estimate { min, mode, max, source }) => {
                if source.as_deref().is_none_or(|t| t.trim().is_empty()) {
                    return Err(bad(field("takes.source"), "an estimate needs a `source`: say where it comes from"));
                }
                let (a, z) = (dur(*min, &field("takes.min"))?, dur(*max, &field("takes.max"))?);
                let d = match mode {
                    Some(m) => Delay::Triangular { min: a, mode: dur(*m, &field("takes.mode"))?, max: z },
                    None => Delay::Uniform(a, z),
                };
                d.validate().map_err(|e| bad(field("takes"), e))?;
                d
            }
        };
        let hours = match s.hours.as_deref() {
            None | Some("always") => WorkingHours::Always,
            Some("business") => WorkingHours::Business,
            Some(other) => return Err(bad(field("hours"), format!("unknown working hours `{other}` (always, business)"))),
        };
        t.plan.push(StepSpec { takes, hours, ..StepSpec::new(&s.name, &s.target, action, trigger) });
    }
    if let Some(step) = &f.expect.no_failover_before {
        if !f.recovery.iter().any(|s| &s.name == step) {
            return Err(bad("expect.no_failover_before", format!("`{step}` is not a recovery step")));
        }
    }
    for (i, kind) in f.expect.absorbed.iter().enumerate() {
        if !f.faults.iter().any(|fe| &fe.kind == kind) {
            return Err(bad(format!("expect.absorbed[{i}]"), format!("no scheduled fault of kind `{kind}`")));
        }
    }
    for (name, b) in &f.expect.sender_bounces {
        if RetryProfile::by_name(name).is_none() && name != "all" {
            return Err(bad(
                format!("expect.sender_bounces.{name}"),
                format!("unknown retry profile `{name}` ({}, all)", RETRY_PROFILES.join(", ")),
            ));
        }
        some_bound(&Some(b.clone()), &format!("expect.sender_bounces.{name}"))?;
    }
    let e = &f.expect;
    some_bound(&e.lost, "expect.lost")?;
    some_bound(&e.duplicates, "expect.duplicates")?;
    some_bound(&e.client_duplicates, "expect.client_duplicates")?;
    some_bound(&e.returned, "expect.returned")?;
    some_bound(&e.peak_unavailable, "expect.peak_unavailable")?;
    some_bound(&e.restored, "expect.restored")?;
    some_bound(&e.max_delay, "expect.max_delay")?;
    some_bound(&e.failover, "expect.failover")?;
    for (list, checkpoints) in [
        ("unavailable", &e.unavailable),
        ("users_full_service", &e.users_full_service),
        ("users_partial_service", &e.users_partial_service),
    ] {
        for (i, c) in checkpoints.iter().enumerate() {
            if c.min.is_none() && c.max.is_none() {
                return Err(bad(format!("expect.{list}[{i}]"), "give `min`, `max` or both; a checkpoint without them checks nothing"));
            }
        }
    }
    some_bound(&e.users_full_service_min, "expect.users_full_service_min")?;
    some_bound(&e.queue_peak, "expect.queue_peak")?;
    for (table, keys) in [
        ("service_down", e.service_down.keys().collect::<Vec<_>>()),
        ("failed_share", e.failed_share.keys().collect()),
        ("users_affected", e.users_affected.keys().collect()),
    ] {
        for k in keys {
            if !services().contains(&k.as_str()) {
                let known = services().join(", ");
                return Err(bad(format!("expect.{table}.{k}"), format!("unknown service `{k}` (services: {known})")));
            }
        }
    }
    for (k, b) in &e.service_down {
        some_bound(&Some(b.clone()), &format!("expect.service_down.{k}"))?;
    }
    for (node, q) in &e.queue {
        let field = format!("expect.queue.{node}");
        let queues: Vec<String> =
            t.node_names().into_iter().filter(|n| n.starts_with("mx-") && !n.contains('/') || n == "backup-mx").collect();
        if !queues.contains(node) {
            return Err(bad(field, format!("`{node}` has no mail queue in this topology (queues: {})", queues.join(", "))));
        }
        if q.peak.is_none() && q.drained.is_none() {
            return Err(bad(field, "give `peak`, `drained` or both; an empty queue expectation checks nothing"));
        }
        some_bound(&q.peak, &format!("{field}.peak"))?;
        some_bound(&q.drained, &format!("{field}.drained"))?;
    }
    for (k, b) in &e.failed_share {
        some_bound(&Some(b.clone()), &format!("expect.failed_share.{k}"))?;
    }
    for (k, b) in &e.users_affected {
        some_bound(&Some(b.clone()), &format!("expect.users_affected.{k}"))?;
    }
    t.validate().map_err(|e| bad("topology", e))?;
    let events = estimate_events(&t, mails);
    if events > EVENTS_MAX {
        return Err(bad(
            volume_field,
            format!(
                "the run would take about {events} events (mails retried through the run, client checks, heartbeats, probes), more than its budget of {EVENTS_MAX}; use fewer mails, a shorter run or fewer periodic checks"
            ),
        ));
    }
    Ok(t)
}

/// Every size and list length a file gives, against its limit, before
/// anything is sized by them.
fn check_sizes(f: &ScenarioFile) -> Result<(), Bad> {
    let ts = &f.topology;
    at_most(ts.mx.into(), MX_MAX.into(), "topology.mx", "MX nodes")?;
    at_most(ts.mailboxes.into(), MAILBOXES_MAX.into(), "topology.mailboxes", "mailboxes")?;
    let s = &ts.storage;
    for (v, max, field, what) in [
        (s.shelves, SHELVES_MAX, "topology.storage.shelves", "shelves"),
        (s.controllers_per_shelf, CONTROLLERS_PER_SHELF_MAX, "topology.storage.controllers_per_shelf", "controllers per shelf"),
        (s.groups, GROUPS_MAX, "topology.storage.groups", "RAID groups"),
        (s.volumes, VOLUMES_MAX, "topology.storage.volumes", "volumes"),
        (s.disks_per_group, DISKS_PER_GROUP_MAX, "topology.storage.disks_per_group", "disks per group"),
        (s.parity_disks, DISKS_PER_GROUP_MAX - 1, "topology.storage.parity_disks", "parity disks"),
    ] {
        if let Some(v) = v {
            at_most(v.into(), max.into(), field, what)?;
        }
    }
    if f.run.seeds == 0 {
        return Err(bad("run.seeds", "must be at least 1"));
    }
    at_most(f.run.seeds.into(), SEEDS_MAX.into(), "run.seeds", "seeds")?;
    let len = |n: usize| n as u64;
    at_most(len(f.faults.len()), len(FAULTS_MAX), "faults", "scheduled faults")?;
    at_most(len(f.random_faults.len()), len(RANDOM_FAULTS_MAX), "random_faults", "random fault processes")?;
    at_most(len(f.recovery.len()), len(RECOVERY_STEPS_MAX), "recovery", "recovery steps")?;
    at_most(len(ts.operators.holidays.len()), len(HOLIDAYS_MAX), "topology.operators.holidays", "holidays")?;
    if let Some(c) = &ts.cluster {
        at_most(len(c.fencing.len()), len(FENCE_LEVELS_MAX), "topology.cluster.fencing", "fencing levels")?;
    }
    Ok(())
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

/// The JSON Schema of scenario files.
pub fn schema() -> String {
    let schema = schemars::schema_for!(ScenarioFile);
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
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
