//! `/account/...`: the caller's own account and sessions.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::domain::PasswordAttempt;
use gatehouse_core::{CoreError, Session, SessionKind, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::extract::{ApiJson, AuthUser, Client};
use super::responses::*;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read_account, delete_account))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
}

/// The caller's account.
#[utoipa::path(get, path = "/account", tag = "account", security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "The caller's account", body = User), Unauthorized, SecondFactor))]
async fn read_account(AuthUser(principal): AuthUser) -> Json<User> {
    Json(principal.user)
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    #[serde(default)]
    current_password: String,
}

/// Deletes the caller's account, with its sessions, tokens and links (audit rows keep the id).
/// Wrong current passwords are throttled like failed logins to the account.
#[utoipa::path(delete, path = "/account", tag = "account", request_body = DeleteAccountRequest,
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 204, description = "Deleted"),
        BadRequest, Unauthorized, SecondFactor, Throttled, PayloadTooLarge, UnsupportedMediaType))]
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
#[derive(Serialize, ToSchema)]
pub struct SessionBody {
    id: String,
    kind: SessionKind,
    /// The session this request was made with.
    current: bool,
    ip: String,
    user_agent: String,
    /// `aal1` or `aal2`.
    aal: String,
    #[schema(format = DateTime)]
    created_at: String,
    #[schema(format = DateTime)]
    last_used_at: String,
    #[schema(format = DateTime)]
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

/// The caller's live sessions, browser and API, most recently used first.
#[utoipa::path(get, path = "/account/sessions", tag = "account", security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "Live sessions", body = Vec<SessionBody>), Unauthorized, SecondFactor))]
async fn list_sessions(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> Result<Json<Vec<SessionBody>>, ApiError> {
    let sessions = state.core.list_sessions(&principal).await?;
    Ok(Json(sessions.into_iter().map(|s| SessionBody::new(s, &principal.session.id)).collect()))
}

/// Ends one of the caller's sessions; its access tokens stop working at once.
#[utoipa::path(delete, path = "/account/sessions/{id}", tag = "account",
    params(("id" = String, Path, description = "A session id from the list")),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 204, description = "Ended"), Unauthorized, SecondFactor, NotFound))]
async fn revoke_session(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.revoke_session(&principal, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
