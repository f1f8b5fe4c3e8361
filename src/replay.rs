//! Replaying a recorded run and checking that it is the same run.
//!
//! A sweep or CI job that finds a failure records the scenario file, the
//! seed and the run's trace hash. `mailsim replay FILE --seed N --hash H`
//! runs that seed again and compares hashes: the kernel folds every event
//! into the hash, so the same file and seed must give the same hash on every
//! machine and in every process (madsim's `check_determinism` and
//! FoundationDB's "same seed, same run" discipline). A different hash means
//! the run is no longer the recorded one: the scenario file, the models or
//! the kernel changed since — or determinism broke — and the recorded
//! failure cannot be trusted to reproduce. `--trace` writes the replayed run
//! as a Chrome trace-event file to open in Perfetto.

use std::path::PathBuf;
use std::process::ExitCode;

use mailsim_sim::TraceMode;

use crate::note;
use crate::run::{run_with, RunResult};
use crate::scenario::Scenario;

/// `mailsim replay FILE --seed N --hash H [--trace out.json]`
#[derive(clap::Args, Clone, Debug)]
pub struct ReplayArgs {
    /// The scenario file of the recorded run.
    pub file: PathBuf,
    /// The recorded seed.
    #[arg(long)]
    pub seed: u64,
    /// The recorded trace hash (16 hex digits, as `mailsim run` prints it).
    #[arg(long)]
    pub hash: String,
    /// Write the replayed run's Chrome/Perfetto trace to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
}

/// Exit code of a replay whose hash differs from the recorded one.
pub const EXIT_DIVERGED: u8 = 3;

/// A replayed run.
#[derive(Debug)]
pub struct Replay {
    pub result: RunResult,
    /// The hash the replay produced.
    pub hash: u64,
    /// The hash recorded.
    pub expected: u64,
    /// The Chrome trace-event JSON, if asked for.
    pub chrome_trace: Option<String>,
}

impl Replay {
    pub fn matches(&self) -> bool {
        self.hash == self.expected
    }
}

/// Parses a trace hash as printed by `mailsim run` (`7bd000216d6c14c4`),
/// with or without `0x`, any case, leading zeros optional.
pub fn parse_hash(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")).unwrap_or(t);
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("`{text}` is not a trace hash: expected up to 16 hex digits, as `mailsim run` prints it"));
    }
    u64::from_str_radix(digits, 16).map_err(|e| format!("`{text}`: {e}"))
}

/// Re-runs `seed` of `scenario` and compares its trace hash with `expected`;
/// keeps the full trace when `trace` is set (the hash does not depend on it).
pub fn replay(scenario: &Scenario, seed: u64, expected: u64, trace: bool) -> Replay {
    let (result, sim) = run_with(scenario, seed, trace.then_some(TraceMode::Full));
    let chrome_trace = trace.then(|| sim.chrome_trace());
    Replay { hash: result.report.trace_hash, result, expected, chrome_trace }
}

/// The command.
pub fn replay_cmd(args: &ReplayArgs) -> ExitCode {
    let expected = match parse_hash(&args.hash) {
        Ok(h) => h,
        Err(e) => {
            note!("error: --hash: {e}");
            return ExitCode::from(2);
        }
    };
    let scenario = match Scenario::load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            note!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let r = replay(&scenario, args.seed, expected, args.trace.is_some());
    if let (Some(path), Some(json)) = (&args.trace, &r.chrome_trace) {
        if let Err(e) = std::fs::write(path, json) {
            note!("error: cannot write {}: {e}", path.display());
            return ExitCode::from(2);
        }
        note!("trace written to {} (open in ui.perfetto.dev)", path.display());
    }
    let mut text = crate::run::report_text(&r.result, &args.file);
    let matches = r.matches();
    if matches {
        text.push_str(&format!("\nreplay matches: trace hash {:016x} (the recorded run reproduced exactly)", r.hash));
    } else {
        text.push_str(&format!(
            "\nDETERMINISM BREAK: {} seed {} gave trace hash {:016x}; the recording says {:016x}.\n\
             \x20 The same file and seed no longer produce the recorded run: the scenario file, the models or the\n\
             \x20 kernel changed since the recording, or something in a run is nondeterministic.\n\
             \x20 Run this binary twice (different hashes mean nondeterminism), or `{} --check-determinism`,\n\
             \x20 and compare the `--trace` output of the recording's binary with this one.",
            args.file.display(),
            args.seed,
            r.hash,
            r.expected,
            crate::sweep::repro_command(&args.file.display().to_string(), args.seed),
        ));
    }
    if let Err(e) = crate::output::stdout_line(&text) {
        note!("error: cannot write to stdout: {e}");
        return ExitCode::from(2);
    }
    if matches {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_DIVERGED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::run::run;

    #[test]
    fn hashes_parse_as_printed() {
        assert_eq!(parse_hash("7bd000216d6c14c4").unwrap(), 0x7bd0_0021_6d6c_14c4);
        assert_eq!(parse_hash("0x00FF").unwrap(), 255);
        assert_eq!(parse_hash(&format!("{:016x}", 42u64)).unwrap(), 42);
        for bad in ["", "0x", "xyz", "12345678901234567", "-1"] {
            assert!(parse_hash(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_recorded_run_replays_with_its_hash_and_a_full_trace_changes_nothing() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/planted-expire-without-dsn.toml");
        let s = Scenario::load(&path).expect("valid");
        let recorded = run(&s, 4);
        assert!(!recorded.passed(), "a failing run is what gets recorded");
        let hash = parse_hash(&recorded.figures.trace_hash).expect("printed as hex");
        let r = replay(&s, 4, hash, true);
        assert!(r.matches(), "{:016x} vs {hash:016x}", r.hash);
        let trace = r.chrome_trace.expect("asked for");
        assert!(trace.starts_with('{') && trace.contains("traceEvents"), "{}", &trace[..trace.len().min(200)]);
        let other = replay(&s, 5, hash, false);
        assert!(!other.matches() && other.chrome_trace.is_none(), "another seed is another run");
    }
}
