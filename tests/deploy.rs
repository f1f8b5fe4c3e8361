//! The deployment files in `deploy/` are code too: they parse, the numbers
//! that must agree do, and the shell logic of the Kubernetes Jobs works —
//! run here with the real binary against a temporary results volume and a
//! stand-in `kubectl` that reports the sweep Job's conditions: a sweep Job
//! that failed (a shard out of retries) ends the merge's wait at once, and
//! the merge names the shard as missing (exit 1) instead of polling for two
//! days. (The stand-in does not evaluate the JSONPath against a real API
//! server; it answers in the shape that JSONPath prints.)

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

/// The shell script of a Job's init container `name`.
fn init_script(job: &Yaml, name: &str) -> String {
    let inits = job["spec"]["template"]["spec"]["initContainers"].as_vec().expect("init containers");
    let c = inits.iter().find(|c| c["name"].as_str() == Some(name)).unwrap_or_else(|| panic!("an init container `{name}`"));
    assert_eq!(c["command"][1].as_str(), Some("-c"), "a shell script");
    c["args"][0].as_str().expect("one script").to_string()
}

#[test]
fn the_kubernetes_jobs_agree_on_shards_and_deadlines() {
    let d = docs("k8s-sweep-job.yaml");
    let sweep = job(&d, "mailsim-sweep");
    let spec = &sweep["spec"];
    let n = spec["completions"].as_i64().expect("completions");
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    assert_eq!(spec["parallelism"].as_i64(), Some(n));
    assert!(spec["backoffLimitPerIndex"].as_i64().is_some_and(|b| b >= 1), "a failed shard is retried");
    assert_eq!(spec["maxFailedIndexes"].as_i64(), Some(n), "one shard giving up does not stop the others");
    assert_eq!(number_after(&script(sweep), "--shard ${JOB_COMPLETION_INDEX}/"), n);
    assert!(script(sweep).contains("/scenarios/*.toml"), "every scenario, as CI sweeps them");
    let merge = job(&d, "mailsim-merge");
    let (sweep_deadline, merge_deadline) = (spec["activeDeadlineSeconds"].as_i64(), merge["spec"]["activeDeadlineSeconds"].as_i64());
    assert!(sweep_deadline.is_some_and(|s| merge_deadline.is_some_and(|m| m > s)), "the sweep's deadline fires first, and ends the wait");
    // The wait reads the sweep Job, with a service account allowed just that.
    assert!(init_script(merge, "wait-for-sweep").contains("kubectl get job mailsim-sweep"));
    let account = merge["spec"]["template"]["spec"]["serviceAccountName"].as_str().expect("a service account");
    let of_kind = |kind: &str| d.iter().find(|x| x["kind"].as_str() == Some(kind)).unwrap_or_else(|| panic!("a {kind}"));
    assert_eq!(of_kind("ServiceAccount")["metadata"]["name"].as_str(), Some(account));
    let rule = &of_kind("Role")["rules"][0];
    assert_eq!(rule["apiGroups"][0].as_str(), Some("batch"));
    assert_eq!(rule["resources"][0].as_str(), Some("jobs"));
    assert_eq!(rule["resourceNames"][0].as_str(), Some("mailsim-sweep"));
    assert!(rule["verbs"].as_vec().expect("verbs").iter().any(|v| v.as_str() == Some("get")));
    let binding = of_kind("RoleBinding");
    assert_eq!(binding["roleRef"]["name"].as_str(), of_kind("Role")["metadata"]["name"].as_str());
    assert_eq!(binding["subjects"][0]["name"].as_str(), Some(account));
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
    // The build uploads the binary; the shards and the merge download that
    // artifact, after the build.
    let steps = |job: &str| w["jobs"][job]["steps"].as_vec().cloned().unwrap_or_else(|| panic!("steps of `{job}`"));
    let artifact = |job: &str, action: &str| -> Option<String> {
        steps(job)
            .iter()
            .find(|s| s["uses"].as_str().is_some_and(|u| u.starts_with(action)) && s["with"]["name"].as_str().is_some())
            .and_then(|s| s["with"]["name"].as_str().map(str::to_string))
    };
    let binary = artifact("build", "actions/upload-artifact").expect("the build uploads the binary");
    for job in ["sweep", "merge"] {
        assert_eq!(artifact(job, "actions/download-artifact").as_deref(), Some(binary.as_str()), "`{job}` uses the built binary");
        let needs = &w["jobs"][job]["needs"];
        assert!(needs.as_str() == Some("build") || needs.as_vec().is_some_and(|v| v.iter().any(|n| n.as_str() == Some("build"))));
    }
    let sweeps = steps("sweep").iter().filter_map(|s| s["run"].as_str().map(str::to_string)).collect::<Vec<_>>().join("\n");
    assert!(sweeps.contains("bin/mailsim sweep scenarios/*.toml"), "every scenario, with the downloaded binary: {sweeps}");
    let merge_steps = w["jobs"]["merge"]["steps"].as_vec().expect("merge steps");
    assert!(
        merge_steps.iter().any(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("mikepenz/action-junit-report"))),
        "JUnit published"
    );
}

/// Runs a Job's script with `sh`, the real binary for `mailsim`, `dir` for
/// the results volume and `dir/bin` first on the PATH (the stand-in
/// `kubectl`); `None` if it still runs after `limit`.
fn run_script(script: &str, dir: &Path, limit: Duration) -> Option<(i32, String)> {
    let bin = Path::new(env!("CARGO_BIN_EXE_mailsim"));
    let text = script
        .replace("exec mailsim", &format!("exec {}", bin.display()))
        .replace("mailsim sweep /", &format!("{} sweep /", bin.display()))
        .replace("/results", &dir.display().to_string())
        .replace("sleep 30", "sleep 0.05");
    let path = format!("{}:{}", dir.join("bin").display(), std::env::var("PATH").unwrap_or_default());
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&text)
        .env("JOB_COMPLETION_INDEX", "1")
        .env("PATH", path)
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

/// A stand-in `kubectl` in `dir/bin`: for `kubectl get job mailsim-sweep
/// -o jsonpath=…` it prints `dir/conditions` (the conditions that hold, as
/// the JSONPath prints them), or fails while `dir/api-error` exists; any
/// other command line is an error.
fn fake_kubectl(dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir.join("bin")).expect("a bin directory");
    let file = dir.join("bin/kubectl");
    let d = dir.display();
    let text = format!(
        "#!/bin/sh\ncase \"$*\" in \"get job mailsim-sweep -o jsonpath=\"*) ;; *) echo \"unexpected: kubectl $*\" >&2; exit 3;; esac\n\
         if [ -e {d}/api-error ]; then echo 'Error from server (Forbidden)' >&2; exit 1; fi\ncat {d}/conditions\n"
    );
    std::fs::write(&file, text).expect("the stand-in");
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).expect("executable");
}

#[test]
fn a_failed_sweep_job_ends_the_wait_and_the_merge_names_the_missing_shard() {
    let d = docs("k8s-sweep-job.yaml");
    let merge_job = job(&d, "mailsim-merge");
    let (sweep, wait, merge) = (script(job(&d, "mailsim-sweep")), init_script(merge_job, "wait-for-sweep"), script(merge_job));
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploy-dry-run");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a results directory");
    fake_kubectl(&dir);
    let tiny = root().join("tests/data/tiny-pass.toml");

    // Shard 1 of 2 fails on bad input: the pod fails (the Job retries it).
    let bad = sweep.replace("/scenarios/*.toml", "/no/such/scenario.toml").replace("/8", "/2");
    let (code, _) = run_script(&bad, &dir, Duration::from_secs(20)).expect("the sweep pod ends");
    assert_eq!(code, 2, "bad input fails the pod");
    // A run that failed its expectations (exit 1) is a shard that succeeded.
    let failing = root().join("tests/data/tiny-fail.toml").display().to_string();
    let one = sweep.replace("/scenarios/*.toml", &failing).replace("0..100000", "0..2").replace("/8", "/2");
    let (code, text) = run_script(&one.replace("shard-${JOB_COMPLETION_INDEX}", "failing"), &dir, Duration::from_secs(60)).expect("ends");
    assert_eq!(code, 0, "exit 1 is the merge's to judge: {text}");
    assert!(text.contains("mailsim run"), "the shard's log names a failed run: {text}");
    std::fs::remove_dir_all(dir.join("failing")).expect("cleaned");

    // Shard 0 ran (with the real sweep).
    let out = Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .args(["sweep", &tiny.display().to_string(), "--seeds", "0..6", "--shard", "0/2", "--out"])
        .arg(dir.join("shard-0"))
        .output()
        .expect("the sweep runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    // While the sweep Job runs (no condition, or only the interim
    // FailureTarget of Kubernetes >= 1.31), the merge waits.
    for running in ["", "FailureTarget "] {
        std::fs::write(dir.join("conditions"), running).expect("conditions");
        assert!(run_script(&wait, &dir, Duration::from_millis(800)).is_none(), "the wait goes on while the sweep Job shows {running:?}");
    }
    // An API error now and then is retried; ten in a row end the merge.
    std::fs::write(dir.join("api-error"), "").expect("a marker");
    let (code, text) = run_script(&wait, &dir, Duration::from_secs(20)).expect("the wait gives up");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("Forbidden"), "{text}");
    std::fs::remove_file(dir.join("api-error")).expect("removed");

    // The Job failed (shard 1 used up its retries): the wait ends at once,
    // and the merge says which shard is missing.
    std::fs::write(dir.join("conditions"), "FailureTarget Failed ").expect("conditions");
    let (code, text) = run_script(&wait, &dir, Duration::from_secs(5)).expect("the wait ends");
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("Failed"), "{text}");
    let (code, text) = run_script(&merge, &dir, Duration::from_secs(30)).expect("the merge ends");
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("shard 1/2"), "{text}");
    assert!(dir.join("merged/summary.json").exists() && dir.join("merged/junit.xml").exists());

    // A Job that completed ends the wait too.
    std::fs::write(dir.join("conditions"), "SuccessCriteriaMet Complete ").expect("conditions");
    assert_eq!(run_script(&wait, &dir, Duration::from_secs(5)).map(|r| r.0), Some(0));
}
