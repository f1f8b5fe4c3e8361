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
//! - Rebuild is throttled bandwidth: "hours to days; slower under foreground
//!   load" (vendor docs). One group's rebuild is limited by its own disks
//!   (`rebuild_bytes_per_s_group`); all rebuilds share the system's rebuild
//!   bandwidth (`rebuild_bytes_per_s_total`). So a parallel rebuild makes
//!   each group finish later than the first of a sequential one, but the last
//!   one sooner. While a group rebuilds, its volumes' latency is multiplied
//!   (NetApp field report: read latency 6 → 8 ms during rebuild).
//! - Performance degradation multiplies every old-storage latency (the
//!   Norwegian host, 2018: storage throughput down 90% ⇒ ×10).
//! - Migration copies volumes to new storage in steps at a rate; a migrated
//!   volume is served by the new storage (normal latency, unaffected by the
//!   old hardware's faults).
//!
//! Layout: group `g` sits on shelf `g % shelves`, volume `v` on group
//! `v % groups`. With the defaults (2 shelves, 6 groups, 6 volumes) one shelf
//! holds half the volumes, so losing it takes ~50% of randomly placed
//! mailboxes offline, as at OpenSRS.

use mailsim_sim::{Dur, Time, MICROS_PER_S};

use crate::msg::ModelFault;

/// The storage layout and rates.
#[derive(Clone, Debug, PartialEq)]
pub struct StorageConfig {
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
    /// Data one group's rebuild must reconstruct. Default 1.5 TB, an
    /// assumption: OpenSRS rebuilt 14 disks for three volumes, ~5 disks of the
    /// 300 GB class of 2008 per volume.
    pub group_rebuild_bytes: u64,
    /// Rebuild speed of one group, limited by its disks, after throttling for
    /// foreground load. Default 35 MB/s, so one group takes ~12 h ("hours to
    /// days, slower under foreground load", vendor docs; the OpenSRS
    /// staircase gained a volume about every half day).
    pub rebuild_bytes_per_s_group: u64,
    /// Rebuild bandwidth of the whole system, shared by parallel rebuilds.
    /// Default 70 MB/s (assumption: two groups at full speed).
    pub rebuild_bytes_per_s_total: u64,
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
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            shelves: 2,
            controllers_per_shelf: 2,
            groups: 6,
            parity_disks: 2,
            volumes: 6,
            group_rebuild_bytes: 1_500_000_000_000,
            rebuild_bytes_per_s_group: 35_000_000,
            rebuild_bytes_per_s_total: 70_000_000,
            online_during_rebuild: false,
            rebuild_latency_permille: 1333,
            volume_bytes: 1_000_000_000_000,
            migration_bytes_per_s: 100_000_000,
            migration_step_interval: Dur::hours(24),
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
        ];
        for (name, v) in positive {
            if v == 0 {
                return Err(format!("storage.{name} must be positive"));
            }
        }
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
    /// Groups to rebuild, in order; the first is rebuilt when sequential.
    queue: Vec<u32>,
    parallel: bool,
    /// Rebuild progress is accounted up to this time.
    clock: Time,
    /// Migration batches not yet done: (completion time, volumes).
    batches: Vec<(Time, Vec<u32>)>,
    events: Events,
}

impl Storage {
    pub fn new(cfg: StorageConfig) -> Storage {
        if let Err(e) = cfg.validate() {
            panic!("invalid storage configuration: {e}");
        }
        Storage {
            shelves: vec![Shelf { failed_controllers: 0, path_fault: false }; cfg.shelves as usize],
            groups: vec![Group::default(); cfg.groups as usize],
            migrated: vec![false; cfg.volumes as usize],
            degrade_permille: 1000,
            queue: Vec::new(),
            parallel: false,
            clock: Time::ZERO,
            batches: Vec::new(),
            events: Events::default(),
            cfg,
        }
    }

    pub fn config(&self) -> &StorageConfig {
        &self.cfg
    }
    pub fn volumes(&self) -> u32 {
        self.cfg.volumes
    }
    pub fn group_of(&self, volume: u32) -> u32 {
        volume % self.cfg.groups
    }
    pub fn shelf_of(&self, group: u32) -> u32 {
        group % self.cfg.shelves
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
    pub fn migrating(&self) -> bool {
        !self.batches.is_empty()
    }
    pub fn migrated(&self, volume: u32) -> bool {
        self.migrated[volume as usize]
    }

    /// Whether the volume serves I/O: on new storage, or its group intact,
    /// reachable and not waiting for a resync.
    pub fn volume_online(&self, volume: u32) -> bool {
        if self.migrated[volume as usize] {
            return true;
        }
        let g = self.group_of(volume);
        let grp = &self.groups[g as usize];
        !grp.destroyed && self.shelf_reachable(self.shelf_of(g)) && (!grp.resync || self.cfg.online_during_rebuild)
    }

    /// The volume's latency multiplier (per-mille; 1000 = normal).
    pub fn latency_multiplier_permille(&self, volume: u32) -> u32 {
        if self.migrated[volume as usize] {
            return 1000;
        }
        let mut m = self.degrade_permille as u64;
        if self.rebuilding_group(self.group_of(volume)) {
            m = m * self.cfg.rebuild_latency_permille as u64 / 1000;
        }
        m.min(u32::MAX as u64) as u32
    }

    /// Applies a storage fault at `now`. Returns whether it changed what the
    /// storage serves now: a volume's availability, latency or data, or the
    /// redundancy of a RAID group (a failed disk). A path fault, a controller
    /// failure absorbed by redundancy and a latent sector error return false:
    /// they are latent until something else happens.
    pub fn apply(&mut self, fault: &ModelFault, now: Time) -> bool {
        self.advance(now);
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
                self.change_shelf(shelf, |s| s.failed_controllers += 1)
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
            *g = Group { destroyed: true, latent_found: g.latent_found, ..Group::default() };
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
            *s = Shelf { failed_controllers: 0, path_fault: false };
        }
        for g in &mut self.groups {
            if g.destroyed {
                *g = Group { latent_found: g.latent_found, ..Group::default() };
                changed = true;
            }
        }
        changed
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

    /// Starts rebuilding every group that needs it and can be reached, one
    /// after another or all at once (sharing the bandwidth). Groups already
    /// queued keep their progress. Returns the number of groups queued.
    pub fn start_rebuild(&mut self, parallel: bool, now: Time) -> usize {
        self.advance(now);
        self.parallel = parallel;
        for g in 0..self.cfg.groups {
            if self.needs_rebuild(g) && self.shelf_reachable(self.shelf_of(g)) && !self.queue.contains(&g) {
                self.queue.push(g);
                self.groups[g as usize].remaining = Some(self.cfg.group_rebuild_bytes);
            }
        }
        self.clock = now;
        self.begin_reading();
        self.queue.len()
    }

    /// Starts migrating every volume not yet on new storage, in `steps`
    /// batches of consecutive volumes, one batch per step interval at most.
    pub fn start_migration(&mut self, steps: u32, now: Time) {
        self.advance(now);
        let pending: Vec<u32> =
            (0..self.cfg.volumes).filter(|v| !self.migrated[*v as usize] && !self.batches.iter().any(|(_, b)| b.contains(v))).collect();
        if pending.is_empty() {
            return;
        }
        let steps = steps.clamp(1, pending.len() as u32) as usize;
        let per = pending.len().div_ceil(steps);
        let mut prev_end = self.batches.last().map_or(now, |b| b.0.max(now));
        for (k, chunk) in pending.chunks(per).enumerate() {
            let start = prev_end.max(now + self.cfg.migration_step_interval.saturating_mul(k as u64));
            let bytes = self.cfg.volume_bytes as u128 * chunk.len() as u128;
            let end = start + Dur(div_ceil_u128(bytes * MICROS_PER_S as u128, self.cfg.migration_bytes_per_s as u128));
            self.batches.push((end, chunk.to_vec()));
            prev_end = end;
        }
    }

    /// The groups whose rebuild progresses now.
    fn active(&self) -> impl Iterator<Item = u32> + '_ {
        let n = if self.parallel { self.queue.len() } else { self.queue.len().min(1) };
        self.queue[..n].iter().copied()
    }

    /// Bytes per second each active rebuild gets.
    fn rate_each(&self, active: usize) -> u64 {
        (self.cfg.rebuild_bytes_per_s_total / active.max(1) as u64).min(self.cfg.rebuild_bytes_per_s_group).max(1)
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
            let rate = self.rate_each(active.len()) as u128;
            let min_left = active.iter().map(|g| self.groups[*g as usize].remaining.expect("queued groups have work")).min().unwrap_or(0);
            let finish = self.clock + Dur(div_ceil_u128(min_left as u128 * MICROS_PER_S as u128, rate));
            // Every active rebuild gets the same rate, so they progress alike.
            let done =
                if finish <= now { min_left } else { (rate * now.since(self.clock).as_micros() as u128 / MICROS_PER_S as u128) as u64 };
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
            let rate = self.rate_each(active.len()) as u128;
            let min_left = active.iter().filter_map(|g| self.groups[*g as usize].remaining).min().unwrap_or(0);
            Some(self.clock + Dur(div_ceil_u128(min_left as u128 * MICROS_PER_S as u128, rate)))
        };
        let migration = self.batches.first().map(|b| b.0);
        match (rebuild, migration) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
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

fn div_ceil_u128(a: u128, b: u128) -> u64 {
    a.div_ceil(b).min(u64::MAX as u128) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> StorageConfig {
        StorageConfig { shelves: 2, groups: 6, volumes: 6, ..StorageConfig::default() }
    }

    fn t(h: u64) -> Time {
        Time::from_hours(h)
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
        s.start_rebuild(false, t(1));
        assert!(s.group_destroyed(2), "two lost disks plus a bad stripe exceed RAID-DP");
        assert_eq!(s.latent_found(2), 1);
        // With one failed disk, the same error is survived.
        let mut s = Storage::new(small());
        s.apply(&ModelFault::DiskFail { group: 2 }, t(0));
        s.apply(&ModelFault::LatentSectorError { group: 2 }, t(0));
        s.start_rebuild(false, t(1));
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
        assert_eq!(s.start_rebuild(false, t(8)), 3);
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

    #[test]
    fn a_parallel_rebuild_finishes_the_last_volume_sooner() {
        let mut seq = outage();
        seq.start_rebuild(false, t(8));
        let seq = restore_times(seq);
        let mut par = outage();
        par.start_rebuild(true, t(8));
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
        let mut s = Storage::new(small());
        s.apply(&ModelFault::DiskFail { group: 0 }, t(0));
        s.start_rebuild(true, t(0));
        let alone = s.next_event_time().expect("rebuilding");
        s.apply(&ModelFault::DiskFail { group: 1 }, t(6));
        s.start_rebuild(true, t(6));
        let shared = s.next_event_time().expect("rebuilding");
        // Total 70 MB/s over two groups is exactly 35 MB/s each: unchanged.
        assert_eq!(alone, shared);
        s.advance(shared);
        assert_eq!(s.take_events().rebuilt, vec![0]);
        assert!(s.rebuilding_group(1));
    }

    #[test]
    fn degradation_multiplies_latency_until_migrated() {
        let mut s = Storage::new(small());
        assert!(s.apply(&ModelFault::Degrade { permille: 10_000 }, t(0)));
        assert_eq!(s.latency_multiplier_permille(3), 10_000);
        s.start_migration(3, t(48));
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
}
