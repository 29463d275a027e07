//! Prometheus metrics: the recorder behind the `metrics` facade (which the core reports to),
//! HTTP request counts and latencies by route template, and the `/metrics` endpoint — on the
//! main address, on a separate one (`GATEHOUSE_METRICS_BIND`), or off (`GATEHOUSE_METRICS`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::state::AppState;

/// Latency buckets (seconds): from a cached read to a slow login.
const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The process-wide recorder (installed once; several servers in one test process share it).
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("the bucket list is not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed; /metrics will be empty");
            }
            handle
        })
        .clone()
}

/// Requests recorded by [`track_http`] between two drains of the recorder's histograms.
const UPKEEP_EVERY: u64 = 1024;
static REQUESTS_RECORDED: AtomicU64 = AtomicU64::new(0);
static UPKEEPS: AtomicU64 = AtomicU64::new(0);

/// The recorder keeps every histogram sample until something drains it: a scrape, or its
/// upkeep. Without a scraper that was never, and memory grew with every request (issue 19:
/// 97 → 197 MiB in 3 minutes under load). So every [`UPKEEP_EVERY`] requests recorded drain
/// it: what it holds is bounded by requests, whether or not anyone scrapes.
fn upkeep_now_and_then() {
    if (REQUESTS_RECORDED.fetch_add(1, Ordering::Relaxed) + 1).is_multiple_of(UPKEEP_EVERY) {
        recorder().run_upkeep();
        UPKEEPS.fetch_add(1, Ordering::Relaxed);
    }
}

/// How many times the histograms were drained without a scrape (for tests).
pub fn upkeeps() -> u64 {
    UPKEEPS.load(Ordering::Relaxed)
}

/// Counts every request by method, route template (never the raw path: ids and tokens would
/// explode the label set) and status, with its latency.
pub async fn track_http(request: Request<Body>, next: Next) -> Response {
    let route =
        request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    // Methods are a closed set here: a client inventing methods must not invent series.
    let method = match request.method().as_str() {
        known @ ("GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => known,
        _ => "other",
    }
    .to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("gatehouse_http_requests_total", &labels).increment(1);
    metrics::histogram!("gatehouse_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    upkeep_now_and_then();
    response
}

/// A connection over `GATEHOUSE_MAX_CONNECTIONS` was refused.
pub fn connection_refused() {
    metrics::counter!("gatehouse_connections_refused_total").increment(1);
}

/// `GET /metrics`.
pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(scrape))
}

async fn scrape(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.metrics else { return StatusCode::NOT_FOUND.into_response() };
    // Gauges that are read rather than counted are refreshed at scrape time.
    state.core.operations().observe_gauges().await;
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render()).into_response()
}
