//! Scenario files for the harness: the runner's own loader and validator
//! (`mailsim::scenario`), then a mapping onto a `Setup` that refuses, with a
//! `HarnessError::Unsupported` naming the entry, everything the harness
//! cannot simulate — never silently dropping a fault.
//!
//! Supported fault kinds (`SUPPORTED`), and what each becomes:
//! - `crash` / `restart` of `mx-N` or `filer`: the turmoil host crashes
//!   (unsynced writes lost) / boots again through its factory;
//! - `partition` (target, peer), `isolate`: the links are *held* (turmoil
//!   hold), not partitioned — a turmoil partition refuses a connect at once
//!   (the SYN cannot be queued on a cut link), where a real network, and
//!   the models, stay silent until the caller's timeout; the conformance
//!   test found the difference. `heal` releases and repairs every link;
//! - `latency` between `target` and `peer`: every message between the two
//!   hosts, both ways, takes `latency` (turmoil's link latency; the models
//!   give it as the mean of their slow link), until `heal`. An SMTP
//!   transaction is some seven round trips where the models send one
//!   request and one reply, so the same latency costs the harness several
//!   times more per delivery. madsim has no per-link latency: its run
//!   refuses the fault;
//! - `hang` of `filer` for a duration: the file server stops answering
//!   for that long; a mail whose DATA it received is written and answered
//!   when the hang ends, as the models' file server serves the requests it
//!   received (`Fault::StoreHang`; an engine-level hold of the links would
//!   lose the attempts whose sender gave up before the release);
//! - `lock-broken` of `filer`: the store answers every delivery 451, for
//!   good (the models mend it only with the `RollbackUpgrade` recovery
//!   step, which the harness does not run); `lock-restart`: the lock
//!   manager restarts into a 45–90 s grace period, as in the models.
//!
//! Not supported, each an error: the storage hardware faults
//! (`controller-failure`, `path-fault`, `disk-failure`,
//! `latent-sector-error`, `degrade`) — the harness's store is one host with
//! one simulated disk, no shelves or RAID; `fence-broken` and
//! `[topology.cluster]` — no cluster manager; `[[random_faults]]`,
//! `[[recovery]]` steps and `[[checkpoints]]` — no operators or random
//! processes; `mx_down = "silent"` — a crashed turmoil host refuses; crashing
//! the `internet` (the senders are the world); a workload given as a rate
//! or with `zipf` recipients (give `mails`, `uniform`).
//!
//! With `fault_phase`, at its end the network heals and crashed hosts
//! restart (the kernel's liveness phase).

use std::path::Path;
use std::time::Duration;

use mailsim::scenario::Scenario;
use mailsim_models::retry::RetryProfile;

use crate::error::HarnessError;
use crate::setup::{uniform_arrivals, Fault, Setup, FILER, INTERNET};

/// The fault kinds of scenario files the harness supports.
pub const SUPPORTED: &str = "crash, restart, partition, isolate, heal, latency, hang, lock-broken, lock-restart";

/// Loads a scenario file and maps it onto a harness setup for `seed`.
pub fn load(path: &Path, seed: u64) -> Result<Setup, HarnessError> {
    let scenario = Scenario::load(path)?;
    setup_from(&scenario, seed)
}

/// A scenario given as TOML text (`path` names it in errors).
pub fn from_toml(text: &str, path: &Path, seed: u64) -> Result<Setup, HarnessError> {
    let scenario = Scenario::from_toml(text, path)?;
    setup_from(&scenario, seed)
}

fn dur(h: &mailsim::units::HumanDuration) -> Duration {
    Duration::from_micros(h.micros().max(0) as u64)
}

/// Maps a loaded scenario onto a setup.
pub fn setup_from(scenario: &Scenario, seed: u64) -> Result<Setup, HarnessError> {
    let f = &scenario.file;
    let unsupported = |what: String, why: &str| HarnessError::Unsupported {
        file: scenario.path.clone(),
        what,
        why: why.to_string(),
        supported: SUPPORTED,
    };
    let t = &f.topology;
    if t.cluster.is_some() {
        return Err(unsupported("[topology.cluster]".into(), "the harness has no cluster manager, fencing or virtual IP"));
    }
    if t.mx_down == Some(mailsim::scenario::DownSpec::Silent) {
        return Err(unsupported("topology.mx_down = \"silent\"".into(), "a crashed turmoil host refuses connections"));
    }
    if !f.random_faults.is_empty() {
        return Err(unsupported("[[random_faults]]".into(), "the harness injects scheduled faults only"));
    }
    if !f.recovery.is_empty() {
        return Err(unsupported("[[recovery]]".into(), "the harness has no operators to carry out runbook steps"));
    }
    if !f.checkpoints.is_empty() {
        return Err(unsupported("[[checkpoints]]".into(), "the harness measures custody and delays only"));
    }
    let w = &f.workload;
    let Some(mails) = w.mails else {
        return Err(unsupported("workload.per_hour / workload.rate".into(), "give the workload as `mails`"));
    };
    if w.recipients.as_deref().is_some_and(|r| r != "uniform") {
        return Err(unsupported("workload.recipients".into(), "recipients are drawn uniformly"));
    }
    let (profiles, weights): (Vec<RetryProfile>, Vec<u64>) = if w.profiles.is_empty() {
        (vec![RetryProfile::postfix(), RetryProfile::exim(), RetryProfile::exchange(), RetryProfile::h72()], vec![60, 20, 15, 5])
    } else {
        let mut p = Vec::new();
        for (name, weight) in &w.profiles {
            let profile =
                RetryProfile::by_name(name).ok_or_else(|| unsupported(format!("workload.profiles.{name}"), "unknown retry profile"))?;
            p.push((profile, *weight));
        }
        p.into_iter().unzip()
    };
    let begin = w.begin.as_ref().map(dur).unwrap_or_default();
    let mut setup = Setup::new(t.mx, t.mailboxes, mails, dur(&w.window), dur(&f.run.duration), seed);
    setup.arrivals = uniform_arrivals(mails, begin, dur(&w.window), t.mailboxes, &weights, seed);
    setup.profiles = profiles;

    let hosts = setup.hosts();
    for (i, fe) in f.faults.iter().enumerate() {
        let at = dur(&fe.at);
        let what = || format!("[[faults]] #{} kind = \"{}\"", i + 1, fe.kind);
        let target = fe.target.clone().unwrap_or_default();
        let host = |name: &str| -> Result<String, HarnessError> {
            if name == INTERNET {
                return Err(unsupported(what(), "the senders are the internet; they do not crash"));
            }
            if hosts.iter().any(|h| h == name) {
                Ok(name.to_string())
            } else {
                Err(HarnessError::UnknownHost { fault: what(), host: name.to_string(), hosts: hosts.join(", ") })
            }
        };
        let filer_only = || -> Result<(), HarnessError> {
            if target == FILER {
                Ok(())
            } else {
                Err(unsupported(what(), "only the file server (`filer`) takes this fault in the harness"))
            }
        };
        match fe.kind.as_str() {
            "crash" => setup = setup.fault(at, Fault::Crash(host(&target)?)),
            "restart" => setup = setup.fault(at, Fault::Restart(host(&target)?)),
            "isolate" => {
                let h = host(&target)?;
                for other in hosts.iter().filter(|o| **o != h) {
                    setup = setup.fault(at, Fault::Hold(h.clone(), other.clone()));
                }
            }
            "heal" => setup = setup.fault(at, Fault::Heal),
            "partition" => {
                let peer = fe.peer.clone().unwrap_or_default();
                let (a, b) = (net_host(&target, &hosts, &what)?, net_host(&peer, &hosts, &what)?);
                setup = setup.fault(at, Fault::Hold(a, b));
            }
            "latency" => {
                let peer = fe.peer.clone().unwrap_or_default();
                let (a, b) = (net_host(&target, &hosts, &what)?, net_host(&peer, &hosts, &what)?);
                let latency = fe.latency.as_ref().map(dur).unwrap_or_default();
                setup = setup.fault(at, Fault::Latency(a, b, latency));
            }
            "hang" => {
                filer_only()?;
                setup = setup.fault(at, Fault::StoreHang(fe.for_.as_ref().map(dur).unwrap_or_default()));
            }
            "lock-broken" => {
                filer_only()?;
                setup = setup.fault(at, Fault::StoreTempfail);
            }
            "lock-restart" => {
                filer_only()?;
                setup = setup.fault(at, Fault::StoreLockRestart);
            }
            "controller-failure" | "path-fault" | "disk-failure" | "latent-sector-error" | "degrade" => {
                return Err(unsupported(
                    what(),
                    "the harness's store is one host with one simulated disk: no shelves, controllers or RAID groups",
                ))
            }
            "fence-broken" => return Err(unsupported(what(), "the harness has no cluster manager or fencing devices")),
            other => return Err(unsupported(format!("[[faults]] #{} kind = \"{other}\"", i + 1), "unknown to the harness")),
        }
    }
    if let Some(end) = &f.run.fault_phase {
        let end = dur(end);
        setup = setup.fault(end, Fault::Heal);
        for h in setup.hosts().into_iter().filter(|h| h != INTERNET) {
            setup = setup.fault(end, Fault::Restart(h));
        }
    }
    Ok(setup)
}

/// A host a partition may name (the internet included: the models cut the
/// senders off an MX this way).
fn net_host(name: &str, hosts: &[String], what: &dyn Fn() -> String) -> Result<String, HarnessError> {
    if hosts.iter().any(|h| h == name) {
        Ok(name.to_string())
    } else {
        Err(HarnessError::UnknownHost { fault: what(), host: name.to_string(), hosts: hosts.join(", ") })
    }
}
