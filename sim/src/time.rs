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

pub const MICROS_PER_MS: u64 = 1_000;
pub const MICROS_PER_S: u64 = 1_000_000;
pub const MICROS_PER_MIN: u64 = 60 * MICROS_PER_S;
pub const MICROS_PER_H: u64 = 60 * MICROS_PER_MIN;
pub const MICROS_PER_DAY: u64 = 24 * MICROS_PER_H;

impl Time {
    pub const ZERO: Time = Time(0);
    pub const MAX: Time = Time(u64::MAX);

    pub const fn from_micros(us: u64) -> Time {
        Time(us)
    }
    pub const fn from_secs(s: u64) -> Time {
        Time(s * MICROS_PER_S)
    }
    pub const fn from_hours(h: u64) -> Time {
        Time(h * MICROS_PER_H)
    }
    pub const fn as_micros(self) -> u64 {
        self.0
    }
    pub const fn as_secs(self) -> u64 {
        self.0 / MICROS_PER_S
    }
    /// Span since `earlier`; zero if `earlier` is later (never underflows).
    pub const fn since(self, earlier: Time) -> Dur {
        Dur(self.0.saturating_sub(earlier.0))
    }
}

impl Dur {
    pub const ZERO: Dur = Dur(0);
    pub const MAX: Dur = Dur(u64::MAX);

    pub const fn micros(us: u64) -> Dur {
        Dur(us)
    }
    pub const fn millis(ms: u64) -> Dur {
        Dur(ms * MICROS_PER_MS)
    }
    pub const fn secs(s: u64) -> Dur {
        Dur(s * MICROS_PER_S)
    }
    pub const fn mins(m: u64) -> Dur {
        Dur(m * MICROS_PER_MIN)
    }
    pub const fn hours(h: u64) -> Dur {
        Dur(h * MICROS_PER_H)
    }
    pub const fn days(d: u64) -> Dur {
        Dur(d * MICROS_PER_DAY)
    }
    pub const fn as_micros(self) -> u64 {
        self.0
    }
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
