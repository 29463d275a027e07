//! Logging in and out, and turning a presented credential (access token or browser session)
//! back into a [`Principal`].

use serde::Serialize;

use crate::context::RequestContext;
use crate::domain::{LoginIdentifier, PasswordAttempt};
use crate::error::{CoreError, FieldErrorsBuilder};
use crate::passwords::Verification;
use crate::store::audit::{self, EventKind};
use crate::store::sessions::{self, NewSession, Session, SessionKind};
use crate::store::users::{self, User};
use crate::tokens::{random_token, token_hash};
use crate::Gatehouse;

/// A login attempt. A malformed identifier is kept as `None`: it cannot match an account, and
/// it must be answered exactly like an unknown one.
#[derive(Debug)]
pub struct Credentials {
    pub identifier: Option<LoginIdentifier>,
    pub password: PasswordAttempt,
}

impl Credentials {
    pub fn parse(identifier: &str, password: &str) -> Result<Self, CoreError> {
        let mut errors = FieldErrorsBuilder::default();
        if identifier.trim().is_empty() {
            errors.add("username", "This field may not be blank.");
        }
        let password = errors.check("password", PasswordAttempt::parse(password));
        errors.finish()?;
        Ok(Self { identifier: LoginIdentifier::parse(identifier).ok(), password: password.unwrap() })
    }
}

/// The tokens an API login or refresh hands out.
#[derive(Clone, Debug, Serialize)]
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub aal: String,
    pub mfa_required: bool,
}

#[derive(Clone, Debug)]
pub struct Login {
    pub user: User,
    pub session: Session,
    /// Present for API sessions; browser sessions live in a cookie instead.
    pub tokens: Option<TokenPair>,
}

/// Who is calling, established from a live session.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: User,
    pub session: Session,
}

impl Gatehouse {
    /// Checks the password and opens a session. Unknown accounts, wrong passwords and inactive
    /// accounts all get [`CoreError::InvalidCredentials`] after the same amount of hashing.
    #[tracing::instrument(skip_all)]
    pub async fn login(&self, credentials: Credentials, kind: SessionKind, context: &RequestContext) -> Result<Login, CoreError> {
        let found = match &credentials.identifier {
            Some(identifier) => users::find_for_login(self.pool(), identifier).await?,
            None => None,
        };
        let verification = self.0.hasher.verify(found.as_ref().map(|(_, hash)| hash.as_str()), credentials.password.expose()).await?;
        let (user, needs_rehash) = match (found, verification) {
            (Some((user, _)), Verification::Match { needs_rehash }) if user.is_active => (user, needs_rehash),
            (found, _) => {
                audit::record(self.pool(), found.map(|(u, _)| u.id), EventKind::LoginFailed, context, "").await?;
                return Err(CoreError::InvalidCredentials);
            }
        };
        if self.settings().require_email_verification && !user.is_verified {
            return Err(CoreError::EmailNotVerified);
        }
        if needs_rehash {
            let hash = self.0.hasher.hash(credentials.password.expose()).await?;
            users::set_password_hash(self.pool(), user.id, &hash).await?;
        }
        self.open_session(user, kind, context).await
    }

    async fn open_session(&self, user: User, kind: SessionKind, context: &RequestContext) -> Result<Login, CoreError> {
        let refresh = (kind == SessionKind::Api).then(random_token);
        let refresh_hash = refresh.as_deref().map(token_hash);
        let session = sessions::insert(
            self.pool(),
            NewSession {
                user_id: user.id,
                kind,
                refresh_hash: refresh_hash.as_deref(),
                aal: "aal1",
                amr: &["pwd"],
                lifetime_secs: self.settings().refresh_token_ttl.as_secs() as i64,
                context,
            },
        )
        .await?;
        users::touch_last_login(self.pool(), user.id).await?;
        audit::record(self.pool(), Some(user.id), EventKind::LoginSucceeded, context, session_kind_name(kind)).await?;
        let tokens = match refresh {
            Some(refresh) => Some(self.token_pair(&user, &session, refresh)?),
            None => None,
        };
        Ok(Login { user, session, tokens })
    }

    fn token_pair(&self, user: &User, session: &Session, refresh: String) -> Result<TokenPair, CoreError> {
        let ttl = self.settings().access_token_ttl.as_secs() as i64;
        let (access, _) = self.0.jwt.issue(user, session, ttl).map_err(|e| CoreError::internal("signing a token", e))?;
        Ok(TokenPair {
            access,
            refresh,
            token_type: "Bearer",
            expires_in: ttl,
            aal: session.aal.clone(),
            mfa_required: false,
        })
    }

    /// The principal behind an access token: valid signature and expiry, AND a session that is
    /// still alive, AND an active user. Checked on every request, so revocation is immediate.
    pub async fn authenticate_access_token(&self, token: &str) -> Result<Principal, CoreError> {
        let claims = self.0.jwt.verify(token).ok_or(CoreError::Unauthenticated)?;
        let principal = self.authenticate_session(&claims.sid).await?;
        if principal.user.id.0 != claims.user_id {
            return Err(CoreError::Unauthenticated);
        }
        Ok(principal)
    }

    /// The principal behind a session id (the web app keeps it in the cookie session).
    pub async fn authenticate_session(&self, session_id: &str) -> Result<Principal, CoreError> {
        let session = sessions::find_active(self.pool(), session_id).await?.ok_or(CoreError::Unauthenticated)?;
        let user = users::find(self.pool(), session.user_id).await?.ok_or(CoreError::Unauthenticated)?;
        if !user.is_active {
            return Err(CoreError::Unauthenticated);
        }
        sessions::touch(self.pool(), &session).await?;
        Ok(Principal { user, session })
    }

    /// Ends one session (and so every access token issued for it).
    pub async fn logout(&self, principal: &Principal, context: &RequestContext) -> Result<(), CoreError> {
        if sessions::revoke(self.pool(), &principal.session.id, "logout").await? {
            audit::record(self.pool(), Some(principal.user.id), EventKind::Logout, context, session_kind_name(principal.session.kind))
                .await?;
        }
        Ok(())
    }
}

fn session_kind_name(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Api => "api",
        SessionKind::Browser => "browser",
    }
}
