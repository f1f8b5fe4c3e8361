//! From a parsed file to the models' `Topology`, one function per section
//! of the file; errors carry the field they are about.

use mailsim_models::backup::{BackupKind, BackupSet};
use mailsim_models::filer::FilerConfig;
use mailsim_models::mta::MtaConfig;
use mailsim_models::ops::{Availability, OpsConfig, Role};
use mailsim_models::replication::{LinkLoss, ReplicationConfig, ReplicationMode};
use mailsim_models::storage::StorageConfig;

use super::*;
use crate::units::ClockTime;

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

/// A loading error: (field, message).
pub(super) type Bad = (String, String);

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
///
/// One function per section of the file, called in the order the checks
/// run (an error names the first bad field in this order): the run, the MX
/// records and backup MX, the storage and file server, the MTAs, the
/// cluster, the clients, monitoring, the operators, the workload, the
/// faults, the recovery plan, the expectations, and last the whole
/// topology and its event budget. A new section is a new function here.
pub fn build_topology(f: &ScenarioFile) -> Result<Topology, InvalidField> {
    let ts = &f.topology;
    check_sizes(f)?;
    let mailboxes = positive(ts.mailboxes, "topology.mailboxes")?;
    let mx = positive(ts.mx, "topology.mx")?;
    let mut t = Topology::new(TopologyOptions { seed: 0, mx, mailboxes, mails: 0 });
    run_section(&f.run, &f.random_faults, &mut t)?;
    mx_records(ts, &mut t)?;
    if let Some(b) = &ts.backup_mx {
        t.backup_mx = Some(backup_mx(b)?);
    }
    storage(&ts.storage, &mut t.filer.storage)?;
    t.filer.backups = backups(&ts.backups)?;
    if let Some(h) = &ts.ha_pair {
        ha_pair(h, &mut t.filer.storage.heads)?;
    }
    filer(&ts.storage, &ts.nfs, &mut t.filer)?;
    mta(&ts.mta, &mut t.mta)?;
    if let Some(c) = &ts.cluster {
        t.cluster = Some(cluster(c, mx)?);
    }
    if let Some(r) = &ts.replication {
        t.filer.replication = Some(replication(r, &t)?);
    }
    if let Some(c) = &ts.clients {
        t.clients = Some(clients(c, mailboxes)?);
    }
    monitoring(&ts.monitoring, &mut t.ops)?;
    operators(&ts.operators, f.scenario.t0, t.duration, &mut t.ops)?;
    let volume = workload(f, mailboxes, &mut t)?;
    for (i, fe) in f.faults.iter().enumerate() {
        let spec = fault(i, fe, &f.run, &t)?;
        t.faults.push(spec);
    }
    for (i, r) in f.random_faults.iter().enumerate() {
        t.random_faults.push(random_fault(i, r)?);
    }
    for (i, s) in f.recovery.iter().enumerate() {
        let step = recovery_step(i, s, &f.recovery, &t)?;
        t.plan.push(step);
    }
    expectations(f, &t)?;
    t.validate().map_err(|e| bad("topology", e))?;
    let events = estimate_events(&t, volume.mails);
    if events > EVENTS_MAX {
        return Err(bad(
            volume.field,
            format!(
                "the run would take about {events} events (mails retried through the run, client checks, heartbeats, probes), more than its budget of {EVENTS_MAX}; use fewer mails, a shorter run or fewer periodic checks"
            ),
        )
        .into());
    }
    Ok(t)
}

/// `[run]`: the run's length, its fault and liveness phases.
fn run_section(r: &RunSpec, random_faults: &[RandomFaultEntry], t: &mut Topology) -> Result<(), Bad> {
    t.duration = positive_dur(r.duration, "run.duration")?;
    t.fault_phase = r.fault_phase.map(|p| dur(p, "run.fault_phase")).transpose()?;
    if let Some(p) = t.fault_phase {
        if p > t.duration {
            return Err(bad(
                "run.fault_phase",
                format!("the fault phase ({}) ends after the run ({})", r.fault_phase.unwrap_or_default(), r.duration),
            ));
        }
    }
    t.liveness_window = dur(r.liveness_window, "run.liveness_window")?;
    if r.swarm && random_faults.is_empty() {
        return Err(bad("run.swarm", "`swarm` picks among the random fault processes, and there are none (`[[random_faults]]`)"));
    }
    t.swarm = r.swarm;
    if let Some(h) = r.liveness_heals {
        if r.fault_phase.is_none() {
            return Err(bad("run.liveness_heals", "has no effect without a `fault_phase`: there is no liveness phase to heal for"));
        }
        t.liveness_heals = h;
    }
    Ok(())
}

/// `topology.mx_down` and `topology.mx_preferences`: what the primary MX
/// records answer and in which order senders try them.
fn mx_records(ts: &TopologySpec, t: &mut Topology) -> Result<(), Bad> {
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
    Ok(())
}

/// `[topology.backup_mx]`.
fn backup_mx(b: &BackupMxTable) -> Result<BackupMx, Bad> {
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
    Ok(backup)
}

/// `[topology.storage]`: shelves, RAID groups, volumes, rebuilds,
/// migrations and contention.
fn storage(s: &StorageTable, st: &mut StorageConfig) -> Result<(), Bad> {
    storage_layout(s, st)?;
    rebuilds_and_migration(s, st)?;
    contention_from(s, &mut st.contention)
}

/// The storage's layout: shelves, controllers, RAID groups and their disks
/// (stale ones too), volumes.
fn storage_layout(s: &StorageTable, st: &mut StorageConfig) -> Result<(), Bad> {
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
    st.disks_per_group = disks;
    if let Some(b) = opt_size(&s.disk_size, "topology.storage.disk_size")? {
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
    Ok(())
}

/// How the storage rebuilds RAID groups and migrates volumes: priority,
/// rates, the load it competes with, the power-cycle time.
fn rebuilds_and_migration(s: &StorageTable, st: &mut StorageConfig) -> Result<(), Bad> {
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
    if let Some(b) = opt_size(&s.volume_size, "topology.storage.volume_size")? {
        st.volume_bytes = b.max(1);
    }
    if let Some(r) = opt_rate(&s.rebuild_rate, "topology.storage.rebuild_rate")? {
        st.rebuild_bytes_per_s_group = r;
        st.rebuild_bytes_per_s_total = st.rebuild_bytes_per_s_total.max(r);
    }
    if let Some(r) = opt_rate(&s.rebuild_rate_total, "topology.storage.rebuild_rate_total")? {
        st.rebuild_bytes_per_s_total = r;
    }
    if let Some(r) = opt_rate(&s.migration_rate, "topology.storage.migration_rate")? {
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
    if let Some(v) = s.power_cycle {
        st.power_cycle = dur(v, "topology.storage.power_cycle")?;
    }
    Ok(())
}

/// An optional size field (`"2 TB"`), parsed.
fn opt_size(v: &Option<String>, field: &str) -> Result<Option<u64>, Bad> {
    v.as_deref().map(|t| parse_size(t).map_err(|e| bad(field, e))).transpose()
}

/// An optional byte-rate field (`"40 MB/s"`), parsed; never zero.
fn opt_rate(v: &Option<String>, field: &str) -> Result<Option<u64>, Bad> {
    match v.as_deref().map(|t| parse_byte_rate(t).map_err(|e| bad(field, e))).transpose()? {
        Some(0) => Err(bad(field, "a rate of zero never completes")),
        r => Ok(r),
    }
}

/// `[topology.ha_pair]`: two heads and their takeover and giveback
/// timings.
fn ha_pair(h: &HaPairTable, heads: &mut HeadsConfig) -> Result<(), Bad> {
    *heads = HeadsConfig::pair();
    for (value, field, slot) in [
        (h.detection, "topology.ha_pair.detection", &mut heads.detection),
        (h.takeover, "topology.ha_pair.takeover", &mut heads.takeover),
        (h.giveback, "topology.ha_pair.giveback", &mut heads.giveback),
        (h.giveback_delay, "topology.ha_pair.giveback_delay", &mut heads.giveback_delay),
    ] {
        if let Some(v) = value {
            *slot = dur(v, field)?;
        }
    }
    if let Some(v) = h.auto_giveback {
        heads.auto_giveback = v;
    }
    Ok(())
}

/// `[topology.replication]`: the mailstore's replica, from its mode's
/// defaults; `target_writers` resolved to the mail nodes they name.
fn replication(r: &ReplicationTable, t: &Topology) -> Result<ReplicationConfig, Bad> {
    let field = |k: &str| format!("topology.replication.{k}");
    let name = r.mode.as_deref().unwrap_or("async");
    let mode = ReplicationMode::from_name(name)
        .ok_or_else(|| bad(field("mode"), format!("unknown mode `{name}` ({})", ReplicationMode::NAMES.join(", "))))?;
    let mut c = ReplicationConfig::new(r.target.trim(), mode);
    if r.target.trim().is_empty() {
        return Err(bad(field("target"), "the replica's site needs a name"));
    }
    if let Some(s) = &r.source {
        c.source = s.trim().to_string();
        if c.source.is_empty() || c.source == c.target {
            return Err(bad(field("source"), format!("`{s}`: the primary's site needs a name other than the replica's")));
        }
    }
    if let Some(v) = r.every {
        if mode == ReplicationMode::Sync {
            return Err(bad(field("every"), "a synchronous replica has no update schedule (`every` is for `mode = \"async\"`)"));
        }
        c.every = dur(v, &field("every"))?;
    }
    if let Some(v) = r.lag {
        c.lag = dur(v, &field("lag"))?;
    }
    if let Some(name) = &r.on_link_loss {
        c.on_link_loss = LinkLoss::from_name(name)
            .ok_or_else(|| bad(field("on_link_loss"), format!("unknown policy `{name}` ({})", LinkLoss::NAMES.join(", "))))?;
    }
    for (k, n) in r.target_writers.iter().flatten().enumerate() {
        let mail_node = n.strip_prefix("mx-").and_then(|k| k.parse::<u32>().ok()).is_some_and(|k| (1..=t.mx).contains(&k));
        let id = t
            .node(n)
            .filter(|_| mail_node)
            .ok_or_else(|| bad(field(&format!("target_writers[{k}]")), format!("`{n}` is not a mail node (mx-1 … mx-{})", t.mx)))?;
        c.target_writers.push(id);
    }
    c.validate().map_err(|e| bad(field("target"), e))?;
    Ok(c)
}

/// The file server around the storage: placement, service time and
/// appends from `[topology.storage]`, its locks from `[topology.nfs]`.
fn filer(s: &StorageTable, n: &NfsTable, fc: &mut FilerConfig) -> Result<(), Bad> {
    if let Some(p) = s.placement {
        fc.placement = match p {
            PlacementSpec::Random => Placement::Random,
            PlacementSpec::RoundRobin => Placement::RoundRobin,
        };
    }
    if let Some(v) = s.service_time {
        fc.service_time = dur(v, "topology.storage.service_time")?;
    }
    if let Some(v) = s.appends_per_s {
        fc.appends_per_s_max = positive(v, "topology.storage.appends_per_s")?;
    }
    if let Some(v) = s.merge_dedup {
        fc.merge_dedup = v;
    }
    if let Some(v) = &s.mailbox_size {
        let field = "topology.storage.mailbox_size";
        let mb = parse_size(v).map_err(|e| bad(field, e))? / 1_000_000;
        if mb == 0 {
            return Err(bad(field, format!("`{v}` is less than 1MB")));
        }
        fc.mailbox_mb = u32::try_from(mb).map_err(|_| bad(field, format!("`{v}` is larger than a mailbox can be")))?;
    }
    if let Some(v) = n.lock_fail_delay {
        fc.lock_fail_delay = positive_dur(v, "topology.nfs.lock_fail_delay")?;
    }
    if let Some(v) = n.lock_grace_min {
        fc.lock_grace_min = dur(v, "topology.nfs.lock_grace_min")?;
    }
    if let Some(v) = n.lock_grace_max {
        fc.lock_grace_max = dur(v, "topology.nfs.lock_grace_max")?;
    }
    fc.validate().map_err(|e| bad("topology.storage", e))
}

/// `[[topology.backups]]`: the backup sets, each from its kind's defaults.
fn backups(list: &[BackupTable]) -> Result<Vec<BackupSet>, Bad> {
    let mut sets: Vec<BackupSet> = Vec::with_capacity(list.len());
    for (i, b) in list.iter().enumerate() {
        let field = |k: &str| format!("topology.backups[{i}].{k}");
        if sets.iter().any(|s| s.name == b.name) {
            return Err(bad(field("name"), format!("backup set name `{}` used twice", b.name)));
        }
        if b.name.trim().is_empty() {
            return Err(bad(field("name"), "a backup set needs a name"));
        }
        let kind = match b.kind.as_str() {
            "snapshot" => BackupKind::Snapshot,
            "disk" => BackupKind::Disk,
            "tape" => BackupKind::Tape,
            other => return Err(bad(field("kind"), format!("unknown backup kind `{other}` (snapshot, disk, tape)"))),
        };
        let mut set = BackupSet::new(&b.name, kind, Dur::ZERO);
        if let Some(v) = b.every {
            set.every = positive_dur(v, &field("every"))?;
        }
        set.first = match b.first {
            Some(v) => dur(v, &field("first"))?,
            None => set.every,
        };
        if let Some(v) = b.retention {
            set.retention = positive(v, &field("retention"))?;
        }
        if let Some(v) = b.initial_copy {
            set.initial_copy = v;
        }
        if let Some(v) = b.restore_setup {
            set.restore_setup = dur(v, &field("restore_setup"))?;
        }
        if let Some(v) = &b.restore_rate {
            let mb_per_s = parse_byte_rate(v).map_err(|e| bad(field("restore_rate"), e))? / 1_000_000;
            if mb_per_s == 0 {
                return Err(bad(field("restore_rate"), format!("`{v}` is less than 1MB/s")));
            }
            set.restore_mb_per_s = Some(u32::try_from(mb_per_s).unwrap_or(u32::MAX));
        }
        set.validate().map_err(|e| bad(format!("topology.backups[{i}]"), e))?;
        sets.push(set);
    }
    Ok(sets)
}

/// `[topology.mta]`: the MX nodes' MTAs.
fn mta(m: &MtaTable, c: &mut MtaConfig) -> Result<(), Bad> {
    if let Some(r) = &m.retry {
        c.retry = RetryProfile::by_name(r)
            .ok_or_else(|| bad("topology.mta.retry", format!("unknown retry profile `{r}` ({})", RETRY_PROFILES.join(", "))))?;
    }
    if let Some(v) = m.lifetime {
        c.retry.lifetime_s = dur(v, "topology.mta.lifetime")?.as_secs();
    }
    if let Some(v) = m.delivery_timeout {
        c.delivery_timeout = positive_dur(v, "topology.mta.delivery_timeout")?;
    }
    if let Some(v) = m.delivery_concurrency {
        c.delivery_concurrency = positive(v, "topology.mta.delivery_concurrency")?;
    }
    if let Some(v) = m.queue_capacity {
        c.queue_capacity = positive(v, "topology.mta.queue_capacity")?;
    }
    if let Some(w) = m.when_full {
        c.when_full = match w {
            WhenFullSpec::Refuse => WhenFull::Refuse,
            WhenFullSpec::Accept => WhenFull::Accept,
        };
    }
    if let Some(p) = &m.inbound_policy {
        c.inbound_policy = InboundPolicy::by_name(p).ok_or_else(|| {
            bad("topology.mta.inbound_policy", format!("unknown inbound policy `{p}` ({})", InboundPolicy::NAMES.join(", ")))
        })?;
    }
    if let Some(v) = m.unavailable_refresh {
        c.unavailable_refresh = positive_dur(v, "topology.mta.unavailable_refresh")?;
    }
    c.ack_before_durable = m.ack_before_durable.unwrap_or(false);
    c.drop_expired_without_dsn = m.drop_expired_without_dsn.unwrap_or(false);
    c.lda_skips_lock = m.lda_skips_lock.unwrap_or(false);
    c.retry.validate().map_err(|e| bad("topology.mta", e))
}

/// `[topology.cluster]`: fencing levels and the cluster agent.
fn cluster(c: &ClusterTable, mx: u32) -> Result<ClusterSpec, Bad> {
    if mx < 2 {
        return Err(bad("topology.mx", "a cluster needs at least two nodes"));
    }
    let mut spec = ClusterSpec { fence_levels: Vec::new(), agent: AgentConfig::new(Vec::new(), NodeId(0), Vec::new(), None), witnesses: 0 };
    if c.fencing.is_empty() {
        return Err(bad("topology.cluster.fencing", "a cluster needs at least one fencing level"));
    }
    for (i, level) in c.fencing.iter().enumerate() {
        if level.level.is_empty() || !level.level.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-') {
            return Err(bad(format!("topology.cluster.fencing[{i}].level"), "a level name is letters, digits and dashes"));
        }
        let dev = FenceDeviceConfig { mode: level.mode.unwrap_or(FenceModeSpec::Works).mode(), ..FenceDeviceConfig::default() };
        spec.fence_levels.push(mailsim_models::topology::FenceLevel::new(&level.level, dev));
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
    Ok(spec)
}

/// `[topology.clients]`: the users reading their mail.
fn clients(c: &ClientsTable, mailboxes: u32) -> Result<ClientsConfig, Bad> {
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
    Ok(cc)
}

/// `[topology.monitoring]`: the probes' intervals and attempts.
fn monitoring(mo: &MonitoringTable, ops: &mut OpsConfig) -> Result<(), Bad> {
    for (v, field, slot) in [
        (mo.check_interval, "topology.monitoring.check_interval", &mut ops.probe_interval),
        (mo.retry_interval, "topology.monitoring.retry_interval", &mut ops.probe_retry_interval),
        (mo.realert_interval, "topology.monitoring.realert_interval", &mut ops.realert_interval),
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
        ops.probe_failures_max = positive(n, "topology.monitoring.max_check_attempts")?;
    }
    Ok(())
}

/// `[topology.operators]`: their calendar (fixed by `scenario.t0` when
/// given), holidays, response delays and diagnosis.
fn operators(o: &OperatorsTable, t0: Option<ClockTime>, duration: Dur, ops: &mut OpsConfig) -> Result<(), Bad> {
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
    if let Some(t0) = t0 {
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
    let last_day = (duration.as_micros() + u64::from(cal.start_hour) * MICROS_PER_H) / MICROS_PER_DAY;
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
    ops.calendar = cal;
    if let Some(m) = o.misdiagnosis {
        ops.misdiagnosis_ppm = m.ppm();
    }
    if let Some(a) = &o.alert_text {
        ops.alert_text = a.clone();
    }
    ops.roles = roles(o)?;
    Ok(())
}

/// `[[topology.operators.roles]]`: who carries out recovery steps.
fn roles(o: &OperatorsTable) -> Result<Vec<Role>, Bad> {
    let mut roles: Vec<Role> = Vec::new();
    for (i, r) in o.roles.iter().enumerate() {
        let field = |k: &str| format!("topology.operators.roles[{i}].{k}");
        if r.name.trim().is_empty() {
            return Err(bad(field("name"), "name the role (\"on-call sysadmin\", \"storage team\")"));
        }
        if roles.iter().any(|x| x.name == r.name) {
            return Err(bad(field("name"), format!("a second role named `{}`: role names are unique", r.name)));
        }
        let availability = match r.hours.as_deref() {
            None | Some("24x7") => Availability::Always,
            Some("business") => Availability::Business,
            Some("on-call") => Availability::OnCall {
                callout: match &r.callout {
                    Some(c) => delay(Some(c), &field("callout"))?,
                    None => return Err(bad(field("callout"), "an `on-call` role needs a `callout`: how long it takes out of hours")),
                },
            },
            Some(other) => return Err(bad(field("hours"), format!("unknown hours `{other}` ({})", ROLE_HOURS.join(", ")))),
        };
        if r.callout.is_some() && !matches!(availability, Availability::OnCall { .. }) {
            return Err(bad(field("callout"), "only an `on-call` role has a `callout`"));
        }
        roles.push(Role {
            name: r.name.clone(),
            availability,
            acknowledge: delay(r.acknowledge.as_ref(), &field("acknowledge"))?,
            diagnose: delay(r.diagnose.as_ref(), &field("diagnose"))?,
            misdiagnosis_ppm: r.misdiagnosis.map_or(0, |m| m.ppm()),
        });
    }
    Ok(roles)
}

/// How much mail a workload sends, and the field that says so (for the
/// event budget's error).
struct MailVolume {
    mails: u64,
    field: &'static str,
}

/// `[workload]`: the mail the senders send, on the operators' clock, and
/// the clients' load on the storage that follows the same hours.
fn workload(f: &ScenarioFile, mailboxes: u32, t: &mut Topology) -> Result<MailVolume, Bad> {
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
    Ok(MailVolume { mails, field: volume_field })
}

/// `faults[i]`: a scheduled fault, its kind's own fields, its target
/// resolved against the topology.
fn fault(i: usize, fe: &FaultEntry, run: &RunSpec, t: &Topology) -> Result<FaultSpec, Bad> {
    let field = |k: &str| format!("faults[{i}].{k}");
    let kind = fault_kind(fe, &field)?;
    let is = |k: &str| fe.kind == k;
    for (present, key, applies, to) in [
        (fe.peer.is_some(), "peer", is("partition") || is("latency"), "`partition` and `latency`"),
        (fe.latency.is_some(), "latency", is("latency"), "`latency`"),
        (fe.speed.is_some(), "speed", is("degrade"), "`degrade`"),
        (fe.for_.is_some(), "for", is("hang") || is("replica-partition"), "`hang` and `replica-partition`"),
        (fe.mode.is_some(), "mode", is("fence-broken"), "`fence-broken`"),
        (fe.share.is_some(), "share", is("data-corruption") || is("data-loss"), "`data-corruption` and `data-loss`"),
        (fe.takeover.is_some(), "takeover", is("head-failure"), "`head-failure`"),
        (fe.device.is_some(), "device", is("local-device-failure"), "`local-device-failure`"),
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
    let spec = FaultSpec { at: fe.at.fault_at(), kind, target };
    if fe.at.micros() > t.duration.as_micros() as i64 {
        return Err(bad(field("at"), format!("{} is after the end of the run ({})", fe.at, run.duration)));
    }
    t.resolve_fault(&spec).map_err(|e| bad(if e.contains("peer") { field("peer") } else { field("target") }, e))?;
    Ok(spec)
}

/// A scheduled fault's `kind` with the fields that kind needs.
fn fault_kind(fe: &FaultEntry, field: &dyn Fn(&str) -> String) -> Result<FaultKind, Bad> {
    // The table is the gate: a kind parsed below but not listed is refused.
    if Choice::find(FaultKind::CHOICES, &fe.kind).is_none() {
        return Err(bad(field("kind"), format!("unknown fault kind `{}` (known: {})", fe.kind, FaultKind::NAMES.join(", "))));
    }
    Ok(match fe.kind.as_str() {
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
        "hang" => FaultKind::Hang { for_: dur(fe.for_.ok_or_else(|| bad(field("for"), "`hang` needs a `for` duration"))?, &field("for"))? },
        "fence-broken" => {
            FaultKind::FenceBroken { mode: fe.mode.ok_or_else(|| bad(field("mode"), "`fence-broken` needs a `mode`"))?.mode() }
        }
        "data-corruption" | "data-loss" => {
            let share_ppm = fe.share.map_or(1_000_000, Share::ppm);
            if share_ppm == 0 {
                return Err(bad(field("share"), "a share of 0% hits nothing"));
            }
            if fe.kind == "data-loss" {
                FaultKind::DataLoss { share_ppm }
            } else {
                FaultKind::DataCorruption { share_ppm }
            }
        }
        "backup-corrupt" => FaultKind::BackupCorrupt,
        "latency" => {
            let peer = fe.peer.clone().ok_or_else(|| bad(field("peer"), "`latency` needs a `peer`"))?;
            let d = fe.latency.ok_or_else(|| bad(field("latency"), "`latency` needs a `latency` duration (\"2s\")"))?;
            let latency = positive_dur(d, &field("latency"))?;
            if latency > LATENCY_MAX {
                return Err(bad(field("latency"), format!("{d} is longer than {}, the longest link latency", show(LATENCY_MAX))));
            }
            FaultKind::Latency { peer, latency }
        }
        "head-failure" => {
            let name = fe.takeover.as_deref().unwrap_or("works");
            let takeover = Takeover::from_name(name)
                .ok_or_else(|| bad(field("takeover"), format!("unknown takeover `{name}` ({})", Takeover::NAMES.join(", "))))?;
            FaultKind::HeadFailure { takeover }
        }
        "local-device-failure" => {
            let name = fe.device.as_deref().unwrap_or("queue");
            let device = LocalDevice::from_name(name)
                .ok_or_else(|| bad(field("device"), format!("unknown device `{name}` ({})", LocalDevice::NAMES.join(", "))))?;
            FaultKind::LocalDeviceFailure { device }
        }
        "site-failure" => FaultKind::SiteFailure,
        "replica-partition" => FaultKind::ReplicaPartition { for_: fe.for_.map(|d| positive_dur(d, &field("for"))).transpose()? },
        other => return Err(bad(field("kind"), format!("unknown fault kind `{other}` (known: {})", FaultKind::NAMES.join(", ")))),
    })
}

/// `random_faults[i]`: a random fault process.
fn random_fault(i: usize, r: &RandomFaultEntry) -> Result<RandomFaultSpec, Bad> {
    if !RANDOM_FAULT_KINDS.contains(&r.kind.as_str()) {
        return Err(bad(
            format!("random_faults[{i}].kind"),
            format!("unknown random fault kind `{}` (known: {})", r.kind, RANDOM_FAULT_KINDS.join(", ")),
        ));
    }
    let mean = positive_dur(r.mean_interval, &format!("random_faults[{i}].mean_interval"))?;
    Ok(RandomFaultSpec { kind: r.kind.clone(), mean_interval: mean })
}

/// `recovery[i]`: a step of the recovery plan; `plan` is the whole plan
/// (a step triggers `after` an earlier one).
fn recovery_step(i: usize, s: &StepEntry, plan: &[StepEntry], t: &Topology) -> Result<StepSpec, Bad> {
    let field = |k: &str| format!("recovery[{i}].{k}");
    step_fields_apply(i, s, plan, t, &field)?;
    let action = step_action(s, &field, t)?;
    let trigger = step_trigger(i, s, plan, &field)?;
    if t.node(&s.target).is_none() {
        return Err(bad(field("target"), format!("`{}` names no node of this topology (nodes: {})", s.target, t.node_names().join(", "))));
    }
    let takes = step_takes(s, &field)?;
    let role = step_role(s, t, &field)?;
    let hours = match s.hours.as_deref() {
        // A role's work follows its hours.
        None => role.map_or(WorkingHours::Always, |r| r.availability.hours()),
        Some("always") => WorkingHours::Always,
        Some("business") => WorkingHours::Business,
        Some(other) => return Err(bad(field("hours"), format!("unknown working hours `{other}` (always, business)"))),
    };
    let window_hour = step_window(s, &field)?;
    Ok(StepSpec { takes, hours, role: role.map(|r| r.name.clone()), window_hour, ..StepSpec::new(&s.name, &s.target, action, trigger) })
}

/// A step's name is its own, and each field it sets applies to its action.
fn step_fields_apply(i: usize, s: &StepEntry, plan: &[StepEntry], t: &Topology, field: &dyn Fn(&str) -> String) -> Result<(), Bad> {
    if plan[..i].iter().any(|p| p.name == s.name) {
        return Err(bad(field("name"), format!("step name `{}` used twice", s.name)));
    }
    for (present, key, action) in [
        (s.parallel, "parallel", "start-rebuild"),
        (s.steps.is_some(), "steps", "migrate"),
        (s.keep_uidls.is_some(), "keep_uidls", "migrate"),
        (s.node.is_some(), "node", "power-on"),
        (s.from.is_some(), "from", "restore"),
        (s.preserve_uids.is_some(), "preserve_uids", "restore"),
        (s.order.is_some(), "order", "start-rebuild"),
        (s.order_first.is_some(), "order_first", "start-rebuild"),
    ] {
        if present && s.action != action {
            return Err(bad(field(key), format!("`{key}` has no effect on a `{}` step; it applies to `{action}`", s.action)));
        }
    }
    if s.volumes.is_some() && s.action != "restore" && s.action != "recreate-accounts" {
        return Err(bad(
            field("volumes"),
            format!("`volumes` has no effect on a `{}` step; it applies to `restore` and `recreate-accounts`", s.action),
        ));
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
    Ok(())
}

/// The operator role a step names, if any (it must be declared).
fn step_role<'t>(s: &StepEntry, t: &'t Topology, field: &dyn Fn(&str) -> String) -> Result<Option<&'t Role>, Bad> {
    Ok(match &s.role {
        None => None,
        Some(name) => match t.ops.roles.iter().find(|r| &r.name == name) {
            Some(r) => Some(r),
            None => {
                let known: Vec<&str> = t.ops.roles.iter().map(|r| r.name.as_str()).collect();
                let list = if known.is_empty() {
                    "there are no `topology.operators.roles`".to_string()
                } else {
                    format!("roles: {}", known.join(", "))
                };
                return Err(bad(field("role"), format!("`{name}` is not a role ({list})")));
            }
        },
    })
}

/// The hour of the change window a step waits for (`"23:00"`), if any.
fn step_window(s: &StepEntry, field: &dyn Fn(&str) -> String) -> Result<Option<u32>, Bad> {
    Ok(match &s.window {
        None => None,
        Some(w) => Some(
            match w.trim().split_once(':') {
                Some((h, "00")) => h.parse::<u32>().ok().filter(|h| *h < 24),
                _ => None,
            }
            .ok_or_else(|| bad(field("window"), format!("`{w}`: expected a time on the hour, such as \"23:00\"")))?,
        ),
    })
}

/// A recovery step's `action` with the fields that action needs.
fn step_action(s: &StepEntry, field: &dyn Fn(&str) -> String, t: &Topology) -> Result<Action, Bad> {
    // The table is the gate: an action parsed below but not listed is refused.
    if Choice::find(Action::CHOICES, &s.action).is_none() {
        return Err(bad(field("action"), format!("unknown action `{}` ({})", s.action, STEP_ACTIONS.join(", "))));
    }
    Ok(match s.action.as_str() {
        "replace-hardware" => Action::ReplaceHardware,
        "fix-redundancy" => Action::FixRedundancy,
        "start-rebuild" => Action::StartRebuild { parallel: s.parallel, order: rebuild_order(s, field, t)? },
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
        "restore" => {
            let from = s.from.as_deref().ok_or_else(|| bad(field("from"), "`restore` needs `from`, the backup set to restore from"))?;
            let set = t.backup_set(from).map_err(|e| bad(field("from"), e))?;
            Action::Restore { set, volumes: step_volumes(s, field, t)?, preserve_uids: s.preserve_uids.unwrap_or(false) }
        }
        "recreate-accounts" => Action::RecreateAccounts { volumes: step_volumes(s, field, t)? },
        "giveback" => Action::Giveback,
        "power-cycle" => Action::PowerCycle,
        "failover" => Action::Failover,
        "power-on" => {
            let node = s.node.as_deref().ok_or_else(|| bad(field("node"), "`power-on` needs a `node`"))?;
            Action::PowerOn { node: t.node(node).ok_or_else(|| bad(field("node"), format!("`{node}` names no node")))? }
        }
        other => return Err(bad(field("action"), format!("unknown action `{other}` ({})", STEP_ACTIONS.join(", ")))),
    })
}

/// A `start-rebuild` step's `order` and `order_first`. Both only for a
/// serial rebuild: a parallel one rebuilds every group at once, with the
/// same share, so an order there would be silently ignored.
fn rebuild_order(s: &StepEntry, field: &dyn Fn(&str) -> String, t: &Topology) -> Result<RebuildOrder, Bad> {
    if s.parallel {
        if let Some(key) = [("order", s.order.is_some()), ("order_first", s.order_first.is_some())].iter().find(|k| k.1).map(|k| k.0) {
            return Err(bad(
                field(key),
                format!("`{key}` has no effect with `parallel = true`: every group rebuilds at once, with the same share; it orders a serial rebuild"),
            ));
        }
    }
    let then = match s.order.as_deref() {
        None => RebuildRule::Index,
        Some(name) => RebuildRule::from_name(name)
            .ok_or_else(|| bad(field("order"), format!("unknown rebuild order `{name}` ({})", RebuildRule::NAMES.join(", "))))?,
    };
    let storage = &t.filer.storage;
    let mut first: Vec<u32> = Vec::new();
    for (k, name) in s.order_first.iter().flatten().enumerate() {
        let number =
            |prefix: &str, max: u32| name.strip_prefix(prefix).and_then(|n| n.parse::<u32>().ok()).filter(|n| (1..=max).contains(n));
        let group = match (number("group-", storage.groups), number("volume-", storage.volumes)) {
            (Some(g), _) => g - 1,
            (None, Some(v)) => (v - 1) % storage.groups,
            (None, None) => {
                return Err(bad(
                    field(&format!("order_first[{k}]")),
                    format!(
                        "`{name}` is not a RAID group (group-1 … group-{}) or a volume (volume-1 … volume-{})",
                        storage.groups, storage.volumes
                    ),
                ))
            }
        };
        if first.contains(&group) {
            return Err(bad(field(&format!("order_first[{k}]")), format!("`{name}` names group-{} again", group + 1)));
        }
        first.push(group);
    }
    Ok(RebuildOrder { first, then })
}

/// A `restore` or `recreate-accounts` step's `volumes`, as model indices
/// (`volume-1` is 0); none given: every volume.
fn step_volumes(s: &StepEntry, field: &dyn Fn(&str) -> String, t: &Topology) -> Result<Vec<u32>, Bad> {
    let mut out = Vec::new();
    for (k, name) in s.volumes.iter().flatten().enumerate() {
        let n: u32 = name
            .strip_prefix("volume-")
            .and_then(|n| n.parse().ok())
            .filter(|n| (1..=t.filer.storage.volumes).contains(n))
            .ok_or_else(|| {
                bad(field(&format!("volumes[{k}]")), format!("`{name}` is not a volume (volume-1 … volume-{})", t.filer.storage.volumes))
            })?;
        out.push(n - 1);
    }
    Ok(out)
}

/// What starts a recovery step: exactly one of `at`, `after_alert` and
/// `after` (an earlier step, with an optional `delay`).
fn step_trigger(i: usize, s: &StepEntry, plan: &[StepEntry], field: &dyn Fn(&str) -> String) -> Result<Trigger, Bad> {
    Ok(match (s.at, s.after_alert, &s.after) {
        (Some(at), false, None) => Trigger::At(Time::ZERO + dur(at, &field("at"))?),
        (None, true, None) => Trigger::AfterAlert,
        (None, false, Some(prev)) => {
            let idx = plan[..i]
                .iter()
                .position(|p| &p.name == prev)
                .ok_or_else(|| bad(field("after"), format!("`{prev}` is not an earlier step")))?;
            Trigger::After(idx as u32, s.delay.map(|d| dur(d, &field("delay"))).transpose()?.unwrap_or(Dur::ZERO))
        }
        _ => return Err(bad(format!("recovery[{i}]"), "give exactly one trigger: `at`, `after_alert = true`, or `after`")),
    })
}

/// How long a recovery step takes: fixed, or an estimate with its source.
fn step_takes(s: &StepEntry, field: &dyn Fn(&str) -> String) -> Result<Delay, Bad> {
    delay(s.takes.as_ref(), &field("takes"))
}

/// A duration, or an estimate with its source (`takes`, and a role's
/// `callout`, `acknowledge` and `diagnose`), at `field`.
fn delay(spec: Option<&TakesSpec>, field: &str) -> Result<Delay, Bad> {
    Ok(match spec {
        None => Delay::default(),
        Some(TakesSpec::Fixed(d)) => Delay::Fixed(dur(*d, field)?),
        Some(TakesSpec::Estimate { min, mode, max, source }) => {
            if source.as_deref().is_none_or(|t| t.trim().is_empty()) {
                return Err(bad(format!("{field}.source"), "an estimate needs a `source`: say where it comes from"));
            }
            let (a, z) = (dur(*min, &format!("{field}.min"))?, dur(*max, &format!("{field}.max"))?);
            let d = match mode {
                Some(m) => Delay::Triangular { min: a, mode: dur(*m, &format!("{field}.mode"))?, max: z },
                None => Delay::Uniform(a, z),
            };
            d.validate().map_err(|e| bad(field, e))?;
            d
        }
    })
}

/// `[expect]`: every expectation names something the file has, and every
/// bound checks something.
fn expectations(f: &ScenarioFile, t: &Topology) -> Result<(), Bad> {
    expected_names(f)?;
    expected_bounds(&f.expect)?;
    per_service_and_queue(&f.expect, t)
}

/// The recovery steps, fault kinds and retry profiles expectations name
/// exist (and each profile's bound bounds something).
fn expected_names(f: &ScenarioFile) -> Result<(), Bad> {
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
    Ok(())
}

/// Every single bound, and every checkpoint of the listed expectations,
/// bounds something.
fn expected_bounds(e: &Expect) -> Result<(), Bad> {
    some_bound(&e.lost, "expect.lost")?;
    some_bound(&e.duplicates, "expect.duplicates")?;
    some_bound(&e.client_duplicates, "expect.client_duplicates")?;
    some_bound(&e.pop_redownloads, "expect.pop_redownloads")?;
    some_bound(&e.imap_resyncs, "expect.imap_resyncs")?;
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
    Ok(())
}

/// The per-service expectations name services, the queue expectations
/// nodes with a mail queue, and each bounds something.
fn per_service_and_queue(e: &Expect, t: &Topology) -> Result<(), Bad> {
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
    Ok(())
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
    at_most(len(ts.operators.roles.len()), 100, "topology.operators.roles", "roles")?;
    if let Some(c) = &ts.cluster {
        at_most(len(c.fencing.len()), len(FENCE_LEVELS_MAX), "topology.cluster.fencing", "fencing levels")?;
    }
    Ok(())
}
