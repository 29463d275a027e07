//! What the core reports about itself, through the `metrics` facade. The server installs a
//! Prometheus recorder and serves it at `/metrics`; without a recorder these calls do nothing.
//! Names follow Prometheus conventions (`_total` counters, `_seconds` histograms).

use std::time::Duration;

use metrics::{counter, gauge, histogram};

/// Login attempts by outcome: `success`, `invalid_credentials`, `email_not_verified`,
/// `throttled`.
pub fn login(outcome: &'static str) {
    counter!("gatehouse_logins_total", "outcome" => outcome).increment(1);
}

/// Refresh-token exchanges by outcome: `rotated`, `grace` (the just-replaced token presented
/// again within the grace interval) or `refused` (invalid, expired, revoked, or reuse).
pub fn refresh(outcome: &'static str) {
    counter!("gatehouse_refreshes_total", "outcome" => outcome).increment(1);
}

/// Refresh tokens replayed after rotation: the session was revoked as stolen.
pub fn refresh_reuse_detected() {
    counter!("gatehouse_refresh_reuse_detected_total").increment(1);
}

/// Attempts refused with 429 because a throttle key was blocked.
pub fn throttled() {
    counter!("gatehouse_throttled_attempts_total").increment(1);
}

/// Mails not sent because their recipient had its hourly share of that kind.
pub fn mail_suppressed(kind: &'static str) {
    counter!("gatehouse_mail_suppressed_total", "kind" => kind).increment(1);
}

/// Mails whose outbox file (`outbox/pending/`, or the outbox without SMTP) could not be
/// written: they were delivered without it.
pub fn mail_outbox_write_failure() {
    counter!("gatehouse_mail_outbox_write_failures_total").increment(1);
}

/// Mails waiting in `outbox/pending/` for their next attempt, and given up in `outbox/failed/`.
pub fn mail_queue(pending: usize, failed: usize) {
    gauge!("gatehouse_mail_pending").set(pending as f64);
    gauge!("gatehouse_mail_failed").set(failed as f64);
}

/// Password hashes waiting for a free hashing slot (the bounded pool), up or down by one.
pub fn hash_queue(change: f64) {
    gauge!("gatehouse_password_hash_queue").increment(change);
}

/// How long one hash or verification took on the blocking pool, and how long it waited.
pub fn hash_time(operation: &'static str, waited: Duration, worked: Duration) {
    histogram!("gatehouse_password_hash_wait_seconds", "operation" => operation).record(waited.as_secs_f64());
    histogram!("gatehouse_password_hash_seconds", "operation" => operation).record(worked.as_secs_f64());
}

/// Browser and API sessions that are alive (not revoked, not expired).
pub fn sessions_alive(count: i64) {
    gauge!("gatehouse_sessions_alive").set(count as f64);
}

/// Database connections of the pool: in use and idle.
pub fn database_pool(in_use: usize, idle: usize) {
    gauge!("gatehouse_db_pool_connections", "state" => "in_use").set(in_use as f64);
    gauge!("gatehouse_db_pool_connections", "state" => "idle").set(idle as f64);
}
