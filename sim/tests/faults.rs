//! Faults and the network: what each generic fault does to messages, timers
//! and nodes, what the fault log reports, and how random fault processes and
//! swarm mode behave.
//!
//! Links here have a fixed 1 ms latency and the chatters send on a 10 ms
//! period, with faults placed between sends, so every expected delivery time
//! is exact. The tests under "Kernel bugs, pinned" are ignored until the
//! kernel is fixed; run them with `--include-ignored`.

mod common;

use std::cell::Cell;
use std::collections::BTreeSet;
use std::rc::Rc;

use common::*;
use mailsim_sim::*;

const A: NodeId = NodeId(0);
const B: NodeId = NodeId(1);
const NOTES: u64 = 30;

/// Two chatters, `a` and `b`, each sending notes 0..30 to the other at
/// `i * 10 ms`, over 1 ms links, with full traces.
fn chatter_pair(faults: Vec<(Time, Fault<Msg>)>) -> Sim<Msg, World> {
    let mut sim = Sim::new(Config { trace: TraceMode::Full, ..Config::new(1) }, World::default());
    sim.add_node("a", NodeConfig::default(), (), |_| Chatter::new(vec![B], Dur::millis(10), NOTES));
    sim.add_node("b", NodeConfig::default(), (), |_| Chatter::new(vec![A], Dur::millis(10), NOTES));
    sim.set_default_link(fixed_link(Dur::millis(1)));
    for (at, fault) in faults {
        sim.schedule(at, fault);
    }
    sim
}

/// The notes `to` received from `from`: (note number, arrival time).
fn notes(world: &World, from: NodeId, to: NodeId) -> Vec<(u64, Time)> {
    world
        .received_by(to)
        .filter(|d| d.from == from)
        .map(|d| match d.msg {
            Msg::Note(i) => (i, d.at),
            ref other => panic!("unexpected message {other:?}"),
        })
        .collect()
}

fn numbers(world: &World, from: NodeId, to: NodeId) -> Vec<u64> {
    notes(world, from, to).into_iter().map(|(i, _)| i).collect()
}

/// Note numbers 0..30 except those sent in [start, end) ms.
fn all_but(start_ms: u64, end_ms: u64) -> Vec<u64> {
    (0..NOTES).filter(|i| !(start_ms..end_ms).contains(&(i * 10))).collect()
}

fn drops_labelled(sim: &Sim<Msg, World>, word: &str) -> usize {
    sim.trace()
        .records()
        .enumerate()
        .filter(|(i, r)| r.kind == RecordKind::Drop && sim.trace().label(*i).is_some_and(|l| l.contains(word)))
        .count()
}

#[test]
fn two_way_partition_drops_both_directions_until_healed() {
    let mut sim = chatter_pair(vec![(ms(95), Fault::Partition(A, B)), (ms(195), Fault::Heal)]);
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert_eq!(numbers(sim.world(), A, B), all_but(95, 195));
    assert_eq!(numbers(sim.world(), B, A), all_but(95, 195));
    assert_eq!(drops_labelled(&sim, "cut"), 20);
    assert_eq!(report.faults[0].ended, Some(ms(195)), "heal ends the partition");
}

#[test]
fn one_way_partition_drops_only_the_cut_direction() {
    let mut sim = chatter_pair(vec![(ms(95), Fault::PartitionOneWay { from: A, to: B }), (ms(195), Fault::HealLink(B, A))]);
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert_eq!(numbers(sim.world(), A, B), all_but(95, 195));
    assert_eq!(numbers(sim.world(), B, A), all_but(0, 0), "the other direction is untouched");
    assert_eq!(drops_labelled(&sim, "cut"), 10);
    assert!(report.faults.iter().all(|f| f.effect));
    assert_eq!(report.faults[0].ended, Some(ms(195)), "healing the link, named either way round, ends the one-way partition");
}

#[test]
fn isolation_cuts_a_node_off_from_everyone() {
    let mut sim = chatter_pair(vec![(ms(95), Fault::Isolate(B)), (ms(195), Fault::Heal)]);
    sim.run();
    assert_eq!(numbers(sim.world(), A, B), all_but(95, 195));
    assert_eq!(numbers(sim.world(), B, A), all_but(95, 195));
}

#[test]
fn clog_holds_messages_and_unclog_releases_them() {
    let mut sim = chatter_pair(vec![(ms(95), Fault::Clog { from: A, to: B }), (ms(195), Fault::Unclog { from: A, to: B })]);
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    let held_then_released: Vec<(u64, Time)> =
        (0..NOTES).map(|i| (i, if (10..20).contains(&i) { ms(196) } else { ms(i * 10 + 1) })).collect();
    assert_eq!(notes(sim.world(), A, B), held_then_released, "held notes arrive one latency after the unclog, in order");
    let untouched: Vec<(u64, Time)> = (0..NOTES).map(|i| (i, ms(i * 10 + 1))).collect();
    assert_eq!(notes(sim.world(), B, A), untouched);
    assert_eq!(sim.trace().records().filter(|r| r.kind == RecordKind::Drop).count(), 0, "a clog loses nothing");
    assert_eq!(report.faults[0].ended, Some(ms(195)));
}

#[test]
fn heal_releases_clogged_messages_too() {
    let mut sim = chatter_pair(vec![(ms(95), Fault::Clog { from: A, to: B }), (ms(195), Fault::Heal)]);
    sim.run();
    assert_eq!(numbers(sim.world(), A, B), all_but(0, 0));
}

#[test]
fn total_loss_drops_every_message() {
    let mut sim = chatter_pair(vec![]);
    sim.set_default_link(LinkConfig { loss_ppm: 1_000_000, ..fixed_link(Dur::millis(1)) });
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert!(sim.world().received.is_empty());
    assert_eq!(drops_labelled(&sim, "lost"), 2 * NOTES as usize);
}

#[test]
fn half_loss_drops_about_half() {
    let mut sim = chatter_pair(vec![]);
    sim.set_default_link(LinkConfig { loss_ppm: 500_000, ..fixed_link(Dur::millis(1)) });
    sim.run();
    let got = sim.world().received.len();
    assert!((15..=45).contains(&got), "{got} of 60 arrived at 50% loss");
}

/// `a` sends notes 0..5 to `b`, which is down from the start with `down`.
fn to_a_down_node(down: DownMode) -> Sim<Msg, World> {
    let mut sim = Sim::new(Config { trace: TraceMode::Full, ..Config::new(1) }, World::default());
    sim.add_node("a", NodeConfig::default(), (), |_| Chatter::new(vec![B], Dur::millis(10), 5));
    sim.add_node("b", NodeConfig { down, ..NodeConfig::default() }, (), |_| Idle);
    sim.set_default_link(fixed_link(Dur::millis(1)));
    sim.schedule(Time::ZERO, Fault::Crash(B));
    sim
}

#[test]
fn a_down_node_that_refuses_answers_the_sender() {
    let mut sim = to_a_down_node(DownMode::Refuse);
    assert!(sim.run().outcome.is_ok());
    // One millisecond there, one back.
    let expected: Vec<(Time, NodeId, NodeId, Msg)> = (0..5).map(|i| (ms(i * 10 + 2), A, B, Msg::Note(i))).collect();
    assert_eq!(sim.world().refused, expected);
    assert!(sim.world().received.is_empty());
}

#[test]
fn a_down_node_that_is_silent_answers_nothing() {
    let mut sim = to_a_down_node(DownMode::Silent);
    assert!(sim.run().outcome.is_ok());
    assert!(sim.world().refused.is_empty());
    assert!(sim.world().received.is_empty());
    assert_eq!(drops_labelled(&sim, "no answer"), 5);
}

/// Sets one timer, tagged with the boot time in ms, 100 ms after every boot.
struct BootTimer;

impl Node<Msg, World> for BootTimer {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start => {
                let tag = ctx.now().as_micros() / 1_000;
                ctx.set_timer(Dur::millis(100), tag);
            }
            Input::Timer { tag, .. } => {
                let (now, me) = (ctx.now(), ctx.me());
                ctx.world.timers.push((now, me, tag));
            }
            _ => {}
        }
    }
}

#[test]
fn timers_of_a_crashed_node_never_fire_after_restart() {
    let run = |crash: bool| {
        let mut sim = Sim::new(Config::new(1), World::default());
        let n = sim.add_node("n", NodeConfig::default(), (), |_| BootTimer);
        if crash {
            sim.schedule(ms(50), Fault::Crash(n));
            sim.schedule(ms(60), Fault::Restart(n));
        }
        assert!(sim.run().outcome.is_ok());
        sim.world().timers.clone()
    };
    assert_eq!(run(false), vec![(ms(100), A, 0)], "without a crash the timer fires");
    assert_eq!(run(true), vec![(ms(160), A, 60)], "only the timer set after the restart fires");
}

/// Sets timers tagged 1, 2, 3 at 10, 20, 30 ms; cancels timer 2 at once and
/// timer 3 when timer 1 fires.
#[derive(Default)]
struct Canceller {
    ids: Vec<TimerId>,
}

impl Node<Msg, World> for Canceller {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start => {
                self.ids = (1..=3).map(|tag| ctx.set_timer(Dur::millis(10 * tag), tag)).collect();
                ctx.cancel_timer(self.ids[1]);
            }
            Input::Timer { id, tag } => {
                assert_eq!(id, self.ids[tag as usize - 1], "a timer fires with the id set_timer returned");
                let (now, me) = (ctx.now(), ctx.me());
                ctx.world.timers.push((now, me, tag));
                if tag == 1 {
                    ctx.cancel_timer(self.ids[2]);
                }
            }
            _ => {}
        }
    }
}

#[test]
fn cancel_timer_stops_exactly_that_timer() {
    let mut sim = Sim::new(Config::new(1), World::default());
    sim.add_node("n", NodeConfig::default(), (), |_| Canceller::default());
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert_eq!(sim.world().timers, vec![(ms(10), A, 1)]);
    assert_eq!(report.events, 4, "the start, timer 1, and two cancelled timers popped silently");
}

#[test]
fn each_fault_reports_whether_it_had_an_effect() {
    let mut sim = Sim::new(Config::new(1), World::default());
    sim.add_node("x", NodeConfig::default(), (), |_| Idle);
    sim.add_node("y", NodeConfig::default(), (), |_| Idle);
    let model = |kind: &str| Fault::Model { target: B, kind: kind.to_string(), msg: Msg::Nothing };
    let plan: Vec<(Fault<Msg>, bool)> = vec![
        (Fault::Crash(A), true),
        (Fault::Crash(A), false), // already down
        (Fault::Restart(A), true),
        (Fault::Restart(A), false), // already up
        (Fault::Partition(A, B), true),
        (Fault::Partition(B, A), false), // already cut both ways
        (Fault::PartitionOneWay { from: A, to: B }, false),
        (Fault::Heal, true),
        (Fault::Heal, false), // nothing to heal
        (Fault::HealLink(A, B), false),
        (Fault::Clog { from: A, to: B }, true),
        (Fault::Unclog { from: A, to: B }, true),
        (Fault::Unclog { from: A, to: B }, false),
        (Fault::SlowLink { from: A, to: B, permille: 3000 }, true),
        (Fault::SlowLink { from: A, to: B, permille: 3000 }, false),
        (Fault::SlowLink { from: A, to: B, permille: 1000 }, true),
        (model("effective"), true), // the handler calls ctx.fault_effect
        (model("harmless"), false), // the handler ignores it
        (Fault::Crash(B), true),
        (model("effective"), false), // a down node is not handed the fault
    ];
    for (i, (fault, _)) in plan.iter().enumerate() {
        sim.schedule(ms(10 * (i as u64 + 1)), fault.clone());
    }
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert_eq!(report.faults.len(), plan.len());
    for (i, ((fault, effect), r)) in plan.iter().zip(&report.faults).enumerate() {
        assert_eq!(r.at, ms(10 * (i as u64 + 1)));
        assert_eq!(r.kind, fault.kind());
        assert!(r.scheduled);
        assert_eq!(r.effect, *effect, "fault #{i} `{}`", r.description);
    }
    assert_eq!(report.faults[0].ended, Some(ms(30)), "the restart ends the crash");
    assert_eq!(report.faults[4].ended, Some(ms(80)), "the heal ends the partition");
    assert_eq!(report.faults[10].ended, Some(ms(120)), "the unclog ends the clog");
    assert_eq!(report.faults[13].ended, Some(ms(160)), "a slow link at x1.000 ends the slow link");
    assert_eq!(report.faults[1].ended, None, "a fault without effect is never ended");
    // Only faults handed to a node that was up reached it.
    let kinds: Vec<&str> = sim.world().model_faults.iter().map(|(_, _, k)| k.as_str()).collect();
    assert_eq!(kinds, ["effective", "harmless"]);
}

const X: NodeId = NodeId(0);
const Y: NodeId = NodeId(1);

/// Two idle nodes and four fault processes (mean 50 ms) over a 1 s fault phase.
fn swarm_system(seed: u64, swarm: bool) -> Sim<Msg, World> {
    let mut cfg = Config::new(seed);
    cfg.swarm = swarm;
    cfg.fault_phase_end = Some(Time::from_secs(1));
    let mut sim = Sim::new(cfg, World::default());
    sim.add_node("x", NodeConfig::default(), (), |_| Idle);
    sim.add_node("y", NodeConfig::default(), (), |_| Idle);
    sim.add_process(FaultProcess::new("crash", Dur::millis(50), |_, _| Some(Fault::Crash(X))));
    sim.add_process(FaultProcess::new("restart", Dur::millis(50), |_, _| Some(Fault::Restart(X))));
    sim.add_process(FaultProcess::new("partition", Dur::millis(50), |_, _| Some(Fault::Partition(X, Y))));
    sim.add_process(FaultProcess::new("heal", Dur::millis(50), |_, _| Some(Fault::Heal)));
    sim
}

#[test]
fn swarm_mode_enables_varied_subsets_never_none() {
    let mut subsets = BTreeSet::new();
    for seed in 0..64 {
        let report = swarm_system(seed, true).run();
        assert!(report.outcome.is_ok(), "seed {seed}: {}", report.outcome);
        let enabled: Vec<&str> = report.processes.iter().filter(|p| p.enabled).map(|p| p.kind.as_str()).collect();
        assert!(!enabled.is_empty(), "seed {seed}: swarm mode enabled no process");
        for p in &report.processes {
            let occurrences = report.faults.iter().filter(|f| !f.scheduled && f.kind == p.kind).count() as u32;
            assert_eq!(p.fired, occurrences, "seed {seed}: `{}` fired count", p.kind);
            if p.enabled {
                assert!(p.fired > 0, "seed {seed}: `{}` enabled but never fired in 1 s at a 50 ms mean", p.kind);
            }
        }
        assert!(report.faults.iter().all(|f| f.at < Time::from_secs(1)), "seed {seed}: a process fired after the fault phase");
        subsets.insert(enabled.join("+"));
    }
    assert!(subsets.len() >= 8, "only {} distinct subsets over 64 seeds: {subsets:?}", subsets.len());
    assert!(subsets.iter().any(|s| s.split('+').count() < 4), "swarm mode always enabled everything");

    let report = swarm_system(0, false).run();
    assert!(report.processes.iter().all(|p| p.enabled && p.fired > 0), "without swarm mode every process runs");
}

#[test]
fn process_report_counts_occurrences_not_draws() {
    let draws = Rc::new(Cell::new(0u32));
    let mut cfg = Config::new(2);
    cfg.fault_phase_end = Some(Time::from_secs(1));
    let mut sim = Sim::new(cfg, World::default());
    sim.add_node("x", NodeConfig::default(), (), |_| Idle);
    let counter = draws.clone();
    sim.add_process(FaultProcess::new("sometimes-crash", Dur::millis(20), move |rng, view| {
        counter.set(counter.get() + 1);
        let fault = if view.up[0] { Fault::Crash(X) } else { Fault::Restart(X) };
        rng.chance(500_000).then_some(fault)
    }));
    let report = sim.run();
    let fired = report.processes[0].fired;
    assert_eq!(fired as usize, report.faults.len());
    assert!(fired > 5, "fired {fired} times");
    assert!(draws.get() > fired + 5, "{} draws, {fired} occurrences: skipped draws are not counted", draws.get());
}

/// Two idle nodes with a crash/restart process and a partition/heal process,
/// plus, if `extra`, a busy node that talks to itself.
fn independent_system(seed: u64, extra: bool) -> Sim<Msg, World> {
    let mut cfg = Config::new(seed);
    cfg.fault_phase_end = Some(Time::from_secs(2));
    let mut sim = Sim::new(cfg, World::default());
    sim.add_node("x", NodeConfig::default(), (), |_| Idle);
    sim.add_node("y", NodeConfig::default(), (), |_| Idle);
    if extra {
        let z = NodeId(2);
        sim.add_node("z", NodeConfig::default(), (), move |_| Chatter::new(vec![z], Dur::millis(3), 500));
    }
    sim.add_process(FaultProcess::new("crash", Dur::millis(100), |_, view| {
        Some(if view.up[0] { Fault::Crash(X) } else { Fault::Restart(X) })
    }));
    sim.add_process(FaultProcess::new("partition", Dur::millis(150), |rng, _| {
        Some(if rng.chance(500_000) { Fault::Partition(X, Y) } else { Fault::Heal })
    }));
    sim
}

#[test]
fn adding_an_unrelated_node_does_not_move_fault_times() {
    let faults = |seed, extra| -> Vec<(Time, String)> {
        let report = independent_system(seed, extra).run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        report.faults.into_iter().map(|f| (f.at, f.description)).collect()
    };
    let base = faults(6, false);
    assert!(base.len() > 10, "only {} faults", base.len());
    assert_eq!(base, faults(6, true), "the extra node changed the fault stream");
    assert_ne!(base, faults(7, false), "control: another seed moves the faults");
}

// ---------------------------------------------------------------------------
// Delayed sends and power actions.

/// At 1 ms, sends `Note(0)` to `b` after a 10 ms delay and `Note(1)` at once.
struct Delayer;

impl Node<Msg, World> for Delayer {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start => {
                ctx.set_timer(Dur::millis(1), 0);
            }
            Input::Timer { .. } => {
                ctx.send_after(Dur::millis(10), B, Msg::Note(0));
                ctx.send(B, Msg::Note(1));
            }
            _ => {}
        }
    }
}

fn delayed(faults: Vec<(Time, Fault<Msg>)>) -> Sim<Msg, World> {
    let mut sim = Sim::new(Config::new(1), World::default());
    sim.add_node("a", NodeConfig::default(), (), |_| Delayer);
    sim.add_node("b", NodeConfig::default(), (), |_| Idle);
    sim.set_default_link(fixed_link(Dur::millis(1)));
    for (at, fault) in faults {
        sim.schedule(at, fault);
    }
    assert!(sim.run().outcome.is_ok());
    sim
}

#[test]
fn send_after_delays_the_departure() {
    let sim = delayed(vec![]);
    assert_eq!(notes(sim.world(), A, B), vec![(1, ms(2)), (0, ms(12))]);
}

#[test]
fn send_after_into_a_cut_link_is_dropped_at_once() {
    let sim = delayed(vec![(Time::ZERO, Fault::Partition(A, B)), (ms(5), Fault::Heal)]);
    assert!(sim.world().received.is_empty(), "the network decides a delayed message's fate when it is sent");
}

/// Powers `b` off at 10 ms and on at 20 ms.
struct PowerSwitch;

impl Node<Msg, World> for PowerSwitch {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start => {
                ctx.set_timer(Dur::millis(10), 0);
                ctx.set_timer(Dur::millis(20), 1);
            }
            Input::Timer { tag: 0, .. } => ctx.power_off(B),
            Input::Timer { tag: 1, .. } => ctx.power_on(B),
            _ => {}
        }
    }
}

#[test]
fn power_actions_crash_and_boot_another_node() {
    let mut sim = Sim::new(Config { trace: TraceMode::Full, ..Config::new(1) }, World::default());
    sim.add_node("switch", NodeConfig::default(), (), |_| PowerSwitch);
    sim.add_node("b", NodeConfig::default(), (), |_| BootTimer);
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    // The timer set at boot (due at 100 ms) died with the power; the one set
    // at the second boot fires.
    assert_eq!(sim.world().timers, vec![(ms(120), B, 20)]);
    assert!(report.faults.is_empty(), "power actions are actions, not faults");
    let labels: Vec<&str> = (0..sim.trace().len() as usize).filter_map(|i| sim.trace().label(i)).collect();
    assert!(labels.iter().any(|l| l.contains("b powered off by switch")), "{labels:?}");
    assert!(labels.iter().any(|l| l.contains("b powered on by switch")), "{labels:?}");
}

#[test]
fn power_on_ends_a_crash_fault() {
    let mut sim = Sim::new(Config::new(1), World::default());
    sim.add_node("switch", NodeConfig::default(), (), |_| PowerSwitch);
    sim.add_node("b", NodeConfig::default(), (), |_| BootTimer);
    sim.schedule(ms(5), Fault::Crash(B));
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert_eq!(report.faults[0].ended, Some(ms(20)));
    assert_eq!(sim.world().timers, vec![(ms(120), B, 20)], "powering off a down node does nothing");
}

// ---------------------------------------------------------------------------
// Kernel bugs, pinned.

#[test]

fn fault_processes_fire_in_a_run_without_a_fault_phase_end() {
    let mut cfg = Config::new(3);
    cfg.end_at = Some(Time::from_secs(1));
    let mut sim = Sim::new(cfg, World::default());
    sim.add_node("x", NodeConfig::default(), (), |_| Idle);
    sim.add_process(FaultProcess::new("crash", Dur::millis(50), |_, view| {
        Some(if view.up[0] { Fault::Crash(X) } else { Fault::Restart(X) })
    }));
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert!(report.processes[0].enabled);
    assert!(report.processes[0].fired > 5, "a 50 ms process fired {} times in 1 s", report.processes[0].fired);
}

/// Sends one note to `b` in its first incarnation only; logs refusals.
struct OneNote;

impl Node<Msg, World> for OneNote {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start if ctx.now() == Time::ZERO => ctx.send(B, Msg::Note(0)),
            Input::Refused { to, msg } => {
                let (now, me) = (ctx.now(), ctx.me());
                ctx.world.refused.push((now, me, to, msg));
            }
            _ => {}
        }
    }
}

#[test]

fn a_refusal_does_not_reach_a_later_incarnation_of_the_sender() {
    let mut sim = Sim::new(Config::new(1), World::default());
    sim.add_node("a", NodeConfig::default(), (), |_| OneNote);
    sim.add_node("b", NodeConfig::default(), (), |_| Idle);
    sim.set_default_link(fixed_link(Dur::millis(1)));
    sim.schedule(Time::ZERO, Fault::Crash(B));
    // The note reaches the down `b` at 1 ms and its refusal is due back at 2 ms;
    // `a` crashes and restarts in between.
    sim.schedule(Time::from_micros(1_500), Fault::Crash(A));
    sim.schedule(Time::from_micros(1_800), Fault::Restart(A));
    assert!(sim.run().outcome.is_ok());
    assert_eq!(sim.world().refused, vec![], "the restarted `a` never sent Note(0), as a timer of the old incarnation never fires");
}

#[test]

fn send_after_keeps_its_delay_through_a_clog() {
    // Clogged from the start; the delayed note is held at 1 ms, the clog
    // lifts at 2 ms, and the note must still not leave before 11 ms.
    let sim = delayed(vec![(Time::ZERO, Fault::Clog { from: A, to: B }), (ms(2), Fault::Unclog { from: A, to: B })]);
    let arrivals = notes(sim.world(), A, B);
    assert_eq!(arrivals.len(), 2);
    let (_, at) = arrivals.iter().find(|(i, _)| *i == 0).copied().expect("Note(0) arrived");
    assert!(at >= ms(12), "the delayed note arrived at {at}, before its 10 ms delay had passed");
}

#[test]

fn a_refusal_does_not_cross_a_cut_reverse_link() {
    let mut sim = to_a_down_node(DownMode::Refuse);
    // `a` can still reach `b`, but nothing from `b` reaches `a`: not even a refusal.
    sim.schedule(Time::ZERO, Fault::PartitionOneWay { from: B, to: A });
    assert!(sim.run().outcome.is_ok());
    assert_eq!(sim.world().refused, vec![], "refusals crossed the cut b -> a");
}
