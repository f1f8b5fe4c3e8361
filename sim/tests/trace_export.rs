//! Trace export: a full trace is JSON lines (one object per record), and
//! Chrome trace-event JSON that Perfetto opens, with faults as slices and
//! metrics as counters. And `log::SimTimer` stamps `tracing` lines with
//! simulated time, so a model's log reads like the run, not like the wall
//! clock of the machine that replayed it.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex};

use common::*;
use mailsim_sim::log::SimTimer;
use mailsim_sim::*;
use serde_json::Value;

/// Reports a "backlog" gauge of 0, 1, 2, 3, 4 at 0, 10, ..., 40 ms, and logs a
/// line at 5 s.
#[derive(Default)]
struct Meter {
    next: i64,
}

impl Node<Msg, World> for Meter {
    type Disk = ();
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
        match input {
            Input::Start => {
                ctx.set_timer(Dur::secs(5), 1);
                self.gauge(ctx);
            }
            Input::Timer { tag: 0, .. } => self.gauge(ctx),
            Input::Timer { tag: 1, .. } => tracing::info!(target: "toy", "meter checks in"),
            _ => {}
        }
    }
}

impl Meter {
    fn gauge(&mut self, ctx: &mut Ctx<'_, Msg, World>) {
        ctx.gauge("backlog", self.next);
        self.next += 1;
        if self.next < 5 {
            ctx.set_timer(Dur::millis(10), 0);
        }
    }
}

/// The custody system with a crash at 47 ms and a restart at 60 ms, plus a meter.
fn exported(mode: TraceMode) -> Sim<Msg, World> {
    let (mut sim, store) = custody_system(3, false);
    sim.set_trace(mode);
    sim.add_node("meter", NodeConfig::default(), (), |_| Meter::default());
    sim.schedule(ms(47), Fault::Crash(store));
    sim.schedule(ms(60), Fault::Restart(store));
    let report = sim.run();
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    sim
}

#[test]
fn json_lines_has_one_object_per_record() {
    let sim = exported(TraceMode::Full);
    let text = sim.json_lines();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert_eq!(lines.len() as u64, sim.trace().len(), "every record is exported");
    assert!(lines.len() > 300);
    let mut last = 0;
    let mut kinds = std::collections::BTreeSet::new();
    for (i, line) in lines.iter().enumerate() {
        let object = line.as_object().expect("each line is an object");
        for key in ["t_us", "seq", "kind", "node", "peer", "payload", "label"] {
            assert!(object.contains_key(key), "line {i} lacks `{key}`: {line}");
        }
        let t = line["t_us"].as_u64().expect("t_us is an integer");
        assert!(t >= last, "line {i}: time goes backwards");
        last = t;
        assert!(!line["label"].as_str().expect("a label").is_empty(), "line {i}: full traces label every record");
        kinds.insert(line["kind"].as_str().expect("a kind").to_string());
    }
    for kind in ["start", "deliver", "timer", "durable", "crash", "restart", "fault"] {
        assert!(kinds.contains(kind), "no `{kind}` record in {kinds:?}");
    }
    let crash = lines.iter().find(|l| l["kind"] == "crash").expect("a crash record");
    assert_eq!(crash["t_us"], 47_000);
    assert_eq!(crash["node"], "store");
}

#[test]
fn tail_traces_export_only_their_tail() {
    let sim = exported(TraceMode::Tail(16));
    assert_eq!(sim.json_lines().lines().count(), 16);
    assert!(sim.samples().1.is_empty(), "gauges are kept in full traces only");
}

#[test]
fn chrome_trace_has_fault_slices_and_gauge_counters() {
    let sim = exported(TraceMode::Full);
    let json: Value = serde_json::from_str(&sim.chrome_trace()).expect("chrome trace is JSON");
    let events = json["traceEvents"].as_array().expect("a traceEvents array");

    let crash: Vec<&Value> = events.iter().filter(|e| e["ph"] == "X" && e["name"] == "crash store").collect();
    assert_eq!(crash.len(), 1, "one slice for the crash");
    assert_eq!(crash[0]["ts"], 47_000);
    assert_eq!(crash[0]["dur"], 13_000, "the slice lasts from the crash to the restart");

    let counters: Vec<(u64, i64)> = events
        .iter()
        .filter(|e| e["ph"] == "C" && e["name"] == "backlog")
        .map(|e| (e["ts"].as_u64().expect("ts"), e["args"]["backlog"].as_i64().expect("the value under the metric's name")))
        .collect();
    assert_eq!(counters, vec![(0, 0), (10_000, 1), (20_000, 2), (30_000, 3), (40_000, 4)]);

    let instants = events.iter().filter(|e| e["ph"] == "i").count() as u64;
    assert!(instants <= sim.trace().len(), "at most one instant per record");
    let all: Value = serde_json::from_str(&sim.chrome_trace_with(&[], None, None, &|_| None)).expect("chrome trace is JSON");
    let unsampled = all["traceEvents"].as_array().expect("events").iter().filter(|e| e["ph"] == "i").count() as u64;
    assert_eq!(unsampled, sim.trace().len(), "unsampled: one instant per record");
    let tracks: Vec<&str> =
        events.iter().filter(|e| e["ph"] == "M" && e["name"] == "thread_name").filter_map(|e| e["args"]["name"].as_str()).collect();
    for node in ["store", "writer", "meter", "kernel", "phases"] {
        assert!(tracks.contains(&node), "no track for `{node}` in {tracks:?}");
    }
}

/// A `Write` into a buffer the test keeps a handle to.
#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("unpoisoned").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn sim_timer_stamps_log_lines_with_simulated_time() {
    let buf = SharedBuf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt().with_timer(SimTimer).with_ansi(false).with_writer(move || writer.clone()).finish();
    let mut sim = Sim::new(Config::new(1), World::default());
    sim.add_node("meter", NodeConfig::default(), (), |_| Meter::default());
    let report = tracing::subscriber::with_default(subscriber, || sim.run());
    assert!(report.outcome.is_ok(), "{}", report.outcome);
    let text = String::from_utf8(buf.0.lock().expect("unpoisoned").clone()).expect("utf-8 log");
    let line = text.lines().find(|l| l.contains("meter checks in")).unwrap_or_else(|| panic!("no log line in:\n{text}"));
    assert!(line.starts_with("T+00:00:05.000000"), "not stamped with simulated time: {line}");
}

#[test]

fn chrome_trace_does_not_stretch_a_restart_over_the_rest_of_the_run() {
    let sim = exported(TraceMode::Full);
    let json: Value = serde_json::from_str(&sim.chrome_trace()).expect("chrome trace is JSON");
    let events = json["traceEvents"].as_array().expect("a traceEvents array");
    for e in events.iter().filter(|e| e["ph"] == "X" && e["name"] == "restart store") {
        assert!(e["dur"].as_u64().expect("dur") <= 1, "the restart at 60 ms is drawn as a slice of {} us: {e}", e["dur"]);
    }
}
