//! One test per scenario file in `scenarios/` and `scenarios/examples/`,
//! generated from the directories: each runs a few seeds of the scenario and
//! checks every expectation, so CI replays every known outage, and runs
//! every example of a mechanism, on every commit. A file added to either
//! directory is a new test without touching this file (`replay::<name>` for
//! the replays, `example::<name>` for the examples). A rate expectation (`on_seeds`)
//! may miss on a seed; the test fails when the seeds clearly miss its share.
//! Seeds 0..3 by default; `MAILSIM_SEEDS=0..20 cargo test --release --test
//! scenarios` (or `MAILSIM_SEED=7`) runs others, and each failing seed
//! prints its repro command.

use std::path::PathBuf;

use libtest_mimic::{Arguments, Failed, Trial};
use mailsim::scenario::Scenario;
use mailsim::testing::{check_scenario, Check};

/// Seeds per scenario in the test suite (the main job runs each file's own
/// `run.seeds`); `MAILSIM_SEED=N` or `MAILSIM_SEEDS=A..B` choose others.
const SEEDS: std::ops::Range<u64> = 0..3;

fn main() {
    let args = Arguments::from_args();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios");
    let mut trials = Vec::new();
    for (dir, kind) in [(root.clone(), "replay"), (root.join("examples"), "example")] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        assert!(!files.is_empty(), "no scenario files in {}", dir.display());
        trials.extend(files.into_iter().map(|path| {
            let name = path.file_stem().expect("a file name").to_string_lossy().to_string();
            Trial::test(format!("{kind}::{name}"), move || replay(&path))
        }));
    }
    libtest_mimic::run(&args, trials).exit();
}

fn replay(path: &std::path::Path) -> Result<(), Failed> {
    let scenario = Scenario::load(path).map_err(|e| Failed::from(e.to_string()))?;
    check_scenario(&scenario, &Check { seeds: SEEDS, ..Check::default() }, |_| Ok(())).map_err(Failed::from)
}
