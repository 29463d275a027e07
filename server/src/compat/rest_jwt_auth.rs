//! Seed 002: the django_rest_jwt_auth package (`<prefix>/signup`, `signin`, `refresh`,
//! `restore`, `validation`, `get_user`; prefix `GATEHOUSE_COMPAT_REST_JWT_AUTH_PREFIX`).
//! Bodies `{"token", "status"}` / `{"user", "status"}` / `{"message", "status"}`, errors
//! `{"status": <code>, "error": {"message": ...}}` with the same HTTP status — shaped here, in
//! `Error::into_response`, and nowhere else. Decisions: `docs/compatibility.md`.

use axum::extract::{FromRequest, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use gatehouse_core::accounts::Registration;
use gatehouse_core::error::Conflict;
use gatehouse_core::links::LinkPage;
use gatehouse_core::requests::{EmailRequest, InvalidLogin, LoginAttempt};
use gatehouse_core::sessions::SecondStep;
use gatehouse_core::Principal;
use gatehouse_core::{CoreError, User};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::api::extract::{bearer_token, Client};
use crate::state::AppState;

pub fn router(prefix: &str) -> Router<AppState> {
    Router::new()
        .route(&format!("{prefix}/signup"), post(signup))
        .route(&format!("{prefix}/signin"), post(signin))
        .route(&format!("{prefix}/refresh"), post(refresh))
        .route(&format!("{prefix}/restore"), post(restore))
        .route(&format!("{prefix}/validation"), post(validation))
        .route(&format!("{prefix}/get_user"), post(get_user).get(get_user))
}

/// This surface's one error type: the core's errors and unusable bodies.
pub enum Error {
    Core(CoreError),
    Body(String),
}

impl From<CoreError> for Error {
    fn from(error: CoreError) -> Self {
        Error::Core(error)
    }
}

/// Worded as the JSON API words it.
impl From<InvalidLogin> for Error {
    fn from(invalid: InvalidLogin) -> Self {
        Error::Core(crate::api::error::invalid_login(invalid))
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, message) = match &self {
            Error::Body(message) => (StatusCode::BAD_REQUEST, message.clone()),
            Error::Core(error) => {
                let status = crate::api::error::status_of(error);
                let message = match error {
                    CoreError::Conflict(conflict) => conflict_message(*conflict).to_string(),
                    // Field errors read "field: message" in the one message this shape has.
                    _ => match error.fields().filter(|f| !f.is_empty()) {
                        Some(fields) => fields
                            .iter()
                            .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
                            .collect::<Vec<_>>()
                            .join(" "),
                        None => error.to_string(),
                    },
                };
                (status, message)
            }
        };
        let body = json!({ "status": status.as_u16(), "error": { "message": message } });
        let mut response = (status, Json(body)).into_response();
        if let Some(retry_after_secs) = match &self {
            Error::Core(error) => error.retry_after_secs(),
            Error::Body(_) => None,
        } {
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, retry_after_secs.into());
        }
        response
    }
}

/// This surface's wording of a conflict: "field: message" like its other field errors.
fn conflict_message(conflict: Conflict) -> &'static str {
    match conflict {
        Conflict::Email => "email: A user with that email already exists.",
        Conflict::Username => "username: A user with that username already exists.",
        Conflict::LastSuperuser => "This is the last active superuser: make another superuser first.",
        Conflict::EnrolmentInProgress => "Another enrolment is in progress; try again.",
    }
}

/// This surface's user: the canonical one, as `/api/v1` shows it (docs/compatibility.md).
fn user_body(user: User) -> Value {
    json!(crate::api::views::User::from(user))
}

/// A JSON body (an empty one is `{}`), its problems answered in this surface's shape.
struct Body<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Error;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(request, state).await.map_err(|e| Error::Body(e.body_text()))?;
        let text = if bytes.iter().all(u8::is_ascii_whitespace) { &b"{}"[..] } else { &bytes[..] };
        serde_json::from_slice(text).map(Body).map_err(|e| Error::Body(format!("Invalid JSON body: {e}")))
    }
}

fn ok(body: Value) -> Response {
    let mut body = body;
    body["status"] = json!(200);
    (StatusCode::OK, Json(body)).into_response()
}

fn required(field: &str, value: Option<String>) -> Result<String, CoreError> {
    value.filter(|v| !v.trim().is_empty()).ok_or_else(|| CoreError::field(field, "This field is required."))
}

#[derive(Deserialize)]
struct Signup {
    email: Option<String>,
    username: Option<String>,
    password: Option<String>,
    #[serde(default)]
    email_as_name: bool,
}

/// The account is created with the email (every Gatehouse account has one, for confirmation
/// and resets) and the username when one comes; `email_as_name` means "no username".
async fn signup(
    State(state): State<AppState>,
    Client(client): Client,
    Body(body): Body<Signup>,
) -> Result<Response, Error> {
    let email = required("email", body.email)?;
    let password = required("password", body.password)?;
    let username = body.username.filter(|u| !u.trim().is_empty());
    if username.is_none() && !body.email_as_name {
        return Err(CoreError::field("username", "Give a username, or set email_as_name.").into());
    }
    let registration = Registration::parse(&email, username.as_deref(), &password, state.core.credentials().policy())?;
    let user = state.core.accounts().register(registration, &client, LinkPage::Own).await?;
    Ok(ok(json!({ "user": user_body(user) })))
}

#[derive(Deserialize)]
struct Signin {
    username: Option<String>,
    password: Option<String>,
}

/// The same answer for an unknown user and a wrong password. This package has no second
/// step, so an account with two-factor authentication cannot sign in here (403); the
/// half-open session is closed at once.
async fn signin(
    State(state): State<AppState>,
    Client(client): Client,
    Body(body): Body<Signin>,
) -> Result<Response, Error> {
    let username = required("username", body.username)?;
    let password = required("password", body.password)?;
    let credentials = LoginAttempt::parse(&username, &password)?;
    let sessions = state.core.sessions();
    let login = sessions.login(credentials, gatehouse_core::SessionKind::Api, SecondStep::Refused, &client).await?;
    Ok(ok(json!({ "token": sessions.renewable_access_token(&login)? })))
}

/// A new token for the same session (the package's clients renew before `exp`): only for a
/// token this surface issued, and only up to `GATEHOUSE_COMPAT_REST_JWT_AUTH_REFRESH_LIMIT`
/// after its sign-in.
async fn refresh(State(state): State<AppState>, parts: Parts) -> Result<Response, Error> {
    let token = bearer_token(&parts).ok_or(CoreError::Unauthenticated)?;
    Ok(ok(json!({ "token": state.core.sessions().renew_access_token(token).await? })))
}

#[derive(Deserialize)]
struct Restore {
    email: Option<String>,
    token: Option<String>,
    new_password: Option<String>,
}

/// `{email}` mails a reset link (the same answer whether or not the account exists): to the
/// client's page with `?token=<uid>.<token>` when `GATEHOUSE_COMPAT_REST_JWT_AUTH_RESTORE_URL`
/// is set, else to Gatehouse's own reset page. `{token, new_password}` sets the password.
async fn restore(
    State(state): State<AppState>,
    Client(client): Client,
    Body(body): Body<Restore>,
) -> Result<Response, Error> {
    if let Some(token) = body.token {
        let new_password = required("new_password", body.new_password)?;
        let (uid, token) = token.split_once('.').ok_or(CoreError::InvalidLink)?;
        state.core.credentials().confirm_password_reset(uid, token, &new_password, &client).await?;
        return Ok(ok(json!({ "message": "The password is changed." })));
    }
    let email = required("email", body.email)?;
    let request = EmailRequest::parse(&email)?;
    // The client's page gets the token as one query parameter, as the package sends it; the
    // mail carries the parsed URL's own serialization (the setting is checked at start).
    let page = match &state.core.settings().compat_rest_jwt_auth_restore_url {
        Some(page) => {
            LinkPage::ClientQuery(gatehouse_core::links::parse_client_url("compat_rest_jwt_auth_restore_url", page)?)
        }
        None => LinkPage::Own,
    };
    state.core.credentials().request_password_reset(&request.email, &client, page).await?;
    Ok(ok(json!({ "message": "If this address belongs to an account, an email with a link is on its way." })))
}

#[derive(Deserialize)]
struct TokenBody {
    token: Option<String>,
}

async fn token_user(state: &AppState, token: Option<String>) -> Result<(Principal, i64), Error> {
    let token = required("token", token)?;
    let (principal, expires) = state.core.sessions().inspect_access_token(&token).await?;
    Ok((principal.completed()?, expires))
}

async fn validation(State(state): State<AppState>, Body(body): Body<TokenBody>) -> Result<Response, Error> {
    let (_, expires) = token_user(&state, body.token).await?;
    let when = gatehouse_core::time_format::to_rfc3339(expires);
    Ok(ok(json!({ "message": format!("Token will expire at {when}") })))
}

async fn get_user(State(state): State<AppState>, Body(body): Body<TokenBody>) -> Result<Response, Error> {
    let (principal, _) = token_user(&state, body.token).await?;
    let user: User = principal.user;
    Ok(ok(json!({ "user": user_body(user) })))
}
