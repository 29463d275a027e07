//! `/auth/...`: registration, email confirmation, tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use gatehouse_core::accounts::Registration;
use gatehouse_core::auth::{Credentials, TokenPair};
use gatehouse_core::domain::{Email, PasswordAttempt};
use gatehouse_core::{CoreError, SessionKind};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::{ApiJson, AuthUser, Client};
use crate::startup::AppState;
use gatehouse_core::User;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/token", post(token))
        .route("/auth/email/verify", post(verify_email))
        .route("/auth/email/resend", post(resend_verification))
        .route("/auth/token/refresh", post(refresh))
        .route("/auth/token/verify", post(verify_token))
        .route("/auth/logout", post(logout))
        .route("/auth/logout_all", get(logout_all).post(logout_all))
        .route("/auth/password/change", post(change_password))
        .route("/auth/password/reset", post(request_password_reset))
        .route("/auth/password/reset/confirm", post(confirm_password_reset))
}

#[derive(Deserialize)]
struct RegisterRequest {
    #[serde(default)]
    email: String,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: String,
}

async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let registration =
        Registration::parse(&body.email, body.username.as_deref(), &body.password, state.core.password_policy())?;
    let user = state.core.register(registration, &client).await?;
    Ok((StatusCode::CREATED, Json(user)))
}

#[derive(Deserialize)]
struct TokenRequest {
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: String,
}

async fn token(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let identifier = body.username.or(body.email).unwrap_or_default();
    let credentials = Credentials::parse(&identifier, &body.password)?;
    let login = state.core.login(credentials, SessionKind::Api, &client).await?;
    let tokens = login.tokens.ok_or_else(|| CoreError::internal("api login", "no tokens issued"))?;
    Ok(Json(tokens))
}

#[derive(Deserialize)]
struct VerifyEmailRequest {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    token: String,
}

async fn verify_email(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<VerifyEmailRequest>,
) -> Result<Json<Value>, ApiError> {
    let user = state.core.verify_email(&body.uid, &body.token, &client).await?;
    Ok(Json(json!({ "detail": "Your email address is confirmed.", "user": user })))
}

#[derive(Deserialize)]
struct ResendRequest {
    #[serde(default)]
    email: String,
}

async fn resend_verification(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<ResendRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let email = CoreError::parse_field("email", Email::parse(&body.email))?;
    state.core.resend_verification(&email, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "detail": "If this address belongs to an unconfirmed account, a new link is on its way." })),
    ))
}

#[derive(Deserialize)]
struct RefreshRequest {
    #[serde(default)]
    refresh: String,
}

async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    if body.refresh.trim().is_empty() {
        return Err(CoreError::field("refresh", "This field may not be blank.").into());
    }
    Ok(Json(state.core.refresh(&body.refresh, &client).await?))
}

#[derive(Deserialize)]
struct VerifyTokenRequest {
    #[serde(default)]
    token: String,
}

/// 200 `{}` while the access token is valid (signature, expiry, and a live session), else 401.
async fn verify_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<VerifyTokenRequest>,
) -> Result<Json<Value>, ApiError> {
    if body.token.trim().is_empty() {
        return Err(CoreError::field("token", "This field may not be blank.").into());
    }
    state.core.authenticate_access_token(body.token.trim()).await?;
    Ok(Json(json!({})))
}

#[derive(Deserialize, Default)]
struct LogoutRequest {
    #[serde(default)]
    refresh: Option<String>,
}

/// Ends the session of the given refresh token (or, without one, the caller's own session).
async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    // The body is optional here: `{"refresh": ...}` names the session, nothing means "this one".
    let request: LogoutRequest = if body.iter().all(u8::is_ascii_whitespace) {
        LogoutRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::parse_error(e.to_string()))?
    };
    match request.refresh.filter(|r| !r.trim().is_empty()) {
        Some(refresh) => state.core.logout_refresh_token(&principal, &refresh, &client).await?,
        None => state.core.logout(&principal, &client).await?,
    }
    Ok(Json(json!({ "detail": "Logged out." })))
}

/// Ends every session of the caller; every access token issued to them stops working now.
async fn logout_all(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> Result<StatusCode, ApiError> {
    state.core.logout_all(&principal, &client).await?;
    Ok(StatusCode::RESET_CONTENT)
}

#[derive(Deserialize)]
struct ChangePasswordRequest {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

async fn change_password(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let current = CoreError::parse_field("current_password", PasswordAttempt::parse(&body.current_password))?;
    let new_password = state.core.check_new_password(&principal.user, &body.new_password, "new_password")?;
    state.core.change_password(&principal, &current, &new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
struct ResetRequest {
    #[serde(default)]
    email: String,
}

async fn request_password_reset(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let email = CoreError::parse_field("email", Email::parse(&body.email))?;
    state.core.request_password_reset(&email, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "detail": "If this address belongs to an account, a link to reset its password is on its way." })),
    ))
}

#[derive(Deserialize)]
struct ResetConfirmRequest {
    #[serde(default)]
    uid: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
}

async fn confirm_password_reset(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<ResetConfirmRequest>,
) -> Result<StatusCode, ApiError> {
    state.core.confirm_password_reset(&body.uid, &body.token, &body.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
