//! `check limit`: arriving at a session's waiting room.

use serde_json::{Value, json};
use socketioxide::SocketIo;
use socketioxide::adapter::Adapter;
use socketioxide::extract::{Extension, SocketRef, State, TryData};

use super::{field, payload, reply};
use crate::app::AppState;
use crate::domain::ids::SessionId;
use crate::domain::time::now_millis;
use crate::domain::waiting_room::Admission;
use crate::error::SYSTEM_ERROR;
use crate::http::extract::id_of;
use crate::metrics;
use crate::realtime::{Conn, notify, rooms};

#[tracing::instrument(name = "socket", skip_all, fields(event = "check limit", user = %conn.user()))]
pub(super) async fn on_check_limit<A: Adapter>(
    s: SocketRef<A>,
    data: TryData<Value>,
    State(state): State<AppState>,
    Extension(conn): Extension<Conn>,
    io: SocketIo<A>,
) {
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
    let session = match state.store.catalog.session(SessionId(id)).await {
        Ok(Some(session)) => session,
        Ok(None) => return refuse("Please provide a valid session ID.").await,
        Err(e) => {
            tracing::error!(error = %e, "session lookup failed");
            return refuse(SYSTEM_ERROR).await;
        }
    };
    let now = now_millis();
    if session.time.millis() <= now {
        return refuse("活動已結束！").await;
    }
    if session.on_sale.is_some_and(|t| t.millis() > now) {
        return refuse("活動尚未開賣！").await;
    }
    let user = conn.user();
    if let Some(previous) = conn.set_entered(session.id).filter(|p| *p != session.id) {
        notify::end_visit(&io, &state, previous, user, Some(conn.holder()), now).await;
    }
    // Join before entering, so a promotion that happens right after cannot miss this socket.
    s.join(rooms::entrant(session.id, user));
    let admission = state
        .store
        .waiting_room
        .enter(session.id, user, conn.holder(), now)
        .await;
    let body = match admission {
        Ok(Admission::Pass) => {
            metrics::admitted(false);
            json!({"pass": true, "waitPeople": 0, "seconds": state.rules().pass_seconds(now)})
        }
        Ok(Admission::Queued {
            wait_people,
            seconds,
        }) => {
            metrics::queued();
            json!({"pass": false, "waitPeople": wait_people, "seconds": seconds})
        }
        Err(e) => {
            tracing::error!(error = %e, "entering the waiting room failed");
            json!({"error": SYSTEM_ERROR})
        }
    };
    tracing::debug!(session = %session.id, %user, reply = %body, "check limit");
    reply(&s, "check limit", &body).await;
}
