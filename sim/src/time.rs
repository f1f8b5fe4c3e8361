//! Virtual time. The kernel's clock is an integer count of microseconds since
//! the start of a run; nothing in a run ever reads the wall clock. Instants and
//! spans are distinct types so that adding two instants does not compile.

use std::fmt;
use std::ops::{Add, AddAssign, Sub};

/// An instant of simulated time, in microseconds since the run started.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(pub u64);

/// A span of simulated time, in microseconds.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dur(pub u64);

/// Microseconds in a millisecond.
pub const MICROS_PER_MS: u64 = 1_000;
/// Microseconds in a second.
pub const MICROS_PER_S: u64 = 1_000_000;
/// Microseconds in a minute.
pub const MICROS_PER_MIN: u64 = 60 * MICROS_PER_S;
/// Microseconds in an hour.
pub const MICROS_PER_H: u64 = 60 * MICROS_PER_MIN;
/// Microseconds in a day (24 hours).
pub const MICROS_PER_DAY: u64 = 24 * MICROS_PER_H;

impl Time {
    /// The start of a run.
    pub const ZERO: Time = Time(0);
    /// The latest representable instant: adding a `Dur` saturates here.
    pub const MAX: Time = Time(u64::MAX);

    /// The instant `us` microseconds after the start.
    pub const fn from_micros(us: u64) -> Time {
        Time(us)
    }
    /// The instant `s` seconds after the start.
    pub const fn from_secs(s: u64) -> Time {
        Time(s * MICROS_PER_S)
    }
    /// The instant `h` hours after the start.
    pub const fn from_hours(h: u64) -> Time {
        Time(h * MICROS_PER_H)
    }
    /// Microseconds since the start.
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    /// Whole seconds since the start, rounded down.
    pub const fn as_secs(self) -> u64 {
        self.0 / MICROS_PER_S
    }
    /// Span since `earlier`; zero if `earlier` is later (never underflows).
    pub const fn since(self, earlier: Time) -> Dur {
        Dur(self.0.saturating_sub(earlier.0))
    }
}

impl Dur {
    /// The empty span.
    pub const ZERO: Dur = Dur(0);
    /// The longest span: addition, `scale_permille` and `saturating_mul`
    /// saturate here.
    pub const MAX: Dur = Dur(u64::MAX);

    /// A span of `us` microseconds.
    pub const fn micros(us: u64) -> Dur {
        Dur(us)
    }
    /// A span of `ms` milliseconds.
    pub const fn millis(ms: u64) -> Dur {
        Dur(ms * MICROS_PER_MS)
    }
    /// A span of `s` seconds.
    pub const fn secs(s: u64) -> Dur {
        Dur(s * MICROS_PER_S)
    }
    /// A span of `m` minutes.
    pub const fn mins(m: u64) -> Dur {
        Dur(m * MICROS_PER_MIN)
    }
    /// A span of `h` hours.
    pub const fn hours(h: u64) -> Dur {
        Dur(h * MICROS_PER_H)
    }
    /// A span of `d` days of 24 hours.
    pub const fn days(d: u64) -> Dur {
        Dur(d * MICROS_PER_DAY)
    }
    /// The span in microseconds.
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    /// The span in whole seconds, rounded down.
    pub const fn as_secs(self) -> u64 {
        self.0 / MICROS_PER_S
    }
    /// Scales by a ratio in per-mille (1000 = unchanged), saturating.
    pub const fn scale_permille(self, permille: u32) -> Dur {
        let x = (self.0 as u128 * permille as u128) / 1000;
        if x > u64::MAX as u128 {
            Dur::MAX
        } else {
            Dur(x as u64)
        }
    }
    /// Multiplies by `k`, saturating at `Dur::MAX`.
    pub const fn saturating_mul(self, k: u64) -> Dur {
        Dur(self.0.saturating_mul(k))
    }
}

impl Add<Dur> for Time {
    type Output = Time;
    fn add(self, d: Dur) -> Time {
        Time(self.0.saturating_add(d.0))
    }
}
impl AddAssign<Dur> for Time {
    fn add_assign(&mut self, d: Dur) {
        self.0 = self.0.saturating_add(d.0);
    }
}
impl Sub<Time> for Time {
    type Output = Dur;
    fn sub(self, t: Time) -> Dur {
        self.since(t)
    }
}
impl Add for Dur {
    type Output = Dur;
    fn add(self, d: Dur) -> Dur {
        Dur(self.0.saturating_add(d.0))
    }
}

fn fmt_micros(us: u64, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let days = us / MICROS_PER_DAY;
    let rest = us % MICROS_PER_DAY;
    let h = rest / MICROS_PER_H;
    let m = (rest % MICROS_PER_H) / MICROS_PER_MIN;
    let s = (rest % MICROS_PER_MIN) / MICROS_PER_S;
    let frac = rest % MICROS_PER_S;
    if days > 0 {
        write!(f, "{days}d")?;
    }
    write!(f, "{h:02}:{m:02}:{s:02}.{frac:06}")
}

impl fmt::Display for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("T+")?;
        fmt_micros(self.0, f)
    }
}
impl fmt::Debug for Time {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt_micros(self.0, f)
    }
}
impl fmt::Debug for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        assert_eq!(Time::MAX + Dur::secs(1), Time::MAX);
        assert_eq!(Time::from_secs(1) - Time::from_secs(5), Dur::ZERO);
        assert_eq!(Dur::secs(10).scale_permille(10_000), Dur::secs(100));
    }

    #[test]
    fn display_is_human() {
        assert_eq!(format!("{}", Time::from_hours(25) + Dur::millis(5)), "T+1d01:00:00.005000");
    }
}
