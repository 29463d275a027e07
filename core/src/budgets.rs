//! Bounds on what a request can make the server do for strangers: mail to one address, and
//! sign-ups and mail requests from one client, each at most so many within any hour (sliding
//! windows, [`crate::store::rate_windows`]).
//!
//! - **Mail per recipient** (`mail_per_address_per_hour` of each kind): beyond it the request
//!   is answered exactly as before (no enumeration) and nothing is sent; the refusal is logged
//!   without the address and counted (`gatehouse_mail_suppressed_total`).
//! - **Per client address** (the trusted-proxy-aware one; IPv6 per /64): sign-ups
//!   (`signups_per_ip_per_hour`) and reset / resend / email-change requests
//!   (`mail_requests_per_ip_per_hour`); beyond, 429 with `Retry-After`, before any work.

use crate::context::RequestContext;
use crate::error::CoreError;
use crate::store::rate_windows::{self, Taken};
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Database;
use crate::keys::Tagger;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 24 * HOUR_MS;

/// A mail that links to an action, counted per recipient address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MailKind {
    Verification,
    Reset,
    EmailChange,
}

impl MailKind {
    fn as_str(self) -> &'static str {
        match self {
            MailKind::Verification => "verification",
            MailKind::Reset => "reset",
            MailKind::EmailChange => "email_change",
        }
    }
}

/// What a client asks for that costs the server (and third parties) something.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientRequest {
    SignUp,
    /// A password reset, a new verification link or an email change.
    Mail,
}

/// The hourly (and daily) budgets, kept in the database so that every process shares them.
#[derive(Clone)]
pub struct Budgets {
    db: Database,
    clock: Clock,
    settings: Arc<Settings>,
    /// Keys the per-recipient mail budgets by a MAC of the address: the table holds none.
    keys: Tagger,
}

impl Budgets {
    pub(crate) fn new(db: Database, clock: Clock, settings: Arc<Settings>, keys: Tagger) -> Self {
        Self { db, clock, settings, keys }
    }

    /// Takes one mail of `kind` to `address` from its hourly budget; `false` when spent.
    pub(crate) async fn mail_allows(&self, kind: MailKind, address: &str) -> Result<bool, CoreError> {
        // A MAC of the address under a server key: the table holds no addresses, nor hashes
        // of them that a guessed address could be checked against.
        let key = format!("mail:{}", self.keys.tag(&[kind.as_str(), &address.to_lowercase()]));
        let limit = self.settings.mail_per_address_per_hour;
        match rate_windows::take(&self.db, &key, limit, HOUR_MS, self.clock.now_millis()).await? {
            Taken::Allowed => Ok(true),
            Taken::Refused(_) => {
                tracing::info!(kind = kind.as_str(), "mail not sent: the address had its hourly share of this kind");
                crate::metrics::mail_suppressed(kind.as_str());
                Ok(false)
            }
        }
    }

    /// Takes one `request` from the calling client's hourly budget; `Throttled` when spent.
    pub(crate) async fn take_client(&self, request: ClientRequest, context: &RequestContext) -> Result<(), CoreError> {
        let Ok(ip) = context.ip.parse() else { return Ok(()) };
        let (name, limit) = match request {
            ClientRequest::SignUp => ("signup", self.settings.signups_per_ip_per_hour),
            ClientRequest::Mail => ("mail-request", self.settings.mail_requests_per_ip_per_hour),
        };
        let key = format!("{name}:{}", crate::throttle::address_key(ip));
        match rate_windows::take(&self.db, &key, limit, HOUR_MS, self.clock.now_millis()).await? {
            Taken::Allowed => Ok(()),
            Taken::Refused(millis) => Err(crate::throttle::throttled(millis)),
        }
    }

    /// Takes the one `notice` mail a day an account may get about it; `false` when sent today.
    pub(crate) async fn notice_allows(&self, notice: &str, user: crate::domain::UserId) -> Result<bool, CoreError> {
        let key = format!("notice:{notice}:{}", user.0);
        let taken = rate_windows::take(&self.db, &key, 1, DAY_MS, self.clock.now_millis()).await?;
        Ok(taken == Taken::Allowed)
    }

    /// Forgets budgets with nothing left in their window (run periodically).
    pub async fn purge(&self) -> Result<u64, CoreError> {
        rate_windows::purge(&self.db, DAY_MS, self.clock.now_millis()).await
    }
}
