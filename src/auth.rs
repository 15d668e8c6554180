//! Access tokens (HS256 JWTs shaped like the original's `{id, iat, exp}`) and password hashes.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::domain::ids::{SessionId, UserId};

/// Token claims, field for field the original's payload.
#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    id: i64,
    iat: i64,
    exp: i64,
}

/// Resume-token claims (protocol-v2 "Resume"). The field names differ from [`Claims`] on
/// purpose: an access token does not decode as a resume token, nor the other way round.
#[derive(Debug, Serialize, Deserialize)]
struct ResumeClaims {
    /// The account.
    rsu: i64,
    /// The session of the place.
    rse: i64,
    exp: i64,
}

/// Issues and checks access tokens, and hashes passwords.
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    ttl: Duration,
    expires_text: String,
    bcrypt_cost: u32,
    /// Hashes allowed to run at once. Without a bound, a flood of sign-ins filled the blocking
    /// pool with bcrypt threads that took every CPU from the async workers.
    bcrypt_permits: Arc<Semaphore>,
}

/// Why the auth settings were refused at startup.
#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    /// `TICKETCLUB_JWT_EXPIRES` is not `7d`-style text or milliseconds.
    #[error("TICKETCLUB_JWT_EXPIRES {0:?} is not a duration like 7d, 12h, 30m, 45s or 60000")]
    Expires(String),
    /// The secret is empty or the crypto backend is missing.
    #[error("JWT key: {0}")]
    Key(#[from] jsonwebtoken::errors::Error),
    /// No randomness for a generated secret.
    #[error("no randomness for a generated JWT secret: {0}")]
    Random(String),
}

impl Auth {
    /// Builds from the configured secret (random when `None`), lifetime text and bcrypt cost.
    pub fn new(
        secret: Option<&str>,
        expires: &str,
        bcrypt_cost: u32,
    ) -> Result<Self, AuthConfigError> {
        let ttl = parse_expires(expires).ok_or_else(|| AuthConfigError::Expires(expires.into()))?;
        let secret = match secret {
            Some(s) => s.as_bytes().to_vec(),
            None => {
                let mut buf = vec![0u8; 32];
                getrandom::fill(&mut buf).map_err(|e| AuthConfigError::Random(e.to_string()))?;
                buf
            }
        };
        let mut validation = Validation::new(Algorithm::HS256);
        // The original (node jsonwebtoken) allowed no clock skew either.
        validation.leeway = 0;
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret)?,
            decoding: DecodingKey::from_secret(&secret)?,
            validation,
            ttl,
            expires_text: expires.to_string(),
            bcrypt_cost,
            bcrypt_permits: Arc::new(Semaphore::new(default_bcrypt_permits())),
        })
    }

    /// Allows `permits` bcrypt hashes at once (at least 1); the rest wait their turn.
    pub fn with_bcrypt_concurrency(mut self, permits: usize) -> Self {
        self.bcrypt_permits = Arc::new(Semaphore::new(permits.max(1)));
        self
    }

    /// A token for `user`, issued at `now_s` (seconds since the epoch).
    pub fn issue(&self, user: UserId, now_s: i64) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = Claims {
            id: user.0,
            iat: now_s,
            exp: now_s + self.ttl.as_secs() as i64,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The account a token names, if it is genuine and unexpired.
    pub fn verify(&self, token: &str) -> Option<UserId> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| UserId(data.claims.id))
    }

    /// A token that lets `user` take back their place in `session` from another connection,
    /// valid until `exp_s` (seconds since the epoch).
    pub fn issue_resume(
        &self,
        user: UserId,
        session: SessionId,
        exp_s: i64,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = ResumeClaims {
            rsu: user.0,
            rse: session.0,
            exp: exp_s,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The account and session a resume token names, if it is genuine and unexpired.
    pub fn verify_resume(&self, token: &str) -> Option<(UserId, SessionId)> {
        jsonwebtoken::decode::<ResumeClaims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| (UserId(data.claims.rsu), SessionId(data.claims.rse)))
    }

    /// The lifetime as configured (`access_expired` echoes it, as the original did).
    pub fn expires_text(&self) -> &str {
        &self.expires_text
    }

    /// Hashes a password on the blocking pool (bcrypt is slow by design), within the bound on
    /// concurrent hashes.
    pub async fn hash_password(&self, password: String) -> Result<String, PasswordError> {
        let cost = self.bcrypt_cost;
        self.run_bcrypt(move || bcrypt::hash(password, cost)).await
    }

    /// Checks a password against a stored hash; a malformed hash is a mismatch.
    pub async fn password_matches(&self, password: String, hash: String) -> bool {
        self.run_bcrypt(move || bcrypt::verify(password, &hash))
            .await
            .unwrap_or(false)
    }

    /// Runs `f` on the blocking pool once a permit is free. The permit goes with the work, so
    /// a caller that gives up (a client that hung up) does not free it before the hash ends.
    async fn run_bcrypt<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, bcrypt::BcryptError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = self
            .bcrypt_permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| PasswordError::Closed)?;
        Ok(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await??)
    }
}

/// Why a password could not be hashed or checked.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// bcrypt refused the input.
    #[error(transparent)]
    Bcrypt(#[from] bcrypt::BcryptError),
    /// The blocking task died.
    #[error("password hashing task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The permits were closed (never done today; the semaphore lives as long as `Auth`).
    #[error("password hashing is closed")]
    Closed,
}

/// One hash per CPU: more would only queue for the same cores.
fn default_bcrypt_permits() -> usize {
    std::thread::available_parallelism().map_or(2, usize::from)
}

/// Parses the original's lifetime notation (the `ms` package): a number with a unit `s`, `m`,
/// `h`, `d`, `w` or `y` (`7d`), or a bare number of milliseconds.
pub fn parse_expires(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "" => return Some(Duration::from_millis(n)),
        "ms" => return Some(Duration::from_millis(n)),
        "s" | "sec" | "secs" => n,
        "m" | "min" | "mins" => n * 60,
        "h" | "hr" | "hrs" => n * 3600,
        "d" | "day" | "days" => n * 86_400,
        "w" | "week" | "weeks" => n * 604_800,
        "y" | "year" | "years" => n * 31_557_600,
        _ => return None,
    };
    Some(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_like_the_original() {
        assert_eq!(parse_expires("7d"), Some(Duration::from_secs(604_800)));
        assert_eq!(parse_expires("12h"), Some(Duration::from_secs(43_200)));
        assert_eq!(parse_expires("60000"), Some(Duration::from_secs(60)));
        assert_eq!(parse_expires("soon"), None);
        assert_eq!(parse_expires("7 fortnights"), None);
    }

    #[test]
    fn a_token_names_its_user_until_it_expires() {
        let auth = Auth::new(Some("s3cret"), "7d", 4).expect("valid settings");
        let now = chrono::Utc::now().timestamp();
        let token = auth.issue(UserId(17), now).expect("signs");
        assert_eq!(auth.verify(&token), Some(UserId(17)));
        let old = auth.issue(UserId(17), now - 8 * 86_400).expect("signs");
        assert_eq!(auth.verify(&old), None);
    }

    #[test]
    fn resume_and_access_tokens_are_not_interchangeable() {
        let auth = Auth::new(Some("k"), "7d", 4).expect("auth");
        let now = chrono::Utc::now().timestamp();
        let resume = auth
            .issue_resume(UserId(7), SessionId(2), now + 60)
            .expect("resume token");
        assert_eq!(auth.verify_resume(&resume), Some((UserId(7), SessionId(2))));
        assert_eq!(
            auth.verify(&resume),
            None,
            "a resume token is no access token"
        );
        let access = auth.issue(UserId(7), now).expect("access token");
        assert_eq!(
            auth.verify_resume(&access),
            None,
            "an access token is no resume token"
        );
        let stale = auth
            .issue_resume(UserId(7), SessionId(2), now - 120)
            .expect("resume token");
        assert_eq!(
            auth.verify_resume(&stale),
            None,
            "an expired resume token is refused"
        );
    }

    #[test]
    fn a_token_signed_with_another_secret_is_refused() {
        let ours = Auth::new(Some("ours"), "7d", 4).expect("valid");
        let theirs = Auth::new(Some("theirs"), "7d", 4).expect("valid");
        let now = chrono::Utc::now().timestamp();
        let forged = theirs.issue(UserId(1), now).expect("signs");
        assert_eq!(ours.verify(&forged), None);
        assert_eq!(ours.verify("not.a.jwt"), None);
    }

    #[tokio::test]
    async fn bcrypt_work_holds_a_permit_until_the_hash_is_done() {
        let auth = Arc::new(
            Auth::new(Some("k"), "7d", 12)
                .expect("valid")
                .with_bcrypt_concurrency(1),
        );
        let first = tokio::spawn({
            let auth = auth.clone();
            async move { auth.hash_password("one".into()).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            auth.bcrypt_permits.available_permits(),
            0,
            "the hash holds the one permit"
        );
        // The caller gives up; the hash still runs and keeps its permit until it ends.
        first.abort();
        assert_eq!(auth.bcrypt_permits.available_permits(), 0);
        let second = auth.hash_password("two".into()).await;
        assert!(second.is_ok());
        assert_eq!(auth.bcrypt_permits.available_permits(), 1);
    }

    #[tokio::test]
    async fn passwords_verify_against_their_hash_only() {
        let auth = Auth::new(Some("k"), "7d", 4).expect("valid");
        let hash = auth.hash_password("demodemo".into()).await.expect("hashes");
        assert!(auth.password_matches("demodemo".into(), hash.clone()).await);
        assert!(!auth.password_matches("wrong".into(), hash).await);
        assert!(!auth.password_matches("x".into(), "not-a-hash".into()).await);
    }
}
