//! What the differential tests share: a proptest runner with a fixed, overridable seed.

use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// The seed every run uses unless `TICKETCLUB_DIFF_SEED` names another (a failure report
/// prints the seed, so a failing run replays with `TICKETCLUB_DIFF_SEED=<seed> cargo test`).
const DEFAULT_SEED: u64 = 16;

/// The seed of this run.
pub fn seed() -> u64 {
    match std::env::var("TICKETCLUB_DIFF_SEED") {
        Ok(text) => text
            .trim()
            .parse()
            .expect("TICKETCLUB_DIFF_SEED is an unsigned integer"),
        Err(_) => DEFAULT_SEED,
    }
}

/// A runner for `cases` random cases from this run's seed, that writes no regression files (the
/// seed is the record) and bounds shrinking so a failure still ends within a minute.
pub fn runner(cases: u32) -> TestRunner {
    let seed = seed();
    eprintln!("differential test: TICKETCLUB_DIFF_SEED={seed}, {cases} cases");
    let mut bytes = [0u8; 32];
    bytes[..8].copy_from_slice(&seed.to_le_bytes());
    let config = Config {
        cases,
        failure_persistence: None,
        max_shrink_iters: 256,
        ..Config::default()
    };
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &bytes))
}
