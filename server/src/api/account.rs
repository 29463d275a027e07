//! `/account/...`: the caller's own account and sessions.

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::domain::ProfileChanges;
use gatehouse_core::requests::{CurrentPassword, EmailChange};
use gatehouse_core::Session;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, AuthUser, Client};
use super::fields::{FieldReader, PROFILE_FIELDS};
use super::paging::{EventPage, PageQuery};
use super::responses::*;
use super::views::{SessionKind, User};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(read_account, update_account, delete_account))
        .routes(routes!(confirm_email_change))
        .routes(routes!(cancel_email_change))
        .routes(routes!(history))
        .routes(routes!(list_sessions))
        .routes(routes!(revoke_session))
}

/// The caller's account, and the new address waiting for its confirmation link, if any.
#[derive(Serialize, ToSchema)]
pub struct AccountBody {
    #[serde(flatten)]
    user: User,
    /// Set while an email change waits for the link sent to the new address.
    #[schema(required = true)]
    pending_email: Option<String>,
}

async fn account_body(state: &AppState, user: gatehouse_core::User) -> Result<AccountBody, ApiError> {
    let pending_email = state.core.profiles().pending_email(&user).await?;
    Ok(AccountBody { user: user.into(), pending_email })
}

/// The caller's account.
#[utoipa::path(get, path = "/account", tag = "account", security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "The caller's account", body = AccountBody), Unauthorized, SecondFactor))]
async fn read_account(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(account_body(&state, principal.user).await?))
}

/// The fields `PATCH /account` accepts; any other field is refused by name.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)] // documents the body; it is read field by field (see `fields::FieldReader`)
pub struct AccountPatch {
    /// No control characters; surrounding spaces are trimmed.
    #[schema(value_type = String, required = false, max_length = 150, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    first_name: Option<String>,
    #[schema(value_type = String, required = false, max_length = 150, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    last_name: Option<String>,
    #[schema(value_type = String, required = false, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    country: Option<String>,
    #[schema(value_type = String, required = false, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    profession: Option<String>,
    /// Line breaks and tabs allowed, no other control characters.
    #[schema(value_type = String, required = false, max_length = 2000, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    bio: Option<String>,
    #[schema(value_type = String, required = false, max_length = 2000, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    thoughts: Option<String>,
    /// An http(s) URL, or "" for none.
    #[schema(value_type = String, required = false)]
    profile_img: Option<String>,
    /// Unique, case-insensitive; null or "" removes it.
    username: Option<String>,
    /// A new address: confirmed by a link mailed to it (the change answers 202).
    #[schema(value_type = String, required = false, format = Email)]
    email: Option<String>,
    /// Required with `email`, and checked.
    #[schema(value_type = String, required = false)]
    current_password: Option<String>,
}

/// Updates the caller's profile. With `email` (and `current_password`), mails a confirmation
/// link to the new address and a notice to the current one, and answers 202: the email
/// changes when the link is used. Flags, id and password cannot be changed here (400 naming
/// the field).
#[utoipa::path(patch, path = "/account", tag = "account", request_body = AccountPatch,
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "Updated", body = AccountBody),
        (status = 202, description = "Updated; the new email waits for its confirmation link", body = AccountBody),
        BadRequest, Unauthorized, SecondFactor, Conflict, Throttled, PayloadTooLarge, UnsupportedMediaType))]
async fn update_account(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<AccountBody>), ApiError> {
    let allowed: Vec<&str> = PROFILE_FIELDS.iter().copied().chain(["email", "current_password"]).collect();
    let mut fields = FieldReader::new(body, &allowed)?;
    let raw = fields.profile();
    let email = fields.text("email");
    let current_password = fields.text("current_password");
    fields.finish()?;
    let changes = ProfileChanges::parse(raw)?;
    let email_change = match email {
        Some(email) => Some(EmailChange::parse(&email, &current_password.unwrap_or_default())?),
        None => None,
    };
    // The password is checked (and the link sent) before anything changes.
    if let Some(change) = &email_change {
        state
            .core
            .profiles()
            .request_email_change(&principal, &change.email, &change.current_password, &client)
            .await?;
    }
    let user = state.core.profiles().update_profile(&principal, &changes, &client).await?;
    let status = if email_change.is_some() { StatusCode::ACCEPTED } else { StatusCode::OK };
    Ok((status, Json(account_body(&state, user).await?)))
}

#[derive(Deserialize, ToSchema)]
pub struct EmailConfirmation {
    #[serde(default)]
    #[schema(required = true)]
    uid: String,
    #[serde(default)]
    #[schema(required = true)]
    token: String,
}

/// Uses the link mailed to a new address: the account's email becomes that address.
#[utoipa::path(post, path = "/account/email/confirm", tag = "account", request_body = EmailConfirmation,
    responses((status = 200, description = "The email is changed", body = User),
        BadRequest, Conflict, PayloadTooLarge, UnsupportedMediaType))]
async fn confirm_email_change(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<EmailConfirmation>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.core.profiles().confirm_email_change(&body.uid, &body.token, &client).await?.into()))
}

/// Cancels the caller's pending email change: the link mailed to the new address stops
/// working.
#[utoipa::path(post, path = "/account/email/cancel", tag = "account", security(("Bearer" = []), ("JWT" = [])),
    responses((status = 204, description = "Cancelled"), Unauthorized, SecondFactor, NotFound))]
async fn cancel_email_change(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> Result<StatusCode, ApiError> {
    state.core.profiles().cancel_email_change(&principal, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's security history (what happened to the account, and what they did as an
/// admin), newest first.
#[utoipa::path(get, path = "/account/history", tag = "account", params(PageQuery),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "One page of events", body = EventPage), BadRequest, Unauthorized, SecondFactor))]
async fn history(
    State(state): State<AppState>,
    AuthUser(principal): AuthUser,
    uri: OriginalUri,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let page = state.core.audit().history(&principal, query.request()?).await?;
    Ok(Json(EventPage::new(page, &state, &uri)))
}

#[derive(Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
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
    let request = CurrentPassword::parse(&body.current_password)?;
    state.core.accounts().delete_account(&principal, &request.password, &client).await?;
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
    /// The user agent, readable: "Firefox on Linux".
    device: String,
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
    pub fn new(session: Session, current_id: &str) -> Self {
        use gatehouse_core::time_format::to_rfc3339;
        SessionBody {
            current: session.id == current_id,
            id: session.id,
            kind: session.kind.into(),
            ip: session.ip,
            device: gatehouse_core::user_agent::describe(&session.user_agent),
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
    let sessions = state.core.sessions().list_sessions(&principal).await?;
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
    state.core.sessions().revoke_session(&principal, &id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
