//! Checkpoints: a postmortem's claims, in its own clock, held against what a
//! run measured.
//!
//! A scenario states the postmortem's clock at T+0 (`scenario.t0 = "2008-08-12
//! 12:00 -04:00"`) and lists `[[checkpoints]]`: the claim as the source words
//! it, the clock time it was true at, the metric the model measures it by,
//! and the tolerance the wording allows:
//!
//! ```toml
//! [[checkpoints]]
//! claim = "more than two thirds of users fully served"
//! at = "2008-08-14 09:30 -04:00"
//! metric = "users_full_service"
//! min = "66.7%"
//!
//! [[checkpoints]]
//! claim = "all users back"
//! at = "2008-08-15 16:00 -04:00"
//! metric = "users_restored"
//! early = "4h"
//! late = "1h"
//! ```
//!
//! Two kinds of metric:
//! - a value at the checkpoint's time, a share: `users_full_service`,
//!   `users_partial_service` (webmail-only users), `mailboxes_unavailable`,
//!   `storage_speed` (the mailstore's speed as a share of normal: the mean
//!   over its volumes of the inverse latency multiplier, an offline volume
//!   counting zero — "performance fell by 90%" is 10%), `smtp_failed`,
//!   `pop_failed`, `imap_failed`, `webmail_failed` (the share of that
//!   service's attempts that failed in the availability bucket — an hour by
//!   default — holding the checkpoint's time; none made: never happened);
//!   hit when within `min`/`max`;
//! - the time something happened: `users_restored` (every user in full
//!   service again, for good), `smtp_restored`, `pop_restored`,
//!   `imap_restored`, `webmail_restored` (the service back for all of its
//!   users, for good), `mailboxes_restored` (the last offline mailbox back),
//!   `failover` (the first failover), `recovered` (the recovery plan done),
//!   `step_done` (the recovery step named by `step` completed); hit when
//!   within `[at - early, at + late]`.
//!
//! A checkpoint is reported, not required: `run` prints claim, clock time,
//! simulated value and hit; `sweep` the range over seeds and the share of
//! seeds that hit, with its 95% interval. With `on_seeds = "50%"` it is also
//! a rate expectation: a sweep fails when fewer seeds hit.

use serde::{Deserialize, Serialize};

use crate::run::Figures;
use crate::units::{parse_clock_time, parse_duration, ClockTime, HumanDuration, Share};

/// A checkpoint as written in a scenario file.
#[derive(Clone, Debug, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckpointEntry {
    /// The claim, in the source's words.
    pub claim: String,
    /// When the claim was true: a clock time with zone ("2008-08-14 09:30
    /// -04:00", needs `scenario.t0`) or a duration from T+0 ("45h30m").
    pub at: String,
    /// What the model measures the claim by (see the module doc): a share at
    /// `at` (`users_full_service`, `users_partial_service`,
    /// `mailboxes_unavailable`, `storage_speed`, `smtp_failed`, `pop_failed`,
    /// `imap_failed`, `webmail_failed`) or the time of an event (`users_restored`,
    /// `smtp_restored`, `pop_restored`, `imap_restored`, `webmail_restored`,
    /// `mailboxes_restored`, `failover`, `recovered`, `step_done`).
    pub metric: String,
    /// For a share: the least value the wording allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<Share>,
    /// For a share: the greatest value the wording allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<Share>,
    /// For an event: how much earlier than `at` it may happen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early: Option<HumanDuration>,
    /// For an event: how much later than `at` it may happen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub late: Option<HumanDuration>,
    /// For the metric `step_done`: the recovery step's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Also a rate expectation: at least this share of seeds must hit it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_seeds: Option<Share>,
}

/// What a checkpoint measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    UsersFullService,
    UsersPartialService,
    MailboxesUnavailable,
    StorageSpeed,
    /// The share of a service's attempts that failed around a time.
    ServiceFailed(mailsim_models::availability::Service),
    UsersRestored,
    ServiceRestored(mailsim_models::availability::Service),
    MailboxesRestored,
    Failover,
    Recovered,
    /// A recovery step completed (its index in the plan).
    StepDone(usize),
}

impl Metric {
    pub const NAMES: [&'static str; 17] = [
        "users_full_service",
        "users_partial_service",
        "mailboxes_unavailable",
        "storage_speed",
        "smtp_failed",
        "pop_failed",
        "imap_failed",
        "webmail_failed",
        "users_restored",
        "smtp_restored",
        "pop_restored",
        "imap_restored",
        "webmail_restored",
        "mailboxes_restored",
        "failover",
        "recovered",
        "step_done",
    ];

    fn parse(name: &str) -> Option<Metric> {
        use mailsim_models::availability::Service;
        Some(match name {
            "users_full_service" => Metric::UsersFullService,
            "users_partial_service" => Metric::UsersPartialService,
            "mailboxes_unavailable" => Metric::MailboxesUnavailable,
            "storage_speed" => Metric::StorageSpeed,
            "smtp_failed" => Metric::ServiceFailed(Service::Smtp),
            "pop_failed" => Metric::ServiceFailed(Service::Pop),
            "imap_failed" => Metric::ServiceFailed(Service::Imap),
            "webmail_failed" => Metric::ServiceFailed(Service::Webmail),
            "users_restored" => Metric::UsersRestored,
            "smtp_restored" => Metric::ServiceRestored(Service::Smtp),
            "pop_restored" => Metric::ServiceRestored(Service::Pop),
            "imap_restored" => Metric::ServiceRestored(Service::Imap),
            "webmail_restored" => Metric::ServiceRestored(Service::Webmail),
            "mailboxes_restored" => Metric::MailboxesRestored,
            "failover" => Metric::Failover,
            "recovered" => Metric::Recovered,
            "step_done" => Metric::StepDone(0),
            _ => return None,
        })
    }

    /// Whether the metric of this name is a share at a time.
    pub fn is_share_name(name: &str) -> bool {
        Metric::parse(name).is_some_and(Metric::is_share)
    }

    /// A share at a time (else: the time of an event).
    pub fn is_share(self) -> bool {
        matches!(
            self,
            Metric::UsersFullService
                | Metric::UsersPartialService
                | Metric::MailboxesUnavailable
                | Metric::StorageSpeed
                | Metric::ServiceFailed(_)
        )
    }
}

/// What a checkpoint accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tolerance {
    Share {
        min: Option<Share>,
        max: Option<Share>,
    },
    /// Seconds before and after the checkpoint's time.
    Window {
        early_s: u64,
        late_s: u64,
    },
}

/// A validated checkpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    pub claim: String,
    /// Seconds from T+0.
    pub at_s: u64,
    /// The clock time as the file gave it (None: given from T+0).
    pub clock: Option<ClockTime>,
    pub metric_name: String,
    pub metric: Metric,
    pub tolerance: Tolerance,
    pub on_seeds: Option<Share>,
}

type Bad = (String, String);

/// Validates the `[[checkpoints]]` of a file: `t0` the postmortem's clock at
/// T+0, `duration` the run's length.
/// `steps` the names of the recovery steps, in order.
pub fn compile(
    entries: &[CheckpointEntry],
    t0: Option<ClockTime>,
    duration: HumanDuration,
    steps: &[&str],
) -> Result<Vec<Checkpoint>, Bad> {
    if entries.len() > CHECKPOINTS_MAX {
        return Err(("checkpoints".into(), format!("{} checkpoints; at most {CHECKPOINTS_MAX}", entries.len())));
    }
    entries.iter().enumerate().map(|(i, e)| compile_one(i, e, t0, duration, steps)).collect()
}

/// Most checkpoints a file may list.
pub const CHECKPOINTS_MAX: usize = 1_000;

/// Compiles checkpoint `i` of the file, naming the field at fault in an
/// error (`checkpoints[2].at`).
fn compile_one(i: usize, e: &CheckpointEntry, t0: Option<ClockTime>, duration: HumanDuration, steps: &[&str]) -> Result<Checkpoint, Bad> {
    let in_field = |(f, m): FieldError| (format!("checkpoints[{i}].{f}"), m);
    if e.claim.trim().is_empty() {
        return Err(in_field(("claim", "say what the source claims, in its words".into())));
    }
    let (at, clock) = checkpoint_time(e, t0, duration).map_err(in_field)?;
    let metric = checkpoint_metric(e, steps).map_err(in_field)?;
    let tolerance = if metric.is_share() { share_tolerance(e) } else { window_tolerance(e) }.map_err(in_field)?;
    if let Some(s) = e.on_seeds {
        if s.ppm() == 0 || s.ppm() > 1_000_000 {
            return Err(in_field(("on_seeds", format!("{s}: a share of seeds above 0%, at most 100%"))));
        }
    }
    Ok(Checkpoint {
        claim: e.claim.trim().to_string(),
        at_s: (at.0 / 1_000_000) as u64,
        clock,
        metric_name: e.metric.clone(),
        metric,
        tolerance,
        on_seeds: e.on_seeds,
    })
}

/// A checkpoint's field at fault (`at`, `metric`, …) and what is wrong.
type FieldError = (&'static str, String);

/// When the claim is about, from T+0, and the clock time if it was given
/// as one (placed by `scenario.t0`); within the run.
fn checkpoint_time(
    e: &CheckpointEntry,
    t0: Option<ClockTime>,
    duration: HumanDuration,
) -> Result<(HumanDuration, Option<ClockTime>), FieldError> {
    let (at, clock) = match parse_duration(&e.at) {
        Ok(d) => (d, None),
        Err(_) => match parse_clock_time(&e.at) {
            Ok(c) => match t0 {
                Some(t0) => (c.since(t0), Some(c)),
                None => return Err(("at", format!("`{}` is a clock time, but the file gives no `scenario.t0` to place it", e.at))),
            },
            Err(why) => return Err(("at", format!("{why}; or a duration from T+0 like \"45h30m\""))),
        },
    };
    if at.0 < 0 || at > duration {
        let when = clock.map_or(at.to_string(), |c| format!("{c} (T{}{at})", if at.0 < 0 { "" } else { "+" }));
        return Err(("at", format!("{when} is outside the run (T+0 to T+{duration})")));
    }
    Ok((at, clock))
}

/// The metric the claim is about; `step_done` with the index of its `step`.
fn checkpoint_metric(e: &CheckpointEntry, steps: &[&str]) -> Result<Metric, FieldError> {
    let Some(metric) = Metric::parse(&e.metric) else {
        return Err(("metric", format!("unknown metric `{}`; one of: {}", e.metric, Metric::NAMES.join(", "))));
    };
    match (metric, &e.step) {
        (Metric::StepDone(_), Some(name)) => match steps.iter().position(|s| s == name) {
            Some(k) => Ok(Metric::StepDone(k)),
            None => Err(("step", format!("`{name}` is not a recovery step (steps: {})", steps.join(", ")))),
        },
        (Metric::StepDone(_), None) => Err(("step", "`step_done` needs the `step` it is about".into())),
        (_, Some(_)) => Err(("step", format!("only the metric `step_done` takes a `step`, not `{}`", e.metric))),
        _ => Ok(metric),
    }
}

/// The bounds of a share at a time: `min`, `max` or both (not `early` or
/// `late`).
fn share_tolerance(e: &CheckpointEntry) -> Result<Tolerance, FieldError> {
    if e.early.is_some() || e.late.is_some() {
        return Err((
            if e.early.is_some() { "early" } else { "late" },
            format!("`{}` is a share at a time: bound it with `min`/`max`", e.metric),
        ));
    }
    if e.min.is_none() && e.max.is_none() {
        return Err(("min", format!("`{}` needs `min`, `max` or both: what the claim's wording allows", e.metric)));
    }
    if let (Some(a), Some(z)) = (e.min, e.max) {
        if a > z {
            return Err(("min", format!("min {a} is above max {z}")));
        }
    }
    Ok(Tolerance::Share { min: e.min, max: e.max })
}

/// The window around `at` in which an event's time hits: `early`, `late`
/// or both (not `min` or `max`).
fn window_tolerance(e: &CheckpointEntry) -> Result<Tolerance, FieldError> {
    if e.min.is_some() || e.max.is_some() {
        return Err((
            if e.min.is_some() { "min" } else { "max" },
            format!("`{}` is the time of an event: give `early`/`late` around `at`", e.metric),
        ));
    }
    let secs = |d: Option<HumanDuration>, f: &'static str| -> Result<u64, FieldError> {
        match d {
            Some(d) if d.0 < 0 => Err((f, format!("{d} is negative; say how far from `at` the event may fall"))),
            Some(d) => Ok((d.0 / 1_000_000) as u64),
            None => Ok(0),
        }
    };
    if e.early.is_none() && e.late.is_none() {
        return Err(("late", format!("`{}` needs `early`, `late` or both: how far from `at` the wording allows", e.metric)));
    }
    Ok(Tolerance::Window { early_s: secs(e.early, "early")?, late_s: secs(e.late, "late")? })
}

/// A checkpoint held against one run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckpointResult {
    pub claim: String,
    /// The claim's time as the file gave it.
    pub at: String,
    pub metric: String,
    /// The simulated value: a share in ppm, or an event's seconds from T+0
    /// (None: the event did not happen in the run).
    pub value: Option<u64>,
    /// The value as a person reads it (a share, or a clock time with its
    /// distance from the claim's).
    pub shown: String,
    pub hit: bool,
}

fn ppm(s: Share) -> u64 {
    u64::from(s.ppm())
}

/// The simulated value of `c`'s metric in a run.
fn measure(c: &Checkpoint, f: &Figures) -> Option<u64> {
    let a = &f.availability;
    let secs = |us: u64| us / 1_000_000;
    match c.metric {
        Metric::UsersFullService => Some(u64::from(a.users_full_service_at(c.at_s))),
        Metric::UsersPartialService => Some(u64::from(a.users_partial_service_at(c.at_s))),
        Metric::MailboxesUnavailable => {
            let t = c.at_s * 1_000_000;
            let n = f.unavailable.iter().take_while(|(at, _)| *at <= t).last().map_or(0, |u| u.1);
            Some((u64::from(n) * 1_000_000).checked_div(u64::from(f.mailboxes)).unwrap_or(0))
        }
        Metric::StorageSpeed => {
            let t = c.at_s * 1_000_000;
            Some(f.storage_speed.iter().take_while(|(at, _)| *at <= t).last().map_or(1_000_000, |s| u64::from(s.1)))
        }
        Metric::ServiceFailed(s) => {
            let b = a.service(s).series.iter().find(|b| b.start_s <= c.at_s && c.at_s < b.start_s + a.bucket_s)?;
            (b.attempts > 0).then(|| (b.attempts - b.ok.min(b.attempts)) * 1_000_000 / b.attempts)
        }
        Metric::UsersRestored => a.users_restored_s(),
        Metric::ServiceRestored(s) => a.service(s).restored_s,
        Metric::MailboxesRestored => f.restored_us.map(secs),
        Metric::Failover => f.failovers_us.first().copied().map(secs),
        Metric::Recovered => f.recovered_us.map(secs),
        Metric::StepDone(k) => f.steps.get(k).and_then(|s| s.done_us).map(secs),
    }
}

/// Holds each checkpoint against a run's figures; `t0` places event times
/// on the postmortem's clock.
pub fn evaluate(checkpoints: &[Checkpoint], t0: Option<ClockTime>, f: &Figures) -> Vec<CheckpointResult> {
    checkpoints
        .iter()
        .map(|c| {
            let value = measure(c, f);
            let (hit, shown) = match (c.tolerance, value) {
                (Tolerance::Share { min, max }, Some(v)) => {
                    (min.is_none_or(|m| v >= ppm(m)) && max.is_none_or(|m| v <= ppm(m)), Share(v as u32).to_string())
                }
                (Tolerance::Window { early_s, late_s }, Some(v)) => {
                    let hit = v + early_s >= c.at_s && v <= c.at_s + late_s;
                    let off = HumanDuration((v as i64 - c.at_s as i64) * 1_000_000);
                    let when = match t0 {
                        Some(t0) => t0.plus(HumanDuration(v as i64 * 1_000_000)).to_string(),
                        None => format!("T+{}", HumanDuration(v as i64 * 1_000_000).readable()),
                    };
                    let sign = if off.0 >= 0 { "+" } else { "" };
                    (hit, format!("{when} ({sign}{} from the claim)", off.readable()))
                }
                (_, None) => (false, "never happened".to_string()),
            };
            CheckpointResult { claim: c.claim.clone(), at: at_text(c), metric: c.metric_name.clone(), value, shown, hit }
        })
        .collect()
}

/// A checkpoint's time as the file gave it: a clock time, or `T+45.5h`.
pub fn at_text(c: &Checkpoint) -> String {
    c.clock.map_or(format!("T+{}", HumanDuration(c.at_s as i64 * 1_000_000).readable()), |k| k.to_string())
}

/// What a checkpoint accepts, as a person reads it.
pub fn accepts(c: &Checkpoint) -> String {
    match c.tolerance {
        Tolerance::Share { min: Some(a), max: Some(z) } => format!("{a} to {z}"),
        Tolerance::Share { min: Some(a), max: None } => format!("at least {a}"),
        Tolerance::Share { min: None, max: Some(z) } => format!("at most {z}"),
        Tolerance::Share { min: None, max: None } => "anything".into(),
        Tolerance::Window { early_s, late_s } => format!(
            "from {} before to {} after",
            HumanDuration(early_s as i64 * 1_000_000).readable(),
            HumanDuration(late_s as i64 * 1_000_000).readable()
        ),
    }
}
