//! A node's local device failing (`local-device-failure`: an MX node's queue
//! disk) on a whole service: the services that need it stop on that node; a
//! cluster fences the node and fails them over to a member that can run
//! them, so mail keeps flowing; without one, the service is down until the
//! device is replaced, and senders see it.

use mailsim_models::availability::Service;
use mailsim_models::cluster::FenceDeviceConfig;
use mailsim_models::host::ClusterNode;
use mailsim_models::mta::MtaNode;
use mailsim_models::ops::Trigger;
use mailsim_models::topology::{ClusterSpec, FaultKind, FaultSpec, FenceLevel, StepSpec, Topology, TopologyOptions};
use mailsim_models::{Action, LocalDevice, Msg, World};
use mailsim_sim::{Dur, RunReport, Sim, Time};

fn at(h: u64) -> Time {
    Time::from_hours(h)
}

/// `mx` MX nodes (clustered or not), 5,000 mails over the first day; mx-1's
/// queue device fails at T+2h.
fn service(mx: u32, clustered: bool) -> Topology {
    let mut t = Topology::new(TopologyOptions { seed: 9, mx, mailboxes: 100, mails: 5_000 });
    t.duration = Dur::days(3);
    t.fault_phase = Some(Dur::hours(12));
    if clustered {
        t.cluster =
            Some(ClusterSpec { fence_levels: vec![FenceLevel::new("ipmi", FenceDeviceConfig::default())], ..ClusterSpec::default() });
    }
    let kind = FaultKind::LocalDeviceFailure { device: LocalDevice::Queue };
    t.faults.push(FaultSpec { at: at(2).into(), kind, target: "mx-1".into() });
    t
}

fn run(t: Topology) -> (Sim<Msg, World>, RunReport) {
    let mut sim = t.build();
    let report = sim.run();
    (sim, report)
}

/// SMTP attempts that succeeded in hour `h` of the run.
fn smtp_ok(sim: &Sim<Msg, World>, h: usize) -> u64 {
    sim.world().stats.availability.attempts(Service::Smtp).nth(h).map_or(0, |(_, ok, _)| ok)
}

#[test]
fn a_failed_queue_device_on_the_active_node_fails_the_services_over_and_mail_keeps_flowing() {
    let mut t = service(2, true);
    // mx-1 is fenced (powered off); the operators power it on and replace
    // the device, so the mail it had queued is delivered too.
    t.plan.push(StepSpec::new("power-on", "ops", Action::PowerOn { node: t.node("mx-1").expect("mx-1") }, Trigger::At(at(4))));
    t.plan.push(StepSpec::new("replace", "mx-1", Action::ReplaceHardware, Trigger::At(at(5))));
    let (sim, report) = run(t);
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    let node = |name: &str| sim.node::<ClusterNode>(sim.node_id(name).expect("a node")).expect("up");
    let (mx1, mx2) = (node("mx-1"), node("mx-2"));
    assert!(mx2.agent.runs_services() && !mx1.agent.runs_services(), "the services moved to mx-2 and stay there");
    assert!(!mx1.agent.failed(), "the replaced device makes mx-1 eligible again");
    assert_eq!(mx2.agent.stats.failovers, 1);
    let started = mx2.agent.stats.started_at.expect("mx-2 started them");
    assert!(started > at(2) && started < at(2) + Dur::mins(5), "fenced, then failed over within minutes: {started}");
    assert!(mx2.agent.stats.fences_ok >= 1, "mx-1 ran the services, so it was fenced first");
    // Mail kept flowing in the hours mx-1's device was dead (the
    // workload's night is quiet, but no hour is empty).
    for h in 3..5 {
        assert!(smtp_ok(&sim, h) > 0, "hour {h}: no mail accepted");
    }
    let c = &sim.world().counts;
    assert_eq!((c.lost, c.duplicate_deliveries, c.delivered), (0, 0, c.accepted));
}

#[test]
fn without_a_standby_the_service_is_down_until_the_device_is_replaced_and_senders_see_it() {
    let mut t = service(1, false);
    t.plan.push(StepSpec::new("replace", "mx-1", Action::ReplaceHardware, Trigger::At(at(6))));
    let (sim, report) = run(t);
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert!(smtp_ok(&sim, 0) + smtp_ok(&sim, 1) > 0, "before the failure mail is accepted");
    for h in 2..6 {
        let (attempts, ok, _) = sim.world().stats.availability.attempts(Service::Smtp).nth(h).expect("a bucket");
        assert_eq!(ok, 0, "hour {h}: the only MX cannot queue mail");
        assert!(attempts > 0, "hour {h}: senders kept trying");
    }
    assert!(smtp_ok(&sim, 6) > 0, "accepted again once the device is replaced");
    let c = &sim.world().counts;
    assert_eq!((c.lost, c.duplicate_deliveries, c.delivered), (0, 0, c.accepted));
    let mx1 = sim.node::<MtaNode>(sim.node_id("mx-1").expect("mx-1")).expect("up");
    assert!(!mx1.mta.device_failed());
}

#[test]
fn a_device_never_replaced_leaves_its_queued_mail_undelivered_and_the_run_says_so() {
    // The clean twin of the test above without its repair: the service
    // never comes back, so eventual delivery cannot hold.
    let (_, report) = run(service(1, false));
    let outcome = report.outcome.to_string();
    assert!(outcome.contains("eventual"), "an MX whose queue device stays dead cannot pass: {outcome}");
}

#[test]
fn a_failed_device_on_the_standby_node_moves_nothing() {
    let mut t = service(2, true);
    t.faults[0].target = "mx-2".into();
    let (sim, report) = run(t);
    let node = |name: &str| sim.node::<ClusterNode>(sim.node_id(name).expect("a node")).expect("up");
    assert!(node("mx-1").agent.runs_services(), "the services stay on mx-1");
    assert_eq!((node("mx-1").agent.stats.failovers, node("mx-1").agent.stats.fence_requests), (0, 0));
    assert!(node("mx-2").agent.failed(), "mx-2 is no candidate until its device is replaced");
    assert_eq!(sim.world().counts.lost, 0);
    assert!(report.outcome.is_ok(), "{}", report.outcome);
}
