//! The models benchmark: a whole mail service through an OpenSRS-like
//! storage outage, at the size the design promises to simulate in under 2 s.
//!
//! The service: a cluster of 4 mail nodes behind one MX record (four
//! unclustered MTAs with durable queues), a filer with 100,000 mailboxes
//! spread randomly over 6 volumes on 2 shelves (the default storage), the
//! internet's senders writing 1,000,000 mails over 5 simulated days on the
//! default diurnal curve, and the operators. The outage is OpenSRS Cluster A,
//! August 2008 (OpenSRS blog, "Update On Cluster A Email Service Issues",
//! August 2008,
//! <http://www.opensrs.com/blog/2008/08/update-on-cluster-a-email-service-issues/>):
//! a latent path fault on shelf a (present
//! before the run, as the "hardware issue affecting storage redundancy" was
//! a week before), then at day 1 a controller of shelf a fails and its three
//! volumes — about half the mailboxes — go offline; inbound mail for them
//! queues at the MTAs. The recovery plan replaces the hardware 8 hours later
//! and rebuilds the three groups one after another (~12 h each), after
//! which the queued mail is delivered (by about day 3). The fault phase ends
//! at day 4, eventual delivery must hold by day 5, and the run ends 6 hours
//! after the workload.
//!
//! Printed: events, the trace hash, wall time, events/s, peak heap (a counting global
//! allocator, as in `sim/benches/reference.rs`), the per-mailbox state
//! (peak heap of the same run with no mail), bytes per in-flight mail ((peak
//! heap − per-mailbox state) / peak mails in flight, where in flight means
//! accepted and not yet delivered, or still held by a sender; the ledger
//! notes the peak as it rises, at no cost per event), the ratio
//! against the 2 s target, and the outcome and counts (everything
//! delivered, nothing lost).
//!
//! Run with `cargo bench -p mailsim-models --bench cluster`. Environment:
//! `CLUSTER_MAILS=1000000` (mails), `CLUSTER_MAILBOXES=100000`,
//! `CLUSTER_REPS=1` (best of), `CLUSTER_ONLY=main` (skip the no-mail
//! baseline, e.g. under a profiler), `CLUSTER_TEMP_STORES=1` (the OpenSRS
//! mitigation: temporary stores from the outage on, merged back after the
//! rebuild), `CLUSTER_NO_OUTAGE=1` (no faults and no plan: what the outage
//! costs).

use std::time::Duration;

use mailsim_models::ledger::Counts;
use mailsim_models::ops::Trigger;
use mailsim_models::senders::Workload;
use mailsim_models::topology::{FaultAt, FaultKind, FaultSpec, StepSpec, Topology, TopologyOptions};
use mailsim_models::Action;
use mailsim_sim::{Dur, Outcome, RunReport, Time};

#[path = "../../sim/benches/heap.rs"]
mod heap;
use heap::measure;

// ---------------------------------------------------------------------------
// The service and its outage.

const SEED: u64 = 2008;
const TARGET: Duration = Duration::from_secs(2);
const DAY: Dur = Dur::days(1);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok()).unwrap_or(default)
}

fn step(name: &str, action: Action, trigger: Trigger) -> StepSpec {
    StepSpec::new(name, "filer", action, trigger)
}

/// Variations of the service, from the environment.
#[derive(Clone, Copy)]
struct Options {
    temp_stores: bool,
    outage: bool,
}

fn topology(mails: u64, mailboxes: u32, o: Options) -> Topology {
    let mut t = Topology::new(TopologyOptions { seed: SEED, mx: 4, mailboxes, mails });
    t.workload = Workload::total(mails, Dur::days(5), mailboxes);
    // The faults and the recovery are over by day 3; mail written before day
    // 4 must be settled by day 5, and the run ends 6 hours after the last
    // day of mail (the workload may spill a little past its window).
    t.fault_phase = Some(Dur::days(4));
    t.liveness_window = Dur::days(1);
    t.duration = Dur::days(5) + Dur::hours(6);
    if !o.outage {
        return t;
    }
    t.faults.push(FaultSpec { at: FaultAt::BeforeStart, kind: FaultKind::PathFault, target: "shelf-a".into() });
    t.faults.push(FaultSpec { at: DAY.into(), kind: FaultKind::ControllerFailure, target: "shelf-a/controller-b".into() });
    let at = |d: Dur| Trigger::At(Time::ZERO + d);
    t.plan.push(step("replace hardware", Action::ReplaceHardware, at(DAY + Dur::hours(8))));
    t.plan.push(step("rebuild", Action::StartRebuild { parallel: false, order: Default::default() }, Trigger::After(0, Dur::mins(10))));
    if o.temp_stores {
        t.plan.push(step("temp stores", Action::EnableTempStores, at(DAY + Dur::mins(30))));
        t.plan.push(step("merge back", Action::MergeBack, Trigger::After(1, Dur::mins(10))));
    }
    t
}

/// What one run reports.
struct Run {
    report: RunReport,
    counts: Counts,
    all_delivered: Result<(), String>,
    /// Peak of mails accepted and not delivered, plus mails held by senders.
    in_flight_max: u64,
    in_flight_max_at: Time,
    /// When the last mail reached its mailbox.
    last_delivery: Time,
    wall: Duration,
    heap: usize,
}

fn run(mails: u64, mailboxes: u32, o: Options) -> Run {
    let t = topology(mails, mailboxes, o);
    let ((report, counts, all_delivered, last_delivery, (in_flight_max, in_flight_max_at)), wall, heap) = measure(|| {
        let mut sim = t.build();
        let report = sim.run();
        let w = sim.world();
        // The ledger notes the peak in flight at the transitions that raise
        // it: no check per event.
        (report, w.counts.clone(), w.all_delivered(), w.last_delivery, w.in_flight_peak())
    });
    Run { report, counts, all_delivered, in_flight_max, in_flight_max_at, last_delivery, wall, heap }
}

fn best(mails: u64, mailboxes: u32, o: Options, reps: u64) -> Run {
    let mut best: Option<Run> = None;
    for _ in 0..reps.max(1) {
        let r = run(mails, mailboxes, o);
        if let Some(b) = &best {
            assert_eq!(b.report.trace_hash, r.report.trace_hash, "the same seed must give the same run");
        }
        if best.as_ref().is_none_or(|b| r.wall < b.wall) {
            best = Some(r);
        }
    }
    best.expect("at least one repetition")
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let mails = env_u64("CLUSTER_MAILS", 1_000_000);
    let mailboxes = env_u64("CLUSTER_MAILBOXES", 100_000) as u32;
    let reps = env_u64("CLUSTER_REPS", 1);
    let o = Options { temp_stores: env_u64("CLUSTER_TEMP_STORES", 0) != 0, outage: env_u64("CLUSTER_NO_OUTAGE", 0) == 0 };
    let only_main = std::env::var("CLUSTER_ONLY").is_ok_and(|v| v == "main");

    let outage = match (o.outage, o.temp_stores) {
        (false, _) => "no outage",
        (true, false) => {
            "OpenSRS-like outage at day 1 (latent path fault + shelf controller), hardware replaced at +8 h, sequential rebuild"
        }
        (true, true) => {
            "OpenSRS-like outage at day 1 (latent path fault + shelf controller), temp stores, hardware replaced at +8 h, \
             sequential rebuild, merge-back"
        }
    };
    println!("models benchmark: 4 MX nodes, {mailboxes} mailboxes on 6 volumes, {mails} mails over 5 days; {outage}; best of {reps}");

    let baseline = if only_main { None } else { Some(best(0, mailboxes, o, 1)) };
    let r = best(mails, mailboxes, o, reps);

    let secs = r.wall.as_secs_f64();
    let rate = r.report.events as f64 / secs;
    println!("outcome        {}", r.report.outcome);
    let c = &r.counts;
    println!(
        "counts         submitted {} accepted {} delivered {} returned {} sender-bounced {} lost {} duplicates {}",
        c.submitted, c.accepted, c.delivered, c.returned, c.sender_bounced, c.lost, c.duplicate_deliveries
    );
    println!(
        "               all delivered: {}; last delivery at {}; run ended at {}",
        match &r.all_delivered {
            Ok(()) => "yes".to_string(),
            Err(e) => format!("NO ({e})"),
        },
        r.last_delivery,
        r.report.end
    );
    let faults: Vec<String> = r.report.faults.iter().map(|f| format!("{} (effect {})", f.description, f.effect)).collect();
    println!("faults         {}", faults.join("; "));
    println!("events         {}", r.report.events);
    println!("trace hash     {:016x}", r.report.trace_hash);
    println!("wall           {:.3} s", secs);
    println!("events/s       {:.2} M", rate / 1e6);
    println!("peak heap      {:.1} MiB", mib(r.heap));
    println!("in flight max  {} mails at {}", r.in_flight_max, r.in_flight_max_at);
    if let Some(b) = &baseline {
        let per_mailbox = b.heap as f64 / mailboxes as f64;
        println!(
            "no-mail run    peak heap {:.1} MiB = {:.0} B per mailbox ({} events, {:.3} s)",
            mib(b.heap),
            per_mailbox,
            b.report.events,
            b.wall.as_secs_f64()
        );
        let mail_heap = r.heap.saturating_sub(b.heap);
        if r.in_flight_max > 0 {
            println!(
                "per mail       {:.0} B per in-flight mail ((peak heap − per-mailbox state) / peak in flight); {:.0} B per mail written",
                mail_heap as f64 / r.in_flight_max as f64,
                mail_heap as f64 / c.submitted.max(1) as f64
            );
        }
    }
    let ratio = secs / TARGET.as_secs_f64();
    let verdict = if r.wall <= TARGET { "meets" } else { "MISSES" };
    println!("target         {:.2}× the 2 s target ({verdict} it)", ratio);

    let clean = matches!(r.report.outcome, Outcome::Ok) && c.lost == 0 && c.duplicate_deliveries == 0 && r.all_delivered.is_ok();
    assert!(clean, "the benchmark's service must deliver everything and lose nothing");
}
