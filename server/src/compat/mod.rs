//! The compatibility surfaces: the APIs of the Django back ends in `shared/seeds/`, served
//! over the same accounts so their clients switch to Gatehouse unchanged. One module per
//! family; each only parses its requests, calls the core, and shapes answers and errors its
//! way (in one place per family). Each can be switched off by a setting (its paths then 404).
//! What each serves, and every decision where a seed is vague: `docs/compatibility.md`.

mod accounts_api;
mod djoser;
pub mod drf;
mod rest_jwt_auth;

use axum::extract::DefaultBodyLimit;
use axum::Router;

use crate::state::AppState;

/// Where seed 003's Swagger UI lives: its page ends in a slash (its assets are relative to it).
pub const ACCOUNTS_API_SWAGGER_UI_PATH: &str = accounts_api::SWAGGER_UI_PATH;

/// The enabled surfaces.
pub fn router(state: &AppState) -> Router<AppState> {
    let settings = state.core.settings();
    let mut router = Router::new();
    if settings.compat_djoser {
        router = router.merge(djoser::router());
    }
    if settings.compat_accounts_api {
        router = router.merge(accounts_api::router());
    }
    if settings.compat_rest_jwt_auth {
        router = router.merge(rest_jwt_auth::router(&settings.compat_rest_jwt_auth_prefix));
    }
    router.layer(DefaultBodyLimit::max(settings.max_body_bytes)).layer(crate::security_headers::no_store())
}
