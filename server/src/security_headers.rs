//! Response headers that make browsers hold the pages to what they are: no framing, no MIME
//! sniffing, no full URLs in `Referer` (emailed links carry tokens), HSTS when serving TLS,
//! and no caching of anything that carries tokens. The Content-Security-Policy of the web
//! app's pages is set by the app itself (`gatehouse_app::csp`), since it names the nonce of
//! each rendered page.

use axum::http::{header, HeaderValue};
use axum::Router;
use tower_http::set_header::SetResponseHeaderLayer;

/// For every response.
pub fn add_common<S: Clone + Send + Sync + 'static>(router: Router<S>, serving_tls: bool) -> Router<S> {
    let set = |name, value| SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value));
    let router = router
        .layer(set(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .layer(set(header::X_FRAME_OPTIONS, "DENY"))
        .layer(set(header::REFERRER_POLICY, "same-origin"));
    if serving_tls {
        router.layer(set(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000; includeSubDomains"))
    } else {
        router
    }
}

/// For the JSON API: responses carry tokens and personal data; no cache may keep them.
pub fn no_store() -> SetResponseHeaderLayer<HeaderValue> {
    SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))
}
