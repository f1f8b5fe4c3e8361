//! Determinism: the trace hash is the oracle that a seed replays bit for bit.
//!
//! Same seed, same hash: twice in one process, and in a second process (the
//! test re-executes its own binary, as a replay on another machine would).
//! Different seeds, different hashes, or the hash would prove nothing. And
//! `check_determinism` must both accept a deterministic system and, for a
//! node that leaks state across runs through a `static`, name the first event
//! at which the two runs part (madsim's `check_determinism`).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use mailsim_sim::*;

/// A system that exercises most of the kernel: durable writes, timers, a lossy
/// network, random crashes and restarts, random partitions, a liveness phase.
fn rich_system(seed: u64) -> Sim<Msg, World> {
    let mut cfg = Config::new(seed);
    cfg.fault_phase_end = Some(ms(300));
    let mut sim = Sim::new(cfg, World::default());
    let store = sim.add_node("store", slow_disk(), Values::default(), |_| Store::new(false));
    sim.add_node("writer", NodeConfig::default(), (), move |_| Writer::new(store, 0, 100, Dur::millis(2)));
    let (a, b) = (NodeId(2), NodeId(3));
    assert_eq!(sim.add_node("a", NodeConfig::default(), (), move |_| Chatter::new(vec![b], Dur::millis(7), 40)), a);
    assert_eq!(sim.add_node("b", NodeConfig::default(), (), move |_| Chatter::new(vec![a], Dur::millis(5), 40)), b);
    sim.set_default_link(LinkConfig { loss_ppm: 50_000, ..LinkConfig::default() });
    sim.add_process(FaultProcess::new("crash", Dur::millis(40), move |_, view| {
        Some(if view.up[store.0 as usize] { Fault::Crash(store) } else { Fault::Restart(store) })
    }));
    sim.add_process(FaultProcess::new("partition", Dur::millis(60), move |rng, _| {
        Some(if rng.chance(500_000) { Fault::Partition(a, b) } else { Fault::Heal })
    }));
    sim.always(CUSTODY, custody(store));
    sim
}

#[test]
fn same_seed_same_hash_in_process() {
    for seed in [1, 7, 42] {
        let first = rich_system(seed).run();
        let second = rich_system(seed).run();
        assert!(first.outcome.is_ok(), "seed {seed}: {}", first.outcome);
        // The hash must cover a real run, faults included, or equality is cheap.
        assert!(first.events > 300, "seed {seed}: only {} events", first.events);
        assert!(first.faults.len() > 3, "seed {seed}: only {} faults", first.faults.len());
        assert_eq!(first.trace_hash, second.trace_hash, "seed {seed}");
        assert_eq!(first.events, second.events, "seed {seed}");
        assert_eq!(first.faults, second.faults, "seed {seed}");
    }
}

#[test]
fn different_seeds_give_different_hashes() {
    let hashes: BTreeSet<u64> = (0..32).map(|seed| rich_system(seed).run().trace_hash).collect();
    assert_eq!(hashes.len(), 32, "two of 32 seeds share a trace hash");
}

#[test]
fn trace_hash_does_not_depend_on_trace_mode() {
    let mut hashes = Vec::new();
    for mode in [TraceMode::Tail(0), TraceMode::Tail(64), TraceMode::Full] {
        let mut sim = rich_system(5);
        sim.set_trace(mode);
        hashes.push(sim.run().trace_hash);
    }
    assert_eq!(hashes[0], hashes[1]);
    assert_eq!(hashes[1], hashes[2]);
}

/// The environment variable that makes `print_hash_for_child` print hashes:
/// a comma-separated list of seeds.
const PRINT_HASH: &str = "SIM_PRINT_HASH";

#[test]
#[ignore = "helper: run in a child process by same_seed_same_hash_across_processes"]
fn print_hash_for_child() {
    let Ok(seeds) = std::env::var(PRINT_HASH) else { return };
    for seed in seeds.split(',') {
        let seed: u64 = seed.trim().parse().expect("SIM_PRINT_HASH lists seeds");
        println!("SIM_HASH {seed} {:016x}", rich_system(seed).run().trace_hash);
    }
}

#[test]
fn same_seed_same_hash_across_processes() {
    let seeds = [3u64, 11, 12345];
    let exe = std::env::current_exe().expect("the test binary's path");
    let list = seeds.map(|s| s.to_string()).join(",");
    let out = Command::new(exe)
        .args(["print_hash_for_child", "--exact", "--include-ignored", "--nocapture", "--test-threads=1"])
        .env(PRINT_HASH, &list)
        .output()
        .expect("the test binary runs again");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "child failed:\n{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let child: BTreeMap<u64, u64> = stdout
        .lines()
        // libtest prints "test print_hash_for_child ... " on the same line.
        .filter_map(|l| l.split_once("SIM_HASH ").map(|(_, rest)| rest))
        .map(|l| {
            let (seed, hash) = l.split_once(' ').expect("`seed hash`");
            (seed.parse().expect("a seed"), u64::from_str_radix(hash, 16).expect("a hex hash"))
        })
        .collect();
    assert_eq!(child.len(), seeds.len(), "child printed:\n{stdout}");
    for seed in seeds {
        let here = rich_system(seed).run().trace_hash;
        assert_eq!(child[&seed], here, "seed {seed}: child process hash {:016x}, this process {here:016x}", child[&seed]);
    }
}

#[test]
fn check_determinism_accepts_a_deterministic_system() {
    let hash = check_determinism(9, rich_system).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(hash, rich_system(9).run().trace_hash, "check_determinism returns the run's hash");
}

/// Incremented by every run of `LeakyNote`: state that survives from one run
/// to the next, as a `static`, a cache or a default-hashed map would.
static NOTE_RUNS: AtomicU64 = AtomicU64::new(0);

/// Sends one note whose content depends on how many runs came before.
struct LeakyNote {
    peer: NodeId,
}

impl Node<Msg, World> for LeakyNote {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        if let Input::Start = input {
            let n = NOTE_RUNS.fetch_add(1, Ordering::Relaxed);
            ctx.send(self.peer, Msg::Note(n));
        }
    }
}

#[test]
fn check_determinism_names_the_first_divergent_message() {
    let build = |seed| {
        let mut sim = Sim::new(Config::new(seed), World::default());
        let sink = NodeId(1);
        sim.add_node("leaky", NodeConfig::default(), (), move |_| LeakyNote { peer: sink });
        assert_eq!(sim.add_node("sink", NodeConfig::default(), (), |_| Idle), sink);
        sim.set_default_link(fixed_link(Dur::millis(1)));
        sim
    };
    let d = check_determinism(4, build).expect_err("a node reading a static counter is not deterministic");
    // Records: #0 leaky starts, #1 sink starts, #2 the note is delivered.
    assert_eq!(d.seed, 4);
    assert_eq!(d.index, 2, "{d}");
    let (first, first_label) = d.first.clone().expect("the first run had event #2");
    let (second, second_label) = d.second.clone().expect("the second run had event #2");
    assert_eq!(first.kind, RecordKind::Deliver);
    assert_eq!(second.kind, RecordKind::Deliver);
    assert_eq!(first.time, ms(1), "only the content differs, not the time");
    assert_eq!(second.time, ms(1));
    assert_eq!((first.node, first.peer), (second.node, second.peer));
    assert_ne!(first.payload, second.payload);
    assert!(first_label.contains("Note("), "{first_label}");
    assert_ne!(first_label, second_label);
    assert!(d.to_string().contains("diverge at event #2"), "{d}");
}

static TIMER_RUNS: AtomicU64 = AtomicU64::new(0);

/// Sets one timer whose delay depends on how many runs came before.
struct LeakyTimer;

impl Node<Msg, World> for LeakyTimer {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        if let Input::Start = input {
            let n = TIMER_RUNS.fetch_add(1, Ordering::Relaxed);
            ctx.set_timer(Dur::millis(1 + n % 2), 3);
        }
    }
}

#[test]
fn check_determinism_names_the_first_divergent_timer() {
    let build = |seed| {
        let mut sim = Sim::new(Config::new(seed), World::default());
        sim.add_node("leaky", NodeConfig::default(), (), |_| LeakyTimer);
        sim
    };
    let d = check_determinism(8, build).expect_err("a timer delay read from a static counter is not deterministic");
    // Records: #0 the node starts, #1 its timer fires.
    assert_eq!(d.index, 1, "{d}");
    let (first, _) = d.first.clone().expect("the first run had event #1");
    let (second, _) = d.second.clone().expect("the second run had event #1");
    assert_eq!((first.kind, second.kind), (RecordKind::Timer, RecordKind::Timer));
    assert_eq!(first.time.since(second.time).as_micros() + second.time.since(first.time).as_micros(), 1_000, "{d}");
}
