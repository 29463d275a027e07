//! The canonical JSON API under `/api/v1/`: one router per resource, merged here.

mod account;
mod auth;
pub mod error;
pub mod extract;

use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
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

async fn ping(axum::extract::State(state): axum::extract::State<AppState>, _caller: AuthUser) -> Json<serde_json::Value> {
    Json(json!({ "name": state.core.settings().site_name, "api_version": "v1", "message": "Welcome!" }))
}

/// A user as the API shows it. Times are RFC 3339.
#[derive(Serialize)]
pub struct UserBody {
    pub id: i64,
    pub email: String,
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub country: String,
    pub profession: String,
    pub bio: String,
    pub thoughts: String,
    pub profile_img: String,
    pub is_active: bool,
    pub is_verified: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: String,
    pub last_login: Option<String>,
}

impl From<gatehouse_core::User> for UserBody {
    fn from(u: gatehouse_core::User) -> Self {
        UserBody {
            id: u.id.0,
            email: u.email,
            username: u.username,
            first_name: u.first_name,
            last_name: u.last_name,
            country: u.country,
            profession: u.profession,
            bio: u.bio,
            thoughts: u.thoughts,
            profile_img: u.profile_img,
            is_active: u.is_active,
            is_verified: u.is_verified,
            is_staff: u.is_staff,
            is_superuser: u.is_superuser,
            date_joined: rfc3339(u.date_joined),
            last_login: u.last_login.map(rfc3339),
        }
    }
}

pub fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}
