//! Outcomes other than property violations: a node that panics is a model
//! panic (with the message and the simulated time, never a crashed test
//! runner), a run that exceeds its event or time budget says which budget, and
//! the normal ways to end a run (`end_at`, `Ctx::stop`) are not failures.
//! A model's own incremental check reports through `Ctx::violation`.

mod common;

use common::*;
use mailsim_sim::*;

/// The ticker's own incremental check, declared up front.
const BELOW_LIMIT: Declared = Declared::always("ticks stay below the limit");

/// Sets a timer every millisecond, forever; optionally panics at the timer
/// tagged `panic_at` (with a formatted message) and reports a violation or
/// stops the run at the timers tagged `violate_at` and `stop_at`.
#[derive(Default)]
struct Ticker {
    panic_at: Option<u64>,
    static_panic: bool,
    violate_at: Option<u64>,
    /// Reports a violation at every multiple of this tag too.
    violate_every: Option<u64>,
    stop_at: Option<u64>,
}

impl Node<Msg, World> for Ticker {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        let tag = match input {
            Input::Start => 0,
            Input::Timer { tag, .. } => tag,
            _ => return,
        };
        if self.panic_at == Some(tag) {
            if self.static_panic {
                panic!("a static panic message");
            }
            panic!("model bug at tick {tag}");
        }
        if self.violate_at == Some(tag) || self.violate_every.is_some_and(|k| tag > 0 && tag % k == 0) {
            ctx.violation(BELOW_LIMIT, format!("tick {tag} reached the limit"));
        }
        if self.stop_at == Some(tag) {
            ctx.stop();
        }
        ctx.set_timer(Dur::millis(1), tag + 1);
    }
}

fn ticker_run(cfg: Config, ticker: impl Fn() -> Ticker + 'static) -> (Sim<Msg, World>, RunReport) {
    let mut sim = Sim::new(cfg, World::default());
    sim.declare(BELOW_LIMIT);
    sim.add_node("ticker", NodeConfig::default(), (), move |_| ticker());
    let report = sim.run();
    (sim, report)
}

fn bounded(seed: u64) -> Config {
    Config { end_at: Some(Time::from_secs(1)), ..Config::new(seed) }
}

#[test]
fn a_panicking_node_is_a_model_panic_with_message_and_time() {
    let (mut sim, report) = ticker_run(bounded(11), || Ticker { panic_at: Some(7), ..Ticker::default() });
    let Outcome::ModelPanic { time, seed, message } = &report.outcome else { panic!("expected a model panic, got {}", report.outcome) };
    assert_eq!(*time, ms(7));
    assert_eq!(*seed, 11);
    assert_eq!(message, "model bug at tick 7");
    assert_eq!(report.outcome.class(), "panic");
    assert!(report.outcome.to_string().contains("seed 11"), "a failure names its seed: {}", report.outcome);
    assert_eq!(sim.run().outcome, report.outcome, "running again returns the same report");
}

#[test]
fn a_static_str_panic_keeps_its_message() {
    let (_, report) = ticker_run(bounded(1), || Ticker { panic_at: Some(3), static_panic: true, ..Ticker::default() });
    let Outcome::ModelPanic { message, .. } = &report.outcome else { panic!("expected a model panic, got {}", report.outcome) };
    assert_eq!(message, "a static panic message");
}

#[test]
fn event_budget_is_reported_as_such() {
    let cfg = Config { max_events: 100, ..Config::new(2) };
    let (_, report) = ticker_run(cfg, Ticker::default);
    let Outcome::BudgetExceeded { budget, time, seed } = report.outcome else {
        panic!("expected a budget outcome, got {}", report.outcome)
    };
    assert_eq!(budget, Budget::Events(100));
    assert_eq!(report.events, 100);
    assert_eq!(time, ms(99), "the start and 99 ticks ran, one per millisecond");
    assert_eq!(seed, 2);
}

#[test]
fn time_budget_is_reported_as_such() {
    let cfg = Config { max_time: Time::from_secs(1), ..Config::new(3) };
    let (_, report) = ticker_run(cfg, Ticker::default);
    let Outcome::BudgetExceeded { budget, time, .. } = report.outcome else { panic!("expected a budget outcome, got {}", report.outcome) };
    assert_eq!(budget, Budget::Time(Time::from_secs(1)));
    assert_eq!(time, Time::from_secs(1), "the last event run is the one at the budget");
    assert_eq!(report.events, 1_001);
    assert_eq!(report.outcome.class(), "budget");
}

#[test]
fn end_at_ends_a_run_normally() {
    let (_, report) = ticker_run(bounded(4), Ticker::default);
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert_eq!(report.end, Time::from_secs(1));
    assert_eq!(report.events, 1_001);
}

#[test]
fn ctx_stop_ends_a_run_normally() {
    let (_, report) = ticker_run(bounded(5), || Ticker { stop_at: Some(20), ..Ticker::default() });
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert_eq!(report.end, ms(20));
}

#[test]
fn ctx_violation_is_a_safety_violation() {
    let (_, report) = ticker_run(bounded(6), || Ticker { violate_at: Some(5), ..Ticker::default() });
    let Outcome::SafetyViolation(v) = &report.outcome else { panic!("expected a safety violation, got {}", report.outcome) };
    assert_eq!(v.property, "ticks stay below the limit");
    assert_eq!(v.kind, PropertyKind::Always);
    assert_eq!(v.time, ms(5));
    assert_eq!(v.detail, "tick 5 reached the limit");
    assert_eq!(report.outcome.class(), "safety");
}

#[test]
fn a_declared_property_is_listed_as_held_when_never_violated() {
    let (_, report) = ticker_run(bounded(6), Ticker::default);
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    assert_eq!(report.property(BELOW_LIMIT.name).map(|p| p.status.clone()), Some(PropertyStatus::Held));
}

#[test]
fn a_violation_of_an_undeclared_property_is_a_model_bug() {
    const UNDECLARED: Declared = Declared::always("never declared");
    struct Rogue;
    impl Node<Msg, World> for Rogue {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            if let Input::Start = input {
                ctx.violation(UNDECLARED, "oops".into());
            }
        }
    }
    let mut sim = Sim::new(bounded(1), World::default());
    sim.add_node("rogue", NodeConfig::default(), (), |_| Rogue);
    let report = sim.run();
    let Outcome::ModelPanic { message, .. } = &report.outcome else { panic!("expected a model panic, got {}", report.outcome) };
    assert!(message.contains("never declared"), "{message}");
}

#[test]
fn a_run_that_does_not_stop_at_violations_counts_them_all_and_reaches_its_end() {
    let cfg = Config { stop_on_violation: false, ..bounded(7) };
    let (_, report) = ticker_run(cfg, || Ticker { violate_every: Some(100), ..Ticker::default() });
    let Outcome::SafetyViolation(v) = &report.outcome else { panic!("expected a safety violation, got {}", report.outcome) };
    assert_eq!(v.time, ms(100), "the outcome is the first violation");
    assert_eq!(report.end, Time::from_secs(1), "the run went on to its end");
    assert_eq!(report.violations.len(), 10);
    match &report.property(BELOW_LIMIT.name).expect("declared").status {
        PropertyStatus::Violated { first, count, .. } => {
            assert_eq!(*first, ms(100));
            assert_eq!(*count, 10);
        }
        other => panic!("expected violated, got {other:?}"),
    }
}

#[test]
fn after_an_early_stop_nothing_unjudged_is_reported_as_held() {
    let mut sim = Sim::new(Config { fault_phase_end: Some(ms(500)), ..bounded(8) }, World::default());
    sim.declare(BELOW_LIMIT);
    sim.add_node("ticker", NodeConfig::default(), (), |_| Ticker { violate_at: Some(5), ..Ticker::default() });
    sim.eventually("anything", |_| Ok(()));
    sim.schedule(ms(900), Fault::Crash(NodeId(0)));
    let report = sim.run();
    assert_eq!(report.outcome.class(), "safety");
    let eventually = report.property("anything").expect("listed");
    assert!(matches!(eventually.status, PropertyStatus::NotEvaluated { .. }), "{:?}", eventually.status);
    assert_eq!(report.unfired.len(), 1, "the crash due at 900 ms never fired: {:?}", report.unfired);
    assert_eq!(report.unfired[0].kind, "crash");
}
