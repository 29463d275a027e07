//! `/account/`: the caller's own account.

use axum::routing::get;
use axum::{Json, Router};

use super::extract::AuthUser;
use super::UserBody;
use crate::startup::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/account", get(read_account))
}

async fn read_account(AuthUser(principal): AuthUser) -> Json<UserBody> {
    Json(principal.user.into())
}
