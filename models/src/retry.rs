//! SMTP retry profiles, as data: when a mail that could not be handed on is
//! tried again, and when its holder gives up and returns it to its author.
//!
//! RFC 5321 §4.5.4.1 asks a sender to retry a temporary failure no sooner than
//! every 30 minutes and to give up after at least 4–5 days; real MTAs differ
//! inside that envelope, and the differences decide who bounces during a long
//! outage (the Norwegian host's November outage, `seeds/004_*`: "senders retry
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
//! This module also holds [`Deadlines`], the timer heap that senders and MTAs
//! schedule their retries and timeouts with: many mails share one kernel timer
//! per tick, because a million mails must not cost a million extra events.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use mailsim_sim::{Ctx, Dur, Message, Time, MICROS_PER_S};

/// One phase of a retry rule (an Exim rule item): while the time since the
/// first attempt is below `until_s`, retry at intervals starting at
/// `interval_s`, each `growth_permille`/1000 times the one before (1000 =
/// fixed), capped at `interval_s_max`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phase {
    pub until_s: u64,
    pub interval_s: u64,
    pub growth_permille: u32,
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
    Age { backoff_s_min: u64, backoff_s_max: u64 },
    /// Exim-style phases, in order of `until_s`. Past the last phase, its
    /// rule continues until the lifetime.
    Phases(Vec<Phase>),
}

/// A sender's or an MTA's retry behaviour.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryProfile {
    /// As reported in bounce statistics (`ledger::sender_bounced`).
    pub name: String,
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

/// A heap of deadlines `(due, slot, generation)` behind as few kernel timers
/// as possible: at most one pending timer per distinct tick, and none while
/// the heap is empty. A component gives each deadline the slot it concerns
/// and that slot's generation; a deadline whose generation no longer matches
/// is stale (the slot moved on) and is skipped by the owner, which is cheaper
/// than cancelling.
pub struct Deadlines {
    heap: BinaryHeap<Reverse<(u64, u32, u32)>>,
    /// The earliest kernel timer this heap has pending (µs), `u64::MAX` if none.
    armed: u64,
    tick_us: u64,
    tag: u64,
}

impl Deadlines {
    /// Deadlines rounded up to `tick` (at least 1 µs), firing kernel timers
    /// with `tag`.
    pub fn new(tick: Dur, tag: u64) -> Deadlines {
        Deadlines { heap: BinaryHeap::new(), armed: u64::MAX, tick_us: tick.as_micros().max(1), tag }
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
    pub fn tag(&self) -> u64 {
        self.tag
    }

    /// Adds a deadline for `slot` at generation `generation`.
    pub fn push<M: Message, W>(&mut self, ctx: &mut Ctx<'_, M, W>, due: Time, slot: u32, generation: u32) {
        let now = ctx.now().as_micros();
        let at = due.as_micros().max(now).div_ceil(self.tick_us).saturating_mul(self.tick_us);
        self.heap.push(Reverse((at, slot, generation)));
        if at < self.armed {
            self.armed = at;
            ctx.set_timer(Dur::micros(at - now), self.tag);
        }
    }

    /// Call when a timer with this heap's tag fires, before popping.
    pub fn fired(&mut self, now: Time) {
        if self.armed <= now.as_micros() {
            self.armed = u64::MAX;
        }
    }

    /// The next deadline due at `now`, if any.
    pub fn pop_due(&mut self, now: Time) -> Option<(u32, u32)> {
        match self.heap.peek() {
            Some(Reverse((at, _, _))) if *at <= now.as_micros() => self.heap.pop().map(|Reverse((_, s, g))| (s, g)),
            _ => None,
        }
    }

    /// Call after popping the due deadlines: sets a timer for the next one.
    pub fn rearm<M: Message, W>(&mut self, ctx: &mut Ctx<'_, M, W>) {
        if let Some(Reverse((at, _, _))) = self.heap.peek() {
            let at = *at;
            if at < self.armed {
                self.armed = at;
                let now = ctx.now().as_micros();
                ctx.set_timer(Dur::micros(at.saturating_sub(now)), self.tag);
            }
        }
    }

    /// Forgets every deadline (the owner rebuilt its state).
    pub fn clear(&mut self) {
        self.heap.clear();
        self.armed = u64::MAX;
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
}
