use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::db::Failure;
use serde_json::{json, Value};

use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz))
}

/// Alive: answering at all means the server accepts requests.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready: not shutting down, the database answers, and it takes writes (a full disk is not
/// ready). Answered within the database acquire timeout, however the database fails.
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    if !state.readiness.is_ready() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "shutting_down" })));
    }
    let unavailable = |database: &str, writes: &str| {
        let body = json!({ "status": "unavailable", "database": database, "writes": writes });
        (StatusCode::SERVICE_UNAVAILABLE, Json(body))
    };
    match state.core.operations().storage_readiness().await {
        Ok(()) => (StatusCode::OK, Json(json!({ "status": "ok", "database": "ok", "writes": "ok" }))),
        Err(Failure::Unreachable) => unavailable("unreachable", "unknown"),
        Err(Failure::DiskFull) => unavailable("ok", "storage_full"),
        Err(Failure::Other) => unavailable("ok", "failing"),
    }
}
