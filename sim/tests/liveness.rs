//! The liveness phase (TigerBeetle's VOPR liveness mode): after the fault
//! phase the kernel heals the network and restarts crashed nodes, waits for
//! the recovery condition, and then every *eventually* property must hold
//! before a deadline counted from recovery. *Sometimes* properties must hold
//! at least once in the run.
//!
//! Each test here has a twin that must fail: a system that is healed converges,
//! one that is not (or that restarts into a node that never answers) is a
//! liveness violation naming the property.

mod common;

use std::cell::Cell;

use common::*;
use mailsim_sim::*;

const DELIVERED: &str = "delivered";

/// A sender retrying a ping every 100 ms to a receiver that is down from the
/// start of the run; the fault phase ends at 2 s, the liveness window is 10 s.
/// `restart_mute` makes every restart of the receiver build a node that never
/// answers.
fn retry_system(seed: u64, heal: bool, restart_mute: bool) -> (Sim<Msg, World>, NodeId) {
    let mut cfg = Config::new(seed);
    cfg.fault_phase_end = Some(Time::from_secs(2));
    cfg.liveness_window = Dur::secs(10);
    cfg.heal_for_liveness = heal;
    let mut sim = Sim::new(cfg, World::default());
    let receiver = NodeId(1);
    sim.add_node("sender", NodeConfig::default(), (), move |_| Sender::new(receiver, Dur::millis(100)));
    let builds = Cell::new(0u32);
    let id = sim.add_node("receiver", NodeConfig::default(), (), move |_| {
        builds.set(builds.get() + 1);
        Receiver { mute: restart_mute && builds.get() > 1 }
    });
    assert_eq!(id, receiver);
    sim.schedule(Time::ZERO, Fault::Crash(receiver));
    sim.eventually(DELIVERED, |o| match o.world.flags.get(DELIVERED) {
        Some(_) => Ok(()),
        None => Err("no pong reached the sender".to_string()),
    });
    (sim, receiver)
}

#[test]
fn liveness_phase_restarts_the_crashed_receiver_and_delivery_follows() {
    for seed in 0..10 {
        let (mut sim, receiver) = retry_system(seed, true, false);
        let report = sim.run();
        assert!(report.outcome.is_ok(), "seed {seed}: {}", report.outcome);
        let delivered = sim.world().flags[DELIVERED];
        assert!(delivered > Time::from_secs(2), "seed {seed}: delivered at {delivered}, during the fault phase");
        assert!(delivered < Time::from_secs(3), "seed {seed}: delivered only at {delivered}");
        assert!(!sim.world().refused.is_empty(), "seed {seed}: the down receiver refused pings");
        assert!(sim.world().received_by(receiver).all(|d| d.at > Time::from_secs(2)));
        assert_eq!(report.end, delivered, "end_when_live stops the run once every eventually property held");
        assert_eq!(statuses(&report), vec![(DELIVERED.to_string(), PropertyKind::Eventually, "held".to_string())]);
        let crash = &report.faults[0];
        assert_eq!(crash.ended, Some(Time::from_secs(2)), "the liveness phase ends the crash");
    }
}

#[test]
fn without_healing_the_receiver_stays_down_and_liveness_fails() {
    let (mut sim, _) = retry_system(1, false, false);
    let report = sim.run();
    let Outcome::LivenessViolation(v) = &report.outcome else { panic!("expected a liveness violation, got {}", report.outcome) };
    assert_eq!(v.property, DELIVERED);
    assert_eq!(v.kind, PropertyKind::Eventually);
    assert_eq!(v.time, Time::from_secs(12), "fault phase end (2 s) plus the liveness window (10 s)");
    assert!(v.detail.contains("no pong reached the sender"), "{v}");
    assert!(sim.world().flags.is_empty());
    assert_eq!(report.property(DELIVERED).map(|p| p.status.violated()), Some(true), "{:?}", report.properties);
}

#[test]
fn a_receiver_that_restarts_mute_fails_liveness() {
    let (mut sim, receiver) = retry_system(2, true, true);
    let report = sim.run();
    let Outcome::LivenessViolation(v) = &report.outcome else { panic!("expected a liveness violation, got {}", report.outcome) };
    assert_eq!(v.property, DELIVERED);
    assert_eq!(v.time, Time::from_secs(12));
    // The restart happened and pings arrived: it is the node that never answers.
    assert!(sim.world().received_by(receiver).count() > 50);
}

/// A sender and a receiver without any fault phase, with a *sometimes*
/// property that a ping was refused.
fn sometimes_system(crash: bool) -> Sim<Msg, World> {
    let mut sim = Sim::new(Config::new(3), World::default());
    let receiver = NodeId(1);
    sim.add_node("sender", NodeConfig::default(), (), move |_| Sender::new(receiver, Dur::millis(100)));
    sim.add_node("receiver", NodeConfig::default(), (), |_| Receiver { mute: false });
    if crash {
        sim.schedule(Time::ZERO, Fault::Crash(receiver));
        sim.schedule(ms(500), Fault::Restart(receiver));
    }
    sim.sometimes("a ping was refused", |o| if o.world.refused.is_empty() { Err("none yet".to_string()) } else { Ok(()) });
    sim
}

#[test]
fn sometimes_fails_when_its_state_is_never_reached() {
    let report = sometimes_system(false).run();
    let Outcome::LivenessViolation(v) = &report.outcome else { panic!("expected a liveness violation, got {}", report.outcome) };
    assert_eq!(v.property, "a ping was refused");
    assert_eq!(v.kind, PropertyKind::Sometimes);
    assert_eq!(report.property("a ping was refused").map(|p| p.status.violated()), Some(true));
}

#[test]
fn sometimes_passes_when_its_state_is_reached() {
    let mut sim = sometimes_system(true);
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert!(!sim.world().refused.is_empty());
    assert_eq!(statuses(&report), vec![("a ping was refused".to_string(), PropertyKind::Sometimes, "held".to_string())]);
}

#[test]
fn without_a_fault_phase_eventually_is_judged_at_the_end_of_the_run() {
    let run = |mute: bool| {
        let mut cfg = Config::new(4);
        // A mute receiver makes the sender retry forever: `end_at` ends the run.
        cfg.end_at = Some(Time::from_secs(1));
        let mut sim = Sim::new(cfg, World::default());
        let receiver = NodeId(1);
        sim.add_node("sender", NodeConfig::default(), (), move |_| Sender::new(receiver, Dur::millis(100)));
        sim.add_node("receiver", NodeConfig::default(), (), move |_| Receiver { mute });
        sim.eventually(DELIVERED, |o| o.world.flags.get(DELIVERED).map(|_| ()).ok_or_else(|| "not yet".to_string()));
        sim.run()
    };
    let report = run(false);
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    let report = run(true);
    let Outcome::LivenessViolation(v) = &report.outcome else { panic!("expected a liveness violation, got {}", report.outcome) };
    assert_eq!(v.property, DELIVERED);
    assert_eq!(report.end, Time::from_secs(1));
    assert!(v.detail.contains("never held: not yet"), "{v}");
}

/// Raises world flags at fixed times: `(after, name)` pairs.
struct Milestones(Vec<(Dur, &'static str)>);

impl Node<Msg, World> for Milestones {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start => {
                for (i, (after, _)) in self.0.iter().enumerate() {
                    ctx.set_timer(*after, i as u64);
                }
            }
            Input::Timer { tag, .. } => {
                let now = ctx.now();
                ctx.world.flag(self.0[tag as usize].1, now);
            }
            _ => {}
        }
    }
}

/// Fault phase ends at 1 s; liveness window 5 s. "recovered" is raised at
/// `recovered_s` (and gates the liveness phase if `gated`), "converged" at
/// `converged_s`, and must eventually hold.
fn milestone_run(gated: bool, recovered_s: u64, converged_s: u64) -> RunReport {
    let mut cfg = Config::new(5);
    cfg.fault_phase_end = Some(Time::from_secs(1));
    cfg.liveness_window = Dur::secs(5);
    let mut sim = Sim::new(cfg, World::default());
    let plan = vec![(Dur::secs(recovered_s), "recovered"), (Dur::secs(converged_s), "converged")];
    sim.add_node("clock", NodeConfig::default(), (), move |_| Milestones(plan.clone()));
    let flag = |name: &'static str| move |o: &Observed<'_>| o.world.flags.get(name).map(|_| ()).ok_or_else(|| format!("not {name} yet"));
    if gated {
        sim.recovery_done(flag("recovered"));
    }
    sim.eventually("converged", flag("converged"));
    sim.run()
}

#[test]
fn liveness_deadline_counts_from_recovery() {
    // Converged at 8 s: after phase end + window (6 s), before recovery + window (9 s).
    let report = milestone_run(true, 4, 8);
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert_eq!(report.end, Time::from_secs(8));

    // Converged at 10 s: past recovery + window.
    let report = milestone_run(true, 4, 10);
    let Outcome::LivenessViolation(v) = &report.outcome else { panic!("expected a liveness violation, got {}", report.outcome) };
    assert_eq!(v.property, "converged");
    assert_eq!(v.time, Time::from_secs(9), "recovery (4 s) plus the window (5 s)");
    assert!(v.detail.contains("did not hold within"), "{v}");

    // Without the recovery gate, the deadline counts from the phase end.
    let report = milestone_run(false, 4, 8);
    let Outcome::LivenessViolation(v) = &report.outcome else { panic!("expected a liveness violation, got {}", report.outcome) };
    assert_eq!(v.time, Time::from_secs(6), "phase end (1 s) plus the window (5 s)");
}

#[test]
fn recovery_that_never_completes_is_a_liveness_violation() {
    let report = milestone_run(true, 7, 8);
    let Outcome::LivenessViolation(v) = &report.outcome else { panic!("expected a liveness violation, got {}", report.outcome) };
    assert_eq!(v.property, "recovery");
    assert_eq!(v.time, Time::from_secs(6), "phase end (1 s) plus the window (5 s)");
}

/// Each property's name, kind and verdict, as text.
fn statuses(report: &RunReport) -> Vec<(String, PropertyKind, String)> {
    report.properties.iter().map(|p| (p.name.clone(), p.kind, p.status.to_string())).collect()
}

/// A property true only before anything happened must not pass as
/// "eventually held": without a fault phase it is judged at the end (the
/// library's default used to accept it at time zero, and a run that never
/// delivered what it was sent reported ok).
#[test]
fn an_eventually_property_true_only_at_the_start_does_not_pass() {
    let mut cfg = Config::new(4);
    cfg.end_at = Some(Time::from_secs(1));
    let mut sim = Sim::new(cfg, World::default());
    let receiver = NodeId(1);
    sim.add_node("sender", NodeConfig::default(), (), move |_| Sender::new(receiver, Dur::millis(100)));
    sim.add_node("receiver", NodeConfig::default(), (), move |_| Receiver { mute: true });
    sim.eventually("nothing sent yet", |o| if o.world.received_by(NodeId(1)).count() == 0 { Ok(()) } else { Err("pings sent".into()) });
    let report = sim.run();
    let Outcome::LivenessViolation(v) = &report.outcome else { panic!("expected a liveness violation, got {}", report.outcome) };
    assert_eq!(v.property, "nothing sent yet");
    assert_eq!(v.time, Time::from_secs(1), "judged at the end of the run");
}

#[test]
fn the_recovery_gate_is_listed_with_its_verdict() {
    let report = milestone_run(true, 4, 8);
    assert_eq!(report.recovered, Some(Time::from_secs(4)));
    assert_eq!(report.property("recovery").map(|p| p.status.held()), Some(true), "{:?}", report.properties);
    let report = milestone_run(true, 7, 8);
    let recovery = report.property("recovery").expect("listed");
    assert!(recovery.status.violated(), "{:?}", recovery.status);
    assert!(recovery.status.to_string().contains("not recovered yet"), "the reason is the gate's own: {}", recovery.status);
    // Nothing could be judged after a recovery that never came.
    let converged = report.property("converged").expect("listed");
    assert!(matches!(converged.status, PropertyStatus::NotEvaluated { .. }), "{:?}", converged.status);
}

/// A run that goes on after its first violation still reports every
/// eventually property, and names the recovery failure first.
#[test]
fn a_run_that_goes_on_after_a_failed_recovery_reaches_its_end() {
    let mut cfg = Config::new(5);
    cfg.fault_phase_end = Some(Time::from_secs(1));
    cfg.liveness_window = Dur::secs(5);
    cfg.end_at = Some(Time::from_secs(20));
    cfg.stop_on_violation = false;
    let mut sim = Sim::new(cfg, World::default());
    let plan = vec![(Dur::secs(7), "recovered"), (Dur::secs(8), "converged")];
    sim.add_node("clock", NodeConfig::default(), (), move |_| Milestones(plan.clone()));
    let flag = |name: &'static str| move |o: &Observed<'_>| o.world.flags.get(name).map(|_| ()).ok_or_else(|| format!("not {name} yet"));
    sim.recovery_done(flag("recovered"));
    sim.eventually("converged", flag("converged"));
    let report = sim.run();
    let Outcome::LivenessViolation(v) = &report.outcome else { panic!("expected a liveness violation, got {}", report.outcome) };
    assert_eq!(v.property, "recovery");
    assert_eq!(v.time, Time::from_secs(6), "phase end (1 s) plus the window (5 s)");
    assert_eq!(report.end, Time::from_secs(8), "the run went on past the deadline to its last event");
    assert_eq!(report.violations.len(), 1);
}
