//! A minimal Socket.IO v5 client over Engine.IO v4 long-polling, made of plain HTTP requests, for
//! tests that must see exactly which packets reached a client before the server closed it.

use std::time::Duration;

use serde_json::{Value, json};

/// What one poll brought.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// An event pushed to the namespace: name and first argument.
    Event(String, Value),
    /// An acknowledgement: its id and first argument.
    Ack(u64, Value),
    /// The server ended the namespace or the whole connection.
    Closed,
}

/// One connection to one namespace.
pub struct PollingClient {
    http: reqwest::Client,
    url: String,
    namespace: String,
    next_ack: u64,
}

impl PollingClient {
    /// Opens an Engine.IO session on `base` and connects to `namespace` with `auth`.
    pub async fn connect(base: &str, namespace: &str, auth: Value) -> PollingClient {
        let http = reqwest::Client::new();
        let open = http
            .get(format!("{base}/socket.io/?EIO=4&transport=polling"))
            .send()
            .await
            .expect("handshake sent")
            .text()
            .await
            .expect("handshake read");
        let handshake: Value =
            serde_json::from_str(open.strip_prefix('0').expect("an OPEN packet")).expect("json");
        let sid = handshake["sid"].as_str().expect("sid");
        let client = PollingClient {
            http,
            url: format!("{base}/socket.io/?EIO=4&transport=polling&sid={sid}"),
            namespace: namespace.to_string(),
            next_ack: 0,
        };
        client.send(&format!("40{}{auth}", client.prefix())).await;
        let want = format!("40{}", client.prefix());
        let mut seen = Vec::new();
        for _ in 0..5 {
            for packet in client.poll().await {
                if packet == "2" {
                    client.send("3").await;
                } else if packet.starts_with(&want) {
                    return client;
                }
                seen.push(packet);
            }
        }
        panic!("namespace {namespace} refused: {seen:?}");
    }

    /// What follows the packet type for this namespace (`/queue,`; nothing for `/`).
    fn prefix(&self) -> String {
        if self.namespace == "/" {
            String::new()
        } else {
            format!("{},", self.namespace)
        }
    }

    async fn send(&self, body: &str) {
        let reply = self
            .http
            .post(&self.url)
            .body(body.to_string())
            .send()
            .await
            .expect("packet sent");
        assert!(
            reply.status().is_success(),
            "POST {body}: {}",
            reply.status()
        );
    }

    /// One long-poll: the raw packets it carried (none once the session is gone).
    async fn poll(&self) -> Vec<String> {
        let reply =
            tokio::time::timeout(Duration::from_secs(10), self.http.get(&self.url).send()).await;
        let Ok(Ok(reply)) = reply else {
            return Vec::new();
        };
        if !reply.status().is_success() {
            return Vec::new();
        }
        let text = reply.text().await.unwrap_or_default();
        text.split('\u{1e}').map(str::to_string).collect()
    }

    /// Emits `event` with `data` and an ack id; returns the id.
    pub async fn emit_with_ack(&mut self, event: &str, data: Value) -> u64 {
        let id = self.next_ack;
        self.next_ack += 1;
        let packet = format!("42{}{id}{}", self.prefix(), json!([event, data]));
        self.send(&packet).await;
        id
    }

    /// Polls once and decodes what came (answering pings on the way).
    pub async fn receive(&self) -> Vec<Received> {
        let packets = self.poll().await;
        if packets.is_empty() {
            return vec![Received::Closed];
        }
        let mut got = Vec::new();
        for packet in packets {
            if packet == "2" {
                self.send("3").await;
                continue;
            }
            if packet == "1" || packet == "6" || packet.is_empty() {
                if packet == "1" {
                    got.push(Received::Closed);
                }
                continue;
            }
            let Some(body) = packet.get(1..) else {
                continue;
            };
            // Socket.IO packet: type, then `/namespace,` unless default, then ack id, then JSON.
            let kind = &body[..1];
            let rest = body[1..]
                .strip_prefix(self.prefix().as_str())
                .unwrap_or(&body[1..]);
            match kind {
                "1" => got.push(Received::Closed),
                "2" | "3" => {
                    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                    let args: Value =
                        serde_json::from_str(&rest[digits.len()..]).unwrap_or_default();
                    if kind == "2" {
                        let name = args[0].as_str().unwrap_or_default().to_string();
                        got.push(Received::Event(name, args[1].clone()));
                    } else {
                        let id = digits.parse().unwrap_or(u64::MAX);
                        got.push(Received::Ack(id, args[0].clone()));
                    }
                }
                _ => {}
            }
        }
        got
    }

    /// Keeps a long-poll open from now on, as a real client does (packets the server buffers
    /// for a client that is not polling are lost when it closes), and hands over everything that
    /// arrives; the channel ends after the close.
    pub fn listen(self) -> tokio::sync::mpsc::UnboundedReceiver<Received> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            loop {
                for got in self.receive().await {
                    let closed = got == Received::Closed;
                    if tx.send(got).is_err() || closed {
                        return;
                    }
                }
            }
        });
        rx
    }

    /// Polls until the ack `id` arrives; what else came meanwhile is returned with it.
    pub async fn ack(&self, id: u64) -> (Value, Vec<Received>) {
        let mut other = Vec::new();
        for _ in 0..20 {
            for got in self.receive().await {
                match got {
                    Received::Ack(n, value) if n == id => return (value, other),
                    Received::Closed => panic!("closed while waiting for ack {id}: {other:?}"),
                    got => other.push(got),
                }
            }
        }
        panic!("no ack {id}: {other:?}")
    }
}
