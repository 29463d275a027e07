//! Login throttling: growing delays, never a hard lockout, and no way for a stranger to turn
//! it against people who share an address or own the account being attacked.
//!
//! A failed login counts against:
//! - the **account identifier** tried (`account:<identifier>`), for clients the account has
//!   not seen before: after `login_free_attempts_per_account` failures each further one
//!   blocks the identifier for 1 s, 2 s, 4 s, ... up to one minute;
//! - the **client address** (`address:<ip>`), but only by the number of *different* accounts
//!   that failed from it within the hour: after `login_free_attempts_per_ip` accounts, the
//!   address is blocked for doubling delays up to five minutes. Many people behind one NAT or
//!   proxy mistyping their own passwords never add up; one client guessing across many
//!   accounts does.
//!
//! A client presenting a **device cookie** ([`crate::devices`]) for the account instead counts
//! against that cookie alone (same budget as an account), and is not stopped by the account's
//! or the address's blocks: the owner on a known browser logs in while a stranger is being
//! slowed down.
//!
//! While a key is blocked, logins are answered 429 with `Retry-After` *before* the password is
//! checked, so the answer never reveals whether a password was right. Block times are kept in
//! milliseconds and `Retry-After` is rounded up, so every delay lasts at least its nominal
//! length. Counters are forgotten an hour after the last failure; a successful login clears
//! the account's (or the device's) counter.

use crate::context::RequestContext;
use crate::devices::KnownDevice;
use crate::domain::LoginIdentifier;
use crate::error::CoreError;
use crate::store::throttle;
use crate::Gatehouse;

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
    pub fn new(
        identifier: Option<&LoginIdentifier>,
        raw_identifier: &str,
        context: &RequestContext,
        device: Option<&KnownDevice>,
    ) -> Self {
        let account = match identifier {
            Some(LoginIdentifier::Email(email)) => format!("account:{}", email.as_str()),
            Some(LoginIdentifier::Username(name)) => format!("account:{}", name.key()),
            // Unparsable input is hashed: bounded, and safe for any database whatever it holds.
            None => format!("account:#{}", crate::tokens::token_hash(&raw_identifier.trim().to_lowercase())),
        };
        let address = (!context.ip.is_empty()).then(|| format!("address:{}", context.ip));
        let device = device.map(|d| format!("device:{}", crate::tokens::token_hash(&d.nonce)));
        Self { account, address, device }
    }

    /// The keys whose blocks stop this attempt.
    fn blocking(&self) -> Vec<&str> {
        match &self.device {
            Some(device) => vec![device.as_str()],
            None => std::iter::once(self.account.as_str()).chain(self.address.as_deref()).collect(),
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

impl Gatehouse {
    /// Refuses the attempt while any key that applies to it is blocked.
    pub(crate) async fn check_throttle(&self, keys: &AttemptKeys) -> Result<(), CoreError> {
        let now = self.clock().now_millis();
        let blocked = throttle::millis_blocked(self.pool(), &keys.blocking(), now).await?;
        if blocked > 0 {
            crate::metrics::throttled();
            return Err(CoreError::Throttled { retry_after_secs: retry_after_secs(blocked) });
        }
        Ok(())
    }

    pub(crate) async fn record_login_failure(&self, keys: &AttemptKeys) -> Result<(), CoreError> {
        let now = self.clock().now_millis();
        let per_account = self.settings().login_free_attempts_per_account;
        if let Some(device) = &keys.device {
            return self.count_failure(device, per_account, ACCOUNT_MAX_DELAY_MS, now).await;
        }
        self.count_failure(&keys.account, per_account, ACCOUNT_MAX_DELAY_MS, now).await?;
        if let Some(address) = &keys.address {
            let accounts =
                throttle::record_address_failure(self.pool(), address, &keys.account, now, FORGET_AFTER_MS).await?;
            let delay = delay_millis(accounts, self.settings().login_free_attempts_per_ip, ADDRESS_MAX_DELAY_MS);
            if delay > 0 {
                throttle::block_until(self.pool(), address, now + delay).await?;
            }
        }
        Ok(())
    }

    async fn count_failure(&self, key: &str, free: i64, cap: i64, now: i64) -> Result<(), CoreError> {
        let failures = throttle::record_failure(self.pool(), key, now, FORGET_AFTER_MS).await?;
        let delay = delay_millis(failures, free, cap);
        if delay > 0 {
            throttle::block_until(self.pool(), key, now + delay).await?;
        }
        Ok(())
    }

    /// After a successful login: the key it was counted under starts afresh.
    pub(crate) async fn clear_login_throttle(&self, keys: &AttemptKeys) -> Result<(), CoreError> {
        throttle::clear(self.pool(), keys.device.as_deref().unwrap_or(&keys.account)).await
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
    fn a_known_device_is_blocked_only_by_its_own_key() {
        let context = RequestContext::new("192.0.2.1", "ua");
        let identifier = LoginIdentifier::parse("owner@example.com").ok();
        let stranger = AttemptKeys::new(identifier.as_ref(), "owner@example.com", &context, None);
        assert_eq!(stranger.blocking(), vec!["account:owner@example.com", "address:192.0.2.1"]);
        let device = KnownDevice { nonce: "n".into() };
        let owner = AttemptKeys::new(identifier.as_ref(), "owner@example.com", &context, Some(&device));
        assert_eq!(owner.blocking().len(), 1);
        assert!(owner.blocking()[0].starts_with("device:"));
    }
}
