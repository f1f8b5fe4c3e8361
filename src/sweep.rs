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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io::{IsTerminal, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, OnceLock};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::ScenarioError;
use crate::run::{run, RunResult};
use crate::scenario::Scenario;
use crate::units::{HumanDuration, Share};

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
}

/// Two records of one (scenario, file hash, seed) with different trace hashes.
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

// ---------------------------------------------------------------------------
// Seeds and shards

/// Parses a seed range: `A..B` (B excluded), `A..=B`, or `N` for `0..N`.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    let t = text.trim();
    let num = |s: &str| s.trim().parse::<u64>().map_err(|_| format!("`{text}` is not a seed range: expected `A..B`, `A..=B` or `N`"));
    let range = if let Some((a, z)) = t.split_once("..=") {
        let z = num(z)?;
        num(a)?..z.checked_add(1).ok_or_else(|| format!("`{text}`: the range end is too large"))?
    } else if let Some((a, z)) = t.split_once("..") {
        num(a)?..num(z)?
    } else {
        0..num(t)?
    };
    if range.is_empty() {
        return Err(format!("`{text}` is an empty seed range"));
    }
    Ok(range)
}

/// One of N disjoint parts of a sweep: the seeds with `seed % count == index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn contains(&self, seed: u64) -> bool {
        seed % self.count == self.index
    }

    /// The first seed of `range` in this shard (maybe past its end).
    pub fn first(&self, range: &Range<u64>) -> u64 {
        range.start.saturating_add((self.index + self.count - range.start % self.count) % self.count)
    }

    /// How many seeds of `range` are in this shard.
    pub fn count_in(&self, range: &Range<u64>) -> u64 {
        let first = self.first(range);
        if first >= range.end {
            0
        } else {
            (range.end - first - 1) / self.count + 1
        }
    }

    /// The seeds of `range` in this shard.
    pub fn seeds(&self, range: Range<u64>) -> impl Iterator<Item = u64> + Clone {
        let step = usize::try_from(self.count).unwrap_or(usize::MAX);
        (self.first(&range)..range.end).step_by(step)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not a shard: expected `K/N` with 0 <= K < N, e.g. `2/8`");
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Environment variable of a CI matrix job: `K/N`.
pub const ENV_SHARD: &str = "MAILSIM_SHARD";
/// Environment variable with the shard count N for `JOB_COMPLETION_INDEX`.
pub const ENV_SHARDS: &str = "MAILSIM_SHARDS";
/// Set by Kubernetes in each pod of an indexed Job: the pod's index K.
pub const ENV_JOB_INDEX: &str = "JOB_COMPLETION_INDEX";

/// Which shard to run: `--shard K/N` if given; else `MAILSIM_SHARD=K/N`; else
/// Kubernetes' `JOB_COMPLETION_INDEX` with N from `--shards N` or
/// `MAILSIM_SHARDS`; else the whole sweep. `env` looks a variable up (pass
/// `|k| std::env::var(k).ok()`).
pub fn resolve_shard(cli: Option<Shard>, shards: Option<u64>, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    if let Some(s) = cli {
        if shards.is_some_and(|n| n != s.count) {
            return Err(format!("--shard {s} disagrees with --shards {}", shards.unwrap_or(0)));
        }
        return Ok(s);
    }
    if let Some(v) = env(ENV_SHARD).filter(|v| !v.trim().is_empty()) {
        return v.parse().map_err(|e| format!("{ENV_SHARD}: {e}"));
    }
    if let Some(k) = env(ENV_JOB_INDEX).filter(|v| !v.trim().is_empty()) {
        let index: u64 = k.trim().parse().map_err(|_| format!("{ENV_JOB_INDEX}=`{k}` is not a number"))?;
        let count = match shards {
            Some(n) => n,
            None => {
                let n = env(ENV_SHARDS)
                    .ok_or_else(|| format!("{ENV_JOB_INDEX} is set but the shard count is not: pass --shards N or set {ENV_SHARDS}"))?;
                n.trim().parse().map_err(|_| format!("{ENV_SHARDS}=`{n}` is not a number"))?
            }
        };
        return format!("{index}/{count}").parse().map_err(|e| format!("{ENV_JOB_INDEX} with {count} shards: {e}"));
    }
    if let Some(n) = shards {
        return Err(format!("--shards {n} needs --shard K/N, {ENV_SHARD} or {ENV_JOB_INDEX} to say which shard this is"));
    }
    Ok(Shard::ALL)
}

// ---------------------------------------------------------------------------
// Records

/// One finished run, as stored (one JSON line).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub scenario: String,
    /// The scenario file as given to the sweep (for the repro command).
    pub file: String,
    /// [`scenario_hash`] of the file and its `extends` chain.
    pub file_hash: String,
    pub seed: u64,
    /// ok, safety, liveness, panic or budget.
    pub outcome: String,
    /// Every expectation met.
    pub passed: bool,
    /// Names of the expectations not met.
    #[serde(default)]
    pub failed: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub violation: Option<String>,
    /// Fault kinds injected in this run (scheduled and random), as the kernel
    /// names them (a `partition` process injects `isolate` faults).
    #[serde(default)]
    pub faults: Vec<FaultFlags>,
    /// Random fault processes enabled in this run (swarm mode enables a
    /// subset per seed), with how often each fired.
    #[serde(default)]
    pub processes: Vec<ProcessFlags>,
    pub trace_hash: String,
    pub events: u64,
    pub lost: u64,
    pub delivered: u64,
    pub duplicates: u64,
    pub client_duplicates: u64,
    /// DSNs returned to authors.
    pub returned: u64,
    /// Mails the sending MTAs bounced.
    pub sender_bounced: u64,
    pub peak_unavailable_ppm: u32,
    pub restored_us: Option<u64>,
    pub delay_s_max: u64,
}

/// What one fault kind did in one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FaultFlags {
    pub kind: String,
    /// Occurrences injected (scheduled and random).
    pub fired: u32,
    /// Occurrences that changed something observable.
    pub effect: u32,
}

/// One random fault process enabled in one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessFlags {
    pub kind: String,
    pub fired: u32,
}

impl Record {
    /// The dedupe key: (scenario, file hash, seed).
    pub fn key(&self) -> Key {
        (self.scenario.clone(), self.file_hash.clone(), self.seed)
    }
    /// The command that reproduces this run exactly.
    pub fn repro(&self) -> String {
        repro_command(&self.file, self.seed)
    }
    /// Kinds of the faults injected in this run.
    pub fn fired_kinds(&self) -> impl Iterator<Item = &str> {
        self.faults.iter().filter(|f| f.fired > 0).map(|f| f.kind.as_str())
    }
}

/// (scenario, file hash, seed).
pub type Key = (String, String, u64);

/// `mailsim run FILE --seed N`, the file name quoted for a POSIX shell if needed.
pub fn repro_command(file: &str, seed: u64) -> String {
    let plain = !file.is_empty() && file.chars().all(|c| c.is_ascii_alphanumeric() || "_./-+=:,@%".contains(c));
    let file = if plain { file.to_string() } else { format!("'{}'", file.replace('\'', r"'\''")) };
    format!("mailsim run {file} --seed {seed}")
}

/// The record of one run.
pub fn record(file: &str, file_hash: &str, r: &RunResult) -> Record {
    let f = &r.figures;
    let mut kinds: BTreeMap<&str, FaultFlags> = BTreeMap::new();
    for fault in &r.report.faults {
        let e = kinds.entry(&fault.kind).or_insert_with(|| FaultFlags { kind: fault.kind.clone(), fired: 0, effect: 0 });
        e.fired += 1;
        e.effect += u32::from(fault.effect);
    }
    Record {
        scenario: r.scenario.clone(),
        file: file.to_string(),
        file_hash: file_hash.to_string(),
        seed: f.seed,
        outcome: r.report.outcome.class().to_string(),
        passed: r.passed(),
        failed: r.verdicts.iter().filter(|v| !v.met).map(|v| v.name.clone()).collect(),
        violation: f.violation.clone(),
        faults: kinds.into_values().collect(),
        processes: r.report.processes.iter().filter(|p| p.enabled).map(|p| ProcessFlags { kind: p.kind.clone(), fired: p.fired }).collect(),
        trace_hash: f.trace_hash.clone(),
        events: f.events,
        lost: f.lost,
        delivered: f.delivered,
        duplicates: f.duplicates,
        client_duplicates: f.client_duplicates,
        returned: f.returned,
        sender_bounced: f.sender_bounced,
        peak_unavailable_ppm: f.peak_unavailable_ppm,
        restored_us: f.restored_us,
        delay_s_max: f.delay_s_max,
    }
}

/// A stable 64-bit hash (FNV-1a) of a scenario file's content and of every
/// file in its `extends` chain, so that editing the file or a file it extends
/// keeps old results apart. Stable across processes, machines and Rust
/// versions (unlike `DefaultHasher`).
pub fn scenario_hash(path: &Path) -> Result<String, SweepError> {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    let mut next = Some(path.to_path_buf());
    let mut seen = Vec::new();
    while let Some(p) = next.take() {
        if seen.contains(&p) {
            break; // a loop; `Scenario::load` reports it
        }
        let bytes = std::fs::read(&p).map_err(io_err(&p))?;
        eat(&(bytes.len() as u64).to_le_bytes());
        eat(&bytes);
        let base = std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| toml::from_str::<toml::Table>(t).ok())
            .and_then(|t| t.get("extends").and_then(|e| e.as_str()).map(str::to_string));
        next = base.map(|b| p.parent().unwrap_or(Path::new(".")).join(b));
        seen.push(p);
    }
    Ok(format!("{h:016x}"))
}

// ---------------------------------------------------------------------------
// Manifest

/// What a sweep was asked to run for one scenario version (one per sweep
/// invocation and scenario; kept in `sweep.json`). Merge uses it to name the
/// expectations and to find seeds that never ran (a shard that died).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ManifestEntry {
    pub scenario: String,
    pub file_hash: String,
    pub file: String,
    pub seeds_start: u64,
    pub seeds_end: u64,
    pub shard: Shard,
    pub expectations: Vec<String>,
}

impl ManifestEntry {
    fn covers(&self, seed: u64) -> bool {
        (self.seeds_start..self.seeds_end).contains(&seed) && self.shard.contains(seed)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    entries: Vec<ManifestEntry>,
}

fn read_manifest(dir: &Path) -> Result<Vec<ManifestEntry>, SweepError> {
    let path = dir.join(MANIFEST_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let m: Manifest = serde_json::from_str(&text).map_err(|e| SweepError::Corrupt { path, message: e.to_string() })?;
            Ok(m.entries)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(SweepError::Io { path, source: e }),
    }
}

/// Sorts entries and folds those that differ only in their expectation names.
fn dedupe_manifest(mut entries: Vec<ManifestEntry>) -> Vec<ManifestEntry> {
    entries.sort();
    let mut out: Vec<ManifestEntry> = Vec::with_capacity(entries.len());
    for e in entries {
        match out.last_mut() {
            Some(last)
                if (&last.scenario, &last.file_hash, &last.file, last.seeds_start, last.seeds_end, last.shard)
                    == (&e.scenario, &e.file_hash, &e.file, e.seeds_start, e.seeds_end, e.shard) =>
            {
                for x in e.expectations {
                    if !last.expectations.contains(&x) {
                        last.expectations.push(x);
                    }
                }
            }
            _ => out.push(e),
        }
    }
    out
}

fn write_manifest(dir: &Path, entries: Vec<ManifestEntry>) -> Result<(), SweepError> {
    let entries = dedupe_manifest(entries);
    let text = serde_json::to_string_pretty(&Manifest { version: 1, entries }).expect("a manifest serializes");
    let path = dir.join(MANIFEST_FILE);
    write_atomic(&path, text.as_bytes()).map_err(io_err(&path))
}

// ---------------------------------------------------------------------------
// Files

/// Writes `bytes` to `path` so that `path` is either the old file or the whole
/// new one, whenever the process dies: write a temporary file beside it, sync,
/// rename, sync the directory.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("out");
    let tmp = path.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        // Makes the rename durable on Linux; not all platforms can open a directory.
        let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

fn jsonl(records: &[&Record]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 512);
    for r in records {
        serde_json::to_writer(&mut out, r).expect("a record serializes");
        out.push(b'\n');
    }
    out
}

/// Record files (`*.jsonl`) and leftover temporaries (`*.tmp`) in a directory.
fn dir_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), SweepError> {
    let mut records = Vec::new();
    let mut temps = Vec::new();
    for e in std::fs::read_dir(dir).map_err(io_err(dir))? {
        let p = e.map_err(io_err(dir))?.path();
        let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if name.ends_with(".tmp") {
            temps.push(p);
        } else if name.ends_with(".jsonl") && !name.starts_with('.') {
            records.push(p);
        }
    }
    records.sort();
    temps.sort();
    Ok((records, temps))
}

// ---------------------------------------------------------------------------
// Loading and merging

/// Records of one or more result directories, deduplicated.
#[derive(Clone, Debug, Default)]
pub struct Results {
    /// One record per (scenario, file hash, seed), in key order.
    pub records: BTreeMap<Key, Record>,
    /// Where each record was read from (for conflict messages).
    sources: BTreeMap<Key, PathBuf>,
    /// The manifests' entries, deduplicated.
    pub manifest: Vec<ManifestEntry>,
    /// Lines that could not be read, and the like.
    pub warnings: Vec<String>,
}

impl Results {
    /// Adds a record; an identical duplicate is ignored, a duplicate with
    /// another trace hash is [`SweepError::Conflict`].
    pub fn add(&mut self, r: Record, source: &Path) -> Result<(), SweepError> {
        let key = r.key();
        if let Some(old) = self.records.get(&key) {
            if old.trace_hash != r.trace_hash {
                return Err(SweepError::Conflict(Box::new(Conflict {
                    scenario: r.scenario.clone(),
                    file_hash: r.file_hash.clone(),
                    seed: r.seed,
                    first: old.trace_hash.clone(),
                    first_path: self.sources.get(&key).cloned().unwrap_or_default(),
                    second: r.trace_hash.clone(),
                    second_path: source.to_path_buf(),
                    repro: r.repro(),
                })));
            }
            return Ok(());
        }
        self.sources.insert(key.clone(), source.to_path_buf());
        self.records.insert(key, r);
        Ok(())
    }

    /// Reads a result directory into these results.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), SweepError> {
        if !dir.is_dir() {
            return Err(SweepError::Usage(format!("{} is not a directory of sweep results", dir.display())));
        }
        self.manifest.extend(read_manifest(dir)?);
        self.manifest = dedupe_manifest(std::mem::take(&mut self.manifest));
        let (files, _) = dir_files(dir)?;
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Record>(line) {
                    Ok(r) => self.add(r, &path)?,
                    // A whole file is renamed into place, so this is damage
                    // from outside; the run is missing and a resume reruns it.
                    Err(e) => self.warnings.push(format!("{}:{}: unreadable record skipped ({e})", path.display(), i + 1)),
                }
            }
        }
        Ok(())
    }

    /// Writes these results as one result directory (`runs.jsonl` and
    /// `sweep.json`), replacing the record files there.
    pub fn write_dir(&self, dir: &Path) -> Result<(), SweepError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let (old, _) = dir_files(dir)?;
        let all: Vec<&Record> = self.records.values().collect();
        let path = dir.join(RUNS_FILE);
        write_atomic(&path, &jsonl(&all)).map_err(io_err(&path))?;
        for p in old.iter().filter(|p| **p != path) {
            std::fs::remove_file(p).map_err(io_err(p))?;
        }
        write_manifest(dir, self.manifest.clone())
    }
}

/// Loads and merges result directories; conflicting duplicates are an error.
pub fn merge_dirs(dirs: &[PathBuf]) -> Result<Results, SweepError> {
    let mut res = Results::default();
    for d in dirs {
        res.load_dir(d)?;
    }
    Ok(res)
}

// ---------------------------------------------------------------------------
// Summary

/// A share k/n with a 95% interval. With k = 0 the upper bound is the rule of
/// three, 3/n (Hanley & Lippman-Hand 1983), instead of a misleading "0%";
/// otherwise the Wilson score interval.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Rate {
    pub k: u64,
    pub n: u64,
    pub share: f64,
    pub low95: f64,
    pub high95: f64,
}

impl Rate {
    pub fn new(k: u64, n: u64) -> Rate {
        if n == 0 {
            return Rate { k, n, share: 0.0, low95: 0.0, high95: 1.0 };
        }
        let (kf, nf) = (k as f64, n as f64);
        let p = kf / nf;
        if k == 0 {
            return Rate { k, n, share: 0.0, low95: 0.0, high95: (3.0 / nf).min(1.0) };
        }
        let z = 1.959_964_f64;
        let z2 = z * z;
        let centre = (p + z2 / (2.0 * nf)) / (1.0 + z2 / nf);
        let half = z / (1.0 + z2 / nf) * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt();
        Rate { k, n, share: p, low95: (centre - half).max(0.0), high95: (centre + half).min(1.0) }
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.n == 0 {
            write!(f, "no runs")
        } else if self.k == 0 {
            write!(f, "0 of {} (95% upper bound ≈ 3/n = {})", self.n, pct(self.high95))
        } else {
            write!(f, "{} of {} = {} (95% CI {}–{})", self.k, self.n, pct(self.share), pct(self.low95), pct(self.high95))
        }
    }
}

/// A share as a percentage with the digits that matter (0.003%, 1.25%, 42.0%).
fn pct(share: f64) -> String {
    let p = share * 100.0;
    if p <= 0.0 {
        "0%".to_string()
    } else if p >= 10.0 {
        format!("{p:.1}%")
    } else {
        // Three significant digits, no exponent.
        let digits = (2 - p.log10().floor() as i32).max(0) as usize;
        format!("{p:.digits$}%")
    }
}

/// How often one fault kind fired, and in how many failed runs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct KindShare {
    pub kind: String,
    /// Runs in which it was injected at least once.
    pub runs_fired: u64,
    pub share_fired: f64,
    /// Runs in which an occurrence changed something observable.
    pub runs_effect: u64,
    /// Failed runs in which it was injected.
    pub failed_runs: u64,
}

/// Totals and extremes of the key figures over the runs.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct FigureSummary {
    pub lost_total: u64,
    pub lost_max: u64,
    pub delivered_total: u64,
    pub duplicates_total: u64,
    pub client_duplicates_total: u64,
    /// DSNs returned plus mails bounced by sending MTAs.
    pub bounces_total: u64,
    pub peak_unavailable_ppm_max: u32,
    /// Latest restoration among the runs that had one.
    pub restored_us_max: Option<u64>,
    pub delay_s_max: u64,
}

/// One failed run and how to reproduce it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Failure {
    pub seed: u64,
    pub outcome: String,
    pub failed: Vec<String>,
    pub fault_kinds: Vec<String>,
    pub violation: Option<String>,
    pub repro: String,
}

/// The summary of one scenario version.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScenarioSummary {
    pub scenario: String,
    pub file: String,
    pub file_hash: String,
    pub runs: u64,
    pub failed: u64,
    pub failure_rate: Rate,
    /// Failed runs by outcome class (`ok`: the run ended normally but an
    /// expectation was not met).
    pub by_outcome: BTreeMap<String, u64>,
    /// Failed runs by expectation not met.
    pub by_expectation: BTreeMap<String, u64>,
    /// Failed runs by fault kind injected in them.
    pub by_fault_kind: BTreeMap<String, u64>,
    /// Every fault kind seen, with the share of runs it fired in.
    pub fault_kinds: Vec<KindShare>,
    /// Every random fault process seen, with the share of runs that enabled
    /// it (`runs_fired`/`share_fired`: enabled; `runs_effect`: fired at least
    /// once; `failed_runs`: failed runs that enabled it).
    pub processes: Vec<KindShare>,
    pub figures: FigureSummary,
    /// The expectations checked (from the manifest and the failures).
    pub expectations: Vec<String>,
    /// Seeds the manifests asked for that have no record (None: no manifest).
    pub missing: Option<u64>,
    /// The first few missing seeds.
    pub missing_seeds: Vec<u64>,
    /// Every failed run, in seed order.
    pub failures: Vec<Failure>,
}

/// The summary of a sweep or a merge.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Summary {
    pub runs: u64,
    pub failed: u64,
    pub scenarios: Vec<ScenarioSummary>,
    pub warnings: Vec<String>,
}

impl Summary {
    /// Every run passed and no seed is missing.
    pub fn ok(&self) -> bool {
        self.failed == 0 && self.scenarios.iter().all(|s| s.missing.unwrap_or(0) == 0)
    }
}

/// Above this many seeds in the manifests' span, missing seeds are not counted.
const MISSING_SPAN_MAX: u64 = 100_000_000;

/// Summarizes records, per (scenario, file hash), in key order. `manifest`
/// entries name the expectations and the seeds that should be there.
pub fn summarize<'a>(records: impl IntoIterator<Item = &'a Record>, manifest: &[ManifestEntry], warnings: &[String]) -> Summary {
    let mut groups: BTreeMap<(String, String), Vec<&Record>> = BTreeMap::new();
    for r in records {
        groups.entry((r.scenario.clone(), r.file_hash.clone())).or_default().push(r);
    }
    for m in manifest {
        groups.entry((m.scenario.clone(), m.file_hash.clone())).or_default();
    }
    let mut warnings = warnings.to_vec();
    let mut versions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, hash) in groups.keys() {
        versions.entry(name).or_default().push(hash);
    }
    for (name, hashes) in &versions {
        if hashes.len() > 1 {
            warnings.push(format!(
                "scenario `{name}` has results for {} versions of its file (hashes {}); each is summarized on its own",
                hashes.len(),
                hashes.join(", ")
            ));
        }
    }
    let scenarios: Vec<ScenarioSummary> = groups
        .iter()
        .map(|((name, hash), rs)| {
            let entries: Vec<&ManifestEntry> = manifest.iter().filter(|m| &m.scenario == name && &m.file_hash == hash).collect();
            summarize_one(name, hash, rs, &entries)
        })
        .collect();
    Summary { runs: scenarios.iter().map(|s| s.runs).sum(), failed: scenarios.iter().map(|s| s.failed).sum(), scenarios, warnings }
}

fn summarize_one(name: &str, hash: &str, rs: &[&Record], entries: &[&ManifestEntry]) -> ScenarioSummary {
    let n = rs.len() as u64;
    let failed: Vec<&&Record> = rs.iter().filter(|r| !r.passed).collect();
    let mut by_outcome = BTreeMap::new();
    let mut by_expectation = BTreeMap::new();
    let mut by_fault_kind = BTreeMap::new();
    for r in &failed {
        *by_outcome.entry(r.outcome.clone()).or_insert(0) += 1;
        for e in &r.failed {
            *by_expectation.entry(e.clone()).or_insert(0) += 1;
        }
        for k in r.fired_kinds() {
            *by_fault_kind.entry(k.to_string()).or_insert(0) += 1;
        }
    }
    let mut kinds: BTreeMap<&str, (u64, u64)> = BTreeMap::new();
    for r in rs {
        for f in &r.faults {
            let e = kinds.entry(&f.kind).or_default();
            e.0 += u64::from(f.fired > 0);
            e.1 += u64::from(f.effect > 0);
        }
    }
    let fault_kinds = kinds
        .into_iter()
        .map(|(kind, (fired, effect))| KindShare {
            kind: kind.to_string(),
            runs_fired: fired,
            share_fired: if n == 0 { 0.0 } else { fired as f64 / n as f64 },
            runs_effect: effect,
            failed_runs: by_fault_kind.get(kind).copied().unwrap_or(0),
        })
        .collect();
    let mut procs: BTreeMap<&str, (u64, u64, u64)> = BTreeMap::new();
    for r in rs {
        for p in &r.processes {
            let e = procs.entry(&p.kind).or_default();
            e.0 += 1;
            e.1 += u64::from(p.fired > 0);
            e.2 += u64::from(!r.passed);
        }
    }
    let processes = procs
        .into_iter()
        .map(|(kind, (enabled, fired, failed))| KindShare {
            kind: kind.to_string(),
            runs_fired: enabled,
            share_fired: if n == 0 { 0.0 } else { enabled as f64 / n as f64 },
            runs_effect: fired,
            failed_runs: failed,
        })
        .collect();
    let mut figures = FigureSummary::default();
    for r in rs {
        figures.lost_total += r.lost;
        figures.lost_max = figures.lost_max.max(r.lost);
        figures.delivered_total += r.delivered;
        figures.duplicates_total += r.duplicates;
        figures.client_duplicates_total += r.client_duplicates;
        figures.bounces_total += r.returned + r.sender_bounced;
        figures.peak_unavailable_ppm_max = figures.peak_unavailable_ppm_max.max(r.peak_unavailable_ppm);
        figures.restored_us_max = figures.restored_us_max.max(r.restored_us);
        figures.delay_s_max = figures.delay_s_max.max(r.delay_s_max);
    }
    let mut expectations: Vec<String> = Vec::new();
    for e in entries.iter().flat_map(|m| &m.expectations).chain(failed.iter().flat_map(|r| &r.failed)) {
        if !expectations.contains(e) {
            expectations.push(e.clone());
        }
    }
    let (missing, missing_seeds) = missing_seeds(rs, entries);
    let file = rs.first().map(|r| r.file.clone()).or_else(|| entries.first().map(|m| m.file.clone())).unwrap_or_default();
    ScenarioSummary {
        scenario: name.to_string(),
        file,
        file_hash: hash.to_string(),
        runs: n,
        failed: failed.len() as u64,
        failure_rate: Rate::new(failed.len() as u64, n),
        by_outcome,
        by_expectation,
        by_fault_kind,
        fault_kinds,
        processes,
        figures,
        expectations,
        missing,
        missing_seeds,
        failures: failed
            .iter()
            .map(|r| Failure {
                seed: r.seed,
                outcome: r.outcome.clone(),
                failed: r.failed.clone(),
                fault_kinds: r.fired_kinds().map(str::to_string).collect(),
                violation: r.violation.clone(),
                repro: r.repro(),
            })
            .collect(),
    }
}

fn missing_seeds(rs: &[&Record], entries: &[&ManifestEntry]) -> (Option<u64>, Vec<u64>) {
    if entries.is_empty() {
        return (None, Vec::new());
    }
    let start = entries.iter().map(|m| m.seeds_start).min().unwrap_or(0);
    let end = entries.iter().map(|m| m.seeds_end).max().unwrap_or(0);
    if end.saturating_sub(start) > MISSING_SPAN_MAX {
        return (None, Vec::new());
    }
    let have: BTreeSet<u64> = rs.iter().map(|r| r.seed).collect();
    let mut count = 0;
    let mut first = Vec::new();
    for seed in start..end {
        if entries.iter().any(|m| m.covers(seed)) && !have.contains(&seed) {
            count += 1;
            if first.len() < 10 {
                first.push(seed);
            }
        }
    }
    (Some(count), first)
}

/// The human summary (for stderr).
pub fn render_summary(s: &Summary) -> String {
    use fmt::Write as _;
    let mut o = String::new();
    for sc in &s.scenarios {
        let _ = writeln!(o, "{} ({}, file hash {})", sc.scenario, sc.file, sc.file_hash);
        let _ = writeln!(o, "  runs {}  failed {}", sc.runs, sc.failure_rate);
        let list = |m: &BTreeMap<String, u64>| m.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ");
        if sc.failed > 0 {
            let by_outcome: BTreeMap<String, u64> = sc
                .by_outcome
                .iter()
                .map(|(k, v)| (if k == "ok" { "ok (expectations missed)".to_string() } else { k.clone() }, *v))
                .collect();
            let _ = writeln!(o, "  failures by outcome: {}", list(&by_outcome));
            let _ = writeln!(o, "  failures by expectation: {}", list(&sc.by_expectation));
            let by_kind = if sc.by_fault_kind.is_empty() { "no fault fired".to_string() } else { list(&sc.by_fault_kind) };
            let _ = writeln!(o, "  failures by fault kind fired: {by_kind}");
        }
        if !sc.fault_kinds.is_empty() {
            let kinds: Vec<String> =
                sc.fault_kinds.iter().map(|k| format!("{} {} (effect in {} runs)", k.kind, pct(k.share_fired), k.runs_effect)).collect();
            let _ = writeln!(o, "  fault kinds fired in: {}", kinds.join(", "));
        }
        if !sc.processes.is_empty() {
            let procs: Vec<String> =
                sc.processes.iter().map(|k| format!("{} {} ({} of them failed)", k.kind, pct(k.share_fired), k.failed_runs)).collect();
            let _ = writeln!(o, "  random fault processes enabled in: {}", procs.join(", "));
        }
        let f = &sc.figures;
        let _ = writeln!(
            o,
            "  lost {} (max {}/run)  delivered {}  duplicates {}+{} (client)  bounces {}  peak unavailable {}  restored {}  delay max {}",
            f.lost_total,
            f.lost_max,
            f.delivered_total,
            f.duplicates_total,
            f.client_duplicates_total,
            f.bounces_total,
            Share(f.peak_unavailable_ppm_max),
            f.restored_us_max.map_or("-".to_string(), |t| HumanDuration(t as i64).to_string()),
            HumanDuration(f.delay_s_max as i64 * 1_000_000)
        );
        if let Some(m) = sc.missing.filter(|m| *m > 0) {
            let firsts: Vec<String> = sc.missing_seeds.iter().map(u64::to_string).collect();
            let _ = writeln!(o, "  INCOMPLETE: {m} seeds asked for have no result (first: {})", firsts.join(", "));
        }
        for x in &sc.failures {
            let kinds = if x.fault_kinds.is_empty() { "none".to_string() } else { x.fault_kinds.join(",") };
            let _ = writeln!(o, "  seed {} {} [{}] faults {}: {}", x.seed, x.outcome, x.failed.join("; "), kinds, x.repro);
        }
    }
    for w in &s.warnings {
        let _ = writeln!(o, "warning: {w}");
    }
    let _ = writeln!(o, "total: {} runs, {} failed", s.runs, s.failed);
    o
}

// ---------------------------------------------------------------------------
// JUnit

/// One JUnit test case.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitCase {
    pub classname: String,
    pub name: String,
    pub time_s: Option<f64>,
    pub failure: Option<JunitFailure>,
    /// Extra output shown by CI (e.g. the failure rate).
    pub system_out: Option<String>,
}

/// Why a JUnit test case failed.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitFailure {
    /// One line (an attribute).
    pub message: String,
    /// The body: details and repro commands.
    pub text: String,
}

/// A JUnit test suite.
#[derive(Clone, Debug, PartialEq)]
pub struct JunitSuite {
    pub name: String,
    pub cases: Vec<JunitCase>,
}

impl JunitCase {
    pub fn passed(classname: impl Into<String>, name: impl Into<String>) -> JunitCase {
        JunitCase { classname: classname.into(), name: name.into(), time_s: None, failure: None, system_out: None }
    }
    pub fn failed(classname: impl Into<String>, name: impl Into<String>, message: impl Into<String>, text: impl Into<String>) -> JunitCase {
        JunitCase { failure: Some(JunitFailure { message: message.into(), text: text.into() }), ..JunitCase::passed(classname, name) }
    }
}

/// Escapes text for XML 1.0 content and attribute values; characters XML 1.0
/// cannot carry at all (most C0 controls) become U+FFFD.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

/// JUnit XML (the dialect Jenkins, GitLab and GitHub test reporters read).
pub fn junit_xml(suites: &[JunitSuite]) -> String {
    use fmt::Write as _;
    let count = |s: &JunitSuite| (s.cases.len(), s.cases.iter().filter(|c| c.failure.is_some()).count());
    let (tests, failures) = suites.iter().map(count).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    let mut o = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(o, "<testsuites name=\"mailsim\" tests=\"{tests}\" failures=\"{failures}\" errors=\"0\">");
    for s in suites {
        let (t, f) = count(s);
        let _ = writeln!(o, "  <testsuite name=\"{}\" tests=\"{t}\" failures=\"{f}\" errors=\"0\" skipped=\"0\">", xml_escape(&s.name));
        for c in &s.cases {
            let _ = write!(o, "    <testcase classname=\"{}\" name=\"{}\"", xml_escape(&c.classname), xml_escape(&c.name));
            if let Some(t) = c.time_s {
                let _ = write!(o, " time=\"{t:.3}\"");
            }
            if c.failure.is_none() && c.system_out.is_none() {
                o.push_str("/>\n");
                continue;
            }
            o.push_str(">\n");
            if let Some(fl) = &c.failure {
                let _ = writeln!(
                    o,
                    "      <failure message=\"{}\" type=\"expectation\">{}</failure>",
                    xml_escape(&fl.message),
                    xml_escape(&fl.text)
                );
            }
            if let Some(out) = &c.system_out {
                let _ = writeln!(o, "      <system-out>{}</system-out>", xml_escape(out));
            }
            o.push_str("    </testcase>\n");
        }
        o.push_str("  </testsuite>\n");
    }
    o.push_str("</testsuites>\n");
    o
}

/// Repro commands listed per JUnit failure, at most.
const JUNIT_REPROS_MAX: usize = 100;

/// The JUnit suites of a summary: one test case per scenario × expectation,
/// failing with the repro commands of the runs that missed it; plus one
/// "all seeds ran" case where seeds are missing.
pub fn summary_junit(s: &Summary) -> Vec<JunitSuite> {
    let mut cases = Vec::new();
    for sc in &s.scenarios {
        let class = format!("{} [{}]", sc.scenario, sc.file_hash);
        for e in &sc.expectations {
            let failed: Vec<&Failure> = sc.failures.iter().filter(|f| f.failed.contains(e)).collect();
            let rate = Rate::new(failed.len() as u64, sc.runs);
            if failed.is_empty() {
                let mut c = JunitCase::passed(&class, e);
                c.system_out = Some(format!("failed {rate}"));
                cases.push(c);
                continue;
            }
            let mut text: Vec<String> = failed
                .iter()
                .take(JUNIT_REPROS_MAX)
                .map(|f| format!("{}  # outcome {}; missed: {}", f.repro, f.outcome, f.failed.join("; ")))
                .collect();
            if failed.len() > JUNIT_REPROS_MAX {
                text.push(format!("… and {} more failed runs", failed.len() - JUNIT_REPROS_MAX));
            }
            cases.push(JunitCase::failed(&class, e, format!("failed {rate}; reproduce: {}", failed[0].repro), text.join("\n")));
        }
        if let Some(m) = sc.missing.filter(|m| *m > 0) {
            let firsts: Vec<String> = sc.missing_seeds.iter().map(u64::to_string).collect();
            cases.push(JunitCase::failed(
                &class,
                "all seeds ran",
                format!("{m} seeds have no result"),
                format!("first missing seeds: {}", firsts.join(", ")),
            ));
        }
    }
    vec![JunitSuite { name: "mailsim sweep".to_string(), cases }]
}

fn write_junit(path: &Path, s: &Summary) -> Result<(), SweepError> {
    write_atomic(path, junit_xml(&summary_junit(s)).as_bytes()).map_err(io_err(path))
}

// ---------------------------------------------------------------------------
// The sweep

/// What to sweep.
#[derive(Clone, Debug)]
pub struct SweepConfig {
    pub files: Vec<PathBuf>,
    /// Seeds; `None`: each scenario's `run.seeds` (0..n).
    pub seeds: Option<Range<u64>>,
    pub shard: Shard,
    pub out: PathBuf,
    /// Skip runs already recorded in `out` (else start over).
    pub resume: bool,
    /// Worker threads (one run each at a time).
    pub threads: usize,
    pub progress: bool,
    /// Write a batch after this many runs …
    pub flush_runs: usize,
    /// … or after this long, whichever comes first.
    pub flush_interval: Duration,
}

impl SweepConfig {
    pub fn new(files: Vec<PathBuf>, out: PathBuf) -> SweepConfig {
        SweepConfig {
            files,
            seeds: None,
            shard: Shard::ALL,
            out,
            resume: true,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            progress: false,
            flush_runs: 1000,
            flush_interval: Duration::from_secs(2),
        }
    }
}

/// What a sweep did.
#[derive(Clone, Debug)]
pub struct SweepOutcome {
    /// Runs made now.
    pub ran: u64,
    /// Runs skipped because they were recorded already.
    pub skipped: u64,
    pub elapsed: Duration,
    pub threads: usize,
    /// The summary of every requested run (recorded before or now).
    pub summary: Summary,
}

/// Whether to draw a progress bar: stderr is a terminal and `CI` is unset.
pub fn progress_wanted() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("CI").is_none()
}

struct Loaded {
    scenario: Scenario,
    file: String,
    hash: String,
    seeds: Range<u64>,
}

/// Writes finished runs in batches, each batch a new file renamed into place.
struct BatchWriter<'a> {
    dir: &'a Path,
    stamp: String,
    batches: u64,
    pending: Vec<Record>,
    since: Instant,
}

impl BatchWriter<'_> {
    fn flush(&mut self) -> Result<(), SweepError> {
        self.since = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        self.batches += 1;
        let path = self.dir.join(format!("runs-{}-{:06}.jsonl", self.stamp, self.batches));
        let refs: Vec<&Record> = self.pending.iter().collect();
        write_atomic(&path, &jsonl(&refs)).map_err(io_err(&path))?;
        self.pending.clear();
        Ok(())
    }
}

/// Runs a sweep: loads the scenarios, skips the runs `out` has (when
/// resuming), runs the rest on `threads` threads, writes them in atomic
/// batches, compacts the directory and summarizes the requested runs.
pub fn sweep(cfg: &SweepConfig) -> Result<SweepOutcome, SweepError> {
    let started = Instant::now();
    if cfg.files.is_empty() {
        return Err(SweepError::Usage("no scenario files given".into()));
    }
    let mut scenarios: Vec<Loaded> = Vec::new();
    for path in &cfg.files {
        let scenario = Scenario::load(path)?;
        let hash = scenario_hash(path)?;
        if let Some(other) = scenarios.iter().find(|l| l.scenario.name() == scenario.name()) {
            if other.hash == hash {
                continue;
            }
            return Err(SweepError::Usage(format!(
                "{} and {} both declare scenario `{}` with different contents; rename one",
                other.file,
                path.display(),
                scenario.name()
            )));
        }
        let seeds = cfg.seeds.clone().unwrap_or(0..u64::from(scenario.file.run.seeds));
        scenarios.push(Loaded { file: path.display().to_string(), hash, seeds, scenario });
    }

    let dir = cfg.out.as_path();
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let (files, temps) = dir_files(dir)?;
    for t in &temps {
        // A batch a killed sweep had not renamed yet: its runs are rerun.
        std::fs::remove_file(t).map_err(io_err(t))?;
    }
    if !cfg.resume {
        for f in &files {
            std::fs::remove_file(f).map_err(io_err(f))?;
        }
        let m = dir.join(MANIFEST_FILE);
        if m.exists() {
            std::fs::remove_file(&m).map_err(io_err(&m))?;
        }
    }
    let mut results = Results::default();
    results.load_dir(dir)?;

    // Written before any run, so a merge sees the seeds a killed shard never
    // reached; the expectation names are added from the first run's verdicts.
    let mut mine: Vec<ManifestEntry> = scenarios
        .iter()
        .map(|l| ManifestEntry {
            scenario: l.scenario.name().to_string(),
            file_hash: l.hash.clone(),
            file: l.file.clone(),
            seeds_start: l.seeds.start,
            seeds_end: l.seeds.end,
            shard: cfg.shard,
            expectations: Vec::new(),
        })
        .collect();
    results.manifest.extend(mine.iter().cloned());
    results.manifest = dedupe_manifest(std::mem::take(&mut results.manifest));
    write_manifest(dir, results.manifest.clone())?;

    for l in &scenarios {
        let stale = results.records.values().filter(|r| r.scenario == l.scenario.name() && r.file_hash != l.hash).count();
        if stale > 0 {
            results.warnings.push(format!(
                "{}: {stale} recorded runs of scenario `{}` come from another version of its file; they are kept apart and not counted",
                dir.display(),
                l.scenario.name()
            ));
        }
    }

    // Job j is seed number j / S of the shard for scenario j % S: scenarios
    // interleave, so a partial sweep covers all of them, and no job list is
    // built (a range of 10^9 seeds costs nothing until it runs).
    let seeds_min = scenarios.iter().map(|l| l.seeds.start).min().unwrap_or(0);
    let seeds_max = scenarios.iter().map(|l| l.seeds.end).max().unwrap_or(0);
    let first_seed = cfg.shard.first(&(seeds_min..seeds_max));
    let jobs_total = cfg.shard.count_in(&(seeds_min..seeds_max)).saturating_mul(scenarios.len() as u64);
    let done: BTreeSet<(usize, u64)> = scenarios
        .iter()
        .enumerate()
        .flat_map(|(i, l)| {
            results
                .records
                .values()
                .filter(move |r| r.scenario == l.scenario.name() && r.file_hash == l.hash && l.seeds.contains(&r.seed))
                .filter(|r| cfg.shard.contains(r.seed))
                .map(move |r| (i, r.seed))
        })
        .collect();
    let skipped = done.len() as u64;
    let wanted_total: u64 = scenarios.iter().map(|l| cfg.shard.count_in(&l.seeds)).sum();
    let to_run = wanted_total - skipped;
    let job = |j: u64| -> Option<(usize, u64)> {
        let n = scenarios.len() as u64;
        let i = (j % n) as usize;
        let seed = first_seed.checked_add((j / n).checked_mul(cfg.shard.count)?)?;
        (scenarios[i].seeds.contains(&seed) && !done.contains(&(i, seed))).then_some((i, seed))
    };

    let threads = usize::try_from(to_run).unwrap_or(usize::MAX).clamp(1, cfg.threads.max(1));
    let bar = if cfg.progress {
        let pb = indicatif::ProgressBar::new(to_run);
        pb.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} runs, {msg}, eta {eta}")
                .expect("a valid template")
                .progress_chars("=> "),
        );
        pb
    } else {
        indicatif::ProgressBar::hidden()
    };
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let names: Vec<OnceLock<Vec<String>>> = scenarios.iter().map(|_| OnceLock::new()).collect();
    let stamp = format!(
        "{}-{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis()),
        std::process::id()
    );
    let mut writer = BatchWriter { dir, stamp, batches: 0, pending: Vec::new(), since: Instant::now() };
    let mut new_records: Vec<Record> = Vec::new();
    let (tx, rx) = mpsc::channel::<Record>();
    let runs_started = Instant::now();
    let written: Result<(), SweepError> = std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (job, next, stop, scenarios, names) = (&job, &next, &stop, &scenarios, &names);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let j = next.fetch_add(1, Ordering::Relaxed);
                    if j >= jobs_total {
                        break;
                    }
                    let Some((i, seed)) = job(j) else { continue };
                    let l = &scenarios[i];
                    let r = run(&l.scenario, seed);
                    names[i].get_or_init(|| r.verdicts.iter().map(|v| v.name.clone()).collect());
                    if tx.send(record(&l.file, &l.hash, &r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut failed = 0u64;
        let mut last_log = Instant::now();
        let result = loop {
            let wait = cfg.flush_interval.saturating_sub(writer.since.elapsed());
            match rx.recv_timeout(wait) {
                Ok(rec) => {
                    failed += u64::from(!rec.passed);
                    bar.inc(1);
                    if !bar.is_hidden() {
                        let rate = bar.position() as f64 / runs_started.elapsed().as_secs_f64().max(1e-9);
                        bar.set_message(format!("{failed} failed, {rate:.1} runs/s"));
                    }
                    writer.pending.push(rec.clone());
                    new_records.push(rec);
                    if writer.pending.len() >= cfg.flush_runs.max(1) {
                        if let Err(e) = writer.flush() {
                            break Err(e);
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if let Err(e) = writer.flush() {
                        break Err(e);
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break writer.flush(),
            }
            if bar.is_hidden() && last_log.elapsed() >= Duration::from_secs(60) {
                last_log = Instant::now();
                let done = new_records.len();
                let rate = done as f64 / runs_started.elapsed().as_secs_f64().max(1e-9);
                eprintln!("sweep: {done}/{to_run} runs, {failed} failed, {rate:.1} runs/s");
            }
        };
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        result
    });
    bar.finish_and_clear();
    written?;

    let ran = new_records.len() as u64;
    for r in new_records {
        results.add(r, dir)?;
    }
    for (m, n) in mine.iter_mut().zip(&names) {
        let known = results.manifest.iter().filter(|x| (&x.scenario, &x.file_hash) == (&m.scenario, &m.file_hash));
        m.expectations = n.get().cloned().or_else(|| known.map(|x| x.expectations.clone()).find(|e| !e.is_empty())).unwrap_or_default();
    }
    results.manifest.extend(mine.iter().cloned());
    results.manifest = dedupe_manifest(std::mem::take(&mut results.manifest));
    results.write_dir(dir)?;

    let wanted = |r: &Record| {
        scenarios.iter().any(|l| l.scenario.name() == r.scenario && l.hash == r.file_hash && l.seeds.contains(&r.seed))
            && cfg.shard.contains(r.seed)
    };
    let summary = summarize(results.records.values().filter(|r| wanted(r)), &mine, &results.warnings);
    Ok(SweepOutcome { ran, skipped, elapsed: started.elapsed(), threads, summary })
}

// ---------------------------------------------------------------------------
// The commands

/// `mailsim sweep`: many seeds of scenarios on all cores, resumable, shardable.
#[derive(clap::Args, Clone, Debug)]
pub struct SweepArgs {
    /// Scenario files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Seeds: `A..B` (B excluded), `A..=B`, or `N` for `0..N` (default: each
    /// file's `run.seeds`).
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
    eprintln!("error: {e}");
    ExitCode::from(2)
}

fn finish(summary: &Summary, json: bool, junit: Option<&Path>) -> ExitCode {
    eprint!("{}", render_summary(summary));
    if json {
        println!("{}", serde_json::to_string_pretty(summary).expect("a summary serializes"));
    }
    if let Some(path) = junit {
        if let Err(e) = write_junit(path, summary) {
            return fail(&e);
        }
        eprintln!("JUnit report written to {}", path.display());
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
    eprintln!(
        "sweep shard {shard}: ran {} runs ({} already recorded) in {secs:.1} s on {} threads: {:.1} runs/s; results in {}",
        out.ran,
        out.skipped,
        out.threads,
        out.ran as f64 / secs,
        cfg.out.display()
    );
    finish(&out.summary, args.json, args.junit.as_deref())
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
        eprintln!("merged {} runs into {}", results.records.len(), out.display());
    }
    let summary = summarize(results.records.values(), &results.manifest, &results.warnings);
    finish(&summary, args.json, args.junit.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_failures_state_the_rule_of_three_bound() {
        let r = Rate::new(0, 100_000);
        assert_eq!(r.high95, 3e-5);
        assert_eq!(r.to_string(), "0 of 100000 (95% upper bound ≈ 3/n = 0.00300%)");
        assert_eq!(Rate::new(0, 2).high95, 1.0, "capped at 100%");
    }

    #[test]
    fn the_wilson_interval_brackets_the_share() {
        let r = Rate::new(9, 20);
        assert!((r.low95 - 0.2582).abs() < 1e-3 && (r.high95 - 0.6579).abs() < 1e-3, "{r:?}");
        let all = Rate::new(5, 5);
        assert!(all.high95 <= 1.0 && all.low95 > 0.5, "{all:?}");
    }

    #[test]
    fn percentages_keep_three_significant_digits() {
        assert_eq!(pct(0.0), "0%");
        assert_eq!(pct(0.5), "50.0%");
        assert_eq!(pct(0.0125), "1.25%");
        assert_eq!(pct(3e-5), "0.00300%");
    }

    #[test]
    fn repro_commands_quote_odd_file_names() {
        assert_eq!(repro_command("scenarios/a-b.toml", 7), "mailsim run scenarios/a-b.toml --seed 7");
        assert_eq!(repro_command("my dir/it's.toml", 1), r"mailsim run 'my dir/it'\''s.toml' --seed 1");
    }

    #[test]
    fn xml_escaping_covers_markup_and_controls() {
        assert_eq!(xml_escape("a<b>&\"'\u{0}\n"), "a&lt;b&gt;&amp;&quot;&apos;\u{fffd}\n");
    }
}
