//! The result directory on disk: the manifest (what was asked), record files
//! written whole by temp-file + rename, and loading and merging them, with
//! the checks that keep a merge honest (checksums, conflicting duplicates,
//! records outside the manifest, a missing manifest).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::record::{Key, Record};
use super::seeds::{compact, Shard};
use super::{io_err, Conflict, SweepError, MANIFEST_FILE, RUNS_FILE};

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
    /// Whether this entry asked for `seed` (in its range and its shard).
    pub fn covers(&self, seed: u64) -> bool {
        (self.seeds_start..self.seeds_end).contains(&seed) && self.shard.contains(seed)
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Manifest {
    version: u32,
    entries: Vec<ManifestEntry>,
}

/// The manifest's entries, or `None` if the directory has no manifest.
fn read_manifest(dir: &Path) -> Result<Option<Vec<ManifestEntry>>, SweepError> {
    let path = dir.join(MANIFEST_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let m: Manifest = serde_json::from_str(&text).map_err(|e| SweepError::Corrupt { path, message: e.to_string() })?;
            Ok(Some(m.entries))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(SweepError::Io { path, source: e }),
    }
}

/// Sorts entries and folds those that differ only in their expectation names.
pub(super) fn dedupe_manifest(mut entries: Vec<ManifestEntry>) -> Vec<ManifestEntry> {
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

pub(super) fn write_manifest(dir: &Path, entries: Vec<ManifestEntry>) -> Result<(), SweepError> {
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

pub(super) fn jsonl(records: &[&Record]) -> Vec<u8> {
    let mut out = Vec::with_capacity(records.len() * 512);
    for r in records {
        serde_json::to_writer(&mut out, r).expect("a record serializes");
        out.push(b'\n');
    }
    out
}

/// Record files (`*.jsonl`) and leftover temporaries (`*.tmp`) in a directory.
pub(super) fn dir_files(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), SweepError> {
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
    /// Adds a record; a duplicate of the same run is ignored (a kill during
    /// compaction, overlapping shards), a duplicate with another trace hash is
    /// [`SweepError::Conflict`] (nondeterminism), one with the same trace hash
    /// but other results is [`SweepError::Disagree`].
    pub fn add(&mut self, r: Record, source: &Path) -> Result<(), SweepError> {
        let key = r.key();
        if let Some(old) = self.records.get(&key) {
            if old.same_run(&r) {
                return Ok(());
            }
            let first_path = self.sources.get(&key).cloned().unwrap_or_default();
            let conflict = |first: String, second: String| {
                Box::new(Conflict {
                    scenario: r.scenario.clone(),
                    file_hash: r.file_hash.clone(),
                    seed: r.seed,
                    first,
                    first_path: first_path.clone(),
                    second,
                    second_path: source.to_path_buf(),
                    repro: r.repro(),
                })
            };
            if old.trace_hash != r.trace_hash {
                return Err(SweepError::Conflict(conflict(old.trace_hash.clone(), r.trace_hash.clone())));
            }
            return Err(SweepError::Disagree(conflict(old.trace_hash.clone(), differences(old, &r))));
        }
        self.sources.insert(key.clone(), source.to_path_buf());
        self.records.insert(key, r);
        Ok(())
    }

    /// Reads a result directory into these results. Fails on a directory
    /// with records but no manifest ([`SweepError::NoManifest`]), a record
    /// that does not match its checksum ([`SweepError::Tampered`]), a
    /// conflicting duplicate, and records the directory's manifest did not
    /// ask for ([`SweepError::Outside`], all of them listed). A line that is
    /// not a record at all is skipped with a warning: its run counts as
    /// missing, and a resumed sweep runs it again.
    pub fn load_dir(&mut self, dir: &Path) -> Result<(), SweepError> {
        if !dir.is_dir() {
            return Err(SweepError::Usage(format!("{} is not a directory of sweep results", dir.display())));
        }
        let manifest = read_manifest(dir)?;
        let entries = manifest.clone().unwrap_or_default();
        let (files, _) = dir_files(dir)?;
        let mut outside: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
        let mut records = 0;
        for path in files {
            let text = std::fs::read_to_string(&path).map_err(io_err(&path))?;
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let r = match serde_json::from_str::<Record>(line) {
                    Ok(r) => r,
                    // A whole file is renamed into place, so this is damage
                    // from outside; the run is missing and a resume reruns it.
                    Err(e) => {
                        self.warnings.push(format!("{}:{}: unreadable record skipped ({e})", path.display(), i + 1));
                        continue;
                    }
                };
                records += 1;
                if manifest.is_none() {
                    continue;
                }
                let problem = if r.checksum.is_empty() {
                    Some("has no checksum (written by a mailsim from before record checksums)".to_string())
                } else if !r.checksum_ok() {
                    Some(format!("does not match its checksum {}", r.checksum))
                } else if r.passed != r.failed.is_empty() {
                    Some(format!("says passed = {} but lists {} unmet expectations", r.passed, r.failed.len()))
                } else {
                    None
                };
                if let Some(problem) = problem {
                    let repro = r.repro();
                    return Err(SweepError::Tampered { path, line: i + 1, scenario: r.scenario, seed: r.seed, problem, repro });
                }
                let asked = entries.iter().any(|m| m.scenario == r.scenario && m.file_hash == r.file_hash && m.covers(r.seed));
                if !asked {
                    outside.entry((r.scenario.clone(), r.file_hash.clone())).or_default().push(r.seed);
                    continue;
                }
                self.add(r, &path)?;
            }
        }
        if manifest.is_none() && records > 0 {
            return Err(SweepError::NoManifest { dir: dir.to_path_buf(), records });
        }
        if !outside.is_empty() {
            let count = outside.values().map(Vec::len).sum();
            let outside = outside
                .into_iter()
                .map(|((scenario, hash), mut seeds)| {
                    seeds.sort_unstable();
                    seeds.dedup();
                    let runs: Vec<String> = compact(&seeds).iter().map(ToString::to_string).collect();
                    format!("scenario `{scenario}` (file hash {hash}) seeds {}", runs.join(", "))
                })
                .collect();
            return Err(SweepError::Outside { dir: dir.to_path_buf(), count, outside });
        }
        self.manifest.extend(entries);
        self.manifest = dedupe_manifest(std::mem::take(&mut self.manifest));
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

/// The fields in which two records of one key differ, as `field: a vs b`.
fn differences(a: &Record, b: &Record) -> String {
    let (x, y) = (serde_json::to_value(a).expect("a record serializes"), serde_json::to_value(b).expect("a record serializes"));
    let (Some(x), Some(y)) = (x.as_object(), y.as_object()) else { return String::new() };
    let mut out = Vec::new();
    for (k, v) in x {
        let w = y.get(k).unwrap_or(&serde_json::Value::Null);
        if k != "file" && k != "checksum" && v != w {
            out.push(format!("{k}: {v} vs {w}"));
        }
    }
    out.join(", ")
}

/// Loads and merges result directories; see [`Results::load_dir`] for what
/// is an error.
pub fn merge_dirs(dirs: &[PathBuf]) -> Result<Results, SweepError> {
    let mut res = Results::default();
    for d in dirs {
        res.load_dir(d)?;
    }
    Ok(res)
}
