//! Scenario files: outages as data.
//!
//! A scenario is a TOML file declaring a topology, a workload, a fault plan, a
//! recovery plan and expectations (see `scenarios/` and `mailsim schema`). A
//! variant `extends` another file and overrides any field — tables merge key
//! by key, everything else (arrays included) is replaced — so a design review
//! compares `opensrs-2008-shelf-controller` with its parallel-rebuild variant
//! without copying the file.
//!
//! Loading is strict: unknown fields, unknown fault kinds, targets that name
//! nothing, impossible values are `ScenarioError`s naming the file, the line
//! and the field.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use mailsim_models::calendar::{CalendarConfig, Weekday};
use mailsim_models::cluster::{AgentConfig, FenceDeviceConfig};
use mailsim_models::filer::Placement;
use mailsim_models::mta::WhenFull;
use mailsim_models::ops::Trigger;
use mailsim_models::retry::RetryProfile;
use mailsim_models::senders::{Recipients, Workload};
use mailsim_models::topology::{ClusterSpec, FaultKind, FaultSpec, RandomFaultSpec, StepSpec, Topology, RANDOM_FAULT_KINDS};
use mailsim_models::{clients::ClientsConfig, Action, FenceMode};
use mailsim_sim::{Dur, NodeId, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::error::{FieldPath, ScenarioError};
use crate::units::{parse_byte_rate, parse_count_rate, parse_size, parse_speed, HumanDuration, Share};

/// A scenario file as written.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    /// Another scenario file (relative to this one) whose fields this one
    /// overrides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extends: Option<String>,
    pub scenario: Meta,
    pub run: RunSpec,
    pub topology: TopologySpec,
    pub workload: WorkloadSpec,
    #[serde(default)]
    pub faults: Vec<FaultEntry>,
    #[serde(default)]
    pub random_faults: Vec<RandomFaultEntry>,
    #[serde(default)]
    pub recovery: Vec<StepEntry>,
    #[serde(default)]
    pub expect: Expect,
}

/// What the scenario is and where it comes from.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub name: String,
    pub summary: String,
    /// The postmortem it replays (a path under shared/seeds, or a URL).
    #[serde(default)]
    pub source: String,
    /// What the scenario assumes where the postmortem is silent.
    #[serde(default)]
    pub assumptions: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunSpec {
    /// Simulated time the run lasts.
    pub duration: HumanDuration,
    /// When the fault phase ends and the liveness phase begins.
    #[serde(default)]
    pub fault_phase: Option<HumanDuration>,
    /// How long recovery, and then eventual delivery, may take.
    #[serde(default = "default_liveness")]
    pub liveness_window: HumanDuration,
    /// Seeds the main job runs (seeds 0..n).
    #[serde(default = "default_seeds")]
    pub seeds: u32,
    /// Enable a random subset of the random fault processes per seed.
    #[serde(default)]
    pub swarm: bool,
}

fn default_liveness() -> HumanDuration {
    HumanDuration::hours(72)
}
fn default_seeds() -> u32 {
    8
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TopologySpec {
    /// Mail nodes behind the MX record.
    pub mx: u32,
    pub mailboxes: u32,
    /// Run the mail services under a cluster manager behind a virtual IP.
    #[serde(default)]
    pub cluster: Option<ClusterTable>,
    /// What senders see from a crashed MX: "refuse" (connection refused) or "silent".
    #[serde(default)]
    pub mx_down: Option<DownSpec>,
    #[serde(default)]
    pub storage: StorageTable,
    #[serde(default)]
    pub mta: MtaTable,
    #[serde(default)]
    pub nfs: NfsTable,
    #[serde(default)]
    pub clients: Option<ClientsTable>,
    #[serde(default)]
    pub operators: OperatorsTable,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DownSpec {
    Refuse,
    Silent,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterTable {
    /// Fencing levels, tried in order.
    #[serde(default)]
    pub fencing: Vec<FenceLevel>,
    #[serde(default)]
    pub token_timeout: Option<HumanDuration>,
    #[serde(default)]
    pub stonith_timeout: Option<HumanDuration>,
    #[serde(default)]
    pub stonith_attempts: Option<u32>,
    /// Send heartbeat messages (every token_timeout / 4) instead of using the
    /// kernel's failure monitor, which tells the agents what those heartbeats
    /// would without the events. Heartbeats are for lossy links, which the
    /// monitor does not turn into false suspicions.
    #[serde(default)]
    pub heartbeats: bool,
    /// Planted bug: fail over without a successful fence.
    #[serde(default)]
    pub failover_without_fence: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FenceLevel {
    /// The level's name; devices are named `mx-K/fence-<level>`.
    pub level: String,
    #[serde(default)]
    pub mode: Option<FenceModeSpec>,
}

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

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StorageTable {
    pub shelves: Option<u32>,
    pub controllers_per_shelf: Option<u32>,
    pub groups: Option<u32>,
    pub parity_disks: Option<u32>,
    /// Disks per RAID group, parity included (default 14, the OpenSRS
    /// rebuild count); must exceed `parity_disks`.
    pub disks_per_group: Option<u32>,
    pub volumes: Option<u32>,
    /// "random" (OpenSRS) or "round-robin".
    pub placement: Option<PlacementSpec>,
    /// Time to rebuild one RAID group at full speed …
    pub rebuild_per_group: Option<HumanDuration>,
    /// … or the data one group's rebuild reconstructs ("1.5TB") and the
    /// rebuild rate of one group ("35MB/s") and of the whole system.
    pub group_size: Option<String>,
    pub rebuild_rate: Option<String>,
    pub rebuild_rate_total: Option<String>,
    /// Data per volume ("1TB") and the migration copy rate ("100MB/s").
    pub volume_size: Option<String>,
    pub migration_rate: Option<String>,
    /// Serve a group's volumes while it rebuilds.
    pub online_during_rebuild: Option<bool>,
    /// Base service time of a mailbox write.
    pub service_time: Option<HumanDuration>,
    /// Mailbox appends the filer serves per second at normal speed (the mail
    /// share of a shared file server; default 100). Scale it with the
    /// workload when a replay needs the storage to be the bottleneck.
    pub appends_per_s: Option<u32>,
    /// Time to migrate one volume to new storage.
    pub migration_per_volume: Option<HumanDuration>,
    /// At most one migration step per this interval (night-time steps).
    pub migration_step_interval: Option<HumanDuration>,
    /// Planted bug switch: merge-back without deduplication.
    pub merge_dedup: Option<bool>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PlacementSpec {
    Random,
    RoundRobin,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MtaTable {
    /// Retry profile of the cluster's own queues (postfix, exim, exchange, 72h, sendmail).
    pub retry: Option<String>,
    /// Override of the profile's queue lifetime.
    pub lifetime: Option<HumanDuration>,
    pub delivery_timeout: Option<HumanDuration>,
    pub delivery_concurrency: Option<u32>,
    pub queue_capacity: Option<u32>,
    /// "refuse" (452) or "accept" when the queue is full.
    pub when_full: Option<WhenFullSpec>,
    /// Planted bugs.
    pub ack_before_durable: Option<bool>,
    pub drop_expired_without_dsn: Option<bool>,
    pub lda_skips_lock: Option<bool>,
}

#[derive(Clone, Copy, Debug, Deserialize, Serialize, JsonSchema, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum WhenFullSpec {
    Refuse,
    Accept,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NfsTable {
    /// How long the delivery agent tries the lock before EX_TEMPFAIL.
    pub lock_fail_delay: Option<HumanDuration>,
    pub lock_grace_min: Option<HumanDuration>,
    pub lock_grace_max: Option<HumanDuration>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientsTable {
    pub users: Option<u32>,
    pub check_interval: Option<HumanDuration>,
    /// Weights per protocol: pop, imap, webmail.
    #[serde(default)]
    pub mix: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorsTable {
    /// Day of the week at T+0: mon … sun.
    pub start_day: Option<String>,
    /// Hour of the day at T+0 (0-23).
    pub start_hour: Option<u32>,
    /// Holidays, as day offsets from the start day (0 = the first day).
    #[serde(default)]
    pub holidays: Vec<u32>,
    /// Probability that the first responder checks the wrong service.
    pub misdiagnosis: Option<Share>,
    pub alert_text: Option<String>,
    /// Response delay ranges per period: [min, max].
    pub business_delay: Option<[HumanDuration; 2]>,
    pub night_delay: Option<[HumanDuration; 2]>,
    pub weekend_delay: Option<[HumanDuration; 2]>,
    pub holiday_delay: Option<[HumanDuration; 2]>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// Total mails sent over the window (exact).
    #[serde(default)]
    pub mails: Option<u64>,
    /// Or a rate in mails per hour …
    #[serde(default)]
    pub per_hour: Option<u64>,
    /// … or written with its unit: "1200/h", "2/s".
    #[serde(default)]
    pub rate: Option<String>,
    pub window: HumanDuration,
    #[serde(default)]
    pub begin: Option<HumanDuration>,
    /// "uniform" or "zipf".
    #[serde(default)]
    pub recipients: Option<String>,
    /// Share of mails per sender retry profile (postfix, exim, exchange, 72h, sendmail).
    #[serde(default)]
    pub profiles: BTreeMap<String, u64>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultEntry {
    /// When; negative ("-7d") for a fault present before the run starts.
    pub at: HumanDuration,
    /// One of the fault kinds (`mailsim schema` lists them).
    pub kind: String,
    /// The component: `mx-2`, `filer`, `shelf-a`, `shelf-a/controller-b`,
    /// `group-3`, `mx-1/fence-ipmi`.
    #[serde(default)]
    pub target: Option<String>,
    /// The other end of a partition.
    #[serde(default)]
    pub peer: Option<String>,
    /// For `degrade`: remaining speed ("10%") or latency factor ("x10").
    #[serde(default)]
    pub speed: Option<String>,
    /// For `hang`: how long.
    #[serde(default, rename = "for")]
    pub for_: Option<HumanDuration>,
    /// For `fence-broken`.
    #[serde(default)]
    pub mode: Option<FenceModeSpec>,
    /// Free text: what the postmortem says about this fault.
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RandomFaultEntry {
    pub kind: String,
    pub mean_interval: HumanDuration,
}

#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StepEntry {
    pub name: String,
    /// replace-hardware, fix-redundancy, start-rebuild, enable-temp-stores,
    /// merge-back, migrate, rollback-upgrade, reset-cluster, power-on, flush-queue.
    pub action: String,
    pub target: String,
    /// Trigger: at a time …
    #[serde(default)]
    pub at: Option<HumanDuration>,
    /// … or when an operator has responded to the first alert …
    #[serde(default)]
    pub after_alert: bool,
    /// … or after another step completes (plus `delay`).
    #[serde(default)]
    pub after: Option<String>,
    #[serde(default)]
    pub delay: Option<HumanDuration>,
    /// For start-rebuild.
    #[serde(default)]
    pub parallel: bool,
    /// For migrate.
    #[serde(default)]
    pub steps: Option<u32>,
    #[serde(default)]
    pub keep_uidls: Option<bool>,
    /// For power-on: the node.
    #[serde(default)]
    pub node: Option<String>,
}

/// A figure with bounds.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Bounds<T> {
    pub min: Option<T>,
    pub max: Option<T>,
}

/// An unavailability checkpoint: at `at`, at most (or at least) this share
/// of mailboxes unavailable.
#[derive(Clone, Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub at: HumanDuration,
    #[serde(default)]
    pub max: Option<Share>,
    #[serde(default)]
    pub min: Option<Share>,
}

/// What the postmortem reported, checked on every seed.
#[derive(Clone, Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// No accepted mail lost, none delivered twice (default true).
    pub custody: Option<bool>,
    /// Everything accepted is delivered after recovery (default true).
    pub eventual_delivery: Option<bool>,
    /// Never two writers of one mailbox or resource (default true).
    pub no_split_brain: Option<bool>,
    pub lost: Option<Bounds<u64>>,
    pub duplicates: Option<Bounds<u64>>,
    pub client_duplicates: Option<Bounds<u64>>,
    /// Mails bounced by senders per retry profile.
    #[serde(default)]
    pub sender_bounces: BTreeMap<String, Bounds<u64>>,
    /// Mails returned by the cluster's MTAs (DSN).
    pub returned: Option<Bounds<u64>>,
    /// Peak share of mailboxes unavailable.
    pub peak_unavailable: Option<Bounds<Share>>,
    /// The restoration curve.
    #[serde(default)]
    pub unavailable: Vec<Checkpoint>,
    /// When the last unavailable mailbox came back.
    pub restored: Option<Bounds<HumanDuration>>,
    /// No mail delivered in this interval.
    pub no_delivery_between: Option<[HumanDuration; 2]>,
    /// Longest delivery delay (author to mailbox).
    pub max_delay: Option<Bounds<HumanDuration>>,
    /// No failover of the mail services before this recovery step completed.
    pub no_failover_before: Option<String>,
    /// When the first failover happened, from the start. No failover at all
    /// counts as later than any time: it meets `min`, and fails `max`.
    pub failover: Option<Bounds<HumanDuration>>,
    /// Fault kinds expected to change nothing (a design variant whose
    /// redundancy absorbs them); every other scheduled fault must have an
    /// effect, and these must not.
    #[serde(default)]
    pub absorbed: Vec<String>,
}

/// A loaded, validated scenario.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub path: PathBuf,
    pub file: ScenarioFile,
    pub topology: Topology,
}

/// Reads a file and its `extends` chain into one merged TOML table; returns
/// the chain of (path, text), most derived first, for error locations.
fn load_merged(path: &Path, chain: &mut Vec<(PathBuf, String)>) -> Result<toml::Table, ScenarioError> {
    let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { file: path.to_path_buf(), source })?;
    if chain.iter().any(|(p, _)| p == path) {
        return Err(ScenarioError::Nowhere {
            file: path.to_path_buf(),
            field: Some(FieldPath::parse("extends")),
            message: "`extends` chain loops back to this file".into(),
        });
    }
    let table: toml::Table = toml::from_str(&text).map_err(|e| {
        let offset = e.span().map_or(0, |s| s.start);
        ScenarioError::at_offset(path, &text, offset, None, e.message().trim().to_string())
    })?;
    chain.push((path.to_path_buf(), text.clone()));
    let Some(base) = table.get("extends") else { return Ok(table) };
    let Some(base_name) = base.as_str() else {
        return Err(ScenarioError::at_field(path, &text, FieldPath::parse("extends"), "`extends` must be a file name".into()));
    };
    let base_path = path.parent().unwrap_or(Path::new(".")).join(base_name);
    if !base_path.exists() {
        return Err(ScenarioError::at_field(
            path,
            &text,
            FieldPath::parse("extends"),
            format!("`{base_name}` does not exist (looked for {})", base_path.display()),
        ));
    }
    let mut merged = load_merged(&base_path, chain)?;
    merge(&mut merged, table);
    merged.remove("extends");
    Ok(merged)
}

/// Overrides `base` with `over`: tables merge key by key, other values replace.
fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

/// The error located in the first file of the chain that writes the field.
fn error_in_chain(chain: &[(PathBuf, String)], field: FieldPath, message: String) -> ScenarioError {
    for (path, text) in chain {
        if crate::error::locate(text, &field).is_some() {
            return ScenarioError::at_field(path, text, field, message);
        }
    }
    let (path, text) = &chain[0];
    ScenarioError::at_field(path, text, field, message)
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
        let de = toml::Value::Table(merged);
        let file: ScenarioFile = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = to_path(e.path());
            let message = e.inner().message().trim().to_string();
            error_in_chain(&chain, field, message)
        })?;
        let topology = build_topology(&file).map_err(|(field, message)| error_in_chain(&chain, FieldPath::parse(&field), message))?;
        Ok(Scenario { path: path.to_path_buf(), file, topology })
    }

    pub fn name(&self) -> &str {
        &self.file.scenario.name
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

fn dur(d: HumanDuration, field: &str) -> Result<Dur, Bad> {
    d.as_dur().ok_or_else(|| bad(field, format!("{d} is negative; a duration here must be positive")))
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
    let mailboxes = positive(ts.mailboxes, "topology.mailboxes")?;
    let mx = positive(ts.mx, "topology.mx")?;
    let mut t = Topology::new(0, mx, mailboxes, 0);
    t.duration = dur(f.run.duration, "run.duration")?;
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
    t.swarm = f.run.swarm;
    if let Some(d) = ts.mx_down {
        t.mx_refuse_when_down = d == DownSpec::Refuse;
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
    if let Some(b) = size(&s.group_size, "topology.storage.group_size")? {
        st.group_rebuild_bytes = b.max(1);
    }
    if let Some(b) = size(&s.volume_size, "topology.storage.volume_size")? {
        st.volume_bytes = b.max(1);
    }
    if let Some(r) = rate(&s.rebuild_rate, "topology.storage.rebuild_rate")? {
        if s.rebuild_per_group.is_some() {
            return Err(bad("topology.storage.rebuild_rate", "give `rebuild_rate` or `rebuild_per_group`, not both"));
        }
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
    if let Some(v) = s.rebuild_per_group {
        let secs = dur(v, "topology.storage.rebuild_per_group")?.as_secs().max(1);
        st.rebuild_bytes_per_s_group = (st.group_rebuild_bytes / secs).max(1);
        st.rebuild_bytes_per_s_total = st.rebuild_bytes_per_s_total.max(st.rebuild_bytes_per_s_group);
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
        t.filer.lock_fail_delay = dur(v, "topology.nfs.lock_fail_delay")?;
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
            .ok_or_else(|| bad("topology.mta.retry", format!("unknown retry profile `{r}` (postfix, exim, exchange, 72h, sendmail)")))?;
    }
    if let Some(v) = m.lifetime {
        t.mta.retry.lifetime_s = dur(v, "topology.mta.lifetime")?.as_secs();
    }
    if let Some(v) = m.delivery_timeout {
        t.mta.delivery_timeout = dur(v, "topology.mta.delivery_timeout")?;
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
    t.mta.ack_before_durable = m.ack_before_durable.unwrap_or(false);
    t.mta.drop_expired_without_dsn = m.drop_expired_without_dsn.unwrap_or(false);
    t.mta.lda_skips_lock = m.lda_skips_lock.unwrap_or(false);
    t.mta.retry.validate().map_err(|e| bad("topology.mta", e))?;

    // Cluster.
    if let Some(c) = &ts.cluster {
        if mx < 2 {
            return Err(bad("topology.mx", "a cluster needs at least two nodes"));
        }
        let mut spec = ClusterSpec { fence_levels: Vec::new(), agent: AgentConfig::new(Vec::new(), NodeId(0), Vec::new(), None) };
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
            spec.agent.heartbeat_interval = Dur(spec.agent.token_timeout.0 / 4);
        }
        if let Some(v) = c.stonith_timeout {
            spec.agent.stonith_timeout = dur(v, "topology.cluster.stonith_timeout")?;
        }
        if let Some(v) = c.stonith_attempts {
            spec.agent.stonith_max_attempts = positive(v, "topology.cluster.stonith_attempts")?;
        }
        spec.agent.failover_without_fence = c.failover_without_fence;
        spec.agent.heartbeats = c.heartbeats;
        t.cluster = Some(spec);
    }

    // Clients.
    if let Some(c) = &ts.clients {
        let mut cc = ClientsConfig::new(NodeId(0), mailboxes);
        if let Some(u) = c.users {
            cc.users = positive(u, "topology.clients.users")?.min(mailboxes);
        }
        if let Some(v) = c.check_interval {
            cc.check_interval = dur(v, "topology.clients.check_interval")?;
            if cc.check_interval == Dur::ZERO {
                return Err(bad("topology.clients.check_interval", "must be longer than zero"));
            }
        }
        if !c.mix.is_empty() {
            let mut w = [0u64; 3];
            for (k, v) in &c.mix {
                let i = match k.as_str() {
                    "pop" => 0,
                    "imap" => 1,
                    "webmail" => 2,
                    _ => return Err(bad(format!("topology.clients.mix.{k}"), format!("unknown protocol `{k}` (pop, imap, webmail)"))),
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

    // Operators.
    let o = &ts.operators;
    let mut cal = CalendarConfig::default();
    if let Some(d) = &o.start_day {
        cal.start_weekday = match d.to_ascii_lowercase().as_str() {
            "mon" => Weekday::Mon,
            "tue" => Weekday::Tue,
            "wed" => Weekday::Wed,
            "thu" => Weekday::Thu,
            "fri" => Weekday::Fri,
            "sat" => Weekday::Sat,
            "sun" => Weekday::Sun,
            _ => return Err(bad("topology.operators.start_day", format!("`{d}` is not a day (mon … sun)"))),
        };
    }
    if let Some(h) = o.start_hour {
        if h > 23 {
            return Err(bad("topology.operators.start_hour", format!("{h} is not an hour (0-23)")));
        }
        cal.start_hour = h;
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
    let window = dur(w.window, "workload.window")?;
    if window == Dur::ZERO {
        return Err(bad("workload.window", "must be longer than zero"));
    }
    let rate = w.rate.as_deref().map(|r| parse_count_rate(r).map_err(|e| bad("workload.rate", e))).transpose()?;
    let mut wl = match (w.mails, w.per_hour, rate) {
        (Some(m), None, None) => Workload::total(m, window, mailboxes),
        (None, Some(r), None) | (None, None, Some(r)) => Workload::rate(r, window, mailboxes),
        _ => return Err(bad("workload", "give exactly one of `mails` (a total), `per_hour` or `rate` (\"1200/h\")")),
    };
    if let Some(b) = w.begin {
        wl.begin = dur(b, "workload.begin")?;
    }
    wl.start_hour = t.ops.calendar.start_hour;
    if let Some(r) = &w.recipients {
        wl.recipients = match r.as_str() {
            "uniform" => Recipients::Uniform,
            "zipf" => Recipients::Zipf,
            _ => return Err(bad("workload.recipients", format!("unknown distribution `{r}` (uniform, zipf)"))),
        };
    }
    if !w.profiles.is_empty() {
        t.senders.profiles.clear();
        t.senders.profile_weights.clear();
        for (name, weight) in &w.profiles {
            let p = RetryProfile::by_name(name).ok_or_else(|| {
                bad(format!("workload.profiles.{name}"), format!("unknown retry profile `{name}` (postfix, exim, exchange, 72h, sendmail)"))
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
            other => return Err(bad(field("kind"), format!("unknown fault kind `{other}` (known: {})", FaultKind::NAMES.join(", ")))),
        };
        let target = match (&kind, &fe.target) {
            (FaultKind::Heal, t) => t.clone().unwrap_or_default(),
            (_, Some(t)) => t.clone(),
            (_, None) => return Err(bad(format!("faults[{i}]"), "this fault needs a `target`")),
        };
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
        let mean = dur(r.mean_interval, &format!("random_faults[{i}].mean_interval"))?;
        if mean == Dur::ZERO {
            return Err(bad(format!("random_faults[{i}].mean_interval"), "must be longer than zero"));
        }
        t.random_faults.push(RandomFaultSpec { kind: r.kind.clone(), mean_interval: mean });
    }

    // Recovery plan.
    for (i, s) in f.recovery.iter().enumerate() {
        let field = |k: &str| format!("recovery[{i}].{k}");
        if f.recovery[..i].iter().any(|p| p.name == s.name) {
            return Err(bad(field("name"), format!("step name `{}` used twice", s.name)));
        }
        let action = match s.action.as_str() {
            "replace-hardware" => Action::ReplaceHardware,
            "fix-redundancy" => Action::FixRedundancy,
            "start-rebuild" => Action::StartRebuild { parallel: s.parallel },
            "enable-temp-stores" => Action::EnableTempStores,
            "merge-back" => Action::MergeBack,
            "migrate" => Action::Migrate { steps: positive(s.steps.unwrap_or(1), &field("steps"))?, keep_uidls: s.keep_uidls.unwrap_or(true), volumes: Vec::new() },
            "rollback-upgrade" => Action::RollbackUpgrade,
            "reset-cluster" => Action::ResetCluster,
            "flush-queue" => Action::FlushQueue,
            "power-on" => {
                let node = s.node.as_deref().ok_or_else(|| bad(field("node"), "`power-on` needs a `node`"))?;
                Action::PowerOn { node: t.node(node).ok_or_else(|| bad(field("node"), format!("`{node}` names no node")))? }
            }
            other => {
                return Err(bad(
                    field("action"),
                    format!("unknown action `{other}` (replace-hardware, fix-redundancy, start-rebuild, enable-temp-stores, merge-back, migrate, rollback-upgrade, reset-cluster, power-on, flush-queue)"),
                ))
            }
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
        t.plan.push(StepSpec { name: s.name.clone(), target: s.target.clone(), action, trigger });
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
    for name in f.expect.sender_bounces.keys() {
        if RetryProfile::by_name(name).is_none() && name != "all" {
            return Err(bad(format!("expect.sender_bounces.{name}"), format!("unknown retry profile `{name}`")));
        }
    }
    t.validate().map_err(|e| bad("topology", e))?;
    Ok(t)
}

/// The JSON Schema of scenario files.
pub fn schema() -> String {
    let schema = schemars::schema_for!(ScenarioFile);
    serde_json::to_string_pretty(&schema).expect("a schema serializes")
}
