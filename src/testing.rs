//! Writing scenario tests in Rust: run a scenario over seeds, check every
//! expectation of its file and any check of your own, and get each failing
//! seed with the command that reproduces it.
//!
//! ```no_run
//! use mailsim::scenario::Scenario;
//! use mailsim::testing::{check_scenario, Check};
//!
//! #[test]
//! fn nothing_is_lost_when_the_shelf_fails() {
//!     let s = Scenario::load("scenarios/opensrs-2008-shelf-controller.toml".as_ref()).unwrap_or_else(|e| panic!("{e}"));
//!     check_scenario(&s, &Check::default(), |r| {
//!         if r.figures.lost > 0 { Err(format!("{} mails lost", r.figures.lost)) } else { Ok(()) }
//!     })
//!     .unwrap_or_else(|failures| panic!("{failures}"));
//! }
//! ```
//!
//! Seeds: `Check::seeds` (0..3 by default), or `MAILSIM_SEED=N` /
//! `MAILSIM_SEEDS=A..B` from the environment, so
//! `MAILSIM_SEEDS=0..20 cargo test --release --test my_test` runs twenty.
//! Rate expectations (`on_seeds`) are judged as the main job judges them: a
//! miss on one seed is tolerated, a share the seeds clearly miss fails.
//! `check_determinism` runs each seed twice first and compares every event.

use std::ops::Range;

use crate::run::{run, RunResult};
use crate::scenario::Scenario;
use crate::sweep::{rate_checks, repro_command, seeds_from_env, RateFlag};

/// How to check a scenario.
#[derive(Clone, Debug)]
pub struct Check {
    /// Seeds to run when neither `MAILSIM_SEED` nor `MAILSIM_SEEDS` is set.
    pub seeds: Range<u64>,
    /// Run each seed twice first with full traces, and fail on the first
    /// event where the two runs differ.
    pub check_determinism: bool,
}

impl Default for Check {
    fn default() -> Check {
        Check { seeds: 0..3, check_determinism: false }
    }
}

/// Runs `scenario` on the seeds `check` chooses and checks every expectation
/// of its file and `extra` on each run. `Err` lists every failure, one per
/// seed and check, each with its repro command (`mailsim run FILE --seed N`).
pub fn check_scenario(scenario: &Scenario, check: &Check, extra: impl Fn(&RunResult) -> Result<(), String>) -> Result<(), String> {
    let seeds = seeds_from_env(check.seeds.clone())?;
    let file = scenario.path.display().to_string();
    let mut failures = Vec::new();
    let mut rates: Vec<(u64, Vec<RateFlag>)> = Vec::new();
    let rerun = rerun_command();
    for seed in seeds {
        let repro = reproduce(scenario, &file, seed, rerun.as_deref());
        if check.check_determinism {
            if let Err(d) = mailsim_sim::check_determinism(seed, |sd| scenario.topology(sd).build()) {
                failures.push(format!("{d}    reproduce: {}", reproduce_determinism(scenario, &file, seed, rerun.as_deref())));
                continue;
            }
        }
        let r = run(scenario, seed);
        rates.push((seed, RateFlag::of(&r)));
        for v in r.verdicts.iter().filter(|v| v.failed()) {
            failures.push(format!("seed {seed}: {} — {}\n    {repro}", v.name, v.detail));
        }
        if let Err(e) = extra(&r) {
            failures.push(format!("seed {seed}: {e}\n    {repro}"));
        }
    }
    for c in rate_checks(rates.iter().map(|(seed, flags)| (*seed, flags.as_slice()))) {
        if c.clearly_missed() {
            let first = c.missed_seeds.iter().map(|&seed| repro_command(&file, seed)).collect::<Vec<_>>();
            failures.push(format!("rate clearly below its share: {c}\n    reproduce: {}", first.join("; ")));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: {} failures\n{}", scenario.name(), failures.len(), failures.join("\n")))
    }
}

/// The lines that reproduce one failing seed: `mailsim run FILE --seed N`
/// when the scenario is a file on disk, and the command that reruns this
/// test on that seed alone (`MAILSIM_SEED=N cargo test …`) when it is known.
fn reproduce(scenario: &Scenario, file: &str, seed: u64, rerun: Option<&str>) -> String {
    let mut lines = Vec::new();
    if scenario.path.is_file() {
        lines.push(format!("reproduce: {}", repro_command(file, seed)));
    }
    if let Some(rerun) = rerun {
        lines.push(format!("rerun this test on it: MAILSIM_SEED={seed} {rerun}"));
    }
    if lines.is_empty() {
        lines.push(format!("reproduce: seed {seed} of the scenario `{}` (written in the test, not a file)", scenario.name()));
    }
    lines.join("\n    ")
}

/// [`reproduce`] for a divergence: the `mailsim` command with
/// `--check-determinism`.
fn reproduce_determinism(scenario: &Scenario, file: &str, seed: u64, rerun: Option<&str>) -> String {
    match scenario.path.is_file() {
        true => format!("{} --check-determinism", repro_command(file, seed)),
        false => reproduce(scenario, file, seed, rerun),
    }
}

/// The cargo command that reruns the running test alone, read from the test
/// binary's path (`target/release/deps/my_test-HASH` is `--test my_test`,
/// `target/release/examples/NAME-HASH` is `--example NAME`, the library's
/// own is `--lib`) and the test thread's name (libtest names each test's
/// thread after the test). `None` outside a test thread.
fn rerun_command() -> Option<String> {
    let test = std::thread::current().name().filter(|n| *n != "main")?.to_string();
    let exe = std::env::current_exe().ok()?;
    let stem = exe.file_stem()?.to_str()?;
    let crate_name = stem.rsplit_once('-').map_or(stem, |(name, _)| name);
    let profile = exe.parent()?.parent()?;
    let release = if profile.file_name().is_some_and(|p| p == "release") { " --release" } else { "" };
    let kind = exe.parent()?.file_name()?.to_str()?;
    let target = match kind {
        _ if kind != "examples" && crate_name == env!("CARGO_CRATE_NAME") => "--lib".to_string(),
        _ => {
            let (flag, dir) = if kind == "examples" { ("--example", "examples") } else { ("--test", "tests") };
            let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(std::path::PathBuf::from);
            format!("{flag} {}", target_name(crate_name, |name| manifest.as_ref().is_some_and(|m| m.join(dir).join(name).is_file())))
        }
    };
    Some(format!("cargo test{release} {target} -- {test} --exact"))
}

/// The cargo target name behind a test binary's crate name: cargo turns
/// `tests/my-test.rs` into the binary `my_test-HASH`, but `--test` wants
/// `my-test`. `exists(file)` says whether `tests/file` (or `examples/file`)
/// is there; the crate name is kept unless only the hyphenated file is.
fn target_name(crate_name: &str, exists: impl Fn(&str) -> bool) -> String {
    let hyphenated = crate_name.replace('_', "-");
    if hyphenated != crate_name && !exists(&format!("{crate_name}.rs")) && exists(&format!("{hyphenated}.rs")) {
        hyphenated
    } else {
        crate_name.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hyphenated_test_file_is_rerun_by_its_target_name() {
        assert_eq!(target_name("my_test", |f| f == "my-test.rs"), "my-test");
        assert_eq!(target_name("my_test", |f| f == "my_test.rs"), "my_test");
        assert_eq!(target_name("my_test", |f| f == "my_test.rs" || f == "my-test.rs"), "my_test");
        assert_eq!(target_name("my_test", |_| false), "my_test", "no file found: the crate name");
        assert_eq!(target_name("newcomer", |_| true), "newcomer");
    }

    const TINY: &str = r#"
        [scenario]
        name = "tiny"
        summary = "one MX, a few mails"
        [run]
        duration = "1d"
        [topology]
        mx = 1
        mailboxes = 10
        [workload]
        mails = 20
        window = "2h"
    "#;

    #[test]
    fn a_passing_scenario_passes_and_a_failing_check_names_each_seed_and_its_repro() {
        let s = Scenario::from_toml(TINY, "tiny.toml").expect("valid");
        let check = Check { seeds: 3..5, check_determinism: true };
        check_scenario(&s, &check, |_| Ok(())).expect("a healthy tiny scenario passes");
        let e = check_scenario(&s, &check, |r| Err(format!("{} delivered", r.figures.delivered))).expect_err("the check fails");
        assert!(e.starts_with("tiny: 2 failures"), "{e}");
        for seed in [3, 4] {
            // Written in the test, not a file: no `mailsim run`, but the
            // command that reruns this very test on the seed.
            let rerun = format!("seed {seed}: 20 delivered\n    rerun this test on it: MAILSIM_SEED={seed} cargo test");
            assert!(e.contains(&rerun), "{e}");
            let name = "--lib -- testing::tests::a_passing_scenario_passes_and_a_failing_check_names_each_seed_and_its_repro --exact";
            assert!(e.contains(name), "{e}");
            assert!(!e.contains("mailsim run"), "tiny.toml is no file: {e}");
        }
    }

    #[test]
    fn an_expectation_the_run_misses_is_a_failure_with_its_detail() {
        let s = Scenario::from_toml(&format!("{TINY}\n[expect]\nlost = {{ min = 1 }}\n"), "tiny.toml").expect("valid");
        let e = check_scenario(&s, &Check { seeds: 0..1, ..Check::default() }, |_| Ok(())).expect_err("nothing is lost");
        assert!(e.contains("seed 0: lost — 0 (expected >= 1)"), "{e}");
    }
}
