//! Speed of the protocol harness against the kernel-model version of the
//! same reference workload, as ratios measured in one process
//! (`cargo bench -p mailsim-harness --bench engines`; with
//! `RUSTFLAGS="--cfg madsim"` and its own target directory for madsim).
//!
//! The reference workload: 200 mails over an hour to 2 MX hosts, the file
//! server down for 30 minutes in the middle, 6 simulated hours at most —
//! the scenario below, run by the models (`mailsim::run`) and by the
//! harness on this build's engine. turmoil runs at two ticks (100 ms, the
//! harness default, and 10 ms) to show its per-tick cost; madsim has no
//! tick. Reported: wall time per run, simulated seconds per wall second,
//! and each engine's slowdown against the models.
//!
//! Wall-clock time is read here, in the bench only, never in simulated code.

use std::path::Path;
use std::time::{Duration, Instant};

use mailsim::scenario::Scenario;

const REFERENCE: &str = r#"
[scenario]
name = "harness-reference"
summary = "200 mails in an hour, the file server down for 30 minutes"
[run]
duration = "6h"
[topology]
mx = 2
mailboxes = 50
[workload]
mails = 200
window = "1h"
profiles = { postfix = 1 }
[[faults]]
at = "15m"
kind = "crash"
target = "filer"
[[faults]]
at = "45m"
kind = "restart"
target = "filer"
"#;

const SEEDS: u64 = 3;

struct Timing {
    wall: Duration,
    simulated: Duration,
}

fn per_run(t: &Timing) -> f64 {
    t.wall.as_secs_f64() / SEEDS as f64
}

fn model(s: &Scenario) -> Timing {
    let start = Instant::now();
    let mut simulated = Duration::ZERO;
    for seed in 0..SEEDS {
        let r = mailsim::run::run(s, seed);
        assert_eq!(r.figures.lost, 0, "the reference workload loses nothing in the model");
        simulated += Duration::from_micros(r.report.end.as_micros());
    }
    Timing { wall: start.elapsed(), simulated }
}

fn harness(s: &Scenario, tick: Duration) -> Timing {
    let start = Instant::now();
    let mut simulated = Duration::ZERO;
    for seed in 0..SEEDS {
        let mut setup = mailsim_harness::scenario::setup_from(s, seed).expect("the reference is supported");
        setup.tick = tick;
        let out = mailsim_harness::run(&setup, seed).expect("the run completes");
        assert!(out.audit.passed(), "the reference workload passes on the harness: {:?}", out.audit.violations());
        simulated += out.end;
    }
    Timing { wall: start.elapsed(), simulated }
}

fn line(name: &str, t: &Timing, base: &Timing) {
    println!(
        "{name:<28} {:>9.3} ms/run  {:>12.0} simulated s per wall s  {:>8.1}x the models' wall time",
        per_run(t) * 1e3,
        t.simulated.as_secs_f64() / t.wall.as_secs_f64(),
        per_run(t) / per_run(base)
    );
}

fn main() {
    let s = Scenario::from_toml(REFERENCE, Path::new("harness-reference.toml")).unwrap_or_else(|e| panic!("{e}"));
    let base = model(&s);
    println!("reference workload: 200 mails, 2 MX, file server down 30 min, {SEEDS} seeds");
    line("kernel models", &base, &base);
    if cfg!(madsim) {
        let m = harness(&s, Duration::from_millis(100));
        line("harness on madsim", &m, &base);
    } else {
        let t100 = harness(&s, Duration::from_millis(100));
        line("harness on turmoil, 100 ms", &t100, &base);
        let t10 = harness(&s, Duration::from_millis(10));
        line("harness on turmoil, 10 ms", &t10, &base);
    }
}
