//! Extractors that make a handler's signature say what it needs: a JSON body whose errors are
//! answered in the API's shape, the caller's network context, and who the caller is.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use gatehouse_core::auth::Principal;
use gatehouse_core::{CoreError, RequestContext};

use super::error::ApiError;
use crate::startup::AppState;

/// `axum::Json`, with rejections turned into [`ApiError`].
#[derive(FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// The caller's address and user agent.
pub struct Client(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let context = parts.extensions.get::<RequestContext>().cloned();
        Ok(Client(context.unwrap_or_else(|| request_context(parts))))
    }
}

pub fn request_context(parts: &Parts) -> RequestContext {
    let ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip().to_string())
        .unwrap_or_default();
    let agent = parts.headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    RequestContext::new(ip, agent)
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
