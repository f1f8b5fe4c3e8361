//! `mailsim calibrate` recovers known parameters from the checkpoints of a
//! synthetic run, and refuses what it cannot calibrate.
//!
//! The synthetic outage: a shelf whose paths are lost (a latent path fault,
//! then a controller failure) takes its RAID group offline; operators
//! replace the hardware at `at`, then the group rebuilds its 4 stale 300 GB
//! disks at `rebuild_rate` (no client load, so the rebuild takes
//! 1.2 TB / rate). The truth — `at` = 5h, `rebuild_rate` = 25MB/s — is run
//! once; the times it measured (the replacement done, the last mailbox
//! back) become the checkpoints of a file that knows only wide ranges.

use std::path::{Path, PathBuf};
use std::process::Command;

use mailsim::calibrate::{calibrate, calibrated_text, Options};
use mailsim::run::run;
use mailsim::scenario::Scenario;
use mailsim::units::Share;

const TRUE_AT_H: i128 = 5;
const TRUE_RATE: i128 = 25_000_000;

/// The synthetic scenario with `at` and `rebuild_rate` as given (values or
/// ranges) and `checkpoints` appended.
fn synthetic(at: &str, rate: &str, checkpoints: &str) -> String {
    format!(
        r#"[scenario]
name = "calibrate-synthetic"
summary = "a shelf outage whose restoration times come from known parameters"

[run]
duration = "3d"

[topology]
mx = 1
mailboxes = 40

[topology.clients]
users = 20

[topology.storage]
shelves = 2
groups = 2
volumes = 2
disks_per_group = 6
stale_disks = 4
disk_size = "300GB"
# The one rate that sets the rebuild time: no client load competes with it.
rebuild_rate = {rate}
foreground_peak = "0%"

[workload]
mails = 60
window = "1d"

[[faults]]
at = "-1d"
kind = "path-fault"
target = "shelf-a"

[[faults]]
at = "0s"
kind = "controller-failure"
target = "shelf-a/controller-a"

[[recovery]]
name = "replace-hardware"
action = "replace-hardware"
target = "filer"
at = {at}

[[recovery]]
name = "rebuild"
action = "start-rebuild"
target = "filer"
after = "replace-hardware"
{checkpoints}"#
    )
}

fn dir(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("calibrate").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("can create a test directory");
    d
}

/// The checkpoints of the true run: when the replacement was done and the
/// last mailbox came back, each within an hour.
fn checkpoints_of_the_truth() -> String {
    let truth =
        Scenario::from_toml(&synthetic(&format!("\"{TRUE_AT_H}h\""), &format!("\"{}MB/s\"", TRUE_RATE / 1_000_000), ""), "truth.toml")
            .expect("the true scenario is valid");
    let r = run(&truth, 0);
    let replaced_s = r.figures.steps[0].done_us.expect("the replacement was done") / 1_000_000;
    let restored_s = r.figures.restored_us.expect("every mailbox came back") / 1_000_000;
    // The mechanism, not a typed-in duration: 4 disks of 300 GB at 25 MB/s.
    let rebuild_s = restored_s - replaced_s;
    assert!((47_000..50_000).contains(&rebuild_s), "1.2 TB at 25 MB/s is 48,000 s; the run took {rebuild_s} s");
    format!(
        r#"
[[checkpoints]]
claim = "the hardware was replaced"
at = "{replaced_s}s"
metric = "step_done"
step = "replace-hardware"
early = "1h"
late = "1h"

[[checkpoints]]
claim = "every mailbox back"
at = "{restored_s}s"
metric = "mailboxes_restored"
early = "1h"
late = "1h"
"#
    )
}

fn prior() -> (String, String) {
    (
        r#"{ range = ["1h", "12h"], reason = "the synthetic postmortem does not say when the parts came" }"#.into(),
        r#"{ range = ["10MB/s", "60MB/s"], reason = "FC disks of the time rebuild at 10-60 MB/s" }"#.into(),
    )
}

#[test]
fn calibrate_recovers_the_replacement_time_and_rebuild_rate_of_a_synthetic_run() {
    let (at, rate) = prior();
    let text = synthetic(&at, &rate, &checkpoints_of_the_truth());
    let d = dir("recover");
    let path = d.join("synthetic.toml");
    std::fs::write(&path, &text).unwrap();
    let s = Scenario::load(&path).expect("the ranged scenario is valid");
    let fields: Vec<String> = s.ranges.iter().map(|r| r.path.to_string()).collect();
    assert_eq!(fields.len(), 2, "{fields:?}");
    let o = Options { draws: 400, seeds: 1, seed: 0, jobs: mailsim::pool::cores(), keep: Share(100_000) };
    let c = calibrate(&s, &o).expect("calibrates");
    assert!(c.consistent >= 5, "{} consistent draws of 400", c.consistent);
    assert_eq!(c.kept, c.consistent, "consistent draws exist, so they are the ones kept");
    let truth = |field: &str| if field.ends_with("rebuild_rate") { TRUE_RATE } else { TRUE_AT_H * 3_600_000_000 };
    for r in &c.regions {
        let t = truth(&r.field);
        assert!(r.min <= t && t <= r.max, "{}: the truth {t} outside the kept draws {} to {}", r.field, r.min, r.max);
        assert!(r.p5 <= t && t <= r.p95, "{}: the truth {t} outside the 90% interval {:?}", r.field, r.shown);
        assert!(r.width_share < 0.35, "{}: the 90% interval is {:.0}% of the prior's width", r.field, 100.0 * r.width_share);
        let off = (r.median - t).abs() as f64 / (r.prior[1] - r.prior[0]) as f64;
        assert!(off < 0.1, "{}: median {} is {:.0}% of the prior away from the truth", r.field, r.shown.median, 100.0 * off);
    }
    for k in &c.checkpoints {
        assert_eq!(k.kept_hit, 1.0, "{}: every kept draw hits it", k.claim);
        assert!(k.prior_hit < 0.5, "{}: the wide prior mostly misses it ({})", k.claim, k.prior_hit);
    }
    // Deterministic: the same search again gives the same draws and verdicts.
    let again = calibrate(&s, &Options { jobs: 1, ..o.clone() }).expect("calibrates");
    let key = |c: &mailsim::calibrate::Calibration| c.every.iter().map(|d| (d.values.clone(), d.consistent)).collect::<Vec<_>>();
    assert_eq!(key(&c), key(&again), "threads change nothing");

    // The calibrated file: the medians in place of the ranges, comments kept,
    // loadable, and it hits both checkpoints.
    let out = calibrated_text(&text, &s, &c, false, "mailsim calibrate synthetic.toml").expect("writes");
    assert!(out.contains("# The one rate that sets the rebuild time"), "keeps the file's comments:\n{out}");
    assert!(out.contains("# calibrated: median"), "says where each value comes from:\n{out}");
    assert!(!out.contains("range ="), "every range replaced:\n{out}");
    let cal = Scenario::from_toml(&out, d.join("calibrated.toml")).expect("the calibrated file loads");
    assert!(cal.ranges.is_empty());
    assert!(run(&cal, 0).checkpoints.iter().all(|k| k.hit), "the calibrated file hits the checkpoints");
    // Or narrowed ranges.
    let narrowed = calibrated_text(&text, &s, &c, true, "mailsim calibrate synthetic.toml --keep-ranges").expect("writes");
    let n = Scenario::from_toml(&narrowed, d.join("narrowed.toml")).expect("the narrowed file loads");
    for (r, region) in n.ranges.iter().zip(&c.regions) {
        assert_eq!([r.lo, r.hi], [region.p5, region.p95], "{}", r.path);
    }
}

/// A variant (`extends`) inherits its base's ranges: they are calibrated
/// like the variant's own, and the calibrated variant overrides the base's
/// table key with the median. A range inside an array (a variant replaces an
/// array whole) cannot be written into the variant: the error says to
/// calibrate the base.
#[test]
fn ranges_inherited_through_extends_are_calibrated_and_written_as_overrides() {
    let (at, rate) = prior();
    let d = dir("extends");
    std::fs::write(d.join("base.toml"), synthetic(&format!("\"{TRUE_AT_H}h\""), &rate, &checkpoints_of_the_truth())).unwrap();
    let variant = "extends = \"base.toml\"\n\n[scenario]\nname = \"calibrate-variant\"\nsummary = \"the synthetic outage, inherited\"\n";
    let path = d.join("variant.toml");
    std::fs::write(&path, variant).unwrap();
    let s = Scenario::load(&path).expect("the variant loads");
    let fields: Vec<String> = s.ranges.iter().map(|r| r.path.to_string()).collect();
    assert_eq!(fields, ["topology.storage.rebuild_rate"], "the base's range is the variant's");
    let o = Options { draws: 60, seeds: 1, seed: 0, jobs: mailsim::pool::cores(), keep: Share(100_000) };
    let c = calibrate(&s, &o).expect("calibrates");
    assert!(c.consistent >= 2, "{} consistent draws of 60", c.consistent);
    let r = &c.regions[0];
    assert!(r.min <= TRUE_RATE && TRUE_RATE <= r.max, "the truth {TRUE_RATE} outside the kept draws {} to {}", r.min, r.max);
    let out = calibrated_text(variant, &s, &c, false, "mailsim calibrate variant.toml").expect("writes the override");
    assert!(out.contains("[topology.storage]") && out.contains("rebuild_rate = "), "an override in the variant:\n{out}");
    assert!(out.contains("extends = \"base.toml\""), "still a variant:\n{out}");
    let cal_path = d.join("variant.calibrated.toml");
    std::fs::write(&cal_path, &out).unwrap();
    let cal = Scenario::load(&cal_path).expect("the calibrated variant loads");
    assert!(cal.ranges.is_empty(), "the override replaces the inherited range");
    assert!(run(&cal, 0).checkpoints.iter().all(|k| k.hit), "the calibrated variant hits the checkpoints");
    // A range inside `[[recovery]]`, inherited: refused, naming the field.
    std::fs::write(d.join("base.toml"), synthetic(&at, "\"25MB/s\"", &checkpoints_of_the_truth())).unwrap();
    let s = Scenario::load(&path).expect("the variant loads");
    let c = calibrate(&s, &Options { draws: 4, ..o }).expect("calibrates");
    let err = calibrated_text(variant, &s, &c, false, "mailsim calibrate variant.toml").expect_err("cannot write into an array");
    assert!(err.contains("recovery[0].at") && err.contains("calibrate that file"), "{err}");
}

fn mailsim(args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_mailsim")).args(args).output().expect("the binary runs");
    let (o, e) = (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned());
    assert!(!e.contains("panicked"), "mailsim {}: {e}", args.join(" "));
    (out.status.code(), o, e)
}

#[test]
fn the_command_reports_the_region_and_writes_the_file_and_its_exit_code_says_whether_any_draw_fit() {
    let (at, rate) = prior();
    let d = dir("command");
    // Loose checkpoints: most draws fit (exit 0).
    let loose = r#"
[[checkpoints]]
claim = "the hardware was replaced within half a day"
at = "6h"
metric = "step_done"
step = "replace-hardware"
early = "6h"
late = "6h"
"#;
    let path = d.join("loose.toml");
    std::fs::write(&path, synthetic(&at, &rate, loose)).unwrap();
    let out = d.join("loose.calibrated.toml");
    let (code, report, err) =
        mailsim(&["calibrate", &path.display().to_string(), "--draws", "8", "--seeds", "1", "--out", &out.display().to_string()]);
    assert_eq!(code, Some(0), "{err}");
    for words in ["8 draws x 1 seeds", "draws/s", "recovery[0].at", "topology.storage.rebuild_rate", "hit (prior)", "written to"] {
        assert!(report.contains(words), "the report says `{words}`:\n{report}");
    }
    Scenario::load(&out).expect("the calibrated file loads");
    // A claim no draw can meet: the nearest are kept, and exit 1.
    let impossible = loose.replace("at = \"6h\"", "at = \"40h\"").replace("6h\"\nlate = \"6h\"", "1h\"\nlate = \"1h\"");
    let path = d.join("impossible.toml");
    std::fs::write(&path, synthetic(&at, &rate, &impossible)).unwrap();
    let (code, report, err) = mailsim(&[
        "calibrate",
        &path.display().to_string(),
        "--draws",
        "10",
        "--seeds",
        "1",
        "--json",
        "--out",
        &d.join("impossible.calibrated.toml").display().to_string(),
    ]);
    assert_eq!(code, Some(1), "{err}");
    let v: serde_json::Value = serde_json::from_str(&report).expect("--json prints JSON");
    assert_eq!(v["consistent"], 0);
    assert_eq!(v["kept"], 1, "10% of 10 draws, the nearest");
    assert!(err.contains("NO draw is consistent"), "{err}");
}

#[test]
fn what_cannot_be_calibrated_is_refused_with_exit_2() {
    let d = dir("refused");
    let exe = |args: &[&str]| mailsim(args);
    // No ranges.
    let path = d.join("fixed.toml");
    std::fs::write(&path, synthetic("\"5h\"", "\"25MB/s\"", &checkpoints_of_the_truth())).unwrap();
    let (code, _, err) = exe(&["calibrate", &path.display().to_string(), "--draws", "2"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no ranged parameter"), "{err}");
    // No checkpoints.
    let (at, rate) = prior();
    let path = d.join("no-checkpoints.toml");
    std::fs::write(&path, synthetic(&at, &rate, "")).unwrap();
    let (code, _, err) = exe(&["calibrate", &path.display().to_string(), "--draws", "2"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("no `[[checkpoints]]`"), "{err}");
    // A range inherited through `extends` inside an array (`recovery[0].at`):
    // the variant cannot override it without copying the whole array.
    std::fs::write(d.join("base.toml"), synthetic(&at, &rate, &checkpoints_of_the_truth())).unwrap();
    let variant = d.join("variant.toml");
    std::fs::write(&variant, "extends = \"base.toml\"\n[run]\nduration = \"4d\"\n").unwrap();
    let (code, _, err) = exe(&["calibrate", &variant.display().to_string(), "--draws", "2"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("recovery[0].at") && err.contains("comes from a file this one extends"), "{err}");
    // A broken range: file, line and field.
    let path = d.join("reversed.toml");
    std::fs::write(&path, synthetic(&at, r#"{ range = ["60MB/s", "10MB/s"], reason = "r" }"#, "")).unwrap();
    let (code, _, err) = exe(&["calibrate", &path.display().to_string()]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("reversed.toml:23:") && err.contains("topology.storage.rebuild_rate.range"), "{err}");
    // Bad counts.
    let (code, _, _) = exe(&["calibrate", &path.display().to_string(), "--draws", "0"]);
    assert_eq!(code, Some(2));
}

/// `--shard K/N` runs every Nth draw and writes it; `--merge` of all N
/// shard files concludes exactly as one process does (the same draws,
/// verdicts, region and written file), and refuses shards that are
/// missing, doubled, of another file or edited.
#[test]
fn calibrate_shards_merge_to_the_unsharded_result_and_bad_shards_are_refused() {
    let (at, rate) = prior();
    let d = dir("shards");
    let path = d.join("synthetic.toml");
    std::fs::write(&path, synthetic(&at, &rate, &checkpoints_of_the_truth())).unwrap();
    let p = path.display().to_string();
    let common = ["--draws", "9", "--seeds", "1", "--seed", "3", "--jobs", "2"];
    let shard_path = |k: u32| d.join(format!("shard-{k}.json")).display().to_string();
    for k in 0..3 {
        let shard = format!("{k}/3");
        let out = shard_path(k);
        let mut args = vec!["calibrate", p.as_str(), "--shard", shard.as_str(), "--out", out.as_str()];
        args.extend(common);
        let (code, _, err) = mailsim(&args);
        assert_eq!(code, Some(0), "{err}");
        assert!(err.contains(&format!("shard {k}/3: 3 of 9 draws")), "{err}");
        let f: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).expect("JSON");
        let draws: Vec<u64> = f["results"].as_array().expect("results").iter().map(|r| r["draw"].as_u64().expect("index")).collect();
        assert_eq!(draws, [k, k + 3, k + 6].map(u64::from), "every third draw");
    }
    let whole_out = d.join("whole.toml").display().to_string();
    let mut args = vec!["calibrate", p.as_str(), "--json", "--out", whole_out.as_str()];
    args.extend(common);
    let (whole_code, whole, err) = mailsim(&args);
    assert!(whole_code == Some(0) || whole_code == Some(1), "{err}");
    let merged_out = d.join("merged.toml").display().to_string();
    let (s0, s1, s2) = (shard_path(0), shard_path(1), shard_path(2));
    let (code, merged, err) = mailsim(&["calibrate", &p, "--json", "--out", &merged_out, "--merge", &s2, &s0, &s1]);
    assert_eq!(code, whole_code, "{err}");
    let (w, m): (serde_json::Value, serde_json::Value) = (serde_json::from_str(&whole).unwrap(), serde_json::from_str(&merged).unwrap());
    for key in ["draws", "seeds", "seed", "consistent", "kept", "regions", "checkpoints", "every"] {
        assert_eq!(w[key], m[key], "`{key}` differs between one process and the merged shards");
    }
    let (wt, mt) = (std::fs::read_to_string(&whole_out).unwrap(), std::fs::read_to_string(&merged_out).unwrap());
    let body = |t: &str| t.lines().skip(1).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&wt), body(&mt), "the same calibrated file");
    assert!(mt.lines().next().unwrap().contains("(merged from 3 shards)"), "{mt}");

    // Refused, exit 2, naming the problem.
    let refused = |merge: &[&str], words: &str| {
        let mut args = vec!["calibrate", p.as_str(), "--merge"];
        args.extend(merge);
        let (code, _, err) = mailsim(&args);
        assert_eq!(code, Some(2), "{err}");
        assert!(err.contains(words), "`{words}` in: {err}");
    };
    refused(&[&s0, &s1], "2 of 3 shards given; missing 2/3");
    refused(&[&s0, &s1, &s1], "shard 1/3 given twice");
    let edited = d.join("edited.json");
    let text = std::fs::read_to_string(&s1).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["results"][0]["values"][0] = serde_json::json!(1);
    std::fs::write(&edited, v.to_string()).unwrap();
    let e = edited.display().to_string();
    refused(&[&s0, &e, &s2], "values are not the hypercube's");
    // Another file (an edit after the shards ran): its hash differs.
    std::fs::write(&path, synthetic(&at, &rate, &checkpoints_of_the_truth()).replace("mails = 60", "mails = 61")).unwrap();
    refused(&[&s0, &s1, &s2], "a calibration of another file");
}
