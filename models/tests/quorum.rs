//! Quorum, witnesses, the no-quorum policy and planned maintenance on a
//! whole clustered service (`cluster.rs`): Pacemaker's semantics, each
//! shown by what the partition that lost quorum does with its services.

use mailsim_models::cluster::{FenceDeviceConfig, NoQuorumPolicy};
use mailsim_models::host::ClusterNode;
use mailsim_models::ops::Trigger;
use mailsim_models::topology::{ClusterSpec, FaultKind, FaultSpec, FenceLevel, StepSpec, Topology, TopologyOptions};
use mailsim_models::{Action, FenceMode, Msg, World};
use mailsim_sim::{Dur, Sim, Time};

/// Two clustered MX nodes (services on mx-1) and `witnesses` vote-only
/// members; mx-1 is isolated at T+1h. Fencing reports failure, so the
/// majority can never take over: what mx-1 does is the policy's alone.
fn isolated(policy: NoQuorumPolicy, witnesses: u32, fence: FenceMode) -> Sim<Msg, World> {
    let mut t = Topology::new(TopologyOptions { seed: 3, mx: 2, mailboxes: 50, mails: 300 });
    t.duration = Dur::hours(3);
    let dev = FenceDeviceConfig { mode: fence, ..FenceDeviceConfig::default() };
    let mut c = ClusterSpec { fence_levels: vec![FenceLevel::new("ipmi", dev)], witnesses, ..ClusterSpec::default() };
    c.agent.no_quorum_policy = policy;
    t.cluster = Some(c);
    t.faults.push(FaultSpec { at: Time::from_hours(1).into(), kind: FaultKind::Isolate, target: "mx-1".into() });
    let mut sim = t.build();
    sim.run();
    sim
}

fn runs(sim: &Sim<Msg, World>, node: &str) -> bool {
    let id = sim.node_id(node).expect("a node");
    sim.node::<ClusterNode>(id).is_some_and(|n| n.agent.runs_services())
}

#[test]
fn with_stop_a_partition_that_loses_quorum_stops_the_services_it_runs() {
    let sim = isolated(NoQuorumPolicy::Stop, 1, FenceMode::ReportsFailure);
    assert!(!runs(&sim, "mx-1"), "mx-1 alone has 1 of 3 votes: it stops");
    assert!(!runs(&sim, "mx-2"), "the majority cannot fence mx-1, so it starts nothing");
    let id = sim.node_id("mx-1").expect("mx-1");
    assert!(!sim.node::<ClusterNode>(id).expect("up").agent.has_quorum());
}

#[test]
fn with_freeze_or_ignore_the_partition_keeps_running_what_it_runs() {
    for policy in [NoQuorumPolicy::Freeze, NoQuorumPolicy::Ignore] {
        let sim = isolated(policy, 1, FenceMode::ReportsFailure);
        assert!(runs(&sim, "mx-1"), "{policy:?}: mx-1 keeps the services");
        assert!(!runs(&sim, "mx-2"), "{policy:?}: one copy only");
    }
}

#[test]
fn without_a_witness_two_nodes_keep_quorum_each_and_nothing_stops() {
    let sim = isolated(NoQuorumPolicy::Stop, 0, FenceMode::ReportsFailure);
    assert!(runs(&sim, "mx-1"), "two votes in all: two_node, quorate alone");
}

#[test]
fn the_quorate_side_with_the_witness_fences_and_takes_over() {
    let sim = isolated(NoQuorumPolicy::Stop, 1, FenceMode::Works);
    assert!(runs(&sim, "mx-2"), "mx-2 and the witness have 2 of 3 votes: fence mx-1, fail over");
    assert!(!runs(&sim, "mx-1"));
    assert_eq!(sim.world().counts.lost, 0);
}

/// mx-1 (running the services) is put in standby at T+1h and taken out at
/// T+2h.
#[test]
fn standby_moves_the_services_without_fencing_and_unstandby_leaves_them() {
    let mut t = Topology::new(TopologyOptions { seed: 4, mx: 2, mailboxes: 50, mails: 500 });
    t.duration = Dur::days(1);
    t.fault_phase = Some(Dur::hours(6));
    t.cluster = Some(ClusterSpec { fence_levels: vec![FenceLevel::new("ipmi", FenceDeviceConfig::default())], ..ClusterSpec::default() });
    t.plan.push(StepSpec::new("maintenance", "mx-1", Action::Standby, Trigger::At(Time::from_hours(1))));
    t.plan.push(StepSpec::new("back", "mx-1", Action::Unstandby, Trigger::At(Time::from_hours(2))));
    let mut sim = t.build();
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert!(runs(&sim, "mx-2") && !runs(&sim, "mx-1"), "the services moved to mx-2 and stayed");
    let mx2 = sim.node::<ClusterNode>(sim.node_id("mx-2").expect("mx-2")).expect("up");
    let started = mx2.agent.stats.started_at.expect("mx-2 started them");
    assert!(started >= Time::from_hours(1) && started < Time::from_hours(1) + Dur::secs(10), "at once: {started}");
    for n in ["mx-1", "mx-2"] {
        let a = &sim.node::<ClusterNode>(sim.node_id(n).expect("node")).expect("up").agent;
        assert_eq!(a.stats.fence_requests, 0, "{n}: a planned stop needs no fencing");
    }
    let c = &sim.world().counts;
    assert_eq!((c.lost, c.delivered), (0, c.submitted), "{c:?}");
}
