//! The exit-code table of README.md, row by row, against the built binary
//! (`CARGO_BIN_EXE_mailsim`): 0 every expectation met, 1 a failure or
//! something missing, 2 invalid input or nondeterminism, 3 a replay that
//! diverged. Also: no command panics when its reader closes the pipe.
//!
//! Uses the tiny scenarios in `tests/data/` (`tiny-pass`, `tiny-fail`,
//! `tiny-slow`: a few milliseconds a run).

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name).display().to_string()
}

/// A fresh directory under the target directory.
fn fresh(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("exit-codes").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("can create a test directory");
    d
}

fn mailsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mailsim")).args(args).output().expect("the binary runs")
}

/// Runs the binary and checks its exit code; returns what it printed: the
/// report (stdout), then errors and progress (stderr).
#[track_caller]
fn expect(code: i32, args: &[&str]) -> String {
    let out = mailsim(args);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "mailsim {}\nstderr:\n{err}", args.join(" "));
    assert!(!err.contains("panicked"), "mailsim {} panicked:\n{err}", args.join(" "));
    format!("{}{err}", String::from_utf8_lossy(&out.stdout))
}

fn sweep_dir(name: &str, file: &str, shard: &str) -> String {
    let d = fresh(name).display().to_string();
    let out = mailsim(&["sweep", &data(file), "--seeds", "0..6", "--out", &d, "--shard", shard]);
    assert!(out.status.code().is_some_and(|c| c < 2), "{}", String::from_utf8_lossy(&out.stderr));
    d
}

fn hash_of(file: &str, seed: &str) -> String {
    let out = mailsim(&["run", &data(file), "--seed", seed, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("run --json prints JSON");
    v["figures"]["trace_hash"].as_str().expect("a trace hash").to_string()
}

/// A directory holding only `files` from tests/data, for the default job.
fn scenario_dir(name: &str, files: &[&str]) -> String {
    let d = fresh(name);
    for f in files {
        std::fs::copy(data(f), d.join(f)).expect("copies");
    }
    d.display().to_string()
}

#[test]
fn exit_0_when_every_expectation_is_met() {
    expect(0, &["run", &data("tiny-pass.toml"), "--seed", "1"]);
    expect(0, &["check", &data("tiny-pass.toml"), &data("tiny-fail.toml")]);
    expect(0, &["schema"]);
    expect(0, &["--dir", &scenario_dir("default-pass", &["tiny-pass.toml"])]);
    let a = sweep_dir("pass-0", "tiny-pass.toml", "0/2");
    let b = sweep_dir("pass-1", "tiny-pass.toml", "1/2");
    expect(0, &["merge", &a, &b]);
    expect(0, &["replay", &data("tiny-pass.toml"), "--seed", "2", "--hash", &hash_of("tiny-pass.toml", "2")]);
    expect(0, &["compare", &data("tiny-pass.toml"), &data("tiny-slow.toml"), "--seeds", "0..10"]);
    expect(0, &["compare", &data("tiny-pass.toml"), &data("tiny-pass.toml"), "--seeds", "0..10", "--fail-on-regression"]);
}

#[test]
fn exit_1_when_an_expectation_fails_or_seeds_are_missing() {
    expect(1, &["run", &data("tiny-fail.toml"), "--seed", "1"]);
    expect(1, &["--dir", &scenario_dir("default-fail", &["tiny-pass.toml", "tiny-fail.toml"])]);
    let d = fresh("sweep-fail").display().to_string();
    expect(1, &["sweep", &data("tiny-fail.toml"), "--seeds", "0..3", "--out", &d]);
    expect(1, &["merge", &d]);
    // One shard of two: the manifest says there are two.
    let half = sweep_dir("half", "tiny-pass.toml", "0/2");
    let err = expect(1, &["merge", &half]);
    assert!(err.contains("shard 1/2"), "{err}");
    // One seed's record gone.
    let whole = sweep_dir("one-missing", "tiny-pass.toml", "0/1");
    let runs = Path::new(&whole).join("runs.jsonl");
    let text = std::fs::read_to_string(&runs).unwrap();
    let kept: Vec<&str> = text.lines().filter(|l| !l.contains("\"seed\":4,")).collect();
    assert_eq!(kept.len(), 5);
    std::fs::write(&runs, kept.join("\n") + "\n").unwrap();
    let err = expect(1, &["merge", &whole]);
    assert!(err.contains("seeds 4"), "{err}");
    expect(1, &["shrink", &data("tiny-pass.toml"), "--seed", "0", "--out", &fresh("shrink").join("x.toml").display().to_string()]);
    expect(1, &["compare", &data("tiny-pass.toml"), &data("tiny-slow.toml"), "--seeds", "0..10", "--fail-on-regression"]);
}

#[test]
fn exit_2_on_invalid_input_or_nondeterminism() {
    let bad = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad/bad-duration.toml").display().to_string();
    let err = expect(2, &["run", &bad]);
    assert!(err.contains("bad-duration.toml:"), "names the file and line: {err}");
    expect(2, &["check", &bad]);
    // `calibrate`'s 0 and 1 (and its other 2s) are checked in tests/calibrate.rs.
    expect(2, &["calibrate", &bad]);
    // `explore`'s 0 and its other 2s are checked in tests/explore.rs.
    let err = expect(2, &["explore", &bad]);
    assert!(err.contains("bad-duration.toml:"), "names the file and line: {err}");
    let err = expect(2, &["check"]);
    assert!(err.contains("no scenario files given"), "{err}");
    expect(2, &["run", &data("tiny-pass.toml"), "--no-such-flag"]);
    expect(2, &["run", &data("no-such-file.toml")]);
    expect(2, &["--dir", &data("no-such-dir")]);
    expect(2, &["replay", &data("tiny-pass.toml"), "--seed", "0", "--hash", "xyz"]);
    // Seed ranges past the per-invocation limits, refused before any run.
    let err = expect(2, &["compare", &data("tiny-pass.toml"), &data("tiny-pass.toml"), "--seeds", "0..18446744073709551615"]);
    assert!(err.contains("at most 100000"), "{err}");
    expect(2, &["compare", &data("tiny-pass.toml"), &data("tiny-pass.toml"), "--seeds", "0..100000000"]);
    let out = fresh("too-many").display().to_string();
    let err = expect(2, &["sweep", &data("tiny-pass.toml"), "--seeds", "0..18446744073709551615", "--out", &out]);
    assert!(err.contains("at most 100000000"), "{err}");
    expect(2, &["--seeds", "4000000000"]);

    // Merge: a directory with records but no manifest.
    let d = sweep_dir("no-manifest", "tiny-pass.toml", "0/1");
    std::fs::remove_file(Path::new(&d).join("sweep.json")).unwrap();
    let err = expect(2, &["merge", &d]);
    assert!(err.contains("no manifest"), "{err}");
    // Merge: an edited record.
    let d = sweep_dir("edited", "tiny-pass.toml", "0/1");
    let runs = Path::new(&d).join("runs.jsonl");
    let text = std::fs::read_to_string(&runs).unwrap();
    assert!(text.contains("\"lost\":0"));
    std::fs::write(&runs, text.replacen("\"lost\":0", "\"lost\":7", 1)).unwrap();
    let err = expect(2, &["merge", &d]);
    assert!(err.contains("runs.jsonl:1") && err.contains("seed 0") && err.contains("checksum"), "{err}");
    // Merge: nondeterminism (the same seed, two trace hashes, both sealed).
    let a = sweep_dir("nondet-a", "tiny-pass.toml", "0/1");
    let b = sweep_dir("nondet-b", "tiny-pass.toml", "0/1");
    let runs = Path::new(&b).join("runs.jsonl");
    let line = std::fs::read_to_string(&runs).unwrap().lines().next().unwrap().to_string();
    let mut r: mailsim::sweep::Record = serde_json::from_str(&line).unwrap();
    r.trace_hash = "0000000000000bad".into();
    std::fs::write(&runs, serde_json::to_string(&r.sealed()).unwrap() + "\n").unwrap();
    let err = expect(2, &["merge", &a, &b]);
    assert!(err.contains("nondeterminism"), "{err}");
}

#[test]
fn exit_3_when_a_replay_diverges_from_its_recorded_hash() {
    let err = expect(3, &["replay", &data("tiny-pass.toml"), "--seed", "0", "--hash", &hash_of("tiny-pass.toml", "1")]);
    assert!(err.contains("DETERMINISM BREAK"), "{err}");
}

/// Runs the binary with its stdout a pipe whose reader is closed at once.
fn with_closed_stdout(args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stdout.take());
    child.wait_with_output().expect("the binary ends")
}

#[test]
fn no_command_panics_when_the_reader_of_its_output_goes_away() {
    let a = sweep_dir("pipe-a", "tiny-pass.toml", "0/1");
    let sweep_out = fresh("pipe-sweep").display().to_string();
    let dir = scenario_dir("pipe-default", &["tiny-pass.toml"]);
    let (pass, fail) = (data("tiny-pass.toml"), data("tiny-fail.toml"));
    let cases: Vec<(Vec<&str>, i32)> = vec![
        (vec!["run", &pass, "--json"], 0),
        (vec!["run", &fail, "--json"], 1),
        (vec!["run", &pass], 0),
        (vec!["run", &fail], 1),
        (vec!["merge", &a], 0),
        (vec!["schema"], 0),
        (vec!["check", &pass], 0),
        (vec!["merge", &a, "--json"], 0),
        (vec!["sweep", &pass, "--seeds", "0..4", "--out", &sweep_out, "--json"], 0),
        (vec!["compare", &pass, &pass, "--seeds", "0..4", "--json"], 0),
        (vec!["--dir", &dir], 0),
    ];
    for (args, code) in cases {
        let out = with_closed_stdout(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!err.contains("panicked") && !err.contains("Broken pipe"), "mailsim {}:\n{err}", args.join(" "));
        assert_eq!(out.status.code(), Some(code), "mailsim {} ends with its own status:\n{err}", args.join(" "));
    }
    // With --json the human report goes to stderr; a closed stderr must not
    // crash either.
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .args(["merge", &a, "--json"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    drop(child.stderr.take());
    assert_eq!(child.wait().expect("ends").code(), Some(0), "merge with stderr closed");
}

/// Reports go to stdout (`mailsim run F > report.txt` keeps the report),
/// errors to stderr; a scenario can be named instead of given by path.
#[test]
fn reports_go_to_stdout_and_scenarios_can_be_named() {
    let dir = scenario_dir("named", &["tiny-pass.toml"]);
    for name in ["tiny-pass", "tiny-pass.toml"] {
        let out = mailsim(&["--dir", &dir, "run", name, "--seed", "2"]);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(report.contains("seed 2:") && report.contains("[met] run completed"), "{report}");
        assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = mailsim(&["--dir", &dir, "check", "tiny-pass"]);
    assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).starts_with("ok "));
    let out = mailsim(&["--dir", &dir, "run", "no-such-scenario"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty() && String::from_utf8_lossy(&out.stderr).contains("no-such-scenario"));
    // --check-determinism runs the seed twice first and says so on stderr.
    let out = mailsim(&["--dir", &dir, "run", "tiny-pass", "--check-determinism"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("deterministic: two runs of seed 0 agree on every event"));
    // So do sweep, compare and shrink: a name is found in --dir.
    let out_dir = fresh("named-sweep");
    let out = mailsim(&["--dir", &dir, "sweep", "tiny-pass", "--seeds", "2", "--out", out_dir.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = mailsim(&["--dir", &dir, "compare", "tiny-pass", "tiny-pass.toml", "--seeds", "2"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let out = mailsim(&["--dir", &dir, "sweep", "no-such-scenario", "--seeds", "1", "--out", out_dir.to_str().expect("utf-8")]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-scenario"));
}

/// `--dir` is offered where it is used — the default job and the
/// subcommands that take scenario files, after the subcommand too — and
/// not by `schema` or `merge`, which take none.
#[test]
fn dir_is_offered_only_where_scenarios_are_looked_up() {
    let help = |args: &[&str]| String::from_utf8_lossy(&mailsim(args).stdout).to_string();
    for sub in ["schema", "merge"] {
        assert!(!help(&[sub, "--help"]).contains("--dir"), "`mailsim {sub} --help` offers --dir, which it ignores");
        assert_eq!(mailsim(&[sub, "--dir", "scenarios"]).status.code(), Some(2), "`{sub} --dir` is refused");
    }
    for sub in ["run", "check", "sweep", "compare", "shrink", "replay", "report", "explore", "calibrate"] {
        assert!(help(&[sub, "--help"]).contains("--dir <DIR>"), "`mailsim {sub} --help` lacks --dir");
    }
    assert!(help(&["--help"]).contains("--dir <DIR>"));
    // After the subcommand, as before it.
    let dir = scenario_dir("named-after", &["tiny-pass.toml"]);
    let out = mailsim(&["run", "tiny-pass", "--dir", &dir, "--seed", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("seed 1:"));
    let out = mailsim(&["check", "--dir", &dir, "tiny-pass"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}
