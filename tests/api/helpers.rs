//! Test harness: the real application on port 0 with its own fresh database, plus small HTTP
//! helpers named after the endpoints.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ticketclub::app::Application;
use ticketclub::config::Settings;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server and a client for it. Dropping it stops the server.
pub struct TestApp {
    #[allow(dead_code)]
    pub address: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    /// The SQLite file behind this app (each test gets its own).
    pub db_path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
}

/// The JSON answer of an HTTP call.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique name for this process and call (test databases, emails).
pub fn unique(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{prefix}-{}-{n}", std::process::id())
}

/// Starts the app with test settings changed by `tweak`.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let db_path = std::env::temp_dir().join(format!("{}.db", unique("ticketclub-test")));
    let mut settings = Settings::for_tests();
    settings.database_url = format!("sqlite:{}", db_path.display());
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("the app builds");
    let address = app.address();
    let (stop, stopped) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        app.run_until_stopped(async {
            let _ = stopped.await;
        })
        .await
        .expect("the app runs");
    });
    TestApp {
        address,
        base: format!("http://{address}"),
        client: reqwest::Client::new(),
        db_path,
        stop: Some(stop),
        handle: Some(handle),
    }
}

/// Starts the app with the default test settings.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

impl TestApp {
    /// Any request with an optional JSON body and bearer token.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> Reply {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request sent");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body read");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            body,
            headers,
        }
    }

    /// GET without a token.
    pub async fn get(&self, path: &str) -> Reply {
        self.call(Method::GET, path, None, None).await
    }

    /// GET with a token.
    pub async fn get_as(&self, path: &str, token: &str) -> Reply {
        self.call(Method::GET, path, None, Some(token)).await
    }

    /// POST JSON with an optional token.
    pub async fn post(&self, path: &str, body: Value, token: Option<&str>) -> Reply {
        self.call(Method::POST, path, Some(body), token).await
    }

    /// Signs up a fresh account; returns (token, user id).
    pub async fn sign_up(&self, name: &str) -> (String, i64) {
        let email = format!("{}@test.com", unique(name));
        let reply = self
            .post(
                "/user/signup",
                json!({"name": name, "email": email, "password": "secret1"}),
                None,
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "sign-up failed: {:?}",
            reply.body
        );
        let data = &reply.body["data"];
        let token = data["access_token"].as_str().expect("token").to_string();
        (token, data["user"]["id"].as_i64().expect("id"))
    }

    /// A direct connection to this app's database, for setting up rare states.
    pub fn db(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(&self.db_path).expect("test database opens")
    }

    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            let _ = handle.await;
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.db_path.display()));
        }
    }
}
