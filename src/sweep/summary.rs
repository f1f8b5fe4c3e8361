//! Summaries of many runs: failure rates with 95% intervals, failures by
//! outcome, expectation and fault kind, and the seeds that have no result.
//!
//! Missing seeds are computed from the manifest entries and the records
//! alone, in time and memory proportional to the records and the shards, not
//! to the seed range: per shard residue, the gaps between recorded seeds are
//! runs of missing seeds (`SeedRun`).

use std::collections::BTreeMap;
use std::fmt;

use mailsim_models::marks::Mark;
use serde::Serialize;

use super::record::{repro_command, RateFlag, Record};
use super::seeds::{SeedRun, Shard};
use super::store::ManifestEntry;
use crate::units::{HumanDuration, Share};

/// A share k/n with a 95% interval. With k = 0 the upper bound is the rule of
/// three, 3/n (Hanley & Lippman-Hand 1983), instead of a misleading "0%";
/// otherwise the Wilson score interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rate {
    pub k: u64,
    pub n: u64,
    pub share: f64,
    pub low95: f64,
    pub high95: f64,
}

impl Rate {
    pub fn new(k: u64, n: u64) -> Rate {
        if n == 0 {
            return Rate { k, n, share: 0.0, low95: 0.0, high95: 1.0 };
        }
        let (kf, nf) = (k as f64, n as f64);
        let p = kf / nf;
        if k == 0 {
            return Rate { k, n, share: 0.0, low95: 0.0, high95: (3.0 / nf).min(1.0) };
        }
        let (low95, high95) = wilson95(k, n);
        Rate { k, n, share: p, low95, high95 }
    }
}

/// The 95% Wilson score interval of a share observed as k of n (Wilson 1927):
/// with p = k/n and z = 1.96, the centre (p + z²/2n) / (1 + z²/n) plus or
/// minus z / (1 + z²/n) · √(p(1−p)/n + z²/4n²), clipped to [0, 1]. Unlike
/// p ± z√(p(1−p)/n) it stays inside [0, 1] and keeps its coverage near 0 and
/// near 1, where rate expectations live. n = 0 says nothing: [0, 1].
pub fn wilson95(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (nf, p) = (n as f64, k.min(n) as f64 / n as f64);
    let z = 1.959_964_f64;
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * nf)) / (1.0 + z2 / nf);
    let half = z / (1.0 + z2 / nf) * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
    // At k = 0 and k = n the ends are exactly 0 and 1; rounding would miss.
    let low = if k == 0 { 0.0 } else { (centre - half).max(0.0) };
    let high = if k >= n { 1.0 } else { (centre + half).min(1.0) };
    (low, high)
}

/// A rate expectation over many runs: the share of runs that met it, with
/// its 95% interval, against the share it is meant to hold on.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RateCheck {
    pub name: String,
    /// The share of seeds it is meant to hold on (`on_seeds`).
    pub required: Share,
    /// Runs that met it (`k`) of the runs that checked it (`n`), with the
    /// Wilson 95% interval (the rule of three when none met it).
    pub pass_rate: Rate,
    /// The observed share is at least the required one. A sweep or merge
    /// fails when it is not.
    pub met: bool,
    /// The first few seeds that missed it, in the order seen.
    pub missed_seeds: Vec<u64>,
}

impl RateCheck {
    /// The seeds miss the required share clearly: even the upper end of the
    /// 95% interval is below it. The default job, with its few seeds, fails
    /// on this rather than on the observed share.
    pub fn clearly_missed(&self) -> bool {
        self.pass_rate.n > 0 && self.pass_rate.high95 < self.required.as_f64()
    }
}

impl fmt::Display for RateCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.pass_rate;
        write!(f, "{}: met on {} of {} seeds", self.name, r.k, r.n)?;
        if r.n > 0 {
            write!(f, " = {} (95% CI {}–{})", pct(r.share), pct(r.low95), pct(r.high95))?;
        }
        write!(f, ", required: at least {} of seeds", self.required)
    }
}

/// Seeds that missed a rate expectation kept in a summary, at most.
const RATE_MISSED_MAX: usize = 10;

/// The rate expectations of many runs (each run's seed and `RateFlag`s),
/// per name and required share, in order of first appearance.
pub fn rate_checks<'a>(runs: impl IntoIterator<Item = (u64, &'a [RateFlag])>) -> Vec<RateCheck> {
    // (name, ppm, met, checked, missed seeds)
    let mut counts: Vec<(String, u32, u64, u64, Vec<u64>)> = Vec::new();
    for (seed, flags) in runs {
        for f in flags {
            let i = match counts.iter().position(|c| c.0 == f.name && c.1 == f.holds_on_ppm) {
                Some(i) => i,
                None => {
                    counts.push((f.name.clone(), f.holds_on_ppm, 0, 0, Vec::new()));
                    counts.len() - 1
                }
            };
            let c = &mut counts[i];
            c.2 += u64::from(f.met);
            c.3 += 1;
            if !f.met && c.4.len() < RATE_MISSED_MAX {
                c.4.push(seed);
            }
        }
    }
    counts
        .into_iter()
        .map(|(name, ppm, k, n, missed_seeds)| RateCheck {
            name,
            required: Share(ppm),
            pass_rate: Rate::new(k, n),
            // k/n >= ppm/10^6, in integers.
            met: u128::from(k) * 1_000_000 >= u128::from(ppm) * u128::from(n),
            missed_seeds,
        })
        .collect()
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.n == 0 {
            write!(f, "no runs")
        } else if self.k == 0 {
            write!(f, "0 of {} (95% upper bound ≈ 3/n = {})", self.n, pct(self.high95))
        } else {
            write!(f, "{} of {} = {} (95% CI {}–{})", self.k, self.n, pct(self.share), pct(self.low95), pct(self.high95))
        }
    }
}

/// A share as a percentage with the digits that matter (0.003%, 1.25%, 42.0%).
fn pct(share: f64) -> String {
    let p = share * 100.0;
    if p <= 0.0 {
        "0%".to_string()
    } else if p >= 10.0 {
        format!("{p:.1}%")
    } else {
        // Three significant digits, no exponent.
        let digits = (2 - p.log10().floor() as i32).max(0) as usize;
        format!("{p:.digits$}%")
    }
}

/// How often one fault kind fired, and in how many failed runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindShare {
    pub kind: String,
    /// Runs in which it was injected at least once.
    pub runs_fired: u64,
    pub share_fired: f64,
    /// Runs in which an occurrence changed something observable.
    pub runs_effect: u64,
    /// Failed runs in which it was injected.
    pub failed_runs: u64,
}

/// Totals and extremes of the key figures over the runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FigureSummary {
    pub lost_total: u64,
    pub lost_max: u64,
    pub delivered_total: u64,
    pub duplicates_total: u64,
    pub client_duplicates_total: u64,
    /// DSNs returned plus mails bounced by sending MTAs.
    pub bounces_total: u64,
    /// Peak share of mailboxes on offline volumes (the worst run).
    pub peak_unavailable_ppm_max: u32,
    /// Peak share of users without full service (the worst run).
    pub users_affected_peak_ppm_max: u32,
    /// Longest time each service failed for at least one user, over the
    /// runs (smtp, pop, imap, webmail).
    pub service_down_s_max: BTreeMap<String, u64>,
    /// Latest restoration among the runs that had one.
    pub restored_us_max: Option<u64>,
    pub delay_s_max: u64,
}

/// A checkpoint over many runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CheckpointSummary {
    pub claim: String,
    pub at: String,
    pub metric: String,
    /// Runs that hit it, of the runs that measured it, with the 95% interval.
    pub hit_rate: Rate,
    /// The least and greatest simulated value (ppm or seconds from T+0).
    pub value_min: Option<u64>,
    pub value_max: Option<u64>,
    /// Runs in which the event never happened.
    pub never: u64,
}

impl fmt::Display for CheckpointSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let r = &self.hit_rate;
        let show = |v: u64| {
            if crate::checkpoints::Metric::is_share_name(&self.metric) {
                Share(v as u32).to_string()
            } else {
                format!("T+{}", HumanDuration(v as i64 * 1_000_000).readable())
            }
        };
        write!(f, "\"{}\" at {} ({}): hit on {} of {} seeds", self.claim, self.at, self.metric, r.k, r.n)?;
        if r.n > 0 {
            write!(f, " = {} (95% CI {}–{})", pct(r.share), pct(r.low95), pct(r.high95))?;
        }
        match (self.value_min, self.value_max) {
            (Some(a), Some(z)) if a == z => write!(f, "; simulated {}", show(a))?,
            (Some(a), Some(z)) => write!(f, "; simulated {} to {}", show(a), show(z))?,
            _ => {}
        }
        if self.never > 0 {
            write!(f, "; never happened in {} runs", self.never)?;
        }
        Ok(())
    }
}

/// The checkpoints of many runs, in the order of the first run's.
fn checkpoint_summaries(rs: &[&Record]) -> Vec<CheckpointSummary> {
    let mut out: Vec<CheckpointSummary> = Vec::new();
    let mut hits: Vec<u64> = Vec::new();
    for r in rs {
        for c in &r.checkpoints {
            let i = match out.iter().position(|s| s.claim == c.claim && s.at == c.at && s.metric == c.metric) {
                Some(i) => i,
                None => {
                    out.push(CheckpointSummary {
                        claim: c.claim.clone(),
                        at: c.at.clone(),
                        metric: c.metric.clone(),
                        hit_rate: Rate::new(0, 0),
                        value_min: None,
                        value_max: None,
                        never: 0,
                    });
                    hits.push(0);
                    out.len() - 1
                }
            };
            let s = &mut out[i];
            s.hit_rate.n += 1;
            hits[i] += u64::from(c.hit);
            match c.value {
                Some(v) => {
                    s.value_min = Some(s.value_min.map_or(v, |m| m.min(v)));
                    s.value_max = Some(s.value_max.map_or(v, |m| m.max(v)));
                }
                None => s.never += 1,
            }
        }
    }
    for (s, k) in out.iter_mut().zip(hits) {
        s.hit_rate = Rate::new(k, s.hit_rate.n);
    }
    out
}

/// One failed run and how to reproduce it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    pub seed: u64,
    pub outcome: String,
    pub failed: Vec<String>,
    pub fault_kinds: Vec<String>,
    pub violation: Option<String>,
    pub repro: String,
}

/// The summary of one scenario version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    pub file: String,
    pub file_hash: String,
    pub runs: u64,
    pub failed: u64,
    pub failure_rate: Rate,
    /// Failed runs by outcome class (`ok`: the run ended normally but an
    /// expectation was not met).
    pub by_outcome: BTreeMap<String, u64>,
    /// Failed runs by expectation not met.
    pub by_expectation: BTreeMap<String, u64>,
    /// Failed runs by fault kind injected in them.
    pub by_fault_kind: BTreeMap<String, u64>,
    /// Every fault kind seen, with the share of runs it fired in.
    pub fault_kinds: Vec<KindShare>,
    /// Every random fault process seen, with the share of runs that enabled
    /// it (`runs_fired`/`share_fired`: enabled; `runs_effect`: fired at least
    /// once; `failed_runs`: failed runs that enabled it).
    pub processes: Vec<KindShare>,
    pub figures: FigureSummary,
    /// The expectations checked (from the manifest and the failures).
    pub expectations: Vec<String>,
    /// Each rate expectation (a bound with `on_seeds`): the share of runs
    /// that met it against the share required. Their misses in single runs
    /// are not counted in `failed`; a rate below its required share fails
    /// the summary.
    pub rates: Vec<RateCheck>,
    /// Each checkpoint (a postmortem's claim): the share of seeds that hit
    /// it and the range of the simulated values.
    pub checkpoints: Vec<CheckpointSummary>,
    /// Coverage: every mark of `mailsim_models::marks` in table order, with
    /// the runs that reached it (0: never reached). Reported, never judged.
    pub marks: Vec<MarkCoverage>,
    /// Seeds the manifests asked for that have no record (None: no manifest).
    pub missing: Option<u64>,
    /// The first few missing seeds.
    pub missing_seeds: Vec<u64>,
    /// Shards (of a sharded sweep) with no result at all: a shard that never
    /// ran, or whose directory was not given to merge.
    pub missing_shards: Vec<Shard>,
    /// The other missing seeds, compactly, in order (at most
    /// `MISSING_RUNS_MAX` runs are kept).
    pub missing_runs: Vec<SeedRun>,
    /// Every failed run, in seed order.
    pub failures: Vec<Failure>,
}

/// How many runs of a scenario reached one coverage mark.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MarkCoverage {
    pub mark: String,
    pub runs: u64,
}

/// Each mark with the runs that reached it, in the marks' table order.
pub fn mark_coverage(rs: &[&Record]) -> Vec<MarkCoverage> {
    Mark::ALL
        .iter()
        .map(|m| MarkCoverage {
            mark: m.name().to_string(),
            runs: rs.iter().filter(|r| r.marks.iter().any(|n| n == m.name())).count() as u64,
        })
        .collect()
}

/// The summary of a sweep or a merge.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub runs: u64,
    pub failed: u64,
    pub scenarios: Vec<ScenarioSummary>,
    pub warnings: Vec<String>,
}

impl Summary {
    /// Every run passed, every rate expectation met its share of seeds, and
    /// no seed is missing.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.scenarios.iter().all(|s| s.missing.unwrap_or(0) == 0 && s.rates.iter().all(|r| r.met))
    }
}

/// Runs of missing seeds kept in a summary, at most.
const MISSING_RUNS_MAX: usize = 1000;

/// Summarizes merged records, per (scenario, file hash), in key order.
/// `manifest` entries name the expectations and the seeds that should be
/// there: an entry of shard K/N stands for the whole sweep of its range, all
/// N shards, so a shard that is not there is missing.
pub fn summarize<'a>(records: impl IntoIterator<Item = &'a Record>, manifest: &[ManifestEntry], warnings: &[String]) -> Summary {
    summarize_with(records, manifest, warnings, true)
}

/// Summarizes the records of one sweep invocation: like [`summarize`], but
/// an entry of shard K/N asks only for the seeds of shard K (the other
/// shards are other machines' business until the merge).
pub fn summarize_shards<'a>(records: impl IntoIterator<Item = &'a Record>, manifest: &[ManifestEntry], warnings: &[String]) -> Summary {
    summarize_with(records, manifest, warnings, false)
}

fn summarize_with<'a>(
    records: impl IntoIterator<Item = &'a Record>,
    manifest: &[ManifestEntry],
    warnings: &[String],
    all_shards: bool,
) -> Summary {
    let mut groups: BTreeMap<(String, String), Vec<&Record>> = BTreeMap::new();
    for r in records {
        groups.entry((r.scenario.clone(), r.file_hash.clone())).or_default().push(r);
    }
    for m in manifest {
        groups.entry((m.scenario.clone(), m.file_hash.clone())).or_default();
    }
    let mut warnings = warnings.to_vec();
    let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, hash) in groups.keys() {
        versions.entry(name).or_default().push(hash);
    }
    for (name, hashes) in &versions {
        if hashes.len() > 1 {
            warnings.push(format!(
                "scenario `{name}` has results for {} versions of its file (hashes {}); each is summarized on its own",
                hashes.len(),
                hashes.join(", ")
            ));
        }
    }
    let scenarios: Vec<ScenarioSummary> = groups
        .iter()
        .map(|((name, hash), rs)| {
            let entries: Vec<&ManifestEntry> = manifest.iter().filter(|m| &m.scenario == name && &m.file_hash == hash).collect();
            summarize_one(name, hash, rs, &entries, all_shards)
        })
        .collect();
    Summary { runs: scenarios.iter().map(|s| s.runs).sum(), failed: scenarios.iter().map(|s| s.failed).sum(), scenarios, warnings }
}

/// The summary of one scenario (one file version): its runs `rs` and the
/// manifest `entries` that asked for them.
fn summarize_one(name: &str, hash: &str, rs: &[&Record], entries: &[&ManifestEntry], all_shards: bool) -> ScenarioSummary {
    let n = rs.len() as u64;
    let failed: Vec<&&Record> = rs.iter().filter(|r| !r.passed).collect();
    let (by_outcome, by_expectation, by_fault_kind) = failure_counts(&failed);
    let fault_kinds = fault_kind_shares(rs, &by_fault_kind);
    let processes = process_shares(rs);
    let figures = figure_summary(rs);
    let expectations = expectation_names(entries, &failed);
    let gaps = (!entries.is_empty()).then(|| missing(rs, entries, all_shards));
    let file = rs.first().map(|r| r.file.clone()).or_else(|| entries.first().map(|m| m.file.clone())).unwrap_or_default();
    ScenarioSummary {
        scenario: name.to_string(),
        file,
        file_hash: hash.to_string(),
        runs: n,
        failed: failed.len() as u64,
        failure_rate: Rate::new(failed.len() as u64, n),
        by_outcome,
        by_expectation,
        by_fault_kind,
        fault_kinds,
        processes,
        figures,
        expectations,
        rates: rate_checks(rs.iter().map(|r| (r.seed, r.rates.as_slice()))),
        checkpoints: checkpoint_summaries(rs),
        marks: mark_coverage(rs),
        missing: gaps.as_ref().map(|g| g.count),
        missing_seeds: gaps.as_ref().map(|g| g.first.clone()).unwrap_or_default(),
        missing_shards: gaps.as_ref().map(|g| g.shards.clone()).unwrap_or_default(),
        missing_runs: gaps.map(|g| g.runs).unwrap_or_default(),
        failures: failed
            .iter()
            .map(|r| Failure {
                seed: r.seed,
                outcome: r.outcome.clone(),
                failed: r.failed.clone(),
                fault_kinds: r.fired_kinds().map(str::to_string).collect(),
                violation: r.violation.clone(),
                repro: r.repro(),
            })
            .collect(),
    }
}

/// Runs counted by name (of an outcome, an expectation, a fault kind).
type Counts = BTreeMap<String, u64>;

/// Failed runs counted by outcome, by missed expectation and by fault kind
/// fired.
fn failure_counts(failed: &[&&Record]) -> (Counts, Counts, Counts) {
    let mut by_outcome = BTreeMap::new();
    let mut by_expectation = BTreeMap::new();
    let mut by_fault_kind = BTreeMap::new();
    for r in failed {
        *by_outcome.entry(r.outcome.clone()).or_insert(0) += 1;
        for e in &r.failed {
            *by_expectation.entry(e.clone()).or_insert(0) += 1;
        }
        for k in r.fired_kinds() {
            *by_fault_kind.entry(k.to_string()).or_insert(0) += 1;
        }
    }
    (by_outcome, by_expectation, by_fault_kind)
}

/// Per fault kind, the runs where it fired, had an effect, and failed
/// (`by_fault_kind`).
fn fault_kind_shares(rs: &[&Record], by_fault_kind: &BTreeMap<String, u64>) -> Vec<KindShare> {
    let n = rs.len() as u64;
    let mut kinds: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in rs {
        for f in &r.faults {
            let e = kinds.entry(&f.kind).or_default();
            e.0 += u64::from(f.fired > 0);
            e.1 += u64::from(f.effect > 0);
        }
    }
    kinds
        .into_iter()
        .map(|(kind, (fired, effect))| KindShare {
            kind: kind.to_string(),
            runs_fired: fired,
            share_fired: if n == 0 { 0.0 } else { fired as f64 / n as f64 },
            runs_effect: effect,
            failed_runs: by_fault_kind.get(kind).copied().unwrap_or(0),
        })
        .collect()
}

/// Per fault process, the runs that enabled it, where it fired, and that
/// failed.
fn process_shares(rs: &[&Record]) -> Vec<KindShare> {
    let n = rs.len() as u64;
    let mut procs: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for r in rs {
        for p in &r.processes {
            let e = procs.entry(&p.kind).or_default();
            e.0 += 1;
            e.1 += u64::from(p.fired > 0);
            e.2 += u64::from(!r.passed);
        }
    }
    procs
        .into_iter()
        .map(|(kind, (enabled, fired, failed))| KindShare {
            kind: kind.to_string(),
            runs_fired: enabled,
            share_fired: if n == 0 { 0.0 } else { enabled as f64 / n as f64 },
            runs_effect: fired,
            failed_runs: failed,
        })
        .collect()
}

/// The figures over all runs: totals and worst values.
fn figure_summary(rs: &[&Record]) -> FigureSummary {
    let mut figures = FigureSummary::default();
    for r in rs {
        figures.lost_total += r.lost;
        figures.lost_max = figures.lost_max.max(r.lost);
        figures.delivered_total += r.delivered;
        figures.duplicates_total += r.duplicates;
        figures.client_duplicates_total += r.client_duplicates;
        figures.bounces_total += r.returned + r.sender_bounced;
        figures.peak_unavailable_ppm_max = figures.peak_unavailable_ppm_max.max(r.peak_unavailable_ppm);
        figures.restored_us_max = figures.restored_us_max.max(r.restored_us);
        figures.users_affected_peak_ppm_max = figures.users_affected_peak_ppm_max.max(r.users_affected_peak_ppm);
        for (service, &down) in &r.service_down_s {
            let max = figures.service_down_s_max.entry(service.clone()).or_default();
            *max = (*max).max(down);
        }
        figures.delay_s_max = figures.delay_s_max.max(r.delay_s_max);
    }
    figures
}

/// The expectations the manifest lists, then any other a run missed, each
/// once, in order of first mention.
fn expectation_names(entries: &[&ManifestEntry], failed: &[&&Record]) -> Vec<String> {
    let mut expectations: Vec<String> = Vec::new();
    for e in entries.iter().flat_map(|m| &m.expectations).chain(failed.iter().flat_map(|r| &r.failed)) {
        if !expectations.contains(e) {
            expectations.push(e.clone());
        }
    }
    expectations
}

/// The seeds asked for that have no record.
struct Missing {
    count: u64,
    /// The first few, in order.
    first: Vec<u64>,
    /// Shards with none of their seeds recorded.
    shards: Vec<Shard>,
    /// The other missing seeds, in order, at most `MISSING_RUNS_MAX` runs.
    runs: Vec<SeedRun>,
}

/// The largest shard-count multiple `missing` works with.
const LCM_MAX: u64 = 1 << 16;

fn lcm(a: u64, b: u64) -> Option<u64> {
    let gcd = |mut x: u64, mut y: u64| {
        while y != 0 {
            (x, y) = (y, x % y);
        }
        x
    };
    (a / gcd(a, b)).checked_mul(b)
}

/// Merges ranges into sorted, disjoint ones.
fn union(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut out: Vec<(u64, u64)> = Vec::new();
    for (a, z) in ranges {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(z),
            _ => out.push((a, z)),
        }
    }
    out
}

/// What is missing: per residue K of the shard count N (N = 1 when the
/// entries disagree on N), the seeds `≡ K (mod N)` in the ranges asked for,
/// minus the recorded ones. `all_shards`: every residue is asked for (a
/// merge); else only those of the entries' own shards (one sweep).
fn missing(rs: &[&Record], entries: &[&ManifestEntry], all_shards: bool) -> Missing {
    let n = residue_count(entries, all_shards);
    let asked = asked_ranges(entries, all_shards, n);
    let mut have: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
    for r in rs {
        have.entry(r.seed % n).or_default().push(r.seed);
    }
    let mut out = Missing { count: 0, first: Vec::new(), shards: Vec::new(), runs: Vec::new() };
    let mut all_runs: Vec<SeedRun> = Vec::new();
    for (k, ranges) in asked {
        let shard = Shard { index: k, count: n };
        let mut seeds = have.remove(&k).unwrap_or_default();
        seeds.sort_unstable();
        let (runs, recorded) = gaps(shard, &seeds, ranges);
        let count: u64 = runs.iter().map(SeedRun::len).sum();
        out.count += count;
        if n > 1 && recorded == 0 && count > 0 {
            out.shards.push(shard);
            all_runs.extend(runs.iter().map(|r| SeedRun { step: 0, ..*r }));
        } else {
            all_runs.extend(runs);
        }
    }
    all_runs.sort_unstable();
    out.first = first_missing(&all_runs, n);
    out.runs = all_runs.into_iter().filter(|r| r.step != 0).take(MISSING_RUNS_MAX).collect();
    out
}

/// The shard count N that the residues of the missing seeds are taken
/// modulo: the entries' own when they agree, else 1 for a merge, else the
/// least common multiple of theirs (1 past `LCM_MAX`).
fn residue_count(entries: &[&ManifestEntry], all_shards: bool) -> u64 {
    let first = entries[0].shard.count;
    if entries.iter().all(|m| m.shard.count == first) {
        first
    } else if all_shards {
        1
    } else {
        // One sweep's entries share a shard; other manifests (written by hand
        // or by a library caller) get the least common multiple of their
        // counts, so that each entry's shard is a set of residues.
        entries.iter().try_fold(1u64, |l, m| lcm(l, m.shard.count).filter(|&x| x <= LCM_MAX)).unwrap_or(1)
    }
}

/// The residues (mod `n`) asked for, with the seed ranges asked for in each.
fn asked_ranges(entries: &[&ManifestEntry], all_shards: bool, n: u64) -> BTreeMap<u64, Vec<(u64, u64)>> {
    let span = union(entries.iter().map(|m| (m.seeds_start, m.seeds_end)).collect());
    let width: u64 = span.iter().map(|(a, z)| z - a).sum();
    let mut asked: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    if all_shards {
        // Only residues that can hold a seed (a range narrower than N has fewer).
        let residues: Vec<u64> = if width >= n {
            (0..n).collect()
        } else {
            let mut r: Vec<u64> = span.iter().flat_map(|&(a, z)| (a..z).map(|s| s % n)).collect();
            r.sort_unstable();
            r.dedup();
            r
        };
        for k in residues {
            asked.insert(k, span.clone());
        }
    } else {
        for m in entries {
            // With one shard count, an entry's residue is its shard index.
            let residues: Vec<u64> =
                if m.shard.count == n { vec![m.shard.index] } else { (0..n).filter(|k| m.shard.contains(*k)).collect() };
            for k in residues {
                asked.entry(k).or_default().push((m.seeds_start, m.seeds_end));
            }
        }
    }
    asked
}

/// The runs of `shard`'s seeds in `ranges` that `seeds` (recorded, sorted)
/// lacks, and how many recorded seeds fell in the ranges.
fn gaps(shard: Shard, seeds: &[u64], ranges: Vec<(u64, u64)>) -> (Vec<SeedRun>, usize) {
    let n = shard.count;
    let mut runs = Vec::new();
    let mut recorded = 0;
    for (a, z) in union(ranges) {
        // Walk the shard's seeds in a..z, one gap at a time.
        let mut next = shard.first(&(a..z));
        let lo = seeds.partition_point(|&s| s < a);
        let hi = seeds.partition_point(|&s| s < z);
        for &s in &seeds[lo..hi] {
            if s > next {
                runs.push(SeedRun { first: next, last: s - n, step: n });
            }
            next = s.saturating_add(n);
        }
        recorded += hi - lo;
        if next < z {
            runs.push(SeedRun { first: next, last: next + (z - 1 - next) / n * n, step: n });
        }
    }
    (runs, recorded)
}

/// The first few missing seeds (at most 10) of the sorted runs, whole
/// shards included (step 0 marks them).
fn first_missing(all_runs: &[SeedRun], n: u64) -> Vec<u64> {
    let mut first: Vec<u64> = Vec::new();
    for r in all_runs {
        if first.len() >= 10 && first.last().is_some_and(|&l| r.first > l) {
            break;
        }
        let step = if r.step == 0 { n } else { r.step };
        first.extend(SeedRun { step, ..*r }.seeds().take(10));
        first.sort_unstable();
        first.truncate(10);
    }
    first
}

/// Missing shards and seeds, compactly: `shard 1/2 (seeds 0..20); seeds
/// 4, 8..=12 step 2`; at most 20 runs of seeds, then how many more.
pub fn missing_list(sc: &ScenarioSummary) -> String {
    const SHOWN: usize = 20;
    let mut parts = Vec::new();
    if !sc.missing_shards.is_empty() {
        let shards: Vec<String> = sc.missing_shards.iter().map(ToString::to_string).collect();
        let label = if shards.len() == 1 { "shard" } else { "shards" };
        parts.push(format!("{label} {} (no result at all)", shards.join(", ")));
    }
    if !sc.missing_runs.is_empty() {
        let mut runs: Vec<String> = sc.missing_runs.iter().take(SHOWN).map(ToString::to_string).collect();
        if sc.missing_runs.len() > SHOWN {
            runs.push(format!("… ({} more runs of seeds)", sc.missing_runs.len() - SHOWN));
        }
        parts.push(format!("seeds {}", runs.join(", ")));
    }
    parts.join("; ")
}

/// The human summary (for stderr).
pub fn render_summary(s: &Summary) -> String {
    use fmt::Write as _;
    let mut o = String::new();
    for sc in &s.scenarios {
        o.push_str(&scenario_text(sc));
    }
    for w in &s.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    let rates_failed = s.scenarios.iter().flat_map(|sc| &sc.rates).filter(|r| !r.met).count();
    if rates_failed > 0 {
        let _ = writeln!(o, "total: {} runs, {} failed; {rates_failed} rate expectations below their required share", s.runs, s.failed);
    } else {
        let _ = writeln!(o, "total: {} runs, {} failed", s.runs, s.failed);
    }
    o
}

/// One scenario's part of the human summary: its runs, failures counted,
/// fault kinds, figures, checkpoints, rates, missing seeds and each failure.
fn scenario_text(sc: &ScenarioSummary) -> String {
    use fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(o, "{} ({}, file hash {})", sc.scenario, sc.file, sc.file_hash);
    let _ = writeln!(o, "  runs {}  failed {}", sc.runs, sc.failure_rate);
    if sc.failed > 0 {
        o.push_str(&failure_counts_text(sc));
    }
    if !sc.fault_kinds.is_empty() {
        let kinds: Vec<String> =
            sc.fault_kinds.iter().map(|k| format!("{} {} (effect in {} runs)", k.kind, pct(k.share_fired), k.runs_effect)).collect();
        let _ = writeln!(o, "  fault kinds fired in: {}", kinds.join(", "));
    }
    if !sc.processes.is_empty() {
        let procs: Vec<String> =
            sc.processes.iter().map(|k| format!("{} {} ({} of them failed)", k.kind, pct(k.share_fired), k.failed_runs)).collect();
        let _ = writeln!(o, "  random fault processes enabled in: {}", procs.join(", "));
    }
    o.push_str(&figures_text(&sc.figures));
    for c in &sc.checkpoints {
        let _ = writeln!(o, "  checkpoint {c}");
    }
    o.push_str(&marks_text(sc));
    for r in &sc.rates {
        let _ = writeln!(o, "  rate {}: {r}", if r.met { "met" } else { "FAILED" });
        if !r.missed_seeds.is_empty() {
            let first = r.missed_seeds.iter().map(|&seed| repro_command(&sc.file, seed)).collect::<Vec<_>>();
            let _ = writeln!(o, "    missed first on: {}", first.join("; "));
        }
    }
    if let Some(m) = sc.missing.filter(|m| *m > 0) {
        let _ = writeln!(o, "  INCOMPLETE: {m} seeds asked for have no result: {}", missing_list(sc));
    }
    for x in &sc.failures {
        let kinds = if x.fault_kinds.is_empty() { "none".to_string() } else { x.fault_kinds.join(",") };
        let _ = writeln!(o, "  seed {} {} [{}] faults {}: {}", x.seed, x.outcome, x.failed.join("; "), kinds, x.repro);
    }
    o
}

/// The coverage line: the runs that reached each mark, and the marks no run
/// reached (nothing when there were no runs).
fn marks_text(sc: &ScenarioSummary) -> String {
    if sc.runs == 0 {
        return String::new();
    }
    let (reached, never): (Vec<&MarkCoverage>, Vec<&MarkCoverage>) = sc.marks.iter().partition(|m| m.runs > 0);
    let reached: Vec<String> = reached.iter().map(|m| format!("{} {}/{}", m.mark, m.runs, sc.runs)).collect();
    let never: Vec<&str> = never.iter().map(|m| m.mark.as_str()).collect();
    let reached = if reached.is_empty() { "none".to_string() } else { reached.join(", ") };
    let never = if never.is_empty() { "none".to_string() } else { never.join(", ") };
    format!("  coverage: marks reached (runs): {reached}; never reached: {never}\n")
}

/// The failures counted by outcome, by expectation missed and by fault kind
/// fired.
fn failure_counts_text(sc: &ScenarioSummary) -> String {
    use fmt::Write as _;
    let mut o = String::new();
    let list = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
    let by_outcome: BTreeMap<String, u64> =
        sc.by_outcome.iter().map(|(k, v)| (if k == "ok" { "ok (expectations missed)".to_string() } else { k.clone() }, *v)).collect();
    let _ = writeln!(o, "  failures by outcome: {}", list(&by_outcome));
    let _ = writeln!(o, "  failures by expectation: {}", list(&sc.by_expectation));
    let by_kind = if sc.by_fault_kind.is_empty() { "no fault fired".to_string() } else { list(&sc.by_fault_kind) };
    let _ = writeln!(o, "  failures by fault kind fired: {by_kind}");
    o
}

/// The figures over all runs: totals, worst values, and each service's
/// longest outage.
fn figures_text(f: &FigureSummary) -> String {
    use fmt::Write as _;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "  lost {} (max {}/run)  delivered {}  duplicates {}+{} (client)  bounces {}  users affected {}  mailboxes offline {}  restored {}  delay max {}",
        f.lost_total,
        f.lost_max,
        f.delivered_total,
        f.duplicates_total,
        f.client_duplicates_total,
        f.bounces_total,
        Share(f.users_affected_peak_ppm_max),
        Share(f.peak_unavailable_ppm_max),
        f.restored_us_max.map_or("-".to_string(), |t| HumanDuration(t as i64).readable()),
        HumanDuration(f.delay_s_max as i64 * 1_000_000).readable()
    );
    if !f.service_down_s_max.is_empty() {
        let down: Vec<String> = crate::run::SERVICES
            .iter()
            .filter_map(|(name, _)| {
                f.service_down_s_max.get(*name).map(|&s| format!("{name} {}", HumanDuration(s as i64 * 1_000_000).readable()))
            })
            .collect();
        let _ = writeln!(o, "  longest down (a service failing for at least one user): {}", down.join(", "));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_failures_state_the_rule_of_three_bound() {
        let r = Rate::new(0, 100_000);
        assert_eq!(r.high95, 3e-5);
        assert_eq!(r.to_string(), "0 of 100000 (95% upper bound ≈ 3/n = 0.00300%)");
        assert_eq!(Rate::new(0, 2).high95, 1.0, "capped at 100%");
    }

    #[test]
    fn the_wilson_interval_brackets_the_share() {
        let r = Rate::new(9, 20);
        assert!((r.low95 - 0.2582).abs() < 1e-3 && (r.high95 - 0.6579).abs() < 1e-3, "{r:?}");
        let all = Rate::new(5, 5);
        assert!(all.high95 <= 1.0 && all.low95 > 0.5, "{all:?}");
    }

    /// Newcombe (1998), "Two-sided confidence intervals for the single
    /// proportion", Statistics in Medicine 17, Table I, method 3 (the Wilson
    /// score interval without continuity correction), to four decimals.
    #[test]
    fn the_wilson_interval_matches_published_values() {
        for (k, n, low, high) in [(81, 263, 0.2553, 0.3662), (15, 148, 0.0624, 0.1605), (0, 20, 0.0, 0.1611), (1, 29, 0.0061, 0.1718)] {
            let (l, h) = wilson95(k, n);
            assert!((l - low).abs() < 5e-5 && (h - high).abs() < 5e-5, "{k}/{n}: [{l:.5}, {h:.5}], published [{low}, {high}]");
        }
        assert_eq!(wilson95(0, 0), (0.0, 1.0), "no runs say nothing");
        let (l, h) = wilson95(10, 10);
        assert!((l - 0.7225).abs() < 5e-5 && h == 1.0, "all met: [{l}, {h}]");
    }

    fn flags(met: bool) -> Vec<RateFlag> {
        vec![RateFlag { name: "max delivery delay".into(), holds_on_ppm: 900_000, met }]
    }

    #[test]
    fn a_rate_expectation_is_met_at_its_share_and_not_below() {
        // 9 of 10 = 90%: exactly the required share.
        let runs: Vec<(u64, Vec<RateFlag>)> = (0..10).map(|s| (s, flags(s != 4))).collect();
        let c = &rate_checks(runs.iter().map(|(s, f)| (*s, f.as_slice())))[0];
        assert!(c.met && !c.clearly_missed(), "{c}");
        assert_eq!((c.pass_rate.k, c.pass_rate.n, c.missed_seeds.clone()), (9, 10, vec![4]));
        // 8 of 10: below it, but 10 seeds cannot say so clearly.
        let runs: Vec<(u64, Vec<RateFlag>)> = (0..10).map(|s| (s, flags(s > 1))).collect();
        let c = &rate_checks(runs.iter().map(|(s, f)| (*s, f.as_slice())))[0];
        assert!(!c.met && !c.clearly_missed(), "{c}");
        // 50 of 100: clearly below.
        let runs: Vec<(u64, Vec<RateFlag>)> = (0..100).map(|s| (s, flags(s % 2 == 0))).collect();
        let c = &rate_checks(runs.iter().map(|(s, f)| (*s, f.as_slice())))[0];
        assert!(!c.met && c.clearly_missed(), "{c}");
        assert_eq!(c.missed_seeds.len(), RATE_MISSED_MAX);
        assert_eq!(
            c.to_string(),
            "max delivery delay: met on 50 of 100 seeds = 50.0% (95% CI 40.4%–59.6%), required: at least 90% of seeds"
        );
    }

    #[test]
    fn percentages_keep_three_significant_digits() {
        assert_eq!(pct(0.0), "0%");
        assert_eq!(pct(0.5), "50.0%");
        assert_eq!(pct(0.0125), "1.25%");
        assert_eq!(pct(3e-5), "0.00300%");
    }

    fn entry(start: u64, end: u64, index: u64, count: u64) -> ManifestEntry {
        ManifestEntry {
            scenario: "s".into(),
            file_hash: "h".into(),
            file: "s.toml".into(),
            seeds_start: start,
            seeds_end: end,
            shard: Shard { index, count },
            expectations: Vec::new(),
        }
    }

    fn rec(seed: u64) -> Record {
        serde_json::from_value(serde_json::json!({
            "scenario": "s", "file": "s.toml", "file_hash": "h", "seed": seed, "outcome": "ok", "passed": true,
            "trace_hash": "0", "events": 1, "lost": 0, "delivered": 0, "duplicates": 0, "client_duplicates": 0,
            "returned": 0, "sender_bounced": 0, "peak_unavailable_ppm": 0, "restored_us": null, "delay_s_max": 0
        }))
        .expect("a record")
    }

    /// Coverage counts the runs that reached each mark, lists every mark of
    /// the table, and names the ones no run reached.
    #[test]
    fn coverage_counts_runs_per_mark_and_names_the_marks_never_reached() {
        let mut a = rec(0);
        a.marks = vec!["fence-failed".to_string(), "misdiagnosis".to_string()];
        let mut b = rec(1);
        b.marks = vec!["fence-failed".to_string()];
        let c = rec(2);
        let s = summarize([&a, &b, &c], &[], &[]);
        let marks = &s.scenarios[0].marks;
        assert_eq!(marks.len(), Mark::ALL.len(), "every mark is listed, reached or not");
        let runs = |name: &str| marks.iter().find(|m| m.mark == name).map(|m| m.runs);
        assert_eq!((runs("fence-failed"), runs("misdiagnosis"), runs("failover")), (Some(2), Some(1), Some(0)));
        let text = render_summary(&s);
        let line = text.lines().find(|l| l.contains("coverage:")).expect("a coverage line");
        assert!(line.contains("fence-failed 2/3") && line.contains("misdiagnosis 1/3"), "{line}");
        let never = line.split("never reached: ").nth(1).expect("the unreached marks");
        assert!(never.contains("failover") && !never.contains("fence-failed"), "{line}");
    }

    /// The missing seeds by brute force: every seed some entry covers (all
    /// shards of it when `all_shards`) without a record.
    fn brute(have: &[u64], entries: &[ManifestEntry], all_shards: bool) -> Vec<u64> {
        let end = entries.iter().map(|m| m.seeds_end).max().unwrap_or(0);
        (0..end)
            .filter(|s| entries.iter().any(|m| (m.seeds_start..m.seeds_end).contains(s) && (all_shards || m.shard.contains(*s))))
            .filter(|s| !have.contains(s))
            .collect()
    }

    #[test]
    fn missing_seeds_match_a_brute_force_count_and_name_absent_shards() {
        let cases: Vec<(Vec<u64>, Vec<ManifestEntry>)> = vec![
            ((0..20).step_by(2).collect(), vec![entry(0, 20, 0, 2)]),
            (vec![0, 2, 4, 1], vec![entry(0, 20, 0, 2), entry(0, 20, 1, 2)]),
            (vec![3, 9], vec![entry(0, 12, 0, 3), entry(5, 30, 1, 3)]),
            (vec![1, 2, 3, 10], vec![entry(0, 12, 0, 1)]),
            (vec![], vec![entry(7, 9, 4, 5)]),
            (vec![5, 6], vec![entry(0, 10, 0, 1), entry(20, 25, 1, 2)]),
        ];
        for (have, entries) in cases {
            let rs: Vec<Record> = have.iter().map(|&s| rec(s)).collect();
            let refs: Vec<&Record> = rs.iter().collect();
            let es: Vec<&ManifestEntry> = entries.iter().collect();
            for all_shards in [true, false] {
                let want = brute(&have, &entries, all_shards);
                let m = missing(&refs, &es, all_shards);
                assert_eq!(m.count, want.len() as u64, "{have:?} {entries:?} all_shards {all_shards}");
                assert_eq!(m.first, want.iter().copied().take(10).collect::<Vec<_>>(), "{have:?} {entries:?}");
                let mut listed: Vec<u64> = m.runs.iter().flat_map(SeedRun::seeds).collect();
                for s in &m.shards {
                    listed.extend(want.iter().filter(|x| s.contains(**x)));
                }
                listed.sort_unstable();
                assert_eq!(listed, want, "runs and shards list every missing seed once: {have:?} {entries:?}");
            }
        }
        // Shard 1 of 2 never ran: named as a shard, not as ten seeds.
        let rs: Vec<Record> = (0..20).step_by(2).map(rec).collect();
        let refs: Vec<&Record> = rs.iter().collect();
        let e = entry(0, 20, 0, 2);
        let m = missing(&refs, &[&e], true);
        assert_eq!((m.count, m.shards.clone(), m.runs.len()), (10, vec![Shard { index: 1, count: 2 }], 0));
        assert_eq!(missing(&refs, &[&e], false).count, 0, "one sweep asks only for its own shard");
    }

    #[test]
    fn a_huge_range_costs_nothing_to_check() {
        let e = entry(0, u64::MAX, 0, 1);
        let rs = [rec(5)];
        let m = missing(&[&rs[0]], &[&e], true);
        assert_eq!(m.count, u64::MAX - 1);
        assert_eq!(m.runs, vec![SeedRun { first: 0, last: 4, step: 1 }, SeedRun { first: 6, last: u64::MAX - 1, step: 1 }]);
    }
}
