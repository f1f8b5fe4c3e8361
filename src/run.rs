//! Running a scenario: one seed at a time, each run single-threaded and
//! deterministic; the figures a run reports; and the expectations checked
//! against them.

use mailsim_models::availability::{summarize, AvailabilitySummary, Service};
use mailsim_models::ledger::{DepthSample, ResourceStart, CUSTODY, EVENTUAL_DELIVERY, SPLIT_BRAIN};
use mailsim_models::ops::Operators;
use mailsim_models::reconcile::{reconcile, Reconciliation};
use mailsim_models::topology::Topology;
use mailsim_models::World;
use mailsim_sim::{Outcome, PropertyStatus, RunReport, Sim, Time, TraceMode, RECOVERY};
use serde::Serialize;

use crate::checkpoints::CheckpointResult;
use crate::scenario::{Bounds, Expect, Scenario};
use crate::units::{HumanDuration, Share};

/// When one recovery step fired, was carried out and completed (µs since
/// T0; `None`: it never did).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StepTimes {
    /// The step's name.
    pub name: String,
    /// Its trigger fired: its time came, the alert was noticed, or the step
    /// it waits for completed.
    pub fired_us: Option<u64>,
    /// Its command went out (or the operators did it themselves): after its
    /// role was reached, acknowledged and diagnosed, its work and its
    /// maintenance window. This is when the step started.
    pub started_us: Option<u64>,
    /// The operators heard it completed.
    pub done_us: Option<u64>,
}

/// What one run of a scenario reports.
#[derive(Clone, Debug, Serialize)]
pub struct Figures {
    pub seed: u64,
    pub outcome: String,
    /// The first violation (the outcome's), if any.
    pub violation: Option<String>,
    /// Every violation recorded, in order (the first few in full; the
    /// verdicts carry each property's count).
    pub violations: Vec<String>,
    pub trace_hash: String,
    pub events: u64,
    pub submitted: u64,
    pub accepted: u64,
    pub delivered: u64,
    /// Accepted mails lost (in no queue, mailbox or temporary store, and not
    /// returned), as the ledger counted them at each transition.
    pub lost: u64,
    /// The same loss by where it happened.
    pub lost_by: mailsim_models::ledger::LostBy,
    pub duplicates: u64,
    pub client_duplicates: u64,
    /// `client_duplicates` of POP clients (re-downloads after a UIDL change).
    pub pop_redownloads: u64,
    /// `client_duplicates` of IMAP clients (cache resyncs after a
    /// UIDVALIDITY change).
    pub imap_resyncs: u64,
    pub returned: u64,
    pub sender_bounced: u64,
    pub sender_bounces: Vec<(String, u64)>,
    /// Peak share of mailboxes unavailable, parts per million.
    pub peak_unavailable_ppm: u32,
    /// (time in µs, mailboxes unavailable) at each change.
    pub unavailable: Vec<(u64, u32)>,
    /// The mailstore's speed as a share of normal (ppm; an offline volume
    /// counts zero), (time in µs, ppm) at each change.
    pub storage_speed: Vec<(u64, u32)>,
    /// When the last unavailable mailbox came back (µs).
    pub restored_us: Option<u64>,
    pub delivered_per_hour: Vec<u32>,
    pub delay_s_p50: u64,
    pub delay_s_p99: u64,
    pub delay_s_max: u64,
    /// When the mail services were started on a node other than the one
    /// running them before (µs).
    pub failovers_us: Vec<u64>,
    /// Each recovery step: when its trigger fired, when the operators
    /// carried it out (its command sent, after its role's response, its
    /// work and its window) and when they heard it completed. The step's
    /// effects fall between the last two: its completion reaches them a
    /// network round trip later.
    pub steps: Vec<StepTimes>,
    /// Recovery steps that could not act. A step retried and then done is
    /// not listed.
    pub steps_failed: Vec<StepFailure>,
    /// Scheduled faults that changed nothing.
    pub faults_without_effect: Vec<String>,
    /// Scheduled faults that never fired: the run ended before they were due.
    pub faults_unfired: Vec<String>,
    /// When the recovery plan completed and the liveness phase began (µs).
    pub recovered_us: Option<u64>,
    /// Mailbox count, for shares.
    pub mailboxes: u32,
    /// Where every mail is at the end, counted from the components' final
    /// state, independently of the ledger's transition checks.
    pub reconciliation: Reconciliation,
    /// Whether the reconciliation agrees with the ledger (`Err`: every
    /// disagreement).
    pub reconciled: Result<(), String>,
    /// What users and senders saw, per service (SMTP in, POP, IMAP,
    /// webmail), per user and per queue: computed once, by
    /// `mailsim_models::availability::summarize`.
    pub availability: AvailabilitySummary,
    /// Mails accepted (first 250) per simulated hour: the arrivals that
    /// `delivered_per_hour` is drawn against.
    pub accepted_per_hour: Vec<u32>,
    /// Each queue's depth as sampled (at each change of its depth bucket):
    /// node name → (seconds from T+0, mails).
    pub queue_depth: std::collections::BTreeMap<String, Vec<(u64, u32)>>,
    /// The delivery-delay distribution, log-spaced: (delay in seconds, share
    /// of delivered mails with at most that delay, ppm).
    pub delay_cdf: Vec<(u64, u32)>,
    /// Every fault injected (scheduled and random), in order.
    pub fault_spans: Vec<FaultSpan>,
    /// The alerts the operators received: (µs, text), re-alerts included.
    pub alerts: Vec<(u64, String)>,
    /// The coverage marks the run reached (`mailsim_models::marks`), in the
    /// order of their table: reported, never judged.
    pub marks: Vec<MarkReached>,
}

/// A coverage mark one run reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MarkReached {
    /// Its name (`fence-failed`).
    pub name: String,
    /// When it was first reached (µs).
    pub first_us: u64,
    /// How often it was reached.
    pub count: u64,
}

/// A recovery step that could not act; in JSON `[step, at_us, why,
/// gave_up]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepFailure {
    /// The step's name.
    pub step: String,
    /// When it last failed, µs from T+0.
    pub at_us: u64,
    /// Why it could not act.
    pub why: String,
    /// Whether the operators gave up on it.
    pub gave_up: bool,
}
serde_as_tuple!(StepFailure { step: String, at_us: u64, why: String, gave_up: bool });

/// One injected fault, for a timeline.
#[derive(Clone, Debug, Serialize)]
pub struct FaultSpan {
    /// The kernel's kind (`crash`, `path-fault` …).
    pub kind: String,
    /// In words, with node names and the scenario's names for storage
    /// parts (`controller-failure on filer: shelf-a/controller-a`).
    pub description: String,
    pub at_us: u64,
    /// When it ended (healed, restarted, resolved), if it did.
    pub ended_us: Option<u64>,
}

impl Figures {
    /// The longest time any service failed for at least one of its users,
    /// and which service (the table's "worst service down-time").
    pub fn worst_service_down(&self) -> (u64, &'static str) {
        SERVICES.iter().map(|&(name, s)| (self.availability.service(s).unavailable_s, name)).max().unwrap_or((0, "smtp"))
    }
    /// The peak share of users without full service, ppm.
    pub fn users_affected_peak(&self) -> u32 {
        1_000_000 - self.availability.users_full_service_min.min(1_000_000)
    }
}

/// The services, by the names scenario files and reports use.
pub const SERVICES: [(&str, Service); 4] =
    [("smtp", Service::Smtp), ("pop", Service::Pop), ("imap", Service::Imap), ("webmail", Service::Webmail)];

/// One expectation's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub name: String,
    pub met: bool,
    pub detail: String,
    /// For a rate expectation (a bound with `on_seeds`), the share of seeds
    /// it is meant to hold on, in parts per million. Its miss on one run is
    /// tolerated: the run still passes, and sweeps judge the rate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holds_on_ppm: Option<u32>,
}

impl Verdict {
    /// A verdict on an expectation that must hold on every seed.
    pub fn new(name: impl Into<String>, met: bool, detail: impl Into<String>) -> Verdict {
        Verdict { name: name.into(), met, detail: detail.into(), holds_on_ppm: None }
    }
    /// Missed, but a rate expectation: allowed on some seeds.
    pub fn tolerated(&self) -> bool {
        !self.met && self.holds_on_ppm.is_some()
    }
    /// Missed and not tolerated: this fails the run.
    pub fn failed(&self) -> bool {
        !self.met && self.holds_on_ppm.is_none()
    }
    /// How the human output tags it: `met`, `FAILED`, or for a tolerated
    /// miss `miss, allowed on ≤0.10% of seeds`.
    pub fn tag(&self) -> String {
        match self.holds_on_ppm {
            _ if self.met => "met".to_string(),
            Some(ppm) => format!("miss, allowed on ≤{} of seeds", Share(1_000_000 - ppm.min(1_000_000))),
            None => "FAILED".to_string(),
        }
    }
}

/// A whole run: the kernel's report, the figures, the verdicts.
#[derive(Clone, Debug, Serialize)]
pub struct RunResult {
    pub scenario: String,
    pub figures: Figures,
    pub verdicts: Vec<Verdict>,
    /// The postmortem's claims (`[[checkpoints]]`) held against this run.
    pub checkpoints: Vec<CheckpointResult>,
    #[serde(skip)]
    pub report: RunReport,
}

impl RunResult {
    /// Every expectation met, but for tolerated misses of rate
    /// expectations (`Verdict::tolerated`), which sweeps judge by their rate.
    pub fn passed(&self) -> bool {
        !self.verdicts.iter().any(Verdict::failed)
    }
}

/// Runs one seed of a scenario.
pub fn run(scenario: &Scenario, seed: u64) -> RunResult {
    run_with(scenario, seed, None).0
}

/// Runs one seed, optionally keeping the full trace; returns the sim too.
pub fn run_with(scenario: &Scenario, seed: u64, trace: Option<TraceMode>) -> (RunResult, Sim<mailsim_models::Msg, World>) {
    let topo = scenario.topology(seed);
    let mut sim = topo.build();
    if let Some(mode) = trace {
        sim.set_trace(mode);
    }
    let report = sim.run();
    let figures = figures(scenario, &sim, &report);
    let mut verdicts = check(scenario, &figures, &report);
    let checkpoints = crate::checkpoints::evaluate(&scenario.checkpoints, scenario.file.scenario.t0, &figures);
    // A checkpoint with `on_seeds` is a rate expectation on its hit.
    for (c, r) in scenario.checkpoints.iter().zip(&checkpoints) {
        if let Some(share) = c.on_seeds {
            verdicts.push(Verdict {
                name: format!("checkpoint: {}", c.claim),
                met: r.hit,
                detail: format!("{} at {}: {} (wanted {})", r.metric, r.at, r.shown, crate::checkpoints::accepts(c)),
                // 100% of seeds is every seed: an ordinary expectation.
                holds_on_ppm: (share.ppm() < 1_000_000).then_some(share.ppm()),
            });
        }
    }
    (RunResult { scenario: scenario.name().to_string(), figures, verdicts, checkpoints, report }, sim)
}

fn figures(scenario: &Scenario, sim: &Sim<mailsim_models::Msg, World>, report: &RunReport) -> Figures {
    let w = sim.world();
    let reconciliation = reconcile(sim);
    let topo = &scenario.topology;
    let backups = crate::report::trace::backup_names(scenario);
    let first_fault = topo.faults.iter().map(|f| f.at.time()).min();
    let availability = summarize(w, &topo.node_names(), first_fault, report.end);
    let mailboxes = topo.filer.mailboxes;
    let peak = w.stats.unavailable.iter().map(|u| u.1).max().unwrap_or(0);
    let restored_us = match w.stats.unavailable.last() {
        Some((t, 0)) if peak > 0 => Some(t.as_micros()),
        _ => None,
    };
    let ops = topo.node("ops").and_then(|id| sim.node::<Operators>(id));
    let h = &w.stats.delay_s;
    let q = |p: f64| if h.is_empty() { 0 } else { h.value_at_quantile(p) };
    Figures {
        seed: report.seed,
        outcome: report.outcome.class().to_string(),
        violation: violation_text(&report.outcome),
        violations: report.violations.iter().map(|v| format!("{} at {}: {}", v.property, v.time, v.detail)).collect(),
        trace_hash: format!("{:016x}", report.trace_hash),
        events: report.events,
        submitted: w.counts.submitted,
        accepted: w.counts.accepted,
        delivered: w.counts.delivered,
        lost: w.counts.lost,
        lost_by: w.counts.lost_by.clone(),
        duplicates: w.counts.duplicate_deliveries,
        client_duplicates: w.counts.client_duplicates,
        pop_redownloads: w.counts.pop_redownloads,
        imap_resyncs: w.counts.imap_resyncs,
        returned: w.counts.returned,
        sender_bounced: w.counts.sender_bounced,
        sender_bounces: w.stats.sender_bounces.clone(),
        peak_unavailable_ppm: if mailboxes == 0 { 0 } else { (peak as u64 * 1_000_000 / mailboxes as u64) as u32 },
        unavailable: w.stats.unavailable.iter().map(|(t, n)| (t.as_micros(), *n)).collect(),
        storage_speed: w.stats.storage_speed.iter().map(|(t, n)| (t.as_micros(), *n)).collect(),
        restored_us,
        delivered_per_hour: w.stats.delivered_per_hour.clone(),
        delay_s_p50: q(0.5),
        delay_s_p99: q(0.99),
        delay_s_max: if h.is_empty() { 0 } else { h.max() },
        failovers_us: failovers(w),
        steps: step_times(topo, ops),
        steps_failed: steps_failed(topo, ops),
        faults_without_effect: faults_without_effect(report, &backups),
        faults_unfired: faults_unfired(report, &backups),
        recovered_us: report.recovered.map(Time::as_micros),
        mailboxes,
        reconciled: reconciliation.check(w),
        reconciliation,
        availability,
        accepted_per_hour: w.stats.accepted_per_hour.clone(),
        queue_depth: queue_depth(&topo.node_names(), w),
        delay_cdf: delay_cdf(w),
        fault_spans: fault_spans(report, &backups),
        alerts: ops.map(|o| o.alerts.iter().map(|(t, text)| (t.as_micros(), text.clone())).collect()).unwrap_or_default(),
        marks: w.marks.reached().map(|(m, t, count)| MarkReached { name: m.name().to_string(), first_us: t.as_micros(), count }).collect(),
    }
}

/// How the run ended, in words, unless it ended normally.
fn violation_text(outcome: &Outcome) -> Option<String> {
    match outcome {
        Outcome::Ok => None,
        Outcome::SafetyViolation(v) | Outcome::LivenessViolation(v) => Some(format!("{} at {}: {}", v.property, v.time, v.detail)),
        other => Some(other.to_string()),
    }
}

/// The scheduled faults that changed nothing, named as scenarios name them
/// (`backups` names the backup sets), with their times.
fn faults_without_effect(report: &RunReport, backups: &[String]) -> Vec<String> {
    report
        .faults
        .iter()
        .filter(|f| f.scheduled && !f.effect)
        .map(|f| format!("{} at {}", crate::report::trace::fault_name(&f.description, backups), f.at))
        .collect()
}

/// The scheduled faults due after the run ended, with when they were due.
fn faults_unfired(report: &RunReport, backups: &[String]) -> Vec<String> {
    report.unfired.iter().map(|u| format!("{} due at {}", crate::report::trace::fault_name(&u.description, backups), u.due)).collect()
}

/// Every fault as a span on the timeline, from when it fired to when it
/// ended (if it did).
fn fault_spans(report: &RunReport, backups: &[String]) -> Vec<FaultSpan> {
    report
        .faults
        .iter()
        .map(|f| FaultSpan {
            kind: f.kind.clone(),
            description: crate::report::trace::fault_name(&f.description, backups),
            at_us: f.at.as_micros(),
            ended_us: f.ended.map(Time::as_micros),
        })
        .collect()
}

/// The times the resource moved to another node, in microseconds.
fn failovers(w: &World) -> Vec<u64> {
    let mut failovers = Vec::new();
    let mut holder = None;
    for &ResourceStart { at: t, node, .. } in &w.stats.resource_starts {
        if holder.is_some() && holder != Some(node) {
            failovers.push(t.as_micros());
        }
        holder = Some(node);
    }
    failovers
}

/// Each recovery step's name, when its trigger fired, when it was carried
/// out (its command sent) and when the operators heard it was done.
fn step_times(topo: &Topology, ops: Option<&Operators>) -> Vec<StepTimes> {
    topo.plan
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let at = |v: &[Option<Time>]| v.get(i).copied().flatten().map(Time::as_micros);
            StepTimes {
                name: s.name.clone(),
                fired_us: ops.and_then(|o| at(o.steps_fired())),
                started_us: ops.and_then(|o| at(o.steps_started())),
                done_us: ops.and_then(|o| o.step_done_at(i as u32)).map(Time::as_micros),
            }
        })
        .collect()
}

/// Each recovery step that failed: its name, when, why and whether the
/// operators gave up on it.
fn steps_failed(topo: &Topology, ops: Option<&Operators>) -> Vec<StepFailure> {
    topo.plan
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let o = ops?;
            o.step_failed(i).map(|(t, why)| StepFailure {
                step: s.name.clone(),
                at_us: t.as_micros(),
                why: why.to_string(),
                gave_up: o.step_given_up(i),
            })
        })
        .collect()
}

/// Each node's queue depth over time (seconds, depth), by node name.
fn queue_depth(names: &[String], w: &World) -> std::collections::BTreeMap<String, Vec<(u64, u32)>> {
    let mut q = std::collections::BTreeMap::<String, Vec<(u64, u32)>>::new();
    for &DepthSample { at: t, node, depth } in &w.stats.queue_depth {
        let name = names.get(node as usize).cloned().unwrap_or_else(|| format!("node-{node}"));
        q.entry(name).or_default().push((t.as_micros() / 1_000_000, depth));
    }
    q
}

/// The delay histogram as a CDF at log-spaced delays (each about 20% past
/// the one before), in integer shares.
fn delay_cdf(w: &World) -> Vec<(u64, u32)> {
    let h = &w.stats.delay_s;
    let mut seen = 0u64;
    let mut cdf: Vec<(u64, u32)> = Vec::new();
    if !h.is_empty() {
        for v in h.iter_log(1, 1.2) {
            seen += v.count_since_last_iteration();
            let point = (v.value_iterated_to(), (seen * 1_000_000 / h.len()) as u32);
            if cdf.last().is_none_or(|l| l.0 != point.0) {
                cdf.push(point);
            }
        }
    }
    cdf
}

/// The human report of one run: figures, availability per service, the
/// postmortem's claims, every verdict, and the repro command if it failed.
pub fn report_text(r: &RunResult, file: &std::path::Path) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let f = &r.figures;
    let _ = writeln!(o, "{} seed {}: {} ({} events, trace {})", r.scenario, f.seed, f.outcome, f.events, f.trace_hash);
    if let Some(v) = &f.violation {
        let _ = writeln!(o, "  violation: {v}");
    }
    let _ = writeln!(
        o,
        "  submitted {} accepted {} delivered {} lost {} duplicates {} client-duplicates {} returned {} sender-bounced {}",
        f.submitted, f.accepted, f.delivered, f.lost, f.duplicates, f.client_duplicates, f.returned, f.sender_bounced
    );
    if f.client_duplicates > 0 {
        let _ = writeln!(o, "  client duplicates by protocol: POP re-downloads {}  IMAP resyncs {}", f.pop_redownloads, f.imap_resyncs);
    }
    let _ = writeln!(
        o,
        "  mailboxes offline at the peak {}  restored {}  delay p50 {} p99 {} max {}",
        Share(f.peak_unavailable_ppm),
        fmt_opt(f.restored_us),
        secs(f.delay_s_p50),
        secs(f.delay_s_p99),
        secs(f.delay_s_max)
    );
    let per_service: Vec<String> = SERVICES
        .iter()
        .map(|&(name, s)| {
            let a = f.availability.service(s);
            format!("{name} down {} ({} failed)", secs(a.unavailable_s), Share(a.failed_share))
        })
        .collect();
    let _ = writeln!(o, "  users without full service at the peak {}; {}", Share(f.users_affected_peak()), per_service.join(", "));
    if !f.marks.is_empty() {
        let marks: Vec<String> =
            f.marks.iter().map(|m| format!("{} (first {}, ×{})", m.name, fmt_opt(Some(m.first_us)), m.count)).collect();
        let _ = writeln!(o, "  marks reached: {}", marks.join(", "));
    }
    if !f.steps.is_empty() {
        let steps: Vec<String> = f
            .steps
            .iter()
            .map(|s| format!("{} {} / {} / {}", s.name, fmt_opt(s.fired_us), fmt_opt(s.started_us), fmt_opt(s.done_us)))
            .collect();
        let _ = writeln!(o, "  recovery steps (fired / started: command sent / done): {}", steps.join(", "));
    }
    if !r.checkpoints.is_empty() {
        let _ = writeln!(o, "  the postmortem's claims (checkpoints): claim | its clock time | simulated | hit");
        for c in &r.checkpoints {
            let _ = writeln!(o, "    {} | {} | {} {} | {}", c.claim, c.at, c.metric, c.shown, if c.hit { "hit" } else { "MISSED" });
        }
    }
    for v in &r.verdicts {
        let _ = writeln!(o, "  [{}] {}: {}", v.tag(), v.name, v.detail);
    }
    if !r.passed() {
        let _ = writeln!(o, "  reproduce: {}", crate::sweep::repro_command(&file.display().to_string(), f.seed));
    }
    o.pop(); // emit adds the last newline
    o
}

fn secs(s: u64) -> String {
    HumanDuration(s as i64 * 1_000_000).readable()
}

fn fmt_opt(us: Option<u64>) -> String {
    us.map_or("-".to_string(), |t| HumanDuration((t - t % 60_000_000) as i64).to_string())
}

fn bounds<T: PartialOrd + std::fmt::Display + Copy>(name: &str, value: T, b: &Bounds<T>) -> Verdict {
    let low = b.min.is_none_or(|m| value >= m);
    let high = b.max.is_none_or(|m| value <= m);
    let range = match (b.min, b.max) {
        (Some(a), Some(z)) => format!("in [{a}, {z}]"),
        (Some(a), None) => format!(">= {a}"),
        (None, Some(z)) => format!("<= {z}"),
        (None, None) => "anything".to_string(),
    };
    let range = match b.on_seeds {
        Some(share) => format!("{range} on {share} of seeds"),
        None => range,
    };
    Verdict {
        name: name.to_string(),
        met: low && high,
        detail: format!("{value} (expected {range})"),
        holds_on_ppm: b.on_seeds.map(Share::ppm),
    }
}

/// A property's verdict against what the scenario expects of it (`want`:
/// that it holds). A property the run never judged meets no expectation.
fn property_verdict(report: &RunReport, property: &str, want: bool) -> (bool, String) {
    let Some(p) = report.property(property) else {
        return (false, format!("not evaluated: `{property}` is not a property of this run"));
    };
    let met = match p.status {
        PropertyStatus::Held => want,
        PropertyStatus::Violated { .. } => !want,
        PropertyStatus::NotEvaluated { .. } => false,
    };
    (met, if want { p.status.to_string() } else { format!("expected a violation; {}", p.status) })
}

fn share_at(f: &Figures, at_us: u64) -> Share {
    let n = f.unavailable.iter().take_while(|(t, _)| *t <= at_us).last().map_or(0, |x| x.1);
    Share(if f.mailboxes == 0 { 0 } else { (n as u64 * 1_000_000 / f.mailboxes as u64) as u32 })
}

/// Every scheduled fault changed something, except those of the `absorbed`
/// kinds, which must have changed nothing.
fn faults_verdict(absorbed: &[String], report: &RunReport, backups: &[String]) -> (bool, String) {
    let unfired: Vec<String> =
        report.unfired.iter().map(|u| format!("{} due at {}", crate::report::trace::fault_name(&u.description, backups), u.due)).collect();
    let scheduled = || report.faults.iter().filter(|f| f.scheduled);
    let name = |f: &mailsim_sim::FaultReport| format!("{} at {}", crate::report::trace::fault_name(&f.description, backups), f.at);
    let silent: Vec<String> = scheduled().filter(|f| !f.effect && !absorbed.contains(&f.kind)).map(name).collect();
    let felt: Vec<String> = scheduled().filter(|f| f.effect && absorbed.contains(&f.kind)).map(name).collect();
    let mut problems = Vec::new();
    if !unfired.is_empty() {
        problems.push(format!("never fired (the run ended first): {}", unfired.join("; ")));
    }
    if !silent.is_empty() {
        problems.push(format!("no effect: {}", silent.join("; ")));
    }
    if !felt.is_empty() {
        problems.push(format!("expected absorbed, had an effect: {}", felt.join("; ")));
    }
    if problems.is_empty() {
        (true, if absorbed.is_empty() { "all fired".into() } else { format!("all fired; absorbed as expected: {}", absorbed.join(", ")) })
    } else {
        (false, problems.join("; "))
    }
}

/// Checks a run against the scenario's expectations: the properties and the
/// ledger first, then each group of figures, in the order the report lists
/// them.
pub fn check(scenario: &Scenario, f: &Figures, report: &RunReport) -> Vec<Verdict> {
    let e = &scenario.file.expect;
    let mut out = properties_verdicts(e, f, report, &crate::report::trace::backup_names(scenario));
    count_verdicts(e, f, &mut out);
    time_verdicts(e, f, &mut out);
    service_verdicts(e, &f.availability, &mut out);
    queue_verdicts(e, &f.availability, &mut out);
    failover_verdict(e, f, &mut out);
    out
}

/// The verdicts every run gets: it completed, its properties held, the
/// ledger reconciles and its faults had an effect.
fn properties_verdicts(e: &Expect, f: &Figures, report: &RunReport, backups: &[String]) -> Vec<Verdict> {
    let mut out = Vec::new();
    let mut push = |name: &str, met: bool, detail: String| out.push(Verdict::new(name, met, detail));
    let stopped = matches!(report.outcome, Outcome::ModelPanic { .. } | Outcome::BudgetExceeded { .. });
    push("run completed", !stopped, if stopped { report.outcome.to_string() } else { format!("ran to {}", report.end) });
    for (flag, property, name) in [
        (e.custody, CUSTODY.name, "custody"),
        (e.no_split_brain, SPLIT_BRAIN.name, "no split brain"),
        (e.eventual_delivery, EVENTUAL_DELIVERY, "eventual delivery"),
    ] {
        let (met, detail) = property_verdict(report, property, flag.unwrap_or(true));
        push(name, met, detail);
    }
    // Every other property of the run (the recovery gate among them) must
    // hold: nothing the kernel judged may fail unseen.
    for p in &report.properties {
        if [CUSTODY.name, SPLIT_BRAIN.name, EVENTUAL_DELIVERY].contains(&p.name.as_str()) {
            continue;
        }
        let (met, detail) = property_verdict(report, &p.name, true);
        push(if p.name == RECOVERY { "recovery completed" } else { &p.name }, met, detail);
    }
    // Loss counted twice, independently: a weakened check cannot hide it.
    push(
        "ledger reconciles",
        f.reconciled.is_ok(),
        match &f.reconciled {
            Ok(()) => format!("the components' final state agrees with the ledger ({} lost)", f.reconciliation.lost),
            Err(why) => why.clone(),
        },
    );
    let (met, detail) = faults_verdict(&e.absorbed, report, backups);
    push(if e.absorbed.is_empty() { "faults had an effect" } else { "faults had an effect, except the absorbed" }, met, detail);
    out
}

/// Bounds on counted figures: lost, duplicated, re-downloaded, returned and
/// bounced mail.
fn count_verdicts(e: &Expect, f: &Figures, out: &mut Vec<Verdict>) {
    if let Some(b) = &e.lost {
        out.push(bounds("lost", f.lost, b));
    }
    if let Some(b) = &e.duplicates {
        out.push(bounds("duplicates", f.duplicates, b));
    }
    if let Some(b) = &e.client_duplicates {
        out.push(bounds("client duplicates", f.client_duplicates, b));
    }
    if let Some(b) = &e.pop_redownloads {
        out.push(bounds("POP re-downloads", f.pop_redownloads, b));
    }
    if let Some(b) = &e.imap_resyncs {
        out.push(bounds("IMAP resyncs", f.imap_resyncs, b));
    }
    if let Some(b) = &e.returned {
        out.push(bounds("returned (DSN)", f.returned, b));
    }
    for (profile, b) in &e.sender_bounces {
        let n = if profile == "all" { f.sender_bounced } else { f.sender_bounces.iter().find(|(p, _)| p == profile).map_or(0, |x| x.1) };
        out.push(bounds(&format!("sender bounces ({profile})"), n, b));
    }
}

/// Bounds on when things happened: unavailability over time, restoration,
/// delivery gaps, delays and the order of failover and steps.
fn time_verdicts(e: &Expect, f: &Figures, out: &mut Vec<Verdict>) {
    if let Some(b) = &e.peak_unavailable {
        out.push(bounds("peak unavailable", Share(f.peak_unavailable_ppm), b));
    }
    for c in &e.unavailable {
        let at = c.at.micros().max(0) as u64;
        let s = share_at(f, at);
        out.push(bounds(&format!("unavailable at {}", c.at), s, &Bounds::new(c.min, c.max)));
    }
    if let Some(b) = &e.restored {
        match f.restored_us {
            Some(t) => out.push(bounds("restored", HumanDuration(t as i64), b)),
            // Never unavailable: nothing to restore, restored at once.
            None if f.peak_unavailable_ppm == 0 => out.push(bounds("restored", HumanDuration(0), b)),
            None => out.push(Verdict {
                name: "restored".into(),
                met: false,
                detail: "mailboxes were never all restored (or never unavailable)".into(),
                holds_on_ppm: b.on_seeds.map(Share::ppm),
            }),
        }
    }
    if let Some([a, z]) = &e.no_delivery_between {
        let (a_h, z_h) = ((a.micros().max(0) / 3_600_000_000) as usize, (z.micros().max(0) / 3_600_000_000) as usize);
        let n: u32 = f.delivered_per_hour.iter().skip(a_h).take(z_h.saturating_sub(a_h)).sum();
        out.push(Verdict {
            name: format!("no delivery between {a} and {z}"),
            met: n == 0,
            detail: format!("{n} mails delivered in those hours"),
            holds_on_ppm: None,
        });
    }
    if let Some(b) = &e.max_delay {
        out.push(bounds("max delivery delay", HumanDuration(f.delay_s_max as i64 * 1_000_000), b));
    }
    if let Some(step) = &e.no_failover_before {
        // The step's own failover happens between its command and the
        // operators hearing it is done: compare with when it was carried out.
        let entry = f.steps.iter().find(|s| s.name == *step);
        let (started, done) = (entry.and_then(|s| s.started_us), entry.and_then(|s| s.done_us));
        let early: Vec<u64> = f.failovers_us.iter().copied().filter(|t| started.is_none_or(|d| *t < d)).collect();
        out.push(Verdict {
            name: format!("no failover before `{step}`"),
            met: early.is_empty() && done.is_some(),
            detail: match (started, done) {
                (_, None) => format!("step `{step}` never completed"),
                (Some(d), Some(_)) if early.is_empty() => {
                    format!("first failover after the step (carried out at {})", HumanDuration(d as i64))
                }
                (d, _) => format!(
                    "failover at {} before the step (carried out at {})",
                    HumanDuration(early[0] as i64),
                    d.map_or("-".to_string(), |d| HumanDuration(d as i64).to_string())
                ),
            },
            holds_on_ppm: None,
        });
    }
}

/// Bounds on each client service's availability.
fn service_verdicts(e: &Expect, a: &AvailabilitySummary, out: &mut Vec<Verdict>) {
    for (name, service) in SERVICES {
        let sv = a.service(service);
        // A service nobody tried was not measured: its figures are zeros,
        // which would meet every upper bound by accident.
        let unmeasured = |what: String, holds_on: Option<Share>| Verdict {
            name: what,
            met: false,
            detail: format!("not evaluated: no {name} attempts in this run ({} {name} users or doors)", sv.users),
            holds_on_ppm: holds_on.map(Share::ppm),
        };
        if let Some(b) = e.service_down.get(name) {
            let what = format!("{name} unavailable");
            out.push(if sv.attempts == 0 {
                unmeasured(what, b.on_seeds)
            } else {
                bounds(&what, HumanDuration(sv.unavailable_s as i64 * 1_000_000), b)
            });
        }
        if let Some(b) = e.failed_share.get(name) {
            let what = format!("{name} failed share");
            out.push(if sv.attempts == 0 { unmeasured(what, b.on_seeds) } else { bounds(&what, Share(sv.failed_share), b) });
        }
        if let Some(b) = e.users_affected.get(name) {
            let what = format!("{name} users affected (peak)");
            out.push(if sv.attempts == 0 { unmeasured(what, b.on_seeds) } else { bounds(&what, Share(sv.users_affected_peak), b) });
        }
    }
    if let Some(b) = &e.users_full_service_min {
        out.push(bounds("users in full service (lowest)", Share(a.users_full_service_min), b));
    }
    for c in &e.users_full_service {
        let at_s = (c.at.micros().max(0) / 1_000_000) as u64;
        let share = Share(a.users_full_service_at(at_s));
        out.push(bounds(&format!("users in full service at {}", c.at), share, &Bounds::new(c.min, c.max)));
    }
    for c in &e.users_partial_service {
        let at_s = (c.at.micros().max(0) / 1_000_000) as u64;
        let share = Share(a.users_partial_service_at(at_s));
        out.push(bounds(&format!("users with partial service at {}", c.at), share, &Bounds::new(c.min, c.max)));
    }
}

/// Bounds on users in service and on the mail queues.
fn queue_verdicts(e: &Expect, a: &AvailabilitySummary, out: &mut Vec<Verdict>) {
    if let Some(b) = &e.queue_peak {
        let peak = a.queue_peak.values().map(|q| u64::from(q.depth)).max().unwrap_or(0);
        out.push(bounds("queue peak (deepest node)", peak, b));
    }
    for (node, q) in &e.queue {
        let got = a.queue_peak.get(node);
        if let Some(b) = &q.peak {
            out.push(bounds(&format!("queue peak of {node}"), got.map_or(0, |q| u64::from(q.depth)), b));
        }
        if let Some(b) = &q.drained {
            let what = format!("queue of {node} drained");
            match got.map(|q| q.drained_s) {
                Some(Some(s)) => out.push(bounds(&what, HumanDuration(s as i64 * 1_000_000), b)),
                // Never drained (or never queued anything): later than any
                // time, so it meets a lower bound only.
                other => out.push(Verdict {
                    name: what,
                    met: b.max.is_none(),
                    detail: match other {
                        None => format!("{node} never queued mail"),
                        _ => format!("{node}'s queue had not drained at the end of the run"),
                    },
                    holds_on_ppm: b.on_seeds.map(Share::ppm),
                }),
            }
        }
    }
}

/// The bound on the first failover's time.
fn failover_verdict(e: &Expect, f: &Figures, out: &mut Vec<Verdict>) {
    if let Some(b) = &e.failover {
        match f.failovers_us.first() {
            Some(t) => out.push(bounds("failover", HumanDuration(*t as i64), b)),
            // Never is later than any time: it meets a lower bound, not an
            // upper one.
            None => out.push(Verdict {
                name: "failover".into(),
                met: b.max.is_none(),
                detail: match b.max {
                    Some(m) => format!("no failover happened (expected one by {m})"),
                    None => "no failover happened (none expected before the lower bound)".into(),
                },
                holds_on_ppm: b.on_seeds.map(Share::ppm),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::{build_topology, Checkpoint, ScenarioFile};

    fn scenario(absorbed: &str) -> Scenario {
        let text = format!(
            r#"
            [scenario]
            name = "latent"
            summary = "a path fault alone changes nothing"
            [run]
            duration = "6h"
            [topology]
            mx = 1
            mailboxes = 50
            [workload]
            mails = 100
            window = "2h"
            [[faults]]
            at = "1h"
            kind = "path-fault"
            target = "shelf-a"
            [expect]
            absorbed = [{absorbed}]
            "#
        );
        let file: ScenarioFile = toml::from_str(&text).expect("valid toml");
        Scenario::from_file(file, std::path::Path::new("latent.toml")).expect("valid scenario")
    }

    fn verdict(s: &Scenario) -> Verdict {
        let r = run(s, 1);
        r.verdicts.into_iter().find(|v| v.name.starts_with("faults had an effect")).expect("always checked")
    }

    #[test]
    fn an_absorbed_fault_passes_only_when_declared() {
        let plain = verdict(&scenario(""));
        assert!(!plain.met, "a latent fault without effect fails by default: {}", plain.detail);
        let declared = verdict(&scenario(r#""path-fault""#));
        assert!(declared.met, "{}", declared.detail);
    }

    #[test]
    fn a_service_never_unavailable_counts_as_restored_at_zero() {
        let mut s = scenario(r#""path-fault""#);
        s.file.expect.restored = Some(Bounds::new(Some(HumanDuration(0)), Some(HumanDuration(0))));
        let r = run(&s, 1);
        let v = r.verdicts.iter().find(|v| v.name == "restored").expect("checked");
        assert!(v.met, "{}", v.detail);
        s.file.expect.restored = Some(Bounds::new(Some(HumanDuration::hours(1)), None));
        let r = run(&s, 1);
        assert!(!r.verdicts.iter().find(|v| v.name == "restored").expect("checked").met);
    }

    /// The reset's own failover reaches the ledger before its StepDone
    /// reaches the operators; it must not count as a failover "before" it.
    #[test]
    fn the_failover_a_reset_causes_is_not_before_the_reset() {
        let text = r#"
            [scenario]
            name = "stuck"
            summary = "fencing fails until a reset"
            [run]
            duration = "3h"
            [topology]
            mx = 2
            mailboxes = 20
            [topology.cluster]
            fencing = [{ level = "ipmi", mode = "reports-failure" }]
            [workload]
            mails = 20
            window = "1h"
            [[faults]]
            at = "0s"
            kind = "crash"
            target = "mx-1"
            [[recovery]]
            name = "reset"
            action = "reset-cluster"
            target = "mx-2"
            at = "1h"
            [[recovery]]
            name = "power-on"
            action = "power-on"
            target = "mx-1"
            node = "mx-1"
            after = "reset"
            delay = "30m"
            [expect]
            no_failover_before = "reset"
        "#;
        let file: ScenarioFile = toml::from_str(text).expect("valid toml");
        let s = Scenario::from_file(file, std::path::Path::new("stuck.toml")).expect("valid scenario");
        for seed in 0..8 {
            let r = run(&s, seed);
            assert_eq!(r.figures.failovers_us.len(), 1, "seed {seed}: one failover, by the reset");
            let v = r.verdicts.iter().find(|v| v.name.starts_with("no failover before")).expect("checked");
            assert!(v.met, "seed {seed}: {}", v.detail);
        }
    }

    /// The smallest valid file, with `extra` TOML after it.
    fn tiny(extra: &str) -> ScenarioFile {
        let head = "[scenario]\nname = \"x\"\nsummary = \"x\"\n[run]\nduration = \"1h\"\n[topology]\nmx = 1\nmailboxes = 5\n[workload]\nmails = 1\nwindow = \"1h\"\n";
        toml::from_str(&format!("{head}{extra}")).expect("valid toml")
    }

    fn from_toml(text: &str) -> Scenario {
        let file: ScenarioFile = toml::from_str(text).expect("valid toml");
        Scenario::from_file(file, std::path::Path::new("test.toml")).expect("valid scenario")
    }

    fn verdict_named<'a>(r: &'a RunResult, name: &str) -> &'a Verdict {
        r.verdicts.iter().find(|v| v.name == name).unwrap_or_else(|| panic!("no verdict `{name}` in {:?}", r.verdicts))
    }

    /// A small outage whose only recovery step is `trigger`.
    fn with_step(trigger: &str) -> Scenario {
        from_toml(&format!(
            r#"
            [scenario]
            name = "rollback"
            summary = "a broken lock manager, rolled back by a step"
            [run]
            duration = "2d"
            fault_phase = "12h"
            [topology]
            mx = 1
            mailboxes = 20
            [workload]
            mails = 50
            window = "2h"
            [[faults]]
            at = "10m"
            kind = "lock-broken"
            target = "filer"
            [[recovery]]
            name = "rollback"
            action = "rollback-upgrade"
            target = "filer"
            {trigger}
            "#
        ))
    }

    /// Found in issue 10: a step's "started" was when its trigger fired,
    /// not when its command went out after its role's diagnosis and its
    /// window. Fired T+1h (Monday 10:00), diagnosed 3 h later, sent at the
    /// 23:00 window (T+14h): the figures, the run text and the report's
    /// timeline say so.
    #[test]
    fn a_step_started_when_its_command_went_out_after_its_role_and_window() {
        let s = with_step(
            "at = \"1h\"\nrole = \"storage team\"\nwindow = \"23:00\"\n[[topology.operators.roles]]\nname = \"storage team\"\ndiagnose = \"3h\"",
        );
        let r = run(&s, 1);
        let step = &r.figures.steps[0];
        let (fired, started) = (step.fired_us.expect("fired"), step.started_us.expect("started"));
        assert_eq!(fired, HumanDuration::hours(1).micros() as u64);
        assert_eq!(started, HumanDuration::hours(14).micros() as u64);
        assert!(step.done_us.expect("done") >= started, "{step:?}");
        let text = report_text(&r, std::path::Path::new("rollback.toml"));
        assert!(text.contains("recovery steps (fired / started: command sent / done): rollback 1h / 14h / "), "{text}");
        let d = crate::report::run_report_data(&s, std::path::Path::new("rollback.toml"), &r);
        let lane = d.timeline.iter().find(|l| l.name == "step: rollback").expect("a lane");
        let spans: Vec<(&str, u64)> = lane.spans.iter().map(|s| (s.label.as_str(), s.start_s)).collect();
        assert_eq!(spans, vec![("rollback: waiting", 3600), ("rollback", 14 * 3600)]);
        // Without the role and the window it starts when it fires.
        let plain = run(&with_step("at = \"1h\""), 1);
        assert_eq!(plain.figures.steps[0].started_us, plain.figures.steps[0].fired_us);
    }

    /// Found by a user: a step whose trigger never fires left recovery
    /// incomplete, printed as a violation, while every verdict said met and
    /// the run exited 0.
    #[test]
    fn a_recovery_that_never_completes_fails_the_run() {
        let mut s = with_step("at = \"1h\"");
        // Past the end of the run (the file format may refuse to say so).
        s.topology.plan[0].trigger = mailsim_models::ops::Trigger::At(Time::from_hours(24 * 3));
        let r = run(&s, 1);
        let v = verdict_named(&r, "recovery completed");
        assert!(!v.met, "{}", v.detail);
        assert!(!r.passed(), "a run whose recovery never completed must fail");
        let e = verdict_named(&r, "eventual delivery");
        assert!(!e.met && e.detail.contains("not evaluated"), "{}", e.detail);
        let fine = run(&with_step("at = \"1h\""), 1);
        assert!(fine.passed(), "the clean twin passes: {:?}", fine.verdicts);
        assert!(verdict_named(&fine, "recovery completed").met);
    }

    /// A latent path fault changes nothing monitoring can see: no alert
    /// comes, and a step waiting for one never runs.
    #[test]
    fn a_step_waiting_for_an_alert_that_never_comes_fails_the_run() {
        let mut s = scenario(r#""path-fault""#);
        s.file.run.fault_phase = Some(HumanDuration::hours(2));
        s.file.recovery = tiny(
            r#"
            [[recovery]]
            name = "replace"
            action = "rollback-upgrade"
            target = "filer"
            after_alert = true
            "#,
        )
        .recovery;
        s.topology = build_topology(&s.file).expect("valid scenario");
        let r = run(&s, 2);
        assert_eq!(r.figures.steps[0].fired_us, None, "no alert, so the step never fired");
        assert_eq!(r.figures.steps[0].started_us, None, "no alert, so the step never ran");
        let v = verdict_named(&r, "recovery completed");
        assert!(!v.met, "{}", v.detail);
        assert!(!r.passed());
    }

    #[test]
    fn a_scheduled_fault_that_never_fired_fails_the_faults_verdict() {
        let mut s = scenario(r#""path-fault""#);
        // Past the end of the run (the file format refuses to say so).
        s.topology.faults[0].at = Time::from_hours(100).into();
        let r = run(&s, 1);
        let v = r.verdicts.iter().find(|v| v.name.starts_with("faults had an effect")).expect("checked");
        assert!(!v.met, "{}", v.detail);
        assert!(v.detail.contains("never fired"), "{}", v.detail);
        assert_eq!(r.figures.faults_unfired.len(), 1);
        // Named in words, as the fired ones are.
        assert!(r.figures.faults_unfired[0].starts_with("path-fault on filer: shelf-a due at"), "{:?}", r.figures.faults_unfired);
        assert!(v.detail.contains("path-fault on filer: shelf-a due at"), "{}", v.detail);
    }

    /// A bound with `on_seeds` missed on one run is reported as not met and
    /// tolerated; the run passes. The same bound without `on_seeds` fails it.
    #[test]
    fn a_tolerated_miss_of_a_rate_expectation_does_not_fail_the_run() {
        let mut s = scenario(r#""path-fault""#);
        let unmeetable = HumanDuration::hours(1000);
        s.file.expect.max_delay = Some(Bounds { min: Some(unmeetable), max: None, on_seeds: Some(Share(999_000)) });
        let r = run(&s, 1);
        let v = verdict_named(&r, "max delivery delay");
        assert!(!v.met && v.tolerated() && !v.failed(), "{v:?}");
        assert_eq!(v.holds_on_ppm, Some(999_000));
        assert_eq!(v.tag(), "miss, allowed on ≤0.10% of seeds");
        assert!(v.detail.ends_with("(expected >= 41d16h on 99.90% of seeds)"), "{}", v.detail);
        assert!(r.passed(), "a tolerated miss does not fail the run: {:?}", r.verdicts);
        s.file.expect.max_delay = Some(Bounds::new(Some(unmeetable), None));
        let r = run(&s, 1);
        let v = verdict_named(&r, "max delivery delay");
        assert!(v.failed() && v.tag() == "FAILED", "{v:?}");
        assert!(!r.passed(), "the same miss without `on_seeds` fails the run");
    }

    #[test]
    fn no_failover_meets_a_lower_bound_and_fails_an_upper_one() {
        let mut s = scenario(r#""path-fault""#);
        s.file.expect.failover = Some(Bounds::new(Some(HumanDuration::hours(1)), None));
        let r = run(&s, 1);
        assert!(r.figures.failovers_us.is_empty());
        assert!(verdict_named(&r, "failover").met, "{}", verdict_named(&r, "failover").detail);
        s.file.expect.failover = Some(Bounds::new(None, Some(HumanDuration::hours(5))));
        let r = run(&s, 1);
        assert!(!verdict_named(&r, "failover").met);
    }

    /// Each availability expectation can fail: a broken lock manager for
    /// 1 h 50 m denies POP and IMAP logins while SMTP keeps accepting.
    #[test]
    fn availability_expectations_pass_and_fail_on_what_users_saw() {
        let mut s = with_step("at = \"2h\"");
        let e = &mut s.file.expect;
        let at_most = |max: &str| Bounds::new(None, Some(crate::units::parse_share(max).expect("share")));
        e.failed_share.insert("smtp".into(), at_most("0%"));
        e.failed_share.insert("pop".into(), at_most("0%"));
        e.service_down.insert("imap".into(), Bounds::new(Some(HumanDuration::hours(1)), Some(HumanDuration::hours(3))));
        e.service_down.insert("pop".into(), Bounds::new(None, Some(HumanDuration(600_000_000))));
        e.users_affected.insert("imap".into(), Bounds::new(Some(crate::units::parse_share("50%").expect("share")), None));
        e.users_full_service_min = Some(at_most("99%"));
        e.users_full_service =
            vec![Checkpoint { at: HumanDuration::hours(1), min: None, max: Some(crate::units::parse_share("0%").expect("share")) }];
        e.queue_peak = Some(Bounds::new(Some(1), None));
        e.users_partial_service =
            vec![Checkpoint { at: HumanDuration::hours(1), min: Some(crate::units::parse_share("1%").expect("share")), max: None }];
        let r = run(&s, 4);
        for (name, met) in [
            ("smtp failed share", true),
            ("pop failed share", false),
            ("imap unavailable", true),
            ("pop unavailable", false),
            ("imap users affected (peak)", true),
            ("users in full service (lowest)", true),
            ("users in full service at 1h", false),
            ("queue peak (deepest node)", true),
            ("users with partial service at 1h", false),
        ] {
            let v = verdict_named(&r, name);
            assert_eq!(v.met, met, "{name}: {}", v.detail);
        }
    }

    /// A service with no users (a mix without IMAP) was not measured: its
    /// expectations are not evaluated and fail, even an upper bound its
    /// zero figures would meet by accident.
    #[test]
    fn a_service_nobody_uses_is_not_evaluated() {
        let mut s = with_step("at = \"2h\"");
        s.topology.clients.as_mut().expect("every topology has users").proto_weights = [1, 0, 0];
        let e = &mut s.file.expect;
        e.service_down.insert("imap".into(), Bounds::new(None, Some(HumanDuration::hours(1))));
        e.failed_share.insert("imap".into(), Bounds::new(None, Some(crate::units::parse_share("1%").expect("share"))));
        e.users_affected.insert("webmail".into(), Bounds::new(None, Some(crate::units::parse_share("1%").expect("share"))));
        e.service_down.insert("pop".into(), Bounds::new(Some(HumanDuration::hours(1)), None));
        let r = run(&s, 4);
        for name in ["imap unavailable", "imap failed share", "webmail users affected (peak)"] {
            let v = verdict_named(&r, name);
            assert!(!v.met && v.detail.starts_with("not evaluated"), "{name}: {}", v.detail);
        }
        assert!(verdict_named(&r, "pop unavailable").met, "{}", verdict_named(&r, "pop unavailable").detail);
    }

    /// Checkpoints measure the run, on the postmortem's clock: a broken lock
    /// manager from T+10m, rolled back at T+2h, denies POP and IMAP logins
    /// in between. A claim at the right time and value hits; moved or
    /// bounded wrongly, it misses; one with `on_seeds` is a rate verdict.
    #[test]
    fn checkpoints_hit_what_happened_and_miss_what_did_not() {
        use crate::checkpoints::{compile, CheckpointEntry};
        let mut s = with_step("at = \"2h\"");
        s.file.scenario.t0 = Some(crate::units::parse_clock_time("2018-05-19 09:00 +09:00").expect("valid"));
        let entry = |claim: &str, at: &str, metric: &str, min: Option<&str>, late: Option<&str>, on_seeds: Option<&str>| CheckpointEntry {
            claim: claim.into(),
            at: at.into(),
            metric: metric.into(),
            min: min.map(|m| crate::units::parse_share(m).expect("share")),
            max: None,
            early: late.map(|_| HumanDuration(0)),
            late: late.map(|l| crate::units::parse_duration(l).expect("duration")),
            step: None,
            on_seeds: on_seeds.map(|m| crate::units::parse_share(m).expect("share")),
        };
        let step = |at: &str| CheckpointEntry {
            step: Some("rollback".into()),
            ..entry("the rollback is done", at, "step_done", None, Some("1m"), None)
        };
        let entries = vec![
            entry("logins work again by 11:10", "2018-05-19 11:00 +09:00", "pop_restored", None, Some("20m"), None),
            entry("logins worked by 10:30", "2018-05-19 10:30 +09:00", "pop_restored", None, Some("20m"), None),
            entry("everyone served at 09:05", "5m", "users_full_service", Some("100%"), None, None),
            entry("everyone served at 10:00", "1h", "users_full_service", Some("100%"), None, Some("90%")),
            step("2h"),
            step("1h"),
        ];
        s.checkpoints = compile(&entries, s.file.scenario.t0, s.file.run.duration, &["rollback"]).expect("valid checkpoints");
        let r = run(&s, 4);
        let hits: Vec<bool> = r.checkpoints.iter().map(|c| c.hit).collect();
        assert_eq!(hits, [true, false, true, false, true, false], "{:#?}", r.checkpoints);
        // A step checkpoint must name a step of the plan.
        let unknown = CheckpointEntry { step: Some("reboot".into()), ..step("2h") };
        let err = compile(&[unknown], s.file.scenario.t0, s.file.run.duration, &["rollback"]).expect_err("no such step");
        assert_eq!(err.0, "checkpoints[0].step", "{err:?}");
        assert!(r.checkpoints[0].shown.starts_with("Sat 2018-05-19 11:"), "{}", r.checkpoints[0].shown);
        let v = verdict_named(&r, "checkpoint: everyone served at 10:00");
        assert!(!v.met && v.tolerated(), "{}", v.detail);
        assert!(r.passed(), "a missed rate checkpoint is judged by its rate, over seeds");
    }

    /// A RAID group that loses three disks (two parity) destroys the mail
    /// delivered to its volume: a run that models real data loss runs to its
    /// end, counts every lost mail (not as delivered), and its expectations
    /// state the loss.
    #[test]
    fn a_run_that_models_data_loss_runs_to_its_end_and_counts_it() {
        let text = r#"
            [scenario]
            name = "group-loss"
            summary = "three disks of one group fail: its mail is lost"
            [run]
            duration = "1d"
            [topology]
            mx = 1
            mailboxes = 60
            [workload]
            mails = 300
            window = "4h"
            [[faults]]
            at = "6h"
            kind = "disk-failure"
            target = "group-1"
            [[faults]]
            at = "6h"
            kind = "disk-failure"
            target = "group-1"
            [[faults]]
            at = "6h"
            kind = "disk-failure"
            target = "group-1"
            [expect]
            custody = false
            lost = { min = 1 }
        "#;
        let s = from_toml(text);
        let r = run(&s, 5);
        let f = &r.figures;
        assert_eq!(r.report.end, Time::from_hours(24), "the run went on to its end");
        assert!(f.lost > 0 && f.lost == f.lost_by.mailbox, "{:?}", f.lost_by);
        assert_eq!(f.delivered + f.lost, f.accepted, "lost mail is not counted as delivered: {f:?}");
        assert!(f.reconciled.is_ok(), "{:?}", f.reconciled);
        let custody = verdict_named(&r, "custody");
        assert!(custody.met && custody.detail.contains(&format!("violated {} times", f.lost)), "{}", custody.detail);
        assert!(r.passed(), "{:?}", r.verdicts.iter().filter(|v| !v.met).collect::<Vec<_>>());
        // The same file claiming no loss fails.
        let mut clean = from_toml(text);
        clean.file.expect.custody = None;
        assert!(!run(&clean, 5).passed());
    }

    /// A restore from tape loses the mail delivered since the copy (module
    /// `backup`): a file that says so passes and reports each loss; the
    /// same file claiming no loss fails; a claim of no POP re-downloads
    /// fails when the restore gives the mailboxes new identifiers.
    #[test]
    fn a_restore_s_loss_and_client_refetches_are_judged() {
        let text = r#"
            [scenario]
            name = "restore"
            summary = "volume-1 corrupted at 4h, restored from the 2h tape at 5h"
            [run]
            duration = "1d"
            fault_phase = "12h"
            [topology]
            mx = 1
            mailboxes = 60
            [[topology.backups]]
            name = "tape"
            kind = "tape"
            first = "2h"
            every = "1d"
            [workload]
            mails = 600
            window = "4h"
            [[faults]]
            at = "4h"
            kind = "data-corruption"
            target = "volume-1"
            [[recovery]]
            name = "restore"
            action = "restore"
            target = "filer"
            from = "tape"
            at = "5h"
            [expect]
            custody = false
            lost = { min = 1 }
        "#;
        let s = from_toml(text);
        let r = run(&s, 2);
        let f = &r.figures;
        assert!(f.lost > 0 && f.lost == f.lost_by.mailbox, "{:?}", f.lost_by);
        assert_eq!(f.delivered + f.lost, f.accepted, "lost mail is not counted as delivered: {f:?}");
        assert!(f.reconciled.is_ok(), "{:?}", f.reconciled);
        let custody = verdict_named(&r, "custody");
        assert!(custody.detail.contains(&format!("violated {} times", f.lost)), "{}", custody.detail);
        assert!(r.passed(), "{:?}", r.verdicts.iter().filter(|v| !v.met).collect::<Vec<_>>());
        assert!(f.pop_redownloads > 0 && f.imap_resyncs > 0, "{f:?}");
        assert_eq!(f.client_duplicates, f.pop_redownloads + f.imap_resyncs);
        // The same file claiming no loss fails.
        let mut clean = from_toml(text);
        clean.file.expect.custody = None;
        assert!(!run(&clean, 2).passed());
        // And claiming no POP re-downloads fails, naming them.
        let mut quiet = from_toml(text);
        quiet.file.expect.pop_redownloads = Some(Bounds::new(None, Some(0)));
        let r = run(&quiet, 2);
        assert!(!verdict_named(&r, "POP re-downloads").met && !r.passed());
    }

    #[test]
    fn every_property_of_the_run_has_a_verdict() {
        let r = run(&with_step("at = \"1h\""), 3);
        for name in ["run completed", "custody", "no split brain", "eventual delivery", "recovery completed"] {
            assert!(verdict_named(&r, name).met, "{name}: {}", verdict_named(&r, name).detail);
        }
    }

    #[test]
    fn an_absorbed_kind_must_name_a_scheduled_fault() {
        let file = tiny("[expect]\nabsorbed = [\"crash\"]");
        let e = build_topology(&file).unwrap_err();
        assert_eq!(e.field, "expect.absorbed[0]");
    }
}
