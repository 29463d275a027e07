//! Login throttling: growing delays, never a hard lockout.
//!
//! Each failed login counts against the account identifier that was tried and against the
//! client's IP address. After a number of free attempts, each further failure blocks that key
//! for a delay that doubles (1 s, 2 s, 4 s, ...) up to a cap: one minute per account (so an
//! attacker cannot lock a real user out for long) and five minutes per IP. While a key is
//! blocked, logins are answered 429 with `Retry-After` *before* the password is checked, so the
//! answer never reveals whether a password was right. Counters are forgotten an hour after the
//! last failure, and an account's counter is cleared by a successful login.

use crate::context::RequestContext;
use crate::domain::LoginIdentifier;
use crate::error::CoreError;
use crate::store::throttle;
use crate::Gatehouse;

const ACCOUNT_MAX_DELAY_SECS: i64 = 60;
const IP_MAX_DELAY_SECS: i64 = 300;
const FORGET_AFTER_SECS: i64 = 3600;

/// The throttle keys of one login attempt.
pub struct AttemptKeys {
    account: String,
    ip: Option<String>,
}

impl AttemptKeys {
    pub fn new(identifier: Option<&LoginIdentifier>, raw_identifier: &str, context: &RequestContext) -> Self {
        let account = match identifier {
            Some(LoginIdentifier::Email(email)) => format!("account:{}", email.as_str()),
            Some(LoginIdentifier::Username(name)) => format!("account:{}", name.key()),
            // Unparsable input is hashed: bounded, and safe for any database whatever it holds.
            None => format!("account:#{}", crate::tokens::token_hash(&raw_identifier.trim().to_lowercase())),
        };
        let ip = (!context.ip.is_empty()).then(|| format!("ip:{}", context.ip));
        Self { account, ip }
    }

    fn all(&self) -> Vec<String> {
        std::iter::once(self.account.clone()).chain(self.ip.clone()).collect()
    }
}

/// The delay after `failures` failures, given `free` free attempts and a cap.
pub fn delay_secs(failures: i64, free: i64, cap: i64) -> i64 {
    if failures <= free {
        return 0;
    }
    let doublings = (failures - free - 1).min(20) as u32;
    (1i64 << doublings).min(cap)
}

impl Gatehouse {
    /// Refuses the attempt while any of its keys is blocked.
    pub(crate) async fn check_throttle(&self, keys: &AttemptKeys) -> Result<(), CoreError> {
        let blocked = throttle::seconds_blocked(self.pool(), &keys.all()).await?;
        if blocked > 0 {
            return Err(CoreError::Throttled { retry_after_secs: blocked as u64 });
        }
        Ok(())
    }

    pub(crate) async fn record_login_failure(&self, keys: &AttemptKeys) -> Result<(), CoreError> {
        let settings = self.settings();
        let limits = std::iter::once((&keys.account, settings.login_free_attempts_per_account, ACCOUNT_MAX_DELAY_SECS))
            .chain(keys.ip.as_ref().map(|ip| (ip, settings.login_free_attempts_per_ip, IP_MAX_DELAY_SECS)));
        for (key, free, cap) in limits {
            let failures = throttle::record_failure(self.pool(), key, FORGET_AFTER_SECS).await?;
            let delay = delay_secs(failures, free, cap);
            if delay > 0 {
                throttle::block_until(self.pool(), key, crate::db::now() + delay).await?;
            }
        }
        Ok(())
    }

    pub(crate) async fn clear_account_throttle(&self, keys: &AttemptKeys) -> Result<(), CoreError> {
        throttle::clear(self.pool(), &keys.account).await
    }
}

#[cfg(test)]
mod tests {
    use super::delay_secs;

    #[test]
    fn delays_start_after_the_free_attempts_double_and_stop_at_the_cap() {
        let delays: Vec<i64> = (1..=12).map(|n| delay_secs(n, 5, 60)).collect();
        assert_eq!(delays, vec![0, 0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 60]);
        assert_eq!(delay_secs(10_000, 5, 60), 60);
    }
}
