//! The fair-start draw (protocol-v2 "Fair start"): everyone who joined before the on-sale time
//! is put in a random order at the start, so arriving first early gives no edge.
//!
//! Anyone can check a published draw: sort the entrants' account ids ascending, shuffle them
//! with rand 0.9's `SliceRandom::shuffle` driven by `ChaCha20Rng::seed_from_u64(seed)`
//! (rand_chacha 0.9), and hash the ids in that order, joined by commas, with SHA-256 (hex).

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest, Sha256};

use super::ids::UserId;
use super::time::Millis;

/// A draw as published at `GET /session/{id}/draw`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DrawRecord {
    /// The shuffle's seed (chosen at random when the draw runs).
    pub seed: u64,
    /// How many entrants were drawn.
    pub count: usize,
    /// SHA-256 (hex) of the resulting order.
    pub hash: String,
    /// When the draw ran (ms).
    pub at: Millis,
}

/// The entrants in the order drawn with `seed` (duplicates count once).
pub fn order(entrants: &[UserId], seed: u64) -> Vec<UserId> {
    let mut order = entrants.to_vec();
    order.sort_unstable();
    order.dedup();
    order.shuffle(&mut ChaCha20Rng::seed_from_u64(seed));
    order
}

/// The published hash of an order.
pub fn hash(order: &[UserId]) -> String {
    let text = order
        .iter()
        .map(|u| u.0.to_string())
        .collect::<Vec<_>>()
        .join(",");
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The record of drawing `entrants` with `seed` at `at`, and the order.
pub fn draw(entrants: &[UserId], seed: u64, at: Millis) -> (DrawRecord, Vec<UserId>) {
    let order = order(entrants, seed);
    let record = DrawRecord {
        seed,
        count: order.len(),
        hash: hash(&order),
        at,
    };
    (record, order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn users(n: i64) -> Vec<UserId> {
        (1..=n).map(UserId).collect()
    }

    #[test]
    fn the_order_depends_on_the_seed_not_on_arrival() {
        let arrived = users(200);
        let mut reversed = arrived.clone();
        reversed.reverse();
        assert_eq!(
            order(&arrived, 7),
            order(&reversed, 7),
            "arrival order does not matter"
        );
        assert_ne!(order(&arrived, 7), order(&arrived, 8), "the seed does");
        assert_ne!(order(&arrived, 7), arrived, "it is shuffled");
        let mut back = order(&arrived, 7);
        back.sort_unstable();
        assert_eq!(back, arrived, "everyone is drawn once");
    }

    #[test]
    fn the_published_hash_names_the_order() {
        let (record, order) = draw(&users(3), 42, 1_000);
        assert_eq!(record.count, 3);
        assert_eq!(record.hash, hash(&order));
        assert_eq!(record.hash.len(), 64);
        // SHA-256("1,2,3"), computed with sha256sum.
        assert_eq!(
            hash(&[UserId(1), UserId(2), UserId(3)]),
            "8a6ae15122001229edb8866f56e342af12ae8187203c3e3b33931743e7c0c48d"
        );
    }
}
