//! Extractors that make a handler's signature say what it needs: a JSON body whose errors are
//! answered in the API's shape, the caller's network context, and who the caller is.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use gatehouse_core::admin::{Staff, Superuser};
use gatehouse_core::Principal;
use gatehouse_core::{CoreError, RequestContext};

use super::error::ApiError;
use crate::state::AppState;

/// `axum::Json`, with rejections turned into [`ApiError`].
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// `axum::extract::Query`, with rejections turned into [`ApiError`] (400 in the API's shape).
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

/// An optional JSON body: nothing (or `null`) is `None`. Errors are answered like
/// [`ApiJson`]'s: 400 for bad JSON, 413 for a body over the limit, in the API's shape.
pub struct OptionalJson<T>(pub Option<T>);

impl<S, T> FromRequest<S> for OptionalJson<T>
where
    S: Send + Sync,
    T: serde::de::DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        let body = axum::body::Bytes::from_request(request, state).await.map_err(ApiError::from_body_rejection)?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(None));
        }
        serde_json::from_slice::<Option<T>>(&body).map(OptionalJson).map_err(ApiError::from_json_error)
    }
}

/// The caller's context: address, user agent and device cookie.
pub struct Client(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Set for every request by `request_context::attach_request_context`; without it the
        // address limit would silently not apply, so its absence is a bug, not a default.
        parts.extensions.get::<RequestContext>().cloned().map(Client).ok_or_else(|| {
            ApiError::Core(CoreError::internal("request context", "the request-context middleware did not run"))
        })
    }
}

/// An authenticated caller: `Authorization: Bearer <access>` or `Authorization: JWT <access>`,
/// who has completed every step of logging in (403 `mfa_required` while a second factor is
/// owed).
pub struct AuthUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let PartialAuthUser(principal) = PartialAuthUser::from_request_parts(parts, state).await?;
        Ok(AuthUser(principal.completed()?))
    }
}

/// A caller with a valid access token who may still owe the second factor: what the second
/// step itself and logging out accept.
pub struct PartialAuthUser(pub Principal);

impl FromRequestParts<AppState> for PartialAuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(CoreError::Unauthenticated)?;
        Ok(PartialAuthUser(state.core.sessions().authenticate_access_token(token).await?))
    }
}

/// A caller whose session verified a second factor (aal2): what changing the second factor
/// needs (403 `aal2_required` otherwise).
pub struct Aal2User(pub Principal);

impl FromRequestParts<AppState> for Aal2User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AuthUser(principal) = AuthUser::from_request_parts(parts, state).await?;
        principal.require_aal2()?;
        Ok(Aal2User(principal))
    }
}

/// A signed-in staff member (or superuser): who may list and view users and read everyone's
/// history (403 otherwise).
pub struct StaffUser(pub Staff);

impl FromRequestParts<AppState> for StaffUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AuthUser(principal) = AuthUser::from_request_parts(parts, state).await?;
        Ok(StaffUser(principal.into_staff()?))
    }
}

/// A signed-in superuser: who may create, change and delete users (403 otherwise).
pub struct SuperUser(pub Superuser);

impl FromRequestParts<AppState> for SuperUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let AuthUser(principal) = AuthUser::from_request_parts(parts, state).await?;
        Ok(SuperUser(principal.into_superuser()?))
    }
}

/// The token of an `Authorization` header using the `Bearer` or `JWT` scheme.
pub fn bearer_token(parts: &Parts) -> Option<&str> {
    let value = parts.headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let accepted = scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("jwt");
    let token = token.trim();
    (accepted && !token.is_empty()).then_some(token)
}
