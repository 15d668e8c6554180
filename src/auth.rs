//! Access tokens (HS256 JWTs shaped like the original's `{id, iat, exp}`) and password hashes.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

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
    bcrypt_permits: Arc<FairPermits>,
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
            bcrypt_permits: FairPermits::new(default_bcrypt_permits()),
        })
    }

    /// Allows `permits` bcrypt hashes at once (at least 1); the rest wait their turn.
    pub fn with_bcrypt_concurrency(mut self, permits: usize) -> Self {
        self.bcrypt_permits = FairPermits::new(permits.max(1));
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
    /// concurrent hashes; for work no client asked for (the seed accounts).
    pub async fn hash_password(&self, password: String) -> Result<String, PasswordError> {
        self.hash_password_for(IpAddr::V4(Ipv4Addr::UNSPECIFIED), password)
            .await
    }

    /// Hashes a password for `client`, taking turns with other clients for a permit.
    pub async fn hash_password_for(
        &self,
        client: IpAddr,
        password: String,
    ) -> Result<String, PasswordError> {
        let cost = self.bcrypt_cost;
        self.run_bcrypt(client, move || bcrypt::hash(password, cost))
            .await
    }

    /// Checks `client`'s password against a stored hash; a malformed hash is a mismatch.
    pub async fn password_matches(&self, client: IpAddr, password: String, hash: String) -> bool {
        self.run_bcrypt(client, move || bcrypt::verify(password, &hash))
            .await
            .unwrap_or(false)
    }

    /// Runs `f` on the blocking pool once a permit is free for `client`. The permit goes with
    /// the work, so a caller that gives up (a client that hung up) does not free it before the
    /// hash ends.
    async fn run_bcrypt<T: Send + 'static>(
        &self,
        client: IpAddr,
        f: impl FnOnce() -> Result<T, bcrypt::BcryptError> + Send + 'static,
    ) -> Result<T, PasswordError> {
        let permit = self.bcrypt_permits.acquire(client).await?;
        Ok(tokio::task::spawn_blocking(move || {
            let _permit = permit;
            f()
        })
        .await??)
    }
}

/// Hash permits shared out by client address, round robin. A plain FIFO queue let one address's
/// flood of wrong passwords (64 at once) put every other user's sign-in behind all of it, seconds
/// at bcrypt cost 10; here another address waits for at most the hashes already running.
struct FairPermits {
    gate: Mutex<Gate>,
}

struct Gate {
    free: usize,
    /// The waiters of each address with any, oldest first.
    waiting: HashMap<IpAddr, VecDeque<oneshot::Sender<HashPermit>>>,
    /// Addresses with waiters, in the order they get their next turn.
    turns: VecDeque<IpAddr>,
}

impl Gate {
    /// The oldest waiter of the address whose turn it is (that address goes to the back of the
    /// line); with nobody waiting, the permit becomes free.
    fn next_waiter_or_free(&mut self) -> Option<oneshot::Sender<HashPermit>> {
        while let Some(client) = self.turns.pop_front() {
            let Some(queue) = self.waiting.get_mut(&client) else {
                continue;
            };
            let next = queue.pop_front();
            if queue.is_empty() {
                self.waiting.remove(&client);
            } else {
                self.turns.push_back(client);
            }
            if next.is_some() {
                return next;
            }
        }
        self.free += 1;
        None
    }
}

/// One running hash's permit; dropping it hands the permit to the next address in turn.
struct HashPermit {
    /// `None` once the permit was handed on or given back, so a drop does nothing more.
    permits: Option<Arc<FairPermits>>,
}

impl FairPermits {
    fn new(permits: usize) -> Arc<Self> {
        Arc::new(Self {
            gate: Mutex::new(Gate {
                free: permits,
                waiting: HashMap::new(),
                turns: VecDeque::new(),
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Gate> {
        // The gate's state is consistent between statements; a panic elsewhere cannot break it.
        self.gate.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for a permit for `client`, taking turns with the other waiting addresses.
    async fn acquire(self: &Arc<Self>, client: IpAddr) -> Result<HashPermit, PasswordError> {
        let turn = {
            let mut gate = self.lock();
            if gate.free > 0 {
                gate.free -= 1;
                return Ok(HashPermit {
                    permits: Some(self.clone()),
                });
            }
            let (tx, rx) = oneshot::channel();
            let gate = &mut *gate;
            let queue = gate.waiting.entry(client).or_default();
            if queue.is_empty() {
                gate.turns.push_back(client);
            }
            queue.push_back(tx);
            rx
        };
        turn.await.map_err(|_| PasswordError::Closed)
    }

    /// A permit came back: the next address in turn gets it (its oldest waiter still there),
    /// or it is free again. The hand-over happens outside the lock, so a permit dropped on the
    /// way (its caller gave up) can come back through here without a deadlock.
    fn release(self: &Arc<Self>) {
        loop {
            let Some(next) = self.lock().next_waiter_or_free() else {
                return;
            };
            let permit = HashPermit {
                permits: Some(self.clone()),
            };
            match next.send(permit) {
                Ok(()) => return,
                // That caller gave up: disarm this permit and offer it to the next one.
                Err(mut unsent) => unsent.permits = None,
            }
        }
    }

    #[cfg(test)]
    fn available(&self) -> usize {
        self.lock().free
    }
}

impl Drop for HashPermit {
    fn drop(&mut self) {
        if let Some(permits) = self.permits.take() {
            permits.release();
        }
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
            auth.bcrypt_permits.available(),
            0,
            "the hash holds the one permit"
        );
        // The caller gives up; the hash still runs and keeps its permit until it ends.
        first.abort();
        assert_eq!(auth.bcrypt_permits.available(), 0);
        let second = auth.hash_password("two".into()).await;
        assert!(second.is_ok());
        assert_eq!(auth.bcrypt_permits.available(), 1);
    }

    #[tokio::test]
    async fn permits_take_turns_by_address_and_pass_over_callers_that_gave_up() {
        let permits = FairPermits::new(1);
        let (a, b) = (
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)),
            IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)),
        );
        let held = permits.acquire(a).await.expect("a free permit");
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut waiters = Vec::new();
        // Three from A queue first, then one from B, then one from A that gives up.
        for (name, client) in [("a1", a), ("a2", a), ("a3", a), ("b1", b), ("a4", a)] {
            let (permits, order) = (permits.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let permit = permits.acquire(client).await.expect("a permit");
                order.lock().expect("lock").push(name);
                tokio::task::yield_now().await;
                drop(permit);
            }));
            tokio::task::yield_now().await;
        }
        waiters.pop().expect("a4").abort();
        tokio::task::yield_now().await;
        drop(held);
        for waiter in waiters {
            waiter.await.expect("the waiter ends");
        }
        assert_eq!(*order.lock().expect("lock"), ["a1", "b1", "a2", "a3"]);
        assert_eq!(
            permits.available(),
            1,
            "the permit came back past the one that gave up"
        );
    }

    #[tokio::test]
    async fn passwords_verify_against_their_hash_only() {
        let auth = Auth::new(Some("k"), "7d", 4).expect("valid");
        let hash = auth.hash_password("demodemo".into()).await.expect("hashes");
        let home = IpAddr::V4(Ipv4Addr::LOCALHOST);
        assert!(
            auth.password_matches(home, "demodemo".into(), hash.clone())
                .await
        );
        assert!(!auth.password_matches(home, "wrong".into(), hash).await);
        assert!(
            !auth
                .password_matches(home, "x".into(), "not-a-hash".into())
                .await
        );
    }
}
