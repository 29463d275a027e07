//! `/account/`: the caller's own account and sessions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use gatehouse_core::domain::PasswordAttempt;
use gatehouse_core::{CoreError, Session, User};
use serde::{Deserialize, Serialize};

use super::error::ApiError;
use super::extract::{ApiJson, AuthUser, Client};
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(read_account).delete(delete_account))
        .route("/account/sessions", get(list_sessions))
        .route("/account/sessions/{id}", delete(revoke_session))
}

async fn read_account(AuthUser(principal): AuthUser) -> Json<User> {
    Json(principal.user)
}

#[derive(Deserialize)]
struct DeleteAccountRequest {
    #[serde(default)]
    current_password: String,
}

async fn delete_account(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<DeleteAccountRequest>,
) -> Result<StatusCode, ApiError> {
    let password = CoreError::parse_field("current_password", PasswordAttempt::parse(&body.current_password))?;
    state.core.delete_account(&principal, &password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One entry of "your sessions".
#[derive(Serialize)]
struct SessionBody {
    id: String,
    kind: gatehouse_core::SessionKind,
    current: bool,
    ip: String,
    user_agent: String,
    aal: String,
    created_at: String,
    last_used_at: String,
    expires_at: String,
}

impl SessionBody {
    fn new(session: Session, current_id: &str) -> Self {
        use gatehouse_core::time_format::to_rfc3339;
        SessionBody {
            current: session.id == current_id,
            id: session.id,
            kind: session.kind,
            ip: session.ip,
            user_agent: session.user_agent,
            aal: session.aal,
            created_at: to_rfc3339(session.created_at),
            last_used_at: to_rfc3339(session.last_used_at),
            expires_at: to_rfc3339(session.expires_at),
        }
    }
}

async fn list_sessions(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> Result<Json<Vec<SessionBody>>, ApiError> {
    let sessions = state.core.list_sessions(&principal).await?;
    Ok(Json(sessions.into_iter().map(|s| SessionBody::new(s, &principal.session.id)).collect()))
}

async fn revoke_session(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.revoke_session(&principal, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
