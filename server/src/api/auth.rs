//! `/auth/...`: registration, email confirmation, tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use gatehouse_core::accounts::Registration;
use gatehouse_core::auth::{Credentials, TokenPair};
use gatehouse_core::domain::Email;
use gatehouse_core::{CoreError, SessionKind};
use serde::Deserialize;
use serde_json::{json, Value};

use super::error::ApiError;
use super::extract::{ApiJson, Client};
use super::UserBody;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/register", post(register))
        .route("/auth/token", post(token))
        .route("/auth/email/verify", post(verify_email))
        .route("/auth/email/resend", post(resend_verification))
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
) -> Result<(StatusCode, Json<UserBody>), ApiError> {
    let registration = Registration::parse(&body.email, body.username.as_deref(), &body.password, state.core.password_policy())?;
    let user = state.core.register(registration, &client).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
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
    Ok(Json(json!({ "detail": "Your email address is confirmed.", "user": UserBody::from(user) })))
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
    let email = Email::parse(&body.email).map_err(|m| CoreError::field("email", m.join(" ")))?;
    state.core.resend_verification(&email, &client).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({ "detail": "If this address belongs to an unconfirmed account, a new link is on its way." })),
    ))
}
