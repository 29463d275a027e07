//! What every handler can reach. Its own module so the routers (assembled in `startup`) and
//! the handlers both depend on it, and not on each other.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::FromRef;
use gatehouse_core::Gatehouse;
use leptos::config::LeptosOptions;
use metrics_exporter_prometheus::PrometheusHandle;

/// Cloned for every extractor and middleware of every request, so it is one shared pointer
/// (the Leptos options alone are a dozen strings).
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub core: Gatehouse,
    pub leptos_options: LeptosOptions,
    /// The Prometheus registry, when metrics are on.
    pub metrics: Option<PrometheusHandle>,
    pub readiness: Readiness,
}

impl AppState {
    /// The state for a running core; `metrics` is the Prometheus registry when metrics are on.
    pub fn new(core: Gatehouse, metrics: Option<PrometheusHandle>) -> Self {
        let leptos_options = LeptosOptions::builder()
            // The content-hashed name xtask gave the bundle: pages ask for exactly these files.
            .output_name(crate::assets::bundle_name())
            .site_pkg_dir("pkg")
            .site_root("target/site")
            .site_addr(core.settings().bind)
            .build();
        Self(Arc::new(Shared { core, leptos_options, metrics, readiness: Readiness::default() }))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

/// Whether the server takes new work: false once shutdown has begun, so `/readyz` tells load
/// balancers to stop sending requests.
#[derive(Clone, Debug)]
pub struct Readiness(Arc<AtomicBool>);

impl Default for Readiness {
    fn default() -> Self {
        Self(Arc::new(AtomicBool::new(true)))
    }
}

impl Readiness {
    pub fn is_ready(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    pub fn shutting_down(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}
