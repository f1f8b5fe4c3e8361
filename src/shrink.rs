//! Shrinking a failing run to a minimal scenario file.
//!
//! A sweep finds a seed on which a scenario fails: a custody violation
//! buried under a dozen faults, three MX nodes, twenty thousand mails and
//! five simulated days. Nobody can read that run. `mailsim shrink FILE --seed
//! N` removes everything the failure does not need while the *same* failure
//! still happens on that seed, and writes the result as a scenario file a
//! person can read and commit as a regression test.
//!
//! It is greedy delta debugging over the scenario *as written* (the serde
//! `ScenarioFile`, Zeller and Hildebrandt, "Simplifying and Isolating
//! Failure-Inducing Input", TSE 2002; Hypothesis and QuickCheck shrink test
//! cases the same way): each pass proposes smaller candidates — drop random
//! fault processes, drop faults (halves, quarters, … single ones), drop
//! recovery steps with the steps that wait for them, fewer MX nodes (faults
//! on removed nodes move to the remaining ones), no clients, fewer mailboxes,
//! fewer mails, a shorter workload window, a shorter run (no separate fault
//! phase, a shorter liveness window), faults present before the run moved to
//! its start and every fault moved as late as it can go (keeping the order
//! of the faults), shorter hangs and step delays — and keeps a candidate when it is a valid scenario (the normal loading path,
//! `build_topology`) that fails the same way on the seed. Passes repeat until
//! none of them changes anything (a fixpoint) or the run budget is spent.
//! Each candidate is one ordinary single-threaded run; candidates already
//! tried are remembered, not run again.
//!
//! "The same failure" is the same violated property for a safety or liveness
//! violation (`custody`, `no split brain`, `eventual delivery`, …), the same
//! outcome class for a model panic or an exhausted budget, and otherwise the
//! same set of failed expectation names.
//!
//! The shrunk file's expectations are what pins the failure, so that fixed
//! code makes the regression test pass. The three property switches
//! (`custody`, `eventual_delivery`, `no_split_brain`) and `absorbed` are kept
//! as written (an absorbed kind is forgotten once no fault of that kind is
//! left). Bounded expectations (`lost`, `max_delay`, `failover`, …) that held
//! are dropped: they described the original, larger run and would fail on the
//! shrunk one for reasons of size. For a failed-expectations failure, those
//! that failed are kept: they are the failure. For a violation they are
//! dropped too: a run stops at its first safety violation, so bounds on
//! delays, failovers or restoration fail as a side effect of the stop, and
//! would keep failing after the fix; the property switch pins the bug. Its
//! `run.seeds` covers the pinned seed, and its name and summary say what it
//! pins and where it was shrunk from. A run stops at its first safety
//! violation, so after a safety failure the shrunk run is given its length
//! again (at most the original's): the failing run is the same, and fixed
//! code gets time to run on past the point where it used to fail.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use mailsim_models::ledger::{CUSTODY, EVENTUAL_DELIVERY, SPLIT_BRAIN};
use serde::Serialize;

use crate::run::{check, run, RunResult};
use crate::scenario::{Expect, Scenario, ScenarioFile};
use crate::units::HumanDuration;

/// `mailsim shrink FILE --seed N [--out min.toml]`
#[derive(clap::Args, Clone, Debug)]
pub struct ShrinkArgs {
    /// The scenario file of the failing run.
    pub file: PathBuf,
    /// The seed on which it fails.
    #[arg(long)]
    pub seed: u64,
    /// Where to write the shrunk scenario (default:
    /// `<name>-shrunk-seed-N.toml` in the current directory).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// At most this many candidate runs.
    #[arg(long, default_value_t = 3000)]
    pub max_runs: u32,
}

/// What went wrong in a run, as far as "the same failure" is concerned.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Failure {
    /// A safety or liveness property was violated (`class`: safety, liveness).
    Violation { class: String, property: String },
    /// The run ended abnormally (`class`: panic, budget).
    Abnormal { class: String },
    /// These expectations were not met (sorted names).
    Expectations { names: Vec<String> },
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Violation { class, property } => write!(f, "{class} violation of `{property}`"),
            Failure::Abnormal { class } => write!(f, "abnormal end ({class})"),
            Failure::Expectations { names } => write!(f, "failed expectations: {}", names.join(", ")),
        }
    }
}

/// The failure of a run of `scenario`, `None` if every expectation was met.
///
/// A violation counts as the failure unless the scenario expects it
/// (`custody = false` and the like); a run with an expected violation is
/// judged by its other verdicts.
pub fn failure_of(scenario: &Scenario, r: &RunResult) -> Option<Failure> {
    let outcome = &r.report.outcome;
    if let Some(v) = outcome.violation() {
        let e = &scenario.file.expect;
        let wanted = match v.property.as_str() {
            p if p == CUSTODY.name => e.custody,
            p if p == SPLIT_BRAIN.name => e.no_split_brain,
            EVENTUAL_DELIVERY => e.eventual_delivery,
            _ => None,
        };
        if wanted.unwrap_or(true) {
            return Some(Failure::Violation { class: outcome.class().to_string(), property: v.property.clone() });
        }
    } else if !outcome.is_ok() {
        return Some(Failure::Abnormal { class: outcome.class().to_string() });
    }
    let mut names: Vec<String> = r.verdicts.iter().filter(|v| v.failed()).map(|v| v.name.clone()).collect();
    if names.is_empty() {
        return None;
    }
    names.sort();
    Some(Failure::Expectations { names })
}

/// A scenario built from a file in memory, through the normal validation.
pub fn scenario_from_file(file: ScenarioFile, path: &Path) -> Result<Scenario, String> {
    Scenario::from_file(file, path).map_err(|e| e.to_string())
}

/// The scenario as TOML a person can read: sections in the order of the
/// format, defaults (empty lists and tables, `false` switches) left out. The
/// pruned text is checked to mean the same file; if it did not, the full
/// text is returned.
pub fn scenario_toml(file: &ScenarioFile) -> String {
    let full = toml::to_string_pretty(file).expect("a scenario file serializes to TOML");
    let pruned = prune_defaults(&full);
    let same = toml::from_str::<ScenarioFile>(&pruned).is_ok_and(|back| Shrinker::key(&back) == Shrinker::key(file));
    if same {
        pruned
    } else {
        full
    }
}

/// Plain `bool` fields whose default is `false`.
const FALSE_BY_DEFAULT: &[&str] = &["swarm", "after_alert", "parallel", "failover_without_fence"];

/// Drops `key = []`, `key = ""`, `key = {}`, default `false` switches and
/// then table headers left with nothing under them.
fn prune_defaults(text: &str) -> String {
    let mut lines: Vec<&str> = Vec::new();
    let mut in_multiline = false;
    for line in text.lines() {
        let quotes = line.matches("\"\"\"").count() + line.matches("'''").count();
        let was_inside = in_multiline;
        if quotes % 2 == 1 {
            in_multiline = !in_multiline;
        }
        if !was_inside {
            if let Some((key, value)) = line.split_once(" = ") {
                let bare = !key.starts_with(' ') && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                let empty = matches!(value, "[]" | "\"\"" | "{}");
                if bare && (empty || (value == "false" && FALSE_BY_DEFAULT.contains(&key))) {
                    continue;
                }
            }
        }
        lines.push(line);
    }
    // Headers of plain tables with nothing left under them (array-of-table
    // headers stay: each is an element).
    loop {
        let is_header = |l: &str| l.starts_with('[') && l.ends_with(']');
        let mut drop = None;
        for (i, l) in lines.iter().enumerate() {
            if is_header(l) && !l.starts_with("[[") {
                let next = lines[i + 1..].iter().find(|x| !x.trim().is_empty());
                if next.is_none_or(|x| is_header(x)) {
                    drop = Some(i);
                    break;
                }
            }
        }
        match drop {
            Some(i) => {
                lines.remove(i);
            }
            None => break,
        }
    }
    let mut out = String::new();
    let mut blank = true;
    for l in lines {
        if l.trim().is_empty() {
            if !blank {
                out.push('\n');
            }
            blank = true;
            continue;
        }
        out.push_str(l);
        out.push('\n');
        blank = false;
    }
    out
}

/// The size of a scenario, for before/after reports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Size {
    pub faults: usize,
    pub random_faults: usize,
    pub recovery_steps: usize,
    pub mx: u32,
    pub mailboxes: u32,
    /// Mails sent (for a rate: the rate times the window, rounded down).
    pub mails: u64,
    pub duration: String,
}

impl Size {
    pub fn of(f: &ScenarioFile) -> Size {
        let mails = match (f.workload.mails, f.workload.per_hour) {
            (Some(m), _) => m,
            (None, Some(r)) => (r as u128 * f.workload.window.micros().max(0) as u128 / 3_600_000_000) as u64,
            _ => 0,
        };
        Size {
            faults: f.faults.len(),
            random_faults: f.random_faults.len(),
            recovery_steps: f.recovery.len(),
            mx: f.topology.mx,
            mailboxes: f.topology.mailboxes,
            mails,
            duration: f.run.duration.to_string(),
        }
    }
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} faults, {} random fault processes, {} recovery steps, {} MX, {} mailboxes, {} mails, {}",
            self.faults, self.random_faults, self.recovery_steps, self.mx, self.mailboxes, self.mails, self.duration
        )
    }
}

/// Limits of a shrink.
#[derive(Clone, Debug)]
pub struct ShrinkOptions {
    /// At most this many candidate runs (invalid candidates cost no run).
    pub max_runs: u32,
    /// Print each reduction on stderr as it is found.
    pub progress: bool,
}

impl Default for ShrinkOptions {
    fn default() -> Self {
        ShrinkOptions { max_runs: 3000, progress: false }
    }
}

/// The result of a shrink.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The shrunk scenario (metadata and expectations rewritten).
    pub scenario: Scenario,
    /// The failure it pins.
    pub failure: Failure,
    /// The shrunk run's result on the seed.
    pub result: RunResult,
    pub before: Size,
    pub after: Size,
    /// Candidate runs made.
    pub runs: u32,
    /// Whether the run budget ran out before a fixpoint.
    pub budget_exhausted: bool,
    /// Each accepted reduction, in order.
    pub log: Vec<String>,
}

impl Shrunk {
    /// The shrunk scenario as a commented TOML file.
    pub fn to_toml(&self, from: &Path, seed: u64) -> String {
        let failed: Vec<String> = self.result.verdicts.iter().filter(|v| !v.met).map(|v| format!("{}: {}", v.name, v.detail)).collect();
        let mut out = String::new();
        out.push_str(&format!("# Shrunk by `mailsim shrink {} --seed {seed}` ({} candidate runs).\n", from.display(), self.runs));
        out.push_str(&format!("# Pins: {} on seed {seed}.\n", self.failure));
        out.push_str(&format!("# Before: {}\n# After:  {}\n", self.before, self.after));
        for f in &failed {
            out.push_str(&format!("# Fails: {}\n", one_line(f)));
        }
        if self.budget_exhausted {
            out.push_str("# The run budget ran out before a fixpoint: a smaller scenario may exist.\n");
        }
        out.push('\n');
        out.push_str(&scenario_toml(&self.scenario.file));
        out
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

/// Why a shrink could not start.
#[derive(Debug)]
pub enum ShrinkError {
    /// The seed passes: there is nothing to shrink.
    Passes,
}

impl std::fmt::Display for ShrinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShrinkError::Passes => write!(f, "the run meets every expectation on this seed: there is no failure to shrink"),
        }
    }
}

impl std::error::Error for ShrinkError {}

/// Shrinks a failing run of `scenario` on `seed`.
pub fn shrink(scenario: &Scenario, seed: u64, opts: &ShrinkOptions) -> Result<Shrunk, ShrinkError> {
    let original = run(scenario, seed);
    let failure = failure_of(scenario, &original).ok_or(ShrinkError::Passes)?;
    let mut file = scenario.file.clone();
    file.extends = None;
    if let Some(pruned) = failing_expectations(scenario, &original, &failure) {
        file.expect = pruned;
    }
    let before = Size::of(&scenario.file);
    let mut s = Shrinker {
        seed,
        path: scenario.path.clone(),
        target: failure.clone(),
        cur: file,
        runs: 0,
        max_runs: opts.max_runs,
        progress: opts.progress,
        tried: BTreeMap::new(),
        log: Vec::new(),
    };
    s.remember_current();
    loop {
        let mut changed = false;
        changed |= s.pass_random_faults();
        changed |= s.pass_faults();
        changed |= s.pass_recovery();
        changed |= s.pass_topology();
        changed |= s.pass_workload();
        changed |= s.pass_durations();
        changed |= s.pass_times();
        if !changed || s.exhausted() {
            break;
        }
    }
    let budget_exhausted = s.exhausted();
    // A run stops at its first safety violation, so the shortest failing run
    // ends right after it — and with the bug fixed, that run would end before
    // the fixed code had time to show anything. Give it back the time it
    // took to fail (at most the original horizon); the failing run does not
    // change, it still stops at the violation.
    if matches!(&failure, Failure::Violation { class, .. } if class == "safety") {
        s.give_back_time(scenario.file.run.duration.micros());
    }
    let shrunk = scenario_from_file(with_metadata(s.cur.clone(), scenario, seed, &failure), &scenario.path)
        .expect("the accepted candidate was valid");
    let result = run(&shrunk, seed);
    debug_assert_eq!(failure_of(&shrunk, &result).as_ref(), Some(&failure), "metadata changes nothing the run sees");
    let after = Size::of(&shrunk.file);
    Ok(Shrunk { scenario: shrunk, failure, result, before, after, runs: s.runs, budget_exhausted, log: s.log })
}

/// The expectations that make the failure, if they give the same failure
/// on the original run: for a violation the property switches alone
/// (bounded expectations that failed with it mostly failed because the run
/// stopped at the violation, and would keep failing once the bug is fixed);
/// otherwise the bounded ones that failed.
fn failing_expectations(scenario: &Scenario, original: &RunResult, failure: &Failure) -> Option<Expect> {
    let keep_failed = matches!(failure, Failure::Expectations { .. });
    let pruned = prune_expectations(scenario, original, keep_failed);
    let mut with_pruned = scenario.clone();
    with_pruned.file.expect = pruned.clone();
    let mut check_pruned = original.clone();
    check_pruned.verdicts = check(&with_pruned, &original.figures, &original.report);
    (failure_of(&with_pruned, &check_pruned).as_ref() == Some(failure)).then_some(pruned)
}

/// The shrunk file's metadata: what it pins and where it comes from.
fn with_metadata(mut file: ScenarioFile, scenario: &Scenario, seed: u64, failure: &Failure) -> ScenarioFile {
    let orig_name = scenario.file.scenario.name.clone();
    file.scenario.name = format!("{orig_name}-shrunk-seed-{seed}");
    file.scenario.summary =
        format!("Regression test: {failure} on seed {seed}; shrunk by `mailsim shrink` from {} seed {seed}", scenario.path.display());
    file.scenario.assumptions = vec![format!(
        "Shrunk from {} (`{orig_name}`): the smallest fault plan, topology, workload and run found \
         that still fail the same way on seed {seed}; it models no real deployment.",
        scenario.path.display()
    )];
    // The main job runs seeds 0..n: include the pinned seed, unless that
    // would mean thousands of runs (then `mailsim run … --seed N` pins it).
    if seed < SEEDS_MAX {
        file.run.seeds = seed as u32 + 1;
    }
    file
}

/// The expectations of `scenario` without its bounded ones, except (with
/// `keep_failed`) those that failed on `r`; the property switches, `absorbed`
/// and any other field stay as written.
fn prune_expectations(scenario: &Scenario, r: &RunResult, keep_failed: bool) -> Expect {
    let e = &scenario.file.expect;
    let base = without_bounded(e);
    if !keep_failed {
        return base;
    }
    // Each bounded expectation alone on top of the switches: kept if it fails.
    let mut items = one_per_option(e, &base);
    items.extend(one_per_entry(e, &base));
    let mut s = scenario.clone();
    s.file.expect = base.clone();
    let base_verdicts = check(&s, &r.figures, &r.report).len();
    let mut kept = base;
    for item in items {
        s.file.expect = item.clone();
        let fails = check(&s, &r.figures, &r.report).iter().skip(base_verdicts).any(|v| !v.met);
        if fails {
            merge_expect(&mut kept, item);
        }
    }
    kept
}

/// `e` without its bounded expectations: the switches, `absorbed` and any
/// other field that shapes the verdicts always given stay as written.
fn without_bounded(e: &Expect) -> Expect {
    let mut base = e.clone();
    base.lost = None;
    base.duplicates = None;
    base.client_duplicates = None;
    base.pop_redownloads = None;
    base.imap_resyncs = None;
    base.sender_bounces.clear();
    base.returned = None;
    base.peak_unavailable = None;
    base.unavailable.clear();
    base.restored = None;
    base.no_delivery_between = None;
    base.max_delay = None;
    base.no_failover_before = None;
    base.failover = None;
    base.service_down.clear();
    base.failed_share.clear();
    base.users_affected.clear();
    base.users_full_service_min = None;
    base.users_full_service.clear();
    base.users_partial_service.clear();
    base.queue_peak = None;
    base.queue.clear();
    base
}

/// `base` plus one bounded expectation of `e`, for each of its optional
/// (single-valued) ones that is set.
fn one_per_option(e: &Expect, base: &Expect) -> Vec<Expect> {
    let mut items: Vec<Expect> = Vec::new();
    let one = |f: &dyn Fn(&mut Expect)| {
        let mut x = base.clone();
        f(&mut x);
        x
    };
    if e.lost.is_some() {
        items.push(one(&|x| x.lost = e.lost.clone()));
    }
    if e.duplicates.is_some() {
        items.push(one(&|x| x.duplicates = e.duplicates.clone()));
    }
    if e.client_duplicates.is_some() {
        items.push(one(&|x| x.client_duplicates = e.client_duplicates.clone()));
    }
    if e.pop_redownloads.is_some() {
        items.push(one(&|x| x.pop_redownloads = e.pop_redownloads.clone()));
    }
    if e.imap_resyncs.is_some() {
        items.push(one(&|x| x.imap_resyncs = e.imap_resyncs.clone()));
    }
    if e.returned.is_some() {
        items.push(one(&|x| x.returned = e.returned.clone()));
    }
    if e.peak_unavailable.is_some() {
        items.push(one(&|x| x.peak_unavailable = e.peak_unavailable.clone()));
    }
    if e.restored.is_some() {
        items.push(one(&|x| x.restored = e.restored.clone()));
    }
    if e.no_delivery_between.is_some() {
        items.push(one(&|x| x.no_delivery_between = e.no_delivery_between));
    }
    if e.max_delay.is_some() {
        items.push(one(&|x| x.max_delay = e.max_delay.clone()));
    }
    if e.no_failover_before.is_some() {
        items.push(one(&|x| x.no_failover_before = e.no_failover_before.clone()));
    }
    if e.failover.is_some() {
        items.push(one(&|x| x.failover = e.failover.clone()));
    }
    if e.users_full_service_min.is_some() {
        items.push(one(&|x| x.users_full_service_min = e.users_full_service_min.clone()));
    }
    if e.queue_peak.is_some() {
        items.push(one(&|x| x.queue_peak = e.queue_peak.clone()));
    }
    items
}

/// `base` plus one bounded expectation of `e`, for each entry of its
/// per-name and listed ones.
fn one_per_entry(e: &Expect, base: &Expect) -> Vec<Expect> {
    let mut items: Vec<Expect> = Vec::new();
    let one = |f: &dyn Fn(&mut Expect)| {
        let mut x = base.clone();
        f(&mut x);
        x
    };
    for (k, v) in &e.sender_bounces {
        items.push(one(&|x| {
            x.sender_bounces.insert(k.clone(), v.clone());
        }));
    }
    for c in &e.unavailable {
        items.push(one(&|x| x.unavailable = vec![c.clone()]));
    }
    for (k, v) in &e.service_down {
        items.push(one(&|x| {
            x.service_down.insert(k.clone(), v.clone());
        }));
    }
    for (k, v) in &e.failed_share {
        items.push(one(&|x| {
            x.failed_share.insert(k.clone(), v.clone());
        }));
    }
    for (k, v) in &e.users_affected {
        items.push(one(&|x| {
            x.users_affected.insert(k.clone(), v.clone());
        }));
    }
    for c in &e.users_full_service {
        items.push(one(&|x| x.users_full_service = vec![c.clone()]));
    }
    for c in &e.users_partial_service {
        items.push(one(&|x| x.users_partial_service = vec![c.clone()]));
    }
    for (node, q) in &e.queue {
        items.push(one(&|x| x.queue = BTreeMap::from([(node.clone(), q.clone())])));
    }
    items
}

/// Adds the bounded expectations set in `item` to `into`.
fn merge_expect(into: &mut Expect, item: Expect) {
    into.lost = into.lost.take().or(item.lost);
    into.duplicates = into.duplicates.take().or(item.duplicates);
    into.client_duplicates = into.client_duplicates.take().or(item.client_duplicates);
    into.pop_redownloads = into.pop_redownloads.take().or(item.pop_redownloads);
    into.imap_resyncs = into.imap_resyncs.take().or(item.imap_resyncs);
    into.sender_bounces.extend(item.sender_bounces);
    into.returned = into.returned.take().or(item.returned);
    into.peak_unavailable = into.peak_unavailable.take().or(item.peak_unavailable);
    into.unavailable.extend(item.unavailable);
    into.restored = into.restored.take().or(item.restored);
    into.no_delivery_between = into.no_delivery_between.take().or(item.no_delivery_between);
    into.max_delay = into.max_delay.take().or(item.max_delay);
    into.no_failover_before = into.no_failover_before.take().or(item.no_failover_before);
    into.failover = into.failover.take().or(item.failover);
    into.service_down.extend(item.service_down);
    into.failed_share.extend(item.failed_share);
    into.users_affected.extend(item.users_affected);
    into.users_full_service_min = into.users_full_service_min.take().or(item.users_full_service_min);
    into.users_full_service.extend(item.users_full_service);
    into.users_partial_service.extend(item.users_partial_service);
    into.queue_peak = into.queue_peak.take().or(item.queue_peak);
    into.queue.extend(item.queue);
}

/// The shrunk file's `run.seeds` covers the pinned seed below this.
const SEEDS_MAX: u64 = 1000;

const MINUTE_US: i64 = 60_000_000;
const SECOND_US: i64 = 1_000_000;

struct Shrinker {
    seed: u64,
    path: PathBuf,
    target: Failure,
    cur: ScenarioFile,
    runs: u32,
    max_runs: u32,
    progress: bool,
    /// Candidates tried (their JSON) and whether they failed the same way.
    tried: BTreeMap<String, bool>,
    log: Vec<String>,
}

impl Shrinker {
    /// Doubles the run's duration, at most to `horizon_us` (the original
    /// run's), if the longer run still fails the same way; the budget gets
    /// the one run that takes.
    fn give_back_time(&mut self, horizon_us: i64) {
        let now = self.cur.run.duration.micros();
        let longer = now.saturating_mul(2).min(horizon_us.max(now));
        if longer > now {
            let mut cand = self.cur.clone();
            cand.run.duration = HumanDuration(longer);
            let (a, b) = (HumanDuration(now), HumanDuration(longer));
            self.max_runs = self.max_runs.max(self.runs + 1);
            self.accept(cand, || format!("run duration: {a} → {b} (time for fixed code to run on after the failure)"));
        }
    }

    fn exhausted(&self) -> bool {
        self.runs >= self.max_runs
    }

    fn key(f: &ScenarioFile) -> String {
        serde_json::to_string(f).expect("a scenario file serializes")
    }

    fn remember_current(&mut self) {
        self.tried.insert(Self::key(&self.cur), true);
    }

    /// Whether `cand` is a valid scenario failing the same way on the seed.
    fn fails_same(&mut self, cand: &ScenarioFile) -> bool {
        let key = Self::key(cand);
        if let Some(&r) = self.tried.get(&key) {
            return r;
        }
        let verdict = match scenario_from_file(cand.clone(), &self.path) {
            Err(_) => false,
            Ok(_) if self.exhausted() => return false,
            Ok(s) => {
                self.runs += 1;
                failure_of(&s, &run(&s, self.seed)).as_ref() == Some(&self.target)
            }
        };
        self.tried.insert(key, verdict);
        verdict
    }

    /// Takes `cand` if it fails the same way and differs from the current one.
    fn accept(&mut self, mut cand: ScenarioFile, what: impl FnOnce() -> String) -> bool {
        // An absorbed fault kind must name a scheduled fault: forget kinds
        // whose faults are gone.
        let kinds: Vec<String> = cand.faults.iter().map(|f| f.kind.clone()).collect();
        cand.expect.absorbed.retain(|k| kinds.contains(k));
        if Self::key(&cand) == Self::key(&self.cur) || !self.fails_same(&cand) {
            return false;
        }
        self.cur = cand;
        let what = what();
        if self.progress {
            eprintln!("  [{} runs] {what}", self.runs);
        }
        self.log.push(what);
        true
    }

    /// Finds the smallest value in `[lo, current]` that still fails, trying
    /// `lo` first, then bisecting (greedy: assumes smaller values that fail
    /// are contiguous, and keeps only values it has seen fail).
    fn minimize(
        &mut self,
        what: &str,
        lo: i64,
        get: impl Fn(&ScenarioFile) -> Option<i64>,
        set: impl Fn(&mut ScenarioFile, i64),
        show: impl Fn(i64) -> String,
    ) -> bool {
        let Some(start) = get(&self.cur) else { return false };
        let (mut lo, mut hi) = (lo, start);
        let mut changed = false;
        let mut first = true;
        while lo < hi && !self.exhausted() {
            let mid = if first { lo } else { lo + (hi - lo) / 2 };
            first = false;
            let mut cand = self.cur.clone();
            set(&mut cand, mid);
            if self.accept(cand, || format!("{what}: {} → {}", show(hi), show(mid))) {
                hi = mid;
                changed = true;
            } else {
                lo = mid + 1;
            }
        }
        changed
    }

    /// Finds the largest value in `[current, hi]` that still fails, trying
    /// `hi` first, then bisecting.
    fn maximize(
        &mut self,
        what: &str,
        hi: i64,
        get: impl Fn(&ScenarioFile) -> Option<i64>,
        set: impl Fn(&mut ScenarioFile, i64),
        show: impl Fn(i64) -> String,
    ) -> bool {
        let Some(start) = get(&self.cur) else { return false };
        let (mut lo, mut hi) = (start, hi);
        let mut changed = false;
        let mut first = true;
        while lo < hi && !self.exhausted() {
            let mid = if first { hi } else { lo + (hi - lo + 1) / 2 };
            first = false;
            let mut cand = self.cur.clone();
            set(&mut cand, mid);
            if self.accept(cand, || format!("{what}: {} → {}", show(lo), show(mid))) {
                lo = mid;
                changed = true;
            } else {
                hi = mid - 1;
            }
        }
        changed
    }

    fn pass_random_faults(&mut self) -> bool {
        let mut changed = false;
        if !self.cur.random_faults.is_empty() {
            let mut cand = self.cur.clone();
            cand.random_faults.clear();
            cand.run.swarm = false;
            if self.accept(cand, || "dropped every random fault process".into()) {
                return true;
            }
            let mut i = 0;
            while i < self.cur.random_faults.len() {
                let mut cand = self.cur.clone();
                let gone = cand.random_faults.remove(i);
                if self.accept(cand, || format!("dropped the random `{}` process", gone.kind)) {
                    changed = true;
                } else {
                    i += 1;
                }
            }
        }
        if self.cur.run.swarm {
            let mut cand = self.cur.clone();
            cand.run.swarm = false;
            changed |= self.accept(cand, || "swarm mode off".into());
        }
        changed
    }

    /// Removes chunks of faults: halves, then quarters, … then single ones.
    fn pass_faults(&mut self) -> bool {
        let mut changed = false;
        let mut chunk = self.cur.faults.len().div_ceil(2).max(1);
        while !self.cur.faults.is_empty() && !self.exhausted() {
            let mut i = 0;
            while i < self.cur.faults.len() {
                let mut cand = self.cur.clone();
                let end = (i + chunk).min(cand.faults.len());
                let gone: Vec<String> = cand.faults.drain(i..end).map(|f| describe_fault(&f)).collect();
                if self.accept(cand, || format!("dropped fault(s): {}", gone.join("; "))) {
                    changed = true;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk = chunk.div_ceil(2);
        }
        changed
    }

    /// Removes recovery steps (with the steps that wait for them).
    fn pass_recovery(&mut self) -> bool {
        let mut changed = false;
        if self.cur.recovery.is_empty() {
            return false;
        }
        let mut cand = self.cur.clone();
        cand.recovery.clear();
        if self.accept(cand, || "dropped every recovery step".into()) {
            return true;
        }
        let mut i = self.cur.recovery.len();
        while i > 0 && !self.exhausted() {
            i -= 1;
            if i >= self.cur.recovery.len() {
                continue;
            }
            let mut cand = self.cur.clone();
            let gone = drop_step(&mut cand, i);
            if self.accept(cand, || format!("dropped recovery step(s): {}", gone.join(", "))) {
                changed = true;
            }
        }
        changed
    }

    fn pass_topology(&mut self) -> bool {
        let mut changed = false;
        // Fewer MX nodes; references to removed nodes move to remaining ones.
        let min_mx = if self.cur.topology.cluster.is_some() { 2 } else { 1 };
        changed |= self.minimize("MX nodes", min_mx, |f| Some(f.topology.mx as i64), |f, v| set_mx(f, v as u32), |v| v.to_string());
        if self.cur.topology.cluster.is_some() {
            let mut cand = self.cur.clone();
            cand.topology.cluster = None;
            changed |= self.accept(cand, || "no cluster manager".into());
        }
        if let Some(c) = &self.cur.topology.cluster {
            let levels = c.fencing.len();
            for i in (0..levels).rev() {
                let mut cand = self.cur.clone();
                let cl = cand.topology.cluster.as_mut().expect("checked");
                if cl.fencing.len() < 2 || i >= cl.fencing.len() {
                    continue;
                }
                let gone = cl.fencing.remove(i).level;
                changed |= self.accept(cand, || format!("dropped fencing level `{gone}`"));
            }
        }
        if self.cur.topology.clients.is_some() {
            let mut cand = self.cur.clone();
            cand.topology.clients = None;
            changed |= self.accept(cand, || "no mail readers (clients)".into());
        }
        changed |=
            self.minimize("mailboxes", 1, |f| Some(f.topology.mailboxes as i64), |f, v| f.topology.mailboxes = v as u32, |v| v.to_string());
        changed
    }

    fn pass_workload(&mut self) -> bool {
        let mut changed = false;
        changed |=
            self.minimize("mails", 1, |f| f.workload.mails.map(|m| m as i64), |f, v| f.workload.mails = Some(v as u64), |v| v.to_string());
        changed |= self.minimize(
            "mails per hour",
            1,
            |f| f.workload.per_hour.map(|m| m as i64),
            |f, v| f.workload.per_hour = Some(v as u64),
            |v| v.to_string(),
        );
        changed |= self.minimize(
            "workload window",
            1,
            |f| Some(f.workload.window.micros() / MINUTE_US),
            |f, v| f.workload.window = HumanDuration(v * MINUTE_US),
            show_minutes,
        );
        if self.cur.workload.profiles.len() > 1 {
            let names: Vec<String> = self.cur.workload.profiles.keys().cloned().collect();
            for name in names {
                let mut cand = self.cur.clone();
                cand.workload.profiles.remove(&name);
                if cand.workload.profiles.values().sum::<u64>() == 0 {
                    continue;
                }
                changed |= self.accept(cand, || format!("dropped sender profile `{name}`"));
            }
        }
        changed
    }

    /// Faults present before the run move to its start; every fault moves as
    /// late as it can without passing the next one; hangs and step delays
    /// shorten.
    fn pass_times(&mut self) -> bool {
        let mut changed = self.pass_latent_to_start();
        changed |= self.pass_faults_later();
        changed |= self.pass_hang_lengths();
        changed |= self.pass_step_delays();
        changed
    }

    /// Faults present before the start (negative times) moved to the start.
    fn pass_latent_to_start(&mut self) -> bool {
        let mut changed = false;
        for i in 0..self.cur.faults.len() {
            if i >= self.cur.faults.len() || self.exhausted() {
                break;
            }
            if self.cur.faults[i].at.micros() < 0 {
                let mut cand = self.cur.clone();
                cand.faults[i].at = HumanDuration(0);
                let d = describe_fault(&cand.faults[i]);
                changed |= self.accept(cand, || format!("moved to the start: {d}"));
            }
        }
        changed
    }

    /// Faults moved later, keeping the order: the next fault (in time)
    /// bounds each one.
    fn pass_faults_later(&mut self) -> bool {
        let mut changed = false;
        for i in 0..self.cur.faults.len() {
            if i >= self.cur.faults.len() || self.exhausted() {
                break;
            }
            let at = self.cur.faults[i].at.micros();
            if at < 0 {
                continue;
            }
            let end = self.cur.run.duration.micros();
            let next = self.cur.faults.iter().map(|f| f.at.micros()).filter(|t| *t > at).min().unwrap_or(end).min(end);
            let unit = if next - at > 2 * 3_600_000_000 { MINUTE_US } else { SECOND_US };
            let to = next.div_euclid(unit);
            if to <= at.div_euclid(unit) {
                continue;
            }
            let f = &self.cur.faults[i];
            let what = format!("moved later: {} {}", f.kind, f.target.as_deref().unwrap_or(""));
            // In whole units; the current time stays exact unless it moves.
            changed |= self.maximize(
                &what,
                to,
                |f| Some(f.faults[i].at.micros().div_euclid(unit)),
                |f, v| f.faults[i].at = HumanDuration(v * unit),
                |v| HumanDuration(v * unit).to_string(),
            );
        }
        changed
    }

    /// Hangs made shorter, to whole seconds.
    fn pass_hang_lengths(&mut self) -> bool {
        let mut changed = false;
        for i in 0..self.cur.faults.len() {
            if self.cur.faults[i].for_.is_none() {
                continue;
            }
            changed |= self.minimize(
                "hang length",
                1,
                |f| f.faults.get(i).and_then(|x| x.for_).map(|d| d.micros() / SECOND_US),
                |f, v| f.faults[i].for_ = Some(HumanDuration(v * SECOND_US)),
                |v| HumanDuration(v * SECOND_US).to_string(),
            );
        }
        changed
    }

    /// Recovery steps' delays removed, or else made shorter.
    fn pass_step_delays(&mut self) -> bool {
        let mut changed = false;
        for i in 0..self.cur.recovery.len() {
            if self.cur.recovery[i].delay.is_none() {
                continue;
            }
            let mut cand = self.cur.clone();
            cand.recovery[i].delay = None;
            let name = cand.recovery[i].name.clone();
            if self.accept(cand, || format!("step `{name}`: no delay")) {
                changed = true;
                continue;
            }
            changed |= self.minimize(
                &format!("step `{name}` delay"),
                0,
                |f| f.recovery.get(i).and_then(|s| s.delay).map(|d| d.micros() / SECOND_US),
                |f, v| f.recovery[i].delay = Some(HumanDuration(v * SECOND_US)),
                |v| HumanDuration(v * SECOND_US).to_string(),
            );
        }
        changed
    }

    fn pass_durations(&mut self) -> bool {
        let mut changed = false;
        if self.cur.run.fault_phase.is_some() {
            let mut cand = self.cur.clone();
            cand.run.fault_phase = None;
            changed |= self.accept(cand, || "no separate fault phase".into());
        }
        changed |= self.minimize(
            "run duration",
            1,
            |f| Some(f.run.duration.micros() / MINUTE_US),
            |f, v| f.run.duration = HumanDuration(v * MINUTE_US),
            show_minutes,
        );
        changed |= self.minimize(
            "fault phase",
            0,
            |f| f.run.fault_phase.map(|p| p.micros() / MINUTE_US),
            |f, v| f.run.fault_phase = Some(HumanDuration(v * MINUTE_US)),
            show_minutes,
        );
        changed |= self.minimize(
            "liveness window",
            1,
            |f| Some(f.run.liveness_window.micros() / MINUTE_US),
            |f, v| f.run.liveness_window = HumanDuration(v * MINUTE_US),
            show_minutes,
        );
        changed
    }
}

fn show_minutes(v: i64) -> String {
    HumanDuration(v * MINUTE_US).to_string()
}

fn describe_fault(f: &crate::scenario::FaultEntry) -> String {
    let mut s = format!("{} {}", f.at, f.kind);
    if let Some(t) = &f.target {
        s.push_str(&format!(" {t}"));
    }
    if let Some(p) = &f.peer {
        s.push_str(&format!(" ↔ {p}"));
    }
    s
}

/// Drops step `i` and every step that (transitively) waits for it; returns
/// their names.
fn drop_step(f: &mut ScenarioFile, i: usize) -> Vec<String> {
    let mut gone = vec![f.recovery[i].name.clone()];
    loop {
        let more: Vec<String> = f
            .recovery
            .iter()
            .filter(|s| s.after.as_ref().is_some_and(|a| gone.contains(a)) && !gone.contains(&s.name))
            .map(|s| s.name.clone())
            .collect();
        if more.is_empty() {
            break;
        }
        gone.extend(more);
    }
    f.recovery.retain(|s| !gone.contains(&s.name));
    gone
}

/// Sets the MX count; names of removed nodes (`mx-K`, `mx-K/fence-x`) in
/// faults and steps move to the remaining nodes (K → (K-1) mod n + 1).
fn set_mx(f: &mut ScenarioFile, n: u32) {
    f.topology.mx = n;
    let remap = |name: &mut String| {
        if let Some(rest) = name.strip_prefix("mx-") {
            let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
            if let Ok(k) = rest[..digits].parse::<u32>() {
                if k > n && n > 0 {
                    *name = format!("mx-{}{}", (k - 1) % n + 1, &rest[digits..]);
                }
            }
        }
    };
    for fault in &mut f.faults {
        if let Some(t) = &mut fault.target {
            remap(t);
        }
        if let Some(p) = &mut fault.peer {
            remap(p);
        }
    }
    for s in &mut f.recovery {
        remap(&mut s.target);
        if let Some(node) = &mut s.node {
            remap(node);
        }
    }
}

/// The command: shrinks, writes the file, loads it back and re-checks it.
pub fn shrink_cmd(args: &ShrinkArgs) -> ExitCode {
    let scenario = match Scenario::load(&args.file) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    eprintln!("shrinking {} seed {} …", args.file.display(), args.seed);
    let shrunk = match shrink(&scenario, args.seed, &ShrinkOptions { max_runs: args.max_runs, progress: true }) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {} seed {}: {e}", args.file.display(), args.seed);
            return ExitCode::from(1);
        }
    };
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from(format!("{}.toml", shrunk.scenario.file.scenario.name)));
    if let Err(e) = std::fs::write(&out, shrunk.to_toml(&args.file, args.seed)) {
        eprintln!("error: cannot write {}: {e}", out.display());
        return ExitCode::from(2);
    }
    // The written file must load through the normal path and fail the same way.
    let reloaded = match Scenario::load(&out) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: the shrunk file does not load (a bug in `mailsim shrink`): {e}");
            return ExitCode::from(2);
        }
    };
    let again = failure_of(&reloaded, &run(&reloaded, args.seed));
    if again.as_ref() != Some(&shrunk.failure) {
        eprintln!(
            "error: the written file fails differently ({}) than the shrunk scenario ({}) — a bug in `mailsim shrink`",
            again.map_or("no failure".to_string(), |f| f.to_string()),
            shrunk.failure
        );
        return ExitCode::from(2);
    }
    eprintln!("failure: {}", shrunk.failure);
    eprintln!("before:  {}", shrunk.before);
    eprintln!("after:   {}", shrunk.after);
    eprintln!(
        "{} candidate runs{}",
        shrunk.runs,
        if shrunk.budget_exhausted { " (budget exhausted before a fixpoint; raise --max-runs)" } else { ", fixpoint reached" }
    );
    eprintln!("wrote {}", out.display());
    eprintln!("reproduce: {}", crate::sweep::repro_command(&out.display().to_string(), args.seed));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ScenarioFile {
        toml::from_str(text).expect("valid scenario TOML")
    }

    const BASE: &str = r#"
        [scenario]
        name = "t"
        summary = "a \"quoted\" summary"
        [run]
        duration = "2d"
        [topology]
        mx = 3
        mailboxes = 10
        [workload]
        mails = 10
        window = "1d"
        [[faults]]
        at = "1h"
        kind = "crash"
        target = "mx-3"
        [[faults]]
        at = "2h"
        kind = "partition"
        target = "mx-2"
        peer = "mx-3"
        [[recovery]]
        name = "a"
        action = "power-on"
        target = "ops"
        node = "mx-3"
        at = "3h"
        [[recovery]]
        name = "b"
        action = "flush-queue"
        target = "mx-3"
        after = "a"
        [[recovery]]
        name = "c"
        action = "flush-queue"
        target = "mx-1"
        after = "b"
        [[recovery]]
        name = "d"
        action = "flush-queue"
        target = "mx-1"
        at = "4h"
    "#;

    #[test]
    fn the_written_toml_means_the_same_file_without_defaults() {
        let f = file(BASE);
        let text = scenario_toml(&f);
        assert!(!text.contains("= []") && !text.contains("= false") && !text.contains("[topology.storage]"), "{text}");
        assert!(text.find("[scenario]") < text.find("[run]") && text.find("[run]") < text.find("[[faults]]"), "format order: {text}");
        let back: ScenarioFile = toml::from_str(&text).expect("parses");
        assert_eq!(Shrinker::key(&back), Shrinker::key(&f));
        // A switch that means something when false stays.
        let mut g = f.clone();
        g.expect.custody = Some(false);
        assert!(scenario_toml(&g).contains("custody = false"));
    }

    #[test]
    fn pruning_leaves_multiline_strings_alone() {
        let text = "a = \"\"\"\nx = []\n\"\"\"\nb = []\n\n[t]\n\n[u]\nc = 1\n";
        assert_eq!(prune_defaults(text), "a = \"\"\"\nx = []\n\"\"\"\n\n[u]\nc = 1\n");
    }

    #[test]
    fn fewer_mx_nodes_move_references_to_the_remaining_ones() {
        let mut f = file(BASE);
        set_mx(&mut f, 2);
        assert_eq!(f.faults[0].target.as_deref(), Some("mx-1"));
        assert_eq!((f.faults[1].target.as_deref(), f.faults[1].peer.as_deref()), (Some("mx-2"), Some("mx-1")));
        assert_eq!(f.recovery[0].node.as_deref(), Some("mx-1"));
        assert_eq!(f.recovery[1].target, "mx-1");
        let mut name = file(BASE);
        name.faults[0].target = Some("mx-12/fence-ipmi".into());
        set_mx(&mut name, 5);
        assert_eq!(name.faults[0].target.as_deref(), Some("mx-2/fence-ipmi"));
    }

    #[test]
    fn dropping_a_step_drops_the_steps_waiting_for_it() {
        let mut f = file(BASE);
        assert_eq!(drop_step(&mut f, 0), ["a", "b", "c"]);
        assert_eq!(f.recovery.len(), 1);
        assert_eq!(f.recovery[0].name, "d");
        let mut g = file(BASE);
        assert_eq!(drop_step(&mut g, 2), ["c"]);
        assert_eq!(g.recovery.len(), 3);
    }
}
