//! How often one account and one address may try to sign in (or sign up).
//!
//! Passwords must not be guessable without limit, and every attempt costs a bcrypt hash (a CPU
//! for tens of milliseconds), so a flood of wrong passwords slowed everyone's sign-in. Each
//! limit is a GCRA token bucket per key (`governor`): a full minute's quota may be spent at
//! once, then it refills evenly. Every attempt counts, right or wrong, so a refusal can be given
//! before any hashing.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Forget idle keys after this many checks, so the maps hold only recent keys (a key whose
/// bucket is full again carries no information).
const FORGET_EVERY: u64 = 4096;

/// An attempt refused: try again after this long.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TooManyAttempts {
    /// When the next attempt will be allowed.
    pub retry_after: Duration,
}

impl TooManyAttempts {
    /// Whole seconds for a `Retry-After` header, at least 1.
    pub(crate) fn retry_after_secs(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

/// Attempt limits per account (an email, as typed) and per client address.
pub(crate) struct AttemptLimits {
    per_account: Option<DefaultKeyedRateLimiter<String>>,
    per_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    checks: AtomicU64,
}

impl AttemptLimits {
    /// Limits of `per_account` and `per_address` attempts a minute; 0 turns one off.
    pub(crate) fn per_minute(per_account: u32, per_address: u32) -> Self {
        let quota = |n| NonZeroU32::new(n).map(Quota::per_minute);
        Self {
            per_account: quota(per_account).map(RateLimiter::keyed),
            per_address: quota(per_address).map(RateLimiter::keyed),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts an attempt on `account` from `address`, or says when to come back. The address
    /// is checked first, so a flood from one address does not lock its victims' accounts.
    pub(crate) fn attempt(&self, account: &str, address: IpAddr) -> Result<(), TooManyAttempts> {
        self.forget_idle_keys();
        if let Some(limiter) = &self.per_address {
            limiter.check_key(&address).map_err(refused)?;
        }
        if let Some(limiter) = &self.per_account {
            limiter
                .check_key(&account.trim().to_lowercase())
                .map_err(refused)?;
        }
        Ok(())
    }

    fn forget_idle_keys(&self) {
        if self.checks.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY != FORGET_EVERY - 1 {
            return;
        }
        if let Some(limiter) = &self.per_account {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_address {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

fn refused(not_until: governor::NotUntil<<DefaultClock as Clock>::Instant>) -> TooManyAttempts {
    TooManyAttempts {
        retry_after: not_until.wait_time_from(DefaultClock::default().now()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn an_account_gets_its_quota_then_waits_whatever_the_address_or_case() {
        let limits = AttemptLimits::per_minute(2, 100);
        assert!(limits.attempt("a@x.com", HOME).is_ok());
        assert!(limits.attempt("A@X.com ", AWAY).is_ok());
        let refused = limits.attempt("a@x.com", HOME).expect_err("third attempt");
        assert!(refused.retry_after > Duration::from_secs(20), "{refused:?}");
        assert_eq!(
            refused.retry_after_secs(),
            refused.retry_after.as_secs() + 1
        );
        assert!(
            limits.attempt("b@x.com", HOME).is_ok(),
            "other accounts go on"
        );
    }

    #[test]
    fn an_address_gets_its_quota_across_accounts() {
        let limits = AttemptLimits::per_minute(100, 2);
        assert!(limits.attempt("a@x.com", HOME).is_ok());
        assert!(limits.attempt("b@x.com", HOME).is_ok());
        assert!(limits.attempt("c@x.com", HOME).is_err());
        assert!(limits.attempt("c@x.com", AWAY).is_ok());
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = AttemptLimits::per_minute(0, 0);
        for _ in 0..1000 {
            assert!(limits.attempt("a@x.com", HOME).is_ok());
        }
    }
}
