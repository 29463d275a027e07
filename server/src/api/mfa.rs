//! `/mfa/...`: two-factor authentication. The rules live in `gatehouse_core::two_factor`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::requests::{RecoveryRequest, TotpRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::error::ApiError;
use super::extract::{Aal2User, ApiJson, AuthUser, Client, PartialAuthUser};
use super::responses::*;
use super::views::{MfaStatus, TokenPair, TotpEnrolment};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(enrol_totp, remove_totp))
        .routes(routes!(verify_totp))
        .routes(routes!(generate_recovery_codes))
        .routes(routes!(use_recovery_code))
}

/// Whether two-factor authentication is on, since when, and how many recovery codes are left.
#[utoipa::path(get, path = "/mfa", tag = "mfa", security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "The caller's second factor", body = MfaStatus), Unauthorized, SecondFactor))]
async fn status(State(state): State<AppState>, AuthUser(principal): AuthUser) -> Result<Json<MfaStatus>, ApiError> {
    Ok(Json(state.core.two_factor().mfa_status(&principal).await?.into()))
}

/// Starts TOTP enrolment: scan the QR code (or type the secret), then confirm with a first code
/// at `POST /api/v1/mfa/totp/verify`. Replacing a confirmed device needs an aal2 session.
#[utoipa::path(post, path = "/mfa/totp", tag = "mfa", security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "A pending device", body = TotpEnrolment), Unauthorized, SecondFactor))]
async fn enrol_totp(
    State(state): State<AppState>,
    Client(client): Client,
    AuthUser(principal): AuthUser,
) -> Result<Json<TotpEnrolment>, ApiError> {
    Ok(Json(state.core.two_factor().enrol_totp(&principal, &client).await?.into()))
}

/// Turns two-factor authentication off: the device and the recovery codes go. aal2 only.
#[utoipa::path(delete, path = "/mfa/totp", tag = "mfa", security(("Bearer" = []), ("JWT" = [])),
    responses((status = 204, description = "Removed"), Unauthorized, SecondFactor, NotFound))]
async fn remove_totp(
    State(state): State<AppState>,
    Client(client): Client,
    Aal2User(principal): Aal2User,
) -> Result<StatusCode, ApiError> {
    state.core.two_factor().remove_totp(&principal, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct CodeRequest {
    /// Six digits (spaces do not matter).
    #[serde(default)]
    #[schema(required = true, pattern = r"^\s*([0-9]\s*){6}$", example = "123456")]
    code: String,
}

#[derive(Deserialize, ToSchema)]
pub struct RecoveryCodeRequest {
    /// Eight letters and digits (case, spaces and dashes do not matter).
    #[serde(default)]
    #[schema(required = true, pattern = r"^[\s-]*([A-Za-z0-9][\s-]*){8}$", example = "abcd-1234")]
    code: String,
}

/// Checks a TOTP code: confirms a pending device, or completes a login that owes its second
/// factor. Either way the session becomes aal2 and new tokens say so.
#[utoipa::path(post, path = "/mfa/totp/verify", tag = "mfa", request_body = CodeRequest,
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "aal2 tokens", body = TokenPair),
        BadRequest, Unauthorized, Throttled, PayloadTooLarge, UnsupportedMediaType))]
async fn verify_totp(
    State(state): State<AppState>,
    Client(client): Client,
    PartialAuthUser(principal): PartialAuthUser,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let request = TotpRequest::parse(&body.code)?;
    Ok(Json(state.core.two_factor().verify_totp(&principal, &request.code, &client).await?.into()))
}

#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Shown once: only keyed hashes are kept. Each works once; earlier codes no longer work.
    codes: Vec<String>,
}

/// A fresh set of recovery codes; every earlier code stops working. aal2 only.
#[utoipa::path(post, path = "/mfa/recovery-codes", tag = "mfa", security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "The new codes", body = RecoveryCodes), BadRequest, Unauthorized, SecondFactor))]
async fn generate_recovery_codes(
    State(state): State<AppState>,
    Client(client): Client,
    Aal2User(principal): Aal2User,
) -> Result<Json<RecoveryCodes>, ApiError> {
    Ok(Json(RecoveryCodes { codes: state.core.two_factor().generate_recovery_codes(&principal, None, &client).await? }))
}

/// Completes the second step with a recovery code instead of a TOTP code (case, spaces and
/// dashes do not matter); the code is used up.
#[utoipa::path(post, path = "/mfa/recovery", tag = "mfa", request_body = RecoveryCodeRequest,
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "aal2 tokens", body = TokenPair),
        BadRequest, Unauthorized, Throttled, PayloadTooLarge, UnsupportedMediaType))]
async fn use_recovery_code(
    State(state): State<AppState>,
    Client(client): Client,
    PartialAuthUser(principal): PartialAuthUser,
    ApiJson(body): ApiJson<RecoveryCodeRequest>,
) -> Result<Json<TokenPair>, ApiError> {
    let request = RecoveryRequest::parse(&body.code)?;
    Ok(Json(state.core.two_factor().use_recovery_code(&principal, &request.code, &client).await?.into()))
}
