//! The canonical JSON API under `/api/v1/`: one router per resource, merged here.

mod account;
mod auth;
pub mod error;
pub mod extract;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::startup::AppState;
use error::ApiError;
use extract::AuthUser;

pub fn router(state: &AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(ping))
        .merge(auth::router())
        .merge(account::router())
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        // Extractors refuse larger bodies with 413, answered in the API's JSON shape.
        .layer(DefaultBodyLimit::max(state.core.settings().max_body_bytes))
}

async fn ping(
    axum::extract::State(state): axum::extract::State<AppState>,
    _caller: AuthUser,
) -> Json<serde_json::Value> {
    Json(json!({ "name": state.core.settings().site_name, "api_version": "v1", "message": "Welcome!" }))
}
