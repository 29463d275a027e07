//! Work that outlives the request that started it: mail, and work whose outcome the caller
//! must not learn, even from the response time (answers that would otherwise tell whether an
//! address has an account).

use std::future::Future;

use tracing::Instrument;

use crate::error::CoreError;

/// The tracker every piece of background work is spawned on, so that shutdown can wait for it.
#[derive(Clone, Default)]
pub struct Background(tokio_util::task::TaskTracker);

impl Background {
    pub fn new() -> Self {
        Self::default()
    }

    /// The tracker itself, for the mailer's deliveries.
    pub(crate) fn tracker(&self) -> tokio_util::task::TaskTracker {
        self.0.clone()
    }

    /// Runs `work` in the current span; a failure is logged as `what` failing.
    pub(crate) fn spawn<F>(&self, what: &'static str, work: F)
    where
        F: Future<Output = Result<(), CoreError>> + Send + 'static,
    {
        let task = async move {
            if let Err(error) = work.await {
                tracing::error!(%error, "{what} failed");
            }
        };
        // Tracked, so shutdown waits for it: a request answered 202 has its mail sent.
        self.0.spawn(task.instrument(tracing::Span::current()));
    }

    /// At shutdown: waits up to `timeout` for the work still running. Returns whether
    /// everything finished.
    pub(crate) async fn drain(&self, timeout: std::time::Duration) -> bool {
        self.0.close();
        let finished = tokio::time::timeout(timeout, self.0.wait()).await.is_ok();
        if !finished {
            tracing::warn!(
                unfinished = self.0.len(),
                "background work still running at shutdown was cut off; undelivered mail stays in outbox/pending"
            );
        }
        finished
    }
}
