//! `mailsim calibrate`: which values of a scenario's uncertain parameters
//! agree with the postmortem's checkpoints.
//!
//! The file declares its uncertain parameters as ranges
//! (`{ range = [a, b], reason = "…" }`, `ranges.rs`) and the postmortem's
//! claims as `[[checkpoints]]`. Calibration is approximate Bayesian
//! computation by rejection:
//!
//! 1. **Draws.** `--draws N` parameter vectors from the ranges, a Latin
//!    hypercube (each range cut into N equal strata, each stratum drawn once,
//!    a uniform point inside it), from the seeded stream
//!    `calibrate/<field>` of the calibration seed (`--seed`): the same
//!    command draws the same values on every machine, and adding a range
//!    does not move the others' draws.
//! 2. **Runs.** Every draw runs on the same `--seeds K` run seeds (0 to
//!    K-1: common random numbers, so two draws differ by their parameters,
//!    not their luck), on all cores through `pool` (parallel across runs
//!    only).
//! 3. **Rule.** A draw is *consistent* with the postmortem when, for every
//!    checkpoint, the share of its K runs that hit the checkpoint reaches the
//!    checkpoint's `on_seeds` (50% where it gives none). The consistent
//!    draws are kept. When none is, the `--keep` share of draws (default
//!    10%, at least one) nearest to the checkpoints are kept instead and the
//!    command exits 1: nearest by the mean, over checkpoints and runs, of
//!    how far the simulated value fell outside what the checkpoint accepts,
//!    in units of its tolerance (a share's min-to-max width, else 10
//!    points; an event's early-to-late window, else one hour; an event that
//!    never happened counts 10).
//! 4. **Report.** Per parameter, the prior range and the kept draws' region:
//!    min, 5th percentile, median, 95th percentile, max, and the 90%
//!    interval's width as a share of the prior's. Per checkpoint, the hit
//!    rate over all runs (the prior's) and over the kept draws' runs.
//! 5. **File.** The scenario file with each range replaced by the kept
//!    draws' median (rounded to three significant digits), or with
//!    `--keep-ranges` narrowed to their 90% interval, each with a comment
//!    naming the calibration run; the file's other comments are kept
//!    (`toml_edit`). The written file is loaded back before the command
//!    reports success.
//!
//! Only ranges written in FILE itself can be replaced: a range inherited
//! through `extends` is an error (calibrate the file that declares it).
//!
//! **Shards.** `--shard K/N` (or `MAILSIM_SHARD` / `JOB_COMPLETION_INDEX`
//! with `--shards`, as for `sweep`: the same [`Shard`] and
//! [`resolve_shard`]) runs only the draws `d` with `d % N == K`, every seed
//! of each, and writes them as JSON (`<name>.calibrate-K-of-N.json` next to
//! FILE, or `--out`) instead of a calibrated file. `mailsim calibrate FILE
//! --merge SHARD.json…` checks that the shards are all N of one calibration
//! of this very file (its [`scenario_hash`], draws, seeds and calibration
//! seed, each shard once, each holding exactly its draws with the values
//! the hypercube gives) and then concludes as an unsharded calibration
//! would, with the same result: a draw's runs never cross shards, so the
//! rule, the region and the written file are those of one process.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use mailsim_sim::Stream;
use serde::Serialize;

use serde::Deserialize;

use crate::checkpoints::{Checkpoint, CheckpointResult, Tolerance};
use crate::error::Seg;
use crate::note;
use crate::ranges::Ranged;
use crate::scenario::Scenario;
use crate::sweep::{resolve_shard, scenario_hash, write_atomic, Shard};
use crate::units::Share;

/// Most draws one calibration makes.
pub const DRAWS_MAX: u32 = 100_000;
/// Most run seeds per draw.
pub const SEEDS_MAX: u32 = 10_000;
/// Most runs (draws × seeds) one calibration makes.
pub const RUNS_MAX: u64 = 10_000_000;
/// The share of draws kept when none is consistent, unless `--keep` says.
pub const DEFAULT_KEEP: Share = Share(100_000);
/// The hit share a checkpoint without `on_seeds` needs in a consistent draw.
pub const DEFAULT_HIT_SHARE: Share = Share(500_000);
/// The distance of a checkpoint whose event never happened in a run.
const NEVER: f64 = 10.0;

/// `mailsim calibrate FILE [--draws N] [--seeds K] [--out PATH] [--jobs J]`.
#[derive(clap::Args, Debug)]
pub struct CalibrateArgs {
    /// A scenario file with ranged parameters and `[[checkpoints]]` (or the
    /// name of one in `--dir`).
    pub file: PathBuf,
    /// Parameter draws (a Latin hypercube over the ranges); 1 to 100,000.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=i64::from(DRAWS_MAX)))]
    pub draws: u32,
    /// Run seeds per draw (seeds 0 to K-1, the same for every draw); 1 to
    /// 10,000.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=i64::from(SEEDS_MAX)))]
    pub seeds: u32,
    /// The calibration seed: which draws are made.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to write the calibrated scenario file. Default: next to FILE,
    /// as `<name>.calibrated.toml`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Threads (default: all cores).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// When no draw is consistent with every checkpoint: the share of draws
    /// nearest to the checkpoints to keep (at least one).
    #[arg(long, default_value = "10%", value_parser = parse_keep)]
    pub keep: Share,
    /// Write each range narrowed to the kept draws' 90% interval instead of
    /// replacing it with their median.
    #[arg(long)]
    pub keep_ranges: bool,
    /// Print the calibration as JSON on stdout (the human report goes to
    /// stderr).
    #[arg(long)]
    pub json: bool,
    /// Run only the draws `d` with `d % N == K` and write them as JSON
    /// (`--out`, default `<name>.calibrate-K-of-N.json` next to FILE) for
    /// `--merge` (default: `MAILSIM_SHARD=K/N`, else `JOB_COMPLETION_INDEX`
    /// with N from `--shards` or `MAILSIM_SHARDS`, else every draw).
    #[arg(long, value_name = "K/N", conflicts_with = "merge")]
    pub shard: Option<Shard>,
    /// The shard count N, with `JOB_COMPLETION_INDEX` giving K.
    #[arg(long, value_name = "N", conflicts_with = "merge")]
    pub shards: Option<u64>,
    /// Conclude a sharded calibration of FILE from all N of its shard
    /// files (draws, seeds and seed come from them), as one process would.
    #[arg(long, value_name = "SHARD.json", num_args = 1..)]
    pub merge: Vec<PathBuf>,
}

fn parse_keep(text: &str) -> Result<Share, String> {
    let s = crate::units::parse_share(text)?;
    if s.ppm() == 0 {
        return Err("keep more than 0% of the draws".into());
    }
    Ok(s)
}

/// The search's settings (the command line without its files).
#[derive(Clone, Debug)]
pub struct Options {
    pub draws: u32,
    pub seeds: u32,
    pub seed: u64,
    pub jobs: usize,
    pub keep: Share,
}

/// One parameter draw and what its runs showed.
#[derive(Clone, Debug, Serialize)]
pub struct Draw {
    /// One value per ranged parameter, in its kind's unit.
    pub values: Vec<i128>,
    /// Per checkpoint, how many of the draw's runs hit it.
    pub hits: Vec<u32>,
    /// Mean distance of its runs to the checkpoints (0: every run hit all).
    pub distance: f64,
    pub consistent: bool,
    pub kept: bool,
    /// Why the draw could not run: the scenario is invalid with its values.
    pub invalid: Option<String>,
}

/// What the kept draws say about one parameter.
#[derive(Clone, Debug, Serialize)]
pub struct Region {
    pub field: String,
    pub reason: String,
    pub prior: [i128; 2],
    pub min: i128,
    pub p5: i128,
    pub median: i128,
    pub p95: i128,
    pub max: i128,
    /// The 90% interval's width over the prior's.
    pub width_share: f64,
    /// The same, as a person reads it.
    pub shown: RegionShown,
}

/// A region's values in the parameter's units.
#[derive(Clone, Debug, Serialize)]
pub struct RegionShown {
    pub prior: String,
    pub interval: String,
    pub median: String,
    pub min_max: String,
}

/// A checkpoint's hit rates under the prior and the kept draws.
#[derive(Clone, Debug, Serialize)]
pub struct CheckpointRates {
    pub claim: String,
    pub at: String,
    /// The hit share a consistent draw needs.
    pub required: Share,
    pub prior_hit: f64,
    pub kept_hit: f64,
}

/// One shard of a calibration, as `--shard` writes it and `--merge` reads
/// it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardFile {
    pub scenario: String,
    /// [`scenario_hash`] of the file calibrated (and its `extends` chain).
    pub file_hash: String,
    pub draws: u32,
    pub seeds: u32,
    pub seed: u64,
    pub shard: Shard,
    /// Wall-clock seconds this shard's runs took.
    pub wall_s: f64,
    /// The shard's draws, in draw order.
    pub results: Vec<ShardDraw>,
}

/// One draw of a shard.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ShardDraw {
    /// Its index among all the calibration's draws.
    pub draw: u32,
    pub values: Vec<i128>,
    pub hits: Vec<u32>,
    /// `None` for a draw that could not run (JSON has no infinity).
    pub distance: Option<f64>,
    pub invalid: Option<String>,
}

/// A whole calibration.
#[derive(Clone, Debug, Serialize)]
pub struct Calibration {
    pub scenario: String,
    pub draws: u32,
    pub seeds: u32,
    pub seed: u64,
    /// Draws consistent with every checkpoint.
    pub consistent: u32,
    /// Draws kept (the consistent ones, or the nearest when none is).
    pub kept: u32,
    /// Draws whose values made the scenario invalid.
    pub invalid: u32,
    pub regions: Vec<Region>,
    pub checkpoints: Vec<CheckpointRates>,
    pub every: Vec<Draw>,
    /// Wall-clock seconds the runs took, and draws per second.
    pub wall_s: f64,
    pub draws_per_s: f64,
}

/// The Latin hypercube: `n` values per range, each range's strata in an
/// order drawn from its own stream.
pub fn draw_values(ranges: &[Ranged], n: u32, seed: u64) -> Vec<Vec<i128>> {
    let n64 = u64::from(n);
    let columns: Vec<Vec<i128>> = ranges
        .iter()
        .map(|r| {
            let mut stream = Stream::new(seed, &format!("calibrate/{}", r.path));
            let mut strata: Vec<u64> = (0..n64).collect();
            for i in (1..strata.len()).rev() {
                let j = stream.below(i as u64 + 1) as usize;
                strata.swap(i, j);
            }
            // Integers include their high end; the other kinds are continuous.
            let span = if r.kind == crate::ranges::Kind::Integer { r.hi - r.lo + 1 } else { r.hi - r.lo };
            strata
                .into_iter()
                .map(|k| {
                    let u = i128::from(stream.below(1 << 32));
                    let pos = (i128::from(k) << 32) + u;
                    (r.lo + span * pos / (i128::from(n) << 32)).min(r.hi)
                })
                .collect()
        })
        .collect();
    (0..n as usize).map(|d| columns.iter().map(|c| c[d]).collect()).collect()
}

/// How far a run's value fell outside what a checkpoint accepts, in units
/// of its tolerance (see the module doc).
fn distance(c: &Checkpoint, r: &CheckpointResult) -> f64 {
    let Some(v) = r.value else { return NEVER };
    let v = v as f64;
    match c.tolerance {
        Tolerance::Share { min, max } => {
            let lo = min.map_or(0.0, |m| f64::from(m.ppm()));
            let hi = max.map_or(1e6, |m| f64::from(m.ppm()));
            let scale = match (min, max) {
                (Some(_), Some(_)) if hi > lo => hi - lo,
                _ => 100_000.0,
            };
            (lo - v).max(v - hi).max(0.0) / scale
        }
        Tolerance::Window { early_s, late_s } => {
            let (at, early, late) = (c.at_s as f64, early_s as f64, late_s as f64);
            let scale = (early + late).max(3600.0);
            ((at - early) - v).max(v - (at + late)).max(0.0) / scale
        }
    }
}

/// Nearest-rank percentile `p` (0-100) of sorted values.
fn percentile(sorted: &[i128], p: u32) -> i128 {
    let n = sorted.len();
    let rank = (usize::try_from(p).unwrap_or(100) * n).div_ceil(100).clamp(1, n);
    sorted[rank - 1]
}

/// Runs the search over `s`'s ranges (see the module doc).
pub fn calibrate(s: &Scenario, o: &Options) -> Result<Calibration, String> {
    let started = Instant::now();
    let every = run_draws(s, o, Shard::ALL)?.into_iter().map(|(_, d)| d).collect();
    conclude(s, o, every, started.elapsed().as_secs_f64())
}

/// Checks that `s` can be calibrated with `o` at all.
fn check_calibratable(s: &Scenario, o: &Options) -> Result<(), String> {
    if s.ranges.is_empty() {
        return Err("the file declares no ranged parameter (`{ range = [low, high], reason = \"…\" }`): nothing to calibrate".into());
    }
    if s.checkpoints.is_empty() {
        return Err("the file lists no `[[checkpoints]]`: nothing to calibrate against".into());
    }
    let runs = u64::from(o.draws) * u64::from(o.seeds);
    if runs > RUNS_MAX {
        return Err(format!("{} draws × {} seeds = {runs} runs; one calibration runs at most {RUNS_MAX}", o.draws, o.seeds));
    }
    Ok(())
}

/// The hit share each checkpoint needs in a consistent draw.
fn required_shares(s: &Scenario) -> Vec<Share> {
    s.checkpoints.iter().map(|c| c.on_seeds.unwrap_or(DEFAULT_HIT_SHARE)).collect()
}

/// Runs the draws of one shard (all of them for [`Shard::ALL`]), each on
/// every seed: (draw index, what its runs showed).
pub fn run_draws(s: &Scenario, o: &Options, shard: Shard) -> Result<Vec<(u32, Draw)>, String> {
    check_calibratable(s, o)?;
    let mine: Vec<u32> = (0..o.draws).filter(|&d| shard.contains(u64::from(d))).collect();
    let all_values = draw_values(&s.ranges, o.draws, o.seed);
    let values: Vec<Vec<i128>> = mine.iter().map(|&d| all_values[d as usize].clone()).collect();
    let scenarios: Vec<Result<Scenario, String>> = values.iter().map(|v| s.with_values(v).map_err(|e| e.to_string())).collect();
    let k = u64::from(o.seeds);
    let runs = mine.len() as u64 * k;
    let results = crate::pool::map_jobs(runs, o.jobs, |j| {
        let sc = scenarios[(j / k) as usize].as_ref().ok()?;
        let r = crate::run::run(sc, j % k);
        let d: f64 = sc.checkpoints.iter().zip(&r.checkpoints).map(|(c, x)| distance(c, x)).sum::<f64>() / sc.checkpoints.len() as f64;
        Some((r.checkpoints.iter().map(|x| x.hit).collect::<Vec<bool>>(), d))
    });
    let required = required_shares(s);
    Ok(values
        .into_iter()
        .zip(&scenarios)
        .enumerate()
        .map(|(d, (values, sc))| {
            let runs = &results[d * o.seeds as usize..(d + 1) * o.seeds as usize];
            if let Err(e) = sc {
                return Draw {
                    values,
                    hits: Vec::new(),
                    distance: f64::INFINITY,
                    consistent: false,
                    kept: false,
                    invalid: Some(e.clone()),
                };
            }
            let mut hits = vec![0u32; required.len()];
            let mut distance = 0.0;
            for (h, dist) in runs.iter().flatten() {
                for (n, hit) in hits.iter_mut().zip(h) {
                    *n += u32::from(*hit);
                }
                distance += dist;
            }
            distance /= f64::from(o.seeds);
            let consistent =
                hits.iter().zip(&required).all(|(&n, share)| u64::from(n) * 1_000_000 >= u64::from(share.ppm()) * u64::from(o.seeds));
            Draw { values, hits, distance, consistent, kept: consistent, invalid: None }
        })
        .zip(mine)
        .map(|(draw, d)| (d, draw))
        .collect())
}

/// The calibration from every draw's runs (in draw order): the kept draws,
/// their region and the checkpoints' hit rates.
pub fn conclude(s: &Scenario, o: &Options, mut every: Vec<Draw>, wall_s: f64) -> Result<Calibration, String> {
    check_calibratable(s, o)?;
    let consistent = every.iter().filter(|d| d.consistent).count() as u32;
    if consistent == 0 {
        keep_nearest(&mut every, o);
    }
    let kept: Vec<&Draw> = every.iter().filter(|d| d.kept).collect();
    if kept.is_empty() {
        let first = every.iter().find_map(|d| d.invalid.clone()).unwrap_or_default();
        return Err(format!("every draw makes the scenario invalid (first: {first}); narrow the ranges"));
    }
    let regions = regions(s, &kept);
    let valid: Vec<&Draw> = every.iter().filter(|d| d.invalid.is_none()).collect();
    let checkpoints = checkpoint_rates(s, o, &valid, &kept);
    Ok(Calibration {
        scenario: s.name().to_string(),
        draws: o.draws,
        seeds: o.seeds,
        seed: o.seed,
        consistent,
        kept: kept.len() as u32,
        invalid: (every.len() - valid.len()) as u32,
        regions,
        checkpoints,
        every,
        wall_s,
        draws_per_s: f64::from(o.draws) / wall_s.max(1e-9),
    })
}

/// With no consistent draw, keeps the nearest (`--keep` of the draws, at
/// least one), the valid ones by distance, ties in draw order.
fn keep_nearest(every: &mut [Draw], o: &Options) {
    let keep = (u64::from(o.draws) * u64::from(o.keep.ppm())).div_ceil(1_000_000).max(1) as usize;
    let mut order: Vec<usize> = (0..every.len()).filter(|&d| every[d].invalid.is_none()).collect();
    order.sort_by(|&a, &b| every[a].distance.total_cmp(&every[b].distance).then(a.cmp(&b)));
    for d in order.into_iter().take(keep) {
        every[d].kept = true;
    }
}

/// Per range, the region its kept draws span: percentiles, and the share of
/// the prior range the 5–95% interval covers.
fn regions(s: &Scenario, kept: &[&Draw]) -> Vec<Region> {
    s.ranges
        .iter()
        .enumerate()
        .map(|(p, r)| {
            let mut v: Vec<i128> = kept.iter().map(|d| d.values[p]).collect();
            v.sort_unstable();
            let (p5, median, p95) = (percentile(&v, 5), percentile(&v, 50), percentile(&v, 95));
            Region {
                field: r.path.to_string(),
                reason: r.reason.clone(),
                prior: [r.lo, r.hi],
                min: v[0],
                p5,
                median,
                p95,
                max: v[v.len() - 1],
                width_share: (p95 - p5) as f64 / (r.hi - r.lo) as f64,
                shown: RegionShown {
                    prior: format!("{} to {}", r.show(r.lo), r.show(r.hi)),
                    interval: format!("{} to {}", r.show(p5), r.show(p95)),
                    median: r.show(median),
                    min_max: format!("{} to {}", r.show(v[0]), r.show(v[v.len() - 1])),
                },
            }
        })
        .collect()
}

/// Per checkpoint, its hit rate over the valid draws (the prior) and over
/// the kept ones, next to the share it requires.
fn checkpoint_rates(s: &Scenario, o: &Options, valid: &[&Draw], kept: &[&Draw]) -> Vec<CheckpointRates> {
    let required = required_shares(s);
    let rate = |draws: &[&Draw], c: usize| {
        let hits: u64 = draws.iter().map(|d| u64::from(d.hits[c])).sum();
        hits as f64 / (draws.len() as f64 * f64::from(o.seeds))
    };
    s.checkpoints
        .iter()
        .enumerate()
        .map(|(c, cp)| CheckpointRates {
            claim: cp.claim.clone(),
            at: crate::checkpoints::at_text(cp),
            required: required[c],
            prior_hit: rate(valid, c),
            kept_hit: rate(kept, c),
        })
        .collect()
}

/// One shard's draws as its file holds them.
pub fn shard_file(s: &Scenario, o: &Options, file_hash: &str, shard: Shard, draws: Vec<(u32, Draw)>, wall_s: f64) -> ShardFile {
    ShardFile {
        scenario: s.name().to_string(),
        file_hash: file_hash.to_string(),
        draws: o.draws,
        seeds: o.seeds,
        seed: o.seed,
        shard,
        wall_s,
        results: draws
            .into_iter()
            .map(|(draw, d)| ShardDraw {
                draw,
                values: d.values,
                hits: d.hits,
                distance: d.distance.is_finite().then_some(d.distance),
                invalid: d.invalid,
            })
            .collect(),
    }
}

/// The draws of all N shards of one calibration of `s` (whose file hashes
/// to `file_hash`), in draw order, with the settings they were run with and
/// their summed wall-clock time; an error names the shard file at fault and
/// what is wrong (another file or settings, a shard twice or missing, draws
/// missing, foreign or not the hypercube's).
pub fn merge_shards(s: &Scenario, file_hash: &str, shards: &[(PathBuf, ShardFile)]) -> Result<(Options, Vec<Draw>, f64), String> {
    let Some((_, first)) = shards.first() else { return Err("no shard files to merge".into()) };
    check_shard_set(file_hash, shards)?;
    let o = Options { draws: first.draws, seeds: first.seeds, seed: first.seed, jobs: 1, keep: DEFAULT_KEEP };
    let values = draw_values(&s.ranges, o.draws, o.seed);
    let required = required_shares(s);
    let mut every: Vec<Option<Draw>> = vec![None; o.draws as usize];
    let mut wall_s = 0.0;
    for (path, f) in shards {
        wall_s += f.wall_s;
        for (draw, d) in shard_draws(path, f, &o, &values, &required)? {
            every[draw as usize] = Some(d);
        }
    }
    let every: Option<Vec<Draw>> = every.into_iter().collect();
    let every = every.ok_or_else(|| "the shards do not hold every draw".to_string())?;
    Ok((o, every, wall_s))
}

/// Checks that `shards` (at least one) are the N shards of one calibration
/// of this file, each once, with the same settings.
fn check_shard_set(file_hash: &str, shards: &[(PathBuf, ShardFile)]) -> Result<(), String> {
    let first = &shards[0].1;
    let count = first.shard.count;
    for (path, f) in shards {
        let p = path.display();
        if f.file_hash != file_hash {
            return Err(format!("{p}: a calibration of another file (hash {}, this file's is {file_hash})", f.file_hash));
        }
        if (f.draws, f.seeds, f.seed, f.shard.count) != (first.draws, first.seeds, first.seed, count) {
            return Err(format!(
                "{p}: --draws {} --seeds {} --seed {} in {} shards, but {} says --draws {} --seeds {} --seed {} in {count} shards",
                f.draws,
                f.seeds,
                f.seed,
                f.shard.count,
                shards[0].0.display(),
                first.draws,
                first.seeds,
                first.seed
            ));
        }
    }
    let mut by_index: Vec<Option<&PathBuf>> = vec![None; usize::try_from(count).unwrap_or(usize::MAX).min(shards.len() + 1)];
    if count > shards.len() as u64 {
        let have: std::collections::BTreeSet<u64> = shards.iter().map(|(_, f)| f.shard.index).collect();
        let missing: Vec<String> = (0..count).filter(|k| !have.contains(k)).take(10).map(|k| format!("{k}/{count}")).collect();
        return Err(format!("{} of {count} shards given; missing {}", have.len(), missing.join(", ")));
    }
    for (path, f) in shards {
        let slot = &mut by_index[f.shard.index as usize];
        if let Some(other) = slot {
            return Err(format!("shard {} given twice: {} and {}", f.shard, other.display(), path.display()));
        }
        *slot = Some(path);
    }
    Ok(())
}

/// The draws of one shard's file, checked against the hypercube (`values`)
/// and the checkpoints' `required` shares, each judged consistent or not.
fn shard_draws(path: &Path, f: &ShardFile, o: &Options, values: &[Vec<i128>], required: &[Share]) -> Result<Vec<(u32, Draw)>, String> {
    let p = path.display();
    let mut draws = Vec::new();
    let expected = (0..o.draws).filter(|&d| f.shard.contains(u64::from(d))).count();
    if f.results.len() != expected {
        return Err(format!("{p}: shard {} holds {} draws, not its {expected}", f.shard, f.results.len()));
    }
    for r in &f.results {
        if !f.shard.contains(u64::from(r.draw)) || r.draw >= o.draws {
            return Err(format!("{p}: draw {} does not belong to shard {}", r.draw, f.shard));
        }
        if r.values != values[r.draw as usize] {
            return Err(format!("{p}: draw {}'s values are not the hypercube's for this file's ranges", r.draw));
        }
        if r.invalid.is_none() && (r.hits.len() != required.len() || r.hits.iter().any(|&h| h > o.seeds)) {
            return Err(format!("{p}: draw {}'s hits do not fit {} checkpoints and {} seeds", r.draw, required.len(), o.seeds));
        }
        let consistent = r.invalid.is_none()
            && r.hits.iter().zip(required).all(|(&n, share)| u64::from(n) * 1_000_000 >= u64::from(share.ppm()) * u64::from(o.seeds));
        draws.push((
            r.draw,
            Draw {
                values: r.values.clone(),
                hits: r.hits.clone(),
                distance: r.distance.unwrap_or(f64::INFINITY),
                consistent,
                kept: consistent,
                invalid: r.invalid.clone(),
            },
        ));
    }
    Ok(draws)
}

/// The default path of a shard's file: next to FILE.
pub fn default_shard_out(file: &Path, shard: Shard) -> PathBuf {
    let stem = file.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    file.with_file_name(format!("{stem}.calibrate-{}-of-{}.json", shard.index, shard.count))
}

/// The report `calibrate` prints.
pub fn report_text(c: &Calibration, command: &str) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let runs = u64::from(c.draws) * u64::from(c.seeds);
    let _ = writeln!(out, "calibrate {}: {} draws x {} seeds (0..{}) = {runs} runs", c.scenario, c.draws, c.seeds, c.seeds);
    let _ = writeln!(out, "  {command}");
    let _ = writeln!(out, "  {:.1} s, {:.1} draws/s, {:.0} runs/s", c.wall_s, c.draws_per_s, runs as f64 / c.wall_s.max(1e-9));
    if c.invalid > 0 {
        let first = c.every.iter().find_map(|d| d.invalid.as_deref()).unwrap_or_default();
        let _ = writeln!(out, "  {} draws made the scenario invalid and were not run (first: {first})", c.invalid);
    }
    if c.consistent > 0 {
        let _ = writeln!(
            out,
            "consistent with every checkpoint: {} of {} draws ({:.1}%); the region below is theirs",
            c.consistent,
            c.draws,
            100.0 * f64::from(c.consistent) / f64::from(c.draws)
        );
    } else {
        let _ = writeln!(out, "NO draw is consistent with every checkpoint: the region below is the {} draws nearest to them", c.kept);
    }
    let _ =
        writeln!(out, "\nparameter                                 prior                 90% of kept draws     median        min to max");
    for r in &c.regions {
        let _ = writeln!(
            out,
            "{:<41} {:<21} {:<21} {:<13} {}   ({:.0}% of the prior's width)",
            r.field,
            r.shown.prior,
            r.shown.interval,
            r.shown.median,
            r.shown.min_max,
            100.0 * r.width_share
        );
    }
    let _ = writeln!(out, "\ncheckpoint                                                    required   hit (prior)   hit (kept)");
    for k in &c.checkpoints {
        let claim: String = k.claim.chars().take(60).collect();
        let _ = writeln!(out, "{claim:<61} {:>8}   {:>10.1}%   {:>9.1}%", k.required.to_string(), 100.0 * k.prior_hit, 100.0 * k.kept_hit);
        let _ = writeln!(out, "  at {}", k.at);
    }
    out
}

/// The scenario file's text with each range replaced by its calibrated
/// value (see the module doc). A range the text does not write (it comes
/// through `extends`) is an error naming the field.
pub fn calibrated_text(text: &str, s: &Scenario, c: &Calibration, keep_ranges: bool, command: &str) -> Result<String, String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("cannot edit the file: {e}"))?;
    for (r, region) in s.ranges.iter().zip(&c.regions) {
        let segs = &r.path.0;
        if item_mut(doc.as_item_mut(), segs).is_none() {
            // Inherited through `extends`: a table key is overridden here
            // (tables merge key by key); an array is replaced whole, so a
            // range inside one must be calibrated in the file that holds it.
            insert_override(&mut doc, segs).ok_or_else(|| not_written(r))?;
        }
        let Some(item) = item_mut(doc.as_item_mut(), segs) else { return Err(not_written(r)) };
        let new: toml_edit::Value = if keep_ranges {
            let mut t = toml_edit::InlineTable::new();
            let mut ends = toml_edit::Array::new();
            ends.push(edit_value(r.value(region.p5)));
            ends.push(edit_value(r.value(region.p95)));
            t.insert("range", toml_edit::Value::Array(ends));
            t.insert("reason", format!("{} (calibrated: 90% of the kept draws)", r.reason).into());
            toml_edit::Value::InlineTable(t)
        } else {
            edit_value(r.value(r.round(region.median)))
        };
        let old = item.as_value().map(|v| v.decor().clone());
        *item = toml_edit::Item::Value(new);
        if let (Some(decor), Some(v)) = (old, item.as_value_mut()) {
            *v.decor_mut() = decor;
        }
        let note = format!(
            "calibrated: median {} of the kept draws; 90% of them {} (prior {}: {})",
            region.shown.median, region.shown.interval, region.shown.prior, r.reason
        );
        comment_key_line(&mut doc, segs, &note);
    }
    let verdict = if c.consistent > 0 {
        format!("{} of {} draws consistent with every checkpoint", c.consistent, c.draws)
    } else {
        format!("no draw consistent with every checkpoint; the {} nearest of {} kept", c.kept, c.draws)
    };
    Ok(format!("# Calibrated against its [[checkpoints]] by `{command}`: {verdict}.\n{doc}"))
}

fn edit_value(v: toml::Value) -> toml_edit::Value {
    match v {
        toml::Value::Integer(n) => n.into(),
        other => other.as_str().unwrap_or_default().into(),
    }
}

/// Makes the key path `segs` exist in `doc` (tables created as needed, the
/// value a placeholder the caller replaces), for a range the file inherits.
/// `None` when the path goes through an array or a value.
fn insert_override(doc: &mut toml_edit::DocumentMut, segs: &[Seg]) -> Option<()> {
    let (last, tables) = segs.split_last()?;
    let mut at: &mut toml_edit::Table = doc.as_table_mut();
    for seg in tables {
        let Seg::Key(k) = seg else { return None };
        if at.get(k.as_str()).is_none() {
            let mut t = toml_edit::Table::new();
            t.set_implicit(false);
            at.insert(k.as_str(), toml_edit::Item::Table(t));
        }
        at = at.get_mut(k.as_str())?.as_table_mut()?;
    }
    let Seg::Key(k) = last else { return None };
    at.insert(k.as_str(), toml_edit::value(0));
    Some(())
}

/// The item at `segs`, without inserting anything on the way.
fn item_mut<'a>(mut at: &'a mut toml_edit::Item, segs: &[Seg]) -> Option<&'a mut toml_edit::Item> {
    for seg in segs {
        let present = match seg {
            Seg::Key(k) => at.get(k.as_str()).is_some(),
            Seg::Index(i) => at.get(*i).is_some(),
        };
        if !present {
            return None;
        }
        at = match seg {
            Seg::Key(k) => at.get_mut(k.as_str())?,
            Seg::Index(i) => at.get_mut(*i)?,
        };
    }
    Some(at)
}

/// Adds `# note` on its own line above the key line that holds `segs` (the
/// deepest key of a regular table on the path), keeping its indentation.
fn comment_key_line(doc: &mut toml_edit::DocumentMut, segs: &[Seg], note: &str) {
    let mut line = None;
    let mut at: &toml_edit::Item = doc.as_item();
    for (i, seg) in segs.iter().enumerate() {
        if let (Seg::Key(_), toml_edit::Item::Table(_)) = (seg, at) {
            line = Some(i);
        }
        let next = match seg {
            Seg::Key(k) => at.get(k.as_str()),
            Seg::Index(n) => at.get(*n),
        };
        let Some(next) = next else { return };
        at = next;
    }
    let Some(i) = line else { return };
    let Seg::Key(key) = &segs[i] else { return };
    let Some(table) = item_mut(doc.as_item_mut(), &segs[..i]).and_then(toml_edit::Item::as_table_mut) else { return };
    let Some(mut k) = table.key_mut(key) else { return };
    let decor = k.leaf_decor_mut();
    let old = decor.prefix().and_then(|p| p.as_str()).unwrap_or("").to_string();
    let (head, indent) = old.rsplit_once('\n').map_or(("", old.as_str()), |(h, i)| (h, i));
    let head = if old.contains('\n') { format!("{head}\n") } else { String::new() };
    decor.set_prefix(format!("{head}{indent}# {note}\n{indent}"));
}

/// The default path of the calibrated file: next to FILE.
pub fn default_out(file: &Path) -> PathBuf {
    let stem = file.file_stem().map_or_else(|| "scenario".into(), |s| s.to_string_lossy().into_owned());
    file.with_file_name(format!("{stem}.calibrated.toml"))
}

/// `mailsim calibrate`: exit 0 with consistent draws found and the file
/// written, 1 when no draw is consistent (the nearest are reported and
/// written), 2 on invalid input.
pub fn calibrate_cmd(a: &CalibrateArgs) -> ExitCode {
    let s = match crate::output::load_scenario(&a.file) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match calibrate_loaded(a, &s) {
        Ok(code) => code,
        Err(e) => crate::output::invalid(e),
    }
}

/// `calibrate_cmd` once the scenario loaded: runs this machine's draws (or
/// merges the shards' draws), then writes and shows the calibrated file. An
/// error says what is wrong with the input.
fn calibrate_loaded(a: &CalibrateArgs, s: &Scenario) -> Result<ExitCode, String> {
    let file = a.file.display();
    let text = std::fs::read_to_string(&a.file).map_err(|e| format!("{file}: cannot read: {e}"))?;
    let jobs = a.jobs.unwrap_or_else(crate::pool::cores).max(1);
    let o = Options { draws: a.draws, seeds: a.seeds, seed: a.seed, jobs, keep: a.keep };
    // Refuse a range the file does not write before running anything.
    written_ranges(&text, s).map_err(|e| format!("{file}: {e}"))?;
    let file_hash = scenario_hash(&a.file).map_err(|e| e.to_string())?;
    let (o, c) = if a.merge.is_empty() {
        match calibrate_here(a, s, &o, &file_hash)? {
            Some(c) => (o, c),
            // One shard of the draws, written for a later `--merge`.
            None => return Ok(ExitCode::SUCCESS),
        }
    } else {
        merge_and_conclude(a, s, &file_hash, jobs)?
    };
    let command = format!(
        "mailsim calibrate {} --draws {} --seeds {} --seed {}{}{}",
        a.file.display(),
        o.draws,
        o.seeds,
        o.seed,
        if a.keep_ranges { " --keep-ranges" } else { "" },
        if a.merge.is_empty() { String::new() } else { format!(" (merged from {} shards)", a.merge.len()) }
    );
    let out = write_calibrated(a, &text, s, &c, &command)?;
    let mut human = report_text(&c, &command);
    human.push_str(&format!("\ncalibrated file written to {}\n", out.display()));
    let shown = if a.json {
        crate::output::stderr(&human);
        crate::output::stdout_line(&serde_json::to_string_pretty(&c).expect("a calibration serializes"))
    } else {
        crate::output::stdout(&human)
    };
    shown.map_err(|e| format!("cannot write to stdout: {e}"))?;
    Ok(if c.consistent > 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Runs this machine's share of the draws (`--shard`, or all of them):
/// concludes when it ran all, else writes them as a shard file and returns
/// `None`.
fn calibrate_here(a: &CalibrateArgs, s: &Scenario, o: &Options, file_hash: &str) -> Result<Option<Calibration>, String> {
    let shard = resolve_shard(a.shard, a.shards, |k| std::env::var(k).ok())?;
    let started = Instant::now();
    let draws = run_draws(s, o, shard).map_err(|e| format!("{}: {e}", a.file.display()))?;
    let wall_s = started.elapsed().as_secs_f64();
    if shard == Shard::ALL {
        let every = draws.into_iter().map(|(_, d)| d).collect();
        return conclude(s, o, every, wall_s).map(Some).map_err(|e| format!("{}: {e}", a.file.display()));
    }
    let n = draws.len();
    let f = shard_file(s, o, file_hash, shard, draws, wall_s);
    let out = a.out.clone().unwrap_or_else(|| default_shard_out(&a.file, shard));
    let json = serde_json::to_string_pretty(&f).expect("a shard serializes");
    write_atomic(&out, json.as_bytes()).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    note!(
        "calibrate {} shard {shard}: {n} of {} draws x {} seeds in {wall_s:.1} s, written to {}; conclude with `mailsim calibrate {} --merge` and every shard's file",
        s.name(),
        o.draws,
        o.seeds,
        out.display(),
        a.file.display()
    );
    Ok(None)
}

/// Reads the shard files `--merge` names, checks they are the shards of one
/// calibration of this file, and concludes over all their draws; returns
/// the options they ran with (this run's `--jobs` and `--keep`).
fn merge_and_conclude(a: &CalibrateArgs, s: &Scenario, file_hash: &str, jobs: usize) -> Result<(Options, Calibration), String> {
    let mut shards = Vec::new();
    for path in &a.merge {
        let read = std::fs::read_to_string(path).map_err(|e| e.to_string());
        match read.and_then(|t| serde_json::from_str::<ShardFile>(&t).map_err(|e| e.to_string())) {
            Ok(f) => shards.push((path.clone(), f)),
            Err(e) => return Err(format!("{}: not a calibration shard: {e}", path.display())),
        }
    }
    let (merged, every, wall_s) = merge_shards(s, file_hash, &shards).map_err(|e| format!("{}: {e}", a.file.display()))?;
    let o = Options { jobs, keep: a.keep, ..merged };
    let c = conclude(s, &o, every, wall_s).map_err(|e| format!("{}: {e}", a.file.display()))?;
    Ok((o, c))
}

/// Writes the calibrated file (`--out`, or next to FILE) and checks that it
/// loads as the original did; returns where it went.
fn write_calibrated(a: &CalibrateArgs, text: &str, s: &Scenario, c: &Calibration, command: &str) -> Result<PathBuf, String> {
    let out = a.out.clone().unwrap_or_else(|| default_out(&a.file));
    let written = calibrated_text(text, s, c, a.keep_ranges, command).map_err(|e| format!("{}: {e}", a.file.display()))?;
    std::fs::write(&out, &written).map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    // The calibrated file must load as the original did.
    Scenario::load(&out).map_err(|e| format!("the calibrated file does not load (a bug in calibrate): {e}"))?;
    Ok(out)
}

/// Whether every range of `s` is written in `text` (the file itself, not
/// a file it extends), so that the calibrated file can replace it.
fn written_ranges(text: &str, s: &Scenario) -> Result<(), String> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e| format!("cannot edit the file: {e}"))?;
    for r in &s.ranges {
        if item_mut(doc.as_item_mut(), &r.path.0).is_none() {
            return Err(not_written(r));
        }
    }
    Ok(())
}

fn not_written(r: &Ranged) -> String {
    format!(
        "the range at `{}` comes from a file this one extends, inside an array (a variant replaces an array whole): calibrate that file",
        r.path
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::FieldPath;
    use crate::ranges::Kind;

    fn range(lo: i128, hi: i128, kind: Kind) -> Ranged {
        Ranged { path: FieldPath::parse("x"), kind, lo, hi, reason: "r".into() }
    }

    #[test]
    fn the_hypercube_puts_one_draw_in_each_stratum_and_repeats_itself() {
        let rs = [range(0, 1000, Kind::Duration), Ranged { path: FieldPath::parse("y"), ..range(10, 19, Kind::Integer) }];
        let d = draw_values(&rs, 10, 7);
        assert_eq!(d, draw_values(&rs, 10, 7), "the same seed draws the same values");
        assert_ne!(d, draw_values(&rs, 10, 8), "another seed draws others");
        let mut strata: Vec<i128> = d.iter().map(|v| v[0] / 100).collect();
        strata.sort_unstable();
        assert_eq!(strata, (0..10).collect::<Vec<_>>(), "one draw per tenth of the range");
        let mut ints: Vec<i128> = d.iter().map(|v| v[1]).collect();
        ints.sort_unstable();
        assert_eq!(ints, (10..20).collect::<Vec<_>>(), "integers: every value once, the high end included");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<i128> = (1..=20).collect();
        assert_eq!((percentile(&v, 5), percentile(&v, 50), percentile(&v, 95)), (1, 10, 19));
        assert_eq!(percentile(&[4], 95), 4);
    }
}
