//! Seed 003: a Django back end under `/accounts/api/` (simplejwt tokens, drf-spectacular
//! document). Registration with `confirm_password` and a `verification_base_url` for the
//! activation link, activation by `{uidb64}/{token}`, login of confirmed accounts only,
//! `{msg, access_token, refresh_token}`, profile, dashboard, history, password change and
//! reset. Each handler parses this family's request, calls the same core functions as
//! `/api/v1`, and answers in DRF's shapes (`compat::drf`); the handlers' `#[utoipa::path]`
//! attributes make this surface's own OpenAPI 3.0 document (`openapi.rs`). Decisions:
//! `docs/compatibility.md`.

mod openapi;

use axum::extract::{OriginalUri, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::accounts::Registration;
use gatehouse_core::credentials::PasswordChange;
use gatehouse_core::domain::{ProfileChanges, RawProfile};
use gatehouse_core::requests::{EmailRequest, LoginAttempt};
use gatehouse_core::sessions::SecondStep;
use gatehouse_core::{CoreError, User};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::drf::{required, DrfBody, DrfError, DrfPath, DrfQuery, DrfUser};
use crate::api::extract::Client;
use crate::api::paging::{EventPage, PageQuery};
use crate::state::AppState;

pub use openapi::{router, SWAGGER_UI_PATH};

/// Where every path of this surface starts.
const PREFIX: &str = "/accounts/api";

fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(registration))
        .routes(routes!(activation_token))
        .routes(routes!(activation_token_other_spelling))
        .routes(routes!(activate))
        .routes(routes!(login))
        .routes(routes!(get_profile))
        .routes(routes!(update_profile))
        .routes(routes!(dashboard))
        .routes(routes!(history))
        .routes(routes!(change_password))
        .routes(routes!(forget_password))
        .routes(routes!(set_new_password))
}

type Answer<T> = Result<Json<T>, DrfError>;

/// The serializers' `validate()`: both passwords typed alike.
fn confirmed(password: &str, confirm_password: Option<String>) -> Result<(), CoreError> {
    let confirm = required("confirm_password", confirm_password)?;
    if confirm != password {
        return Err(CoreError::field("non_field_errors", "Password and Confirm Password doesn't match."));
    }
    Ok(())
}

/// `{"msg": ...}`: what this back end answers when it has nothing else to say.
#[derive(Serialize, ToSchema)]
pub struct Msg {
    msg: String,
}

fn msg(text: impl Into<String>) -> Json<Msg> {
    Json(Msg { msg: text.into() })
}

/// The `Registration` serializer.
#[derive(Deserialize, ToSchema)]
pub struct RegistrationBody {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 150)]
    username: Option<String>,
    #[schema(value_type = String, format = Email, required = true, min_length = 1)]
    email: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1)]
    password: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1)]
    confirm_password: Option<String>,
    /// Where the activation mail's link points: `{verification_base_url}/{uidb64}/{token}/`
    /// when this base is on the server's allow-list, Gatehouse's own page otherwise.
    #[schema(pattern = "^([hH][tT][tT][pP][sS]?:\\S+)?$")]
    verification_base_url: Option<String>,
}

/// Creates the account and mails the activation link.
#[utoipa::path(post, path = "/registration", tag = "accounts", request_body = RegistrationBody,
    responses((status = 201, description = "After successful registration", body = Msg),
        (status = 400, description = "Invalid fields", body = openapi::FieldErrors),
        (status = 409, description = "The email address or username is taken", body = openapi::FieldErrors),
        openapi::Throttled, openapi::PayloadTooLarge))]
async fn registration(
    State(state): State<AppState>,
    Client(client): Client,
    DrfBody(body): DrfBody<RegistrationBody>,
) -> Result<(StatusCode, Json<Msg>), DrfError> {
    let username = required("username", body.username)?;
    let email = required("email", body.email)?;
    let password = required("password", body.password)?;
    confirmed(&password, body.confirm_password)?;
    let registration = Registration::parse(&email, Some(&username), &password, state.core.credentials().policy())?;
    let page = state.core.links().page(body.verification_base_url.as_deref())?;
    let user = state.core.accounts().register(registration, &client, page).await?;
    let name = user.display_username();
    Ok((
        StatusCode::CREATED,
        msg(format!(
            "Congrats! {name} your successfully registered to continue login we have sent an account activation \
             email to activate your account. Please verify you email address."
        )),
    ))
}

/// The `Email` serializer, with the activation link's base.
#[derive(Deserialize, ToSchema)]
pub struct ActivationTokenBody {
    #[schema(value_type = String, format = Email, required = true, min_length = 1)]
    email: Option<String>,
    /// As at registration.
    #[schema(pattern = "^([hH][tT][tT][pP][sS]?:\\S+)?$")]
    verification_base_url: Option<String>,
}

/// A new activation link, mailed if the address has an unconfirmed account. The answer is the
/// same either way (it does not tell who has an account, and it carries no tokens).
#[utoipa::path(post, path = "/get/acctivation/token", tag = "accounts", request_body = ActivationTokenBody,
    responses((status = 200, description = "After a successful request", body = Msg),
        (status = 400, description = "Invalid fields", body = openapi::FieldErrors), openapi::Throttled, openapi::PayloadTooLarge))]
async fn activation_token(
    State(state): State<AppState>,
    Client(client): Client,
    DrfBody(body): DrfBody<ActivationTokenBody>,
) -> Answer<Msg> {
    let email = required("email", body.email)?;
    let request = EmailRequest::parse(&email)?;
    let page = state.core.links().page(body.verification_base_url.as_deref())?;
    state.core.accounts().resend_verification(&request.email, &client, page).await?;
    Ok(msg("We have sent you an account activation link at your registered email address. If you don't receive an \
         email, please make sure you have entered your registered email address. Thank you!"))
}

/// The document's other spelling of the same endpoint.
#[utoipa::path(post, path = "/get/accttivation/token", tag = "accounts", request_body = ActivationTokenBody,
    responses((status = 200, description = "After a successful request", body = Msg),
        (status = 400, description = "Invalid fields", body = openapi::FieldErrors), openapi::Throttled, openapi::PayloadTooLarge))]
async fn activation_token_other_spelling(
    state: State<AppState>,
    client: Client,
    body: DrfBody<ActivationTokenBody>,
) -> Answer<Msg> {
    activation_token(state, client, body).await
}

/// Confirms the address: the link's two parts.
#[utoipa::path(post, path = "/verify/token/{uidb64}/{token}", tag = "accounts",
    params(("uidb64" = String, Path), ("token" = String, Path)),
    responses((status = 200, description = "After account activated", body = Msg),
        (status = 400, description = "The link is invalid, used or expired", body = openapi::FieldErrors)))]
async fn activate(
    State(state): State<AppState>,
    Client(client): Client,
    DrfPath((uidb64, token)): DrfPath<(String, String)>,
) -> Answer<Msg> {
    let user = state.core.accounts().verify_email(&uidb64, &token, &client).await?;
    Ok(msg(format!("{} your account is activated. You can log in now.", user.display_username())))
}

/// The `Login` serializer.
#[derive(Deserialize, ToSchema)]
pub struct LoginBody {
    #[schema(value_type = String, format = Email, required = true, min_length = 1)]
    email: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1)]
    password: Option<String>,
}

/// simplejwt's pair, under this back end's names.
#[derive(Serialize, ToSchema)]
pub struct LoginAnswer {
    msg: String,
    /// Send as `Authorization: Bearer <access_token>`.
    access_token: String,
    /// Exchange at `/api/v1/auth/token/refresh/` (`{"refresh": ...}`).
    refresh_token: String,
}

/// Only confirmed accounts get tokens. This back end has no second step, so an account with
/// two-factor authentication cannot log in here (403; the half-open session is closed).
#[utoipa::path(post, path = "/login", tag = "accounts", request_body = LoginBody,
    responses((status = 200, description = "The credentials are right", body = LoginAnswer),
        (status = 400, description = "Invalid fields, or wrong email or password", body = openapi::FieldErrors),
        (status = 403, description = "The email address is not confirmed yet, or the account has two-factor \
            authentication", body = openapi::Detail),
        openapi::Throttled, openapi::PayloadTooLarge))]
async fn login(
    State(state): State<AppState>,
    Client(client): Client,
    DrfBody(body): DrfBody<LoginBody>,
) -> Answer<LoginAnswer> {
    let email = required("email", body.email)?;
    let password = required("password", body.password)?;
    let credentials = LoginAttempt::parse(&email, &password)?;
    let login = state
        .core
        .sessions()
        .login(credentials, gatehouse_core::SessionKind::Api, SecondStep::Refused, &client)
        .await?;
    let (user, tokens) =
        (login.user, login.tokens.ok_or_else(|| CoreError::internal("login", "an API session without tokens"))?);
    Ok(Json(LoginAnswer {
        msg: format!("Congrats {} your credentials verified.", user.display_username()),
        access_token: tokens.access,
        refresh_token: tokens.refresh,
    }))
}

/// The `ProfileSerailizer` (sic), with the account's names.
#[derive(Serialize, ToSchema)]
pub struct Profile {
    #[schema(required = true)]
    username: Option<String>,
    email: String,
    first_name: String,
    last_name: String,
    country: String,
    profession: String,
    bio: String,
    thoughts: String,
    profile_img: String,
}

impl From<User> for Profile {
    fn from(user: User) -> Self {
        Profile {
            username: user.username,
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            country: user.country,
            profession: user.profession,
            bio: user.bio,
            thoughts: user.thoughts,
            profile_img: user.profile_img,
        }
    }
}

#[utoipa::path(get, path = "/get/profile", tag = "accounts", security(("jwtAuth" = [])),
    responses((status = 200, description = "The caller's profile", body = Profile), openapi::Unauthorized,
        openapi::Forbidden))]
async fn get_profile(DrfUser(principal): DrfUser) -> Answer<Profile> {
    Ok(Json(principal.user.into()))
}

/// Fields of the profile; those not sent stay as they are. No body at all changes nothing.
#[derive(Deserialize, ToSchema)]
pub struct ProfileUpdate {
    /// Null or "" removes it.
    #[schema(max_length = 150)]
    username: Option<String>,
    /// No control characters; surrounding spaces are trimmed.
    #[schema(max_length = 150, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    first_name: Option<String>,
    #[schema(max_length = 150, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    last_name: Option<String>,
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    country: Option<String>,
    #[schema(max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    profession: Option<String>,
    /// Line breaks and tabs allowed, no other control characters.
    #[schema(max_length = 2000, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    bio: Option<String>,
    #[schema(max_length = 2000, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
    thoughts: Option<String>,
    /// An http(s) URL.
    profile_img: Option<String>,
}

/// Changes the profile. The email address changes through `/api/v1/account/` (it needs the
/// password and a link to the new address).
#[utoipa::path(post, path = "/update/profile", tag = "accounts", request_body = ProfileUpdate,
    security(("jwtAuth" = [])),
    responses((status = 200, description = "The profile as saved", body = Profile),
        (status = 400, description = "Invalid fields", body = openapi::FieldErrors),
        (status = 409, description = "The username is taken", body = openapi::FieldErrors),
        openapi::Unauthorized, openapi::Forbidden, openapi::PayloadTooLarge))]
async fn update_profile(
    State(state): State<AppState>,
    Client(client): Client,
    DrfUser(principal): DrfUser,
    DrfBody(body): DrfBody<ProfileUpdate>,
) -> Answer<Profile> {
    let raw = RawProfile {
        first_name: body.first_name,
        last_name: body.last_name,
        country: body.country,
        profession: body.profession,
        bio: body.bio,
        thoughts: body.thoughts,
        profile_img: body.profile_img,
        username: body.username.map(Some),
    };
    let changes = ProfileChanges::parse(raw)?;
    Ok(Json(state.core.profiles().update_profile(&principal, &changes, &client).await?.into()))
}

/// What the dashboard shows.
#[derive(Serialize, ToSchema)]
pub struct Dashboard {
    msg: String,
    profile: Profile,
    #[schema(format = DateTime)]
    date_joined: String,
    /// The login before this session's, if any.
    #[schema(format = DateTime, required = true)]
    last_login: Option<String>,
    two_factor_enabled: bool,
}

#[utoipa::path(get, path = "/dashboard", tag = "accounts", security(("jwtAuth" = [])),
    responses((status = 200, description = "The caller's dashboard", body = Dashboard), openapi::Unauthorized,
        openapi::Forbidden))]
async fn dashboard(State(state): State<AppState>, DrfUser(principal): DrfUser) -> Answer<Dashboard> {
    use gatehouse_core::time_format::to_rfc3339;
    let status = state.core.two_factor().mfa_status(&principal).await?;
    let user = principal.user;
    Ok(Json(Dashboard {
        msg: format!("Welcome {} to your dashboard.", user.display_username()),
        date_joined: to_rfc3339(user.date_joined),
        last_login: user.last_login.map(to_rfc3339),
        two_factor_enabled: status.totp_enabled,
        profile: user.into(),
    }))
}

/// The caller's security history, newest first, paged like DRF's `PageNumberPagination`.
#[utoipa::path(get, path = "/history", tag = "accounts", params(PageQuery), security(("jwtAuth" = [])),
    responses((status = 200, description = "One page of events", body = EventPage),
        (status = 400, description = "A bad page number or size", body = openapi::FieldErrors),
        openapi::Unauthorized, openapi::Forbidden))]
async fn history(
    State(state): State<AppState>,
    DrfUser(principal): DrfUser,
    uri: OriginalUri,
    DrfQuery(query): DrfQuery<PageQuery>,
) -> Answer<EventPage> {
    let page = state.core.audit().history(&principal, query.request()?).await?;
    Ok(Json(EventPage::new(page, &state, &uri)))
}

/// The `ChangePassword` serializer.
#[derive(Deserialize, ToSchema)]
pub struct ChangePasswordBody {
    #[schema(value_type = String, required = true, min_length = 1)]
    old_password: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1)]
    new_password: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1)]
    confirm_password: Option<String>,
}

/// Sets a new password; this session stays, every other one ends.
#[utoipa::path(post, path = "/change/password", tag = "accounts", request_body = ChangePasswordBody,
    security(("jwtAuth" = [])),
    responses((status = 200, description = "The password is changed", body = Msg),
        (status = 400, description = "Invalid fields, or the old password is wrong", body = openapi::FieldErrors),
        openapi::Unauthorized, openapi::Forbidden, openapi::Throttled, openapi::PayloadTooLarge))]
async fn change_password(
    State(state): State<AppState>,
    Client(client): Client,
    DrfUser(principal): DrfUser,
    DrfBody(body): DrfBody<ChangePasswordBody>,
) -> Answer<Msg> {
    let old = required("old_password", body.old_password)?;
    let new_password = required("new_password", body.new_password)?;
    confirmed(&new_password, body.confirm_password)?;
    // This back end calls the current password `old_password`.
    let old_password = |e: CoreError| e.renaming_field("current_password", "old_password");
    let change = PasswordChange::parse(&principal.user, state.core.credentials().policy(), &old, &new_password)
        .map_err(old_password)?;
    state.core.credentials().change_password(&principal, &change, &client).await.map_err(old_password)?;
    Ok(msg("Password changed successfully."))
}

/// The `Email` serializer, with an optional base for the reset link.
#[derive(Deserialize, ToSchema)]
pub struct ForgetPasswordBody {
    #[schema(value_type = String, format = Email, required = true, min_length = 1)]
    email: Option<String>,
    /// Where the reset mail's link points: `{verification_base_url}/{uidb64}/{token}/` when
    /// this base is on the server's allow-list, Gatehouse's own reset page otherwise.
    #[schema(pattern = "^([hH][tT][tT][pP][sS]?:\\S+)?$")]
    verification_base_url: Option<String>,
}

/// Mails a reset link if the address has an account; the answer is the same either way.
#[utoipa::path(post, path = "/forget/password", tag = "accounts", request_body = ForgetPasswordBody,
    responses((status = 200, description = "The request is taken", body = Msg),
        (status = 400, description = "Invalid fields", body = openapi::FieldErrors), openapi::Throttled, openapi::PayloadTooLarge))]
async fn forget_password(
    State(state): State<AppState>,
    Client(client): Client,
    DrfBody(body): DrfBody<ForgetPasswordBody>,
) -> Answer<Msg> {
    let email = required("email", body.email)?;
    let request = EmailRequest::parse(&email)?;
    let page = state.core.links().page(body.verification_base_url.as_deref())?;
    state.core.credentials().request_password_reset(&request.email, &client, page).await?;
    Ok(msg("If this address belongs to an account, a password reset link is on its way to it."))
}

/// The `SetNewPassword` serializer.
#[derive(Deserialize, ToSchema)]
pub struct SetNewPasswordBody {
    #[schema(value_type = String, required = true, min_length = 1)]
    new_password: Option<String>,
    #[schema(value_type = String, required = true, min_length = 1)]
    confirm_password: Option<String>,
}

/// Sets the password from a reset link's two parts. The link works once; every session ends.
#[utoipa::path(post, path = "/set/new/forget/password/{uidb64}/{token}", tag = "accounts",
    params(("uidb64" = String, Path), ("token" = String, Path)), request_body = SetNewPasswordBody,
    responses((status = 200, description = "The password is set", body = Msg),
        (status = 400, description = "Invalid fields, or the link is invalid, used or expired", body = openapi::FieldErrors),
        openapi::PayloadTooLarge))]
async fn set_new_password(
    State(state): State<AppState>,
    Client(client): Client,
    DrfPath((uidb64, token)): DrfPath<(String, String)>,
    DrfBody(body): DrfBody<SetNewPasswordBody>,
) -> Answer<Msg> {
    let new_password = required("new_password", body.new_password)?;
    confirmed(&new_password, body.confirm_password)?;
    state.core.credentials().confirm_password_reset(&uidb64, &token, &new_password, &client).await?;
    Ok(msg("Your password is reset. You can log in with the new one."))
}
