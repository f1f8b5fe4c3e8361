//! Broken scenario files produce the right error — file, line and field — for
//! each class of mistake, and `mailsim check` exits non-zero without panicking.

use std::path::PathBuf;
use std::process::Command;

use mailsim::scenario::Scenario;

fn bad(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bad").join(name)
}

/// Loads a broken file and checks where and what the error says.
fn expect_error(name: &str, line: usize, field: Option<&str>, says: &str) {
    let err = Scenario::load(&bad(name)).expect_err("the file is broken");
    let text = err.to_string();
    assert!(err.file().ends_with(name), "{name}: error names {} — {text}", err.file().display());
    assert_eq!(err.line(), Some(line), "{name}: wrong line — {text}");
    assert_eq!(err.field().map(|f| f.to_string()).as_deref(), field, "{name}: wrong field — {text}");
    assert!(text.contains(says), "{name}: `{text}` does not say `{says}`");
}

#[test]
fn the_base_file_is_valid() {
    Scenario::load(&bad("base.toml")).expect("base.toml is a valid scenario");
}

#[test]
fn toml_syntax_errors_name_the_line() {
    expect_error("syntax.toml", 5, None, "expected `]`");
}

#[test]
fn unknown_fields_are_errors() {
    expect_error("unknown-field.toml", 6, Some("topology.colour"), "unknown field `colour`");
}

#[test]
fn unknown_fault_kinds_are_errors() {
    expect_error("unknown-fault-kind.toml", 5, Some("faults[0].kind"), "unknown fault kind `meteor-strike`");
}

#[test]
fn targets_that_name_nothing_are_errors() {
    expect_error("bad-target.toml", 6, Some("faults[0].target"), "`mx-7` names no node");
    expect_error("bad-controller.toml", 6, Some("faults[0].target"), "`shelf-q`");
}

#[test]
fn impossible_values_are_errors() {
    expect_error("raid-too-small.toml", 5, Some("topology.storage.disks_per_group"), "cannot hold 2 parity disks");
    expect_error("negative-rate.toml", 4, Some("workload.per_hour"), "-5");
    expect_error("bad-duration.toml", 4, Some("run.duration"), "not a duration");
    expect_error("phase-after-end.toml", 5, Some("run.fault_phase"), "ends after the run");
    expect_error("bad-step.toml", 7, Some("recovery[0].after"), "not an earlier step");
    expect_error("bad-size.toml", 4, Some("topology.storage.disk_size"), "not a size");
    expect_error("takes-unordered.toml", 8, Some("recovery[0].takes"), "min <= mode <= max");
    expect_error("takes-no-source.toml", 8, Some("recovery[0].takes.source"), "needs a `source`");
    expect_error("role-unknown.toml", 12, Some("recovery[0].role"), "`storage-team` is not a role (roles: storage team)");
    expect_error("role-no-callout.toml", 3, Some("topology.operators.roles[0].callout"), "needs a `callout`");
    expect_error("stale-too-many.toml", 5, Some("topology.storage.stale_disks"), "a shelf holds only");
    expect_error("zero-rate.toml", 4, Some("topology.storage.rebuild_rate"), "zero");
    expect_error("unknown-inbound-policy.toml", 4, Some("topology.mta.inbound_policy"), "unknown inbound policy `reject-6xx`");
    expect_error("mx-preferences-count.toml", 4, Some("topology.mx_preferences"), "3 preferences for 2 primary MX records");
    expect_error("restore-without-from.toml", 3, Some("recovery[0].from"), "`restore` needs `from`");
    expect_error("restore-unknown-set.toml", 11, Some("recovery[0].from"), "`weekly` is not a backup set (they are: nightly)");
    expect_error("unknown-backup-kind.toml", 5, Some("topology.backups[0].kind"), "unknown backup kind `cloud`");
    expect_error("share-on-crash.toml", 7, Some("faults[0].share"), "`share` has no effect on a `crash` fault");
}

/// The HA pair's and the local devices' faults: a head the file server
/// lacks, a takeover mode or a field that means nothing, a device on a node
/// that has none.
#[test]
fn head_and_local_device_faults_name_what_is_wrong() {
    expect_error("head-without-pair.toml", 6, Some("faults[0].target"), "it has 1: head-a");
    expect_error("unknown-takeover.toml", 9, Some("faults[0].takeover"), "unknown takeover `sometimes`");
    expect_error("takeover-on-crash.toml", 7, Some("faults[0].takeover"), "applies to `head-failure`");
    expect_error("local-device-on-filer.toml", 6, Some("faults[0].target"), "a local device failure hits a mail node");
}

/// Ranged parameters (`{ range = [a, b], reason }`, `src/ranges.rs`): each
/// mistake named at its field; a range must also be valid at both ends.
#[test]
fn bad_ranges_are_errors() {
    expect_error("range-reversed.toml", 4, Some("topology.storage.rebuild_rate.range"), "not below the high end");
    expect_error("range-no-reason.toml", 4, Some("topology.storage.rebuild_rate.reason"), "needs a `reason`");
    expect_error("range-not-numeric.toml", 4, Some("topology.storage.placement.range"), "only a field that takes");
    expect_error("range-on-text.toml", 4, Some("topology.mta.retry"), "this field takes none of them");
    expect_error("range-end-invalid.toml", 4, Some("topology.storage.disks_per_group"), "at the high end of its range (70)");
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let err = Scenario::load(&bad("no-such-file.toml")).expect_err("missing");
    assert!(err.to_string().contains("cannot read"), "{err}");
}

#[test]
fn check_exits_non_zero_on_every_broken_file() {
    let exe = env!("CARGO_BIN_EXE_mailsim");
    for entry in std::fs::read_dir(bad("")).expect("tests/bad exists").flatten() {
        let path = entry.path();
        let valid = path.file_name().is_some_and(|n| n == "base.toml");
        let out = Command::new(exe).arg("check").arg(&path).output().expect("mailsim runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{}: {stderr}", path.display());
        if valid {
            assert!(out.status.success(), "{}: {stderr}", path.display());
        } else {
            assert_eq!(out.status.code(), Some(2), "{}: {stderr}", path.display());
            assert!(stderr.contains(&*path.file_name().unwrap().to_string_lossy()), "the error names the file: {stderr}");
        }
    }
}

#[test]
fn the_schema_is_json_and_lists_the_sections() {
    let schema: serde_json::Value = serde_json::from_str(&mailsim::scenario::schema()).expect("valid JSON");
    let props = schema["properties"].as_object().expect("an object schema");
    for section in ["scenario", "run", "topology", "workload", "faults", "recovery", "expect"] {
        assert!(props.contains_key(section), "schema lacks `{section}`");
    }
}

// ---------------------------------------------------------------------------
// Regressions: inputs that crashed, hung or exhausted memory, or whose fields
// were silently ignored. Each file is in `tests/corpus/`; `tests/corpus.rs`
// also runs `mailsim check` over every one of them.

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus").join(name)
}

/// Loads a corpus file and checks the error's file, line, field and text,
/// and that loading took well under a second.
fn expect_corpus_error(name: &str, line: usize, field: Option<&str>, says: &str) {
    let started = std::time::Instant::now();
    let err = Scenario::load(&corpus(name)).expect_err("the file is broken");
    let elapsed = started.elapsed();
    let text = err.to_string();
    assert!(elapsed < std::time::Duration::from_secs(1), "{name}: loading took {elapsed:?}");
    assert!(err.file().ends_with(name), "{name}: error names {} — {text}", err.file().display());
    assert_eq!(err.line(), Some(line), "{name}: wrong line — {text}");
    assert_eq!(err.field().map(|f| f.to_string()).as_deref(), field, "{name}: wrong field — {text}");
    assert!(text.contains(says), "{name}: `{text}` does not say `{says}`");
}

#[test]
fn check_rejects_2_pow_32_mx_nodes_before_naming_them() {
    expect_corpus_error("mx-4294967295.toml", 10, Some("topology.mx"), "at most 64");
}

#[test]
fn check_rejects_a_workload_window_longer_than_60_days_at_once() {
    expect_corpus_error("window-106751991d.toml", 15, Some("workload.window"), "longer than 60d");
}

#[test]
fn check_rejects_a_file_over_1_mib_without_reading_it_all() {
    // 12 million holidays took 2.4 GB to check; the file is 24 MB.
    let dir = std::env::temp_dir().join(format!("mailsim-huge-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("holidays-12m.toml");
    let mut text = std::fs::read_to_string(bad("base.toml")).expect("base");
    text.push_str("\n[topology.operators]\nholidays = [");
    text.push_str(&"1,".repeat(12_000_000));
    text.push_str("1]\n");
    std::fs::write(&path, text).expect("write");
    let started = std::time::Instant::now();
    let err = Scenario::load(&path).expect_err("too large");
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "took {:?}", started.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.is_located(), "{err}");
    assert!(err.to_string().contains("holidays-12m.toml: byte 1048576: the file is longer than 1048576 bytes"), "{err}");
}

#[test]
fn check_bounds_the_holiday_list() {
    expect_corpus_error("holidays-400.toml", 18, Some("topology.operators.holidays"), "at most 366");
}

#[test]
fn check_rejects_storage_and_mailbox_counts_that_run_could_not_allocate() {
    expect_corpus_error("groups-4294967295.toml", 18, Some("topology.storage.groups"), "at most 1000");
    expect_corpus_error("shelves-4294967295.toml", 18, Some("topology.storage.shelves"), "at most 26");
    expect_corpus_error("volumes-4294967295.toml", 18, Some("topology.storage.volumes"), "at most 1000");
    expect_corpus_error("mailboxes-4294967295.toml", 11, Some("topology.mailboxes"), "at most 10000000");
    expect_corpus_error("disks-per-group-4294967295.toml", 18, Some("topology.storage.disks_per_group"), "at most 64");
}

#[test]
fn check_rejects_more_mails_than_a_run_supports() {
    expect_corpus_error("mails-1e8.toml", 14, Some("workload.mails"), "at most 50000000");
    expect_corpus_error("mails-1e12.toml", 14, Some("workload.mails"), "at most 50000000");
    expect_corpus_error("rate-over-mail-limit.toml", 14, Some("workload.rate"), "at most 50000000");
}

#[test]
fn check_rejects_runs_whose_estimated_events_exceed_the_budget() {
    expect_corpus_error("mails-over-event-budget.toml", 14, Some("workload.mails"), "more than its budget of 1000000000");
    expect_corpus_error("clients-every-second.toml", 14, Some("workload.mails"), "more than its budget");
}

#[test]
fn check_rejects_a_zero_token_timeout_that_made_heartbeating_agents_panic() {
    expect_corpus_error("token-timeout-0s-heartbeats.toml", 18, Some("topology.cluster.token_timeout"), "shorter than 100ms");
}

#[test]
fn extends_loops_through_dotdot_are_found_at_once_with_a_short_message() {
    let started = std::time::Instant::now();
    let err = Scenario::load(&corpus("extends-self-through-dotdot.toml")).expect_err("loops");
    assert!(started.elapsed() < std::time::Duration::from_secs(1), "took {:?}", started.elapsed());
    let text = err.to_string();
    assert!(text.len() < 400, "{} bytes: {text}", text.len());
    assert!(text.contains("loops back"), "{text}");
    assert_eq!(err.line(), Some(2), "{text}");
    assert_eq!(err.field().map(|f| f.to_string()).as_deref(), Some("extends"), "{text}");
    let err = Scenario::load(&corpus("extends-loop-a.toml")).expect_err("loops");
    assert!(err.to_string().contains("extends-loop-a.toml → extends-loop-b.toml → extends-loop-a.toml"), "{err}");
}

#[test]
fn extends_chains_longer_than_the_limit_are_errors() {
    let dir = std::env::temp_dir().join(format!("mailsim-chain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let base = std::fs::read_to_string(bad("base.toml")).expect("base");
    std::fs::write(dir.join("f0.toml"), &base).expect("write");
    let n = mailsim::scenario::EXTENDS_DEPTH_MAX;
    for i in 1..=n {
        std::fs::write(dir.join(format!("f{i}.toml")), format!("extends = \"f{}.toml\"\n", i - 1)).expect("write");
    }
    // A chain of exactly the limit loads; one more file is too many.
    Scenario::load(&dir.join(format!("f{}.toml", n - 1))).expect("a chain of EXTENDS_DEPTH_MAX files loads");
    let err = Scenario::load(&dir.join(format!("f{n}.toml"))).expect_err("one file too many");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(err.to_string().contains(&format!("longer than {n} files")), "{err}");
    assert_eq!(err.line(), Some(1), "{err}");
}

#[test]
fn extends_naming_a_directory_names_the_file_and_the_field() {
    expect_corpus_error("extends-directory.toml", 2, Some("extends"), "`.` is a directory");
    expect_corpus_error("extends-missing.toml", 2, Some("extends"), "`no-such-base.toml` cannot be read");
}

#[test]
fn non_utf8_files_report_the_line_and_byte_of_the_first_invalid_byte() {
    let err = Scenario::load(&corpus("non-utf8.toml")).expect_err("not UTF-8");
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("non-utf8.toml:3:12: invalid UTF-8 at byte 67"), "{err}");
}

#[test]
fn fields_without_effect_on_recovery_steps_are_errors() {
    expect_corpus_error("delay-on-at-step.toml", 22, Some("recovery[0].delay"), "`delay` has no effect");
    expect_corpus_error("delay-on-after-alert-step.toml", 22, Some("recovery[0].delay"), "`delay` has no effect");
    expect_corpus_error("parallel-on-migrate-step.toml", 22, Some("recovery[0].parallel"), "no effect on a `migrate` step");
    expect_corpus_error("steps-on-rebuild-step.toml", 22, Some("recovery[0].steps"), "no effect on a `start-rebuild` step");
    expect_corpus_error("node-on-flush-step.toml", 22, Some("recovery[0].node"), "no effect on a `flush-queue` step");
    expect_corpus_error("migrate-steps-over-volumes.toml", 22, Some("recovery[0].steps"), "1000 steps for 6 volumes");
}

#[test]
fn a_rebuild_order_that_names_nothing_or_has_no_effect_is_an_error() {
    expect_error("rebuild-order-unknown.toml", 8, Some("recovery[0].order"), "unknown rebuild order `random` (index, smallest-first");
    expect_error(
        "rebuild-order-first-unknown.toml",
        10,
        Some("recovery[0].order_first[1]"),
        "`volume-9` is not a RAID group (group-1 … group-6) or a volume (volume-1 … volume-6)",
    );
    expect_error("rebuild-order-first-twice.toml", 8, Some("recovery[0].order_first[1]"), "`volume-2` names group-2 again");
    expect_error(
        "rebuild-order-on-migrate.toml",
        8,
        Some("recovery[0].order"),
        "`order` has no effect on a `migrate` step; it applies to `start-rebuild`",
    );
    expect_error("rebuild-order-parallel.toml", 9, Some("recovery[0].order"), "`order` has no effect with `parallel = true`");
}

#[test]
fn fields_without_effect_on_faults_are_errors() {
    expect_corpus_error("speed-on-crash-fault.toml", 21, Some("faults[0].speed"), "applies to `degrade`");
    expect_corpus_error("peer-on-crash-fault.toml", 21, Some("faults[0].peer"), "applies to `partition`");
    expect_corpus_error("for-on-crash-fault.toml", 21, Some("faults[0].for"), "applies to `hang`");
    expect_corpus_error("mode-on-crash-fault.toml", 21, Some("faults[0].mode"), "applies to `fence-broken`");
    expect_corpus_error("target-on-heal-fault.toml", 20, Some("faults[0].target"), "no effect on a `heal` fault");
}

#[test]
fn fields_without_effect_elsewhere_are_errors() {
    expect_corpus_error("swarm-without-random-faults.toml", 8, Some("run.swarm"), "there are none");
    expect_corpus_error("holiday-delay-without-holidays.toml", 18, Some("topology.operators.holiday_delay"), "no `holidays`");
    expect_corpus_error("holiday-after-run.toml", 18, Some("topology.operators.holidays[0]"), "after the run's last day");
    expect_corpus_error("users-over-mailboxes.toml", 18, Some("topology.clients.users"), "each user reads one mailbox");
    expect_corpus_error("workload-after-run.toml", 16, Some("workload.begin"), "never sent");
    expect_corpus_error("empty-bounds.toml", 18, Some("expect.lost"), "check nothing");
    expect_corpus_error("empty-checkpoint.toml", 18, Some("expect.unavailable[0]"), "checks nothing");
    expect_corpus_error("rate-on-0-percent-of-seeds.toml", 18, Some("expect.max_delay.on_seeds"), "checks nothing");
    expect_corpus_error("rate-on-100-percent-of-seeds.toml", 18, Some("expect.max_delay.on_seeds"), "leave `on_seeds` out");
}

#[test]
fn durations_counts_and_lists_outside_their_limits_are_errors() {
    expect_corpus_error("run-duration-0s.toml", 7, Some("run.duration"), "longer than zero");
    expect_corpus_error("run-duration-61d.toml", 7, Some("run.duration"), "longer than 60d");
    expect_corpus_error("delivery-timeout-0s.toml", 18, Some("topology.mta.delivery_timeout"), "longer than zero");
    expect_corpus_error("lock-fail-delay-0s.toml", 18, Some("topology.nfs.lock_fail_delay"), "longer than zero");
    expect_corpus_error("stonith-attempts-4294967295.toml", 18, Some("topology.cluster.stonith_attempts"), "at most 100");
    expect_corpus_error("fencing-levels-9.toml", 18, Some("topology.cluster.fencing"), "at most 8");
    expect_corpus_error("seeds-4294967295.toml", 8, Some("run.seeds"), "at most 1000000");
    expect_corpus_error("seeds-0.toml", 8, Some("run.seeds"), "at least 1");
}

#[test]
fn run_refuses_what_check_refuses_instead_of_aborting() {
    let exe = env!("CARGO_BIN_EXE_mailsim");
    for name in [
        "groups-4294967295.toml",
        "shelves-4294967295.toml",
        "mailboxes-4294967295.toml",
        "mails-1e8.toml",
        "token-timeout-0s-heartbeats.toml",
    ] {
        let started = std::time::Instant::now();
        let out = Command::new(exe).arg("run").arg(corpus(name)).output().expect("mailsim runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(stderr.contains(name), "{name}: {stderr}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{name}: took {:?}", started.elapsed());
    }
}

#[test]
fn a_service_at_the_models_benchmark_size_is_within_every_limit() {
    // The 1M-mail bench: 4 MX, 100k mailboxes, 1M mails over 5 days, a
    // 5d6h run; it must stay a valid scenario.
    let dir = std::env::temp_dir().join(format!("mailsim-bench-size-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bench.toml");
    std::fs::write(
        &path,
        "[scenario]\nname = \"bench\"\nsummary = \"the models benchmark's size\"\n[run]\nduration = \"5d6h\"\nfault_phase = \"4d\"\n\
         liveness_window = \"1d\"\n[topology]\nmx = 4\nmailboxes = 100000\n[workload]\nmails = 1000000\nwindow = \"5d\"\n\
         [[faults]]\nat = \"-7d\"\nkind = \"path-fault\"\ntarget = \"shelf-a\"\n[[faults]]\nat = \"1d\"\nkind = \"controller-failure\"\n\
         target = \"shelf-a/controller-a\"\n",
    )
    .expect("write");
    let loaded = Scenario::load(&path);
    let _ = std::fs::remove_dir_all(&dir);
    let s = loaded.expect("the benchmark's size is a valid scenario");
    let events = mailsim::scenario::estimate_events(&s.topology, 1_000_000);
    assert!(events <= mailsim::scenario::EVENTS_MAX / 2, "estimate {events} leaves no headroom");
}

#[test]
fn the_event_estimate_is_above_the_events_of_real_replays() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    for name in ["fused-2018-failed-fencing.toml", "fused-2018-heartbeats.toml", "opensrs-2008-shelf-controller.toml"] {
        let s = Scenario::load(&dir.join(name)).expect("a valid replay");
        let r = mailsim::run::run(&s, 0);
        let estimate = s.estimated_events();
        assert!(estimate >= r.figures.events, "{name}: estimate {estimate} < {} events", r.figures.events);
    }
}

#[test]
fn a_topology_past_the_size_limits_is_invalid_rather_than_built() {
    use mailsim_models::topology::{Topology, TopologyOptions};
    let ok = Topology::new(TopologyOptions { seed: 0, mx: 2, mailboxes: 100, mails: 10 });
    ok.validate().expect("a small service is valid");
    type Change = fn(&mut Topology);
    let cases: [(&str, Change); 5] = [
        ("shelves", |t| t.filer.storage.shelves = u32::MAX),
        ("controllers", |t| t.filer.storage.controllers_per_shelf = 27),
        ("RAID groups", |t| t.filer.storage.groups = u32::MAX),
        ("volumes", |t| t.filer.storage.volumes = 1_001),
        ("mailboxes", |t| t.filer.mailboxes = u32::MAX),
    ];
    for (what, change) in cases {
        let mut t = ok.clone();
        change(&mut t);
        let e = t.validate().expect_err(what);
        assert!(e.contains(what), "{what}: {e}");
    }
}

#[test]
fn checkpoint_mistakes_name_the_checkpoint_and_field() {
    expect_error("checkpoint-clock-without-t0.toml", 5, Some("checkpoints[0].at"), "no `scenario.t0`");
    expect_error("checkpoint-unknown-metric.toml", 6, Some("checkpoints[0].metric"), "unknown metric `happiness`");
    expect_error("checkpoint-wrong-tolerance.toml", 7, Some("checkpoints[0].min"), "give `early`/`late`");
    expect_error("checkpoint-outside-run.toml", 10, Some("checkpoints[0].at"), "outside the run");
}

#[test]
fn a_t0_fixes_the_operators_calendar_and_must_be_a_clock_time() {
    expect_error("t0-disagrees.toml", 9, Some("topology.operators.start_day"), "disagrees with scenario.t0 (Tue 2008-08-12 12:00 -04:00)");
    expect_error("bad-clock-time.toml", 6, Some("scenario.t0"), "the zone offset is missing");
}
