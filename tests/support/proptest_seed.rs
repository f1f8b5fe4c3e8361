//! The generator seed of the workspace's property tests, shared by path
//! (`#[path = ".../tests/support/proptest_seed.rs"] mod proptest_seed;`)
//! from the test crates of `sim`, `models` and the CLI.

/// A fixed generator seed, so CI runs the same cases on every commit and a
/// failure reproduces; `PROPTEST_RNG_SEED=N` explores other cases.
pub fn rng_seed() -> proptest::test_runner::RngSeed {
    match std::env::var("PROPTEST_RNG_SEED").ok().and_then(|v| v.trim().parse().ok()) {
        Some(seed) => proptest::test_runner::RngSeed::Fixed(seed),
        None => proptest::test_runner::RngSeed::Fixed(0x006d_6169_6c73_696d),
    }
}
