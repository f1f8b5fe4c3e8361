//! Property tests over random fault plans: a correct store keeps custody under
//! any mix of crashes, restarts, partitions (two-way and one-way), clogs and
//! heals, and every plan replays to the same trace hash. The same search run
//! against the planted "acknowledge before durable" store must find a failing
//! plan, or the property test would prove nothing.

mod common;

use common::*;
use mailsim_sim::*;
use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, TestCaseError, TestError, TestRng, TestRunner};

const STORE: NodeId = NodeId(0);
const LEFT: NodeId = NodeId(1);
const RIGHT: NodeId = NodeId(2);

/// One step of a fault plan on the three-node system.
#[derive(Clone, Debug)]
enum Step {
    Crash,
    Restart,
    Partition(bool),
    OneWay { to_store: bool, left: bool },
    Clog(bool),
    Heal,
}

impl Step {
    fn fault(&self) -> Fault<Msg> {
        let writer = |left: bool| if left { LEFT } else { RIGHT };
        match *self {
            Step::Crash => Fault::Crash(STORE),
            Step::Restart => Fault::Restart(STORE),
            Step::Partition(left) => Fault::Partition(STORE, writer(left)),
            Step::OneWay { to_store: true, left } => Fault::PartitionOneWay { from: writer(left), to: STORE },
            Step::OneWay { to_store: false, left } => Fault::PartitionOneWay { from: STORE, to: writer(left) },
            Step::Clog(left) => Fault::Clog { from: writer(left), to: STORE },
            Step::Heal => Fault::Heal,
        }
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => Just(Step::Crash),
        3 => Just(Step::Restart),
        1 => any::<bool>().prop_map(Step::Partition),
        1 => (any::<bool>(), any::<bool>()).prop_map(|(to_store, left)| Step::OneWay { to_store, left }),
        1 => any::<bool>().prop_map(Step::Clog),
        1 => Just(Step::Heal),
    ]
}

/// A seed and up to 12 faults in the first 250 ms (times in microseconds).
fn plan() -> impl Strategy<Value = (u64, Vec<(u64, Step)>)> {
    (any::<u64>(), prop::collection::vec((0u64..250_000, step()), 0..12))
}

/// A store and two writers of 50 values each (every 4 ms), custody checked
/// throughout, the fault phase ending (and healing) at 300 ms.
fn three_nodes(seed: u64, ack_early: bool, plan: &[(u64, Step)]) -> Sim<Msg, World> {
    let mut cfg = Config::new(seed);
    cfg.fault_phase_end = Some(ms(300));
    let mut sim = Sim::new(cfg, World::default());
    assert_eq!(sim.add_node("store", slow_disk(), Values::default(), move |_| Store::new(ack_early)), STORE);
    sim.add_node("left", NodeConfig::default(), (), |_| Writer::new(STORE, 0, 50, Dur::millis(4)));
    sim.add_node("right", NodeConfig::default(), (), |_| Writer::new(STORE, 1_000, 50, Dur::millis(4)));
    for (at, step) in plan {
        sim.schedule(Time::from_micros(*at), step.fault());
    }
    sim.always(CUSTODY, custody(STORE));
    sim
}

fn custody_holds(seed: u64, ack_early: bool, plan: &[(u64, Step)]) -> Result<(), TestCaseError> {
    let first = three_nodes(seed, ack_early, plan).run();
    prop_assert!(first.outcome.is_ok(), "seed {}: {}", seed, first.outcome);
    let second = three_nodes(seed, ack_early, plan).run();
    prop_assert_eq!(first.trace_hash, second.trace_hash, "seed {} replayed to another hash", seed);
    Ok(())
}

#[path = "../../tests/support/proptest_seed.rs"]
mod proptest_seed;
use proptest_seed::rng_seed;

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, rng_seed: rng_seed(), ..ProptestConfig::default() })]

    #[test]
    fn correct_store_keeps_custody_under_random_fault_plans((seed, plan) in plan()) {
        custody_holds(seed, false, &plan)?;
    }
}

#[test]
fn random_fault_plans_find_the_planted_bug() {
    let config = proptest::test_runner::Config { cases: 96, failure_persistence: None, ..proptest::test_runner::Config::default() };
    let mut runner = TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    match runner.run(&plan(), |(seed, plan)| custody_holds(seed, true, &plan)) {
        Err(TestError::Fail(why, (_, plan))) => {
            assert!(why.to_string().contains(CUSTODY), "{why}");
            // Shrinking keeps what the bug needs: a crash of the store.
            assert!(plan.iter().any(|(_, s)| matches!(s, Step::Crash)), "minimal plan without a crash: {plan:?}");
        }
        other => panic!("no random fault plan caught the store that acknowledges early: {other:?}"),
    }
}
