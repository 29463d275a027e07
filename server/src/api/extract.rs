//! Extractors that make a handler's signature say what it needs: a JSON body whose errors are
//! answered in the API's shape, the caller's network context, and who the caller is.

use axum::extract::{FromRequest, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use gatehouse_core::auth::Principal;
use gatehouse_core::{CoreError, RequestContext};

use super::error::ApiError;
use crate::state::AppState;

/// `axum::Json`, with rejections turned into [`ApiError`].
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// The caller's address and user agent.
pub struct Client(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        // Set for every request by `request_context::attach_request_context`.
        Ok(Client(parts.extensions.get::<RequestContext>().cloned().unwrap_or_default()))
    }
}

/// An authenticated caller: `Authorization: Bearer <access>` or `Authorization: JWT <access>`.
pub struct AuthUser(pub Principal);

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(CoreError::Unauthenticated)?;
        Ok(AuthUser(state.core.authenticate_access_token(token).await?))
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
