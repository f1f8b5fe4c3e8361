//! The run's Perfetto trace with what the runner knows beside the kernel:
//! each recovery step as a span from its command to its completion, alerts
//! on their own track, and, when asked (`run --trace F --trace-mail ID`),
//! one mail's hops as a flow: every message about it (SMTP DATA and its
//! reply, the append to the store and its reply) and every step the
//! custody ledger notes (written, durable in a queue, acknowledged, out of
//! the queue, durable in its mailbox), in order, with arrows between them.
//! A storage fault's track and name use the scenario's names for its
//! object (`shelf-a`), as the filer's tracks of each shelf, controller,
//! RAID group and volume do.

use mailsim_models::storage::Storage;
use mailsim_models::{Msg, World};
use mailsim_sim::{named_fault, Flow, Sim, Slice, Time, INSTANTS_PER_TRACK_HOUR};

use crate::run::RunResult;

/// The Chrome/Perfetto JSON of a run kept with a full trace; `all` writes
/// every event instead of sampling the routine ones.
pub fn chrome_trace(sim: &Sim<Msg, World>, r: &RunResult, mail: Option<u64>, all: bool) -> String {
    let end = r.report.end;
    let mut extra: Vec<Slice> = Vec::new();
    for step in &r.figures.steps {
        let name = &step.name;
        if let (Some(fired), Some(started)) = (step.fired_us, step.started_us) {
            if started > fired {
                extra.push(Slice {
                    name: format!("{name}: waiting (role, work, window)"),
                    track: format!("recovery: {name}"),
                    start: Time(fired),
                    end: Time(started),
                });
            }
        }
        if let Some(s) = step.started_us {
            extra.push(Slice {
                name: if step.done_us.is_some() { name.clone() } else { format!("{name} (never completed)") },
                track: format!("recovery: {name}"),
                start: Time(s),
                end: step.done_us.map_or(end, Time),
            });
        }
    }
    for (step, at, why, gave_up) in &r.figures.steps_failed {
        let verdict = if *gave_up { "failed, given up" } else { "failed" };
        extra.push(Slice {
            name: format!("{step} {verdict}: {why}"),
            track: format!("recovery: {step}"),
            start: Time(*at),
            end: Time(*at),
        });
    }
    for (at, text) in &r.figures.alerts {
        extra.push(Slice { name: text.clone(), track: "alerts".into(), start: Time(*at), end: Time(*at) });
    }
    // The models number each record and note by the mail it concerns.
    let flow = mail.map(|id| Flow { name: format!("mail {id}"), subject: id });
    sim.chrome_trace_with(&extra, flow, (!all).then_some(INSTANTS_PER_TRACK_HOUR), &storage_name)
}

/// A fault in words, its storage object named as the scenario names it
/// (`controller-failure on filer: shelf-a/controller-a`), from the
/// kernel's description (`… Fault(ControllerFail { shelf: 0, controller:
/// 0 })`): what the trace, the run's text and its report show.
pub fn fault_name(description: &str) -> String {
    named_fault(description, &storage_name).0
}

/// A storage fault's object, from its fields (`shelf 0, controller 1`), as
/// scenarios and the storage's own tracks name it (`shelf-a/controller-b`);
/// `None` for anything else.
pub fn storage_name(fields: &str) -> Option<String> {
    let mut parts = fields.split(", ").map(|p| p.split_once(' ').and_then(|(k, v)| Some((k, v.parse::<u32>().ok()?))));
    match (parts.next()??, parts.next(), parts.next()) {
        (("shelf", s), None, None) => Some(Storage::shelf_name(s)),
        (("shelf", s), Some(Some(("controller", c))), None) => Some(Storage::controller_name(s, c)),
        (("group", g), None, None) => Some(Storage::group_name(g)),
        (("volume", v), None, None) => Some(Storage::volume_name(v)),
        (("head", h), None, None) => Some(mailsim_models::heads::Heads::name(h)),
        _ => None,
    }
}
