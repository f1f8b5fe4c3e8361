//! Sweeps: many seeds of one or more scenarios on all cores, split across
//! machines, resumable after a kill; and merging the shards into one summary.
//!
//! Why: one seed of an outage replay says what *can* happen; a design review
//! wants to know how often, and CI wants every failure with the one command
//! that reproduces it (madsim prints the seed of every failure; TigerBeetle's
//! VOPR runs seeds by the million across machines). A sweep is that runner.
//!
//! # Parallelism
//!
//! Each run stays single-threaded and deterministic (`run::run`); a sweep runs
//! one seed per thread at a time, threads taking jobs from one atomic counter.
//! The main thread alone writes results. `--shard K/N` keeps the seeds with
//! `seed % N == K`, so N machines (a CI matrix, a Kubernetes indexed Job: see
//! `deploy/`) split one sweep with no coordination.
//!
//! # The result directory
//!
//! ```text
//! OUT/sweep.json               manifest: per scenario version, the seeds and
//!                              shard asked for and the expectation names
//! OUT/runs.jsonl               compacted records (written when a sweep ends)
//! OUT/runs-<ms>-<pid>-<n>.jsonl  batches written while a sweep runs
//! OUT/*.tmp                    a batch being written (ignored, removed on resume)
//! ```
//!
//! One JSON line per finished run ([`Record`]), keyed by (scenario name,
//! scenario file hash, seed). Every batch goes to a new file written to a
//! temporary name, synced and renamed into place, so a file is either whole or
//! absent: a sweep killed at any moment loses at most the batch it had not
//! renamed yet (a few seconds of runs), which a resumed sweep runs again. Files
//! are never appended to. Loading dedupes by key: identical duplicates (a kill
//! during compaction) collapse; duplicates with different trace hashes are
//! nondeterminism, an error. The file hash covers the scenario file's bytes
//! and those of every file in its `extends` chain, so results of an edited
//! scenario are kept apart and never silently counted with the new ones.
//!
//! One sweep writes to one directory at a time (compaction deletes the batch
//! files it has read).
//!
//! # What merge trusts
//!
//! Nothing it cannot check. Every record carries a checksum over its
//! contents ([`record_checksum`]); a record that does not match it was edited
//! or damaged, and merge stops (exit 2) naming file, line and seed. Two
//! records of one key must agree on everything but the file path; if they
//! differ (another trace hash: nondeterminism; the same trace hash but other
//! figures: an edit, or two mailsim versions), merge stops. Every record must
//! lie inside what its directory's manifest asked for (scenario version,
//! seed range, shard); records outside it are listed and merge stops. A
//! directory with records but no manifest cannot say what was asked, so
//! merge refuses it. The manifest of a sharded sweep records the shard count
//! N, so merge expects all N shards of the range and lists shards and seeds
//! with no result as compact ranges (exit 1).
//!
//! # Modules
//!
//! `seeds` (ranges, shards, the seed limit), `record` (one run as stored),
//! `store` (the directory: manifest, atomic files, loading, merging),
//! `summary`, `junit` (the summary's JUnit test cases; the XML writer is
//! `crate::junit`), `runner` (the sweep) and `cli` (the two commands).
//! Everything public is re-exported here, as `mailsim::sweep::*`.

use std::path::{Path, PathBuf};

use crate::error::ScenarioError;

mod cli;
mod junit;
mod record;
mod runner;
mod seeds;
mod store;
mod summary;

pub use cli::{merge_cmd, sweep_cmd, MergeArgs, SweepArgs};
pub use junit::summary_junit;
pub use record::{record, record_checksum, repro_command, scenario_hash, stable_hash, FaultFlags, Key, ProcessFlags, RateFlag, Record};
pub use runner::{progress_wanted, sweep, SweepConfig, SweepOutcome};
pub use seeds::{
    parse_seed_range, parse_seeds, resolve_shard, seeds_from_env, SeedRun, Shard, ENV_JOB_INDEX, ENV_SEED, ENV_SEEDS, ENV_SHARD,
    ENV_SHARDS, SWEEP_SEEDS_MAX,
};
pub use store::{merge_dirs, write_atomic, ManifestEntry, Results};
pub use summary::{
    mark_coverage, rate_checks, render_summary, summarize, summarize_shards, wilson95, Failure, FigureSummary, KindShare, MarkCoverage,
    Rate, RateCheck, ScenarioSummary, Summary,
};
/// Name of the compacted record file in a result directory.
pub const RUNS_FILE: &str = "runs.jsonl";
/// Name of the manifest in a result directory.
pub const MANIFEST_FILE: &str = "sweep.json";

// ---------------------------------------------------------------------------
// Errors

/// Why a sweep or a merge could not complete.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Usage(String),
    #[error("{path}: {message}")]
    Corrupt { path: PathBuf, message: String },
    /// The same (scenario, file hash, seed) ran twice with different traces.
    #[error(transparent)]
    Conflict(Box<Conflict>),
    /// The same (scenario, file hash, seed) recorded twice with one trace
    /// hash but different figures or verdicts.
    #[error(
        "conflicting records: scenario `{}` (file hash {}) seed {} has trace hash {} in {} and in {}, but different \
         results ({}); one of them was edited, or they come from mailsim versions that compute results differently. \
         Rerun `{}` to see which is right.",
        .0.scenario, .0.file_hash, .0.seed, .0.first, .0.first_path.display(), .0.second_path.display(), .0.second, .0.repro
    )]
    Disagree(Box<Conflict>),
    /// A record whose checksum does not match its contents.
    #[error(
        "{path}:{line}: the record of scenario `{scenario}` seed {seed} {problem}; it was edited or damaged after the \
         run and cannot be counted. Rerun it (`{repro}`) or the sweep, or remove the line and resume the sweep."
    )]
    Tampered { path: PathBuf, line: usize, scenario: String, seed: u64, problem: String, repro: String },
    /// Records of runs their directory's manifest did not ask for.
    #[error(
        "{dir}: {count} recorded runs lie outside what its manifest ({MANIFEST_FILE}) asked for and are not counted: {}; \
         they belong to another sweep (merge that sweep's directory instead) or were added by hand",
        outside.iter().take(20).cloned().collect::<Vec<_>>().join("; ")
    )]
    Outside { dir: PathBuf, count: usize, outside: Vec<String> },
    /// A directory with run records but no manifest.
    #[error(
        "{dir} holds {records} recorded runs but no manifest ({MANIFEST_FILE}); without it there is no telling which \
         seeds and shards were asked for, so a partial result would pass as complete. Restore {MANIFEST_FILE} from \
         the sweep that wrote the records, or rerun the sweep (`--no-resume` starts over)"
    )]
    NoManifest { dir: PathBuf, records: usize },
}

/// Two records of one (scenario, file hash, seed) that disagree. For
/// [`SweepError::Conflict`] `first` and `second` are the two trace hashes;
/// for [`SweepError::Disagree`] `first` is the shared trace hash and `second`
/// names the fields that differ.
#[derive(Debug, thiserror::Error)]
#[error(
    "nondeterminism: scenario `{scenario}` (file hash {file_hash}) seed {seed} has trace hash {first} in {} \
     but {second} in {}; the same seed must give the same run (or the shards were built from different \
     mailsim versions). Rerun `{repro}` twice and compare the trace hashes.",
    first_path.display(),
    second_path.display()
)]
pub struct Conflict {
    pub scenario: String,
    pub file_hash: String,
    pub seed: u64,
    pub first: String,
    pub first_path: PathBuf,
    pub second: String,
    pub second_path: PathBuf,
    pub repro: String,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> SweepError + '_ {
    move |source| SweepError::Io { path: path.to_path_buf(), source }
}
