//! A sweep's page: per scenario, the outcome classes, failures by class and
//! by fault kind with a command that reproduces one of each, the
//! distribution over seeds of the time to restore and of each headline
//! figure, and the checkpoints' hit rates with their 95% intervals.
//!
//! It reads what `sweep` and `merge` wrote (the result directories' records
//! and their summary), so a page can be made of a finished sweep at any time
//! without running anything: `mailsim report RESULT_DIR… --out DIR`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::data::{bins, percentile, Bin};
use super::{esc, figure, page, plot, table, write_page, SWEEP_PAGE};
use crate::sweep::{merge_dirs, summarize, Record, ScenarioSummary, Summary};

/// A distribution over seeds of one figure.
#[derive(Clone, Debug, Serialize)]
pub struct Distribution {
    pub id: String,
    pub name: String,
    pub unit: String,
    /// Seeds with a value.
    pub n: u64,
    /// Seeds without one (for the restore time: never restored, or never
    /// unavailable), stated beside the plot.
    pub without: u64,
    pub min: f64,
    pub median: f64,
    pub p90: f64,
    pub max: f64,
    /// The histogram over seeds.
    pub bins: Vec<Bin>,
}

/// A checkpoint's hit rate over seeds.
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointRate {
    /// `C1`, `C2` … as in a run's page.
    pub label: String,
    pub claim: String,
    pub at: String,
    /// Seeds that hit, of the seeds that measured it.
    pub hit: u64,
    pub of: u64,
    /// The share that hit and its Wilson 95% interval, percent.
    pub hit_pct: f64,
    pub low_pct: f64,
    pub high_pct: f64,
}

/// One scenario of a sweep.
#[derive(Clone, Debug, Serialize)]
pub struct ScenarioSweep {
    pub scenario: String,
    pub file: String,
    pub runs: u64,
    pub failed: u64,
    /// The failure rate with its 95% interval, as the summary says it.
    pub failure_rate: String,
    /// Every run by outcome class: (class, runs).
    pub outcomes: Vec<(String, u64)>,
    /// Failed runs by class (outcome and expectations missed): class, runs,
    /// share of runs, first seed, its repro command.
    pub classes: Vec<Vec<String>>,
    /// Fault kinds: kind, runs it fired in, failed runs among them, their
    /// share, a repro of the first.
    pub fault_kinds: Vec<Vec<String>>,
    pub distributions: Vec<Distribution>,
    /// Checkpoint hit rates.
    pub checkpoints: Vec<CheckpointRate>,
    /// Rate expectations: name, required, met share and interval, met.
    pub rates: Vec<Vec<String>>,
    /// Seeds asked for without a result.
    pub missing: Option<u64>,
}

/// Everything a sweep's page shows.
#[derive(Clone, Debug, Serialize)]
pub struct SweepData {
    pub runs: u64,
    pub failed: u64,
    pub scenarios: Vec<ScenarioSweep>,
    pub warnings: Vec<String>,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

/// The data of a sweep's page from its summary and records.
pub fn sweep_data(summary: &Summary, records: &[&Record]) -> SweepData {
    let scenarios = summary
        .scenarios
        .iter()
        .map(|sc| {
            let rs: Vec<&Record> = records.iter().copied().filter(|r| r.scenario == sc.scenario && r.file_hash == sc.file_hash).collect();
            scenario_sweep(sc, &rs)
        })
        .collect();
    SweepData { runs: summary.runs, failed: summary.failed, scenarios, warnings: summary.warnings.clone() }
}

/// The page's data about one scenario from its summary `sc` and its runs
/// `rs`.
fn scenario_sweep(sc: &ScenarioSummary, rs: &[&Record]) -> ScenarioSweep {
    let (outcomes, classes) = outcome_classes(rs);
    ScenarioSweep {
        scenario: sc.scenario.clone(),
        file: sc.file.clone(),
        runs: sc.runs,
        failed: sc.failed,
        failure_rate: format!(
            "{} of {} runs failed: {} (95% CI {}–{})",
            sc.failure_rate.k,
            sc.failure_rate.n,
            pct(sc.failure_rate.share),
            pct(sc.failure_rate.low95),
            pct(sc.failure_rate.high95)
        ),
        outcomes: outcomes.into_iter().collect(),
        classes,
        fault_kinds: fault_kind_rows(sc, rs),
        distributions: distributions(rs),
        checkpoints: checkpoint_rates(sc),
        rates: rate_rows(sc),
        missing: sc.missing,
    }
}

/// Runs counted by how they ended (passed, an expectation missed, or the
/// outcome), and the failure classes' table rows (outcome and expectations
/// missed; runs; share; the first seed and how to reproduce it).
fn outcome_classes(rs: &[&Record]) -> (BTreeMap<String, u64>, Vec<Vec<String>>) {
    let n = rs.len().max(1) as f64;
    let mut outcomes: BTreeMap<String, u64> = BTreeMap::new();
    let mut classes: BTreeMap<String, (u64, &Record)> = BTreeMap::new();
    for r in rs {
        let class = if r.passed {
            "passed".to_string()
        } else if r.outcome == "ok" {
            "expectation missed".into()
        } else {
            r.outcome.clone()
        };
        *outcomes.entry(class).or_default() += 1;
        if !r.passed {
            let key = format!("{}: {}", r.outcome, if r.failed.is_empty() { "-".to_string() } else { r.failed.join(", ") });
            let e = classes.entry(key).or_insert((0, r));
            e.0 += 1;
            if r.seed < e.1.seed {
                e.1 = r;
            }
        }
    }
    let classes = classes
        .into_iter()
        .map(|(k, (count, r))| vec![k, count.to_string(), pct(count as f64 / n), r.seed.to_string(), r.repro()])
        .collect();
    (outcomes, classes)
}

/// The failures-by-fault-kind table rows: runs the kind fired in, failed
/// runs, their share, and how to reproduce the first.
fn fault_kind_rows(sc: &ScenarioSummary, rs: &[&Record]) -> Vec<Vec<String>> {
    sc.fault_kinds
        .iter()
        .map(|k| {
            let first = rs.iter().filter(|r| !r.passed && r.faults.iter().any(|f| f.kind == k.kind && f.fired > 0)).min_by_key(|r| r.seed);
            vec![
                k.kind.clone(),
                k.runs_fired.to_string(),
                k.failed_runs.to_string(),
                if k.runs_fired == 0 { "-".into() } else { pct(k.failed_runs as f64 / k.runs_fired as f64) },
                first.map_or(String::new(), |r| r.repro()),
            ]
        })
        .collect()
}

/// The distribution of `values` over the seeds (of `runs`; the others have
/// no value), with 20 histogram bins.
fn distribution(id: &str, name: &str, unit: &str, values: Vec<f64>, runs: usize) -> Distribution {
    let without = runs as u64 - values.len() as u64;
    let mut sorted = values;
    sorted.sort_by(f64::total_cmp);
    Distribution {
        id: id.into(),
        name: name.into(),
        unit: unit.into(),
        n: sorted.len() as u64,
        without,
        min: sorted.first().copied().unwrap_or(0.0),
        median: percentile(&sorted, 50.0),
        p90: percentile(&sorted, 90.0),
        max: sorted.last().copied().unwrap_or(0.0),
        bins: bins(&sorted, 20),
    }
}

/// The distributions over seeds the page draws: restore time, delays,
/// peaks, outages, lost, bounced and duplicated mails.
fn distributions(rs: &[&Record]) -> Vec<Distribution> {
    let dist = |id: &str, name: &str, unit: &str, values: Vec<f64>| distribution(id, name, unit, values, rs.len());
    let all = |g: &dyn Fn(&Record) -> f64| rs.iter().map(|r| g(r)).collect::<Vec<f64>>();
    vec![
        dist(
            "restore",
            "time to restore every mailbox",
            "h",
            rs.iter().filter_map(|r| r.restored_us).map(|us| us as f64 / 3.6e9).collect(),
        ),
        dist("delay-max", "longest delivery delay", "h", all(&|r| r.delay_s_max as f64 / 3600.0)),
        dist("mailboxes", "mailboxes offline at the peak", "%", all(&|r| f64::from(r.peak_unavailable_ppm) / 1e4)),
        dist("users", "users without full service at the peak", "%", all(&|r| f64::from(r.users_affected_peak_ppm) / 1e4)),
        dist(
            "service-down",
            "longest time a service failed for some user",
            "h",
            all(&|r| r.service_down_s.values().copied().max().unwrap_or(0) as f64 / 3600.0),
        ),
        dist("lost", "mails lost", "mails", all(&|r| r.lost as f64)),
        dist("bounces", "mails bounced or returned", "mails", all(&|r| (r.sender_bounced + r.returned) as f64)),
        dist("duplicates", "duplicates (deliveries + client re-downloads)", "mails", all(&|r| (r.duplicates + r.client_duplicates) as f64)),
    ]
}

/// Each checkpoint's hit rate, labelled C1, C2, ….
fn checkpoint_rates(sc: &ScenarioSummary) -> Vec<CheckpointRate> {
    sc.checkpoints
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let r = &c.hit_rate;
            CheckpointRate {
                label: format!("C{}", i + 1),
                claim: c.claim.clone(),
                at: c.at.clone(),
                hit: r.k,
                of: r.n,
                hit_pct: r.share * 100.0,
                low_pct: r.low95 * 100.0,
                high_pct: r.high95 * 100.0,
            }
        })
        .collect()
}

/// The rate expectations' table rows: name, required share, the share met
/// with its 95% interval, verdict.
fn rate_rows(sc: &ScenarioSummary) -> Vec<Vec<String>> {
    sc.rates
        .iter()
        .map(|c| {
            let r = &c.pass_rate;
            vec![
                c.name.clone(),
                c.required.to_string(),
                format!("{} of {} = {} (95% CI {}–{})", r.k, r.n, pct(r.share), pct(r.low95), pct(r.high95)),
                if c.met { "met".into() } else { "MISSED".into() },
            ]
        })
        .collect()
}

fn num(x: f64) -> String {
    if x == x.round() && x.abs() < 1e9 {
        format!("{x:.0}")
    } else if x.abs() >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

/// The sweep's page.
pub fn sweep_page(d: &SweepData) -> Result<String, String> {
    let mut b = String::new();
    let badge = if d.failed == 0 { "<span class=\"badge pass\">PASS</span>" } else { "<span class=\"badge fail\">FAIL</span>" };
    let names: Vec<&str> = d.scenarios.iter().map(|s| s.scenario.as_str()).collect();
    let _ = writeln!(b, "<h1>Sweep: {} {badge}</h1>", esc(&names.join(", ")));
    let _ = writeln!(b, "<p class=\"lede\">{} runs, {} failed.</p>\n<!--nav-->", d.runs, d.failed);
    for w in &d.warnings {
        let _ = writeln!(b, "<p class=\"lede\">warning: {}</p>", esc(w));
    }
    let mut nav: Vec<(String, String)> = Vec::new();
    for (si, s) in d.scenarios.iter().enumerate() {
        let id = format!("s{si}");
        nav.push((id.clone(), s.scenario.clone()));
        b.push_str(&scenario_section(&id, s)?);
    }
    let nav: Vec<(&str, &str)> = nav.iter().map(|(a, z)| (a.as_str(), z.as_str())).collect();
    Ok(page(&format!("Sweep of {} — mailsim", names.join(", ")), &nav, &b))
}

/// One scenario's section of the sweep page (anchor `id`): failure rate,
/// outcomes, failures by class and fault kind, distributions, the
/// postmortem's claims, rate expectations.
fn scenario_section(id: &str, s: &ScenarioSweep) -> Result<String, String> {
    let mut b = String::new();
    let _ = writeln!(b, "<h2 id=\"{id}\">{} <small>({})</small></h2>", esc(&s.scenario), esc(&s.file));
    let _ = writeln!(b, "<p>{}</p>", esc(&s.failure_rate));
    if let Some(m) = s.missing.filter(|m| *m > 0) {
        let _ = writeln!(b, "<p class=\"badge fail\">{m} seeds asked for have no result</p>");
    }
    b.push_str("<h3>Outcomes</h3>\n");
    let rows: Vec<(String, f64, usize)> = s
        .outcomes
        .iter()
        .map(|(k, v)| (format!("{k} ({v})"), *v as f64 * 100.0 / s.runs.max(1) as f64, if k == "passed" { 2 } else { 1 }))
        .collect();
    b.push_str(&figure(
        &format!("plot-{id}-outcomes"),
        "Every run by how it ended: passed; an expectation missed; or a violation or stop by class.",
        &plot::bars(&rows, 100.0, "share of runs", true)?,
        rows.len(),
        "",
    ));
    if !s.classes.is_empty() {
        b.push_str("<h3>Failures by class</h3>\n");
        b.push_str(&table(&["outcome: expectations missed", "#runs", "#share", "#first seed", "reproduce"], &s.classes, &|_| true));
    }
    if !s.fault_kinds.is_empty() {
        b.push_str("<h3>Failures by fault kind</h3>\n");
        b.push_str(&table(
            &["fault kind", "#runs it fired in", "#failed runs", "#failed when fired", "reproduce the first"],
            &s.fault_kinds,
            &|i| s.fault_kinds[i][2] != "0",
        ));
    }
    b.push_str(&distributions_section(id, s)?);
    if !s.checkpoints.is_empty() {
        b.push_str(&checkpoints_section(id, s)?);
    }
    if !s.rates.is_empty() {
        b.push_str("<h3>Rate expectations</h3>\n");
        b.push_str(&table(&["expectation", "required share", "met on", "verdict"], &s.rates, &|i| s.rates[i][3] != "met"));
    }
    Ok(b)
}

/// The distributions over seeds: a histogram each, and one line each for
/// those with one value (or none) on every seed.
fn distributions_section(id: &str, s: &ScenarioSweep) -> Result<String, String> {
    let mut b = String::new();
    b.push_str("<h3>Distributions over seeds</h3>\n<div class=\"grid\">\n");
    let mut same = Vec::new();
    for dist in &s.distributions {
        if dist.n == 0 || dist.min == dist.max {
            // Nothing to draw: one value (or none) on every seed.
            same.push(match dist.n {
                0 => format!("{}: no seed has a value", dist.name),
                n if dist.unit == "%" => format!("{}: {}% on all {n} seeds", dist.name, num(dist.min)),
                n => format!("{}: {} {} on all {n} seeds", dist.name, num(dist.min), dist.unit),
            });
            continue;
        }
        let unit = dist.unit.clone();
        // Enough decimals to tell the ticks of a narrow range apart.
        let step = (dist.max - dist.min) / 5.0;
        let decimals = if step >= 1.0 { 0 } else { (-step.log10().floor()) as usize + 1 };
        let label = move |x: f64| format!("{x:.decimals$}{}", if unit == "%" { "%" } else { "" });
        let caption = format!(
            "{} ({}): min {}, median {}, 90th percentile {}, max {}{}",
            dist.name,
            dist.unit,
            num(dist.min),
            num(dist.median),
            num(dist.p90),
            num(dist.max),
            if dist.without > 0 { format!("; {} seeds without a value", dist.without) } else { String::new() }
        );
        b.push_str(&figure(
            &format!("plot-{id}-{}", dist.id),
            &caption,
            &plot::histogram(&dist.bins, &format!("{} ({})", dist.name, dist.unit), &label)?,
            dist.n as usize,
            "half",
        ));
    }
    b.push_str("</div>\n");
    if !same.is_empty() {
        b.push_str("<ul>\n");
        for line in &same {
            let _ = writeln!(b, "<li>{}</li>", esc(line));
        }
        b.push_str("</ul>\n");
    }
    Ok(b)
}

/// The postmortem's claims: the share of seeds that hit each, as bars and as
/// a table.
fn checkpoints_section(id: &str, s: &ScenarioSweep) -> Result<String, String> {
    let mut b = String::new();
    b.push_str("<h3>The postmortem's claims: hit rates</h3>\n");
    let rows: Vec<(String, f64, usize)> = s
        .checkpoints
        .iter()
        .map(|c| (format!("{} {}", c.label, short(&c.claim, 28)), c.hit_pct, if c.hit_pct >= 50.0 { 2 } else { 1 }))
        .collect();
    b.push_str(&figure(
        &format!("plot-{id}-checkpoints"),
        "The share of seeds on which each claim's simulated value fell within what its wording allows.",
        &plot::bars(&rows, 100.0, "seeds that hit", true)?,
        rows.len(),
        "",
    ));
    let trows: Vec<Vec<String>> = s
        .checkpoints
        .iter()
        .map(|c| {
            vec![
                c.label.clone(),
                c.claim.clone(),
                c.at.clone(),
                format!("{} of {}", c.hit, c.of),
                format!("{:.1}% ({:.1}–{:.1}%)", c.hit_pct, c.low_pct, c.high_pct),
            ]
        })
        .collect();
    b.push_str(&table(&["", "claim", "its clock time", "#seeds hit", "#hit rate (95% CI)"], &trows, &|_| false));
    Ok(b)
}

fn short(text: &str, n: usize) -> String {
    if text.chars().count() <= n {
        text.to_string()
    } else {
        text.chars().take(n - 1).chain(std::iter::once('…')).collect()
    }
}

/// Reads sweep result directories and writes their page into `out`.
pub fn write_sweep_report(dirs: &[PathBuf], out: &Path) -> Result<PathBuf, String> {
    let results = merge_dirs(dirs).map_err(|e| e.to_string())?;
    if results.records.is_empty() {
        return Err(format!(
            "no sweep results in {}: nothing to report",
            dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(", ")
        ));
    }
    let summary = summarize(results.records.values(), &results.manifest, &results.warnings);
    let records: Vec<&Record> = results.records.values().collect();
    let html = sweep_page(&sweep_data(&summary, &records))?;
    write_page(out, SWEEP_PAGE, &html)
}
