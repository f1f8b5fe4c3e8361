//! Faults from scenario files: the supported kinds act (a fault that did
//! nothing would let a run pass unjudged), the unsupported ones are refused
//! with an error naming them, never ignored; and the run's own failures —
//! a task that panics — surface as errors. Plus determinism: one seed, one
//! run.

// turmoil semantics (power-fail on crash, held links); madsim has its own
// test (`tests/madsim.rs`).
#![cfg(not(madsim))]

use std::path::Path;
use std::time::Duration;

use mailsim_harness::journal::Transition;
use mailsim_harness::{run, scenario, Fault, HarnessError, MxContext, MxServer, ServeFuture, Setup};
use mailsim_models::ledger::{CUSTODY, EVENTUAL_DELIVERY};

fn file(faults: &str, extra: &str) -> String {
    format!(
        r#"
        [scenario]
        name = "harness-faults"
        summary = "a fault for the harness"
        [run]
        duration = "2h"
        [topology]
        mx = 2
        mailboxes = 4
        {extra}
        [workload]
        mails = 10
        window = "5m"
        profiles = {{ postfix = 1 }}
        {faults}
        "#
    )
}

fn load(text: &str) -> Result<Setup, HarnessError> {
    scenario::from_toml(text, Path::new("test.toml"), 1)
}

fn refused(text: &str, naming: &str) {
    match load(text) {
        Err(e @ HarnessError::Unsupported { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(naming), "the error names `{naming}`: {msg}");
            assert!(msg.contains(scenario::SUPPORTED), "the error lists what is supported: {msg}");
        }
        Err(e) => panic!("expected Unsupported naming `{naming}`, got: {e}"),
        Ok(_) => panic!("`{naming}` must be refused, not ignored"),
    }
}

#[test]
fn storage_faults_are_refused_by_name() {
    refused(&file("[[faults]]\nat = \"1m\"\nkind = \"disk-failure\"\ntarget = \"group-1\"", ""), "disk-failure");
    refused(&file("[[faults]]\nat = \"1m\"\nkind = \"degrade\"\ntarget = \"filer\"\nspeed = \"10%\"", ""), "degrade");
}

#[test]
fn random_faults_and_recovery_steps_are_refused() {
    refused(&file("[[random_faults]]\nkind = \"crash\"\nmean_interval = \"1h\"", ""), "random_faults");
    refused(&file("[[recovery]]\nname = \"fix\"\naction = \"rollback-upgrade\"\ntarget = \"filer\"\nat = \"1h\"", ""), "recovery");
}

#[test]
fn a_supported_file_loads_with_its_faults_in_order() {
    let s = load(&file(
        "[[faults]]\nat = \"2m\"\nkind = \"crash\"\ntarget = \"mx-1\"\n[[faults]]\nat = \"1m\"\nkind = \"partition\"\ntarget = \"mx-2\"\npeer = \"filer\"\n[[faults]]\nat = \"9m\"\nkind = \"heal\"",
        "",
    ))
    .expect("supported");
    let times: Vec<u64> = s.faults.iter().map(|(t, _)| t.as_secs()).collect();
    assert_eq!(times, vec![60, 120, 540]);
    assert_eq!(s.arrivals.len(), 10);
}

/// A broken lock with no fix in the plan: every delivery tempfails, so no
/// mail arrives, and the ledger says so.
#[test]
fn lock_broken_stops_every_delivery() {
    let s = load(&file("[[faults]]\nat = \"0s\"\nkind = \"lock-broken\"\ntarget = \"filer\"", "")).expect("supported");
    let a = run(&s, 1).expect("the run completes").audit;
    assert_eq!(a.world.counts.delivered, 0);
    assert_eq!(a.world.counts.accepted, 10);
    assert_eq!(a.held(EVENTUAL_DELIVERY), Some(false));
    assert_eq!(a.held(CUSTODY.name), Some(true));
}

/// A 10 s latency between both MX hosts and the store, from a scenario
/// file: every delivery's seven or so round trips take minutes, so even the
/// fastest mail is late; the same file without the fault delivers in
/// seconds.
#[test]
fn latency_from_a_scenario_slows_every_delivery() {
    let slow = |mx: &str| format!("[[faults]]\nat = \"0s\"\nkind = \"latency\"\ntarget = \"{mx}\"\npeer = \"filer\"\nlatency = \"10s\"\n");
    let heal = "[[faults]]\nat = \"90m\"\nkind = \"heal\"\n";
    let s = load(&file(&format!("{}{}{heal}", slow("mx-1"), slow("mx-2")), "")).expect("supported");
    assert!(s
        .faults
        .iter()
        .any(|(_, f)| matches!(f, Fault::Latency(a, b, d) if a == "mx-1" && b == "filer" && *d == Duration::from_secs(10))));
    let out = run(&s, 1).expect("the run completes");
    assert!(out.audit.passed(), "{:?}", out.audit.violations());
    assert_eq!(out.audit.world.counts.delivered, 10);
    assert!(out.audit.delay_s(0.0) >= 100, "the fastest delivery took {} s", out.audit.delay_s(0.0));
    let clean = run(&load(&file(heal, "")).expect("supported"), 1).expect("the run completes");
    assert!(clean.audit.delay_s(100.0) < 30, "without the fault the slowest took {} s", clean.audit.delay_s(100.0));
}

/// A 30-minute hang of the file server: nothing is lost, and mail written
/// before it ends waits for it.
#[test]
fn a_hung_store_delays_mail_until_it_answers() {
    let s = load(&file("[[faults]]\nat = \"0s\"\nkind = \"hang\"\ntarget = \"filer\"\nfor = \"30m\"", "")).expect("supported");
    let out = run(&s, 1).expect("the run completes");
    let a = &out.audit;
    assert!(a.passed(), "{:?}", a.violations());
    assert!(a.delay_s(0.0) >= 20 * 60, "the fastest mail waited for the hang: {} s", a.delay_s(0.0));
}

/// Isolating the only MX keeps senders out: they retry and get through
/// after the heal.
#[test]
fn isolating_the_only_mx_makes_senders_retry() {
    let text = file("[[faults]]\nat = \"0s\"\nkind = \"isolate\"\ntarget = \"mx-1\"\n[[faults]]\nat = \"20m\"\nkind = \"heal\"", "")
        .replace("mx = 2", "mx = 1");
    let out = run(&load(&text).expect("supported"), 1).expect("the run completes");
    assert!(out.audit.passed(), "{:?}", out.audit.violations());
    let acks = out.events.iter().filter(|e| e.what == Transition::Acknowledged);
    assert!(acks.clone().all(|e| e.at >= Duration::from_secs(20 * 60)), "no 250 before the heal");
    assert_eq!(acks.count(), 10);
}

/// A server whose session task panics: the run fails, naming the panic,
/// instead of the engine swallowing it.
struct Panicky;

impl MxServer for Panicky {
    fn serve(&self, ctx: MxContext) -> ServeFuture {
        Box::pin(async move {
            let listener = mailsim_harness::engine::bind(ctx.port).await?;
            loop {
                let (_stream, _) = listener.accept().await?;
                ctx.spawn("panicky session", async { panic!("planted panic in a session") });
            }
        })
    }
}

#[test]
fn a_task_panic_fails_the_run() {
    let setup = Setup::new(1, 2, 2, Duration::from_secs(10), Duration::from_secs(600), 1).server(Panicky);
    match run(&setup, 1) {
        Err(HarnessError::Run(why)) => assert!(why.contains("planted panic"), "{why}"),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(_) => panic!("a panicking server must fail the run"),
    }
}

/// A server that starts its sessions with a bare `tokio::spawn`, outside
/// the harness's `MxContext::spawn`: tokio catches the task's panic and
/// drops it with the task, so only the harness's panic hook can see it.
struct BareSpawnPanicky;

impl MxServer for BareSpawnPanicky {
    fn serve(&self, ctx: MxContext) -> ServeFuture {
        Box::pin(async move {
            let listener = mailsim_harness::engine::bind(ctx.port).await?;
            loop {
                let (_stream, _) = listener.accept().await?;
                drop(tokio::spawn(async { panic!("planted panic in a bare tokio task") }));
            }
        })
    }
}

#[test]
fn a_panic_in_a_bare_tokio_task_fails_the_run() {
    let setup = Setup::new(1, 2, 2, Duration::from_secs(10), Duration::from_secs(600), 1).server(BareSpawnPanicky);
    match run(&setup, 1) {
        Err(HarnessError::Run(why)) => assert!(why.contains("planted panic in a bare tokio task"), "{why}"),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(o) => panic!("a panic the runtime swallowed must still fail the run (ended at {:?})", o.end),
    }
}

/// Both MX hosts dead (crashed: a turmoil host that is down never answers)
/// for two days while 300 mails keep retrying on Postfix's schedule, on
/// turmoil's default 16,384 ephemeral ports per host. Every attempt tries
/// both MX, and every attempt to a dead one is a connect given up after
/// 30 s, which turmoil leaks.
fn long_mx_outage(naive_connects: bool) -> Result<mailsim_harness::Outcome, HarnessError> {
    let min = |m: u64| Duration::from_secs(60 * m);
    let two_days = Duration::from_secs(2 * 86_400);
    let mut setup = Setup::new(2, 20, 300, min(60), Duration::from_secs(4 * 86_400), 3)
        .fault(min(10), Fault::Crash("mx-1".into()))
        .fault(min(10), Fault::Crash("mx-2".into()))
        .fault(two_days, Fault::Restart("mx-1".into()))
        .fault(two_days, Fault::Restart("mx-2".into()));
    // A day of outage costs 86,400 ticks of 1 s: an SMTP exchange then
    // takes seconds, against retry intervals of 300-4000 s.
    setup.tick = Duration::from_secs(1);
    setup.ephemeral_ports = 49152..=65535;
    setup.naive_connects = naive_connects;
    run(&setup, 3)
}

/// The outage is long enough that one socket per attempt would exhaust
/// the senders' ports (the attempts are counted), yet the connector keeps
/// the senders' host alive: every mail is delivered after the restart.
#[test]
fn a_two_day_mx_outage_does_not_exhaust_the_senders_ports() {
    let out = long_mx_outage(false).unwrap_or_else(|e| panic!("the run must survive the outage: {e}"));
    assert!(out.audit.passed(), "{:?}", out.audit.violations());
    assert_eq!(out.audit.world.counts.delivered, 300);
    let attempts = out.notes.iter().filter(|n| &*n.host == "internet" && n.text.starts_with("to mx-")).count();
    assert!(attempts > 16_384, "a socket per attempt would exhaust turmoil's ports: {attempts} attempts");
    let sockets = out.sockets.get("internet").copied().unwrap_or(0);
    // One probe per 30 s per dead MX, plus the attempts that found the MX
    // believed up: far below the 16,384 ports.
    assert!(sockets < 2 * 2 * 86_400 / 30 + 1_000, "{sockets} sockets for {attempts} attempts");
    eprintln!("two-day outage: {attempts} connect attempts, {sockets} sockets");
}

/// Its planted twin: a naive client (a socket per attempt) runs the
/// senders' host out of ports; turmoil panics inside a sender task, and the
/// run fails naming it — the host is not lost silently.
#[test]
fn a_naive_client_runs_out_of_ports_and_the_run_says_so() {
    match long_mx_outage(true) {
        Err(HarnessError::Run(why)) => assert!(why.contains("ports exhausted"), "{why}"),
        Err(e) => panic!("unexpected error: {e}"),
        Ok(o) => panic!("16,384 ports cannot carry a socket per attempt (sockets: {:?})", o.sockets),
    }
}

#[test]
fn one_seed_gives_one_run_and_another_seed_another() {
    let s = |seed| Setup::new(2, 4, 10, Duration::from_secs(60), Duration::from_secs(3600), seed);
    let a = run(&s(5), 5).expect("runs").events;
    let b = run(&s(5), 5).expect("runs").events;
    let c = run(&s(6), 6).expect("runs").events;
    assert_eq!(a, b);
    assert_ne!(a, c);
}
