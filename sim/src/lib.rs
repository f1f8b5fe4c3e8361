//! # mailsim-sim: a deterministic discrete-event simulation kernel
//!
//! Nodes are state machines; the kernel owns the clock, the agenda of pending
//! events, the network between nodes, each node's durable storage, the fault
//! plan and the properties. Same seed, same run, bit for bit: every draw comes
//! from a named `rand_chacha` stream derived from the seed, time is an integer
//! that jumps from event to event, and nothing reads the wall clock or spawns a
//! thread. The kernel knows nothing about what it simulates.
//!
//! A tiny example: a client writes a value to a store that acknowledges only
//! once the value is durable. A property checks that every acknowledged value
//! survives, even though the store crashes in the middle.
//!
//! ```
//! use mailsim_sim::*;
//!
//! #[derive(Debug, Hash)]
//! enum Msg { Put(u64), Ack(u64) }
//!
//! /// The store's durable state: the values it has made durable.
//! #[derive(Default)]
//! struct Values(Vec<u64>);
//! impl Durable for Values {
//!     type Op = u64;
//!     fn apply(&mut self, v: u64) { self.0.push(v) }
//! }
//!
//! /// Ghost state for the property: what the client saw acknowledged.
//! #[derive(Default)]
//! struct Acked(Vec<u64>);
//!
//! struct Store { waiting: Vec<(NodeId, u64)> }
//! impl Node<Msg, Acked> for Store {
//!     type Disk = Values;
//!     fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, Acked>, disk: &mut Disk<Values>) {
//!         match input {
//!             Input::Message { from, msg: Msg::Put(v) } => {
//!                 disk.write(ctx, v);
//!                 self.waiting.push((from, v));
//!             }
//!             // Acknowledge only once durable: writes complete in order.
//!             Input::Durable { .. } => {
//!                 let (from, v) = self.waiting.remove(0);
//!                 ctx.send(from, Msg::Ack(v));
//!             }
//!             _ => {}
//!         }
//!     }
//! }
//!
//! struct Client { store: NodeId, next: u64 }
//! impl Node<Msg, Acked> for Client {
//!     type Disk = ();
//!     fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, Acked>, _: &mut Disk<()>) {
//!         match input {
//!             Input::Start | Input::Timer { .. } if self.next < 20 => {
//!                 ctx.send(self.store, Msg::Put(self.next));
//!                 self.next += 1;
//!                 ctx.set_timer(Dur::millis(5), 0);
//!             }
//!             Input::Message { msg: Msg::Ack(v), .. } => ctx.world.0.push(v),
//!             _ => {}
//!         }
//!     }
//! }
//!
//! let mut sim: Sim<Msg, Acked> = Sim::new(Config::new(42), Acked::default());
//! let store = sim.add_node("store", NodeConfig::default(), Values::default(), |_| Store { waiting: vec![] });
//! sim.add_node("client", NodeConfig::default(), (), move |_| Client { store, next: 0 });
//! sim.schedule(Time::ZERO + Dur::millis(40), Fault::Crash(store));
//! sim.schedule(Time::ZERO + Dur::millis(60), Fault::Restart(store));
//! sim.always("acked values are durable", move |o| {
//!     let durable = &o.disk::<Store>(store).expect("a store").state().0;
//!     match o.world.0.iter().find(|v| !durable.contains(v)) {
//!         Some(v) => Err(format!("value {v} acknowledged but not durable")),
//!         None => Ok(()),
//!     }
//! });
//! let report = sim.run();
//! assert!(report.outcome.is_ok(), "{}", report.outcome);
//! assert!(report.faults.iter().all(|f| f.effect));
//! ```
//!
//! The pieces:
//! - [`Sim`] and [`Config`]: register nodes, links, faults and properties; `run`.
//! - [`Node`], [`Input`], [`Ctx`], [`Disk`], [`Durable`]: writing a node.
//! - [`Fault`], [`FaultProcess`]: scheduled and random faults; swarm mode.
//! - [`Stream`]: the named random streams.
//! - [`Trace`], [`check_determinism`]: the trace hash, exports, divergence.
//! - [`log::SimTimer`]: `tracing` lines stamped with simulated time.

mod agenda;
mod determinism;
mod fault;
pub mod log;
mod monitor;
mod net;
mod node;
mod property;
mod rng;
mod sim;
mod time;
mod trace;

use std::fmt::Debug;
use std::hash::Hash;

pub use determinism::{check_determinism, Divergence};
pub use fault::{Fault, FaultProcess, FaultReport, Generator, ProcessReport, ProcessView, UnfiredFault};
pub use net::{DownMode, LinkConfig};
pub use node::{Disk, Durable, FaultId, Input, Node, NodeConfig, TimerId, WriteId};
pub use property::{Declared, Observe, PropertyKind, PropertyReport, PropertyStatus, Violation};
pub use rng::{stream_id, Stream, PPM};
pub use sim::{current_time, Budget, Config, Ctx, Outcome, RunReport, Sim, RECOVERY};
pub use time::{Dur, Time, MICROS_PER_DAY, MICROS_PER_H, MICROS_PER_MIN, MICROS_PER_MS, MICROS_PER_S};
pub use trace::{
    named_fault, readable_fault, stable_hash, ChromeExport, Flow, Note, Record, RecordKind, Sample, Slice, StableHasher, Trace, TraceMode,
    INSTANTS_PER_TRACK_HOUR,
};

/// Identifies a node of a run, in order of registration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct NodeId(pub u32);

/// What a message type must be: printable for traces, hashable for the trace
/// hash (with `StableHasher`, so derive `Hash` and never hash pointers).
pub trait Message: Debug + Hash + 'static {}
impl<T: Debug + Hash + 'static> Message for T {}
