//! Graceful shutdown. On SIGTERM or Ctrl-C: `/readyz` turns 503, the listener stops accepting,
//! requests in flight finish (bounded by `GATEHOUSE_SHUTDOWN_TIMEOUT`), and mail still being
//! delivered is given the same time; whatever is not delivered by then stays in
//! `outbox/pending/`, so nothing accepted is lost.

use std::time::Instant;

use tokio::sync::watch;

/// Tells the server to stop; cloneable, so a test (or a second signal source) can trigger it.
#[derive(Clone, Debug)]
pub struct ShutdownTrigger(watch::Sender<Option<Instant>>);

impl Default for ShutdownTrigger {
    fn default() -> Self {
        Self(watch::channel(None).0)
    }
}

impl ShutdownTrigger {
    /// Begins shutdown (a second call changes nothing).
    pub fn trigger(&self) {
        self.0.send_if_modified(|at| at.is_none() && at.replace(Instant::now()).is_none());
    }

    /// Resolves once [`trigger`](Self::trigger) was called, with the moment it was.
    pub async fn triggered(&self) -> Instant {
        let mut receiver = self.0.subscribe();
        // The sender lives in `self`, so the channel cannot close while we wait.
        let began = receiver.wait_for(Option::is_some).await.ok().and_then(|at| *at);
        began.unwrap_or_else(Instant::now)
    }

    /// Triggers on SIGTERM or Ctrl-C.
    pub fn on_signals(&self) {
        let trigger = self.clone();
        tokio::spawn(async move {
            signal().await;
            tracing::info!("shutdown signal received");
            trigger.trigger();
        });
    }
}

async fn signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}
