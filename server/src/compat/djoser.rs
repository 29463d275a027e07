//! Seeds 000 + 001: a Django SPA back end built on djoser, djangorestframework-jwt and
//! django-otp. `Authorization: JWT <token>`; one token per login (`{"token": ...}`), whose
//! payload carries `user_id`, `username`, `email`, `exp` and `otp_device_id`. Each handler
//! parses this family's request, calls the same core functions as `/api/v1`, and answers in
//! DRF's shapes (`compat::drf`). Paths and decisions: `docs/compatibility.md`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gatehouse_core::accounts::Registration;
use gatehouse_core::credentials::PasswordChange;
use gatehouse_core::links::LinkPage;
use gatehouse_core::requests::{self, EmailRequest, LoginAttempt, RecoveryRequest, TotpRequest};
use gatehouse_core::sessions::SecondStep;
use gatehouse_core::Principal;
use gatehouse_core::{CoreError, SessionKind};
use serde::Deserialize;
use serde_json::json;

use super::drf::{required, DrfBody, DrfError, DrfPath, DrfUser, OtpVerifiedUser, TokenUser};
use crate::api::extract::Client;
use crate::state::AppState;

/// django-otp's `StaticCreateView` makes six emergency codes.
const STATIC_CODES: usize = 6;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/users/create", post(create_user))
        .route("/api/user/create", post(create_user))
        .route("/api/jwt/create", post(login))
        .route("/api/user/login", post(login))
        .route("/api/me", get(me))
        .route("/api/user/view", get(me))
        .route("/user/view", get(me))
        .route("/api/user/logout/all", get(logout_all).post(logout_all))
        .route("/api/user/delete", post(delete_user).delete(delete_user))
        .route("/api/user/password/reset", post(reset_password))
        .route("/api/user/password/reset/confirm", post(reset_password_confirm))
        .route("/api/user/password/change", post(change_password))
        .route("/api/totp/create", get(totp_create))
        .route("/api/totp/login/{code}", post(totp_login))
        .route("/api/totp/delete", post(totp_delete))
        .route("/api/static/create", get(static_create))
        .route("/api/static/login/{code}", get(static_login).post(static_login))
}

type Answer = Result<Response, DrfError>;

fn token(access: String, status: StatusCode) -> Response {
    (status, Json(json!({ "token": access }))).into_response()
}

#[derive(Deserialize)]
struct CreateUser {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// djoser's user create: 201 with `email` and `id` (the password is never shown).
async fn create_user(
    State(state): State<AppState>,
    Client(client): Client,
    DrfBody(body): DrfBody<CreateUser>,
) -> Answer {
    let email = required("email", body.email)?;
    let password = required("password", body.password)?;
    let registration =
        Registration::parse(&email, body.username.as_deref(), &password, state.core.credentials().policy())?;
    let user = state.core.accounts().register(registration, &client, LinkPage::Own).await?;
    Ok((StatusCode::CREATED, Json(json!({ "email": user.email, "id": user.id.0 }))).into_response())
}

#[derive(Deserialize)]
struct Login {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
}

/// djangorestframework-jwt's obtain: `{"token": ...}`. A user with a verified device gets a
/// password-only token, good for the second step (`/api/totp/login/<code>/`).
async fn login(State(state): State<AppState>, Client(client): Client, DrfBody(body): DrfBody<Login>) -> Answer {
    let identifier = required("email", body.email.or(body.username))?;
    let password = required("password", body.password)?;
    let credentials = LoginAttempt::parse(&identifier, &password)?;
    let login = state.core.sessions().login(credentials, SessionKind::Api, SecondStep::Offered, &client).await?;
    let tokens = login.tokens.ok_or_else(|| CoreError::internal("login", "an API session without tokens"))?;
    Ok(token(tokens.access, StatusCode::OK))
}

fn user_body(principal: &Principal) -> serde_json::Value {
    json!({ "email": principal.user.email, "id": principal.user.id.0 })
}

/// Also with a password-only token of a user with a verified device: seed 000 reads the
/// account that way ("Custom JWT payload", `otp_device_id: null`); it shows only the id and
/// the email the caller typed to log in.
async fn me(TokenUser(principal): TokenUser) -> Answer {
    Ok(Json(user_body(&principal)).into_response())
}

/// Every token of the user dies at once (the seed's per-user JWT secret, rotated).
async fn logout_all(State(state): State<AppState>, Client(client): Client, DrfUser(principal): DrfUser) -> Answer {
    state.core.sessions().logout_all(&principal, &client).await?;
    Ok(Json(json!({ "detail": "Logged out of every device." })).into_response())
}

#[derive(Deserialize)]
struct CurrentPassword {
    current_password: Option<String>,
}

async fn delete_user(
    State(state): State<AppState>,
    Client(client): Client,
    DrfUser(principal): DrfUser,
    DrfBody(body): DrfBody<CurrentPassword>,
) -> Answer {
    let password = required("current_password", body.current_password)?;
    let request = requests::CurrentPassword::parse(&password)?;
    state.core.accounts().delete_account(&principal, &request.password, &client).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct ResetRequest {
    email: Option<String>,
}

/// Always 204: whether the address has an account is not told.
async fn reset_password(
    State(state): State<AppState>,
    Client(client): Client,
    DrfBody(body): DrfBody<ResetRequest>,
) -> Answer {
    let email = required("email", body.email)?;
    let request = EmailRequest::parse(&email)?;
    state.core.credentials().request_password_reset(&request.email, &client, LinkPage::Own).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct ResetConfirm {
    uid: Option<String>,
    token: Option<String>,
    new_password: Option<String>,
}

async fn reset_password_confirm(
    State(state): State<AppState>,
    Client(client): Client,
    DrfBody(body): DrfBody<ResetConfirm>,
) -> Answer {
    let uid = required("uid", body.uid)?;
    let token = required("token", body.token)?;
    let new_password = required("new_password", body.new_password)?;
    state.core.credentials().confirm_password_reset(&uid, &token, &new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
struct ChangePassword {
    current_password: Option<String>,
    new_password: Option<String>,
}

async fn change_password(
    State(state): State<AppState>,
    Client(client): Client,
    DrfUser(principal): DrfUser,
    DrfBody(body): DrfBody<ChangePassword>,
) -> Answer {
    let current = required("current_password", body.current_password)?;
    let new_password = required("new_password", body.new_password)?;
    let change = PasswordChange::parse(&principal.user, state.core.credentials().policy(), &current, &new_password)?;
    state.core.credentials().change_password(&principal, &change, &client).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The otpauth URL as a bare JSON string (201). Asking again while the device is unconfirmed
/// shows the same one, as django-otp does; replacing a verified device needs an OTP-verified
/// token.
async fn totp_create(State(state): State<AppState>, Client(client): Client, DrfUser(principal): DrfUser) -> Answer {
    let url = match state.core.two_factor().pending_totp_enrolment(&principal).await? {
        Some(pending) => pending.otpauth_url,
        None => state.core.two_factor().enrol_totp(&principal, &client).await?.otpauth_url,
    };
    Ok((StatusCode::CREATED, Json(url)).into_response())
}

/// Confirms the device, or completes a login: 201 with the token to use from now on, whose
/// payload names the device.
async fn totp_login(
    State(state): State<AppState>,
    Client(client): Client,
    TokenUser(principal): TokenUser,
    DrfPath(code): DrfPath<String>,
) -> Answer {
    // django-otp's path calls the code `token`.
    let request = TotpRequest::parse(&code).map_err(|e| e.renaming_field("code", "token"))?;
    let tokens = state.core.two_factor().verify_totp(&principal, &request.code, &client).await?;
    Ok(token(tokens.access, StatusCode::CREATED))
}

/// Removes the device (and the emergency codes); every other token of the user dies; 200 with
/// a new token naming no device. The user can enrol again.
async fn totp_delete(
    State(state): State<AppState>,
    Client(client): Client,
    OtpVerifiedUser(principal): OtpVerifiedUser,
) -> Answer {
    state.core.two_factor().remove_totp(&principal, &client).await?;
    let tokens = state.core.sessions().restart_with_password_only(&principal).await?;
    Ok(token(tokens.access, StatusCode::OK))
}

/// Six single-use emergency codes (201), replacing earlier ones.
async fn static_create(
    State(state): State<AppState>,
    Client(client): Client,
    OtpVerifiedUser(principal): OtpVerifiedUser,
) -> Answer {
    let codes = state.core.two_factor().generate_recovery_codes(&principal, Some(STATIC_CODES), &client).await?;
    Ok((StatusCode::CREATED, Json(codes)).into_response())
}

/// An emergency code instead of the authenticator: 201 with an OTP-verified token.
async fn static_login(
    State(state): State<AppState>,
    Client(client): Client,
    TokenUser(principal): TokenUser,
    DrfPath(code): DrfPath<String>,
) -> Answer {
    let request = RecoveryRequest::parse(&code).map_err(|e| e.renaming_field("code", "token"))?;
    let tokens = state.core.two_factor().use_recovery_code(&principal, &request.code, &client).await?;
    Ok(token(tokens.access, StatusCode::CREATED))
}
