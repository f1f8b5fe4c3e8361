//! The turmoil driver: builds the simulation (one turmoil host per machine,
//! each registered as a factory so it can be restarted), steps it tick by
//! tick, injects the setup's faults at their times, ends the run once every
//! mail is settled and every queue empty (or at the setup's duration), and
//! hands the journal to the ledger (`audit`).
//!
//! turmoil polls every host every tick, so a run costs about
//! hosts × ticks × 5 µs: the tick (`Setup::tick`, 100 ms by default) is
//! chosen so that an hour of simulated outage costs a second, while an SMTP
//! exchange (a few round trips of one or two ticks each) still takes well
//! under the retry intervals that decide delivery delays.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use crate::audit::audit;
use crate::engine;
use crate::error::HarnessError;
use crate::journal::Journal;
use crate::outcome::Outcome;
use crate::plug::MxContext;
use crate::sender::{self, SenderSettings};
use crate::setup::{check_hosts, Fault, Setup, FILER, INTERNET, SMTP_PORT};
use crate::store::{self, Controls};

/// A message's latency on a healthy link: at least this …
const LATENCY_MIN: Duration = Duration::from_millis(1);
/// … and at most this.
const LATENCY_MAX: Duration = Duration::from_millis(5);

/// Runs `setup` on turmoil with seed `seed`.
pub fn run(setup: &Setup, seed: u64) -> Result<Outcome, HarnessError> {
    check_hosts(setup)?;
    match catch_unwind(AssertUnwindSafe(|| drive(setup, seed))) {
        Ok(r) => r,
        Err(payload) => {
            let text = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned());
            Err(HarnessError::Run(format!("the simulation panicked: {}", text.unwrap_or_else(|| "a non-text panic".to_string()))))
        }
    }
}

fn drive(setup: &Setup, seed: u64) -> Result<Outcome, HarnessError> {
    let journal = Journal::with_naive_connects(setup.naive_connects);
    let panics = engine::PanicWatch::new();
    let controls = Arc::new(Controls::new(seed));
    let mut sim = turmoil::Builder::new()
        .simulation_duration(setup.duration + Duration::from_secs(3600))
        .tick_duration(setup.tick)
        .min_message_latency(LATENCY_MIN)
        .max_message_latency(LATENCY_MAX)
        .rng_seed(seed)
        .ephemeral_ports(setup.ephemeral_ports.clone())
        .build();

    let settings = Arc::new(SenderSettings {
        mx: setup.mx_names(),
        port: SMTP_PORT,
        profiles: setup.profiles.clone(),
        connect_timeout: setup.connect_timeout,
        reply_timeout: setup.reply_timeout,
    });
    let arrivals = Arc::new(setup.arrivals.clone());
    {
        let j = journal.clone();
        sim.host(INTERNET, move || {
            let (a, s, j) = (arrivals.clone(), settings.clone(), j.clone());
            async move { sender::run(Arc::from(INTERNET), a, s, j, seed).await.map_err(Into::into) }
        });
    }
    {
        let (j, c, n) = (journal.clone(), controls.clone(), setup.mailboxes);
        sim.host(FILER, move || {
            let (j, c) = (j.clone(), c.clone());
            async move { store::serve(Arc::from(FILER), SMTP_PORT, n, j, c).await.map_err(Into::into) }
        });
    }
    for name in setup.mx_names() {
        let ctx = MxContext {
            host: Arc::from(name.as_str()),
            port: SMTP_PORT,
            store: (FILER.to_string(), SMTP_PORT),
            relay: setup.relay.clone(),
            journal: journal.clone(),
        };
        let server = setup.server.clone();
        sim.host(name.as_str(), move || {
            let fut = server.serve(ctx.clone());
            async move { fut.await.map_err(Into::into) }
        });
    }

    let hosts = setup.hosts();
    let mails = setup.arrivals.len();
    let mut crashed: BTreeSet<String> = BTreeSet::new();
    let mut next_fault = 0;
    let mut steps = 0u64;
    let mut quiescent = false;
    while sim.elapsed() < setup.duration {
        while next_fault < setup.faults.len() && setup.faults[next_fault].0 <= sim.elapsed() {
            inject(&mut sim, &setup.faults[next_fault].1, &hosts, &mut crashed, &controls);
            next_fault += 1;
        }
        sim.step().map_err(|e| HarnessError::Run(format!("a host failed at {:?}: {e}", sim.elapsed())))?;
        steps += 1;
        for p in panics.take() {
            journal.fail(p);
        }
        let failures = journal.failures();
        if !failures.is_empty() {
            return Err(HarnessError::Run(failures.join("; ")));
        }
        // Done once the workload is settled, no fault is still to come, and
        // every host is up (a crashed MX may still hold mail on its disk).
        if steps & 15 == 0 && next_fault == setup.faults.len() && crashed.is_empty() && journal.quiescent(mails) {
            quiescent = true;
            break;
        }
    }
    let end = sim.elapsed();
    let events = journal.events();
    Ok(Outcome { audit: audit(events.clone(), seed), end, quiescent, steps, events, notes: journal.notes(), sockets: journal.sockets() })
}

fn inject(sim: &mut turmoil::Sim<'_>, fault: &Fault, hosts: &[String], crashed: &mut BTreeSet<String>, controls: &Controls) {
    use std::sync::atomic::Ordering;
    match fault {
        Fault::Crash(h) => {
            if crashed.insert(h.clone()) {
                sim.crash(h.as_str());
            }
        }
        Fault::Restart(h) => {
            if crashed.remove(h) {
                sim.bounce(h.as_str());
            }
        }
        Fault::Partition(a, b) => sim.partition(a.as_str(), b.as_str()),
        Fault::Isolate(h) => {
            for other in hosts.iter().filter(|o| *o != h) {
                sim.partition(h.as_str(), other.as_str());
            }
        }
        Fault::Heal => {
            for (i, a) in hosts.iter().enumerate() {
                for b in &hosts[i + 1..] {
                    sim.repair(a.as_str(), b.as_str());
                    sim.release(a.as_str(), b.as_str());
                    // Back to the builder's latency (a `Latency` fault ends).
                    sim.set_link_latency(a.as_str(), b.as_str(), LATENCY_MIN);
                    sim.set_link_max_message_latency(a.as_str(), b.as_str(), LATENCY_MAX);
                }
            }
        }
        Fault::Hold(a, b) => sim.hold(a.as_str(), b.as_str()),
        Fault::Release(a, b) => sim.release(a.as_str(), b.as_str()),
        Fault::StoreTempfail => controls.lock_broken.store(true, Ordering::Relaxed),
        Fault::StoreRecovers => controls.lock_broken.store(false, Ordering::Relaxed),
        Fault::StoreLockRestart => controls.start_grace_at(sim.elapsed()),
        Fault::StoreHang(d) => controls.hang_until(sim.elapsed() + *d),
        Fault::Latency(a, b, d) => sim.set_link_latency(a.as_str(), b.as_str(), *d),
    }
}
