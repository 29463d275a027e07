//! The web app's server side: Leptos pages and server functions, cookie sessions, CSRF
//! protection and the static bundle.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Redirect;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use gatehouse_app::server_fns::ssr::{principal_of, DeviceCookieHeader, RequestPrincipal};
use gatehouse_app::server_fns::SECOND_STEP_PATH;
use gatehouse_app::{shell, App};
use gatehouse_core::store::web_sessions::WebSessionStore;
use leptos::prelude::provide_context;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::sync::OnceLock;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::assets;
use crate::state::AppState;

/// Name of the browser session cookie.
pub const SESSION_COOKIE: &str = "gatehouse_session";

/// The longest a page or server function may take: a render that hangs (a bug in a page or in
/// Leptos) is answered 503 with `Retry-After` instead of holding the connection for ever. Far
/// above any real render (milliseconds), and above a password hash waiting its turn in a
/// login storm.
pub const RENDER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The app's routes, worked out once per process. Leptos finds them by rendering the app with
/// resource loading suppressed through a process-wide flag, and a resource that a concurrent
/// page render first polls while that flag is up never loads: the render hangs
/// (leptos-rs/leptos#4773, in leptos_server 0.8.8). A server makes its router once, before it
/// serves; the tests make many servers in one process, so the list is made once, before any of
/// them serves a page.
fn app_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

pub fn router(state: &AppState) -> Router<AppState> {
    let core = state.core.clone();
    let context = move || {
        provide_context(core.clone());
        provide_context(DeviceCookieHeader(crate::cookies::device_cookie_header));
    };
    let options = state.leptos_options.clone();
    let app = move || shell(options.clone());
    let settings = state.core.settings();
    let sessions = SessionManagerLayer::new(WebSessionStore::new(state.core.database()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.secure_cookies())
        .with_expiry(Expiry::OnInactivity(tower_sessions::cookie::time::Duration::seconds(
            settings.refresh_token_ttl.as_secs() as i64,
        )));
    Router::new()
        .leptos_routes_with_context(state, app_routes(), context.clone(), app.clone())
        // Rendered whole, like every route (`SsrMode::Async`): the page is complete without
        // JavaScript, and the render timeout below covers all of it.
        .fallback(leptos_axum::render_app_async_with_context(context, app))
        .layer(middleware::from_fn_with_state(state.clone(), own_form_errors_only))
        .layer(middleware::from_fn_with_state(state.clone(), same_origin_writes))
        .layer(middleware::from_fn_with_state(state.clone(), second_step_first))
        .layer(sessions)
        .layer(RequestBodyLimitLayer::new(settings.max_body_bytes))
        .layer(SetResponseHeaderLayer::if_not_present(header::RETRY_AFTER, |response: &Response| {
            (response.status() == StatusCode::SERVICE_UNAVAILABLE).then(|| HeaderValue::from_static("1"))
        }))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, RENDER_TIMEOUT))
        .route("/pkg/{*path}", get(assets::serve).layer(CompressionLayer::new()))
}

/// CSRF protection for the cookie-authenticated web app: a state-changing request that a
/// browser marks as coming from another origin is refused. Browsers send `Origin` on every
/// cross-origin POST; when it is absent we fall back to `Referer`. Together with
/// `SameSite=Lax` cookies this stops cross-site form posts (OWASP's "verifying origin with
/// standard headers").
async fn same_origin_writes(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let headers = request.headers();
    let claimed = headers.get(header::ORIGIN).or_else(|| headers.get(header::REFERER)).and_then(|v| v.to_str().ok());
    if let Some(claimed) = claimed {
        let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or_default();
        let settings = state.core.settings();
        let served_scheme = if settings.tls_cert.is_some() { "https" } else { "http" };
        if !same_origin(claimed, served_scheme, host, &settings.public_url()) {
            // Only the origin: a full Referer may carry an emailed link's token.
            let origin = url::Url::parse(claimed).map(|u| u.origin().ascii_serialization()).unwrap_or_default();
            tracing::warn!(%origin, "refused a cross-origin form post");
            return (StatusCode::FORBIDDEN, "Cross-origin request refused.").into_response();
        }
    }
    next.run(request).await
}

/// Query parameters of Leptos's no-JavaScript error round trip: a form posted without
/// JavaScript that fails is redirected back to its page with the server function's path and
/// the error (base64 JSON) in the URL, and the page shows that error.
const ERROR_SOURCE_PARAM: &str = "__path";
const ERROR_PARAM: &str = "__err";
/// Our tag beside them (see [`own_form_errors_only`]).
const ERROR_TAG_PARAM: &str = "__err_tag";

/// A page shows only the errors this server put in its URL. The redirect that carries a failed
/// form's error back to its page gets a tag (an HMAC of the error under a server key); a page
/// asked for with an error that has no valid tag is redirected to itself without it, before
/// the page (or, after hydration, its scripts) reads it. Without this, a link such as
/// `/login?__path=/_fn/login&__err=<base64 JSON>` showed whatever text it carried in the
/// page's error box.
async fn own_form_errors_only(State(state): State<AppState>, request: Request<Body>, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return match foreign_error_removed(&state.core, request.uri()) {
            Some(clean) => Redirect::to(&clean).into_response(),
            None => next.run(request).await,
        };
    }
    let mut response = next.run(request).await;
    if let Some(location) = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok()) {
        if let Some(tagged) = error_redirect_tagged(&state.core, location) {
            if let Ok(value) = HeaderValue::from_str(&tagged) {
                response.headers_mut().insert(header::LOCATION, value);
            }
        }
    }
    response
}

/// The query's pairs, decoded.
fn query_pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes()).into_owned().collect()
}

/// The *last* value of `name`: the one Leptos reads (`ParamsMap::get_str`), and the one a
/// failed server function appends to the page's address.
fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
}

fn is_error_param(key: &str) -> bool {
    [ERROR_SOURCE_PARAM, ERROR_PARAM, ERROR_TAG_PARAM].contains(&key)
}

/// The pairs without the error parameters, then `extra`, as a query string.
fn query_with(pairs: &[(String, String)], extra: &[(&str, &str)]) -> String {
    let kept = pairs.iter().filter(|(key, _)| !is_error_param(key)).map(|(k, v)| (k.as_str(), v.as_str()));
    url::form_urlencoded::Serializer::new(String::new()).extend_pairs(kept.chain(extra.iter().copied())).finish()
}

/// `Location` with a tag added when it carries a form's error back to its page. Only the
/// error the server function just appended is kept and tagged: error parameters that were
/// already in the page's address (a crafted `Referer`) are dropped, never tagged.
fn error_redirect_tagged(core: &gatehouse_core::Gatehouse, location: &str) -> Option<String> {
    let base = url::Url::parse("http://page.invalid").expect("a valid URL");
    let mut url = base.join(location).ok()?;
    let pairs = query_pairs(url.query()?);
    let (source, error) = (last(&pairs, ERROR_SOURCE_PARAM)?, last(&pairs, ERROR_PARAM)?);
    let tag = core.page_message_tag(source, error);
    let query = query_with(&pairs, &[(ERROR_SOURCE_PARAM, source), (ERROR_PARAM, error), (ERROR_TAG_PARAM, &tag)]);
    url.set_query(Some(&query));
    if url.origin() == base.origin() {
        // It was a path: keep it one.
        return Some(format!("{}?{query}", url.path()));
    }
    Some(url.into())
}

/// The page's own address without the error parameters when `uri` carries an error that this
/// server did not tag, or any of them more than once; `None` when there is nothing to remove.
fn foreign_error_removed(core: &gatehouse_core::Gatehouse, uri: &axum::http::Uri) -> Option<String> {
    let pairs = query_pairs(uri.query()?);
    let count = |name: &str| pairs.iter().filter(|(key, _)| key == name).count();
    let counts = (count(ERROR_SOURCE_PARAM), count(ERROR_PARAM), count(ERROR_TAG_PARAM));
    if counts == (0, 0, 0) {
        return None;
    }
    if counts == (1, 1, 1) {
        let (source, error, tag) =
            (last(&pairs, ERROR_SOURCE_PARAM)?, last(&pairs, ERROR_PARAM)?, last(&pairs, ERROR_TAG_PARAM)?);
        if core.is_own_page_message(source, error, tag) {
            return None;
        }
    }
    // One leading slash: `//evil.test/` (or `/\\evil.test/`) would leave the site.
    let path = format!("/{}", uri.path().trim_start_matches(['/', '\\']));
    let query = query_with(&pairs, &[]);
    if query.is_empty() {
        return Some(path);
    }
    Some(format!("{path}?{query}"))
}

/// A browser session that passed the password step but still owes its second factor sees
/// only the second-step page: every other page sends it there. Server functions, which
/// refuse such a session themselves, and the bundle are not pages. The principal looked up
/// here is kept for the page's render (`RequestPrincipal`): one lookup per page view.
async fn second_step_first(State(state): State<AppState>, mut request: Request<Body>, next: Next) -> Response {
    let path = request.uri().path();
    let page_view = matches!(*request.method(), Method::GET | Method::HEAD)
        && path != SECOND_STEP_PATH
        && !path.starts_with("/_fn/");
    let session = request.extensions().get::<Session>().cloned();
    if let (true, Some(session)) = (page_view, session) {
        if let Ok(principal) = principal_of(&session, &state.core).await {
            if principal.as_ref().is_some_and(|p| p.session.second_factor_pending) {
                return Redirect::to(SECOND_STEP_PATH).into_response();
            }
            request.extensions_mut().insert(RequestPrincipal(principal));
        }
    }
    next.run(request).await
}

/// `claimed` (an origin or a full URL) points at this server: the configured public URL's
/// origin (scheme, host and port), or the request's own host reached by the scheme this
/// listener serves (`https://<host>` is another origin than `http://<host>`).
fn same_origin(claimed: &str, served_scheme: &str, host: &str, public_url: &str) -> bool {
    let Ok(url) = url::Url::parse(claimed) else { return false };
    let public = url::Url::parse(public_url).ok();
    if public.is_some_and(|p| p.origin() == url.origin()) {
        return true;
    }
    if url.scheme() != served_scheme {
        return false;
    }
    let Some(claimed_host) = url.host_str() else { return false };
    let authority = match url.port() {
        Some(port) => format!("{claimed_host}:{port}"),
        None => claimed_host.to_string(),
    };
    authority.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::same_origin;

    #[test]
    fn origins_must_match_host_or_public_url() {
        let check = |claimed, host, public| same_origin(claimed, "http", host, public);
        assert!(check("http://127.0.0.1:3000", "127.0.0.1:3000", "http://127.0.0.1:3000"));
        assert!(check("http://127.0.0.1:3000/login?x=1", "127.0.0.1:3000", "http://x"));
        assert!(check("https://auth.example.com", "10.0.0.5:3000", "https://auth.example.com"));
        assert!(!check("https://evil.example", "127.0.0.1:3000", "http://127.0.0.1:3000"));
        assert!(!check("http://127.0.0.1:3001", "127.0.0.1:3000", "http://127.0.0.1:3000"));
        assert!(!check("null", "127.0.0.1:3000", "http://127.0.0.1:3000"));
    }

    #[test]
    fn the_scheme_is_part_of_the_origin() {
        // The http listener's own host named with https is another origin, and the reverse.
        assert!(!same_origin("https://127.0.0.1:3000", "http", "127.0.0.1:3000", "http://127.0.0.1:3000"));
        assert!(!same_origin("https://127.0.0.1:3000", "http", "127.0.0.1:3000", "http://x"));
        assert!(!same_origin("http://id.example", "https", "id.example", "https://id.example"));
        assert!(same_origin("https://id.example", "https", "id.example", "https://other.example"));
        // Behind a TLS proxy the public URL names the https origin the browser sees.
        assert!(same_origin("https://id.example", "http", "id.example", "https://id.example"));
    }
}
