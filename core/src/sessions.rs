//! Sessions: logging in and out, access and refresh tokens, and turning a presented credential (access token or browser session)
//! back into a [`Principal`].

mod principals;
mod refresh;

use std::sync::Arc;

use crate::background::Background;
use crate::budgets::Budgets;
use crate::clock::Clock;
use crate::config::Settings;
use crate::context::RequestContext;
use crate::db::Database;
use crate::devices::DeviceKeys;
use crate::error::CoreError;
use crate::notices::Notices;
use crate::passwords::{PasswordHasher, Verification};
use crate::principal::Principal;
use crate::principal_cache::PrincipalCache;
use crate::rotations::Rotations;
use crate::store::audit::{self, EventKind};
use crate::store::email_tokens::{self, Purpose};
use crate::store::login_streaks;
use crate::store::sessions::{self, NewSession, Session, SessionKind};
use crate::store::users::{self, LoginAccount, User};
use crate::throttle::{AttemptKeys, Throttle};
use crate::tokens::{JwtKeys, RefreshKeys};

pub use crate::requests::LoginAttempt;

/// The tokens an API login or refresh hands out.
#[derive(Clone, Debug)]
pub struct TokenPair {
    /// A JWT (HS256) to send as `Authorization: Bearer <access>`.
    pub access: String,
    /// Opaque; exchange it at `/api/v1/auth/token/refresh/` (every exchange rotates it).
    pub refresh: String,
    pub token_type: &'static str,
    /// Seconds until `access` expires.
    pub expires_in: i64,
    /// `aal1` (password) or `aal2` (second factor verified).
    pub aal: String,
    pub mfa_required: bool,
}

/// Whether the client can take a second step after the password.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SecondStep {
    /// It can: an account with two-factor authentication gets a session that owes it.
    Offered,
    /// It cannot (django_rest_jwt_auth, seeds 002 and 003): such an account is refused
    /// (`SecondFactorRequired`) and the half-open session closed at once, so the password
    /// alone never leaves a session behind.
    Refused,
}

#[derive(Clone, Debug)]
pub struct Login {
    pub user: User,
    pub session: Session,
    /// Present for API sessions; browser sessions live in a cookie instead.
    pub tokens: Option<TokenPair>,
    /// The device cookie to hand the client (see [`crate::devices`]).
    pub device_cookie: String,
}

/// Failed password logins in a row after which the owner is mailed (at most once a day).
pub const PASSWORD_FAILURE_NOTICE_AFTER: i64 = 20;

/// After a request found the database unreachable, how long the answers the principal cache
/// can give are given without trying the database first (then one request tries it again).
pub(crate) const OUTAGE_RECHECK: std::time::Duration = std::time::Duration::from_secs(1);

/// After a process starts, how long a retry of a refresh whose rotation an earlier process
/// committed is still answered with the committed pair (the client's retry after a crash and
/// restart), rather than taken as theft.
pub const RESTART_GRACE_SECS: i64 = 60;
/// How long before this process's start such a rotation may have been committed: a restart
/// slower than this, the client has given up and the retry is suspect again.
pub const RESTART_GAP_SECS: i64 = 600;

/// Logging in and out, the tokens, and the principal behind a presented credential.
#[derive(Clone)]
pub struct Sessions {
    pub(crate) db: Database,
    pub(crate) clock: Clock,
    pub(crate) settings: Arc<Settings>,
    pub(crate) hasher: PasswordHasher,
    pub(crate) jwt: JwtKeys,
    pub(crate) refresh: RefreshKeys,
    pub(crate) devices: DeviceKeys,
    /// Live principals by session id (see [`crate::principal_cache`]).
    pub(crate) principals: Arc<PrincipalCache>,
    /// Refresh-token rotations, written in groups (see [`crate::rotations`]).
    pub(crate) rotations: Arc<Rotations>,
    /// When this process's core started (Unix seconds, by its clock): rotations committed
    /// before it may have lost their answers to a crash (see [`RESTART_GRACE_SECS`]).
    pub(crate) started_at: i64,
    pub(crate) throttle: Throttle,
    pub(crate) budgets: Budgets,
    pub(crate) notices: Notices,
    pub(crate) background: Background,
}

impl Sessions {
    /// Checks the password and opens a session. Unknown accounts, wrong passwords and inactive
    /// accounts all get [`CoreError::InvalidCredentials`] after the same amount of hashing;
    /// repeated failures are throttled (see [`crate::throttle`]).
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        credentials: LoginAttempt,
        kind: SessionKind,
        second_step: SecondStep,
        context: &RequestContext,
    ) -> Result<Login, CoreError> {
        let login = self.password_login(credentials, kind, context).await?;
        if second_step == SecondStep::Refused && login.session.second_factor_pending {
            let principal = Principal { user: login.user, session: login.session };
            self.logout(&principal, context).await?;
            return Err(CoreError::SecondFactorRequired);
        }
        Ok(login)
    }

    async fn password_login(
        &self,
        credentials: LoginAttempt,
        kind: SessionKind,
        context: &RequestContext,
    ) -> Result<Login, CoreError> {
        let users::LoginLookup { account: found, legacy_bound } =
            users::find_for_login(&self.db.pool, credentials.identifier.as_ref()).await?;
        let now = self.clock.now_millis() / 1000;
        let device = found.as_ref().and_then(|account| {
            self.devices.recognise(context.device_cookie.as_deref(), account.user.id, &account.password_hash, now)
        });
        let keys = AttemptKeys::new(
            credentials.identifier.as_ref(),
            &credentials.raw_identifier,
            found.as_ref().map(|account| account.user.id),
            context,
            device.as_ref(),
        );
        if let Err(throttled) = self.throttle.take(&keys).await {
            crate::metrics::login("throttled");
            return Err(throttled);
        }
        let verification = self
            .hasher
            .verify(
                found.as_ref().map(|account| account.password_hash.as_str()),
                credentials.password.expose(),
                legacy_bound,
            )
            .await?;
        let (account, needs_rehash) = match (found, verification) {
            (Some(account), Verification::Match { needs_rehash }) if account.user.is_active => (account, needs_rehash),
            (found, _) => {
                crate::metrics::login("invalid_credentials");
                self.throttle.record_failure(&keys).await?;
                if let Some(account) = &found {
                    // Off the answer's path: an unknown account has no streak to count, and the
                    // answer must not take longer for an account that exists.
                    let (this, user) = (self.clone(), account.user.clone());
                    self.background
                        .spawn("counting a failed login", async move { this.count_password_failure(&user).await });
                }
                let user_id = found.map(|account| account.user.id);
                audit::record(&self.db, user_id, EventKind::LoginFailed, context, "").await?;
                return Err(CoreError::InvalidCredentials);
            }
        };
        let LoginAccount { user, password_hash: mut hash, has_reset_links, has_failure_streak } = account;
        self.throttle.clear(&keys).await?;
        if has_failure_streak {
            login_streaks::clear(&self.db, user.id).await?;
        }
        if self.settings.require_email_verification && !user.is_verified {
            crate::metrics::login("email_not_verified");
            return Err(CoreError::EmailNotVerified);
        }
        if needs_rehash {
            hash = self.hasher.hash(credentials.password.expose()).await?;
            let mut tx = self.db.begin().await?;
            users::set_password_hash(&mut tx, user.id, &hash).await?;
            tx.commit().await?;
        }
        // Logging in again retires any password reset link still in the mail (one sent while
        // this login was under way is left: it was asked for after the login began).
        if has_reset_links {
            email_tokens::retire_all(&self.db, user.id, Purpose::ResetPassword).await?;
        }
        crate::metrics::login("success");
        let device_cookie = self.devices.issue(user.id, &hash, now);
        self.open_session(user, kind, context, device_cookie).await
    }

    /// One more failed password login in a row for `user`: from the
    /// [`PASSWORD_FAILURE_NOTICE_AFTER`]th on, the owner is told someone is trying, at most
    /// once a day.
    async fn count_password_failure(&self, user: &User) -> Result<(), CoreError> {
        let failures = login_streaks::count_failure(&self.db, user.id).await?;
        if failures < PASSWORD_FAILURE_NOTICE_AFTER || !self.budgets.notice_allows("login-attempts", user.id).await? {
            return Ok(());
        }
        let extra = serde_json::json!({ "failures": failures, "link": self.notices.forgot_password_link() });
        self.notices.send_notice(user, "login_attempts", "Someone is trying to log in to your account", extra)
    }

    async fn open_session(
        &self,
        user: User,
        kind: SessionKind,
        context: &RequestContext,
        device_cookie: String,
    ) -> Result<Login, CoreError> {
        let session = sessions::insert(
            &self.db,
            NewSession {
                user_id: user.id,
                kind,
                aal: "aal1",
                amr: &["pwd"],
                lifetime_secs: self.settings.refresh_token_ttl.as_secs() as i64,
                context,
            },
        )
        .await?;
        users::touch_last_login(&self.db, user.id).await?;
        let kind_name = match kind {
            SessionKind::Api => "api",
            SessionKind::Browser => "browser",
        };
        audit::record(&self.db, Some(user.id), EventKind::LoginSucceeded, context, kind_name).await?;
        let tokens = match kind {
            SessionKind::Api => Some(self.token_pair(&user, &session)?),
            SessionKind::Browser => None,
        };
        Ok(Login { user, session, tokens, device_cookie })
    }

    /// An access token for a login made with [`SecondStep::Refused`] by a client that keeps
    /// only an access token and renews it by presenting it (django_rest_jwt_auth, seed 002):
    /// the token carries `orig_iat`, the time of this sign-in, which
    /// [`Sessions::renew_access_token`] requires and keeps.
    pub fn renewable_access_token(&self, login: &Login) -> Result<String, CoreError> {
        self.issue_access_token(&login.user, &login.session, Some(self.clock.now_secs()))
    }

    /// A new token for the session of `token`, which must be one that
    /// [`Sessions::renewable_access_token`] (or this) issued and be live, with the same `orig_iat`:
    /// renewal ends `compat_rest_jwt_auth_refresh_limit` after the sign-in. A token of
    /// another surface is refused, so it cannot be kept alive past its own expiry this way
    /// (those surfaces renew with refresh tokens, whose reuse is detected).
    pub async fn renew_access_token(&self, token: &str) -> Result<String, CoreError> {
        let claims = self.jwt.verify(token, self.clock.now_secs()).ok_or(CoreError::Unauthenticated)?;
        let signed_in_at = claims.orig_iat.ok_or(CoreError::Unauthenticated)?;
        let limit = self.settings.compat_rest_jwt_auth_refresh_limit.as_secs() as i64;
        if self.clock.now_secs().saturating_sub(signed_in_at) > limit {
            return Err(CoreError::Unauthenticated);
        }
        let principal = self.principal_of_claims(&claims).await?.completed()?;
        self.issue_access_token(&principal.user, &principal.session, Some(signed_in_at))
    }

    fn access_token(&self, user: &User, session: &Session) -> Result<String, CoreError> {
        self.issue_access_token(user, session, None)
    }

    fn issue_access_token(&self, user: &User, session: &Session, orig_iat: Option<i64>) -> Result<String, CoreError> {
        let ttl = self.settings.access_token_ttl.as_secs() as i64;
        let (access, _) = self
            .jwt
            .issue(user, session, self.clock.now_secs(), ttl, orig_iat)
            .map_err(|e| CoreError::internal("signing a token", e))?;
        Ok(access)
    }

    /// A new access token, with the session's current refresh token.
    pub(crate) fn token_pair(&self, user: &User, session: &Session) -> Result<TokenPair, CoreError> {
        Ok(TokenPair {
            access: self.access_token(user, session)?,
            refresh: self.refresh.issue(&session.id, session.refresh_generation),
            token_type: "Bearer",
            expires_in: self.settings.access_token_ttl.as_secs() as i64,
            aal: session.aal.clone(),
            mfa_required: session.second_factor_pending,
        })
    }

    /// Ends the caller's own session (and so every access token issued for it).
    pub async fn logout(&self, principal: &Principal, context: &RequestContext) -> Result<(), CoreError> {
        self.end_session(principal, &principal.session.id, context).await
    }

    /// Ends the session a refresh token belongs to, which must be one of the caller's.
    pub async fn logout_refresh_token(
        &self,
        principal: &Principal,
        refresh_token: &str,
        context: &RequestContext,
    ) -> Result<(), CoreError> {
        let invalid = || CoreError::field("refresh", "Token is invalid or expired.");
        let (session_id, _) = self.refresh.parse(refresh_token).ok_or_else(invalid)?;
        let session = sessions::find_active(&self.db, &session_id).await?.ok_or_else(invalid)?;
        if session.user_id != principal.user.id {
            return Err(invalid());
        }
        self.end_session(principal, &session.id, context).await
    }

    /// Ends one of the caller's sessions by id ("your sessions" → revoke).
    pub async fn revoke_session(
        &self,
        principal: &Principal,
        session_id: &str,
        context: &RequestContext,
    ) -> Result<(), CoreError> {
        if uuid::Uuid::parse_str(session_id).is_err() {
            return Err(CoreError::NotFound);
        }
        match sessions::find_active(&self.db, session_id).await? {
            Some(session) if session.user_id == principal.user.id => {
                self.end_session(principal, session_id, context).await
            }
            _ => Err(CoreError::NotFound),
        }
    }

    async fn end_session(
        &self,
        principal: &Principal,
        session_id: &str,
        context: &RequestContext,
    ) -> Result<(), CoreError> {
        // Ending the session you are using is logging out; ending another one is revoking it.
        let (reason, kind) = if session_id == principal.session.id {
            ("logout", EventKind::Logout)
        } else {
            ("revoked", EventKind::SessionRevoked)
        };
        if sessions::revoke(&self.db, session_id, reason).await? {
            audit::record(&self.db, Some(principal.user.id), kind, context, session_id).await?;
        }
        Ok(())
    }

    /// Ends every session of the caller, and with them every access token already issued, and
    /// retires every link mailed for the account.
    pub async fn logout_all(&self, principal: &Principal, context: &RequestContext) -> Result<u64, CoreError> {
        let mut tx = self.db.begin().await?;
        let ended = sessions::revoke_all_for_user(&mut tx, principal.user.id, None, "logout_all").await?;
        // Someone who had a session may have had links mailed too (an email change above all).
        email_tokens::retire_every_purpose(&mut tx, principal.user.id).await?;
        tx.commit().await?;
        let detail = format!("{ended} sessions");
        audit::record(&self.db, Some(principal.user.id), EventKind::LogoutAll, context, &detail).await?;
        Ok(ended)
    }

    /// The caller's live sessions, most recently used first.
    pub async fn list_sessions(&self, principal: &Principal) -> Result<Vec<Session>, CoreError> {
        sessions::list_active_for_user(&self.db, principal.user.id).await
    }

    /// Ends every other session of the caller and takes this one back to the password alone
    /// (aal1, naming no device), with new tokens; the old ones stop working. After the second
    /// factor was turned off, django-otp SPA clients expect exactly this of "delete device"
    /// (their old per-user JWT secret was rotated).
    pub async fn restart_with_password_only(&self, principal: &Principal) -> Result<TokenPair, CoreError> {
        let user = principal.user.id;
        let mut tx = self.db.begin().await?;
        sessions::revoke_all_for_user(&mut tx, user, Some(&principal.session.id), "mfa_removed").await?;
        tx.commit().await?;
        sessions::reset_to_password_only(&self.db, &principal.session.id).await?;
        let session =
            sessions::find_active(&self.db, &principal.session.id).await?.ok_or(CoreError::Unauthenticated)?;
        self.token_pair(&principal.user, &session)
    }
}
