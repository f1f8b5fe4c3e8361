//! The custody ledger and the run's measurements: the models' ghost state.
//!
//! RFC 5321 makes a receiver that answered 250 after DATA responsible for the
//! mail: it must not lose it, even across a crash. The ledger follows every
//! mail through the places it can be — held by its sender, in a durable queue,
//! in a temporary store, in its mailbox, returned to its author — and checks
//! the custody invariant at every transition, in O(1), so that a million mails
//! cost a million small checks rather than a scan per event:
//! - a mail acknowledged with 250 must already be durable in a queue;
//! - a mail leaving its last queue must be in a mailbox, a temporary store, or
//!   returned to its author: otherwise it is *lost*;
//! - a mail in its mailbox twice is a *duplicate delivery*.
//!
//! Components report transitions through the functions of this module; a
//! violation is reported to the kernel at once. Components never read the
//! ledger to make decisions: it is what an all-seeing auditor would record.

use hdrhistogram::Histogram;
use mailsim_sim::{Config, Ctx, Declared, NodeId, Sim, Time};

use crate::msg::{MailId, MailboxId, Msg};

/// The invariants the ledger checks itself, at each transition: declared to
/// the run (`Sim::declare`) so that every report lists them.
pub const CUSTODY: Declared = Declared::always("custody");
pub const SPLIT_BRAIN: Declared = Declared::always("no split brain");
/// Checked by the kernel in the liveness phase (or at the end of a run
/// without a fault phase).
pub const EVENTUAL_DELIVERY: &str = "eventual delivery";

const HELD: u8 = 1;
const ACKED: u8 = 2;
const RETURNED: u8 = 4;
const SENDER_BOUNCED: u8 = 8;
const RESOLVED: u8 = 16;
/// The mail's fate is settled: delivered, returned, or given up by its sender.
const SETTLED: u8 = 32;
/// No node is writing the mailbox.
const NO_WRITER: u32 = u32::MAX;

/// Where one mail is. 12 bytes: the ledger holds one per mail ever written,
/// so this is most of a run's memory per mail. The creation time (µs) is
/// kept as two 32-bit halves, so that the record needs no 8-byte alignment;
/// the recipient is not kept (no check needs it).
#[derive(Clone, Copy, Debug, Default)]
struct Record {
    created: [u32; 2],
    flags: u8,
    queues: u8,
    mailbox: u8,
    temp: u8,
}

const _: () = assert!(std::mem::size_of::<Record>() == 12, "a ledger record is 12 bytes");

impl Record {
    fn created_us(&self) -> u64 {
        (self.created[0] as u64) << 32 | self.created[1] as u64
    }
}

/// Counters a run reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub submitted: u64,
    pub accepted: u64,
    pub delivered: u64,
    /// Returned to the author by an MTA's DSN after the queue lifetime.
    pub returned: u64,
    /// Given up by the sending side (never accepted by the cluster).
    pub sender_bounced: u64,
    pub lost: u64,
    pub duplicate_deliveries: u64,
    /// Mails POP/IMAP clients downloaded again because UIDLs changed.
    pub client_duplicates: u64,
}

/// Measurements of a run.
pub struct Stats {
    /// Delivery delay (author to mailbox), in seconds.
    pub delay_s: Histogram<u64>,
    /// Mailboxes unavailable (volume offline), as (time, count) at each change.
    pub unavailable: Vec<(Time, u32)>,
    /// Mails in all queues, sampled at each change of a node's queue depth
    /// bucket: (time, node, depth).
    pub queue_depth: Vec<(Time, u32, u32)>,
    /// Service-level availability: attempts, users, doors (`availability`).
    pub availability: crate::availability::Availability,
    /// Bounces at senders per retry profile name.
    pub sender_bounces: Vec<(String, u64)>,
    /// Mails delivered (first copy) per simulated hour.
    pub delivered_per_hour: Vec<u32>,
    /// Mails accepted (first 250) per simulated hour.
    pub accepted_per_hour: Vec<u32>,
    /// When a node started running a cluster resource: (time, resource, node).
    pub resource_starts: Vec<(Time, usize, NodeId)>,
}

fn bump_hour(series: &mut Vec<u32>, now: Time) {
    let h = (now.as_micros() / 3_600_000_000) as usize;
    if series.len() <= h {
        series.resize(h + 1, 0);
    }
    series[h] += 1;
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            delay_s: Histogram::new_with_bounds(1, 60 * 86_400, 3).expect("valid histogram bounds"),
            unavailable: Vec::new(),
            queue_depth: Vec::new(),
            availability: Default::default(),
            sender_bounces: Vec::new(),
            delivered_per_hour: Vec::new(),
            accepted_per_hour: Vec::new(),
            resource_starts: Vec::new(),
        }
    }
}

/// The models' world: custody ledger plus measurements.
#[derive(Default)]
pub struct World {
    mails: Vec<Record>,
    pub counts: Counts,
    /// Accepted mails not yet in their mailbox nor returned.
    outstanding: u64,
    /// Mails still held by their senders (neither accepted nor given up).
    held: u64,
    /// Mails not yet settled, by the hour they were written.
    unsettled_by_hour: Vec<u32>,
    /// Per mailbox, the node writing it now (`NO_WRITER` if none; split-brain
    /// check).
    writers: Vec<u32>,
    /// Per cluster resource, the nodes running it now.
    resources: Vec<Vec<NodeId>>,
    pub stats: Stats,
    /// When the first accepted mail became outstanding and when the last
    /// became delivered (for "time to full restore").
    pub last_delivery: Time,
    /// The most mails in flight at once (outstanding plus held by senders)
    /// and when, noted at the transitions that raise it.
    in_flight_peak: (u64, Time),
}

type C<'a, 'b> = &'a mut Ctx<'b, Msg, World>;

/// A run over a fresh ledger, with the invariants it checks itself declared
/// (what every simulation of the models starts from).
pub fn new_sim(cfg: Config) -> Sim<Msg, World> {
    let mut sim = Sim::new(cfg, World::new());
    sim.declare(CUSTODY);
    sim.declare(SPLIT_BRAIN);
    sim
}

impl World {
    pub fn new() -> World {
        World::default()
    }

    /// Registers a new mail written by an author for `rcpt`; returns its id.
    /// (The recipient travels in the mail's envelope; the ledger does not
    /// keep it.)
    pub fn new_mail(&mut self, _rcpt: MailboxId, created: Time) -> MailId {
        let id = self.mails.len() as MailId;
        if self.mails.len() == self.mails.capacity() {
            // Grow by an eighth rather than double: the ledger is most of a
            // run's memory, and doubling would leave up to half of it unused.
            self.mails.reserve_exact((self.mails.len() / 8).max(4096));
        }
        let us = created.as_micros();
        self.mails.push(Record { created: [(us >> 32) as u32, us as u32], flags: HELD, ..Record::default() });
        self.counts.submitted += 1;
        self.held += 1;
        let h = (created.as_micros() / 3_600_000_000) as usize;
        if self.unsettled_by_hour.len() <= h {
            self.unsettled_by_hour.resize(h + 1, 0);
        }
        self.unsettled_by_hour[h] += 1;
        id
    }

    /// Every mail written before `t` (by whole hours) is delivered, returned to
    /// its author, or given up by its sender: the eventual-delivery promise
    /// for the mail of an outage, while newer mail keeps flowing.
    pub fn settled_before(&self, t: Time) -> Result<(), String> {
        let hours = (t.as_micros() / 3_600_000_000) as usize;
        let open: u64 = self.unsettled_by_hour.iter().take(hours).map(|&n| n as u64).sum();
        if open > 0 {
            return Err(format!(
                "{open} mails written before {t} neither delivered nor returned ({} accepted ones outstanding, {} held by senders)",
                self.outstanding, self.held
            ));
        }
        Ok(())
    }

    fn settle(&mut self, id: MailId) {
        let r = &mut self.mails[id as usize];
        if r.flags & SETTLED == 0 {
            r.flags |= SETTLED;
            let h = (r.created_us() / 3_600_000_000) as usize;
            self.unsettled_by_hour[h] -= 1;
        }
    }

    pub fn mail_count(&self) -> usize {
        self.mails.len()
    }
    pub fn outstanding(&self) -> u64 {
        self.outstanding
    }
    pub fn held_by_senders(&self) -> u64 {
        self.held
    }
    /// The most mails in flight at once — accepted and not yet in their
    /// mailbox nor returned, or still held by their senders — and when. Noted
    /// at every mail written through [`written`] and every first 250, the
    /// only transitions that raise it, so it costs nothing per event.
    pub fn in_flight_peak(&self) -> (u64, Time) {
        self.in_flight_peak
    }

    fn note_in_flight(&mut self, now: Time) {
        let n = self.outstanding + self.held;
        if n > self.in_flight_peak.0 {
            self.in_flight_peak = (n, now);
        }
    }
    /// Copies of the mail in mailboxes (durably).
    pub fn in_mailbox(&self, id: MailId) -> u8 {
        self.mails[id as usize].mailbox
    }
    pub fn in_queues(&self, id: MailId) -> u8 {
        self.mails[id as usize].queues
    }

    /// Everything accepted is delivered or returned, and senders hold nothing.
    pub fn all_delivered(&self) -> Result<(), String> {
        if self.outstanding > 0 || self.held > 0 {
            return Err(format!("{} accepted mails not in their mailbox, {} mails still held by senders", self.outstanding, self.held));
        }
        Ok(())
    }

    fn rec(&mut self, id: MailId) -> &mut Record {
        &mut self.mails[id as usize]
    }

    fn resolve(&mut self, id: MailId) {
        let r = &mut self.mails[id as usize];
        if r.flags & ACKED != 0 && r.flags & RESOLVED == 0 {
            r.flags |= RESOLVED;
            self.outstanding -= 1;
        }
    }

    fn nowhere(&self, id: MailId) -> bool {
        let r = &self.mails[id as usize];
        r.queues == 0 && r.mailbox == 0 && r.temp == 0 && r.flags & RETURNED == 0
    }
}

/// An author wrote a new mail for `rcpt` at `created` (now or later: a
/// sender may write a batch ahead of their times); its sender holds it.
/// Returns its id. As [`World::new_mail`], and notes the peak in flight.
pub fn written(ctx: C, rcpt: MailboxId, created: Time) -> MailId {
    let now = ctx.now();
    let id = ctx.world.new_mail(rcpt, created);
    ctx.world.note_in_flight(now);
    id
}

/// A queue write of mail `id` became durable on `node`.
pub fn enqueued(ctx: C, id: MailId) {
    let r = ctx.world.rec(id);
    r.queues = r.queues.saturating_add(1);
}

/// `node` answered 250 for mail `id`. It must already be durable in a queue.
pub fn acknowledged(ctx: C, id: MailId) {
    let me = ctx.me();
    let now = ctx.now();
    let w = &mut *ctx.world;
    let first = w.mails[id as usize].flags & ACKED == 0;
    if first {
        w.mails[id as usize].flags |= ACKED;
        w.counts.accepted += 1;
        w.outstanding += 1;
        bump_hour(&mut w.stats.accepted_per_hour, now);
    }
    if w.mails[id as usize].queues == 0 {
        w.note_in_flight(now);
        let name = ctx.name(me).to_string();
        ctx.violation(CUSTODY, format!("mail {id} acknowledged with 250 by {name} before it was durable in a queue; a crash now loses it"));
        return;
    }
    // Delivered already through another copy? Then nothing is outstanding.
    if w.mails[id as usize].mailbox > 0 {
        w.resolve(id);
    }
    if first {
        w.note_in_flight(now);
    }
}

/// The sender saw the 250 (or gave up): the mail is no longer held there.
pub fn sender_released(ctx: C, id: MailId) {
    let r = ctx.world.rec(id);
    if r.flags & HELD != 0 {
        r.flags &= !HELD;
        ctx.world.held -= 1;
    }
}

/// The sending side gave up on a mail it never got accepted: returned to its
/// author by the sender's own MTA. Counted, not lost.
pub fn sender_bounced(ctx: C, id: MailId, profile: &str) {
    sender_released(ctx, id);
    let w = &mut *ctx.world;
    w.mails[id as usize].flags |= SENDER_BOUNCED;
    w.counts.sender_bounced += 1;
    w.settle(id);
    match w.stats.sender_bounces.iter_mut().find(|(p, _)| p == profile) {
        Some((_, n)) => *n += 1,
        None => w.stats.sender_bounces.push((profile.to_string(), 1)),
    }
}

/// The removal of mail `id` from `node`'s queue became durable.
pub fn dequeued(ctx: C, id: MailId) {
    let w = &mut *ctx.world;
    let r = &mut w.mails[id as usize];
    r.queues = r.queues.saturating_sub(1);
    if r.flags & ACKED != 0 && w.nowhere(id) {
        lose(ctx, id, "removed from the last queue holding it while in no mailbox and not returned");
    }
}

/// Mail `id` is now durably in its mailbox (one more copy).
pub fn delivered(ctx: C, id: MailId) {
    let now = ctx.now();
    let w = &mut *ctx.world;
    let r = &mut w.mails[id as usize];
    r.mailbox = r.mailbox.saturating_add(1);
    let (copies, created) = (r.mailbox, r.created_us());
    if copies == 1 {
        w.counts.delivered += 1;
        let delay_s = now.as_micros().saturating_sub(created) / 1_000_000;
        w.stats.delay_s.saturating_record(delay_s.max(1));
        w.last_delivery = now;
        w.settle(id);
        bump_hour(&mut w.stats.delivered_per_hour, now);
        w.resolve(id);
    } else {
        w.counts.duplicate_deliveries += 1;
        ctx.violation(CUSTODY, format!("mail {id} is in its mailbox {copies} times: duplicate delivery"));
    }
}

/// Mail `id` is now durably in a temporary store.
pub fn stored_temporarily(ctx: C, id: MailId) {
    let r = ctx.world.rec(id);
    r.temp = r.temp.saturating_add(1);
}

/// Mail `id` was removed from a temporary store (after merge-back).
pub fn temp_removed(ctx: C, id: MailId) {
    let w = &mut *ctx.world;
    let r = &mut w.mails[id as usize];
    r.temp = r.temp.saturating_sub(1);
    if r.flags & ACKED != 0 && w.nowhere(id) {
        lose(ctx, id, "removed from a temporary store while in no mailbox and no queue");
    }
}

/// Mail `id` was returned to its author with a DSN (queue lifetime expired).
pub fn returned(ctx: C, id: MailId) {
    let w = &mut *ctx.world;
    w.mails[id as usize].flags |= RETURNED;
    w.counts.returned += 1;
    w.settle(id);
    w.resolve(id);
}

/// A mailbox copy of mail `id` was destroyed (storage data loss).
pub fn mailbox_lost(ctx: C, id: MailId) {
    let w = &mut *ctx.world;
    let r = &mut w.mails[id as usize];
    r.mailbox = r.mailbox.saturating_sub(1);
    if w.nowhere(id) {
        lose(ctx, id, "its only mailbox copy was destroyed with its volume");
    }
}

fn lose(ctx: C, id: MailId, why: &str) {
    ctx.world.counts.lost += 1;
    let me = ctx.me();
    let name = ctx.name(me).to_string();
    ctx.violation(CUSTODY, format!("mail {id} lost at {name}: {why}"));
}

/// `node` starts writing mailbox `mb`. Two writers at once is a split brain.
pub fn mailbox_write_begin(ctx: C, mb: MailboxId, writer: NodeId) {
    if ctx.world.writers.len() <= mb as usize {
        ctx.world.writers.resize(mb as usize + 1, NO_WRITER);
    }
    match ctx.world.writers[mb as usize] {
        // A writer that crashed writes nothing any more.
        other if other != NO_WRITER && other != writer.0 && ctx.is_up_ghost(NodeId(other)) => {
            let (a, b) = (ctx.name(NodeId(other)).to_string(), ctx.name(writer).to_string());
            ctx.violation(SPLIT_BRAIN, format!("mailbox {mb} written by {a} and {b} at once"));
        }
        _ => ctx.world.writers[mb as usize] = writer.0,
    }
}

/// `node` finished writing mailbox `mb`.
pub fn mailbox_write_end(ctx: C, mb: MailboxId, writer: NodeId) {
    if let Some(slot) = ctx.world.writers.get_mut(mb as usize) {
        if *slot == writer.0 {
            *slot = NO_WRITER;
        }
    }
}

/// `node` started running cluster resource `res` (the mail services and their
/// shared spool). Two live nodes running it at once is a split brain.
pub fn resource_started(ctx: C, res: usize, node: NodeId) {
    let now = ctx.now();
    ctx.world.stats.resource_starts.push((now, res, node));
    let w = &mut *ctx.world;
    if w.resources.len() <= res {
        w.resources.resize(res + 1, Vec::new());
    }
    let mut holders = std::mem::take(&mut w.resources[res]);
    // A node that crashed runs nothing any more, whether or not anyone told us.
    holders.retain(|n| ctx.is_up_ghost(*n));
    if !holders.contains(&node) {
        holders.push(node);
    }
    ctx.world.resources[res] = holders.clone();
    let holders = &ctx.world.resources[res];
    if holders.len() > 1 {
        let names: Vec<String> = holders.clone().iter().map(|n| ctx.name(*n).to_string()).collect();
        ctx.violation(SPLIT_BRAIN, format!("cluster resource {res} running on {} at once", names.join(" and ")));
    }
}

/// `node` stopped running resource `res` (stopped, or powered off).
pub fn resource_stopped(ctx: C, res: usize, node: NodeId) {
    if let Some(holders) = ctx.world.resources.get_mut(res) {
        holders.retain(|n| *n != node);
    }
}

/// A node crashed or was powered off: it runs nothing and writes nothing.
/// Called by the node itself at boot (its previous life ended).
pub fn node_down(world: &mut World, node: NodeId) {
    for holders in &mut world.resources {
        holders.retain(|n| *n != node);
    }
    for w in &mut world.writers {
        if *w == node.0 {
            *w = NO_WRITER;
        }
    }
}

/// A POP/IMAP client downloaded `n` mails again (UIDLs changed).
pub fn client_duplicates(ctx: C, n: u64) {
    ctx.world.counts.client_duplicates += n;
}

/// The number of mailboxes unavailable changed.
pub fn unavailable(ctx: C, count: u32) {
    let now = ctx.now();
    let s = &mut ctx.world.stats.unavailable;
    if s.last().map(|l| l.1) != Some(count) {
        s.push((now, count));
    }
}

/// A node's queue depth changed notably.
pub fn queue_depth(ctx: C, depth: u32) {
    let now = ctx.now();
    let node = ctx.me().0;
    ctx.world.stats.queue_depth.push((now, node, depth));
}

/// The mailstore crashed: writes in flight died with it, so nobody is writing
/// any mailbox now.
pub fn mailbox_writes_aborted(world: &mut World) {
    for w in &mut world.writers {
        *w = NO_WRITER;
    }
}
