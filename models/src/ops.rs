//! Monitoring and operators: probes, alerts, the people who read them, and
//! the recovery plan they execute.
//!
//! The Fused mail outage of December 2018 (Fused, "mail system down" incident
//! report, 31 Dec 2018, <https://www.fusedstatus.com/incidents/5fh5cmfdh868>)
//! is the model: "the
//! alert system was doing its job properly, sending substantial number of
//! notifications", but on a holiday weekend the admins ignored them; the
//! first responder "decided to check the status of web-services ... instead
//! of doing the mail system check as alert text indicated"; only "later on,
//! when another team member noticed", was the cluster state reset. So:
//! - Monitoring checks its targets as Icinga 2 does by default (Icinga 2
//!   docs, "Object Types: Service"): every `probe_interval` [5 min,
//!   `check_interval`] while all is well, every `probe_retry_interval`
//!   [1 min, `retry_interval`] while a failure is not yet confirmed (SOFT
//!   state), and raises an alert after `probe_failures_max` [3,
//!   `max_check_attempts`] consecutive failed checks (the target does not
//!   serve, or cannot be reached) — the HARD
//!   state, checked every `probe_interval` again — then re-alerts every
//!   `realert_interval` [30 min, Icinga 2's notification `interval`] while
//!   the failure lasts. Other components can raise alerts too
//!   (`Ops::Alert`).
//! - The checks are not simulated as messages. Every probe target publishes
//!   whether it serves (`SERVING` in its status word, `Ctx::publish`) and
//!   monitoring watches it through the kernel's failure monitor, so it knows
//!   at every instant what a check would find; a check is an event only while
//!   a target fails (at the check times above: the first check time after the
//!   failure began, then the retries). A healthy service costs no events, as
//!   heartbeats cost none in `cluster.rs`. What a check finds: not serving,
//!   or unreachable (a refused or unanswered probe) for more than
//!   `TARGET_WATCH_TIMEOUT`.
//! - Operators react after a delay drawn from the calendar (`calendar.rs`):
//!   minutes in business hours, hours on a holiday.
//! - With probability `misdiagnosis_ppm` the responder checks the wrong
//!   service; a second person notices after a further calendar delay.
//! - Once someone has noticed, the recovery plan runs: runbook steps with
//!   triggers `At(time)`, `AfterAlert` and `After(step, delay)`. Each step sends
//!   `Ops::Command` to its target and waits for `Ops::StepDone`; the operators
//!   carry out `Action::PowerOn` themselves (powering on a running machine
//!   does nothing, and is done). A command refused by a down target is
//!   retried every `command_retry_interval` [5 min, an assumption] for as
//!   long as the run lasts: the target may come back, and the command never
//!   reached it (each refusal is recorded as the step's latest failure, but
//!   does not count as an attempt).
//! - A step can name the **role** that carries it out ([`Role`]: the on-call
//!   sysadmin, the storage team, the vendor's field engineer …). The role's
//!   calendar decides when it can be reached ([`Availability`]: around the
//!   clock, business hours only, or on call with a callout delay outside
//!   them); then it acknowledges and diagnoses (two distributions with
//!   their sources, drawn per seed; a misdiagnosis, with the role's
//!   probability, costs a second diagnosis), and only then does the step's
//!   own `takes` begin. A role is engaged once per run: its first step pays
//!   the callout, acknowledgement and diagnosis; its later steps wait only
//!   for its working hours. A step may also wait for a maintenance window
//!   (`window_hour`: the command goes out at the next such hour, as the
//!   Norwegian host's night-time migration steps did). Without a role or a
//!   window a step draws nothing more than before.
//! - A step can fail: its target answers `Ops::StepFailed` with a reason when
//!   a precondition does not hold or the action was aborted (see `filer.rs`).
//!   The operators record the failure (time and reason) and retry the step
//!   every `step_retry_interval` [30 min, an assumption: someone looks
//!   again after a coffee and a call], at most `step_attempts_max` (3)
//!   attempts in all; then they give up on it (escalate), and the step stays
//!   failed. A failed step is not done: a step triggered `After` it does not
//!   run (it waits on its completion, which never comes), and the plan is
//!   not complete, so the run's recovery never completes either. A later
//!   attempt that succeeds makes the step done; its earlier failures stay in
//!   its history ([`Operators::step_failures`]).
//!
//! Probe targets must publish `SERVING` while they serve (the vip while it
//! relays to an owner that serves; an MTA while it accepts mail).
//!
//! Completion times of the steps are kept in [`Operators::steps_done`] (read
//! it through `Observe::node` or `Sim::node`) and, in full traces, as the
//! gauge `ops.steps_done`; failures in [`Operators::step_failed`] and the
//! gauge `ops.steps_failed` (steps not done whose last attempt failed).

use mailsim_sim::{Ctx, Disk, Dur, Input, Node, NodeId, Stream, Time};

use crate::calendar::{CalendarConfig, WorkingHours};
use crate::marks::{self, Mark};
use crate::msg::{Action, Msg, Ops, StepId};
use crate::timer::{OpsTimer, SetTimer, Timer};
use crate::World;

type C<'a, 'b> = &'a mut Ctx<'b, Msg, World>;

/// When a runbook step runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// At a fixed time (a planned maintenance, a scheduled fix).
    At(Time),
    /// When an operator has noticed the first alert (after the calendar
    /// response delay, and after a second responder if the first misread it).
    AfterAlert,
    /// `delay` after an earlier step completed.
    After(StepId, Dur),
}

/// How long something takes, drawn per run from the operators' stream:
/// fixed, or a distribution for what is known only as an estimate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delay {
    /// Always this long (zero by default: at once).
    Fixed(Dur),
    /// Uniformly between the two.
    Uniform(Dur, Dur),
    /// A three-point estimate (least, most likely, most): the triangular
    /// distribution, as in PERT-style duration estimates.
    Triangular {
        /// The shortest it takes.
        min: Dur,
        /// The most likely.
        mode: Dur,
        /// The longest.
        max: Dur,
    },
}

impl Default for Delay {
    fn default() -> Self {
        Delay::Fixed(Dur::ZERO)
    }
}

impl Delay {
    /// Checks that the bounds are ordered; the error says how.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Delay::Fixed(_) => Ok(()),
            Delay::Uniform(a, b) if a > b => Err(format!("min {a} is above max {b}")),
            Delay::Triangular { min, mode, max } if !(min <= mode && mode <= max) => {
                Err(format!("needs min <= mode <= max, got {min}, {mode}, {max}"))
            }
            _ => Ok(()),
        }
    }

    /// A draw. The triangular inverse uses only `sqrt`, which IEEE 754
    /// rounds exactly on every platform, so draws are the same everywhere.
    pub fn draw(&self, rng: &mut Stream) -> Dur {
        match *self {
            Delay::Fixed(d) => d,
            Delay::Uniform(a, b) => rng.dur(a, b),
            Delay::Triangular { min, mode, max } => {
                let (a, c, b) = (min.as_micros() as f64, mode.as_micros() as f64, max.as_micros() as f64);
                if b <= a {
                    return min;
                }
                let u = rng.below(1 << 53) as f64 / (1u64 << 53) as f64;
                let x = if u < (c - a) / (b - a) { a + (u * (b - a) * (c - a)).sqrt() } else { b - ((1.0 - u) * (b - a) * (b - c)).sqrt() };
                Dur((x.round() as u64).clamp(min.as_micros(), max.as_micros()))
            }
        }
    }
}

/// When a role can be reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Availability {
    /// Around the clock, at once (a staffed 24x7 operations centre).
    #[default]
    Always,
    /// Business hours on working days only (standard vendor support, a
    /// colleague not on call): out of hours the step waits for the next
    /// business hour, and the role's work stops at night.
    Business,
    /// On call: at once in business hours; outside them after a callout
    /// delay (paged, wakes up, logs in or drives in).
    OnCall {
        /// The callout delay out of business hours, drawn per seed.
        callout: Delay,
    },
}

impl Availability {
    /// The hours the role works once engaged.
    pub fn hours(&self) -> WorkingHours {
        match self {
            Availability::Business => WorkingHours::Business,
            _ => WorkingHours::Always,
        }
    }
}

/// Who carries out a step: a role with its own calendar, acknowledgement and
/// diagnosis times (see the module doc).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// The role's name ("on-call sysadmin", "storage team", "vendor field
    /// engineer").
    pub name: String,
    /// When it can be reached.
    pub availability: Availability,
    /// From being reached to starting work on it (reading the page, logging
    /// in). Default zero.
    pub acknowledge: Delay,
    /// From starting work to knowing what to do. Default zero.
    pub diagnose: Delay,
    /// Probability that the first diagnosis is wrong and a second one is
    /// needed (drawn from `diagnose` again). Default 0.
    pub misdiagnosis_ppm: u32,
}

impl Role {
    /// A role reachable at once that needs no time to diagnose.
    pub fn new(name: &str) -> Role {
        Role {
            name: name.to_string(),
            availability: Availability::Always,
            acknowledge: Delay::default(),
            diagnose: Delay::default(),
            misdiagnosis_ppm: 0,
        }
    }

    /// Checks the distributions and the probability; the error names them.
    pub fn validate(&self) -> Result<(), String> {
        if let Availability::OnCall { callout } = &self.availability {
            callout.validate().map_err(|e| format!("role `{}` callout: {e}", self.name))?;
        }
        self.acknowledge.validate().map_err(|e| format!("role `{}` acknowledge: {e}", self.name))?;
        self.diagnose.validate().map_err(|e| format!("role `{}` diagnose: {e}", self.name))?;
        if self.misdiagnosis_ppm > 1_000_000 {
            return Err(format!("role `{}` misdiagnosis above 100%", self.name));
        }
        Ok(())
    }

    /// When the role, called at `now`, has diagnosed the problem (its first
    /// engagement): reached by its calendar, then acknowledgement and
    /// diagnosis, worked in its hours. Draws from `rng` in a fixed order:
    /// callout (only when one applies), acknowledgement, diagnosis, the
    /// misdiagnosis chance and the second diagnosis.
    pub fn engage(&self, calendar: &CalendarConfig, now: Time, rng: &mut Stream) -> Time {
        let reached = match &self.availability {
            Availability::Always => now,
            Availability::Business => calendar.next_working(now, WorkingHours::Business),
            Availability::OnCall { callout } => {
                if calendar.period(now) == crate::calendar::Period::BusinessHours {
                    now
                } else {
                    now + callout.draw(rng)
                }
            }
        };
        if reached == Time::MAX {
            return reached;
        }
        let mut work = self.acknowledge.draw(rng) + self.diagnose.draw(rng);
        if self.misdiagnosis_ppm > 0 && rng.chance(self.misdiagnosis_ppm) {
            work = work + self.diagnose.draw(rng);
        }
        calendar.finish_work(reached, work, self.availability.hours())
    }
}

/// One runbook step: do `action` on `target` when `trigger` fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Step {
    /// What the step does.
    pub action: Action,
    /// The component the command is sent to (unused for `PowerOn`, which
    /// the operators carry out themselves on the node the action names).
    pub target: NodeId,
    /// When the step runs.
    pub trigger: Trigger,
    /// How long the operators work on it once it fires, before the command
    /// reaches its target (diagnosis, parts, travel): drawn once per run.
    /// Default zero.
    pub takes: Delay,
    /// When that work happens: around the clock (the default), or in
    /// business hours only, so it stretches over nights, weekends and
    /// holidays (`CalendarConfig::finish_work`).
    pub hours: WorkingHours,
    /// Who carries it out: an index into [`OpsConfig::roles`]. `None` (the
    /// default): the operators who noticed, at once.
    pub role: Option<usize>,
    /// A maintenance window: once the work is done, the command waits for
    /// the next time the wall clock reads this hour (0-23). `None` (the
    /// default): at once.
    pub window_hour: Option<u32>,
}

impl Step {
    /// A step doing `action` on `target` when `trigger` fires, at once.
    pub fn new(action: Action, target: NodeId, trigger: Trigger) -> Step {
        Step { action, target, trigger, takes: Delay::default(), hours: WorkingHours::Always, role: None, window_hour: None }
    }
}

/// A recovery plan: runbook steps, numbered in order of addition.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Plan {
    /// The steps; a step's id ([`StepId`]) is its index here.
    pub steps: Vec<Step>,
}

impl Plan {
    /// An empty plan (nothing to do).
    pub fn new() -> Plan {
        Plan::default()
    }
    /// Adds a step (its id is the number of steps before it).
    pub fn step(mut self, step: Step) -> Plan {
        self.steps.push(step);
        self
    }
    /// Adds a step at a fixed time.
    pub fn at(self, at: Time, target: NodeId, action: Action) -> Plan {
        self.step(Step::new(action, target, Trigger::At(at)))
    }
    /// Adds a step run once an operator has noticed the alerts.
    pub fn after_alert(self, target: NodeId, action: Action) -> Plan {
        self.step(Step::new(action, target, Trigger::AfterAlert))
    }
    /// Adds a step run `delay` after step `step` completed.
    pub fn after(self, step: StepId, delay: Dur, target: NodeId, action: Action) -> Plan {
        self.step(Step::new(action, target, Trigger::After(step, delay)))
    }
    /// Every `After` names an earlier step (so the plan has no cycles), and
    /// every step's `takes` has ordered bounds.
    pub fn validate(&self) -> Result<(), String> {
        for (i, s) in self.steps.iter().enumerate() {
            s.takes.validate().map_err(|e| format!("step {i} takes: {e}"))?;
            if s.window_hour.is_some_and(|h| h >= 24) {
                return Err(format!("step {i} window hour is not an hour of the day (0..24)"));
            }
            if let Trigger::After(dep, _) = s.trigger {
                if dep as usize >= i {
                    return Err(format!("step {i} runs after step {dep}, which is not an earlier step"));
                }
            }
        }
        Ok(())
    }
}

/// Monitoring, operators and their recovery plan.
#[derive(Clone, Debug, PartialEq)]
pub struct OpsConfig {
    /// Nodes probed by monitoring (the vip, MX nodes).
    pub probe_targets: Vec<NodeId>,
    /// Check period while every target is OK or confirmed down. 5 min
    /// (Icinga 2 `check_interval` default).
    pub probe_interval: Dur,
    /// Check period while a failure is unconfirmed. 1 min (Icinga 2
    /// `retry_interval` default).
    pub probe_retry_interval: Dur,
    /// Consecutive failures before an alert. 3 (Icinga 2
    /// `max_check_attempts` default).
    pub probe_failures_max: u32,
    /// Re-alert period while a target keeps failing. 30 min (Icinga 2
    /// notification `interval` default).
    pub realert_interval: Dur,
    /// The alert text (Fused: "mailcluster.fused.com is DOWN").
    pub alert_text: String,
    /// The calendar and response delays.
    pub calendar: CalendarConfig,
    /// Probability that the first responder checks the wrong service. 0 by
    /// default; the Fused replay sets it to 1,000,000.
    pub misdiagnosis_ppm: u32,
    /// Retry period for a command a down target refused. 5 min (assumption).
    pub command_retry_interval: Dur,
    /// Retry period for a step its target answered failed. 30 min
    /// (assumption).
    pub step_retry_interval: Dur,
    /// Attempts of a step its target answers failed before the operators
    /// give up on it (escalate). 3 (assumption): the first try and two
    /// retries. At least 1.
    pub step_attempts_max: u32,
    /// The recovery plan: each step runs when its trigger fires (an `At`
    /// step at its time, whether or not anyone noticed an alert). Default
    /// empty.
    pub plan: Plan,
    /// The roles steps name ([`Step::role`]). Default none.
    pub roles: Vec<Role>,
}

impl Default for OpsConfig {
    fn default() -> Self {
        OpsConfig {
            probe_targets: Vec::new(),
            probe_interval: Dur::mins(5),
            probe_retry_interval: Dur::mins(1),
            probe_failures_max: 3,
            realert_interval: Dur::mins(30),
            alert_text: "mailcluster is DOWN".to_string(),
            calendar: CalendarConfig::default(),
            misdiagnosis_ppm: 0,
            command_retry_interval: Dur::mins(5),
            step_retry_interval: Dur::mins(30),
            step_attempts_max: 3,
            plan: Plan::default(),
            roles: Vec::new(),
        }
    }
}

impl OpsConfig {
    /// Checks the plan, the calendar, and that periods are positive and
    /// counts at least 1; the error names the offending setting.
    pub fn validate(&self) -> Result<(), String> {
        self.plan.validate()?;
        self.calendar.validate()?;
        for r in &self.roles {
            r.validate()?;
        }
        for (i, s) in self.plan.steps.iter().enumerate() {
            if s.role.is_some_and(|r| r >= self.roles.len()) {
                return Err(format!("step {i} names role {}, but there are {} roles", s.role.unwrap_or(0), self.roles.len()));
            }
        }
        if self.probe_interval == Dur::ZERO {
            return Err("probe_interval must be positive".to_string());
        }
        if self.probe_retry_interval == Dur::ZERO {
            return Err("probe_retry_interval must be positive".to_string());
        }
        if self.probe_failures_max == 0 {
            return Err("probe_failures_max must be at least 1".to_string());
        }
        if self.step_attempts_max == 0 {
            return Err("step_attempts_max must be at least 1".to_string());
        }
        if self.command_retry_interval == Dur::ZERO || self.step_retry_interval == Dur::ZERO {
            return Err("command_retry_interval and step_retry_interval must be positive".to_string());
        }
        Ok(())
    }
}

/// The status bit a probe target publishes while it serves (the MTA
/// accepts, the file server has every volume and its locks, the vip relays
/// to a serving owner, a cluster node runs the mail services).
pub const SERVING: u64 = 2;

/// How long a target must be unreachable before a check counts it down: a
/// refused connection fails a probe at once, so about the time a probe's
/// connection attempt takes.
pub const TARGET_WATCH_TIMEOUT: Dur = Dur::secs(1);

#[derive(Clone, Copy, Debug)]
struct Target {
    node: NodeId,
    /// What a check would find now (from the failure monitor).
    serving: bool,
    /// A check is scheduled (the target is failing or was just found so).
    checking: bool,
    failures: u32,
    last_alert: Option<Time>,
}

/// Monitoring plus the operator team, as one node.
pub struct Operators {
    cfg: OpsConfig,
    targets: Vec<Target>,
    /// Every alert raised: time and text.
    pub alerts: Vec<(Time, String)>,
    /// When the first responder looked (after the calendar delay).
    pub responded_at: Option<Time>,
    /// The first responder checked the wrong service.
    pub misdiagnosed: bool,
    /// When someone understood the alert and the `AfterAlert` steps began.
    pub noticed_at: Option<Time>,
    responding: bool,
    /// Per step, when its trigger fired.
    fired: Vec<Option<Time>>,
    /// Per step, when it was carried out: its command first sent (or the
    /// operators' own action done), after its role's response, its work and
    /// its window.
    started: Vec<Option<Time>>,
    done: Vec<Option<Time>>,
    /// Per step, every failure (time, reason), refusals included.
    failures: Vec<Vec<(Time, String)>>,
    /// Per step, the attempts its target answered failed.
    failed_attempts: Vec<u32>,
    /// Per step, when its role had diagnosed the problem (its work began).
    ready: Vec<Option<Time>>,
    /// Per role, whether it has been engaged in this run.
    engaged: Vec<bool>,
}

impl Operators {
    /// Monitoring and operators with `cfg`. Panics if the configuration is
    /// invalid ([`OpsConfig::validate`]).
    pub fn new(cfg: OpsConfig) -> Operators {
        cfg.validate().expect("a valid operations configuration");
        let n = cfg.plan.steps.len();
        let roles = cfg.roles.len();
        let targets =
            cfg.probe_targets.iter().map(|&node| Target { node, serving: true, checking: false, failures: 0, last_alert: None }).collect();
        Operators {
            cfg,
            targets,
            alerts: Vec::new(),
            responded_at: None,
            misdiagnosed: false,
            noticed_at: None,
            responding: false,
            fired: vec![None; n],
            started: vec![None; n],
            done: vec![None; n],
            failures: vec![Vec::new(); n],
            failed_attempts: vec![0; n],
            ready: vec![None; n],
            engaged: vec![false; roles],
        }
    }

    /// When each step completed (by step id).
    pub fn steps_done(&self) -> &[Option<Time>] {
        &self.done
    }
    /// When each step's trigger fired (its time came, the alert was
    /// noticed, or the step it waits for completed).
    pub fn steps_fired(&self) -> &[Option<Time>] {
        &self.fired
    }
    /// When each step was carried out: its command first sent to its target
    /// (or the operators' own action done), after its role was reached,
    /// acknowledged and diagnosed, its work (`takes`) and its window. A
    /// command retried because its target was down counts from its first
    /// sending.
    pub fn steps_started(&self) -> &[Option<Time>] {
        &self.started
    }
    /// When each step's work began: after its role was reached, had
    /// acknowledged and diagnosed (the firing time for a step without a
    /// role).
    pub fn steps_ready(&self) -> &[Option<Time>] {
        &self.ready
    }
    /// When step `step` completed (None: not done, or no such step).
    pub fn step_done_at(&self, step: StepId) -> Option<Time> {
        self.done.get(step as usize).copied().flatten()
    }
    /// Every step has completed. A failed step has not.
    pub fn plan_complete(&self) -> bool {
        self.done.iter().all(Option::is_some)
    }
    /// Step `i` has completed.
    pub fn step_is_done(&self, i: usize) -> bool {
        self.done.get(i).copied().flatten().is_some()
    }
    /// Step `i` has not completed and its last attempt failed: when, and
    /// why (the reason its target gave, or that the target refused the
    /// command). `None` for a step that completed (even after failures), has
    /// not been tried, or is still running; and for an index beyond the plan.
    pub fn step_failed(&self, i: usize) -> Option<(Time, &str)> {
        if self.done.get(i).copied().flatten().is_some() {
            return None;
        }
        self.failures.get(i)?.last().map(|(t, r)| (*t, r.as_str()))
    }
    /// Every failure of step `i` (time, reason), including those a later
    /// attempt made good; empty beyond the plan.
    pub fn step_failures(&self, i: usize) -> &[(Time, String)] {
        self.failures.get(i).map_or(&[], Vec::as_slice)
    }
    /// The operators gave up on step `i`: its target answered failed
    /// `step_attempts_max` times. It will not be tried again.
    pub fn step_given_up(&self, i: usize) -> bool {
        self.done.get(i).is_some_and(Option::is_none) && self.failed_attempts[i] >= self.cfg.step_attempts_max
    }

    /// The failure monitor's news about a target.
    fn target_seen(&mut self, ctx: C, node: NodeId, up: bool, status: u64) {
        let Some(i) = self.targets.iter().position(|t| t.node == node) else { return };
        let t = &mut self.targets[i];
        t.serving = up && status & SERVING != 0;
        if !t.serving && !t.checking {
            // The next regular check (every `probe_interval` from T+0) will
            // find it failing.
            t.checking = true;
            let now = ctx.now().as_micros();
            let every = self.cfg.probe_interval.as_micros();
            let next = (now / every + 1) * every;
            ctx.set(Dur::micros(next - now), OpsTimer::Check { target: i });
        }
    }

    /// A check of target `i`: a failing target is checked again after the
    /// retry interval while unconfirmed (SOFT), else after the check
    /// interval; a serving one needs no more checks.
    fn check(&mut self, ctx: C, i: usize) {
        let ok = self.targets[i].serving;
        self.probe_result(ctx, i, ok);
        let t = &mut self.targets[i];
        t.checking = !ok;
        if !ok {
            let soft = t.failures < self.cfg.probe_failures_max;
            let interval = if soft { self.cfg.probe_retry_interval } else { self.cfg.probe_interval };
            ctx.set(interval, OpsTimer::Check { target: i });
        }
    }

    fn probe_result(&mut self, ctx: C, i: usize, ok: bool) {
        let t = &mut self.targets[i];
        if ok {
            t.failures = 0;
            t.last_alert = None;
            return;
        }
        t.failures += 1;
        let now = ctx.now();
        let due = match t.last_alert {
            None => t.failures >= self.cfg.probe_failures_max,
            Some(last) => now.since(last) >= self.cfg.realert_interval,
        };
        if due {
            t.last_alert = Some(now);
            let text = format!("{} ({})", self.cfg.alert_text, ctx.name(t.node));
            self.alert(ctx, text);
        }
    }

    fn alert(&mut self, ctx: C, text: String) {
        let now = ctx.now();
        self.alerts.push((now, text));
        ctx.gauge("ops.alerts", self.alerts.len() as i64);
        if !self.responding && self.noticed_at.is_none() {
            self.responding = true;
            let delay = self.cfg.calendar.response_delay(now, ctx.rng());
            ctx.set(delay, OpsTimer::Respond);
        }
    }

    fn respond(&mut self, ctx: C) {
        let now = ctx.now();
        self.responded_at = Some(now);
        if ctx.rng().chance(self.cfg.misdiagnosis_ppm) {
            // The wrong service looks fine; someone else notices later.
            self.misdiagnosed = true;
            marks::reach(ctx, Mark::Misdiagnosis);
            let delay = self.cfg.calendar.response_delay(now, ctx.rng());
            ctx.set(delay, OpsTimer::Notice);
        } else {
            self.notice(ctx);
        }
    }

    fn notice(&mut self, ctx: C) {
        self.noticed_at = Some(ctx.now());
        for i in 0..self.cfg.plan.steps.len() {
            if self.cfg.plan.steps[i].trigger == Trigger::AfterAlert {
                self.fire(ctx, i);
            }
        }
    }

    fn fire(&mut self, ctx: C, i: usize) {
        if self.done[i].is_some() || self.failed_attempts[i] >= self.cfg.step_attempts_max {
            return;
        }
        if self.fired[i].is_none() {
            let now = ctx.now();
            self.fired[i] = Some(now);
            // The role's callout, acknowledgement and diagnosis (at its first
            // engagement), or its working hours; then the work before the
            // command: drawn once, at the first firing (a retry repeats only
            // the command).
            let step = &self.cfg.plan.steps[i];
            let ready = match step.role {
                None => now,
                Some(r) if self.engaged[r] => self.cfg.calendar.next_working(now, self.cfg.roles[r].availability.hours()),
                Some(r) => {
                    self.engaged[r] = true;
                    self.cfg.roles[r].engage(&self.cfg.calendar, now, ctx.rng())
                }
            };
            self.ready[i] = Some(ready);
            let takes = step.takes.draw(ctx.rng());
            let mut done = if ready == Time::MAX { ready } else { self.cfg.calendar.finish_work(ready, takes, step.hours) };
            if let Some(h) = step.window_hour {
                if done != Time::MAX {
                    done = self.cfg.calendar.next_hour(done, h);
                }
            }
            if done == Time::MAX {
                // Never: nobody works the hours it needs.
                return;
            }
            if done > ctx.now() {
                ctx.set(done.since(ctx.now()), OpsTimer::Work { step: i });
                return;
            }
        }
        self.act(ctx, i);
    }

    /// Carries out step `i`: the operators' own action, or the command to
    /// its target.
    fn act(&mut self, ctx: C, i: usize) {
        if self.done[i].is_some() {
            return;
        }
        if self.started[i].is_none() {
            self.started[i] = Some(ctx.now());
        }
        let step = &self.cfg.plan.steps[i];
        match step.action {
            Action::PowerOn { node } => {
                ctx.power_on(node);
                self.complete(ctx, i);
            }
            ref action => {
                let cmd = Msg::Ops(Ops::Command { step: i as StepId, action: action.clone() });
                ctx.send(step.target, cmd);
            }
        }
    }

    /// The step's target could not carry it out: recorded, and retried
    /// after `step_retry_interval` until `step_attempts_max` attempts failed.
    fn failed(&mut self, ctx: C, i: usize, reason: String) {
        if self.done[i].is_some() || self.fired[i].is_none() || self.failed_attempts[i] >= self.cfg.step_attempts_max {
            return;
        }
        self.failed_attempts[i] += 1;
        self.record_failure(ctx, i, reason);
        if self.failed_attempts[i] < self.cfg.step_attempts_max {
            ctx.set(self.cfg.step_retry_interval, OpsTimer::Step { step: i });
        }
    }

    fn record_failure(&mut self, ctx: C, i: usize, reason: String) {
        let now = ctx.now();
        self.failures[i].push((now, reason));
        let failing = (0..self.done.len()).filter(|&j| self.step_failed(j).is_some()).count();
        ctx.gauge("ops.steps_failed", failing as i64);
    }

    fn complete(&mut self, ctx: C, i: usize) {
        if self.done[i].is_some() || self.fired[i].is_none() {
            return;
        }
        self.done[i] = Some(ctx.now());
        let count = self.done.iter().filter(|d| d.is_some()).count();
        ctx.gauge("ops.steps_done", count as i64);
        if !self.failures[i].is_empty() {
            let failing = (0..self.done.len()).filter(|&j| self.step_failed(j).is_some()).count();
            ctx.gauge("ops.steps_failed", failing as i64);
        }
        for j in 0..self.cfg.plan.steps.len() {
            if let Trigger::After(dep, delay) = self.cfg.plan.steps[j].trigger {
                if dep as usize == i {
                    if delay == Dur::ZERO {
                        self.fire(ctx, j);
                    } else {
                        ctx.set(delay, OpsTimer::Step { step: j });
                    }
                }
            }
        }
    }
}

impl Node<Msg, World> for Operators {
    type Disk = ();

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _disk: &mut Disk<()>) {
        match input {
            Input::Start => {
                let now = ctx.now();
                for (i, s) in self.cfg.plan.steps.iter().enumerate() {
                    if let Trigger::At(at) = s.trigger {
                        ctx.set(at.since(now), OpsTimer::Step { step: i });
                    }
                }
                for t in &self.targets {
                    ctx.watch(t.node, TARGET_WATCH_TIMEOUT);
                }
            }
            Input::Timer { tag, .. } => match Timer::from_tag(tag) {
                Some(Timer::Ops(OpsTimer::Check { target })) => self.check(ctx, target),
                Some(Timer::Ops(OpsTimer::Respond)) => self.respond(ctx),
                Some(Timer::Ops(OpsTimer::Notice)) => self.notice(ctx),
                Some(Timer::Ops(OpsTimer::Step { step })) => self.fire(ctx, step),
                Some(Timer::Ops(OpsTimer::Work { step })) => self.act(ctx, step),
                _ => {}
            },
            Input::Message { msg: Msg::Ops(Ops::Alert { text, .. }), .. } => self.alert(ctx, text),
            Input::Message { msg: Msg::Ops(Ops::StepDone { step }), .. } if (step as usize) < self.done.len() => {
                self.complete(ctx, step as usize);
            }
            Input::Message { msg: Msg::Ops(Ops::StepFailed { step, reason }), .. } if (step as usize) < self.done.len() => {
                self.failed(ctx, step as usize, reason);
            }
            // A step aimed at the operators' own node: nothing here carries
            // out a runbook action.
            Input::Message { from, msg: Msg::Ops(Ops::Command { step, action }) } => {
                let reason = format!("{} does not {}", ctx.name(ctx.me()), action.name());
                ctx.send(from, Msg::Ops(Ops::StepFailed { step, reason }));
            }
            Input::Peer { peer, up, status } => self.target_seen(ctx, peer, up, status),
            // A command refused by a down target: recorded, retried later.
            Input::Refused { to, msg: Msg::Ops(Ops::Command { step, action }) } => {
                let i = step as usize;
                if i < self.done.len() && self.done[i].is_none() {
                    let reason = format!("{} is down: it refused the {} command", ctx.name(to), action.name());
                    self.record_failure(ctx, i, reason);
                }
                ctx.set(self.cfg.command_retry_interval, OpsTimer::Step { step: step as usize });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::Weekday;
    use mailsim_sim::{Config, Fault, NodeConfig, Sim};

    /// A component that carries out any command in 10 min and answers probes.
    #[derive(Default)]
    struct Worker {
        commands: Vec<(Time, StepId)>,
    }
    impl Node<Msg, World> for Worker {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            match input {
                Input::Message { from, msg: Msg::Ops(Ops::Command { step, .. }) } => {
                    self.commands.push((ctx.now(), step));
                    ctx.send_after(Dur::mins(10), from, Msg::Ops(Ops::StepDone { step }));
                }
                Input::Start => ctx.publish(SERVING),
                _ => {}
            }
        }
    }

    const WORKER: NodeId = NodeId(0);
    const SERVICE: NodeId = NodeId(1);
    const SPARE: NodeId = NodeId(2);
    const OPS: NodeId = NodeId(3);

    /// The probed service crashes at `down`; the spare machine crashes at 10
    /// min and is powered on by the plan.
    fn run(cfg: OpsConfig, down: Time, seed: u64) -> Sim<Msg, World> {
        run_until(cfg, down, seed, Time::from_hours(48))
    }

    fn run_until(cfg: OpsConfig, down: Time, seed: u64, end: Time) -> Sim<Msg, World> {
        let mut c = Config::new(seed);
        c.end_at = Some(end);
        let mut sim: Sim<Msg, World> = crate::ledger::new_sim(c);
        for name in ["worker", "service", "spare"] {
            sim.add_node(name, NodeConfig::default(), (), |_| Worker::default());
        }
        assert_eq!(sim.add_node("ops", NodeConfig::default(), (), move |_| Operators::new(cfg.clone())), OPS);
        sim.schedule(Time::from_secs(600), Fault::Crash(SPARE));
        sim.schedule(down, Fault::Crash(SERVICE));
        let report = sim.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        sim
    }

    fn plan() -> Plan {
        Plan::new()
            .at(Time::from_hours(1), WORKER, Action::RollbackUpgrade)
            .after(0, Dur::mins(30), WORKER, Action::MergeBack)
            .after(1, Dur::ZERO, WORKER, Action::PowerOn { node: SPARE })
            .after_alert(WORKER, Action::ResetCluster)
            .after(3, Dur::mins(5), WORKER, Action::EnableTempStores)
    }

    fn config(calendar: CalendarConfig) -> OpsConfig {
        OpsConfig { probe_targets: vec![SERVICE], calendar, plan: plan(), ..OpsConfig::default() }
    }

    fn near(t: Option<Time>, expected: Time) -> bool {
        t.is_some_and(|t| t >= expected && t <= expected + Dur::millis(50))
    }

    #[test]
    fn steps_fire_in_trigger_order_with_their_delays() {
        let down = Time::from_hours(3);
        let sim = run(config(CalendarConfig::default()), down, 1);
        let ops = sim.node::<Operators>(OPS).expect("ops");
        let done = ops.steps_done();
        // At(1 h), done 10 min later; +30 min; then the power-on at once.
        assert!(near(done[0], Time::from_hours(1) + Dur::mins(10)), "{done:?}");
        assert!(near(ops.steps_started()[1], Time::from_hours(1) + Dur::mins(40)), "{:?}", ops.steps_started());
        assert!(near(done[1], Time::from_hours(1) + Dur::mins(50)), "{done:?}");
        assert_eq!(done[2], done[1]);
        assert!(sim.node::<Worker>(SPARE).is_some(), "the spare was powered on");
        // The alert: 3 refused probes after the crash, the first at the next
        // check (every 5 min), then two retries a minute apart.
        let first_alert = ops.alerts[0].0;
        assert!(first_alert >= down + Dur::mins(2) && first_alert <= down + Dur::mins(7) + Dur::secs(1), "{first_alert}");
        assert!(ops.alerts[0].1.contains("service"));
        // Monday 12:00: business hours, noticed within 5-15 min.
        let noticed = ops.noticed_at.expect("noticed");
        assert!(noticed >= first_alert + Dur::mins(5) && noticed <= first_alert + Dur::mins(15), "{noticed}");
        assert_eq!(ops.steps_started()[3], Some(noticed));
        assert!(near(done[4], noticed + Dur::mins(10) + Dur::mins(5) + Dur::mins(10)), "{done:?}");
        // The commands reached the worker in trigger order.
        let order: Vec<StepId> = sim.node::<Worker>(WORKER).expect("worker").commands.iter().map(|c| c.1).collect();
        assert_eq!(order, vec![0, 1, 3, 4]);
        assert!(ops.plan_complete());
        // Re-alerts while the service stays down: every 30 min for ~45 h.
        assert!(ops.alerts.len() > 80, "{}", ops.alerts.len());
    }

    #[test]
    fn a_step_that_takes_time_sends_its_command_that_much_later_drawn_per_seed() {
        let takes = Delay::Triangular { min: Dur::hours(2), mode: Dur::hours(3), max: Dur::hours(8) };
        let mut sent = Vec::new();
        for seed in 0..12 {
            let mut cfg = config(CalendarConfig::default());
            cfg.plan.steps[0].takes = takes;
            let sim = run(cfg, Time::from_hours(3), seed);
            let ops = sim.node::<Operators>(OPS).expect("ops");
            // Fired at 1 h; its command reached the worker `takes` later,
            // and that is when the step counts as started.
            assert_eq!(ops.steps_fired()[0], Some(Time::from_hours(1)));
            let at = sim.node::<Worker>(WORKER).expect("worker").commands.iter().find(|c| c.1 == 0).expect("sent").0;
            let started = ops.steps_started()[0].expect("started");
            assert!(started <= at && at <= started + Dur::millis(50), "started {started}, received {at}");
            let took = at.since(Time::from_hours(1));
            assert!(took >= Dur::hours(2) && took <= Dur::hours(8) + Dur::millis(50), "{took}");
            // The step after it waits on its completion.
            assert!(ops.steps_started()[1].expect("fired") >= at + Dur::mins(30));
            sent.push(took);
        }
        assert!(sent.iter().any(|t| *t != sent[0]), "drawn per seed: {sent:?}");
    }

    #[test]
    fn a_business_hours_step_waits_out_the_night() {
        // The run starts Monday 09:00; step 0 fires at 10:00 and needs 8 h of
        // work: 7 h on Monday, 1 h on Tuesday from 09:00, so its command goes
        // out Tuesday 10:00 (T+25h). Around the clock, Monday 18:00 (T+9h).
        // (Weekends and holidays: `calendar`'s tests.)
        for (hours, expected) in [(WorkingHours::Always, Time::from_hours(9)), (WorkingHours::Business, Time::from_hours(25))] {
            let mut cfg = config(CalendarConfig::default());
            cfg.plan.steps[0].takes = Delay::Fixed(Dur::hours(8));
            cfg.plan.steps[0].hours = hours;
            let sim = run(cfg, Time::from_hours(40), 1);
            let at = sim.node::<Worker>(WORKER).expect("worker").commands.iter().find(|c| c.1 == 0).expect("sent").0;
            assert!(at >= expected && at <= expected + Dur::millis(50), "{hours:?}: sent at {at}");
        }
    }

    /// Step 0 fires at T+1h on a calendar starting Friday 16:00 (so at
    /// Friday 17:00, just out of hours), carried out by `role`.
    fn friday_evening(role: Role, seed: u64) -> (Time, Time) {
        let calendar = CalendarConfig { start_weekday: Weekday::Fri, start_hour: 16, ..CalendarConfig::default() };
        let mut cfg = config(calendar);
        cfg.roles = vec![role];
        cfg.plan.steps[0].role = Some(0);
        let sim = run_until(cfg, Time::from_hours(200), seed, Time::from_hours(100));
        let ops = sim.node::<Operators>(OPS).expect("ops");
        let ready = ops.steps_ready()[0].expect("fired");
        let sent = sim.node::<Worker>(WORKER).expect("worker").commands.iter().find(|c| c.1 == 0).expect("sent").0;
        (ready, sent)
    }

    #[test]
    fn a_business_hours_role_called_on_friday_evening_starts_on_monday() {
        // Reached Monday 09:00 (T+65h), then 10 min to acknowledge and 1 h to
        // diagnose, worked in business hours: Monday 10:10.
        let role = Role {
            availability: Availability::Business,
            acknowledge: Delay::Fixed(Dur::mins(10)),
            diagnose: Delay::Fixed(Dur::hours(1)),
            ..Role::new("vendor field engineer")
        };
        let (ready, sent) = friday_evening(role.clone(), 1);
        assert_eq!(ready, Time::from_hours(66) + Dur::mins(10));
        assert!(sent >= ready && sent <= ready + Dur::millis(50), "{sent}");
        // The same role around the clock starts Friday 18:10.
        let (ready, _) = friday_evening(Role { availability: Availability::Always, ..role.clone() }, 1);
        assert_eq!(ready, Time::from_hours(2) + Dur::mins(10));
        // On call: a callout of 30-60 min out of hours, then the same work.
        let callout = Delay::Uniform(Dur::mins(30), Dur::mins(60));
        let (ready, _) = friday_evening(Role { availability: Availability::OnCall { callout }, ..role }, 1);
        let took = ready.since(Time::from_hours(1));
        assert!(took >= Dur::mins(100) && took <= Dur::mins(130), "{took}");
    }

    #[test]
    fn a_step_starts_when_its_command_goes_out_not_when_its_trigger_fired() {
        // Monday 09:00 start; step 0 fires at 10:00, its role needs 20 min
        // to acknowledge and 3 h to diagnose (13:20), then 1 h of work
        // (14:20), and it waits for the 23:00 window: the command goes out
        // at 23:00 (T+14h), which is when the step started.
        let role = Role { acknowledge: Delay::Fixed(Dur::mins(20)), diagnose: Delay::Fixed(Dur::hours(3)), ..Role::new("storage team") };
        let mut cfg = config(CalendarConfig::default());
        cfg.roles = vec![role];
        cfg.plan.steps[0].role = Some(0);
        cfg.plan.steps[0].takes = Delay::Fixed(Dur::hours(1));
        cfg.plan.steps[0].window_hour = Some(23);
        let sim = run(cfg, Time::from_hours(40), 1);
        let ops = sim.node::<Operators>(OPS).expect("ops");
        assert_eq!(ops.steps_fired()[0], Some(Time::from_hours(1)));
        assert_eq!(ops.steps_ready()[0], Some(Time::from_hours(4) + Dur::mins(20)));
        assert_eq!(ops.steps_started()[0], Some(Time::from_hours(14)));
        let received = sim.node::<Worker>(WORKER).expect("worker").commands.iter().find(|c| c.1 == 0).expect("sent").0;
        assert!(received >= Time::from_hours(14) && received <= Time::from_hours(14) + Dur::millis(50), "{received}");
        // The step after it (30 min after its completion) has no role, work
        // or window: it starts when it fires.
        let after = ops.steps_fired()[1].expect("fired");
        assert_eq!(ops.steps_started()[1], Some(after));
    }

    #[test]
    fn an_on_call_role_in_business_hours_needs_no_callout() {
        // Monday 09:00 start, the step fires at 10:00: no callout drawn.
        let role = Role {
            availability: Availability::OnCall { callout: Delay::Fixed(Dur::hours(5)) },
            diagnose: Delay::Fixed(Dur::mins(20)),
            ..Role::new("on-call sysadmin")
        };
        let mut cfg = config(CalendarConfig::default());
        cfg.roles = vec![role];
        cfg.plan.steps[0].role = Some(0);
        // Step 1 (after step 0) by the same role: engaged already, no new
        // diagnosis.
        cfg.plan.steps[1].role = Some(0);
        let sim = run(cfg, Time::from_hours(3), 1);
        let ops = sim.node::<Operators>(OPS).expect("ops");
        assert_eq!(ops.steps_ready()[0], Some(Time::from_hours(1) + Dur::mins(20)));
        assert_eq!(ops.steps_ready()[1], ops.steps_started()[1]);
    }

    #[test]
    fn diagnosis_is_drawn_per_seed_and_a_misdiagnosis_costs_a_second_one() {
        let diagnose = Delay::Triangular { min: Dur::hours(1), mode: Dur::hours(2), max: Dur::hours(6) };
        let role = Role { diagnose, ..Role::new("storage team") };
        let mut once = Vec::new();
        for seed in 0..8 {
            let mut cfg = config(CalendarConfig::default());
            cfg.roles = vec![role.clone()];
            cfg.plan.steps[0].role = Some(0);
            let sim = run(cfg, Time::from_hours(30), seed);
            let took = sim.node::<Operators>(OPS).expect("ops").steps_ready()[0].expect("fired").since(Time::from_hours(1));
            assert!(took >= Dur::hours(1) && took <= Dur::hours(6), "{took}");
            once.push(took);
        }
        assert!(once.iter().any(|t| *t != once[0]), "drawn per seed: {once:?}");
        // Always wrong first: two diagnoses, so at least 2 h, and longer on
        // average.
        let mut twice = Vec::new();
        for seed in 0..8 {
            let mut cfg = config(CalendarConfig::default());
            cfg.roles = vec![Role { misdiagnosis_ppm: 1_000_000, ..role.clone() }];
            cfg.plan.steps[0].role = Some(0);
            let sim = run(cfg, Time::from_hours(30), seed);
            twice.push(sim.node::<Operators>(OPS).expect("ops").steps_ready()[0].expect("fired").since(Time::from_hours(1)));
        }
        assert!(twice.iter().all(|t| *t >= Dur::hours(2)), "{twice:?}");
        let sum = |v: &[Dur]| v.iter().map(|d| d.as_secs()).sum::<u64>();
        assert!(sum(&twice) > sum(&once), "{twice:?} vs {once:?}");
    }

    #[test]
    fn a_windowed_step_waits_for_its_hour() {
        // Monday 09:00 start; step 0 fires at 10:00 and waits for 23:00.
        let mut cfg = config(CalendarConfig::default());
        cfg.plan.steps[0].window_hour = Some(23);
        let sim = run(cfg, Time::from_hours(30), 1);
        let at = sim.node::<Worker>(WORKER).expect("worker").commands.iter().find(|c| c.1 == 0).expect("sent").0;
        assert!(at >= Time::from_hours(14) && at <= Time::from_hours(14) + Dur::millis(50), "{at}");
    }

    #[test]
    fn a_step_naming_a_role_that_does_not_exist_is_refused() {
        let mut cfg = config(CalendarConfig::default());
        cfg.plan.steps[0].role = Some(0);
        assert!(cfg.validate().unwrap_err().contains("role"));
        let bad = Role { diagnose: Delay::Uniform(Dur::hours(2), Dur::hours(1)), ..Role::new("dba") };
        assert!(bad.validate().unwrap_err().contains("dba"));
    }

    #[test]
    fn delay_draws_stay_in_bounds_and_follow_their_distribution() {
        let mut rng = Stream::new(1, "test");
        let tri = Delay::Triangular { min: Dur::hours(1), mode: Dur::hours(2), max: Dur::hours(6) };
        let draws: Vec<u64> = (0..20_000).map(|_| tri.draw(&mut rng).as_secs()).collect();
        assert!(draws.iter().all(|d| (3600..=6 * 3600).contains(d)));
        // The triangular mean is (min + mode + max) / 3 = 3 h.
        let mean = draws.iter().sum::<u64>() as f64 / draws.len() as f64 / 3600.0;
        assert!((mean - 3.0).abs() < 0.05, "mean {mean} h");
        // Its mode: more draws near 2 h than near 5 h.
        let near = |h: f64| draws.iter().filter(|d| ((**d as f64 / 3600.0) - h).abs() < 0.25).count();
        assert!(near(2.0) > 2 * near(5.0), "{} vs {}", near(2.0), near(5.0));
        let uni = Delay::Uniform(Dur::mins(10), Dur::mins(20));
        assert!((0..1000).map(|_| uni.draw(&mut rng)).all(|d| d >= Dur::mins(10) && d <= Dur::mins(20)));
        assert_eq!(Delay::Fixed(Dur::mins(7)).draw(&mut rng), Dur::mins(7));
        assert!(Delay::Triangular { min: Dur::hours(2), mode: Dur::hours(1), max: Dur::hours(3) }.validate().is_err());
        assert!(Delay::Uniform(Dur::hours(2), Dur::hours(1)).validate().is_err());
    }

    #[test]
    fn a_holiday_alert_is_answered_later_than_a_weekday_one() {
        let down = Time::from_hours(3);
        let weekday = CalendarConfig::default();
        let holiday = CalendarConfig { start_weekday: Weekday::Sat, holidays: vec![0, 1, 2], ..CalendarConfig::default() };
        let mut sums = [0u64; 2];
        for seed in 0..10 {
            for (i, cal) in [&weekday, &holiday].into_iter().enumerate() {
                let sim = run(config(cal.clone()), down, seed);
                let ops = sim.node::<Operators>(OPS).expect("ops");
                let delay = ops.noticed_at.expect("noticed").since(ops.alerts[0].0);
                if i == 0 {
                    assert!(delay <= Dur::mins(15), "weekday {delay}");
                } else {
                    assert!(delay >= Dur::hours(4), "holiday {delay}");
                }
                sums[i] += delay.as_secs();
            }
        }
        assert!(sums[1] > 10 * sums[0], "{sums:?}");
    }

    #[test]
    fn a_misdiagnosis_waits_for_a_second_responder() {
        let down = Time::from_hours(3);
        let cfg = OpsConfig { misdiagnosis_ppm: 1_000_000, ..config(CalendarConfig::default()) };
        let sim = run(cfg, down, 3);
        let ops = sim.node::<Operators>(OPS).expect("ops");
        assert!(ops.misdiagnosed);
        let responded = ops.responded_at.expect("responded");
        let noticed = ops.noticed_at.expect("noticed");
        assert!(noticed >= responded + Dur::mins(5), "{responded} {noticed}");
        let correct = run(config(CalendarConfig::default()), down, 3);
        let correct = correct.node::<Operators>(OPS).expect("ops");
        assert!(!correct.misdiagnosed);
        assert_eq!(correct.noticed_at, correct.responded_at);
    }

    /// Serves except in the windows given (publishes SERVING or not).
    struct Flaky {
        down: Vec<(Time, Time)>,
    }
    impl Node<Msg, World> for Flaky {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            let now = ctx.now();
            if matches!(input, Input::Start) {
                for &(a, b) in &self.down {
                    ctx.set_timer(a.since(now), 0);
                    ctx.set_timer(b.since(now), 0);
                }
            }
            let down = self.down.iter().any(|&(a, b)| now >= a && now < b);
            ctx.publish(if down { 0 } else { SERVING });
        }
    }

    fn alerts_for(down: Vec<(Time, Time)>) -> Vec<Time> {
        let mut c = Config::new(5);
        c.end_at = Some(Time::from_hours(3));
        let mut sim: Sim<Msg, World> = crate::ledger::new_sim(c);
        let target = sim.add_node("flaky", NodeConfig::default(), (), move |_| Flaky { down: down.clone() });
        let cfg = OpsConfig { probe_targets: vec![target], ..OpsConfig::default() };
        let ops = sim.add_node("ops", NodeConfig::default(), (), move |_| Operators::new(cfg.clone()));
        assert!(sim.run().outcome.is_ok());
        sim.node::<Operators>(ops).expect("ops").alerts.iter().map(|a| a.0).collect()
    }

    #[test]
    fn checks_see_what_icinga_would() {
        let m = |x: u64| Time::from_secs(x * 60);
        // Down from 31 to 34 min: between the checks at 30 and 35, unseen.
        assert_eq!(alerts_for(vec![(m(31), m(34))]), Vec::<Time>::new());
        // Down from 34 to 36.5 min: the check at 35 fails (SOFT), the retry at
        // 36 fails, the one at 37 passes: no alert.
        assert_eq!(alerts_for(vec![(m(34), m(36) + Dur::secs(30))]), Vec::<Time>::new());
        // Down from 34 to 50 min: checks fail at 35, 36, 37 -> HARD, alert at
        // 37; re-alert every 30 min only while it lasts: none more.
        let a = alerts_for(vec![(m(34), m(50))]);
        assert_eq!(a.len(), 1, "{a:?}");
        assert!(a[0] >= m(37) && a[0] < m(37) + Dur::millis(20), "{a:?}");
        // Down for good from 34 min: re-alerts at the 5-min checks 30 min on.
        let a = alerts_for(vec![(m(34), Time::from_hours(4))]);
        assert!(a.len() >= 5 && a[1].since(a[0]) >= Dur::mins(30) && a[1].since(a[0]) < Dur::mins(31), "{a:?}");
    }

    #[test]
    fn plans_must_refer_to_earlier_steps() {
        let bad = Plan::new().after(0, Dur::ZERO, WORKER, Action::MergeBack);
        assert!(bad.validate().is_err());
        assert!(plan().validate().is_ok());
    }

    /// Answers the first `fails` commands it gets with a failure, the rest
    /// with done after 10 min.
    struct Failer {
        fails: u32,
        commands: Vec<(Time, StepId)>,
    }
    impl Node<Msg, World> for Failer {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            if let Input::Message { from, msg: Msg::Ops(Ops::Command { step, .. }) } = input {
                self.commands.push((ctx.now(), step));
                if self.commands.len() as u32 <= self.fails {
                    let reason = format!("cannot act (attempt {})", self.commands.len());
                    ctx.send(from, Msg::Ops(Ops::StepFailed { step, reason }));
                } else {
                    ctx.send_after(Dur::mins(10), from, Msg::Ops(Ops::StepDone { step }));
                }
            }
        }
    }

    /// Step 0 at 1 h on a target that fails `fails` times; step 1 on a
    /// worker right after step 0. The target is down from `down.0` to
    /// `down.1` if given.
    fn failing_run(fails: u32, down: Option<(Time, Time)>) -> (Sim<Msg, World>, NodeId, NodeId, NodeId) {
        let mut c = Config::new(7);
        c.end_at = Some(Time::from_hours(12));
        let mut sim: Sim<Msg, World> = crate::ledger::new_sim(c);
        let failer = sim.add_node("failer", NodeConfig::default(), (), move |_| Failer { fails, commands: vec![] });
        let worker = sim.add_node("worker", NodeConfig::default(), (), |_| Worker::default());
        let plan = Plan::new().at(Time::from_hours(1), failer, Action::MergeBack).after(0, Dur::ZERO, worker, Action::EnableTempStores);
        let cfg = OpsConfig { plan, ..OpsConfig::default() };
        let ops = sim.add_node("ops", NodeConfig::default(), (), move |_| Operators::new(cfg.clone()));
        if let Some((a, b)) = down {
            sim.schedule(a, Fault::Crash(failer));
            sim.schedule(b, Fault::Restart(failer));
        }
        let report = sim.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        (sim, failer, worker, ops)
    }

    #[test]
    fn a_failed_step_is_retried_then_given_up_and_the_steps_after_it_never_run() {
        let (sim, failer, worker, ops) = failing_run(u32::MAX, None);
        let o = sim.node::<Operators>(ops).expect("ops");
        let tries: Vec<Time> = sim.node::<Failer>(failer).expect("failer").commands.iter().map(|c| c.0).collect();
        assert_eq!(tries.len(), 3, "three attempts in all: {tries:?}");
        assert!(near(Some(tries[1]), tries[0] + Dur::mins(30)) && near(Some(tries[2]), tries[1] + Dur::mins(30)), "{tries:?}");
        let (at, reason) = o.step_failed(0).expect("failed");
        assert!(near(Some(at), tries[2]), "{at}");
        assert_eq!(reason, "cannot act (attempt 3)");
        assert_eq!(o.step_failures(0).len(), 3);
        assert!(o.step_given_up(0));
        assert_eq!(o.steps_done()[0], None, "a failed step is not done");
        assert!(!o.plan_complete());
        assert_eq!(o.steps_started()[1], None, "the step after it never ran");
        assert!(sim.node::<Worker>(worker).expect("worker").commands.is_empty());
        assert_eq!(o.step_failed(1), None, "never tried is not failed");
        assert_eq!(o.step_failed(9), None);
    }

    #[test]
    fn a_step_that_fails_once_is_done_after_its_retry() {
        let (sim, _, worker, ops) = failing_run(1, None);
        let o = sim.node::<Operators>(ops).expect("ops");
        let retry = Time::from_hours(1) + Dur::mins(30);
        assert!(near(o.steps_done()[0], retry + Dur::mins(10)), "{:?}", o.steps_done());
        assert_eq!(o.step_failed(0), None, "done after all");
        assert!(!o.step_given_up(0));
        assert_eq!(o.step_failures(0).len(), 1, "the failure stays in the history");
        assert!(o.plan_complete());
        assert_eq!(sim.node::<Worker>(worker).expect("worker").commands.len(), 1);
    }

    #[test]
    fn a_command_refused_by_a_down_target_is_recorded_and_retried_until_it_is_back() {
        let back = Time::from_hours(1) + Dur::mins(17);
        let (sim, failer, _, ops) = failing_run(0, Some((Time::from_secs(60), back)));
        let o = sim.node::<Operators>(ops).expect("ops");
        // Refused at 1 h, 1 h 05, 1 h 10 and 1 h 15; reaches it at 1 h 20.
        let refusals = o.step_failures(0);
        assert_eq!(refusals.len(), 4, "{refusals:?}");
        assert!(refusals.iter().all(|r| r.1.contains("failer is down")), "{refusals:?}");
        let tries = &sim.node::<Failer>(failer).expect("failer").commands;
        assert_eq!(tries.len(), 1);
        assert!(near(Some(tries[0].0), Time::from_hours(1) + Dur::mins(20)), "{tries:?}");
        assert!(o.plan_complete() && o.step_failed(0).is_none());
        assert!(!o.step_given_up(0), "refusals are not attempts");
    }

    #[test]
    fn a_target_down_for_good_leaves_its_step_failed_with_the_reason() {
        let (sim, _, _, ops) = failing_run(0, Some((Time::from_secs(60), Time::from_hours(48))));
        let o = sim.node::<Operators>(ops).expect("ops");
        let (at, reason) = o.step_failed(0).expect("never reached");
        assert!(at >= Time::from_hours(11) && reason.contains("refused the merge-back command"), "{at} {reason}");
        assert!(!o.plan_complete());
    }
}
