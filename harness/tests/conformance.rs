//! Conformance: the models and the real protocol code, on the same small
//! scenario files and seeds, must agree on what both can measure — every
//! mail delivered, none lost, none delivered twice, and the delivery-delay
//! distribution (p50, p99, max) within a stated tolerance.
//!
//! Tolerance: |harness − model| ≤ max(`ABS_S`, `REL_PERMILLE` of the
//! model's figure), for each of p50, p99 and max. The harness's mails are
//! written at the model run's instants (the same workload; recipients and
//! the senders' retry phases are still drawn apart). Why the two may differ
//! at all (ARCHITECTURE.md, "Conformance"): the harness's SMTP takes real
//! round trips on a 100 ms tick; queue runs every 300 s put most delays on
//! the same grid in both.
//!
//! Where the two differ for a known reason, the test pins the direction of
//! the difference (`Expect`), so that it is documented, not hidden: the
//! findings are in ARCHITECTURE.md ("Conformance").
//! `the_comparison_fails_when_the_outage_differs` shows the tolerance is
//! tight enough to tell a 20-minute outage from a 60-minute one.

// turmoil semantics (power-fail on crash, held links); madsim has its own
// test (`tests/madsim.rs`).
#![cfg(not(madsim))]

use std::path::PathBuf;
use std::time::Duration;

use mailsim::scenario::Scenario;

/// Absolute tolerance on a delay figure, seconds.
const ABS_S: u64 = 120;
/// Relative tolerance on a delay figure, per mille of the model's.
const REL_PERMILLE: u64 = 250;
/// Seeds each scenario runs on.
const SEEDS: std::ops::Range<u64> = 0..2;

#[derive(Debug)]
struct Measured {
    submitted: u64,
    delivered: u64,
    lost: u64,
    duplicates: u64,
    /// p50, p99, max delivery delay, seconds.
    delays: [u64; 3],
}

fn scenario(name: &str) -> Scenario {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(name);
    Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// A model run's figures, and when each of its mails was written.
fn model(s: &Scenario, seed: u64) -> (Measured, Vec<Duration>) {
    let (r, sim) = mailsim::run::run_with(s, seed, None);
    let world = sim.world();
    let written = (0..world.mail_count() as u32).map(|id| Duration::from_micros(world.created(id).as_micros())).collect();
    let f = r.figures;
    let m = Measured {
        submitted: f.submitted,
        delivered: f.delivered,
        lost: f.lost,
        duplicates: f.duplicates,
        delays: [f.delay_s_p50, f.delay_s_p99, f.delay_s_max],
    };
    (m, written)
}

/// The harness on the scenario, its mails written at the model run's
/// instants (`written`): the same workload, not just the same
/// distribution, so that a delay figure compares the same mails.
fn harness(s: &Scenario, seed: u64, written: &[Duration]) -> Measured {
    let mut setup = mailsim_harness::scenario::setup_from(s, seed).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(setup.arrivals.len(), written.len(), "{}: the model wrote another number of mails", s.name());
    for (a, at) in setup.arrivals.iter_mut().zip(written) {
        a.at = *at;
    }
    let out = mailsim_harness::run(&setup, seed).unwrap_or_else(|e| panic!("{e}"));
    let a = &out.audit;
    // The slowest mail's story, shown when the test fails.
    let slowest = (0..a.world.mail_count() as u32)
        .filter_map(|id| {
            let written = out.events.iter().find(|e| e.mail == id)?.at;
            let delivered = out.events.iter().find(|e| e.mail == id && e.what == mailsim_harness::journal::Transition::Delivered)?.at;
            Some((delivered - written, id))
        })
        .max();
    if let Some((_, id)) = slowest {
        eprintln!("{} seed {seed}: the slowest mail, {id}:\n{}", s.name(), out.timeline(id));
    }
    assert!(a.passed(), "{}: harness run failed the ledger: {:?}", s.name(), a.violations());
    let c = &a.world.counts;
    Measured {
        submitted: c.submitted,
        delivered: c.delivered,
        lost: c.lost,
        duplicates: c.duplicate_deliveries,
        delays: [a.delay_s(50.0), a.delay_s(99.0), a.delay_s(100.0)],
    }
}

fn within(h: u64, m: u64) -> bool {
    h.abs_diff(m) <= ABS_S.max(m * REL_PERMILLE / 1000)
}

/// Every difference between the two on one seed, empty if they conform.
fn differences(m: &Measured, h: &Measured) -> Vec<String> {
    let mut out = Vec::new();
    for (what, x) in [("model", m), ("harness", h)] {
        if x.delivered != x.submitted || x.lost != 0 || x.duplicates != 0 {
            out.push(format!("{what}: {} of {} delivered, {} lost, {} duplicates", x.delivered, x.submitted, x.lost, x.duplicates));
        }
    }
    for (i, name) in ["p50", "p99", "max"].iter().enumerate() {
        if !within(h.delays[i], m.delays[i]) {
            out.push(format!("delay {name}: harness {} s, model {} s", h.delays[i], m.delays[i]));
        }
    }
    out
}

/// What a scenario's delay figure (p50, p99, max) must show.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// Within the tolerance of the model's.
    Within,
    /// A documented difference: the harness's at least the model's.
    HarnessNotBelow,
    /// A documented difference: the harness's below the model's.
    HarnessBelow,
}

fn conforms(file: &str, expect: [Expect; 3]) {
    let s = scenario(file);
    let mut bad = Vec::new();
    for seed in SEEDS {
        let (m, written) = model(&s, seed);
        let h = harness(&s, seed, &written);
        eprintln!("{file} seed {seed}: model {m:?}\n{file} seed {seed}: harness {h:?}");
        for d in differences(&m, &h) {
            let figure = ["p50", "p99", "max"].iter().position(|f| d.starts_with(&format!("delay {f}:")));
            match figure.map(|i| (expect[i], h.delays[i], m.delays[i])) {
                Some((Expect::HarnessNotBelow, hv, mv)) if hv >= mv => {}
                Some((Expect::HarnessBelow, hv, mv)) if hv < mv => {}
                _ => bad.push(format!("seed {seed}: {d}")),
            }
        }
        // A documented difference must still be there: when it goes away,
        // the documentation (and this test) must change.
        for (i, e) in expect.iter().enumerate() {
            let (hv, mv) = (h.delays[i], m.delays[i]);
            match e {
                Expect::HarnessNotBelow if hv < mv => bad.push(format!("seed {seed}: figure {i}: harness {hv} s below model {mv} s")),
                Expect::HarnessBelow if hv >= mv => bad.push(format!("seed {seed}: figure {i}: harness {hv} s not below model {mv} s")),
                _ => {}
            }
        }
    }
    assert!(bad.is_empty(), "{file}: the harness and the model disagree:\n{}", bad.join("\n"));
}

use Expect::{HarnessBelow, HarnessNotBelow, Within};

/// The store down for 20 minutes: the same schedule after it is back; the
/// median differs because the harness first stalls on the crashed host.
#[test]
fn store_down_for_a_while_conforms() {
    conforms("store-down.toml", [HarnessNotBelow, Within, Within]);
}

#[test]
fn mx_crash_conforms() {
    conforms("mx-crash.toml", [Within, Within, Within]);
}

/// The MX hosts cut off from the store for 20 minutes: the same longest
/// delays; the median differs because a held connect completes at the
/// heal, where the models count the request lost and wait 1000 s.
#[test]
fn partition_from_the_store_conforms() {
    conforms("partition.toml", [HarnessBelow, Within, Within]);
}

/// The file server hangs for 20 minutes: mail whose delivery began early
/// in the hang is written when it ends, although the relay gave up at its
/// 1000 s limit — as the models' file server serves what it received.
#[test]
fn store_hang_conforms() {
    conforms("store-hang.toml", [Within, Within, Within]);
}

#[test]
fn the_comparison_fails_when_the_outage_differs() {
    // The model sees the store down for 20 minutes, the harness for 60.
    let s = scenario("store-down.toml");
    let longer = Scenario::from_toml(&std::fs::read_to_string(&s.path).expect("readable").replace("at = \"25m\"", "at = \"65m\""), &s.path)
        .unwrap_or_else(|e| panic!("{e}"));
    let (m, written) = model(&s, 0);
    let h = harness(&longer, 0, &written);
    assert!(!differences(&m, &h).is_empty(), "a 40-minute longer outage must not pass as conforming: model {m:?}, harness {h:?}");
}
