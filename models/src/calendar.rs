//! The operators' calendar: when an alert fires matters as much as what it
//! says. The Fused mail outage of December 2018 (Fused, "mail system down"
//! incident report, 31 Dec 2018,
//! <https://www.fusedstatus.com/incidents/5fh5cmfdh868>) ran for hours
//! because its alerts arrived on a holiday weekend and were ignored; the same
//! alert on a Tuesday afternoon would have been seen in minutes.
//!
//! Simulated time is a count of microseconds since the run started, so the
//! calendar needs the run's start (weekday and hour of day) and the holidays
//! as day offsets from the start day. From these, pure functions classify any
//! instant into a [`Period`] — business hours, night, weekend or holiday — and
//! draw an operator's response delay for that period from a [`Stream`].
//!
//! The default delay ranges are assumptions, not sourced figures (no
//! postmortem gives them): business hours 5–15 min, nights 30–90 min,
//! weekends 1–4 h, holidays 4–12 h. Business hours default to 09:00–17:00,
//! Monday to Friday. Scenarios override every one of them.

use mailsim_sim::{Dur, Stream, Time, MICROS_PER_DAY, MICROS_PER_H};

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Weekday {
    /// Monday (the default start of a run).
    Mon,
    /// Tuesday.
    Tue,
    /// Wednesday.
    Wed,
    /// Thursday.
    Thu,
    /// Friday, the last working day.
    Fri,
    /// Saturday, a weekend day.
    Sat,
    /// Sunday, a weekend day.
    Sun,
}

impl Weekday {
    const ALL: [Weekday; 7] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];

    /// The weekday `days` after this one.
    pub fn plus(self, days: u64) -> Weekday {
        Weekday::ALL[((self as u64 + days % 7) % 7) as usize]
    }

    /// Whether the day is Saturday or Sunday.
    pub fn is_weekend(self) -> bool {
        matches!(self, Weekday::Sat | Weekday::Sun)
    }
}

/// The kind of time an alert arrives in, which sets how fast someone reacts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Period {
    /// A working day, within business hours: someone is at a desk.
    BusinessHours,
    /// A working day, outside business hours: on-call, maybe asleep.
    Night,
    /// Saturday or Sunday (not a holiday).
    Weekend,
    /// A public holiday (including a holiday that falls on a weekend).
    Holiday,
}

/// When someone doing a recovery step works.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum WorkingHours {
    /// Around the clock (the on-call team in an outage). The default.
    #[default]
    Always,
    /// Business hours on working days only (a vendor's engineer, a parts
    /// depot, a colleague who is not on call).
    Business,
}

/// The run's calendar and the operators' response delay per period.
#[derive(Clone, Debug, PartialEq)]
pub struct CalendarConfig {
    /// The weekday at the start of the run (T+0).
    pub start_weekday: Weekday,
    /// The hour of day at the start of the run (0..24).
    pub start_hour: u32,
    /// Holidays, as day offsets from the start day (0 = the day the run
    /// starts, 1 = the next calendar day, ...).
    pub holidays: Vec<u32>,
    /// Business hours on working days: `business_hour_start` <= hour <
    /// `business_hour_end`. Default 9..17 (an assumption). This is the
    /// first business hour.
    pub business_hour_start: u32,
    /// The first hour after business hours (exclusive end, at most 24).
    /// Default 17 (an assumption).
    pub business_hour_end: u32,
    /// Response delay ranges per period (uniform in min..=max). Assumptions,
    /// not sourced: 5–15 min, 30–90 min, 1–4 h, 4–12 h. This is the
    /// shortest reaction in business hours (default 5 min).
    pub business_delay_min: Dur,
    /// The longest reaction in business hours (default 15 min).
    pub business_delay_max: Dur,
    /// The shortest reaction on a working day's night (default 30 min).
    pub night_delay_min: Dur,
    /// The longest reaction on a working day's night (default 90 min).
    pub night_delay_max: Dur,
    /// The shortest reaction on a weekend (default 1 h).
    pub weekend_delay_min: Dur,
    /// The longest reaction on a weekend (default 4 h).
    pub weekend_delay_max: Dur,
    /// The shortest reaction on a holiday (default 4 h).
    pub holiday_delay_min: Dur,
    /// The longest reaction on a holiday (default 12 h).
    pub holiday_delay_max: Dur,
}

impl Default for CalendarConfig {
    /// A run starting Monday 09:00 with no holidays.
    fn default() -> Self {
        CalendarConfig {
            start_weekday: Weekday::Mon,
            start_hour: 9,
            holidays: Vec::new(),
            business_hour_start: 9,
            business_hour_end: 17,
            business_delay_min: Dur::mins(5),
            business_delay_max: Dur::mins(15),
            night_delay_min: Dur::mins(30),
            night_delay_max: Dur::mins(90),
            weekend_delay_min: Dur::hours(1),
            weekend_delay_max: Dur::hours(4),
            holiday_delay_min: Dur::hours(4),
            holiday_delay_max: Dur::hours(12),
        }
    }
}

impl CalendarConfig {
    /// Checks the ranges; a scenario loader reports the error with its field.
    pub fn validate(&self) -> Result<(), String> {
        if self.start_hour >= 24 {
            return Err(format!("start_hour {} is not an hour of the day (0..24)", self.start_hour));
        }
        if self.business_hour_start > self.business_hour_end || self.business_hour_end > 24 {
            return Err(format!("business hours {}..{} are not a range within a day", self.business_hour_start, self.business_hour_end));
        }
        for p in [Period::BusinessHours, Period::Night, Period::Weekend, Period::Holiday] {
            let (lo, hi) = self.delay_range(p);
            if lo > hi {
                return Err(format!("{p:?} response delay min {lo} exceeds max {hi}"));
            }
        }
        Ok(())
    }

    /// Microseconds from the start day's midnight to `t`.
    fn since_midnight(&self, t: Time) -> u64 {
        u64::from(self.start_hour) * MICROS_PER_H + t.as_micros()
    }

    /// The calendar day of `t`, as an offset from the start day.
    pub fn day(&self, t: Time) -> u64 {
        self.since_midnight(t) / MICROS_PER_DAY
    }

    /// The weekday of `t`.
    pub fn weekday(&self, t: Time) -> Weekday {
        self.start_weekday.plus(self.day(t))
    }

    /// The hour of day of `t` (0..24).
    pub fn hour(&self, t: Time) -> u32 {
        ((self.since_midnight(t) % MICROS_PER_DAY) / MICROS_PER_H) as u32
    }

    /// The period `t` falls in: holiday first, then weekend, then business
    /// hours or night.
    pub fn period(&self, t: Time) -> Period {
        let day = self.day(t);
        if self.holidays.iter().any(|&h| u64::from(h) == day) {
            return Period::Holiday;
        }
        if self.weekday(t).is_weekend() {
            return Period::Weekend;
        }
        let hour = self.hour(t);
        if (self.business_hour_start..self.business_hour_end).contains(&hour) {
            Period::BusinessHours
        } else {
            Period::Night
        }
    }

    /// The response delay range of a period.
    pub fn delay_range(&self, p: Period) -> (Dur, Dur) {
        match p {
            Period::BusinessHours => (self.business_delay_min, self.business_delay_max),
            Period::Night => (self.night_delay_min, self.night_delay_max),
            Period::Weekend => (self.weekend_delay_min, self.weekend_delay_max),
            Period::Holiday => (self.holiday_delay_min, self.holiday_delay_max),
        }
    }

    /// When work of `work` that starts at `start` is done, if it happens
    /// only in `hours`: with [`WorkingHours::Business`] the clock stops
    /// outside business hours, on weekends and on holidays (a vendor's
    /// engineer, a parts depot), so eight hours of work begun Friday 16:00
    /// end the next working day at 16:00. Hour by hour, whole weeks of
    /// working time at once, so a long job cannot loop.
    pub fn finish_work(&self, start: Time, work: Dur, hours: WorkingHours) -> Time {
        if hours == WorkingHours::Always || work == Dur::ZERO {
            return start + work;
        }
        let working = |t: Time| self.period(t) == Period::BusinessHours;
        // Working time in a week from an hour boundary, for the skip.
        let week = |t: Time| (0..7 * 24).filter(|h| working(t + Dur(h * MICROS_PER_H))).count() as u64 * MICROS_PER_H;
        let (mut t, mut left) = (start, work.as_micros());
        let mut weeks_checked = false;
        loop {
            let hour_end = Time((self.since_midnight(t) / MICROS_PER_H + 1) * MICROS_PER_H - u64::from(self.start_hour) * MICROS_PER_H);
            if !weeks_checked && t.as_micros() % MICROS_PER_H == 0 {
                // Holidays are finite: skip whole weeks only past the last one.
                let last_holiday = self.holidays.iter().max().map_or(0, |h| u64::from(*h) + 1);
                if self.day(t) >= last_holiday {
                    weeks_checked = true;
                    let per_week = week(t);
                    if per_week == 0 {
                        return Time::MAX;
                    }
                    if left > per_week {
                        let weeks = (left - 1) / per_week;
                        left -= weeks * per_week;
                        t = Time(t.as_micros().saturating_add(weeks.saturating_mul(7 * 24 * MICROS_PER_H)));
                        if t == Time::MAX {
                            return t;
                        }
                        continue;
                    }
                }
            }
            if working(t) {
                let span = hour_end.since(t).as_micros();
                if left <= span {
                    return t + Dur(left);
                }
                left -= span;
            }
            t = hour_end;
        }
    }

    /// The first instant at or after `t` at which someone working `hours`
    /// is at work: `t` itself around the clock; with
    /// [`WorkingHours::Business`], `t` in business hours, else the start of
    /// the next business hour on a working day (`Time::MAX` if there is
    /// none).
    pub fn next_working(&self, t: Time, hours: WorkingHours) -> Time {
        if hours == WorkingHours::Always {
            return t;
        }
        match self.finish_work(t, Dur(1), hours) {
            Time::MAX => Time::MAX,
            end => Time(end.as_micros() - 1),
        }
    }

    /// The first instant at or after `t` whose wall-clock time is `hour`:00
    /// (a nightly maintenance window that opens at that hour).
    pub fn next_hour(&self, t: Time, hour: u32) -> Time {
        let m = self.since_midnight(t);
        let mut at = m / MICROS_PER_DAY * MICROS_PER_DAY + u64::from(hour % 24) * MICROS_PER_H;
        if at < m {
            at += MICROS_PER_DAY;
        }
        Time(at - u64::from(self.start_hour) * MICROS_PER_H)
    }

    /// Draws how long operators take to react to something that happens at
    /// `t`: uniform in the range of `t`'s period.
    pub fn response_delay(&self, t: Time, rng: &mut Stream) -> Dur {
        let (lo, hi) = self.delay_range(self.period(t));
        rng.dur(lo, hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Fused outage: Saturday 29 December 2018, inside the holiday
    /// season. Start the run on Thursday 27 December at 18:00 with the 31st
    /// and 1st as holidays (day offsets 4 and 5).
    fn fused() -> CalendarConfig {
        CalendarConfig { start_weekday: Weekday::Thu, start_hour: 18, holidays: vec![4, 5], ..CalendarConfig::default() }
    }

    fn at(days: u64, hours: u64) -> Time {
        Time::ZERO + Dur::days(days) + Dur::hours(hours)
    }

    #[test]
    fn periods_are_classified_at_known_times() {
        let c = fused();
        assert!(c.validate().is_ok());
        // Thu 18:00: after business hours.
        assert_eq!(c.weekday(at(0, 0)), Weekday::Thu);
        assert_eq!(c.period(at(0, 0)), Period::Night);
        // Fri 10:00 = 16 h later: business hours.
        assert_eq!(c.weekday(at(0, 16)), Weekday::Fri);
        assert_eq!(c.hour(at(0, 16)), 10);
        assert_eq!(c.period(at(0, 16)), Period::BusinessHours);
        // Fri 08:59 is still night; Fri 17:00 is night again.
        assert_eq!(c.period(at(0, 14) + Dur::mins(59)), Period::Night);
        assert_eq!(c.period(at(0, 23)), Period::Night);
        // Sat 29 Dec 20:20 (the postmortem's "identified"): weekend.
        assert_eq!(c.weekday(at(2, 2)), Weekday::Sat);
        assert_eq!(c.period(at(2, 2)), Period::Weekend);
        // Mon 31 Dec, any hour: holiday; Wed 2 Jan 11:00: business hours.
        assert_eq!(c.weekday(at(3, 6)), Weekday::Mon);
        assert_eq!(c.period(at(3, 6)), Period::Holiday);
        assert_eq!(c.period(at(3, 17)), Period::Holiday);
        assert_eq!(c.period(at(5, 17)), Period::BusinessHours);
        // A week later the weekday wraps around.
        assert_eq!(c.weekday(at(7, 0)), Weekday::Thu);
    }

    #[test]
    fn holiday_delays_are_longer_than_weekday_ones_on_average() {
        let c = fused();
        let mut rng = Stream::new(1, "ops");
        let n = 2_000u64;
        let mean = |t: Time, rng: &mut Stream| (0..n).map(|_| c.response_delay(t, rng).as_secs()).sum::<u64>() / n;
        let business = mean(at(0, 16), &mut rng);
        let holiday = mean(at(3, 12), &mut rng);
        let weekend = mean(at(2, 12), &mut rng);
        assert!((5 * 60..=15 * 60).contains(&business), "business-hours mean {business} s");
        assert!(holiday > weekend, "holiday {holiday} s vs weekend {weekend} s");
        assert!(holiday > 10 * business, "holiday {holiday} s vs business {business} s");
        assert!(weekend > business, "weekend {weekend} s vs business {business} s");
    }

    #[test]
    fn business_hours_work_stops_for_nights_weekends_and_holidays() {
        // Monday 09:00 start, Wednesday (day 2) a holiday.
        let c = CalendarConfig { holidays: vec![2], ..CalendarConfig::default() };
        let h = |hours: u64| Time::from_hours(hours);
        assert_eq!(c.finish_work(h(0), Dur::hours(8), WorkingHours::Always), h(8));
        // Eight hours from Monday 09:00: Monday 17:00.
        assert_eq!(c.finish_work(h(0), Dur::hours(8), WorkingHours::Business), h(8));
        // Ten hours from Monday 15:00: 2 h Monday, 8 h Tuesday, ends Tuesday 17:00.
        assert_eq!(c.finish_work(h(6), Dur::hours(10), WorkingHours::Business), h(24 + 8));
        // Nine hours from Tuesday 16:00: Wednesday is a holiday, so 1 h
        // Tuesday and 8 h Thursday: Thursday 17:00.
        assert_eq!(c.finish_work(h(24 + 7), Dur::hours(9), WorkingHours::Business), h(72 + 8));
        // Begun Friday 16:00 (day 4), 8 h end Monday 16:00 (day 7).
        assert_eq!(c.finish_work(h(4 * 24 + 7), Dur::hours(8), WorkingHours::Business), h(7 * 24 + 7));
        // Work started at night waits for the morning.
        assert_eq!(c.finish_work(h(12), Dur::mins(30), WorkingHours::Business), h(24) + Dur::mins(30));
    }

    #[test]
    fn long_business_hours_work_skips_whole_weeks_and_agrees_with_hour_steps() {
        let c = CalendarConfig::default();
        // 40 working hours a week: 400 h of work take ten weeks less the
        // last week's remainder; from Monday 09:00 they end on a Friday 17:00.
        let end = c.finish_work(Time::ZERO, Dur::hours(400), WorkingHours::Business);
        assert_eq!(end, Time::from_hours(9 * 7 * 24 + 4 * 24 + 8));
        assert_eq!(c.weekday(end), Weekday::Fri);
        // No working hours at all: never done, and no endless loop.
        let none = CalendarConfig { business_hour_start: 9, business_hour_end: 9, ..CalendarConfig::default() };
        assert_eq!(none.finish_work(Time::ZERO, Dur::hours(1), WorkingHours::Business), Time::MAX);
    }

    #[test]
    fn the_next_working_instant_and_the_next_window() {
        // Monday 09:00 start.
        let c = CalendarConfig::default();
        let h = |hours: u64| Time::from_hours(hours);
        assert_eq!(c.next_working(h(3), WorkingHours::Always), h(3));
        // Monday 12:00 is business hours; Monday 18:00 waits for Tuesday 09:00.
        assert_eq!(c.next_working(h(3), WorkingHours::Business), h(3));
        assert_eq!(c.next_working(h(9), WorkingHours::Business), h(24));
        // Friday 17:30 waits for Monday 09:00.
        assert_eq!(c.next_working(h(4 * 24 + 8) + Dur::mins(30), WorkingHours::Business), h(7 * 24));
        // The next 23:00 from Monday 09:00 is Monday 23:00; from 23:00, itself;
        // from 23:01, Tuesday 23:00; 06:00 from Monday 09:00 is Tuesday 06:00.
        assert_eq!(c.next_hour(h(0), 23), h(14));
        assert_eq!(c.next_hour(h(14), 23), h(14));
        assert_eq!(c.next_hour(h(14) + Dur::mins(1), 23), h(38));
        assert_eq!(c.next_hour(h(0), 6), h(21));
        assert_eq!(c.next_hour(h(0), 9), h(0));
    }

    #[test]
    fn bad_calendars_are_rejected() {
        assert!(CalendarConfig { start_hour: 24, ..CalendarConfig::default() }.validate().is_err());
        let swapped = CalendarConfig { night_delay_min: Dur::hours(2), night_delay_max: Dur::hours(1), ..CalendarConfig::default() };
        assert!(swapped.validate().is_err());
    }
}
