//! The deployment files in `deploy/` are code too: they parse, the numbers
//! that must agree do, and the shell logic of the Kubernetes Jobs works —
//! run here with the real binary against a temporary results volume: a
//! shard that used up its attempts ends the merge's wait, and the merge
//! names it as missing (exit 1) instead of polling for two days.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docs(file: &str) -> Vec<Yaml> {
    let text = std::fs::read_to_string(root().join("deploy").join(file)).expect("a deploy file");
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{file} is not YAML: {e}"))
}

fn job<'a>(docs: &'a [Yaml], name: &str) -> &'a Yaml {
    docs.iter().find(|d| d["kind"].as_str() == Some("Job") && d["metadata"]["name"].as_str() == Some(name)).expect("the job")
}

/// The shell script of a Job's only container.
fn script(job: &Yaml) -> String {
    let c = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["command"][1].as_str(), Some("-c"), "a shell script");
    c["args"][0].as_str().expect("one script").to_string()
}

/// A number in `text` right after `prefix`.
fn number_after(text: &str, prefix: &str) -> i64 {
    let at = text.find(prefix).unwrap_or_else(|| panic!("`{prefix}` in {text}")) + prefix.len();
    text[at..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().expect("a number")
}

#[test]
fn the_kubernetes_jobs_agree_on_shards_and_attempts() {
    let d = docs("k8s-sweep-job.yaml");
    let sweep = job(&d, "mailsim-sweep");
    let spec = &sweep["spec"];
    let n = spec["completions"].as_i64().expect("completions");
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    assert_eq!(spec["parallelism"].as_i64(), Some(n));
    assert_eq!(number_after(&script(sweep), "--shard ${JOB_COMPLETION_INDEX}/"), n);
    let merge = script(job(&d, "mailsim-merge"));
    assert_eq!(number_after(&merge, "SHARDS="), n, "the merge waits for every shard");
    assert_eq!(number_after(&merge, "ATTEMPTS="), spec["backoffLimitPerIndex"].as_i64().expect("a retry limit") + 1);
    assert!(script(sweep).contains("/scenarios/*.toml"), "every scenario, as CI sweeps them");
}

#[test]
fn the_ci_workflow_builds_once_and_runs_every_shard() {
    let d = docs("github-sweep.yml");
    let w = &d[0];
    let n = w["env"]["SHARDS"].as_i64().expect("SHARDS");
    let shards: Vec<i64> =
        w["jobs"]["sweep"]["strategy"]["matrix"]["shard"].as_vec().expect("a matrix").iter().filter_map(Yaml::as_i64).collect();
    assert_eq!(shards, (0..n).collect::<Vec<_>>());
    let builds = w["jobs"]
        .as_hash()
        .expect("jobs")
        .values()
        .flat_map(|j| j["steps"].as_vec().cloned().unwrap_or_default())
        .filter(|s| s["run"].as_str().is_some_and(|r| r.contains("cargo build")))
        .count();
    assert_eq!(builds, 1, "one build, shared by the shards and the merge");
    let merge_steps = w["jobs"]["merge"]["steps"].as_vec().expect("merge steps");
    assert!(
        merge_steps.iter().any(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("mikepenz/action-junit-report"))),
        "JUnit published"
    );
}

/// Runs a Job's script with `sh`, the real binary for `mailsim`, `dir` for
/// the results volume; `None` if it still runs after `limit`.
fn run_script(script: &str, dir: &Path, limit: Duration) -> Option<(i32, String)> {
    let bin = Path::new(env!("CARGO_BIN_EXE_mailsim"));
    let text = script
        .replace("exec mailsim", &format!("exec {}", bin.display()))
        .replace("mailsim sweep", &format!("{} sweep", bin.display()))
        .replace("/results", &dir.display().to_string())
        .replace("sleep 30", "sleep 0.05");
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&text)
        .env("JOB_COMPLETION_INDEX", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh runs");
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            let out = child.wait_with_output().expect("output");
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            return Some((status.code().unwrap_or(-1), text));
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_shard_out_of_attempts_ends_the_wait_and_the_merge_names_it() {
    let d = docs("k8s-sweep-job.yaml");
    let (sweep, merge) = (script(job(&d, "mailsim-sweep")), script(job(&d, "mailsim-merge")));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploy-dry-run");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a results directory");
    let tiny = root().join("tests/data/tiny-pass.toml");

    // Shard 1 of 2 fails on bad input: its attempt is counted, no `.done`.
    let bad = sweep.replace("/scenarios/*.toml", "/no/such/scenario.toml").replace("/8", "/2");
    let (code, _) = run_script(&bad, &dir, Duration::from_secs(20)).expect("the sweep pod ends");
    assert_eq!(code, 2);
    assert_eq!(std::fs::read_to_string(dir.join("shard-1.failed")).expect("a failed attempt").lines().count(), 1);
    assert!(!dir.join("shard-1.done").exists());

    // Shard 0 ran (with the real sweep) and is done.
    let out = Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .args(["sweep", &tiny.display().to_string(), "--seeds", "0..6", "--shard", "0/2", "--out"])
        .arg(dir.join("shard-0"))
        .output()
        .expect("the sweep runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(dir.join("shard-0.done"), "").expect("a marker");

    // With attempts left, the merge keeps waiting.
    let merge = merge.replace("SHARDS=8", "SHARDS=2");
    assert!(run_script(&merge, &dir, Duration::from_millis(800)).is_none(), "the merge waits while shard 1 may still be retried");

    // Out of attempts: the wait ends, and the merge says which shard is missing.
    std::fs::write(dir.join("shard-1.failed"), "exit 2\nexit 2\nexit 2\nexit 2\n").expect("attempts");
    let (code, text) = run_script(&merge, &dir, Duration::from_secs(30)).expect("the merge ends");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("shard 1/2"), "{text}");
    assert!(dir.join("merged/summary.json").exists() && dir.join("merged/junit.xml").exists());
}
