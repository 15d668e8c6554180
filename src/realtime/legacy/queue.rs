//! `check limit`: arriving at a session's waiting room.

use serde_json::{Value, json};
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};

use super::{field, payload, reply};
use crate::domain::ids::SessionId;
use crate::domain::time::now_millis;
use crate::domain::waiting_room::{Admission, Hears};
use crate::error::SYSTEM_ERROR;
use crate::js::id_of;
use crate::metrics;
use crate::realtime::order::Turn;
use crate::realtime::{Conn, give_back_if_gone, rooms};
use crate::service::{ServiceError, visit};
use crate::state::AppState;

/// A refused arrival of an account an operator blocked from the session (no such case in the
/// original; worded like its other refusals).
const BLOCKED: &str = "此帳號無法參加此場次！";

/// The original's words for a refused arrival.
fn refusal(e: &ServiceError) -> &'static str {
    match e {
        ServiceError::UnknownSession => "Please provide a valid session ID.",
        ServiceError::SaleEnded => "活動已結束！",
        ServiceError::SaleNotOpen => "活動尚未開賣！",
        ServiceError::Blocked => BLOCKED,
        other => {
            tracing::error!(error = %other, "entering the waiting room failed");
            SYSTEM_ERROR
        }
    }
}

#[tracing::instrument(name = "socket", skip_all, fields(event = "check limit", user = %conn.user()))]
pub(super) async fn on_check_limit<A: Adapter>(
    mut turn: Turn,
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
) {
    turn.wait().await;
    let _timer = metrics::EventTimer::start("check limit");
    let data = payload(data);
    let raw = if data.is_object() {
        field(&data, "sessionId")
    } else {
        &data
    };
    let refuse = async |message: &str| reply(&s, "check limit", &json!({"error": message})).await;
    let Some(id) = id_of(raw) else {
        return refuse("Please provide a valid session ID.").await;
    };
    let now = now_millis();
    let session = match visit::open_session(&state, SessionId(id), now).await {
        Ok(info) => info.id,
        Err(e) => return refuse(refusal(&e)).await,
    };
    let user = conn.user();
    if let Some(previous) = conn.set_entered(session).filter(|p| *p != session)
        && let Err(e) = visit::leave(&state, previous, user, Some(conn.holder()), now).await
    {
        tracing::error!(error = %e, "leaving the previous waiting room failed");
    }
    // Join before entering, so a promotion that happens right after cannot miss this socket.
    rooms::join(&s, rooms::entrant(session, user));
    let entered = visit::enter(&state, session, user, conn.holder(), now, Hears::EachStep).await;
    // The socket may have left while this arrival was handled: then the place goes back.
    if entered.is_ok() && give_back_if_gone(&state, &conn, session).await {
        return;
    }
    let body = match entered {
        Ok(Admission::Pass) => {
            json!({"pass": true, "waitPeople": 0, "seconds": state.rules(session).pass_seconds(now)})
        }
        Ok(Admission::Queued {
            wait_people,
            seconds,
        }) => json!({"pass": false, "waitPeople": wait_people, "seconds": seconds}),
        Err(e) => json!({"error": refusal(&e)}),
    };
    tracing::debug!(%session, %user, reply = %body, "check limit");
    reply(&s, "check limit", &body).await;
}
