//! The storage hardware beneath the file server: disk shelves with redundant
//! controllers and paths, disks in RAID groups, volumes on the groups. A pure
//! model (plain structs, no kernel), driven by the filer with the current time.
//!
//! Why it looks like this — the OpenSRS outage (Cluster A, August 2008): a
//! hardware issue affecting storage *redundancy* sat unrepaired for about a
//! week (latent: nothing visible happened); then a disk-shelf controller of
//! the NetApp filer failed, and the two faults together took the shelf's
//! volumes down. After the hardware was replaced (~8 h) "14 disks need
//! rebuild; three volumes rebuilt one after another", and mailboxes came back
//! in a staircase as each volume finished. Field studies say the same at
//! scale: storage-subsystem failures are only 20–55% disks, the rest shelves
//! and interconnect, and they come in bursts (Jiang et al., FAST'08).
//!
//! What is modeled:
//! - A shelf has `controllers_per_shelf` controllers (two, as on NetApp
//!   shelves). Without a path fault the shelf is reachable while any
//!   controller works (multipath redundancy). A *path fault* breaks that
//!   redundancy: the shelf then needs every controller, so the first
//!   controller failure cuts all its paths. Until then the path fault is
//!   latent and invisible, as at OpenSRS.
//! - A RAID group tolerates `parity_disks` disk losses (two: RAID-DP /
//!   RAID-6). One more destroys its data. A latent sector error (3.45% of
//!   disks over 32 months, Bairavasundaram et al., SIGMETRICS'07) stays
//!   hidden until a rebuild reads the surviving disks; the stripe it hits
//!   cannot be read, which counts as one more disk loss for that rebuild. We
//!   count such a loss at group level (conservative: the mail on the group is
//!   reported lost, where a real array would lose the files on that stripe).
//! - A group whose shelf lost all paths must be rebuilt (resynchronized)
//!   before it serves again; its data is intact. By default its volumes stay
//!   offline until the rebuild completes (`online_during_rebuild: false`),
//!   which is what OpenSRS did: users came back volume by volume.
//! - What a rebuild must write comes from the hardware, not from a duration:
//!   each failed disk of the group, plus, after its shelf lost its paths, the
//!   group's *stale* disks (those that missed writes while unreachable), each
//!   `disk_bytes` (whole-disk reconstruction, as RAID does below the file
//!   system). How many of a group's `disks_per_group` disks went stale is
//!   drawn per group and seed, each disk with probability `stale_disk_ppm`
//!   (default 1/3: OpenSRS rebuilt 14 disks for its three 14-disk groups).
//!   So the three volumes of a staircase take unequal times, as they did.
//! - Rebuild is throttled bandwidth shared with clients: "hours to days;
//!   slower under foreground load" (vendor docs). One group's rebuild is
//!   limited by its own disks (`rebuild_bytes_per_s_group`, at idle); all
//!   rebuilds share the system's rebuild bandwidth
//!   (`rebuild_bytes_per_s_total`). Clients take the rest: the foreground
//!   load uses a share `u` of the disks' bandwidth that follows the mail
//!   workload's hour-of-day curve (`foreground_hourly`, from the scenario's
//!   start hour), peaking at `foreground_peak_permille`, a level drawn per
//!   seed (default 40–80% busy at the daily peak, an assumption: filers are
//!   sized with headroom). A rebuild gets what the clients leave, `1 - u`,
//!   but never less than the floor its priority keeps under full load:
//!   NetApp's `raid.reconstruct.perf_impact` / `raid.resync.perf_impact`
//!   levels ("low uses very little of the system resources ... high uses
//!   most", default medium; Data ONTAP 8 7-Mode Storage Management Guide,
//!   "Controlling the performance impact of RAID data reconstruction",
//!   <https://library.netapp.com/ecmdocs/ECMP1196986/html/GUID-9B2531F3-6BC5-4953-B16A-F6000A1983A2.html>).
//!   The guide gives no figures; the floors here are 10%, 40% and 90%
//!   (assumptions). So rebuilds run fast at night and slowly in business
//!   hours, and each seed's load gives another staircase.
//! - A parallel rebuild makes each group finish later than the first of a
//!   sequential one, but the last one sooner. While a group rebuilds, its
//!   volumes' latency is multiplied (NetApp field report: read latency 6 → 8
//!   ms during rebuild).
//! - A sequential rebuild takes the groups in an order the recovery plan
//!   chooses ([`RebuildOrder`]): named groups first, then by a rule — index
//!   order (the default, and what OpenSRS's "one after another" is replayed
//!   with: the posts do not say which volume went first), least data first,
//!   most data first, most mailboxes first, or most mailboxes per byte.
//!   Each group's time is its data over the shared rate, so the order moves
//!   who waits how long: least data first minimizes the sum of completion
//!   times, and most mailboxes per byte the mailbox-weighted sum, for a
//!   constant rate (the shortest-processing-time and weighted rules: W. E.
//!   Smith, "Various optimizers for single-stage production", Naval
//!   Research Logistics Quarterly 3(1–2), 1956, Wiley,
//!   <https://doi.org/10.1002/nav.3800030106>). With the rate varying by
//!   hour, a group's completion is still an increasing function of the
//!   data rebuilt before it, so least data first still minimizes every
//!   completion time in turn.
//! - Performance degradation multiplies every old-storage latency (the
//!   Norwegian host, 2018: storage throughput down 90% ⇒ ×10).
//! - Migration copies volumes to new storage in steps; a migrated volume is
//!   served by the new storage (normal latency, unaffected by the old
//!   hardware's faults). Moving data needs the data readable: a volume whose
//!   shelf has no working path, or whose RAID group lost more disks than its
//!   parity, cannot be copied, so a migration that names one is refused, and
//!   a running migration whose source becomes unreadable is aborted (no
//!   volume it had not finished moves). A degraded but readable volume is
//!   copied at the speed its storage allows: the copy link's rate
//!   (`migration_bytes_per_s`) or the old storage's read rate
//!   (`read_bytes_per_s`) divided by the volume's latency multiplier,
//!   whichever is lower, as of when the migration is ordered. By default a
//!   migration moves the *affected* volumes (offline, slowed down, or on a
//!   RAID group that lost redundancy), not the healthy ones; a migration can
//!   name its volumes instead.
//! - Runbook actions check their preconditions here and say why they cannot
//!   act (`Err(reason)`): a rebuild needs every group that needs one
//!   reachable and not destroyed. An action with nothing to do (nothing to
//!   replace, rebuild or migrate) succeeds.
//!
//! - The file server's heads ([`crate::heads`]): one, or an HA pair whose
//!   heads each own the aggregates of half the RAID groups (group `g` is
//!   owned by head `g % heads`). A volume is online only while some head
//!   serves its group, so a head failure takes exactly its own volumes
//!   offline until its partner's takeover completes (or, when the takeover
//!   fails or hangs, until an operator acts).
//! - An operator can power-cycle the shelves (`power_cycle`, default 5
//!   minutes until the shelves' modules have booted and the heads see the
//!   disks again: an assumption). Every volume is offline meanwhile; no
//!   write reaches a disk, so nothing goes stale. A takeover hung on the
//!   failed head's disks completes after it.
//!
//! Layout: group `g` sits on shelf `g % shelves`, volume `v` on group
//! `v % groups`. With the defaults (2 shelves, 6 groups, 6 volumes) one shelf
//! holds half the volumes, so losing it takes ~50% of randomly placed
//! mailboxes offline, as at OpenSRS.

use mailsim_sim::{Dur, Stream, Time, MICROS_PER_S};

use crate::contention::{ContentionConfig, ShelfLoad};
use crate::heads::{Heads, HeadsConfig};
use crate::msg::ModelFault;
use crate::senders::DIURNAL;

const MICROS_PER_H: u64 = 3600 * MICROS_PER_S;

/// Which disks of a shelf that lost its paths go stale, drawn per seed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StaleDisks {
    /// Each disk independently, with this chance in parts per million.
    Chance(u32),
    /// This many disks of each shelf, spread at random over its groups (a
    /// postmortem that reports the count: "14 disks need rebuild").
    PerShelf(u32),
}

/// How much of the disks' bandwidth a rebuild may take from clients under
/// load: NetApp's `raid.reconstruct.perf_impact` levels (see the module doc).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RebuildPriority {
    /// Very little: 10% of the rebuild's rate under full client load.
    Low,
    /// The default: 40% under full client load.
    #[default]
    Medium,
    /// Most: 90% under full client load.
    High,
}

impl RebuildPriority {
    /// The names a scenario uses.
    pub const NAMES: [&'static str; 3] = ["low", "medium", "high"];

    /// The share of its full rate a rebuild keeps when clients use all the
    /// bandwidth, per-mille.
    pub fn floor_permille(self) -> u32 {
        match self {
            RebuildPriority::Low => 100,
            RebuildPriority::Medium => 400,
            RebuildPriority::High => 900,
        }
    }

    /// The level named `name` (one of [`RebuildPriority::NAMES`]).
    pub fn from_name(name: &str) -> Option<RebuildPriority> {
        match name {
            "low" => Some(RebuildPriority::Low),
            "medium" => Some(RebuildPriority::Medium),
            "high" => Some(RebuildPriority::High),
            _ => None,
        }
    }
}

/// Which degraded RAID group a serial rebuild takes next: a rule, after
/// the groups named first (see [`RebuildOrder`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum RebuildRule {
    /// Group by group in index order (`group-1` first): what the storage
    /// did before the order could be chosen.
    #[default]
    Index,
    /// The least data to rebuild first: shortest processing time, which
    /// minimizes the sum of the groups' completion times.
    SmallestFirst,
    /// The most data to rebuild first (the opposite: it maximizes that sum).
    LargestFirst,
    /// The group whose volumes hold the most mailboxes first.
    MostUsersFirst,
    /// The most mailboxes per byte to rebuild first: Smith's rule, which
    /// minimizes the mailbox-weighted sum of completion times.
    MostUsersPerByte,
}

impl RebuildRule {
    /// The names a scenario uses, in the order of the variants.
    pub const NAMES: [&'static str; 5] = ["index", "smallest-first", "largest-first", "most-users-first", "most-users-per-byte"];
    const ALL: [RebuildRule; 5] = [
        RebuildRule::Index,
        RebuildRule::SmallestFirst,
        RebuildRule::LargestFirst,
        RebuildRule::MostUsersFirst,
        RebuildRule::MostUsersPerByte,
    ];

    /// The rule named `name` (one of [`RebuildRule::NAMES`]).
    pub fn from_name(name: &str) -> Option<RebuildRule> {
        Self::NAMES.iter().position(|n| *n == name).map(|i| Self::ALL[i])
    }
    /// The rule's name in a scenario.
    pub fn name(self) -> &'static str {
        Self::NAMES[Self::ALL.iter().position(|r| *r == self).expect("every rule is listed")]
    }
    /// The rule in words, for a trace (`smallest first`).
    pub fn words(self) -> &'static str {
        match self {
            RebuildRule::Index => "in group order",
            RebuildRule::SmallestFirst => "smallest first",
            RebuildRule::LargestFirst => "largest first",
            RebuildRule::MostUsersFirst => "most mailboxes first",
            RebuildRule::MostUsersPerByte => "most mailboxes per byte first",
        }
    }
}

/// The order of a serial rebuild: the groups named in `first`, in that
/// order, then the others by `then`. The default (nobody named, index
/// order) is the order the storage always used. A parallel rebuild gives
/// every group the same share at once, so the order changes nothing there.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RebuildOrder {
    /// Groups rebuilt first, in this order (indices; `group-1` is 0).
    pub first: Vec<u32>,
    /// How the other groups are ordered.
    pub then: RebuildRule,
}

impl RebuildOrder {
    /// Whether this is the default order (index order, nothing named).
    pub fn is_default(&self) -> bool {
        self.first.is_empty() && self.then == RebuildRule::Index
    }
    /// The order in words, for a trace (`group-3, group-1 first, then
    /// smallest first`).
    pub fn words(&self) -> String {
        if self.first.is_empty() {
            return self.then.words().to_string();
        }
        let named: Vec<String> = self.first.iter().map(|g| Storage::group_name(*g)).collect();
        format!("{} first, then {}", named.join(", "), self.then.words())
    }
    /// Sorts `groups` into this order; `bytes[g]` is group `g`'s data to
    /// rebuild, `users[g]` the mailboxes on its volumes (missing: 0). Ties
    /// keep index order.
    pub fn arrange(&self, groups: &mut [u32], bytes: &dyn Fn(u32) -> u64, users: &[u64]) {
        let user = |g: u32| users.get(g as usize).copied().unwrap_or(0);
        let named = |g: u32| self.first.iter().position(|f| *f == g).unwrap_or(usize::MAX);
        groups.sort_by(|&a, &b| {
            named(a)
                .cmp(&named(b))
                .then_with(|| match self.then {
                    RebuildRule::Index => std::cmp::Ordering::Equal,
                    RebuildRule::SmallestFirst => bytes(a).cmp(&bytes(b)),
                    RebuildRule::LargestFirst => bytes(b).cmp(&bytes(a)),
                    RebuildRule::MostUsersFirst => user(b).cmp(&user(a)),
                    // users(a) / bytes(a) > users(b) / bytes(b), in integers.
                    RebuildRule::MostUsersPerByte => (user(b) as u128 * bytes(a) as u128).cmp(&(user(a) as u128 * bytes(b) as u128)),
                })
                .then(a.cmp(&b))
        });
    }
}

/// Hashes nothing for the default order, so that a trace recorded before
/// the order existed (its `start-rebuild` commands hashed without it) keeps
/// its hash: `a == b` still implies equal hashes.
impl std::hash::Hash for RebuildOrder {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        if !self.is_default() {
            self.first.hash(h);
            self.then.hash(h);
        }
    }
}

/// The storage layout and rates.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageConfig {
    /// Disk shelves. Default 2.
    pub shelves: u32,
    /// Controllers per shelf. Default 2 (redundant, as on NetApp shelves).
    pub controllers_per_shelf: u32,
    /// RAID groups; group `g` sits on shelf `g % shelves`.
    pub groups: u32,
    /// Disk losses a group survives. Default 2 (RAID-DP / RAID-6).
    pub parity_disks: u32,
    /// Volumes; volume `v` sits on group `v % groups`. Default 6: with two
    /// shelves, three volumes behind the failed one, as the three volumes
    /// OpenSRS rebuilt.
    pub volumes: u32,
    /// Disks per RAID group, parity included. Default 14 (OpenSRS rebuilt
    /// 14 disks for three volumes; 14 is also a common RAID-DP group size).
    pub disks_per_group: u32,
    /// Capacity of one disk: what reconstructing it writes. Default 300 GB,
    /// the Fibre Channel disk class of 2008 (an assumption: OpenSRS gives
    /// the disk count, not the size).
    pub disk_bytes: u64,
    /// Which disks go stale (need rebuilding) when their shelf loses its
    /// paths, drawn per seed. Default: each disk with chance 1/3 (OpenSRS
    /// rebuilt 14 of the 42 disks behind the failed shelf).
    pub stale_disks: StaleDisks,
    /// Rebuild speed of one group at idle, limited by its disks. Default
    /// 35 MB/s ("hours to days, slower under foreground load", vendor docs).
    pub rebuild_bytes_per_s_group: u64,
    /// Rebuild bandwidth of the whole system, shared by parallel rebuilds.
    /// Default 70 MB/s (assumption: two groups at full speed).
    pub rebuild_bytes_per_s_total: u64,
    /// How much bandwidth rebuilds take from clients under load. Default
    /// medium (NetApp's default).
    pub rebuild_priority: RebuildPriority,
    /// The share of the disks' bandwidth clients use at the busiest hour,
    /// per-mille: a level drawn per seed, uniformly in `[lo, hi]`. Default
    /// 400–800 (an assumption: filers are sized with headroom).
    pub foreground_peak_permille: [u32; 2],
    /// The clients' load by hour of the day, relative (the busiest hour is
    /// the peak). Default: the mail workload's business-day curve.
    pub foreground_hourly: [u64; 24],
    /// Hour of the day at T+0, for `foreground_hourly`.
    pub start_hour: u32,
    /// Serve a resynchronizing group's volumes while it rebuilds. Default
    /// false: OpenSRS kept volumes offline until each was rebuilt.
    pub online_during_rebuild: bool,
    /// Latency multiplier of a group while it rebuilds (per-mille). Default
    /// 1333: NetApp field report, read latency 6 → 8 ms during rebuild.
    pub rebuild_latency_permille: u32,
    /// Data per volume, for migration. Default 1 TB (assumption).
    pub volume_bytes: u64,
    /// Copy rate of a migration to new storage. Default 100 MB/s (assumption:
    /// a gigabit link between the old and the new system).
    pub migration_bytes_per_s: u64,
    /// Migration steps start at most once per this interval (the Norwegian
    /// host moved data "in several night-time steps"). Default 24 h.
    pub migration_step_interval: Dur,
    /// Sequential read rate of the old storage at normal speed, which bounds
    /// a migration's copy rate once divided by a volume's latency multiplier.
    /// Default 1 GB/s (assumption: a mid-range array's sequential read), so a
    /// storage slowed ×10 still feeds the default 100 MB/s copy link.
    pub read_bytes_per_s: u64,
    /// Bandwidth contention: background jobs, the write-through cost, the
    /// collapse past saturation ([`crate::contention`]).
    pub contention: ContentionConfig,
    /// The file server's heads: one, or an HA pair ([`crate::heads`]).
    pub heads: HeadsConfig,
    /// How long a power cycle of the shelves keeps every volume offline.
    /// Default 5 minutes (an assumption: the shelves' modules boot and the
    /// heads find the disks again).
    pub power_cycle: Dur,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            shelves: 2,
            controllers_per_shelf: 2,
            groups: 6,
            parity_disks: 2,
            volumes: 6,
            disks_per_group: 14,
            disk_bytes: 300_000_000_000,
            stale_disks: StaleDisks::Chance(333_333),
            rebuild_bytes_per_s_group: 35_000_000,
            rebuild_bytes_per_s_total: 70_000_000,
            rebuild_priority: RebuildPriority::Medium,
            foreground_peak_permille: [400, 800],
            foreground_hourly: DIURNAL,
            start_hour: 0,
            online_during_rebuild: false,
            rebuild_latency_permille: 1333,
            volume_bytes: 1_000_000_000_000,
            migration_bytes_per_s: 100_000_000,
            migration_step_interval: Dur::hours(24),
            read_bytes_per_s: 1_000_000_000,
            contention: ContentionConfig::default(),
            heads: HeadsConfig::default(),
            power_cycle: Dur::mins(5),
        }
    }
}

impl StorageConfig {
    /// Checks the layout; an error names the field.
    pub fn validate(&self) -> Result<(), String> {
        let positive = [
            ("shelves", self.shelves as u64),
            ("controllers_per_shelf", self.controllers_per_shelf as u64),
            ("groups", self.groups as u64),
            ("volumes", self.volumes as u64),
            ("rebuild_bytes_per_s_group", self.rebuild_bytes_per_s_group),
            ("rebuild_bytes_per_s_total", self.rebuild_bytes_per_s_total),
            ("migration_bytes_per_s", self.migration_bytes_per_s),
            ("read_bytes_per_s", self.read_bytes_per_s),
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("storage.{name} must be positive"));
            }
        }
        if self.disks_per_group <= self.parity_disks || self.disks_per_group > 64 {
            return Err(format!(
                "storage.disks_per_group {} must be more than parity_disks {} and at most 64",
                self.disks_per_group, self.parity_disks
            ));
        }
        if self.disk_bytes == 0 {
            return Err("storage.disk_bytes must be positive".to_string());
        }
        match self.stale_disks {
            StaleDisks::Chance(ppm) if ppm > 1_000_000 => {
                return Err(format!("storage.stale_disks: a chance of {ppm} ppm is more than 1,000,000"));
            }
            StaleDisks::PerShelf(n) => {
                // The shelf with the fewest groups bounds the count.
                let groups = (self.groups / self.shelves.max(1)) as u64;
                let disks = groups * self.disks_per_group as u64;
                if n as u64 > disks {
                    return Err(format!("storage.stale_disks: {n} disks per shelf, but a shelf holds only {disks}"));
                }
            }
            StaleDisks::Chance(_) => {}
        }
        let [lo, hi] = self.foreground_peak_permille;
        if lo > hi || hi > 1000 {
            return Err(format!("storage.foreground_peak_permille [{lo}, {hi}] is not a range within 0..=1000"));
        }
        if self.foreground_hourly.iter().all(|w| *w == 0) || self.foreground_hourly.iter().any(|w| *w > 1_000_000) {
            return Err("storage.foreground_hourly needs a positive weight, each at most 1,000,000".to_string());
        }
        if self.start_hour > 23 {
            return Err(format!("storage.start_hour {} is not an hour (0-23)", self.start_hour));
        }
        self.contention.validate()?;
        self.heads.validate()?;
        if self.volumes > u16::MAX as u32 {
            return Err(format!("storage.volumes {} exceeds {}", self.volumes, u16::MAX));
        }
        Ok(())
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Shelf {
    failed_controllers: u32,
    path_fault: bool,
    /// Which controllers the failures named (bit per controller below 64),
    /// for the trace's per-controller tracks only: the model counts
    /// failures, controllers being interchangeable.
    failed_named: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
struct Group {
    /// Disks whose data must be reconstructed (failed, not yet rebuilt).
    failed_disks: u32,
    /// Latent sector errors on surviving disks, not yet found.
    latent_errors: u32,
    /// Latent sector errors found by rebuilds (for fault reports).
    latent_found: u32,
    /// Stripes the current rebuild could not read (latent errors found):
    /// each counts as one more disk loss until the rebuild completes.
    stripe_losses: u32,
    /// Went offline with its shelf: must be rebuilt before serving.
    resync: bool,
    destroyed: bool,
    /// Bytes left to rebuild, while queued or rebuilding.
    remaining: Option<u64>,
    /// Its rebuild has begun reading (latent errors were checked).
    reading: bool,
}

/// What happened inside the storage since the last `take_events`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Events {
    /// Groups whose data was destroyed.
    pub destroyed: Vec<u32>,
    /// Groups whose rebuild completed.
    pub rebuilt: Vec<u32>,
    /// Volumes now served by the new storage.
    pub migrated: Vec<u32>,
    /// Why a running migration was aborted (its source became unreadable),
    /// one reason per abort.
    pub migration_aborted: Vec<String>,
    /// Why a queued rebuild stopped without completing (its group was
    /// destroyed, or its shelf lost its paths), one reason per group.
    pub rebuild_aborted: Vec<String>,
    /// A shelf's latency multiplier from contention changed (it collapsed,
    /// recovered, or its load moved while collapsed).
    pub contention_changed: bool,
}

/// The storage hardware: shelves, groups, volumes, rebuilds, migration.
#[derive(Clone, Debug, PartialEq)]
pub struct Storage {
    cfg: StorageConfig,
    shelves: Vec<Shelf>,
    groups: Vec<Group>,
    migrated: Vec<bool>,
    /// Storage-wide latency multiplier (per-mille).
    degrade_permille: u32,
    /// The write-back cache is lost: writes go through (see
    /// [`crate::contention`]).
    cache_lost: bool,
    /// Per shelf: collapsed under contention, and its latency multiplier
    /// from contention (per-mille), as of `perf_clock`.
    collapsed: Vec<bool>,
    contention_permille: Vec<u32>,
    /// Contention is evaluated up to this time (hour by hour).
    perf_clock: Time,
    /// Groups to rebuild, in order; the first is rebuilt when sequential.
    queue: Vec<u32>,
    parallel: bool,
    /// Rebuild progress is accounted up to this time.
    clock: Time,
    /// Migration batches not yet done: (completion time, volumes).
    batches: Vec<(Time, Vec<u32>)>,
    events: Events,
    /// Per group: the disks that go stale when its shelf loses its paths.
    stale: Vec<u32>,
    /// The clients' share of the disks' bandwidth at the busiest hour,
    /// per-mille (this run's level).
    foreground_peak: u32,
    /// The file server's heads and who serves whose aggregates.
    heads: Heads,
    /// The shelves are powered off (an operator's power cycle) until then.
    powered_off_until: Option<Time>,
}

impl Storage {
    /// New storage: every controller, path and disk working, nothing
    /// migrated, normal speed. Panics if the configuration is invalid
    /// ([`StorageConfig::validate`]).
    ///
    /// Without a seed, every group has the expected number of stale disks
    /// (rounded) and the clients' load is the middle of its range; see
    /// [`Storage::with_seed`].
    pub fn new(cfg: StorageConfig) -> Storage {
        if let Err(e) = cfg.validate() {
            panic!("invalid storage configuration: {e}");
        }
        let stale = (0..cfg.groups)
            .map(|g| match cfg.stale_disks {
                StaleDisks::Chance(ppm) => ((cfg.disks_per_group as u64 * ppm as u64 + 500_000) / 1_000_000) as u32,
                StaleDisks::PerShelf(n) => {
                    // Evenly: the shelf's first groups take the remainder.
                    let on_shelf = (g % cfg.shelves..cfg.groups).step_by(cfg.shelves as usize).count() as u32;
                    let k = g / cfg.shelves;
                    n / on_shelf + u32::from(k < n % on_shelf)
                }
            })
            .collect();
        let [lo, hi] = cfg.foreground_peak_permille;
        Storage {
            stale,
            foreground_peak: (lo + hi) / 2,
            shelves: vec![Shelf { failed_controllers: 0, path_fault: false, failed_named: 0 }; cfg.shelves as usize],
            groups: vec![Group::default(); cfg.groups as usize],
            migrated: vec![false; cfg.volumes as usize],
            degrade_permille: 1000,
            cache_lost: false,
            collapsed: vec![false; cfg.shelves as usize],
            contention_permille: vec![1000; cfg.shelves as usize],
            perf_clock: Time::ZERO,
            queue: Vec::new(),
            parallel: false,
            clock: Time::ZERO,
            batches: Vec::new(),
            events: Events::default(),
            heads: Heads::new(cfg.heads.clone()),
            powered_off_until: None,
            cfg,
        }
    }

    /// New storage whose per-run draws come from the run seed (stream
    /// "storage"): each group's stale disks ([`StaleDisks`]) and the
    /// clients' peak load (uniform in `foreground_peak_permille`).
    pub fn with_seed(cfg: StorageConfig, seed: u64) -> Storage {
        let mut s = Storage::new(cfg);
        let mut rng = Stream::new(seed, "storage");
        let disks = s.cfg.disks_per_group;
        match s.cfg.stale_disks {
            StaleDisks::Chance(ppm) => {
                for g in &mut s.stale {
                    *g = (0..disks).filter(|_| rng.chance(ppm)).count() as u32;
                }
            }
            StaleDisks::PerShelf(n) => {
                for shelf in 0..s.cfg.shelves {
                    let groups: Vec<usize> = (shelf..s.cfg.groups).step_by(s.cfg.shelves as usize).map(|g| g as usize).collect();
                    for g in &groups {
                        s.stale[*g] = 0;
                    }
                    // Each stale disk lands on a group with room left.
                    for _ in 0..n {
                        let open: Vec<usize> = groups.iter().copied().filter(|g| s.stale[*g] < disks).collect();
                        if open.is_empty() {
                            break;
                        }
                        let g = open[rng.below(open.len() as u64) as usize];
                        s.stale[g] += 1;
                    }
                }
            }
        }
        let [lo, hi] = s.cfg.foreground_peak_permille;
        s.foreground_peak = rng.range(lo as u64, hi as u64) as u32;
        s
    }

    /// The disks of `group` that go stale when its shelf loses its paths.
    pub fn stale_disks(&self, group: u32) -> u32 {
        self.stale[group as usize]
    }

    /// The clients' share of the disks' bandwidth at `t`, per-mille.
    pub fn foreground_permille(&self, t: Time) -> u32 {
        let w = &self.cfg.foreground_hourly;
        let peak = w.iter().copied().max().unwrap_or(1).max(1);
        let hour = (self.cfg.start_hour as u64 + t.as_micros() / MICROS_PER_H) % 24;
        (self.foreground_peak as u64 * w[hour as usize] / peak) as u32
    }

    /// The data a rebuild of `group` must write now: its failed disks, and
    /// its stale ones if it awaits a resync.
    pub fn rebuild_bytes(&self, group: u32) -> u64 {
        let g = &self.groups[group as usize];
        let disks = g.failed_disks as u64 + if g.resync { self.stale[group as usize] as u64 } else { 0 };
        disks.saturating_mul(self.cfg.disk_bytes)
    }

    /// The layout and rates it was built with.
    pub fn config(&self) -> &StorageConfig {
        &self.cfg
    }
    /// The number of volumes.
    pub fn volumes(&self) -> u32 {
        self.cfg.volumes
    }
    /// The RAID group a volume sits on (`volume % groups`).
    pub fn group_of(&self, volume: u32) -> u32 {
        volume % self.cfg.groups
    }
    /// The shelf a RAID group sits on (`group % shelves`).
    pub fn shelf_of(&self, group: u32) -> u32 {
        group % self.cfg.shelves
    }
    /// A shelf as scenarios name it: `shelf-a`, `shelf-b` …
    pub fn shelf_name(shelf: u32) -> String {
        match u8::try_from(shelf) {
            Ok(s) if s < 26 => format!("shelf-{}", (b'a' + s) as char),
            _ => format!("shelf-{shelf}"),
        }
    }
    /// A controller as scenarios name it: `shelf-a/controller-a` …
    pub fn controller_name(shelf: u32, controller: u32) -> String {
        let letter = match u8::try_from(controller) {
            Ok(c) if c < 26 => ((b'a' + c) as char).to_string(),
            _ => controller.to_string(),
        };
        format!("{}/controller-{letter}", Self::shelf_name(shelf))
    }
    /// A RAID group as scenarios name it: `group-1` … (from 1).
    pub fn group_name(group: u32) -> String {
        format!("group-{}", group as u64 + 1)
    }
    /// A volume as scenarios name it: `volume-1` … (from 1).
    pub fn volume_name(volume: u32) -> String {
        format!("volume-{}", volume as u64 + 1)
    }

    /// The volumes still on `group` (not migrated away).
    pub fn volumes_of_group(&self, group: u32) -> impl Iterator<Item = u32> + '_ {
        (group..self.cfg.volumes).step_by(self.cfg.groups as usize).filter(|v| !self.migrated[*v as usize])
    }

    /// Whether the shelf has a working path to the filer.
    pub fn shelf_reachable(&self, shelf: u32) -> bool {
        let s = &self.shelves[shelf as usize];
        if s.path_fault {
            s.failed_controllers == 0
        } else {
            s.failed_controllers < self.cfg.controllers_per_shelf
        }
    }
    /// Whether the group lost more disks (or unreadable stripes) than its
    /// parity: its data is gone until the hardware is replaced (empty).
    pub fn group_destroyed(&self, group: u32) -> bool {
        self.groups[group as usize].destroyed
    }
    /// Latent sector errors found so far on `group` by rebuilds.
    pub fn latent_found(&self, group: u32) -> u32 {
        self.groups[group as usize].latent_found
    }
    /// Latent sector errors on `group` not yet found by a rebuild.
    pub fn latent_hidden(&self, group: u32) -> u32 {
        self.groups[group as usize].latent_errors
    }
    /// Whether the group must be rebuilt: it has failed disks, or needs a
    /// resync after its shelf lost its paths (a destroyed group has nothing
    /// to rebuild from).
    pub fn needs_rebuild(&self, group: u32) -> bool {
        let g = &self.groups[group as usize];
        !g.destroyed && (g.failed_disks > 0 || g.resync)
    }
    /// Whether the group's rebuild is making progress now.
    pub fn rebuilding_group(&self, group: u32) -> bool {
        self.active().any(|g| g == group)
    }
    /// Whether any rebuild is queued or running.
    pub fn rebuilding(&self) -> bool {
        !self.queue.is_empty()
    }
    /// Whether a migration has batches still to copy.
    pub fn migrating(&self) -> bool {
        !self.batches.is_empty()
    }
    /// Every shelf, controller, RAID group and volume as scenarios name it,
    /// with its state in words (`offline: behind shelf-a, which has no
    /// working controller or path`), for the trace's named tracks. A
    /// controller shows as failed when a failure named it.
    pub fn states(&self, mut each: impl FnMut(String, String)) {
        let controllers = self.cfg.controllers_per_shelf;
        for (i, s) in self.shelves.iter().enumerate() {
            let shelf = i as u32;
            let failed = format!("{} of {controllers} controllers failed", s.failed_controllers);
            let state = match (self.shelf_reachable(shelf), s.path_fault, s.failed_controllers) {
                (false, true, _) => format!("unreachable: path fault, {failed}"),
                (false, false, _) => format!("unreachable: {failed}"),
                (true, true, _) => "reachable, no redundancy: path fault".to_string(),
                (true, false, 0) => "working".to_string(),
                (true, false, _) => format!("reachable, {failed}"),
            };
            each(Self::shelf_name(shelf), state);
            for c in 0..controllers {
                let down = c < 64 && s.failed_named >> c & 1 == 1;
                each(Self::controller_name(shelf, c), if down { "failed" } else { "working" }.to_string());
            }
        }
        if self.heads.count() > 1 || !self.heads.up(0) {
            self.heads.states(&mut each);
        }
        for group in 0..self.groups.len() as u32 {
            each(Self::group_name(group), self.group_state(group));
        }
        for v in 0..self.cfg.volumes {
            each(Self::volume_name(v), self.volume_state(v));
        }
    }

    /// A RAID group's state in words, for its track.
    fn group_state(&self, group: u32) -> String {
        let g = &self.groups[group as usize];
        if g.destroyed {
            format!("destroyed: lost more than its {} parity disks", self.cfg.parity_disks)
        } else if self.rebuilding_group(group) {
            "rebuilding".to_string()
        } else if self.queue.contains(&group) {
            "waiting to rebuild".to_string()
        } else if g.resync {
            "needs a resync (its shelf lost its paths)".to_string()
        } else if g.failed_disks > 0 {
            format!("degraded: {} failed disks", g.failed_disks)
        } else {
            "healthy".to_string()
        }
    }

    /// A volume's state in words, for its track: offline and why, or online
    /// with a copy under way, its group's redundancy and its speed.
    fn volume_state(&self, v: u32) -> String {
        let g = self.group_of(v);
        let group = Self::group_name(g);
        match (self.migrated[v as usize], self.unreadable(v), self.volume_online(v)) {
            (true, _, _) => "online (migrated)".to_string(),
            (false, Some(why), _) => format!("offline: {why}"),
            (false, None, false) => format!("offline: {}", self.offline_reason(v)),
            (false, None, true) => {
                // Online, with what a reader of the track needs to know:
                // a copy under way, its group's redundancy, its speed.
                let mut state = vec!["online".to_string()];
                match self.batches.iter().position(|(_, b)| b.contains(&v)) {
                    Some(0) => state.push("migrating to new storage".to_string()),
                    Some(_) => state.push("waiting to migrate".to_string()),
                    None => {}
                }
                let failed = self.groups[g as usize].failed_disks;
                if self.rebuilding_group(g) {
                    state.push(format!("{group} rebuilding"));
                } else if self.queue.contains(&g) {
                    state.push(format!("{group} waiting to rebuild"));
                } else if failed > 0 {
                    state.push(format!("degraded: {group} has {failed} failed disks"));
                }
                match self.latency_multiplier_permille(v) {
                    1000 => {}
                    m => state.push(format!("{}.{:03}x slower", m / 1000, m % 1000)),
                }
                state.join(", ")
            }
        }
    }

    /// Why a readable volume is offline, in words.
    fn offline_reason(&self, volume: u32) -> String {
        let g = self.group_of(volume);
        let head = self.heads.head_of_group(g);
        if self.powered_off_until.is_some() {
            "the shelves are being power-cycled".to_string()
        } else if !self.heads.serving(head) {
            format!("no head serves it ({} is {})", Heads::name(head), if self.heads.up(head) { "up" } else { "down" })
        } else if self.rebuilding_group(g) {
            format!("{} rebuilding", Self::group_name(g))
        } else {
            format!("{} waits for its rebuild", Self::group_name(g))
        }
    }

    /// Whether the volume is on the new storage (migrated).
    pub fn migrated(&self, volume: u32) -> bool {
        self.migrated[volume as usize]
    }

    /// Why the volume's data cannot be read now (its shelf has no working
    /// path, or its RAID group lost more disks than its parity), or `None`
    /// if it can: a volume waiting for a resync, rebuilding or slowed down
    /// is readable; a migrated one is read from the new storage.
    pub fn unreadable(&self, volume: u32) -> Option<String> {
        if self.migrated[volume as usize] {
            return None;
        }
        let g = self.group_of(volume);
        let shelf = self.shelf_of(g);
        if self.groups[g as usize].destroyed {
            Some(format!(
                "{} is on {}, which lost more disks than its {} parity disks",
                Self::volume_name(volume),
                Self::group_name(g),
                self.cfg.parity_disks
            ))
        } else if !self.shelf_reachable(shelf) {
            Some(format!(
                "{} is on {} behind {}, which has no working controller or path",
                Self::volume_name(volume),
                Self::group_name(g),
                Self::shelf_name(shelf)
            ))
        } else {
            None
        }
    }

    /// Whether an outage or slowdown affects the volume: not yet migrated,
    /// and offline, slower than normal, or on a RAID group that lost
    /// redundancy (a failed disk, a pending resync). A migration moves these
    /// unless it names its volumes.
    pub fn affected(&self, volume: u32) -> bool {
        if self.migrated[volume as usize] {
            return false;
        }
        let g = self.group_of(volume);
        !self.volume_online(volume) || self.latency_multiplier_permille(volume) != 1000 || self.needs_rebuild(g) || self.group_destroyed(g)
    }

    /// Whether the volume serves I/O: on new storage, or its group intact,
    /// reachable and not waiting for a resync.
    pub fn volume_online(&self, volume: u32) -> bool {
        if self.migrated[volume as usize] {
            return true;
        }
        let g = self.group_of(volume);
        let grp = &self.groups[g as usize];
        !grp.destroyed
            && self.shelf_reachable(self.shelf_of(g))
            && (!grp.resync || self.cfg.online_during_rebuild)
            && self.powered_off_until.is_none()
            && self.heads.serving(self.heads.head_of_group(g))
    }

    /// The file server's heads.
    pub fn heads(&self) -> &Heads {
        &self.heads
    }

    /// Whether some head serves `head`'s own volumes now (it, or its
    /// partner after a takeover).
    pub fn head_serving(&self, head: u32) -> bool {
        self.heads.serving(head)
    }

    /// Whether the shelves are powered off (a power cycle in progress).
    pub fn powered_off(&self) -> bool {
        self.powered_off_until.is_some()
    }

    /// Gives back, at `now`, the volumes a partner took over to their
    /// repaired heads ([`Heads::giveback`]). Returns whether any giveback
    /// started; refused while a taken-over head is still down.
    pub fn giveback(&mut self, now: Time) -> Result<bool, String> {
        self.advance(now);
        self.heads.giveback(now)
    }

    /// Power-cycles every shelf at `now`: every volume is offline for
    /// `power_cycle`, and a hung takeover completes after it. Returns
    /// whether any takeover was released.
    pub fn power_cycle(&mut self, now: Time) -> bool {
        self.advance(now);
        let on = now + self.cfg.power_cycle;
        self.powered_off_until = Some(self.powered_off_until.map_or(on, |t| t.max(on)));
        self.heads.power_cycle(on)
    }

    /// The volume's latency multiplier (per-mille; 1000 = normal).
    pub fn latency_multiplier_permille(&self, volume: u32) -> u32 {
        if self.migrated[volume as usize] {
            return 1000;
        }
        let group = self.group_of(volume);
        let mut m = self.degrade_permille as u64;
        if self.rebuilding_group(group) {
            m = m * self.cfg.rebuild_latency_permille as u64 / 1000;
        }
        m = m * self.contention_permille[self.shelf_of(group) as usize] as u64 / 1000;
        m.min(u32::MAX as u64) as u32
    }

    /// Applies a storage fault at `now`. Returns whether it changed what the
    /// storage serves now: a volume's availability, latency or data, or the
    /// redundancy of a RAID group (a failed disk). A path fault, a controller
    /// failure absorbed by redundancy and a latent sector error return false:
    /// they are latent until something else happens.
    pub fn apply(&mut self, fault: &ModelFault, now: Time) -> bool {
        self.advance(now);
        let changed = match *fault {
            ModelFault::HeadFail { head, takeover } => self.heads.fail(head, takeover, now),
            _ => self.apply_fault(fault),
        };
        self.check_migration();
        // A fault that changes the bandwidth acts at once, not at the hour.
        let slowed = self.evaluate_contention(now);
        changed || slowed
    }

    fn apply_fault(&mut self, fault: &ModelFault) -> bool {
        match *fault {
            ModelFault::ControllerFail { shelf, controller } => {
                if shelf >= self.cfg.shelves || controller >= self.cfg.controllers_per_shelf {
                    return false;
                }
                let s = &mut self.shelves[shelf as usize];
                if s.failed_controllers >= self.cfg.controllers_per_shelf {
                    return false;
                }
                // Controllers are interchangeable here: count failures.
                self.change_shelf(shelf, |s| {
                    s.failed_controllers += 1;
                    s.failed_named |= 1u64.checked_shl(controller).unwrap_or(0);
                })
            }
            ModelFault::PathFault { shelf } => {
                if shelf >= self.cfg.shelves || self.shelves[shelf as usize].path_fault {
                    return false;
                }
                self.change_shelf(shelf, |s| s.path_fault = true)
            }
            ModelFault::DiskFail { group } => {
                if group >= self.cfg.groups || self.groups[group as usize].destroyed {
                    return false;
                }
                self.groups[group as usize].failed_disks += 1;
                self.check_loss(group);
                true
            }
            ModelFault::LatentSectorError { group } => {
                if group >= self.cfg.groups || self.groups[group as usize].destroyed {
                    return false;
                }
                let g = &mut self.groups[group as usize];
                if g.reading {
                    // The rebuild is reading now: it hits the error at once.
                    g.latent_found += 1;
                    g.stripe_losses += 1;
                    self.check_loss(group);
                    true
                } else {
                    g.latent_errors += 1;
                    false
                }
            }
            ModelFault::Degrade { permille } => {
                let changed = self.degrade_permille != permille;
                self.degrade_permille = permille;
                changed
            }
            ModelFault::CacheFail => {
                // Latent in service terms until the load needs the cache:
                // what it changes is the contention, evaluated by `apply`.
                self.cache_lost = true;
                false
            }
            _ => false,
        }
    }

    /// Changes a shelf; if it loses its last path, its groups need a resync
    /// and their rebuilds stop. Returns whether reachability changed.
    fn change_shelf(&mut self, shelf: u32, f: impl FnOnce(&mut Shelf)) -> bool {
        let before = self.shelf_reachable(shelf);
        f(&mut self.shelves[shelf as usize]);
        let after = self.shelf_reachable(shelf);
        if before && !after {
            for g in (shelf..self.cfg.groups).step_by(self.cfg.shelves as usize) {
                let grp = &mut self.groups[g as usize];
                if !grp.destroyed {
                    grp.resync = true;
                }
                if self.queue.contains(&g) {
                    self.events.rebuild_aborted.push(format!(
                        "the rebuild of {} stopped: {} lost its last path",
                        Self::group_name(g),
                        Self::shelf_name(shelf)
                    ));
                }
                self.unqueue(g);
            }
        }
        before != after
    }

    /// A group lost a disk, or its rebuild a stripe: beyond the parity it
    /// tolerates, its data is destroyed. Stripe losses add up over one
    /// rebuild even when they hit different stripes (conservative).
    fn check_loss(&mut self, group: u32) {
        let parity = self.cfg.parity_disks;
        let g = &mut self.groups[group as usize];
        if g.failed_disks + g.stripe_losses > parity {
            let lost = g.failed_disks + g.stripe_losses;
            *g = Group { destroyed: true, latent_found: g.latent_found, ..Group::default() };
            if self.queue.contains(&group) {
                self.events.rebuild_aborted.push(format!(
                    "the rebuild of {} failed: {lost} disks or unreadable stripes lost, beyond its {parity} parity disks",
                    Self::group_name(group)
                ));
            }
            self.unqueue(group);
            self.events.destroyed.push(group);
        }
    }

    fn unqueue(&mut self, group: u32) {
        self.queue.retain(|g| *g != group);
        let g = &mut self.groups[group as usize];
        g.remaining = None;
        g.reading = false;
    }

    /// Replaces failed controllers, repairs paths and recreates destroyed
    /// groups (empty: their data is gone). Failed disks are replaced too, but
    /// their data still has to be rebuilt. Returns whether anything changed.
    pub fn replace_hardware(&mut self, now: Time) -> bool {
        self.advance(now);
        let mut changed = false;
        for s in &mut self.shelves {
            changed |= s.failed_controllers > 0 || s.path_fault;
            *s = Shelf { failed_controllers: 0, path_fault: false, failed_named: 0 };
        }
        changed |= self.cache_lost;
        self.cache_lost = false;
        changed |= self.heads.repair(now);
        for g in &mut self.groups {
            if g.destroyed {
                *g = Group { latent_found: g.latent_found, ..Group::default() };
                changed = true;
            }
        }
        self.evaluate_contention(now) || changed
    }

    /// Repairs path faults (restores redundancy). Returns whether any existed.
    pub fn fix_redundancy(&mut self, now: Time) -> bool {
        self.advance(now);
        let mut changed = false;
        for s in &mut self.shelves {
            changed |= s.path_fault;
            s.path_fault = false;
        }
        changed
    }

    /// Starts rebuilding every group that needs it, one after another or all
    /// at once (sharing the bandwidth). Groups already queued keep their
    /// progress. Returns the number of groups queued (0: nothing to rebuild),
    /// counting one that its first read then destroys.
    ///
    /// Refused, with nothing started, while a group that needs a rebuild sits
    /// behind a shelf without a working path (its disks cannot be read), or a
    /// group's data is destroyed (nothing is left to rebuild it from: replace
    /// the hardware, which recreates the group empty).
    pub fn start_rebuild(&mut self, parallel: bool, now: Time) -> Result<usize, String> {
        self.start_rebuild_ordered(parallel, &RebuildOrder::default(), &[], now)
    }

    /// [`Storage::start_rebuild`] with the groups newly queued taken in
    /// `order` ([`RebuildOrder::arrange`]; `users[g]`: the mailboxes on
    /// group `g`'s volumes, for the rules that weigh them). Groups already
    /// queued keep their place ahead of them, so a rebuild under way is
    /// never preempted.
    pub fn start_rebuild_ordered(&mut self, parallel: bool, order: &RebuildOrder, users: &[u64], now: Time) -> Result<usize, String> {
        self.advance(now);
        let mut blocked = Vec::new();
        for g in 0..self.cfg.groups {
            let shelf = self.shelf_of(g);
            if self.groups[g as usize].destroyed {
                blocked.push(format!("{} lost more disks than its {} parity disks", Self::group_name(g), self.cfg.parity_disks));
            } else if self.needs_rebuild(g) && !self.shelf_reachable(shelf) {
                blocked.push(format!(
                    "{} is behind {}, which has no working controller or path",
                    Self::group_name(g),
                    Self::shelf_name(shelf)
                ));
            }
        }
        if !blocked.is_empty() {
            return Err(format!("cannot rebuild: {}", blocked.join("; ")));
        }
        self.parallel = parallel;
        let mut new: Vec<u32> = (0..self.cfg.groups)
            .filter(|g| self.needs_rebuild(*g) && self.shelf_reachable(self.shelf_of(*g)) && !self.queue.contains(g))
            .collect();
        order.arrange(&mut new, &|g| self.rebuild_bytes(g), users);
        for g in new {
            self.queue.push(g);
            self.groups[g as usize].remaining = Some(self.rebuild_bytes(g));
        }
        self.clock = now;
        let queued = self.queue.len();
        // A group destroyed by the latent errors its rebuild now reads
        // leaves the queue (and is reported in the events).
        self.begin_reading();
        Ok(queued)
    }

    /// Starts migrating volumes to new storage: those named in `volumes`
    /// (model indices, from 0), or, when it is empty, the affected ones
    /// ([`Storage::affected`]). Volumes already migrated or being migrated
    /// are skipped. They move in `steps` batches of consecutive volumes, one
    /// batch per `migration_step_interval` at most, each batch after the one
    /// before; a batch copies at the lower of the copy link's rate and the
    /// old storage's read rate slowed by its slowest volume's latency
    /// multiplier (as of now). Returns the number of volumes scheduled (0:
    /// nothing to move).
    ///
    /// Refused, with nothing started, if a named volume does not exist or a
    /// volume to move cannot be read ([`Storage::unreadable`]).
    pub fn start_migration(&mut self, volumes: &[u32], steps: u32, now: Time) -> Result<usize, String> {
        self.advance(now);
        if let Some(v) = volumes.iter().find(|v| **v >= self.cfg.volumes) {
            return Err(format!("cannot migrate: no {} (the storage has {} volumes)", Self::volume_name(*v), self.cfg.volumes));
        }
        let chosen: Vec<u32> = if volumes.is_empty() {
            (0..self.cfg.volumes).filter(|v| self.affected(*v)).collect()
        } else {
            let mut named = volumes.to_vec();
            named.sort_unstable();
            named.dedup();
            named
        };
        let pending: Vec<u32> =
            chosen.into_iter().filter(|v| !self.migrated[*v as usize] && !self.batches.iter().any(|(_, b)| b.contains(v))).collect();
        let unreadable: Vec<String> = pending.iter().filter_map(|v| self.unreadable(*v)).collect();
        if !unreadable.is_empty() {
            return Err(format!("cannot migrate: {}", unreadable.join("; ")));
        }
        if pending.is_empty() {
            return Ok(0);
        }
        let steps = steps.clamp(1, pending.len() as u32) as usize;
        let per = pending.len().div_ceil(steps);
        let mut prev_end = self.batches.last().map_or(now, |b| b.0.max(now));
        for (k, chunk) in pending.chunks(per).enumerate() {
            let start = prev_end.max(now + self.cfg.migration_step_interval.saturating_mul(k as u64));
            let slowest = chunk.iter().map(|v| self.latency_multiplier_permille(*v)).max().unwrap_or(1000).max(1);
            let read = (self.cfg.read_bytes_per_s as u128 * 1000 / slowest as u128).max(1);
            let rate = read.min(self.cfg.migration_bytes_per_s as u128);
            let bytes = self.cfg.volume_bytes as u128 * chunk.len() as u128;
            let end = start + Dur(div_ceil_u128(bytes * MICROS_PER_S as u128, rate));
            self.batches.push((end, chunk.to_vec()));
            prev_end = end;
        }
        Ok(pending.len())
    }

    /// A running migration whose source became unreadable cannot go on: it
    /// is aborted whole (the volumes it had not finished stay on the old
    /// storage), and the reason is reported in the events.
    fn check_migration(&mut self) {
        let unreadable: Vec<String> = self.batches.iter().flat_map(|(_, b)| b.iter()).filter_map(|v| self.unreadable(*v)).collect();
        if unreadable.is_empty() {
            return;
        }
        self.batches.clear();
        self.events.migration_aborted.push(format!("migration aborted: {}", unreadable.join("; ")));
    }

    /// The groups whose rebuild progresses now.
    fn active(&self) -> impl Iterator<Item = u32> + '_ {
        let n = if self.parallel { self.queue.len() } else { self.queue.len().min(1) };
        self.queue[..n].iter().copied()
    }

    /// Bytes per second each of `active` rebuilds gets at `t`: its share of
    /// the rebuild bandwidth, less what the clients use, but at least its
    /// priority's floor.
    fn rate_each(&self, active: usize, t: Time) -> u64 {
        let full = (self.cfg.rebuild_bytes_per_s_total / active.max(1) as u64).min(self.cfg.rebuild_bytes_per_s_group);
        let left = 1000u64.saturating_sub(self.foreground_permille(t) as u64);
        let share = left.max(self.cfg.rebuild_priority.floor_permille() as u64);
        (full * share / 1000).max(1)
    }

    /// Bytes each of `active` rebuilds writes in a whole day from an hour
    /// boundary (the same from any hour: the load repeats daily).
    fn day_bytes(&self, active: usize) -> u128 {
        (0..24).map(|h| self.rate_each(active, Time(h * MICROS_PER_H)) as u128 * 3600).sum()
    }

    /// Bytes each of `active` rebuilds writes from `from` to `to`, hour by
    /// hour (whole days at once).
    fn progress(&self, active: usize, from: Time, to: Time) -> u128 {
        let (mut t, mut done) = (from, 0u128);
        while t < to {
            if t.as_micros() % MICROS_PER_H == 0 && to.since(t) >= Dur::hours(24) {
                let days = to.since(t).as_micros() / (24 * MICROS_PER_H);
                done += self.day_bytes(active) * days as u128;
                t += Dur(days * 24 * MICROS_PER_H);
                continue;
            }
            let end = next_hour(t).min(to);
            done += self.rate_each(active, t) as u128 * end.since(t).as_micros() as u128 / MICROS_PER_S as u128;
            t = end;
        }
        done
    }

    /// When each of `active` rebuilds, starting at `from`, has written
    /// `bytes`: the first time [`Storage::progress`] reaches it.
    fn finish_time(&self, active: usize, from: Time, bytes: u64) -> Time {
        let (mut t, mut left) = (from, bytes as u128);
        loop {
            if t.as_micros() % MICROS_PER_H == 0 {
                let day = self.day_bytes(active);
                if left > day {
                    let days = ((left - 1) / day).min(u64::MAX as u128 / (24 * MICROS_PER_H as u128)) as u64;
                    left -= day * days as u128;
                    t += Dur(days * 24 * MICROS_PER_H);
                    if t == Time::MAX {
                        return t;
                    }
                }
            }
            let rate = self.rate_each(active, t) as u128;
            let end = next_hour(t);
            let need = div_ceil_u128(left * MICROS_PER_S as u128, rate);
            if t.as_micros().saturating_add(need) <= end.as_micros() {
                return t + Dur(need);
            }
            left -= rate * end.since(t).as_micros() as u128 / MICROS_PER_S as u128;
            t = end;
        }
    }

    /// A rebuild that begins reading its surviving disks finds their latent
    /// sector errors: each counts as one more disk loss for this rebuild.
    fn begin_reading(&mut self) {
        let starting: Vec<u32> = self.active().filter(|g| !self.groups[*g as usize].reading).collect();
        for g in starting {
            let grp = &mut self.groups[g as usize];
            grp.reading = true;
            let found = grp.latent_errors;
            grp.latent_errors = 0;
            grp.latent_found += found;
            grp.stripe_losses += found;
            self.check_loss(g);
        }
    }

    /// Accounts rebuild and migration progress up to `now`.
    pub fn advance(&mut self, now: Time) {
        loop {
            let active: Vec<u32> = self.active().collect();
            if active.is_empty() {
                break;
            }
            let min_left = active.iter().map(|g| self.groups[*g as usize].remaining.expect("queued groups have work")).min().unwrap_or(0);
            let finish = self.finish_time(active.len(), self.clock, min_left);
            // Every active rebuild gets the same rate, so they progress alike.
            let done = if finish <= now { min_left } else { self.progress(active.len(), self.clock, now).min(u64::MAX as u128) as u64 };
            for g in &active {
                let left = self.groups[*g as usize].remaining.as_mut().expect("queued groups have work");
                *left -= done.min(*left);
                if *left == 0 {
                    self.finish_rebuild(*g);
                }
            }
            if finish > now {
                break;
            }
            // At least one rebuild finished: the others now share differently.
            self.clock = finish;
            self.begin_reading();
        }
        self.clock = self.clock.max(now);
        // A group destroyed by a rebuild's latent errors stops a migration
        // reading from it before the batch could complete.
        self.check_migration();
        while let Some((end, _)) = self.batches.first() {
            if *end > now {
                break;
            }
            let (_, vols) = self.batches.remove(0);
            for v in vols {
                self.migrated[v as usize] = true;
                self.events.migrated.push(v);
            }
        }
        if self.powered_off_until.is_some_and(|t| t <= now) {
            self.powered_off_until = None;
        }
        self.heads.advance(now);
        self.advance_contention(now);
    }

    /// Whether contention can slow anything: something loads or weakens the
    /// storage beyond its clients, or a shelf is collapsed.
    /// That is: a shelf is collapsed, or a reachable one passes saturation
    /// at some hour of the day as things stand.
    fn contention_possible(&self) -> bool {
        self.collapsed.iter().any(|c| *c)
            || (0..self.cfg.shelves)
                .filter(|sh| self.shelf_reachable(*sh))
                .any(|sh| (0..24).any(|h| self.offered_permille(sh, self.perf_clock + Dur(h * MICROS_PER_H)) > 1000))
    }

    /// Evaluates contention at each hour boundary up to `now` (the load
    /// changes by the hour), then at `now`.
    fn advance_contention(&mut self, now: Time) {
        if now <= self.perf_clock {
            return;
        }
        if self.contention_possible() {
            let mut h = next_hour(self.perf_clock);
            while h <= now {
                self.evaluate_contention(h);
                h = next_hour(h);
            }
        }
        self.perf_clock = now;
    }

    /// What loads `shelf` at `t` (see [`crate::contention`]).
    pub fn shelf_load(&self, shelf: u32, t: Time) -> ShelfLoad {
        let vols: Vec<u32> = (0..self.cfg.volumes).filter(|v| self.shelf_of(self.group_of(*v)) == shelf).collect();
        let left = vols.iter().filter(|v| !self.migrated[**v as usize]).count() as u64;
        // Offline volumes have no clients; migrated ones load the new storage.
        let serving = vols.iter().filter(|v| !self.migrated[**v as usize] && self.volume_online(**v)).count() as u64;
        let groups = (shelf..self.cfg.groups).step_by(self.cfg.shelves as usize);
        let (mut all, mut rebuilding) = (0u64, 0u64);
        for g in groups {
            all += 1;
            rebuilding += u64::from(self.rebuilding_group(g));
        }
        let working = self.cfg.controllers_per_shelf.saturating_sub(self.shelves[shelf as usize].failed_controllers);
        ShelfLoad {
            // `offered` scales by the unmigrated share: what remains is the
            // load of the volumes online.
            foreground: self.foreground_permille(t) as u64 * serving / left.max(1),
            hour_of_day: ((self.cfg.start_hour as u64 + t.as_micros() / MICROS_PER_H) % 24) as u32,
            unmigrated: if vols.is_empty() { 0 } else { left * 1000 / vols.len() as u64 },
            // A shelf without a working controller serves nothing; its
            // volumes are offline, not slow.
            capacity: if self.cfg.contention.controllers_carry_load {
                (working.max(1) as u64 * 1000 / self.cfg.controllers_per_shelf as u64).max(1)
            } else {
                1000
            },
            write_through: self.cache_lost,
            rebuild: self.cfg.rebuild_priority.floor_permille() as u64 * rebuilding / all.max(1),
        }
    }

    /// A shelf's offered load now, per-mille of what it can serve.
    pub fn offered_permille(&self, shelf: u32, t: Time) -> u64 {
        self.cfg.contention.offered(&self.shelf_load(shelf, t))
    }

    /// Whether `shelf` is collapsed under contention.
    pub fn collapsed(&self, shelf: u32) -> bool {
        self.collapsed[shelf as usize]
    }

    /// Re-evaluates each shelf's contention at `t`. Returns whether any
    /// shelf's multiplier changed (reported in the events too).
    fn evaluate_contention(&mut self, t: Time) -> bool {
        let mut changed = false;
        for shelf in 0..self.cfg.shelves {
            let rho = self.offered_permille(shelf, t);
            let c = &self.cfg.contention;
            let collapsed = c.collapsed_after(self.collapsed[shelf as usize], rho);
            let m = c.multiplier(collapsed, rho);
            let i = shelf as usize;
            changed |= m != self.contention_permille[i];
            self.collapsed[i] = collapsed;
            self.contention_permille[i] = m;
        }
        self.events.contention_changed |= changed;
        changed
    }

    fn finish_rebuild(&mut self, group: u32) {
        self.queue.retain(|g| *g != group);
        let g = &mut self.groups[group as usize];
        *g = Group { latent_found: g.latent_found, ..Group::default() };
        self.events.rebuilt.push(group);
    }

    /// When the next rebuild or migration step completes, if any is running.
    pub fn next_event_time(&self) -> Option<Time> {
        let active: Vec<u32> = self.active().collect();
        let rebuild = if active.is_empty() {
            None
        } else {
            let min_left = active.iter().filter_map(|g| self.groups[*g as usize].remaining).min().unwrap_or(0);
            Some(self.finish_time(active.len(), self.clock, min_left))
        };
        let migration = self.batches.first().map(|b| b.0);
        // Contention is re-evaluated at each hour while it can matter.
        let contention = self.contention_possible().then(|| next_hour(self.perf_clock));
        [rebuild, migration, contention, self.heads.next_event(), self.powered_off_until].into_iter().flatten().min()
    }

    /// Rebuilds pause while the filer is down: progress resumes from `now`.
    pub fn resume(&mut self, now: Time) {
        self.clock = self.clock.max(now);
    }

    /// Drains what happened since the last call.
    pub fn take_events(&mut self) -> Events {
        std::mem::take(&mut self.events)
    }
}

/// The first hour boundary after `t`.
fn next_hour(t: Time) -> Time {
    Time((t.as_micros() / MICROS_PER_H + 1).saturating_mul(MICROS_PER_H))
}

fn div_ceil_u128(a: u128, b: u128) -> u64 {
    a.div_ceil(b).min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contention::IoJob;

    /// Two shelves, six groups, six volumes; no client load, so rebuilds
    /// run at full rate (five stale disks of 300 GB per group: 1.5 TB).
    fn small() -> StorageConfig {
        StorageConfig { shelves: 2, groups: 6, volumes: 6, foreground_peak_permille: [0, 0], ..StorageConfig::default() }
    }

    fn t(h: u64) -> Time {
        Time::from_hours(h)
    }

    #[test]
    fn a_head_failure_takes_exactly_its_own_volumes_offline_and_a_power_cycle_all() {
        let cfg = StorageConfig { heads: crate::heads::HeadsConfig::pair(), ..small() };
        let mut s = Storage::new(cfg);
        let fail = ModelFault::HeadFail { head: 1, takeover: crate::heads::Takeover::Fails };
        assert!(s.apply(&fail, t(1)));
        // head-b owns groups 2, 4, 6 (indices 1, 3, 5): volumes 2, 4, 6.
        let online: Vec<bool> = (0..6).map(|v| s.volume_online(v)).collect();
        assert_eq!(online, [true, false, true, false, true, false]);
        assert!(s.unreadable(1).is_none(), "its data is intact, only unserved");
        assert!(!s.power_cycle(t(2)), "nothing hung to release");
        assert!((0..6).all(|v| !s.volume_online(v)));
        assert_eq!(s.next_event_time(), Some(t(2) + Dur::mins(5)));
        s.advance(t(2) + Dur::mins(5));
        assert_eq!((0..6).filter(|v| s.volume_online(*v)).count(), 3);
        assert!(s.replace_hardware(t(3)));
        assert!((0..6).all(|v| s.volume_online(v)));
    }

    #[test]
    fn a_raid_group_survives_two_disk_losses_and_not_three() {
        let mut s = Storage::new(small());
        assert!(s.apply(&ModelFault::DiskFail { group: 1 }, t(0)));
        assert!(s.apply(&ModelFault::DiskFail { group: 1 }, t(1)));
        assert!(s.volume_online(1) && !s.group_destroyed(1));
        assert!(s.take_events().destroyed.is_empty());
        assert!(s.apply(&ModelFault::DiskFail { group: 1 }, t(2)));
        assert!(!s.volume_online(1) && s.group_destroyed(1));
        assert_eq!(s.take_events().destroyed, vec![1]);
        // The other volumes do not care.
        assert!((0..6).filter(|v| *v != 1).all(|v| s.volume_online(v)));
        // Replacing the hardware recreates the group, empty.
        assert!(s.replace_hardware(t(3)));
        assert!(s.volume_online(1));
    }

    #[test]
    fn a_latent_sector_error_found_by_a_rebuild_counts_as_a_disk_loss() {
        let mut s = Storage::new(small());
        s.apply(&ModelFault::DiskFail { group: 2 }, t(0));
        s.apply(&ModelFault::DiskFail { group: 2 }, t(0));
        assert!(!s.apply(&ModelFault::LatentSectorError { group: 2 }, t(0)), "latent until read");
        assert!(!s.group_destroyed(2));
        assert_eq!(s.start_rebuild(false, t(1)), Ok(1));
        assert!(s.group_destroyed(2), "two lost disks plus a bad stripe exceed RAID-DP");
        let aborted = s.take_events().rebuild_aborted;
        assert_eq!(aborted.len(), 1, "{aborted:?}");
        assert!(aborted[0].contains("group-3") && aborted[0].contains("3 disks"), "{aborted:?}");
        assert_eq!(s.latent_found(2), 1);
        // With one failed disk, the same error is survived.
        let mut s = Storage::new(small());
        s.apply(&ModelFault::DiskFail { group: 2 }, t(0));
        s.apply(&ModelFault::LatentSectorError { group: 2 }, t(0));
        assert_eq!(s.start_rebuild(false, t(1)), Ok(1));
        assert!(!s.group_destroyed(2));
        assert_eq!(s.latent_found(2), 1);
    }

    #[test]
    fn a_latent_path_fault_takes_volumes_offline_at_the_first_controller_failure() {
        let mut s = Storage::new(small());
        assert!(!s.apply(&ModelFault::PathFault { shelf: 0 }, t(0)), "latent");
        assert!((0..6).all(|v| s.volume_online(v)), "nothing happens for days");
        assert!(s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 1 }, t(100)));
        let offline: Vec<u32> = (0..6).filter(|v| !s.volume_online(*v)).collect();
        assert_eq!(offline, vec![0, 2, 4], "the volumes behind shelf 0");
    }

    #[test]
    fn a_controller_failure_without_a_path_fault_is_absorbed_by_redundancy() {
        let mut s = Storage::new(small());
        assert!(!s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 0 }, t(0)));
        assert!((0..6).all(|v| s.volume_online(v)));
        // Both controllers gone: no path left.
        assert!(s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 1 }, t(1)));
        assert!(!s.volume_online(0));
    }

    /// Takes shelf 0 down and brings it back: groups 0, 2, 4 need a resync.
    fn outage() -> Storage {
        let mut s = Storage::new(small());
        s.apply(&ModelFault::PathFault { shelf: 0 }, t(0));
        s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 0 }, t(0));
        assert!(s.replace_hardware(t(8)));
        assert!(!s.volume_online(0), "stays offline until rebuilt");
        s
    }

    /// Runs the storage to quiescence; returns when each volume came back.
    fn restore_times(mut s: Storage) -> Vec<(u32, Time)> {
        let mut back = Vec::new();
        while let Some(at) = s.next_event_time() {
            s.advance(at);
            for g in s.take_events().rebuilt {
                back.extend(s.volumes_of_group(g).map(|v| (v, at)));
                assert!(s.volumes_of_group(g).all(|v| s.volume_online(v)));
            }
        }
        back
    }

    #[test]
    fn a_sequential_rebuild_restores_volumes_one_after_another() {
        let mut s = outage();
        assert_eq!(s.start_rebuild(false, t(8)), Ok(3));
        assert!(s.rebuilding_group(0) && !s.rebuilding_group(2));
        assert_eq!(s.latency_multiplier_permille(0), 1333);
        let back = restore_times(s);
        assert_eq!(back.iter().map(|b| b.0).collect::<Vec<_>>(), vec![0, 2, 4]);
        let one = Dur(div_ceil_u128(1_500_000_000_000u128 * 1_000_000, 35_000_000));
        assert!(one > Dur::hours(10) && one < Dur::hours(14), "one group takes {one}");
        // A staircase: each step one group's rebuild time after the one before.
        assert_eq!(back[0].1, t(8) + one);
        assert_eq!(back[1].1, back[0].1 + one);
        assert_eq!(back[2].1, back[1].1 + one);
    }

    /// `outage()` with unequal groups: group 0 also lost two disks and
    /// group 2 one, so groups 0, 2, 4 must write 7, 6 and 5 disks.
    fn unequal_outage() -> Storage {
        let mut s = outage();
        for g in [0, 0, 2] {
            assert!(s.apply(&ModelFault::DiskFail { group: g }, t(8)));
        }
        assert_eq!([0, 2, 4].map(|g| s.rebuild_bytes(g) / 300_000_000_000), [7, 6, 5]);
        s
    }

    /// When each group came back in a serial rebuild in `order`.
    fn ordered_restore(order: RebuildOrder, users: &[u64]) -> Vec<(u32, Time)> {
        let mut s = unequal_outage();
        assert_eq!(s.start_rebuild_ordered(false, &order, users, t(8)), Ok(3));
        restore_times(s)
    }

    #[test]
    fn a_serial_rebuild_in_another_order_brings_each_group_back_at_its_own_time() {
        // No client load: a disk of 300 GB at 35 MB/s, so a group is back
        // its own disks' time after the group before it.
        let disks = |n: u128| Dur(div_ceil_u128(n * 300_000_000_000 * 1_000_000, 35_000_000));
        let staircase = |order: &[(u32, u128)]| {
            let mut at = t(8);
            let mut back = Vec::new();
            for &(g, n) in order {
                at += disks(n);
                back.push((g, at));
            }
            back
        };
        let rule = |then| RebuildOrder { first: vec![], then };
        // Index order: group 0 (7 disks), 2 (6), 4 (5).
        let index = ordered_restore(RebuildOrder::default(), &[]);
        assert_eq!(index, staircase(&[(0, 7), (2, 6), (4, 5)]));
        let smallest = ordered_restore(rule(RebuildRule::SmallestFirst), &[]);
        assert_eq!(smallest, staircase(&[(4, 5), (2, 6), (0, 7)]));
        assert_eq!(ordered_restore(rule(RebuildRule::LargestFirst), &[]), index);
        // The last is back at the same time in any order (all 18 disks);
        // the sum of the times is least when the least data goes first.
        let sum = |b: &[(u32, Time)]| b.iter().map(|x| x.1.since(t(8)).as_micros()).sum::<u64>();
        assert_eq!(index[2].1, smallest[2].1);
        assert!(sum(&smallest) < sum(&index));
        // Named first, the rest by the rule.
        let named = ordered_restore(RebuildOrder { first: vec![2], then: RebuildRule::SmallestFirst }, &[]);
        assert_eq!(named, staircase(&[(2, 6), (4, 5), (0, 7)]));
        // Mailboxes: 28 on group 0, 12 on group 2, 25 on group 4. Most
        // first: 0, 4, 2; per byte 28/7 = 4, 12/6 = 2, 25/5 = 5: 4, 0, 2.
        let users = [28, 0, 12, 0, 25, 0];
        let most = ordered_restore(rule(RebuildRule::MostUsersFirst), &users);
        assert_eq!(most, staircase(&[(0, 7), (4, 5), (2, 6)]));
        let per_byte = ordered_restore(rule(RebuildRule::MostUsersPerByte), &users);
        assert_eq!(per_byte, staircase(&[(4, 5), (0, 7), (2, 6)]));
        // Mailbox-weighted waiting (Smith's rule is least of all orders).
        let weighted = |b: &[(u32, Time)]| b.iter().map(|x| users[x.0 as usize] * x.1.since(t(8)).as_micros()).sum::<u64>();
        for other in [&index, &smallest, &named, &most] {
            assert!(weighted(&per_byte) < weighted(other));
        }
    }

    #[test]
    fn a_group_already_rebuilding_keeps_its_place_when_an_order_is_given_later() {
        let mut s = unequal_outage();
        assert_eq!(s.start_rebuild(false, t(8)), Ok(3));
        assert!(s.rebuilding_group(0));
        // Asking again, smallest first: nothing new is queued, group 0 goes on.
        let again = RebuildOrder { first: vec![4], then: RebuildRule::SmallestFirst };
        assert_eq!(s.start_rebuild_ordered(false, &again, &[], t(9)), Ok(3));
        assert!(s.rebuilding_group(0) && !s.rebuilding_group(4));
    }

    #[test]
    fn a_rebuild_command_names_its_order_in_words() {
        let words = |parallel, order| crate::msg::Action::StartRebuild { parallel, order }.words(&|_| String::new());
        assert_eq!(words(false, RebuildOrder::default()), "start-rebuild, one group at a time, in group order");
        let named = RebuildOrder { first: vec![2, 0], then: RebuildRule::MostUsersPerByte };
        assert_eq!(words(false, named), "start-rebuild, one group at a time, group-3, group-1 first, then most mailboxes per byte first");
        assert_eq!(words(true, RebuildOrder::default()), "start-rebuild, every group at once");
        for name in RebuildRule::NAMES {
            assert_eq!(RebuildRule::from_name(name).map(RebuildRule::name), Some(name));
        }
    }

    #[test]
    fn the_default_order_hashes_as_a_start_rebuild_without_an_order_did() {
        use mailsim_sim::stable_hash;
        // The derived hash of `StartRebuild { parallel }` before the order:
        // the variant's discriminant, then the bool.
        #[derive(Hash)]
        #[allow(dead_code)]
        enum Before {
            ReplaceHardware,
            FixRedundancy,
            StartRebuild { parallel: bool },
        }
        for parallel in [false, true] {
            let now = crate::msg::Action::StartRebuild { parallel, order: RebuildOrder::default() };
            assert_eq!(stable_hash(&now), stable_hash(&Before::StartRebuild { parallel }));
        }
        let ordered =
            crate::msg::Action::StartRebuild { parallel: false, order: RebuildOrder { first: vec![], then: RebuildRule::SmallestFirst } };
        assert_ne!(stable_hash(&ordered), stable_hash(&Before::StartRebuild { parallel: false }));
    }

    #[test]
    fn a_parallel_rebuild_finishes_the_last_volume_sooner() {
        let mut seq = outage();
        seq.start_rebuild(false, t(8)).expect("the shelf is back");
        let seq = restore_times(seq);
        let mut par = outage();
        par.start_rebuild(true, t(8)).expect("the shelf is back");
        assert!(par.rebuilding_group(0) && par.rebuilding_group(2) && par.rebuilding_group(4));
        let par = restore_times(par);
        assert_eq!(par.len(), 3);
        let last = |b: &[(u32, Time)]| b.iter().map(|x| x.1).max().expect("volumes came back");
        let first = |b: &[(u32, Time)]| b.iter().map(|x| x.1).min().expect("volumes came back");
        assert!(last(&par) < last(&seq), "parallel {} vs sequential {}", last(&par), last(&seq));
        assert!(first(&par) > first(&seq), "shared bandwidth: each group is slower");
    }

    #[test]
    fn progress_survives_a_change_of_sharing() {
        // Rebuild group 0 alone for a while, then queue a second group in
        // parallel: the first keeps what it did.
        let mut s = Storage::new(StorageConfig { disk_bytes: 1_500_000_000_000, ..small() });
        s.apply(&ModelFault::DiskFail { group: 0 }, t(0));
        assert_eq!(s.start_rebuild(true, t(0)), Ok(1));
        let alone = s.next_event_time().expect("rebuilding");
        s.apply(&ModelFault::DiskFail { group: 1 }, t(6));
        assert_eq!(s.start_rebuild(true, t(6)), Ok(2));
        let shared = s.next_event_time().expect("rebuilding");
        // Total 70 MB/s over two groups is exactly 35 MB/s each: unchanged.
        assert_eq!(alone, shared);
        s.advance(shared);
        assert_eq!(s.take_events().rebuilt, vec![0]);
        assert!(s.rebuilding_group(1));
    }

    /// How long the rebuild of one resynced group takes when it starts at
    /// `start` (T+0 is `hour` o'clock), with `cfg`'s load and priority.
    fn one_group_rebuild(cfg: StorageConfig, start: u64) -> Dur {
        let mut s = Storage::new(StorageConfig { shelves: 1, groups: 1, volumes: 1, ..cfg });
        s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 0 }, t(0));
        s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 1 }, t(0));
        s.replace_hardware(t(start));
        assert_eq!(s.start_rebuild(false, t(start)), Ok(1));
        let back = restore_times(s);
        back[0].1.since(t(start))
    }

    #[test]
    fn rebuild_time_is_the_stale_data_over_the_rate() {
        // Five stale disks (14 × 1/3, rounded) of 300 GB at 35 MB/s, idle.
        let idle = one_group_rebuild(small(), 0);
        assert_eq!(idle, Dur(div_ceil_u128(5 * 300_000_000_000u128 * 1_000_000, 35_000_000)));
        // Twice the disk, twice the time; every disk stale, 14/5 the time.
        let big = one_group_rebuild(StorageConfig { disk_bytes: 600_000_000_000, ..small() }, 0);
        assert!(big.as_micros().abs_diff(2 * idle.as_micros()) <= 1, "{big} vs {idle}");
        let all = one_group_rebuild(StorageConfig { stale_disks: StaleDisks::Chance(1_000_000), ..small() }, 0);
        assert!(all.as_micros().abs_diff(idle.as_micros() * 14 / 5) <= 3, "{all} vs {idle}");
    }

    #[test]
    fn client_load_slows_a_rebuild_by_day_and_the_priority_sets_how_much() {
        let busy = |prio| StorageConfig {
            foreground_peak_permille: [900, 900],
            foreground_hourly: [1, 1, 1, 1, 1, 1, 1, 1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1, 1, 1, 1, 1, 1],
            rebuild_priority: prio,
            disk_bytes: 35_000_000 * 3600 / 5,
            ..small()
        };
        // An hour's work at idle: at 01:00 it has the disks almost to itself
        // (clients use 10%), at 09:00 clients use 90% and medium keeps 40%.
        let night = one_group_rebuild(busy(RebuildPriority::Medium), 1);
        let day = one_group_rebuild(busy(RebuildPriority::Medium), 9);
        assert_eq!(night, Dur(div_ceil_u128(3600 * 1_000_000 * 1000, 900)), "{night}");
        assert_eq!(day, Dur(div_ceil_u128(3600 * 1_000_000 * 1000, 400)), "{day}");
        let low = one_group_rebuild(busy(RebuildPriority::Low), 9);
        let high = one_group_rebuild(busy(RebuildPriority::High), 9);
        assert!(high < day && day < low, "high {high}, medium {day}, low {low}");
        // A rebuild spanning the evening runs faster once the clients leave.
        let evening = one_group_rebuild(busy(RebuildPriority::Medium), 17);
        assert!(evening < day && evening > night, "{evening}");
    }

    #[test]
    fn stale_disks_and_load_are_drawn_per_seed() {
        let cfg = StorageConfig::default();
        let draws: Vec<Storage> = (0..400).map(|seed| Storage::with_seed(cfg.clone(), seed)).collect();
        let stale: Vec<u32> = draws.iter().flat_map(|s| (0..cfg.groups).map(|g| s.stale_disks(g))).collect();
        let mean = stale.iter().sum::<u32>() as f64 / stale.len() as f64;
        assert!((mean - 14.0 / 3.0).abs() < 0.2, "mean stale disks {mean}");
        assert!(stale.iter().all(|d| *d <= 14) && stale.iter().any(|d| *d != stale[0]));
        let peaks: Vec<u32> = draws.iter().map(|s| s.foreground_permille(Time::from_hours(10))).collect();
        assert!(peaks.iter().all(|p| (400..=800).contains(p)), "10:00 is the peak hour");
        assert!(peaks.iter().min() < Some(&450) && peaks.iter().max() > Some(&750));
        // A stated count per shelf is spread over the shelf's groups.
        let counted = StorageConfig { stale_disks: StaleDisks::PerShelf(14), ..cfg.clone() };
        let spreads: Vec<Vec<u32>> =
            (0..50).map(|seed| (0..6).step_by(2).map(|g| Storage::with_seed(counted.clone(), seed).stale_disks(g)).collect()).collect();
        assert!(spreads.iter().all(|s| s.iter().sum::<u32>() == 14), "{spreads:?}");
        assert!(spreads.iter().any(|s| s != &spreads[0]), "the spread varies by seed");
        assert_eq!((0..6).step_by(2).map(|g| Storage::new(counted.clone()).stale_disks(g)).collect::<Vec<_>>(), vec![5, 5, 4]);
        // Same seed, same draws.
        assert_eq!(Storage::with_seed(cfg.clone(), 7), Storage::with_seed(cfg, 7));
    }

    #[test]
    fn the_finish_time_agrees_with_the_progress_over_many_days() {
        let mut s =
            Storage::new(StorageConfig { rebuild_bytes_per_s_group: 1000, rebuild_bytes_per_s_total: 1000, ..StorageConfig::default() });
        for (start, bytes) in [(0u64, 1u64), (1, 3_599_000), (37, 86_400_000), (5, 900_000_000), (0, 60_000_000_000)] {
            s.cfg.start_hour = (start % 24) as u32;
            let from = Time::from_secs(start * 1234);
            let end = s.finish_time(1, from, bytes);
            assert!(s.progress(1, from, end) >= bytes as u128, "start {start} bytes {bytes}");
            assert!(s.progress(1, from, Time(end.as_micros() - 1)) < bytes as u128, "start {start} bytes {bytes}");
        }
    }

    #[test]
    fn degradation_multiplies_latency_until_migrated() {
        let mut s = Storage::new(small());
        assert!(s.apply(&ModelFault::Degrade { permille: 10_000 }, t(0)));
        assert_eq!(s.latency_multiplier_permille(3), 10_000);
        assert_eq!(s.start_migration(&[], 3, t(48)), Ok(6), "a storage-wide slowdown affects every volume");
        assert!(s.migrating());
        let mut order = Vec::new();
        while let Some(at) = s.next_event_time() {
            s.advance(at);
            order.push((at, s.take_events().migrated));
        }
        assert_eq!(order.len(), 3, "three steps");
        assert_eq!(order[0].1, vec![0, 1]);
        assert!(order[1].0 >= t(48 + 24), "one step per night");
        assert!((0..6).all(|v| s.migrated(v) && s.latency_multiplier_permille(v) == 1000));
    }

    /// Both controllers of shelf 0 fail (no path fault needed): volumes 0, 2
    /// and 4 cannot be read.
    fn dead_shelf() -> Storage {
        let mut s = Storage::new(small());
        s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 0 }, t(0));
        s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 1 }, t(0));
        assert!(!s.volume_online(0));
        s
    }

    #[test]
    fn a_migration_from_a_shelf_without_controllers_is_refused_and_moves_nothing() {
        let mut s = dead_shelf();
        let e = s.start_migration(&[], 1, t(8)).expect_err("the data cannot be read");
        assert!(e.contains("volume-1") && e.contains("shelf-a") && e.contains("no working controller"), "{e}");
        assert!(!s.migrating());
        assert_eq!(s.next_event_time(), None, "nothing scheduled");
        assert!((0..6).all(|v| !s.migrated(v)));
        // Named volumes on the dead shelf are refused too; the healthy shelf's
        // volumes can be moved.
        assert!(s.start_migration(&[2], 1, t(8)).is_err());
        assert_eq!(s.start_migration(&[1, 3], 1, t(8)), Ok(2));
        // Once the controllers are replaced the offline volumes are readable
        // (they wait for a resync, their data intact): the migration goes.
        s.replace_hardware(t(9));
        assert_eq!(s.start_migration(&[], 1, t(9)), Ok(3));
    }

    #[test]
    fn a_migration_from_a_destroyed_raid_group_is_refused() {
        let mut s = Storage::new(small());
        for _ in 0..3 {
            s.apply(&ModelFault::DiskFail { group: 4 }, t(0));
        }
        let e = s.start_migration(&[4], 1, t(1)).expect_err("the data is gone");
        assert!(e.contains("volume-5") && e.contains("group-5") && e.contains("parity"), "{e}");
        assert_eq!(s.start_migration(&[5], 1, t(1)), Ok(1), "another volume can be named");
    }

    #[test]
    fn a_migration_by_default_moves_only_the_affected_volumes() {
        let mut s = Storage::new(small());
        assert_eq!(s.start_migration(&[], 2, t(0)), Ok(0), "nothing is affected: nothing to move");
        assert!(!s.migrating());
        // A failed disk in group 1 (redundancy lost, still online), and shelf
        // 0 down then back (groups 0, 2, 4 wait for a resync).
        s.apply(&ModelFault::DiskFail { group: 1 }, t(0));
        s.apply(&ModelFault::PathFault { shelf: 0 }, t(0));
        s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 0 }, t(0));
        s.replace_hardware(t(1));
        let affected: Vec<u32> = (0..6).filter(|v| s.affected(*v)).collect();
        assert_eq!(affected, vec![0, 1, 2, 4]);
        assert_eq!(s.start_migration(&[], 1, t(1)), Ok(4));
        while let Some(at) = s.next_event_time() {
            s.advance(at);
        }
        let moved: Vec<u32> = (0..6).filter(|v| s.migrated(*v)).collect();
        assert_eq!(moved, vec![0, 1, 2, 4], "volumes 3 and 5 were healthy and stay");
        assert!((0..6).all(|v| s.volume_online(v)));
    }

    #[test]
    fn a_degraded_volume_migrates_at_the_speed_its_storage_allows() {
        // Copy link 100 MB/s, read 1 GB/s: at normal speed the link bounds a
        // volume of 1 TB to 10,000 s.
        let time_to_move = |permille: u32| {
            let mut s = Storage::new(StorageConfig { volumes: 1, groups: 1, shelves: 1, ..small() });
            s.apply(&ModelFault::Degrade { permille }, t(0));
            assert_eq!(s.start_migration(&[0], 1, t(0)), Ok(1));
            s.next_event_time().expect("migrating").since(t(0))
        };
        assert_eq!(time_to_move(2000), Dur::secs(10_000), "slowed ×2 the array still outruns the link");
        assert_eq!(time_to_move(10_000), Dur::secs(10_000), "×10: 100 MB/s, as fast as the link");
        assert_eq!(time_to_move(50_000), Dur::secs(50_000), "×50: 20 MB/s, five times slower");
    }

    #[test]
    fn a_migration_whose_source_becomes_unreadable_is_aborted() {
        let mut s = Storage::new(small());
        s.apply(&ModelFault::Degrade { permille: 2000 }, t(0));
        assert_eq!(s.start_migration(&[], 2, t(0)), Ok(6));
        // Three volumes of 10,000 s each: the first batch ends at 8 h 20 min,
        // the second cannot start before the next night (24 h).
        s.advance(t(9));
        assert_eq!(s.take_events().migrated, vec![0, 1, 2], "the first batch is done");
        s.apply(&ModelFault::ControllerFail { shelf: 1, controller: 0 }, t(10));
        s.apply(&ModelFault::ControllerFail { shelf: 1, controller: 1 }, t(11));
        let ev = s.take_events();
        assert_eq!(ev.migration_aborted.len(), 1, "{ev:?}");
        assert!(ev.migration_aborted[0].contains("shelf-b"), "{ev:?}");
        assert!(!s.migrating() && s.next_event_time().is_none());
        assert!(s.migrated(1), "what moved stays moved");
        assert!(!s.migrated(4), "volume 4 (shelf a, readable) did not move with the aborted batch");
    }

    #[test]
    fn a_rebuild_is_refused_while_a_group_that_needs_it_cannot_be_read() {
        let mut s = dead_shelf();
        s.apply(&ModelFault::DiskFail { group: 1 }, t(0));
        let e = s.start_rebuild(false, t(1)).expect_err("shelf a has no path");
        assert!(e.contains("group-1") && e.contains("shelf-a"), "{e}");
        assert!(!s.rebuilding(), "nothing started, not even group 1 on the healthy shelf");
        s.replace_hardware(t(2));
        assert_eq!(s.start_rebuild(false, t(2)), Ok(4));
        // A destroyed group cannot be rebuilt: its data is gone.
        let mut s = Storage::new(small());
        for _ in 0..3 {
            s.apply(&ModelFault::DiskFail { group: 3 }, t(0));
        }
        let e = s.start_rebuild(true, t(1)).expect_err("group-4 is destroyed");
        assert!(e.contains("group-4"), "{e}");
        assert_eq!(Storage::new(small()).start_rebuild(true, t(0)), Ok(0), "nothing to rebuild: nothing to do");
    }

    #[test]
    fn a_shelf_losing_its_paths_stops_its_rebuilds_with_a_reason() {
        let mut s = outage();
        assert_eq!(s.start_rebuild(true, t(8)), Ok(3));
        s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 0 }, t(9));
        s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 1 }, t(9));
        assert!(!s.rebuilding());
        let aborted = s.take_events().rebuild_aborted;
        assert_eq!(aborted.len(), 3, "{aborted:?}");
        assert!(aborted.iter().all(|a| a.contains("shelf-a")), "{aborted:?}");
    }

    /// One shelf of six volumes, clients 30% busy at the peak (from 10:00),
    /// a nightly backup of 30% from 22:00 for 8 hours.
    fn contended() -> Storage {
        let job = IoJob { name: "backup".into(), load_permille: 300, start_hour: 22, hours: 8, yields: false };
        let contention = ContentionConfig { jobs: vec![job], controllers_carry_load: true, ..ContentionConfig::default() };
        Storage::new(StorageConfig { shelves: 1, foreground_peak_permille: [300, 300], start_hour: 10, contention, ..small() })
    }

    #[test]
    fn two_faults_each_absorbed_alone_collapse_the_storage_together() {
        for fault in [ModelFault::CacheFail, ModelFault::ControllerFail { shelf: 0, controller: 0 }] {
            let mut s = contended();
            assert!(!s.apply(&fault, t(0)), "{fault:?} alone changes nothing clients see");
            s.advance(t(48));
            assert!(!s.collapsed(0) && (0..6).all(|v| s.latency_multiplier_permille(v) == 1000), "{fault:?}");
        }
        let mut s = contended();
        s.apply(&ModelFault::CacheFail, t(0));
        assert!(s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 0 }, t(0)), "together they slow the volumes");
        assert!(s.collapsed(0));
        // At the peak the storage serves a few percent of its clients' demand.
        assert!(s.latency_multiplier_permille(0) >= 10_000, "{}", s.latency_multiplier_permille(0));
        assert!(s.take_events().contention_changed);
    }

    #[test]
    fn a_collapse_outlasts_the_peak_through_the_nightly_backup_until_volumes_move_away() {
        let mut s = contended();
        s.apply(&ModelFault::CacheFail, t(0));
        s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 0 }, t(0));
        // Every hour of two days the shelf stays collapsed: at night the
        // clients' load is low, but the backup and the retries keep it past
        // saturation.
        for h in 1..48 {
            let next = s.next_event_time().expect("contention is re-evaluated hourly");
            assert_eq!(next, t(h));
            s.advance(next);
            assert!(s.collapsed(0), "hour {h}: recovered at offered load {}", s.offered_permille(0, t(h)));
        }
        // Moving four of the six volumes takes their load away: the rest
        // recovers within a day, and the moved ones are served at once.
        s.start_migration(&[0, 1, 2, 3], 1, t(48)).expect("readable");
        let mut moved = t(48);
        while s.migrating() {
            moved = s.next_event_time().expect("migrating");
            s.advance(moved);
        }
        // The copy reads from the collapsed storage: slower than the link.
        assert!(moved.since(t(48)) > Dur::hours(12), "{moved:?}");
        assert!((0..4).all(|v| s.migrated(v) && s.latency_multiplier_permille(v) == 1000));
        s.advance(moved + Dur::hours(24));
        assert!(!s.collapsed(0) && s.latency_multiplier_permille(5) == 1000);
        assert_eq!(s.next_event_time(), None, "nothing left to evaluate");
    }

    #[test]
    fn replacing_the_hardware_ends_the_collapse_at_once() {
        let mut s = contended();
        s.apply(&ModelFault::CacheFail, t(0));
        s.apply(&ModelFault::ControllerFail { shelf: 0, controller: 0 }, t(0));
        assert!(s.collapsed(0));
        assert!(s.replace_hardware(t(30)));
        // The retries still amplify the load until it fits: at 16:00 the
        // clients alone need 23%, x3 = 69%, so the shelf recovers.
        assert!(!s.collapsed(0) && s.latency_multiplier_permille(0) == 1000);
    }
}
