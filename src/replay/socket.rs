//! The replay's Engine.IO v4 client over websocket (tokio-tungstenite): it answers heartbeats
//! itself, sends recorded Socket.IO packets as they are, and hands every Socket.IO packet the
//! server sends to the player, in arrival order. Namespaces share the one connection, as they
//! do in the browser.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::frame::{self, EnginePacket, SocketPacket};

/// A packet the server sent, with when it arrived.
pub(crate) struct Received {
    /// The packet.
    pub packet: SocketPacket,
    /// When it arrived.
    pub at: Instant,
}

/// One open Engine.IO connection.
pub(crate) struct Connection {
    outgoing: mpsc::UnboundedSender<Message>,
    incoming: mpsc::UnboundedReceiver<Received>,
    task: tokio::task::JoinHandle<()>,
}

/// How long the websocket handshake may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

impl Connection {
    /// Opens `ws(s)://…/socket.io/?EIO=4&transport=websocket` on `target` (an `http://` base),
    /// with an `Authorization` header when the recording's handshake had one.
    pub(crate) async fn open(target: &str, auth: Option<&str>) -> Result<Connection, String> {
        let base = target.trim_end_matches('/');
        let ws = if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            return Err(format!("--target {target:?} is not an http:// URL"));
        };
        let url = format!("{ws}/socket.io/?EIO=4&transport=websocket");
        let mut request = url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("{url}: {e}"))?;
        if let Some(auth) = auth {
            let value = auth
                .parse()
                .map_err(|_| "an unusable Authorization header")?;
            request.headers_mut().insert("authorization", value);
        }
        let connecting = tokio_tungstenite::connect_async(request);
        let (stream, _) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| format!("opening {url} timed out"))?
            .map_err(|e| format!("opening {url}: {e}"))?;
        let (mut write, mut read) = stream.split();
        let (outgoing, mut to_send) = mpsc::unbounded_channel::<Message>();
        let (deliver, incoming) = mpsc::unbounded_channel();
        let pong = outgoing.clone();
        let task = tokio::spawn(async move {
            let writer = async {
                while let Some(message) = to_send.recv().await {
                    let closing = matches!(message, Message::Close(_));
                    if write.send(message).await.is_err() || closing {
                        break;
                    }
                }
            };
            let reader = async {
                while let Some(Ok(message)) = read.next().await {
                    let Message::Text(text) = message else {
                        continue;
                    };
                    match frame::engine_packet(text.as_str()) {
                        Ok(EnginePacket::Message(packet)) => {
                            let at = Instant::now();
                            if deliver.send(Received { packet, at }).is_err() {
                                break;
                            }
                        }
                        Ok(EnginePacket::Heartbeat) if text.as_str() == "2" => {
                            let _ = pong.send(Message::text("3"));
                        }
                        Ok(EnginePacket::Close) => break,
                        // Other control packets and anything unreadable: nothing to compare.
                        _ => {}
                    }
                }
            };
            tokio::select! {
                () = writer => {}
                () = reader => {}
            }
        });
        Ok(Connection {
            outgoing,
            incoming,
            task,
        })
    }

    /// Sends a Socket.IO packet's text (the Engine.IO `4` is added here).
    pub(crate) fn send(&self, packet_text: &str) -> Result<(), String> {
        self.outgoing
            .send(Message::text(format!("4{packet_text}")))
            .map_err(|_| "the connection is closed".to_string())
    }

    /// The next packet from the server, if one comes within `wait`.
    pub(crate) async fn next(&mut self, wait: Duration) -> Option<Received> {
        tokio::time::timeout(wait, self.incoming.recv())
            .await
            .ok()
            .flatten()
    }

    /// A packet that arrived already, without waiting.
    pub(crate) fn ready(&mut self) -> Option<Received> {
        self.incoming.try_recv().ok()
    }

    /// Closes the websocket, as a browser tab going away does.
    pub(crate) async fn close(self) {
        let _ = self.outgoing.send(Message::Close(None));
        if tokio::time::timeout(Duration::from_secs(2), self.task)
            .await
            .is_err()
        {
            tracing::debug!("a replay connection did not close in time");
        }
    }
}
