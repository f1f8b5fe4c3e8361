//! Human units in scenario files: durations (`"72h"`, `"1d12h"`, `"-7d"` for a
//! fault already present before the run starts), sizes (`"4TiB"`), rates
//! (`"50MB/s"`, `"1200/h"`) and shares (`"50%"`).
//!
//! Parsing is strict — an unknown unit or a stray character is an error that
//! says what was expected — and integer-only, so a scenario means the same on
//! every machine.

use std::fmt;

use serde::{de, Deserialize, Deserializer};

/// A signed span in microseconds, written like `"90s"`, `"1d12h"`, `"-7d"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct HumanDuration(pub i64);

const UNITS: &[(&str, i64)] = &[
    ("us", 1),
    ("ms", 1_000),
    ("s", 1_000_000),
    ("m", 60_000_000),
    ("min", 60_000_000),
    ("h", 3_600_000_000),
    ("d", 86_400_000_000),
    ("w", 604_800_000_000),
];

pub fn parse_duration(text: &str) -> Result<HumanDuration, String> {
    let t = text.trim();
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    if body.is_empty() {
        return Err(format!("`{text}` is not a duration: expected e.g. \"30s\", \"72h\", \"1d12h\", \"-7d\""));
    }
    let mut total: i64 = 0;
    let mut rest = body;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!("`{text}` is not a duration: expected a number before `{rest}`"));
        }
        let n: i64 = rest[..digits].parse().map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        let Some(&(_, mult)) = UNITS.iter().find(|(u, _)| *u == unit) else {
            return Err(format!("`{text}` is not a duration: unknown unit `{unit}` (use us, ms, s, m, h, d, w)"));
        };
        total = n.checked_mul(mult).and_then(|x| total.checked_add(x)).ok_or_else(|| format!("`{text}`: duration too large"))?;
        rest = &rest[unit_len..];
    }
    Ok(HumanDuration(if neg { -total } else { total }))
}

impl HumanDuration {
    pub fn micros(self) -> i64 {
        self.0
    }
    /// As a non-negative kernel span; `None` if negative.
    pub fn as_dur(self) -> Option<mailsim_sim::Dur> {
        u64::try_from(self.0).ok().map(mailsim_sim::Dur)
    }
    pub fn hours(h: i64) -> HumanDuration {
        HumanDuration(h * 3_600_000_000)
    }
    /// As a scheduled fault's time: negative (`-7d`) is a fault already
    /// present before the run starts, however long before.
    pub fn fault_at(self) -> mailsim_models::topology::FaultAt {
        match self.as_dur() {
            Some(d) => d.into(),
            None => mailsim_models::topology::FaultAt::BeforeStart,
        }
    }
}

impl fmt::Display for HumanDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut us = self.0;
        if us < 0 {
            f.write_str("-")?;
            us = -us;
        }
        if us == 0 {
            return f.write_str("0s");
        }
        for (unit, mult) in [("d", 86_400_000_000i64), ("h", 3_600_000_000), ("m", 60_000_000), ("s", 1_000_000), ("ms", 1_000), ("us", 1)]
        {
            if us >= mult {
                write!(f, "{}{unit}", us / mult)?;
                us %= mult;
            }
        }
        Ok(())
    }
}

impl HumanDuration {
    /// The duration rounded to what a person reads in a table: `40s`,
    /// `25m`, `54.9h` below three days, `4d 8h` from there (the exact form,
    /// `Display`, is for files).
    pub fn readable(self) -> String {
        let us = self.0.unsigned_abs();
        let sign = if self.0 < 0 { "-" } else { "" };
        let (min, hour, day) = (60_000_000u64, 3_600_000_000u64, 86_400_000_000u64);
        if us < min {
            format!("{sign}{}s", us / 1_000_000)
        } else if us < hour {
            format!("{sign}{}m", us / min)
        } else if us < 3 * day {
            format!("{sign}{:.1}h", us as f64 / hour as f64)
        } else {
            let hours = (us + hour / 2) / hour;
            format!("{sign}{}d {}h", hours / 24, hours % 24)
        }
    }
}

impl<'de> Deserialize<'de> for HumanDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_duration(&s).map_err(de::Error::custom)
    }
}

impl serde::Serialize for HumanDuration {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl schemars::JsonSchema for HumanDuration {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Duration".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "pattern": "^-?([0-9]+(us|ms|s|m|min|h|d|w))+$",
            "description": "A duration such as \"30s\", \"72h\", \"1d12h\"; negative (\"-7d\") for a fault present before the run starts."
        })
    }
}

/// A wall-clock instant as a postmortem states it: a date, a time of day and
/// the zone's offset from UTC, written `"2008-08-12 12:00 -04:00"` (also
/// `T` for the space, seconds, and `Z` or `UTC` for +00:00). Stored as
/// seconds since 1970-01-01 UTC and the offset, which is kept for display.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClockTime {
    pub unix_s: i64,
    pub offset_min: i32,
}

/// Days from 1970-01-01 to a proleptic Gregorian date (the civil-calendar
/// algorithm of H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day count from 1970-01-01 (the inverse of
/// [`days_from_civil`]).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

pub fn parse_clock_time(text: &str) -> Result<ClockTime, String> {
    let want = || {
        format!("`{text}` is not a clock time; write it like \"2008-08-12 12:00 -04:00\" (date, time, zone offset; Z or UTC for +00:00)")
    };
    let t = text.trim();
    let num = |s: &str, lo: u32, hi: u32| s.parse::<u32>().ok().filter(|n| (lo..=hi).contains(n) && s.bytes().all(|b| b.is_ascii_digit()));
    let (date, rest) = t.split_at_checked(10).ok_or_else(want)?;
    let mut ymd = date.split('-');
    let (Some(y), Some(m), Some(d), None) = (ymd.next(), ymd.next(), ymd.next(), ymd.next()) else { return Err(want()) };
    let (Some(y), Some(m), Some(d)) = (num(y, 1, 9999).filter(|_| y.len() == 4), num(m, 1, 12), num(d, 1, 31)) else { return Err(want()) };
    let rest = rest.strip_prefix(['T', ' ']).ok_or_else(want)?;
    let (time, zone) = match rest.find(['Z', 'U', '+', '-', ' ']) {
        Some(i) => (&rest[..i], rest[i..].trim_start()),
        None => return Err(format!("{}: the zone offset is missing", want())),
    };
    let hms: Vec<&str> = time.split(':').collect();
    let (h, mi, s) = match hms.as_slice() {
        [h, m] => (num(h, 0, 23), num(m, 0, 59), Some(0)),
        [h, m, s] => (num(h, 0, 23), num(m, 0, 59), num(s, 0, 59)),
        _ => (None, None, None),
    };
    let (Some(h), Some(mi), Some(s)) = (h, mi, s) else { return Err(want()) };
    let offset_min = match zone {
        "Z" | "UTC" => 0,
        z => {
            let sign = match z.as_bytes().first() {
                Some(b'+') => 1,
                Some(b'-') => -1,
                _ => return Err(want()),
            };
            let (oh, om) = z[1..].split_once(':').ok_or_else(want)?;
            let (Some(oh), Some(om)) = (num(oh, 0, 14), num(om, 0, 59)) else { return Err(want()) };
            sign * (oh * 60 + om) as i32
        }
    };
    let days = days_from_civil(y as i64, m, d);
    if civil_from_days(days) != (y as i64, m, d) {
        return Err(format!("`{text}`: {date} is not a date"));
    }
    let local = days * 86_400 + i64::from(h) * 3600 + i64::from(mi) * 60 + i64::from(s);
    Ok(ClockTime { unix_s: local - i64::from(offset_min) * 60, offset_min })
}

impl ClockTime {
    /// This instant plus `d`, shown in the same zone.
    pub fn plus(self, d: HumanDuration) -> ClockTime {
        ClockTime { unix_s: self.unix_s + d.0.div_euclid(1_000_000), offset_min: self.offset_min }
    }
    /// The local day of the week, 0 = Monday … 6 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3).
        ((self.local_s().div_euclid(86_400) + 3).rem_euclid(7)) as u32
    }
    /// The local hour of the day (0-23).
    pub fn hour(self) -> u32 {
        (self.local_s().rem_euclid(86_400) / 3600) as u32
    }
    fn local_s(self) -> i64 {
        self.unix_s + i64::from(self.offset_min) * 60
    }
    /// `self - earlier`.
    pub fn since(self, earlier: ClockTime) -> HumanDuration {
        HumanDuration((self.unix_s - earlier.unix_s).saturating_mul(1_000_000))
    }
}

impl fmt::Display for ClockTime {
    /// `Thu 2008-08-14 09:30 -04:00`: the weekday a person checks a
    /// postmortem's "last Tuesday" against, and the zone it was written in.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let local = self.unix_s + i64::from(self.offset_min) * 60;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let weekday = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
        write!(f, "{weekday} {y:04}-{m:02}-{d:02} {:02}:{:02}", secs / 3600, secs % 3600 / 60)?;
        if secs % 60 != 0 {
            write!(f, ":{:02}", secs % 60)?;
        }
        let o = self.offset_min.abs();
        write!(f, " {}{:02}:{:02}", if self.offset_min < 0 { '-' } else { '+' }, o / 60, o % 60)
    }
}

impl<'de> Deserialize<'de> for ClockTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_clock_time(&s).map_err(de::Error::custom)
    }
}

impl serde::Serialize for ClockTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.to_string();
        s.serialize_str(text.split_once(' ').map_or(&text[..], |(_, rest)| rest))
    }
}

impl schemars::JsonSchema for ClockTime {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ClockTime".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "string",
            "description": "A clock time with its zone offset, as the postmortem states it: \"2008-08-12 12:00 -04:00\" (`T` for the space, seconds and `Z`/`UTC` allowed)."
        })
    }
}

/// A share in [0, 1], written `"50%"` or as a number `0.5`; stored in parts
/// per million.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Share(pub u32);

pub fn parse_share(text: &str) -> Result<Share, String> {
    let t = text.trim();
    let Some(num) = t.strip_suffix('%') else {
        return Err(format!("`{text}` is not a share: expected e.g. \"50%\" or \"12.5%\""));
    };
    let ppm = parse_fixed(num.trim(), 4).ok_or_else(|| format!("`{text}` is not a share: expected e.g. \"50%\""))?;
    if ppm > 1_000_000 {
        return Err(format!("`{text}` is more than 100%"));
    }
    Ok(Share(ppm as u32))
}

/// Parses a non-negative decimal with at most `scale` fractional digits into
/// an integer scaled by 10^scale (so "12.5" with scale 4 is 125000).
fn parse_fixed(s: &str, scale: u32) -> Option<u64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, f),
        None => (s, ""),
    };
    if int.is_empty()
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > scale as usize
    {
        return None;
    }
    let mut v: u64 = int.parse().ok()?;
    v = v.checked_mul(10u64.pow(scale))?;
    if !frac.is_empty() {
        let f: u64 = frac.parse().ok()?;
        v += f * 10u64.pow(scale - frac.len() as u32);
    }
    Some(v)
}

impl Share {
    pub fn ppm(self) -> u32 {
        self.0
    }
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

/// A share, or a range of shares a run draws from per seed: `"60%"` or
/// `["40%", "80%"]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum ShareRange {
    /// One share, the same on every seed.
    One(Share),
    /// The low and high ends, drawn uniformly per seed.
    Range([Share; 2]),
}

impl ShareRange {
    /// The low and high ends (equal for one share).
    pub fn bounds(self) -> (Share, Share) {
        match self {
            ShareRange::One(s) => (s, s),
            ShareRange::Range([lo, hi]) => (lo, hi),
        }
    }
}

impl fmt::Display for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pct_x10000 = self.0 as u64 * 100; // percent in ppm-of-percent
        let whole = pct_x10000 / 1_000_000;
        let frac = (pct_x10000 % 1_000_000) / 10_000;
        if frac == 0 {
            write!(f, "{whole}%")
        } else {
            write!(f, "{whole}.{frac:02}%")
        }
    }
}

impl<'de> Deserialize<'de> for Share {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        parse_share(&s).map_err(de::Error::custom)
    }
}

impl serde::Serialize for Share {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl schemars::JsonSchema for Share {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Share".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({"type": "string", "pattern": "^[0-9]+(\\.[0-9]{1,4})?%$", "description": "A share such as \"50%\"."})
    }
}

/// A multiplier written `"x10"` or `"10%"` of normal speed, stored as a
/// latency multiplier in per-mille (`"10%"` speed = ×10 latency = 10000).
pub fn parse_speed(text: &str) -> Result<u32, String> {
    let t = text.trim();
    if let Some(x) = t.strip_prefix('x') {
        let v = parse_fixed(x, 3).ok_or_else(|| format!("`{text}`: expected e.g. \"x10\""))?;
        return u32::try_from(v).map_err(|_| format!("`{text}`: too large"));
    }
    let share = parse_share(t)
        .map_err(|_| format!("`{text}` is not a speed: expected \"x10\" (latency multiplier) or \"10%\" (of normal speed)"))?;
    if share.0 == 0 {
        return Err(format!("`{text}`: a speed of 0% never completes anything"));
    }
    Ok(((1_000_000u64 * 1000) / share.0 as u64) as u32)
}

/// A size in bytes, written `"1.5TB"`, `"300GiB"`, `"4096"` (decimal units
/// are powers of 1000, binary ones of 1024).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = (&t[..split], t[split..].trim());
    let mult: u64 = match unit {
        "" | "B" => 1,
        "kB" | "KB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "TB" => 1_000_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "TiB" => 1 << 40,
        _ => return Err(format!("`{text}` is not a size: unknown unit `{unit}` (B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)")),
    };
    // Three decimals are plenty for sizes; keep the arithmetic integral.
    let milli = parse_fixed(num, 3).ok_or_else(|| format!("`{text}` is not a size: expected e.g. \"1.5TB\""))?;
    let bytes = (milli as u128 * mult as u128) / 1000;
    u64::try_from(bytes).map_err(|_| format!("`{text}` is too large"))
}

/// A byte rate written `"35MB/s"` (or per `min`/`h`), in bytes per second.
pub fn parse_byte_rate(text: &str) -> Result<u64, String> {
    let (size, per) = text.trim().rsplit_once('/').ok_or_else(|| format!("`{text}` is not a rate: expected e.g. \"35MB/s\""))?;
    let bytes = parse_size(size)?;
    let secs = match per {
        "s" => 1,
        "min" | "m" => 60,
        "h" => 3600,
        _ => return Err(format!("`{text}`: unknown time unit `{per}` (s, min, h)")),
    };
    Ok(bytes / secs)
}

/// A count rate written `"1200/h"` (or per `s`, `min`, `d`), in counts per hour.
pub fn parse_count_rate(text: &str) -> Result<u64, String> {
    let (n, per) = text.trim().rsplit_once('/').ok_or_else(|| format!("`{text}` is not a rate: expected e.g. \"1200/h\""))?;
    let n: u64 = n.trim().parse().map_err(|_| format!("`{text}` is not a rate: expected a whole number before `/`"))?;
    let per_h = match per {
        "s" => n.checked_mul(3600),
        "min" | "m" => n.checked_mul(60),
        "h" => Some(n),
        "d" => Some(n / 24),
        _ => return Err(format!("`{text}`: unknown time unit `{per}` (s, min, h, d)")),
    };
    per_h.ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_negative_fault_time_means_before_the_start() {
        use mailsim_models::topology::FaultAt;
        use mailsim_sim::Time;
        assert_eq!(parse_duration("-7d").unwrap().fault_at(), FaultAt::BeforeStart);
        assert_eq!(parse_duration("2h").unwrap().fault_at(), FaultAt::At(Time::from_hours(2)));
        assert_eq!(parse_duration("0s").unwrap().fault_at(), FaultAt::At(Time::ZERO));
    }

    #[test]
    fn clock_times_parse_with_their_zone_and_show_their_weekday() {
        let t = parse_clock_time("2008-08-12 12:00 -04:00").expect("valid");
        assert_eq!(t.unix_s, 1_218_556_800, "16:00 UTC on 12 Aug 2008");
        assert_eq!(t.to_string(), "Tue 2008-08-12 12:00 -04:00");
        assert_eq!((t.weekday(), t.hour()), (1, 12), "a Tuesday, at noon local time");
        assert_eq!(parse_clock_time("2018-12-29T20:20Z").expect("valid").to_string(), "Sat 2018-12-29 20:20 +00:00");
        assert_eq!(parse_clock_time("2018-05-19 09:00:30 +09:00").expect("valid").to_string(), "Sat 2018-05-19 09:00:30 +09:00");
        assert_eq!(parse_clock_time("1970-01-01 00:00 UTC").expect("valid").unix_s, 0);
        assert_eq!(parse_clock_time("2000-02-29 00:00 Z").expect("a leap day").unix_s, 951_782_400);
        let a = parse_clock_time("2008-08-14 09:30 -04:00").expect("valid");
        assert_eq!(a.since(t), HumanDuration(HumanDuration::hours(45).0 + 30 * 60_000_000));
        assert_eq!(t.plus(a.since(t)), a);
        for bad in [
            "2008-08-12 12:00",
            "2008-02-30 12:00 Z",
            "2008-8-12 12:00 Z",
            "12:00 Z",
            "2008-08-12 25:00 Z",
            "2008-08-12 12:00 +4",
            "",
            "2008-08-12 12:00 EST",
        ] {
            assert!(parse_clock_time(bad).is_err(), "{bad:?} accepted");
        }
        // Every day of 1900–2100 round-trips.
        for days in days_from_civil(1900, 1, 1)..days_from_civil(2100, 12, 31) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn readable_durations_round_to_what_a_person_reads() {
        let r = |text: &str| parse_duration(text).expect("valid").readable();
        assert_eq!(r("0s"), "0s");
        assert_eq!(r("40s"), "40s");
        assert_eq!(r("25m30s"), "25m");
        assert_eq!(r("54h54m"), "54.9h");
        assert_eq!(r("2d8h30ms"), "56.0h");
        assert_eq!(r("4d8h30ms"), "4d 8h");
        assert_eq!(r("4d8h40m"), "4d 9h");
        assert_eq!(HumanDuration(197_503_000_000).readable(), "54.9h");
    }

    #[test]
    fn durations_parse_and_print() {
        assert_eq!(parse_duration("72h").unwrap(), HumanDuration::hours(72));
        assert_eq!(parse_duration("1d12h").unwrap(), HumanDuration::hours(36));
        assert_eq!(parse_duration("-7d").unwrap(), HumanDuration::hours(-168));
        assert_eq!(parse_duration("500ms").unwrap().0, 500_000);
        assert_eq!(parse_duration("90m").unwrap().to_string(), "1h30m");
        assert!(parse_duration("72").is_err());
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("h").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn sizes_and_rates() {
        assert_eq!(parse_size("1.5TB").unwrap(), 1_500_000_000_000);
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("4096").unwrap(), 4096);
        assert!(parse_size("3 parsecs").is_err());
        assert_eq!(parse_byte_rate("35MB/s").unwrap(), 35_000_000);
        assert_eq!(parse_byte_rate("60MB/min").unwrap(), 1_000_000);
        assert!(parse_byte_rate("35MB").is_err());
        assert_eq!(parse_count_rate("1200/h").unwrap(), 1200);
        assert_eq!(parse_count_rate("2/s").unwrap(), 7200);
        assert!(parse_count_rate("-5/h").is_err());
    }

    #[test]
    fn shares_and_speeds() {
        assert_eq!(parse_share("50%").unwrap().0, 500_000);
        assert_eq!(parse_share("12.5%").unwrap().0, 125_000);
        assert!(parse_share("150%").is_err());
        assert!(parse_share("0.5").is_err());
        assert_eq!(parse_speed("10%").unwrap(), 10_000);
        assert_eq!(parse_speed("x2.5").unwrap(), 2_500);
        assert!(parse_speed("0%").is_err());
        assert_eq!(Share(125_000).to_string(), "12.50%");
    }
}
