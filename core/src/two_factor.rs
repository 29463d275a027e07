//! Two-factor authentication: TOTP (RFC 6238: SHA-1, 6 digits, 30 s steps, a 160-bit random
//! secret) and single-use recovery codes. The rules, once, for every face:
//! - a device is *pending* until a first valid code confirms it; enrolling again replaces the
//!   pending one; a confirmed device can only be replaced or removed from an aal2 session;
//! - a code of the current step ±1 is accepted, and only for a step later than the last one
//!   accepted for that device (no replay, even by two racing requests);
//! - wrong codes are throttled per user by the login throttle's mechanism (`mfa:user:<id>`);
//! - and guessing has an end (NIST SP 800-63B §5.2.2): a login waiting for its second step is
//!   closed after [`SESSION_FAILURE_LIMIT`] wrong codes (the client starts over with the
//!   password), and after [`ACCOUNT_FAILURE_LIMIT`] consecutive wrong codes of an account its
//!   TOTP codes are refused until the owner uses a recovery code or resets the password (the
//!   owner is mailed when that happens);
//! - a verified second factor upgrades the *same* session to aal2;
//! - TOTP secrets are stored sealed (ChaCha20-Poly1305), recovery codes as keyed hashes.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;
use totp_rs::{Builder, Secret, Totp};

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::context::RequestContext;
use crate::db::Database;
use crate::domain::{RecoveryCode, TotpCode, UserId, RECOVERY_CODE_ALPHABET, RECOVERY_CODE_LENGTH};
use crate::error::CoreError;
use crate::keys::{RootKey, SecretBox};
use crate::notices::Notices;
use crate::principal::Principal;
use crate::sessions::{Sessions, TokenPair};
use crate::store::audit::{self, EventKind};
use crate::store::totp_devices::TotpDevice;
use crate::store::{recovery_codes, sessions, totp_devices};
use crate::throttle::{AttemptKeys, Throttle};

const SECRET_PURPOSE: &str = "totp-secret";
const CODES_SHOWN_ONCE: &str = "recovery-codes-shown-once";
const STEP_SECS: u64 = 30;
/// Wrong codes one login waiting for its second step may try before it is closed.
pub const SESSION_FAILURE_LIMIT: i64 = 10;
/// Consecutive wrong codes of an account after which its TOTP codes are refused.
pub const ACCOUNT_FAILURE_LIMIT: i64 = 100;

/// The keys of the two-factor module: sealing TOTP secrets and hashing recovery codes.
#[derive(Clone)]
pub struct TwoFactorKeys {
    secrets: SecretBox,
    recovery: [u8; 32],
}

impl TwoFactorKeys {
    pub fn new(root: &RootKey) -> Self {
        Self { secrets: SecretBox::new(root, SECRET_PURPOSE), recovery: root.derive("recovery-code") }
    }

    fn recovery_hash(&self, code: &RecoveryCode) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.recovery).expect("HMAC takes keys of any length");
        mac.update(code.as_str().as_bytes());
        mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// What enrolment shows the user: scan the QR code, or type the secret.
#[derive(Clone, Debug)]
pub struct TotpEnrolment {
    /// `otpauth://totp/<issuer>:<email>?secret=...&issuer=...`
    pub otpauth_url: String,
    /// The secret in base32, for typing into an authenticator app.
    pub secret: String,
    /// The otpauth URL as a QR code, an SVG document.
    pub qr_svg: String,
}

/// Whether the second factor is on, since when, and how many recovery codes are left.
#[derive(Clone, Debug)]
pub struct MfaStatus {
    pub totp_enabled: bool,
    /// RFC 3339, or null while off.
    pub totp_enabled_at: Option<String>,
    /// A device enrolled but not yet confirmed by a first code.
    pub totp_pending: bool,
    pub recovery_codes_left: i64,
}

fn totp(secret: Vec<u8>, issuer: &str, account: &str) -> Result<Totp, CoreError> {
    // The otpauth format reserves ':' between issuer and account.
    let issuer = issuer.replace(':', " ");
    Builder::new()
        .with_secret(Secret::from(secret))
        .with_digits(6)
        .with_step_duration(STEP_SECS)
        .with_skew(1)
        .with_issuer(Some(issuer))
        .with_account_name(account.replace(':', " "))
        .build()
        .map_err(|e| CoreError::internal("building a TOTP", e))
}

/// The second factor: TOTP devices, recovery codes, and the step up to aal2.
#[derive(Clone)]
pub struct TwoFactor {
    pub(crate) db: Database,
    pub(crate) clock: Clock,
    pub(crate) settings: Arc<Settings>,
    pub(crate) keys: TwoFactorKeys,
    pub(crate) throttle: Throttle,
    pub(crate) notices: Notices,
    pub(crate) sessions: Sessions,
}

impl TwoFactor {
    fn mfa_keys(principal: &Principal) -> AttemptKeys {
        AttemptKeys::for_second_factor(principal.user.id)
    }

    /// A second factor is on: the user has a confirmed device.
    pub async fn has_second_factor(&self, user: UserId) -> Result<bool, CoreError> {
        Ok(totp_devices::for_user(&self.db.pool, user).await?.iter().any(TotpDevice::is_confirmed))
    }

    pub async fn mfa_status(&self, principal: &Principal) -> Result<MfaStatus, CoreError> {
        let devices = totp_devices::for_user(&self.db.pool, principal.user.id).await?;
        let confirmed = devices.iter().find(|d| d.is_confirmed());
        Ok(MfaStatus {
            totp_enabled: confirmed.is_some(),
            totp_enabled_at: confirmed.and_then(|d| d.confirmed_at).map(crate::time_format::to_rfc3339),
            totp_pending: devices.iter().any(|d| !d.is_confirmed()),
            recovery_codes_left: recovery_codes::count_unused(&self.db.pool, principal.user.id).await?,
        })
    }

    /// Starts enrolment: a new pending device with a fresh secret. A user whose second factor
    /// is already on must prove it first (aal2) to replace it.
    pub async fn enrol_totp(
        &self,
        principal: &Principal,
        context: &RequestContext,
    ) -> Result<TotpEnrolment, CoreError> {
        if self.has_second_factor(principal.user.id).await? && principal.session.aal != "aal2" {
            return Err(CoreError::Aal2Required);
        }
        let mut secret = vec![0u8; 20];
        rand::rngs::OsRng.fill(&mut secret[..]);
        let sealed = self.keys.secrets.seal(&secret, SECRET_PURPOSE);
        totp_devices::insert_pending(&self.db, principal.user.id, &sealed, self.clock.now_secs()).await?;
        audit::record(&self.db, Some(principal.user.id), EventKind::MfaEnrolled, context, "totp").await?;
        self.enrolment(secret, &principal.user.email)
    }

    /// The enrolment in progress, shown again (the web app's setup page is a plain GET that
    /// reloads): `None` when no device is pending or the session may not replace the
    /// confirmed one.
    pub async fn pending_totp_enrolment(&self, principal: &Principal) -> Result<Option<TotpEnrolment>, CoreError> {
        let devices = totp_devices::for_user(&self.db.pool, principal.user.id).await?;
        if devices.iter().any(TotpDevice::is_confirmed) && principal.session.aal != "aal2" {
            return Ok(None);
        }
        let Some(pending) = devices.iter().find(|d| !d.is_confirmed()) else { return Ok(None) };
        let secret = self.open_secret(pending)?;
        self.enrolment(secret, &principal.user.email).map(Some)
    }

    fn enrolment(&self, secret: Vec<u8>, email: &str) -> Result<TotpEnrolment, CoreError> {
        let totp = totp(secret.clone(), &self.settings.site_name, email)?;
        let otpauth_url = totp.to_url().map_err(|e| CoreError::internal("otpauth URL", e))?;
        let qr_svg = qrcode::QrCode::new(otpauth_url.as_bytes())
            .map_err(|e| CoreError::internal("QR code", e))?
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build();
        Ok(TotpEnrolment { otpauth_url, secret: Secret::from(secret).to_base32(), qr_svg })
    }

    fn open_secret(&self, device: &TotpDevice) -> Result<Vec<u8>, CoreError> {
        self.keys
            .secrets
            .open(&device.secret_encrypted, SECRET_PURPOSE)
            .ok_or_else(|| CoreError::internal("totp secret", "cannot open the sealed secret (root key changed?)"))
    }

    /// Checks a TOTP code: it confirms a pending device, or steps an aal1 session of a user
    /// with a confirmed device up to aal2. Either way the same session becomes aal2.
    pub async fn verify_totp(
        &self,
        principal: &Principal,
        code: &TotpCode,
        context: &RequestContext,
    ) -> Result<TokenPair, CoreError> {
        let keys = Self::mfa_keys(principal);
        self.throttle.take(&keys).await?;
        let devices = totp_devices::for_user(&self.db.pool, principal.user.id).await?;
        // A code confirms the pending device, unless the user already has a confirmed one and
        // this session has not proved it (then it is a step-up with the confirmed device):
        // a new device only replaces a confirmed one from an aal2 session.
        let confirmed = devices.iter().find(|d| d.is_confirmed());
        let pending = devices.iter().find(|d| !d.is_confirmed());
        let may_confirm = confirmed.is_none() || principal.session.aal == "aal2";
        let device = match (pending, may_confirm) {
            (Some(pending), true) if !principal.session.second_factor_pending => Some(pending),
            _ => confirmed,
        };
        let Some(device) = device else {
            return Err(CoreError::field(
                "code",
                "There is no authenticator to check this code against; enrol one first.",
            ));
        };
        if device.is_confirmed() && device.failures >= ACCOUNT_FAILURE_LIMIT {
            // Not even checked: a right code now would only tell the guesser it was right.
            self.second_factor_failed(principal, Some(device), context, "totp").await?;
            return Err(CoreError::field(
                "code",
                "Too many wrong codes: this account's authenticator codes are refused until a recovery code \
                 is used or the password is reset.",
            ));
        }
        if !self.totp_code_accepted(device, code, principal).await? {
            self.second_factor_failed(principal, device.is_confirmed().then_some(device), context, "totp").await?;
            return Err(CoreError::field("code", "This code is not valid (or was already used)."));
        }
        self.throttle.clear(&keys).await?;
        if device.failures > 0 {
            self.clear_failures(principal.user.id).await?;
        }
        if !device.is_confirmed() {
            let now = self.clock.now_secs();
            if !totp_devices::confirm(&self.db, principal.user.id, device.id, now).await? {
                return Err(CoreError::field("code", "This enrolment was replaced by a newer one; use that one."));
            }
            if confirmed.is_some() {
                // The new device replaced the confirmed one (an aal2 session set it up).
                audit::record(&self.db, Some(principal.user.id), EventKind::MfaRemoved, context, "totp (replaced)")
                    .await?;
            } else {
                // Turning the second factor on: codes left from an earlier device go, and the
                // user's other sessions must prove the second factor too.
                recovery_codes::delete_for_user(&self.db, principal.user.id).await?;
                sessions::require_second_factor_elsewhere(&self.db, principal.user.id, &principal.session.id).await?;
            }
            audit::record(&self.db, Some(principal.user.id), EventKind::MfaConfirmed, context, "totp").await?;
        }
        self.second_factor_verified(principal, "otp", device.id).await
    }

    async fn totp_code_accepted(
        &self,
        device: &TotpDevice,
        code: &TotpCode,
        principal: &Principal,
    ) -> Result<bool, CoreError> {
        let secret = self.open_secret(device)?;
        let totp = totp(secret, &self.settings.site_name, &principal.user.email)?;
        let now = self.clock.now_secs().max(0) as u64;
        match totp.check(code.as_str(), now) {
            Some(step) => totp_devices::accept_step(&self.db, device.id, step as i64).await,
            None => Ok(false),
        }
    }

    /// A recovery code instead of a TOTP code: the session becomes aal2; the code is used up.
    pub async fn use_recovery_code(
        &self,
        principal: &Principal,
        code: &RecoveryCode,
        context: &RequestContext,
    ) -> Result<TokenPair, CoreError> {
        let keys = Self::mfa_keys(principal);
        self.throttle.take(&keys).await?;
        let devices = totp_devices::for_user(&self.db.pool, principal.user.id).await?;
        let hash = self.keys.recovery_hash(code);
        let device = devices.iter().find(|d| d.is_confirmed());
        let used = match device {
            Some(_) => recovery_codes::use_code(&self.db, principal.user.id, &hash, self.clock.now_secs()).await?,
            None => false,
        };
        let (true, Some(device)) = (used, device) else {
            self.second_factor_failed(principal, device, context, "recovery_code").await?;
            return Err(CoreError::field("code", "This recovery code is not valid (or was already used)."));
        };
        self.throttle.clear(&keys).await?;
        self.clear_failures(principal.user.id).await?;
        audit::record(&self.db, Some(principal.user.id), EventKind::RecoveryCodeUsed, context, "").await?;
        self.second_factor_verified(principal, "rec", device.id).await
    }

    /// A wrong code: recorded, counted against the account's confirmed `device` (the owner is
    /// mailed when the count reaches the limit) and against a login waiting for its second
    /// step, which is closed at its own limit.
    async fn second_factor_failed(
        &self,
        principal: &Principal,
        device: Option<&TotpDevice>,
        context: &RequestContext,
        what: &str,
    ) -> Result<(), CoreError> {
        let user = &principal.user;
        audit::record(&self.db, Some(user.id), EventKind::MfaFailed, context, what).await?;
        if let Some(device) = device {
            if totp_devices::count_failure(&self.db, device.id).await? == ACCOUNT_FAILURE_LIMIT {
                self.notices.send_notice(
                    user,
                    "second_factor_locked",
                    "Your authenticator codes are blocked",
                    serde_json::json!({ "link": self.notices.forgot_password_link() }),
                )?;
            }
        }
        if principal.session.second_factor_pending {
            let failures = totp_devices::count_session_failure(&self.db, &principal.session.id).await?;
            if failures >= SESSION_FAILURE_LIMIT {
                sessions::revoke(&self.db, &principal.session.id, "second_factor_failures").await?;
            }
        }
        Ok(())
    }

    async fn second_factor_verified(
        &self,
        principal: &Principal,
        method: &str,
        device: i64,
    ) -> Result<TokenPair, CoreError> {
        let lifetime = self.settings.refresh_token_ttl.as_secs() as i64;
        sessions::upgrade_to_aal2(&self.db, &principal.session, method, device, lifetime).await?;
        let session =
            sessions::find_active(&self.db, &principal.session.id).await?.ok_or(CoreError::Unauthenticated)?;
        self.sessions.token_pair(&principal.user, &session)
    }

    /// A fresh set of recovery codes, shown once; every earlier code stops working. aal2 only.
    /// `count` codes, or `recovery_code_count` (django-otp clients expect 6 "static tokens").
    pub async fn generate_recovery_codes(
        &self,
        principal: &Principal,
        count: Option<usize>,
        context: &RequestContext,
    ) -> Result<Vec<String>, CoreError> {
        let count = count.unwrap_or(self.settings.recovery_code_count);
        principal.require_aal2()?;
        if !self.has_second_factor(principal.user.id).await? {
            return Err(CoreError::field("code", "Turn two-factor authentication on first."));
        }
        let mut rng = rand::rngs::OsRng;
        let codes: Vec<String> = (0..count)
            .map(|_| {
                (0..RECOVERY_CODE_LENGTH)
                    .map(|_| RECOVERY_CODE_ALPHABET[rng.gen_range(0..RECOVERY_CODE_ALPHABET.len())] as char)
                    .collect()
            })
            .collect();
        let hashes: Vec<String> = codes
            .iter()
            .map(|c| self.keys.recovery_hash(&RecoveryCode::parse(c).expect("generated from the alphabet")))
            .collect();
        recovery_codes::replace_all(&self.db, principal.user.id, &hashes, self.clock.now_secs()).await?;
        let detail = format!("{} codes", codes.len());
        audit::record(&self.db, Some(principal.user.id), EventKind::RecoveryCodesGenerated, context, &detail).await?;
        Ok(codes)
    }

    /// New recovery codes sealed for the page that shows them once: a browser without
    /// JavaScript reaches that page through a redirect, so the codes wait in its cookie session
    /// meanwhile, encrypted like TOTP secrets rather than in clear in the session store.
    pub fn seal_codes_for_display(&self, codes: &[String]) -> String {
        self.keys.secrets.seal(codes.join(" ").as_bytes(), CODES_SHOWN_ONCE)
    }

    pub fn open_codes_for_display(&self, sealed: &str) -> Option<Vec<String>> {
        let opened = self.keys.secrets.open(sealed, CODES_SHOWN_ONCE)?;
        Some(String::from_utf8(opened).ok()?.split(' ').map(str::to_string).collect())
    }

    /// Turns two-factor authentication off: the devices and recovery codes go. aal2 only.
    pub async fn remove_totp(&self, principal: &Principal, context: &RequestContext) -> Result<(), CoreError> {
        principal.require_aal2()?;
        // Codes first: if removing the device failed, no code would outlive it.
        recovery_codes::delete_for_user(&self.db, principal.user.id).await?;
        if totp_devices::delete_for_user(&self.db, principal.user.id).await? == 0 {
            return Err(CoreError::NotFound);
        }
        audit::record(&self.db, Some(principal.user.id), EventKind::MfaRemoved, context, "totp").await?;
        Ok(())
    }

    async fn clear_failures(&self, user: UserId) -> Result<(), CoreError> {
        let mut tx = self.db.begin().await?;
        totp_devices::clear_failures(&mut tx, user).await?;
        tx.commit().await
    }
}
