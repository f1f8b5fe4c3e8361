//! A whole mail service, assembled: the one place that knows how the
//! components are wired, so that tests and scenario files describe a service
//! by its parts (how many MX nodes, clustered or not, the storage, the
//! workload, the faults, the recovery plan) and get a ready `Sim`.
//!
//! Node names are fixed and are what fault targets and runbook steps name:
//! `filer`, `mx-1` … `mx-N`, `vip` (clustered only), `mx-K/fence-<level>`
//! (fencing devices of node K, clustered only), `witness-W` (vote-only
//! cluster members, clustered only), `backup-mx` (with a backup
//! MX only), `internet`, `clients`, `ops`.
//! Components inside the filer are named `shelf-a/controller-b`, `shelf-a`,
//! `group-3` (RAID groups, from 1), `head-a`, `head-b` (its heads).
//!
//! Every service has mail readers by default (`ClientsConfig::new`: 200
//! users, 40% POP, 40% IMAP, 20% webmail, a check every 15 minutes), so that
//! every run measures what users saw (`availability.rs`). They connect where
//! real users do: in an unclustered service the POP, IMAP and webmail
//! servers read the file server directly; in a cluster they run on the node
//! holding the mail services, reached through the vip — webmail too, since
//! a webmail front end is an IMAP client of them (an assumption: the Fused
//! postmortem names "smtp, pop3/imap" and not webmail). Set `clients` to
//! `None` for a service without readers.

use mailsim_sim::{Config, Dur, Fault, FaultProcess, LinkConfig, NodeConfig, NodeId, Sim, Time};

use crate::calendar::WorkingHours;
use crate::choice::{self, Choice};
use crate::clients::{Clients, ClientsConfig};
use crate::cluster::{AgentConfig, FenceDevice, FenceDeviceConfig, NodeFencing, Vip, VipConfig, Witness};
use crate::filer::{Filer, FilerConfig};
use crate::heads::{Heads, Takeover};
use crate::host::ClusterNode;
use crate::ledger::EVENTUAL_DELIVERY;
use crate::msg::{Action, FenceMode, LocalDevice, ModelFault, Msg, StepId};
use crate::mta::{MtaConfig, MtaNode, QueueDisk};
use crate::ops::{Delay, Operators, OpsConfig, Plan, Step, Trigger};
use crate::senders::{Senders, SendersConfig, Workload};
use crate::World;

/// One fencing level of a cluster: each node gets a device of this level
/// (`mx-K/fence-<name>`), and the levels are tried in order (Pacemaker's
/// fencing topology).
#[derive(Clone, Debug, PartialEq)]
pub struct FenceLevel {
    /// The level's name (`ipmi`, `pdu`), part of its devices' node names.
    pub name: String,
    /// How its devices behave.
    pub device: FenceDeviceConfig,
}

impl FenceLevel {
    /// A level named `name` whose devices behave as `device`.
    pub fn new(name: &str, device: FenceDeviceConfig) -> FenceLevel {
        FenceLevel { name: name.to_string(), device }
    }
}

/// A clustered service (Pacemaker-like): the mail services run on one node at
/// a time behind a virtual IP.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterSpec {
    /// Fencing levels, tried in order.
    pub fence_levels: Vec<FenceLevel>,
    /// Agent settings; `members`, `primary`, `vip`, `fence_levels` and
    /// `witnesses` are filled in by the topology.
    pub agent: AgentConfig,
    /// Vote-only members (`witness-1` …): quorum devices or tie-breaker
    /// hosts that run no service. Default 0.
    pub witnesses: u32,
}

impl Default for ClusterSpec {
    fn default() -> Self {
        ClusterSpec {
            fence_levels: vec![FenceLevel::new("ipmi", FenceDeviceConfig::default())],
            agent: AgentConfig::new(Vec::new(), NodeId(0), Vec::new(), None),
            witnesses: 0,
        }
    }
}

/// A backup MX (node `backup-mx`): a relay named in the domain's MX records
/// at a higher preference than the primary ones. Senders try it only when
/// every primary failed (RFC 5321 §5.1); it accepts and queues mail for the
/// domain (it cannot verify recipients) and relays it to the primary MX
/// hosts on its own backoff, returning it to its author at the end of its
/// own queue lifetime. Its queue depth is reported like any MX's
/// (`queue_peak` of `backup-mx`).
///
/// Defaults: preference 20 against the primaries' 10 (the common
/// convention of the examples in RFC 5321 §5.1 and RFC 974); the MTA is
/// Postfix's (`maximal_queue_lifetime` 5 d; a backup MX is often given a
/// longer one, which the scenario sets) with a 600 s reply timeout for the
/// relay (Postfix `smtp_data_done_timeout`).
#[derive(Clone, Debug, PartialEq)]
pub struct BackupMx {
    /// Its MX record's preference (lower is tried first). Default 20.
    pub preference: u16,
    /// Its MTA; `store` and `relay` are filled in by the topology.
    pub mta: MtaConfig,
}

impl Default for BackupMx {
    fn default() -> Self {
        BackupMx { preference: 20, mta: MtaConfig { delivery_timeout: Dur::secs(600), ..MtaConfig::default() } }
    }
}

/// The preference of the primary MX records unless a scenario sets them.
pub const PRIMARY_PREFERENCE: u16 = 10;

/// A runbook step naming its target by node name.
#[derive(Clone, Debug, PartialEq)]
pub struct StepSpec {
    /// The step's name, as scenario files and reports give it
    /// ([`Topology::step_id`] finds its index).
    pub name: String,
    /// The node the command goes to, by name (`filer`, `mx-1`, `vip` …).
    pub target: String,
    /// What the step does.
    pub action: Action,
    /// When it runs (`After` names an earlier step by index).
    pub trigger: Trigger,
    /// How long the operators work on it before the command goes out.
    pub takes: Delay,
    /// When that work happens (around the clock, or business hours only).
    pub hours: WorkingHours,
    /// Who carries it out: the name of one of `ops.roles` (`None`: the
    /// operators who noticed, at once).
    pub role: Option<String>,
    /// A maintenance window: the command goes out at the next time the
    /// wall clock reads this hour (0-23).
    pub window_hour: Option<u32>,
}

impl StepSpec {
    /// A step on `target`, named `name`, carried out at once when it fires.
    pub fn new(name: &str, target: &str, action: Action, trigger: Trigger) -> StepSpec {
        StepSpec {
            name: name.to_string(),
            target: target.to_string(),
            action,
            trigger,
            takes: Delay::default(),
            hours: WorkingHours::Always,
            role: None,
            window_hour: None,
        }
    }
}

/// When a scheduled fault strikes: at a time from the start of the run, or
/// already before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultAt {
    /// Already present when the run starts, a latent fault nobody has noticed
    /// yet (a scenario file's negative `at`, such as `-7d`: OpenSRS's failed
    /// path to a shelf before its controller failed). Injected at time zero.
    BeforeStart,
    /// At this time from the start of the run.
    At(Time),
}

impl FaultAt {
    /// When the fault is injected: time zero for a fault present before the
    /// start.
    pub fn time(self) -> Time {
        match self {
            FaultAt::BeforeStart => Time::ZERO,
            FaultAt::At(t) => t,
        }
    }

    /// Whether the fault was already present before the run started.
    pub fn is_latent(self) -> bool {
        self == FaultAt::BeforeStart
    }
}

impl From<Time> for FaultAt {
    fn from(t: Time) -> FaultAt {
        FaultAt::At(t)
    }
}

impl From<Dur> for FaultAt {
    /// That long after the start of the run.
    fn from(d: Dur) -> FaultAt {
        FaultAt::At(Time::ZERO + d)
    }
}

/// A scheduled fault naming its target by component name.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpec {
    /// When: a time from the start, or before the run starts.
    pub at: FaultAt,
    /// What goes wrong.
    pub kind: FaultKind,
    /// What it hits, by name: a node (`mx-1`, `filer`, a fencing device
    /// `mx-1/fence-ipmi`), a shelf (`shelf-a`), a controller
    /// (`shelf-a/controller-b`) or a RAID group (`group-1`). Not read for
    /// `Heal`.
    pub target: String,
}

impl FaultSpec {
    /// A fault of `kind` on the component named `target`, at `at` (a
    /// [`Time`], a [`Dur`] after the start, or [`FaultAt::BeforeStart`]).
    pub fn new(at: impl Into<FaultAt>, kind: FaultKind, target: &str) -> FaultSpec {
        FaultSpec { at: at.into(), kind, target: target.to_string() }
    }
}

/// The fault kinds a topology understands.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// The target node crashes: its volatile state and writes in flight are
    /// lost; it stays down until restarted.
    Crash,
    /// The crashed target node restarts from its durable state.
    Restart,
    /// The target node is cut off from every other node.
    Isolate,
    /// Cut both directions between the target and `peer`.
    Partition {
        /// The other node, by name.
        peer: String,
    },
    /// The network heals: every partition and isolation ends.
    Heal,
    /// A shelf controller (target `shelf-a/controller-b`) fails.
    ControllerFailure,
    /// A shelf (target `shelf-a`) loses its path redundancy: latent until a
    /// controller fails.
    PathFault,
    /// A disk of a RAID group (target `group-1`) fails.
    DiskFailure,
    /// A RAID group (target `group-1`) gets a latent sector error, found
    /// when it is rebuilt.
    LatentSectorError,
    /// The storage's write-back cache is lost (target `filer`): writes go
    /// through, costing more bandwidth (see `contention`).
    CacheFailure,
    /// Storage latency multiplied (per-mille).
    Degrade {
        /// The multiplier, per-mille of normal (1000 = normal again).
        permille: u32,
    },
    /// The file server's lock manager stops working (target `filer`).
    LockBroken,
    /// The file server restarts its lock manager, which enters its grace
    /// period (target `filer`).
    LockRestart,
    /// The file server stops answering (target `filer`).
    Hang {
        /// For how long.
        for_: Dur,
    },
    /// Every message between the target and `peer`, both ways, takes
    /// `latency` on average (the kernel's slow link, scaled from the
    /// topology's link latency), until the network heals.
    Latency {
        /// The other node, by name.
        peer: String,
        /// The mean one-way delay.
        latency: Dur,
    },
    /// A fencing device (target `mx-1/fence-ipmi`) starts misbehaving.
    FenceBroken {
        /// How it behaves from now on (`Works` repairs it).
        mode: FenceMode,
    },
    /// A head of the file server (target `head-a`, `head-b`) fails; its
    /// partner's takeover works, fails or hangs.
    HeadFailure {
        /// How the partner's takeover goes.
        takeover: Takeover,
    },
    /// Stored data is corrupted (target `volume-1`, or `filer` for every
    /// volume): `share_ppm` of the mailboxes there are damaged until
    /// restored or recreated (`backup.rs`); their snapshots survive.
    DataCorruption {
        /// The share of the target's mailboxes hit, per million.
        share_ppm: u32,
    },
    /// Stored data is destroyed (target `volume-1` or `filer`): a share of
    /// the mailboxes deleted, or with the whole share the volume itself and
    /// its snapshots.
    DataLoss {
        /// The share of the target's mailboxes hit, per million.
        share_ppm: u32,
    },
    /// A backup set (target: its name) is corrupt: none of its copies can
    /// be restored.
    BackupCorrupt,
    /// A local device of a mail node (target `mx-1`, `backup-mx`) fails:
    /// the services that need it stop there; a cluster fails them over.
    LocalDeviceFailure {
        /// Which device.
        device: LocalDevice,
    },
    /// A site of the replicated mailstore (target: the site's name,
    /// `[topology.replication]`) fails: its copy can be neither read nor
    /// written until `replace-hardware`.
    SiteFailure,
    /// The link between the mailstore's copies (target: the replica's site)
    /// is cut, for `for_` if given, else until `heal` or the liveness phase.
    ReplicaPartition {
        /// How long the cut lasts, if bounded.
        for_: Option<Dur>,
    },
}

impl FaultKind {
    /// Every kind a scenario's `[[faults]]` may give, with what it does: the
    /// loader accepts exactly these (`fault_kind` in `src/scenario/build.rs`
    /// refuses any other before parsing), and `mailsim schema` lists them
    /// with their descriptions. A new kind is one entry here, its variant
    /// above, its resolution in `Topology::resolve_fault` and its parsing.
    pub const CHOICES: &'static [Choice] = &[
        Choice {
            name: "crash",
            description: "The target node stops: its volatile state and writes in flight are lost; it stays down until restarted.",
        },
        Choice { name: "restart", description: "The crashed target node boots again from its durable state." },
        Choice { name: "isolate", description: "Every link of the target node is cut, until `heal`." },
        Choice { name: "partition", description: "The link between the target and `peer` is cut, both ways, until `heal`." },
        Choice { name: "heal", description: "The network heals: every partition, isolation and slow link ends (no target)." },
        Choice { name: "controller-failure", description: "A shelf controller (target `shelf-a/controller-b`) fails." },
        Choice {
            name: "path-fault",
            description: "A shelf (target `shelf-a`) loses its path redundancy: latent until a controller fails.",
        },
        Choice { name: "disk-failure", description: "A disk of a RAID group (target `group-1`) fails." },
        Choice {
            name: "cache-failure",
            description: "The storage's write-back cache is lost (target `filer`): writes go through and cost more bandwidth.",
        },
        Choice {
            name: "latent-sector-error",
            description: "A RAID group (target `group-1`) gets a latent sector error, found when it is rebuilt.",
        },
        Choice { name: "degrade", description: "The storage (target `filer`) slows down by `speed` (\"10%\" or \"x10\")." },
        Choice { name: "lock-broken", description: "The file server's lock manager stops working (target `filer`)." },
        Choice {
            name: "lock-restart",
            description: "The file server's lock manager restarts and enters its grace period (target `filer`).",
        },
        Choice { name: "hang", description: "The file server (target `filer`) stops answering `for` a duration." },
        Choice {
            name: "fence-broken",
            description: "A fencing device (target `mx-1/fence-ipmi`) starts behaving as `mode` says (`works` repairs it).",
        },
        Choice {
            name: "latency",
            description: "Every message between the target and `peer`, both ways, takes `latency` on average, until `heal`.",
        },
        Choice {
            name: "data-corruption",
            description: "Stored data of a volume (target `volume-1`, or `filer` for all) is corrupted for a `share` of its mailboxes: unreadable until restored.",
        },
        Choice {
            name: "data-loss",
            description: "Stored data of a volume (target `volume-1`, or `filer`) is destroyed for a `share` of its mailboxes; a whole volume goes with its snapshots.",
        },
        Choice { name: "backup-corrupt", description: "A backup set (target: its name) turns out unusable: a restore from it fails." },
        Choice {
            name: "head-failure",
            description: "A file-server head (target `head-a`/`head-b`) fails; its partner takes over its volumes as `takeover` says.",
        },
        Choice {
            name: "local-device-failure",
            description: "A mail node's local `device` (target `mx-1`; `queue`, its queue disk) fails: it can neither queue nor deliver.",
        },
        Choice {
            name: "site-failure",
            description: "A site of the replicated mailstore (target: its name in `[topology.replication]`) fails: its copy is unreachable until `replace-hardware`.",
        },
        Choice {
            name: "replica-partition",
            description: "The link between the mailstore and its replica (target: the replica's site) is cut, `for` a duration or until `heal`.",
        },
    ];
    /// The names of `CHOICES`, in order.
    pub const NAMES: &'static [&'static str] = &choice::names::<{ FaultKind::CHOICES.len() }>(FaultKind::CHOICES);
}

/// A random fault process over the topology.
#[derive(Clone, Debug, PartialEq)]
pub struct RandomFaultSpec {
    /// One of `RANDOM_FAULT_KINDS`: "crash" / "restart" (a random MX node),
    /// "partition" (isolate a random MX node), "heal" (the network),
    /// "disk-failure" (a random RAID group).
    pub kind: String,
    /// Mean gap between occurrences, which are exponentially distributed
    /// (positive).
    pub mean_interval: Dur,
}

/// Everything that makes up a simulated mail service.
#[derive(Clone, Debug, PartialEq)]
pub struct Topology {
    /// The run's seed, which every random draw derives from.
    pub seed: u64,
    /// Mail nodes behind the MX record.
    pub mx: u32,
    /// The cluster the MX nodes form; `None`: independent MX nodes, each
    /// named in the MX record.
    pub cluster: Option<ClusterSpec>,
    /// MTA settings (the `store` is filled in).
    pub mta: MtaConfig,
    /// The MX records' preferences of the primary hosts, one per MX node
    /// (one for the vip in a cluster); empty: all [`PRIMARY_PREFERENCE`].
    pub mx_preference: Vec<u16>,
    /// A backup MX relaying to the primary hosts; `None`: none.
    pub backup_mx: Option<BackupMx>,
    /// The file server: mailboxes, storage, lock manager.
    pub filer: FilerConfig,
    /// What the authors send (copied into the sender settings).
    pub workload: Workload,
    /// Sender settings (the `mx` list and workload are filled in).
    pub senders: SendersConfig,
    /// Mail readers; `None` for none. Default: `ClientsConfig::new`.
    pub clients: Option<ClientsConfig>,
    /// The width of the availability measurement's time buckets. Default 1 h.
    pub availability_bucket: Dur,
    /// Operators (probe targets and plan are filled in).
    pub ops: OpsConfig,
    /// The recovery plan; steps are numbered in this order.
    pub plan: Vec<StepSpec>,
    /// Scheduled faults.
    pub faults: Vec<FaultSpec>,
    /// Random fault processes.
    pub random_faults: Vec<RandomFaultSpec>,
    /// Swarm mode: enable a random subset (at least one) of the random fault
    /// processes, drawn from the seed. Default false.
    pub swarm: bool,
    /// Every link between two nodes. Default: a LAN, 1–10 ms, no loss.
    pub link: LinkConfig,
    /// The run's normal end.
    pub duration: Dur,
    /// When the fault phase ends (the liveness phase follows).
    pub fault_phase: Option<Dur>,
    /// How long recovery, then eventual delivery, may take.
    pub liveness_window: Dur,
    /// At the end of the fault phase, heal the network and restart crashed
    /// nodes (the kernel's `heal_for_liveness`). Default true; false: a
    /// crashed node stays down unless a fault or a step restarts it.
    pub liveness_heals: bool,
    /// MX nodes refuse connections while down (false: silent, senders time out).
    pub mx_refuse_when_down: bool,
}

/// What [`Topology::new`] needs to know; every other part of the service
/// takes its default and stays a public field of the `Topology` to override.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopologyOptions {
    /// The run's seed, which every random draw derives from.
    pub seed: u64,
    /// Mail nodes behind the MX record (unclustered).
    pub mx: u32,
    /// Mailboxes on the file server's default storage.
    pub mailboxes: u32,
    /// Mails the internet sends, spread over the first day.
    pub mails: u64,
}

impl Default for TopologyOptions {
    /// Seed 0, two MX nodes, 100 mailboxes, 1,000 mails: a service small
    /// enough to run in milliseconds.
    fn default() -> TopologyOptions {
        TopologyOptions { seed: 0, mx: 2, mailboxes: 100, mails: 1_000 }
    }
}

/// The id of a listed node: nodes are added in the order of `node_names`.
fn node_id(names: &[String], n: &str) -> NodeId {
    NodeId(names.iter().position(|x| x == n).expect("a listed node") as u32)
}

impl Topology {
    /// A small unclustered service: `mx` nodes, `mailboxes` on the default
    /// storage, `mails` sent over the first day.
    ///
    /// ```
    /// use mailsim_models::topology::{Topology, TopologyOptions};
    /// let t = Topology::new(TopologyOptions { seed: 7, mailboxes: 50, ..TopologyOptions::default() });
    /// assert_eq!((t.seed, t.mx, t.filer.mailboxes), (7, 2, 50));
    /// ```
    pub fn new(options: TopologyOptions) -> Topology {
        let TopologyOptions { seed, mx, mailboxes, mails } = options;
        let workload = Workload::total(mails, Dur::hours(24), mailboxes);
        Topology {
            seed,
            mx,
            cluster: None,
            mta: MtaConfig::new(NodeId(0)),
            mx_preference: Vec::new(),
            backup_mx: None,
            filer: FilerConfig::new(mailboxes),
            senders: SendersConfig::new(Vec::new(), workload.clone()),
            workload,
            clients: Some(ClientsConfig::new(NodeId(0), mailboxes)),
            availability_bucket: Dur::hours(1),
            ops: OpsConfig::default(),
            plan: Vec::new(),
            faults: Vec::new(),
            random_faults: Vec::new(),
            swarm: false,
            link: LinkConfig::default(),
            duration: Dur::days(7),
            fault_phase: None,
            liveness_window: Dur::days(2),
            liveness_heals: true,
            mx_refuse_when_down: true,
        }
    }

    /// The node names in registration order (their index is their `NodeId`).
    pub fn node_names(&self) -> Vec<String> {
        let mut names = vec!["filer".to_string()];
        for k in 1..=self.mx {
            names.push(format!("mx-{k}"));
        }
        if let Some(c) = &self.cluster {
            names.push("vip".to_string());
            for k in 1..=self.mx {
                for FenceLevel { name: level, .. } in &c.fence_levels {
                    names.push(format!("mx-{k}/fence-{level}"));
                }
            }
            for w in 1..=c.witnesses {
                names.push(format!("witness-{w}"));
            }
        }
        if self.backup_mx.is_some() {
            names.push("backup-mx".to_string());
        }
        names.push("internet".to_string());
        if self.clients.is_some() {
            names.push("clients".to_string());
        }
        names.push("ops".to_string());
        names
    }

    /// The `NodeId` a name will have.
    pub fn node(&self, name: &str) -> Option<NodeId> {
        self.node_names().iter().position(|n| n == name).map(|i| NodeId(i as u32))
    }

    fn need(&self, name: &str) -> Result<NodeId, String> {
        self.node(name).ok_or_else(|| format!("`{name}` names no node of this topology (nodes: {})", self.node_names().join(", ")))
    }

    /// The node that answers SMTP for senders and probes for monitoring.
    fn front(&self) -> Vec<NodeId> {
        match self.cluster {
            Some(_) => vec![self.node("vip").expect("a clustered topology has a vip")],
            None => (1..=self.mx).map(NodeId).collect(),
        }
    }

    /// The domain's MX records, as senders see them: the front hosts and the
    /// backup MX, and their preferences.
    fn mx_records(&self) -> (Vec<NodeId>, Vec<u16>) {
        let mut hosts = self.front();
        let mut prefs = match self.mx_preference.is_empty() {
            true => vec![PRIMARY_PREFERENCE; hosts.len()],
            false => self.mx_preference.clone(),
        };
        if let Some(b) = &self.backup_mx {
            hosts.push(self.node("backup-mx").expect("a backup MX is a node"));
            prefs.push(b.preference);
        }
        (hosts, prefs)
    }

    /// Resolves a scheduled fault to the kernel faults it is made of (one,
    /// but for `Latency`: a slow link each way).
    pub fn resolve_fault(&self, f: &FaultSpec) -> Result<Vec<Fault<Msg>>, String> {
        if let FaultKind::Latency { peer, latency } = &f.kind {
            let (a, b) = (self.need(&f.target)?, self.need(peer)?);
            let permille = self.latency_permille(*latency);
            return Ok(vec![Fault::SlowLink { from: a, to: b, permille }, Fault::SlowLink { from: b, to: a, permille }]);
        }
        if f.kind == FaultKind::Heal && self.filer.replication.is_some() {
            // A heal also heals the link between the mailstore's copies.
            let link = ModelFault::ReplicaLink { up: true, for_: None };
            return Ok(vec![Fault::Heal, Fault::Model { target: NodeId(0), kind: "heal".to_string(), msg: Msg::Fault(link) }]);
        }
        self.resolve_one(f).map(|x| vec![x])
    }

    /// The slow-link multiplier (per mille) that makes a message's mean
    /// latency `latency` on this topology's links (drawn uniformly between
    /// `link.latency_min` and `link.latency_max`, then multiplied).
    pub fn latency_permille(&self, latency: Dur) -> u32 {
        let mean_us = ((self.link.latency_min.as_micros() + self.link.latency_max.as_micros()) / 2).max(1);
        u32::try_from((latency.as_micros() as u128 * 1000 / mean_us as u128).max(1)).unwrap_or(u32::MAX)
    }

    /// The kernel's fault for a scheduled one: node and network faults
    /// directly, the mailstore's and the devices' as model faults.
    fn resolve_one(&self, f: &FaultSpec) -> Result<Fault<Msg>, String> {
        let model = |target: NodeId, kind: &str, m: ModelFault| Fault::Model { target, kind: kind.to_string(), msg: Msg::Fault(m) };
        let t = f.target.as_str();
        Ok(match &f.kind {
            FaultKind::Crash => Fault::Crash(self.need(t)?),
            FaultKind::Restart => Fault::Restart(self.need(t)?),
            FaultKind::Isolate => Fault::Isolate(self.need(t)?),
            FaultKind::Partition { peer } => Fault::Partition(self.need(t)?, self.need(peer)?),
            FaultKind::Heal => Fault::Heal,
            FaultKind::Latency { .. } => unreachable!("resolved by resolve_fault"),
            FaultKind::FenceBroken { mode } => {
                let id = self.need(t)?;
                if !t.contains("/fence-") {
                    return Err(format!("`{t}` is not a fencing device (they are named like `mx-1/fence-ipmi`)"));
                }
                model(id, "fence-broken", ModelFault::FenceBroken { mode: *mode })
            }
            FaultKind::LocalDeviceFailure { device } => {
                let id = self.need(t)?;
                let mail_node = t == "backup-mx" || t.strip_prefix("mx-").is_some_and(|k| k.parse::<u32>().is_ok());
                if !mail_node {
                    return Err(format!("`{t}`: a local device failure hits a mail node (`mx-1` … or `backup-mx`)"));
                }
                model(id, "local-device-failure", ModelFault::LocalDeviceFail { device: *device })
            }
            kind @ (FaultKind::SiteFailure
            | FaultKind::ReplicaPartition { .. }
            | FaultKind::ControllerFailure
            | FaultKind::PathFault
            | FaultKind::DiskFailure
            | FaultKind::LatentSectorError
            | FaultKind::CacheFailure
            | FaultKind::Degrade { .. }
            | FaultKind::LockBroken
            | FaultKind::LockRestart
            | FaultKind::Hang { .. }
            | FaultKind::DataCorruption { .. }
            | FaultKind::DataLoss { .. }
            | FaultKind::BackupCorrupt
            | FaultKind::HeadFailure { .. }) => {
                let (name, m) = self.mailstore_fault(kind, t)?;
                model(NodeId(0), name, m)
            }
        })
    }

    /// A fault of the mailstore (node 0): its sites and replica link, its
    /// storage's shelves, controllers, groups, volumes, cache and heads, its
    /// lock manager, its data and backups. Returns the kind's name and the
    /// model fault.
    fn mailstore_fault(&self, kind: &FaultKind, t: &str) -> Result<(&'static str, ModelFault), String> {
        Ok(match kind {
            FaultKind::SiteFailure => {
                let r = self.replication(t)?;
                let site = r
                    .site(t)
                    .ok_or_else(|| format!("`{t}` is not a site of the mailstore (they are `{}` and `{}`)", r.source, r.target))?;
                ("site-failure", ModelFault::SiteFail { site: site as u32 })
            }
            FaultKind::ReplicaPartition { for_ } => {
                let r = self.replication(t)?;
                if t != r.target {
                    return Err(format!("`{t}`: a replica partition names the replica's site, `{}`", r.target));
                }
                ("replica-partition", ModelFault::ReplicaLink { up: false, for_: *for_ })
            }
            FaultKind::ControllerFailure => {
                let (shelf, ctrl) = self.shelf_controller(t)?;
                ("controller-failure", ModelFault::ControllerFail { shelf, controller: ctrl })
            }
            FaultKind::PathFault => {
                let shelf = self.shelf(t)?;
                ("path-fault", ModelFault::PathFault { shelf })
            }
            FaultKind::DiskFailure => ("disk-failure", ModelFault::DiskFail { group: self.group(t)? }),
            FaultKind::LatentSectorError => ("latent-sector-error", ModelFault::LatentSectorError { group: self.group(t)? }),
            FaultKind::CacheFailure => {
                self.expect_filer(t)?;
                ("cache-failure", ModelFault::CacheFail)
            }
            FaultKind::Degrade { permille } => {
                self.expect_filer(t)?;
                ("degrade", ModelFault::Degrade { permille: *permille })
            }
            FaultKind::LockBroken => {
                self.expect_filer(t)?;
                ("lock-broken", ModelFault::LockBroken)
            }
            FaultKind::LockRestart => {
                self.expect_filer(t)?;
                ("lock-restart", ModelFault::LockRestart)
            }
            FaultKind::Hang { for_ } => {
                self.expect_filer(t)?;
                ("hang", ModelFault::Hang { for_: *for_ })
            }
            FaultKind::DataCorruption { share_ppm } => {
                let volumes = self.volumes(t)?;
                ("data-corruption", ModelFault::DataCorruption { volumes, share_ppm: *share_ppm })
            }
            FaultKind::DataLoss { share_ppm } => {
                let volumes = self.volumes(t)?;
                ("data-loss", ModelFault::DataLoss { volumes, share_ppm: *share_ppm })
            }
            FaultKind::BackupCorrupt => ("backup-corrupt", ModelFault::BackupCorrupt { set: self.backup_set(t)? }),
            FaultKind::HeadFailure { takeover } => ("head-failure", ModelFault::HeadFail { head: self.head(t)?, takeover: *takeover }),
            other => unreachable!("{other:?} is not a fault of the mailstore"),
        })
    }

    fn replication(&self, t: &str) -> Result<&crate::replication::ReplicationConfig, String> {
        self.filer.replication.as_ref().ok_or_else(|| format!("`{t}`: the mailstore has no replica ([topology.replication])"))
    }

    fn head(&self, t: &str) -> Result<u32, String> {
        let heads = self.filer.storage.heads.heads;
        let names: Vec<String> = (0..heads).map(Heads::name).collect();
        names
            .iter()
            .position(|n| n == t)
            .map(|h| h as u32)
            .ok_or_else(|| format!("`{t}` is not a head of the file server (it has {heads}: {})", names.join(", ")))
    }

    /// The volumes a data fault hits: `volume-N` (from 1), or every volume
    /// for `filer` (an empty list).
    fn volumes(&self, t: &str) -> Result<Vec<u32>, String> {
        if t == "filer" || t == "storage" {
            return Ok(Vec::new());
        }
        let n: u32 = t
            .strip_prefix("volume-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("`{t}` is not a volume (they are named `volume-1` …; `filer` for every volume)"))?;
        if n == 0 || n > self.filer.storage.volumes {
            return Err(format!("`{t}`: the storage has {} volumes (volume-1 …)", self.filer.storage.volumes));
        }
        Ok(vec![n - 1])
    }

    /// A backup set, by name: its index in `FilerConfig::backups`.
    pub fn backup_set(&self, name: &str) -> Result<u32, String> {
        let names: Vec<&str> = self.filer.backups.iter().map(|b| b.name.as_str()).collect();
        names.iter().position(|n| *n == name).map(|i| i as u32).ok_or_else(|| {
            if names.is_empty() {
                format!("`{name}`: the topology has no backup sets")
            } else {
                format!("`{name}` is not a backup set (they are: {})", names.join(", "))
            }
        })
    }

    fn expect_filer(&self, t: &str) -> Result<(), String> {
        if t == "filer" || t == "storage" {
            Ok(())
        } else {
            Err(format!("`{t}`: this fault applies to the file server; target `filer`"))
        }
    }

    fn shelf(&self, t: &str) -> Result<u32, String> {
        let letter = t
            .strip_prefix("shelf-")
            .filter(|l| l.len() == 1)
            .ok_or_else(|| format!("`{t}` is not a shelf (they are named `shelf-a`, `shelf-b` …)"))?;
        let idx = letter.as_bytes()[0].wrapping_sub(b'a') as u32;
        if idx >= self.filer.storage.shelves {
            return Err(format!("`{t}`: the storage has {} shelves (shelf-a …)", self.filer.storage.shelves));
        }
        Ok(idx)
    }

    fn shelf_controller(&self, t: &str) -> Result<(u32, u32), String> {
        let (shelf, ctrl) =
            t.split_once('/').ok_or_else(|| format!("`{t}` is not a controller (they are named like `shelf-a/controller-b`)"))?;
        let shelf = self.shelf(shelf)?;
        let letter = ctrl
            .strip_prefix("controller-")
            .filter(|l| l.len() == 1)
            .ok_or_else(|| format!("`{t}` is not a controller (they are named like `shelf-a/controller-b`)"))?;
        let idx = letter.as_bytes()[0].wrapping_sub(b'a') as u32;
        if idx >= self.filer.storage.controllers_per_shelf {
            return Err(format!("`{t}`: shelves have {} controllers", self.filer.storage.controllers_per_shelf));
        }
        Ok((shelf, idx))
    }

    fn group(&self, t: &str) -> Result<u32, String> {
        let n: u32 = t
            .strip_prefix("group-")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| format!("`{t}` is not a RAID group (they are named `group-1` …)"))?;
        if n == 0 || n > self.filer.storage.groups {
            return Err(format!("`{t}`: the storage has {} RAID groups (group-1 …)", self.filer.storage.groups));
        }
        Ok(n - 1)
    }

    /// Checks the whole topology; the error says what is impossible.
    pub fn validate(&self) -> Result<(), String> {
        self.validate_sizes()?;
        self.validate_mail_path()?;
        self.validate_cluster_and_plan()?;
        self.validate_users_and_run()
    }

    /// Sizes that allocate per item or name items by a letter, checked
    /// before anything is built from them.
    fn validate_sizes(&self) -> Result<(), String> {
        if self.mx == 0 {
            return Err("a service needs at least one MX node".to_string());
        }
        if self.mx > 64 {
            return Err(format!("{} MX nodes: at most 64 are supported", self.mx));
        }
        // Sizes that allocate per item or name items by a letter, checked
        // before anything is built from them (the scenario format's limits,
        // `mailsim::scenario::*_MAX`, are these or tighter).
        let st = &self.filer.storage;
        for (n, max, what) in [
            (st.shelves, 26, "shelves (named shelf-a … shelf-z)"),
            (st.controllers_per_shelf, 26, "controllers per shelf (named controller-a … controller-z)"),
            (st.groups, 1_000, "RAID groups"),
            (st.volumes, 1_000, "volumes"),
            (self.filer.mailboxes, 10_000_000, "mailboxes"),
        ] {
            if n > max {
                return Err(format!("{n} {what}: at most {max} are supported"));
            }
        }
        if let Some(c) = &self.clients {
            if c.users > c.mailboxes || c.mailboxes > 10_000_000 {
                return Err(format!("{} client users for {} mailboxes: each user reads one mailbox", c.users, c.mailboxes));
            }
        }
        Ok(())
    }

    /// The mailstore, the MX records, the backup MX and the senders.
    fn validate_mail_path(&self) -> Result<(), String> {
        self.filer.validate()?;
        if !self.mx_preference.is_empty() && self.mx_preference.len() != self.front().len() {
            return Err(format!(
                "{} MX preferences for {} primary MX records (one per MX node; one, the vip's, in a cluster)",
                self.mx_preference.len(),
                self.front().len()
            ));
        }
        if let Some(b) = &self.backup_mx {
            b.mta.retry.validate().map_err(|e| format!("backup MX: {e}"))?;
            if b.mta.delivery_timeout == Dur::ZERO || b.mta.delivery_concurrency == 0 {
                return Err("backup MX: the relay timeout and concurrency must be positive".to_string());
            }
        }
        let mut senders = self.senders.clone();
        (senders.mx, senders.mx_preference) = self.mx_records();
        senders.workload = self.workload.clone();
        senders.validate().map_err(|e| format!("workload: {e}"))?;
        Ok(())
    }

    /// The cluster, the faults' targets, the recovery plan, the operators'
    /// roles and the link.
    fn validate_cluster_and_plan(&self) -> Result<(), String> {
        if let Some(c) = &self.cluster {
            if self.mx < 2 {
                return Err("a cluster needs at least two nodes".to_string());
            }
            if c.fence_levels.is_empty() {
                return Err("a cluster needs at least one fencing level".to_string());
            }
        }
        for f in &self.faults {
            self.resolve_fault(f)?;
        }
        for s in &self.plan {
            self.need(&s.target)?;
        }
        self.plan_steps()?.validate()?;
        for r in &self.ops.roles {
            r.validate()?;
        }
        self.link.validate()?;
        Ok(())
    }

    /// The users' limits and timings, the availability bucket and the fault
    /// phase.
    fn validate_users_and_run(&self) -> Result<(), String> {
        if let Some(c) = &self.clients {
            if c.users > 1 << 20 {
                return Err(format!("{} users: at most {} are supported", c.users, 1 << 20));
            }
            if c.check_interval == Dur::ZERO || c.timeout == Dur::ZERO {
                return Err("users' check interval and timeout must be longer than zero".to_string());
            }
            if c.proto_weights.iter().sum::<u64>() == 0 {
                return Err("users need a protocol mix with some non-zero weight".to_string());
            }
        }
        if self.availability_bucket == Dur::ZERO {
            return Err("the availability bucket must be longer than zero".to_string());
        }
        if let Some(p) = self.fault_phase {
            if p > self.duration {
                return Err(format!("the fault phase ({p}) ends after the run ({})", self.duration));
            }
        }
        Ok(())
    }

    fn plan_steps(&self) -> Result<Plan, String> {
        let mut plan = Plan::new();
        for s in &self.plan {
            let target = self.need(&s.target)?;
            let role = match &s.role {
                None => None,
                Some(name) => Some(self.ops.roles.iter().position(|r| &r.name == name).ok_or_else(|| {
                    let known: Vec<&str> = self.ops.roles.iter().map(|r| r.name.as_str()).collect();
                    format!("step `{}` names the role `{name}`, which is not one of the roles ({})", s.name, known.join(", "))
                })?),
            };
            plan = plan.step(Step {
                takes: s.takes,
                hours: s.hours,
                role,
                window_hour: s.window_hour,
                ..Step::new(s.action.clone(), target, s.trigger.clone())
            });
        }
        Ok(plan)
    }

    /// The index of a named runbook step.
    pub fn step_id(&self, name: &str) -> Option<StepId> {
        self.plan.iter().position(|s| s.name == name).map(|i| i as StepId)
    }

    /// Builds the simulation. Panics on an invalid topology: call `validate`
    /// first for a readable error.
    pub fn build(&self) -> Sim<Msg, World> {
        self.validate().unwrap_or_else(|e| panic!("invalid topology: {e}"));
        let names = self.node_names();
        let id = |n: &str| node_id(&names, n);
        let filer_id = id("filer");
        let mut sim: Sim<Msg, World> = crate::ledger::new_sim(self.sim_config());
        sim.set_default_link(self.link);
        sim.world_mut().stats.availability.set_bucket(self.availability_bucket);

        let mut filer = self.filer.clone();
        if let (Some(r), true, Some(p)) = (&mut filer.replication, self.liveness_heals, self.fault_phase) {
            // The liveness phase heals the link between the copies too.
            r.heal_at = Some(Time::ZERO + p);
        }
        let registered = Filer::register(&mut sim, "filer", NodeConfig::default(), filer);
        assert_eq!(registered, filer_id);

        let mut mta = self.mta.clone();
        mta.store = filer_id;
        let mx_node = NodeConfig {
            down: if self.mx_refuse_when_down { mailsim_sim::DownMode::Refuse } else { mailsim_sim::DownMode::Silent },
            ..NodeConfig::default()
        };
        match &self.cluster {
            None => {
                for k in 1..=self.mx {
                    let m = mta.clone();
                    let got = sim.add_node(&format!("mx-{k}"), mx_node, QueueDisk::new(), move |disk| MtaNode::new(m.clone(), disk));
                    assert_eq!(got, id(&format!("mx-{k}")));
                }
            }
            Some(c) => self.add_cluster(&mut sim, &names, c, &mta, mx_node),
        }
        self.add_edges(&mut sim, &names, mx_node);
        let ops_id = self.add_operators(&mut sim, &names);
        self.schedule_faults(&mut sim);
        self.add_properties(&mut sim, ops_id);
        sim
    }

    /// The kernel's settings: the run's end, its phases and swarm.
    fn sim_config(&self) -> Config {
        let mut cfg = Config::new(self.seed);
        cfg.end_at = Some(Time::ZERO + self.duration);
        cfg.max_time = Time::ZERO + self.duration + Dur::hours(1);
        cfg.fault_phase_end = self.fault_phase.map(|p| Time::ZERO + p);
        cfg.liveness_window = self.liveness_window;
        cfg.swarm = self.swarm;
        cfg.heal_for_liveness = self.liveness_heals;
        // Run to the scenario's end even once eventual delivery held: the
        // figures (restoration curve, bounces) cover the whole run.
        cfg.end_when_live = false;
        // A violation does not end the run: a run that loses mail still
        // measures its timeline (bounces, restores, delays), and every
        // violation is counted.
        cfg.stop_on_violation = false;
        cfg
    }

    /// The cluster's members (each an MTA with a cluster agent), its
    /// floating address, each member's fence devices and the quorum
    /// witnesses.
    fn add_cluster(&self, sim: &mut Sim<Msg, World>, names: &[String], c: &ClusterSpec, mta: &MtaConfig, mx_node: NodeConfig) {
        let id = |n: &str| node_id(names, n);
        let filer_id = id("filer");
        let mx_ids: Vec<NodeId> = (1..=self.mx).map(|k| id(&format!("mx-{k}"))).collect();
        let vip = id("vip");
        for k in 1..=self.mx {
            let mut agent = c.agent.clone();
            agent.members = mx_ids.clone();
            agent.primary = mx_ids[0];
            agent.vip = Some(vip);
            agent.witnesses = (1..=c.witnesses).map(|w| id(&format!("witness-{w}"))).collect();
            // Each node is fenced through its own devices (its IPMI
            // card, its PDU outlet), level by level.
            agent.fence_devices = (1..=self.mx)
                .map(|j| NodeFencing {
                    node: id(&format!("mx-{j}")),
                    levels: c.fence_levels.iter().map(|l| id(&format!("mx-{j}/fence-{}", l.name))).collect(),
                })
                .collect();
            let m = mta.clone();
            let got = sim.add_node(&format!("mx-{k}"), mx_node, QueueDisk::new(), move |disk| {
                ClusterNode::new(m.clone(), agent.clone(), Some(filer_id), disk)
            });
            assert_eq!(got, id(&format!("mx-{k}")));
        }
        let owner = Some(mx_ids[0]);
        let got = sim.add_node("vip", NodeConfig::default(), (), move |_| Vip::new(VipConfig { owner }));
        assert_eq!(got, vip);
        for k in 1..=self.mx {
            for level in &c.fence_levels {
                let dev = level.device.clone();
                let name = format!("mx-{k}/fence-{}", level.name);
                let got = sim.add_node(&name, NodeConfig::default(), (), move |_| FenceDevice::new(dev.clone()));
                assert_eq!(got, id(&name));
            }
        }
        for w in 1..=c.witnesses {
            let name = format!("witness-{w}");
            let got = sim.add_node(&name, NodeConfig::default(), (), |_| Witness);
            assert_eq!(got, id(&name));
        }
    }

    /// The nodes at the edges: the backup MX, the senders and the clients.
    fn add_edges(&self, sim: &mut Sim<Msg, World>, names: &[String], mx_node: NodeConfig) {
        let id = |n: &str| node_id(names, n);
        let filer_id = id("filer");
        if let Some(b) = &self.backup_mx {
            let mut m = b.mta.clone();
            m.store = filer_id;
            m.relay = self.front();
            let got = sim.add_node("backup-mx", mx_node, QueueDisk::new(), move |disk| MtaNode::new(m.clone(), disk));
            assert_eq!(got, id("backup-mx"));
        }

        let mut senders = self.senders.clone();
        (senders.mx, senders.mx_preference) = self.mx_records();
        senders.workload = self.workload.clone();
        let got = sim.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(senders.clone()));
        assert_eq!(got, id("internet"));

        if let Some(c) = &self.clients {
            let mut c = c.clone();
            c.store = match self.cluster {
                Some(_) => id("vip"),
                None => filer_id,
            };
            let got = sim.add_node("clients", NodeConfig::default(), (), move |_| Clients::new(c.clone()));
            assert_eq!(got, id("clients"));
        }
    }

    /// The operators with their runbook; returns their node.
    fn add_operators(&self, sim: &mut Sim<Msg, World>, names: &[String]) -> NodeId {
        let id = |n: &str| node_id(names, n);
        let filer_id = id("filer");
        let mut ops = self.ops.clone();
        if ops.probe_targets.is_empty() {
            // Monitoring checks the mail front end and the file server.
            ops.probe_targets = self.front();
            ops.probe_targets.push(filer_id);
        }
        ops.plan = self.plan_steps().expect("validated");
        let ops_id = id("ops");
        let got = sim.add_node("ops", NodeConfig::default(), (), move |_| Operators::new(ops.clone()));
        assert_eq!(got, ops_id);
        ops_id
    }

    /// The scripted faults at their times and the random fault processes.
    fn schedule_faults(&self, sim: &mut Sim<Msg, World>) {
        for f in &self.faults {
            let at = f.at.time();
            for fault in self.resolve_fault(f).expect("validated") {
                sim.schedule(at, fault);
            }
        }
        for r in &self.random_faults {
            sim.add_process(self.random_process(r));
        }
    }

    /// The invariants and the recovery gate.
    fn add_properties(&self, sim: &mut Sim<Msg, World>, ops_id: NodeId) {
        // The invariants: custody and split brain are checked by the ledger
        // at each transition; eventual delivery once recovery is done.
        // Mail written during the fault phase must be settled; mail written
        // later keeps flowing and is judged by the figures.
        match self.fault_phase {
            Some(p) => {
                let cutoff = Time::ZERO + p;
                sim.eventually(EVENTUAL_DELIVERY, move |o| o.world.settled_before(cutoff))
            }
            None => sim.eventually(EVENTUAL_DELIVERY, |o| o.world.all_delivered()),
        }
        if !self.plan.is_empty() {
            let names: Vec<String> = self.plan.iter().map(|s| s.name.clone()).collect();
            sim.recovery_done(move |o| match o.node::<Operators>(ops_id) {
                Some(ops) if ops.plan_complete() => Ok(()),
                Some(ops) => {
                    let failed: Vec<String> = (0..names.len())
                        .filter_map(|i| ops.step_failed(i).map(|(t, why)| format!("step `{}` failed at {t}: {why}", names[i])))
                        .collect();
                    let pending: Vec<&str> = (0..names.len())
                        .filter(|&i| !ops.step_is_done(i) && ops.step_failed(i).is_none())
                        .map(|i| names[i].as_str())
                        .collect();
                    let mut why = vec!["the recovery plan has not completed".to_string()];
                    why.extend(failed);
                    if !pending.is_empty() {
                        why.push(format!("not yet done: {}", pending.join(", ")));
                    }
                    Err(why.join("; "))
                }
                None => Err("the operators are not running".to_string()),
            });
        }
    }

    fn random_process(&self, r: &RandomFaultSpec) -> FaultProcess<Msg> {
        let mx = self.mx;
        let groups = self.filer.storage.groups;
        match r.kind.as_str() {
            "disk-failure" => FaultProcess::new("disk-failure", r.mean_interval, move |rng, _| {
                let group = rng.below(groups as u64) as u32;
                Some(Fault::Model { target: NodeId(0), kind: "disk-failure".to_string(), msg: Msg::Fault(ModelFault::DiskFail { group }) })
            }),
            kind => {
                let kind = kind.to_string();
                FaultProcess::new(kind.clone(), r.mean_interval, move |rng, view| {
                    let node = NodeId(1 + rng.below(mx as u64) as u32);
                    match kind.as_str() {
                        "crash" if view.up[node.0 as usize] => Some(Fault::Crash(node)),
                        "restart" if !view.up[node.0 as usize] => Some(Fault::Restart(node)),
                        "partition" => Some(Fault::Isolate(node)),
                        "heal" => Some(Fault::Heal),
                        _ => None,
                    }
                })
            }
        }
    }
}

/// The kinds a random fault process can have, with what one occurrence
/// does (`Topology::random_process`); `mailsim schema` lists them with
/// these descriptions.
pub const RANDOM_FAULT_CHOICES: &[Choice] = &[
    Choice {
        name: "crash",
        description: "A mail node drawn at random crashes, losing its volatile state and writes in flight; an occurrence that draws a node already down does nothing.",
    },
    Choice {
        name: "restart",
        description: "A mail node drawn at random boots again from its durable state; an occurrence that draws a node that is up does nothing.",
    },
    Choice { name: "partition", description: "A mail node drawn at random is cut off from every other node, until a heal." },
    Choice { name: "heal", description: "Every partition, isolation, clog and slow link of the network is healed." },
    Choice { name: "disk-failure", description: "A disk of a RAID group drawn at random fails." },
];

/// The kinds a random fault process can have: the names of
/// [`RANDOM_FAULT_CHOICES`].
pub const RANDOM_FAULT_KINDS: &[&str] = &choice::names::<{ RANDOM_FAULT_CHOICES.len() }>(RANDOM_FAULT_CHOICES);

#[cfg(test)]
mod tests {
    use super::*;

    /// A fault present before the start is injected at time zero, ahead of
    /// every timed fault; a `Dur` is that long after the start.
    #[test]
    fn a_fault_before_the_start_is_injected_at_time_zero() {
        assert_eq!(FaultAt::BeforeStart.time(), Time::ZERO);
        assert!(FaultAt::BeforeStart < FaultAt::At(Time::ZERO));
        assert!(FaultAt::BeforeStart.is_latent() && !FaultAt::At(Time::ZERO).is_latent());
        assert_eq!(FaultAt::from(Dur::hours(2)), FaultAt::At(Time::from_hours(2)));
        let mut t = Topology::new(TopologyOptions { seed: 1, mx: 2, mailboxes: 50, mails: 200 });
        t.duration = Dur::hours(6);
        t.faults.push(FaultSpec::new(Time::from_hours(1), FaultKind::Crash, "mx-1"));
        t.faults.push(FaultSpec::new(FaultAt::BeforeStart, FaultKind::PathFault, "shelf-a"));
        let report = t.build().run();
        let at: Vec<Time> = report.faults.iter().filter(|f| f.scheduled).map(|f| f.at).collect();
        assert_eq!(at, vec![Time::ZERO, Time::from_hours(1)]);
    }

    #[test]
    fn a_quiet_service_delivers_everything() {
        let mut t = Topology::new(TopologyOptions { seed: 1, mx: 2, mailboxes: 500, mails: 5_000 });
        t.duration = Dur::days(2);
        let mut sim = t.build();
        let report = sim.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let w = sim.world();
        assert_eq!(w.counts.submitted, 5_000);
        assert_eq!(w.counts.delivered, 5_000, "{:?}", w.counts);
        assert_eq!(w.counts.lost, 0);
    }

    /// The library's default (no fault phase set) used to accept eventual
    /// delivery at time zero, before any mail was written: a test built on
    /// `Topology::new` reported ok with 924 mails undelivered.
    #[test]
    fn without_a_fault_phase_undelivered_mail_fails_eventual_delivery() {
        let mut t = Topology::new(TopologyOptions { seed: 3, mx: 1, mailboxes: 50, mails: 500 });
        t.duration = Dur::days(2);
        t.faults.push(FaultSpec { at: FaultAt::At(Time::ZERO), kind: FaultKind::LockBroken, target: "filer".into() });
        let mut sim = t.build();
        let report = sim.run();
        let v = report.outcome.violation().unwrap_or_else(|| panic!("expected a violation, got {}", report.outcome));
        assert_eq!(v.property, EVENTUAL_DELIVERY);
        assert!(v.detail.contains("not in their mailbox"), "{v}");
        assert_eq!(sim.world().counts.delivered, 0);
        let p = report.property(EVENTUAL_DELIVERY).expect("listed");
        assert!(p.status.violated(), "{:?}", p.status);
    }

    #[test]
    fn every_invariant_is_listed_in_the_report_even_when_it_held() {
        let mut t = Topology::new(TopologyOptions { seed: 1, mx: 1, mailboxes: 20, mails: 50 });
        t.duration = Dur::days(1);
        let report = t.build().run();
        let names: Vec<&str> = report.properties.iter().map(|p| p.name.as_str()).collect();
        for want in [crate::ledger::CUSTODY.name, crate::ledger::SPLIT_BRAIN.name, EVENTUAL_DELIVERY] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        assert!(report.properties.iter().all(|p| p.status.held()), "{:?}", report.properties);
    }

    #[test]
    fn a_broken_lock_manager_halts_delivery_until_rollback() {
        let mut t = Topology::new(TopologyOptions { seed: 2, mx: 2, mailboxes: 500, mails: 5_000 });
        t.duration = Dur::days(4);
        t.fault_phase = Some(Dur::hours(40));
        t.faults.push(FaultSpec { at: FaultAt::At(Time::ZERO), kind: FaultKind::LockBroken, target: "filer".into() });
        t.plan.push(StepSpec::new("rollback", "filer", Action::RollbackUpgrade, Trigger::At(Time::from_hours(32))));
        let mut sim = t.build();
        let report = sim.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let w = sim.world();
        let before: u32 = w.stats.delivered_per_hour.iter().take(32).sum();
        assert_eq!(before, 0, "nothing is delivered while locks are broken");
        assert_eq!(w.counts.delivered + w.counts.sender_bounced, 5_000, "{:?}", w.counts);
        assert_eq!(w.counts.lost, 0);
        assert!(report.faults.iter().all(|f| f.effect), "{:?}", report.faults);
    }

    /// Two primary MX nodes and a backup MX; the primaries crash at T+2h
    /// and restart at T+8h when `outage`. The backup's queue (peak, when,
    /// drained) and the counts.
    fn with_backup(outage: bool) -> (Option<crate::availability::QueuePeak>, crate::ledger::Counts) {
        let mut t = Topology::new(TopologyOptions { seed: 4, mx: 2, mailboxes: 200, mails: 2_000 });
        t.duration = Dur::days(2);
        t.fault_phase = Some(Dur::hours(24));
        t.backup_mx = Some(BackupMx::default());
        if outage {
            for mx in ["mx-1", "mx-2"] {
                t.faults.push(FaultSpec { at: Time::from_hours(2).into(), kind: FaultKind::Crash, target: mx.into() });
                t.faults.push(FaultSpec { at: Time::from_hours(8).into(), kind: FaultKind::Restart, target: mx.into() });
            }
        }
        let mut sim = t.build();
        let report = sim.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let a = crate::availability::summarize(sim.world(), &t.node_names(), None, report.end);
        (a.queue_peak.get("backup-mx").copied(), sim.world().counts.clone())
    }

    #[test]
    fn a_backup_mx_queue_grows_while_the_primaries_are_down_and_drains_after() {
        let (q, c) = with_backup(true);
        let q = q.expect("the backup's queue is reported");
        // Six daytime hours of a 2,000-mail day: several hundred mails.
        assert!(q.depth > 200, "{q:?}");
        assert!((2 * 3600..=8 * 3600 + 600).contains(&q.at_s), "the peak falls in the outage: {q:?}");
        // Relayed on Postfix's backoff (at most 4000 s apart) once the
        // primaries are back: drained within ~2 h of the restart.
        let drained = q.drained_s.expect("drained");
        assert!((8 * 3600..=10 * 3600).contains(&drained), "{q:?}");
        assert_eq!((c.lost, c.returned, c.sender_bounced), (0, 0, 0), "{c:?}");
        assert_eq!(c.delivered, c.submitted, "{c:?}");
        // With the primaries up the backup is never tried.
        let (q, c) = with_backup(false);
        assert!(q.is_none_or(|q| q.depth == 0), "{q:?}");
        assert_eq!(c.delivered, c.submitted, "{c:?}");
    }

    #[test]
    fn a_backup_mx_returns_mail_at_the_end_of_its_own_queue_lifetime() {
        let mut t = Topology::new(TopologyOptions { seed: 4, mx: 1, mailboxes: 50, mails: 200 });
        t.duration = Dur::days(2);
        let mut b = BackupMx::default();
        b.mta.retry.lifetime_s = 6 * 3600;
        t.backup_mx = Some(b);
        t.faults.push(FaultSpec { at: FaultAt::At(Time::ZERO), kind: FaultKind::Crash, target: "mx-1".into() });
        let mut sim = t.build();
        sim.run();
        let c = &sim.world().counts;
        assert_eq!((c.delivered, c.lost), (0, 0), "{c:?}");
        assert_eq!(c.returned, c.submitted, "every mail returned by the backup after 6 h: {c:?}");
    }

    /// mx-1 crashes at T+1h; the fault phase ends at T+2h.
    fn crashed_mx(liveness_heals: bool) -> Sim<Msg, World> {
        let mut t = Topology::new(TopologyOptions { seed: 6, mx: 2, mailboxes: 50, mails: 500 });
        t.duration = Dur::hours(12);
        t.fault_phase = Some(Dur::hours(2));
        t.liveness_heals = liveness_heals;
        t.faults.push(FaultSpec { at: Time::from_hours(1).into(), kind: FaultKind::Crash, target: "mx-1".into() });
        let mut sim = t.build();
        sim.run();
        sim
    }

    #[test]
    fn a_crashed_node_comes_back_at_the_liveness_phase_only_if_the_file_says_so() {
        let up = |sim: &Sim<Msg, World>| sim.node::<MtaNode>(sim.node_id("mx-1").expect("mx-1")).is_some();
        assert!(up(&crashed_mx(true)), "healed for liveness: restarted at T+2h");
        assert!(!up(&crashed_mx(false)), "left as the faults left it: still down");
    }

    /// The first alert about the file server, hung from T+1h, with
    /// monitoring's `max_check_attempts` and `retry_interval`.
    fn first_alert(attempts: u32, retry: Dur) -> Time {
        let mut t = Topology::new(TopologyOptions { seed: 6, mx: 1, mailboxes: 20, mails: 50 });
        t.duration = Dur::hours(3);
        t.ops.probe_failures_max = attempts;
        t.ops.probe_retry_interval = retry;
        t.faults.push(FaultSpec { at: Time::from_hours(1).into(), kind: FaultKind::Hang { for_: Dur::hours(1) }, target: "filer".into() });
        let mut sim = t.build();
        sim.run();
        let ops = sim.node::<Operators>(sim.node_id("ops").expect("ops")).expect("ops up");
        ops.alerts.first().expect("an alert").0
    }

    #[test]
    fn alert_thresholds_and_intervals_are_the_scenarios() {
        let (default, eager, slow) = (first_alert(3, Dur::mins(1)), first_alert(1, Dur::mins(1)), first_alert(3, Dur::mins(10)));
        // The first failing check comes within a 5 min check interval.
        assert!(eager >= Time::from_hours(1) && eager <= Time::from_hours(1) + Dur::mins(6), "{eager}");
        assert!(default >= eager + Dur::mins(2), "two more failed checks a minute apart: {default} vs {eager}");
        assert!(slow >= eager + Dur::mins(20), "two more failed checks ten minutes apart: {slow} vs {eager}");
    }

    #[test]
    fn bad_targets_are_named() {
        let mut t = Topology::new(TopologyOptions { seed: 1, mx: 2, mailboxes: 10, mails: 10 });
        t.faults.push(FaultSpec { at: FaultAt::At(Time::ZERO), kind: FaultKind::ControllerFailure, target: "shelf-z/controller-a".into() });
        let e = t.validate().unwrap_err();
        assert!(e.contains("shelf-z"), "{e}");
        t.faults[0] = FaultSpec { at: FaultAt::At(Time::ZERO), kind: FaultKind::Crash, target: "mx-9".into() };
        assert!(t.validate().unwrap_err().contains("mx-9"));
    }

    /// A `latency` fault is a slow link each way, scaled so that a
    /// message's mean latency is the fault's: the default links take 1–10
    /// ms (mean 5.5 ms), so 2 s is a 364x multiplier.
    #[test]
    fn a_latency_fault_slows_both_directions_to_its_mean() {
        let mut t = Topology::new(TopologyOptions { seed: 1, mx: 2, mailboxes: 10, mails: 10 });
        let spec = FaultSpec {
            at: FaultAt::At(Time::ZERO),
            kind: FaultKind::Latency { peer: "filer".into(), latency: Dur::secs(2) },
            target: "mx-1".into(),
        };
        let (mx, filer) = (t.node("mx-1").expect("a node"), t.node("filer").expect("a node"));
        let faults = t.resolve_fault(&spec).expect("resolves");
        assert_eq!(faults.len(), 2);
        assert!(matches!(faults[0], Fault::SlowLink { from, to, permille: 363_636 } if from == mx && to == filer), "{:?}", faults[0]);
        assert!(matches!(faults[1], Fault::SlowLink { from, to, permille: 363_636 } if from == filer && to == mx), "{:?}", faults[1]);
        t.faults.push(FaultSpec { target: "mx-9".into(), ..spec });
        assert!(t.validate().unwrap_err().contains("mx-9"));
    }
}
