//! The benchmark's yardstick: a bare axum handler answering `GET /` with a small JSON body of
//! the size and shape of `GET /api/v1/account/`: no middleware, no database, no token. Whatever
//! Gatehouse adds per request shows as the distance to this (same runtime, same allocator). `bare <port>` serves on
//! 127.0.0.1:<port> until killed.

use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

/// The same allocator as Gatehouse, so the distance measured is the work, not the allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args().nth(1).and_then(|p| p.parse().ok()).expect("usage: bare <port>");
    let body = json!({
        "id": 1, "email": "bench0@example.com", "username": null, "first_name": "", "last_name": "",
        "country": "", "profession": "", "bio": "", "thoughts": "", "profile_img": "", "is_active": true,
        "is_verified": true, "is_staff": false, "is_superuser": false,
        "date_joined": "2026-11-25T00:00:00Z", "last_login": "2026-11-25T00:00:00Z", "pending_email": null
    });
    let app = Router::new().route("/", get(move || async move { Json(body.clone()) }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    axum::serve(listener, app).await
}
