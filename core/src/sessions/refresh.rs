//! Refresh: every exchange rotates the token; a reuse outside the grace rules revokes the
//! session.

use super::{Sessions, TokenPair, RESTART_GAP_SECS, RESTART_GRACE_SECS};
use crate::context::RequestContext;
use crate::error::CoreError;
use crate::store::audit::{self, EventKind};
use crate::store::sessions::{self, Session, SessionKind};

impl Sessions {
    /// Exchanges a refresh token for a new pair. Every refresh rotates the token. Presenting
    /// the token just replaced, within the grace interval of its rotation, returns the current
    /// pair (a retry after a lost response, or two refreshes racing); any other reuse of an
    /// old token is taken as theft: the whole session is revoked.
    pub async fn refresh(&self, refresh_token: &str, context: &RequestContext) -> Result<TokenPair, CoreError> {
        let result = self.rotate_refresh_token(refresh_token, context).await;
        crate::metrics::refresh(match &result {
            Ok((_, outcome)) => outcome,
            Err(_) => "refused",
        });
        result.map(|(pair, _)| pair)
    }

    /// The new pair, and whether it came from a rotation or the grace rule. The common case is
    /// one compare-and-set that rotates a live API session at the presented generation and
    /// returns it, written together with the other rotations queued at that moment (see
    /// [`crate::rotations`]); the user comes from the principal cache.
    async fn rotate_refresh_token(
        &self,
        refresh_token: &str,
        context: &RequestContext,
    ) -> Result<(TokenPair, &'static str), CoreError> {
        let (session_id, generation) = self.refresh.parse(refresh_token).ok_or(CoreError::Unauthenticated)?;
        let now = self.clock.now_secs();
        if let Some(session) = self.rotations.rotate(&session_id, generation, now).await? {
            let user = self.active_user(session.user_id).await?;
            return Ok((self.token_pair(&user, &session)?, "rotated"));
        }
        // Not the current generation, or the session is gone: the grace rule decides.
        let current = self.live_api_session(&session_id).await?;
        if current.refresh_generation == generation {
            // Still current, so the compare-and-set failed on the session's lifetime (it ended
            // between the two statements): not a reuse.
            return Err(CoreError::Unauthenticated);
        }
        self.within_grace(&current, generation, context).await?;
        let user = self.active_user(current.user_id).await?;
        Ok((self.token_pair(&user, &current)?, "grace"))
    }

    /// Whether a rotation at `rotated_at` may have had its answer lost to the end of the
    /// process that made it: committed before this process started (at most
    /// [`RESTART_GAP_SECS`] before), with `now` within [`RESTART_GRACE_SECS`] of the start.
    fn lost_in_a_restart(&self, rotated_at: Option<i64>, now: i64) -> bool {
        let started = self.started_at;
        rotated_at.is_some_and(|at| at < started && started - at <= RESTART_GAP_SECS)
            && now - started <= RESTART_GRACE_SECS
    }

    async fn live_api_session(&self, session_id: &str) -> Result<Session, CoreError> {
        sessions::find_active(&self.db, session_id)
            .await?
            .filter(|s| s.kind == SessionKind::Api)
            .ok_or(CoreError::Unauthenticated)
    }

    /// Accepts `presented` if it is the generation just before the session's current one and
    /// its answer may have been lost: the rotation happened within the grace interval, or it
    /// was committed before this process started (the process that made it died before
    /// answering, say) and the retry comes soon after the start. Otherwise revokes the session.
    async fn within_grace(&self, session: &Session, presented: i64, context: &RequestContext) -> Result<(), CoreError> {
        let grace = self.settings.refresh_reuse_grace.as_secs() as i64;
        let now = self.clock.now_secs();
        let recent = session.rotated_at.is_some_and(|at| now - at <= grace);
        if presented + 1 == session.refresh_generation && (recent || self.lost_in_a_restart(session.rotated_at, now)) {
            return Ok(());
        }
        if sessions::revoke(&self.db, &session.id, "refresh_reuse").await? {
            tracing::warn!(session = %session.id, "refresh token reuse detected; session revoked");
            crate::metrics::refresh_reuse_detected();
            audit::record(&self.db, Some(session.user_id), EventKind::RefreshReuseDetected, context, &session.id)
                .await?;
        }
        Err(CoreError::Unauthenticated)
    }
}
