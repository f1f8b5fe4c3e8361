//! Storage bandwidth under contention: mail, other clients and background
//! jobs share the disks, and an overloaded array can collapse into doing
//! almost no useful work, staying there after the overload that caused it
//! has passed. A pure model (plain functions and a small state), evaluated by
//! [`crate::storage::Storage`] hour by hour and when a fault changes it.
//!
//! Why it looks like this — the Norwegian host (November 2019): "two critical
//! faults" hit the storage at once, "each alone would not have caused big
//! problems", and "within minutes the performance fell by 90%". A fixed
//! slowdown factor cannot say that; a capacity model can. What is modeled:
//!
//! - **Offered load** `ρ`, per shelf, as a share of the shelf's healthy
//!   bandwidth: the clients' load (the storage's hour-of-day foreground
//!   curve), times the cost of a write (see the write-through cache below),
//!   plus the background jobs running at that hour, plus the floor a running
//!   RAID rebuild keeps, all divided by the capacity the shelf has left.
//!   Data moved to new storage no longer loads the old one: the clients'
//!   and the jobs' load scale with the share of the shelf's volumes not yet
//!   migrated.
//! - **Capacity** falls when a controller fails, if the controllers share
//!   the I/O (`controllers_carry_load`, an active-active array controller
//!   pair): the survivors carry all of it (two controllers: half the
//!   bandwidth, an assumption; the multipath redundancy keeps the data
//!   reachable, see [`crate::storage`]). Off by default: a disk shelf's
//!   modules (NetApp's ESH) provide paths, and the disks, not the paths,
//!   bound the bandwidth.
//! - **Write-through cache**: when the array's write-back cache is lost (a
//!   failed NVRAM or cache battery), controllers switch to write-through and
//!   every write pays the RAID write penalty at once (Dell, "PowerEdge RAID
//!   Controller: write policy" — write-back is disabled while the battery is
//!   bad; <https://www.dell.com/support/kbdoc/en-us/000130959>). The
//!   clients' cost is multiplied by `write_through_cost_permille` (default
//!   ×3, an assumption between RAID-DP's coalesced full-stripe writes and a
//!   RAID-6 small write's six I/Os).
//! - **Background jobs** (backups, scrubs, snapshots, copies) run on a daily
//!   schedule with a load of their own. A job at normal priority takes its
//!   load whatever the clients need; a job that `yields` (ionice idle, a
//!   throttled scrub) takes only what is left, so it can never overload the
//!   shelf by itself.
//! - **Collapse (metastable failure).** While `ρ ≤ 1` every request is
//!   served. When `ρ` exceeds 1 the queue grows until requests wait longer
//!   than their clients' timeouts; clients retransmit, and the array spends
//!   its time on requests whose clients have already given up. The offered
//!   load becomes `ρ × A`, with `A` the retry amplification (NFS over TCP
//!   sends a request up to 1 + `retrans` = 3 times before reporting "server
//!   not responding", `timeo=600,retrans=2`: nfs(5),
//!   <https://man7.org/linux/man-pages/man5/nfs.5.html>), and the useful
//!   share of the array's work falls linearly with the overload, `1 − s ×
//!   (ρA − 1)`, down to a floor (receive livelock: useful throughput
//!   *declines* past saturation; Mogul & Ramakrishnan, "Eliminating Receive
//!   Livelock in an Interrupt-Driven Kernel", ACM TOCS 15(3), 1997). The
//!   retries sustain the overload: the shelf leaves the collapse only when
//!   even the amplified load fits, `ρA ≤ 1` — a trigger pushes the system
//!   into a bad state that outlives it (Bronson et al., "Metastable
//!   Failures in Distributed Systems", HotOS 2021,
//!   <https://sigops.org/s/conferences/hotos/2021/papers/hotos21-s11-bronson.pdf>).
//!   The slope (default 1) and the floor (default 5%) are assumptions.
//! - The clients' share of their demand that is served is `useful / ρ`
//!   (capped at all of it); the storage turns its inverse into the volumes'
//!   latency multiplier, which slows the filer's mailbox operations.
//!
//! So two faults can each leave the shelf below saturation and together put
//! it past it, and the collapse they start lasts through the night (when
//! backups run) until the load is moved away.

/// A background job on the storage: a daily window with a load of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IoJob {
    /// What it is ("nightly-backup").
    pub name: String,
    /// Its load, per-mille of a shelf's healthy bandwidth.
    pub load_permille: u32,
    /// Hour of the day (0–23, wall clock) it starts.
    pub start_hour: u32,
    /// How many hours it runs (1–24).
    pub hours: u32,
    /// Low priority: takes only the bandwidth the rest leaves.
    pub yields: bool,
}

impl IoJob {
    /// Whether the job runs during hour `hour_of_day` (0–23).
    pub fn runs_at(&self, hour_of_day: u32) -> bool {
        (hour_of_day + 24 - self.start_hour) % 24 < self.hours
    }
}

/// How the storage behaves under contention (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentionConfig {
    /// Background jobs. Default none.
    pub jobs: Vec<IoJob>,
    /// A shelf's controllers share its I/O, so a failed one takes its share
    /// of the bandwidth with it. Default false (see the module doc).
    pub controllers_carry_load: bool,
    /// Cost of the clients' I/O while the write-back cache is lost,
    /// per-mille. Default 3000 (×3, an assumption).
    pub write_through_cost_permille: u32,
    /// Retry amplification once collapsed, per-mille. Default 3000 (NFS over
    /// TCP: up to three transmissions of a request, nfs(5)).
    pub retry_amplification_permille: u32,
    /// How fast the useful work falls with the overload, per-mille of
    /// capacity per unit of overload. Default 1000 (an assumption).
    pub collapse_slope_permille: u32,
    /// The useful work a collapsed shelf still does, per-mille of its
    /// capacity. Default 50 (an assumption: clients with long timeouts).
    pub collapse_floor_permille: u32,
}

impl Default for ContentionConfig {
    fn default() -> Self {
        ContentionConfig {
            jobs: Vec::new(),
            controllers_carry_load: false,
            write_through_cost_permille: 3000,
            retry_amplification_permille: 3000,
            collapse_slope_permille: 1000,
            collapse_floor_permille: 50,
        }
    }
}

impl ContentionConfig {
    /// Checks the values; an error names the field.
    pub fn validate(&self) -> Result<(), String> {
        for (i, j) in self.jobs.iter().enumerate() {
            if j.start_hour > 23 {
                return Err(format!("storage.jobs[{i}].start_hour {} is not an hour (0-23)", j.start_hour));
            }
            if j.hours == 0 || j.hours > 24 {
                return Err(format!("storage.jobs[{i}].hours {} is not within 1..=24", j.hours));
            }
            if j.load_permille == 0 || j.load_permille > 1000 {
                return Err(format!("storage.jobs[{i}].load {} per-mille is not within 1..=1000", j.load_permille));
            }
        }
        if self.write_through_cost_permille < 1000 || self.write_through_cost_permille > 100_000 {
            return Err(format!(
                "storage.write_through_cost {} per-mille is not within 1000..=100000 (x1 to x100)",
                self.write_through_cost_permille
            ));
        }
        if self.retry_amplification_permille < 1000 || self.retry_amplification_permille > 100_000 {
            return Err(format!("storage.retry_amplification {} per-mille is not within 1000..=100000", self.retry_amplification_permille));
        }
        if self.collapse_floor_permille == 0 || self.collapse_floor_permille > 1000 {
            return Err(format!("storage.collapse_floor {} per-mille is not within 1..=1000", self.collapse_floor_permille));
        }
        if self.collapse_slope_permille > 100_000 {
            return Err(format!("storage.collapse_slope {} per-mille is above 100000", self.collapse_slope_permille));
        }
        Ok(())
    }
}

/// What loads one shelf during one hour, all per-mille.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShelfLoad {
    /// The clients' load as a share of the healthy bandwidth, before costs.
    pub foreground: u64,
    /// Hour of the day (0–23), for the job schedules.
    pub hour_of_day: u32,
    /// The share of the shelf's volumes still served by it (not migrated).
    pub unmigrated: u64,
    /// The bandwidth left, as a share of the healthy one (controllers lost).
    pub capacity: u64,
    /// The write-back cache is lost.
    pub write_through: bool,
    /// The floor a running rebuild keeps, as a share of the bandwidth.
    pub rebuild: u64,
}

/// Multiplier cap: a collapsed shelf is slow, not stopped.
const MAX_MULTIPLIER_PERMILLE: u64 = 1_000_000;

impl ContentionConfig {
    /// The offered load `ρ` of a shelf, per-mille of what it can serve now.
    pub fn offered(&self, l: &ShelfLoad) -> u64 {
        let cost = if l.write_through { self.write_through_cost_permille as u64 } else { 1000 };
        let clients = l.foreground * cost / 1000 * l.unmigrated / 1000;
        let scaled = |j: &IoJob| j.load_permille as u64 * l.unmigrated / 1000;
        let hard: u64 = self.jobs.iter().filter(|j| !j.yields && j.runs_at(l.hour_of_day)).map(scaled).sum();
        let hard = clients + hard + l.rebuild;
        let capacity = l.capacity.max(1);
        let soft: u64 = self.jobs.iter().filter(|j| j.yields && j.runs_at(l.hour_of_day)).map(scaled).sum();
        let soft = soft.min(capacity.saturating_sub(hard));
        (hard + soft) * 1000 / capacity
    }

    /// Whether a shelf with offered load `rho` is collapsed after this
    /// evaluation, given whether it was before: it enters past saturation
    /// and leaves only when even the amplified load fits.
    pub fn collapsed_after(&self, was: bool, rho: u64) -> bool {
        if was {
            rho * self.retry_amplification_permille as u64 / 1000 > 1000
        } else {
            rho > 1000
        }
    }

    /// The useful share of a collapsed shelf's work at offered load `rho`,
    /// per-mille.
    pub fn useful(&self, rho: u64) -> u64 {
        let amplified = rho * self.retry_amplification_permille as u64 / 1000;
        let lost = self.collapse_slope_permille as u64 * amplified.saturating_sub(1000) / 1000;
        1000u64.saturating_sub(lost).max(self.collapse_floor_permille as u64)
    }

    /// The latency multiplier of a shelf's volumes (per-mille; 1000 =
    /// normal): the inverse of the share of the clients' demand served.
    pub fn multiplier(&self, collapsed: bool, rho: u64) -> u32 {
        if !collapsed || rho == 0 {
            return 1000;
        }
        let served = (self.useful(rho) * 1000 / rho).clamp(1, 1000);
        (1_000_000 / served).min(MAX_MULTIPLIER_PERMILLE) as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(foreground: u64) -> ShelfLoad {
        ShelfLoad { foreground, hour_of_day: 12, unmigrated: 1000, capacity: 1000, write_through: false, rebuild: 0 }
    }

    #[test]
    fn below_saturation_nothing_slows() {
        let c = ContentionConfig::default();
        let rho = c.offered(&load(900));
        assert_eq!(rho, 900);
        assert!(!c.collapsed_after(false, rho));
        assert_eq!(c.multiplier(false, rho), 1000);
    }

    #[test]
    fn each_fault_alone_fits_and_both_together_collapse() {
        // 30% busy at the peak: the write-through cache alone makes it 90%,
        // the lost controller alone 60%, both 180%.
        let c = ContentionConfig::default();
        let cache = ShelfLoad { write_through: true, ..load(300) };
        let controller = ShelfLoad { capacity: 500, ..load(300) };
        let both = ShelfLoad { write_through: true, capacity: 500, ..load(300) };
        assert!(!c.collapsed_after(false, c.offered(&cache)));
        assert!(!c.collapsed_after(false, c.offered(&controller)));
        let rho = c.offered(&both);
        assert_eq!(rho, 1800);
        assert!(c.collapsed_after(false, rho));
        // Collapsed, the shelf serves a few percent of the demand.
        let m = c.multiplier(true, rho);
        assert!(m >= 10_000, "collapsed multiplier {m}");
    }

    #[test]
    fn a_collapse_outlives_its_trigger_until_the_amplified_load_fits() {
        let c = ContentionConfig::default();
        // Load falls to 50%: a healthy shelf would serve it all, but the
        // retries (x3) keep a collapsed one past saturation.
        assert!(c.collapsed_after(true, 500));
        assert!(!c.collapsed_after(false, 500));
        // At 30%, even the amplified load fits: the collapse ends.
        assert!(!c.collapsed_after(true, 300));
    }

    #[test]
    fn useful_work_declines_past_saturation_down_to_the_floor() {
        let c = ContentionConfig::default();
        let u: Vec<u64> = [400, 500, 700, 1000, 2000].iter().map(|r| c.useful(*r)).collect();
        assert!(u.windows(2).all(|w| w[0] >= w[1]), "{u:?}");
        assert_eq!(c.useful(2000), 50);
        assert_eq!(c.useful(300), 1000);
    }

    #[test]
    fn jobs_run_in_their_window_and_yielding_ones_never_overload() {
        let backup = IoJob { name: "backup".into(), load_permille: 300, start_hour: 22, hours: 8, yields: false };
        assert!(backup.runs_at(22) && backup.runs_at(5) && !backup.runs_at(6) && !backup.runs_at(21));
        let scrub = IoJob { yields: true, start_hour: 0, hours: 24, ..backup.clone() };
        let c = ContentionConfig { jobs: vec![backup, scrub], ..ContentionConfig::default() };
        // At noon only the scrub runs, and it takes what the clients leave.
        assert_eq!(c.offered(&load(900)), 1000);
        assert_eq!(c.offered(&load(500)), 800);
        // At 01:00 the backup runs at full load on top of the clients.
        assert_eq!(c.offered(&ShelfLoad { hour_of_day: 1, ..load(800) }), 1100);
    }

    #[test]
    fn migrated_volumes_take_their_load_away() {
        let c = ContentionConfig::default();
        let both = ShelfLoad { write_through: true, capacity: 500, ..load(300) };
        assert_eq!(c.offered(&both), 1800);
        // Half the volumes moved away: the rest fits again.
        assert_eq!(c.offered(&ShelfLoad { unmigrated: 500, ..both }), 900);
    }

    #[test]
    fn bad_values_are_refused_naming_the_field() {
        let job = IoJob { name: "b".into(), load_permille: 300, start_hour: 24, hours: 8, yields: false };
        let c = ContentionConfig { jobs: vec![job], ..ContentionConfig::default() };
        assert!(c.validate().unwrap_err().contains("jobs[0].start_hour"));
        let c = ContentionConfig { write_through_cost_permille: 500, ..ContentionConfig::default() };
        assert!(c.validate().unwrap_err().contains("write_through_cost"));
    }
}
