//! The recorder's one background thread: items become visits, visits become files.
//!
//! A visit is one person's (account's) HTTP calls and socket connections, every namespace,
//! from their first recorded call until none of their sockets is open and nothing came for
//! [`VISIT_IDLE`]. Its file, `visit-{user}-{start ms}-{part}.har`, is first written within a
//! second and then rewritten at most every [`REWRITE_EVERY`] while new things come, and once
//! more when the visit ends (written to a temporary name, then renamed, so readers always find
//! whole JSON); past the size limit a part is closed and the next one begun.
//!
//! The writer shares the server's two cores with the request path, so it is kept cheap: a
//! rewrite serialises the entries in place (no copy), and what the server sent is redacted
//! only when it names a secret's key at all. During a burst it takes nothing (see [`defer`]):
//! the burst's items wait in the channel until the cores are free again.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::http::{Exchange, header_text};
use socketioxide::socket::Sid;

use super::{Item, Sampler, redact};
use crate::auth::Auth;
use crate::config::RecordSettings;
use crate::domain::ids::UserId;
use crate::har::{
    Content, Creator, Direction, Entry, Header, PostData, Request, Response, WebSocketMessage,
};

/// A visit without open sockets ends after this long without news.
const VISIT_IDLE: Duration = Duration::from_secs(10);

/// How often the writer takes what the channel holds (at most a few thousand items in a rush).
const TAKE_EVERY: Duration = Duration::from_millis(50);

/// Frames arriving faster than this a second (a burst of a few thousand joins, a seat rush)
/// mean the request path has the cores' every moment: the writer leaves them queued until the
/// burst is over. Counted in frames ([`Item::frames`]), not items: a seat rush hands over a
/// few thousand items a second, under this rate, but one room push is a frame for each of
/// the area's watchers, 63,000 of them in a 1,000-client rush, and the writer worked on them
/// during the rush.
const BURST_RATE: f64 = 10_000.0;

/// The longest the writer leaves items queued during a burst, and the share of the buffer it
/// lets fill: a burst that lasts longer, or would fill it, is taken as it comes. Long enough
/// for the crowd's connections and its burst of joins right after (2 s ran out in the burst).
const MAX_DEFER: Duration = Duration::from_secs(10);
const MAX_DEFERRED_SHARE: usize = 2;

/// Whether the writer leaves what is queued for later: `arrived` frames came in the `since`
/// since its last look, `queued` are waiting out of `capacity`, and it has waited `deferred`
/// so far. Parsing and serialising a burst's items as they come took the cores a burst
/// needs; afterwards the same work costs nobody an answer. A rate, not a count per turn: on a
/// busy machine the writer's turns come late and then in quick succession.
fn defer(
    arrived: usize,
    since: Duration,
    queued: usize,
    capacity: usize,
    deferred: Duration,
) -> bool {
    let rate = arrived as f64 / since.as_secs_f64().max(0.001);
    rate > BURST_RATE && queued < capacity / MAX_DEFERRED_SHARE && deferred < MAX_DEFER
}

/// At most this many items are taken per [`TAKE_EVERY`] (a few milliseconds of work): a
/// backlog is worked off in short turns, each of which looks again whether a burst began.
const TAKES_PER_TURN: usize = 2_000;

/// A turn looks whether a burst began every this many items (and between two files).
const LOOK_EVERY: usize = 100;

/// One turn of the writer, watched for a burst that begins while it runs. A turn takes up
/// to 2,000 items and writes up to 250 files, several milliseconds of work that a busy core
/// stretches much longer; a burst that began meanwhile (a crowd's joins right after their
/// connections) found the writer at work on the same two cores, and the join burst lost
/// time to it. The turn now stops at the first look that sees items arriving as fast as in
/// a burst, and leaves the rest queued (the same rule as [`defer`], so a long burst or a
/// filling buffer is still taken).
struct Turn {
    began: Instant,
    /// The recorder's count of frames handed over ([`Item::frames`]).
    handed: Arc<AtomicUsize>,
    capacity: usize,
    /// How long the writer had left items queued before this turn.
    waited: Duration,
    /// Whether a burst ended the turn.
    cut: bool,
    /// Where the rate is counted from: the last look at least [`RATE_WINDOW`] back, and the
    /// frames handed over by then. A rate since the turn began read a rush that began late in
    /// a long turn (files written into a slow file system) as a trickle: 3,000 frames in the
    /// rush's first 70 ms, counted over a turn 300 ms old, are under the burst rate, and the
    /// writer wrote on through the rush.
    window_began: Instant,
    handed_at_window: usize,
}

/// The shortest time a turn's look counts arrivals over ([`Turn::burst`]).
const RATE_WINDOW: Duration = Duration::from_millis(10);

impl Turn {
    fn new(handed: Arc<AtomicUsize>, capacity: usize, waited: Duration) -> Self {
        let now = Instant::now();
        let at_start = handed.load(Ordering::Relaxed);
        Self {
            began: now,
            handed,
            capacity,
            waited,
            cut: false,
            window_began: now,
            handed_at_window: at_start,
        }
    }

    /// The last turn, when the server stops: takes and writes everything.
    fn last() -> Self {
        Self::new(Arc::default(), 0, MAX_DEFER)
    }

    /// Whether frames are arriving as in a burst, `queued` items being queued now;
    /// remembered as the turn's end.
    fn burst(&mut self, queued: usize) -> bool {
        let since = self.window_began.elapsed();
        // Under a millisecond, a handful of items would read as a burst.
        if since < Duration::from_millis(1) {
            return self.cut;
        }
        let handed = self.handed.load(Ordering::Relaxed);
        let arrived = handed.saturating_sub(self.handed_at_window);
        let waited = self.waited + self.began.elapsed();
        self.cut = self.cut || defer(arrived, since, queued, self.capacity, waited);
        if since >= RATE_WINDOW {
            self.window_began = Instant::now();
            self.handed_at_window = handed;
        }
        self.cut
    }
}

/// At most this many visit files are written per [`TAKE_EVERY`] (the rest on the next turns,
/// before anything else is due): a crowd that signed in together has thousands of visits due
/// at once, and writing them all in one go held the writer past the start of the next burst,
/// where it cannot be stopped (about 5 ms of work per turn on this machine).
const WRITES_PER_TURN: usize = 250;

/// How often the writer looks for visits to write.
const FLUSH_EVERY: Duration = Duration::from_secs(1);

/// A visit's file is rewritten at most this often while it goes on: each rewrite is the whole
/// visit, so rewriting every second would cost a long visit the square of its length.
const REWRITE_EVERY: Duration = Duration::from_secs(5);

pub(super) struct Writer {
    dir: PathBuf,
    sampler: Sampler,
    session: Option<i64>,
    file_bytes: usize,
    auth: Arc<Auth>,
    visits: HashMap<UserId, Visit>,
    /// Open connection → whose visit it belongs to, its namespace's packet prefix and its
    /// socket id.
    conns: HashMap<Arc<str>, (UserId, String, Sid)>,
    /// Open connection's socket id → the connection (room pushes name sockets by id).
    sids: HashMap<Sid, Arc<str>>,
}

struct Visit {
    user: UserId,
    start_ms: i64,
    part: u32,
    entries: Vec<Entry>,
    /// Open connection → its entry.
    open: HashMap<Arc<str>, usize>,
    session: Option<i64>,
    sampled: bool,
    dirty: bool,
    last: Instant,
    /// When its file was last written.
    written: Option<Instant>,
}

fn iso(at: f64) -> String {
    chrono::DateTime::from_timestamp_micros((at * 1e6) as i64)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The session a request or packet names: `/area/{id}`, `sessionId`, `check limit`'s bare
/// number, or the `/event-{id}` namespace.
fn session_of(path: &str, payload: Option<&Value>) -> Option<i64> {
    if let Some(id) = path
        .split('?')
        .next()
        .and_then(|p| p.rsplit_once("/area/").or_else(|| p.rsplit_once("/event-")))
        .and_then(|(_, id)| id.split([',', '/']).next())
        .and_then(|id| id.parse().ok())
    {
        return Some(id);
    }
    let payload = payload?;
    let object = match payload {
        Value::Array(items) if items.first() == Some(&Value::from("check limit")) => {
            return items.get(1).and_then(Value::as_i64);
        }
        Value::Array(items) => items.get(1)?,
        other => other,
    };
    object.get("sessionId").and_then(Value::as_i64)
}

impl Writer {
    pub(super) fn new(settings: &RecordSettings, auth: Arc<Auth>, sampler: Sampler) -> Self {
        Self {
            dir: PathBuf::from(settings.dir.clone().unwrap_or_default()),
            sampler,
            session: settings.session,
            file_bytes: settings.file_bytes as usize,
            auth,
            visits: HashMap::new(),
            conns: HashMap::new(),
            sids: HashMap::new(),
        }
    }

    /// Takes items until `drain`, then writes what it holds and ends.
    /// `handed` counts the frames the recorder has handed over ([`Item::frames`]): a burst is
    /// told by frames, not items, since one room push is a frame for each of its watchers.
    pub(super) async fn run(
        mut self,
        mut items: mpsc::Receiver<Item>,
        handed: Arc<AtomicUsize>,
        drain: CancellationToken,
    ) {
        // The channel is emptied on a timer rather than awaited item by item: a waiting
        // receiver has every send wake its thread (a system call on the request path, per
        // frame), while one that is not waiting costs a send nothing but the queueing.
        let mut tick = tokio::time::interval(TAKE_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut flushed = Instant::now();
        // Items queued at the last look and when that was, and since when the writer has left
        // them there.
        let (mut seen, mut looked, mut deferring) = (0, Instant::now(), None::<Instant>);
        // Whether the last flush left visits due for the next turn.
        let mut behind = false;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                () = drain.cancelled() => break,
            }
            let queued = items.len();
            let waited = deferring.map_or(Duration::ZERO, |since| since.elapsed());
            let handed_so_far = handed.load(Ordering::Relaxed);
            let arrived = handed_so_far.saturating_sub(seen);
            let since = looked.elapsed();
            looked = Instant::now();
            let capacity = items.max_capacity();
            if defer(arrived, since, queued, capacity, waited) {
                seen = handed_so_far;
                deferring.get_or_insert_with(Instant::now);
                continue;
            }
            // A burst that begins during this turn ends it (see [`Turn`]); the deferral goes
            // on counting from where it was, so a long burst is still taken in the end.
            let mut turn = Turn::new(handed.clone(), capacity, waited);
            let open = self.take_queued(&mut items, queued.min(TAKES_PER_TURN), &mut turn);
            if !open {
                break;
            }
            if !turn.cut && (behind || flushed.elapsed() >= FLUSH_EVERY) {
                behind = self.flush(false, &mut || turn.burst(items.len()));
                flushed = Instant::now();
            }
            seen = handed.load(Ordering::Relaxed);
            if turn.cut {
                deferring.get_or_insert_with(Instant::now);
            } else {
                deferring = None;
            }
        }
        let mut last = Turn::last();
        self.take_queued(&mut items, usize::MAX, &mut last);
        self.flush(true, &mut || false);
    }

    /// Takes up to `most` queued items, or fewer when `turn` sees a burst begin; false once
    /// the channel is closed (the server is stopping).
    fn take_queued(
        &mut self,
        items: &mut mpsc::Receiver<Item>,
        most: usize,
        turn: &mut Turn,
    ) -> bool {
        for taken in 0..most {
            if taken % LOOK_EVERY == LOOK_EVERY - 1 && turn.burst(items.len()) {
                return true;
            }
            match items.try_recv() {
                Ok(item) => self.take(item),
                Err(mpsc::error::TryRecvError::Empty) => return true,
                Err(mpsc::error::TryRecvError::Disconnected) => return false,
            }
        }
        true
    }

    fn visit(&mut self, user: UserId, at: f64) -> &mut Visit {
        let sampler = self.sampler;
        let visit = self.visits.entry(user).or_insert_with(|| Visit {
            user,
            start_ms: (at * 1000.0) as i64,
            part: 0,
            entries: Vec::new(),
            open: HashMap::new(),
            session: None,
            sampled: sampler.records(user),
            dirty: false,
            last: Instant::now(),
            written: None,
        });
        visit.last = Instant::now();
        visit
    }

    fn take(&mut self, item: Item) {
        match item {
            Item::Http(exchange) => self.http(*exchange),
            Item::Open {
                conn,
                sid,
                user,
                ns,
                host,
                at,
            } => {
                let visit = self.visit(user, at);
                visit.session = visit.session.or_else(|| session_of(&ns, None));
                visit.open.insert(conn.clone(), visit.entries.len());
                visit.entries.push(socket_entry(&host, at));
                visit.dirty = true;
                let prefix = match &*ns {
                    "/" => String::new(),
                    other => format!("{other},"),
                };
                // The connection's CONNECT and the server's answer, written here rather than
                // handed over by the request path: two items fewer for every connection. They
                // hold no secret and no session (the namespace gave it), so they are neither
                // redacted nor read.
                let connect = format!("40{prefix}{{\"token\":\"[redacted]\"}}");
                let answer = format!("40{prefix}{{\"sid\":\"{sid}\"}}");
                self.sids.insert(sid, conn.clone());
                self.conns.insert(conn.clone(), (user, prefix, sid));
                self.message(&conn, Direction::Send, connect, at, None);
                self.message(&conn, Direction::Receive, answer, at, None);
            }
            Item::Frame {
                conn,
                direction,
                text,
                at,
            } => {
                let data = match direction {
                    // What a client sent is the client's to shape: always parsed and redacted.
                    Direction::Send => format!("4{}", redact::packet(&text)),
                    Direction::Receive => format!("4{}", redact::sent_packet(&text)),
                };
                self.message(&conn, direction, data, at, Some(&text));
            }
            Item::Received {
                conn,
                ack,
                data,
                at,
            } => {
                let Some((_, prefix, _)) = self.conns.get(&conn) else {
                    return;
                };
                let ack = ack.map(|a| a.to_string()).unwrap_or_default();
                let text = format!("2{prefix}{ack}{}", &*data);
                let data = format!("4{}", redact::packet(&text));
                self.message(&conn, Direction::Send, data, at, Some(&text));
            }
            Item::Push {
                sids,
                except,
                text,
                at,
            } => {
                let data = format!("4{}", redact::sent_packet(&text));
                for sid in sids.iter().filter(|sid| Some(**sid) != except) {
                    // Sockets of people the sampling leaves out are not open here.
                    if let Some(conn) = self.sids.get(sid).cloned() {
                        self.message(&conn, Direction::Receive, data.clone(), at, None);
                    }
                }
            }
            Item::Close { conn, at } => {
                let Some((user, _, sid)) = self.conns.remove(&conn) else {
                    return;
                };
                self.sids.remove(&sid);
                if let Some(visit) = self.visits.get_mut(&user)
                    && let Some(index) = visit.open.remove(&conn)
                {
                    let entry = &mut visit.entries[index];
                    let started = chrono::DateTime::parse_from_rfc3339(&entry.started_date_time)
                        .map_or(at, |t| t.timestamp_micros() as f64 / 1e6);
                    entry.time = ((at - started) * 1000.0).max(0.0);
                    visit.last = Instant::now();
                    visit.dirty = true;
                }
            }
        }
    }

    /// Adds a message to its connection's entry; `text` (the packet) names the visit's session
    /// if nothing did before.
    fn message(
        &mut self,
        conn: &str,
        direction: Direction,
        data: String,
        at: f64,
        text: Option<&str>,
    ) {
        let Some(visit) = self
            .conns
            .get(conn)
            .and_then(|(user, _, _)| self.visits.get_mut(user))
        else {
            return;
        };
        let Some(&index) = visit.open.get(conn) else {
            return;
        };
        if visit.session.is_none()
            && let Some(text) = text
        {
            let payload = text
                .find(['[', '{'])
                .and_then(|i| serde_json::from_str::<Value>(&text[i..]).ok());
            visit.session = session_of(text, payload.as_ref());
        }
        visit.entries[index]
            .web_socket_messages
            .push(WebSocketMessage {
                direction,
                time: at,
                opcode: 1,
                data,
            });
        visit.last = Instant::now();
        visit.dirty = true;
    }

    /// The account an exchange belongs to: its token's, or the one a sign-in answered with.
    fn person(&self, exchange: &Exchange, answer: Option<&Value>) -> Option<UserId> {
        if let Some(auth) = header_text(exchange.authorization.as_ref()) {
            let token = auth.strip_prefix("Bearer ").unwrap_or(auth).trim();
            if let Some(user) = self.auth.verify(token) {
                return Some(user);
            }
        }
        answer?["data"]["user"]["id"].as_i64().map(UserId)
    }

    fn http(&mut self, exchange: Exchange) {
        let answer = exchange
            .response_body
            .as_ref()
            .and_then(|b| serde_json::from_slice::<Value>(b).ok());
        let Some(user) = self.person(&exchange, answer.as_ref()) else {
            return;
        };
        let request_text = String::from_utf8_lossy(&exchange.request_body).into_owned();
        let request_json = serde_json::from_str::<Value>(&request_text).ok();
        let path = exchange.path.as_ref().map_or("/", |p| p.as_str());
        let session = session_of(path, request_json.as_ref());
        let entry = http_entry(&exchange, &request_text);
        let visit = self.visit(user, exchange.started);
        visit.session = visit.session.or(session);
        visit.entries.push(entry);
        visit.dirty = true;
    }

    /// Writes visits with news (all of them when `all`, else at most [`WRITES_PER_TURN`], and
    /// none after `stop` answers true), and ends idle ones (not one left unwritten); true when
    /// some are left due for the next turn.
    fn flush(&mut self, all: bool, stop: &mut dyn FnMut() -> bool) -> bool {
        let (dir, limit, only) = (&self.dir, self.file_bytes, self.session);
        let mut budget = if all { usize::MAX } else { WRITES_PER_TURN };
        let mut behind = false;
        self.visits.retain(|_, visit| {
            let ending = all || (visit.open.is_empty() && visit.last.elapsed() >= VISIT_IDLE);
            let wanted = visit.sampled && only.is_none_or(|only| visit.session == Some(only));
            let due = ending || visit.written.is_none_or(|at| at.elapsed() >= REWRITE_EVERY);
            if wanted && visit.dirty && due && !visit.entries.is_empty() {
                if budget == 0 || (!all && stop()) {
                    budget = 0;
                    // Kept as it is (news and all) for the next turn.
                    behind = true;
                    return true;
                }
                budget -= 1;
                write_visit(dir, visit, limit);
                visit.written = Some(Instant::now());
            }
            if !wanted || due {
                visit.dirty = false;
            }
            !ending
        });
        behind
    }
}

/// Writes a visit's current part. Past `limit` bytes the part is closed with as many entries
/// as fit (at least one) and the rest begins the next part; a connection still open continues
/// there with the frames still to come.
fn write_visit(dir: &std::path::Path, visit: &mut Visit, limit: usize) {
    loop {
        let bytes = har_bytes(&visit.entries);
        if bytes.len() <= limit || visit.entries.len() <= 1 {
            write_part(dir, visit, &bytes);
            return;
        }
        let fits = (1..visit.entries.len())
            .rev()
            .find(|&k| har_bytes(&visit.entries[..k]).len() <= limit)
            .unwrap_or(1);
        write_part(dir, visit, &har_bytes(&visit.entries[..fits]));
        visit.part += 1;
        let rest = visit.entries.split_off(fits);
        let mut entries = Vec::new();
        let mut open = HashMap::new();
        for (conn, index) in &visit.open {
            if *index < fits {
                let mut shell = visit.entries[*index].clone();
                shell.web_socket_messages.clear();
                open.insert(conn.clone(), entries.len());
                entries.push(shell);
            }
        }
        let shells = entries.len();
        for (conn, index) in &visit.open {
            if *index >= fits {
                open.insert(conn.clone(), index - fits + shells);
            }
        }
        entries.extend(rest);
        visit.entries = entries;
        visit.open = open;
    }
}

/// A HAR document of `entries`, serialised from the borrowed entries: the same shape as
/// [`crate::har::Har`], which would need them copied.
fn har_bytes(entries: &[Entry]) -> Vec<u8> {
    #[derive(serde::Serialize)]
    struct Document<'a> {
        log: LogOf<'a>,
    }
    #[derive(serde::Serialize)]
    struct LogOf<'a> {
        version: &'a str,
        creator: Creator,
        entries: &'a [Entry],
    }
    let har = Document {
        log: LogOf {
            version: "1.2",
            creator: Creator {
                name: "ticketclub".into(),
                version: env!("CARGO_PKG_VERSION").into(),
            },
            entries,
        },
    };
    serde_json::to_vec(&har).unwrap_or_default()
}

/// Writes one part atomically: a temporary file renamed over the last version. Blocking: the
/// writer has its own thread.
fn write_part(dir: &std::path::Path, visit: &Visit, bytes: &[u8]) {
    let name = format!("visit-{}-{}-{}.har", visit.user, visit.start_ms, visit.part);
    let path = dir.join(&name);
    let temporary = path.with_extension("har.tmp");
    match std::fs::write(&temporary, bytes).and_then(|()| std::fs::rename(&temporary, &path)) {
        Ok(()) => crate::metrics::record_file_written(),
        Err(e) => tracing::warn!(error = %e, file = name, "writing a recording failed"),
    }
}

/// Lowers the calling thread's scheduling priority (nice 19): the writer takes the cores the
/// request path leaves idle, and its channel absorbs what comes meanwhile.
pub(super) fn lower_priority() {
    let thread = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(thread), WRITER_NICE) {
        tracing::debug!(error = %e, "the recorder's writer keeps its priority");
    }
}

/// The writer thread's nice value, the lowest (0 is the request path's): on a busy machine the
/// writer gets about 1.5 % of a core against each worker (Linux's weights, 15 against 1024).
const WRITER_NICE: i32 = 19;

fn socket_entry(host: &str, at: f64) -> Entry {
    Entry {
        started_date_time: iso(at),
        request: Request {
            method: "GET".into(),
            url: format!("ws://{host}/socket.io/?EIO=4&transport=websocket"),
            http_version: "HTTP/1.1".into(),
            ..Request::default()
        },
        response: Response {
            status: 101,
            status_text: "Switching Protocols".into(),
            http_version: "HTTP/1.1".into(),
            ..Response::default()
        },
        ..Entry::default()
    }
}

fn http_entry(exchange: &Exchange, request_text: &str) -> Entry {
    let mut headers = Vec::new();
    if let Some(auth) = header_text(exchange.authorization.as_ref()) {
        headers.push(Header::new("Authorization", redact::authorization(auth)));
    }
    let content_type = header_text(exchange.content_type.as_ref());
    if let Some(kind) = content_type {
        headers.push(Header::new("Content-Type", kind.to_string()));
    }
    let post_data = (!request_text.is_empty()).then(|| PostData {
        mime_type: content_type.unwrap_or_default().to_string(),
        text: redact::body(request_text),
    });
    let text = exchange
        .response_body
        .as_ref()
        .map(|b| redact::body(&String::from_utf8_lossy(b)));
    Entry {
        started_date_time: iso(exchange.started),
        time: exchange.millis,
        request: Request {
            method: exchange.method.to_string(),
            url: format!(
                "http://{}{}",
                header_text(exchange.host.as_ref()).unwrap_or_default(),
                exchange.path.as_ref().map_or("/", |p| p.as_str())
            ),
            http_version: "HTTP/1.1".into(),
            headers,
            post_data,
            ..Request::default()
        },
        response: Response {
            status: exchange.status,
            http_version: "HTTP/1.1".into(),
            content: Content {
                size: text.as_ref().map_or(-1, |t| t.len() as i64),
                mime_type: header_text(exchange.response_type.as_ref())
                    .unwrap_or_default()
                    .to_string(),
                text,
                encoding: None,
            },
            ..Response::default()
        },
        ..Entry::default()
    }
}

#[cfg(test)]
mod tests {
    use super::{Direction, Entry, WebSocketMessage, har_bytes, session_of, socket_entry};
    use crate::har::Har;
    use serde_json::json;

    #[test]
    fn a_crowd_of_visits_is_written_a_turn_at_a_time_and_every_one_in_the_end() {
        use super::{Item, WRITES_PER_TURN, Writer};
        use crate::domain::ids::UserId;
        use std::sync::Arc;
        let dir = std::env::temp_dir().join(format!("writer-turns-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("folder");
        let settings = crate::config::RecordSettings {
            dir: Some(dir.to_string_lossy().into_owned()),
            ..crate::config::RecordSettings::default()
        };
        let auth = Arc::new(crate::auth::Auth::new(Some("writer-test"), "7d", 4).expect("auth"));
        let mut writer = Writer::new(&settings, auth, super::Sampler::new(1.0));
        let crowd = WRITES_PER_TURN * 2 + 10;
        for user in 1..=crowd {
            writer.take(Item::Open {
                conn: Arc::from(format!("/#{user}")),
                sid: super::Sid::new(),
                user: UserId(user as i64),
                ns: "/".into(),
                host: "localhost".into(),
                at: 1.0,
            });
        }
        let files = || std::fs::read_dir(&dir).expect("folder").count();
        assert!(
            writer.flush(false, &mut || true),
            "a burst began: all of it is still due"
        );
        assert_eq!(files(), 0, "nothing written once a burst began");
        assert!(writer.flush(false, &mut || false), "more is due");
        assert_eq!(files(), WRITES_PER_TURN);
        assert!(writer.flush(false, &mut || false));
        assert!(!writer.flush(false, &mut || false), "all written");
        assert_eq!(files(), crowd);
        assert!(!writer.flush(false, &mut || false), "nothing new");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_writer_leaves_a_burst_queued_but_not_for_long_nor_past_half_the_buffer() {
        use super::defer;
        use std::time::Duration;
        let (capacity, now, turn) = (65_536, Duration::ZERO, Duration::from_millis(50));
        assert!(defer(3_000, turn, 3_000, capacity, now), "a burst waits");
        assert!(defer(
            3_000,
            turn,
            9_000,
            capacity,
            Duration::from_millis(500)
        ));
        assert!(
            defer(30, Duration::from_millis(1), 9_000, capacity, now),
            "a late turn right after another still sees the burst"
        );
        assert!(
            !defer(20, turn, 20, capacity, now),
            "a trickle is taken as it comes"
        );
        assert!(
            !defer(0, turn, 9_000, capacity, Duration::from_millis(500)),
            "the burst is over"
        );
        assert!(
            !defer(3_000, turn, 9_000, capacity, Duration::from_secs(10)),
            "a long burst is taken as it comes"
        );
        assert!(
            !defer(3_000, turn, 40_000, capacity, now),
            "a burst never fills the buffer"
        );
    }

    #[test]
    fn a_turn_stops_when_a_burst_begins_but_not_for_a_trickle_a_long_burst_or_a_full_buffer() {
        use super::{MAX_DEFER, Turn};
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::{Duration, Instant};
        let capacity = 131_072;
        // A turn 10 ms old that began with 20,000 frames handed over, `then` handed over now.
        let turn = |waited, then: usize| {
            let handed = std::sync::Arc::new(AtomicUsize::new(20_000));
            let mut turn = Turn::new(handed.clone(), capacity, waited);
            turn.began = Instant::now() - Duration::from_millis(10);
            turn.window_began = turn.began;
            handed.store(then, Ordering::Relaxed);
            turn
        };
        let mut burst = turn(Duration::ZERO, 20_500);
        assert!(burst.burst(4_500), "500 arrived in 10 ms: 50,000/s");
        assert!(burst.cut);
        let mut trickle = turn(Duration::ZERO, 20_010);
        assert!(!trickle.burst(4_010), "10 in 10 ms");
        assert!(!trickle.cut);
        let mut long = turn(MAX_DEFER, 20_500);
        assert!(!long.burst(4_500), "a long burst is taken as it comes");
        let mut filling = turn(Duration::ZERO, 20_500);
        assert!(
            !filling.burst(70_000),
            "a buffer half full is taken as it comes"
        );
        let handed = std::sync::Arc::new(AtomicUsize::new(0));
        let mut just_begun = Turn::new(handed.clone(), capacity, Duration::ZERO);
        handed.store(5, Ordering::Relaxed);
        assert!(!just_begun.burst(5), "too soon to tell");
    }

    #[test]
    fn a_seat_rush_reads_as_a_burst_by_its_frames_though_its_items_trickle() {
        use super::Turn;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::{Duration, Instant};
        // 10 ms of a rush: 6 room pushes (and 20 answers) came, each push reaching 110
        // watchers: 26 items, 680 frames.
        let handed = std::sync::Arc::new(AtomicUsize::new(5_000));
        let mut turn = Turn::new(handed.clone(), 131_072, Duration::ZERO);
        turn.began = Instant::now() - Duration::from_millis(10);
        turn.window_began = turn.began;
        handed.store(5_000 + 6 * 110 + 20, Ordering::Relaxed);
        assert!(turn.burst(126), "68,000 frames a second is a burst");
    }

    #[test]
    fn a_rush_that_begins_late_in_a_long_turn_still_cuts_it() {
        use super::{RATE_WINDOW, Turn};
        use std::sync::atomic::{AtomicUsize, Ordering};
        use std::time::{Duration, Instant};
        // A turn writing files into a slow file system, 400 ms old and quiet so far.
        let handed = std::sync::Arc::new(AtomicUsize::new(20_000));
        let mut turn = Turn::new(handed.clone(), 131_072, Duration::ZERO);
        turn.began = Instant::now() - Duration::from_millis(400);
        turn.window_began = turn.began;
        assert!(!turn.burst(100), "quiet");
        // The rush's first 10 ms: 500 frames (50,000 a second), 1,250 a second over the turn.
        turn.window_began = Instant::now() - RATE_WINDOW;
        handed.store(20_500, Ordering::Relaxed);
        assert!(turn.burst(600), "the rush is seen by its own rate");
    }

    #[test]
    fn the_writer_thread_runs_at_a_lower_priority_than_the_others() {
        let nice = std::thread::spawn(|| {
            super::lower_priority();
            rustix::process::getpriority_process(Some(rustix::thread::gettid()))
        })
        .join()
        .expect("thread");
        assert_eq!(nice.expect("getpriority"), super::WRITER_NICE);
        let here = rustix::process::getpriority_process(Some(rustix::thread::gettid()));
        assert_ne!(
            here.expect("getpriority"),
            super::WRITER_NICE,
            "only that thread"
        );
    }

    #[test]
    fn a_room_push_reaches_the_recorded_sockets_it_names_and_no_other() {
        use super::{Item, Sid, Writer};
        use crate::domain::ids::UserId;
        use std::sync::Arc;
        let settings = crate::config::RecordSettings {
            dir: Some(std::env::temp_dir().to_string_lossy().into_owned()),
            ..crate::config::RecordSettings::default()
        };
        let auth = Arc::new(crate::auth::Auth::new(Some("writer-test"), "7d", 4).expect("auth"));
        let mut writer = Writer::new(&settings, auth, super::Sampler::new(1.0));
        let (watcher, other, closed) = (Sid::new(), Sid::new(), Sid::new());
        for (user, sid) in [(1, watcher), (2, other), (3, closed)] {
            writer.take(Item::Open {
                conn: Arc::from(format!("/event-1#{sid}")),
                sid,
                user: UserId(user),
                ns: "/event-1".into(),
                host: "localhost".into(),
                at: 1.0,
            });
        }
        writer.take(Item::Close {
            conn: Arc::from(format!("/event-1#{closed}")),
            at: 1.5,
        });
        // A socket of someone not recorded is in the room too.
        writer.take(Item::Push {
            sids: Arc::from([watcher, Sid::new(), closed]),
            except: None,
            text: Arc::from("2/event-1,[\"seats\",{}]"),
            at: 2.0,
        });
        // A broadcast from a socket reaches the room but its sender.
        writer.take(Item::Push {
            sids: Arc::from([watcher, other]),
            except: Some(other),
            text: Arc::from("2/event-1,[\"seats\",{\"by\":2}]"),
            at: 2.5,
        });
        let messages = |writer: &Writer, user: i64| -> Vec<String> {
            writer.visits[&UserId(user)].entries[0]
                .web_socket_messages
                .iter()
                .map(|m| m.data.clone())
                .collect()
        };
        // Each connection opens with its CONNECT and the server's answer, written from the
        // `Open` item.
        let opening = messages(&writer, 2);
        assert_eq!(opening.len(), 2, "{opening:?}");
        assert_eq!(opening[0], "40/event-1,{\"token\":\"[redacted]\"}");
        assert_eq!(opening[1], format!("40/event-1,{{\"sid\":\"{other}\"}}"));
        let heard =
            |writer: &Writer, user: i64| -> Vec<String> { messages(writer, user).split_off(2) };
        assert_eq!(
            heard(&writer, 1),
            [
                "42/event-1,[\"seats\",{}]",
                "42/event-1,[\"seats\",{\"by\":2}]"
            ]
        );
        assert!(
            heard(&writer, 2).is_empty(),
            "not in the room, then the sender"
        );
        assert!(heard(&writer, 3).is_empty(), "closed before the push");
        assert!(writer.sids.len() == 2 && writer.conns.len() == 2);
    }

    #[test]
    fn a_written_document_reads_back_as_the_entries_it_was_made_of() {
        let mut socket = socket_entry("localhost:3000", 1.5);
        socket.web_socket_messages.push(WebSocketMessage {
            direction: Direction::Receive,
            time: 1.6,
            opcode: 1,
            data: "42[\"seats\",{}]".into(),
        });
        let entries: Vec<Entry> = vec![socket.clone(), socket];
        let har: Har = serde_json::from_slice(&har_bytes(&entries)).expect("whole JSON");
        assert_eq!(har.log.version, "1.2");
        assert_eq!(har.log.creator.name, "ticketclub");
        assert_eq!(har.log.entries, entries);
    }

    #[test]
    fn the_session_is_read_from_paths_bodies_and_packets() {
        assert_eq!(session_of("/area/3", None), Some(3));
        assert_eq!(session_of("/event-2", None), Some(2));
        assert_eq!(session_of("/seat", Some(&json!({"sessionId": 4}))), Some(4));
        assert_eq!(
            session_of("2[\"check limit\",5]", Some(&json!(["check limit", 5]))),
            Some(5)
        );
        assert_eq!(
            session_of("2/queue,1[…]", Some(&json!(["join", {"sessionId": 6}]))),
            Some(6)
        );
        assert_eq!(session_of("/user/profile", None), None);
    }
}
