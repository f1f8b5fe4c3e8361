//! Nodes and their durable storage.
//!
//! A node is a state machine registered as a *factory* (as in turmoil): the
//! kernel keeps the node's durable state, and a restart builds a fresh node from
//! it. Everything else the node holds is volatile and dies with a crash. A
//! durable write takes simulated time (the fsync latency of the node's disk) and
//! completes with an `Input::Durable` event; a crash drops every write not yet
//! durable. This is where "acknowledged before fsync" bugs become data loss.
//!
//! Faults a correct node must survive here: a crash at any instant (losing
//! volatile state and pending writes), a restart from durable state only, and
//! arbitrarily slow durable writes.

use std::any::Any;
use std::collections::VecDeque;

use crate::rng::Stream;
use crate::sim::Ctx;
use crate::time::{Dur, Time};
use crate::{Message, NodeId};

/// Durable state: a value changed only by applying operations that have
/// completed their durable write.
pub trait Durable: 'static {
    /// What one durable write carries (`Disk::write`).
    type Op: 'static;
    /// Applies the operation of a completed write. Writes complete in the
    /// order they were started; a write lost to a crash is never applied.
    fn apply(&mut self, op: Self::Op);
}

impl Durable for () {
    type Op = ();
    fn apply(&mut self, _: ()) {}
}

/// Identifies one durable write of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WriteId(pub u64);

/// Identifies a timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u64);

/// Identifies an injected fault (its index in the run's fault log).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FaultId(pub u32);

/// What a node's handler is called with.
#[derive(Debug)]
pub enum Input<M> {
    /// The node booted: at the start of the run or after a restart.
    Start,
    /// A message arrived over the network.
    Message {
        /// The sending node.
        from: NodeId,
        /// The message, as the sender passed it to `Ctx::send`.
        msg: M,
    },
    /// A message this node sent could not be delivered because `to` was down
    /// and refused the connection.
    Refused {
        /// The node that refused it.
        to: NodeId,
        /// The message, given back.
        msg: M,
    },
    /// A timer this node set with `Ctx::set_timer` fired.
    Timer {
        /// The id `Ctx::set_timer` returned.
        id: TimerId,
        /// The tag given to `Ctx::set_timer`.
        tag: u64,
    },
    /// The durable write `write` completed and is now part of the disk state.
    Durable {
        /// The write's id, as `Disk::write` returned it.
        write: WriteId,
    },
    /// The failure monitor's verdict on a watched peer (`Ctx::watch`): `up`
    /// with the status it publishes, or down (unreachable for the watch's
    /// timeout; `status` is then 0).
    Peer {
        /// The watched node.
        peer: NodeId,
        /// Whether the peer reaches this node, in the monitor's judgement.
        up: bool,
        /// The status the peer publishes (`Ctx::publish`) if `up`; 0 if down.
        status: u64,
    },
    /// A model-defined fault was injected into this node.
    Fault {
        /// The fault's index in the run's fault log, for `Ctx::fault_effect`
        /// and `Ctx::fault_resolved`.
        id: FaultId,
        /// The kind given in `Fault::Model`.
        kind: String,
        /// The payload given in `Fault::Model`.
        msg: M,
    },
}

/// A node: a state machine over `Input`s, with durable state of type `Disk`.
pub trait Node<M: Message, W>: 'static {
    /// The node's durable state, kept by the kernel across crashes and given
    /// to the node's factory at every boot; `()` for a node without one.
    type Disk: Durable;
    /// Handles one input, acting through `ctx` (messages, timers, watches,
    /// the world) and `disk` (durable writes). Called only while the node
    /// is up.
    fn handle(&mut self, input: Input<M>, ctx: &mut Ctx<'_, M, W>, disk: &mut Disk<Self::Disk>);
}

/// Per-node settings of the kernel.
#[derive(Clone, Copy, Debug)]
pub struct NodeConfig {
    /// What a sender sees when this node is down (default:
    /// `DownMode::Refuse`).
    pub down: crate::net::DownMode,
    /// Shortest durable-write latency (default 0.5 ms). Each write's latency
    /// is drawn uniformly in `fsync_min..=fsync_max`, then scaled by any
    /// `Fault::SlowDisk`.
    pub fsync_min: Dur,
    /// Longest durable-write latency (default 2 ms); at least `fsync_min`
    /// (`Sim::add_node` panics otherwise).
    pub fsync_max: Dur,
}

impl Default for NodeConfig {
    /// A local SSD: fsync in 0.5-2 ms.
    fn default() -> Self {
        NodeConfig { down: crate::net::DownMode::Refuse, fsync_min: Dur::micros(500), fsync_max: Dur::millis(2) }
    }
}

/// The durable state of a node plus its writes in flight.
pub struct Disk<D: Durable> {
    state: D,
    pending: VecDeque<(WriteId, D::Op)>,
    next_write: u64,
    last_done: Time,
    fsync_min: Dur,
    fsync_max: Dur,
    slow_permille: u32,
    rng: Stream,
}

impl<D: Durable> Disk<D> {
    pub(crate) fn new(state: D, cfg: &NodeConfig, rng: Stream) -> Disk<D> {
        Disk {
            state,
            pending: VecDeque::new(),
            next_write: 0,
            last_done: Time::ZERO,
            fsync_min: cfg.fsync_min,
            fsync_max: cfg.fsync_max,
            slow_permille: 1000,
            rng,
        }
    }

    /// The durable state (every completed write applied).
    pub fn state(&self) -> &D {
        &self.state
    }

    /// Writes not yet durable, oldest first.
    pub fn pending(&self) -> impl Iterator<Item = &D::Op> {
        self.pending.iter().map(|(_, op)| op)
    }

    /// How many writes are not yet durable.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Starts a durable write. It completes (in order with the node's other
    /// writes) after the disk's fsync latency, with `Input::Durable`.
    pub fn write<M: Message, W>(&mut self, ctx: &mut Ctx<'_, M, W>, op: D::Op) -> WriteId {
        let id = WriteId(self.next_write);
        self.next_write += 1;
        let latency = self.rng.dur(self.fsync_min, self.fsync_max).scale_permille(self.slow_permille);
        let done = (ctx.now() + latency).max(self.last_done);
        self.last_done = done;
        self.pending.push_back((id, op));
        ctx.schedule_durable(done);
        id
    }

    fn complete(&mut self) -> WriteId {
        let (id, op) = self.pending.pop_front().expect("a completion event has a pending write");
        self.state.apply(op);
        id
    }

    fn crash(&mut self) {
        self.pending.clear();
        self.last_done = Time::ZERO;
    }
}

/// A registered node: the factory, the durable disk and, while up, the node.
pub struct Host<N, D: Durable> {
    pub(crate) node: Option<N>,
    pub(crate) disk: Disk<D>,
    factory: Box<dyn Fn(&D) -> N>,
}

impl<N, D: Durable> Host<N, D> {
    pub(crate) fn new(disk: Disk<D>, factory: Box<dyn Fn(&D) -> N>) -> Self {
        Host { node: None, disk, factory }
    }
    pub fn node(&self) -> Option<&N> {
        self.node.as_ref()
    }
    pub fn disk(&self) -> &Disk<D> {
        &self.disk
    }
}

/// The type-erased face of a host, used by the kernel loop.
pub(crate) trait AnyHost<M: Message, W> {
    fn handle(&mut self, input: Input<M>, ctx: &mut Ctx<'_, M, W>);
    fn complete_write(&mut self, ctx: &mut Ctx<'_, M, W>);
    fn crash(&mut self);
    fn boot(&mut self);
    fn set_disk_slow(&mut self, permille: u32);
    fn as_any(&self) -> &dyn Any;
}

impl<M: Message, W, N: Node<M, W>> AnyHost<M, W> for Host<N, N::Disk> {
    #[inline]
    fn handle(&mut self, input: Input<M>, ctx: &mut Ctx<'_, M, W>) {
        if let Some(node) = self.node.as_mut() {
            node.handle(input, ctx, &mut self.disk);
        }
    }
    fn complete_write(&mut self, ctx: &mut Ctx<'_, M, W>) {
        let write = self.disk.complete();
        if let Some(node) = self.node.as_mut() {
            node.handle(Input::Durable { write }, ctx, &mut self.disk);
        }
    }
    fn crash(&mut self) {
        self.node = None;
        self.disk.crash();
    }
    fn boot(&mut self) {
        self.node = Some((self.factory)(&self.disk.state));
    }
    fn set_disk_slow(&mut self, permille: u32) {
        self.disk.slow_permille = permille;
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}
