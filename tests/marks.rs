//! Coverage marks (`mailsim_models::marks`) over the replays: a sweep of
//! each replay reaches the marks its postmortem implies (each test below
//! quotes the outage's account, from the public postmortem its scenario
//! file cites), `mailsim sweep`
//! prints them on a coverage line, and a mark no run reached is named
//! there as never reached. Marks never enter a verdict: the planted
//! scenario whose fencing works fails its expectations on its own, and its
//! marks only report what it did not exercise.

use std::path::{Path, PathBuf};

use mailsim::sweep::{sweep, Shard, Summary, SweepConfig};

fn replay(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.toml"))
}

/// A fresh directory under the target directory.
fn fresh(name: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR")).join("marks-tests").join(name);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("can create a test directory");
    d
}

/// Sweeps `file` over seeds 0..3 (the scenario test's seeds) with the
/// library's `sweep`, as `mailsim sweep` does.
fn sweep_of(file: PathBuf, out: &str) -> Summary {
    let mut c = SweepConfig::new(vec![file], fresh(out));
    c.seeds = Some(0..3);
    c.shard = Shard::ALL;
    c.threads = 2;
    sweep(&c).expect("the sweep runs").summary
}

/// How many runs of the sweep's one scenario reached `mark`.
fn runs(s: &Summary, mark: &str) -> u64 {
    let sc = &s.scenarios[0];
    sc.marks.iter().find(|m| m.mark == mark).unwrap_or_else(|| panic!("no mark `{mark}` in the coverage")).runs
}

/// Asserts that some run of the sweep reached each of `marks`.
fn reaches(name: &str, marks: &[&str]) {
    let s = sweep_of(replay(name), name);
    for m in marks {
        assert!(runs(&s, m) > 0, "{name}: no seed reached `{m}`: {:?}", s.scenarios[0].marks);
    }
}

/// "Every delivery needs a lock, so every delivery fails temporarily."
#[test]
fn eccs_deliveries_fail_on_the_broken_lock() {
    reaches("eccs-2018-nfs-lock-upgrade", &["lock-failed"]);
}

/// "~50% of mailboxes are offline", "three volumes are rebuilt", temporary
/// stores give "webmail-only access to new mail", and "the temporary stores
/// are merged into the original mailboxes".
#[test]
fn opensrs_mailboxes_go_offline_are_rebuilt_and_temp_stores_serve_and_merge() {
    reaches(
        "opensrs-2008-shelf-controller",
        &["mailboxes-offline", "rebuild-done", "temp-store-took-mail", "temp-store-served", "temp-store-merged"],
    );
}

/// "The component meant to reset (fence) the failed node does not work and
/// reports failure"; "the cluster stays transitioning"; "the first
/// responder checks the wrong service"; "a manual cluster-state reset
/// restores service".
#[test]
fn fused_fencing_fails_the_cluster_freezes_and_an_operator_resets_it() {
    reaches("fused-2018-failed-fencing", &["fence-failed", "fencing-gave-up", "misdiagnosis", "cluster-reset"]);
}

/// The variant with a second fencing level: the first level fails, the
/// second fences the node, and the services fail over. The fencing
/// operation as a whole never fails (`fence-failed` is a failure at the
/// last level), so neither it nor `fencing-gave-up` is reached.
#[test]
fn fused_with_a_second_fencing_level_fails_over_and_no_fence_fails() {
    let name = "fused-2018-second-fencing-level";
    let s = sweep_of(replay(name), name);
    assert!(runs(&s, "failover") > 0, "{:?}", s.scenarios[0].marks);
    assert_eq!((runs(&s, "fence-failed"), runs(&s, "fencing-gave-up")), (0, 0), "{:?}", s.scenarios[0].marks);
}

/// "Storage performance drops by 90%" (two faults past saturation), "data
/// is moved to a new storage system", "bounces at senders whose retry
/// window is shorter than the outage", "POP users re-download mail".
#[test]
fn norway_storage_collapses_is_migrated_senders_give_up_and_pop_users_refetch() {
    reaches("norway-2019-storage-degradation", &["storage-collapsed", "volume-migrated", "sender-gave-up", "client-refetched"]);
}

/// Planted: the Fused replay with a fence device that works. No fence
/// fails, so `fence-failed` and `fencing-gave-up` are reached by no run, and
/// `mailsim sweep`'s coverage line names them as never reached (the
/// replay's own line counts them on every seed).
#[test]
fn a_mark_no_run_reached_is_reported_as_never_reached() {
    let text = std::fs::read_to_string(replay("fused-2018-failed-fencing")).expect("the replay");
    let planted =
        text.replace(r#"fencing = [{ level = "ipmi", mode = "reports-failure" }]"#, r#"fencing = [{ level = "ipmi", mode = "works" }]"#);
    assert_ne!(planted, text, "the fencing line was found and planted");
    let dir = fresh("fence-works");
    let file = dir.join("fence-works.toml");
    std::fs::write(&file, planted).expect("write the planted scenario");

    let s = sweep_of(file.clone(), "fence-works-out");
    assert_eq!((runs(&s, "fence-failed"), runs(&s, "fencing-gave-up")), (0, 0), "{:?}", s.scenarios[0].marks);

    let coverage = |file: &Path, out: &str| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_mailsim"))
            .args(["sweep", "--seeds", "0..3", "--jobs", "2", "--out"])
            .arg(fresh(out))
            .arg(file)
            .output()
            .expect("mailsim runs");
        let stdout = String::from_utf8_lossy(&o.stdout).to_string();
        stdout.lines().find(|l| l.contains("coverage:")).unwrap_or_else(|| panic!("no coverage line in:\n{stdout}")).to_string()
    };
    let line = coverage(&file, "fence-works-cli");
    let never = line.split("never reached: ").nth(1).unwrap_or_else(|| panic!("{line}"));
    assert!(never.contains("fence-failed") && never.contains("fencing-gave-up"), "{line}");

    let line = coverage(&replay("fused-2018-failed-fencing"), "fused-cli");
    assert!(line.contains("fence-failed 3/3") && line.contains("fencing-gave-up 3/3"), "{line}");
    let never = line.split("never reached: ").nth(1).unwrap_or_else(|| panic!("{line}"));
    assert!(!never.contains("fence-failed"), "{line}");
}
