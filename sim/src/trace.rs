//! The trace: every event of a run, folded into a running hash and kept
//! compactly.
//!
//! The hash is the determinism oracle: same seed, same hash, in any process on
//! any machine. By default only the last few records are kept (for the tail of a
//! violation report); `TraceMode::Full` keeps every record with a readable label,
//! for determinism diffs and for export as JSON lines or as Chrome trace-event
//! JSON, which Perfetto (ui.perfetto.dev) opens with simulated timestamps.

use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use serde::Serialize;

use crate::time::Time;

/// What happened at one step of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A node booted (at start or after a restart).
    Start,
    /// A message reached its destination node.
    Deliver,
    /// A message was lost: link loss, partition, or a silent down node.
    Drop,
    /// A message came back: the destination was down and refused it.
    Refused,
    /// A timer of the node fired (`payload` is its tag).
    Timer,
    /// A durable write of the node completed.
    Durable,
    /// A node crashed: a crash fault, or powered off by the node in `peer`.
    Crash,
    /// A crashed node booted again: a restart fault, the heal at the end of
    /// the fault phase, or powered on by the node in `peer`.
    Restart,
    /// A fault (generic or model-defined) was injected.
    Fault,
    /// The fault phase ended and the liveness phase began.
    Phase,
    /// A metric sample (only in full traces).
    Metric,
    /// A failure monitor notice: a watched peer is up (with its status) or
    /// down (`Ctx::watch`).
    Peer,
}

/// One compact record. `payload` is a stable hash of the message or timer tag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// When it happened: the time of the event being handled.
    pub time: Time,
    /// The agenda sequence number of the event being handled. Events run in
    /// (time, seq) order; records made while handling one event share it.
    pub seq: u64,
    /// What happened.
    pub kind: RecordKind,
    /// The node it happened at (a `NodeId` index): the receiver of a
    /// delivery, the sender of a message dropped at send time, the down
    /// destination of a message it refuses or never answers, the sender
    /// when a refusal comes back, the watcher of a `Peer` notice, a fault's
    /// target (0 if it has none); `u32::MAX` for the kernel's own records.
    pub node: u32,
    /// The other node involved: the other end of a message, the watched
    /// peer, the node that powered `node` on or off (`node` itself
    /// otherwise, and for timers and durable writes), a two-node fault's
    /// second node (0 for other faults); `u32::MAX` for the kernel's own
    /// records.
    pub peer: u32,
    /// A fingerprint of what happened: the message's `stable_hash`, a
    /// timer's tag, the fault description's `stable_hash`, or a peer notice's
    /// `status << 1 | up`; 0 for boots, crashes, durable writes and the phase
    /// change.
    pub payload: u64,
}

impl Serialize for Time {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

/// How much of the trace a run keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TraceMode {
    /// Only the running hash and the last `n` records.
    Tail(usize),
    /// Every record, each with a readable label, and every metric sample.
    Full,
}

impl Default for TraceMode {
    fn default() -> Self {
        TraceMode::Tail(64)
    }
}

/// A stable (platform- and process-independent) hasher for payloads: FxHash's
/// multiply-rotate step. Not for untrusted keys; only for trace fingerprints.
#[derive(Default)]
pub struct StableHasher(u64);

impl StableHasher {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(Self::K);
    }
}

impl Hasher for StableHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut b = [0u8; 8];
            b[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(b) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(i as u64)
    }
    #[inline]
    fn write_u16(&mut self, i: u16) {
        self.add(i as u64)
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(i as u64)
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i)
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64)
    }
}

/// Stable hash of any `Hash` value.
#[inline]
pub fn stable_hash<T: Hash + ?Sized>(v: &T) -> u64 {
    let mut h = StableHasher::default();
    v.hash(&mut h);
    h.finish()
}

/// wyhash's multiply-fold ("mum"): the 128-bit product of two words, its
/// halves xored. Both words are first xored with fixed odd constants, so a
/// field that is zero does not zero the product.
#[inline]
fn mum(a: u64, b: u64) -> u64 {
    let m = ((a ^ 0xa076_1d64_78bd_642f) as u128).wrapping_mul((b ^ 0xe703_7ed1_a0b4_28db) as u128);
    (m as u64) ^ ((m >> 64) as u64)
}

/// The record's kind, node and peer as one word: node and peer side by side,
/// xored with a mask that differs per kind.
#[inline]
fn who(r: &Record) -> u64 {
    ((r.node as u64) << 32 | r.peer as u64) ^ (r.kind as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// The trace of one run.
#[derive(Clone, Debug)]
pub struct Trace {
    mode: TraceMode,
    hash: u64,
    count: u64,
    /// The kept records. In tail mode, once full, a ring whose oldest record
    /// is at `start` (overwritten in place: no shifting per event).
    records: Vec<Record>,
    start: usize,
    /// `n` once a `Tail(n)` trace keeps `n` records (the ring is full), else 0.
    ring: usize,
    labels: Vec<String>,
}

impl Trace {
    /// An empty trace that keeps what `mode` says.
    pub fn new(mode: TraceMode) -> Trace {
        let cap = match mode {
            TraceMode::Tail(n) => n,
            TraceMode::Full => 1024,
        };
        Trace { mode, hash: 0x243f_6a88_85a3_08d3, count: 0, records: Vec::with_capacity(cap), start: 0, ring: 0, labels: Vec::new() }
    }

    /// How much of the trace is kept.
    pub fn mode(&self) -> TraceMode {
        self.mode
    }
    /// Whether every record is kept, with its label (`TraceMode::Full`);
    /// metric samples are recorded only then.
    pub fn is_full(&self) -> bool {
        self.mode == TraceMode::Full
    }

    /// Folds a record into the hash and keeps it as the mode says. `label` is
    /// only called in full mode.
    #[inline]
    pub fn push(&mut self, r: Record, label: impl FnOnce() -> String) {
        // Two multiply-folds per record: (hash, time) with seq, then that
        // with the payload and (kind, node, peer).
        let h = mum(self.hash ^ r.time.0, r.seq);
        self.hash = mum(h ^ r.payload, who(&r));
        self.count += 1;
        if self.ring > 0 {
            // The common case: a full tail, overwritten in place.
            self.records[self.start] = r;
            self.start += 1;
            if self.start == self.ring {
                self.start = 0;
            }
            return;
        }
        match self.mode {
            TraceMode::Tail(0) => {}
            TraceMode::Tail(n) => {
                self.records.push(r);
                if self.records.len() == n {
                    self.ring = n;
                }
            }
            TraceMode::Full => {
                self.records.push(r);
                self.labels.push(label());
            }
        }
    }

    /// The running hash over every record so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }
    /// How many records have been folded in.
    pub fn len(&self) -> u64 {
        self.count
    }
    /// Whether no record has been folded in yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
    /// The kept records (all in full mode; the last n otherwise).
    pub fn records(&self) -> impl Iterator<Item = &Record> {
        let (newer, older) = self.records.split_at(self.start);
        older.iter().chain(newer)
    }
    /// The label of kept record `i` (full mode only).
    pub fn label(&self, i: usize) -> Option<&str> {
        self.labels.get(i).map(String::as_str)
    }
    /// The last `n` kept records with their labels (labels empty unless full).
    pub fn tail(&self, n: usize) -> Vec<(Record, String)> {
        let skip = self.records.len().saturating_sub(n);
        // Labels exist only in full mode, where the ring never wraps.
        self.records().enumerate().skip(skip).map(|(i, r)| (*r, self.labels.get(i).cloned().unwrap_or_default())).collect()
    }
}

/// A fault's interval on the timeline, for the Chrome export.
#[derive(Clone, Debug)]
pub struct Slice {
    pub name: String,
    pub track: String,
    pub start: Time,
    pub end: Time,
}

/// A metric sample, for the Chrome export.
#[derive(Clone, Copy, Debug)]
pub struct Sample {
    /// When it was taken.
    pub time: Time,
    /// Index of the metric's name in the names `Sim::samples` returns, in
    /// order of first use.
    pub metric: usize,
    /// The value given to `Ctx::gauge`.
    pub value: i64,
}

/// Writes a full trace as JSON lines: one object per record.
pub fn to_json_lines(trace: &Trace, node_names: &[String]) -> String {
    let mut out = String::new();
    for (i, r) in trace.records().enumerate() {
        let v = serde_json::json!({
            "t_us": r.time.0,
            "seq": r.seq,
            "kind": r.kind,
            "node": node_names.get(r.node as usize).map(String::as_str).unwrap_or("-"),
            "peer": node_names.get(r.peer as usize).map(String::as_str).unwrap_or("-"),
            "payload": format!("{:016x}", r.payload),
            "label": trace.label(i).unwrap_or(""),
        });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

/// Writes Chrome trace-event JSON (the format Perfetto and chrome://tracing
/// open): one track per node with its events as instants, faults as slices on
/// their tracks, metrics as counters. Timestamps are simulated microseconds.
pub fn to_chrome_json(trace: &Trace, node_names: &[String], slices: &[Slice], metric_names: &[&'static str], samples: &[Sample]) -> String {
    let mut events = Vec::new();
    let node_tid = |n: u32| n as u64 + 10;
    for (i, name) in node_names.iter().enumerate() {
        events.push(serde_json::json!({"ph": "M", "pid": 1, "tid": node_tid(i as u32), "name": "thread_name", "args": {"name": name}}));
    }
    events.push(serde_json::json!({"ph": "M", "pid": 1, "name": "process_name", "args": {"name": "simulation"}}));
    // Fault tracks get their own tids, after the nodes, in order of first use.
    let mut tracks: Vec<&str> = Vec::new();
    for s in slices {
        if !tracks.contains(&s.track.as_str()) {
            tracks.push(&s.track);
        }
    }
    let base = node_names.len() as u64 + 10;
    for (i, t) in tracks.iter().enumerate() {
        events.push(serde_json::json!({"ph": "M", "pid": 1, "tid": base + i as u64, "name": "thread_name", "args": {"name": t}}));
    }
    for s in slices {
        let tid = base + tracks.iter().position(|t| *t == s.track).expect("track listed") as u64;
        events.push(serde_json::json!({
            "ph": "X", "pid": 1, "tid": tid, "name": s.name, "cat": "fault",
            "ts": s.start.0, "dur": s.end.0.saturating_sub(s.start.0).max(1),
        }));
    }
    for (i, r) in trace.records().enumerate() {
        if r.kind == RecordKind::Metric {
            continue;
        }
        let mut name = String::new();
        let _ = write!(name, "{:?}", r.kind);
        events.push(serde_json::json!({
            "ph": "i", "s": "t", "pid": 1, "tid": node_tid(r.node), "ts": r.time.0,
            "name": name, "cat": "event",
            "args": {"label": trace.label(i).unwrap_or(""), "seq": r.seq, "peer": node_names.get(r.peer as usize)},
        }));
    }
    for s in samples {
        let name = metric_names.get(s.metric).copied().unwrap_or("metric");
        events.push(serde_json::json!({"ph": "C", "pid": 1, "ts": s.time.0, "name": name, "args": {name: s.value}}));
    }
    serde_json::json!({"traceEvents": events, "displayTimeUnit": "ms"}).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(t: u64, seq: u64) -> Record {
        Record { time: Time(t), seq, kind: RecordKind::Deliver, node: 1, peer: 2, payload: 3 }
    }

    #[test]
    fn hash_depends_on_every_field_and_order() {
        let mut a = Trace::new(TraceMode::Tail(4));
        let mut b = Trace::new(TraceMode::Tail(4));
        a.push(rec(1, 1), String::new);
        a.push(rec(2, 2), String::new);
        b.push(rec(2, 2), String::new);
        b.push(rec(1, 1), String::new);
        assert_ne!(a.hash(), b.hash());
        // Each field of a record changes the hash.
        let base = {
            let mut t = Trace::new(TraceMode::Tail(4));
            t.push(rec(1, 1), String::new);
            t.hash()
        };
        let changes: [fn(&mut Record); 6] =
            [|r| r.time = Time(2), |r| r.seq = 2, |r| r.kind = RecordKind::Timer, |r| r.node = 9, |r| r.peer = 9, |r| r.payload = 9];
        for change in changes {
            let mut r = rec(1, 1);
            change(&mut r);
            let mut t = Trace::new(TraceMode::Tail(4));
            t.push(r, String::new);
            assert_ne!(t.hash(), base, "{r:?}");
        }
        // Node and peer are not interchangeable.
        let mut swapped = rec(1, 1);
        (swapped.node, swapped.peer) = (2, 1);
        let mut t = Trace::new(TraceMode::Tail(4));
        t.push(swapped, String::new);
        assert_ne!(t.hash(), base);
    }

    #[test]
    fn tail_mode_keeps_only_the_last_records() {
        let mut t = Trace::new(TraceMode::Tail(2));
        for i in 0..10 {
            t.push(rec(i, i), String::new);
        }
        assert_eq!(t.len(), 10);
        let kept: Vec<u64> = t.records().map(|r| r.seq).collect();
        assert_eq!(kept, vec![8, 9]);
    }

    #[test]
    fn stable_hash_is_fixed_across_processes() {
        // A fixed value: if this changes, traces recorded earlier stop replaying.
        assert_eq!(stable_hash(&(1u32, "abc")), stable_hash(&(1u32, "abc")));
        assert_ne!(stable_hash(&(1u32, "abc")), stable_hash(&(2u32, "abc")));
    }
}
