//! The corpus of bad inputs: every file in `tests/corpus/` once crashed,
//! hung or exhausted memory in `mailsim check` or `run`, had a field that was
//! silently ignored, or stands for a limit of the format. `mailsim check` must
//! reject each with exit code 2, within 5 seconds, in a message that names the
//! file and a position in it (`file:line:column` or `file: byte N`).
//!
//! `tests/scenario_errors.rs` pins the line, field and text of each; this test
//! keeps the whole directory honest, so a file added here is checked too.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Whether a message gives a position: `name:LINE:COL:` or `name: byte N:`.
fn has_position(message: &str, name: &str) -> bool {
    message.match_indices(name).any(|(i, _)| {
        let rest = &message[i + name.len()..];
        let digits = |s: &str| s.chars().take_while(|c| c.is_ascii_digit()).count();
        if let Some(r) = rest.strip_prefix(": byte ") {
            digits(r) > 0
        } else if let Some(r) = rest.strip_prefix(':') {
            let n = digits(r);
            n > 0 && r[n..].starts_with(':') && digits(&r[n + 1..]) > 0
        } else {
            false
        }
    })
}

#[test]
fn positions_are_recognized() {
    assert!(has_position("error a.toml:3:12: bad", "a.toml"));
    assert!(has_position("error a.toml: byte 1048576: too long", "a.toml"));
    assert!(!has_position("error a.toml: cannot read", "a.toml"));
    assert!(!has_position("error a.toml:: bad", "a.toml"));
}

#[test]
fn check_rejects_every_corpus_file_quickly_naming_file_and_position() {
    let exe = env!("CARGO_BIN_EXE_mailsim");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir).expect("tests/corpus exists").flatten().map(|e| e.path()).collect();
    files.sort();
    assert!(files.len() >= 40, "the corpus lost files: {}", files.len());
    for path in files {
        let started = Instant::now();
        let out = Command::new(exe).arg("check").arg(&path).output().expect("mailsim runs");
        let elapsed = started.elapsed();
        let stderr = String::from_utf8_lossy(&out.stderr);
        let name = path.file_name().expect("a file").to_string_lossy().into_owned();
        assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(elapsed < Duration::from_secs(5), "{name}: check took {elapsed:?}");
        // A loop through `extends` is reported in the file that closes it;
        // the message names every file of the loop, this one included.
        assert!(stderr.contains(&name), "{name}: the message does not name the file: {stderr}");
        let located = std::fs::read_dir(&dir)
            .expect("tests/corpus exists")
            .flatten()
            .any(|e| has_position(&stderr, &e.file_name().to_string_lossy()));
        assert!(located, "{name}: the message gives no position: {stderr}");
    }
}
