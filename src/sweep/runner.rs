//! Running a sweep: load the scenarios, skip what the result directory has,
//! run the rest on all cores (`crate::pool`), write atomic batches, compact,
//! summarize.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::ops::{ControlFlow, Range};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::record::{record, scenario_hash, Record};
use super::seeds::{Shard, SWEEP_SEEDS_MAX};
use super::store::{dedupe_manifest, dir_files, jsonl, write_atomic, write_manifest, ManifestEntry, Results};
use super::summary::{summarize_shards, Summary};
use super::{io_err, SweepError, MANIFEST_FILE};
use crate::pool::{cores, run_jobs, Event};
use crate::run::run;
use crate::scenario::Scenario;

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
            threads: cores(),
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
    let scenarios = load_scenarios(cfg)?;
    let dir = cfg.out.as_path();
    let mut results = open_dir(dir, cfg.resume)?;
    let mut mine = declare_runs(&mut results, &scenarios, cfg, dir)?;
    let plan = JobPlan::new(cfg, &scenarios, &results);
    let threads = usize::try_from(plan.to_run).unwrap_or(usize::MAX).clamp(1, cfg.threads.max(1));
    let Ran { records: new_records, names } = run_planned(cfg, &scenarios, &plan, threads)?;

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
    let summary = summarize_shards(results.records.values().filter(|r| wanted(r)), &mine, &results.warnings);
    Ok(SweepOutcome { ran, skipped: plan.skipped, elapsed: started.elapsed(), threads, summary })
}

/// The sweep's scenario files, loaded, each with the seeds it runs; a file
/// given twice counts once, two files declaring one scenario are an error.
fn load_scenarios(cfg: &SweepConfig) -> Result<Vec<Loaded>, SweepError> {
    let mut scenarios: Vec<Loaded> = Vec::new();
    for path in &cfg.files {
        let scenario = Scenario::load(path)?;
        crate::ranges::note_midpoints(&scenario);
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
        if seeds.end - seeds.start > SWEEP_SEEDS_MAX {
            return Err(SweepError::Usage(format!(
                "{}: {} seeds asked for; one sweep runs at most {SWEEP_SEEDS_MAX}: split the range into several invocations",
                path.display(),
                seeds.end - seeds.start
            )));
        }
        scenarios.push(Loaded { file: path.display().to_string(), hash, seeds, scenario });
    }
    Ok(scenarios)
}

/// The result directory, created, without the batches a killed sweep left
/// half written, emptied unless resuming, and loaded.
fn open_dir(dir: &Path, resume: bool) -> Result<Results, SweepError> {
    std::fs::create_dir_all(dir).map_err(io_err(dir))?;
    let (files, temps) = dir_files(dir)?;
    for t in &temps {
        // A batch a killed sweep had not renamed yet: its runs are rerun.
        std::fs::remove_file(t).map_err(io_err(t))?;
    }
    if !resume {
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
    Ok(results)
}

/// This sweep's manifest entries, written before any run, so a merge sees
/// the seeds a killed shard never reached (the expectation names are added
/// from the first run's verdicts); and a warning per scenario whose
/// recorded runs come from another version of its file.
fn declare_runs(results: &mut Results, scenarios: &[Loaded], cfg: &SweepConfig, dir: &Path) -> Result<Vec<ManifestEntry>, SweepError> {
    let mine: Vec<ManifestEntry> = scenarios
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

    for l in scenarios {
        let stale = results.records.values().filter(|r| r.scenario == l.scenario.name() && r.file_hash != l.hash).count();
        if stale > 0 {
            results.warnings.push(format!(
                "{}: {stale} recorded runs of scenario `{}` come from another version of its file; they are kept apart and not counted",
                dir.display(),
                l.scenario.name()
            ));
        }
    }
    Ok(mine)
}

/// Which runs the sweep makes. Job j is seed number j / S of the shard for
/// scenario j % S: scenarios interleave, so a partial sweep covers all of
/// them, and no job list is built (a range of 10^9 seeds costs nothing
/// until it runs).
struct JobPlan {
    scenarios: u64,
    /// Seeds per scenario, as ranges.
    seeds: Vec<Range<u64>>,
    shard_count: u64,
    first_seed: u64,
    jobs_total: u64,
    /// (scenario index, seed) recorded already.
    done: BTreeSet<(usize, u64)>,
    skipped: u64,
    to_run: u64,
}

impl JobPlan {
    fn new(cfg: &SweepConfig, scenarios: &[Loaded], results: &Results) -> JobPlan {
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
        JobPlan {
            scenarios: scenarios.len() as u64,
            seeds: scenarios.iter().map(|l| l.seeds.clone()).collect(),
            shard_count: cfg.shard.count,
            first_seed,
            jobs_total,
            done,
            skipped,
            to_run: wanted_total - skipped,
        }
    }

    /// Job `j`'s (scenario index, seed), or `None` if it is out of range or
    /// recorded already.
    fn job(&self, j: u64) -> Option<(usize, u64)> {
        let n = self.scenarios;
        let i = (j % n) as usize;
        let seed = self.first_seed.checked_add((j / n).checked_mul(self.shard_count)?)?;
        (self.seeds[i].contains(&seed) && !self.done.contains(&(i, seed))).then_some((i, seed))
    }
}

/// A progress bar over `to_run` runs, or a hidden one.
fn progress_bar(shown: bool, to_run: u64) -> indicatif::ProgressBar {
    if !shown {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(to_run);
    pb.set_style(
        indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:40}] {pos}/{len} runs, {msg}, eta {eta}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    pb
}

/// What `run_planned` ran.
struct Ran {
    /// The new records, in the order they finished.
    records: Vec<Record>,
    /// Per scenario, its expectation names, set by its first run (if any ran).
    names: Vec<OnceLock<Vec<String>>>,
}

/// Runs the plan's jobs on `threads` threads, writing batches as they
/// finish.
fn run_planned(cfg: &SweepConfig, scenarios: &[Loaded], plan: &JobPlan, threads: usize) -> Result<Ran, SweepError> {
    let to_run = plan.to_run;
    let bar = progress_bar(cfg.progress, to_run);
    let names: Vec<OnceLock<Vec<String>>> = scenarios.iter().map(|_| OnceLock::new()).collect();
    let stamp = format!(
        "{}-{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis()),
        std::process::id()
    );
    let mut writer = BatchWriter { dir: cfg.out.as_path(), stamp, batches: 0, pending: Vec::new(), since: Instant::now() };
    let mut new_records: Vec<Record> = Vec::new();
    let runs_started = Instant::now();
    let mut failed = 0u64;
    let mut last_log = Instant::now();
    let mut written: Result<(), SweepError> = Ok(());
    let tick = (cfg.flush_interval / 4).max(Duration::from_millis(10));
    run_jobs(
        plan.jobs_total,
        threads,
        Some(tick),
        |j| {
            let (i, seed) = plan.job(j)?;
            let l = &scenarios[i];
            let r = run(&l.scenario, seed);
            names[i].get_or_init(|| r.verdicts.iter().map(|v| v.name.clone()).collect());
            Some(record(&l.file, &l.hash, &r))
        },
        |event| {
            if let Event::Done(_, rec) = event {
                failed += u64::from(!rec.passed);
                bar.inc(1);
                if !bar.is_hidden() {
                    let rate = bar.position() as f64 / runs_started.elapsed().as_secs_f64().max(1e-9);
                    bar.set_message(format!("{failed} failed, {rate:.1} runs/s"));
                }
                writer.pending.push(rec.clone());
                new_records.push(rec);
            }
            if writer.pending.len() >= cfg.flush_runs.max(1) || writer.since.elapsed() >= cfg.flush_interval {
                if let Err(e) = writer.flush() {
                    written = Err(e);
                    return ControlFlow::Break(());
                }
            }
            if bar.is_hidden() && last_log.elapsed() >= Duration::from_secs(60) {
                last_log = Instant::now();
                let done = new_records.len();
                let rate = done as f64 / runs_started.elapsed().as_secs_f64().max(1e-9);
                crate::note!("sweep: {done}/{to_run} runs, {failed} failed, {rate:.1} runs/s");
            }
            ControlFlow::Continue(())
        },
    );
    if written.is_ok() {
        written = writer.flush();
    }
    bar.finish_and_clear();
    written?;
    Ok(Ran { records: new_records, names })
}
