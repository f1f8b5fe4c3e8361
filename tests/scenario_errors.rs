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
    expect_error("bad-size.toml", 4, Some("topology.storage.group_size"), "not a size");
    expect_error("zero-rate.toml", 4, Some("topology.storage.rebuild_rate"), "zero");
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
