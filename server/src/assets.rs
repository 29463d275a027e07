//! The site's static files (`/pkg/*`: the wasm bundle, its JS glue, the stylesheet), built by
//! `cargo xtask` into `target/site` and embedded in release binaries, so the one `gatehouse`
//! file runs from any directory. Debug builds read the folder from disk instead.
//!
//! The bundle's file names carry a hash of their content (`gatehouse.<hash>.js`,
//! `gatehouse.<hash>_bg.wasm`, `gatehouse.<hash>.css`, named by xtask), so they are served
//! `immutable`: a new build has new URLs, and browsers never revalidate an old one.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "$CARGO_MANIFEST_DIR/../target/site/pkg"]
struct SiteAssets;

/// The base name shared by the bundle's files, e.g. `gatehouse.3f2a9c1be04d7a55` (the one
/// whose `.js` glue is present); `gatehouse` when no bundle was built. Looked up once: debug
/// builds would otherwise list the folder on disk for every asset request, and the pages name
/// the bundle found at start anyway.
pub fn bundle_name() -> &'static str {
    static NAME: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    NAME.get_or_init(|| {
        SiteAssets::iter()
            .filter_map(|file| file.strip_suffix(".js").map(str::to_string))
            .find(|name| name.starts_with("gatehouse.") && !name.contains('/'))
            .unwrap_or_else(|| "gatehouse".into())
    })
}

/// Whether the hydration bundle is present (a server built without `cargo xtask` has none).
pub fn bundle_present() -> bool {
    let name = bundle_name();
    SiteAssets::get(&format!("{name}.js")).is_some() && SiteAssets::get(&format!("{name}_bg.wasm")).is_some()
}

/// `GET /pkg/{*path}`.
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
    let name = bundle_name();
    let cache = if name != "gatehouse" && path.starts_with(name) {
        "public, max-age=31536000, immutable"
    } else {
        // Anything else in the folder (wasm-bindgen snippets) keeps its name across builds.
        "no-cache"
    };
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, value);
    }
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
