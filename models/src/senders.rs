//! The internet's sending MTAs: a workload of mails written by authors
//! elsewhere, handed to the cluster's MX nodes over SMTP, and retried per the
//! sending MTA's retry profile until accepted or given up.
//!
//! They are where mail waits when the cluster cannot take it: during the
//! Fused outage (Fused, "mail system down" incident report, 31 Dec 2018,
//! <https://www.fusedstatus.com/incidents/5fh5cmfdh868>) "the cluster refused
//! connections" and mail was
//! "deferred at senders"; during the Norwegian host's outage (FastName.no,
//! "7-12 November – Utfordringer med mail / webhostingmiljø", November 2019,
//! <https://www.fastname.no/7-12-november-utfordringer-med-mail-webhostingmiljo/>)
//! "senders retry at growing intervals, often for up to 72 h; some mail may
//! have been rejected after waiting too long". So the senders model:
//! - arrivals: a Poisson process at a rate (mails per hour) shaped by 24
//!   hourly weights (a diurnal curve), over a submission window or until a
//!   total; recipients uniform, Zipf-skewed (weight 1/k) or by explicit
//!   weights (a cumulative table and a binary search: O(log n) per draw);
//! - a mix of retry profiles ([`RetryProfile`]: Postfix, Exim, Exchange, 72h);
//! - per attempt, the MX hosts by preference (RFC 5321 §5.1: lower
//!   preference first, equal-preference records in random order; a backup
//!   MX is a record of higher preference): a refused connection, a 4xx
//!   (421 service not available, 452 queue full) or no reply moves on to the
//!   next MX; when every MX failed, the mail is deferred per its profile (plus
//!   a random share of the sender's queue-run period, since every sending
//!   host runs its queue on its own clock). A dropped connection is a
//!   temporary failure (RFC 5321 §4.5.4.1);
//! - no reply within `reply_timeout` ends the attempt. Default 600 s:
//!   Postfix `smtp_data_done_timeout`. A transaction here is one message, so
//!   a silent host also costs the full 600 s rather than Postfix's 30 s
//!   `smtp_connect_timeout` (the next retry is counted from then, so it shifts
//!   the schedule by minutes at most);
//! - at profile expiry, or on a 5xx, the mail is bounced by the sender
//!   (`ledger::sender_bounced`): returned, not lost, but counted per profile;
//! - every attempt at an MX host is reported to the availability
//!   measurement at the door it knocked on (the MX host, or the cluster's
//!   virtual IP): accepted, refused, timed out, 4xx or 5xx.
//!
//! Cheap by construction: a mail in flight is one 32-byte slot, and no
//! table is indexed by mail id (an MX echoes the slot in its reply);
//! arrivals are generated in batches of one tick (each sent at its exact time with
//! `send_after`), and retries and reply timeouts share kernel timers through
//! [`Deadlines`], so a mail costs no timer event of its own. Once every mail
//! is generated and resolved, the senders set no timers.

use mailsim_sim::{Ctx, Disk, Dur, Input, Node, NodeId, Stream, Time, MICROS_PER_H};

use crate::availability::{self, Reason};
use crate::ledger;
use crate::marks::{self, Mark};
use crate::msg::{Envelope, MailId, MailboxId, Msg, Ops, Smtp, SmtpCode};
use crate::retry::{Deadlines, RetryProfile};
use crate::timer::{SenderTimer, Timer};
use crate::World;

/// How recipients are drawn.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Recipients {
    /// Every mailbox equally likely.
    Uniform,
    /// Zipf's law with exponent 1: mailbox k (from 0) has weight 1/(k+1).
    Zipf,
    /// One integer weight per mailbox.
    Weighted(Vec<u64>),
}

/// How many mails the authors send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Volume {
    /// A mean rate (mails per hour, averaged over a day; shaped by the hourly
    /// weights) for the submission window.
    Rate {
        /// Mails per hour, the mean over a day.
        per_h: u64,
    },
    /// Exactly this many mails, at the rate that sends that many in the
    /// window on average (arrivals go on past the window if the draws fall
    /// short).
    Total {
        /// The number of mails to send.
        mails: u64,
    },
}

/// What the authors send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Workload {
    /// Mailboxes mail is addressed to (ids `0..mailboxes`; at least 1).
    pub mailboxes: u32,
    /// How recipients are drawn. Default uniform.
    pub recipients: Recipients,
    /// How many mails are sent.
    pub volume: Volume,
    /// Submissions start this long after T+0.
    pub begin: Dur,
    /// The submission window, from `begin`.
    pub window: Dur,
    /// Relative arrival rate per hour of the day. Default: a business-day
    /// curve, low at night, peak 9–16 h (an assumption; no source states one).
    pub hourly_weights: [u64; 24],
    /// Hour of the day at T+0 (the ECCS upgrade started Saturday 09:00).
    pub start_hour: u32,
}

/// A business-day curve: night 1–2, morning ramp, plateau 9–16 h.
pub const DIURNAL: [u64; 24] = [2, 1, 1, 1, 1, 2, 4, 7, 10, 12, 12, 11, 10, 11, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2];

impl Workload {
    /// `per_h` mails per hour (mean over a day) during `window`.
    pub fn rate(per_h: u64, window: Dur, mailboxes: u32) -> Workload {
        Workload {
            mailboxes,
            recipients: Recipients::Uniform,
            volume: Volume::Rate { per_h },
            begin: Dur::ZERO,
            window,
            hourly_weights: DIURNAL,
            start_hour: 0,
        }
    }

    /// Exactly `mails` mails, spread over `window` by the hourly weights.
    pub fn total(mails: u64, window: Dur, mailboxes: u32) -> Workload {
        Workload { volume: Volume::Total { mails }, ..Workload::rate(0, window, mailboxes) }
    }

    /// The hourly weight in force at `t`.
    fn weight_at(&self, t: Time) -> u64 {
        let hour = t.as_micros() / MICROS_PER_H;
        self.hourly_weights[((hour + self.start_hour as u64) % 24) as usize]
    }

    /// The window's weight-microseconds: Σ over the window of the weight in force.
    fn window_weight_us(&self) -> u128 {
        let (mut t, end) = (Time::ZERO + self.begin, Time::ZERO + self.begin + self.window);
        let mut sum = 0u128;
        while t < end {
            let hour_end = Time((t.as_micros() / MICROS_PER_H + 1) * MICROS_PER_H).min(end);
            sum += (hour_end - t).as_micros() as u128 * self.weight_at(t) as u128;
            t = hour_end;
        }
        sum
    }

    /// The mean rate in mails per 1000 hours (fine enough for small totals).
    fn rate_per_kh(&self) -> u128 {
        match self.volume {
            Volume::Rate { per_h } => per_h as u128 * 1000,
            Volume::Total { mails } => {
                // mails = rate · 24 / Σw · window_weight_us / µs-per-hour.
                let total_w: u64 = self.hourly_weights.iter().sum();
                let ww = self.window_weight_us().max(1);
                (mails as u128 * total_w as u128 * MICROS_PER_H as u128 * 1000).div_ceil(24 * ww)
            }
        }
    }
}

/// The senders' settings.
#[derive(Clone, Debug, PartialEq)]
pub struct SendersConfig {
    /// The MX hosts of the cluster's domain (1 to 255).
    pub mx: Vec<NodeId>,
    /// The MX records' preferences, one per host of `mx` (lower is tried
    /// first); empty: all equal.
    pub mx_preference: Vec<u16>,
    /// What the authors send.
    pub workload: Workload,
    /// The sending MTAs' retry profiles (1 to 255) and their shares.
    pub profiles: Vec<RetryProfile>,
    /// Default 60/20/15/5 for Postfix, Exim, Exchange and 72h senders (an
    /// assumption in the spirit of MTA surveys, where Postfix and Exim lead).
    pub profile_weights: Vec<u64>,
    /// An attempt with no reply within this ends. Default 600 s: Postfix
    /// `smtp_data_done_timeout`.
    pub reply_timeout: Dur,
    /// Arrival batches and timer granularity: one timer per tick serves every
    /// arrival, reply timeout and retry due in it (arrivals are still sent at
    /// their exact times). Default 5 s.
    pub tick: Dur,
}

impl SendersConfig {
    /// Senders of `workload` to the MX hosts `mx`, with the default profile
    /// mix (Postfix, Exim, Exchange, 72h at 60/20/15/5), a 600 s reply
    /// timeout and a 5 s tick.
    pub fn new(mx: Vec<NodeId>, workload: Workload) -> SendersConfig {
        SendersConfig {
            mx,
            mx_preference: Vec::new(),
            workload,
            profiles: vec![RetryProfile::postfix(), RetryProfile::exim(), RetryProfile::exchange(), RetryProfile::h72()],
            profile_weights: vec![60, 20, 15, 5],
            reply_timeout: Dur::secs(600),
            tick: Dur::secs(5),
        }
    }

    /// Checks the settings (MX hosts and profiles 1 to 255, one weight per
    /// profile, a workload that can send); the error says what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.mx.is_empty() || self.mx.len() > 255 {
            return Err(format!("senders: need 1 to 255 MX hosts, got {}", self.mx.len()));
        }
        if !self.mx_preference.is_empty() && self.mx_preference.len() != self.mx.len() {
            return Err(format!("senders: {} MX preferences for {} MX hosts", self.mx_preference.len(), self.mx.len()));
        }
        if self.profiles.is_empty() || self.profiles.len() > 255 {
            return Err(format!("senders: need 1 to 255 retry profiles, got {}", self.profiles.len()));
        }
        if self.profile_weights.len() != self.profiles.len() || self.profile_weights.iter().sum::<u64>() == 0 {
            return Err("senders: profile_weights needs one weight per profile, not all zero".to_string());
        }
        for p in &self.profiles {
            p.validate()?;
        }
        let w = &self.workload;
        if w.mailboxes == 0 {
            return Err("senders: workload has no mailboxes".to_string());
        }
        if w.hourly_weights.iter().sum::<u64>() == 0 {
            return Err("senders: hourly_weights are all zero".to_string());
        }
        if matches!(w.volume, Volume::Total { mails } if mails > 0) && w.window_weight_us() == 0 {
            return Err("senders: a total needs a window with some non-zero hourly weight".to_string());
        }
        if let Recipients::Weighted(v) = &w.recipients {
            if v.len() != w.mailboxes as usize || v.iter().sum::<u64>() == 0 {
                return Err("senders: recipient weights need one weight per mailbox, not all zero".to_string());
            }
        }
        if self.reply_timeout == Dur::ZERO || self.tick == Dur::ZERO {
            return Err("senders: reply_timeout and tick must be positive".to_string());
        }
        Ok(())
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    /// An SMTP attempt is in flight to `mx`.
    Sending,
    /// Deferred until its retry time.
    Waiting,
}

/// One mail held by its sender. 32 bytes.
#[derive(Clone, Copy, Debug)]
struct Slot {
    id: MailId,
    rcpt: MailboxId,
    /// The first attempt (the author's submission): profile clocks start here.
    first: Time,
    generation: u32,
    attempt: u16,
    profile: u8,
    /// Index into `SendersConfig::mx` of the host tried now.
    mx: u8,
    /// MX hosts tried in this attempt.
    tried: u8,
    state: State,
}

/// The deadline slot that stands for the next arrival batch.
const ARRIVALS: u32 = u32::MAX;

/// The internet's sending MTAs, as one node.
pub struct Senders {
    cfg: SendersConfig,
    /// The MX hosts' preference groups, in the order they are tried: (first
    /// index into `cfg.mx`, hosts), `cfg.mx` sorted by preference.
    groups: Vec<(u8, u8)>,
    /// The group of each host of `cfg.mx`.
    group_of: Vec<u8>,
    /// Cumulative recipient weights (empty for uniform).
    rcpt_cumulative: Vec<u64>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    deadlines: Deadlines,
    next_arrival: Option<Time>,
    /// Mean arrival rate, mails per 1000 h.
    rate_per_kh: u128,
    /// The mean gap between arrivals (µs) at each hourly weight, by index
    /// into `hourly_weights` (0 where the weight is 0).
    mean_gap_us: [u64; 24],
    generated: u64,
    held: u64,
    /// The workload's draws (arrival gaps, recipients, profiles, first MX),
    /// a stream of their own (`"<node>/workload"`): the same mails arrive at
    /// the same times whatever else differs between two runs of a seed
    /// (common random numbers for `mailsim compare`).
    workload_rng: Stream,
    /// The retries' draws (queue-run offsets, MX choice), `"<node>/retries"`.
    retry_rng: Stream,
    /// The senders' own record of the mails they gave up (returned to their
    /// authors), one bit per mail id: what `reconcile.rs` reads.
    bounced: Vec<u64>,
}

impl Senders {
    /// The senders of `cfg`. Panics if the configuration is invalid
    /// ([`SendersConfig::validate`]).
    pub fn new(mut cfg: SendersConfig) -> Senders {
        if let Err(e) = cfg.validate() {
            panic!("{e}");
        }
        // MX hosts by preference (a stable sort: equal ones keep their order).
        let mut pref = std::mem::take(&mut cfg.mx_preference);
        if pref.is_empty() {
            pref = vec![0; cfg.mx.len()];
        }
        let mut order: Vec<usize> = (0..cfg.mx.len()).collect();
        order.sort_by_key(|&i| pref[i]);
        cfg.mx = order.iter().map(|&i| cfg.mx[i]).collect();
        cfg.mx_preference = order.iter().map(|&i| pref[i]).collect();
        let mut groups: Vec<(u8, u8)> = Vec::new();
        let mut group_of = Vec::with_capacity(cfg.mx.len());
        for (i, p) in cfg.mx_preference.iter().enumerate() {
            match groups.last_mut() {
                Some(g) if cfg.mx_preference[g.0 as usize] == *p => g.1 += 1,
                _ => groups.push((i as u8, 1)),
            }
            group_of.push((groups.len() - 1) as u8);
        }
        let weights: Vec<u64> = match &cfg.workload.recipients {
            Recipients::Uniform => Vec::new(),
            // 2^40/(k+1): exact enough for any realistic mailbox count.
            Recipients::Zipf => (0..cfg.workload.mailboxes as u64).map(|k| (1u64 << 40) / (k + 1)).collect(),
            Recipients::Weighted(v) => v.clone(),
        };
        let mut acc = 0u64;
        let rcpt_cumulative = weights
            .iter()
            .map(|w| {
                acc = acc.saturating_add(*w);
                acc
            })
            .collect();
        let deadlines = Deadlines::new(cfg.tick, Timer::Sender(SenderTimer::Deadline));
        let rate_per_kh = cfg.workload.rate_per_kh();
        // An hour's rate = mean rate · weight · 24 / Σ weights.
        let total: u64 = cfg.workload.hourly_weights.iter().sum();
        let mean_gap_us = cfg.workload.hourly_weights.map(|weight| {
            if weight == 0 || rate_per_kh == 0 {
                return 0;
            }
            let mean = (MICROS_PER_H as u128 * 1000 * total as u128 / (rate_per_kh * weight as u128 * 24)).max(1);
            mean.min(u64::MAX as u128) as u64
        });
        Senders {
            cfg,
            groups,
            group_of,
            rcpt_cumulative,
            slots: Vec::new(),
            free: Vec::new(),
            deadlines,
            next_arrival: None,
            rate_per_kh,
            mean_gap_us,
            generated: 0,
            held: 0,
            // Seeded at Start, from the run seed and the node's name.
            workload_rng: Stream::new(0, "unseeded"),
            retry_rng: Stream::new(0, "unseeded"),
            bounced: Vec::new(),
        }
    }

    /// Mails generated so far.
    pub fn generated(&self) -> u64 {
        self.generated
    }
    /// Mails held (generated, neither accepted nor given up).
    pub fn held(&self) -> u64 {
        self.held
    }

    fn draw_rcpt(&mut self) -> MailboxId {
        match self.rcpt_cumulative.last() {
            None => self.workload_rng.below(self.cfg.workload.mailboxes as u64) as MailboxId,
            Some(&total) => {
                let x = self.workload_rng.below(total);
                self.rcpt_cumulative.partition_point(|&c| c <= x) as MailboxId
            }
        }
    }

    /// The first arrival at or after `from`: exponential gaps at the rate of
    /// the hour of day, restarted at each hour boundary (the process is
    /// memoryless, so this is exact for a piecewise-constant rate).
    fn arrival_after(&mut self, from: Time) -> Option<Time> {
        let w = &self.cfg.workload;
        let (end, max) = match w.volume {
            Volume::Rate { .. } => (Some(Time::ZERO + w.begin + w.window), None),
            Volume::Total { mails } => (None, Some(mails)),
        };
        if self.rate_per_kh == 0 || max.is_some_and(|m| self.generated >= m) {
            return None;
        }
        let mut t = from;
        loop {
            if end.is_some_and(|e| t >= e) {
                return None;
            }
            let hour = t.as_micros() / MICROS_PER_H;
            let hour_end = Time((hour + 1) * MICROS_PER_H);
            let index = ((hour + w.start_hour as u64) % 24) as usize;
            if w.hourly_weights[index] > 0 {
                // At this hour's rate (precomputed per weight).
                let gap = self.workload_rng.exponential(Dur::micros(self.mean_gap_us[index]));
                let at = t + gap;
                if at < hour_end {
                    return match end {
                        Some(e) if at >= e => None,
                        _ => Some(at),
                    };
                }
            }
            t = hour_end;
        }
    }

    /// Arms the deadline for the batch holding the next arrival.
    fn schedule_arrivals(&mut self, ctx: &mut Ctx<'_, Msg, World>) {
        if let Some(t) = self.next_arrival {
            let tick = self.cfg.tick.as_micros();
            self.deadlines.push(ctx, Time(t.as_micros() / tick * tick), ARRIVALS, 0);
        }
    }

    /// Generates every arrival of this tick, each sent at its own time.
    fn arrivals(&mut self, ctx: &mut Ctx<'_, Msg, World>) {
        let now = ctx.now();
        let batch_end = now + self.cfg.tick;
        while let Some(t) = self.next_arrival.filter(|&t| t < batch_end) {
            let at = t.max(now);
            let rcpt = self.draw_rcpt();
            let id = ledger::written(ctx, rcpt, at);
            let profile = self.workload_rng.weighted(&self.cfg.profile_weights) as u8;
            let (first, hosts) = self.groups[0];
            let mx = first + self.workload_rng.below(hosts as u64) as u8;
            let slot = self.alloc(Slot { id, rcpt, first: at, generation: 0, attempt: 1, profile, mx, tried: 1, state: State::Sending });
            self.generated += 1;
            self.held += 1;
            self.send(slot, at - now, ctx);
            self.next_arrival = self.arrival_after(at);
        }
        self.schedule_arrivals(ctx);
    }

    fn alloc(&mut self, s: Slot) -> u32 {
        match self.free.pop() {
            Some(i) => {
                let generation = self.slots[i as usize].generation.wrapping_add(1);
                self.slots[i as usize] = Slot { generation, ..s };
                i
            }
            None => {
                self.slots.push(s);
                (self.slots.len() - 1) as u32
            }
        }
    }

    fn note_bounced(&mut self, id: MailId) {
        let word = id as usize / 64;
        if self.bounced.len() <= word {
            self.bounced.resize((word + 1).max(self.bounced.len() * 2), 0);
        }
        self.bounced[word] |= 1 << (id % 64);
    }

    fn release(&mut self, slot: u32) {
        let s = &mut self.slots[slot as usize];
        s.state = State::Free;
        s.generation = s.generation.wrapping_add(1);
        self.free.push(slot);
        self.held -= 1;
    }

    /// Sends the mail of `slot` to its current MX after `delay`.
    fn send(&mut self, slot: u32, delay: Dur, ctx: &mut Ctx<'_, Msg, World>) {
        let s = &mut self.slots[slot as usize];
        s.state = State::Sending;
        s.generation = s.generation.wrapping_add(1);
        let (generation, mx) = (s.generation, self.cfg.mx[s.mx as usize]);
        let mail = Envelope { id: s.id, rcpt: s.rcpt, created: s.first };
        ctx.send_after(delay, mx, Msg::Smtp(Smtp::Data { mail, slot }));
        let due = ctx.now() + delay + self.cfg.reply_timeout;
        self.deadlines.push_in_order(ctx, due, slot, generation);
    }

    /// `slot` (echoed in a reply) if it still holds mail `id`. A mail keeps
    /// its slot from submission until accepted or given up.
    fn holding(&self, id: MailId, slot: u32) -> Option<u32> {
        let s = self.slots.get(slot as usize)?;
        (s.state != State::Free && s.id == id).then_some(slot)
    }

    /// `slot` if it holds mail `id` and its attempt to `mx` is in flight.
    fn sending_to(&self, id: MailId, slot: u32, mx: NodeId) -> Option<u32> {
        let slot = self.holding(id, slot)?;
        let s = &self.slots[slot as usize];
        (s.state == State::Sending && self.cfg.mx[s.mx as usize] == mx).then_some(slot)
    }

    /// This MX failed: try the next one, or defer the mail.
    fn failed(&mut self, slot: u32, ctx: &mut Ctx<'_, Msg, World>) {
        let n = self.cfg.mx.len();
        let s = &mut self.slots[slot as usize];
        if (s.tried as usize) < n {
            // The next host of this preference, or a random one of the next.
            let g = self.group_of[s.mx as usize] as usize;
            let (first, hosts) = self.groups[g];
            s.mx = if s.tried < first + hosts {
                first + (s.mx - first + 1) % hosts
            } else {
                let (first, hosts) = self.groups[g + 1];
                first + self.retry_rng.below(hosts as u64) as u8
            };
            s.tried += 1;
            self.send(slot, Dur::ZERO, ctx);
            return;
        }
        let now = ctx.now();
        let p = &self.cfg.profiles[s.profile as usize];
        match p.next_retry(s.attempt as u32, s.first, now) {
            Some(t) => {
                let run = if p.scan_s > 0 { Dur::micros(self.retry_rng.below(p.scan_s * 1_000_000)) } else { Dur::ZERO };
                s.state = State::Waiting;
                s.generation = s.generation.wrapping_add(1);
                let generation = s.generation;
                self.deadlines.push(ctx, t + run, slot, generation);
            }
            None => {
                marks::reach(ctx, Mark::SenderGaveUp);
                ledger::sender_bounced(ctx, s.id, &p.name);
                let id = s.id;
                self.note_bounced(id);
                self.release(slot);
            }
        }
    }

    fn deadlines_due(&mut self, ctx: &mut Ctx<'_, Msg, World>) {
        let now = ctx.now();
        self.deadlines.fired(now);
        while let Some((slot, generation)) = self.deadlines.pop_due(now, |s, g| s == ARRIVALS || self.slots[s as usize].generation == g) {
            if slot == ARRIVALS {
                self.arrivals(ctx);
                continue;
            }
            let s = &mut self.slots[slot as usize];
            if s.generation != generation {
                continue;
            }
            match s.state {
                // No reply in time: this attempt at this MX is over.
                State::Sending => {
                    let door = self.cfg.mx[s.mx as usize];
                    availability::smtp(ctx, door, Err(Reason::TimedOut));
                    self.failed(slot, ctx);
                }
                State::Waiting => {
                    let (first, hosts) = self.groups[0];
                    let mx = first + self.retry_rng.below(hosts as u64) as u8;
                    let s = &mut self.slots[slot as usize];
                    s.attempt = s.attempt.saturating_add(1);
                    s.mx = mx;
                    s.tried = 1;
                    self.send(slot, Dur::ZERO, ctx);
                }
                State::Free => {}
            }
        }
        self.deadlines.rearm(ctx, |s, g| s == ARRIVALS || self.slots[s as usize].generation == g);
    }
}

impl Node<Msg, World> for Senders {
    type Disk = ();

    fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _disk: &mut Disk<()>) {
        match input {
            Input::Start => {
                let name = ctx.name(ctx.me()).to_string();
                self.workload_rng = Stream::new(ctx.seed(), &format!("{name}/workload"));
                self.retry_rng = Stream::new(ctx.seed(), &format!("{name}/retries"));
                let from = (Time::ZERO + self.cfg.workload.begin).max(ctx.now());
                self.next_arrival = self.arrival_after(from);
                self.schedule_arrivals(ctx);
            }
            Input::Timer { tag, .. } if Timer::from_tag(tag) == Some(Timer::Sender(SenderTimer::Deadline)) => self.deadlines_due(ctx),
            Input::Message { from, msg: Msg::Smtp(Smtp::Reply { id, code, slot }) } => match code {
                // Accepted by any MX, even after this attempt moved on: done.
                // (Counted as an attempt only if it is the one in flight: a
                // late reply's attempt was counted when it timed out.)
                SmtpCode::Accepted => {
                    if let Some(slot) = self.holding(id, slot) {
                        if self.sending_to(id, slot, from).is_some() {
                            availability::smtp(ctx, from, Ok(()));
                        }
                        ledger::sender_released(ctx, id);
                        self.release(slot);
                    }
                }
                SmtpCode::TempFail => {
                    if let Some(slot) = self.sending_to(id, slot, from) {
                        availability::smtp(ctx, from, Err(Reason::TempFail));
                        self.failed(slot, ctx);
                    }
                }
                SmtpCode::PermFail => {
                    if let Some(slot) = self.sending_to(id, slot, from) {
                        availability::smtp(ctx, from, Err(Reason::PermFail));
                        let name = &self.cfg.profiles[self.slots[slot as usize].profile as usize].name;
                        ledger::sender_bounced(ctx, id, name);
                        self.note_bounced(id);
                        self.release(slot);
                    }
                }
            },
            // Connection refused: the host is down (or its service is).
            Input::Refused { to, msg: Msg::Smtp(Smtp::Data { mail, slot }) } => {
                if let Some(slot) = self.sending_to(mail.id, slot, to) {
                    availability::smtp(ctx, to, Err(Reason::Refused));
                    self.failed(slot, ctx);
                }
            }
            Input::Message { from, msg: Msg::Ops(Ops::Command { step, action }) } => {
                let reason = format!("{} (the senders) does not {}", ctx.name(ctx.me()), action.name());
                ctx.send(from, Msg::Ops(Ops::StepFailed { step, reason }));
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Read-only accessors for the end-of-run reconciliation (`reconcile.rs`).

impl Senders {
    /// The mails held now: written, neither accepted nor given up.
    pub fn held_mails(&self) -> impl Iterator<Item = MailId> + '_ {
        self.slots.iter().filter(|s| s.state != State::Free).map(|s| s.id)
    }

    /// Whether these senders gave up mail `id` (a bounce at expiry or on a
    /// 5xx), by their own record.
    pub fn has_bounced(&self, id: MailId) -> bool {
        self.bounced.get(id as usize / 64).is_some_and(|w| w >> (id % 64) & 1 == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::msg::{Store, StoreError};
    use crate::mta::{MtaConfig, MtaNode, QueueDisk};
    use mailsim_sim::{Config, DownMode, Fault, NodeConfig, RunReport, Sim};

    /// A toy MX: answers every DATA with `code` (queueing accepted mail
    /// forever) and records what it saw.
    struct ToyMx {
        code: SmtpCode,
        seen: Vec<(Time, Envelope)>,
    }
    impl Node<Msg, World> for ToyMx {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            if let Input::Message { from, msg: Msg::Smtp(Smtp::Data { mail, slot }) } = input {
                self.seen.push((ctx.now(), mail));
                if self.code == SmtpCode::Accepted {
                    ledger::enqueued(ctx, mail.id);
                    ledger::acknowledged(ctx, mail.id);
                }
                ctx.send(from, Msg::Smtp(Smtp::Reply { id: mail.id, code: self.code, slot }));
            }
        }
    }

    fn only(profile: RetryProfile, mx: Vec<NodeId>, workload: Workload) -> SendersConfig {
        let mut cfg = SendersConfig::new(mx, workload);
        cfg.profiles = vec![profile];
        cfg.profile_weights = vec![1];
        cfg
    }

    fn sim(end: Option<Time>) -> Sim<Msg, World> {
        let mut c = Config::new(11);
        c.end_at = end;
        crate::ledger::new_sim(c)
    }

    /// Two MX hosts, one down (refusing), one answering 4xx; 72h senders.
    fn refused_everywhere(hours: u64) -> (Sim<Msg, World>, NodeId, RunReport) {
        let mut s = sim(Some(Time::from_hours(hours)));
        let down = s.add_node("mx-1", NodeConfig::default(), (), |_| ToyMx { code: SmtpCode::Accepted, seen: Vec::new() });
        let busy = s.add_node("mx-2", NodeConfig::default(), (), |_| ToyMx { code: SmtpCode::TempFail, seen: Vec::new() });
        s.schedule(Time::ZERO, Fault::Crash(down));
        let cfg = only(RetryProfile::h72(), vec![down, busy], Workload::total(3, Dur::mins(1), 10));
        s.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(cfg.clone()));
        let report = s.run();
        (s, busy, report)
    }

    /// Answers 4xx until `until`, then 250.
    struct LateMx {
        until: Time,
        seen: Vec<Envelope>,
    }
    impl Node<Msg, World> for LateMx {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            if let Input::Message { from, msg: Msg::Smtp(Smtp::Data { mail, slot }) } = input {
                self.seen.push(mail);
                let code = if ctx.now() < self.until { SmtpCode::TempFail } else { SmtpCode::Accepted };
                if code == SmtpCode::Accepted {
                    ledger::enqueued(ctx, mail.id);
                    ledger::acknowledged(ctx, mail.id);
                }
                ctx.send(from, Msg::Smtp(Smtp::Reply { id: mail.id, code, slot }));
            }
        }
    }

    /// The mails written in a run of seed 11 whose two MX hosts refuse
    /// until `until`: (id, recipient, created), by id.
    fn mails_written(until: Time) -> Vec<(MailId, MailboxId, Time)> {
        let mut s = sim(Some(Time::from_hours(6)));
        let a = s.add_node("mx-1", NodeConfig::default(), (), move |_| LateMx { until, seen: Vec::new() });
        let b = s.add_node("mx-2", NodeConfig::default(), (), move |_| LateMx { until, seen: Vec::new() });
        let cfg = SendersConfig::new(vec![a, b], Workload::total(300, Dur::hours(3), 50));
        s.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(cfg.clone()));
        assert!(s.run().outcome.is_ok());
        let mut seen: Vec<(MailId, MailboxId, Time)> =
            [a, b].iter().flat_map(|&n| s.node::<LateMx>(n).expect("mx").seen.iter().map(|e| (e.id, e.rcpt, e.created))).collect();
        seen.sort();
        seen.dedup();
        seen
    }

    /// Mails to a domain with a primary MX (preference 10) and a backup
    /// (20), listed backup first: (seen by the primary, by the backup).
    fn by_preference(primary_down: bool) -> (usize, usize) {
        let mut s = sim(Some(Time::from_hours(3)));
        let backup = s.add_node("backup", NodeConfig::default(), (), |_| ToyMx { code: SmtpCode::Accepted, seen: Vec::new() });
        let primary = s.add_node("primary", NodeConfig::default(), (), |_| ToyMx { code: SmtpCode::Accepted, seen: Vec::new() });
        if primary_down {
            s.schedule(Time::ZERO, Fault::Crash(primary));
        }
        let mut cfg = SendersConfig::new(vec![backup, primary], Workload::total(50, Dur::hours(1), 10));
        cfg.mx_preference = vec![20, 10];
        s.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(cfg.clone()));
        assert!(s.run().outcome.is_ok());
        let seen = |n: NodeId| s.node::<ToyMx>(n).map_or(0, |m| m.seen.len());
        assert_eq!(s.world().held_by_senders(), 0, "every mail accepted");
        (seen(primary), seen(backup))
    }

    #[test]
    fn mx_records_are_tried_by_preference_the_backup_only_when_the_primary_fails() {
        assert_eq!(by_preference(false), (50, 0), "the lowest preference first, whatever the listed order");
        assert_eq!(by_preference(true), (0, 50), "refused by the primary: the backup at once");
    }

    #[test]
    fn the_workload_does_not_depend_on_how_retries_went() {
        // Common random numbers: the retries of an outage draw from their
        // own stream, so the same mails arrive at the same times for the
        // same recipients with or without it.
        let calm = mails_written(Time::ZERO);
        let stormy = mails_written(Time::from_hours(2));
        assert!(calm.len() > 250, "{}", calm.len());
        assert_eq!(calm, stormy);
    }

    #[test]
    fn senders_retry_a_refusing_mx_and_bounce_at_profile_expiry() {
        let (s, busy, report) = refused_everywhere(71);
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        assert_eq!(s.world().counts.sender_bounced, 0, "not before 72 h");
        assert_eq!(s.world().held_by_senders(), 3);
        assert_eq!(s.world().in_flight_peak().0, 3, "the ledger noted the senders' mails as in flight");
        // Each attempt tries both MX hosts: the refusing one, then the busy
        // one (or the other way round). The 72h schedule: 30 min doubling to
        // 4 h, about 20 attempts in 71 h.
        let seen = &s.node::<ToyMx>(busy).expect("up").seen;
        let per_mail = seen.iter().filter(|x| x.1.id == 0).count();
        assert!((18..=22).contains(&per_mail), "{per_mail} attempts");
        let (s, _, report) = refused_everywhere(73);
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let w = s.world();
        assert_eq!(w.counts.sender_bounced, 3);
        assert_eq!(w.stats.sender_bounces, vec![("72h".to_string(), 3)]);
        assert_eq!(w.held_by_senders(), 0);
        assert_eq!(w.counts.accepted, 0);
    }

    #[test]
    fn a_silent_mx_costs_the_reply_timeout_then_the_next_mx_takes_the_mail() {
        let mut s = sim(None);
        let silent = NodeConfig { down: DownMode::Silent, ..NodeConfig::default() };
        let dead = s.add_node("mx-1", silent, (), |_| ToyMx { code: SmtpCode::Accepted, seen: Vec::new() });
        let good = s.add_node("mx-2", NodeConfig::default(), (), |_| ToyMx { code: SmtpCode::Accepted, seen: Vec::new() });
        s.schedule(Time::ZERO, Fault::Crash(dead));
        let cfg = SendersConfig::new(vec![dead, good], Workload::total(40, Dur::mins(10), 10));
        s.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(cfg.clone()));
        let report = s.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let seen = &s.node::<ToyMx>(good).expect("up").seen;
        assert_eq!(seen.len(), 40, "each mail reached the good MX once");
        let late = seen.iter().filter(|(t, m)| t.since(m.created) >= Dur::secs(600)).count();
        assert!((5..40).contains(&late), "about half went to the silent MX first: {late}");
        assert_eq!(s.world().held_by_senders(), 0);
        assert!(report.end < Time::from_hours(1), "idle once done: ended at {}", report.end);
    }

    #[test]
    fn a_5xx_bounces_at_once() {
        let mut s = sim(None);
        let mx = s.add_node("mx-1", NodeConfig::default(), (), |_| ToyMx { code: SmtpCode::PermFail, seen: Vec::new() });
        let cfg = only(RetryProfile::exim(), vec![mx], Workload::total(5, Dur::mins(1), 10));
        s.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(cfg.clone()));
        assert!(s.run().outcome.is_ok());
        assert_eq!(s.world().stats.sender_bounces, vec![("exim".to_string(), 5)]);
        assert_eq!(s.node::<ToyMx>(mx).expect("up").seen.len(), 5, "no retries after a 5xx");
    }

    #[test]
    fn workload_totals_diurnal_shape_and_zipf_recipients() {
        let mut s = sim(None);
        let mx = s.add_node("mx-1", NodeConfig::default(), (), |_| ToyMx { code: SmtpCode::Accepted, seen: Vec::new() });
        let mut w = Workload::total(5000, Dur::hours(24), 100);
        w.recipients = Recipients::Zipf;
        w.hourly_weights = [0; 24];
        w.hourly_weights[3] = 1;
        w.hourly_weights[4] = 1;
        w.start_hour = 1;
        let cfg = SendersConfig::new(vec![mx], w);
        let internet = s.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(cfg.clone()));
        assert!(s.run().outcome.is_ok());
        assert_eq!(s.node::<Senders>(internet).expect("up").generated(), 5000);
        let seen = &s.node::<ToyMx>(mx).expect("up").seen;
        assert_eq!(seen.len(), 5000);
        // Hours 3 and 4 of the day are T+2 h to T+4 h of each day.
        assert!(seen.iter().all(|(_, m)| matches!((m.created.as_micros() / MICROS_PER_H) % 24, 2 | 3)));
        let to = |mb: u32| seen.iter().filter(|(_, m)| m.rcpt == mb).count();
        // Zipf: mailbox 0 gets 1/H(100) ≈ 19% of the mail, mailbox 49 ≈ 0.4%.
        assert!((800..1100).contains(&to(0)), "{}", to(0));
        assert!(to(49) < 60, "{}", to(49));
        assert!(to(1) > to(9));
    }

    #[test]
    fn a_rate_workload_ends_with_its_window() {
        let mut s = sim(None);
        let mx = s.add_node("mx-1", NodeConfig::default(), (), |_| ToyMx { code: SmtpCode::Accepted, seen: Vec::new() });
        let mut w = Workload::rate(3600, Dur::hours(2), 10);
        w.hourly_weights = [1; 24];
        w.begin = Dur::hours(1);
        let cfg = SendersConfig::new(vec![mx], w);
        s.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(cfg.clone()));
        assert!(s.run().outcome.is_ok());
        let seen = &s.node::<ToyMx>(mx).expect("up").seen;
        assert!((6900..7300).contains(&seen.len()), "{} mails at 1/s for 2 h", seen.len());
        assert!(seen.iter().all(|(_, m)| m.created >= Time::from_hours(1) && m.created < Time::from_hours(3)));
    }

    /// A mailstore that fails with a lock error for the first hour.
    struct ToyStore;
    impl Node<Msg, World> for ToyStore {
        type Disk = ();
        fn handle(&mut self, input: Input<Msg>, ctx: &mut Ctx<'_, Msg, World>, _: &mut Disk<()>) {
            if let Input::Message { from, msg: Msg::Store(Store::Append { mail, slot, .. }) } = input {
                let result = if ctx.now() < Time::from_hours(1) {
                    Err(StoreError::Lock)
                } else {
                    ledger::delivered(ctx, mail.id);
                    Ok(())
                };
                ctx.send(from, Msg::Store(Store::AppendReply { id: mail.id, result, slot }));
            }
        }
    }

    #[test]
    fn end_to_end_through_two_mtas_with_a_crash() {
        let mut s = sim(None);
        let store = s.add_node("filer", NodeConfig::default(), (), |_| ToyStore);
        let mx1 = s.add_node("mx-1", NodeConfig::default(), QueueDisk::new(), move |d| MtaNode::new(MtaConfig::new(store), d));
        let mx2 = s.add_node("mx-2", NodeConfig::default(), QueueDisk::new(), move |d| MtaNode::new(MtaConfig::new(store), d));
        let cfg = SendersConfig::new(vec![mx1, mx2], Workload::total(2000, Dur::hours(2), 500));
        let internet = s.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(cfg.clone()));
        s.schedule(Time::from_secs(1800), Fault::Crash(mx1));
        s.schedule(Time::from_secs(2400), Fault::Restart(mx1));
        let report = s.run();
        assert!(report.outcome.is_ok(), "{}", report.outcome);
        let w = s.world();
        w.all_delivered().expect("everything delivered");
        assert_eq!((w.counts.submitted, w.counts.delivered, w.counts.lost), (2000, 2000, 0));
        assert_eq!(s.node::<Senders>(internet).expect("up").held(), 0);
        assert!(report.end < Time::from_hours(4), "idle once done: ended at {}", report.end);
    }

    /// A single MX answering 4xx forever, `mails` mails of `profile` written
    /// in the first `window`, run until `end`.
    fn always_deferred(profile: RetryProfile, mails: u64, window: Dur, end: Time) -> (Sim<Msg, World>, NodeId, RunReport) {
        let mut s = sim(Some(end));
        let busy = s.add_node("mx-1", NodeConfig::default(), (), |_| ToyMx { code: SmtpCode::TempFail, seen: Vec::new() });
        let cfg = only(profile, vec![busy], Workload::total(mails, window, 10));
        s.add_node("internet", NodeConfig::default(), (), move |_| Senders::new(cfg.clone()));
        let report = s.run();
        (s, busy, report)
    }

    #[test]
    fn every_retry_profile_driven_to_its_lifetime_bounces_its_mail_and_settles_it() {
        for name in ["postfix", "exim", "exchange", "72h", "sendmail"] {
            let p = RetryProfile::by_name(name).expect("built in");
            let lifetime = Dur::secs(p.lifetime_s);
            // An hour before the lifetime is over: still held, still trying.
            let (s, busy, report) = always_deferred(p.clone(), 3, Dur::mins(1), Time::from_secs(p.lifetime_s - 3600));
            assert!(report.outcome.is_ok(), "{name}: {}", report.outcome);
            let w = s.world();
            assert_eq!((w.counts.sender_bounced, w.held_by_senders()), (0, 3), "{name}: not before the lifetime");
            assert!(w.settled_before(Time::from_hours(1)).is_err(), "{name}: unsettled while held");
            let tries = s.node::<ToyMx>(busy).expect("up").seen.len();
            assert!(tries >= 3 * 10, "{name}: the mails kept being retried: {tries} attempts");
            // An hour after: every mail bounced, counted under its profile,
            // released and settled.
            let (s, _, report) = always_deferred(p, 3, Dur::mins(1), Time::ZERO + lifetime + Dur::hours(1));
            assert!(report.outcome.is_ok(), "{name}: {}", report.outcome);
            let w = s.world();
            assert_eq!(w.counts.sender_bounced, 3, "{name}: {:?}", w.counts);
            assert_eq!(w.stats.sender_bounces, vec![(name.to_string(), 3)], "{name}");
            assert_eq!((w.held_by_senders(), w.counts.accepted, w.counts.lost), (0, 0, 0), "{name}");
            w.settled_before(Time::from_hours(1)).unwrap_or_else(|e| panic!("{name}: {e}"));
            w.all_delivered().unwrap_or_else(|e| panic!("{name}: {e}"));
            let senders = s.node::<Senders>(NodeId(1)).expect("up");
            assert_eq!(senders.held(), 0, "{name}");
            assert!((0..3).all(|id| senders.has_bounced(id)), "{name}: the senders' own record of the bounces");
            assert_eq!(senders.held_mails().count(), 0, "{name}");
        }
    }

    #[test]
    fn retries_of_mails_deferred_at_one_instant_spread_over_the_queue_run_period() {
        // 200 mails written within a second all fail at once; each sending
        // host runs its queue on its own clock, so their retries spread over
        // the profile's queue-run period instead of arriving in lockstep.
        for name in ["postfix", "exim", "72h"] {
            let p = RetryProfile::by_name(name).expect("built in");
            let scan_s = p.scan_s;
            assert!(scan_s >= 300, "{name}: a queue-run period");
            let (s, busy, report) = always_deferred(p.clone(), 200, Dur::secs(1), Time::from_hours(2));
            assert!(report.outcome.is_ok(), "{name}: {}", report.outcome);
            let seen = &s.node::<ToyMx>(busy).expect("up").seen;
            // The second attempt of each mail, in seconds.
            let mut second: Vec<u64> = (0..200)
                .map(|id| seen.iter().filter(|(_, m)| m.id == id).nth(1).unwrap_or_else(|| panic!("{name}: mail {id} retried")).0.as_secs())
                .collect();
            let first = p.next_retry(1, Time::ZERO, Time::from_secs(1)).expect("retried").as_secs();
            assert!(second.iter().all(|&t| t + 2 >= first && t <= first + scan_s + 10), "{name}: retries within one period: {second:?}");
            second.sort_unstable();
            let spread = second[199] - second[0];
            assert!(spread * 10 >= scan_s * 8, "{name}: retries spread over {spread} s of a {scan_s} s period");
            second.dedup();
            // Senders' deadlines share 5 s ticks: a period holds scan_s / 5
            // of them; at least half of those the 200 mails can fill are hit.
            let ticks = (scan_s / 5).min(200);
            assert!(second.len() as u64 * 2 >= ticks, "{name}: only {} distinct retry times of {ticks}", second.len());
        }
        // Profiles without a queue runner retry exactly when due.
        let (s, busy, _) = always_deferred(RetryProfile::exchange(), 50, Dur::secs(1), Time::from_hours(1));
        let seen = &s.node::<ToyMx>(busy).expect("up").seen;
        let mut second: Vec<u64> = (0..50).map(|id| seen.iter().filter(|(_, m)| m.id == id).nth(1).expect("retried").0.as_secs()).collect();
        second.dedup();
        assert!(second.len() <= 2, "exchange: no jitter: {second:?}");
    }
}
