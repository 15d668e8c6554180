//! The door every incoming event passes, on every namespace, before anything is done for it:
//! its socket's event budget, then its shape (no binary attachments).
//!
//! One signed-in socket flooding big events starved every other buyer (issue 15, item 6), so
//! each event is admitted by its socket's token bucket (`governor`, GCRA). Refusals are counted
//! by a second bucket; when that one runs dry too (a flood far above the rate, not a burst of
//! clicks), the socket is disconnected, so a flood costs the flooder and nobody else.
//! The protocols are JSON only; a binary attachment used to vanish in parsing and leave a
//! payload the handler refused for a missing field (item 12), so it is refused here by name.
//! A refused event is answered at once in the sender's own protocol; its handler's task is
//! never spawned.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::handler::FromMessageParts;
use socketioxide::socket::Socket;
use socketioxide_core::Value as RawValue;

use super::order::Turn;
use crate::config::Limits;
use crate::error::{BINARY_REFUSED, TOO_FAST};

/// Refusals a socket may collect, in units of its per-second rate, before it is cut.
const REFUSALS_BEFORE_CUT: u32 = 5;

/// How a refused event is answered; kept in the socket's extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// The original's reply events (`{error}` under the event the old client listens to).
    Legacy,
    /// The app protocol's ack, `{ok: false, error: {code, message}}`.
    App,
}

/// Why an event is refused at the door.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Refusal {
    /// Over the socket's event budget.
    #[error("event refused: the socket is over its event budget")]
    TooFast,
    /// The event carries binary attachments.
    #[error("event refused: binary attachments are not accepted")]
    Binary,
}

impl Refusal {
    /// The app protocol's code and the message people read, in either protocol.
    fn code_and_message(self) -> (&'static str, &'static str) {
        match self {
            Refusal::TooFast => ("rate_limited", TOO_FAST),
            Refusal::Binary => ("bad_request", BINARY_REFUSED),
        }
    }
}

/// Lets an event in, or answers its refusal (and disconnects a socket that keeps flooding).
/// Called by the [`Turn`] extractor, first in every handler, in arrival order.
pub(crate) fn admit<A: Adapter>(
    s: &Arc<Socket<A>>,
    raw: &mut RawValue,
    ack: Option<i64>,
) -> Result<(), Refusal> {
    super::tap::received(s, raw, ack);
    if let Some(budget) = s.extensions.get::<EventBudget>() {
        match budget.admit() {
            Verdict::Admitted => {}
            Verdict::Refused => return Err(refuse(s, raw, ack, Refusal::TooFast)),
            Verdict::Cut => {
                tracing::warn!(sid = %s.id, "socket disconnected for flooding events");
                if let Err(e) = s.clone().disconnect() {
                    tracing::debug!(error = %e, "disconnecting a flooding socket failed");
                }
                return Err(Refusal::TooFast);
            }
            Verdict::Gone => return Err(Refusal::TooFast),
        }
    }
    if matches!(raw, RawValue::Str(_, Some(binaries)) if !binaries.is_empty())
        || matches!(raw, RawValue::Bytes(_))
    {
        return Err(refuse(s, raw, ack, Refusal::Binary));
    }
    Ok(())
}

/// Answers a refused event: the app protocol through its ack, the original protocol under the
/// reply event its client shows errors for (events without one get nothing, as the original
/// answered them nothing). Only refused events are parsed here, and a flood of them is cut.
fn refuse<A: Adapter>(
    s: &Arc<Socket<A>>,
    raw: &mut RawValue,
    ack: Option<i64>,
    why: Refusal,
) -> Refusal {
    let protocol = s.extensions.get::<Protocol>().unwrap_or(Protocol::Legacy);
    let (code, message) = why.code_and_message();
    let sent = match protocol {
        Protocol::App if ack.is_some() => {
            let body = json!({"ok": false, "error": {"code": code, "message": message}});
            AckSender::from_message_parts(s, raw, &ack)
                .map_or(Ok(()), |ack| ack.send(&body).map_err(|e| e.to_string()))
        }
        Protocol::App => Ok(()),
        Protocol::Legacy => {
            let (event, payload) = event_of(raw);
            match legacy_reply(&event, &payload, message) {
                Some((reply, body)) => s.emit(reply, &body).map_err(|e| e.to_string()),
                None => Ok(()),
            }
        }
    };
    if let Err(e) = sent {
        tracing::debug!(error = %e, "refusal not sent (socket gone)");
    }
    why
}

/// What the budget says about one more event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Within the budget: handle it.
    Admitted,
    /// Over the budget: answer it with an error, do nothing else.
    Refused,
    /// Over the budget for too long: disconnect the socket.
    Cut,
    /// The socket was cut already: drop the event unanswered.
    Gone,
}

/// One socket's event budget, kept in its extensions.
#[derive(Clone)]
pub(crate) struct EventBudget(Arc<Inner>);

struct Inner {
    events: DefaultDirectRateLimiter,
    refusals: DefaultDirectRateLimiter,
    /// Set once the socket is cut: events still in flight from it are dropped unanswered.
    cut: AtomicBool,
}

impl EventBudget {
    /// The budget of [`Limits`], or `None` when the rate is 0 (off).
    pub(crate) fn from_limits(limits: &Limits) -> Option<Self> {
        let rate = NonZeroU32::new(limits.socket_event_rate)?;
        let burst = NonZeroU32::new(limits.socket_event_burst).unwrap_or(rate);
        let refusal_burst = rate.saturating_mul(NonZeroU32::new(REFUSALS_BEFORE_CUT)?);
        Some(Self(Arc::new(Inner {
            events: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
            refusals: RateLimiter::direct(Quota::per_second(rate).allow_burst(refusal_burst)),
            cut: AtomicBool::new(false),
        })))
    }

    /// Counts one more event.
    pub(crate) fn admit(&self) -> Verdict {
        if self.0.cut.load(Ordering::Relaxed) {
            Verdict::Gone
        } else if self.0.events.check().is_ok() {
            Verdict::Admitted
        } else if self.0.refusals.check().is_ok() {
            Verdict::Refused
        } else if self.0.cut.swap(true, Ordering::Relaxed) {
            Verdict::Gone
        } else {
            Verdict::Cut
        }
    }
}

/// Sets up the door of a new socket: its protocol, its event budget (unless the limit is off),
/// and a handler for event names the namespace does not know, so they pay the budget too.
pub(crate) fn install<A: Adapter>(s: &SocketRef<A>, limits: &Limits, protocol: Protocol) {
    s.extensions.insert(protocol);
    if let Some(budget) = EventBudget::from_limits(limits) {
        s.extensions.insert(budget);
        s.on_fallback(on_unknown_event);
    }
}

/// An event no handler knows: its turn is drawn (and the budget charged), nothing else.
async fn on_unknown_event(_turn: Turn) {}

/// The name and first argument of a raw Socket.IO event (`["name", payload, …]`).
fn event_of(raw: &RawValue) -> (String, Value) {
    let RawValue::Str(text, _) = raw else {
        return (String::new(), Value::Null);
    };
    let Ok(Value::Array(mut items)) = serde_json::from_str::<Value>(text) else {
        return (String::new(), Value::Null);
    };
    let payload = if items.len() > 1 {
        items.swap_remove(1)
    } else {
        Value::Null
    };
    let event = items
        .first()
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    (event, payload)
}

/// The reply event under which the old client reads an error for `event`, and its body; the
/// seat it clicked is named back, so the client can release the seat button.
fn legacy_reply(event: &str, payload: &Value, message: &str) -> Option<(&'static str, Value)> {
    let reply = match event {
        "check limit" => "check limit",
        "select seat" => "self select seat",
        "unselect seat" => "unselect seat",
        "unlock seat" => "unlock seat",
        _ => return None,
    };
    let mut body = json!({"error": message});
    if reply == "self select seat" {
        for index in ["rowIndex", "columnIndex"] {
            if let Some(i) = payload.get(index).and_then(Value::as_i64) {
                body[index] = json!(i);
            }
        }
    }
    Some((reply, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(rate: u32, burst: u32) -> Limits {
        Limits {
            socket_event_rate: rate,
            socket_event_burst: burst,
            ..Limits::for_tests()
        }
    }

    #[test]
    fn a_burst_is_admitted_then_refused_then_a_flood_is_cut() {
        let budget = EventBudget::from_limits(&limits(5, 10)).expect("on");
        let verdicts: Vec<Verdict> = (0..200).map(|_| budget.admit()).collect();
        assert!(verdicts[..10].iter().all(|v| *v == Verdict::Admitted));
        assert_eq!(verdicts[10], Verdict::Refused);
        // Five seconds' worth of refusals, then the cut.
        assert!(verdicts[10..35].iter().all(|v| *v == Verdict::Refused));
        assert_eq!(verdicts[35], Verdict::Cut);
        // Cut once; what is still in flight is dropped.
        assert!(verdicts[36..].iter().all(|v| *v == Verdict::Gone));
    }

    #[test]
    fn a_rate_of_zero_turns_the_budget_off() {
        assert!(EventBudget::from_limits(&limits(0, 10)).is_none());
    }

    #[test]
    fn a_refused_select_names_the_seat_back_and_relays_get_no_reply() {
        let raw = RawValue::Str(
            r#"["select seat",{"sessionId":2,"rowIndex":3,"columnIndex":4}]"#.into(),
            None,
        );
        let (event, payload) = event_of(&raw);
        let (reply, body) = legacy_reply(&event, &payload, TOO_FAST).expect("a reply");
        assert_eq!(reply, "self select seat");
        assert_eq!(
            body,
            json!({"error": TOO_FAST, "rowIndex": 3, "columnIndex": 4})
        );
        let relay = RawValue::Str(r#"["lock seat",[]]"#.into(), None);
        let (event, payload) = event_of(&relay);
        assert!(legacy_reply(&event, &payload, TOO_FAST).is_none());
    }
}
