//! Accounts: `/user/signup`, `/user/signin`, `/user/profile`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};

use std::net::IpAddr;

use super::client_ip::ClientIp;
use super::extract::{AuthUser, Body};
use crate::domain::email::is_email;
use crate::error::{ApiError, ApiResult};
use crate::js::{text_of, truthy};
use crate::service::attempts::AttemptLimits;
use crate::state::AppState;
use crate::storage::model::{OrderView, UserRecord};

/// Longest accepted name, in UTF-8 bytes (the original's check).
const NAME_MAX_BYTES: usize = 30;
/// Shortest accepted password, in UTF-16 units (JavaScript's `length`).
const PASSWORD_MIN: usize = 6;

/// Routes of this resource.
pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/user/signup", post(sign_up))
        .route("/user/signin", post(sign_in))
        .route("/user/profile", get(get_profile))
}

async fn sign_up(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    body: Body,
) -> ApiResult<Json<Value>> {
    let name = text_of(body.field("name")).unwrap_or_default();
    if name.trim().is_empty() {
        return Err(ApiError::bad_request("請輸入使用者名稱"));
    }
    if name.len() > NAME_MAX_BYTES {
        return Err(ApiError::bad_request("使用者名稱過長"));
    }
    let email = checked_email(&body)?;
    let password = text_of(body.field("password")).filter(|p| !p.is_empty());
    let password = password.ok_or_else(|| ApiError::bad_request("請輸入密碼"))?;
    if password.encode_utf16().count() < PASSWORD_MIN {
        return Err(ApiError::bad_request("密碼至少6個字符"));
    }
    limit(&state.sign_up_attempts, email, client)?;
    let hash = state
        .auth
        .hash_password_for(client, password.to_string())
        .await
        .map_err(|e| ApiError::internal("hashing a password failed", e))?;
    let created = state
        .store
        .accounts
        .create_user(name.to_string(), email.to_string(), hash)
        .await?;
    let user = created.ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "此Email已註冊過"))?;
    signed_in(&state, &user)
}

async fn sign_in(
    State(state): State<AppState>,
    ClientIp(client): ClientIp,
    body: Body,
) -> ApiResult<Json<Value>> {
    let email = checked_email(&body)?;
    let password = text_of(body.field("password")).filter(|p| !p.is_empty());
    let password = password.ok_or_else(|| ApiError::bad_request("請輸入密碼"))?;
    // Before the account lookup, so unknown emails cannot be probed without limit either.
    limit(&state.sign_in_attempts, email, client)?;
    let user = state
        .store
        .accounts
        .user_by_email(email.to_string())
        .await?;
    let user = user.ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "此Email尚未註冊"))?;
    let matches = state
        .auth
        .password_matches(client, password.to_string(), user.password_hash.clone())
        .await;
    if !matches {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "帳號或密碼錯誤"));
    }
    signed_in(&state, &user)
}

/// Counts an attempt on `email` from `client`: 429 with `Retry-After` over the limit.
fn limit(attempts: &AttemptLimits, email: &str, client: IpAddr) -> ApiResult<()> {
    attempts.attempt(email, client).map_err(|refused| {
        tracing::info!(
            retry_after = refused.retry_after_secs(),
            "too many attempts"
        );
        crate::metrics::attempt_refused();
        ApiError::too_many_attempts(refused.retry_after_secs())
    })
}

/// The email field, present and well-formed, checked in the original's order.
fn checked_email(body: &Body) -> ApiResult<&str> {
    let email = body.field("email");
    if !truthy(email) {
        return Err(ApiError::bad_request("請輸入Email"));
    }
    text_of(email)
        .filter(|e| is_email(e))
        .ok_or_else(|| ApiError::bad_request("Email格式錯誤"))
}

fn signed_in(state: &AppState, user: &UserRecord) -> ApiResult<Json<Value>> {
    let now = chrono::Utc::now().timestamp();
    let token = state
        .auth
        .issue(user.id, now)
        .map_err(|e| ApiError::internal("signing a token failed", e))?;
    Ok(Json(json!({"data": {
        "access_token": token,
        "access_expired": state.auth.expires_text(),
        "user": {"id": user.id, "name": user.name, "email": user.email},
    }})))
}

async fn get_profile(
    State(state): State<AppState>,
    AuthUser(user): AuthUser,
) -> ApiResult<Json<Value>> {
    let profile = state.store.accounts.profile(user).await?;
    let profile = profile.ok_or_else(|| ApiError::new(StatusCode::FORBIDDEN, "登入錯誤！"))?;
    let orders: Vec<Value> = profile.orders.iter().map(order_json).collect();
    Ok(Json(
        json!({"name": profile.name, "email": profile.email, "tickets": orders}),
    ))
}

fn order_json(o: &OrderView) -> Value {
    let tickets: Vec<Value> = o
        .tickets
        .iter()
        .map(|t| json!({"area": t.area, "price": t.price, "row": t.row, "column": t.column}))
        .collect();
    json!({
        "orderId": o.order_id,
        "session_id": o.session_id,
        "title": o.title,
        "time": o.time,
        "venue": o.venue,
        "total": o.total,
        "createdAt": o.created_at,
        "tickets": tickets,
    })
}
