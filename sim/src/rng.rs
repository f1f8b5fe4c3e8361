//! Seeded randomness, split into named independent streams.
//!
//! Every draw in a run comes from a ChaCha8 generator derived from the run seed
//! and a stream name (FoundationDB and TigerBeetle derive all randomness from
//! one seed the same way). Streams are independent: a stream's draws depend only
//! on (seed, name), so adding a node or changing the workload does not change
//! what the fault stream draws, and two recovery plans run on one seed face the
//! same faults (common random numbers).
//!
//! Probabilities are integers in parts per million and rates are mean intervals
//! in microseconds, so a run is bit-identical on every platform. The one place
//! that needs a logarithm (exponential inter-arrival times) uses a logarithm
//! built from IEEE add/multiply/divide only, which are exactly rounded
//! everywhere, rather than the platform's `ln`.

use rand_chacha::ChaCha8Rng;
use rand_core::{Rng, SeedableRng};

use crate::time::Dur;

/// One million: the denominator of every probability in the kernel.
pub const PPM: u32 = 1_000_000;

/// A deterministic 64-bit FNV-1a hash of a name, used to pick a stream.
pub const fn stream_id(name: &str) -> u64 {
    let bytes = name.as_bytes();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// Bytes of generator output a stream keeps at hand: four ChaCha blocks,
/// the generator's own refill size.
const BUF: usize = 256;

/// A named random stream of one run.
///
/// Draws come from a buffer of the generator's output, refilled four
/// blocks at a time, read as little-endian 64-bit words: exactly the words
/// `ChaCha8Rng::next_u64` would give, without its per-draw bookkeeping.
#[derive(Clone, Debug)]
pub struct Stream {
    rng: ChaCha8Rng,
    buf: [u8; BUF],
    /// The next unread byte of `buf` (`BUF`: empty).
    next: usize,
}

impl Stream {
    /// The stream `name` of the run seeded with `seed`.
    pub fn new(seed: u64, name: &str) -> Stream {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(stream_id(name));
        Stream { rng, buf: [0; BUF], next: BUF }
    }

    /// The stream's next 64 uniformly random bits.
    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        if self.next >= BUF {
            self.refill();
        }
        let i = self.next;
        self.next = i + 8;
        u64::from_le_bytes(self.buf[i..i + 8].try_into().expect("8 bytes"))
    }

    #[cold]
    #[inline(never)]
    fn refill(&mut self) {
        self.rng.fill_bytes(&mut self.buf);
        self.next = 0;
    }

    /// Uniform in `0..n` (n > 0), by Lemire's multiply-shift with rejection, so
    /// there is no modulo bias.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no values");
        // Lemire's "nearly divisionless" form: the threshold (a division) is
        // computed only when the low word is small enough to need it, which
        // changes no output.
        let m = (self.next_u64() as u128) * (n as u128);
        if (m as u64) < n {
            return self.below_slow(n, m);
        }
        (m >> 64) as u64
    }

    #[cold]
    #[inline(never)]
    fn below_slow(&mut self, n: u64, mut m: u128) -> u64 {
        let threshold = n.wrapping_neg() % n;
        while (m as u64) < threshold {
            m = (self.next_u64() as u128) * (n as u128);
        }
        (m >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    #[inline]
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "range({lo}, {hi}) is empty");
        if hi - lo == u64::MAX {
            return self.next_u64();
        }
        lo + self.below(hi - lo + 1)
    }

    /// A span uniform in `lo..=hi`.
    #[inline]
    pub fn dur(&mut self, lo: Dur, hi: Dur) -> Dur {
        Dur(self.range(lo.0, hi.0))
    }

    /// True with probability `ppm` / 1,000,000.
    pub fn chance(&mut self, ppm: u32) -> bool {
        if ppm == 0 {
            return false;
        }
        if ppm >= PPM {
            return true;
        }
        self.below(PPM as u64) < ppm as u64
    }

    /// An exponentially distributed span with the given mean (the gap between
    /// events of a Poisson process). Deterministic on every platform.
    pub fn exponential(&mut self, mean: Dur) -> Dur {
        // u in (0, 1]: 53 random bits, never zero.
        let u = ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
        let x = -portable_ln(u) * mean.0 as f64;
        if x >= u64::MAX as f64 {
            Dur::MAX
        } else {
            Dur(x as u64)
        }
    }

    /// Picks an index according to integer weights (at least one non-zero).
    pub fn weighted(&mut self, weights: &[u64]) -> usize {
        let total: u64 = weights.iter().sum();
        assert!(total > 0, "weighted() needs a non-zero weight");
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < w {
                return i;
            }
            x -= w;
        }
        unreachable!("x < total")
    }

    /// The underlying generator, for code that wants `rand_core` directly,
    /// at the stream's position (the unread buffer is given back).
    pub fn rng(&mut self) -> &mut ChaCha8Rng {
        if self.next < BUF {
            let unread = ((BUF - self.next) / 4) as u128;
            let pos = self.rng.get_word_pos() - unread;
            self.rng.set_word_pos(pos);
            self.next = BUF;
        }
        &mut self.rng
    }
}

/// Natural logarithm of `x` in (0, 1], using only exactly-rounded IEEE
/// operations: x = m·2^k with m in [1, 2), ln m = 2·atanh((m-1)/(m+1)).
fn portable_ln(x: f64) -> f64 {
    debug_assert!(x > 0.0 && x <= 1.0);
    const LN2: f64 = std::f64::consts::LN_2;
    let bits = x.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
    let s = (m - 1.0) / (m + 1.0); // in [0, 1/3)
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    let mut k = 1.0;
    // 1/3^(2·20) < 1e-19: twenty terms exhaust f64 precision. Terms only
    // shrink, so once one no longer changes the (rounded) sum none after it
    // does: stopping there gives the same sum as adding all twenty.
    for _ in 0..20 {
        let t = term / k;
        if sum + t == sum {
            break;
        }
        sum += t;
        term *= s2;
        k += 2.0;
    }
    2.0 * sum + exp as f64 * LN2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_independent_and_reproducible() {
        let a1: Vec<u64> = (0..4)
            .map({
                let mut s = Stream::new(7, "faults");
                move |_| s.next_u64()
            })
            .collect();
        let a2: Vec<u64> = (0..4)
            .map({
                let mut s = Stream::new(7, "faults");
                move |_| s.next_u64()
            })
            .collect();
        let mut other = Stream::new(7, "workload");
        assert_eq!(a1, a2);
        assert_ne!(a1[0], other.next_u64());
        assert_ne!(a1[0], Stream::new(8, "faults").next_u64());
    }

    #[test]
    fn buffered_draws_are_the_generators_words_and_rng_resumes_where_they_stop() {
        let mut plain = ChaCha8Rng::seed_from_u64(9);
        plain.set_stream(stream_id("z"));
        let mut s = Stream::new(9, "z");
        for i in 0..100 {
            assert_eq!(s.next_u64(), plain.next_u64(), "draw {i}");
        }
        // Handing out the generator gives back what the buffer had not used.
        assert_eq!(s.rng().next_u64(), plain.next_u64());
        assert_eq!(s.next_u64(), plain.next_u64());
    }

    #[test]
    fn portable_ln_stops_early_with_the_same_sum() {
        // The series summed to all twenty terms, as before the early stop.
        let full = |x: f64| {
            let bits = x.to_bits();
            let exp = ((bits >> 52) & 0x7ff) as i64 - 1023;
            let m = f64::from_bits((bits & 0x000f_ffff_ffff_ffff) | 0x3ff0_0000_0000_0000);
            let s = (m - 1.0) / (m + 1.0);
            let (s2, mut term, mut sum, mut k) = (s * s, s, 0.0, 1.0);
            for _ in 0..20 {
                sum += term / k;
                term *= s2;
                k += 2.0;
            }
            2.0 * sum + exp as f64 * std::f64::consts::LN_2
        };
        let mut r = Stream::new(4, "ln");
        for _ in 0..100_000 {
            let u = ((r.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64;
            assert_eq!(portable_ln(u).to_bits(), full(u).to_bits(), "ln({u})");
        }
        for x in [1.0, 0.5, 0.75, 0.999_999_999, 1e-300, f64::MIN_POSITIVE] {
            assert_eq!(portable_ln(x).to_bits(), full(x).to_bits(), "ln({x})");
        }
    }

    #[test]
    fn portable_ln_matches_std_closely() {
        for &x in &[1.0, 0.5, 0.1, 1e-9, 0.999_999, 0.3] {
            let d = (portable_ln(x) - f64::ln(x)).abs();
            assert!(d < 1e-12, "ln({x}) off by {d}");
        }
    }

    #[test]
    fn exponential_has_the_requested_mean() {
        let mut s = Stream::new(1, "x");
        let n = 20_000u64;
        let total: u64 = (0..n).map(|_| s.exponential(Dur::secs(100)).0).sum();
        let mean_s = total / n / 1_000_000;
        assert!((95..=105).contains(&mean_s), "mean {mean_s}s");
    }

    #[test]
    fn below_and_chance_stay_in_range() {
        let mut s = Stream::new(3, "y");
        assert!((0..1000).all(|_| s.below(7) < 7));
        assert!((0..1000).all(|_| !s.chance(0)));
        assert!((0..1000).all(|_| s.chance(PPM)));
        let hits = (0..100_000).filter(|_| s.chance(250_000)).count();
        assert!((23_000..27_000).contains(&hits), "{hits}");
    }
}
