//! Graceful shutdown. On SIGTERM or Ctrl-C: `/readyz` turns 503, the listener stops accepting,
//! requests in flight finish (bounded by `GATEHOUSE_SHUTDOWN_TIMEOUT`), and mail still being
//! delivered is given the same time; whatever is not delivered by then stays in
//! `outbox/pending/`, so nothing accepted is lost.

use tokio::sync::watch;

/// Tells the server to stop; cloneable, so a test (or a second signal source) can trigger it.
#[derive(Clone, Debug)]
pub struct ShutdownTrigger(watch::Sender<bool>);

impl Default for ShutdownTrigger {
    fn default() -> Self {
        Self(watch::channel(false).0)
    }
}

impl ShutdownTrigger {
    pub fn trigger(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once [`trigger`](Self::trigger) was called.
    pub async fn triggered(&self) {
        let mut receiver = self.0.subscribe();
        let _ = receiver.wait_for(|stop| *stop).await;
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
