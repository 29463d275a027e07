//! Logs: text or JSON lines on stderr, one span per request carrying its request id, so every
//! line logged while serving a request names it. Nothing here logs headers, bodies or query
//! strings: those carry passwords, tokens and emailed link secrets.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_core::config::LogFormat;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, RequestId, SetRequestIdLayer};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Logs to stderr. `RUST_LOG` wins over `GATEHOUSE_LOG` when set.
pub fn init(filter: &str, format: LogFormat) {
    init_with_writer(filter, format, std::io::stderr);
}

/// Like [`init`], writing to `writer` (tests capture the log this way).
pub fn init_with_writer<W>(filter: &str, format: LogFormat, writer: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(filter));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        // The span list too: lines logged inside nested spans (an instrumented core function,
        // a background task) still carry the request span's id.
        LogFormat::Json => builder.json().with_current_span(true).with_span_list(true).try_init(),
    };
}

/// A `GATEHOUSE_LOG` filter that `tracing` would silently half-ignore is refused instead.
pub fn check_filter(filter: &str) -> Result<(), String> {
    EnvFilter::builder().parse(filter).map(|_| ()).map_err(|e| format!("`{filter}` is not a log filter: {e}"))
}

/// `X-Request-Id`: the caller's if it is a sensible token, else a new UUID; echoed in the
/// response.
pub fn request_id_layers() -> (SetRequestIdLayer<MakeRequestUuid>, PropagateRequestIdLayer) {
    (SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid), PropagateRequestIdLayer::new(REQUEST_ID))
}

/// Drops an incoming `X-Request-Id` that could garble log lines (too long, odd characters),
/// so a fresh one is generated instead.
pub async fn sanitize_request_id(mut request: Request<Body>, next: Next) -> Response {
    let acceptable = |value: &HeaderValue| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= 128
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    };
    if request.headers().get(&REQUEST_ID).is_some_and(|v| !acceptable(v)) {
        request.headers_mut().remove(&REQUEST_ID);
    }
    next.run(request).await
}

/// The span every request is served in: method, path without the query, and request id.
pub fn request_span(request: &Request<Body>) -> tracing::Span {
    let request_id =
        request.extensions().get::<RequestId>().and_then(|id| id.header_value().to_str().ok()).unwrap_or_default();
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id)
}
