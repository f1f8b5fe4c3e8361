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

use mailsim::report::data::{bins, percentile, sample};
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
    const svg = f.querySelector('svg');
    const box = svg ? svg.getBoundingClientRect() : {width: 0, height: 0};
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
    return {id: f.id, width: Math.round(box.width), height: Math.round(box.height), points: +f.dataset.points, marks};
  });
  const out = document.createElement('pre');
  out.id = 'mailsim-check';
  out.textContent = JSON.stringify({errors: window.__errors, plots, width: document.documentElement.scrollWidth});
  document.body.appendChild(out);
}, 200));
</script>"#;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| std::env::var_os("PATH")?.to_str()?.split(':').map(|d| Path::new(d).join(name)).find(|p| p.is_file()))
}

/// What the browser saw of a page: (errors, plots as (id, width, height, points, marks)).
type Seen = (Vec<String>, Vec<(String, u64, u64, u64, u64)>);

/// Renders `page` in headless Chromium at `width` px and returns what the
/// injected script measured.
fn render(page: &Path, width: u32) -> Seen {
    let Some(browser) = chromium() else {
        if std::env::var_os("MAILSIM_SKIP_BROWSER").is_some() {
            eprintln!("MAILSIM_SKIP_BROWSER is set: not rendering {}", page.display());
            return (Vec::new(), Vec::new());
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
    let copy = page.with_extension(format!("probe-{width}.html"));
    std::fs::write(&copy, probe).expect("write the probe copy");
    let profile = page.with_extension(format!("profile-{width}"));
    let out = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            // Run the page's timers (the check waits for one) before dumping.
            "--virtual-time-budget=5000",
        ])
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
    let plots = v["plots"]
        .as_array()
        .expect("plots")
        .iter()
        .map(|p| {
            let n = |k: &str| p[k].as_u64().unwrap_or(0);
            (p["id"].as_str().unwrap_or("").to_string(), n("width"), n("height"), n("points"), n("marks"))
        })
        .collect();
    (errors, plots)
}

/// Renders `page` wide and narrow; every plot in `expected` must be there,
/// sized and drawing data, with no error at all.
fn check_page(page: &Path, expected: &[&str]) {
    let html = std::fs::read_to_string(page).expect("the page was written");
    for bad in ["<link", "<img", "<iframe", "@import", "url(", " src=\"http", "<script"] {
        assert!(!html.contains(bad), "{}: a self-contained page has no `{bad}`", page.display());
    }
    for width in [1200, 380] {
        let (errors, plots) = render(page, width);
        if chromium().is_none() {
            return;
        }
        assert!(errors.is_empty(), "{} at {width}px: errors in the browser: {errors:#?}", page.display());
        for id in expected {
            let p = plots.iter().find(|p| p.0 == *id).unwrap_or_else(|| panic!("{}: no plot `{id}` in {plots:?}", page.display()));
            assert!(p.1 >= 250 && p.2 >= 100, "{}: plot `{id}` has no real size at {width}px: {p:?}", page.display());
            assert!(p.3 > 0, "{}: plot `{id}` shows no data: {p:?}", page.display());
            assert!(p.4 > 0, "{}: plot `{id}` draws nothing: {p:?}", page.display());
        }
    }
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
    assert_eq!(bins(&[2.0, 2.0], 4), vec![(1.5, 2.5, 2)]);
    assert_eq!(bins(&[0.0, 1.0, 4.0], 4), vec![(0.0, 1.0, 1), (1.0, 2.0, 1), (2.0, 3.0, 0), (3.0, 4.0, 1)]);
    let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
    assert_eq!((percentile(&v, 10.0), percentile(&v, 50.0), percentile(&v, 90.0)), (1.0, 5.0, 9.0));
    let curve = [(10.0, 50.0), (20.0, 100.0)];
    assert_eq!(
        (sample(&curve, 5.0, 100.0), sample(&curve, 10.0, 100.0), sample(&curve, 15.0, 0.0), sample(&curve, 99.0, 0.0)),
        (100.0, 50.0, 50.0, 100.0)
    );
}
