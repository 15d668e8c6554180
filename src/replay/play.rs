//! One virtual user playing one script: sign-in redone for its account, HTTP calls and
//! Socket.IO packets in recorded order with the recorded gaps, every server answer compared.

use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use super::compare::{self, IdMap, Tolerance};
use super::frame::SocketPacket;
use super::script::{Action, Script, Step};
use super::socket::{Connection, Received};
use http::{AuthRoute, auth_route};

/// How a replay runs.
#[derive(Clone, Debug)]
pub(crate) struct Options {
    /// The server played against (`http://host:port`).
    pub target: String,
    /// Recorded gaps are divided by this; `None` plays without gaps (`--speed max`).
    pub speed: Option<f64>,
    /// How long to wait for an answer beyond its recorded delay.
    pub wait: Duration,
    /// Drift allowed on waits in seconds.
    pub tolerance: Tolerance,
}

/// The account a virtual user signs in with.
#[derive(Clone, Debug)]
pub(crate) struct Account {
    /// Its name (for a sign-up).
    pub name: String,
    /// Its email.
    pub email: String,
    /// Its password.
    pub password: String,
    /// True when the account does not exist yet and the replay signs it up.
    pub fresh: bool,
}

/// The outcome of one step.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Verdict {
    /// The answer matched the recording.
    Pass,
    /// It did not, or it never came, or something came that the recording does not have.
    Differ,
}

/// One line of the report.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct StepReport {
    /// The step's number in the script (extra packets carry the number of the last step).
    pub step: usize,
    /// Where it comes from in the file.
    pub origin: String,
    /// What it is (`POST /seat/lock`, `check limit`, `ack /queue 1`).
    pub label: String,
    /// Pass or differ.
    pub verdict: Verdict,
    /// The recorded answer.
    pub expected: Value,
    /// The answer the target gave (`null` when none came).
    pub received: Value,
    /// Why it differs.
    pub differences: Vec<String>,
}

/// Everything one virtual user did.
#[derive(Clone, Debug, Default, Serialize)]
pub(crate) struct UserReport {
    /// Which user (0-based).
    pub user: usize,
    /// The compared steps.
    pub steps: Vec<StepReport>,
    /// Latencies in milliseconds per event or route, in order.
    #[serde(skip)]
    pub latencies: Vec<(String, f64)>,
    /// Why the user could not finish, if it could not.
    pub error: Option<String>,
}

impl UserReport {
    /// Steps that differ.
    pub(crate) fn differences(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.verdict == Verdict::Differ)
            .count()
    }
}

/// Pushes whose count depends on timing (at most one per second, only when the value moved):
/// one missing or extra is no difference.
const TIMING_PUSHES: &[&str] = &["position"];

fn timing_push(packet: &SocketPacket) -> bool {
    packet.event().is_some_and(|e| TIMING_PUSHES.contains(&e))
}

/// A virtual user in the middle of a script.
struct Player<'a> {
    options: &'a Options,
    http: reqwest::Client,
    account: Account,
    token: Option<String>,
    ids: IdMap,
    connections: Vec<Option<Connection>>,
    /// Packets that arrived before the step that waits for them, per connection.
    early: Vec<Vec<Received>>,
    /// The last event sent per connection and when, for latencies.
    sent: Vec<Option<(String, Instant)>>,
    /// The recorded server's base URLs, read as the target's in recorded answers.
    recorded_bases: [String; 2],
    report: UserReport,
}

/// Plays `script` as user `user` with `account`.
pub(crate) async fn play(
    script: &Script,
    options: &Options,
    user: usize,
    account: Account,
    http: reqwest::Client,
) -> UserReport {
    let mut player = Player {
        options,
        http,
        account,
        token: None,
        ids: IdMap::default(),
        connections: (0..script.connections).map(|_| None).collect(),
        early: (0..script.connections).map(|_| Vec::new()).collect(),
        sent: vec![None; script.connections],
        recorded_bases: [
            format!("http://{}", script.server),
            format!("https://{}", script.server),
        ],
        report: UserReport {
            user,
            ..UserReport::default()
        },
    };
    if let Err(e) = player.run(script).await {
        player.report.error = Some(e);
    }
    for conn in player.connections.iter_mut() {
        if let Some(conn) = conn.take() {
            conn.close().await;
        }
    }
    player.report
}

impl Player<'_> {
    async fn run(&mut self, script: &Script) -> Result<(), String> {
        let signs_up = script.steps.iter().any(|s| {
            matches!(&s.action, Action::Http(c) if auth_route(&c.path) == Some(AuthRoute::SignUp))
        });
        if self.account.fresh && !signs_up {
            self.sign_up_first().await?;
        }
        let mut previous: Option<f64> = None;
        for (index, step) in script.steps.iter().enumerate() {
            let gap = previous.map_or(0.0, |p| (step.at - p).max(0.0));
            previous = Some(step.at);
            let scaled = self.options.speed.map_or(0.0, |speed| gap / speed);
            if !matches!(step.action, Action::Expect { .. }) && scaled > 0.0 {
                tokio::time::sleep(Duration::from_secs_f64(scaled)).await;
            }
            self.step(index, step, gap).await?;
        }
        Ok(())
    }

    /// Signs the fresh account up before a recording that only signs in.
    async fn sign_up_first(&mut self) -> Result<(), String> {
        let body = json!({"name": self.account.name, "email": self.account.email,
                          "password": self.account.password});
        let url = format!("{}/user/signup", self.base());
        let reply = self.http.post(url).json(&body).send().await;
        let reply = reply.map_err(|e| format!("signing up {}: {e}", self.account.email))?;
        let status = reply.status();
        let body: Value = reply.json().await.unwrap_or(Value::Null);
        self.take_token(&body);
        self.account.fresh = false;
        if !status.is_success() {
            return Err(format!(
                "signing up {} failed: {status} {body}",
                self.account.email
            ));
        }
        Ok(())
    }

    fn base(&self) -> &str {
        self.options.target.trim_end_matches('/')
    }

    fn take_token(&mut self, body: &Value) {
        if let Some(token) = body["data"]["access_token"].as_str() {
            self.token = Some(token.to_string());
        }
    }

    /// Carries out one step; `gap` is the recorded time since the previous one, which an
    /// expected answer may take on top of the `--wait` allowance (a visitor waiting in line
    /// waits as long again, whatever the speed).
    async fn step(&mut self, index: usize, step: &Step, gap: f64) -> Result<(), String> {
        match &step.action {
            Action::Http(call) => self.http_call(index, step, call).await,
            Action::Open { conn, auth } => {
                let auth = auth.as_deref().map(|a| self.live_auth(a));
                let opened = Connection::open(&self.options.target, auth.as_deref()).await?;
                self.connections[*conn] = Some(opened);
                Ok(())
            }
            Action::Send { conn, packet } => {
                let text = self.live_packet(packet);
                let connection = self.connections[*conn]
                    .as_ref()
                    .ok_or("a packet for a connection that is not open")?;
                // A closed connection is a difference the next expected answer shows.
                let _ = connection.send(&text);
                self.sent[*conn] = Some((packet.label(), Instant::now()));
                Ok(())
            }
            Action::Expect { conn, packet } => {
                let wait = self.options.wait + Duration::from_secs_f64(gap);
                self.expect(index, step, *conn, packet, wait).await;
                Ok(())
            }
            Action::Close { conn } => {
                self.extras(index, *conn);
                if let Some(connection) = self.connections[*conn].take() {
                    connection.close().await;
                }
                Ok(())
            }
        }
    }

    /// The recorded `Authorization` value with this user's token (a logged-out `Bearer null`
    /// stays as it was).
    fn live_auth(&self, recorded: &str) -> String {
        let recorded_token = recorded.strip_prefix("Bearer ").unwrap_or(recorded).trim();
        match &self.token {
            Some(token) if recorded_token != "null" && !recorded_token.is_empty() => {
                let bearer = recorded.starts_with("Bearer ");
                if bearer {
                    format!("Bearer {token}")
                } else {
                    token.clone()
                }
            }
            _ => recorded.to_string(),
        }
    }

    /// A recorded packet to send: a CONNECT's `token` is this user's; learned ids are mapped.
    fn live_packet(&self, packet: &SocketPacket) -> String {
        let mut text = packet.text.clone();
        if packet.kind == 0
            && let Some(recorded) = packet.data.get("token").and_then(Value::as_str)
        {
            let mut data = packet.data.clone();
            data["token"] = Value::String(self.live_auth(recorded));
            let ns = if packet.namespace == "/" {
                String::new()
            } else {
                format!("{},", packet.namespace)
            };
            text = format!("0{ns}{data}");
        }
        self.ids.apply(&text)
    }

    async fn expect(
        &mut self,
        index: usize,
        step: &Step,
        conn: usize,
        expected: &SocketPacket,
        wait: Duration,
    ) {
        let key = expected.key();
        let deadline = Instant::now() + wait;
        let found = loop {
            if let Some(i) = self.early[conn].iter().position(|r| r.packet.key() == key) {
                break Some(self.early[conn].remove(i));
            }
            let Some(connection) = self.connections[conn].as_mut() else {
                break None;
            };
            let left = deadline.saturating_duration_since(Instant::now());
            match connection.next(left).await {
                Some(received) => self.early[conn].push(received),
                None => break None,
            }
        };
        let label = expected.label();
        let expected_value = packet_value(expected);
        let Some(found) = found else {
            if timing_push(expected) {
                return;
            }
            let why = format!("no such packet within {:.1} s", wait.as_secs_f64());
            self.push(index, step, label, expected_value, Value::Null, vec![why]);
            return;
        };
        if let Some((event, at)) = self.sent[conn].take() {
            let millis = found.at.saturating_duration_since(at).as_secs_f64() * 1000.0;
            self.report.latencies.push((event, millis));
        }
        let received = packet_value(&found.packet);
        let localised = serde_json::from_str(&self.localise(&expected.data.to_string()))
            .unwrap_or_else(|_| expected.data.clone());
        let differences = if expected.kind == found.packet.kind {
            compare::compare(
                &localised,
                &found.packet.data,
                self.options.tolerance,
                &mut self.ids,
            )
        } else {
            vec!["a packet of another type".to_string()]
        };
        self.push(index, step, label, expected_value, received, differences);
    }

    /// Recorded text with the recorded server's URLs (pictures) pointing at the target.
    fn localise(&self, text: &str) -> String {
        let target = self.base().to_string();
        let mut out = text.to_string();
        for base in &self.recorded_bases {
            if out.contains(base.as_str()) {
                out = out.replace(base.as_str(), &target);
            }
        }
        out
    }

    /// Packets the recording does not have, left when a connection closes.
    fn extras(&mut self, index: usize, conn: usize) {
        if let Some(connection) = self.connections[conn].as_mut() {
            while let Some(received) = connection.ready() {
                self.early[conn].push(received);
            }
        }
        let step = Step {
            at: 0.0,
            origin: format!("connection {conn}"),
            action: Action::Close { conn },
        };
        for extra in std::mem::take(&mut self.early[conn]) {
            if timing_push(&extra.packet) {
                continue;
            }
            let why = vec!["not in the recording".to_string()];
            let label = extra.packet.label();
            let received = packet_value(&extra.packet);
            self.push(index, &step, label, Value::Null, received, why);
        }
    }

    fn push(
        &mut self,
        index: usize,
        step: &Step,
        label: String,
        expected: Value,
        received: Value,
        differences: Vec<String>,
    ) {
        let verdict = if differences.is_empty() {
            Verdict::Pass
        } else {
            Verdict::Differ
        };
        self.report.steps.push(StepReport {
            step: index,
            origin: step.origin.clone(),
            label,
            verdict,
            expected,
            received,
            differences,
        });
    }
}

/// A packet as the report shows it: its text parsed (`{"packet": "42[…]"}` shape avoided so
/// bodies read as JSON).
pub(super) fn packet_value(packet: &SocketPacket) -> Value {
    json!({"namespace": packet.namespace, "ack": packet.ack, "data": packet.data})
}

mod http;
