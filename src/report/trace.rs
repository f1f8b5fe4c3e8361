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
/// every event instead of sampling the routine ones; `backups` name the
/// topology's backup sets ([`backup_names`]).
pub fn chrome_trace(sim: &Sim<Msg, World>, r: &RunResult, mail: Option<u64>, all: bool, backups: &[String]) -> String {
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
    for s in &r.figures.steps_failed {
        let verdict = if s.gave_up { "failed, given up" } else { "failed" };
        extra.push(Slice {
            name: format!("{} {verdict}: {}", s.step, s.why),
            track: format!("recovery: {}", s.step),
            start: Time(s.at_us),
            end: Time(s.at_us),
        });
    }
    for (at, text) in &r.figures.alerts {
        extra.push(Slice { name: text.clone(), track: "alerts".into(), start: Time(*at), end: Time(*at) });
    }
    // The models number each record and note by the mail it concerns.
    let flow = mail.map(|id| Flow { name: format!("mail {id}"), subject: id });
    sim.chrome_trace_with(&extra, flow, (!all).then_some(INSTANTS_PER_TRACK_HOUR), &|f| object_name(f, backups))
}

/// A fault in words, its objects named as the scenario names them
/// (`controller-failure on filer: shelf-a/controller-a`,
/// `data-loss on filer: volume-1, share 100%`), from the kernel's
/// description (`… Fault(ControllerFail { shelf: 0, controller: 0 })`):
/// what the trace, the run's text and its report show. `backups` are the
/// topology's backup sets, by index.
pub fn fault_name(description: &str, backups: &[String]) -> String {
    named_fault(description, &|f| object_name(f, backups)).0
}

/// The backup sets' names of a scenario's topology, by index (what a
/// `backup-corrupt` fault's `set` counts).
pub fn backup_names(s: &crate::scenario::Scenario) -> Vec<String> {
    s.topology.filer.backups.iter().map(|b| b.name.clone()).collect()
}

/// A fault's object, from its fields (`shelf 0, controller 1`;
/// `volumes 0 2`; `set 1`), as scenarios and the storage's own tracks
/// name it (`shelf-a/controller-b`; `volume-1, volume-3`; the backup set's
/// name); `None` for anything else.
pub fn object_name(fields: &str, backups: &[String]) -> Option<String> {
    if let Some(list) = fields.strip_prefix("volumes ") {
        if list == "all" {
            return Some("every volume".to_string());
        }
        let v: Option<Vec<String>> = list.split(' ').map(|v| Some(Storage::volume_name(v.parse().ok()?))).collect();
        return v.map(|v| v.join(", "));
    }
    if let Some(set) = fields.strip_prefix("set ") {
        let i: usize = set.parse().ok()?;
        return Some(format!("backup set {}", backups.get(i).map_or(set, String::as_str)));
    }
    storage_name(fields)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The fault kinds of the storage's data and heads read in words, with
    /// the scenario's names (the kernel's descriptions are debug text).
    #[test]
    fn data_head_and_device_faults_read_in_the_scenarios_words() {
        let backups = ["hourly".to_string(), "nightly-tape".to_string()];
        let name = |d: &str| fault_name(d, &backups);
        assert_eq!(
            name("data-loss on filer: Fault(DataLoss { volumes: [0], share_ppm: 1000000 })"),
            "data-loss on filer: volume-1, share 100%"
        );
        assert_eq!(
            name("data-corruption on filer: Fault(DataCorruption { volumes: [1, 2], share_ppm: 200000 })"),
            "data-corruption on filer: volume-2, volume-3, share 20%"
        );
        assert_eq!(
            name("data-corruption on filer: Fault(DataCorruption { volumes: [], share_ppm: 1000000 })"),
            "data-corruption on filer: every volume, share 100%"
        );
        assert_eq!(name("backup-corrupt on filer: Fault(BackupCorrupt { set: 1 })"), "backup-corrupt on filer: backup set nightly-tape");
        assert_eq!(
            name("head-failure on filer: Fault(HeadFail { head: 1, takeover: Hangs })"),
            "head-failure on filer: head-b, takeover hangs"
        );
        assert_eq!(
            name("local-device-failure on mx-1: Fault(LocalDeviceFail { device: Queue })"),
            "local-device-failure on mx-1: device queue"
        );
        // The track is the object: the volumes, not the share.
        let (_, track) =
            named_fault("data-loss on filer: Fault(DataLoss { volumes: [0], share_ppm: 1000000 })", &|f| object_name(f, &backups));
        assert_eq!(track.as_deref(), Some("filer: volume-1"));
    }
}
