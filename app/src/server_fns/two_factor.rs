//! Two-factor authentication in the browser: the second step of logging in, and setting up,
//! regenerating and removing the second factor from the Security page. The rules are the
//! core's (`gatehouse_core::two_factor`); these functions parse, call and redirect.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Where the Security page's two-factor card stands.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TwoFactorSummary {
    pub enabled: bool,
    pub enabled_since: Option<String>,
    /// A device was enrolled but not confirmed yet: the setup page can be resumed.
    pub setup_pending: bool,
    pub recovery_codes_left: i64,
}

/// What the setup page shows: the QR code to scan, or the secret to type.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TotpSetupView {
    pub qr_svg: String,
    /// The base32 secret in groups of four, for typing.
    pub secret_groups: Vec<String>,
    pub otpauth_url: String,
}

/// Who is on the second-step page: someone who owes a second factor, someone already signed
/// in, or nobody.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum SecondStepState {
    Pending,
    SignedIn,
    Anonymous,
}

/// The session key of recovery codes waiting for the page that shows them once.
#[cfg(feature = "ssr")]
const NEW_RECOVERY_CODES: &str = "gatehouse.new_recovery_codes";

#[server(prefix = "/_fn", endpoint = "second_step")]
pub async fn second_step() -> Result<SecondStepState, AppError> {
    Ok(match super::ssr::session_principal().await? {
        Some(p) if p.session.second_factor_pending => SecondStepState::Pending,
        Some(_) => SecondStepState::SignedIn,
        None => SecondStepState::Anonymous,
    })
}

/// The second step of logging in with the authenticator app's code.
#[server(prefix = "/_fn", endpoint = "verify_second_factor")]
pub async fn verify_second_factor(code: String) -> Result<(), AppError> {
    use gatehouse_core::requests::TotpRequest;
    let principal = pending_principal().await?;
    let request = TotpRequest::parse(&code)?;
    super::ssr::core()?.two_factor().verify_totp(&principal, &request.code, &super::ssr::client()?).await?;
    signed_in(&principal.session.id).await
}

/// The second step of logging in with a recovery code instead.
#[server(prefix = "/_fn", endpoint = "use_recovery_code")]
pub async fn use_recovery_code(code: String) -> Result<(), AppError> {
    use gatehouse_core::requests::RecoveryRequest;
    let principal = pending_principal().await?;
    let request = RecoveryRequest::parse(&code)?;
    super::ssr::core()?.two_factor().use_recovery_code(&principal, &request.code, &super::ssr::client()?).await?;
    signed_in(&principal.session.id).await
}

#[server(prefix = "/_fn", endpoint = "two_factor_status")]
pub async fn two_factor_status() -> Result<TwoFactorSummary, AppError> {
    let principal = super::ssr::require_principal().await?;
    let status = super::ssr::core()?.two_factor().mfa_status(&principal).await?;
    Ok(TwoFactorSummary {
        enabled: status.totp_enabled,
        enabled_since: principal_date(status.totp_enabled_at.as_deref()),
        setup_pending: status.totp_pending,
        recovery_codes_left: status.recovery_codes_left,
    })
}

/// Starts (or restarts) setting up an authenticator app, then shows the setup page.
#[server(prefix = "/_fn", endpoint = "start_totp_setup")]
pub async fn start_totp_setup() -> Result<(), AppError> {
    let principal = super::ssr::require_principal().await?;
    super::ssr::core()?.two_factor().enrol_totp(&principal, &super::ssr::client()?).await?;
    leptos_axum::redirect("/security/two-factor");
    Ok(())
}

/// The setup in progress, or `None` (nothing started, or already finished).
#[server(prefix = "/_fn", endpoint = "totp_setup")]
pub async fn totp_setup() -> Result<Option<TotpSetupView>, AppError> {
    let principal = super::ssr::require_principal().await?;
    let enrolment = super::ssr::core()?.two_factor().pending_totp_enrolment(&principal).await?;
    Ok(enrolment.map(|e| TotpSetupView {
        secret_groups: e.secret.as_bytes().chunks(4).map(|c| String::from_utf8_lossy(c).into_owned()).collect(),
        qr_svg: e.qr_svg,
        otpauth_url: e.otpauth_url,
    }))
}

/// Confirms the new authenticator with its first code; the first recovery codes follow.
#[server(prefix = "/_fn", endpoint = "confirm_totp_setup")]
pub async fn confirm_totp_setup(code: String) -> Result<(), AppError> {
    use gatehouse_core::requests::TotpRequest;
    let principal = super::ssr::require_principal().await?;
    let core = super::ssr::core()?;
    let request = TotpRequest::parse(&code)?;
    core.two_factor().verify_totp(&principal, &request.code, &super::ssr::client()?).await?;
    // The session is aal2 now: a new cookie id for the raised privilege.
    super::ssr::start_browser_session(&principal.session.id).await?;
    let principal = super::ssr::require_principal().await?;
    show_new_recovery_codes(&core, &principal).await
}

/// A fresh set of recovery codes (every earlier one stops working), shown once.
#[server(prefix = "/_fn", endpoint = "regenerate_recovery_codes")]
pub async fn regenerate_recovery_codes() -> Result<(), AppError> {
    let principal = super::ssr::require_principal().await?;
    show_new_recovery_codes(&super::ssr::core()?, &principal).await
}

/// The recovery codes just generated, once: a reload shows nothing.
#[server(prefix = "/_fn", endpoint = "take_new_recovery_codes")]
pub async fn take_new_recovery_codes() -> Result<Option<Vec<String>>, AppError> {
    super::ssr::require_principal().await?;
    let core = super::ssr::core()?;
    let sealed = super::ssr::take_from_session(NEW_RECOVERY_CODES).await?;
    Ok(sealed.and_then(|s| core.two_factor().open_codes_for_display(&s)))
}

#[server(prefix = "/_fn", endpoint = "remove_totp")]
pub async fn remove_totp() -> Result<(), AppError> {
    let principal = super::ssr::require_principal().await?;
    super::ssr::core()?.two_factor().remove_totp(&principal, &super::ssr::client()?).await?;
    leptos_axum::redirect("/security?two_factor_off=1");
    Ok(())
}

#[cfg(feature = "ssr")]
async fn pending_principal() -> Result<gatehouse_core::Principal, AppError> {
    let principal = super::ssr::second_step_principal().await?;
    principal.ok_or_else(|| gatehouse_core::CoreError::Unauthenticated.into())
}

/// The second factor is proved: a new cookie id for the raised privilege, on to the dashboard.
#[cfg(feature = "ssr")]
async fn signed_in(session_id: &str) -> Result<(), AppError> {
    super::ssr::start_browser_session(session_id).await?;
    leptos_axum::redirect("/dashboard");
    Ok(())
}

#[cfg(feature = "ssr")]
async fn show_new_recovery_codes(
    core: &gatehouse_core::Gatehouse,
    principal: &gatehouse_core::Principal,
) -> Result<(), AppError> {
    let codes = core.two_factor().generate_recovery_codes(principal, None, &super::ssr::client()?).await?;
    super::ssr::keep_for_next_page(NEW_RECOVERY_CODES, core.two_factor().seal_codes_for_display(&codes)).await?;
    leptos_axum::redirect("/security/recovery-codes");
    Ok(())
}

#[cfg(feature = "ssr")]
fn principal_date(rfc3339: Option<&str>) -> Option<String> {
    let parsed = time::OffsetDateTime::parse(rfc3339?, &time::format_description::well_known::Rfc3339).ok()?;
    Some(super::ssr::date(parsed.unix_timestamp()))
}
