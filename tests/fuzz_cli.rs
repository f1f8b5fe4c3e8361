//! A fuzzer over `mailsim` command lines: proptest picks `check` or `run`
//! (or a word that is no command), scenario files (valid replays, the bad
//! corpus, a directory, a missing file, an empty path) and options with
//! ordinary and absurd values (`--seed 18446744073709551616`, `--seed -1`,
//! `--trace` into a missing directory, unknown flags), and runs the binary.
//!
//! Properties: the process exits by itself in under 5 s with 0, 1 or 2 —
//! never a signal (an abort), never a panic message — and an exit of 2 that
//! blames a scenario file names that file.
//!
//! Cost: each case spawns a process, so the default is 24 cases (a few
//! seconds in release). `MAILSIM_FUZZ_CASES=N` runs more.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use proptest::prelude::*;
use proptest::sample::select;

fn cases(default: u32) -> u32 {
    std::env::var("MAILSIM_FUZZ_CASES").ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

#[path = "support/proptest_seed.rs"]
mod proptest_seed;
use proptest_seed::rng_seed;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Scenario files to name: quick valid ones, broken ones, and paths that
/// are not scenario files at all.
fn file_arg() -> BoxedStrategy<String> {
    let r = root();
    let mut files = vec![
        r.join("tests/bad/base.toml"),
        r.join("scenarios/fused-2018-failed-fencing.toml"),
        r.join("scenarios/fused-2018-heartbeats.toml"),
        r.join("tests/corpus"),
        r.join("tests/no-such-file.toml"),
    ];
    for dir in ["tests/corpus", "tests/bad"] {
        let mut more: Vec<PathBuf> = std::fs::read_dir(r.join(dir)).expect("a test directory").flatten().map(|e| e.path()).collect();
        more.sort();
        files.extend(more);
    }
    let files: Vec<String> = files.into_iter().map(|p| p.display().to_string()).chain([String::new(), "-".to_string()]).collect();
    select(files).boxed()
}

fn option_args() -> BoxedStrategy<Vec<String>> {
    let seed = select(&["0", "1", "3", "18446744073709551615", "18446744073709551616", "-1", "x", ""][..])
        .prop_map(|s| vec!["--seed".to_string(), s.to_string()]);
    let flag = select(&["--json", "--help", "--version", "--frobnicate", "-q", "--"][..]).prop_map(|s| vec![s.to_string()]);
    let trace = select(&["/nonexistent-dir/trace.json", ""][..]).prop_map(|s| vec!["--trace".to_string(), s.to_string()]);
    let junit = select(&["/nonexistent-dir/j.xml"][..]).prop_map(|s| vec!["--junit".to_string(), s.to_string()]);
    prop::collection::vec(prop_oneof![3 => seed, 3 => flag, 1 => trace, 1 => junit], 0..3).prop_map(|v| v.concat()).boxed()
}

fn command_line() -> BoxedStrategy<Vec<String>> {
    let command = select(&["check", "run", "run", "chek", "schema"][..]).prop_map(String::from);
    (command, prop::collection::vec(file_arg(), 0..3), option_args())
        .prop_map(|(c, files, opts)| {
            let mut args = vec![c];
            args.extend(files);
            args.extend(opts);
            args
        })
        .boxed()
}

/// Runs the binary with a 5 s deadline; `None` if it had to be killed.
fn run_bounded(args: &[String]) -> Option<(Option<i32>, String)> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_mailsim"))
        .args(args)
        .current_dir(root())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("mailsim starts");
    let mut stderr = child.stderr.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stderr.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait works") {
            return Some((status.code(), reader.join().expect("the reader ends")));
        }
        if started.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(24), failure_persistence: None, max_shrink_iters: 50, rng_seed: rng_seed(), ..ProptestConfig::default() })]

    #[test]
    fn command_lines_never_crash_or_hang(args in command_line()) {
        let Some((code, stderr)) = run_bounded(&args) else {
            return Err(TestCaseError::fail(format!("`mailsim {}` ran past 5 s", args.join(" "))));
        };
        prop_assert!(matches!(code, Some(0..=2)), "`mailsim {}` exited with {:?}: {}", args.join(" "), code, stderr);
        prop_assert!(!stderr.contains("panicked"), "`mailsim {}` panicked: {}", args.join(" "), stderr);
        let files_given = args.iter().any(|a| a.ends_with(".toml"));
        let asks_help = args.iter().take_while(|a| *a != "--").any(|a| a == "--help" || a == "--version");
        if args.first().is_some_and(|a| a == "check") && !files_given && !asks_help {
            // `check` with no files checks nothing: never a success (but
            // `--help` and `--version` answer and exit 0).
            prop_assert!(code == Some(2), "`mailsim {}`: {:?} {}", args.join(" "), code, stderr);
        }
        if code == Some(2) && stderr.starts_with("error") && stderr.contains(".toml") && files_given {
            // A scenario error names one of the files given.
            let named = args.iter().filter(|a| a.ends_with(".toml")).any(|a| {
                let name = a.rsplit('/').next().unwrap_or(a);
                stderr.contains(name)
            });
            prop_assert!(named, "`mailsim {}`: the error names none of the files: {}", args.join(" "), stderr);
        }
    }
}
