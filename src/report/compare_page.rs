//! A comparison's page: both plans' curves on the same axes — the median
//! over seeds and the band from the 10th to the 90th percentile — and the
//! paired-difference table with its bootstrap 95% confidence intervals.
//!
//! The curves are each run's step curves (users in full service, mailboxes
//! unavailable) sampled at the same 160 instants, so plans with common
//! random numbers are drawn on one grid; the table is `compare`'s own.

use std::fmt::Write as _;
use std::path::Path;
use std::process::ExitCode;

use serde::Serialize;

use super::data::{percentile, sample, BandPoint, Clock, Series};
use super::{esc, figure, page, plot, table, write_page, COMPARE_PAGE};
use crate::compare::{compare_keeping, finish_cmd, Change, CompareArgs, Comparison};
use crate::note;
use crate::run::RunResult;
use crate::scenario::Scenario;

/// Instants each run's curves are sampled at.
pub const GRID: usize = 160;

/// One run's curves on the grid (percent).
#[derive(Clone, Debug, Serialize)]
pub struct SeedCurves {
    pub users_full: Vec<f64>,
    pub unavailable: Vec<f64>,
}

/// Samples a run's curves at `GRID` instants over `end_s` seconds.
pub fn seed_curves(r: &RunResult, end_s: u64) -> SeedCurves {
    let f = &r.figures;
    let full: Vec<(f64, f64)> = f.availability.users_full_service.iter().map(|p| (p.t_s as f64, f64::from(p.full) / 1e4)).collect();
    let unavailable: Vec<(f64, f64)> = f
        .unavailable
        .iter()
        .map(|&(t, n)| ((t / 1_000_000) as f64, if f.mailboxes == 0 { 0.0 } else { f64::from(n) * 100.0 / f64::from(f.mailboxes) }))
        .collect();
    let at = |i: usize| end_s as f64 * i as f64 / (GRID - 1) as f64;
    SeedCurves {
        users_full: (0..GRID).map(|i| sample(&full, at(i), 100.0)).collect(),
        unavailable: (0..GRID).map(|i| sample(&unavailable, at(i), 0.0)).collect(),
    }
}

/// One plot of a comparison's page: both plans' median and band of one
/// curve; in JSON `[id, title, y_axis, series]`.
#[derive(Clone, Debug)]
pub struct CurvePlot {
    /// The plot's HTML id (`plot-users`).
    pub id: String,
    /// Its title.
    pub title: String,
    /// Its y axis' description.
    pub y_axis: String,
    /// Plan A's and plan B's median and band.
    pub series: Vec<Series>,
}
serde_as_tuple!(CurvePlot { id: String, title: String, y_axis: String, series: Vec<Series> });

/// Everything a comparison's page shows.
#[derive(Clone, Debug, Serialize)]
pub struct CompareData {
    pub a: String,
    pub b: String,
    pub a_file: String,
    pub b_file: String,
    pub seeds: [u64; 2],
    pub n: u32,
    pub clock: Clock,
    pub end_s: u64,
    /// The curves' plots.
    pub curves: Vec<CurvePlot>,
    /// metric, unit, mean A, mean B, B − A, 95% CI, change.
    pub table: Vec<Vec<String>>,
    pub regressed: Vec<bool>,
    pub notes: Vec<String>,
}

fn band(name: &str, color: usize, runs: &[&[f64]], end_s: u64) -> Series {
    let mut points = Vec::with_capacity(GRID);
    let mut band = Vec::with_capacity(GRID);
    for i in 0..GRID {
        let mut v: Vec<f64> = runs.iter().filter_map(|r| r.get(i).copied()).collect();
        v.sort_by(f64::total_cmp);
        let t = end_s as f64 * i as f64 / (GRID - 1) as f64;
        points.push((t, percentile(&v, 50.0)));
        band.push(BandPoint { x: t, low: percentile(&v, 10.0), high: percentile(&v, 90.0) });
    }
    Series { name: name.to_string(), color: Some(color), points, band }
}

/// The data of a comparison's page.
pub fn compare_data(c: &Comparison, curves: &[(SeedCurves, SeedCurves)], clock: Clock, end_s: u64) -> CompareData {
    let label = |p: &str, name: &str| format!("{p}: {name} (median, 10–90% band)");
    let pick = |f: &dyn Fn(&SeedCurves) -> &[f64]| -> (Vec<&[f64]>, Vec<&[f64]>) {
        (curves.iter().map(|(a, _)| f(a)).collect(), curves.iter().map(|(_, b)| f(b)).collect())
    };
    let (fa, fb) = pick(&|s| &s.users_full);
    let (ua, ub) = pick(&|s| &s.unavailable);
    let curves = vec![
        CurvePlot {
            id: "plot-users".to_string(),
            title: "Users in full service".to_string(),
            y_axis: "users in full service".to_string(),
            series: vec![band(&label("A", &c.a.scenario), 0, &fa, end_s), band(&label("B", &c.b.scenario), 1, &fb, end_s)],
        },
        CurvePlot {
            id: "plot-mailboxes".to_string(),
            title: "Mailboxes unavailable".to_string(),
            y_axis: "mailboxes unavailable".to_string(),
            series: vec![band(&label("A", &c.a.scenario), 0, &ua, end_s), band(&label("B", &c.b.scenario), 1, &ub, end_s)],
        },
    ];
    let d = |x: f64| match x.abs() {
        0.0 => "0".to_string(),
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 1.0 => format!("{x:.2}"),
        _ => format!("{x:.4}"),
    };
    let table = c
        .metrics
        .iter()
        .map(|m| {
            vec![
                m.metric.name.to_string(),
                m.metric.unit.to_string(),
                d(m.mean_a),
                d(m.mean_b),
                d(m.mean_diff),
                format!("[{}, {}]", d(m.ci_low), d(m.ci_high)),
                m.change.to_string(),
            ]
        })
        .collect();
    CompareData {
        a: c.a.scenario.clone(),
        b: c.b.scenario.clone(),
        a_file: c.a.file.clone(),
        b_file: c.b.file.clone(),
        seeds: c.seeds,
        n: c.n,
        clock,
        end_s,
        curves,
        table,
        regressed: c.metrics.iter().map(|m| m.change == Change::Regressed).collect(),
        notes: c.notes.clone(),
    }
}

/// The comparison's page.
pub fn compare_page(d: &CompareData) -> Result<String, String> {
    let mut b = String::new();
    let _ = writeln!(b, "<h1>Compare: {} (A) and {} (B)</h1>", esc(&d.a), esc(&d.b));
    let _ = writeln!(
        b,
        "<p class=\"lede\">Both plans on seeds {}..{} ({} pairs, common random numbers): <code>{}</code> and <code>{}</code>.</p>\n<!--nav-->",
        d.seeds[0],
        d.seeds[1],
        d.n,
        esc(&d.a_file),
        esc(&d.b_file)
    );
    b.push_str("<h2 id=\"curves\">Curves over seeds</h2>\n");
    for c in &d.curves {
        b.push_str(&figure(
            &c.id,
            &format!("{}: the median over seeds at each instant, and the band from the 10th to the 90th percentile.", c.title),
            &plot::bands(&d.clock, d.end_s, &c.y_axis, 105.0, &c.series)?,
            c.series.iter().map(|s| s.points.len()).sum(),
            "",
        ));
    }
    b.push_str("<h2 id=\"differences\">Paired differences</h2>\n");
    b.push_str(
        "<p>Lower is better for every metric. B − A is the mean of the per-seed differences; its 95% interval is the percentile bootstrap over them. A change counts only when the interval excludes zero.</p>\n",
    );
    b.push_str(&table(&["metric", "unit", "#mean A", "#mean B", "#B − A", "#95% CI", "change"], &d.table, &|i| d.regressed[i]));
    if !d.notes.is_empty() {
        b.push_str("<h3>Notes</h3>\n<ul>\n");
        for n in &d.notes {
            let _ = writeln!(b, "<li>{}</li>", esc(n));
        }
        b.push_str("</ul>\n");
    }
    let nav = [("curves", "curves"), ("differences", "paired differences")];
    Ok(page(&format!("Compare {} and {} — mailsim", d.a, d.b), &nav, &b))
}

/// Runs a comparison, writes its page into `dir`, then reports as
/// `mailsim compare` does (stdout, JUnit, exit code).
pub fn compare_cmd_with_report(args: &CompareArgs, dir: &Path) -> ExitCode {
    if args.resamples < 2000 {
        note!("error: --resamples {}: use at least 2000 for a 95% interval", args.resamples);
        return ExitCode::from(2);
    }
    let load = |p: &std::path::PathBuf| Scenario::load(p).map_err(|e| note!("error: {e}"));
    let (Ok(a), Ok(b)) = (load(&args.a), load(&args.b)) else {
        return ExitCode::from(2);
    };
    note!("comparing {} and {} on seeds {}..{} …", a.name(), b.name(), args.seeds.start, args.seeds.end);
    match write_compare_report(&a, &b, args.seeds.clone(), args.resamples, dir) {
        Ok((c, path)) => {
            note!("report written to {}", path.display());
            finish_cmd(args, &c)
        }
        Err(e) => {
            note!("error: {e}");
            ExitCode::from(2)
        }
    }
}

/// Compares two plans on `seeds` and writes the page into `dir`.
pub fn write_compare_report(
    a: &Scenario,
    b: &Scenario,
    seeds: std::ops::Range<u64>,
    resamples: u32,
    dir: &Path,
) -> Result<(Comparison, std::path::PathBuf), String> {
    let end_s = (a.file.run.duration.micros().max(b.file.run.duration.micros()) / 1_000_000).max(1) as u64;
    let (c, curves) = compare_keeping(a, b, seeds, resamples, |r| seed_curves(r, end_s));
    let data = compare_data(&c, &curves, Clock { t0: a.file.scenario.t0 }, end_s);
    let path = write_page(dir, COMPARE_PAGE, &compare_page(&data)?)?;
    Ok((c, path))
}
