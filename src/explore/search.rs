//! The search over fault combinations: harm per run, screening, guided
//! sampling, confirmation over seeds, shrinking, confluences and coverage.
//!
//! A combination is a set of candidates of the fault space (`space.rs`),
//! run as the input file's `[[faults]]` in place of its own. Its harm on a
//! seed is measured against the same seed without faults (common random
//! numbers: the workload, operators and clients draw the same numbers), with
//! the service-level figures every report uses (`compare::metrics_of`,
//! `availability::summarize`): user-hours without full service, mail lost,
//! mail bounced, p99 delivery delay, split brain.
//!
//! Sizes 1, 2, 3 are searched in turn. Every single fault is run. A larger
//! combination that contains a combination already found harmful is not
//! run: its harm is explained, and the search is for minimal ones. Where
//! the remaining combinations of a size fit the budget they are all run
//! (exhaustive); otherwise the search is guided: swarm sampling (each draw
//! enables a random subset of the fault kinds, Groce et al., "Swarm
//! Testing", ISSTA 2012, then picks faults among them) mixed with growing
//! and mutating the combinations kept so far, those that raised harm above
//! their parts' or reached coverage not reached before (AFL's corpus rule).
//! The explorer's own draws come from a seeded stream, and batches run on
//! the seed pool in index order, so a search is reproducible.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use mailsim_models::ledger::SPLIT_BRAIN;
use mailsim_sim::{PropertyStatus, Stream};
use serde::{Deserialize, Serialize};

use super::space::{canonical, compatible, Candidate, Role};
use crate::pool::map_jobs;
use crate::run::{run, RunResult};
use crate::scenario::{Scenario, ScenarioFile};

/// What makes a run harmful, above the same seed without faults.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Thresholds {
    /// Hours without full service per user, on average over the users.
    pub outage_h_per_user: f64,
    /// Growth of the p99 delivery delay, seconds.
    pub p99_s: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { outage_h_per_user: 0.5, p99_s: 3600 }
    }
}

/// How the search runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Largest combination (1 to 3).
    pub max_faults: usize,
    /// Seeds every combination is screened on (0..n).
    pub seeds: u64,
    /// Seeds a harmful combination is confirmed on (0..n, at least `seeds`).
    pub confirm_seeds: u64,
    /// Combinations run per size beyond the singles, at most.
    pub budget: usize,
    pub jobs: usize,
    /// Seeds the explorer's own stream (guided sampling).
    pub search_seed: u64,
    pub thresholds: Thresholds,
    /// This shard (K of N): combinations of size 2 and 3 are split by index
    /// (exhaustive) or searched with the shard's own stream (guided).
    pub shard: (u64, u64),
}

/// The harm of one run, above the same seed without faults.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Harm {
    /// User-hours without full service.
    pub user_hours: f64,
    /// Peak share of users without full service, %.
    pub users_peak_pct: f64,
    /// Peak share of mailboxes unavailable, %.
    pub mailboxes_peak_pct: f64,
    pub lost: u64,
    /// Mail given up by senders or returned by the cluster's own MTAs.
    pub bounced: u64,
    /// Growth of the p99 delivery delay, seconds.
    pub p99_s: i64,
    pub split_brain: bool,
    /// Per fault of the combination: it fired and changed something.
    pub effects: Vec<bool>,
    /// The run did not end normally (model panic, budget).
    pub abnormal: Option<String>,
}

impl Harm {
    /// Whether this run counts as harmful.
    pub fn harmful(&self, users: u32, th: &Thresholds) -> bool {
        self.lost > 0
            || self.split_brain
            || self.bounced > 0
            || self.abnormal.is_some()
            || self.user_hours >= th.outage_h_per_user * f64::from(users.max(1))
            || self.p99_s >= th.p99_s as i64
    }
    /// A safety harm: mail lost, split brain, a run that did not end.
    pub fn unsafe_run(&self) -> bool {
        self.lost > 0 || self.split_brain || self.abnormal.is_some()
    }
    /// The harm score above the same seed without faults (see
    /// [`HARM_SCORE_TEXT`]).
    pub fn score(&self, users: u32) -> f64 {
        score_of(self.user_hours, self.lost, self.bounced, self.p99_s as f64, self.split_brain, users)
    }
}

/// The harm score, in user-hours without full service: what the ranking
/// orders by (after the safety harms) and what `--plans` minimizes.
///
/// The service-level figures weighed into one number, stated:
/// - a user-hour without full service counts 1;
/// - a bounced mail counts 1 user-hour: its sender learns it was not
///   delivered and must act, a lasting failure one user sees;
/// - growth of the p99 delivery delay by one hour counts 1% of the users
///   for an hour (the p99 is the delay 1% of the mail exceeds);
/// - a lost mail counts [`LOST_WEIGHT`] and a run in split brain
///   [`SPLIT_BRAIN_WEIGHT`]: more than every user of the simulated sizes
///   without service for days, so they dominate as the ranking's
///   safety-first order says. (RFC 5321 §6.1: once a server has accepted a
///   message it must not lose it; a split brain can deliver or lose mail
///   twice over.)
pub const HARM_SCORE_TEXT: &str = "user-hours without full service + 1 per bounced mail + 1% of the users × hours of p99 delay growth + 1,000 per lost mail + 10,000 per run in split brain (lost mail and split brain dominate)";

/// How the ranking orders findings, as the report states it.
///
/// Safety first. Then likelihood: each active fault is an independent
/// failure, and a combination of two needs the second during the first's
/// repair window, far rarer than one (two failures of rate λ, each
/// repaired in R, overlap about 2·λ·R times as often as one fails;
/// NUREG-0492, "Fault Tree Handbook", U.S. Nuclear
/// Regulatory Commission, 1981, on the minimal cut sets of order one
/// and two), while a latent fault is a standing condition (OpenSRS's path
/// fault waited a week for parts). So a latent fault plus one active one,
/// the shape of every outage replayed in `scenarios/`, ranks with the single faults,
/// above two active faults together; within a tier, by harm.
pub const RANKING_TEXT: &str = "safety first (seeds with mail lost, split brain or a run that did not end), then fewer active faults first (each is an independent failure that must coincide with the others; a latent fault is a standing condition), then the harm score";

/// User-hours a lost mail weighs in the harm score.
pub const LOST_WEIGHT: f64 = 1_000.0;
/// User-hours a run in split brain weighs in the harm score.
pub const SPLIT_BRAIN_WEIGHT: f64 = 10_000.0;

/// The harm score of these figures (see [`HARM_SCORE_TEXT`]); `p99_s` is a
/// growth (the ranking) or a level (`--plans`, where only differences
/// between plans count).
pub fn score_of(user_hours: f64, lost: u64, bounced: u64, p99_s: f64, split_brain: bool, users: u32) -> f64 {
    user_hours
        + bounced as f64
        + 0.01 * f64::from(users) * (p99_s.max(0.0) / 3600.0)
        + LOST_WEIGHT * lost as f64
        + if split_brain { SPLIT_BRAIN_WEIGHT } else { 0.0 }
}

/// The harm score of a run's own figures (no baseline subtracted: for
/// paired comparisons of plans).
pub fn harm_score(r: &RunResult, users: u32) -> f64 {
    let f = &r.figures;
    score_of(
        f.availability.user_minutes.without_full_service_total as f64 / 60.0,
        f.lost,
        bounced(r),
        f.delay_s_p99 as f64,
        split_brain(r),
        users,
    )
}

/// What the same seed shows without faults.
#[derive(Clone, Debug)]
struct Baseline {
    user_minutes: u64,
    bounced: u64,
    p99_s: u64,
}

fn bounced(r: &RunResult) -> u64 {
    r.figures.sender_bounced + r.figures.returned
}

fn split_brain(r: &RunResult) -> bool {
    r.report.properties.iter().any(|p| p.name == SPLIT_BRAIN.name && matches!(p.status, PropertyStatus::Violated { .. }))
}

/// One combination's results: per seed (index = seed), harm.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Evaluated {
    pub harms: Vec<Harm>,
}

/// A combination with its harm over the confirmation seeds.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// Indices into the space.
    pub faults: Vec<usize>,
    /// Labels, as the report shows them.
    pub labels: Vec<String>,
    /// Seeds run, and how many were harmful.
    pub seeds: u64,
    pub harmful_seeds: u64,
    pub unsafe_seeds: u64,
    /// Active faults in the combination: independent failures that must
    /// coincide (latent ones are standing conditions). The ranking's order
    /// after the safety harms: fewer first (see [`RANKING_TEXT`]).
    pub active_faults: u64,
    /// The harm score (see [`HARM_SCORE_TEXT`]): mean, min, max over
    /// seeds; the ranking's order after the active faults.
    pub score: [f64; 3],
    /// User-hours without full service: mean, min, max over seeds.
    pub user_hours: [f64; 3],
    /// Peak share of users without full service, %: mean, min, max.
    pub users_peak_pct: [f64; 3],
    /// Peak share of mailboxes unavailable, %: mean, min, max.
    pub mailboxes_peak_pct: [f64; 3],
    pub lost_max: u64,
    pub bounced_mean: f64,
    pub p99_s_mean: f64,
    pub split_brain_seeds: u64,
    /// Every fault harmless alone (harmful on fewer than half the seeds):
    /// a confluence. For a single fault, false.
    pub confluence: bool,
    /// Each fault alone: harmful seeds of the seeds run.
    pub alone_harmful_seeds: Vec<u64>,
    /// The combination it was shrunk from, if larger.
    pub shrunk_from: Option<Vec<String>>,
    /// The scenario file written for it.
    pub file: Option<PathBuf>,
    /// The scenario it ran (the input with these faults).
    #[serde(skip)]
    pub scenario: Option<ScenarioFile>,
}

/// Per candidate: what the search reached.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Reach {
    /// Combinations it was in.
    pub runs: u64,
    /// Runs in which it fired and changed something.
    pub effect: u64,
    /// Harmful combinations (screened) it was in.
    pub harmful: u64,
}

/// The whole search.
#[derive(Clone, Debug, Serialize)]
pub struct Exploration {
    pub space: Vec<Candidate>,
    /// Combinations run, by size (1, 2, 3).
    pub evaluated: [u64; 3],
    /// Combinations of each size the space holds (compatible ones), and
    /// those left after dropping any that contain a harmful one.
    pub space_size: [u64; 3],
    pub minimal_space: [u64; 3],
    /// How each size was searched: `exhaustive`, `guided` or `skipped`.
    pub mode: [String; 3],
    pub runs: u64,
    /// Confirmed harmful, minimal combinations, ranked (safety first,
    /// then user-hours).
    pub ranking: Vec<Finding>,
    /// The ranking grouped by shape (see [`Class`]), worst first.
    pub classes: Vec<Class>,
    pub reach: Vec<Reach>,
    pub users: u32,
    pub thresholds: Thresholds,
    pub confirm_seeds: u64,
    pub screen_seeds: u64,
    /// Every combination run, with its harm per seed (for shard merging:
    /// a list of `[combination, results]`).
    #[serde(serialize_with = "results_as_list")]
    pub results: BTreeMap<Vec<usize>, Evaluated>,
}

fn results_as_list<S: serde::Serializer>(m: &BTreeMap<Vec<usize>, Evaluated>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(m.iter())
}

/// What a shard's JSON holds that a merge needs (`mailsim explore FILE
/// --merge DIR`).
#[derive(Clone, Debug, Deserialize)]
pub struct ShardResults {
    /// The labels of the space searched: the shards must agree.
    pub space: Vec<ShardCandidate>,
    pub evaluated: [u64; 3],
    pub space_size: [u64; 3],
    pub mode: [String; 3],
    pub runs: u64,
    pub results: Vec<(Vec<usize>, Evaluated)>,
}

/// A candidate as a shard's JSON names it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ShardCandidate {
    pub kind: String,
    pub target: String,
    pub phase: ShardPhase,
}

/// A candidate's phase as a shard's JSON names it.
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
pub struct ShardPhase {
    pub name: String,
}

/// The explorer's state: the file without faults, the space, the cache.
pub struct Explorer {
    pub base: ScenarioFile,
    pub path: PathBuf,
    pub space: Vec<Candidate>,
    pub users: u32,
    opts: Options,
    baselines: Vec<Baseline>,
    pub cache: BTreeMap<Vec<usize>, Evaluated>,
    pub runs: u64,
}

impl Explorer {
    /// `s` with its faults (and expectations, checkpoints) removed is the
    /// baseline; `space` is searched on top of it.
    pub fn new(s: &Scenario, space: Vec<Candidate>, opts: Options) -> Result<Explorer, String> {
        let mut base = s.file.clone();
        base.faults.clear();
        base.random_faults.clear();
        base.expect = Default::default();
        base.checkpoints.clear();
        let path = s.path.clone();
        let users = s.topology.clients.as_ref().map_or(0, |c| c.users);
        let mut e = Explorer { base, path, space, users, opts, baselines: Vec::new(), cache: BTreeMap::new(), runs: 0 };
        let seeds = e.opts.confirm_seeds.max(e.opts.seeds);
        let plain = e.scenario(&[])?;
        e.baselines = map_jobs(seeds, e.opts.jobs, |seed| {
            let r = run(&plain, seed);
            Baseline {
                user_minutes: r.figures.availability.user_minutes.without_full_service_total,
                bounced: bounced(&r),
                p99_s: r.figures.delay_s_p99,
            }
        });
        e.runs += seeds;
        // Every fault of the space must make a valid file on its own.
        for i in 0..e.space.len() {
            e.scenario(&[i]).map_err(|m| format!("fault `{}` of the space: {m}", e.space[i].label()))?;
        }
        Ok(e)
    }

    /// The scenario with these faults. Recovery steps the file fires at a
    /// fixed time (`at`) are the operators' response to the outage the file
    /// starts at T+0: they move with the first active fault (a controller
    /// failing at the night hour is answered from the night hour, not
    /// "replaced" before it failed).
    pub fn file(&self, combo: &[usize]) -> ScenarioFile {
        let mut f = self.base.clone();
        f.faults = combo.iter().map(|&i| self.space[i].entry.clone()).collect();
        let shift = combo.iter().filter(|&&i| self.space[i].role == Role::Active).map(|&i| self.space[i].phase.at.micros()).min();
        if let Some(shift) = shift.filter(|&s| s > 0) {
            let end = f.run.duration.micros();
            for step in &mut f.recovery {
                if let Some(at) = &mut step.at {
                    at.0 = (at.0 + shift).min(end);
                }
            }
        }
        f
    }

    fn scenario(&self, combo: &[usize]) -> Result<Scenario, String> {
        Scenario::from_file(self.file(combo), &self.path).map_err(|e| e.to_string())
    }

    fn harm(&self, combo: &[usize], r: &RunResult, seed: u64) -> Harm {
        let b = &self.baselines[seed as usize];
        let f = &r.figures;
        let effects = combo
            .iter()
            .map(|&i| {
                let c = &self.space[i];
                let at = c.phase.at.micros().max(0) as u64;
                r.report.faults.iter().any(|fr| fr.scheduled && fr.effect && fr.kind == c.kind && fr.at.as_micros() == at)
            })
            .collect();
        let outcome = &r.report.outcome;
        let abnormal = (!outcome.is_ok() && outcome.violation().is_none()).then(|| outcome.class().to_string());
        Harm {
            user_hours: f.availability.user_minutes.without_full_service_total.saturating_sub(b.user_minutes) as f64 / 60.0,
            users_peak_pct: f.users_affected_peak() as f64 / 10_000.0,
            mailboxes_peak_pct: f.peak_unavailable_ppm as f64 / 10_000.0,
            lost: f.lost,
            bounced: bounced(r).saturating_sub(b.bounced),
            p99_s: f.delay_s_p99 as i64 - b.p99_s as i64,
            split_brain: split_brain(r),
            effects,
            abnormal,
        }
    }

    /// Runs every combination on seeds `0..seeds` not yet run, in parallel.
    pub fn eval(&mut self, combos: &[Vec<usize>], seeds: u64) {
        let mut jobs: Vec<(Vec<usize>, u64)> = Vec::new();
        for c in combos {
            let have = self.cache.get(c).map_or(0, |e| e.harms.len() as u64);
            for seed in have..seeds {
                jobs.push((c.clone(), seed));
            }
        }
        if jobs.is_empty() {
            return;
        }
        let this = &*self;
        let harms = map_jobs(jobs.len() as u64, self.opts.jobs, |j| {
            let (combo, seed) = &jobs[j as usize];
            let s = this.scenario(combo).expect("every combination of valid faults is a valid file");
            let r = run(&s, *seed);
            this.harm(combo, &r, *seed)
        });
        self.runs += jobs.len() as u64;
        // Jobs are in combination then seed order, so pushes keep seed order.
        for ((combo, _), h) in jobs.into_iter().zip(harms) {
            self.cache.entry(combo).or_default().harms.push(h);
        }
    }

    fn harmful_seeds(&self, combo: &[usize], seeds: u64) -> u64 {
        self.cache
            .get(combo)
            .map_or(0, |e| e.harms.iter().take(seeds as usize).filter(|h| h.harmful(self.users, &self.opts.thresholds)).count() as u64)
    }

    /// Screened harmful: harmful on any screening seed.
    fn screened_harmful(&self, combo: &[usize]) -> bool {
        self.harmful_seeds(combo, self.opts.seeds) > 0
    }

    /// Confirmed: run on the confirmation seeds, harmful on at least half.
    fn confirmed(&mut self, combo: &[usize]) -> bool {
        self.eval(&[combo.to_vec()], self.opts.confirm_seeds);
        2 * self.harmful_seeds(combo, self.opts.confirm_seeds) >= self.opts.confirm_seeds
    }

    fn score(&self, combo: &[usize]) -> f64 {
        self.cache.get(combo).map_or(0.0, |e| e.harms.iter().map(|h| h.user_hours).sum::<f64>() / e.harms.len().max(1) as f64)
    }

    /// The whole search: every single fault, then each larger size
    /// exhaustively when its minimal combinations fit the budget, else
    /// guided by what the smaller sizes found.
    pub fn explore(mut self) -> Exploration {
        let n = self.space.len();
        let mut evaluated = [0u64; 3];
        let mut space_size = [0u64; 3];
        let mut minimal_space = [0u64; 3];
        let mut mode = [String::new(), String::new(), String::new()];
        let mut rng = Stream::new(self.opts.search_seed.wrapping_add(self.opts.shard.0.wrapping_mul(0x9E37_79B9_7F4A_7C15)), "explore");

        // Size 1: every fault.
        let singles: Vec<Vec<usize>> = (0..n).map(|i| vec![i]).filter(|c| ok(&self.space, c)).collect();
        self.eval(&singles, self.opts.seeds);
        evaluated[0] = singles.len() as u64;
        space_size[0] = n as u64;
        minimal_space[0] = singles.len() as u64;
        mode[0] = "exhaustive".into();
        let mut found = self.found_in_singles(&singles);

        for k in 2..=self.opts.max_faults.min(3) {
            let all = combinations(&self.space, k);
            space_size[k - 1] = count_combinations(&self.space, k);
            let (shard, shards) = self.opts.shard;
            let minimal: Option<Vec<Vec<usize>>> = all.map(|v| v.into_iter().filter(|c| !found.contains_harmful(c)).collect());
            minimal_space[k - 1] = minimal.as_ref().map_or(space_size[k - 1], |m| m.len() as u64);
            let batch_results: Vec<Vec<usize>> = match minimal {
                Some(m) if (m.len() as u64).div_ceil(shards) <= self.opts.budget as u64 => {
                    mode[k - 1] = "exhaustive".into();
                    let mine: Vec<Vec<usize>> =
                        m.into_iter().enumerate().filter(|(i, _)| *i as u64 % shards == shard).map(|x| x.1).collect();
                    self.eval(&mine, self.opts.seeds);
                    mine
                }
                _ => {
                    mode[k - 1] = "guided".into();
                    self.guided(k, &mut found, &mut rng)
                }
            };
            evaluated[k - 1] = batch_results.len() as u64;
            for c in &batch_results {
                if self.screened_harmful(c) {
                    found.harmful.insert(c.clone());
                } else if k < self.opts.max_faults && self.score(c) > subsets(c).iter().map(|s| self.score(s)).fold(0.0, f64::max) + 1.0 {
                    found.kept.push(c.clone());
                }
            }
        }
        for (i, m) in mode.iter_mut().enumerate() {
            if m.is_empty() {
                *m = if i < self.opts.max_faults { "skipped".into() } else { "not asked".into() };
            }
        }
        self.finish(found.harmful, evaluated, space_size, minimal_space, mode)
    }

    /// What the single faults (already run) teach: the harmful ones, and the
    /// harmless ones that had an effect, to grow larger combinations from.
    fn found_in_singles(&self, singles: &[Vec<usize>]) -> Found {
        let harmful: BTreeSet<Vec<usize>> = singles.iter().filter(|c| self.screened_harmful(c)).cloned().collect();
        let mut found = Found { harmful, kept: Vec::new(), seen_effect: BTreeSet::new() };
        for c in singles {
            if self.cache[c].harms.iter().any(|h| h.effects[0]) {
                found.seen_effect.insert((c[0], c[0]));
                if !found.harmful.contains(c) {
                    found.kept.push(c.clone());
                }
            }
        }
        found
    }

    /// The guided search of combinations of `k` faults: rounds of new
    /// combinations (grown from kept ones, or drawn swarm-style), run and
    /// learnt from, until the budget is spent or 50 draws in a row bring
    /// nothing new. Returns the combinations run.
    fn guided(&mut self, k: usize, found: &mut Found, rng: &mut Stream) -> Vec<Vec<usize>> {
        let mut results: Vec<Vec<usize>> = Vec::new();
        let mut tried: BTreeSet<Vec<usize>> = BTreeSet::new();
        let batch = (self.opts.jobs * 8).max(32);
        let mut misses = 0;
        while results.len() < self.opts.budget && misses < 50 {
            let size = batch.min(self.opts.budget - results.len());
            let mut round = Vec::new();
            while round.len() < size && misses < 50 {
                let c = if !found.kept.is_empty() && rng.below(2) == 0 {
                    grow(&self.space, &found.kept[rng.below(found.kept.len() as u64) as usize], k, rng)
                } else {
                    swarm(&self.space, k, rng)
                };
                match c {
                    Some(c) if !tried.contains(&c) && !found.contains_harmful(&c) => {
                        tried.insert(c.clone());
                        round.push(c);
                        misses = 0;
                    }
                    _ => misses += 1,
                }
            }
            self.eval(&round, self.opts.seeds);
            for c in &round {
                self.learn(c, found);
            }
            results.extend(round);
        }
        results
    }

    /// Learns from a combination the guided search ran: harmful, or else
    /// kept to grow from if it raised the harm of its best part by more than
    /// a user-hour or brought two faults' effects together for the first
    /// time.
    fn learn(&self, c: &[usize], found: &mut Found) {
        let parts_best = subsets(c).iter().map(|s| self.score(s)).fold(0.0, f64::max);
        let raised = self.score(c) > parts_best + 1.0;
        let mut new_cov = false;
        for (x, &i) in c.iter().enumerate() {
            for &j in &c[x..] {
                let effect = self.cache[c].harms.iter().any(|h| {
                    h.effects[c.iter().position(|&q| q == i).expect("in c")] && h.effects[c.iter().position(|&q| q == j).expect("in c")]
                });
                if effect && found.seen_effect.insert((i, j)) {
                    new_cov = true;
                }
            }
        }
        if self.screened_harmful(c) {
            found.harmful.insert(c.to_vec());
        } else if raised || new_cov {
            found.kept.push(c.to_vec());
        }
    }

    /// The combinations run that contain no screened-harmful smaller
    /// combination run (a single search runs no others; shards of an
    /// exhaustive size may, having not seen each other's), and among them
    /// the screened-harmful ones.
    fn minimal_runs(&self) -> (BTreeSet<Vec<usize>>, BTreeSet<Vec<usize>>) {
        let mut by_size: Vec<&Vec<usize>> = self.cache.keys().collect();
        by_size.sort_by_key(|c| c.len());
        let mut harmful: BTreeSet<Vec<usize>> = BTreeSet::new();
        let mut kept: BTreeSet<Vec<usize>> = BTreeSet::new();
        for c in by_size {
            let covered = all_proper_subsets(c).iter().any(|s| harmful.contains(s));
            if covered {
                continue;
            }
            kept.insert(c.clone());
            if self.screened_harmful(c) {
                harmful.insert(c.clone());
            }
        }
        (kept, harmful)
    }

    /// Merges shards' results (`--shard K/N` of the same file, kinds and
    /// options) and finishes as one search would: the screened-harmful
    /// combinations are confirmed, shrunk and ranked from the shards' runs
    /// (any run a shard did not make is made here).
    pub fn merge(mut self, shards: Vec<ShardResults>) -> Result<Exploration, String> {
        let labels: Vec<ShardCandidate> = self
            .space
            .iter()
            .map(|c| ShardCandidate { kind: c.kind.clone(), target: c.target.clone(), phase: ShardPhase { name: c.phase.name.into() } })
            .collect();
        let singles = (0..self.space.len()).filter(|&i| ok(&self.space, &[i])).count() as u64;
        let mut evaluated = [singles, 0, 0];
        let mut runs = 0;
        for sh in &shards {
            let phases_match = sh.space.len() == labels.len() && sh.space.iter().zip(&labels).all(|(a, b)| a == b);
            if !phases_match {
                return Err("a shard searched another fault space (another file, --kinds or version)".into());
            }
            evaluated[1] += sh.evaluated[1];
            evaluated[2] += sh.evaluated[2];
            runs += sh.runs;
            for (c, e) in &sh.results {
                let have = self.cache.get(c).map_or(0, |x| x.harms.len());
                if e.harms.len() > have {
                    self.cache.insert(c.clone(), e.clone());
                }
            }
        }
        let first = shards.first().ok_or("no shard to merge")?;
        let (space_size, mode) = (first.space_size, first.mode.clone());
        let (kept, harmful) = self.minimal_runs();
        self.cache.retain(|c, _| kept.contains(c));
        let mut minimal_space = [singles, 0, 0];
        for k in 2..=3 {
            minimal_space[k - 1] = match combinations(&self.space, k) {
                Some(all) => all.iter().filter(|c| !all_proper_subsets(c).iter().any(|s| harmful.contains(s))).count() as u64,
                None => space_size[k - 1],
            };
        }
        self.runs += runs;
        Ok(self.finish(harmful, evaluated, space_size, minimal_space, mode))
    }

    /// Confirms, shrinks and ranks the harmful combinations; the coverage.
    fn finish(
        mut self,
        harmful: BTreeSet<Vec<usize>>,
        evaluated: [u64; 3],
        space_size: [u64; 3],
        minimal_space: [u64; 3],
        mode: [String; 3],
    ) -> Exploration {
        let n = self.space.len();
        // Confirm, shrink, rank.
        let mut minimal: BTreeMap<Vec<usize>, Option<Vec<usize>>> = BTreeMap::new();
        for c in harmful.iter() {
            if !self.confirmed(c) {
                continue;
            }
            let cur = self.shrink(c);
            let from = (cur != *c).then(|| c.clone());
            minimal.entry(cur).or_insert(from);
        }
        let mut ranking: Vec<Finding> = minimal.into_iter().map(|(c, from)| self.finding(&c, from)).collect();
        ranking.sort_by(|a, b| {
            b.unsafe_seeds
                .cmp(&a.unsafe_seeds)
                .then(a.active_faults.cmp(&b.active_faults))
                .then(b.score[0].total_cmp(&a.score[0]))
                .then(a.faults.cmp(&b.faults))
        });

        let mut reach = vec![Reach::default(); n];
        let (kept, _) = self.minimal_runs();
        for (c, e) in self.cache.iter().filter(|(c, _)| kept.contains(*c)) {
            for (x, &i) in c.iter().enumerate() {
                reach[i].runs += e.harms.len() as u64;
                reach[i].effect += e.harms.iter().filter(|h| h.effects[x]).count() as u64;
            }
        }
        for f in &ranking {
            for &i in &f.faults {
                reach[i].harmful += 1;
            }
        }
        let classes = classes(&self.space, &ranking);
        Exploration {
            space: self.space.clone(),
            evaluated,
            space_size,
            minimal_space,
            mode,
            runs: self.runs,
            ranking,
            classes,
            reach,
            users: self.users,
            thresholds: self.opts.thresholds,
            confirm_seeds: self.opts.confirm_seeds,
            screen_seeds: self.opts.seeds,
            results: self.cache,
        }
    }

    /// The combination shrunk while it stays confirmed harmful: faults
    /// removed one at a time (greedy, as `shrink.rs` does for a failing
    /// scenario) until no smaller part is harmful.
    pub fn shrink(&mut self, c: &[usize]) -> Vec<usize> {
        let mut cur = c.to_vec();
        'shrink: while cur.len() > 1 {
            for s in subsets(&cur) {
                if self.confirmed(&s) {
                    cur = s;
                    continue 'shrink;
                }
            }
            break;
        }
        cur
    }

    fn finding(&mut self, c: &[usize], from: Option<Vec<usize>>) -> Finding {
        let seeds = self.opts.confirm_seeds;
        let mut alone = Vec::new();
        if c.len() > 1 {
            for &i in c {
                self.eval(&[vec![i]], seeds);
                alone.push(self.harmful_seeds(&[i], seeds));
            }
        }
        let confluence = c.len() > 1 && alone.iter().all(|&a| 2 * a < seeds);
        let hs = &self.cache[c].harms[..seeds as usize];
        let stat = |f: &dyn Fn(&Harm) -> f64| {
            let v: Vec<f64> = hs.iter().map(f).collect();
            [
                v.iter().sum::<f64>() / v.len() as f64,
                v.iter().copied().fold(f64::INFINITY, f64::min),
                v.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            ]
        };
        Finding {
            faults: c.to_vec(),
            labels: c.iter().map(|&i| self.space[i].label()).collect(),
            seeds,
            harmful_seeds: self.harmful_seeds(c, seeds),
            unsafe_seeds: hs.iter().filter(|h| h.unsafe_run()).count() as u64,
            active_faults: c.iter().filter(|&&i| self.space[i].role == Role::Active).count() as u64,
            score: stat(&|h| h.score(self.users)),
            user_hours: stat(&|h| h.user_hours),
            users_peak_pct: stat(&|h| h.users_peak_pct),
            mailboxes_peak_pct: stat(&|h| h.mailboxes_peak_pct),
            lost_max: hs.iter().map(|h| h.lost).max().unwrap_or(0),
            bounced_mean: hs.iter().map(|h| h.bounced as f64).sum::<f64>() / hs.len() as f64,
            p99_s_mean: hs.iter().map(|h| h.p99_s as f64).sum::<f64>() / hs.len() as f64,
            split_brain_seeds: hs.iter().filter(|h| h.split_brain).count() as u64,
            confluence,
            alone_harmful_seeds: alone,
            shrunk_from: from.map(|f| f.iter().map(|&i| self.space[i].label()).collect()),
            file: None,
            scenario: Some(self.file(c)),
        }
    }
}

/// Findings of one shape: the same fault kinds, on components related in
/// the same way (whether two faults hit the same top-level component: a
/// shelf and its controller, a node and its fencing device), at any
/// phase. Symmetric parts (two controllers of a shelf, two shelves over
/// randomly placed mailboxes) give many findings of one shape; a reviewer
/// reads the shapes.
#[derive(Clone, Debug, Serialize)]
pub struct Class {
    /// `path-fault + controller-failure (same component)`.
    pub shape: String,
    /// Indices into the ranking, best first.
    pub members: Vec<usize>,
    /// Every member a confluence.
    pub confluence: bool,
    /// Mean user-hours of the worst member, and of the mildest.
    pub user_hours: [f64; 2],
}

/// A target's top-level component: `shelf-a` of `shelf-a/controller-b`,
/// `mx-1` of `mx-1/fence-ipmi`.
fn top(target: &str) -> &str {
    target.split('/').next().unwrap_or(target)
}

/// The shape of a combination (see [`Class`]).
pub fn shape(space: &[Candidate], c: &[usize]) -> String {
    let mut idx = c.to_vec();
    idx.sort_by(|&a, &b| (space[a].role, &space[a].kind).cmp(&(space[b].role, &space[b].kind)).then(a.cmp(&b)));
    let mut s = idx.iter().map(|&i| space[i].kind.as_str()).collect::<Vec<_>>().join(" + ");
    let mut rel = Vec::new();
    for x in 0..idx.len() {
        for y in x + 1..idx.len() {
            let same = top(&space[idx[x]].target) == top(&space[idx[y]].target);
            if idx.len() == 2 {
                rel.push(if same { "same component" } else { "different components" }.to_string());
            } else if same {
                rel.push(format!("{} and {} on one component", space[idx[x]].kind, space[idx[y]].kind));
            }
        }
    }
    if !rel.is_empty() {
        s.push_str(&format!(" ({})", rel.join(", ")));
    }
    s
}

fn classes(space: &[Candidate], ranking: &[Finding]) -> Vec<Class> {
    let mut out: Vec<Class> = Vec::new();
    for (r, f) in ranking.iter().enumerate() {
        let sh = shape(space, &f.faults);
        match out.iter_mut().find(|c| c.shape == sh) {
            Some(c) => {
                c.members.push(r);
                c.confluence &= f.confluence;
                c.user_hours[1] = c.user_hours[1].min(f.user_hours[0]);
            }
            None => {
                out.push(Class { shape: sh, members: vec![r], confluence: f.confluence, user_hours: [f.user_hours[0], f.user_hours[0]] })
            }
        }
    }
    out
}

/// Every non-empty proper subset of `c` (at most 3 faults: 6 subsets).
fn all_proper_subsets(c: &[usize]) -> Vec<Vec<usize>> {
    let n = c.len();
    (1..(1u32 << n) - 1).map(|m| (0..n).filter(|i| m & (1 << i) != 0).map(|i| c[i]).collect()).collect()
}

/// The subsets of `c` one fault smaller.
fn subsets(c: &[usize]) -> Vec<Vec<usize>> {
    if c.len() < 2 {
        return Vec::new();
    }
    (0..c.len()).map(|skip| c.iter().enumerate().filter(|(i, _)| *i != skip).map(|x| *x.1).collect()).collect()
}

/// What the search has found so far, which steers it.
struct Found {
    /// The combinations harmful on a screening seed.
    harmful: BTreeSet<Vec<usize>>,
    /// Harmless combinations worth growing into larger ones.
    kept: Vec<Vec<usize>>,
    /// Pairs of faults (a fault with itself too) seen having an effect in
    /// one run.
    seen_effect: BTreeSet<(usize, usize)>,
}

impl Found {
    /// Whether a smaller part of `c` is known harmful (a single fault in a
    /// triple too): then `c` is not minimal.
    fn contains_harmful(&self, c: &[usize]) -> bool {
        all_proper_subsets(c).iter().any(|s| self.harmful.contains(s))
    }
}

fn ok(space: &[Candidate], c: &[usize]) -> bool {
    c.iter().enumerate().all(|(x, &i)| c[x + 1..].iter().all(|&j| compatible(&space[i], &space[j]))) && canonical(space, c)
}

/// The most combinations enumerated in memory for an exhaustive pass;
/// beyond it a size is searched guided.
const ENUMERATE_MAX: u64 = 2_000_000;

fn count_combinations(space: &[Candidate], k: usize) -> u64 {
    let n = space.len() as u64;
    match k {
        2 => (0..space.len()).map(|i| (i + 1..space.len()).filter(|&j| compatible(&space[i], &space[j])).count() as u64).sum(),
        3 if n * n * n / 6 > ENUMERATE_MAX => n * (n - 1) * (n - 2) / 6,
        3 => combinations(space, 3).map_or(0, |v| v.len() as u64),
        _ => 0,
    }
}

/// Every compatible combination of size `k` (sorted indices), or `None`
/// when there are too many to list.
fn combinations(space: &[Candidate], k: usize) -> Option<Vec<Vec<usize>>> {
    let n = space.len();
    let approx = match k {
        2 => (n * n / 2) as u64,
        _ => (n as u64).pow(3) / 6,
    };
    if approx > ENUMERATE_MAX {
        return None;
    }
    let mut out = Vec::new();
    for i in 0..n {
        for j in i + 1..n {
            if k == 2 {
                if ok(space, &[i, j]) {
                    out.push(vec![i, j]);
                }
                continue;
            }
            for l in j + 1..n {
                if ok(space, &[i, j, l]) {
                    out.push(vec![i, j, l]);
                }
            }
        }
    }
    Some(out)
}

/// A swarm draw: a random subset of the kinds is enabled, then `k` faults
/// among theirs.
fn swarm(space: &[Candidate], k: usize, rng: &mut Stream) -> Option<Vec<usize>> {
    let kinds: BTreeSet<&str> = space.iter().map(|c| c.kind.as_str()).collect();
    let on: Vec<&str> = kinds.iter().copied().filter(|_| rng.below(2) == 0).collect();
    let pool: Vec<usize> = (0..space.len()).filter(|&i| on.contains(&space[i].kind.as_str())).collect();
    if pool.len() < k {
        return None;
    }
    let mut c: Vec<usize> = Vec::new();
    for _ in 0..k * 4 {
        let i = pool[rng.below(pool.len() as u64) as usize];
        if !c.contains(&i) {
            c.push(i);
        }
        if c.len() == k {
            break;
        }
    }
    c.sort_unstable();
    (c.len() == k && ok(space, &c)).then_some(c)
}

/// Grows a kept combination to size `k` by adding faults, or mutates one of
/// the same size by replacing a fault (with a latent one when it has none:
/// the confluences of the outages paired a latent with an active fault).
fn grow(space: &[Candidate], from: &[usize], k: usize, rng: &mut Stream) -> Option<Vec<usize>> {
    let mut c = from.to_vec();
    if c.len() >= k {
        c.remove(rng.below(c.len() as u64) as usize);
    }
    while c.len() < k {
        let has_latent = c.iter().any(|&i| space[i].role == Role::Latent);
        let pool: Vec<usize> =
            (0..space.len()).filter(|&i| !c.contains(&i) && (has_latent || rng.below(2) == 0 || space[i].role == Role::Latent)).collect();
        if pool.is_empty() {
            return None;
        }
        c.push(pool[rng.below(pool.len() as u64) as usize]);
    }
    c.sort_unstable();
    ok(space, &c).then_some(c)
}
