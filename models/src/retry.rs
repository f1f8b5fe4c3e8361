//! SMTP retry profiles, as data: when a mail that could not be handed on is
//! tried again, and when its holder gives up and returns it to its author.
//!
//! RFC 5321 §4.5.4.1 asks a sender to retry a temporary failure no sooner than
//! every 30 minutes and to give up after at least 4–5 days; real MTAs differ
//! inside that envelope, and the differences decide who bounces during a long
//! outage (the Norwegian host's November outage, FastName.no, "7-12 November
//! – Utfordringer med mail / webhostingmiljø", November 2019,
//! <https://www.fastname.no/7-12-november-utfordringer-med-mail-webhostingmiljo/>:
//! "senders retry
//! at growing intervals, often for up to 72 h; some mail may have been
//! rejected after waiting too long"). The profiles here follow the defaults of
//! the MTAs that send most of the internet's mail:
//! - **Postfix**: the deferred queue is scanned every `queue_run_delay` = 300 s;
//!   the backoff of a deferred mail is its *age* clamped to
//!   [`minimal_backoff_time` = 300 s, `maximal_backoff_time` = 4000 s]
//!   (`qmgr_active.c`: "Since we look at actual time in queue, not time since
//!   last delivery attempt, backoff times will be distributed"), so a mail is
//!   retried 300, 600, 1200, 2400, 4800 s after arrival and then every 4000 s,
//!   until `maximal_queue_lifetime` = 5 d (Postfix `postconf(5)` defaults).
//! - **Exim**: the default configuration's retry rule
//!   `* * F,2h,15m; G,16h,1h,1.5; F,4d,6h` — every 15 min for 2 h, then
//!   intervals growing ×1.5 from 1 h until 16 h, then every 6 h until 4 d
//!   (Exim specification, ch. "Retry configuration"); queue runners every
//!   30 min (Debian's `QUEUEINTERVAL='30m'`).
//! - **Exchange**: 6 transient retries 5 min apart, then the queue is retried
//!   every 10 min (`OutboundConnectionFailureRetryInterval`), messages expire
//!   after 2 d (`MessageExpirationTimeout`; Exchange Server transport defaults).
//! - **72h**: the Norwegian host's senders, "growing intervals up to 72 h".
//!   The source gives no schedule; we assume 30 min doubling to at most 4 h
//!   (30 min is RFC 5321's minimum), for 72 h.
//! - **Sendmail**: every queued mail is tried at each queue run (every 15–60
//!   min; FreeBSD's default `-q30m`), returned after `Timeout.queuereturn` = 5 d
//!   (Sendmail Installation and Operation Guide).
//!
//! All arithmetic is integer (microseconds, growth factors in per-mille), so a
//! schedule is the same on every platform.
//!
//! This module also holds [`Deadlines`], the deadline set that senders and
//! MTAs schedule their retries and timeouts with: many mails share one kernel
//! timer per tick, because a million mails must not cost a million extra
//! events.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use mailsim_sim::{Ctx, Dur, Message, Time, MICROS_PER_S};

use crate::timer::{SetTimer, Timer};

/// One phase of a retry rule (an Exim rule item): while the time since the
/// first attempt is below `until_s`, retry at intervals starting at
/// `interval_s`, each `growth_permille`/1000 times the one before (1000 =
/// fixed), capped at `interval_s_max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phase {
    /// The end of the phase, seconds since the first attempt (phases are in
    /// increasing order of it).
    pub until_s: u64,
    /// The phase's first interval, seconds (positive).
    pub interval_s: u64,
    /// Each interval over the one before, per-mille: 1000 = fixed, 1500 =
    /// ×1.5 (at least 1000).
    pub growth_permille: u32,
    /// The longest interval, seconds (at least `interval_s`; unbounded for
    /// [`Phase::geometric`]).
    pub interval_s_max: u64,
}

impl Phase {
    /// Exim's `F,<until>,<interval>`: a fixed interval.
    pub const fn fixed(until_s: u64, interval_s: u64) -> Phase {
        Phase { until_s, interval_s, growth_permille: 1000, interval_s_max: interval_s }
    }
    /// Exim's `G,<until>,<interval>,<factor>`: geometrically growing intervals.
    pub const fn geometric(until_s: u64, interval_s: u64, growth_permille: u32) -> Phase {
        Phase { until_s, interval_s, growth_permille, interval_s_max: u64::MAX }
    }
}

/// How the interval before the next attempt is chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RetryRule {
    /// Postfix: the interval is the mail's age (time since its first attempt)
    /// clamped to `[backoff_s_min, backoff_s_max]`.
    Age {
        /// The shortest backoff, seconds (Postfix `minimal_backoff_time`,
        /// 300 s; positive).
        backoff_s_min: u64,
        /// The longest backoff, seconds (Postfix `maximal_backoff_time`,
        /// 4000 s).
        backoff_s_max: u64,
    },
    /// Exim-style phases, in order of `until_s`. Past the last phase, its
    /// rule continues until the lifetime.
    Phases(Vec<Phase>),
}

/// A sender's or an MTA's retry behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryProfile {
    /// As reported in bounce statistics (`ledger::sender_bounced`).
    pub name: String,
    /// How the interval before the next attempt is chosen.
    pub rule: RetryRule,
    /// Give up (bounce) once a failed attempt is this old (since the first).
    pub lifetime_s: u64,
    /// The queue runner's period: a mail due for retry waits for the next
    /// run. 0: retries happen exactly when due.
    pub scan_s: u64,
    /// Give up after this many failed attempts (0: no limit; none of the
    /// real defaults has one).
    pub attempts_max: u32,
}

impl Default for RetryProfile {
    fn default() -> Self {
        RetryProfile::postfix()
    }
}

const DAY_S: u64 = 86_400;
const HOUR_S: u64 = 3_600;
const MIN_S: u64 = 60;

impl RetryProfile {
    /// Postfix defaults: `queue_run_delay` 300 s, `minimal_backoff_time`
    /// 300 s, `maximal_backoff_time` 4000 s, `maximal_queue_lifetime` 5 d.
    pub fn postfix() -> RetryProfile {
        RetryProfile {
            name: "postfix".to_string(),
            rule: RetryRule::Age { backoff_s_min: 300, backoff_s_max: 4000 },
            lifetime_s: 5 * DAY_S,
            scan_s: 300,
            attempts_max: 0,
        }
    }

    /// Exim's default retry rule `F,2h,15m; G,16h,1h,1.5; F,4d,6h`, queue
    /// runs every 30 min.
    pub fn exim() -> RetryProfile {
        RetryProfile {
            name: "exim".to_string(),
            rule: RetryRule::Phases(vec![
                Phase::fixed(2 * HOUR_S, 15 * MIN_S),
                Phase::geometric(16 * HOUR_S, HOUR_S, 1500),
                Phase::fixed(4 * DAY_S, 6 * HOUR_S),
            ]),
            lifetime_s: 4 * DAY_S,
            scan_s: 30 * MIN_S,
            attempts_max: 0,
        }
    }

    /// Exchange transport defaults: 6 retries 5 min apart (30 min), then
    /// every 10 min; expiry after 2 d.
    pub fn exchange() -> RetryProfile {
        RetryProfile {
            name: "exchange".to_string(),
            rule: RetryRule::Phases(vec![Phase::fixed(30 * MIN_S, 5 * MIN_S), Phase::fixed(2 * DAY_S, 10 * MIN_S)]),
            lifetime_s: 2 * DAY_S,
            scan_s: 0,
            attempts_max: 0,
        }
    }

    /// The Norwegian host's senders: growing intervals, give up at 72 h. The
    /// schedule (30 min doubling to 4 h) is an assumption; only "growing" and
    /// "72 h" are in the source.
    pub fn h72() -> RetryProfile {
        RetryProfile {
            name: "72h".to_string(),
            rule: RetryRule::Phases(vec![Phase {
                until_s: 72 * HOUR_S,
                interval_s: 30 * MIN_S,
                growth_permille: 2000,
                interval_s_max: 4 * HOUR_S,
            }]),
            lifetime_s: 72 * HOUR_S,
            scan_s: 300,
            attempts_max: 0,
        }
    }

    /// Sendmail: every queue run (`-q30m`) retries; `Timeout.queuereturn` 5 d.
    pub fn sendmail() -> RetryProfile {
        RetryProfile {
            name: "sendmail".to_string(),
            rule: RetryRule::Phases(vec![Phase::fixed(5 * DAY_S, 30 * MIN_S)]),
            lifetime_s: 5 * DAY_S,
            scan_s: 0,
            attempts_max: 0,
        }
    }

    /// A built-in profile by name: postfix, exim, exchange, 72h, sendmail.
    pub fn by_name(name: &str) -> Option<RetryProfile> {
        match name {
            "postfix" => Some(RetryProfile::postfix()),
            "exim" => Some(RetryProfile::exim()),
            "exchange" => Some(RetryProfile::exchange()),
            "72h" => Some(RetryProfile::h72()),
            "sendmail" => Some(RetryProfile::sendmail()),
            _ => None,
        }
    }

    /// Checks that the profile cannot retry in a tight loop.
    pub fn validate(&self) -> Result<(), String> {
        if self.lifetime_s == 0 {
            return Err(format!("retry profile `{}`: lifetime_s is 0", self.name));
        }
        match &self.rule {
            RetryRule::Age { backoff_s_min, backoff_s_max } => {
                if *backoff_s_min == 0 || backoff_s_min > backoff_s_max {
                    return Err(format!("retry profile `{}`: need 0 < backoff_s_min <= backoff_s_max", self.name));
                }
            }
            RetryRule::Phases(phases) => {
                if phases.is_empty() {
                    return Err(format!("retry profile `{}`: no phases", self.name));
                }
                for (i, p) in phases.iter().enumerate() {
                    if p.interval_s == 0 || p.interval_s_max < p.interval_s {
                        return Err(format!("retry profile `{}`: phase {i} needs 0 < interval_s <= interval_s_max", self.name));
                    }
                    if p.growth_permille < 1000 {
                        return Err(format!("retry profile `{}`: phase {i} shrinks (growth_permille < 1000)", self.name));
                    }
                    if i > 0 && p.until_s <= phases[i - 1].until_s {
                        return Err(format!("retry profile `{}`: phases not in order of until_s", self.name));
                    }
                }
            }
        }
        Ok(())
    }

    /// When to try again after failed attempt number `attempt` (1 for the
    /// first failure) ended at `now`, for a mail first tried at `first`.
    /// `None`: the mail has expired — give up and bounce.
    ///
    /// The last retry is moved to the end of the lifetime (when it falls
    /// later), so a mail expires when its lifetime is over, not up to one
    /// interval after; the queue run that would pick it up is the caller's
    /// business ([`RetryProfile::scan_after`]).
    pub fn next_retry(&self, attempt: u32, first: Time, now: Time) -> Option<Time> {
        let age = now.since(first).as_micros();
        let lifetime = self.lifetime_s.saturating_mul(MICROS_PER_S);
        if age >= lifetime || (self.attempts_max > 0 && attempt >= self.attempts_max) {
            return None;
        }
        let interval = match &self.rule {
            RetryRule::Age { backoff_s_min, backoff_s_max } => {
                age.clamp(backoff_s_min.saturating_mul(MICROS_PER_S), backoff_s_max.saturating_mul(MICROS_PER_S))
            }
            RetryRule::Phases(phases) => phases_interval(phases, age),
        };
        let next = now + Dur::micros(interval.max(MICROS_PER_S));
        Some(next.min(first + Dur::micros(lifetime)))
    }

    /// The first queue run at or after `due` (runs every `scan_s`, from T+0).
    pub fn scan_after(&self, due: Time) -> Time {
        if self.scan_s == 0 {
            return due;
        }
        let scan = self.scan_s * MICROS_PER_S;
        Time(due.as_micros().div_ceil(scan).saturating_mul(scan))
    }
}

/// The interval of the phase holding `age` (µs since the first attempt).
fn phases_interval(phases: &[Phase], age: u64) -> u64 {
    let mut start = 0;
    for (i, p) in phases.iter().enumerate() {
        let until = p.until_s.saturating_mul(MICROS_PER_S);
        if age < until || i + 1 == phases.len() {
            return grid_interval(p, age - start);
        }
        start = until;
    }
    unreachable!("the last phase always answers")
}

/// A phase's intervals laid end to end from its start form a grid; the
/// interval that applies at `x` µs into the phase is that of the grid cell
/// holding `x`. When attempts happen on time this is exactly Exim's "each
/// interval is the previous one times the factor"; a late attempt (a slow
/// store, a queue run) moves on to the interval its age calls for. Bounded:
/// the loop ends once intervals stop growing (capped) or pass `x`.
fn grid_interval(p: &Phase, x: u64) -> u64 {
    let max = p.interval_s_max.saturating_mul(MICROS_PER_S);
    let mut cur = p.interval_s.saturating_mul(MICROS_PER_S).min(max);
    let mut acc: u64 = 0;
    loop {
        if acc.saturating_add(cur) > x {
            return cur;
        }
        let grown = (cur as u128 * p.growth_permille as u128 / 1000).min(max as u128) as u64;
        if grown <= cur {
            // Fixed from here on: every later cell has this interval.
            return cur;
        }
        acc += cur;
        cur = grown;
    }
}

/// Deadlines `(due, slot, generation)` behind as few kernel timers as
/// possible: at most one pending timer per distinct tick, and none while no
/// current deadline is pending. A component gives each deadline the slot it
/// concerns and that slot's generation; a deadline whose generation no
/// longer matches is stale (the slot moved on) and is skipped, which is
/// cheaper than cancelling. A stale deadline must stay stale: generations
/// only move on.
///
/// No heap: a million mails push several million deadlines, nearly all of
/// which go stale, and a binary heap of them cost a quarter of a run. Instead
/// two lanes:
/// - [`Deadlines::push_in_order`]: a FIFO, O(1), for deadlines that come due
///   in the order they are pushed (a constant timeout after now: delivery
///   and reply timeouts);
/// - [`Deadlines::push`]: buckets by tick, a lookup among the ticks pending
///   (retries, which fall on few ticks: a queue manager's scans); the bucket
///   pushed to last is kept at hand, so a run of pushes to one tick (the
///   mails deferred by one queue scan) costs no lookup.
///
/// The owner handles its timer by calling [`Deadlines::fired`],
/// popping the deadlines due with [`Deadlines::pop_due`] and a test of
/// currency (`current(slot, generation)`), and calling [`Deadlines::rearm`]
/// with the same test. Stale deadlines are dropped on the way, and the
/// current ones come in the order of `(due, slot, generation)`, as a heap
/// would pop them, so a run does not depend on which lane a deadline took.
/// The test is applied when a tick's deadlines are gathered, so handling one
/// of them must not make another of them current again (the owner may test
/// again as it handles each). (A deadline pushed while the due ones are
/// being popped, and itself already due, comes after them; no owner pushes
/// one.)
///
/// Timers: between `fired` and `rearm` a push sets no timer (`rearm` sets
/// one for the earliest deadline), `rearm` first drops the stale deadlines
/// at the head of the FIFO (a timeout whose answer came is not worth a
/// wake-up), and no timer is set while one at or before the wanted time is
/// pending. So a burst of pushes in one handler leaves behind no timer that
/// would fire for nothing, and timeouts that all got their answers cost no
/// timer at all.
pub struct Deadlines {
    /// Deadlines in order of due tick: `(at µs, slot, generation)`.
    fifo: VecDeque<(u64, u32, u32)>,
    /// Other deadlines by due tick (µs): `(slot, generation)`; the tick
    /// `hot_at` is in `hot` instead.
    buckets: BTreeMap<u64, Vec<(u32, u32)>>,
    /// Deadlines alone in their tick when it stopped being the hot one, as a
    /// min-heap of `(at µs, slot, generation)`: sparse deadlines (a few
    /// hundred mails retrying on their own schedules) cost no bucket
    /// allocation and no map node each.
    singles: BinaryHeap<Reverse<(u64, u32, u32)>>,
    /// The bucket pushed to last, for tick `hot_at` (`u64::MAX`: none).
    hot: Vec<(u32, u32)>,
    hot_at: u64,
    /// An empty bucket with some capacity, for the next new one.
    spare: Vec<(u32, u32)>,
    /// The current deadlines of tick `due_at` being popped, each
    /// `slot << 32 | generation`, in order from `next` on.
    due: Vec<u64>,
    due_at: u64,
    next: usize,
    /// Scratch space for sorting `due`.
    scratch: Vec<u64>,
    /// Deadlines in `fifo` and the buckets.
    len: usize,
    /// The kernel timers this set has pending (µs): few.
    timers: Vec<u64>,
    /// The earliest of `timers`, `u64::MAX` if none.
    first_timer: u64,
    /// The last tick computed and the one before it (µs): a deadline in
    /// `(tick_lo, tick_hi]` rounds up to `tick_hi` without a division.
    tick_lo: u64,
    tick_hi: u64,
    /// Between `fired` and `rearm`: pushes leave the timer to `rearm`.
    batch: bool,
    tick_us: u64,
    timer: Timer,
}

impl Deadlines {
    /// Deadlines rounded up to `tick` (at least 1 µs), firing kernel timers
    /// with `timer`.
    pub fn new(tick: Dur, timer: Timer) -> Deadlines {
        Deadlines {
            fifo: VecDeque::new(),
            buckets: BTreeMap::new(),
            singles: BinaryHeap::new(),
            hot: Vec::new(),
            hot_at: u64::MAX,
            spare: Vec::new(),
            due: Vec::new(),
            due_at: 0,
            next: 0,
            scratch: Vec::new(),
            len: 0,
            timers: Vec::new(),
            first_timer: u64::MAX,
            tick_lo: 0,
            tick_hi: 0,
            batch: false,
            tick_us: tick.as_micros().max(1),
            timer,
        }
    }

    /// Deadlines pending, stale ones included (but for those found stale
    /// already).
    pub fn len(&self) -> usize {
        self.len + self.due.len() - self.next
    }
    /// Whether no deadline is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The timer it sets in the kernel.
    pub fn timer(&self) -> Timer {
        self.timer
    }

    /// `due` rounded up to the tick, and never before now (µs).
    #[inline]
    fn tick_of<M: Message, W>(&mut self, ctx: &Ctx<'_, M, W>, due: Time) -> u64 {
        let now = ctx.now().as_micros();
        let x = due.as_micros().max(now);
        if x > self.tick_lo && x <= self.tick_hi {
            // Deadlines pushed together mostly share a tick.
            return self.tick_hi;
        }
        let at = x.div_ceil(self.tick_us).saturating_mul(self.tick_us);
        (self.tick_lo, self.tick_hi) = (at.saturating_sub(self.tick_us), at);
        at
    }

    /// Sets a kernel timer for `at` unless one at or before it is pending
    /// (or a batch is open: `rearm` will).
    #[inline]
    fn arm<M: Message, W>(&mut self, ctx: &mut Ctx<'_, M, W>, at: u64) {
        if self.batch || self.first_timer <= at {
            return;
        }
        self.set_timer(ctx, at);
    }

    #[inline(never)]
    fn set_timer<M: Message, W>(&mut self, ctx: &mut Ctx<'_, M, W>, at: u64) {
        self.timers.push(at);
        self.first_timer = at;
        let now = ctx.now().as_micros();
        ctx.set(Dur::micros(at.saturating_sub(now)), self.timer);
    }

    /// Adds a deadline for `slot` at generation `generation`.
    pub fn push<M: Message, W>(&mut self, ctx: &mut Ctx<'_, M, W>, due: Time, slot: u32, generation: u32) {
        let at = self.tick_of(ctx, due);
        self.push_bucket(at, slot, generation);
        self.arm(ctx, at);
    }

    /// Adds `(slot, generation)` to the bucket of tick `at`.
    #[inline]
    fn push_bucket(&mut self, at: u64, slot: u32, generation: u32) {
        if at != self.hot_at {
            // Another tick: the hot bucket goes back to the map, and the
            // bucket of `at` (if any) comes out of it.
            let found = if self.buckets.is_empty() { None } else { self.buckets.remove(&at) };
            let bucket = found.unwrap_or_else(|| std::mem::take(&mut self.spare));
            let mut old = std::mem::replace(&mut self.hot, bucket);
            if self.hot_at != u64::MAX && old.len() > 1 {
                self.buckets.insert(self.hot_at, old);
            } else {
                if let [(slot, generation)] = old[..] {
                    self.singles.push(Reverse((self.hot_at, slot, generation)));
                }
                old.clear();
                if self.spare.capacity() < old.capacity() {
                    self.spare = old;
                }
            }
            self.hot_at = at;
        }
        self.hot.push((slot, generation));
        self.len += 1;
    }

    /// Adds a deadline that comes due no earlier than every deadline pushed
    /// this way before it (a constant timeout after now), in O(1). One that
    /// would come earlier (the tick rounding of a timeout set a moment ago)
    /// is added as by [`Deadlines::push`]; either way it fires at its time.
    pub fn push_in_order<M: Message, W>(&mut self, ctx: &mut Ctx<'_, M, W>, due: Time, slot: u32, generation: u32) {
        let at = self.tick_of(ctx, due);
        match self.fifo.back() {
            Some(&(last, _, _)) if at < last => self.push_bucket(at, slot, generation),
            _ => {
                self.fifo.push_back((at, slot, generation));
                self.len += 1;
            }
        }
        self.arm(ctx, at);
    }

    /// Drops every deadline pushed with [`Deadlines::push_in_order`] that is
    /// still in its FIFO, without testing them: for an owner that knows none
    /// of them is current any more (every attempt they time has ended).
    pub fn forget_in_order(&mut self) {
        self.len -= self.fifo.len();
        self.fifo.clear();
    }

    /// Call when this set's timer fires, before popping: opens a
    /// batch that [`Deadlines::rearm`] closes.
    pub fn fired(&mut self, now: Time) {
        let now = now.as_micros();
        self.timers.retain(|&t| t > now);
        self.first_timer = self.timers.iter().copied().min().unwrap_or(u64::MAX);
        self.batch = true;
    }

    /// The next current deadline due at `now`, if any; stale ones (for which
    /// `current(slot, generation)` is false) are dropped.
    pub fn pop_due(&mut self, now: Time, current: impl Fn(u32, u32) -> bool) -> Option<(u32, u32)> {
        if self.next == self.due.len() {
            self.collect_due(now.as_micros(), current);
        }
        let d = *self.due.get(self.next)?;
        self.next += 1;
        Some(((d >> 32) as u32, d as u32))
    }

    /// The earliest tick with deadlines in the lanes (µs), `u64::MAX` if none.
    fn earliest_pending(&self) -> u64 {
        let fifo = self.fifo.front().map_or(u64::MAX, |d| d.0);
        let bucket = self.buckets.keys().next().copied().unwrap_or(u64::MAX);
        let single = self.singles.peek().map_or(u64::MAX, |d| d.0 .0);
        fifo.min(bucket).min(single).min(self.hot_at)
    }

    /// Gathers the current deadlines of the earliest tick at or before `now`
    /// (µs) that has any into `due`, in order.
    fn collect_due(&mut self, now: u64, current: impl Fn(u32, u32) -> bool) {
        self.due.clear();
        self.next = 0;
        loop {
            let at = self.earliest_pending();
            if at > now {
                return;
            }
            self.due_at = at;
            while let Some(&(a, slot, generation)) = self.fifo.front() {
                if a != at {
                    break;
                }
                self.fifo.pop_front();
                self.len -= 1;
                if current(slot, generation) {
                    self.due.push((slot as u64) << 32 | generation as u64);
                }
            }
            let mut bucket = if self.hot_at == at {
                self.hot_at = u64::MAX;
                std::mem::take(&mut self.hot)
            } else {
                match self.buckets.first_entry() {
                    Some(e) if *e.key() == at => e.remove(),
                    _ => Vec::new(),
                }
            };
            self.len -= bucket.len();
            // The bucket's deadlines are tested after sorting, in slot
            // order, so that the owner's slots are visited in order too.
            self.due.extend(bucket.iter().map(|&(slot, generation)| (slot as u64) << 32 | generation as u64));
            while let Some(&Reverse((a, slot, generation))) = self.singles.peek() {
                if a != at {
                    break;
                }
                self.singles.pop();
                self.len -= 1;
                self.due.push((slot as u64) << 32 | generation as u64);
            }
            bucket.clear();
            if self.spare.capacity() < bucket.capacity() {
                self.spare = bucket;
            }
            if !self.due.is_empty() {
                sort_keys(&mut self.due, &mut self.scratch);
                self.due.retain(|&d| current((d >> 32) as u32, d as u32));
                if !self.due.is_empty() {
                    return;
                }
            }
        }
    }

    /// The earliest pending deadline (µs).
    fn earliest(&self) -> Option<u64> {
        let due = if self.next < self.due.len() { self.due_at } else { u64::MAX };
        Some(due.min(self.earliest_pending())).filter(|&at| at != u64::MAX)
    }

    /// Call after popping the due deadlines, with the same test: drops the
    /// stale deadlines at the head of the FIFO, closes the batch and sets a
    /// timer for the next deadline.
    pub fn rearm<M: Message, W>(&mut self, ctx: &mut Ctx<'_, M, W>, current: impl Fn(u32, u32) -> bool) {
        while let Some(&(_, slot, generation)) = self.fifo.front() {
            if current(slot, generation) {
                break;
            }
            self.fifo.pop_front();
            self.len -= 1;
        }
        self.batch = false;
        if let Some(at) = self.earliest() {
            self.arm(ctx, at);
        }
    }

    /// Forgets every deadline (the owner rebuilt its state).
    pub fn clear(&mut self) {
        self.fifo.clear();
        self.buckets.clear();
        self.singles.clear();
        self.hot.clear();
        self.hot_at = u64::MAX;
        self.due.clear();
        self.next = 0;
        self.len = 0;
        self.timers.clear();
        self.first_timer = u64::MAX;
        self.batch = false;
    }
}

/// Sorts one tick's packed deadlines (`slot << 32 | generation`) in
/// ascending order. A tick's deadlines nearly all have distinct slots (a
/// slot has one generation at a time; only stale ones can repeat a slot)
/// that differ in a few low bytes, so a least-significant-digit radix sort
/// over just the slot bytes that differ is a handful of linear passes; a
/// final insertion pass orders the few equal slots by generation. Short runs
/// use the standard sort.
fn sort_keys(keys: &mut Vec<u64>, scratch: &mut Vec<u64>) {
    if keys.len() <= 64 {
        keys.sort_unstable();
        return;
    }
    let (mut any, mut all) = (0u64, !0u64);
    for &k in keys.iter() {
        any |= k;
        all &= k;
    }
    let differ = (any ^ all) >> 32;
    scratch.clear();
    scratch.resize(keys.len(), 0);
    for shift in (32..64).step_by(8) {
        if (differ >> (shift - 32)) & 0xff == 0 {
            continue;
        }
        let mut start = [0usize; 256];
        for &k in keys.iter() {
            start[((k >> shift) & 0xff) as usize] += 1;
        }
        let mut sum = 0;
        for c in start.iter_mut() {
            let n = *c;
            *c = sum;
            sum += n;
        }
        for &k in keys.iter() {
            let b = ((k >> shift) & 0xff) as usize;
            scratch[start[b]] = k;
            start[b] += 1;
        }
        std::mem::swap(keys, scratch);
    }
    // Equal slots (if any) are adjacent now: order them by generation.
    for i in 1..keys.len() {
        let mut j = i;
        while j > 0 && keys[j - 1] > keys[j] {
            keys.swap(j - 1, j);
            j -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs a profile whose every attempt fails at once, from T+0: the
    /// attempt times, in seconds, until it gives up.
    fn schedule(p: &RetryProfile) -> Vec<u64> {
        let first = Time::ZERO;
        let mut now = first;
        let mut times = vec![0];
        let mut attempt = 1;
        while let Some(t) = p.next_retry(attempt, first, now) {
            assert!(t > now, "retry in the future");
            now = t;
            times.push(now.as_secs());
            attempt += 1;
            assert!(attempt < 10_000, "profile `{}` never expires", p.name);
        }
        times
    }

    fn gaps(times: &[u64]) -> Vec<u64> {
        times.windows(2).map(|w| w[1] - w[0]).collect()
    }

    #[test]
    fn builtin_profiles_are_valid() {
        for name in ["postfix", "exim", "exchange", "72h", "sendmail"] {
            let p = RetryProfile::by_name(name).expect("built in");
            assert_eq!(p.name, name);
            p.validate().expect("valid");
        }
        assert!(RetryProfile::by_name("qmail").is_none());
        let mut bad = RetryProfile::exim();
        bad.rule = RetryRule::Phases(vec![Phase::fixed(10, 0)]);
        assert!(bad.validate().is_err());
    }

    #[test]
    fn postfix_retries_at_its_age_clamped_to_300_and_4000_s_and_expires_at_5_days() {
        let p = RetryProfile::postfix();
        let times = schedule(&p);
        // Retries 300, 600, 1200, 2400 s after arrival (each interval doubles
        // because it is the mail's age), then 4800 s and every 4000 s.
        assert_eq!(&times[..7], &[0, 300, 600, 1200, 2400, 4800, 8800]);
        let g = gaps(&times);
        assert_eq!(&g[..6], &[300, 300, 600, 1200, 2400, 4000]);
        assert!(g[5..g.len() - 1].iter().all(|&x| x == 4000), "every 4000 s after the ramp");
        assert_eq!(*times.last().expect("attempts"), 5 * DAY_S, "last attempt at the lifetime");
        // A failure at exactly 5 days gives up; just before, it retries.
        assert_eq!(p.next_retry(9, Time::ZERO, Time::from_secs(5 * DAY_S)), None);
        assert!(p.next_retry(9, Time::ZERO, Time::from_secs(5 * DAY_S - 1)).is_some());
    }

    #[test]
    fn a_late_postfix_attempt_uses_the_age_not_the_attempt_count() {
        let p = RetryProfile::postfix();
        // First failure after a 1000 s store timeout: the backoff is its age.
        assert_eq!(p.next_retry(1, Time::ZERO, Time::from_secs(1000)), Some(Time::from_secs(2000)));
        assert_eq!(p.next_retry(1, Time::from_secs(50), Time::from_secs(60)), Some(Time::from_secs(360)));
    }

    #[test]
    fn exim_follows_f_2h_15m_then_g_16h_1h_1_5_then_f_4d_6h() {
        let p = RetryProfile::exim();
        let times = schedule(&p);
        let g = gaps(&times);
        // 8 retries 15 min apart reach 2 h.
        assert!(g[..8].iter().all(|&x| x == 900), "{g:?}");
        assert_eq!(times[8], 2 * HOUR_S);
        // Then 1 h, 1.5 h, 2.25 h, 3.375 h, 5.0625 h: up to 15.19 h.
        assert_eq!(&g[8..13], &[3600, 5400, 8100, 12_150, 18_225]);
        assert_eq!(times[13], 2 * HOUR_S + 47_475);
        // The next G interval would be 7.59 h (27 337 s); at 15.19 h we are
        // still in the G phase, so it applies, reaching 22.78 h.
        assert_eq!(g[13], 27_337);
        // Past 16 h: every 6 h until 4 days.
        assert!(g[14..g.len() - 1].iter().all(|&x| x == 6 * HOUR_S), "{g:?}");
        assert_eq!(*times.last().expect("attempts"), 4 * DAY_S);
    }

    #[test]
    fn seventy_two_hour_senders_grow_to_4_h_and_expire_at_72_h() {
        let p = RetryProfile::h72();
        let times = schedule(&p);
        let g = gaps(&times);
        assert_eq!(&g[..5], &[1800, 3600, 7200, 14_400, 14_400]);
        assert_eq!(*times.last().expect("attempts"), 72 * HOUR_S);
        assert_eq!(p.next_retry(20, Time::ZERO, Time::from_hours(72)), None);
    }

    #[test]
    fn exchange_expires_at_2_days_and_sendmail_at_5() {
        let ex = schedule(&RetryProfile::exchange());
        assert_eq!(&gaps(&ex)[..8], &[300, 300, 300, 300, 300, 300, 600, 600]);
        assert_eq!(*ex.last().expect("attempts"), 2 * DAY_S);
        let sm = schedule(&RetryProfile::sendmail());
        assert!(gaps(&sm).iter().all(|&x| x == 1800));
        assert_eq!(*sm.last().expect("attempts"), 5 * DAY_S);
    }

    #[test]
    fn attempts_max_and_queue_runs() {
        let mut p = RetryProfile::postfix();
        p.attempts_max = 3;
        assert!(p.next_retry(2, Time::ZERO, Time::from_secs(10)).is_some());
        assert_eq!(p.next_retry(3, Time::ZERO, Time::from_secs(10)), None);
        assert_eq!(p.scan_after(Time::from_secs(301)), Time::from_secs(600));
        assert_eq!(p.scan_after(Time::from_secs(600)), Time::from_secs(600));
        assert_eq!(RetryProfile::exchange().scan_after(Time::from_secs(301)), Time::from_secs(301));
    }

    /// A node that sets deadlines at boot and records, at each timer, the
    /// current ones popped: (seconds, slot, generation).
    struct Pusher {
        deadlines: Deadlines,
        /// The current generation of each slot.
        generations: Vec<u32>,
    }

    type Popped = Vec<(u64, u32, u32)>;

    impl mailsim_sim::Node<u8, Popped> for Pusher {
        type Disk = ();
        fn handle(&mut self, input: mailsim_sim::Input<u8>, ctx: &mut Ctx<'_, u8, Popped>, _: &mut mailsim_sim::Disk<()>) {
            let s = Time::from_secs;
            match input {
                mailsim_sim::Input::Start => {
                    let d = &mut self.deadlines;
                    d.push_in_order(ctx, s(10), 3, 0);
                    d.push(ctx, s(10), 1, 0);
                    // Earlier than the last in-order deadline: takes the
                    // other lane, and rounds up to the 10 s tick.
                    d.push_in_order(ctx, s(7), 2, 0);
                    // Stale by the time it falls due (generation moved on).
                    d.push(ctx, s(10), 0, 0);
                    d.push_in_order(ctx, s(30), 4, 0);
                    d.push(ctx, s(21), 5, 0);
                    self.generations[0] = 1;
                    assert_eq!(d.len(), 6);
                }
                mailsim_sim::Input::Timer { .. } => {
                    let now = ctx.now();
                    self.deadlines.fired(now);
                    while let Some((slot, generation)) = self.deadlines.pop_due(now, |s, g| self.generations[s as usize] == g) {
                        ctx.world.push((now.as_secs(), slot, generation));
                    }
                    self.deadlines.rearm(ctx, |s, g| self.generations[s as usize] == g);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn deadlines_pop_in_due_slot_order_whatever_the_lane_and_skip_stale_ones() {
        let mut sim: mailsim_sim::Sim<u8, Popped> = mailsim_sim::Sim::new(mailsim_sim::Config::new(1), Vec::new());
        let node = sim.add_node("pusher", mailsim_sim::NodeConfig::default(), (), |_| Pusher {
            deadlines: Deadlines::new(Dur::secs(5), Timer::Custom(7)),
            generations: vec![0; 6],
        });
        assert!(sim.run().outcome.is_ok());
        assert_eq!(sim.world(), &vec![(10, 1, 0), (10, 2, 0), (10, 3, 0), (25, 5, 0), (30, 4, 0)]);
        let pusher = sim.node::<Pusher>(node).expect("up");
        assert!(pusher.deadlines.is_empty(), "{} left", pusher.deadlines.len());
        // One kernel timer per tick with deadlines (10, 25, 30 s), nothing more.
        assert_eq!(sim.trace().len(), 1 + 3, "start and three timers");
    }

    /// A node that, at each timer, pushes a far deadline and then a near
    /// one (as senders push a reply timeout and then the next arrival
    /// batch), and makes the far ones stale.
    struct Burst {
        deadlines: Deadlines,
        generations: Vec<u32>,
        rounds: u32,
    }

    impl mailsim_sim::Node<u8, Popped> for Burst {
        type Disk = ();
        fn handle(&mut self, input: mailsim_sim::Input<u8>, ctx: &mut Ctx<'_, u8, Popped>, _: &mut mailsim_sim::Disk<()>) {
            let now = ctx.now();
            let started = matches!(input, mailsim_sim::Input::Start);
            if started {
                self.deadlines.push_in_order(ctx, now + Dur::secs(600), 0, 0);
            } else {
                self.deadlines.fired(now);
            }
            while let Some((slot, generation)) = self.deadlines.pop_due(now, |s, g| self.generations[s as usize] == g) {
                ctx.world.push((now.as_secs(), slot, generation));
            }
            if self.rounds > 0 {
                self.rounds -= 1;
                // The timeout of slot 0 moves on: its old deadline is stale.
                self.generations[0] += 1;
                self.deadlines.push_in_order(ctx, now + Dur::secs(600), 0, self.generations[0]);
                self.generations[0] += 1;
                self.deadlines.push(ctx, now + Dur::secs(5), 1, 0);
            }
            if !started {
                self.deadlines.rearm(ctx, |s, g| self.generations[s as usize] == g);
            }
        }
    }

    #[test]
    fn a_burst_of_pushes_leaves_no_timer_behind_and_stale_timeouts_cost_none() {
        let mut sim: mailsim_sim::Sim<u8, Popped> = mailsim_sim::Sim::new(mailsim_sim::Config::new(1), Vec::new());
        sim.add_node("burst", mailsim_sim::NodeConfig::default(), (), |_| Burst {
            deadlines: Deadlines::new(Dur::secs(5), Timer::Custom(7)),
            generations: vec![0; 2],
            rounds: 10,
        });
        assert!(sim.run().outcome.is_ok());
        let popped: Vec<u64> = sim.world().iter().map(|p| p.0).collect();
        assert_eq!(popped, (1..=10).map(|k| 5 * k).collect::<Vec<_>>(), "slot 1 every 5 s");
        // Start, the timer set at start (600 s) and the ten 5 s timers: the
        // stale 600 s timeouts set no timer of their own.
        assert_eq!(sim.trace().len(), 1 + 1 + 10);
    }

    /// Pushes two in-order deadlines and a bucket one, then forgets the
    /// in-order lane.
    struct Forgetter {
        deadlines: Deadlines,
    }

    impl mailsim_sim::Node<u8, Popped> for Forgetter {
        type Disk = ();
        fn handle(&mut self, input: mailsim_sim::Input<u8>, ctx: &mut Ctx<'_, u8, Popped>, _: &mut mailsim_sim::Disk<()>) {
            let s = Time::from_secs;
            match input {
                mailsim_sim::Input::Start => {
                    let d = &mut self.deadlines;
                    d.push_in_order(ctx, s(10), 0, 0);
                    d.push_in_order(ctx, s(20), 1, 0);
                    d.push(ctx, s(15), 2, 0);
                    d.forget_in_order();
                    assert_eq!(d.len(), 1);
                }
                mailsim_sim::Input::Timer { .. } => {
                    let now = ctx.now();
                    self.deadlines.fired(now);
                    while let Some((slot, generation)) = self.deadlines.pop_due(now, |_, _| true) {
                        ctx.world.push((now.as_secs(), slot, generation));
                    }
                    self.deadlines.rearm(ctx, |_, _| true);
                }
                _ => {}
            }
        }
    }

    #[test]
    fn forgotten_in_order_deadlines_never_pop() {
        let mut sim: mailsim_sim::Sim<u8, Popped> = mailsim_sim::Sim::new(mailsim_sim::Config::new(1), Vec::new());
        let node = sim.add_node("forgetter", mailsim_sim::NodeConfig::default(), (), |_| Forgetter {
            deadlines: Deadlines::new(Dur::secs(5), Timer::Custom(7)),
        });
        assert!(sim.run().outcome.is_ok());
        assert_eq!(sim.world(), &vec![(15, 2, 0)]);
        assert!(sim.node::<Forgetter>(node).expect("up").deadlines.is_empty());
    }

    #[test]
    fn the_radix_sort_of_deadlines_agrees_with_a_plain_sort() {
        let mut rng = mailsim_sim::Stream::new(5, "sort");
        for n in [0, 1, 63, 64, 65, 1000, 5000] {
            // One tick's deadlines: slots and generations below 2^20.
            let mut keys: Vec<u64> = (0..n).map(|_| rng.below(1 << 20) << 32 | rng.below(1 << 20)).collect();
            // And a few equal slots with other generations.
            let again: Vec<u64> = keys.iter().take(n / 10).map(|k| k & !0xffff_ffff | rng.below(1 << 20)).collect();
            keys.extend(again);
            let mut want = keys.clone();
            want.sort_unstable();
            sort_keys(&mut keys, &mut Vec::new());
            assert_eq!(keys, want, "{n} keys");
        }
    }
}
