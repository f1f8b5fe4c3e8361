//! The madsim driver (`RUSTFLAGS="--cfg madsim"`): the same hosts, the same
//! server code and the same journal as the turmoil driver, on madsim's
//! runtime, which jumps from one timer to the next instead of ticking.
//!
//! Each machine is a madsim node (an IP address and a DNS name, so the
//! code connects by host name as under turmoil) whose init task is the
//! host's factory: `Handle::restart` runs it again after a crash. A driver
//! task on the main node injects the faults at their times and ends the run
//! once every mail is settled and every queue empty.
//!
//! What madsim cannot host, or hosts differently (ARCHITECTURE.md):
//! - a crash loses nothing written: madsim 0.2's `FsSim::power_fail` is
//!   empty, so unsynced spool records survive `kill` — the planted
//!   ack-before-sync bug cannot lose mail here, and only the ledger's own
//!   check (250 before the queue write was synced) catches it;
//! - `Fault::Latency` has no per-link setting in madsim's network: refused
//!   with an error;
//! - partitions and holds are both madsim "clogs" (messages wait while the
//!   link is clogged), and a connect to a killed node is refused at once.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

use madsim::net::NetSim;
use madsim::runtime::{Handle, NodeHandle, Runtime};

use crate::audit::audit;
use crate::engine;
use crate::error::HarnessError;
use crate::journal::Journal;
use crate::outcome::Outcome;
use crate::plug::MxContext;
use crate::sender::{self, SenderSettings};
use crate::setup::check_hosts;
use crate::setup::{Fault, Setup, FILER, INTERNET, SMTP_PORT};
use crate::store::{self, Controls};

/// Runs `setup` on madsim with seed `seed`.
pub fn run(setup: &Setup, seed: u64) -> Result<Outcome, HarnessError> {
    check_hosts(setup)?;
    for (_, f) in &setup.faults {
        if let Fault::Latency(..) = f {
            return Err(HarnessError::Run(format!("{f:?}: madsim 0.2 has no per-link latency; this fault needs turmoil")));
        }
    }
    let setup = setup.clone();
    let result = catch_unwind(AssertUnwindSafe(|| {
        let rt = Runtime::with_seed_and_config(seed, madsim::Config::default());
        rt.block_on(drive(setup, seed))
    }));
    match result {
        Ok(r) => r,
        Err(payload) => {
            let text = payload.downcast_ref::<&str>().map(|s| s.to_string()).or_else(|| payload.downcast_ref::<String>().cloned());
            Err(HarnessError::Run(format!("the simulation panicked: {}", text.unwrap_or_else(|| "a non-text panic".to_string()))))
        }
    }
}

async fn drive(setup: Setup, seed: u64) -> Result<Outcome, HarnessError> {
    let handle = Handle::current();
    let net = NetSim::current();
    let journal = Journal::with_naive_connects(setup.naive_connects);
    let panics = engine::PanicWatch::new();
    let controls = Arc::new(Controls::new(seed));
    let mut nodes: BTreeMap<String, NodeHandle> = BTreeMap::new();
    for (i, name) in setup.hosts().iter().enumerate() {
        let ip = IpAddr::V4(Ipv4Addr::new(10, 0, 0, i as u8 + 1));
        net.add_dns_record(name, ip);
        let builder = handle.create_node().name(name.as_str()).ip(ip);
        let j = journal.clone();
        let node = if name == INTERNET {
            let settings = Arc::new(SenderSettings {
                mx: setup.mx_names(),
                port: SMTP_PORT,
                profiles: setup.profiles.clone(),
                connect_timeout: setup.connect_timeout,
                reply_timeout: setup.reply_timeout,
            });
            let arrivals = Arc::new(setup.arrivals.clone());
            builder
                .init(move || {
                    let (a, s, j) = (arrivals.clone(), settings.clone(), j.clone());
                    async move {
                        if let Err(e) = sender::run(Arc::from(INTERNET), a, s, j.clone(), seed).await {
                            j.fail(format!("{INTERNET}: {e}"));
                        }
                    }
                })
                .build()
        } else if name == FILER {
            let (c, n) = (controls.clone(), setup.mailboxes);
            builder
                .init(move || {
                    let (j, c) = (j.clone(), c.clone());
                    async move {
                        if let Err(e) = store::serve(Arc::from(FILER), SMTP_PORT, n, j.clone(), c).await {
                            j.fail(format!("{FILER}: {e}"));
                        }
                    }
                })
                .build()
        } else {
            let ctx = MxContext {
                host: Arc::from(name.as_str()),
                port: SMTP_PORT,
                store: (FILER.to_string(), SMTP_PORT),
                relay: setup.relay.clone(),
                journal: journal.clone(),
            };
            let server = setup.server.clone();
            builder
                .init(move || {
                    let (fut, ctx) = (server.serve(ctx.clone()), ctx.clone());
                    async move {
                        if let Err(e) = fut.await {
                            ctx.fail(format!("server exited: {e}"));
                        }
                    }
                })
                .build()
        };
        nodes.insert(name.clone(), node);
    }

    let mails = setup.arrivals.len();
    let mut crashed: Vec<String> = Vec::new();
    let (mut next_fault, mut steps, mut quiescent) = (0, 0u64, false);
    loop {
        let now = engine::now();
        while next_fault < setup.faults.len() && setup.faults[next_fault].0 <= now {
            inject(&handle, &net, &nodes, &setup.faults[next_fault].1, &mut crashed, &controls, now);
            next_fault += 1;
        }
        for p in panics.take() {
            journal.fail(p);
        }
        let failures = journal.failures();
        if !failures.is_empty() {
            return Err(HarnessError::Run(failures.join("; ")));
        }
        if next_fault == setup.faults.len() && crashed.is_empty() && journal.quiescent(mails) {
            quiescent = true;
            break;
        }
        if now >= setup.duration {
            break;
        }
        let mut wake = (now + Duration::from_secs(1)).min(setup.duration);
        if let Some((t, _)) = setup.faults.get(next_fault) {
            wake = wake.min(*t);
        }
        engine::sleep(wake.saturating_sub(now).max(Duration::from_micros(1))).await;
        steps += 1;
    }
    let end = engine::now();
    let events = journal.events();
    Ok(Outcome { audit: audit(events.clone(), seed), end, quiescent, steps, events, notes: journal.notes(), sockets: journal.sockets() })
}

fn inject(
    handle: &Handle,
    net: &NetSim,
    nodes: &BTreeMap<String, NodeHandle>,
    fault: &Fault,
    crashed: &mut Vec<String>,
    controls: &Controls,
    now: Duration,
) {
    use std::sync::atomic::Ordering;
    let id = |h: &String| nodes[h].id();
    let cut = |a: &String, b: &String| {
        net.clog_link(id(a), id(b));
        net.clog_link(id(b), id(a));
    };
    match fault {
        Fault::Crash(h) => {
            if !crashed.contains(h) {
                crashed.push(h.clone());
                handle.kill(id(h));
            }
        }
        Fault::Restart(h) => {
            if let Some(i) = crashed.iter().position(|c| c == h) {
                crashed.remove(i);
                handle.restart(id(h));
            }
        }
        Fault::Partition(a, b) | Fault::Hold(a, b) => cut(a, b),
        Fault::Isolate(h) => {
            for other in nodes.keys().filter(|o| *o != h) {
                cut(h, other);
            }
        }
        Fault::Release(a, b) => {
            net.unclog_link(id(a), id(b));
            net.unclog_link(id(b), id(a));
        }
        Fault::Heal => {
            for a in nodes.keys() {
                for b in nodes.keys().filter(|b| *b != a) {
                    net.unclog_link(id(a), id(b));
                }
            }
        }
        Fault::StoreTempfail => controls.lock_broken.store(true, Ordering::Relaxed),
        Fault::StoreRecovers => controls.lock_broken.store(false, Ordering::Relaxed),
        Fault::StoreLockRestart => controls.start_grace_at(now),
        Fault::StoreHang(d) => controls.hang_until(now + *d),
        Fault::Latency(..) => unreachable!("refused before the run"),
    }
}
