//! The web app's server functions. Each one parses its form, calls the core, and maps the
//! result; the rules live in `gatehouse-core`.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

mod admin;
mod profile;
mod two_factor;
pub use admin::*;
pub use profile::*;
pub use two_factor::*;

/// The page where a person whose account has two-factor authentication completes logging in.
pub const SECOND_STEP_PATH: &str = "/login/two-factor";

/// What the pages need to know about the signed-in user.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: i64,
    pub email: String,
    pub username: Option<String>,
    pub is_verified: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: String,
    pub last_login: Option<String>,
}

#[server(prefix = "/_fn", endpoint = "register")]
pub async fn register(email: String, username: Option<String>, password: String) -> Result<(), AppError> {
    use gatehouse_core::accounts::Registration;
    let core = ssr::core()?;
    let personal = [email.clone(), username.clone().unwrap_or_default()];
    let with_strength = |e: gatehouse_core::CoreError| profile::ssr::with_strength(e.into(), &password, &personal);
    let registration = Registration::parse(&email, username.as_deref(), &password, core.credentials().policy())
        .map_err(with_strength)?;
    let user = core
        .accounts()
        .register(registration, &ssr::client()?, gatehouse_core::links::LinkPage::Own)
        .await
        .map_err(with_strength)?;
    if user.is_verified {
        leptos_axum::redirect("/login?registered=1");
    } else {
        leptos_axum::redirect("/check-email");
    }
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "resend_verification")]
pub async fn resend_verification(email: String) -> Result<String, AppError> {
    use gatehouse_core::requests::EmailRequest;
    let core = ssr::core()?;
    let request = EmailRequest::parse(&email)?;
    core.accounts().resend_verification(&request.email, &ssr::client()?, gatehouse_core::links::LinkPage::Own).await?;
    leptos_axum::redirect("/check-email?resent=1");
    Ok("If this address belongs to an unconfirmed account, a new link is on its way.".into())
}

#[server(prefix = "/_fn", endpoint = "verify_email")]
pub async fn verify_email(uid: String, token: String) -> Result<(), AppError> {
    let core = ssr::core()?;
    core.accounts().verify_email(&uid, &token, &ssr::client()?).await?;
    leptos_axum::redirect("/login?verified=1");
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "login")]
pub async fn login(username: String, password: String) -> Result<(), AppError> {
    use gatehouse_core::requests::LoginAttempt;
    use gatehouse_core::sessions::SecondStep;
    use gatehouse_core::SessionKind;
    let core = ssr::core()?;
    let credentials = LoginAttempt::parse(&username, &password)?;
    let login = core.sessions().login(credentials, SessionKind::Browser, SecondStep::Offered, &ssr::client()?).await?;
    ssr::start_browser_session(&login.session.id).await?;
    ssr::remember_device(&login.device_cookie, core.settings().secure_cookies());
    if login.session.second_factor_pending {
        leptos_axum::redirect(SECOND_STEP_PATH);
        return Ok(());
    }
    leptos_axum::redirect("/dashboard");
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "logout")]
pub async fn logout() -> Result<(), AppError> {
    let core = ssr::core()?;
    // Also a session still waiting for its second factor ("cancel" on the second step).
    if let Some(principal) = ssr::session_principal().await? {
        core.sessions().logout(&principal, &ssr::client()?).await?;
    }
    ssr::end_browser_session().await?;
    leptos_axum::redirect("/");
    Ok(())
}

/// The signed-in user, or `None`.
#[server(prefix = "/_fn", endpoint = "current_user")]
pub async fn current_user() -> Result<Option<UserSummary>, AppError> {
    Ok(ssr::principal().await?.map(|p| ssr::user_summary(&p.user)))
}

/// One row of "your sessions".
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionSummary {
    pub id: String,
    pub browser: bool,
    pub current: bool,
    pub ip: String,
    pub user_agent: String,
    /// "Firefox on Linux".
    pub device: String,
    pub created: String,
    pub last_used: String,
}

/// The signed-in user's live sessions, browser and API alike.
#[server(prefix = "/_fn", endpoint = "sessions")]
pub async fn list_sessions() -> Result<Vec<SessionSummary>, AppError> {
    let principal = ssr::require_principal().await?;
    let sessions = ssr::core()?.sessions().list_sessions(&principal).await?;
    Ok(sessions.into_iter().map(|s| ssr::session_summary(s, &principal.session.id)).collect())
}

#[server(prefix = "/_fn", endpoint = "revoke_session")]
pub async fn revoke_session(id: String) -> Result<(), AppError> {
    let principal = ssr::require_principal().await?;
    ssr::core()?.sessions().revoke_session(&principal, &id, &ssr::client()?).await?;
    if id == principal.session.id {
        ssr::end_browser_session().await?;
        leptos_axum::redirect("/login");
    } else {
        leptos_axum::redirect("/security?revoked=1");
    }
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "logout_everywhere")]
pub async fn logout_everywhere() -> Result<(), AppError> {
    let principal = ssr::require_principal().await?;
    ssr::core()?.sessions().logout_all(&principal, &ssr::client()?).await?;
    ssr::end_browser_session().await?;
    leptos_axum::redirect("/login?signed_out=everywhere");
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "change_password")]
pub async fn change_password(current_password: String, new_password: String) -> Result<(), AppError> {
    use gatehouse_core::credentials::PasswordChange;
    let principal = ssr::require_principal().await?;
    let core = ssr::core()?;
    let personal: Vec<String> = principal.user.personal_values().into_iter().map(str::to_string).collect();
    let with_strength = |e: gatehouse_core::CoreError| profile::ssr::with_strength(e.into(), &new_password, &personal);
    let change = PasswordChange::parse(&principal.user, core.credentials().policy(), &current_password, &new_password)
        .map_err(with_strength)?;
    core.credentials().change_password(&principal, &change, &ssr::client()?).await.map_err(with_strength)?;
    leptos_axum::redirect("/security?password_changed=1");
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "delete_account")]
pub async fn delete_account(current_password: String) -> Result<(), AppError> {
    use gatehouse_core::requests::CurrentPassword;
    let principal = ssr::require_principal().await?;
    let request = CurrentPassword::parse(&current_password)?;
    ssr::core()?.accounts().delete_account(&principal, &request.password, &ssr::client()?).await?;
    ssr::end_browser_session().await?;
    leptos_axum::redirect("/?account_deleted=1");
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "forgot_password")]
pub async fn forgot_password(email: String) -> Result<(), AppError> {
    use gatehouse_core::requests::EmailRequest;
    let request = EmailRequest::parse(&email)?;
    ssr::core()?
        .credentials()
        .request_password_reset(&request.email, &ssr::client()?, gatehouse_core::links::LinkPage::Own)
        .await?;
    leptos_axum::redirect("/forgot-password?sent=1");
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "reset_password")]
pub async fn reset_password(uid: String, token: String, new_password: String) -> Result<(), AppError> {
    ssr::core()?
        .credentials()
        .confirm_password_reset(&uid, &token, &new_password, &ssr::client()?)
        .await
        .map_err(|e| profile::ssr::with_strength(e.into(), &new_password, &[]))?;
    leptos_axum::redirect("/login?password_reset=1");
    Ok(())
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Server-side plumbing shared by the server functions: the core handle, the caller's
    //! context and the cookie session.

    use gatehouse_core::Principal;
    use gatehouse_core::{CoreError, Gatehouse, RequestContext, User};
    use tower_sessions::Session;

    use super::UserSummary;
    use crate::error::AppError;

    /// The key under which the cookie session remembers which Gatehouse session it is.
    const SESSION_KEY: &str = "gatehouse.sid";

    pub fn core() -> Result<Gatehouse, AppError> {
        leptos::prelude::use_context::<Gatehouse>()
            .ok_or_else(|| AppError::Transport("the core is not available".into()))
    }

    /// The caller's context, which the server puts into every request's extensions. Required,
    /// as the API's extractor requires it: a default one would have no client address, and
    /// with it no per-address throttling or budgets.
    pub fn client() -> Result<RequestContext, AppError> {
        leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<RequestContext>().cloned())
            .ok_or_else(|| AppError::Transport("the request context is not available".into()))
    }

    /// How the server writes the device cookie's `Set-Cookie` value (`value`, `secure`):
    /// cookies are the server's to format (`server/src/cookies.rs`), and it provides this with
    /// the core.
    #[derive(Clone, Copy)]
    pub struct DeviceCookieHeader(pub fn(&str, bool) -> String);

    /// Hands the browser its device cookie (see `gatehouse_core::devices`).
    pub fn remember_device(value: &str, secure: bool) {
        let Some(DeviceCookieHeader(format)) = leptos::prelude::use_context::<DeviceCookieHeader>() else {
            tracing::error!("the device cookie's format is not in the context: no device cookie handed out");
            return;
        };
        if let (Some(response), Ok(header)) = (
            leptos::prelude::use_context::<leptos_axum::ResponseOptions>(),
            axum::http::HeaderValue::from_str(&format(value, secure)),
        ) {
            response.append_header(axum::http::header::SET_COOKIE, header);
        }
    }

    async fn cookie_session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>().await.map_err(|e| AppError::Transport(e.to_string()))
    }

    /// Remembers the login in the cookie session, under a fresh cookie id (no fixation).
    pub async fn start_browser_session(session_id: &str) -> Result<(), AppError> {
        let session = cookie_session().await?;
        session.cycle_id().await.map_err(store_error)?;
        session.insert(SESSION_KEY, session_id).await.map_err(store_error)?;
        Ok(())
    }

    pub async fn end_browser_session() -> Result<(), AppError> {
        cookie_session().await?.flush().await.map_err(store_error)
    }

    /// The signed-in principal, or "please log in".
    pub async fn require_principal() -> Result<Principal, AppError> {
        principal().await?.ok_or_else(|| CoreError::Unauthenticated.into())
    }

    /// The signed-in principal, if the cookie names a session that is still alive and has
    /// completed logging in (a session that still owes its second factor is not signed in).
    pub async fn principal() -> Result<Option<Principal>, AppError> {
        Ok(session_principal().await?.and_then(|p| p.completed().ok()))
    }

    /// The principal of a session that has passed the password step but still owes its
    /// second factor.
    pub async fn second_step_principal() -> Result<Option<Principal>, AppError> {
        Ok(session_principal().await?.filter(|p| p.session.second_factor_pending))
    }

    /// The principal of a page request, looked up once by the server's page guard and kept
    /// in the request's extensions, so that the header, the page and every resource of one
    /// render do not each go back to the database.
    #[derive(Clone)]
    pub struct RequestPrincipal(pub Option<Principal>);

    /// The principal of the cookie's session, whether or not it completed logging in.
    pub async fn session_principal() -> Result<Option<Principal>, AppError> {
        let known = leptos::prelude::use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<RequestPrincipal>().cloned());
        match known {
            Some(RequestPrincipal(principal)) => Ok(principal),
            None => principal_of(&cookie_session().await?, &core()?).await,
        }
    }

    /// The principal of the session a cookie session names, if that session is still alive.
    /// Also used outside server functions (the server's page guard).
    pub async fn principal_of(session: &Session, core: &Gatehouse) -> Result<Option<Principal>, AppError> {
        let Some(session_id) = session.get::<String>(SESSION_KEY).await.map_err(store_error)? else {
            return Ok(None);
        };
        match core.sessions().authenticate_session(&session_id).await {
            Ok(principal) => Ok(Some(principal)),
            Err(CoreError::Unauthenticated) => {
                // Revoked elsewhere (log out everywhere, password change): forget it here too.
                session.flush().await.map_err(store_error)?;
                Ok(None)
            }
            Err(other) => Err(other.into()),
        }
    }

    /// Keeps a value for the next page in the cookie session (e.g. new recovery codes, shown
    /// once by the page a form post redirects to).
    pub async fn keep_for_next_page(key: &str, value: String) -> Result<(), AppError> {
        cookie_session().await?.insert(key, value).await.map_err(store_error)
    }

    /// Takes back what [`keep_for_next_page`] kept: it is gone from the session afterwards.
    pub async fn take_from_session(key: &str) -> Result<Option<String>, AppError> {
        cookie_session().await?.remove::<String>(key).await.map_err(store_error)
    }

    pub fn session_summary(s: gatehouse_core::Session, current_id: &str) -> super::SessionSummary {
        super::SessionSummary {
            current: s.id == current_id,
            browser: s.kind == gatehouse_core::SessionKind::Browser,
            created: date(s.created_at),
            last_used: date(s.last_used_at),
            device: gatehouse_core::user_agent::describe(&s.user_agent),
            id: s.id,
            ip: s.ip,
            user_agent: s.user_agent,
        }
    }

    pub fn user_summary(user: &User) -> UserSummary {
        UserSummary {
            id: user.id.0,
            email: user.email.clone(),
            username: user.username.clone(),
            is_verified: user.is_verified,
            is_staff: user.is_staff || user.is_superuser,
            is_superuser: user.is_superuser,
            date_joined: date(user.date_joined),
            last_login: user.last_login.map(date),
        }
    }

    /// "2026-11-24 10:30 UTC": readable, and the same on every server.
    pub fn date(unix: i64) -> String {
        let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
        time::OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&format).ok()).unwrap_or_default()
    }

    fn store_error(e: tower_sessions::session::Error) -> AppError {
        AppError::from(CoreError::internal("cookie session store", e))
    }
}
