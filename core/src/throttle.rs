//! Login throttling: growing delays, never a hard lockout, and no way for a stranger to turn
//! it against people who share an address or own the account being attacked.
//!
//! Each attempt is taken against one budget, atomically and *before* the password is checked
//! (counted as a failure in advance; a success clears it), so parallel guesses cannot slip
//! past a block:
//! - the **account** (`user:<id>`, or `account:<identifier>` for names that match no account),
//!   for clients the account has not seen before: after `login_free_attempts_per_account`
//!   failures each attempt blocks the next for 1 s, 2 s, 4 s, ... up to one minute;
//! - or, for a client presenting a valid **device cookie** for the account
//!   ([`crate::devices`]), that device's own budget of the same size. A known device is not
//!   stopped by the account's or the address's blocks: the owner on a known browser logs in
//!   while a stranger is being slowed down.
//!
//! The **client address** (`address:<ip>`, IPv6 per /64) is slowed only by the number of
//! *different* accounts that failed from it within the hour: after `login_free_attempts_per_ip`
//! accounts, doubling delays up to five minutes. Many people behind one NAT or proxy
//! mistyping their own passwords never add up; one client guessing across many accounts does.
//!
//! While a key is blocked, logins are answered 429 with `Retry-After` before the password is
//! checked, so the answer never reveals whether a password was right. Block times are kept in
//! milliseconds and `Retry-After` is rounded up, so every delay lasts at least its nominal
//! length. Counters are forgotten an hour after the last failure.

use std::net::IpAddr;

use crate::context::RequestContext;
use crate::devices::KnownDevice;
use crate::domain::{LoginIdentifier, UserId};
use crate::error::CoreError;
use crate::store::throttle::{self, Reservation};
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Database;

const ACCOUNT_MAX_DELAY_MS: i64 = 60_000;
const ADDRESS_MAX_DELAY_MS: i64 = 300_000;
const FORGET_AFTER_MS: i64 = 3_600_000;

/// The throttle keys of one login attempt.
pub struct AttemptKeys {
    account: String,
    address: Option<String>,
    device: Option<String>,
}

impl AttemptKeys {
    /// `user` is the account the identifier names, when it names one: its email and its
    /// username then share one budget.
    pub fn new(
        identifier: Option<&LoginIdentifier>,
        raw_identifier: &str,
        user: Option<UserId>,
        context: &RequestContext,
        device: Option<&KnownDevice>,
    ) -> Self {
        let account = match (user, identifier) {
            (Some(id), _) => format!("user:{}", id.0),
            (None, Some(LoginIdentifier::Email(email))) => format!("account:{}", email.as_str()),
            (None, Some(LoginIdentifier::Username(name))) => format!("account:{}", name.key()),
            // Unparsable input is hashed: bounded, and safe for any database whatever it holds.
            (None, None) => format!("account:#{}", crate::tokens::token_hash(&raw_identifier.trim().to_lowercase())),
        };
        let address = context.ip.parse::<IpAddr>().ok().map(|ip| format!("address:{}", address_key(ip)));
        let device = device.map(|d| format!("device:{}", crate::tokens::token_hash(&d.nonce)));
        Self { account, address, device }
    }

    /// A re-authentication by a signed-in user (changing the password, deleting the account):
    /// taken from the account's own budget, so a stolen access token cannot be used to guess
    /// the password faster than logging in could.
    pub fn for_account(user: UserId) -> Self {
        Self { account: format!("user:{}", user.0), address: None, device: None }
    }

    /// A second-factor code (TOTP or recovery code) of `user`: a budget of its own, with the
    /// same growing delays.
    pub fn for_second_factor(user: UserId) -> Self {
        Self { account: format!("mfa:user:{}", user.0), address: None, device: None }
    }

    /// The budget this attempt is taken from.
    fn budget(&self) -> &str {
        self.device.as_deref().unwrap_or(&self.account)
    }
}

/// IPv4 addresses as they are; IPv6 addresses by their /64, which one host usually has all of.
pub(crate) fn address_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("{}/64", std::net::Ipv6Addr::from(prefix))
        }
    }
}

/// The delay after `failures` failures, given `free` free attempts and a cap: 1 s, 2 s, 4 s...
pub fn delay_millis(failures: i64, free: i64, cap_millis: i64) -> i64 {
    if failures <= free {
        return 0;
    }
    let doublings = (failures - free - 1).min(20) as u32;
    (1000i64 << doublings).min(cap_millis)
}

/// `Retry-After` for a block that has `millis` left: whole seconds, rounded up.
pub fn retry_after_secs(millis: i64) -> u64 {
    (millis.max(0) as u64).div_ceil(1000)
}

/// A refusal of `millis` more: counted, and answered with whole seconds to wait.
pub(crate) fn throttled(millis: i64) -> CoreError {
    crate::metrics::throttled();
    CoreError::Throttled { retry_after_secs: retry_after_secs(millis) }
}

/// Login attempts counted and refused per account, device and client address.
#[derive(Clone)]
pub struct Throttle {
    db: Database,
    clock: Clock,
    settings: Arc<Settings>,
}

impl Throttle {
    pub(crate) fn new(db: Database, clock: Clock, settings: Arc<Settings>) -> Self {
        Self { db, clock, settings }
    }

    /// Takes the attempt from its budget, or refuses it while a key that applies is blocked.
    pub(crate) async fn take(&self, keys: &AttemptKeys) -> Result<(), CoreError> {
        let now = self.clock.now_millis();
        if keys.device.is_none() {
            if let Some(address) = &keys.address {
                let blocked = throttle::millis_blocked(&self.db.pool, address, now).await?;
                if blocked > 0 {
                    return Err(throttled(blocked));
                }
            }
        }
        let free = self.settings.login_free_attempts_per_account;
        let delay = |count| delay_millis(count, free, ACCOUNT_MAX_DELAY_MS);
        match throttle::reserve_attempt(&self.db, keys.budget(), now, FORGET_AFTER_MS, delay).await? {
            Reservation::Allowed => Ok(()),
            Reservation::Blocked(millis) => Err(throttled(millis)),
        }
    }

    /// After a wrong password (the attempt itself was counted when it was taken): one more
    /// account failing from this address.
    pub(crate) async fn record_failure(&self, keys: &AttemptKeys) -> Result<(), CoreError> {
        let (Some(address), None) = (&keys.address, &keys.device) else { return Ok(()) };
        let now = self.clock.now_millis();
        let accounts = throttle::record_address_failure(&self.db, address, &keys.account, now, FORGET_AFTER_MS).await?;
        let delay = delay_millis(accounts, self.settings.login_free_attempts_per_ip, ADDRESS_MAX_DELAY_MS);
        if delay > 0 {
            throttle::block_until(&self.db, address, now, now + delay).await?;
        }
        Ok(())
    }

    /// After a successful login: the budget it was taken from starts afresh, and the account no
    /// longer counts against its address.
    pub(crate) async fn clear(&self, keys: &AttemptKeys) -> Result<(), CoreError> {
        throttle::clear(&self.db, keys.budget()).await?;
        if let Some(address) = &keys.address {
            throttle::clear_address_failure(&self.db, address, &keys.account).await?;
        }
        Ok(())
    }

    /// Drops throttle counters nobody has failed against for an hour (run periodically).
    pub async fn purge(&self) -> Result<(), CoreError> {
        let now = self.clock.now_millis();
        throttle::purge(&self.db, now - FORGET_AFTER_MS, now).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_start_after_the_free_attempts_double_and_stop_at_the_cap() {
        let delays: Vec<i64> = (1..=12).map(|n| delay_millis(n, 5, 60_000)).collect();
        assert_eq!(delays, vec![0, 0, 0, 0, 0, 1000, 2000, 4000, 8000, 16000, 32000, 60000]);
        assert_eq!(delay_millis(10_000, 5, 60_000), 60_000);
    }

    #[test]
    fn retry_after_never_promises_less_than_the_block() {
        assert_eq!(retry_after_secs(1), 1);
        assert_eq!(retry_after_secs(999), 1);
        assert_eq!(retry_after_secs(1000), 1);
        assert_eq!(retry_after_secs(1001), 2);
        assert_eq!(retry_after_secs(0), 0);
    }

    #[test]
    fn a_known_device_has_its_own_budget_and_a_known_account_one_key() {
        let context = RequestContext::new("192.0.2.1", "ua");
        let identifier = LoginIdentifier::parse("owner@example.com").ok();
        let stranger = AttemptKeys::new(identifier.as_ref(), "owner@example.com", Some(UserId(7)), &context, None);
        assert_eq!(stranger.budget(), "user:7");
        assert_eq!(stranger.address.as_deref(), Some("address:192.0.2.1"));
        let unknown = AttemptKeys::new(identifier.as_ref(), "owner@example.com", None, &context, None);
        assert_eq!(unknown.budget(), "account:owner@example.com");
        let device = KnownDevice { nonce: "n".into() };
        let owner =
            AttemptKeys::new(identifier.as_ref(), "owner@example.com", Some(UserId(7)), &context, Some(&device));
        assert!(owner.budget().starts_with("device:"));
    }

    #[test]
    fn ipv6_clients_are_counted_per_64_and_mapped_ipv4_as_ipv4() {
        assert_eq!(address_key("2001:db8:1:2:aaaa::1".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(address_key("2001:db8:1:2:ffff::9".parse().unwrap()), "2001:db8:1:2::/64");
        assert_eq!(address_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
    }
}
