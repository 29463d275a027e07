//! The site's static files (`/pkg/*`: the wasm bundle, its JS glue, the stylesheet), built by
//! `cargo xtask` into `target/site` and embedded in release binaries, so the one `gatehouse`
//! file runs from any directory. Debug builds read the folder from disk instead.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../target/site/pkg"]
struct SiteAssets;

/// `GET /pkg/{*path}`. File names are not content-hashed, so browsers revalidate with the
/// ETag (the file's SHA-256) and get a 304 when nothing changed.
pub async fn serve(Path(path): Path<String>, headers: HeaderMap) -> Response {
    let Some(file) = SiteAssets::get(&path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()) == Some(etag.as_str()) {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let mime = file.metadata.mimetype().to_string();
    let mut response = file.data.into_owned().into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    response
}

/// Whether the hydration bundle is present (a server built without `cargo xtask` has none).
pub fn bundle_present() -> bool {
    SiteAssets::get("gatehouse.js").is_some() && SiteAssets::get("gatehouse_bg.wasm").is_some()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
