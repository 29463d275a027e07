//! The canonical JSON API under `/api/v1/`: one router per resource, merged here, each route
//! registered together with its OpenAPI description (`utoipa-axum`), so the document served
//! at `/api/v1/openapi.json` lists exactly the routes that exist.

mod account;
mod auth;
pub mod error;
pub mod extract;
mod fields;
mod management;
mod mfa;
pub mod openapi;
pub(crate) mod paging;
mod responses;
pub mod views;

use axum::extract::{DefaultBodyLimit, State};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::state::AppState;
use error::ApiError;
use extract::AuthUser;
use responses::{SecondFactor, Unauthorized};

/// The API's routes with their document (paths relative to `/api/v1`).
pub fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ping))
        .merge(auth::router())
        .merge(account::router())
        .merge(mfa::router())
        .merge(management::router())
}

/// The routes, to nest at `/api/v1` (the document is served by [`openapi::swagger_ui`]).
pub fn router(state: &AppState) -> Router<AppState> {
    Router::from(routes())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        // Extractors refuse larger bodies with 413, answered in the API's JSON shape.
        .layer(DefaultBodyLimit::max(state.core.settings().max_body_bytes))
        .layer(crate::security_headers::no_store())
}

#[derive(Serialize, ToSchema)]
pub struct Ping {
    #[schema(example = "Gatehouse")]
    name: String,
    #[schema(example = "v1")]
    api_version: String,
    #[schema(example = "Welcome!")]
    message: String,
}

/// Checks that the API is there and the token works.
#[utoipa::path(get, path = "/", tag = "meta", security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "Hello", body = Ping), Unauthorized, SecondFactor))]
async fn ping(State(state): State<AppState>, _caller: AuthUser) -> Json<Ping> {
    Json(Ping { name: state.core.settings().site_name.clone(), api_version: "v1".into(), message: "Welcome!".into() })
}
