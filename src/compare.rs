//! Comparing two plans on paired seeds, with bootstrap confidence intervals.
//!
//! A design review asks "does the parallel rebuild restore mailboxes
//! sooner, and what does it cost?" (OpenSRS, 2008: three volumes rebuilt one
//! after another, users back over days). `mailsim compare A.toml B.toml
//! --seeds 0..200` runs both scenario files on the same seeds. The kernel
//! draws every random number from streams named per purpose and seeded by
//! the run seed, so on one seed both plans face the same fault draws, sender
//! behaviour and operator delays wherever the plans do not differ — common
//! random numbers — and the difference B − A of a seed is mostly the effect
//! of the change, not noise. Seeds run in parallel, one single-threaded run
//! per thread.
//!
//! For each metric the report gives the means, the mean paired difference
//! B − A and its 95% confidence interval by the percentile bootstrap over
//! the paired differences (Efron and Tibshirani, "An Introduction to the
//! Bootstrap", 1993, ch. 13; at least 2,000 resamples, the resampling stream
//! seeded deterministically so a report is reproducible). Lower is better for
//! every metric; as in criterion's change reports, a difference counts as
//! "improved" or "regressed" only when its interval excludes zero, otherwise
//! "no significant change".
//!
//! For the rare bad events (lost, duplicate, bounced mail) the report also
//! gives the share of runs that had any. Zero such runs out of n does not
//! mean a rate of 0%: the 95% upper bound is about 3/n (the "rule of three",
//! Hanley and Lippman-Hand, JAMA 1983); with some, a Wilson score interval.
//!
//! Metrics per run: time to full restore (when the last unavailable mailbox
//! came back, hours from T+0; 0 if none was ever unavailable; a run that never
//! restored everything counts its end, as a lower bound, and is flagged);
//! mailbox-hours unavailable (the unavailability curve integrated to the end
//! of the run); p50/p99/max delivery delay (seconds, author to mailbox);
//! bounces (mail given up by senders plus mail returned by the cluster's own
//! MTAs); duplicates (duplicate deliveries plus mail downloaded twice by
//! clients); lost mail.

use std::ops::Range;
use std::path::PathBuf;
use std::process::ExitCode;

use mailsim_sim::Stream;
use serde::Serialize;

use crate::junit::{junit_xml, JunitCase, JunitSuite};
use crate::note;
use crate::pool::{cores, map_jobs};
use crate::run::{run, RunResult};
use crate::scenario::Scenario;
use crate::sweep::Rate;

/// `mailsim compare A.toml B.toml --seeds 0..200`
#[derive(clap::Args, Clone, Debug)]
pub struct CompareArgs {
    /// The baseline plan.
    pub a: PathBuf,
    /// The candidate plan (differences are B − A).
    pub b: PathBuf,
    /// Seeds: `0..200` (end excluded), `0..=199`, or `200` for 0..200; at
    /// most 100,000 per invocation.
    #[arg(long, default_value = "0..200", value_parser = parse_seeds)]
    pub seeds: Range<u64>,
    /// Bootstrap resamples (at least 2000).
    #[arg(long, default_value_t = 10_000)]
    pub resamples: u32,
    /// Print the comparison as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Exit 1 if any metric regressed.
    #[arg(long)]
    pub fail_on_regression: bool,
    /// Write a JUnit XML report: one test case per metric, failing if it
    /// regressed.
    #[arg(long)]
    pub junit: Option<PathBuf>,
}

/// The most seeds one `mailsim compare` may ask for (10^5). Both plans run
/// on every seed and every run's metrics are kept for the bootstrap, which
/// resamples all of them 10,000 times per metric: 10^5 seeds are already
/// 8 × 10^9 draws. Intervals from a few thousand seeds are narrow enough for
/// any plan decision.
pub const COMPARE_SEEDS_MAX: u64 = 100_000;

/// Parses `a..b`, `a..=b` or `n` (= `0..n`), at most [`COMPARE_SEEDS_MAX`]
/// seeds.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    crate::sweep::parse_seed_range(text, COMPARE_SEEDS_MAX)
}

/// One metric: a key for JSON, a name for people, a unit.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Metric {
    pub key: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    /// A count of bad events, for which the share of runs with any is shown.
    pub rare: bool,
}

/// The metrics compared, in report order. Lower is better for all.
pub const METRICS: [Metric; 15] = [
    Metric { key: "restore_h", name: "time to full restore", unit: "h", rare: false },
    Metric { key: "mailbox_hours", name: "mailbox-hours unavailable", unit: "mbx·h", rare: false },
    Metric { key: "delay_s_p50", name: "delivery delay p50", unit: "s", rare: false },
    Metric { key: "delay_s_p99", name: "delivery delay p99", unit: "s", rare: false },
    Metric { key: "delay_s_max", name: "delivery delay max", unit: "s", rare: false },
    Metric { key: "bounces", name: "bounces", unit: "mails", rare: true },
    Metric { key: "duplicates", name: "duplicates", unit: "mails", rare: true },
    Metric { key: "lost", name: "lost", unit: "mails", rare: true },
    Metric { key: "user_hours", name: "user-hours without full service", unit: "user·h", rare: false },
    Metric { key: "users_affected_peak", name: "users without full service (peak)", unit: "%", rare: false },
    Metric { key: "smtp_failed", name: "SMTP attempts failed", unit: "%", rare: false },
    Metric { key: "pop_failed", name: "POP logins failed", unit: "%", rare: false },
    Metric { key: "imap_failed", name: "IMAP logins failed", unit: "%", rare: false },
    Metric { key: "webmail_failed", name: "webmail accesses failed", unit: "%", rare: false },
    Metric { key: "no_service_user_hours", name: "user-hours without any service", unit: "user·h", rare: false },
];

/// What one run contributes to a comparison.
#[derive(Clone, Debug, Serialize)]
pub struct RunMetrics {
    pub seed: u64,
    /// In the order of `METRICS`.
    pub values: [f64; METRICS.len()],
    /// Mailboxes were still unavailable at the end: the restore time is the
    /// end of the run, a lower bound.
    pub restore_censored: bool,
    pub passed: bool,
    pub outcome: String,
}

/// Mailbox-hours unavailable: the step curve `(µs, count)` integrated up to
/// `end_us`.
pub fn mailbox_hours(curve: &[(u64, u32)], end_us: u64) -> f64 {
    let mut total_us: u128 = 0;
    for (i, &(t, n)) in curve.iter().enumerate() {
        let next = curve.get(i + 1).map_or(end_us, |x| x.0).min(end_us);
        total_us += n as u128 * next.saturating_sub(t) as u128;
    }
    total_us as f64 / 3.6e9
}

pub fn metrics_of(r: &RunResult) -> RunMetrics {
    let f = &r.figures;
    let end_us = r.report.end.as_micros();
    let ever = f.unavailable.iter().any(|x| x.1 > 0);
    let (restore_us, censored) = match f.restored_us {
        Some(t) => (t, false),
        None if ever => (end_us, true),
        None => (0, false),
    };
    RunMetrics {
        seed: f.seed,
        values: [
            restore_us as f64 / 3.6e9,
            mailbox_hours(&f.unavailable, end_us),
            f.delay_s_p50 as f64,
            f.delay_s_p99 as f64,
            f.delay_s_max as f64,
            (f.sender_bounced + f.returned) as f64,
            (f.duplicates + f.client_duplicates) as f64,
            f.lost as f64,
            f.availability.user_minutes.without_full_service_total as f64 / 60.0,
            f.users_affected_peak() as f64 / 10_000.0,
            f.availability.smtp.failed_share as f64 / 10_000.0,
            f.availability.pop.failed_share as f64 / 10_000.0,
            f.availability.imap.failed_share as f64 / 10_000.0,
            f.availability.webmail.failed_share as f64 / 10_000.0,
            f.availability.user_minutes.without_full_service_total.saturating_sub(f.availability.user_minutes.partial_total) as f64 / 60.0,
        ],
        restore_censored: censored,
        passed: r.passed(),
        outcome: f.outcome.clone(),
    }
}

/// The 95% percentile-bootstrap interval of the mean of `diffs`.
pub fn bootstrap_ci(diffs: &[f64], resamples: u32, rng: &mut Stream) -> (f64, f64) {
    assert!(!diffs.is_empty(), "a bootstrap needs data");
    let n = diffs.len();
    let mut means: Vec<f64> = (0..resamples.max(1))
        .map(|_| {
            let sum: f64 = (0..n).map(|_| diffs[rng.below(n as u64) as usize]).sum();
            sum / n as f64
        })
        .collect();
    means.sort_by(f64::total_cmp);
    let r = means.len();
    let lo = ((0.025 * r as f64).floor() as usize).min(r - 1);
    let hi = (((0.975 * r as f64).ceil() as usize).max(1) - 1).min(r - 1);
    (means[lo], means[hi])
}

/// A criterion-style verdict on a difference (lower is better).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Improved,
    Regressed,
    NoSignificantChange,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Change::Improved => "improved",
            Change::Regressed => "regressed",
            Change::NoSignificantChange => "no significant change",
        })
    }
}

/// One metric compared.
#[derive(Clone, Debug, Serialize)]
pub struct MetricComparison {
    pub metric: Metric,
    pub mean_a: f64,
    pub mean_b: f64,
    /// Mean of the paired differences B − A.
    pub mean_diff: f64,
    pub ci_low: f64,
    pub ci_high: f64,
    /// `mean_diff / mean_a`, if `mean_a` is not zero.
    pub relative: Option<f64>,
    pub change: Change,
    /// For rare bad events: the share of runs with any, per plan.
    pub runs_with_any_a: Option<Rate>,
    pub runs_with_any_b: Option<Rate>,
}

/// One plan's side of a comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub file: String,
    pub scenario: String,
    /// Runs meeting every expectation of the file.
    pub runs_passed: u32,
    /// Runs that never restored every mailbox.
    pub restore_censored: u32,
    pub runs: Vec<RunMetrics>,
}

/// A whole comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub a: Plan,
    pub b: Plan,
    pub seeds: [u64; 2],
    pub n: u32,
    pub resamples: u32,
    pub confidence: f64,
    pub metrics: Vec<MetricComparison>,
    pub notes: Vec<String>,
}

impl Comparison {
    pub fn metric(&self, key: &str) -> Option<&MetricComparison> {
        self.metrics.iter().find(|m| m.metric.key == key)
    }
    pub fn any_regressed(&self) -> bool {
        self.metrics.iter().any(|m| m.change == Change::Regressed)
    }
}

/// Fixed seed of the resampling streams (a report is reproducible).
const BOOTSTRAP_SEED: u64 = 0x0b00_7577_ec0d_e5ed;

/// Compares per-run metrics of two plans on the same seeds (paired by index).
pub fn compare_runs(a: &[RunMetrics], b: &[RunMetrics], resamples: u32) -> Vec<MetricComparison> {
    assert_eq!(a.len(), b.len(), "paired runs");
    assert!(!a.is_empty(), "at least one seed");
    assert!(a.iter().zip(b).all(|(x, y)| x.seed == y.seed), "runs paired by seed");
    let n = a.len() as f64;
    METRICS
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let diffs: Vec<f64> = a.iter().zip(b).map(|(x, y)| y.values[i] - x.values[i]).collect();
            let mean_a = a.iter().map(|x| x.values[i]).sum::<f64>() / n;
            let mean_b = b.iter().map(|x| x.values[i]).sum::<f64>() / n;
            let mean_diff = diffs.iter().sum::<f64>() / n;
            let mut rng = Stream::new(BOOTSTRAP_SEED, m.key);
            let (ci_low, ci_high) = bootstrap_ci(&diffs, resamples, &mut rng);
            let change = if ci_low > 0.0 {
                Change::Regressed
            } else if ci_high < 0.0 {
                Change::Improved
            } else {
                Change::NoSignificantChange
            };
            let any = |runs: &[RunMetrics]| {
                m.rare.then(|| Rate::new(runs.iter().filter(|r| r.values[i] > 0.0).count() as u64, runs.len() as u64))
            };
            MetricComparison {
                metric: *m,
                mean_a,
                mean_b,
                mean_diff,
                ci_low,
                ci_high,
                relative: (mean_a != 0.0).then(|| mean_diff / mean_a),
                change,
                runs_with_any_a: any(a),
                runs_with_any_b: any(b),
            }
        })
        .collect()
}

/// Runs both plans on every seed (in parallel across seeds) and compares.
pub fn compare(a: &Scenario, b: &Scenario, seeds: Range<u64>, resamples: u32) -> Comparison {
    compare_keeping(a, b, seeds, resamples, |_| ()).0
}

/// [`compare`], also keeping `keep` of each run (A's and B's, per seed in
/// order): what a report draws beside the metrics, such as curves.
pub fn compare_keeping<T: Send>(
    a: &Scenario,
    b: &Scenario,
    seeds: Range<u64>,
    resamples: u32,
    keep: impl Fn(&RunResult) -> T + Sync,
) -> (Comparison, Vec<(T, T)>) {
    let resamples = resamples.max(2000);
    assert!(!seeds.is_empty(), "at least one seed");
    // Memory grows with the seeds run, not with the range asked for.
    let pairs = map_jobs(seeds.end - seeds.start, cores(), |j| {
        let seed = seeds.start + j;
        let (x, y) = (run(a, seed), run(b, seed));
        ((metrics_of(&x), metrics_of(&y)), (keep(&x), keep(&y)))
    });
    let (mut ra, mut rb, mut kept) = (Vec::with_capacity(pairs.len()), Vec::with_capacity(pairs.len()), Vec::with_capacity(pairs.len()));
    for ((x, y), k) in pairs {
        ra.push(x);
        rb.push(y);
        kept.push(k);
    }
    let metrics = compare_runs(&ra, &rb, resamples);
    let n = ra.len() as u32;
    let plan = |s: &Scenario, runs: Vec<RunMetrics>| Plan {
        file: s.path.display().to_string(),
        scenario: s.name().to_string(),
        runs_passed: runs.iter().filter(|r| r.passed).count() as u32,
        restore_censored: runs.iter().filter(|r| r.restore_censored).count() as u32,
        runs,
    };
    let (pa, pb) = (plan(a, ra), plan(b, rb));
    let mut notes = Vec::new();
    if n < 20 {
        notes.push(format!("only {n} seeds: the intervals are rough; use a few hundred for a decision"));
    }
    for (label, p) in [("A", &pa), ("B", &pb)] {
        if p.restore_censored > 0 {
            notes.push(format!(
                "{label}: {} of {n} runs never restored every mailbox; their restore time is the end of the run (a lower bound)",
                p.restore_censored
            ));
        }
        if p.runs_passed < n {
            let fail = Rate::new((n - p.runs_passed) as u64, n as u64);
            notes.push(format!("{label}: {} failed an expectation of its file", fail));
        }
    }
    (Comparison { a: pa, b: pb, seeds: [seeds.start, seeds.end], n, resamples, confidence: 0.95, metrics, notes }, kept)
}

/// Decimals for a row: none for an interval a unit wide or more, enough for
/// two significant digits of a narrower one (at most four), by magnitude for
/// a zero-width one.
fn decimals(m: &MetricComparison) -> usize {
    let width = m.ci_high - m.ci_low;
    if width >= 1.0 {
        0
    } else if width > 0.0 {
        (1 - width.log10().floor() as i32).clamp(1, 4) as usize
    } else {
        let a = m.mean_a.abs().max(m.mean_b.abs());
        if a == 0.0 || a >= 100.0 {
            0
        } else if a >= 10.0 {
            1
        } else {
            2
        }
    }
}

fn num(x: f64, d: usize) -> String {
    if x == 0.0 {
        "0".to_string()
    } else {
        format!("{x:.d$}")
    }
}

fn signed(x: f64, d: usize) -> String {
    if x > 0.0 {
        format!("+{}", num(x, d))
    } else {
        num(x, d)
    }
}

/// The human report.
pub fn render(c: &Comparison) -> String {
    let mut s = String::new();
    s.push_str(&format!("A: {} ({})\nB: {} ({})\n", c.a.scenario, c.a.file, c.b.scenario, c.b.file));
    s.push_str(&format!(
        "seeds {}..{} ({} paired runs, common random numbers); B − A, 95% percentile-bootstrap CI ({} resamples); lower is better\n\n",
        c.seeds[0], c.seeds[1], c.n, c.resamples
    ));
    s.push_str(&format!(
        "{:<26} {:>6} {:>10} {:>10} {:>10} {:>23} {:>8}  {}\n",
        "metric", "unit", "mean A", "mean B", "B − A", "95% CI", "change", "verdict"
    ));
    for m in &c.metrics {
        let d = decimals(m);
        let ci = format!("[{}, {}]", signed(m.ci_low, d), signed(m.ci_high, d));
        let rel = m.relative.map_or("-".to_string(), |r| format!("{:+.1}%", r * 100.0));
        s.push_str(&format!(
            "{:<26} {:>6} {:>10} {:>10} {:>10} {:>23} {:>8}  {}\n",
            m.metric.name,
            m.metric.unit,
            num(m.mean_a, d),
            num(m.mean_b, d),
            signed(m.mean_diff, d),
            ci,
            rel,
            m.change
        ));
    }
    s.push('\n');
    for m in c.metrics.iter().filter(|m| m.metric.rare) {
        if let (Some(x), Some(y)) = (&m.runs_with_any_a, &m.runs_with_any_b) {
            s.push_str(&format!("runs with any {}: A {x}; B {y}\n", m.metric.name));
        }
    }
    s.push_str(&format!("expectations met: A {}/{} runs, B {}/{} runs\n", c.a.runs_passed, c.n, c.b.runs_passed, c.n));
    for n in &c.notes {
        s.push_str(&format!("note: {n}\n"));
    }
    s
}

/// The comparison as JUnit: one suite, one case per metric, failing when
/// the metric regressed.
pub fn comparison_junit(c: &Comparison) -> Vec<JunitSuite> {
    let class = format!("compare {} vs {}", c.a.scenario, c.b.scenario);
    let cases = c
        .metrics
        .iter()
        .map(|m| {
            let d = decimals(m);
            let line = format!(
                "{}: B − A = {} {} (95% CI [{}, {}]) over {} paired seeds: {}",
                m.metric.name,
                signed(m.mean_diff, d),
                m.metric.unit,
                signed(m.ci_low, d),
                signed(m.ci_high, d),
                c.n,
                m.change
            );
            let mut case = if m.change == Change::Regressed {
                JunitCase::failed(&class, m.metric.name, line.clone(), format!("{line}\nA: {}\nB: {}", c.a.file, c.b.file))
            } else {
                JunitCase::passed(&class, m.metric.name)
            };
            case.system_out = Some(line);
            case
        })
        .collect();
    vec![JunitSuite { name: class, cases, ..JunitSuite::default() }]
}

/// The command.
pub fn compare_cmd(args: &CompareArgs) -> ExitCode {
    if args.resamples < 2000 {
        note!("error: --resamples {}: use at least 2000 for a 95% interval", args.resamples);
        return ExitCode::from(2);
    }
    let load = |p: &PathBuf| {
        let s = Scenario::load(p).map_err(|e| note!("error: {e}"))?;
        crate::ranges::note_midpoints(&s);
        Ok::<Scenario, ()>(s)
    };
    let (Ok(a), Ok(b)) = (load(&args.a), load(&args.b)) else {
        return ExitCode::from(2);
    };
    note!("comparing {} and {} on seeds {}..{} …", a.name(), b.name(), args.seeds.start, args.seeds.end);
    let c = compare(&a, &b, args.seeds.clone(), args.resamples);
    finish_cmd(args, &c)
}

/// The rest of the command once `c` is computed: the report on stdout
/// (JSON with `--json`), JUnit, and the exit code.
pub fn finish_cmd(args: &CompareArgs, c: &Comparison) -> ExitCode {
    if let Err(e) = crate::output::report(&render(c), args.json) {
        note!("error: cannot write to stdout: {e}");
        return ExitCode::from(2);
    }
    if args.json {
        let text = serde_json::to_string_pretty(c).expect("a comparison serializes");
        if let Err(e) = crate::output::stdout_line(&text) {
            note!("error: cannot write to stdout: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(path) = &args.junit {
        if let Err(e) = std::fs::write(path, junit_xml(&comparison_junit(c))) {
            note!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
    }
    if args.fail_on_regression && c.any_regressed() {
        note!(
            "regressed: {}",
            c.metrics.iter().filter(|m| m.change == Change::Regressed).map(|m| m.metric.name).collect::<Vec<_>>().join(", ")
        );
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runs(values: &[f64]) -> Vec<RunMetrics> {
        values
            .iter()
            .enumerate()
            .map(|(i, v)| RunMetrics {
                seed: i as u64,
                values: [*v; METRICS.len()],
                restore_censored: false,
                passed: true,
                outcome: "ok".into(),
            })
            .collect()
    }

    #[test]
    fn seeds_parse() {
        assert_eq!(parse_seeds("0..200").unwrap(), 0..200);
        assert_eq!(parse_seeds("5..=9").unwrap(), 5..10);
        assert_eq!(parse_seeds("50").unwrap(), 0..50);
        assert!(parse_seeds("9..3").is_err());
        assert!(parse_seeds("a..b").is_err());
        assert!(parse_seeds("0").is_err());
        assert!(parse_seeds("0..18446744073709551615").is_err(), "far past the limit");
        assert!(parse_seeds("0..100001").is_err(), "one past the limit");
        assert_eq!(parse_seeds("0..100000").unwrap(), 0..100_000);
    }

    #[test]
    fn identical_runs_give_a_zero_interval() {
        let a = runs(&[1.0, 5.0, 9.0, 2.0]);
        for m in compare_runs(&a, &a, 2000) {
            assert_eq!((m.ci_low, m.ci_high, m.mean_diff), (0.0, 0.0, 0.0), "{}", m.metric.name);
            assert_eq!(m.change, Change::NoSignificantChange);
        }
    }

    #[test]
    fn a_consistent_drop_is_an_improvement_and_a_rise_a_regression() {
        let a = runs(&[10.0, 12.0, 11.0, 13.0, 10.0, 12.0, 11.0, 14.0]);
        let b: Vec<RunMetrics> = a.iter().map(|r| RunMetrics { values: r.values.map(|v| v - 3.0), ..r.clone() }).collect();
        let m = &compare_runs(&a, &b, 2000)[0];
        assert_eq!(m.change, Change::Improved);
        assert!((m.mean_diff + 3.0).abs() < 1e-9 && m.ci_high < 0.0);
        let m = &compare_runs(&b, &a, 2000)[0];
        assert_eq!(m.change, Change::Regressed);
    }

    #[test]
    fn noise_around_zero_is_no_significant_change() {
        let a = runs(&[10.0, 10.0, 10.0, 10.0, 10.0, 10.0]);
        let b = runs(&[12.0, 8.0, 11.0, 9.0, 10.5, 9.5]);
        let m = &compare_runs(&a, &b, 4000)[0];
        assert!(m.ci_low < 0.0 && m.ci_high > 0.0, "{m:?}");
        assert_eq!(m.change, Change::NoSignificantChange);
    }

    #[test]
    fn the_bootstrap_is_reproducible() {
        let d = [1.0, -2.0, 3.0, 0.5, 4.0];
        let x = bootstrap_ci(&d, 2000, &mut Stream::new(1, "x"));
        let y = bootstrap_ci(&d, 2000, &mut Stream::new(1, "x"));
        assert_eq!(x, y);
        assert!(x.0 < 1.3 && x.1 > 1.3);
    }

    #[test]
    fn no_bad_runs_is_the_rule_of_three_not_zero() {
        let a = runs(&[0.0; 200]);
        let b: Vec<RunMetrics> =
            a.iter().map(|r| RunMetrics { values: [if r.seed == 7 { 1.0 } else { 0.0 }; METRICS.len()], ..r.clone() }).collect();
        let lost = compare_runs(&a, &b, 2000).into_iter().find(|m| m.metric.key == "lost").expect("a metric");
        let none = lost.runs_with_any_a.expect("lost is a rare event");
        assert_eq!((none.k, none.n), (0, 200));
        assert!((none.high95 - 0.015).abs() < 1e-12, "{none:?}");
        assert!(none.to_string().contains("upper bound"), "{none}");
        let one = lost.runs_with_any_b.expect("lost is a rare event");
        assert_eq!(one.k, 1);
        assert!(one.high95 > 0.015, "{one:?}");
    }

    #[test]
    fn mailbox_hours_integrate_the_curve() {
        let h = 3_600_000_000;
        let curve = [(0, 0), (h, 10), (3 * h, 4), (4 * h, 0)];
        assert!((mailbox_hours(&curve, 10 * h) - 24.0).abs() < 1e-9);
        assert!((mailbox_hours(&[(0, 0), (h, 2)], 5 * h) - 8.0).abs() < 1e-9, "open at the end: counted to the end");
    }
}
