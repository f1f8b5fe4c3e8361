//! The data behind each plot of a report, as plain serializable values.
//!
//! Every number here comes from what the runner already reports (`run
//! --json`'s figures, a sweep's records and summary, a comparison): this
//! module only selects, converts units (ppm to percent, µs to seconds) and,
//! for a comparison's curves, takes the median and the 10th–90th percentile
//! band over seeds at fixed times. Keeping it apart from the drawing lets
//! the snapshot tests pin what the plots show without pinning SVG.

use mailsim_models::availability::AvailabilitySummary;
use serde::Serialize;

use crate::checkpoints::{Checkpoint, CheckpointResult, Tolerance};
use crate::run::{Figures, RunResult, SERVICES};
use crate::units::{ClockTime, HumanDuration, Share};

/// The postmortem's clock, for axis labels: T+0 is `t0` when the scenario
/// gives it.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Clock {
    #[serde(serialize_with = "clock_text")]
    pub t0: Option<ClockTime>,
}

fn clock_text<S: serde::Serializer>(t0: &Option<ClockTime>, s: S) -> Result<S::Ok, S::Error> {
    match t0 {
        Some(t) => s.serialize_some(&t.to_string()),
        None => s.serialize_none(),
    }
}

impl Clock {
    /// An axis tick `h` hours after T+0: `Tue 14:00` on the postmortem's
    /// clock, else `T+14h`.
    pub fn tick(&self, h: f64) -> String {
        let us = (h * 3600.0).round() as i64 * 1_000_000;
        match self.t0 {
            Some(t0) => {
                let text = t0.plus(HumanDuration(us)).to_string();
                let mut parts = text.split(' ');
                let (day, _date, time) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""), parts.next().unwrap_or(""));
                format!("{day} {time}")
            }
            None => format!("T+{}", HumanDuration(us).readable()),
        }
    }
    /// The time axis' title.
    pub fn axis(&self) -> String {
        match self.t0 {
            Some(t0) => format!("the postmortem's clock (T+0 = {t0})"),
            None => "time from T+0".to_string(),
        }
    }
    /// The time axis' title on a narrow plot (the ticks say the rest).
    pub fn short_axis(&self) -> String {
        match self.t0 {
            Some(t0) => format!("T+0 = {t0}"),
            None => "time from T+0".to_string(),
        }
    }
    /// A time from T+0 (µs) as a person reads it.
    pub fn at(&self, us: u64) -> String {
        match self.t0 {
            Some(t0) => format!("{} (T+{})", t0.plus(HumanDuration(us as i64)), HumanDuration(us as i64).readable()),
            None => format!("T+{}", HumanDuration(us as i64).readable()),
        }
    }
}

/// One curve: (x, y) points in the plot's units; a comparison's curve also
/// has a band.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Series {
    pub name: String,
    /// A palette index (None: the series' position).
    pub color: Option<usize>,
    pub points: Vec<(f64, f64)>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub band: Vec<BandPoint>,
}

/// A band's extent at one x (serialized as `[x, low, high]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandPoint {
    /// The x value, in the plot's units (seconds on a time axis).
    pub x: f64,
    /// The band's lower edge (a comparison: the 10th percentile over seeds).
    pub low: f64,
    /// The band's upper edge (a comparison: the 90th percentile).
    pub high: f64,
}
serde_as_tuple!(BandPoint { x: f64, low: f64, high: f64 });

/// One row of the timeline band.
#[derive(Clone, Debug, Serialize)]
pub struct Lane {
    pub name: String,
    pub color: usize,
    pub spans: Vec<Span>,
}

/// Something that happened from `start_s` to `end_s` (None: to the end).
#[derive(Clone, Debug, Serialize)]
pub struct Span {
    pub label: String,
    pub start_s: u64,
    pub end_s: Option<u64>,
    /// A step that failed (drawn red).
    pub failed: bool,
}

/// A checkpoint drawn over the curves.
#[derive(Clone, Debug, Serialize)]
pub struct CheckMark {
    /// `C1`, `C2` … (the checkpoint table's numbering).
    pub label: String,
    /// The claim's time, seconds from T+0.
    pub at_s: u64,
    /// For an event: the window its wording allows (seconds).
    pub window: Option<(u64, u64)>,
    /// For a share: the range its wording allows (percent).
    pub range: Option<(f64, f64)>,
    /// The simulated value: a percent for a share, seconds for an event.
    pub value: Option<f64>,
    pub hit: bool,
    /// The row its label goes in, from the top (0): labels closer in time
    /// than [`LABEL_GAP`] of the axis go in different rows.
    pub label_row: usize,
    /// Where its label starts, seconds from T+0: at the claim's time, or
    /// far enough left of the axis' end that the label fits.
    pub label_at_s: u64,
}

/// The least distance between two checkpoint labels in one row, as a share
/// of the time axis: a label (`C12` at 13 px) is about 24 px wide on a plot
/// about 800 px wide, so 4% leaves a little space between neighbours.
pub const LABEL_GAP: f64 = 0.04;
/// A checkpoint label's width, as a share of the time axis (`C12`, see
/// [`LABEL_GAP`]).
pub const LABEL_WIDTH: f64 = 0.03;

/// The box a checkpoint's label takes on its plot, in shares of the time
/// axis (x) and label rows (y, down from the top row's 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LabelBox {
    /// Its left edge.
    pub left: f64,
    /// Its right edge.
    pub right: f64,
    /// Its top edge.
    pub top: f64,
    /// Its bottom edge.
    pub bottom: f64,
}

impl LabelBox {
    /// Whether the two boxes share any area.
    pub fn overlaps(&self, o: &LabelBox) -> bool {
        self.left < o.right && o.left < self.right && self.top < o.bottom && o.top < self.bottom
    }
}

/// The box a checkpoint's label takes on its plot. The plot draws each
/// label at `label_at_s` in row `label_row` (`plot::time_lines`).
pub fn label_box(m: &CheckMark, end_s: u64) -> LabelBox {
    let x = m.label_at_s as f64 / end_s.max(1) as f64;
    let y = m.label_row as f64;
    LabelBox { left: x, right: x + LABEL_WIDTH, top: y, bottom: y + 0.9 }
}

/// Lays the checkpoints' labels out: each starts at its claim's time, or
/// left of the axis' end by a label's width, and goes in a row
/// ([`label_rows`]).
pub fn lay_out_labels(marks: &mut [CheckMark], end_s: u64) {
    lay_out_labels_scaled(marks, end_s, 1.0);
}

/// [`lay_out_labels`] for labels `scale` times as wide, as a share of the
/// axis, as they are on a narrow plot (`plot::NARROW_LABEL_SCALE`).
pub fn lay_out_labels_scaled(marks: &mut [CheckMark], end_s: u64, scale: f64) {
    let end = end_s.max(1) as f64;
    let last = ((1.0 - LABEL_WIDTH * scale).max(0.0) * end).floor() as u64;
    for m in marks.iter_mut() {
        m.label_at_s = m.at_s.min(last);
    }
    let xs: Vec<f64> = marks.iter().map(|m| m.label_at_s as f64).collect();
    for (m, row) in marks.iter_mut().zip(label_rows(&xs, LABEL_GAP * scale * end)) {
        m.label_row = row;
    }
}

/// Rows for labels at `xs` (in any order) such that two labels in one row
/// are at least `gap` apart: each, from the earliest, goes in the top-most
/// row where it fits. One row per label, in the order given.
pub fn label_rows(xs: &[f64], gap: f64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&a, &b| xs[a].total_cmp(&xs[b]).then(a.cmp(&b)));
    let mut last: Vec<f64> = Vec::new(); // per row, the last label's x
    let mut rows = vec![0; xs.len()];
    for i in order {
        let row = last.iter().position(|&x| xs[i] - x >= gap).unwrap_or(last.len());
        if row == last.len() {
            last.push(xs[i]);
        } else {
            last[row] = xs[i];
        }
        rows[i] = row;
    }
    rows
}

/// A row of a table: cells as text.
pub type Row = Vec<String>;

/// One headline figure of a run's page; in JSON `[name, value]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Headline {
    /// What it is (`lost`, `last mailbox restored`).
    pub name: String,
    /// Its value, as the page shows it.
    pub value: String,
}
serde_as_tuple!(Headline { name: String, value: String });

/// One row of a run's expectations table; in JSON `[name, verdict, detail,
/// failed]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExpectationRow {
    /// The expectation (`custody`, `lost <= 0`).
    pub name: String,
    /// Its verdict's tag (`met`, `missed` …).
    pub verdict: String,
    /// What the run showed.
    pub detail: String,
    /// Whether it failed the run (the row then offers the repro command).
    pub failed: bool,
}
serde_as_tuple!(ExpectationRow { name: String, verdict: String, detail: String, failed: bool });

/// Everything a run's page shows.
#[derive(Clone, Debug, Serialize)]
pub struct RunData {
    pub scenario: String,
    pub summary: String,
    pub file: String,
    pub seed: u64,
    pub clock: Clock,
    pub end_s: u64,
    pub passed: bool,
    pub headline: Vec<Headline>,
    pub timeline: Vec<Lane>,
    /// The faults table: fault, from, until (clock times).
    pub faults: Vec<Row>,
    /// Share of attempts that succeeded per bucket, per service (percent).
    pub services: Vec<Series>,
    /// Users in full / partial service and mailboxes unavailable (percent).
    pub users: Vec<Series>,
    pub marks: Vec<CheckMark>,
    pub queues: Vec<Series>,
    pub per_hour: Vec<Series>,
    pub delay_cdf: Vec<Series>,
    /// The checkpoint table: label, claim, clock time, metric, simulated, accepts, hit.
    pub checkpoints: Vec<Row>,
    /// The expectations table.
    pub expectations: Vec<ExpectationRow>,
    /// The command that reproduces this run.
    pub repro: String,
}

fn pct(ppm: u64) -> f64 {
    ppm as f64 / 10_000.0
}

/// The data of a run's page: `checkpoints` are the scenario's (for their
/// tolerances), in the order of `r.checkpoints`.
pub fn run_data(scenario_summary: &str, file: &str, t0: Option<ClockTime>, checkpoints: &[Checkpoint], r: &RunResult) -> RunData {
    let f = &r.figures;
    let clock = Clock { t0 };
    let end_s = r.report.end.as_micros() / 1_000_000;
    let mut marks: Vec<CheckMark> = checkpoints.iter().zip(&r.checkpoints).enumerate().map(|(i, (c, res))| mark(i, c, res)).collect();
    lay_out_labels(&mut marks, end_s);
    let faults = f
        .fault_spans
        .iter()
        .map(|s| vec![s.description.clone(), clock.at(s.at_us), s.ended_us.map_or("the end of the run".to_string(), |t| clock.at(t))])
        .collect();
    RunData {
        scenario: r.scenario.clone(),
        summary: scenario_summary.to_string(),
        file: file.to_string(),
        seed: f.seed,
        headline: headline(f, &clock),
        clock,
        end_s,
        passed: r.passed(),
        timeline: timeline(f, end_s),
        faults,
        services: services(&f.availability),
        users: users(f),
        marks,
        queues: queues(f),
        per_hour: per_hour(f),
        delay_cdf: delay_cdf(f),
        checkpoints: checkpoint_rows(checkpoints, r),
        expectations: r
            .verdicts
            .iter()
            .map(|v| ExpectationRow { name: v.name.clone(), verdict: v.tag(), detail: v.detail.clone(), failed: v.failed() })
            .collect(),
        repro: crate::sweep::repro_command(file, f.seed),
    }
}

fn secs(us: u64) -> u64 {
    us / 1_000_000
}

/// The timeline: faults by what they hit, alerts, each recovery step, the
/// liveness phase.
fn timeline(f: &Figures, end_s: u64) -> Vec<Lane> {
    let mut timeline: Vec<Lane> = Vec::new();
    for fault in &f.fault_spans {
        let name = fault_lane(&fault.description);
        let span = Span { label: fault.description.clone(), start_s: secs(fault.at_us), end_s: fault.ended_us.map(secs), failed: false };
        match timeline.iter_mut().find(|l| l.name == name) {
            Some(l) => l.spans.push(span),
            None => timeline.push(Lane { name, color: 1, spans: vec![span] }),
        }
    }
    // Re-alerts of one failure (every 30 min while it lasts) merge into one span.
    let mut alerts = Lane { name: format!("alerts ({})", f.alerts.len()), color: 4, spans: Vec::new() };
    for (t, text) in &f.alerts {
        let t = secs(*t);
        let merged = alerts.spans.iter_mut().rev().find(|s| s.label == *text).filter(|s| t <= s.end_s.unwrap_or(s.start_s) + 3600);
        match merged {
            Some(s) => s.end_s = Some(t),
            None => alerts.spans.push(Span { label: text.clone(), start_s: t, end_s: Some(t), failed: false }),
        }
    }
    if !alerts.spans.is_empty() {
        timeline.push(alerts);
    }
    for step in &f.steps {
        let name = &step.name;
        let failed = f.steps_failed.iter().find(|s| &s.step == name);
        let mut spans = Vec::new();
        // From its trigger to its command: its role's response, its work
        // and its window, drawn apart from the step itself.
        if let (Some(fired), Some(started)) = (step.fired_us, step.started_us.or(step.done_us)) {
            if started > fired {
                spans.push(Span { label: format!("{name}: waiting"), start_s: secs(fired), end_s: Some(secs(started)), failed: false });
            }
        }
        match (step.started_us, failed) {
            (Some(s), _) => spans.push(Span {
                label: name.clone(),
                start_s: secs(s),
                end_s: step.done_us.map(secs),
                failed: failed.is_some_and(|f| f.gave_up) && step.done_us.is_none(),
            }),
            (None, Some(fl)) => {
                spans.push(Span { label: fl.why.clone(), start_s: secs(fl.at_us), end_s: Some(secs(fl.at_us)), failed: true })
            }
            (None, None) => {}
        }
        timeline.push(Lane { name: format!("step: {name}"), color: 0, spans });
    }
    if let Some(rec) = f.recovered_us {
        timeline.push(Lane {
            name: "liveness phase".into(),
            color: 2,
            spans: vec![Span { label: "recovery plan done".into(), start_s: secs(rec), end_s: Some(end_s), failed: false }],
        });
    }
    timeline
}

/// Share of attempts that succeeded per bucket, per service tried.
fn services(a: &AvailabilitySummary) -> Vec<Series> {
    let bucket = a.bucket_s.max(1);
    SERVICES
        .iter()
        .enumerate()
        .filter(|(_, (_, s))| a.service(*s).attempts > 0)
        .map(|(i, &(name, s))| Series {
            name: format!("{name} (attempts that succeeded)"),
            color: Some(i),
            points: a
                .service(s)
                .series
                .iter()
                .filter(|b| b.attempts > 0)
                .map(|b| ((b.start_s + bucket / 2) as f64, b.ok as f64 * 100.0 / b.attempts as f64))
                .collect(),
            band: Vec::new(),
        })
        .collect()
}

/// Users in full and partial service, and mailboxes unavailable.
fn users(f: &Figures) -> Vec<Series> {
    let a = &f.availability;
    let mut users = vec![
        Series {
            name: "users in full service".into(),
            color: Some(0),
            points: a.users_full_service.iter().map(|p| (p.t_s as f64, pct(u64::from(p.full)))).collect(),
            band: Vec::new(),
        },
        Series {
            name: "users with partial service (webmail, temporary store)".into(),
            color: Some(4),
            points: a.users_full_service.iter().map(|p| (p.t_s as f64, pct(u64::from(p.partial)))).collect(),
            band: Vec::new(),
        },
    ];
    if f.mailboxes > 0 {
        let mut pts: Vec<(f64, f64)> = vec![(0.0, 0.0)];
        pts.extend(f.unavailable.iter().map(|&(t, n)| (secs(t) as f64, pct(u64::from(n) * 1_000_000 / u64::from(f.mailboxes)))));
        users.push(Series { name: "mailboxes unavailable".into(), color: Some(1), points: pts, band: Vec::new() });
    }
    users
}

/// The checkpoint table: label, claim, clock time, metric, simulated,
/// accepts, hit.
fn checkpoint_rows(checkpoints: &[Checkpoint], r: &RunResult) -> Vec<Row> {
    checkpoints
        .iter()
        .zip(&r.checkpoints)
        .enumerate()
        .map(|(i, (c, res))| {
            vec![
                format!("C{}", i + 1),
                res.claim.clone(),
                res.at.clone(),
                res.metric.clone(),
                res.shown.clone(),
                crate::checkpoints::accepts(c),
                if res.hit { "hit".into() } else { "MISSED".into() },
            ]
        })
        .collect()
}

/// Each node's queue depth over time.
fn queues(f: &Figures) -> Vec<Series> {
    f.queue_depth
        .iter()
        .enumerate()
        .map(|(i, (node, pts))| {
            let mut points = vec![(0.0, 0.0)];
            points.extend(pts.iter().map(|&(t, d)| (t as f64, f64::from(d))));
            Series { name: node.clone(), color: Some(i), points, band: Vec::new() }
        })
        .collect()
}

/// Mail accepted and delivered per hour.
fn per_hour(f: &Figures) -> Vec<Series> {
    let hourly = |name: &str, color: usize, v: &[u32]| Series {
        name: name.into(),
        color: Some(color),
        points: v.iter().enumerate().map(|(h, &n)| ((h as u64 * 3600) as f64, f64::from(n))).collect(),
        band: Vec::new(),
    };
    vec![
        hourly("accepted per hour (arrivals taken by the MX)", 1, &f.accepted_per_hour),
        hourly("delivered per hour (into mailboxes)", 0, &f.delivered_per_hour),
    ]
}

/// The delivered mail's delay CDF.
fn delay_cdf(f: &Figures) -> Vec<Series> {
    vec![Series {
        name: "delivered mail".into(),
        color: Some(0),
        points: f.delay_cdf.iter().map(|&(s, ppm)| (s as f64, pct(u64::from(ppm)))).collect(),
        band: Vec::new(),
    }]
}

/// The headline figures.
fn headline(f: &Figures, clock: &Clock) -> Vec<Headline> {
    let restored = f.restored_us.map_or("-".to_string(), |t| clock.at(t));
    let rows: [(String, String); 11] = [
        ("outcome".into(), f.violation.as_ref().map_or(f.outcome.clone(), |v| format!("{}: {v}", f.outcome))),
        ("accepted / delivered".into(), format!("{} / {}", f.accepted, f.delivered)),
        ("lost".into(), f.lost.to_string()),
        ("bounced (senders) + returned (DSN)".into(), format!("{} + {}", f.sender_bounced, f.returned)),
        ("duplicates (deliveries + client re-downloads)".into(), format!("{} + {}", f.duplicates, f.client_duplicates)),
        ("mailboxes offline at the peak".into(), Share(f.peak_unavailable_ppm).to_string()),
        ("users without full service at the peak".into(), Share(f.users_affected_peak()).to_string()),
        ("last mailbox restored".into(), restored),
        (
            "delivery delay p50 / p99 / max".into(),
            [f.delay_s_p50, f.delay_s_p99, f.delay_s_max].map(|s| HumanDuration(s as i64 * 1_000_000).readable()).join(" / "),
        ),
        ("failovers".into(), f.failovers_us.len().to_string()),
        ("events / trace hash".into(), format!("{} / {}", f.events, f.trace_hash)),
    ];
    rows.into_iter().map(|(name, value)| Headline { name, value }).collect()
}

/// A fault's lane on the timeline: its kind and the part it hit
/// (`fault: controller-failure shelf-a/controller-a`), or its description
/// when it names no part (`fault: lock-broken on filer`, `fault: crash
/// mx-1`).
pub fn fault_lane(description: &str) -> String {
    match description.split_once(" on ").and_then(|(kind, rest)| Some((kind, rest.split_once(": ")?.1))) {
        Some((kind, part)) => format!("fault: {kind} {part}"),
        None => format!("fault: {description}"),
    }
}

fn mark(i: usize, c: &Checkpoint, res: &CheckpointResult) -> CheckMark {
    let label = format!("C{}", i + 1);
    match c.tolerance {
        Tolerance::Share { min, max } => CheckMark {
            label,
            at_s: c.at_s,
            window: None,
            range: Some((min.map_or(0.0, |m| pct(u64::from(m.ppm()))), max.map_or(100.0, |m| pct(u64::from(m.ppm()))))),
            value: res.value.map(pct),
            hit: res.hit,
            label_row: 0,
            label_at_s: c.at_s,
        },
        Tolerance::Window { early_s, late_s } => CheckMark {
            label,
            at_s: c.at_s,
            window: Some((c.at_s.saturating_sub(early_s), c.at_s + late_s)),
            range: None,
            value: res.value.map(|v| v as f64),
            hit: res.hit,
            label_row: 0,
            label_at_s: c.at_s,
        },
    }
}

/// One bar of a histogram: the values from `low` to `high` (the last bin
/// includes `high`), and how many there are; in JSON `[low, high, count]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bin {
    /// Its lower edge.
    pub low: f64,
    /// Its upper edge.
    pub high: f64,
    /// The values in it.
    pub count: u64,
}
serde_as_tuple!(Bin { low: f64, high: f64, count: u64 });

/// Bins `values` into at most `n` equal bins from their least to their
/// greatest (one bin a unit wide when they are all equal).
pub fn bins(values: &[f64], n: usize) -> Vec<Bin> {
    let (Some(lo), Some(hi)) = (values.iter().copied().reduce(f64::min), values.iter().copied().reduce(f64::max)) else {
        return Vec::new();
    };
    if hi <= lo {
        return vec![Bin { low: lo - 0.5, high: lo + 0.5, count: values.len() as u64 }];
    }
    let n = n.max(1);
    let w = (hi - lo) / n as f64;
    let mut out: Vec<Bin> = (0..n).map(|i| Bin { low: lo + w * i as f64, high: lo + w * (i + 1) as f64, count: 0 }).collect();
    for &v in values {
        let i = (((v - lo) / w) as usize).min(n - 1);
        out[i].count += 1;
    }
    out
}

/// A value's nearest-rank percentile `p` (0..=100) of sorted `v`.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// A step curve `(t_s, value)` sampled at `t_s`: the last point at or
/// before it (`first` before any point).
pub fn sample(points: &[(f64, f64)], t_s: f64, first: f64) -> f64 {
    let i = points.partition_point(|p| p.0 <= t_s);
    if i == 0 {
        first
    } else {
        points[i - 1].1
    }
}
