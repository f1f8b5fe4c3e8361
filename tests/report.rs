//! HTML reports, tested as a person reads them: each page (run, sweep,
//! compare) is rendered by headless Chromium (Debian's `chromium`; `.ci/run`
//! installs it), and the test fails on any console error, uncaught error or
//! attempt to fetch anything (the page's Content-Security-Policy turns one
//! into a reported violation), and on any plot that is missing, has no
//! size, or draws no data. Snapshot tests (insta) pin the data behind the
//! plots of a small run, sweep and comparison.
//!
//! Chromium is driven without the DevTools protocol: the test adds a small
//! inline script to a copy of the page that records errors from the first
//! moment, measures every plot once the page has loaded and writes the
//! result into the DOM, which `--dump-dom` prints.

use std::path::{Path, PathBuf};
use std::process::Command;

use mailsim::report::data::{bins, label_box, label_rows, percentile, sample, Bin, LABEL_GAP};
use mailsim::scenario::Scenario;

/// A broken NFS lock manager from T+10m, rolled back at T+2h, on the
/// postmortem's clock, with claims of both kinds.
const LOCK: &str = r#"
[scenario]
name = "report-lock"
summary = "a broken lock manager, rolled back two hours later"
t0 = "2018-05-19 09:00 +09:00"
[run]
duration = "1d"
fault_phase = "12h"
[topology]
mx = 2
mailboxes = 40
[workload]
mails = 400
window = "6h"
[[faults]]
at = "10m"
kind = "lock-broken"
target = "filer"
[[recovery]]
name = "rollback"
action = "rollback-upgrade"
target = "filer"
at = "ROLLBACK"
[[checkpoints]]
claim = "logins work again by 11:10"
at = "2018-05-19 11:10 +09:00"
metric = "pop_restored"
early = "30m"
late = "30m"
[[checkpoints]]
claim = "most users served at 10:00"
at = "2018-05-19 10:00 +09:00"
metric = "users_full_service"
min = "90%"
"#;

fn lock(rollback: &str, name: &str) -> String {
    LOCK.replace("ROLLBACK", rollback).replace("report-lock", name)
}

fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mailsim-report-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("a temporary directory");
    d
}

fn mailsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_mailsim")).args(args).output().expect("the mailsim binary runs")
}

fn ok(out: &std::process::Output, what: &str) {
    assert!(out.status.code() == Some(0), "{what}: exit {:?}\nstderr: {}", out.status.code(), String::from_utf8_lossy(&out.stderr));
}

/// Injected at the top of `<head>`: records every error from the start.
const COLLECT: &str = r#"<script>
window.__errors = [];
window.addEventListener('error', e => __errors.push('error: ' + (e.message || (e.target && (e.target.src || e.target.href)) || e.type)), true);
window.addEventListener('unhandledrejection', e => __errors.push('rejection: ' + e.reason));
document.addEventListener('securitypolicyviolation', e => __errors.push('blocked ' + e.violatedDirective + ': ' + e.blockedURI));
for (const level of ['error', 'warn']) {
  const orig = console[level];
  console[level] = (...a) => { __errors.push('console.' + level + ': ' + a.join(' ')); orig.apply(console, a); };
}
</script>"#;

/// Injected at the end of `<body>`: once the page has loaded and queued
/// tasks (a blocked fetch's report) have run, measures each plot and writes
/// the result.
const CHECK: &str = r#"<script>
window.addEventListener('load', () => setTimeout(() => {
  const plots = [...document.querySelectorAll('figure.plot')].map(f => {
    // The drawing the page shows at this width (a plot has a wide and a narrow one).
    const svg = [...f.querySelectorAll('svg')].find(s => s.getBoundingClientRect().width > 0);
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
    // Each text's size as drawn: its font size times the drawing's scale
    // (its width on screen over its viewBox's).
    let text_px = 1e9, smallest = '';
    if (svg) {
      const scale = box.width / svg.viewBox.baseVal.width;
      for (const t of svg.querySelectorAll('text')) {
        if (!t.textContent.trim()) continue;
        const px = parseFloat(getComputedStyle(t).fontSize) * scale;
        if (px < text_px) { text_px = px; smallest = t.textContent.trim(); }
      }
    }
    let marks = 0;
    if (svg) {
      for (const p of svg.querySelectorAll('polyline')) {
        const n = (p.getAttribute('points') || '').trim().split(/\s+/).length;
        if (p.getAttribute('stroke') !== '#000000' && n >= 3) marks++;
      }
      for (const r of svg.querySelectorAll('rect')) {
        const fill = (r.getAttribute('fill') || '').toUpperCase();
        if (fill !== '#FFFFFF' && fill !== 'NONE' && r.getBBox().width > 0 && r.getBBox().height > 0) marks++;
      }
      marks += svg.querySelectorAll('polygon, circle').length;
    }
    return {id: f.id, width: Math.round(box.width), height: Math.round(box.height), points: +f.dataset.points, marks,
      text_px: Math.round(text_px * 10) / 10, smallest};
  });
  const out = document.createElement('pre');
  out.id = 'mailsim-check';
  // How wide the page scrolls, against the window, and how wide each plot is drawn.
  const svgs = [...document.querySelectorAll('svg')].map(s => Math.ceil(s.getBoundingClientRect().right));
  out.textContent = JSON.stringify({errors: window.__errors, plots, viewport: window.innerWidth,
    scroll: document.scrollingElement.scrollWidth, svg_right: Math.max(0, ...svgs)});
  document.body.appendChild(out);
  // In a narrow frame (below), the page that holds the frame prints it.
  if (window.parent !== window) window.parent.postMessage(out.textContent, '*');
}, 200));
</script>"#;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file()))
}

/// What the browser saw of a page.
struct Seen {
    errors: Vec<String>,
    /// Each plot: (id, width, height, points, marks).
    plots: Vec<(String, u64, u64, u64, u64)>,
    /// Each plot's smallest text as drawn: (id, px, the text).
    text: Vec<(String, f64, String)>,
    /// The window's width (`innerWidth`), px.
    viewport: u64,
    /// How wide the page scrolls (`document.scrollingElement.scrollWidth`).
    scroll: u64,
    /// How far right the widest plot reaches, px.
    svg_right: u64,
}

/// Holds a page in a frame `{width}` px wide: headless Chromium's window
/// is at least 500 px wide, a frame is as narrow as asked, and the page in
/// it lays out (media queries, `innerWidth`) for the frame's width. The
/// page posts its check result here, for `--dump-dom` to print.
fn narrow_frame(probe: &str, width: u32) -> String {
    format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"></head><body style="margin:0">
<iframe src="{probe}" style="width:{width}px;height:900px;border:0"></iframe>
<script>addEventListener('message', e => {{ const p = document.createElement('pre'); p.id = 'mailsim-check'; p.textContent = e.data; document.body.appendChild(p); }});</script>
</body></html>"#
    )
}

/// What is wrong with a page in a window `width` px wide: the page
/// scrolls sideways, or a plot is wider than the window.
fn narrow_problems(seen: &Seen, width: u32) -> Vec<String> {
    let mut problems = Vec::new();
    if seen.viewport != u64::from(width) {
        problems.push(format!("the window is {} px, not {width}", seen.viewport));
    }
    if seen.scroll > seen.viewport {
        problems.push(format!("the page scrolls sideways: {} px wide in a {} px window", seen.scroll, seen.viewport));
    }
    if seen.svg_right > seen.viewport {
        problems.push(format!("a plot reaches {} px in a {} px window", seen.svg_right, seen.viewport));
    }
    problems.extend(small_text(seen));
    problems
}

/// The least size, in px as drawn, of any text in a plot (axis titles,
/// ticks, legends, lane names, labels): about what a page's small print is.
const TEXT_PX_MIN: f64 = 10.0;

/// Plots whose smallest text is drawn below [`TEXT_PX_MIN`].
fn small_text(seen: &Seen) -> Vec<String> {
    seen.text
        .iter()
        .filter(|t| t.1 < TEXT_PX_MIN)
        .map(|(id, px, text)| format!("plot `{id}` draws text at {px} px (`{text}`) in a {} px window", seen.viewport))
        .collect()
}

/// The width of an A4 page's text in CSS px at the page's print margins
/// (210 mm less 2 × 12 mm, at 96 px per inch).
const A4_TEXT_PX: u32 = 703;

/// A copy of `page` that lays out on screen as it prints: its print rules
/// apply on screen, its screen-only rules never, so a window of
/// [`A4_TEXT_PX`] shows what the printed page does (headless Chromium's
/// PDF cannot be measured from the page's script).
fn as_printed(page: &Path) -> PathBuf {
    let html = std::fs::read_to_string(page).expect("the page was written");
    let printed = html.replace("@media print{", "@media all{").replace("@media screen and", "@media print and");
    assert_ne!(printed, html, "the page has print and screen-only rules");
    let copy = page.with_extension("as-printed.html");
    std::fs::write(&copy, printed).expect("write the copy");
    copy
}

/// Renders `page` in headless Chromium at `width` px and returns what the
/// injected script measured.
fn render(page: &Path, width: u32) -> Seen {
    let Some(browser) = chromium() else {
        if std::env::var_os("MAILSIM_SKIP_BROWSER").is_some() {
            eprintln!("MAILSIM_SKIP_BROWSER is set: not rendering {}", page.display());
            return Seen { errors: Vec::new(), plots: Vec::new(), text: Vec::new(), viewport: u64::from(width), scroll: 0, svg_right: 0 };
        }
        panic!("no chromium on PATH: install Debian's `chromium` (.ci/run does), or set MAILSIM_SKIP_BROWSER=1 to skip the browser checks");
    };
    let html = std::fs::read_to_string(page).expect("the page was written");
    assert!(html.contains("script-src 'none'"), "the page forbids scripts");
    // The copy allows inline scripts: only the test's own.
    let probe = html
        .replacen("script-src 'none'", "script-src 'unsafe-inline'", 1)
        .replacen("<head>", &format!("<head>\n{COLLECT}"), 1)
        .replacen("</body>", &format!("{CHECK}\n</body>"), 1);
    let mut copy = page.with_extension(format!("probe-{width}.html"));
    std::fs::write(&copy, probe).expect("write the probe copy");
    if width < 500 {
        let name = copy.file_name().and_then(|n| n.to_str()).expect("a file name").to_string();
        copy = page.with_extension(format!("frame-{width}.html"));
        std::fs::write(&copy, narrow_frame(&name, width)).expect("write the frame");
    }
    let profile = page.with_extension(format!("profile-{width}"));
    let out = Command::new(browser)
        .args(HEADLESS)
        // Run the page's timers (the check waits for one) before dumping.
        .arg("--virtual-time-budget=5000")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("--window-size={width},900"))
        .arg("--dump-dom")
        .arg(format!("file://{}", copy.display()))
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom
        .find("<pre id=\"mailsim-check\">")
        .unwrap_or_else(|| panic!("chromium printed no check result for {}:\n{}", page.display(), String::from_utf8_lossy(&out.stderr)));
    let text = &dom[start + "<pre id=\"mailsim-check\">".len()..];
    let text = &text[..text.find("</pre>").expect("the result ends")];
    let text = text.replace("&quot;", "\"").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    let v: serde_json::Value = serde_json::from_str(&text).expect("the check result is JSON");
    let errors = v["errors"].as_array().expect("errors").iter().map(|e| e.as_str().unwrap_or("?").to_string()).collect();
    let n = |k: &str| v[k].as_u64().unwrap_or(u64::MAX);
    let plots = v["plots"]
        .as_array()
        .expect("plots")
        .iter()
        .map(|p| {
            let n = |k: &str| p[k].as_u64().unwrap_or(0);
            (p["id"].as_str().unwrap_or("").to_string(), n("width"), n("height"), n("points"), n("marks"))
        })
        .collect();
    let text = v["plots"]
        .as_array()
        .expect("plots")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or("").to_string(),
                p["text_px"].as_f64().unwrap_or(0.0),
                p["smallest"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    Seen { errors, plots, text, viewport: n("viewport"), scroll: n("scroll"), svg_right: n("svg_right") }
}

/// The flags every headless Chromium run of the tests takes.
const HEADLESS: [&str; 9] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
];

/// Prints `page` to PDF as a person would (A4, the page's print CSS) and
/// returns the PDF's bytes.
fn print_to_pdf(page: &Path) -> Vec<u8> {
    let browser = chromium().expect("checked by the caller");
    let pdf = page.with_extension("pdf");
    let profile = page.with_extension("profile-pdf");
    let out = Command::new(browser)
        .args(HEADLESS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--no-pdf-header-footer")
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::read(&pdf).unwrap_or_else(|e| panic!("no PDF of {} ({e}):\n{}", page.display(), String::from_utf8_lossy(&out.stderr)))
}

/// Pages in a PDF (its page objects).
fn pdf_pages(pdf: &[u8]) -> usize {
    let text = String::from_utf8_lossy(pdf);
    text.matches("/Type /Page").count() - text.matches("/Type /Pages").count()
}

/// Renders `page` wide and in a phone-sized window; every plot in
/// `expected` must be there, sized and drawing data, with no error at all;
/// the page must not scroll sideways and every plot must fit the window.
/// Then prints it to PDF: a real PDF with a page per ~2 plots at
/// most (one plot per page would mean a layout that breaks badly).
fn check_page(page: &Path, expected: &[&str]) {
    let html = std::fs::read_to_string(page).expect("the page was written");
    for bad in ["<link", "<img", "<iframe", "@import", "url(", " src=\"http", "<script"] {
        assert!(!html.contains(bad), "{}: a self-contained page has no `{bad}`", page.display());
    }
    for width in [1200, 380] {
        let seen = render(page, width);
        if chromium().is_none() {
            return;
        }
        let (errors, plots) = (&seen.errors, &seen.plots);
        assert!(errors.is_empty(), "{} at {width}px: errors in the browser: {errors:#?}", page.display());
        let problems = narrow_problems(&seen, width);
        assert!(problems.is_empty(), "{} at {width}px: {problems:#?}", page.display());
        for id in expected {
            let p = plots.iter().find(|p| p.0 == *id).unwrap_or_else(|| panic!("{}: no plot `{id}` in {plots:?}", page.display()));
            // Plots scale with the window: a short one (the timeline of a
            // few lanes) is some 70 px high at 380 px.
            assert!(p.1 >= 250 && p.2 >= 40, "{}: plot `{id}` has no real size at {width}px: {p:?}", page.display());
            assert!(p.3 > 0, "{}: plot `{id}` shows no data: {p:?}", page.display());
            assert!(p.4 > 0, "{}: plot `{id}` draws nothing: {p:?}", page.display());
        }
    }
    // As printed on A4: every plot's text readable there too.
    if chromium().is_some() {
        let seen = render(&as_printed(page), A4_TEXT_PX);
        let small = small_text(&seen);
        assert!(small.is_empty(), "{} as printed: {small:#?}", page.display());
        assert!(seen.text.len() >= expected.len(), "{}: every plot measured as printed: {:?}", page.display(), seen.text);
    }
    let pdf = print_to_pdf(page);
    assert!(pdf.starts_with(b"%PDF-") && pdf.len() > 20_000, "{}: the PDF is {} bytes", page.display(), pdf.len());
    let pages = pdf_pages(&pdf);
    assert!(pages >= 1 && pages <= expected.len().div_ceil(2) + 3, "{}: {pages} PDF pages for {} plots", page.display(), expected.len());
}

/// The three pages, written through the real command line, rendered in
/// Chromium; plus `mailsim report` on the sweep's results.
#[test]
fn every_page_renders_in_a_browser_without_errors_and_with_every_plot_drawn() {
    let dir = temp_dir("pages");
    let a = dir.join("lock.toml");
    let b = dir.join("lock-late.toml");
    std::fs::write(&a, lock("2h", "report-lock")).expect("write");
    std::fs::write(&b, lock("5h", "report-lock-late")).expect("write");
    let (a_s, b_s, dir_s) = (a.to_str().expect("utf-8"), b.to_str().expect("utf-8"), dir.to_str().expect("utf-8"));

    let run_dir = format!("{dir_s}/run");
    ok(&mailsim(&["run", a_s, "--seed", "3", "--report", &run_dir]), "run --report");
    let run_page = Path::new(&run_dir).join("run.html");
    let html = std::fs::read_to_string(&run_page).expect("run.html");
    assert!(html.contains("logins work again by 11:10") && html.contains("Sat 2018-05-19"), "checkpoints on the postmortem's clock");
    check_page(&run_page, &["plot-timeline", "plot-services", "plot-users", "plot-queues", "plot-per-hour", "plot-delay"]);
    // The narrow check catches the old layout, whose plots kept a minimum
    // width and scrolled sideways in their own box.
    if chromium().is_some() {
        let old = html.replacen(
            "figure svg{display:block;width:100%;max-width:100%;height:auto}",
            "figure svg{display:block;width:100%;min-width:560px;height:auto}",
            1,
        );
        assert_ne!(old, html, "the plots' CSS rule is where the test expects it");
        let planted = Path::new(&run_dir).join("old-layout.html");
        std::fs::write(&planted, old).expect("write");
        let problems = narrow_problems(&render(&planted, 380), 380);
        assert!(problems.iter().any(|p| p.contains("a plot reaches")), "the old layout passed the narrow check: {problems:?}");
        // The text check catches a page that shows the wide drawings in a
        // narrow window (one drawing per plot, scaled down: text at ~5 px).
        let wide_only = html.replacen("@media screen and (max-width:760px){", "@media screen and (max-width:1px){", 1);
        assert_ne!(wide_only, html, "the narrow drawings' CSS rule is where the test expects it");
        let planted = Path::new(&run_dir).join("wide-only.html");
        std::fs::write(&planted, wide_only).expect("write");
        let seen = render(&planted, 380);
        let small = small_text(&seen);
        assert!(small.len() >= 5, "the wide drawings at 380 px passed the text check: {:?}", seen.text);
        assert!(seen.text.iter().all(|t| t.1 < 7.0), "the wide drawings' text at 380 px: {:?}", seen.text);
    }

    let results = format!("{dir_s}/results");
    let sweep_dir = format!("{dir_s}/sweep");
    ok(&mailsim(&["sweep", a_s, b_s, "--seeds", "0..6", "--out", &results, "--report", &sweep_dir, "-j", "2"]), "sweep --report");
    let sweep_page = Path::new(&sweep_dir).join("sweep.html");
    check_page(&sweep_page, &["plot-s0-outcomes", "plot-s0-delay-max", "plot-s0-users", "plot-s0-checkpoints", "plot-s1-service-down"]);
    // The same page from the stored results, without running anything.
    let again = format!("{dir_s}/again");
    ok(&mailsim(&["report", &results, "--out", &again]), "report RESULTS");
    assert_eq!(
        std::fs::read(&sweep_page).expect("sweep.html"),
        std::fs::read(Path::new(&again).join("sweep.html")).expect("again"),
        "a sweep's page depends only on its results"
    );

    let cmp_dir = format!("{dir_s}/compare");
    ok(&mailsim(&["compare", a_s, b_s, "--seeds", "0..6", "--resamples", "2000", "--report", &cmp_dir]), "compare --report");
    let cmp_page = Path::new(&cmp_dir).join("compare.html");
    assert!(std::fs::read_to_string(&cmp_page).expect("compare.html").contains("95% CI"));
    check_page(&cmp_page, &["plot-users", "plot-mailboxes"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Bad input is a clear error and exit 2, never a panic.
#[test]
fn bad_report_input_is_an_error_not_a_panic() {
    let dir = temp_dir("bad");
    let out = dir.join("out");
    let o = out.to_str().expect("utf-8");
    let missing = mailsim(&["report", "no-such-scenario.toml", "--out", o]);
    assert_eq!(missing.status.code(), Some(2), "{}", String::from_utf8_lossy(&missing.stderr));
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).expect("mkdir");
    let none = mailsim(&["report", empty.to_str().expect("utf-8"), "--out", o]);
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("error"), "{}", String::from_utf8_lossy(&none.stderr));
    let f = dir.join("a.toml");
    std::fs::write(&f, lock("2h", "x")).expect("write");
    let fs = f.to_str().expect("utf-8");
    let three = mailsim(&["report", fs, fs, fs, "--out", o]);
    assert_eq!(three.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&three.stderr).contains("not 3 inputs"));
    // An output directory that cannot be created (a file is in the way).
    let blocked = mailsim(&["run", fs, "--report", fs]);
    assert_eq!(blocked.status.code(), Some(2), "{}", String::from_utf8_lossy(&blocked.stderr));
    assert!(String::from_utf8_lossy(&blocked.stderr).contains("cannot create report directory"));
    let _ = std::fs::remove_dir_all(&dir);
}

fn scenario(rollback: &str, name: &str) -> Scenario {
    Scenario::from_toml(&lock(rollback, name), format!("{name}.toml")).expect("a valid scenario")
}

/// The data behind every plot of a run's page.
#[test]
fn run_page_data_snapshot() {
    let s = scenario("2h", "report-lock");
    let r = mailsim::run::run(&s, 3);
    let d = mailsim::report::run_report_data(&s, Path::new("report-lock.toml"), &r);
    insta::assert_json_snapshot!("run_data", d);
    let html = mailsim::report::run_page(&d).expect("the page draws");
    assert_eq!(html, mailsim::report::run_page(&d).expect("again"), "a page is deterministic");
}

/// The data behind a sweep's page, from records of a real sweep.
#[test]
fn sweep_page_data_snapshot() {
    let dir = temp_dir("sweep-data");
    let f = dir.join("report-lock.toml");
    std::fs::write(&f, lock("2h", "report-lock")).expect("write");
    let mut cfg = mailsim::sweep::SweepConfig::new(vec![f], dir.join("results"));
    cfg.seeds = Some(0..8);
    cfg.threads = 2;
    let out = mailsim::sweep::sweep(&cfg).expect("the sweep runs");
    let results = mailsim::sweep::merge_dirs(&[dir.join("results")]).expect("results load");
    let records: Vec<&mailsim::sweep::Record> = results.records.values().collect();
    let mut d = mailsim::report::sweep_data(&out.summary, &records);
    // The file's place is the temporary directory's.
    for s in &mut d.scenarios {
        s.file = "report-lock.toml".into();
        for row in s.classes.iter_mut().chain(s.fault_kinds.iter_mut()) {
            if let Some(last) = row.last_mut() {
                *last = last.replace(dir.to_str().expect("utf-8"), "DIR");
            }
        }
    }
    insta::assert_json_snapshot!("sweep_data", d);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The data behind a comparison's page: medians and bands, the table.
#[test]
fn compare_page_data_snapshot() {
    let (a, b) = (scenario("2h", "report-lock"), scenario("5h", "report-lock-late"));
    let end_s = 86_400;
    let (c, curves) = mailsim::compare::compare_keeping(&a, &b, 0..6, 2000, |r| mailsim::report::seed_curves(r, end_s));
    let d = mailsim::report::compare_data(&c, &curves, mailsim::report::data::Clock { t0: a.file.scenario.t0 }, end_s);
    insta::assert_json_snapshot!("compare_data", d);
}

#[test]
fn helpers_bin_rank_and_sample_as_documented() {
    assert_eq!(bins(&[], 4), vec![]);
    let bin = |low, high, count| Bin { low, high, count };
    assert_eq!(bins(&[2.0, 2.0], 4), vec![bin(1.5, 2.5, 2)]);
    assert_eq!(bins(&[0.0, 1.0, 4.0], 4), vec![bin(0.0, 1.0, 1), bin(1.0, 2.0, 1), bin(2.0, 3.0, 0), bin(3.0, 4.0, 1)]);
    // A bin is named in Rust and stays `[low, high, count]` in the report's
    // JSON (the snapshots hold the other named rows to the same shape).
    assert_eq!(serde_json::to_string(&bin(0.0, 1.0, 2)).unwrap(), "[0.0,1.0,2]");
    let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
    assert_eq!((percentile(&v, 10.0), percentile(&v, 50.0), percentile(&v, 90.0)), (1.0, 5.0, 9.0));
    let curve = [(10.0, 50.0), (20.0, 100.0)];
    assert_eq!(
        (sample(&curve, 5.0, 100.0), sample(&curve, 10.0, 100.0), sample(&curve, 15.0, 0.0), sample(&curve, 99.0, 0.0)),
        (100.0, 50.0, 50.0, 100.0)
    );
}

/// Every name a trace shows, checked for Rust debug text: a struct's braces,
/// a path, or a variant wrapping its payload (`Fault(PathFault { shelf: 0 })`).
fn looks_like_debug(name: &str) -> bool {
    let wrapped = name.split('(').next().is_some_and(|w| {
        let w = w.rsplit(' ').next().unwrap_or("");
        w.len() > 1 && w.starts_with(|c: char| c.is_ascii_uppercase()) && w.chars().all(char::is_alphanumeric)
    }) && name.contains('(');
    name.contains('{') || name.contains('}') || name.contains("::") || wrapped
}

/// Checks a Chrome trace against the Trace Event Format's rules (the JSON
/// object form: `traceEvents`; phases M, X, i, C, s, f with their required
/// fields), plus what a reader needs: every process and thread named, slices
/// on one track nested (never overlapping without nesting), every flow
/// start paired with one finish, no later than it, bound to a slice on its
/// track. Returns the thread names by tid.
fn check_chrome_trace(v: &serde_json::Value) -> std::collections::BTreeMap<u64, String> {
    use std::collections::BTreeMap;
    let events = v["traceEvents"].as_array().expect("a traceEvents array");
    assert!(!events.is_empty());
    let mut threads: BTreeMap<u64, String> = BTreeMap::new();
    let mut processes: BTreeMap<u64, String> = BTreeMap::new();
    let mut slices: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    // Per flow id: its starts and its finishes, as (tid, ts).
    type Ends = (Vec<(u64, u64)>, Vec<(u64, u64)>);
    let mut flows: BTreeMap<u64, Ends> = BTreeMap::new();
    for e in events {
        let ph = e["ph"].as_str().unwrap_or_else(|| panic!("no phase: {e}"));
        let pid = e["pid"].as_u64().unwrap_or_else(|| panic!("no pid: {e}"));
        let name = e["name"].as_str().unwrap_or_else(|| panic!("no name: {e}"));
        assert!(!name.is_empty() && !looks_like_debug(name), "a name a person reads: {e}");
        if let Some(label) = e["args"]["label"].as_str() {
            assert!(!looks_like_debug(label), "a label a person reads: {e}");
        }
        if ph == "M" {
            let arg = &e["args"]["name"];
            match name {
                "process_name" => drop(processes.insert(pid, arg.as_str().expect("a process name").to_string())),
                "thread_name" => {
                    let tid = e["tid"].as_u64().expect("a named thread's tid");
                    let track = arg.as_str().expect("a thread name");
                    assert!(!track.is_empty() && !looks_like_debug(track), "track name: {e}");
                    assert!(threads.insert(tid, track.to_string()).is_none(), "tid {tid} named twice");
                }
                "thread_sort_index" => assert!(e["args"]["sort_index"].is_i64(), "{e}"),
                other => panic!("unknown metadata `{other}`: {e}"),
            }
            continue;
        }
        assert!(processes.contains_key(&pid), "pid {pid} used before its process_name: {e}");
        let ts = e["ts"].as_u64().unwrap_or_else(|| panic!("no ts: {e}"));
        let tid = e["tid"].as_u64();
        match ph {
            "X" => {
                let dur = e["dur"].as_u64().unwrap_or_else(|| panic!("no dur: {e}"));
                slices.entry(tid.expect("a slice's tid")).or_default().push((ts, ts + dur));
            }
            "i" => assert!(matches!(e["s"].as_str(), Some("t" | "p" | "g")), "an instant's scope: {e}"),
            "C" => {
                let args = e["args"].as_object().unwrap_or_else(|| panic!("a counter's args: {e}"));
                assert!(!args.is_empty() && args.values().all(serde_json::Value::is_number), "{e}");
            }
            "s" | "f" => {
                let id = e["id"].as_u64().unwrap_or_else(|| panic!("a flow's id: {e}"));
                let end = flows.entry(id).or_default();
                let point = (tid.expect("a flow's tid"), ts);
                if ph == "s" {
                    end.0.push(point)
                } else {
                    end.1.push(point)
                }
            }
            other => panic!("unexpected phase {other}: {e}"),
        }
        if let Some(tid) = tid {
            assert!(threads.contains_key(&tid), "tid {tid} has no thread_name: {e}");
        }
    }
    for (tid, spans) in &mut slices {
        spans.sort_by_key(|&(a, z)| (a, std::cmp::Reverse(z)));
        let mut open: Vec<(u64, u64)> = Vec::new();
        for &(a, z) in spans.iter() {
            while open.last().is_some_and(|o| o.1 <= a) {
                open.pop();
            }
            if let Some(o) = open.last() {
                assert!(z <= o.1, "track `{}`: slice {a}..{z} overlaps {o:?} without nesting in it", threads[tid]);
            }
            open.push((a, z));
        }
    }
    for (id, (starts, finishes)) in &flows {
        assert!(starts.len() == 1 && finishes.len() == 1, "flow {id}: starts {starts:?}, finishes {finishes:?}");
        let (s, f) = (starts[0], finishes[0]);
        assert!(s.1 <= f.1, "flow {id} finishes before it starts");
        for (tid, ts) in [s, f] {
            assert!(
                slices.get(&tid).is_some_and(|v| v.iter().any(|&(a, z)| a <= ts && ts < z)),
                "flow {id}: no slice at {ts} on tid {tid}"
            );
        }
    }
    threads
}

/// The OpenSRS replay's trace, as Perfetto would read it: valid trace
/// events, a named track per node, shelf, controller, RAID group and
/// volume, each state change a span, faults named as the scenario names
/// their objects, phases and recovery steps as spans, and one mail's hops
/// as paired flow arrows.
#[test]
fn the_trace_names_every_track_and_draws_storage_phases_steps_and_a_mails_hops() {
    let dir = temp_dir("trace");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/opensrs-2008-shelf-controller.toml");
    let out = dir.join("trace.json");
    let run =
        mailsim(&["run", file.to_str().expect("utf-8"), "--seed", "1", "--trace", out.to_str().expect("utf-8"), "--trace-mail", "42"]);
    ok(&run, "run --trace --trace-mail");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).expect("the trace")).expect("the trace is JSON");
    let threads = check_chrome_trace(&v);
    let names: Vec<&str> = threads.values().map(String::as_str).collect();
    for track in ["kernel", "phases", "filer", "mx-1", "mx-2", "internet", "clients", "ops", "alerts", "recovery: rebuild"] {
        assert!(names.contains(&track), "no track `{track}` in {names:?}");
    }
    let storage = ["filer: shelf-a", "filer: shelf-b", "filer: shelf-a/controller-a", "filer: shelf-a/controller-b", "filer: group-1"];
    let volumes: Vec<String> = (1..=6).map(|v| format!("filer: volume-{v}")).collect();
    for track in storage.iter().copied().chain(volumes.iter().map(String::as_str)) {
        assert!(names.contains(&track), "no track `{track}` in {names:?}");
    }
    let events = v["traceEvents"].as_array().expect("events");
    let on = |track: &str| -> Vec<String> {
        let tid = threads.iter().find(|t| t.1 == track).map(|t| *t.0);
        events.iter().filter(|e| e["ph"] == "X" && e["tid"].as_u64() == tid).map(|e| e["name"].as_str().unwrap_or("").to_string()).collect()
    };
    // The failed shelf's first volume: offline from the failure until its group is rebuilt.
    let v1 = on("filer: volume-1");
    assert!(v1.first().is_some_and(|s| s.starts_with("offline: volume-1 is on group-1 behind shelf-a")), "{v1:?}");
    assert_eq!(v1.last().map(String::as_str), Some("online"), "{v1:?}");
    assert!(v1.contains(&"offline: group-1 rebuilding".to_string()), "the volume's own track shows its group's rebuild: {v1:?}");
    assert_eq!(on("filer: volume-2"), ["online"], "a volume behind the working shelf stays online");
    assert!(on("filer: shelf-a/controller-a").contains(&"failed".to_string()));
    assert_eq!(on("filer: shelf-a/controller-b"), ["working"], "the failure named controller-a");
    let g1 = on("filer: group-1");
    assert!(g1.contains(&"rebuilding".to_string()) && g1.last().map(String::as_str) == Some("healthy"), "{g1:?}");
    assert_eq!(on("faults: filer: shelf-a/controller-a"), ["controller-failure on filer: shelf-a/controller-a"]);
    assert_eq!(on("faults: filer: shelf-a"), ["path-fault on filer: shelf-a"]);
    // The fault instants name the parts as the scenario does, not by index.
    let fault_instants: Vec<&str> =
        events.iter().filter(|e| e["ph"] == "i").filter_map(|e| e["name"].as_str()).filter(|n| n.starts_with("fault")).collect();
    assert!(fault_instants.contains(&"fault: controller-failure on filer: shelf-a/controller-a"), "{fault_instants:?}");
    assert!(fault_instants.contains(&"fault: path-fault on filer: shelf-a"), "{fault_instants:?}");
    assert!(fault_instants.iter().all(|n| !n.contains("shelf 0") && !n.contains("controller 0")), "{fault_instants:?}");
    assert_eq!(on("phases"), ["fault phase", "liveness phase"]);
    assert_eq!(on("recovery: rebuild"), ["rebuild"]);
    // Mail 42's hops, every one: written, offered over SMTP, durable in an
    // MX's queue, acknowledged, appended to the store, durable in its
    // mailbox, out of the queue — messages and the ledger's notes alike.
    let mut hops: Vec<&serde_json::Value> = events.iter().filter(|e| e["ph"] == "X" && e["cat"] == "flow").collect();
    hops.sort_by_key(|h| (h["ts"].as_u64(), h["args"]["seq"].as_u64()));
    let labels: Vec<&str> = hops.iter().map(|h| h["args"]["label"].as_str().unwrap_or("")).collect();
    assert!(hops.iter().all(|h| h["name"] == "mail 42"), "{hops:?}");
    assert!(labels.iter().all(|l| l.contains("mail 42")), "{labels:#?}");
    // Two chains of cause and effect: the SMTP side and the delivery side
    // (the reply to the sender and the append race on the network).
    let chains = [
        [
            "written, held by its sender",
            "SMTP DATA: mail 42 for mailbox",
            "durable in the queue",
            "acknowledged with 250",
            "SMTP reply: mail 42, 250 accepted",
        ],
        [
            "acknowledged with 250",
            "append: mail 42 to mailbox",
            "durable in its mailbox",
            "append reply: mail 42 stored",
            "removed from the queue",
        ],
    ];
    for order in chains {
        let at: Vec<Option<usize>> = order.iter().map(|o| labels.iter().position(|l| l.contains(o))).collect();
        assert!(at.iter().all(Option::is_some), "every hop of mail 42: {labels:#?}");
        assert!(at.windows(2).all(|w| w[0] < w[1]), "in order: {order:?} in {labels:#?}");
    }
    let arrows = events.iter().filter(|e| e["ph"] == "s").count();
    assert_eq!(arrows, hops.len() - 1, "an arrow between each two hops");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Parses a Chrome trace in headless Chromium, as a trace viewer first
/// does (`JSON.parse`), and checks each event against the Trace Event
/// Format there: a known phase, pid, name and (but for metadata) ts; a
/// slice's dur, an instant's scope, a thread named before it is used, and
/// each flow id started once and finished once. Returns the parse time (ms)
/// and the problems found.
fn parse_in_browser(trace: &Path) -> (f64, Vec<String>) {
    let json = std::fs::read_to_string(trace).expect("the trace");
    // `</` cannot end the script element early once escaped (`\/` is JSON's own escape).
    let page = format!(
        r#"<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<script type="application/json" id="trace">{}</script>
<script>
const el = document.getElementById('trace');
const t0 = performance.now();
const v = JSON.parse(el.textContent);
const parse_ms = performance.now() - t0;
el.remove();
const problems = [], named = new Set(), flows = {{}};
const bad = (why, e) => {{ if (problems.length < 20) problems.push(why + ': ' + JSON.stringify(e)); }};
for (const e of v.traceEvents) {{
  if (!['M', 'X', 'i', 'C', 's', 'f'].includes(e.ph)) bad('phase', e);
  if (typeof e.pid !== 'number' || typeof e.name !== 'string' || e.name === '') bad('pid or name', e);
  if (e.ph === 'M') {{
    if (e.name === 'thread_name') {{ if (typeof e.args.name !== 'string') bad('thread name', e); named.add(e.tid); }}
    continue;
  }}
  if (typeof e.ts !== 'number') bad('ts', e);
  if (e.ph === 'X' && !(e.dur >= 0)) bad('dur', e);
  if (e.ph === 'i' && !['t', 'p', 'g'].includes(e.s)) bad('scope', e);
  if (e.tid !== undefined && !named.has(e.tid)) bad('unnamed thread', e);
  if (e.ph === 's' || e.ph === 'f') (flows[e.id] = flows[e.id] || []).push(e.ph);
}}
for (const [id, ends] of Object.entries(flows)) if (ends.join() !== 's,f') bad('flow ' + id, ends);
const out = document.createElement('pre');
out.id = 'mailsim-check';
out.textContent = JSON.stringify({{parse_ms, events: v.traceEvents.length, problems}});
document.body.appendChild(out);
</script></body></html>"#,
        json.replace("</", "<\\/")
    );
    let file = trace.with_extension("html");
    std::fs::write(&file, page).expect("write the page");
    let profile = trace.with_extension("profile");
    let out = Command::new(chromium().expect("checked by the caller"))
        .args(HEADLESS)
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", file.display()))
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&out.stdout);
    let start = dom.find("<pre id=\"mailsim-check\">").unwrap_or_else(|| panic!("no result:\n{}", String::from_utf8_lossy(&out.stderr)));
    let text = &dom[start + "<pre id=\"mailsim-check\">".len()..];
    let text = text[..text.find("</pre>").expect("the result ends")]
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let v: serde_json::Value = serde_json::from_str(&text).expect("the result is JSON");
    eprintln!("the browser parsed {} events in {} ms", v["events"], v["parse_ms"]);
    let problems = v["problems"].as_array().expect("problems").iter().map(|p| p.as_str().unwrap_or("?").to_string()).collect();
    (v["parse_ms"].as_f64().unwrap_or(f64::MAX), problems)
}

/// A 5-day run's trace stays a size a browser opens (sampled: the full one
/// was 167 MB), and is valid.
#[test]
fn a_five_day_trace_is_small_enough_for_a_browser() {
    let dir = temp_dir("trace-size");
    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/eccs-2018-nfs-lock-upgrade.toml");
    let out = dir.join("trace.json");
    let args = ["run", file.to_str().expect("utf-8"), "--seed", "1", "--trace", out.to_str().expect("utf-8"), "--trace-mail", "7"];
    ok(&mailsim(&args), "run --trace");
    let bytes = std::fs::read(&out).expect("the trace");
    assert!(bytes.len() < 8_000_000, "a 5-day trace of {} bytes", bytes.len());
    let v: serde_json::Value = serde_json::from_slice(&bytes).expect("the trace is JSON");
    let threads = check_chrome_trace(&v);
    assert!(threads.values().any(|t| t == "faults: filer"), "{threads:?}");
    // A real browser parses it and finds it well formed.
    if chromium().is_some() {
        let (parse_ms, problems) = parse_in_browser(&out);
        assert!(problems.is_empty(), "the browser found: {problems:#?}");
        assert!(parse_ms < 10_000.0, "the browser took {parse_ms} ms to parse the trace");
        // The browser's check catches a slice without dur and a flow never finished.
        let planted = dir.join("planted.json");
        let bad = r#"{"traceEvents":[{"ph":"M","pid":1,"tid":1,"name":"thread_name","args":{"name":"a"}},
            {"ph":"X","pid":1,"tid":1,"ts":0,"name":"no dur"},{"ph":"s","pid":1,"tid":1,"ts":0,"id":9,"name":"half a flow"}]}"#;
        std::fs::write(&planted, bad).expect("write");
        let (_, problems) = parse_in_browser(&planted);
        assert!(problems.iter().any(|p| p.starts_with("dur")) && problems.iter().any(|p| p.starts_with("flow 9")), "{problems:?}");
    }
    let end = v["traceEvents"].as_array().expect("events").iter().filter_map(|e| e["ts"].as_u64()).max().unwrap_or(0);
    assert!(end >= 4 * 86_400_000_000, "the trace covers the run's days: ends at {end} µs");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Checkpoint labels close in time go in rows further down, so none
/// overlaps another on the availability plots.
#[test]
fn checkpoint_labels_close_in_time_take_separate_rows() {
    // Each label in the top-most row where it is `gap` after the last one.
    assert_eq!(label_rows(&[0.0, 1.0, 10.0, 2.0, 3.0], 3.0), vec![0, 1, 0, 2, 0]);
    assert_eq!(label_rows(&[5.0, 0.0], 3.0), vec![0, 0]);
    assert_eq!(label_rows(&[], 3.0), Vec::<usize>::new());
    // On a run's page: three claims within 40 minutes of each other.
    let close = "\n[[checkpoints]]\nclaim = \"most users still served at 10:20\"\nat = \"2018-05-19 10:20 +09:00\"\nmetric = \"users_full_service\"\nmin = \"50%\"\n\n[[checkpoints]]\nclaim = \"and at 10:40\"\nat = \"2018-05-19 10:40 +09:00\"\nmetric = \"users_full_service\"\nmin = \"50%\"\n";
    let s = Scenario::from_toml(&(lock("2h", "close") + close), "close.toml").expect("a valid scenario");
    let d = mailsim::report::run_report_data(&s, Path::new("close.toml"), &mailsim::run::run(&s, 3));
    assert_eq!(d.marks.len(), 4);
    let rows: Vec<usize> = d.marks.iter().map(|m| m.label_row).collect();
    assert_eq!(rows, [0, 0, 1, 2], "10:00, 10:20 and 10:40 in three rows; 11:10 back in the first");
    // No two labels' boxes intersect; all in one row, they would.
    let overlaps = |marks: &[mailsim::report::data::CheckMark]| -> Vec<(String, String)> {
        let mut o = Vec::new();
        for (i, a) in marks.iter().enumerate() {
            for b in &marks[i + 1..] {
                if label_box(a, d.end_s).overlaps(&label_box(b, d.end_s)) {
                    o.push((a.label.clone(), b.label.clone()));
                }
            }
        }
        o
    };
    assert_eq!(overlaps(&d.marks), [], "label boxes: {:?}", d.marks.iter().map(|m| label_box(m, d.end_s)).collect::<Vec<_>>());
    let one_row: Vec<_> = d
        .marks
        .iter()
        .cloned()
        .map(|mut m| {
            m.label_row = 0;
            m
        })
        .collect();
    assert!(!overlaps(&one_row).is_empty(), "the overlap check catches labels in one row");
    // A claim at the run's end: its label starts left of the end, inside the plot.
    let mut end = d.marks.clone();
    end[0].at_s = d.end_s;
    mailsim::report::data::lay_out_labels(&mut end, d.end_s);
    assert!(label_box(&end[0], d.end_s).right <= 1.0, "{:?}", label_box(&end[0], d.end_s));
    for a in &d.marks {
        for b in d.marks.iter().filter(|b| b.label != a.label && b.label_row == a.label_row) {
            let gap = a.at_s.abs_diff(b.at_s) as f64;
            assert!(gap >= LABEL_GAP * d.end_s as f64, "{} and {} share a row {gap} s apart", a.label, b.label);
        }
    }
}

/// The fault kinds and steps added with the data, head and device faults
/// (head-failure, local-device-failure, data-corruption, data-loss; restore,
/// recreate-accounts, giveback, power-cycle) read as words in the
/// trace and on the run's page: objects named as the scenario names them,
/// settings in words, cluster members by name, never debug text (`Works`,
/// `share_ppm 1000000`, `volumes [0]`, `node 2`).
#[test]
fn faults_and_steps_of_the_data_head_and_device_kinds_read_as_words_in_the_trace_and_report() {
    let dir = temp_dir("new-kinds");
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/examples");
    let mut fault_names: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut tracks: Vec<String> = Vec::new();
    let mut lanes = String::new();
    for name in ["restore-from-backup", "ha-pair-takeover", "local-device-failover"] {
        let file = examples.join(format!("{name}.toml"));
        let trace = dir.join(format!("{name}.json"));
        let report = dir.join(name);
        let args = [
            "run",
            file.to_str().expect("utf-8"),
            "--seed",
            "1",
            "--trace",
            trace.to_str().expect("utf-8"),
            "--report",
            report.to_str().expect("utf-8"),
        ];
        let out = mailsim(&args);
        assert!(out.status.code().is_some_and(|c| c <= 1), "{name}: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&trace).expect("the trace")).expect("JSON");
        tracks.extend(check_chrome_trace(&v).into_values());
        for e in v["traceEvents"].as_array().expect("events") {
            let n = e["name"].as_str().unwrap_or("");
            if n.starts_with("fault") {
                fault_names.push(n.to_string());
            }
            if let Some(l) = e["args"]["label"].as_str() {
                labels.push(l.to_string());
            }
        }
        fault_names.extend(tracks.iter().filter(|t| t.starts_with("faults")).cloned());
        // The run's page: its timeline's lane names and its faults table.
        let html = std::fs::read_to_string(report.join("run.html")).expect("run.html");
        let timeline = &html[html.find("id=\"plot-timeline\"").expect("a timeline")..];
        lanes.push_str(&timeline[..timeline.find("</figure>").expect("its end")]);
        let faults = &html[html.find("id=\"faults\"").expect("a faults table")..];
        lanes.push_str(&faults[..faults.find("</table>").expect("its end")]);
    }
    // Words, not debug text: no snake_case field, list, or variant name.
    let raw = |t: &str| t.contains('_') || t.contains('[') || t.chars().any(|c| c.is_ascii_uppercase());
    let bad: Vec<&String> = fault_names.iter().filter(|n| raw(n)).collect();
    assert!(bad.is_empty(), "fault names with debug text: {bad:#?}");
    for want in [
        "fault: data-loss on filer: volume-1, share 100%",
        "fault: data-corruption on filer: volume-2, share 10%",
        "faults: filer: volume-1",
        "fault: head-failure on filer: head-a, takeover works",
        "faults: filer: head-a",
        "fault: local-device-failure on mx-1: device queue",
    ] {
        assert!(fault_names.iter().any(|n| n == want), "no `{want}` in {fault_names:#?}");
    }
    // Cluster members and fencing targets by name.
    let nodes: Vec<&String> =
        labels.iter().filter(|l| l.split("node ").skip(1).any(|r| r.starts_with(|c: char| c.is_ascii_digit()))).collect();
    assert!(nodes.is_empty(), "labels naming a node by number: {:#?}", &nodes[..nodes.len().min(5)]);
    for want in ["fence: power off mx-1", "virtual IP: now at mx-2"] {
        assert!(labels.iter().any(|l| l.contains(want)), "no label with `{want}`");
    }
    // (The restore steps' commands, in words, are checked in the models'
    // tests: the sampled trace keeps few deliveries of a busy hour.)
    // The report's timeline and faults table use the same words.
    for want in [
        "data-loss on filer: volume-1, share 100%",
        "head-failure on filer: head-a, takeover works",
        "local-device-failure on mx-1: device queue",
    ] {
        assert!(lanes.contains(want), "the run pages show no `{want}`");
    }
    for debug in ["share_ppm", "volumes [", "Works", "Queue"] {
        assert!(!lanes.contains(debug), "the run pages show `{debug}`");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
