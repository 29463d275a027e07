//! `/auth/...`: registration, email confirmation, tokens, passwords.

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::AppendHeaders;
use axum::Json;
use gatehouse_core::accounts::Registration;
use gatehouse_core::credentials::PasswordChange;
use gatehouse_core::links::LinkPage;
use gatehouse_core::requests::{self, LoginAttempt};
use gatehouse_core::sessions::SecondStep;
use gatehouse_core::{CoreError, SessionKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::extract::{ApiJson, AuthUser, Client, OptionalJson, PartialAuthUser};
use super::responses::*;
use super::views::{TokenPair, User};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register))
        .routes(routes!(token))
        .routes(routes!(verify_email))
        .routes(routes!(resend_verification))
        .routes(routes!(refresh))
        .routes(routes!(verify_token))
        .routes(routes!(logout))
        .routes(routes!(logout_all, logout_all_by_get))
        .routes(routes!(change_password))
        .routes(routes!(request_password_reset))
        .routes(routes!(confirm_password_reset))
}

/// A short confirmation for people.
#[derive(Serialize, ToSchema)]
pub struct Detail {
    #[schema(example = "Logged out.")]
    pub detail: String,
}

impl Detail {
    fn new(text: &str) -> Json<Self> {
        Json(Self { detail: text.into() })
    }
}

#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "username": "ada", "password": "correct horse battery"}))]
pub struct RegisterRequest {
    #[serde(default)]
    #[schema(required = true, format = Email)]
    email: String,
    /// Optional: without one, the email is the login name.
    #[serde(default)]
    username: Option<String>,
    /// Checked against the password policy (length, common passwords, likeness to the email).
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    password: String,
}

/// Creates an account and mails the confirmation link.
#[utoipa::path(post, path = "/auth/register", tag = "auth", request_body = RegisterRequest,
    responses((status = 201, description = "The new account", body = User),
        BadRequest, Conflict, Throttled, PayloadTooLarge, UnsupportedMediaType))]
async fn register(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let registration =
        Registration::parse(&body.email, body.username.as_deref(), &body.password, state.core.credentials().policy())?;
    let user = state.core.accounts().register(registration, &client, LinkPage::Own).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// Described by hand (see its `PartialSchema`): `username` or `email`, at least one of them.
#[derive(Deserialize)]
pub struct TokenRequest {
    /// The username or the email; either field may carry either.
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    password: String,
}

/// `password` and an identifier, in `username` or `email`: `username` when it is not null,
/// else `email`. JSON Schema says "one of these two shapes" with `anyOf`, which the derive
/// cannot write.
impl utoipa::PartialSchema for TokenRequest {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, SchemaType, Type};
        let identifier = |description: &str| {
            ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"\S")).description(Some(description))
        };
        let password = || ObjectBuilder::new().schema_type(Type::String).min_length(Some(1));
        let null = || ObjectBuilder::new().schema_type(Type::Null);
        let either = || {
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter([Type::String, Type::Null]))
                .description(Some("Not used: `username` is."))
        };
        let by_username = ObjectBuilder::new()
            .property("username", identifier("The username or the email: either field may carry either."))
            .property("email", either())
            .property("password", password())
            .required("username")
            .required("password");
        let by_email = ObjectBuilder::new()
            .property("username", null())
            .property("email", identifier("The email or the username, when `username` is absent or null."))
            .property("password", password())
            .required("email")
            .required("password");
        AnyOfBuilder::new()
            .item(by_username)
            .item(by_email)
            .examples([serde_json::json!({"email": "ada@example.com", "password": "correct horse battery"})])
            .into()
    }
}

impl ToSchema for TokenRequest {}

/// Logs in: a new session, its access and refresh tokens, and a device cookie that keeps this
/// client's own failed-login budget for the account.
#[utoipa::path(post, path = "/auth/token", tag = "auth", request_body = TokenRequest,
    responses((status = 200, description = "Logged in", body = TokenPair,
            headers(("Set-Cookie" = String, description = "`gatehouse_device`: this client is known to the account"))),
        BadRequest, Unauthorized, Forbidden, Throttled, PayloadTooLarge, UnsupportedMediaType))]
async fn token(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<TokenRequest>,
) -> Result<(AppendHeaders<[(axum::http::HeaderName, String); 1]>, Json<TokenPair>), ApiError> {
    let identifier = body.username.or(body.email).unwrap_or_default();
    let credentials = LoginAttempt::parse(&identifier, &body.password)?;
    let login = state.core.sessions().login(credentials, SessionKind::Api, SecondStep::Offered, &client).await?;
    let tokens = login.tokens.ok_or_else(|| CoreError::internal("api login", "no tokens issued"))?;
    let cookie = crate::cookies::device_cookie_header(&login.device_cookie, state.core.settings().secure_cookies());
    Ok((AppendHeaders([(SET_COOKIE, cookie)]), Json(tokens.into())))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyEmailRequest {
    /// The `uid` of the emailed link.
    #[serde(default)]
    #[schema(required = true)]
    uid: String,
    /// The `token` of the emailed link.
    #[serde(default)]
    #[schema(required = true)]
    token: String,
}

#[derive(Serialize, ToSchema)]
pub struct VerifiedEmail {
    detail: String,
    user: User,
}

/// Confirms an email address with the `uid` and `token` of the emailed link.
#[utoipa::path(post, path = "/auth/email/verify", tag = "auth", request_body = VerifyEmailRequest,
    responses((status = 200, description = "Confirmed", body = VerifiedEmail),
        BadRequest, PayloadTooLarge, UnsupportedMediaType))]
async fn verify_email(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<VerifyEmailRequest>,
) -> Result<Json<VerifiedEmail>, ApiError> {
    let user = state.core.accounts().verify_email(&body.uid, &body.token, &client).await?;
    Ok(Json(VerifiedEmail { detail: "Your email address is confirmed.".into(), user: user.into() }))
}

#[derive(Deserialize, ToSchema)]
pub struct EmailRequest {
    #[serde(default)]
    #[schema(required = true, format = Email, example = "ada@example.com")]
    email: String,
}

/// Mails a new confirmation link. The answer is the same whether or not the account exists.
#[utoipa::path(post, path = "/auth/email/resend", tag = "auth", request_body = EmailRequest,
    responses((status = 202, description = "Accepted", body = Detail),
        BadRequest, Throttled, PayloadTooLarge, UnsupportedMediaType))]
async fn resend_verification(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<EmailRequest>,
) -> Result<(StatusCode, Json<Detail>), ApiError> {
    let request = requests::EmailRequest::parse(&body.email)?;
    state.core.accounts().resend_verification(&request.email, &client, LinkPage::Own).await?;
    Ok((
        StatusCode::ACCEPTED,
        Detail::new("If this address belongs to an unconfirmed account, a new link is on its way."),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct RefreshRequest {
    /// Not blank.
    #[serde(default)]
    #[schema(required = true, pattern = r"\S")]
    refresh: String,
}

/// Exchanges a refresh token for a new pair. Every exchange rotates the refresh token; a
/// rotated one presented again (outside a short grace interval) ends the session.
#[utoipa::path(post, path = "/auth/token/refresh", tag = "auth", request_body = RefreshRequest,
    responses((status = 200, description = "A new pair", body = TokenPair),
        BadRequest, Unauthorized, PayloadTooLarge, UnsupportedMediaType))]
async fn refresh(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    if body.refresh.trim().is_empty() {
        return Err(CoreError::field("refresh", "This field may not be blank.").into());
    }
    Ok(Json(state.core.sessions().refresh(&body.refresh, &client).await?.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct VerifyTokenRequest {
    /// An access token; not blank.
    #[serde(default)]
    #[schema(required = true, pattern = r"\S")]
    token: String,
}

#[derive(Serialize, ToSchema)]
pub struct Empty {}

/// 200 `{}` while the access token is valid (signature, expiry, and a live session), else 401.
#[utoipa::path(post, path = "/auth/token/verify", tag = "auth", request_body = VerifyTokenRequest,
    responses((status = 200, description = "Valid", body = Empty),
        BadRequest, Unauthorized, SecondFactor, PayloadTooLarge, UnsupportedMediaType))]
async fn verify_token(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<VerifyTokenRequest>,
) -> Result<Json<Empty>, ApiError> {
    if body.token.trim().is_empty() {
        return Err(CoreError::field("token", "This field may not be blank.").into());
    }
    // A token of a session that still owes its second factor is not a valid login yet.
    state.core.sessions().authenticate_access_token(body.token.trim()).await?.completed()?;
    Ok(Json(Empty {}))
}

#[derive(Deserialize, Default, ToSchema)]
pub struct LogoutRequest {
    /// The refresh token of the session to end; without it, the caller's own session ends.
    #[serde(default)]
    refresh: Option<String>,
}

/// Ends the session of the given refresh token (or, without a body, the caller's own).
#[utoipa::path(post, path = "/auth/logout", tag = "auth",
    request_body(content = Option<LogoutRequest>, content_type = "application/json"),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "Logged out", body = Detail),
        BadRequest, Unauthorized, PayloadTooLarge))]
async fn logout(
    State(state): State<AppState>,
    Client(client): Client,
    PartialAuthUser(principal): PartialAuthUser,
    OptionalJson(body): OptionalJson<LogoutRequest>,
) -> Result<Json<Detail>, ApiError> {
    // `{"refresh": ...}` names the session; no body means "this one".
    match body.unwrap_or_default().refresh.filter(|r| !r.trim().is_empty()) {
        Some(refresh) => state.core.sessions().logout_refresh_token(&principal, &refresh, &client).await?,
        None => state.core.sessions().logout(&principal, &client).await?,
    }
    Ok(Detail::new("Logged out."))
}

/// The same as `POST`, for clients of seed 004 that log out everywhere with a `GET`.
#[utoipa::path(get, path = "/auth/logout_all", tag = "auth",
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 205, description = "Every session ended"), Unauthorized, SecondFactor))]
async fn logout_all_by_get(state: State<AppState>, client: Client, caller: AuthUser) -> Result<StatusCode, ApiError> {
    logout_all(state, client, caller).await
}

/// Ends every session of the caller; every access token issued to them stops working now.
#[utoipa::path(post, path = "/auth/logout_all", tag = "auth",
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 205, description = "Every session ended"), Unauthorized, SecondFactor))]
async fn logout_all(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> Result<StatusCode, ApiError> {
    state.core.sessions().logout_all(&principal, &client).await?;
    Ok(StatusCode::RESET_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordRequest {
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    current_password: String,
    /// Checked against the password policy.
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    new_password: String,
}

/// Changes the caller's password; their other sessions end. Wrong current passwords are
/// throttled like failed logins to the account.
#[utoipa::path(post, path = "/auth/password/change", tag = "auth", request_body = ChangePasswordRequest,
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 204, description = "Changed"),
        BadRequest, Unauthorized, SecondFactor, Throttled, PayloadTooLarge, UnsupportedMediaType))]
async fn change_password(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, ApiError> {
    let policy = state.core.credentials().policy();
    let change = PasswordChange::parse(&principal.user, policy, &body.current_password, &body.new_password)?;
    state.core.credentials().change_password(&principal, &change, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Mails a password reset link if the address belongs to an account; the answer is the same
/// either way.
#[utoipa::path(post, path = "/auth/password/reset", tag = "auth", request_body = EmailRequest,
    responses((status = 202, description = "Accepted", body = Detail),
        BadRequest, Throttled, PayloadTooLarge, UnsupportedMediaType))]
async fn request_password_reset(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<EmailRequest>,
) -> Result<(StatusCode, Json<Detail>), ApiError> {
    let request = requests::EmailRequest::parse(&body.email)?;
    state.core.credentials().request_password_reset(&request.email, &client, LinkPage::Own).await?;
    Ok((
        StatusCode::ACCEPTED,
        Detail::new("If this address belongs to an account, a link to reset its password is on its way."),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct ResetConfirmRequest {
    #[serde(default)]
    #[schema(required = true)]
    uid: String,
    #[serde(default)]
    #[schema(required = true)]
    token: String,
    /// Checked against the password policy.
    #[serde(default)]
    #[schema(required = true)]
    new_password: String,
}

/// Sets a new password with the `uid` and `token` of the emailed link; every session ends.
#[utoipa::path(post, path = "/auth/password/reset/confirm", tag = "auth", request_body = ResetConfirmRequest,
    responses((status = 204, description = "Password set"),
        BadRequest, PayloadTooLarge, UnsupportedMediaType))]
async fn confirm_password_reset(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<ResetConfirmRequest>,
) -> Result<StatusCode, ApiError> {
    state.core.credentials().confirm_password_reset(&body.uid, &body.token, &body.new_password, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}
