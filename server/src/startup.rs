//! Building and running the application. Tests call [`Application::build`] with port 0 and
//! talk to the real server.

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::Uri;
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use gatehouse_core::clock::Clock;
use gatehouse_core::store::web_sessions::WebSessionStore;
use gatehouse_core::{Gatehouse, Settings};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::trace::TraceLayer;
use tower_sessions::ExpiredDeletion;

use crate::request_context::attach_request_context;
use crate::serve::{self, ConnectionLimits};
use crate::shutdown::ShutdownTrigger;
use crate::state::AppState;
use crate::{api, health, metrics, security_headers, telemetry, web};

pub struct Application {
    listener: tokio::net::TcpListener,
    /// Present when `/metrics` has an address of its own (`GATEHOUSE_METRICS_BIND`).
    metrics_listener: Option<tokio::net::TcpListener>,
    state: AppState,
    /// Present when Gatehouse serves HTTPS itself (`GATEHOUSE_TLS_CERT` / `_KEY`).
    tls: Option<RustlsConfig>,
    shutdown: ShutdownTrigger,
}

impl Application {
    /// Connects to the database, applies migrations and binds the listener (so the port is
    /// known before serving; `GATEHOUSE_BIND=127.0.0.1:0` picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Clock::System).await
    }

    /// Like [`build`](Self::build), with the core telling time by `clock`.
    pub async fn build_with_clock(mut settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        crate::paths::check_settings(&settings)?;
        let tls = tls_config(&settings).await?;
        let listener = bind("GATEHOUSE_BIND", settings.bind).await?;
        let metrics_listener = match settings.metrics_bind.filter(|_| settings.metrics) {
            Some(addr) => Some(bind("GATEHOUSE_METRICS_BIND", addr).await?),
            None => None,
        };
        // The default public URL follows the address actually bound (port 0 picks one).
        settings.bind = listener.local_addr()?;
        let metrics = settings.metrics.then(metrics::recorder);
        let core = Gatehouse::start_with_clock(settings, clock).await?;
        let state = AppState::new(core, metrics);
        if !crate::assets::bundle_present() {
            tracing::warn!(
                "the web app's wasm bundle is missing: pages render but do not hydrate (build with `cargo xtask`)"
            );
        }
        Ok(Self { listener, metrics_listener, state, tls, shutdown: ShutdownTrigger::default() })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    pub fn core(&self) -> &Gatehouse {
        &self.state.core
    }

    /// Stops the server when triggered, as SIGTERM or Ctrl-C do.
    pub fn shutdown_trigger(&self) -> ShutdownTrigger {
        self.shutdown.clone()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        let addr = self.local_addr();
        let Self { listener, metrics_listener, state, tls, shutdown } = self;
        shutdown.on_signals();
        spawn_hourly_cleanup(&state.core);
        state.core.database().follow_other_processes();
        spawn_mail_retries(&state.core, shutdown.clone()).await;
        let timeout = state.core.settings().shutdown_timeout;
        // Once per process: it raises the open-file limit.
        let limits = connection_limits(state.core.settings());
        let readiness = state.readiness.clone();
        let stopping = {
            let shutdown = shutdown.clone();
            async move {
                shutdown.triggered().await;
                readiness.shutting_down();
            }
        };
        if let Some(metrics_listener) = metrics_listener {
            let metrics_app = metrics::router().with_state(state.clone());
            let stop = shutdown.clone();
            tokio::spawn(serve::serve(metrics_listener, None, metrics_app, limits, async move {
                stop.triggered().await;
            }));
        }
        let core = state.core.clone();
        let scheme = if tls.is_some() { "https" } else { "http" };
        tracing::info!(max_connections = limits.max_connections, "Gatehouse listening on {scheme}://{addr}");
        let tls = tls.map(|tls| tokio_rustls::TlsAcceptor::from(tls.get_inner()));
        let server = serve::serve(listener, tls, service(state), limits, stopping);
        // In-flight requests get `timeout` once shutdown begins; then the process moves on.
        let deadline = async {
            let began = shutdown.triggered().await;
            tokio::time::sleep_until((began + timeout).into()).await;
        };
        tokio::select! {
            () = server => {}
            () = deadline => tracing::warn!(?timeout, "requests still running at the shutdown deadline were cut off"),
        }
        // One deadline for everything: what requests left of it goes to background work.
        let began = shutdown.triggered().await;
        core.operations()
            .drain_background((began + timeout).saturating_duration_since(std::time::Instant::now()))
            .await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// File descriptors kept for what is not a client connection: database connections, the
/// outbox, logs, the listeners.
const RESERVED_FILES: u64 = 256;

/// The bounds on connections, from the settings. Without `GATEHOUSE_MAX_CONNECTIONS` the cap
/// follows the open-file limit, raised first to its hard limit, so that a flood of silent
/// connections is refused before `accept` runs out of file descriptors.
fn connection_limits(settings: &Settings) -> ConnectionLimits {
    let files = raise_open_file_limit();
    let max_connections = settings
        .max_connections
        .unwrap_or_else(|| usize::try_from(files.saturating_sub(RESERVED_FILES).clamp(16, 1 << 20)).unwrap_or(1 << 20));
    ConnectionLimits {
        header_read_timeout: settings.header_read_timeout,
        idle_timeout: settings.idle_timeout,
        max_connections,
    }
}

/// Raises the soft limit on open files to the hard limit (the common soft default, 1,024, is
/// far below what a server facing many clients needs) and returns the limit now in force.
fn raise_open_file_limit() -> u64 {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(error) => {
            tracing::warn!(%error, "cannot raise the open-file limit");
            rlimit::getrlimit(rlimit::Resource::NOFILE).map(|(soft, _)| soft).unwrap_or(1024)
        }
    }
}

async fn bind(setting: &str, addr: SocketAddr) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(|e| anyhow::anyhow!("{setting}: cannot listen on {addr}: {e}"))
}

/// Expired browser sessions, forgotten throttle counters and history past its retention go,
/// once an hour.
fn spawn_hourly_cleanup(core: &Gatehouse) {
    let store = WebSessionStore::new(core.database());
    let core = core.clone();
    tokio::spawn(async move {
        let mut every_hour = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every_hour.tick().await;
            if let Err(error) = store.delete_expired().await {
                tracing::warn!(%error, "could not delete expired browser sessions");
            }
            if let Err(error) = core.throttle().purge().await {
                tracing::warn!(%error, "could not purge old throttle counters");
            }
            if let Err(error) = core.budgets().purge().await {
                tracing::warn!(%error, "could not purge spent hourly budgets");
            }
            if let Err(error) = core.audit().prune_history().await {
                tracing::warn!(%error, "could not delete history older than GATEHOUSE_AUDIT_RETENTION");
            }
        }
    });
}

/// Mail waiting in `outbox/pending/` is sent when due: a pass at start (what an earlier run
/// left), then every [`DUE_PASS_EVERY`](gatehouse_core::mail::DUE_PASS_EVERY), until shutdown.
/// Without SMTP it waits there.
async fn spawn_mail_retries(core: &Gatehouse, shutdown: ShutdownTrigger) {
    let mailer = core.mailer().clone();
    if !mailer.uses_smtp() {
        let (pending, _) = mailer.queue_counts().await;
        if pending > 0 {
            tracing::warn!(messages = pending, "mail left in outbox/pending waits for SMTP to be configured");
        }
        return;
    }
    tokio::spawn(async move {
        let mut every = tokio::time::interval(gatehouse_core::mail::DUE_PASS_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.triggered() => return,
                _ = every.tick() => {}
            }
            match mailer.deliver_due().await {
                Ok(0) => {}
                Ok(messages) => tracing::info!(messages, "mail from outbox/pending sent"),
                Err(error) => tracing::error!(%error, "cannot read outbox/pending: mail waiting there is not sent"),
            }
        }
    });
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

/// The whole HTTP surface: JSON API and its documents, health probes, metrics, web app.
pub fn router(state: AppState) -> Router {
    let settings = state.core.settings();
    let mut router =
        Router::new().nest("/api/v1", api::router(&state)).merge(api::openapi::swagger_ui()).merge(health::router());
    router = router.merge(crate::compat::router(&state));
    if settings.metrics && settings.metrics_bind.is_none() {
        router = router.merge(metrics::router());
    }
    router =
        router.merge(web::router(&state)).layer(middleware::from_fn_with_state(state.clone(), attach_request_context));
    if settings.metrics {
        router = router.layer(middleware::from_fn(metrics::track_http));
    }
    let (set_request_id, propagate_request_id) = telemetry::request_id_layers();
    security_headers::add_common(router, settings.serves_tls())
        .layer(CatchPanicLayer::custom(api::error::panic_response))
        .layer(TraceLayer::new_for_http().make_span_with(telemetry::request_span))
        .layer(propagate_request_id)
        .layer(set_request_id)
        .layer(middleware::from_fn(telemetry::sanitize_request_id))
        .with_state(state)
}

/// The router behind the path normalisation, which must rewrite the URI before routing.
pub fn service(state: AppState) -> Router {
    Router::new().fallback_service(router(state)).layer(middleware::from_fn(trim_trailing_slash))
}

/// Trailing slashes are optional on every route: they are stripped before routing. Swagger
/// UI (`/api/v1`'s and seed 003's) is the exception: its page lives at a path that ends in a slash (its assets are
/// relative to it).
async fn trim_trailing_slash(mut request: Request<Body>, next: Next) -> Response {
    let path = request.uri().path();
    let swagger_ui = path.starts_with(api::openapi::SWAGGER_UI_PATH)
        || path.starts_with(crate::compat::ACCOUNTS_API_SWAGGER_UI_PATH);
    if path.len() > 1 && path.ends_with('/') && !swagger_ui {
        let trimmed = path.trim_end_matches('/');
        let trimmed = if trimmed.is_empty() { "/" } else { trimmed };
        let rebuilt = match request.uri().query() {
            Some(query) => format!("{trimmed}?{query}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = rebuilt.parse::<Uri>() {
            *request.uri_mut() = uri;
        }
    }
    next.run(request).await
}
