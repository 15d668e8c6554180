//! Public catalog and seat maps: `/event`, `/event/{id}`, `/area/{id}`, `/seat`.

use std::collections::BTreeMap;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::extract::{AuthUser, Body};
use crate::domain::ids::{AreaId, EventId, SessionId};
use crate::error::{ApiError, ApiResult};
use crate::js::{id_of, js_text, truthy};
use crate::service::ServiceError;
use crate::state::AppState;
use crate::storage::model::{AreaOffer, SeatCell};
use axum::http::StatusCode;

/// Routes of this resource.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/event", get(list_events))
        .route("/event/{id}", get(get_event))
        .route("/area/{id}", get(get_areas))
        .route("/seat", post(get_seat_map))
        .route("/session/{id}/draw", get(get_draw))
}

/// The fair-start draw of a session, once it ran (protocol-v2 "Fair start"): the seed (a
/// decimal string: it does not fit a JSON number exactly), the number of entrants and the
/// SHA-256 of the order. 409 before the on-sale time.
async fn get_draw(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let session = id
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .map(SessionId)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "no such session"))?;
    let now = crate::domain::time::now_millis();
    match crate::service::fair::published(&state, session, now).await {
        Ok(Some(record)) => Ok(Json(json!({
            "sessionId": session, "seed": record.seed.to_string(), "count": record.count,
            "hash": record.hash, "drawnAt": record.at,
        }))),
        Ok(None) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "no draw yet: it runs at the on-sale time",
        )),
        Err(ServiceError::UnknownSession) => {
            Err(ApiError::new(StatusCode::NOT_FOUND, "no such session"))
        }
        Err(e) => Err(ApiError::internal("reading a draw failed", e)),
    }
}

/// Longest accepted search text, in characters. Titles are far shorter, and a long `LIKE`
/// pattern is refused by SQLite (over 50,000 bytes) and costly everywhere.
pub(crate) const SEARCH_MAX_CHARS: usize = 400;

#[derive(Deserialize)]
struct ListQuery {
    search: Option<String>,
}

async fn list_events(
    State(state): State<AppState>,
    Query(query): Query<ListQuery>,
) -> ApiResult<Json<Value>> {
    if query
        .search
        .as_deref()
        .is_some_and(|text| text.chars().count() > SEARCH_MAX_CHARS)
    {
        return Err(ApiError::bad_request(format!(
            "Search text is too long (at most {SEARCH_MAX_CHARS} characters)."
        )));
    }
    let events = state.store.catalog.events(query.search).await?;
    let cards: Vec<Value> = events
        .into_iter()
        .map(|e| json!({"id": e.id, "singer": e.singer, "picture": state.image_url(&e.picture)}))
        .collect();
    Ok(Json(Value::Array(cards)))
}

async fn get_event(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let invalid = || ApiError::bad_request("Please provide a valid event ID.");
    let id = id_of(&Value::String(id)).ok_or_else(invalid)?;
    let event = state
        .store
        .catalog
        .event(EventId(id))
        .await?
        .ok_or_else(invalid)?;
    let sessions: Vec<Value> = event
        .sessions
        .iter()
        .map(|s| json!({"session_id": s.session_id, "time": s.time, "city": s.city, "venue": s.venue}))
        .collect();
    Ok(Json(json!({
        "singer": event.singer,
        "title": event.title,
        "detailPicture": state.image_url(&event.detail_picture),
        "description": event.description,
        "videoLink": event.video_link,
        "onSale": event.on_sale,
        "sessions": sessions,
    })))
}

/// Areas of a session grouped by price. Integer-like keys come out in ascending order, as a
/// JavaScript object would order them, with `seatPicture` last.
async fn get_areas(
    State(state): State<AppState>,
    _user: AuthUser,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let invalid = || ApiError::bad_request("Please provide valid session ID.");
    let session = SessionId(id_of(&Value::String(id)).ok_or_else(invalid)?);
    let info = state
        .store
        .catalog
        .session(session)
        .await?
        .ok_or_else(invalid)?;
    let areas = state.store.catalog.session_areas(session).await?;
    if areas.is_empty() {
        return Err(invalid());
    }
    let mut body = Map::new();
    for (price, group) in group_by_price(areas) {
        body.insert(price.to_string(), Value::Array(group));
    }
    body.insert(
        "seatPicture".into(),
        json!(state.image_url(&info.seat_picture)),
    );
    Ok(Json(Value::Object(body)))
}

fn group_by_price(areas: Vec<AreaOffer>) -> BTreeMap<i64, Vec<Value>> {
    let mut by_price: BTreeMap<i64, Vec<Value>> = BTreeMap::new();
    for a in areas {
        let card = json!({"id": a.id, "area": a.name, "seats": a.free_seats});
        by_price.entry(a.price).or_default().push(card);
    }
    by_price
}

/// The seat map of one area, as rows of cells (`seats[row-1][column-1]`).
async fn get_seat_map(
    State(state): State<AppState>,
    _user: AuthUser,
    body: Body,
) -> ApiResult<Json<Value>> {
    let (session, area) = (body.field("sessionId"), body.field("areaId"));
    if !truthy(session) {
        return Err(ApiError::bad_request("Please provide session ID."));
    }
    if !truthy(area) {
        return Err(ApiError::bad_request("Please provide area ID."));
    }
    let cells = match (id_of(session), id_of(area)) {
        (Some(s), Some(a)) => {
            state
                .store
                .catalog
                .seat_map(SessionId(s), AreaId(a))
                .await?
        }
        _ => Vec::new(),
    };
    if cells.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Please provide valid session ID({}) & area ID({}).",
            js_text(session),
            js_text(area)
        )));
    }
    Ok(Json(Value::Array(rows_of(cells))))
}

/// Groups cells (sorted by row, then column) into one array per row.
fn rows_of(cells: Vec<SeatCell>) -> Vec<Value> {
    let mut rows: Vec<(i64, Vec<Value>)> = Vec::new();
    for c in cells {
        let cell = json!({"column": c.column, "row": c.row, "status_id": c.status});
        match rows.last_mut() {
            Some((row, items)) if *row == c.row => items.push(cell),
            _ => rows.push((c.row, vec![cell])),
        }
    }
    rows.into_iter()
        .map(|(_, items)| Value::Array(items))
        .collect()
}
