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
//!
//! A transition that cannot happen in a correct model — a mail leaving a
//! queue, a temporary store or a mailbox the ledger does not have it in, a
//! counter overflowing — is a bug of the model that reported it, not a
//! property of the mail service: it panics with the mail and the transition
//! (the kernel ends the run as `Outcome::ModelPanic`). Counters never
//! saturate, since saturating would hide exactly what the ledger is for.
//!
//! A lost mail's fate is known: it is settled and resolved at once, so that
//! eventual delivery judges the mails that can still arrive and custody
//! judges the loss; `Counts::delivered` counts the mails in their mailbox
//! (a delivered mail whose only copy is destroyed is no longer counted).
//! `reconcile.rs` counts the same figures a second, independent way, from
//! the components' final state.

use hdrhistogram::Histogram;
use mailsim_sim::{Config, Ctx, Declared, NodeId, Sim, Time};

use crate::msg::{MailId, MailboxId, Msg};

/// The invariants the ledger checks itself, at each transition: declared to
/// the run (`Sim::declare`) so that every report lists them. Custody: no
/// mail acknowledged before it is durable, none lost, none delivered twice.
pub const CUSTODY: Declared = Declared::always("custody");
/// No split brain: no mailbox written by two nodes at once, no cluster
/// resource running on two nodes at once.
pub const SPLIT_BRAIN: Declared = Declared::always("no split brain");
/// Checked by the kernel in the liveness phase (or at the end of a run
/// without a fault phase).
pub const EVENTUAL_DELIVERY: &str = "eventual delivery";

const HELD: u8 = 1;
const ACKED: u8 = 2;
const RETURNED: u8 = 4;
const RESOLVED: u8 = 16;
/// The mail's fate is settled: delivered, returned, given up by its sender,
/// or lost.
const SETTLED: u8 = 32;
/// Lost (counted in `Counts::lost` once).
const LOST: u8 = 64;
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
        ((self.created[0] as u64) << 32) + self.created[1] as u64
    }
}

/// Counters a run reports.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Mails written by their authors (every mail the ledger knows).
    pub submitted: u64,
    /// Mails acknowledged with 250 by the cluster (counted at the first 250).
    pub accepted: u64,
    /// Mails in their mailbox: first copies delivered, less those whose
    /// last mailbox copy was destroyed since.
    pub delivered: u64,
    /// Mails returned to their author by an MTA's DSN after the queue
    /// lifetime (once per mail, however many MTAs returned it).
    pub returned: u64,
    /// Given up by the sending side (never accepted by the cluster).
    pub sender_bounced: u64,
    /// Accepted mails lost: in no queue, temporary store or mailbox, and not
    /// returned. Each is a custody violation.
    pub lost: u64,
    /// `lost`, by the transition that lost the mail.
    pub lost_by: LostBy,
    /// Mailbox copies beyond a mail's first (each a custody violation).
    pub duplicate_deliveries: u64,
    /// Mails POP/IMAP clients downloaded again because UIDLs changed.
    pub client_duplicates: u64,
    /// `client_duplicates` of POP clients: mails downloaded again after
    /// their UIDLs changed (leave-on-server users, RFC 1939 §7).
    pub pop_redownloads: u64,
    /// `client_duplicates` of IMAP clients: mails fetched again when their
    /// cache was resynced after a UIDVALIDITY change (RFC 3501 §2.3.1.1).
    pub imap_resyncs: u64,
}

/// Lost mails by the transition that lost them.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LostBy {
    /// Removed from the last queue holding it (`dequeued`).
    pub queue: u64,
    /// Removed from a temporary store (`temp_removed`).
    pub temp_store: u64,
    /// Its last mailbox copy destroyed with its volume (`mailbox_lost`).
    pub mailbox: u64,
}

/// How a mail was lost: which transition left it nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Loss {
    Dequeued,
    TempRemoved,
    MailboxDestroyed,
}

/// Measurements of a run.
pub struct Stats {
    /// Delivery delay (author to mailbox), in seconds.
    pub delay_s: Histogram<u64>,
    /// Mailboxes unavailable (volume offline), as (time, count) at each change.
    pub unavailable: Vec<(Time, u32)>,
    /// Mails in all queues, sampled at each change of a node's queue depth
    /// bucket.
    pub queue_depth: Vec<DepthSample>,
    /// Service-level availability: attempts, users, doors (`availability`).
    pub availability: crate::availability::Availability,
    /// Bounces at senders per retry profile name.
    pub sender_bounces: Vec<(String, u64)>,
    /// Mails delivered (first copy) per simulated hour.
    pub delivered_per_hour: Vec<u32>,
    /// Mails accepted (first 250) per simulated hour.
    pub accepted_per_hour: Vec<u32>,
    /// When a node started running a cluster resource.
    pub resource_starts: Vec<ResourceStart>,
    /// The mailstore's speed as a share of normal (ppm): the mean over its
    /// volumes of the inverse latency multiplier, an offline volume counting
    /// zero, as (time, ppm) at each change. What "the storage's performance
    /// fell by 90%" is measured by.
    pub storage_speed: Vec<(Time, u32)>,
}

/// A node's mail queue depth from a time on (`Stats::queue_depth`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DepthSample {
    /// When the depth was sampled.
    pub at: Time,
    /// The node (`NodeId.0`).
    pub node: u32,
    /// Mails in its queue.
    pub depth: u32,
}

/// A node started running a cluster resource (`Stats::resource_starts`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceStart {
    /// When it started.
    pub at: Time,
    /// The resource group (`cluster::MAIL_SERVICES`, …).
    pub resource: usize,
    /// The node now running it.
    pub node: NodeId,
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
            storage_speed: Vec::new(),
        }
    }
}

/// The models' world: custody ledger plus measurements.
#[derive(Default)]
pub struct World {
    mails: Vec<Record>,
    /// The counters a run reports.
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
    /// The measurements: delays, queues, availability, series.
    pub stats: Stats,
    /// The coverage marks this run reached (`marks.rs`): reported, never
    /// judged.
    pub marks: crate::marks::Marks,
    /// When the first accepted mail became outstanding and when the last
    /// became delivered (for "time to full restore").
    pub last_delivery: Time,
    /// The most mails in flight at once (outstanding plus held by senders)
    /// and when, noted at the transitions that raise it.
    in_flight_peak: (u64, Time),
    /// Planted bug in the checker itself: `temp_removed` does not check
    /// whether the mail is left nowhere. Only tests set it, to show that the
    /// end-of-run reconciliation (`reconcile.rs`) catches what the ledger
    /// then misses.
    pub bug_blind_to_temp_store_loss: bool,
}

/// Where the ledger's records say the mails are now: the ledger's side of
/// the end-of-run reconciliation (`reconcile.rs`). Counts of mails, not of
/// copies, but for `extra_mailbox_copies`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// Mails in at least one durable queue.
    pub queued: u64,
    /// Mails in at least one temporary store.
    pub in_temp: u64,
    /// Mails in their mailbox.
    pub in_mailbox: u64,
    /// Mailbox copies beyond the first, over all mails.
    pub extra_mailbox_copies: u64,
}

type C<'a, 'b> = &'a mut Ctx<'b, Msg, World>;

/// A run over a fresh ledger, with the invariants it checks itself declared
/// (what every simulation of the models starts from).
pub fn new_sim(cfg: Config) -> Sim<Msg, World> {
    let mut sim = Sim::new(cfg, World::new());
    // Full traces read messages in words and follow a mail by its id.
    sim.describe_messages(Msg::describe_named, Msg::subject);
    sim.declare(CUSTODY);
    sim.declare(SPLIT_BRAIN);
    sim
}

impl World {
    /// An empty ledger (no mails yet).
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
            let open = &mut self.unsettled_by_hour[h];
            *open = open.checked_sub(1).unwrap_or_else(|| panic!("ledger: mail {id} settled while no mail of its hour is unsettled"));
        }
    }

    /// Mails written so far (ids are `0..mail_count`).
    pub fn mail_count(&self) -> usize {
        self.mails.len()
    }
    /// When mail `id` was written (ids follow the order of writing). The
    /// protocol harness replays a model run's workload at these instants,
    /// so that the two compare the same mails.
    pub fn created(&self, id: MailId) -> Time {
        Time(self.mails[id as usize].created_us())
    }
    /// Accepted mails not yet in their mailbox nor returned (nor lost).
    pub fn outstanding(&self) -> u64 {
        self.outstanding
    }
    /// Mails still held by their senders: neither accepted nor given up.
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
    /// Where the records say the mails are now (a scan of every record: for
    /// the end of a run).
    pub fn census(&self) -> Census {
        let mut c = Census::default();
        for r in &self.mails {
            c.queued += u64::from(r.queues > 0);
            c.in_temp += u64::from(r.temp > 0);
            c.in_mailbox += u64::from(r.mailbox > 0);
            c.extra_mailbox_copies += u64::from(r.mailbox.saturating_sub(1));
        }
        c
    }

    /// Copies of the mail in mailboxes (durably).
    pub fn in_mailbox(&self, id: MailId) -> u8 {
        self.mails[id as usize].mailbox
    }
    /// Durable queues holding the mail.
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
        let known = self.mails.len();
        match self.mails.get_mut(id as usize) {
            Some(r) => r,
            None => panic!("ledger: mail {id} was never written (the ledger knows {known} mails)"),
        }
    }

    fn resolve(&mut self, id: MailId) {
        let r = &mut self.mails[id as usize];
        if r.flags & ACKED != 0 && r.flags & RESOLVED == 0 {
            r.flags |= RESOLVED;
            self.outstanding = self
                .outstanding
                .checked_sub(1)
                .unwrap_or_else(|| panic!("ledger: mail {id} resolved while no accepted mail is outstanding"));
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
    ctx.note(u64::from(id), "written, held by its sender");
    id
}

/// The name of the node reporting a transition, for messages.
fn reporter(ctx: &C) -> String {
    ctx.name(ctx.me()).to_string()
}

/// A counter of copies one higher; panics (a model bug) on overflow.
fn one_more(n: u8, id: MailId, what: &str, ctx: &C) -> u8 {
    n.checked_add(1).unwrap_or_else(|| panic!("ledger: mail {id} {what} at {} beyond {} copies", reporter(ctx), u8::MAX))
}

/// A counter of copies one lower; panics (a model bug) if it is zero: the
/// mail left a place the ledger does not have it in.
fn one_less(n: u8, id: MailId, what: &str, ctx: &C) -> u8 {
    n.checked_sub(1).unwrap_or_else(|| panic!("ledger: mail {id} {what} at {}, but the ledger has no such copy", reporter(ctx)))
}

/// A queue write of mail `id` became durable on `node`.
pub fn enqueued(ctx: C, id: MailId) {
    ctx.note(u64::from(id), "durable in the queue");
    let n = ctx.world.rec(id).queues;
    let n = one_more(n, id, "enqueued", &ctx);
    ctx.world.rec(id).queues = n;
}

/// `node` answered 250 for mail `id`. It must already be durable in a queue.
pub fn acknowledged(ctx: C, id: MailId) {
    ctx.note(u64::from(id), "acknowledged with 250");
    let me = ctx.me();
    let now = ctx.now();
    let w = &mut *ctx.world;
    let first = w.rec(id).flags & ACKED == 0;
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
/// A sender may see several 250s for one mail (it sent it again after a
/// lost reply); only the first releases it.
pub fn sender_released(ctx: C, id: MailId) {
    let r = ctx.world.rec(id);
    if r.flags & HELD != 0 {
        r.flags &= !HELD;
        ctx.world.held =
            ctx.world.held.checked_sub(1).unwrap_or_else(|| panic!("ledger: mail {id} released by its sender while senders hold no mail"));
    }
}

/// The sending side gave up on a mail it never got accepted: returned to its
/// author by the sender's own MTA. Counted, not lost. Only a sender holding
/// the mail can give it up, and only once.
pub fn sender_bounced(ctx: C, id: MailId, profile: &str) {
    ctx.note(u64::from(id), "given up by its sender (bounced)");
    let flags = ctx.world.rec(id).flags;
    // Held is cleared by the release below, so a second bounce is refused too.
    if flags & HELD == 0 {
        let name = reporter(&ctx);
        panic!("ledger: mail {id} bounced by its sender at {name} while not held there (flags {flags:#04x})");
    }
    sender_released(ctx, id);
    let w = &mut *ctx.world;
    w.counts.sender_bounced += 1;
    w.settle(id);
    match w.stats.sender_bounces.iter_mut().find(|(p, _)| p == profile) {
        Some((_, n)) => *n += 1,
        None => w.stats.sender_bounces.push((profile.to_string(), 1)),
    }
}

/// The removal of mail `id` from `node`'s queue became durable.
pub fn dequeued(ctx: C, id: MailId) {
    ctx.note(u64::from(id), "removed from the queue");
    let n = ctx.world.rec(id).queues;
    let n = one_less(n, id, "dequeued", &ctx);
    let w = &mut *ctx.world;
    w.mails[id as usize].queues = n;
    if w.mails[id as usize].flags & ACKED != 0 && w.nowhere(id) {
        lose(ctx, id, Loss::Dequeued, "removed from the last queue holding it while in no mailbox and not returned");
    }
}

/// Mail `id` is now durably in its mailbox (one more copy).
pub fn delivered(ctx: C, id: MailId) {
    ctx.note(u64::from(id), "durable in its mailbox");
    let now = ctx.now();
    let n = ctx.world.rec(id).mailbox;
    let copies = one_more(n, id, "delivered", &ctx);
    let w = &mut *ctx.world;
    let r = &mut w.mails[id as usize];
    r.mailbox = copies;
    let created = r.created_us();
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
    ctx.note(u64::from(id), "in a temporary store");
    let n = ctx.world.rec(id).temp;
    let n = one_more(n, id, "stored temporarily", &ctx);
    ctx.world.rec(id).temp = n;
}

/// Mail `id` was removed from a temporary store (after merge-back).
pub fn temp_removed(ctx: C, id: MailId) {
    ctx.note(u64::from(id), "out of the temporary store");
    let n = ctx.world.rec(id).temp;
    let n = one_less(n, id, "removed from a temporary store", &ctx);
    let w = &mut *ctx.world;
    w.mails[id as usize].temp = n;
    if w.mails[id as usize].flags & ACKED != 0 && !w.bug_blind_to_temp_store_loss && w.nowhere(id) {
        lose(ctx, id, Loss::TempRemoved, "removed from a temporary store while in no mailbox and no queue");
    }
}

/// Mail `id` was returned to its author with a DSN (queue lifetime expired)
/// by the MTA whose queue holds it (its removal follows).
pub fn returned(ctx: C, id: MailId) {
    ctx.note(u64::from(id), "returned to its author (DSN)");
    if ctx.world.rec(id).queues == 0 {
        let name = reporter(&ctx);
        panic!("ledger: mail {id} returned to its author by {name} while in no queue");
    }
    let w = &mut *ctx.world;
    if w.mails[id as usize].flags & RETURNED == 0 {
        w.mails[id as usize].flags |= RETURNED;
        w.counts.returned += 1;
    }
    w.settle(id);
    w.resolve(id);
}

/// A mailbox copy of mail `id` was destroyed (storage data loss).
pub fn mailbox_lost(ctx: C, id: MailId) {
    mailbox_destroyed(ctx, id, "its only mailbox copy was destroyed with its volume");
}

/// The mailbox copy of mail `id` was damaged (corrupted or deleted) and no
/// usable backup copy holds it (`backup.rs`): destroyed, like
/// `mailbox_lost`, with that reason.
pub fn mailbox_unrecoverable(ctx: C, id: MailId) {
    mailbox_destroyed(ctx, id, "its mailbox copy was damaged and no usable backup holds it");
}

/// Mail `id` was in its mailbox on the primary copy only: a failover to the
/// replica (`replication.rs`) left it behind, inside the replication lag.
/// Destroyed, like `mailbox_lost`, with that reason.
pub fn replica_lost(ctx: C, id: MailId) {
    mailbox_destroyed(ctx, id, "written on the primary within the replication lag; the replica a failover promoted never had it");
}

/// Both copies of the replicated mailstore are primaries and both accepted
/// writes (a failover across a cut link): a split brain.
pub fn replicas_both_written(ctx: C, source: &str, target: &str) {
    ctx.violation(SPLIT_BRAIN, format!("mailstore copies at {source} and {target} both primary and both written"));
}

fn mailbox_destroyed(ctx: C, id: MailId, why: &str) {
    ctx.note(u64::from(id), "lost with its mailbox");
    let n = ctx.world.rec(id).mailbox;
    let n = one_less(n, id, "destroyed in its mailbox", &ctx);
    let w = &mut *ctx.world;
    w.mails[id as usize].mailbox = n;
    if n == 0 {
        w.counts.delivered = w
            .counts
            .delivered
            .checked_sub(1)
            .unwrap_or_else(|| panic!("ledger: mail {id} destroyed in its mailbox while none is delivered"));
    }
    if w.nowhere(id) {
        lose(ctx, id, Loss::MailboxDestroyed, why);
    }
}

/// Mail `id` is nowhere: counted once as lost, its fate settled, and a
/// custody violation reported.
fn lose(ctx: C, id: MailId, how: Loss, why: &str) {
    let w = &mut *ctx.world;
    if w.mails[id as usize].flags & LOST == 0 {
        w.mails[id as usize].flags |= LOST;
        w.counts.lost += 1;
        let by = &mut w.counts.lost_by;
        match how {
            Loss::Dequeued => by.queue += 1,
            Loss::TempRemoved => by.temp_store += 1,
            Loss::MailboxDestroyed => by.mailbox += 1,
        }
        w.settle(id);
        w.resolve(id);
    }
    let name = reporter(&ctx);
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
    ctx.world.stats.resource_starts.push(ResourceStart { at: now, resource: res, node });
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

/// A client of `proto` downloaded `n` mails again (UIDLs or UIDVALIDITY
/// changed): counted in `client_duplicates` and per protocol.
pub fn client_duplicates_by(ctx: C, proto: crate::msg::Proto, n: u64) {
    client_duplicates(ctx, n);
    match proto {
        crate::msg::Proto::Pop => ctx.world.counts.pop_redownloads += n,
        crate::msg::Proto::Imap => ctx.world.counts.imap_resyncs += n,
        crate::msg::Proto::Webmail => {}
    }
}

/// The number of mailboxes unavailable changed.
pub fn unavailable(ctx: C, count: u32) {
    let now = ctx.now();
    let s = &mut ctx.world.stats.unavailable;
    if s.last().map(|l| l.1) != Some(count) {
        s.push((now, count));
    }
}

/// The mailstore's speed (ppm of normal) may have changed.
pub fn storage_speed(ctx: C, ppm: u32) {
    let now = ctx.now();
    let s = &mut ctx.world.stats.storage_speed;
    if s.last().map(|l| l.1) != Some(ppm) {
        s.push((now, ppm));
    }
}

/// A node's queue depth changed notably.
pub fn queue_depth(ctx: C, depth: u32) {
    let now = ctx.now();
    let node = ctx.me().0;
    ctx.world.stats.queue_depth.push(DepthSample { at: now, node, depth });
}

/// The mailstore crashed: writes in flight died with it, so nobody is writing
/// any mailbox now.
pub fn mailbox_writes_aborted(world: &mut World) {
    for w in &mut world.writers {
        *w = NO_WRITER;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailsim_sim::{Config, Disk, Dur, Input, Node, NodeConfig, Outcome, RunReport, Sim};

    /// The ledger is most of a run's memory per mail: it grows only when
    /// full, and then by an eighth (at least 4,096 records), never by
    /// doubling and never by a fixed step (quadratic copying on long runs).
    #[test]
    fn the_ledger_grows_by_an_eighth_only_when_full() {
        let mut w = World::new();
        let mut cap = w.mails.capacity();
        let mut growths = 0;
        for i in 0..1_000_000u64 {
            let len = w.mails.len();
            w.new_mail(0, Time::from_micros(i));
            let now = w.mails.capacity();
            if now != cap {
                growths += 1;
                assert_eq!(len, cap, "grew at {len} records while {cap} were allocated");
                let step = (len / 8).max(4096);
                assert!(now >= len + step && now <= len + step + 64, "from {cap} to {now} at {len} records");
                cap = now;
            }
        }
        assert!((30..=45).contains(&growths), "{growths} growths for a million records (by an eighth from 4,096: 38)");
        assert_eq!(w.mails[999_999].created_us(), 999_999);
    }

    /// A node that runs a script of ledger transitions when it starts.
    struct Script(fn(&mut Ctx<'_, Msg, World>));

    impl Node<Msg, World> for Script {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            if matches!(input, Input::Start) {
                (self.0)(ctx);
            }
        }
    }

    /// Runs `script` on "mx-2", next to an idle "mx-1" (node 0).
    fn run(script: fn(&mut Ctx<'_, Msg, World>)) -> (Sim<Msg, World>, RunReport) {
        let mut sim = new_sim(Config::new(1));
        sim.add_node("mx-1", NodeConfig::default(), (), |_| Script(|_| {}));
        sim.add_node("mx-2", NodeConfig::default(), (), move |_| Script(script));
        let report = sim.run();
        (sim, report)
    }

    /// A node that runs a script of ledger transitions 90 s into the run.
    struct Later(fn(&mut Ctx<'_, Msg, World>));

    impl Node<Msg, World> for Later {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            match input {
                Input::Start => {
                    ctx.set_timer(Dur::secs(90), 0);
                }
                Input::Timer { .. } => (self.0)(ctx),
                _ => {}
            }
        }
    }

    /// A mail written at T+0 and delivered at T+90s waited 90 seconds: the
    /// delay is recorded in seconds (found by cargo-mutants: no test read a
    /// delay other than the 1 s floor).
    #[test]
    fn the_delivery_delay_is_recorded_in_seconds() {
        let mut sim = new_sim(Config::new(1));
        sim.add_node("mx-1", NodeConfig::default(), (), |_| Script(|_| {}));
        sim.add_node("mx-2", NodeConfig::default(), (), |_| {
            Later(|ctx| {
                let id = written(ctx, 0, Time::ZERO);
                enqueued(ctx, id);
                acknowledged(ctx, id);
                sender_released(ctx, id);
                delivered(ctx, id);
                dequeued(ctx, id);
            })
        });
        let report = sim.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let h = &sim.world().stats.delay_s;
        assert_eq!((h.len(), h.max()), (1, 90));
    }

    /// Likewise for a temporary store: a mail not yet acknowledged that
    /// leaves its last temporary store is still its sender's (found by
    /// cargo-mutants in `temp_removed`).
    #[test]
    fn a_temp_store_dropping_a_mail_not_yet_acknowledged_loses_nothing() {
        let (sim, report) = run(|ctx| {
            let now = ctx.now();
            let id = written(ctx, 0, now);
            enqueued(ctx, id);
            stored_temporarily(ctx, id);
            dequeued(ctx, id);
            temp_removed(ctx, id);
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        assert_eq!((sim.world().counts.lost, sim.world().held_by_senders()), (0, 1));
    }

    /// A mail not yet acknowledged is still its sender's: removing its last
    /// queue copy loses nothing, the sender retries (found by cargo-mutants:
    /// the `ACKED` test in `dequeued` could become always true unseen).
    #[test]
    fn dequeuing_a_mail_not_yet_acknowledged_loses_nothing() {
        let (sim, report) = run(|ctx| {
            let now = ctx.now();
            let id = written(ctx, 0, now);
            enqueued(ctx, id);
            dequeued(ctx, id);
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        assert_eq!((sim.world().counts.lost, sim.world().held_by_senders()), (0, 1));
    }

    fn violation(report: &RunReport, property: Declared) -> String {
        match &report.outcome {
            Outcome::SafetyViolation(v) if v.property == property.name => v.detail.clone(),
            o => panic!("expected a violation of `{property}`, got {o}"),
        }
    }

    fn panic_message(report: &RunReport) -> String {
        match &report.outcome {
            Outcome::ModelPanic { message, .. } => message.clone(),
            o => panic!("expected a model panic, got {o}"),
        }
    }

    /// Mail 0, written now and accepted by the script's node.
    fn accepted(ctx: C) -> MailId {
        let now = ctx.now();
        let id = written(ctx, 3, now);
        enqueued(ctx, id);
        acknowledged(ctx, id);
        sender_released(ctx, id);
        id
    }

    #[test]
    fn a_mail_queued_then_delivered_is_settled_resolved_and_counted_once() {
        let (sim, report) = run(|ctx| {
            let id = accepted(ctx);
            assert_eq!((ctx.world.outstanding(), ctx.world.held_by_senders(), ctx.world.in_queues(id)), (1, 0, 1));
            assert!(ctx.world.all_delivered().is_err());
            assert!(ctx.world.settled_before(Time::from_hours(1)).is_err());
            delivered(ctx, id);
            dequeued(ctx, id);
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let w = sim.world();
        let c = &w.counts;
        assert_eq!((c.submitted, c.accepted, c.delivered, c.lost, c.duplicate_deliveries), (1, 1, 1, 0, 0), "{c:?}");
        assert_eq!((w.outstanding(), w.held_by_senders(), w.mail_count()), (0, 0, 1));
        assert_eq!((w.in_mailbox(0), w.in_queues(0)), (1, 0));
        w.all_delivered().expect("delivered");
        w.settled_before(Time::from_hours(5)).expect("settled");
        assert_eq!(w.census(), Census { queued: 0, in_temp: 0, in_mailbox: 1, extra_mailbox_copies: 0 });
        assert_eq!((w.stats.accepted_per_hour.clone(), w.stats.delivered_per_hour.clone()), (vec![1], vec![1]));
        assert_eq!(w.stats.delay_s.len(), 1);
        // Held by its sender and outstanding at once, before the release.
        assert_eq!(w.in_flight_peak(), (2, Time::ZERO));
    }

    /// The peak's time is when it was first reached: a later equal count
    /// does not move it (found by cargo-mutants: `>` vs `>=` went unseen).
    #[test]
    fn the_in_flight_peak_keeps_the_first_time_it_was_reached() {
        let mut w = World::new();
        for (outstanding, held, at) in [(3, 0, 10), (1, 0, 20), (2, 1, 30), (4, 0, 40), (0, 4, 50)] {
            (w.outstanding, w.held) = (outstanding, held);
            w.note_in_flight(Time::from_secs(at));
        }
        assert_eq!(w.in_flight_peak(), (4, Time::from_secs(40)));
    }

    /// The census counts every record by where it is, and the mail count is
    /// every record (found by cargo-mutants: a one-mail test could not tell).
    #[test]
    fn the_census_counts_each_record_where_it_is() {
        let mut w = World::new();
        let mut add = |queues: u8, temp: u8, mailbox: u8| w.mails.push(Record { queues, temp, mailbox, ..Record::default() });
        add(2, 0, 0);
        add(1, 1, 0);
        add(0, 0, 3);
        add(0, 0, 1);
        add(0, 0, 0);
        assert_eq!(w.mail_count(), 5);
        assert_eq!(w.census(), Census { queued: 2, in_temp: 1, in_mailbox: 2, extra_mailbox_copies: 2 });
    }

    /// A mail delivered before its 250 reached the ledger (the ack still in
    /// flight) is resolved only when acknowledged: until then it is not
    /// counted out of the accepted mails outstanding (found by cargo-mutants:
    /// `flags & ACKED` could become `|` unseen).
    #[test]
    fn a_mail_delivered_before_its_ack_is_resolved_at_the_ack() {
        let (sim, report) = run(|ctx| {
            let a = accepted(ctx);
            let now = ctx.now();
            let b = written(ctx, 0, now);
            enqueued(ctx, b);
            delivered(ctx, b);
            assert_eq!(ctx.world.outstanding(), 1, "only a is accepted and outstanding");
            acknowledged(ctx, b);
            assert_eq!(ctx.world.outstanding(), 1, "b was delivered already");
            sender_released(ctx, b);
            dequeued(ctx, b);
            delivered(ctx, a);
            dequeued(ctx, a);
            assert_eq!(ctx.world.outstanding(), 0);
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        sim.world().all_delivered().expect("both delivered");
    }

    /// Mail still held by its sender is not delivered, even when nothing
    /// accepted is outstanding (found by cargo-mutants: the held half of the
    /// check was untested).
    #[test]
    fn mail_held_by_a_sender_is_not_all_delivered() {
        let (sim, _) = run(|ctx| {
            let now = ctx.now();
            written(ctx, 0, now);
        });
        let w = sim.world();
        assert_eq!((w.outstanding(), w.held_by_senders()), (0, 1));
        let e = w.all_delivered().expect_err("a mail is still held");
        assert!(e.contains("1 mails still held by senders"), "{e}");
    }

    #[test]
    fn the_in_flight_peak_counts_held_and_outstanding_mail_and_when() {
        let (sim, _) = run(|ctx| {
            let now = ctx.now();
            for _ in 0..3 {
                written(ctx, 0, now);
            }
            enqueued(ctx, 0);
            acknowledged(ctx, 0);
            // Held and outstanding at once: counted once per side.
            assert_eq!(ctx.world.in_flight_peak().0, 4);
            sender_released(ctx, 0);
            sender_released(ctx, 0);
            assert_eq!(ctx.world.held_by_senders(), 2, "a second 250 releases nothing more");
        });
        assert_eq!(sim.world().in_flight_peak(), (4, Time::ZERO));
    }

    #[test]
    fn dequeuing_the_last_copy_of_an_accepted_mail_loses_it_and_settles_it() {
        let (sim, report) = run(|ctx| {
            let id = accepted(ctx);
            dequeued(ctx, id);
        });
        let detail = violation(&report, CUSTODY);
        assert!(detail.contains("mail 0 lost at mx-2") && detail.contains("last queue"), "{detail}");
        let w = sim.world();
        assert_eq!((w.counts.lost, w.counts.lost_by.clone()), (1, LostBy { queue: 1, temp_store: 0, mailbox: 0 }));
        // Its fate is known: nothing outstanding, nothing unsettled.
        assert_eq!(w.outstanding(), 0);
        w.settled_before(Time::from_hours(1)).expect("a lost mail is settled");
        assert_eq!(w.counts.delivered, 0);
    }

    #[test]
    fn a_mail_dequeued_into_a_temp_store_is_lost_when_the_temp_store_drops_it() {
        let (sim, report) = run(|ctx| {
            let id = accepted(ctx);
            stored_temporarily(ctx, id);
            dequeued(ctx, id);
            assert_eq!(ctx.world.census().in_temp, 1);
            assert_eq!(ctx.world.counts.lost, 0, "still in the temp store");
            temp_removed(ctx, id);
        });
        let detail = violation(&report, CUSTODY);
        assert!(detail.contains("mail 0 lost") && detail.contains("temporary store"), "{detail}");
        let c = &sim.world().counts;
        assert_eq!((c.lost, c.lost_by.clone()), (1, LostBy { queue: 0, temp_store: 1, mailbox: 0 }));
        assert_eq!(sim.world().outstanding(), 0);
    }

    #[test]
    fn a_temp_store_merged_into_the_mailbox_loses_nothing() {
        let (sim, report) = run(|ctx| {
            let id = accepted(ctx);
            stored_temporarily(ctx, id);
            dequeued(ctx, id);
            delivered(ctx, id);
            temp_removed(ctx, id);
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        assert_eq!((sim.world().counts.lost, sim.world().counts.delivered), (0, 1));
    }

    #[test]
    fn a_ledger_blind_to_temp_store_loss_misses_it() {
        let mut sim = Sim::new(Config::new(1), World { bug_blind_to_temp_store_loss: true, ..World::new() });
        sim.declare(CUSTODY);
        sim.declare(SPLIT_BRAIN);
        sim.add_node("mx-1", NodeConfig::default(), (), |_| {
            Script(|ctx| {
                let id = accepted(ctx);
                stored_temporarily(ctx, id);
                dequeued(ctx, id);
                temp_removed(ctx, id);
            })
        });
        assert!(sim.run().outcome.is_ok());
        assert_eq!(sim.world().counts.lost, 0);
    }

    #[test]
    fn destroying_the_only_mailbox_copy_loses_the_mail_and_uncounts_its_delivery() {
        let (sim, report) = run(|ctx| {
            let id = accepted(ctx);
            delivered(ctx, id);
            dequeued(ctx, id);
            mailbox_lost(ctx, id);
        });
        let detail = violation(&report, CUSTODY);
        assert!(detail.contains("mail 0 lost") && detail.contains("destroyed"), "{detail}");
        let c = &sim.world().counts;
        assert_eq!((c.lost, c.delivered, c.lost_by.clone()), (1, 0, LostBy { queue: 0, temp_store: 0, mailbox: 1 }));
        assert_eq!(sim.world().census().in_mailbox, 0);
    }

    #[test]
    fn a_destroyed_mailbox_copy_with_a_queued_copy_left_is_not_lost_and_is_delivered_again() {
        let (sim, report) = run(|ctx| {
            let id = accepted(ctx);
            delivered(ctx, id);
            mailbox_lost(ctx, id);
            assert_eq!((ctx.world.counts.delivered, ctx.world.counts.lost), (0, 0));
            delivered(ctx, id);
            dequeued(ctx, id);
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let c = &sim.world().counts;
        assert_eq!((c.delivered, c.lost, c.duplicate_deliveries), (1, 0, 0), "{c:?}");
    }

    #[test]
    fn a_second_mailbox_copy_is_a_duplicate_delivery() {
        let (sim, report) = run(|ctx| {
            let id = accepted(ctx);
            delivered(ctx, id);
            delivered(ctx, id);
        });
        let detail = violation(&report, CUSTODY);
        assert!(detail.contains("mail 0 is in its mailbox 2 times: duplicate delivery"), "{detail}");
        let w = sim.world();
        assert_eq!((w.counts.delivered, w.counts.duplicate_deliveries), (1, 1));
        assert_eq!(w.census().extra_mailbox_copies, 1);
        assert_eq!(w.in_mailbox(0), 2);
    }

    #[test]
    fn a_250_before_the_queue_write_is_durable_breaks_custody() {
        let (sim, report) = run(|ctx| {
            let now = ctx.now();
            let id = written(ctx, 0, now);
            acknowledged(ctx, id);
        });
        let detail = violation(&report, CUSTODY);
        assert!(detail.contains("mail 0 acknowledged with 250 by mx-2 before it was durable"), "{detail}");
        assert_eq!((sim.world().counts.accepted, sim.world().outstanding()), (1, 1));
    }

    #[test]
    fn a_second_250_after_delivery_leaves_nothing_outstanding() {
        let (sim, report) = run(|ctx| {
            let id = accepted(ctx);
            enqueued(ctx, id);
            delivered(ctx, id);
            dequeued(ctx, id);
            // The other MX answers 250 for its copy only now.
            acknowledged(ctx, id);
            dequeued(ctx, id);
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let w = sim.world();
        assert_eq!((w.counts.accepted, w.outstanding()), (1, 0));
        w.all_delivered().expect("delivered");
    }

    #[test]
    fn a_mail_returned_by_two_mtas_is_counted_once_and_settled() {
        let (sim, report) = run(|ctx| {
            let id = accepted(ctx);
            enqueued(ctx, id);
            returned(ctx, id);
            dequeued(ctx, id);
            returned(ctx, id);
            dequeued(ctx, id);
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let w = sim.world();
        assert_eq!((w.counts.returned, w.counts.lost, w.outstanding()), (1, 0, 0));
        w.settled_before(Time::from_hours(1)).expect("settled");
    }

    #[test]
    fn sender_bounces_are_counted_per_profile_and_settle_the_mail() {
        let (sim, report) = run(|ctx| {
            let now = ctx.now();
            for _ in 0..3 {
                written(ctx, 0, now);
            }
            sender_bounced(ctx, 0, "exim");
            sender_bounced(ctx, 1, "72h");
            sender_bounced(ctx, 2, "exim");
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let w = sim.world();
        assert_eq!(w.counts.sender_bounced, 3);
        assert_eq!(w.stats.sender_bounces, vec![("exim".to_string(), 2), ("72h".to_string(), 1)]);
        assert_eq!(w.held_by_senders(), 0);
        w.settled_before(Time::from_hours(1)).expect("settled");
        w.all_delivered().expect("nothing held, nothing outstanding");
    }

    #[test]
    fn eventual_delivery_judges_only_the_hours_before_the_cutoff() {
        let mut w = World::new();
        w.new_mail(0, Time::from_secs(10));
        w.new_mail(0, Time::from_hours(2));
        let e = w.settled_before(Time::from_hours(1)).expect_err("hour 0 is open");
        assert!(e.starts_with("1 mails written before"), "{e}");
        assert!(w.settled_before(Time::ZERO + Dur::mins(59)).is_ok(), "no whole hour before");
        w.settle(0);
        w.settle(0);
        assert!(w.settled_before(Time::from_hours(2)).is_ok());
        let e = w.settled_before(Time::from_hours(3)).expect_err("hour 2 is open");
        assert!(e.starts_with("1 mails"), "{e}");
        assert_eq!((w.counts.submitted, w.held_by_senders()), (2, 2));
    }

    // ---- transitions that only a buggy model reports: panics ----

    #[test]
    fn dequeuing_a_mail_in_no_queue_is_a_model_panic() {
        let (_, report) = run(|ctx| {
            let now = ctx.now();
            let id = written(ctx, 0, now);
            dequeued(ctx, id);
        });
        let m = panic_message(&report);
        assert!(m.contains("mail 0 dequeued at mx-2") && m.contains("no such copy"), "{m}");
    }

    #[test]
    fn removing_a_mail_from_a_temp_store_not_holding_it_is_a_model_panic() {
        let (_, report) = run(|ctx| {
            let id = accepted(ctx);
            temp_removed(ctx, id);
        });
        let m = panic_message(&report);
        assert!(m.contains("mail 0 removed from a temporary store at mx-2"), "{m}");
    }

    #[test]
    fn destroying_a_mailbox_copy_that_does_not_exist_is_a_model_panic() {
        let (_, report) = run(|ctx| {
            let id = accepted(ctx);
            mailbox_lost(ctx, id);
        });
        let m = panic_message(&report);
        assert!(m.contains("mail 0 destroyed in its mailbox at mx-2"), "{m}");
    }

    #[test]
    fn returning_a_mail_in_no_queue_is_a_model_panic() {
        let (_, report) = run(|ctx| {
            let now = ctx.now();
            let id = written(ctx, 0, now);
            returned(ctx, id);
        });
        let m = panic_message(&report);
        assert!(m.contains("mail 0 returned to its author by mx-2 while in no queue"), "{m}");
    }

    #[test]
    fn a_sender_bouncing_a_mail_it_does_not_hold_is_a_model_panic() {
        let (_, report) = run(|ctx| {
            let now = ctx.now();
            let id = written(ctx, 0, now);
            sender_bounced(ctx, id, "postfix");
            sender_bounced(ctx, id, "postfix");
        });
        assert!(panic_message(&report).contains("mail 0 bounced by its sender at mx-2 while not held"));
        let (_, report) = run(|ctx| {
            let id = accepted(ctx);
            sender_bounced(ctx, id, "postfix");
        });
        assert!(panic_message(&report).contains("while not held"));
    }

    #[test]
    fn a_transition_of_a_mail_never_written_is_a_model_panic() {
        let (_, report) = run(|ctx| enqueued(ctx, 5));
        assert!(panic_message(&report).contains("mail 5 was never written (the ledger knows 0 mails)"));
    }

    #[test]
    fn copy_counters_overflowing_are_a_model_panic() {
        let (_, report) = run(|ctx| {
            let id = accepted(ctx);
            for _ in 0..255 {
                enqueued(ctx, id);
            }
        });
        assert!(panic_message(&report).contains("mail 0 enqueued at mx-2 beyond 255 copies"));
        let (_, report) = run(|ctx| {
            let id = accepted(ctx);
            for _ in 0..256 {
                stored_temporarily(ctx, id);
            }
        });
        assert!(panic_message(&report).contains("mail 0 stored temporarily at mx-2 beyond 255 copies"));
    }

    // ---- split brain ----

    #[test]
    fn two_live_writers_of_one_mailbox_are_a_split_brain_and_one_after_the_other_is_not() {
        let (_, report) = run(|ctx| {
            mailbox_write_begin(ctx, 5, NodeId(0));
            mailbox_write_begin(ctx, 5, NodeId(0));
            mailbox_write_end(ctx, 5, NodeId(1));
            mailbox_write_begin(ctx, 7, NodeId(1));
            mailbox_write_end(ctx, 5, NodeId(0));
            mailbox_write_begin(ctx, 5, NodeId(1));
            mailbox_write_end(ctx, 5, NodeId(1));
            mailbox_write_end(ctx, 99, NodeId(1));
            // Writes aborted by a crash of the mailstore end every writer.
            mailbox_write_begin(ctx, 6, NodeId(0));
            mailbox_writes_aborted(ctx.world);
            mailbox_write_begin(ctx, 6, NodeId(1));
            // A writer that went down writes nothing any more.
            mailbox_write_begin(ctx, 8, NodeId(0));
            node_down(ctx.world, NodeId(0));
            mailbox_write_begin(ctx, 8, NodeId(1));
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let (_, report) = run(|ctx| {
            mailbox_write_begin(ctx, 5, NodeId(0));
            mailbox_write_end(ctx, 5, NodeId(1));
            mailbox_write_begin(ctx, 5, NodeId(1));
        });
        assert_eq!(violation(&report, SPLIT_BRAIN), "mailbox 5 written by mx-1 and mx-2 at once");
    }

    #[test]
    fn a_resource_on_two_live_nodes_is_a_split_brain() {
        let (sim, report) = run(|ctx| {
            resource_started(ctx, 1, NodeId(0));
            resource_started(ctx, 1, NodeId(0));
            resource_stopped(ctx, 1, NodeId(0));
            resource_stopped(ctx, 4, NodeId(0));
            resource_started(ctx, 1, NodeId(1));
            node_down(ctx.world, NodeId(1));
            resource_started(ctx, 1, NodeId(0));
        });
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let starts: Vec<(usize, u32)> = sim.world().stats.resource_starts.iter().map(|s| (s.resource, s.node.0)).collect();
        assert_eq!(starts, vec![(1, 0), (1, 0), (1, 1), (1, 0)]);
        let (_, report) = run(|ctx| {
            resource_started(ctx, 0, NodeId(0));
            resource_started(ctx, 0, NodeId(1));
        });
        assert_eq!(violation(&report, SPLIT_BRAIN), "cluster resource 0 running on mx-1 and mx-2 at once");
    }

    // ---- measurements ----

    #[test]
    fn measurements_record_availability_depths_and_client_duplicates() {
        let (sim, _) = run(|ctx| {
            client_duplicates(ctx, 3);
            client_duplicates(ctx, 4);
            unavailable(ctx, 0);
            unavailable(ctx, 5);
            unavailable(ctx, 5);
            unavailable(ctx, 0);
            queue_depth(ctx, 17);
        });
        let w = sim.world();
        let s = &w.stats;
        assert_eq!(w.counts.client_duplicates, 7);
        assert_eq!(s.unavailable, vec![(Time::ZERO, 0), (Time::ZERO, 5), (Time::ZERO, 0)]);
        assert_eq!(s.queue_depth, vec![DepthSample { at: Time::ZERO, node: 1, depth: 17 }]);
    }

    #[test]
    fn hourly_series_grow_to_the_hour_and_count_in_it() {
        let mut series = Vec::new();
        bump_hour(&mut series, Time::from_secs(10));
        bump_hour(&mut series, Time::from_hours(2) + Dur::secs(1));
        bump_hour(&mut series, Time::from_hours(2));
        bump_hour(&mut series, Time(3_600_000_000 - 1));
        assert_eq!(series, vec![2, 0, 2]);
    }
}
