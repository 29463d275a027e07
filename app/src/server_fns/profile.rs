//! The person's own pages: profile (and the email change), history, dashboard, and the
//! password strength meter. The rules are the core's; these functions parse, call and map.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProfileView {
    pub email: String,
    pub pending_email: Option<String>,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub country: String,
    pub profession: String,
    pub bio: String,
    pub thoughts: String,
    pub profile_img: String,
}

/// One row of a history table.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    pub kind: String,
    /// "Logged in", "Password changed", ...
    pub what: String,
    pub time: String,
    pub device: String,
    pub ip: String,
    pub detail: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryView {
    pub events: Vec<EventView>,
    pub page: u32,
    pub pages: u32,
    pub count: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DashboardView {
    pub user: super::UserSummary,
    pub two_factor_on: bool,
    pub active_sessions: usize,
    pub recent: Vec<EventView>,
}

pub use crate::strength::StrengthView;

#[server(prefix = "/_fn", endpoint = "profile")]
pub async fn profile() -> Result<ProfileView, AppError> {
    let principal = super::ssr::require_principal().await?;
    let pending_email = super::ssr::core()?.profiles().pending_email(&principal.user).await?;
    let u = principal.user;
    Ok(ProfileView {
        email: u.email,
        pending_email,
        username: u.username.unwrap_or_default(),
        first_name: u.first_name,
        last_name: u.last_name,
        country: u.country,
        profession: u.profession,
        bio: u.bio,
        thoughts: u.thoughts,
        profile_img: u.profile_img,
    })
}

#[allow(clippy::too_many_arguments)] // one argument per form field
#[server(prefix = "/_fn", endpoint = "update_profile")]
pub async fn update_profile(
    username: String,
    first_name: String,
    last_name: String,
    country: String,
    profession: String,
    bio: String,
    thoughts: String,
    profile_img: String,
) -> Result<(), AppError> {
    use gatehouse_core::domain::{ProfileChanges, RawProfile};
    let principal = super::ssr::require_principal().await?;
    let raw = RawProfile {
        first_name: Some(first_name),
        last_name: Some(last_name),
        country: Some(country),
        profession: Some(profession),
        bio: Some(bio),
        thoughts: Some(thoughts),
        profile_img: Some(profile_img),
        username: Some(Some(username)),
    };
    let changes = ProfileChanges::parse(raw)?;
    super::ssr::core()?.profiles().update_profile(&principal, &changes, &super::ssr::client()?).await?;
    leptos_axum::redirect("/profile?saved=1");
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "change_email")]
pub async fn change_email(email: String, current_password: String) -> Result<(), AppError> {
    use gatehouse_core::requests::EmailChange;
    let principal = super::ssr::require_principal().await?;
    let change = EmailChange::parse(&email, &current_password)?;
    super::ssr::core()?
        .profiles()
        .request_email_change(&principal, &change.email, &change.current_password, &super::ssr::client()?)
        .await?;
    leptos_axum::redirect("/profile?email_sent=1");
    Ok(())
}

/// Cancels the pending email change: the link sent to the new address stops working.
#[server(prefix = "/_fn", endpoint = "cancel_email_change")]
pub async fn cancel_email_change() -> Result<(), AppError> {
    let principal = super::ssr::require_principal().await?;
    super::ssr::core()?.profiles().cancel_email_change(&principal, &super::ssr::client()?).await?;
    leptos_axum::redirect("/profile?email_cancelled=1");
    Ok(())
}

/// The link mailed to a new address.
#[server(prefix = "/_fn", endpoint = "confirm_email")]
pub async fn confirm_email(uid: String, token: String) -> Result<(), AppError> {
    super::ssr::core()?.profiles().confirm_email_change(&uid, &token, &super::ssr::client()?).await?;
    let signed_in = super::ssr::principal().await?.is_some();
    leptos_axum::redirect(if signed_in { "/profile?email_changed=1" } else { "/login?email_changed=1" });
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "history")]
pub async fn history(page: u32) -> Result<HistoryView, AppError> {
    use gatehouse_core::paging::{PageRequest, DEFAULT_PAGE_SIZE};
    let principal = super::ssr::require_principal().await?;
    let request = PageRequest { page: page.max(1), page_size: DEFAULT_PAGE_SIZE };
    let page = super::ssr::core()?.audit().history(&principal, request).await?;
    Ok(ssr::history_view(page))
}

#[server(prefix = "/_fn", endpoint = "dashboard")]
pub async fn dashboard() -> Result<DashboardView, AppError> {
    use gatehouse_core::paging::PageRequest;
    let principal = super::ssr::require_principal().await?;
    let core = super::ssr::core()?;
    let two_factor_on = core.two_factor().has_second_factor(principal.user.id).await?;
    let active_sessions = core.sessions().list_sessions(&principal).await?.len();
    let recent = core.audit().history(&principal, PageRequest { page: 1, page_size: 5 }).await?;
    Ok(DashboardView {
        user: super::ssr::user_summary(&principal.user),
        two_factor_on,
        active_sessions,
        recent: ssr::history_view(recent).events,
    })
}

/// The meter, as the person types: the password never leaves the server's memory.
#[server(prefix = "/_fn", endpoint = "password_strength")]
pub async fn password_strength(password: String, email: String, username: String) -> Result<StrengthView, AppError> {
    let signed_in = super::ssr::principal().await?;
    let mut personal: Vec<String> = vec![email, username];
    if let Some(p) = &signed_in {
        personal.extend(p.user.personal_values().into_iter().map(str::to_string));
    }
    Ok(ssr::strength(&password, &personal))
}

#[cfg(feature = "ssr")]
pub mod ssr {
    use gatehouse_core::paging::Page;
    use gatehouse_core::store::audit::AuditEvent;

    use super::{EventView, HistoryView, StrengthView};
    use crate::error::AppError;

    pub fn history_view(page: Page<AuditEvent>) -> HistoryView {
        HistoryView {
            page: page.request.page,
            pages: page.pages(),
            count: page.count,
            events: page.results.into_iter().map(event_view).collect(),
        }
    }

    pub fn event_view(e: AuditEvent) -> EventView {
        EventView {
            what: describe_kind(&e.kind).to_string(),
            time: super::super::ssr::date(e.created_at),
            device: gatehouse_core::user_agent::describe(&e.user_agent),
            kind: e.kind,
            ip: e.ip,
            detail: e.detail,
        }
    }

    /// The history's words for each event kind.
    fn describe_kind(kind: &str) -> &str {
        match kind {
            "registered" => "Account created",
            "login_succeeded" => "Logged in",
            "login_failed" => "Failed login",
            "logout" => "Logged out",
            "logout_all" => "Logged out everywhere",
            "session_revoked" => "Session ended",
            "email_verified" => "Email confirmed",
            "verification_sent" => "Confirmation link sent",
            "refresh_reuse_detected" => "Stolen token detected; session ended",
            "password_changed" => "Password changed",
            "password_reset_requested" => "Password reset requested",
            "password_reset" => "Password reset",
            "account_deleted" => "Account deleted",
            "mfa_enrolled" => "Two-factor setup started",
            "mfa_confirmed" => "Two-factor authentication turned on",
            "mfa_removed" => "Two-factor authentication turned off",
            "mfa_failed" => "Wrong two-factor code",
            "recovery_codes_generated" => "New recovery codes",
            "recovery_code_used" => "Recovery code used",
            "profile_updated" => "Profile updated",
            "email_change_requested" => "Email change requested",
            "email_changed" => "Email changed",
            "email_change_cancelled" => "Email change cancelled",
            "admin_user_created" => "Account created by an admin",
            "admin_user_updated" => "Account changed by an admin",
            "admin_user_deleted" => "Account deleted by an admin",
            "admin_sessions_ended" => "Sessions ended by an admin",
            other => other,
        }
    }

    pub fn strength(password: &str, personal: &[String]) -> StrengthView {
        let personal: Vec<&str> = personal.iter().map(String::as_str).filter(|v| !v.is_empty()).collect();
        let s = gatehouse_core::password_strength::estimate(password, &personal);
        StrengthView { score: s.score, label: s.label, advice: s.advice }
    }

    /// A failed submit of a form with a new password also shows the meter's reading (for
    /// browsers without JavaScript): it travels with the error, as its `strength`.
    pub fn with_strength(error: AppError, password: &str, personal: &[String]) -> AppError {
        match error {
            AppError::Rejected { code, message, fields, strength: _ } => {
                AppError::Rejected { code, message, fields, strength: Some(Box::new(strength(password, personal))) }
            }
            other => other,
        }
    }
}
