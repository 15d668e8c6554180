//! The HTTP calls a buyer makes around the socket: sign up, `POST /session/validation`, and the
//! seat map (`POST /seat`) used to check for double owners.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::error::{Result, err};
use crate::progress::Progress;

/// An HTTP client for one server, with a bound on requests in flight (each is a socket).
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
    in_flight: Arc<Semaphore>,
}

/// A signed-up account.
#[derive(Clone, Debug)]
pub struct Account {
    /// Its access token (without `Bearer `).
    pub token: String,
}

/// One seat of a seat map.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    /// 1-based row.
    pub row: i64,
    /// 1-based column.
    pub column: i64,
    /// 1 empty, 2 locked, 3 sold, 5 selected.
    pub status: i64,
}

impl Api {
    /// A client for `addr` allowing `max_in_flight` concurrent requests.
    pub fn new(addr: SocketAddr, max_in_flight: usize) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(max_in_flight)
            .tcp_nodelay(true)
            .build()
            .map_err(|e| err(format!("HTTP client: {e}")))?;
        Ok(Self {
            client,
            base: format!("http://{addr}"),
            in_flight: Arc::new(Semaphore::new(max_in_flight.max(1))),
        })
    }

    async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        body: Value,
    ) -> Result<(u16, Value), String> {
        let _permit = self.in_flight.acquire().await.map_err(|e| e.to_string())?;
        let mut req = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(|e| format!("POST {path}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.json::<Value>().await.unwrap_or(Value::Null);
        Ok((status, body))
    }

    /// The value of a Prometheus series on `GET /metrics` (`name{labels}` exactly as rendered,
    /// e.g. `ticketclub_admissions_total{via="queue"}`), 0 when absent.
    pub async fn metric(&self, series: &str) -> Result<f64, String> {
        let url = format!("{}/metrics", self.base);
        let page = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("GET /metrics: {e}"))?
            .text()
            .await
            .map_err(|e| format!("GET /metrics: {e}"))?;
        Ok(page
            .lines()
            .find_map(|l| {
                l.strip_prefix(series)?
                    .strip_prefix(' ')?
                    .trim()
                    .parse()
                    .ok()
            })
            .unwrap_or(0.0))
    }

    /// `GET /healthz` answers 200.
    pub async fn healthy(&self) -> bool {
        let url = format!("{}/healthz", self.base);
        matches!(self.client.get(url).send().await, Ok(r) if r.status().is_success())
    }

    /// Creates an account and returns its token.
    pub async fn sign_up(&self, email: &str) -> Result<Account, String> {
        let body = json!({"name": "load", "email": email, "password": "loadtest"});
        let (status, body) = self.post("/user/signup", None, body).await?;
        let data = &body["data"];
        match (status, data["access_token"].as_str()) {
            (200, Some(token)) => Ok(Account {
                token: token.to_string(),
            }),
            _ => Err(format!("sign-up {email}: {status} {body}")),
        }
    }

    /// `POST /session/validation`: `Ok` on `{ok: true}`, else the error text.
    pub async fn validate(&self, token: &str, session: i64) -> Result<(), String> {
        let (status, body) = self
            .post(
                "/session/validation",
                Some(token),
                json!({"sessionId": session}),
            )
            .await?;
        if status == 200 && body["ok"] == true {
            return Ok(());
        }
        Err(body["error"]
            .as_str()
            .map_or_else(|| format!("{status} {body}"), str::to_string))
    }

    /// `POST /seat`: the area's seats in the session.
    pub async fn seat_map(
        &self,
        token: &str,
        session: i64,
        area: i64,
    ) -> Result<Vec<Cell>, String> {
        let body = json!({"sessionId": session, "areaId": area});
        let (status, body) = self.post("/seat", Some(token), body).await?;
        let rows = body.as_array().filter(|_| status == 200);
        let rows = rows.ok_or_else(|| format!("seat map {session}/{area}: {status} {body}"))?;
        let cell = |c: &Value| Cell {
            row: c["row"].as_i64().unwrap_or(0),
            column: c["column"].as_i64().unwrap_or(0),
            status: c["status_id"].as_i64().unwrap_or(0),
        };
        Ok(rows
            .iter()
            .flat_map(|r| r.as_array().into_iter().flatten().map(cell))
            .collect())
    }

    /// Signs up `n` fresh accounts (`{tag}-{i}@example.com`) with `concurrency` requests in
    /// flight, in index order.
    pub async fn sign_up_many(
        &self,
        tag: &str,
        n: usize,
        concurrency: usize,
    ) -> Result<Vec<Account>> {
        let progress = Progress::start("sign up", n);
        let gate = Arc::new(Semaphore::new(concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for i in 0..n {
            let api = self.clone();
            let gate = gate.clone();
            let email = format!("{tag}-{i}@example.com");
            let progress = progress.clone();
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let account = api.sign_up(&email).await;
                progress.inc();
                (i, account)
            });
        }
        let mut accounts: Vec<Option<Account>> = vec![None; n];
        while let Some(joined) = tasks.join_next().await {
            let (i, account) = joined.map_err(|e| err(e.to_string()))?;
            accounts[i] = Some(account.map_err(err)?);
        }
        progress.finish();
        Ok(accounts.into_iter().flatten().collect())
    }
}
