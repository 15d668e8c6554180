//! What a production deployment must be given before it may start.
//!
//! Production is recognised by its shared engines: a `REDIS_URL`, or a MySQL `DATABASE_URL`.
//! There, a missing JWT secret would give every instance its own random key (tokens signed by
//! one instance refused by the others, and all of them lost on restart), and a short one can be
//! brute-forced offline from any token. The embedded default may still make a random secret.

use super::Settings;

/// Shortest accepted JWT secret in production, in bytes (HS256's key should be at least as
/// long as its 256-bit output).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// Why a production deployment refused to start. The messages never contain the secret.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ProductionError {
    /// No `TICKETCLUB_JWT_SECRET`.
    #[error(
        "TICKETCLUB_JWT_SECRET must be set in production (REDIS_URL or a MySQL DATABASE_URL): \
         every instance must sign tokens with the same secret, of at least {MIN_JWT_SECRET_BYTES} bytes"
    )]
    MissingSecret,
    /// A secret shorter than [`MIN_JWT_SECRET_BYTES`].
    #[error(
        "TICKETCLUB_JWT_SECRET is {0} bytes long; production needs at least {MIN_JWT_SECRET_BYTES}"
    )]
    ShortSecret(usize),
}

/// Whether these settings describe a production deployment (shared engines).
pub fn is_production(settings: &Settings) -> bool {
    settings.redis_url.is_some() || settings.database_url.starts_with("mysql:")
}

/// Refuses production settings without a long enough JWT secret; anything goes otherwise.
pub fn check(settings: &Settings) -> Result<(), ProductionError> {
    if !is_production(settings) {
        return Ok(());
    }
    match settings.jwt_secret.as_deref() {
        None => Err(ProductionError::MissingSecret),
        Some(secret) if secret.len() < MIN_JWT_SECRET_BYTES => {
            Err(ProductionError::ShortSecret(secret.len()))
        }
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(database: &str, redis: Option<&str>, secret: Option<&str>) -> Settings {
        let mut s = Settings::for_tests();
        s.database_url = database.into();
        s.redis_url = redis.map(Into::into);
        s.jwt_secret = secret.map(Into::into);
        s
    }

    #[test]
    fn production_needs_a_secret_of_at_least_thirty_two_bytes() {
        let long = "x".repeat(MIN_JWT_SECRET_BYTES);
        let mysql = "mysql://app@127.0.0.1/db";
        let refused = [
            (with(mysql, None, None), ProductionError::MissingSecret),
            (
                with(mysql, None, Some("short")),
                ProductionError::ShortSecret(5),
            ),
            (
                with("sqlite::memory:", Some("redis://r"), None),
                ProductionError::MissingSecret,
            ),
            (
                with("sqlite::memory:", Some("redis://r"), Some(&long[1..])),
                ProductionError::ShortSecret(31),
            ),
        ];
        for (settings, error) in refused {
            assert_eq!(check(&settings), Err(error));
        }
        assert_eq!(check(&with(mysql, Some("redis://r"), Some(&long))), Ok(()));
    }

    #[test]
    fn the_embedded_default_may_run_without_a_secret() {
        assert_eq!(check(&with("sqlite::memory:", None, None)), Ok(()));
        assert_eq!(check(&with("sqlite:data/x.db", None, Some("s"))), Ok(()));
    }

    #[test]
    fn the_refusal_never_shows_the_secret() {
        let settings = with("mysql://db", None, Some("hunter2"));
        let shown = check(&settings)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(shown.contains("at least 32"), "{shown}");
        assert!(!shown.contains("hunter2"));
    }
}
