//! `check_determinism`: run one seed twice and name the first event at which
//! the two runs diverge (madsim's `check_determinism`, with FoundationDB's
//! habit of comparing whole traces rather than only final states).

use std::fmt;

use crate::sim::Sim;
use crate::trace::{Record, TraceMode};
use crate::Message;

/// Where two runs of one seed first differed.
#[derive(Clone, Debug)]
pub struct Divergence {
    /// The seed both runs were built from.
    pub seed: u64,
    /// Index of the first differing record (0-based).
    pub index: usize,
    /// The first run's record at `index` with its label, or `None` if that
    /// run ended before reaching it.
    pub first: Option<(Record, String)>,
    /// The second run's record at `index` with its label, or `None` if that
    /// run ended before reaching it.
    pub second: Option<(Record, String)>,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "seed {} is not deterministic: runs diverge at event #{}", self.seed, self.index)?;
        let show = |f: &mut fmt::Formatter<'_>, which: &str, r: &Option<(Record, String)>| match r {
            Some((r, label)) => {
                writeln!(f, "  {which}: {} {:?} node={} peer={} payload={:016x} {label}", r.time, r.kind, r.node, r.peer, r.payload)
            }
            None => writeln!(f, "  {which}: (run ended)"),
        };
        show(f, "first run ", &self.first)?;
        show(f, "second run", &self.second)
    }
}

/// Builds the simulation for `seed` twice with `build`, runs both with full
/// traces, and returns the trace hash if every record matches.
pub fn check_determinism<M: Message, W: 'static>(seed: u64, build: impl Fn(u64) -> Sim<M, W>) -> Result<u64, Box<Divergence>> {
    let run = || {
        let mut sim = build(seed);
        sim.set_trace(TraceMode::Full);
        let report = sim.run();
        let records: Vec<(Record, String)> =
            sim.trace().records().enumerate().map(|(i, r)| (*r, sim.trace().label(i).unwrap_or("").to_string())).collect();
        (report.trace_hash, records)
    };
    let (hash_a, a) = run();
    let (hash_b, b) = run();
    let n = a.len().max(b.len());
    for i in 0..n {
        let (x, y) = (a.get(i), b.get(i));
        let same = match (x, y) {
            (Some(x), Some(y)) => x.0 == y.0 && x.1 == y.1,
            _ => false,
        };
        if !same {
            return Err(Box::new(Divergence { seed, index: i, first: x.cloned(), second: y.cloned() }));
        }
    }
    assert_eq!(hash_a, hash_b, "identical records must hash identically");
    Ok(hash_a)
}
