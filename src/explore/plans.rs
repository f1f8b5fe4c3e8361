//! `mailsim explore --plans FILE`: search a recovery plan's choices for the
//! plan that minimizes harm in the file's outage.
//!
//! The choices are derived from the file's own plan and topology, one
//! dimension per choice the operators had (option 0 of each is the file's):
//! - a `start-rebuild` step: its order — parallel, or serial in index
//!   order, least data first, most mailboxes first or most mailboxes per
//!   byte first (OpenSRS 2008 rebuilt three volumes of unequal data "one
//!   after another"; which goes first moves who waits how long: least data
//!   first minimizes the sum of the groups' completion times, most
//!   mailboxes per byte the mailbox-weighted sum, for a constant rate: W.
//!   E. Smith, "Various optimizers for single-stage production", Naval
//!   Research Logistics Quarterly, 1956,
//!   <https://doi.org/10.1002/nav.3800030106>). The serial orders are
//!   offered with two RAID groups or more. `largest-first`, which the
//!   format also accepts, is not searched: it maximizes that sum, a
//!   baseline to compare with rather than a plan. The rebuild's priority against the
//!   clients (NetApp's `raid.reconstruct.perf_impact`: low, medium, high;
//!   Data ONTAP 8 7-Mode Storage Management Guide, "Controlling the
//!   performance impact of RAID data reconstruction",
//!   <https://library.netapp.com/ecmdocs/ECMP1196986/html/GUID-9B2531F3-6BC5-4953-B16A-F6000A1983A2.html>);
//! - an `enable-temp-stores` step: as the file has it, at once after the
//!   step it waits for, or as soon as the alert is noticed;
//! - any other step that waits a `delay` after another: at once instead;
//! - staffing: a role reached only in business hours or by callout staffed
//!   around the clock (`24x7`), a step worked in business hours worked
//!   around the clock, and the holidays staffed as working days;
//! - a cluster with one fencing level: a second level (a switched PDU that
//!   works; fencing levels tried in order: ClusterLabs, "Pacemaker
//!   Explained", Pacemaker 2.1, chapter "Fencing",
//!   <https://clusterlabs.org/pacemaker/doc/2.1/Pacemaker_Explained/html/>).
//!
//! Where the product of the dimensions fits `--budget` every plan is run;
//! otherwise the search is coordinate descent from the file's plan (each
//! dimension in turn, the others held at the best so far, until a pass
//! changes nothing). Every plan runs on the same seeds as the file's plan
//! (common random numbers), and its harm is the paired difference of the
//! harm score (`search::harm_score`: lost mail and split brain dominate,
//! then user-hours without full service, bounces and p99 delay with the
//! stated weights). The best few are run again on the confirmation seeds,
//! and the best of them is compared with the file's plan by
//! `compare::compare_keeping`: every metric's paired difference with its
//! percentile-bootstrap interval, and the harm score's the same way
//! (`compare::bootstrap_ci`). The best plan is written as a scenario file.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use super::search::harm_score;
use crate::compare::{bootstrap_ci, compare_keeping, Change, Comparison};
use crate::pool::map_jobs;
use crate::run::run;
use crate::scenario::{FenceLevel, Scenario, ScenarioFile, StepEntry};
use crate::units::HumanDuration;
use mailsim_models::storage::{RebuildRule, StorageConfig};
use mailsim_sim::Stream;

/// One change to the file's plan.
#[derive(Clone, Debug, Serialize)]
pub enum Patch {
    /// The file's own choice.
    Keep,
    /// `recovery[i]`: `parallel`, and for a serial rebuild its `order`
    /// (`order_first` cleared).
    Rebuild(usize, bool, &'static str),
    /// `recovery[i].delay`.
    Delay(usize, HumanDuration),
    /// `recovery[i]` fires when the alert is noticed.
    AfterAlert(usize),
    /// `recovery[i].hours`.
    StepHours(usize, String),
    /// `topology.operators.roles[i].hours`.
    RoleHours(usize, String),
    /// `topology.operators.holidays` emptied: staffed as working days.
    StaffHolidays,
    /// A fencing level added after the file's.
    AddFenceLevel(String),
    /// `topology.storage.rebuild_priority`.
    RebuildPriority(String),
}

impl Patch {
    fn apply(&self, f: &mut ScenarioFile) {
        match self {
            Patch::Keep => {}
            Patch::Rebuild(i, parallel, order) => {
                let s = &mut f.recovery[*i];
                s.parallel = *parallel;
                s.order = (!*parallel && *order != "index").then(|| order.to_string());
                s.order_first = None;
            }
            Patch::Delay(i, d) => f.recovery[*i].delay = Some(*d),
            Patch::AfterAlert(i) => {
                let s = &mut f.recovery[*i];
                s.at = None;
                s.after = None;
                s.delay = None;
                s.after_alert = true;
            }
            Patch::StepHours(i, h) => f.recovery[*i].hours = Some(h.clone()),
            Patch::RoleHours(i, h) => {
                let r = &mut f.topology.operators.roles[*i];
                r.hours = Some(h.clone());
                if h != "on-call" {
                    r.callout = None;
                }
            }
            Patch::StaffHolidays => f.topology.operators.holidays.clear(),
            Patch::AddFenceLevel(level) => {
                if let Some(c) = &mut f.topology.cluster {
                    c.fencing.push(FenceLevel { level: level.clone(), mode: None });
                }
            }
            Patch::RebuildPriority(p) => f.topology.storage.rebuild_priority = Some(p.clone()),
        }
    }
}

/// One choice of the plan: its options, the file's first.
#[derive(Clone, Debug, Serialize)]
pub struct Dimension {
    /// `rebuild (step "rebuild")`.
    pub what: String,
    /// (label, change) per option; option 0 is the file's.
    pub options: Vec<(String, Patch)>,
}

/// The choices of `file`'s recovery plan and topology (see the module doc).
pub fn dimensions(file: &ScenarioFile) -> Vec<Dimension> {
    let mut dims = Vec::new();
    for (i, s) in file.recovery.iter().enumerate() {
        dims.extend(step_dimensions(file, i, s));
    }
    dims.extend(staffing_dimensions(file));
    dims.extend(fencing_dimension(file));
    if file.recovery.iter().any(|s| s.action == "start-rebuild") {
        dims.push(priority_dimension(file));
    }
    dims
}

/// The choices of recovery step `i`: its rebuild order, when it enables
/// temporary stores or its delay, then its working hours.
fn step_dimensions(file: &ScenarioFile, i: usize, s: &StepEntry) -> Vec<Dimension> {
    let mut dims = Vec::new();
    let step = format!("step `{}`", s.name);
    match s.action.as_str() {
        "start-rebuild" => dims.push(rebuild_dimension(file, i, s, &step)),
        "enable-temp-stores" if !s.after_alert => {
            let mut options = vec![(format!("{} (the file's)", trigger(s)), Patch::Keep)];
            if s.after.is_some() && s.delay.is_some_and(|d| d.micros() > 0) {
                options.push((format!("at once after `{}`", s.after.as_deref().unwrap_or("")), Patch::Delay(i, HumanDuration(0))));
            }
            options.push(("as soon as the alert is noticed".into(), Patch::AfterAlert(i)));
            dims.push(Dimension { what: format!("when to enable temporary stores ({step})"), options });
        }
        _ if s.after.is_some() && s.delay.is_some_and(|d| d.micros() > 0) => dims.push(Dimension {
            what: format!("delay ({step})"),
            options: vec![
                (format!("{} (the file's)", trigger(s)), Patch::Keep),
                (format!("at once after `{}`", s.after.as_deref().unwrap_or("")), Patch::Delay(i, HumanDuration(0))),
            ],
        }),
        _ => {}
    }
    if s.hours.as_deref() == Some("business") {
        dims.push(Dimension {
            what: format!("working hours ({step})"),
            options: vec![("business (the file's)".into(), Patch::Keep), ("always".into(), Patch::StepHours(i, "always".into()))],
        });
    }
    dims
}

/// A `start-rebuild` step's order: the file's, parallel, and each searched
/// serial order that differs from it.
fn rebuild_dimension(file: &ScenarioFile, i: usize, s: &StepEntry, step: &str) -> Dimension {
    let rule = s.order.as_deref().unwrap_or("index");
    let named = s.order_first.as_ref().is_some_and(|f| !f.is_empty());
    let mut options = vec![(format!("{} (the file's)", rebuild_words(s.parallel, rule, named)), Patch::Keep)];
    if !s.parallel {
        options.push(("parallel".into(), Patch::Rebuild(i, true, "index")));
    }
    let groups = file.topology.storage.groups.unwrap_or(StorageConfig::default().groups);
    for order in SEARCHED_ORDERS {
        // Index order is "serial" after a parallel file; every other serial
        // order needs two groups to differ.
        let offered = if order == "index" { s.parallel || named } else { groups >= 2 && (s.parallel || named || order != rule) };
        if offered {
            options.push((rebuild_words(false, order, false), Patch::Rebuild(i, false, order)));
        }
    }
    Dimension { what: format!("rebuild order ({step})"), options }
}

/// Staffing: each role not staffed around the clock, and the holidays.
fn staffing_dimensions(file: &ScenarioFile) -> Vec<Dimension> {
    let mut dims = Vec::new();
    for (i, r) in file.topology.operators.roles.iter().enumerate() {
        let h = r.hours.as_deref().unwrap_or("24x7");
        if h != "24x7" {
            dims.push(Dimension {
                what: format!("staffing (role `{}`)", r.name),
                options: vec![(format!("{h} (the file's)"), Patch::Keep), ("24x7".into(), Patch::RoleHours(i, "24x7".into()))],
            });
        }
    }
    if !file.topology.operators.holidays.is_empty() {
        dims.push(Dimension {
            what: "staffing (holidays)".into(),
            options: vec![("holiday cover (the file's)".into(), Patch::Keep), ("staffed as working days".into(), Patch::StaffHolidays)],
        });
    }
    dims
}

/// A cluster with one fencing level: a second level that works.
fn fencing_dimension(file: &ScenarioFile) -> Option<Dimension> {
    let c = file.topology.cluster.as_ref().filter(|c| c.fencing.len() == 1)?;
    let name = if c.fencing[0].level == "pdu" { "pdu-2" } else { "pdu" };
    Some(Dimension {
        what: "fencing levels".into(),
        options: vec![
            (format!("`{}` only (the file's)", c.fencing[0].level), Patch::Keep),
            (format!("a second level `{name}` that works"), Patch::AddFenceLevel(name.into())),
        ],
    })
}

/// The rebuild's priority against the clients: the file's and the others.
fn priority_dimension(file: &ScenarioFile) -> Dimension {
    let now = file.topology.storage.rebuild_priority.clone().unwrap_or_else(|| "medium".into());
    let mut options = vec![(format!("{now} (the file's)"), Patch::Keep)];
    for p in ["low", "medium", "high"] {
        if p != now {
            options.push((p.into(), Patch::RebuildPriority(p.into())));
        }
    }
    Dimension { what: "rebuild priority".into(), options }
}

/// The serial rebuild orders searched (see the module doc for why not
/// `largest-first`).
const SEARCHED_ORDERS: [&str; 4] = ["index", "smallest-first", "most-users-first", "most-users-per-byte"];

/// A rebuild's option label: `parallel`, `serial`, `serial, smallest first`.
fn rebuild_words(parallel: bool, order: &str, named: bool) -> String {
    if parallel {
        return "parallel".into();
    }
    let rule = RebuildRule::from_name(order).map_or(order, |r| r.words());
    match (named, order) {
        (true, _) => format!("serial, the named groups first, then {rule}"),
        (false, "index") => "serial".into(),
        (false, _) => format!("serial, {rule}"),
    }
}

fn trigger(s: &crate::scenario::StepEntry) -> String {
    if let Some(at) = s.at {
        format!("at T+{at}")
    } else if let Some(a) = &s.after {
        format!("{} after `{a}`", s.delay.unwrap_or(HumanDuration(0)))
    } else {
        "when the alert is noticed".into()
    }
}

/// How the plan search runs.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    /// Seeds every plan is screened on (0..n).
    pub seeds: u64,
    /// Seeds the best plans are compared on (0..n).
    pub confirm_seeds: u64,
    /// Plans run at most in the screening (exhaustive if the space fits).
    pub budget: usize,
    pub jobs: usize,
    /// Plans re-run on the confirmation seeds.
    pub finalists: usize,
    pub resamples: u32,
}

/// A plan: one option index per dimension.
pub type Plan = Vec<usize>;

/// A plan screened.
#[derive(Clone, Debug, Serialize)]
pub struct Screened {
    pub plan: Plan,
    /// The options' labels where they differ from the file's.
    pub changes: Vec<String>,
    /// Mean harm score over the screening seeds, and its mean paired
    /// difference from the file's plan.
    pub score: f64,
    pub diff: f64,
}

/// The result of a plan search.
#[derive(Clone, Debug, Serialize)]
pub struct PlanSearch {
    pub dimensions: Vec<Dimension>,
    /// `exhaustive` or `coordinate descent`.
    pub mode: String,
    pub space: u64,
    pub runs: u64,
    /// Every plan screened, best first.
    pub screened: Vec<Screened>,
    /// The best plan (after confirmation).
    pub best: Screened,
    /// The harm score, file's plan (A) vs the best (B), paired over the
    /// confirmation seeds: mean A, mean B, mean B − A, its 95% interval.
    pub score: [f64; 5],
    pub score_change: Change,
    /// Every metric, as `mailsim compare` reports it.
    pub comparison: Comparison,
    /// The best plan's scenario file.
    #[serde(skip)]
    pub file: ScenarioFile,
}

/// The file with `plan`'s options applied.
pub fn plan_file(base: &ScenarioFile, dims: &[Dimension], plan: &[usize]) -> ScenarioFile {
    let mut f = base.clone();
    for (d, &o) in dims.iter().zip(plan) {
        d.options[o].1.apply(&mut f);
    }
    f
}

fn changes(dims: &[Dimension], plan: &[usize]) -> Vec<String> {
    dims.iter().zip(plan).filter(|(_, &o)| o > 0).map(|(d, &o)| format!("{}: {}", d.what, d.options[o].0)).collect()
}

fn users(s: &Scenario) -> u32 {
    s.topology.clients.as_ref().map_or(0, |c| c.users)
}

/// Harm scores of one plan's runs on seeds 0..n.
fn scores(s: &Scenario, n: u64, jobs: usize) -> Vec<f64> {
    let u = users(s);
    map_jobs(n, jobs, |seed| harm_score(&run(s, seed), u))
}

/// Searches `s`'s recovery plan (library entry point, used by the tests).
pub fn search_plans(s: &Scenario, o: &PlanOptions) -> Result<PlanSearch, String> {
    if s.file.faults.is_empty() && s.file.random_faults.is_empty() {
        return Err("the file has no fault plan: `--plans` searches the recovery of an outage; give it a file with `[[faults]]`".into());
    }
    let mut base = s.file.clone();
    base.checkpoints.clear();
    base.expect = Default::default();
    let dims = valid_dimensions(&base, &s.path);
    if dims.is_empty() {
        return Err("the recovery plan offers no choice to search (no rebuild, temporary stores, delayed step, role out of hours, holidays or single fencing level)".into());
    }
    let plans = Plans { base: &base, dims: &dims, path: &s.path };
    let space: u64 = dims.iter().map(|d| d.options.len() as u64).product();
    let mut screening = Screening::new(plans, o)?;
    let mode = if space <= o.budget as u64 {
        screening.exhaustive()?;
        "exhaustive"
    } else {
        screening.coordinate_descent()?;
        "coordinate descent"
    };
    let Screening { mut screened, mut runs, .. } = screening;
    screened.sort_by(|a, b| a.diff.total_cmp(&b.diff).then(a.plan.cmp(&b.plan)));
    let best = plans.confirm(&screened, o, &mut runs)?;
    let (comparison, score, score_change) = compare_with_file(&plans.build(&vec![0; dims.len()])?, &plans.build(&best.plan)?, o);
    runs += 2 * o.confirm_seeds;
    let file = plan_file(&base, &dims, &best.plan);
    Ok(PlanSearch { dimensions: dims, mode: mode.into(), space, runs, screened, best, score, score_change, comparison, file })
}

/// The plan's dimensions, each with only the options that make a valid file,
/// and only those left with a choice.
fn valid_dimensions(base: &ScenarioFile, path: &Path) -> Vec<Dimension> {
    let mut dims = dimensions(base);
    // Drop options that do not make a valid file (named in the error).
    for d in &mut dims {
        let mut kept = vec![d.options[0].clone()];
        for opt in d.options.drain(1..) {
            let mut f = base.clone();
            opt.1.apply(&mut f);
            if Scenario::from_file(f, path).is_ok() {
                kept.push(opt);
            }
        }
        d.options = kept;
    }
    dims.retain(|d| d.options.len() > 1);
    dims
}

/// The space of plans: the file without expectations, and its dimensions.
#[derive(Clone, Copy)]
struct Plans<'a> {
    base: &'a ScenarioFile,
    dims: &'a [Dimension],
    /// The file's path (a plan's scenario resolves relative paths from it).
    path: &'a Path,
}

impl Plans<'_> {
    /// The scenario of `plan`.
    fn build(&self, plan: &[usize]) -> Result<Scenario, String> {
        Scenario::from_file(plan_file(self.base, self.dims, plan), self.path).map_err(|e| format!("a plan does not build: {e}"))
    }

    /// Confirmation: the best few screened plans (never the file's own) on
    /// the confirmation seeds; the one that improves most on the file's
    /// plan there. Counts the runs in `runs`.
    fn confirm(&self, screened: &[Screened], o: &PlanOptions, runs: &mut u64) -> Result<Screened, String> {
        let file_plan: Plan = vec![0; self.dims.len()];
        let finalists: Vec<Screened> = screened.iter().filter(|x| x.plan != file_plan).take(o.finalists.max(1)).cloned().collect();
        let file_confirm = scores(&self.build(&file_plan)?, o.confirm_seeds, o.jobs);
        *runs += o.confirm_seeds;
        let mut best: Option<(Screened, f64)> = None;
        for f in finalists {
            let sc = scores(&self.build(&f.plan)?, o.confirm_seeds, o.jobs);
            *runs += o.confirm_seeds;
            let diff = sc.iter().zip(&file_confirm).map(|(b, a)| b - a).sum::<f64>() / sc.len() as f64;
            if best.as_ref().is_none_or(|(_, d)| diff < *d) {
                best = Some((f, diff));
            }
        }
        let (best, _) = best.ok_or("no plan besides the file's")?;
        Ok(best)
    }
}

/// The screening: plans run on the screening seeds, each compared with the
/// file's plan seed by seed.
struct Screening<'a> {
    plans: Plans<'a>,
    o: &'a PlanOptions,
    file_plan: Plan,
    file_scores: Vec<f64>,
    /// The plans run so far.
    screened: Vec<Screened>,
    /// Runs so far (the file's plan included).
    runs: u64,
}

impl<'a> Screening<'a> {
    /// Starts with the file's plan run.
    fn new(plans: Plans<'a>, o: &'a PlanOptions) -> Result<Self, String> {
        let file_plan: Plan = vec![0; plans.dims.len()];
        let file_scores = scores(&plans.build(&file_plan)?, o.seeds, o.jobs);
        Ok(Screening { plans, o, file_plan, file_scores, screened: Vec::new(), runs: o.seeds })
    }

    /// The mean paired difference of `plan`'s harm score from the file's
    /// plan's, running it unless already screened.
    fn eval(&mut self, plan: &Plan) -> Result<f64, String> {
        if let Some(x) = self.screened.iter().find(|x| &x.plan == plan) {
            return Ok(x.diff);
        }
        let (o, dims) = (self.o, self.plans.dims);
        let sc = if plan == &self.file_plan { self.file_scores.clone() } else { scores(&self.plans.build(plan)?, o.seeds, o.jobs) };
        self.runs += o.seeds;
        let n = sc.len() as f64;
        let diff = sc.iter().zip(&self.file_scores).map(|(b, a)| b - a).sum::<f64>() / n;
        self.screened.push(Screened { plan: plan.clone(), changes: changes(dims, plan), score: sc.iter().sum::<f64>() / n, diff });
        Ok(diff)
    }

    /// Every plan, in mixed-radix order (the space fits the budget).
    fn exhaustive(&mut self) -> Result<(), String> {
        let dims = self.plans.dims;
        let mut plan = vec![0usize; dims.len()];
        loop {
            self.eval(&plan)?;
            // Next plan, mixed radix.
            let mut k = 0;
            while k < dims.len() {
                plan[k] += 1;
                if plan[k] < dims[k].options.len() {
                    break;
                }
                plan[k] = 0;
                k += 1;
            }
            if k == dims.len() {
                return Ok(());
            }
        }
    }

    /// Coordinate descent from the file's plan: each dimension's options in
    /// turn, keeping any that lowers the harm, at most four passes or until
    /// a pass changes nothing or the budget is spent.
    fn coordinate_descent(&mut self) -> Result<(), String> {
        let dims = self.plans.dims;
        let mut best = self.file_plan.clone();
        let mut best_diff = self.eval(&best)?;
        for _pass in 0..4 {
            let mut changed = false;
            for d in 0..dims.len() {
                for opt in 0..dims[d].options.len() {
                    if self.screened.len() >= self.o.budget {
                        break;
                    }
                    let mut p = best.clone();
                    p[d] = opt;
                    let diff = self.eval(&p)?;
                    if diff < best_diff - 1e-9 {
                        best = p;
                        best_diff = diff;
                        changed = true;
                    }
                }
            }
            if !changed {
                break;
            }
        }
        Ok(())
    }
}

/// The file's plan (`a`) against the best (`b`) on the confirmation seeds:
/// every metric as `mailsim compare` reports it, and the harm score paired
/// per seed (mean A, mean B, mean B − A, its 95% bootstrap interval) with
/// what that interval says.
fn compare_with_file(a: &Scenario, b: &Scenario, o: &PlanOptions) -> (Comparison, [f64; 5], Change) {
    let u = users(a);
    let (mut comparison, kept) = compare_keeping(a, b, 0..o.confirm_seeds, o.resamples, |r| harm_score(r, u));
    comparison.b.scenario = format!("{}-best-plan", comparison.a.scenario);
    comparison.b.file = "the best plan, best-plan.toml".into();
    let diffs: Vec<f64> = kept.iter().map(|(x, y)| y - x).collect();
    let n = diffs.len() as f64;
    let (lo, hi) = bootstrap_ci(&diffs, o.resamples.max(2000), &mut Stream::new(0x0b00_7577_ec0d_e5ed, "harm_score"));
    let mean_a = kept.iter().map(|k| k.0).sum::<f64>() / n;
    let mean_b = kept.iter().map(|k| k.1).sum::<f64>() / n;
    let change = if hi < 0.0 {
        Change::Improved
    } else if lo > 0.0 {
        Change::Regressed
    } else {
        Change::NoSignificantChange
    };
    (comparison, [mean_a, mean_b, mean_b - mean_a, lo, hi], change)
}

/// The human report.
pub fn plans_text(p: &PlanSearch, command: &str) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "explore --plans: {command}");
    let _ = writeln!(o, "plan choices ({} plans; searched {}, {} runs):", p.space, p.mode, p.runs);
    for d in &p.dimensions {
        let opts: Vec<&str> = d.options.iter().map(|x| x.0.as_str()).collect();
        let _ = writeln!(o, "  {}: {}", d.what, opts.join(" | "));
    }
    let _ = writeln!(o, "\nharm score: {}", super::search::HARM_SCORE_TEXT);
    let _ = writeln!(o, "\nscreened, best first (mean harm score, paired difference from the file's plan):");
    for s in p.screened.iter().take(8) {
        let what = if s.changes.is_empty() { "the file's plan".to_string() } else { s.changes.join("; ") };
        let _ = writeln!(o, "  {:>10.1} ({:+.1})  {what}", s.score, s.diff);
    }
    let _ = writeln!(o, "\nbest plan: {}", p.best.changes.join("; "));
    let _ = writeln!(
        o,
        "harm score over seeds 0..{}: file's plan {:.1}, best {:.1}, paired B − A {:+.1}, 95% CI [{:+.1}, {:+.1}]: {}",
        p.comparison.n, p.score[0], p.score[1], p.score[2], p.score[3], p.score[4], p.score_change
    );
    let _ = writeln!(o, "\nA = the file's plan, B = the best plan:");
    o.push_str(&crate::compare::render(&p.comparison));
    o
}

/// The best plan as a scenario file: the input with the changes, no
/// expectations or checkpoints (they described the input's plan), and a
/// header saying what changed and by how much.
pub fn best_toml(p: &PlanSearch, command: &str) -> String {
    let mut file = p.file.clone();
    let name = format!("{}-best-plan", file.scenario.name);
    file.scenario.summary = format!("Found by mailsim explore --plans: {}", p.best.changes.join("; "));
    file.scenario.assumptions.push(format!(
        "The recovery plan of {} with these changes: {}.",
        file.scenario.name,
        p.best.changes.join("; ")
    ));
    file.scenario.name = name;
    file.run.seeds = p.comparison.n;
    let mut text = String::new();
    let _ = writeln!(text, "# Found by `{command}`.");
    let _ = writeln!(text, "# Changes to the file's recovery plan: {}.", p.best.changes.join("; "));
    let _ = writeln!(
        text,
        "# Harm score over seeds 0..{} (paired with the file's plan): {:.1} vs {:.1}, B - A {:+.1}, 95% CI [{:+.1}, {:+.1}].",
        p.comparison.n, p.score[1], p.score[0], p.score[2], p.score[3], p.score[4]
    );
    if let Some(m) = p.comparison.metric("user_hours") {
        let _ = writeln!(
            text,
            "# User-hours without full service: {:.1} vs {:.1}, B - A {:+.1}, 95% CI [{:+.1}, {:+.1}].",
            m.mean_b, m.mean_a, m.mean_diff, m.ci_low, m.ci_high
        );
    }
    let _ = writeln!(text, "# Compare: mailsim compare <the input file> <this file> --seeds 0..{}\n", p.comparison.n);
    text.push_str(&crate::shrink::scenario_toml(&file));
    text
}
