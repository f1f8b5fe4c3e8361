//! The mail node (MTA / MX): accepts mail over SMTP into a durable local
//! queue, and a queue manager delivers it to the mailstore through a local
//! delivery agent, retrying with Postfix's backoff and returning it to its
//! author with a DSN when its queue lifetime is over.
//!
//! What it must get right is the promise of RFC 5321 §4.1.1.4 / RFC 1123
//! §5.3.3: the final 250 after DATA makes this node responsible for the mail,
//! so it answers 250 only once the mail is durable in its queue (Postfix's
//! `cleanup` fsyncs the queue file before `smtpd` answers). The replays rely on
//! it: during the ECCS lock outage (University of Tokyo ECCS, "Failure of
//! MailHosting service and ECCS Staff Email on May 19th and 20th", 25 May
//! 2018,
//! <https://www.ecc.u-tokyo.ac.jp/en/announcement/2018/05/25_2805.html>) and
//! the OpenSRS volume
//! outage (OpenSRS blog, "Update On Cluster A Email Service Issues", August
//! 2008,
//! <http://www.opensrs.com/blog/2008/08/update-on-cluster-a-email-service-issues/>)
//! inbound mail "is queued locally and delivered later",
//! and "no mail was lost". Two planted bugs make the custody checker fail:
//! `ack_before_durable` (250 before fsync, lost on a crash) and
//! `drop_expired_without_dsn` (expired mail silently deleted).
//!
//! Delivery follows Postfix's queue manager and `local(8)`:
//! - a new mail is tried at once; a deferred one waits for its backoff
//!   ([`RetryProfile::postfix`]: the mail's age clamped to 300–4000 s) and
//!   then for the next deferred-queue scan (`queue_run_delay` 300 s);
//! - at most `delivery_concurrency` deliveries run at once
//!   (`default_destination_concurrency_limit` = 20); the rest wait in the
//!   active queue, first come first served;
//! - the delivery agent appends to the mailbox over NFS, taking the mailbox
//!   lock; a lock failure, an offline volume or an I/O error exits EX_TEMPFAIL
//!   (75, sysexits.h) and the mail is deferred; a stalled NFS server (hard
//!   mount: "server not responding" after ~21 min with `timeo=600,retrans=6`,
//!   then retries forever) blocks the agent until Postfix kills it after
//!   `command_time_limit` = 1000 s, which also defers;
//! - after `maximal_queue_lifetime` (5 d) a failed mail is returned to its
//!   author with a delivery status notification (RFC 3464) and removed.
//!
//! Modeling choices, stated once:
//! - One queue entry per mail id. A mail accepted again while still queued
//!   here (its sender resent after a lost or late reply) is acknowledged again
//!   but not queued twice; the ledger sees one `enqueued`/`dequeued` pair and
//!   one `acknowledged` per 250. (Postfix would queue a second copy under a
//!   new queue id; the duplicate effect of a resend remains visible when the
//!   resend goes to another MX, or arrives after the first copy left.)
//! - While the SMTP service is stopped (`set_accepting(false)`, a cluster
//!   agent's decision) DATA is answered 421-style with `TempFail`, so the
//!   sender retries (another MX, or later); queued mail is still delivered.
//! - A failed local queue device (`ModelFault::LocalDeviceFail`, a
//!   disk controller or HBA, not a wiped disk): DATA is answered with a
//!   temporary failure (Postfix: "451 4.3.0 Error: queue file write
//!   error"), queued mail is not delivered (its queue files cannot be
//!   read), and both resume when `ReplaceHardware` replaces the device,
//!   its data intact. The device's state is durable: a reboot does not
//!   mend it. (Postfix, "Postfix Architecture Overview", queue manager and
//!   cleanup daemon, <https://www.postfix.org/OVERVIEW.html>.)
//! - New mail for a mailbox whose last delivery failed is answered per the
//!   inbound policy (`inbound.rs`): accepted and held (the default), 4xx or
//!   5xx, as Postfix's recipient address verification would.
//! - A relay (`MtaConfig::relay`, a backup MX) delivers by SMTP to its next
//!   hops instead of the mailstore, on the same queue, backoff and lifetime:
//!   the next hop's 250 ends its custody (the hop queued the mail durably
//!   first), a 4xx or no answer defers, a 5xx returns the mail with a DSN.
//! - Deadlines (retries, delivery timeouts) share kernel timers through
//!   [`Deadlines`]; nothing costs an extra event per mail.

use std::collections::VecDeque;

use mailsim_sim::{Ctx, Disk, Dur, Durable, FaultId, Input, Node, NodeId, Time, WriteId};

use crate::inbound::{InboundPolicy, Unavailable, DEFAULT_REFRESH};
use crate::ledger;
use crate::msg::{Action, Envelope, LocalDevice, MailId, ModelFault, Msg, Ops, Smtp, SmtpCode, StepId, Store};
use crate::retry::{Deadlines, RetryProfile};
use crate::timer::{MtaTimer, SetTimer, Timer};
use crate::World;

/// What an MTA does with new mail when its queue is at capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WhenFull {
    /// Answer 452 (insufficient system storage): the sender retries later,
    /// as Postfix's `smtpd` does when the queue file system is short of space.
    Refuse,
    /// Accept anyway (capacity is only a soft limit).
    Accept,
}

/// An MTA's settings; defaults are Postfix's.
#[derive(Clone, Debug, PartialEq)]
pub struct MtaConfig {
    /// The mailstore (NFS file server) node the delivery agent appends to.
    /// Must be set (the default is a placeholder that `Mta::new` rejects).
    pub store: NodeId,
    /// Backoff, queue scan and queue lifetime. Default: Postfix.
    pub retry: RetryProfile,
    /// A delivery attempt with no answer from the store within this is killed
    /// and deferred. Default 1000 s: Postfix `command_time_limit`, which ends
    /// a `mailbox_command` delivery agent blocked on a stalled hard mount.
    pub delivery_timeout: Dur,
    /// Deliveries in flight at most. Default 20: Postfix
    /// `default_destination_concurrency_limit`.
    pub delivery_concurrency: u32,
    /// Mails the queue disk holds. Default 2,000,000: an assumption (a
    /// 100 GB spool of 50 kB mails; Postfix itself has no count limit).
    pub queue_capacity: u32,
    /// What to do with new mail at `queue_capacity`. Default `Refuse` (452).
    pub when_full: WhenFull,
    /// What to answer new mail for a mailbox whose last delivery failed
    /// (`inbound.rs`). Default accept and hold.
    pub inbound_policy: InboundPolicy,
    /// How long a mailbox found unavailable is refused before the next mail
    /// for it is accepted as a probe. Default 3 h (Postfix
    /// `address_verify_negative_refresh_time`).
    pub unavailable_refresh: Dur,
    /// A relay (a backup MX): deliver by SMTP to these hosts, in turn per
    /// attempt, instead of appending to `store`. Empty (the default):
    /// deliver to the mailstore.
    pub relay: Vec<NodeId>,
    /// Planted bug: the delivery agent appends without the mailbox lock.
    pub lda_skips_lock: bool,
    /// Planted bug: answer 250 on receipt, before the queue write is durable.
    pub ack_before_durable: bool,
    /// Planted bug: delete expired mail without returning it to its author.
    pub drop_expired_without_dsn: bool,
    /// Queue depth is reported at most this often (and only on notable
    /// changes: a power of two crossed or a 1% change). Default 60 s.
    pub depth_sample_interval: Dur,
    /// Granularity of delivery-timeout timers (deliveries share a timer per
    /// tick; 5 s is nothing next to a 1000 s timeout). Default 5 s.
    pub tick: Dur,
}

impl MtaConfig {
    /// Postfix defaults, delivering to `store`.
    pub fn new(store: NodeId) -> MtaConfig {
        MtaConfig { store, ..MtaConfig::default() }
    }
}

const UNSET: NodeId = NodeId(u32::MAX);

impl Default for MtaConfig {
    fn default() -> Self {
        MtaConfig {
            store: UNSET,
            retry: RetryProfile::postfix(),
            delivery_timeout: Dur::secs(1000),
            delivery_concurrency: 20,
            queue_capacity: 2_000_000,
            when_full: WhenFull::Refuse,
            inbound_policy: InboundPolicy::AcceptAndHold,
            unavailable_refresh: DEFAULT_REFRESH,
            relay: Vec::new(),
            lda_skips_lock: false,
            ack_before_durable: false,
            drop_expired_without_dsn: false,
            depth_sample_interval: Dur::secs(60),
            tick: Dur::secs(5),
        }
    }
}

/// One mail in a durable queue, with when it entered this queue (Postfix
/// counts backoff and lifetime from the queue file's creation).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Queued {
    /// The mail.
    pub mail: Envelope,
    /// When this MTA queued it: the start of its backoff and queue lifetime.
    pub queued_at: Time,
}

/// The durable queue of an MTA: a slab of queue files. An operation names
/// the slot it concerns, so removal is O(1); the volatile state uses the
/// same slot numbers. It also keeps the MTA's own record of the mails it
/// returned to their authors (Postfix logs `status=expired, returned to
/// sender`), one bit per mail id, which the end-of-run reconciliation
/// (`reconcile.rs`) reads instead of the ledger.
#[derive(Clone, Debug, Default)]
pub struct QueueDisk {
    slots: Vec<Option<Queued>>,
    len: u32,
    returned: MailSet,
    /// The device holding the queue has failed (a hardware state that
    /// outlives a reboot; its data is intact, see [`Mta::fail_device`]).
    device_failed: bool,
}

/// A durable queue operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueueOp {
    /// Writes a queue file: the mail is durable here once this completes.
    Enqueue {
        /// The (free) slot written.
        slot: u32,
        /// The mail and when it was queued.
        queued: Queued,
    },
    /// Removes a mail; `returned`: it was returned to its author with a DSN.
    Dequeue {
        /// The slot emptied.
        slot: u32,
        /// The mail it must hold (checked).
        id: MailId,
        /// It was returned to its author (recorded for the reconciliation).
        returned: bool,
    },
    /// The queue's device fails (`true`) or is replaced (`false`).
    Device {
        /// Whether it has failed.
        failed: bool,
    },
}

impl Durable for QueueDisk {
    type Op = QueueOp;
    fn apply(&mut self, op: QueueOp) {
        match op {
            QueueOp::Enqueue { slot, queued } => {
                let s = slot as usize;
                if self.slots.len() <= s {
                    self.slots.resize(s + 1, None);
                }
                assert!(self.slots[s].is_none(), "queue slot {slot} written while holding a mail");
                self.slots[s] = Some(queued);
                self.len += 1;
            }
            QueueOp::Dequeue { slot, id, returned } => {
                let q = self.slots.get_mut(slot as usize).and_then(Option::take).expect("dequeue of an empty queue slot");
                assert_eq!(q.mail.id, id, "queue slot {slot} holds another mail");
                if returned {
                    self.returned.insert(id);
                }
                self.len -= 1;
                // A queue that drained after an outage gives its memory
                // back (the MTA numbers its slots from 0 again then).
                if self.len == 0 && self.slots.len() > RELEASE_SLOTS {
                    self.slots = Vec::new();
                }
            }
            QueueOp::Device { failed } => self.device_failed = failed,
        }
    }
}

impl QueueDisk {
    /// An empty queue (a new node's disk).
    pub fn new() -> QueueDisk {
        QueueDisk::default()
    }
    /// Mails durably queued.
    pub fn len(&self) -> u32 {
        self.len
    }
    /// Whether no mail is durably queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    /// The queued mails, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = &Queued> {
        self.slots.iter().flatten()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    /// Queue write in flight.
    Writing,
    /// In the active queue, waiting for a delivery slot.
    Ready,
    /// A delivery attempt is in flight.
    Active,
    /// Waiting for its retry time.
    Deferred,
    /// Removal write in flight (delivered, returned, or dropped).
    Removing,
}

/// Volatile state of one queue slot. 40 bytes.
#[derive(Clone, Copy, Debug)]
struct Entry {
    mail: Envelope,
    queued_at: Time,
    /// Bumped at every state change; stale deadlines carry an older one.
    generation: u32,
    attempts: u16,
    state: State,
}

/// A durable write in flight (writes complete in order).
#[derive(Clone, Copy, Debug)]
struct Pending {
    write: WriteId,
    slot: u32,
    /// Who gets the 250 once it is durable, and their slot for the mail.
    ack: Option<(NodeId, u32)>,
}

/// A set of mail ids: one bit per id, so that a million mails cost 125 kB
/// rather than a table of slots indexed by every mail id ever seen.
#[derive(Clone, Debug, Default)]
struct MailSet(Vec<u64>);

impl MailSet {
    fn contains(&self, id: MailId) -> bool {
        self.0.get(id as usize / 64).is_some_and(|w| w & (1 << (id % 64)) != 0)
    }
    fn insert(&mut self, id: MailId) {
        let word = id as usize / 64;
        if self.0.len() <= word {
            self.0.resize((word + 1).max(self.0.len() * 2), 0);
        }
        self.0[word] |= 1 << (id % 64);
    }
    fn remove(&mut self, id: MailId) {
        if let Some(w) = self.0.get_mut(id as usize / 64) {
            *w &= !(1 << (id % 64));
        }
    }
}

/// The MTA component. Hosted by [`MtaNode`] on a plain mail node, or next to
/// a cluster agent on a clustered machine.
pub struct Mta {
    cfg: MtaConfig,
    accepting: bool,
    /// The queue's local device has failed: nothing is accepted or
    /// delivered until it is replaced.
    device_failed: bool,
    /// The `local-device-failure` fault to resolve at the replacement.
    device_fault: Option<FaultId>,
    entries: Vec<Entry>,
    free: Vec<u32>,
    /// The mails queued here (writes in flight included). Replies name the
    /// slot they concern, so this is only needed to spot a mail sent again.
    queued: MailSet,
    /// Slots in use (the queue depth, writes in flight included).
    depth: u32,
    /// The active queue: slots waiting for a delivery slot.
    ready: VecDeque<u32>,
    in_flight: u32,
    writes: VecDeque<Pending>,
    /// Extra 250s owed for mails whose queue write is still in flight:
    /// (queue slot, sender, the sender's slot).
    extra_acks: Vec<(u32, NodeId, u32)>,
    deadlines: Deadlines,
    /// The generation a newly created entry starts from: above that of every
    /// entry forgotten when the queue drained, so that no deadline or reply
    /// for a forgotten slot matches a new one.
    generation_floor: u32,
    depth_reported: u32,
    depth_reported_at: Time,
    depth_timer: bool,
    /// The trace metric of this node's queue depth (`<node>/queue_depth`),
    /// named at the first report.
    depth_gauge: Option<&'static str>,
    /// Mailboxes whose last delivery failed, for the inbound policy (kept
    /// only when the policy rejects).
    unavailable: Unavailable,
}

impl Mta {
    /// Builds the MTA from its durable queue (at boot and after a restart):
    /// every queued mail gets a delivery attempt, as Postfix's queue manager
    /// does with the incoming and active queues after a restart.
    pub fn new(cfg: MtaConfig, disk: &QueueDisk) -> Mta {
        assert!(cfg.store != UNSET, "MtaConfig::store must name the mailstore node");
        assert!(cfg.delivery_concurrency > 0, "MtaConfig::delivery_concurrency must be positive");
        if let Err(e) = cfg.retry.validate() {
            panic!("MtaConfig::retry: {e}");
        }
        let mut entries = Vec::with_capacity(disk.slots.len());
        let mut free = Vec::new();
        let mut queued = MailSet::default();
        let mut ready = VecDeque::with_capacity(disk.len as usize);
        for (i, s) in disk.slots.iter().enumerate() {
            match s {
                Some(q) => {
                    queued.insert(q.mail.id);
                    entries.push(Entry { mail: q.mail, queued_at: q.queued_at, generation: 0, attempts: 0, state: State::Ready });
                    ready.push_back(i as u32);
                }
                None => {
                    entries.push(Entry { mail: EMPTY, queued_at: Time::ZERO, generation: 0, attempts: 0, state: State::Free });
                    free.push(i as u32);
                }
            }
        }
        free.reverse();
        let deadlines = Deadlines::new(cfg.tick, Timer::Mta(MtaTimer::Deadline));
        Mta {
            cfg,
            accepting: true,
            device_failed: disk.device_failed,
            device_fault: None,
            entries,
            free,
            queued,
            depth: disk.len,
            ready,
            in_flight: 0,
            writes: VecDeque::new(),
            extra_acks: Vec::new(),
            deadlines,
            generation_floor: 0,
            depth_reported: 0,
            depth_reported_at: Time::ZERO,
            depth_timer: false,
            depth_gauge: None,
            unavailable: Unavailable::default(),
        }
    }

    /// The settings it was built with.
    pub fn config(&self) -> &MtaConfig {
        &self.cfg
    }
    /// Mails in the queue (including writes in flight).
    pub fn depth(&self) -> u32 {
        self.depth
    }
    /// Deliveries in flight.
    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }
    /// Whether the SMTP service runs (see [`Mta::set_accepting`]; true at
    /// boot).
    pub fn accepting(&self) -> bool {
        self.accepting
    }

    /// Starts or stops the SMTP service (a cluster agent's resource action).
    /// Stopped, DATA is answered with a temporary failure.
    pub fn set_accepting(&mut self, on: bool) {
        self.accepting = on;
    }

    /// Whether the queue's local device has failed (see
    /// [`Mta::fail_device`]).
    pub fn device_failed(&self) -> bool {
        self.device_failed
    }

    /// The local device holding the queue fails: new mail is answered with
    /// a temporary failure (Postfix's "451 4.3.0 Error: queue file write
    /// error") and queued mail cannot be read, so nothing is delivered. The
    /// device's data is not destroyed (a failed disk controller, HBA or
    /// path, not a wiped disk): the mails queued on it wait, and are
    /// delivered once it is replaced. Deliveries already in flight finish.
    pub fn fail_device(&mut self, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        if !self.device_failed {
            self.device_failed = true;
            disk.write(ctx, QueueOp::Device { failed: true });
        }
    }

    /// The failed device is replaced (its data intact): accepting and
    /// delivering resume, every queued mail at once. Returns whether it had
    /// failed.
    pub fn repair_device(&mut self, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) -> bool {
        if !self.device_failed {
            return false;
        }
        self.device_failed = false;
        disk.write(ctx, QueueOp::Device { failed: false });
        if let Some(id) = self.device_fault.take() {
            ctx.fault_resolved(id);
        }
        self.flush_deferred(ctx);
        true
    }

    /// Tries every deferred mail now (`postqueue -f`).
    pub fn flush_deferred(&mut self, ctx: &mut Ctx<'_, Msg, World>) {
        for (i, e) in self.entries.iter_mut().enumerate() {
            if e.state == State::Deferred {
                e.state = State::Ready;
                e.generation = e.generation.wrapping_add(1);
                self.ready.push_back(i as u32);
            }
        }
        self.dispatch(ctx);
    }

    /// Handles one input: SMTP transactions, the mailstore's replies, a
    /// queue flush command, its timers and completed queue writes. Its host
    /// ([`MtaNode`], or `host::ClusterNode`) calls this.
    pub fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        match input {
            Input::Start => {
                self.report_depth(ctx);
                self.dispatch(ctx);
            }
            Input::Message { from, msg: Msg::Smtp(Smtp::Data { mail, slot }) } => self.receive(from, mail, slot, ctx, disk),
            Input::Message { msg: Msg::Store(Store::AppendReply { id, result, slot }), .. } => {
                self.attempt_answered(id, slot, result.is_ok(), ctx, disk);
            }
            // A relay's next hop answered: accepted (it is responsible now),
            // try again later, or refused for good (returned with a DSN).
            Input::Message { msg: Msg::Smtp(Smtp::Reply { id, code, slot }), .. } => {
                if let Some(slot) = self.active_slot(id, slot) {
                    match code {
                        SmtpCode::PermFail => self.bounce(slot, ctx, disk),
                        code => self.attempt_done(slot, code == SmtpCode::Accepted, ctx, disk),
                    }
                    self.dispatch(ctx);
                }
            }
            Input::Refused { msg: Msg::Smtp(Smtp::Data { mail, slot }), .. } => self.attempt_answered(mail.id, slot, false, ctx, disk),
            // The file server is down: the delivery agent fails at once.
            Input::Refused { msg: Msg::Store(Store::Append { mail, slot, .. }), .. } => {
                self.attempt_answered(mail.id, slot, false, ctx, disk);
            }
            Input::Fault { id, msg: Msg::Fault(ModelFault::LocalDeviceFail { device: LocalDevice::Queue }), .. } => {
                if !self.device_failed {
                    ctx.fault_effect(id);
                    self.device_fault = Some(id);
                }
                self.fail_device(ctx, disk);
            }
            Input::Message { from, msg: Msg::Ops(Ops::Command { step, action }) } => self.command(from, step, action, ctx, disk),
            Input::Timer { tag, .. } => match Timer::from_tag(tag) {
                Some(Timer::Mta(MtaTimer::Deadline)) => self.deadlines_due(ctx, disk),
                Some(Timer::Mta(MtaTimer::Depth)) => {
                    self.depth_timer = false;
                    if self.depth != self.depth_reported {
                        self.report_depth(ctx);
                    }
                }
                _ => {}
            },
            Input::Durable { write } => self.durable(write, ctx),
            _ => {}
        }
    }

    /// The delivery attempt of mail `id` in `slot` succeeded (`ok`) or
    /// failed, if it is still in flight there; then the next ones start.
    fn attempt_answered(&mut self, id: MailId, slot: u32, ok: bool, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        if let Some(slot) = self.active_slot(id, slot) {
            self.attempt_done(slot, ok, ctx, disk);
            self.dispatch(ctx);
        }
    }

    /// A runbook step's command from `from`: replace the queue device, or
    /// flush the queue; the MTA does nothing else, and says so.
    fn command(&mut self, from: NodeId, step: StepId, action: Action, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        match action {
            // The failed queue device is replaced; with nothing failed,
            // there is nothing to replace and the step is done.
            Action::ReplaceHardware => {
                self.repair_device(ctx, disk);
                ctx.send(from, Msg::Ops(Ops::StepDone { step }));
            }
            // `postqueue -f`: retry every deferred mail now.
            Action::FlushQueue => {
                self.flush_deferred(ctx);
                ctx.send(from, Msg::Ops(Ops::StepDone { step }));
            }
            action => {
                let reason = format!("{} does not {}", ctx.name(ctx.me()), action.name());
                ctx.send(from, Msg::Ops(Ops::StepFailed { step, reason }));
            }
        }
    }

    /// `slot` (echoed by the store) if a delivery attempt of mail `id` is in
    /// flight there.
    fn active_slot(&self, id: MailId, slot: u32) -> Option<u32> {
        let e = self.entries.get(slot as usize)?;
        (e.state == State::Active && e.mail.id == id).then_some(slot)
    }

    fn reply(ctx: &mut Ctx<'_, Msg, World>, to: NodeId, id: MailId, slot: u32, code: SmtpCode) {
        ctx.send(to, Msg::Smtp(Smtp::Reply { id, code, slot }));
    }

    fn ack(ctx: &mut Ctx<'_, Msg, World>, to: NodeId, id: MailId, slot: u32) {
        ledger::acknowledged(ctx, id);
        Mta::reply(ctx, to, id, slot, SmtpCode::Accepted);
    }

    /// SMTP DATA for `mail` from `from`, whose handle on it is `their`.
    fn receive(&mut self, from: NodeId, mail: Envelope, their: u32, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        if !self.accepting || self.device_failed {
            Mta::reply(ctx, from, mail.id, their, SmtpCode::TempFail);
            return;
        }
        if self.queued.contains(mail.id) {
            // Sent again while queued here: answer again, queue once. A
            // queue write still in flight owes its 250s until durable (the
            // writes in flight are few: a scan).
            let writing = self.writes.iter().map(|p| p.slot).find(|&s| {
                let e = &self.entries[s as usize];
                e.state == State::Writing && e.mail.id == mail.id
            });
            match writing {
                Some(slot) if !self.cfg.ack_before_durable => self.extra_acks.push((slot, from, their)),
                _ => Mta::ack(ctx, from, mail.id, their),
            }
            return;
        }
        if let Some(code) = self.cfg.inbound_policy.reply() {
            if self.unavailable.refuses(mail.rcpt, ctx.now(), self.cfg.unavailable_refresh) {
                Mta::reply(ctx, from, mail.id, their, code);
                return;
            }
        }
        if self.depth >= self.cfg.queue_capacity && self.cfg.when_full == WhenFull::Refuse {
            Mta::reply(ctx, from, mail.id, their, SmtpCode::TempFail);
            return;
        }
        let now = ctx.now();
        let slot = self.alloc(mail, now);
        let write = disk.write(ctx, QueueOp::Enqueue { slot, queued: Queued { mail, queued_at: now } });
        let ack = if self.cfg.ack_before_durable {
            // The planted bug: 250 now, while the queue file is not on disk.
            Mta::ack(ctx, from, mail.id, their);
            None
        } else {
            Some((from, their))
        };
        self.writes.push_back(Pending { write, slot, ack });
        self.depth_changed(ctx);
    }

    fn alloc(&mut self, mail: Envelope, now: Time) -> u32 {
        let slot = match self.free.pop() {
            Some(s) => s,
            None => {
                let generation = self.generation_floor;
                self.entries.push(Entry { mail: EMPTY, queued_at: Time::ZERO, generation, attempts: 0, state: State::Free });
                (self.entries.len() - 1) as u32
            }
        };
        let e = &mut self.entries[slot as usize];
        debug_assert_eq!(e.state, State::Free);
        *e = Entry { mail, queued_at: now, generation: e.generation.wrapping_add(1), attempts: 0, state: State::Writing };
        self.queued.insert(mail.id);
        self.depth += 1;
        slot
    }

    fn durable(&mut self, write: WriteId, ctx: &mut Ctx<'_, Msg, World>) {
        // Writes complete in order; one that is not ours belongs to a
        // component sharing the disk.
        match self.writes.front() {
            Some(p) if p.write == write => {}
            _ => return,
        }
        let p = self.writes.pop_front().expect("checked above");
        let e = &mut self.entries[p.slot as usize];
        let id = e.mail.id;
        match e.state {
            State::Writing => {
                e.state = State::Ready;
                e.generation = e.generation.wrapping_add(1);
                ledger::enqueued(ctx, id);
                if let Some((to, their)) = p.ack {
                    Mta::ack(ctx, to, id, their);
                }
                if !self.extra_acks.is_empty() {
                    let mut i = 0;
                    while i < self.extra_acks.len() {
                        if self.extra_acks[i].0 == p.slot {
                            let (_, to, their) = self.extra_acks.swap_remove(i);
                            Mta::ack(ctx, to, id, their);
                        } else {
                            i += 1;
                        }
                    }
                }
                self.ready.push_back(p.slot);
                self.dispatch(ctx);
            }
            State::Removing => {
                ledger::dequeued(ctx, id);
                e.state = State::Free;
                e.generation = e.generation.wrapping_add(1);
                self.queued.remove(id);
                self.free.push(p.slot);
                self.depth -= 1;
                if self.depth == 0 && self.entries.len() > RELEASE_SLOTS {
                    self.forget_slots();
                }
                self.depth_changed(ctx);
            }
            s => panic!("queue write completed for a slot in state {s:?}"),
        }
    }

    /// The queue drained after holding many mails: forgets its slots, so
    /// that their memory is given back, and numbers slots from 0 again.
    fn forget_slots(&mut self) {
        debug_assert!(self.entries.iter().all(|e| e.state == State::Free));
        let newest = self.entries.iter().map(|e| e.generation).max().unwrap_or(0);
        self.generation_floor = self.generation_floor.max(newest.wrapping_add(1));
        self.entries = Vec::new();
        self.free = Vec::new();
    }

    /// Starts deliveries while slots are free.
    fn dispatch(&mut self, ctx: &mut Ctx<'_, Msg, World>) {
        if self.device_failed {
            // The queue files cannot be read: they wait in the active queue.
            return;
        }
        while self.in_flight < self.cfg.delivery_concurrency {
            let Some(slot) = self.ready.pop_front() else { break };
            let e = &mut self.entries[slot as usize];
            debug_assert_eq!(e.state, State::Ready);
            e.state = State::Active;
            e.attempts = e.attempts.saturating_add(1);
            e.generation = e.generation.wrapping_add(1);
            let (mail, generation) = (e.mail, e.generation);
            self.in_flight += 1;
            if self.cfg.relay.is_empty() {
                ctx.send(self.cfg.store, Msg::Store(Store::Append { mail, locked: !self.cfg.lda_skips_lock, slot }));
            } else {
                // Next hops in turn, attempt by attempt (the first first).
                let hop = self.cfg.relay[(e.attempts as usize - 1) % self.cfg.relay.len()];
                ctx.send(hop, Msg::Smtp(Smtp::Data { mail, slot }));
            }
            let due = ctx.now() + self.cfg.delivery_timeout;
            self.deadlines.push_in_order(ctx, due, slot, generation);
        }
    }

    /// A delivery attempt ended: appended (`ok`), or a temporary failure.
    fn attempt_done(&mut self, slot: u32, ok: bool, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        let e = &mut self.entries[slot as usize];
        debug_assert_eq!(e.state, State::Active);
        e.generation = e.generation.wrapping_add(1);
        self.in_flight -= 1;
        if self.in_flight == 0 {
            // Every delivery timeout set so far is stale: dropped unread.
            self.deadlines.forget_in_order();
        }
        if self.cfg.inbound_policy != InboundPolicy::AcceptAndHold {
            match ok {
                true => self.unavailable.delivered(e.mail.rcpt),
                false => self.unavailable.failed(e.mail.rcpt, ctx.now()),
            }
        }
        if ok {
            self.remove(slot, false, ctx, disk);
        } else {
            self.defer(slot, ctx, disk);
        }
    }

    /// EX_TEMPFAIL: wait for the backoff and the next queue scan, or return
    /// the mail to its author once its lifetime is over.
    fn defer(&mut self, slot: u32, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        let now = ctx.now();
        let e = &mut self.entries[slot as usize];
        match self.cfg.retry.next_retry(e.attempts as u32, e.queued_at, now) {
            Some(t) => {
                e.state = State::Deferred;
                e.generation = e.generation.wrapping_add(1);
                let (due, generation) = (self.cfg.retry.scan_after(t), e.generation);
                self.deadlines.push(ctx, due, slot, generation);
            }
            None => {
                let dsn = !self.cfg.drop_expired_without_dsn;
                if dsn {
                    ledger::returned(ctx, e.mail.id);
                }
                self.remove(slot, dsn, ctx, disk);
            }
        }
    }

    /// A relay's next hop refused the mail for good (5xx): it goes back to
    /// its author with a DSN.
    fn bounce(&mut self, slot: u32, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        let e = &mut self.entries[slot as usize];
        e.generation = e.generation.wrapping_add(1);
        self.in_flight -= 1;
        if self.in_flight == 0 {
            self.deadlines.forget_in_order();
        }
        let dsn = !self.cfg.drop_expired_without_dsn;
        if dsn {
            ledger::returned(ctx, e.mail.id);
        }
        self.remove(slot, dsn, ctx, disk);
    }

    /// Removes the mail of `slot` (delivered, or `returned` with a DSN).
    fn remove(&mut self, slot: u32, returned: bool, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        let e = &mut self.entries[slot as usize];
        e.state = State::Removing;
        e.generation = e.generation.wrapping_add(1);
        let id = e.mail.id;
        let write = disk.write(ctx, QueueOp::Dequeue { slot, id, returned });
        self.writes.push_back(Pending { write, slot, ack: None });
    }

    fn deadlines_due(&mut self, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        let now = ctx.now();
        self.deadlines.fired(now);
        // A deadline may name a slot forgotten since (`forget_slots`).
        let current = |entries: &[Entry], s: u32, g: u32| entries.get(s as usize).is_some_and(|e| e.generation == g);
        while let Some((slot, generation)) = self.deadlines.pop_due(now, |s, g| current(&self.entries, s, g)) {
            if !current(&self.entries, slot, generation) {
                continue;
            }
            let e = &mut self.entries[slot as usize];
            match e.state {
                // The delivery agent hung (stalled NFS): killed, deferred.
                State::Active => self.attempt_done(slot, false, ctx, disk),
                State::Deferred => {
                    e.state = State::Ready;
                    e.generation = e.generation.wrapping_add(1);
                    self.ready.push_back(slot);
                }
                _ => {}
            }
        }
        self.dispatch(ctx);
        self.deadlines.rearm(ctx, |s, g| current(&self.entries, s, g));
    }

    /// Reports the queue depth when it crossed a power of two or moved by 1%
    /// since the last report, at most once per `depth_sample_interval`.
    fn depth_changed(&mut self, ctx: &mut Ctx<'_, Msg, World>) {
        let (d, last) = (self.depth, self.depth_reported);
        let crossed = d.leading_zeros() != last.leading_zeros();
        let moved = d != last && (d.abs_diff(last) as u64) * 100 >= last as u64;
        if !(crossed || moved) {
            return;
        }
        let next = self.depth_reported_at + self.cfg.depth_sample_interval;
        let now = ctx.now();
        if now >= next {
            self.report_depth(ctx);
        } else if !self.depth_timer {
            self.depth_timer = true;
            ctx.set(next - now, MtaTimer::Depth);
        }
    }

    fn report_depth(&mut self, ctx: &mut Ctx<'_, Msg, World>) {
        self.depth_reported = self.depth;
        self.depth_reported_at = ctx.now();
        ledger::queue_depth(ctx, self.depth);
        let gauge = *self.depth_gauge.get_or_insert_with(|| queue_gauge(ctx.name(ctx.me())));
        ctx.gauge(gauge, self.depth as i64);
    }
}

/// The trace metric of `node`'s queue depth, `<node>/queue_depth`: one
/// counter track per node, so two MX queues never interleave in one track.
/// The kernel names metrics with `&'static str`; each distinct node name is
/// leaked once per process (a handful of names, whatever the number of runs).
#[cfg(test)]
pub(crate) fn queue_gauge_for_tests(node: &str) -> &'static str {
    queue_gauge(node)
}

fn queue_gauge(node: &str) -> &'static str {
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    static NAMES: Mutex<BTreeMap<String, &'static str>> = Mutex::new(BTreeMap::new());
    let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(name) = names.get(node) {
        return name;
    }
    let name: &'static str = Box::leak(format!("{node}/queue_depth").into_boxed_str());
    names.insert(node.to_string(), name);
    name
}

/// A queue that drains with more slots than this gives their memory back.
const RELEASE_SLOTS: usize = 1024;

const EMPTY: Envelope = Envelope { id: 0, rcpt: 0, created: Time::ZERO };

/// A plain (non-clustered) mail node: just the MTA.
pub struct MtaNode {
    /// The node's MTA.
    pub mta: Mta,
}

impl MtaNode {
    /// Builds the node from its durable queue (see [`Mta::new`]).
    pub fn new(cfg: MtaConfig, disk: &QueueDisk) -> MtaNode {
        MtaNode { mta: Mta::new(cfg, disk) }
    }
}

impl Node<Msg, World> for MtaNode {
    type Disk = QueueDisk;
    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
        self.mta.handle(input, ctx, disk);
        // What monitoring's check of a stand-alone MTA finds.
        let serving = self.mta.accepting() && !self.mta.device_failed();
        ctx.publish(if serving { crate::ops::SERVING } else { 0 });
    }
}

// ---------------------------------------------------------------------------
// Read-only accessors for the end-of-run reconciliation (`reconcile.rs`).

impl QueueDisk {
    /// Whether this MTA returned mail `id` to its author with a DSN (its own
    /// durable record, not the ledger's).
    pub fn has_returned(&self, id: MailId) -> bool {
        self.returned.contains(id)
    }

    /// The mails whose removal is written but not yet durable, with whether
    /// each is a return to its author.
    pub fn pending_removals<'a>(ops: impl Iterator<Item = &'a QueueOp> + 'a) -> impl Iterator<Item = (MailId, bool)> + 'a {
        ops.filter_map(|op| match *op {
            QueueOp::Dequeue { id, returned, .. } => Some((id, returned)),
            QueueOp::Enqueue { .. } | QueueOp::Device { .. } => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{MailboxId, StoreError};
    use mailsim_sim::{Config, Fault, NodeConfig, Outcome, RunReport, Sim};

    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Mode {
        Ok,
        Err,
        /// Errors until this time, then appends.
        ErrUntil(Time),
        /// Never answers (a stalled hard mount).
        Hang,
    }

    /// A toy mailstore: records when each append arrived and answers per mode.
    struct ToyFiler {
        mode: Mode,
        appends: Vec<(Time, MailId)>,
    }
    impl Node<Msg, World> for ToyFiler {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            if let Input::Message { from, msg: Msg::Store(Store::Append { mail, locked, slot }) } = input {
                assert!(locked, "the delivery agent takes the mailbox lock");
                self.appends.push((ctx.now(), mail.id));
                let ok = match self.mode {
                    Mode::Ok => true,
                    Mode::Err | Mode::Hang => false,
                    Mode::ErrUntil(t) => ctx.now() >= t,
                };
                if self.mode == Mode::Hang {
                    return;
                }
                let result = if ok {
                    ledger::delivered(ctx, mail.id);
                    Ok(())
                } else {
                    Err(StoreError::Lock)
                };
                ctx.send(from, Msg::Store(Store::AppendReply { id: mail.id, result, slot }));
            }
        }
    }

    /// A toy sender: `n` mails, one every `every`, each sent once.
    struct ToySender {
        mx: NodeId,
        n: u32,
        every: Dur,
        replies: Vec<(MailId, SmtpCode)>,
    }
    impl Node<Msg, World> for ToySender {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            match input {
                Input::Start => {
                    for i in 0..self.n {
                        let delay = self.every.saturating_mul(i as u64);
                        let id = ctx.world.new_mail(i as MailboxId, ctx.now() + delay);
                        let mail = Envelope { id, rcpt: i, created: ctx.now() + delay };
                        ctx.send_after(delay, self.mx, Msg::Smtp(Smtp::Data { mail, slot: i }));
                    }
                }
                Input::Message { msg: Msg::Smtp(Smtp::Reply { id, code, .. }), .. } => {
                    if code == SmtpCode::Accepted {
                        ledger::sender_released(ctx, id);
                    }
                    self.replies.push((id, code));
                }
                _ => {}
            }
        }
    }

    struct Run {
        sim: Sim<Msg, World>,
        mta: NodeId,
        filer: NodeId,
        sender: NodeId,
    }

    fn setup(cfg: impl Fn(&mut MtaConfig) + 'static, mode: Mode, n: u32, every: Dur, end: Time) -> Run {
        let mut c = Config::new(7);
        c.end_at = Some(end);
        let mut sim: Sim<Msg, World> = crate::ledger::new_sim(c);
        let filer = sim.add_node("filer", NodeConfig::default(), (), move |_| ToyFiler { mode, appends: Vec::new() });
        // A slow queue disk (fsync 50-200 ms) widens the window a crash can hit.
        let disk = NodeConfig { fsync_min: Dur::millis(50), fsync_max: Dur::millis(200), ..NodeConfig::default() };
        let mta = sim.add_node("mx-1", disk, QueueDisk::new(), move |d| {
            let mut m = MtaConfig::new(filer);
            cfg(&mut m);
            MtaNode::new(m, d)
        });
        let sender = sim.add_node("internet", NodeConfig::default(), (), move |_| ToySender { mx: mta, n, every, replies: Vec::new() });
        Run { sim, mta, filer, sender }
    }

    impl Run {
        fn run(&mut self) -> RunReport {
            self.sim.run()
        }
        fn appends(&self) -> Vec<u64> {
            self.sim.node::<ToyFiler>(self.filer).expect("filer up").appends.iter().map(|a| a.0.as_secs()).collect()
        }
        fn replies(&self, code: SmtpCode) -> usize {
            self.sim.node::<ToySender>(self.sender).expect("sender up").replies.iter().filter(|r| r.1 == code).count()
        }
        fn queued(&self) -> u32 {
            self.sim.disk::<MtaNode>(self.mta).expect("mta disk").state().len()
        }
    }

    fn crash_and_restart(r: &mut Run) {
        for k in 0..4u64 {
            let at = Time::from_secs(20 + 40 * k) + Dur::millis(37 * k + 3);
            r.sim.schedule(at, Fault::Crash(r.mta));
            r.sim.schedule(at + Dur::secs(5), Fault::Restart(r.mta));
        }
    }

    #[test]
    fn answers_250_only_once_durable_so_crashes_lose_nothing() {
        let mut r = setup(|_| {}, Mode::Ok, 400, Dur::millis(400), Time::from_hours(1));
        crash_and_restart(&mut r);
        let report = r.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        assert!(report.faults.iter().all(|f| f.effect), "every crash hit a running MTA");
        let c = &r.sim.world().counts;
        assert_eq!(c.lost, 0);
        assert_eq!(c.accepted as usize, r.replies(SmtpCode::Accepted));
        assert!(c.accepted > 300, "most mails accepted: {}", c.accepted);
        assert_eq!(c.delivered, c.accepted, "every accepted mail reached its mailbox");
        assert_eq!(r.queued(), 0);
    }

    #[test]
    fn planted_ack_before_durable_is_a_custody_violation() {
        let mut r = setup(|c| c.ack_before_durable = true, Mode::Ok, 400, Dur::millis(400), Time::from_hours(1));
        crash_and_restart(&mut r);
        match r.run().outcome {
            Outcome::SafetyViolation(v) => {
                assert_eq!(v.property, ledger::CUSTODY);
                assert!(v.detail.contains("before it was durable"), "{}", v.detail);
            }
            other => panic!("expected a custody violation, got {other}"),
        }
    }

    #[test]
    fn restart_rebuilds_the_queue_and_delivers_after_the_store_recovers() {
        let mut r = setup(|_| {}, Mode::ErrUntil(Time::from_hours(1)), 30, Dur::secs(1), Time::from_hours(3));
        r.sim.schedule(Time::from_secs(1800), Fault::Crash(r.mta));
        r.sim.schedule(Time::from_secs(2400), Fault::Restart(r.mta));
        let report = r.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        // After the restart at 40 min every queued mail is tried at once
        // (the store fails fast, so 20 slots cycle through all 30).
        let at_restart = r.appends().iter().filter(|&&t| t == 2400).count();
        assert_eq!(at_restart, 30, "every queued mail tried at the restart");
        assert_eq!(r.sim.world().counts.delivered, 30);
        assert_eq!(r.queued(), 0);
    }

    #[test]
    fn a_tempfailing_store_is_retried_on_postfix_backoff_and_queue_scans() {
        let mut r = setup(|_| {}, Mode::Err, 1, Dur::ZERO, Time::from_hours(6));
        let report = r.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        // Backoff = the mail's age clamped to 300..4000 s, then the next
        // deferred-queue scan (every 300 s): 0, 600 (due 300), 1500 (due
        // 1200), then about 3000-3300, and 4000-4300 s apart from there on.
        let a = r.appends();
        assert_eq!(&a[..3], &[0, 600, 1500], "{a:?}");
        assert!(a.len() >= 7, "{a:?}");
        for w in a.windows(2) {
            assert_eq!(w[1] % 300, 0, "retries happen at queue scans: {a:?}");
            let backoff = w[0].clamp(300, 4000);
            let gap = w[1] - w[0];
            assert!(gap + 1 >= backoff && gap <= backoff + 301, "gap {gap} after age {}: {a:?}", w[0]);
        }
        assert!(a.windows(2).skip(4).all(|w| w[1] - w[0] >= 4000), "capped at 4000 s, not fixed at 300 s: {a:?}");
        assert_eq!(r.queued(), 1, "still queued");
        assert_eq!(r.sim.world().counts.returned, 0);
    }

    #[test]
    fn expired_mail_is_returned_with_a_dsn() {
        let mut early = setup(|_| {}, Mode::Err, 1, Dur::ZERO, Time::from_hours(5 * 24 - 1));
        assert!(early.run().outcome.is_ok());
        assert_eq!(early.sim.world().counts.returned, 0, "not before 5 days");
        let mut r = setup(|_| {}, Mode::Err, 1, Dur::ZERO, Time::from_hours(5 * 24 + 1));
        let report = r.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let c = &r.sim.world().counts;
        assert_eq!((c.returned, c.lost), (1, 0));
        assert_eq!(r.queued(), 0, "removed from the queue");
        assert!(r.sim.world().all_delivered().is_ok(), "returned counts as resolved");
    }

    #[test]
    fn planted_drop_expired_without_dsn_loses_the_mail() {
        let mut r = setup(|c| c.drop_expired_without_dsn = true, Mode::Err, 1, Dur::ZERO, Time::from_hours(5 * 24 + 1));
        match r.run().outcome {
            Outcome::SafetyViolation(v) => assert_eq!(v.property, ledger::CUSTODY),
            other => panic!("expected a custody violation, got {other}"),
        }
        let c = &r.sim.world().counts;
        assert_eq!((c.returned, c.lost), (0, 1));
    }

    #[test]
    fn a_full_queue_refuses_with_452_or_accepts_as_configured() {
        let mut refuse = setup(|c| c.queue_capacity = 5, Mode::Err, 10, Dur::secs(1), Time::from_secs(60));
        assert!(refuse.run().outcome.is_ok());
        assert_eq!((refuse.replies(SmtpCode::Accepted), refuse.replies(SmtpCode::TempFail)), (5, 5));
        assert_eq!(refuse.queued(), 5);
        let mut accept = setup(
            |c| {
                c.queue_capacity = 5;
                c.when_full = WhenFull::Accept;
            },
            Mode::Err,
            10,
            Dur::secs(1),
            Time::from_secs(60),
        );
        assert!(accept.run().outcome.is_ok());
        assert_eq!((accept.replies(SmtpCode::Accepted), accept.replies(SmtpCode::TempFail)), (10, 0));
        assert_eq!(accept.queued(), 10);
    }

    #[test]
    fn a_hung_store_holds_at_most_20_deliveries_until_the_agent_is_killed() {
        let mut r = setup(|_| {}, Mode::Hang, 50, Dur::millis(10), Time::from_secs(1100));
        assert!(r.run().outcome.is_ok());
        let appends = r.appends();
        // 20 at once; the next 20 only when the first are killed at 1000 s.
        assert_eq!(appends.iter().filter(|&&t| t < 900).count(), 20);
        assert_eq!(appends.iter().filter(|&&t| (1000..1100).contains(&t)).count(), 20);
        assert_eq!(r.queued(), 50);
    }

    #[test]
    fn the_queue_depth_is_sampled_sparsely() {
        let mut r = setup(|_| {}, Mode::Err, 500, Dur::millis(100), Time::from_secs(600));
        assert!(r.run().outcome.is_ok());
        let samples = &r.sim.world().stats.queue_depth;
        assert!(samples.len() <= 12, "at most one a minute: {}", samples.len());
        assert_eq!(samples.last().map(|s| s.depth), Some(500), "{samples:?}");
    }

    /// An MTA whose SMTP service is stopped, as a cluster agent would.
    struct Stopped(Mta);
    impl Node<Msg, World> for Stopped {
        type Disk = QueueDisk;
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, disk: &mut Disk<QueueDisk>) {
            self.0.set_accepting(false);
            self.0.handle(input, ctx, disk);
        }
    }

    #[test]
    fn a_stopped_smtp_service_answers_tempfail() {
        let mut sim: Sim<Msg, World> = crate::ledger::new_sim(Config::new(1));
        let filer = sim.add_node("filer", NodeConfig::default(), (), |_| ToyFiler { mode: Mode::Ok, appends: Vec::new() });
        let mta = sim.add_node("mx-1", NodeConfig::default(), QueueDisk::new(), move |d| Stopped(Mta::new(MtaConfig::new(filer), d)));
        let sender = sim.add_node("internet", NodeConfig::default(), (), move |_| ToySender {
            mx: mta,
            n: 3,
            every: Dur::secs(1),
            replies: Vec::new(),
        });
        assert!(sim.run().outcome.is_ok());
        let s = sim.node::<ToySender>(sender).expect("up");
        assert_eq!(s.replies.len(), 3);
        assert!(s.replies.iter().all(|r| r.1 == SmtpCode::TempFail));
        assert_eq!(sim.world().counts.accepted, 0);
    }

    /// Sends one mail three times: at once, again 1 ms later (its queue
    /// write still in flight), and again at 30 s (queued, deferred).
    struct Resender {
        mx: NodeId,
        replies: Vec<(SmtpCode, u32)>,
    }
    impl Node<Msg, World> for Resender {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            match input {
                Input::Start => {
                    let id = ctx.world.new_mail(0, ctx.now());
                    let mail = Envelope { id, rcpt: 0, created: ctx.now() };
                    for (k, delay) in [Dur::ZERO, Dur::millis(1), Dur::secs(30)].into_iter().enumerate() {
                        ctx.send_after(delay, self.mx, Msg::Smtp(Smtp::Data { mail, slot: 7 + k as u32 }));
                    }
                }
                Input::Message { msg: Msg::Smtp(Smtp::Reply { id, code, slot }), .. } => {
                    if code == SmtpCode::Accepted {
                        ledger::sender_released(ctx, id);
                    }
                    self.replies.push((code, slot));
                }
                _ => {}
            }
        }
    }

    #[test]
    fn a_mail_sent_again_while_queued_is_acknowledged_each_time_and_queued_once() {
        let mut r = setup(|_| {}, Mode::ErrUntil(Time::from_secs(600)), 0, Dur::ZERO, Time::from_hours(1));
        let mx = r.mta;
        let resender = r.sim.add_node("resender", NodeConfig::default(), (), move |_| Resender { mx, replies: Vec::new() });
        assert!(r.run().outcome.is_ok());
        let replies = &r.sim.node::<Resender>(resender).expect("up").replies;
        // Every copy answered 250, each naming the sender's own slot for it.
        let mut slots: Vec<u32> = replies
            .iter()
            .map(|&(code, slot)| {
                assert_eq!(code, SmtpCode::Accepted);
                slot
            })
            .collect();
        slots.sort();
        assert_eq!(slots, vec![7, 8, 9]);
        let c = &r.sim.world().counts;
        assert_eq!((c.accepted, c.delivered, c.duplicate_deliveries), (1, 1, 0), "queued and delivered once");
        assert_eq!(r.appends().iter().filter(|&&t| t >= 600).count(), 1, "one delivery after the store recovers");
        assert_eq!(r.queued(), 0);
    }

    #[test]
    fn a_queue_that_drains_forgets_its_slots_and_goes_on_delivering() {
        // 1,100 mails queue up while the store fails, drain after it recovers
        // (more slots than RELEASE_SLOTS), then three more arrive an hour apart.
        let n = RELEASE_SLOTS as u32 + 76;
        let mut r = setup(|_| {}, Mode::ErrUntil(Time::from_secs(600)), n, Dur::millis(100), Time::from_hours(4));
        let mx = r.mta;
        r.sim.add_node("late", NodeConfig::default(), (), move |_| ToySender { mx, n: 3, every: Dur::hours(1), replies: Vec::new() });
        let report = r.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let c = &r.sim.world().counts;
        assert_eq!((c.accepted, c.delivered, c.lost), (n as u64 + 3, n as u64 + 3, 0));
        let mta = &r.sim.node::<MtaNode>(r.mta).expect("up").mta;
        assert!(mta.generation_floor > 0, "the drained queue forgot its slots");
        assert!(mta.entries.len() < 4, "{} slots kept after draining", mta.entries.len());
        assert!(r.sim.disk::<MtaNode>(r.mta).expect("disk").state().slots.capacity() < RELEASE_SLOTS);
    }
}
