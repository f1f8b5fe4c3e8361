//! Seed ranges and shards: which seeds a sweep runs, and how N machines
//! split one sweep with no coordination (`seed % N == K`); the most seeds
//! one invocation may ask for.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The most seeds one `mailsim sweep` invocation may ask for (10^8). A sweep
/// holds no per-seed state up front, but it keeps one record per run done
/// (a few hundred bytes) and the result directory grows by as much on disk:
/// 10^8 runs are tens of gigabytes and, at 1,000 runs/s, more than a day on
/// one machine. Larger sweeps are several invocations (`--seeds A..B` with
/// disjoint ranges, into one result directory or merged afterwards).
pub const SWEEP_SEEDS_MAX: u64 = 100_000_000;

/// Parses a seed range for `sweep`: `A..B` (B excluded), `A..=B`, or `N` for
/// `0..N`; at most [`SWEEP_SEEDS_MAX`] seeds.
pub fn parse_seeds(text: &str) -> Result<Range<u64>, String> {
    parse_seed_range(text, SWEEP_SEEDS_MAX)
}

/// Environment variables that choose the seeds of a test run (madsim's
/// habit: `MADSIM_TEST_SEED`, `MADSIM_TEST_NUM`): one seed, or a range.
pub const ENV_SEED: &str = "MAILSIM_SEED";
pub const ENV_SEEDS: &str = "MAILSIM_SEEDS";

/// The seeds a test runs: `MAILSIM_SEED=N` (that seed only), else
/// `MAILSIM_SEEDS=A..B` (as `--seeds` takes it), else `default`. A value
/// that does not parse, or both set, is an error naming the variable.
pub fn seeds_from_env(default: Range<u64>) -> Result<Range<u64>, String> {
    seeds_from(default, |name| std::env::var(name).ok())
}

/// [`seeds_from_env`] with the variables read by `var`.
fn seeds_from(default: Range<u64>, var: impl Fn(&str) -> Option<String>) -> Result<Range<u64>, String> {
    let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
    match (get(ENV_SEED), get(ENV_SEEDS)) {
        (Some(_), Some(_)) => Err(format!("set {ENV_SEED} or {ENV_SEEDS}, not both")),
        (Some(one), None) => {
            let seed = one.trim().parse::<u64>().map_err(|_| format!("{ENV_SEED}=`{one}` is not a seed (a number)"))?;
            Ok(seed..seed.saturating_add(1))
        }
        (None, Some(range)) => parse_seeds(&range).map_err(|e| format!("{ENV_SEEDS}: {e}")),
        (None, None) => Ok(default),
    }
}

/// Parses `A..B` (B excluded), `A..=B`, or `N` for `0..N`, and refuses an
/// empty range or one of more than `max` seeds (the message names the
/// limit), so that no command starts on a range it cannot finish.
pub fn parse_seed_range(text: &str, max: u64) -> Result<Range<u64>, String> {
    let t = text.trim();
    let num = |s: &str| {
        s.trim()
            .parse::<u64>()
            .map_err(|_| format!("`{text}` is not a seed range: expected `A..B`, `A..=B` or `N` (`{}` is not a seed)", s.trim()))
    };
    let range = if let Some((a, z)) = t.split_once("..=") {
        let z = num(z)?;
        num(a)?..z.checked_add(1).ok_or_else(|| format!("`{text}`: the range end is too large"))?
    } else if let Some((a, z)) = t.split_once("..") {
        num(a)?..num(z)?
    } else {
        0..num(t)?
    };
    if range.is_empty() {
        return Err(format!("`{text}` is an empty seed range"));
    }
    let count = range.end - range.start;
    if count > max {
        return Err(format!(
            "`{text}` asks for {count} seeds; one invocation runs at most {max}: split the range into several invocations"
        ));
    }
    Ok(range)
}

/// Seeds `first, first + step, …, last`: how missing seeds are listed
/// compactly (`7`, `3..=9`, `1..=19 step 2` — a shard's seeds are every Nth).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct SeedRun {
    pub first: u64,
    pub last: u64,
    pub step: u64,
}

impl SeedRun {
    /// How many seeds the run holds.
    pub fn len(&self) -> u64 {
        (self.last - self.first) / self.step + 1
    }

    /// A run always holds at least one seed.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The seeds, in order.
    pub fn seeds(&self) -> impl Iterator<Item = u64> {
        let step = usize::try_from(self.step).unwrap_or(usize::MAX);
        (self.first..=self.last).step_by(step)
    }
}

impl fmt::Display for SeedRun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.first == self.last {
            write!(f, "{}", self.first)
        } else if self.step > 1 && self.len() == 2 {
            write!(f, "{}, {}", self.first, self.last)
        } else if self.step == 1 {
            write!(f, "{}..={}", self.first, self.last)
        } else {
            write!(f, "{}..={} step {}", self.first, self.last, self.step)
        }
    }
}

/// Sorted, distinct seeds as few runs as a greedy pass finds: each run takes
/// the step between its first two seeds and extends while it holds.
pub fn compact(seeds: &[u64]) -> Vec<SeedRun> {
    let mut runs: Vec<SeedRun> = Vec::new();
    for &s in seeds {
        match runs.last_mut() {
            Some(r) if r.first == r.last && s > r.last => {
                r.step = s - r.last;
                r.last = s;
            }
            Some(r) if s > r.last && s - r.last == r.step => r.last = s,
            _ => runs.push(SeedRun { first: s, last: s, step: 1 }),
        }
    }
    runs
}

/// One of N disjoint parts of a sweep: the seeds with `seed % count == index`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    pub fn contains(&self, seed: u64) -> bool {
        seed % self.count == self.index
    }

    /// The first seed of `range` in this shard (maybe past its end).
    pub fn first(&self, range: &Range<u64>) -> u64 {
        range.start.saturating_add((self.index + self.count - range.start % self.count) % self.count)
    }

    /// How many seeds of `range` are in this shard.
    pub fn count_in(&self, range: &Range<u64>) -> u64 {
        let first = self.first(range);
        if first >= range.end {
            0
        } else {
            (range.end - first - 1) / self.count + 1
        }
    }

    /// The seeds of `range` in this shard.
    pub fn seeds(&self, range: Range<u64>) -> impl Iterator<Item = u64> + Clone {
        let step = usize::try_from(self.count).unwrap_or(usize::MAX);
        (self.first(&range)..range.end).step_by(step)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = String;
    fn from_str(text: &str) -> Result<Shard, String> {
        let bad = || format!("`{text}` is not a shard: expected `K/N` with 0 <= K < N, e.g. `2/8`");
        let (k, n) = text.trim().split_once('/').ok_or_else(bad)?;
        let index: u64 = k.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

/// Environment variable of a CI matrix job: `K/N`.
pub const ENV_SHARD: &str = "MAILSIM_SHARD";
/// Environment variable with the shard count N for `JOB_COMPLETION_INDEX`.
pub const ENV_SHARDS: &str = "MAILSIM_SHARDS";
/// Set by Kubernetes in each pod of an indexed Job: the pod's index K.
pub const ENV_JOB_INDEX: &str = "JOB_COMPLETION_INDEX";

/// Which shard to run: `--shard K/N` if given; else `MAILSIM_SHARD=K/N`; else
/// Kubernetes' `JOB_COMPLETION_INDEX` with N from `--shards N` or
/// `MAILSIM_SHARDS`; else the whole sweep. `env` looks a variable up (pass
/// `|k| std::env::var(k).ok()`).
pub fn resolve_shard(cli: Option<Shard>, shards: Option<u64>, env: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    if let Some(s) = cli {
        if shards.is_some_and(|n| n != s.count) {
            return Err(format!("--shard {s} disagrees with --shards {}", shards.unwrap_or(0)));
        }
        return Ok(s);
    }
    if let Some(v) = env(ENV_SHARD).filter(|v| !v.trim().is_empty()) {
        return v.parse().map_err(|e| format!("{ENV_SHARD}: {e}"));
    }
    if let Some(k) = env(ENV_JOB_INDEX).filter(|v| !v.trim().is_empty()) {
        let index: u64 = k.trim().parse().map_err(|_| format!("{ENV_JOB_INDEX}=`{k}` is not a number"))?;
        let count = match shards {
            Some(n) => n,
            None => {
                let n = env(ENV_SHARDS)
                    .ok_or_else(|| format!("{ENV_JOB_INDEX} is set but the shard count is not: pass --shards N or set {ENV_SHARDS}"))?;
                n.trim().parse().map_err(|_| format!("{ENV_SHARDS}=`{n}` is not a number"))?
            }
        };
        return format!("{index}/{count}").parse().map_err(|e| format!("{ENV_JOB_INDEX} with {count} shards: {e}"));
    }
    if let Some(n) = shards {
        return Err(format!("--shards {n} needs --shard K/N, {ENV_SHARD} or {ENV_JOB_INDEX} to say which shard this is"));
    }
    Ok(Shard::ALL)
}

#[cfg(test)]
mod tests {

    /// The variables are read through a function here, so the test sets no
    /// environment that other tests of the process could see.
    #[test]
    fn seeds_come_from_the_environment_when_set() {
        let with = |seed: Option<&str>, seeds: Option<&str>| {
            let (seed, seeds) = (seed.map(str::to_string), seeds.map(str::to_string));
            seeds_from(0..3, move |name| if name == ENV_SEED { seed.clone() } else { seeds.clone() })
        };
        assert_eq!(with(None, None), Ok(0..3));
        assert_eq!(with(Some(""), Some(" ")), Ok(0..3), "empty is unset");
        assert_eq!(with(Some("7"), None), Ok(7..8));
        assert!(with(Some("7"), Some("0..20")).unwrap_err().contains("not both"));
        assert_eq!(with(None, Some("0..20")), Ok(0..20));
        assert_eq!(with(None, Some("5")), Ok(0..5));
        assert!(with(None, Some("20..0")).unwrap_err().starts_with("MAILSIM_SEEDS"));
        assert!(with(Some("x"), None).unwrap_err().starts_with("MAILSIM_SEED="));
    }
    use super::*;

    #[test]
    fn seed_ranges_beyond_the_limit_are_refused_at_parsing() {
        assert_eq!(parse_seed_range("0..10", 10), Ok(0..10));
        let e = parse_seed_range("0..11", 10).expect_err("one too many");
        assert!(e.contains("at most 10"), "{e}");
        assert!(parse_seeds("0..18446744073709551615").is_err());
        assert!(parse_seeds("0..=18446744073709551615").is_err());
        assert_eq!(parse_seeds(&format!("5..{}", 5 + SWEEP_SEEDS_MAX)), Ok(5..5 + SWEEP_SEEDS_MAX));
    }

    #[test]
    fn missing_seeds_compact_into_strided_runs() {
        let show = |s: &[u64]| compact(s).iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
        assert_eq!(show(&[1, 3, 5, 7]), "1..=7 step 2");
        assert_eq!(show(&[4, 5, 6, 9]), "4..=6, 9");
        assert_eq!(show(&[2, 40]), "2, 40");
        assert_eq!(show(&[0, 1, 2, 10, 20, 30]), "0..=2, 10..=30 step 10");
        assert!(compact(&[]).is_empty());
    }
}
