//! HTML reports a design review reads: one self-contained page per run,
//! sweep or comparison (`mailsim report`, and `--report DIR` on `run`,
//! `sweep` and `compare`).
//!
//! A page is one file: the plots are inline SVG drawn by plotters
//! (`plot.rs`), the style is inline CSS, and there is no script, no font and
//! no address to fetch — a Content-Security-Policy of `default-src 'none'`
//! says so to the browser, so a page that tried would show an error. The
//! layout is one column: each plot scales to its width (the SVG's viewBox,
//! `width:100%; height:auto`), so nothing scrolls sideways in a narrow
//! window, and each is drawn twice, wide and narrow, the page showing the
//! one whose text stays readable at its width (`plot::Fit`); a wide
//! table's rows become labelled cards there; and print CSS
//! keeps each plot and table in one piece, so the page reads the same on a
//! phone, a laptop and paper.
//!
//! What the plots show is computed elsewhere: the runner's figures (what
//! `run --json` prints), a sweep's records and summary, a comparison's
//! paired differences. `data.rs` selects and converts them (the snapshot
//! tests pin that data); `plot.rs` draws it. Pages are deterministic for a
//! given input: no dates, no host names, no map iteration in hash order.

mod compare_page;
pub mod data;
pub mod plot;
mod sweep_page;
pub mod trace;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

pub use compare_page::{compare_cmd_with_report, compare_data, compare_page, seed_curves, write_compare_report, CompareData, SeedCurves};
pub use sweep_page::{sweep_data, sweep_page, write_sweep_report, SweepData};

use crate::run::RunResult;
use crate::scenario::Scenario;
use data::{run_data, RunData, Series};
use plot::TimePlot;

/// The file a run's page is written to, in the report directory.
pub const RUN_PAGE: &str = "run.html";
/// The file a sweep's page is written to.
pub const SWEEP_PAGE: &str = "sweep.html";
/// The file a comparison's page is written to.
pub const COMPARE_PAGE: &str = "compare.html";

/// Escapes text for HTML content and attribute values.
pub fn esc(text: &str) -> String {
    let mut o = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = r#"
:root{color-scheme:light}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#1d1d1f;background:#fff;margin:0 auto;max-width:1000px;padding:0 14px 40px}
h1{font-size:1.5em;margin:.8em 0 .2em}h2{font-size:1.2em;margin:1.6em 0 .4em;border-bottom:1px solid #ddd;padding-bottom:.2em}
h3{font-size:1.05em;margin:1.2em 0 .3em}
p.lede{color:#444;margin:.2em 0 .8em}
.badge{display:inline-block;padding:.1em .6em;border-radius:.8em;font-weight:600;font-size:.85em;vertical-align:middle}
.pass{background:#d7f2e3;color:#0b5d33}.fail{background:#fde0e0;color:#8a0010}
nav{font-size:.9em;margin:.4em 0 1em;display:flex;flex-wrap:wrap;gap:.2em .9em}nav a{white-space:nowrap}
figure{margin:.6em 0 1.2em}figcaption{font-size:.9em;color:#444;margin:.3em 0}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
figure svg{display:block;width:100%;max-width:100%;height:auto}
figure .n{display:none}
@media screen and (max-width:760px){figure .w{display:none}figure .n{display:block}}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:0 18px}
.grid figure svg{max-width:480px}
table{border-collapse:collapse;font-size:.88em;margin:.4em 0 1em;width:100%}
th,td{border-bottom:1px solid #e3e3e3;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f6f6f6;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
tr.failed td{background:#fff2f2}
code{font:.9em ui-monospace,SFMono-Regular,Menlo,monospace;background:#f3f3f3;padding:.05em .3em;border-radius:3px;overflow-wrap:anywhere}
footer{margin-top:2em;font-size:.8em;color:#666}
@media (max-width:640px){body{font-size:14px;padding:0 8px 30px}th,td{padding:.25em .3em}
  table.cards thead{display:none}
  table.cards tr{display:block;border:1px solid #e3e3e3;border-radius:4px;margin:0 0 .5em}
  table.cards td{display:flex;gap:.6em;border:0;text-align:left;white-space:normal}
  table.cards td::before{content:attr(data-label);flex:0 0 34%;color:#555;font-weight:600}
  table.cards td:empty{display:none}
  table.cards td[data-label=""]::before{content:none}}
@media print{
  @page{size:A4;margin:12mm}
  body{max-width:none;padding:0;font-size:10pt}
  nav{display:none}
  .scroll{overflow:visible}
  figure,table,tr,h2,h3{break-inside:avoid}
  h2,h3{break-after:avoid}
  a{color:inherit;text-decoration:none}
  .badge{border:1px solid currentColor}
}
"#;

/// A whole page: `title`, a navigation line of (anchor, name), the body.
pub fn page(title: &str, nav: &[(&str, &str)], body: &str) -> String {
    let mut o = String::new();
    o.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    o.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    o.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'none'\">\n",
    );
    let _ = writeln!(o, "<title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>", esc(title));
    o.push_str(body);
    if !nav.is_empty() {
        // The navigation line goes right after the heading block.
        let links: String = nav.iter().map(|(id, name)| format!("<a href=\"#{id}\">{}</a>", esc(name))).collect();
        o = o.replacen("<!--nav-->", &format!("<nav>{links}</nav>"), 1);
    }
    let _ = writeln!(
        o,
        "<footer>Written by mailsim {}. Self-contained: no scripts, no fonts, nothing fetched.</footer>\n</body>\n</html>",
        env!("CARGO_PKG_VERSION")
    );
    o
}

/// A plot: a figure with an id, its caption, the SVG (or the wide and
/// narrow drawings of `plot`), and the number of data points it shows
/// (`data-points`, which the browser test checks).
pub fn figure(id: &str, caption: &str, svg: &str, points: usize, class: &str) -> String {
    // plotters writes `<svg width=.. height=.. viewBox=..>`; the CSS scales
    // it to the column's width, its height following the viewBox.
    format!(
        "<figure class=\"plot {class}\" id=\"{id}\" data-points=\"{points}\">\n<figcaption>{}</figcaption>\n{}\n</figure>\n",
        esc(caption),
        svg.trim()
    )
}

/// A table: `head` cells (a leading `#` marks a numeric column) and rows.
pub fn table(head: &[&str], rows: &[Vec<String>], failed: &dyn Fn(usize) -> bool) -> String {
    let num: Vec<bool> = head.iter().map(|h| h.starts_with('#')).collect();
    // A table of four or more columns becomes one card per row in a narrow
    // window (CSS), each cell labelled with its column's name.
    let cards = if head.len() >= 4 { " class=\"cards\"" } else { "" };
    let mut o = format!("<div class=\"scroll\"><table{cards}>\n<thead><tr>");
    for (h, n) in head.iter().zip(&num) {
        let _ = write!(o, "<th{}>{}</th>", if *n { " class=\"num\"" } else { "" }, esc(h.trim_start_matches('#')));
    }
    o.push_str("</tr></thead>\n<tbody>\n");
    for (i, r) in rows.iter().enumerate() {
        o.push_str(if failed(i) { "<tr class=\"failed\">" } else { "<tr>" });
        for (j, c) in r.iter().enumerate() {
            let n = num.get(j).copied().unwrap_or(false);
            let label = esc(head.get(j).map_or("", |h| h.trim_start_matches('#')));
            if c.is_empty() {
                o.push_str("<td></td>");
            } else if c.starts_with("mailsim ") {
                let _ = write!(o, "<td data-label=\"{label}\"><code>{}</code></td>", esc(c));
            } else {
                let _ = write!(o, "<td data-label=\"{label}\"{}>{}</td>", if n { " class=\"num\"" } else { "" }, esc(c));
            }
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</tbody></table></div>\n");
    o
}

/// Points in a set of series (what a plot shows).
pub fn count(series: &[Series]) -> usize {
    series.iter().map(|s| s.points.len()).sum()
}

fn max_y(series: &[Series]) -> f64 {
    series.iter().flat_map(|s| s.points.iter().map(|p| p.1)).fold(0.0, f64::max)
}

/// The run's page.
pub fn run_page(d: &RunData) -> Result<String, String> {
    let mut b = String::new();
    let badge = if d.passed { "<span class=\"badge pass\">PASS</span>" } else { "<span class=\"badge fail\">FAIL</span>" };
    let _ = writeln!(b, "<h1>{} — seed {} {badge}</h1>", esc(&d.scenario), d.seed);
    let _ = writeln!(b, "<p class=\"lede\">{}</p>", esc(&d.summary));
    let _ = writeln!(b, "<p>Reproduce: <code>{}</code></p>\n<!--nav-->", esc(&d.repro));
    b.push_str("<h2 id=\"figures\">Figures</h2>\n");
    let rows: Vec<Vec<String>> = d.headline.iter().map(|h| vec![h.name.clone(), h.value.clone()]).collect();
    b.push_str(&table(&["figure", "value"], &rows, &|_| false));
    b.push_str(&timeline_section(d)?);
    // The frame of the plots over the run's time axis.
    let base =
        TimePlot { clock: &d.clock, end_s: d.end_s, y_desc: "", y_max: 105.0, series: &[], marks: &d.marks, step: false, percent: true };
    b.push_str(&availability_section(d, base)?);
    b.push_str(&queues_section(d, base)?);
    b.push_str(&expectations_section(d));
    let nav = [
        ("figures", "figures"),
        ("timeline", "timeline"),
        ("availability", "availability"),
        ("queues", "queues"),
        ("delay", "delay"),
        ("expectations", "expectations"),
    ];
    Ok(page(&format!("{} seed {} — mailsim", d.scenario, d.seed), &nav, &b))
}

/// The timeline: faults, alerts, recovery steps and phases, then the faults'
/// table.
fn timeline_section(d: &RunData) -> Result<String, String> {
    let mut b = String::new();
    b.push_str("<h2 id=\"timeline\">Timeline</h2>\n");
    let spans: usize = d.timeline.iter().map(|l| l.spans.len()).sum();
    b.push_str(&figure(
        "plot-timeline",
        "Faults, alerts (re-alerts of one failure merged), recovery steps from command to completion (red: failed and given up), and the liveness phase after the plan completed.",
        &plot::timeline(&d.clock, d.end_s, &d.timeline)?,
        spans,
        "",
    ));
    if !d.faults.is_empty() {
        b.push_str("<h3 id=\"faults\">Faults</h3>\n");
        b.push_str(&table(&["fault", "from", "until"], &d.faults, &|_| false));
    }
    Ok(b)
}

/// Availability per service and per user over time, and the postmortem's
/// claims checked against them.
fn availability_section(d: &RunData, base: TimePlot) -> Result<String, String> {
    let mut b = String::new();
    b.push_str("<h2 id=\"availability\">Availability</h2>\n");
    b.push_str(&figure(
        "plot-services",
        "Per service, the share of attempts in each hour that succeeded (SMTP in at the door the sender knocked on; POP and IMAP logins; webmail pages). Shaded windows and lines: the postmortem's event checkpoints (green hit, red missed).",
        &plot::time_lines(TimePlot { y_desc: "attempts that succeeded", y_max: 105.0, series: &d.services, ..base })?,
        count(&d.services),
        "",
    ));
    b.push_str(&figure(
        "plot-users",
        "Users in full service, users with partial (webmail-only) service, and mailboxes on offline volumes over time. Checkpoints: bars are the range a claim allows, dots the simulated value at its time.",
        &plot::time_lines(TimePlot { y_desc: "share", y_max: 105.0, series: &d.users, step: true, ..base })?,
        count(&d.users),
        "",
    ));
    if !d.checkpoints.is_empty() {
        b.push_str("<h3 id=\"checkpoints\">The postmortem's claims</h3>\n");
        b.push_str(&table(&["", "claim", "its clock time", "metric", "simulated", "accepts", "hit"], &d.checkpoints, &|i| {
            d.checkpoints[i].last().is_some_and(|h| h != "hit")
        }));
    }
    Ok(b)
}

/// Queues and throughput over time, and the delivery delay's distribution.
fn queues_section(d: &RunData, base: TimePlot) -> Result<String, String> {
    let mut b = String::new();
    b.push_str("<h2 id=\"queues\">Queues and throughput</h2>\n");
    // Counts over time, as steps, the same frame for both.
    let counts = |id: &str, caption: &str, y_desc: &str, series: &[Series]| -> Result<String, String> {
        let svg = plot::time_lines(TimePlot {
            y_desc,
            y_max: (max_y(series) * 1.1).max(1.0),
            series,
            marks: &[],
            step: true,
            percent: false,
            ..base
        })?;
        Ok(figure(id, caption, &svg, count(series), ""))
    };
    b.push_str(&counts(
        "plot-queues",
        "Mails in each node's queue, as sampled at each change of its depth bucket.",
        "mails queued",
        &d.queues,
    )?);
    b.push_str(&counts(
        "plot-per-hour",
        "Mails delivered into mailboxes per hour against the mails the MX accepted per hour: a backlog is the gap between them.",
        "mails per hour",
        &d.per_hour,
    )?);
    b.push_str("<h2 id=\"delay\">Delivery delay</h2>\n");
    b.push_str(&figure(
        "plot-delay",
        "The share of delivered mail delivered within a given delay, author to mailbox (log scale).",
        &plot::delay_cdf(&d.delay_cdf)?,
        count(&d.delay_cdf),
        "",
    ));
    Ok(b)
}

/// The expectations' verdicts, with the command that reproduces each miss.
fn expectations_section(d: &RunData) -> String {
    let mut b = String::new();
    b.push_str("<h2 id=\"expectations\">Expectations</h2>\n");
    let rows: Vec<Vec<String>> = d
        .expectations
        .iter()
        .map(|e| vec![e.name.clone(), e.verdict.clone(), e.detail.clone(), if e.failed { d.repro.clone() } else { String::new() }])
        .collect();
    b.push_str(&table(&["expectation", "verdict", "detail", "reproduce"], &rows, &|i| d.expectations[i].failed));
    b
}

/// The data of a run's page, from the scenario and the run.
pub fn run_report_data(s: &Scenario, file: &Path, r: &RunResult) -> RunData {
    run_data(&s.file.scenario.summary, &file.display().to_string(), s.file.scenario.t0, &s.checkpoints, r)
}

/// Writes `html` as `name` in `dir` (created), returning the path.
pub fn write_page(dir: &Path, name: &str, html: &str) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create report directory {}: {e}", dir.display()))?;
    let path = dir.join(name);
    crate::sweep::write_atomic(&path, html.as_bytes()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(path)
}

/// Writes a run's page into `dir`.
pub fn write_run_report(dir: &Path, s: &Scenario, file: &Path, r: &RunResult) -> Result<PathBuf, String> {
    let html = run_page(&run_report_data(s, file, r))?;
    write_page(dir, RUN_PAGE, &html)
}
