//! Building and running the application. Tests call [`Application::build`] with port 0 and
//! talk to the real server.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{FromRef, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use gatehouse_core::store::web_sessions::WebSessionStore;
use gatehouse_core::{Gatehouse, Settings};
use leptos::config::LeptosOptions;
use tower::Layer;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::normalize_path::NormalizePathLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::ExpiredDeletion;

use crate::{api, health, web};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub core: Gatehouse,
    pub leptos_options: LeptosOptions,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

pub struct Application {
    listener: tokio::net::TcpListener,
    router: Router,
    core: Gatehouse,
    /// Present when Gatehouse serves HTTPS itself (`GATEHOUSE_TLS_CERT` / `_KEY`).
    tls: Option<RustlsConfig>,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listener (so the port is
    /// known before serving; `GATEHOUSE_BIND=127.0.0.1:0` picks a free one).
    pub async fn build(mut settings: Settings) -> anyhow::Result<Self> {
        let tls = tls_config(&settings).await?;
        let listener = tokio::net::TcpListener::bind(settings.bind)
            .await
            .map_err(|e| anyhow::anyhow!("GATEHOUSE_BIND: cannot listen on {}: {e}", settings.bind))?;
        let bound = listener.local_addr()?;
        // The default public URL follows the address actually bound (port 0 picks one).
        let scheme = if tls.is_some() { "https" } else { "http" };
        if settings.public_url == format!("{scheme}://{}", settings.bind) {
            settings.public_url = format!("{scheme}://{bound}");
        }
        settings.bind = bound;
        let core = Gatehouse::start(settings).await?;
        let state = AppState { leptos_options: leptos_options(core.settings()), core: core.clone() };
        if !crate::assets::bundle_present() {
            tracing::warn!(
                "the web app's wasm bundle is missing: pages render but do not hydrate (build with `cargo xtask`)"
            );
        }
        Ok(Self { listener, router: router(state), core, tls })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn core(&self) -> &Gatehouse {
        &self.core
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let store = WebSessionStore::new(self.core.database().pool.clone());
        tokio::spawn(async move {
            let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
            loop {
                every_hour.tick().await;
                if let Err(error) = store.delete_expired().await {
                    tracing::warn!(%error, "could not delete expired browser sessions");
                }
            }
        });
        // Trailing slashes are optional on every route: strip them before routing.
        let app = NormalizePathLayer::trim_trailing_slash().layer(self.router);
        let service = axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app);
        match self.tls {
            None => {
                tracing::info!("Gatehouse listening on http://{addr}");
                axum::serve(self.listener, service).with_graceful_shutdown(shutdown_signal()).await?;
            }
            Some(tls) => {
                tracing::info!("Gatehouse listening on https://{addr}");
                let handle = axum_server::Handle::new();
                let stopper = handle.clone();
                tokio::spawn(async move {
                    shutdown_signal().await;
                    stopper.graceful_shutdown(Some(Duration::from_secs(10)));
                });
                axum_server::from_tcp_rustls(self.listener.into_std()?, tls)?.handle(handle).serve(service).await?;
            }
        }
        Ok(())
    }
}

/// Loads the certificate chain and key named by the settings, so a bad file fails start-up.
pub(crate) async fn tls_config(settings: &Settings) -> anyhow::Result<Option<RustlsConfig>> {
    let (Some(cert), Some(key)) = (&settings.tls_cert, &settings.tls_key) else { return Ok(None) };
    // One process-wide rustls provider (ring); a second install attempt is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = RustlsConfig::from_pem_file(cert, key).await.map_err(|e| {
        anyhow::anyhow!(
            "GATEHOUSE_TLS_CERT / GATEHOUSE_TLS_KEY: cannot use {} and {}: {e}",
            cert.display(),
            key.display()
        )
    })?;
    Ok(Some(config))
}

fn leptos_options(settings: &Settings) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("gatehouse")
        .site_pkg_dir("pkg")
        .site_root("target/site")
        .site_addr(settings.bind)
        .build()
}

/// The whole HTTP surface: JSON API, health probes, web app.
pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", api::router(&state))
        .merge(health::router())
        .merge(web::router(&state))
        .layer(middleware::from_fn(attach_request_context))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        // Emailed links carry tokens in the URL: never leak them to other sites in `Referer`.
        .layer(SetResponseHeaderLayer::if_not_present(header::REFERRER_POLICY, HeaderValue::from_static("same-origin")))
        .layer(CatchPanicLayer::custom(api::error::panic_response))
        // Spans name the path only: query strings can carry link tokens, which stay out of logs.
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<Body>| {
            tracing::debug_span!("request", method = %request.method(), path = %request.uri().path())
        }))
        .with_state(state)
}

/// Works out the caller's context once per request, for every face to read.
async fn attach_request_context(mut request: Request<Body>, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    let context = api::extract::request_context(&parts);
    parts.extensions.insert(context);
    request = Request::from_parts(parts, body);
    next.run(request).await
}

async fn shutdown_signal() {
    let _ = tokio::signal::ctrl_c().await;
    tracing::info!("shutting down");
    // Give in-flight requests a moment; axum waits for them to finish.
    tokio::time::sleep(Duration::from_millis(10)).await;
}
