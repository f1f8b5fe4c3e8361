//! The "done means", pinned: a newcomer copies
//! `examples/scenario_test.rs` into `tests/`, runs
//! `MAILSIM_SEEDS=0..20 cargo test --release --test my_test`, and sees each
//! failing seed with its repro command, without reading the source.
//!
//! The newcomer's test is `a_newcomers_check_that_fails_on_some_seeds`
//! below: the example's Fused check with a planted belief ("the failover
//! happened within 18 hours"), which the replay's seeds disagree on.
//! It is `#[ignore]`d, so an ordinary `cargo test` skips it; the test above
//! it runs this test binary again, as `cargo test` would, with
//! `MAILSIM_SEEDS=0..20` in its environment, and reads what the newcomer
//! would read. The seeds that should fail are found independently, by
//! running the scenario in this process.

use std::path::PathBuf;
use std::process::Command;

use mailsim::run::run;
use mailsim::scenario::Scenario;
use mailsim::testing::{check_scenario, Check};

/// The planted belief: the failover happened within 18 hours.
const BELIEVED_FAILOVER_US_MAX: u64 = 18 * 3_600_000_000;

fn fused() -> (PathBuf, Scenario) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios/fused-2018-failed-fencing.toml");
    let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
    (path, s)
}

fn believed(failover_us: Option<&u64>) -> Result<(), String> {
    match failover_us {
        Some(&t) if t <= BELIEVED_FAILOVER_US_MAX => Ok(()),
        Some(&t) => Err(format!("failover at {} s, later than 18 h", t / 1_000_000)),
        None => Err("no failover".into()),
    }
}

#[test]
#[ignore = "a planted failure: run by the test below, in a child process with MAILSIM_SEEDS set"]
fn a_newcomers_check_that_fails_on_some_seeds() {
    let (_, s) = fused();
    check_scenario(&s, &Check::default(), |r| believed(r.figures.failovers_us.first())).unwrap_or_else(|failures| panic!("{failures}"));
}

#[test]
fn mailsim_seeds_runs_those_seeds_and_each_failing_one_is_printed_with_its_repro_commands() {
    let child = "a_newcomers_check_that_fails_on_some_seeds";
    let out = Command::new(std::env::current_exe().expect("the test binary"))
        .args([child, "--exact", "--ignored"])
        .env("MAILSIM_SEEDS", "0..20")
        .env_remove("MAILSIM_SEED")
        .output()
        .expect("the test binary runs");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "the planted check must fail:\n{text}");

    // Which seeds break the planted belief, found here, not from the output.
    let (path, s) = fused();
    let failing: Vec<u64> = (0..20).filter(|&seed| believed(run(&s, seed).figures.failovers_us.first()).is_err()).collect();
    assert!(
        failing.iter().any(|&seed| seed >= 3),
        "a seed past the default 0..3 must fail for this test to show MAILSIM_SEEDS: {failing:?}"
    );
    assert!(failing.len() < 20, "some seeds must pass: {failing:?}");

    let release = if cfg!(debug_assertions) { "" } else { " --release" };
    for seed in 0..20 {
        let line = format!("seed {seed}: failover at ");
        if !failing.contains(&seed) {
            assert!(!text.contains(&line), "seed {seed} meets the belief but is listed:\n{text}");
            continue;
        }
        let at = text.find(&line).unwrap_or_else(|| panic!("seed {seed} fails but is not listed:\n{text}"));
        let block: Vec<&str> = text[at..].lines().take(3).collect();
        assert_eq!(block[1].trim(), format!("reproduce: mailsim run {} --seed {seed}", path.display()), "{text}");
        assert_eq!(
            block[2].trim(),
            format!("rerun this test on it: MAILSIM_SEED={seed} cargo test{release} --test newcomer -- {child} --exact"),
            "{text}"
        );
    }
}
