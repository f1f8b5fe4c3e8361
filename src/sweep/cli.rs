//! The `mailsim sweep` and `mailsim merge` commands: arguments, output and
//! exit codes.
//!
//! Exit codes: 0 every run met its expectations and nothing is missing; 1 a
//! run failed, or seeds or shards the manifest asked for have no result; 2
//! invalid input (arguments, scenario files, a result directory without a
//! manifest, records outside it or not matching their checksums), an I/O
//! error, or conflicting records (nondeterminism).

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::junit::write_junit;
use super::runner::{progress_wanted, sweep, SweepConfig};
use super::seeds::{parse_seeds, resolve_shard, Shard};
use super::store::{dir_files, merge_dirs};
use super::summary::{render_summary, summarize, Summary};
use super::SweepError;
use crate::note;

/// `mailsim sweep`: many seeds of scenarios on all cores, resumable, shardable.
#[derive(clap::Args, Clone, Debug)]
pub struct SweepArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Seeds: `A..B` (B excluded), `A..=B`, or `N` for `0..N`; at most
    /// 100,000,000 per invocation (default: each file's `run.seeds`).
    #[arg(long, value_parser = parse_seeds)]
    pub seeds: Option<Range<u64>>,
    /// Result directory (created; one sweep writes to it at a time).
    #[arg(long)]
    pub out: PathBuf,
    /// Run only the seeds with `seed % N == K` (default: `MAILSIM_SHARD=K/N`,
    /// else `JOB_COMPLETION_INDEX` of a Kubernetes indexed Job with N from
    /// `--shards` or `MAILSIM_SHARDS`, else all seeds).
    #[arg(long, value_name = "K/N")]
    pub shard: Option<Shard>,
    /// The shard count N, with `JOB_COMPLETION_INDEX` giving K.
    #[arg(long, value_name = "N")]
    pub shards: Option<u64>,
    /// Skip runs already recorded in the result directory (the default).
    #[arg(long, overrides_with = "no_resume")]
    pub resume: bool,
    /// Start over: delete the records in the result directory first.
    #[arg(long, overrides_with = "resume")]
    pub no_resume: bool,
    /// Worker threads (default: all cores); each run is single-threaded.
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write a JUnit XML report (one test case per scenario × expectation).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

/// `mailsim merge`: combine result directories (shards) and summarize them.
#[derive(clap::Args, Clone, Debug)]
pub struct MergeArgs {
    /// Result directories written by `mailsim sweep`.
    #[arg(required = true)]
    pub dirs: Vec<PathBuf>,
    /// Also write the merged results as one result directory.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write a JUnit XML report (one test case per scenario × expectation).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

fn fail(e: &SweepError) -> ExitCode {
    note!("error: {e}");
    ExitCode::from(2)
}

fn finish(summary: &Summary, json: bool, junit: Option<&Path>, elapsed: Option<std::time::Duration>) -> ExitCode {
    if let Err(e) = crate::output::report(&render_summary(summary), json) {
        note!("error: cannot write to stdout: {e}");
        return ExitCode::from(2);
    }
    if json {
        let text = serde_json::to_string_pretty(summary).expect("a summary serializes");
        if let Err(e) = crate::output::stdout_line(&text) {
            note!("error: cannot write to stdout: {e}");
            return ExitCode::from(2);
        }
    }
    if let Some(path) = junit {
        if let Err(e) = write_junit(path, summary, elapsed) {
            return fail(&e);
        }
        note!("JUnit report written to {}", path.display());
    }
    if !summary.ok() && summary.scenarios.iter().any(|s| s.missing.unwrap_or(0) > 0) {
        note!("incomplete: seeds asked for have no result (listed above); run or resume the missing shards and merge again");
    }
    if summary.ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Runs `mailsim sweep`. Exit codes: 0 every run met its expectations; 1 a
/// run failed; 2 invalid input, an I/O error or nondeterminism.
pub fn sweep_cmd(args: &SweepArgs) -> ExitCode {
    let shard = match resolve_shard(args.shard, args.shards, |k| std::env::var(k).ok()) {
        Ok(s) => s,
        Err(e) => return fail(&SweepError::Usage(e)),
    };
    let mut cfg = SweepConfig::new(args.files.clone(), args.out.clone());
    cfg.seeds = args.seeds.clone();
    cfg.shard = shard;
    cfg.resume = !args.no_resume;
    if let Some(j) = args.jobs {
        cfg.threads = j.max(1);
    }
    cfg.progress = progress_wanted();
    let out = match sweep(&cfg) {
        Ok(o) => o,
        Err(e) => return fail(&e),
    };
    let secs = out.elapsed.as_secs_f64().max(1e-9);
    note!(
        "sweep shard {shard}: ran {} runs ({} already recorded) in {secs:.1} s on {} threads: {:.1} runs/s; results in {}",
        out.ran,
        out.skipped,
        out.threads,
        out.ran as f64 / secs,
        cfg.out.display()
    );
    finish(&out.summary, args.json, args.junit.as_deref(), Some(out.elapsed))
}

/// Runs `mailsim merge`. Exit codes: 0 every run met its expectations and no
/// seed is missing; 1 otherwise; 2 unreadable input or nondeterminism (the
/// same seed recorded with two trace hashes).
pub fn merge_cmd(args: &MergeArgs) -> ExitCode {
    let results = match merge_dirs(&args.dirs) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if let Some(out) = &args.out {
        // Never drop records the inputs did not include.
        let input = |d: &PathBuf| d.canonicalize().ok() == out.canonicalize().ok();
        if out.is_dir() && !args.dirs.iter().any(input) && dir_files(out).is_ok_and(|(f, _)| !f.is_empty()) {
            let msg = format!("{} already holds results; name it as an input too, or choose an empty directory", out.display());
            return fail(&SweepError::Usage(msg));
        }
        if let Err(e) = results.write_dir(out) {
            return fail(&e);
        }
        note!("merged {} runs into {}", results.records.len(), out.display());
    }
    let summary = summarize(results.records.values(), &results.manifest, &results.warnings);
    finish(&summary, args.json, args.junit.as_deref(), None)
}
