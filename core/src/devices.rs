//! Device cookies (OWASP's "device cookies" against account lockout): after a successful
//! login, the browser or client receives a signed cookie naming the account. A later login
//! attempt for that account presenting the cookie is taken from the cookie's own budget, not
//! from the account's budget for unknown clients, and the address's block does not apply; so a
//! stranger failing at someone's account (or at many accounts, from the same NAT address)
//! cannot stop the owner on a device that has logged in before.
//!
//! The signature covers the account, the time of issue and a fingerprint of the account's
//! password hash: a cookie stops counting a year after the login that issued it, and at once
//! when the password changes (so cookies collected while someone knew the old password are
//! worth nothing after a reset).
//!
//! The cookie's name and its `Set-Cookie` header are the server's (`server/src/cookies.rs`):
//! the core issues and checks the value only.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::UserId;
use crate::keys::RootKey;
use crate::tokens::{constant_time_eq, random_token};

/// How long a device is remembered after the login that issued its cookie.
pub const DEVICE_COOKIE_MAX_AGE_SECS: i64 = 365 * 86400;

#[derive(Clone)]
pub struct DeviceKeys {
    key: [u8; 32],
}

/// A device cookie that verified for the account being logged in to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KnownDevice {
    /// The cookie's random part: the device's throttling identity.
    pub nonce: String,
}

impl DeviceKeys {
    pub fn new(root: &RootKey) -> Self {
        Self { key: root.derive("device-cookie") }
    }

    /// A new cookie value for `user`, whose password hash is `password_hash`, issued at `now`
    /// (Unix seconds): `<user id>.<issued>.<nonce>.<mac>`.
    pub fn issue(&self, user: UserId, password_hash: &str, now: i64) -> String {
        let nonce = random_token();
        format!("{}.{now}.{nonce}.{}", user.0, self.mac(user, now, &nonce, password_hash))
    }

    /// The device behind `cookie` when it is well-formed, signed by us, for `user` with the
    /// password hash it has now, and less than a year old.
    pub fn recognise(&self, cookie: Option<&str>, user: UserId, password_hash: &str, now: i64) -> Option<KnownDevice> {
        let mut parts = cookie?.trim().splitn(4, '.');
        let (id, issued, nonce, mac) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let (id, issued): (i64, i64) = (id.parse().ok()?, issued.parse().ok()?);
        let fresh = issued <= now && now - issued < DEVICE_COOKIE_MAX_AGE_SECS;
        if id != user.0 || !fresh || nonce.is_empty() || nonce.len() > 64 {
            return None;
        }
        let expected = self.mac(user, issued, nonce, password_hash);
        constant_time_eq(&expected, mac).then(|| KnownDevice { nonce: nonce.to_string() })
    }

    fn mac(&self, user: UserId, issued: i64, nonce: &str, password_hash: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(format!("{}:{issued}:{nonce}:", user.0).as_bytes());
        mac.update(password_hash.as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA";
    const NOW: i64 = 1_800_000_000;

    fn keys() -> DeviceKeys {
        DeviceKeys::new(&RootKey::from_text("a root key of at least thirty-two characters").unwrap())
    }

    #[test]
    fn a_cookie_is_recognised_only_for_its_own_account_unaltered() {
        let keys = keys();
        let cookie = keys.issue(UserId(7), HASH, NOW);
        assert!(keys.recognise(Some(&cookie), UserId(7), HASH, NOW).is_some());
        assert!(keys.recognise(Some(&cookie), UserId(8), HASH, NOW).is_none(), "another account");
        let relabelled = cookie.replacen("7.", "8.", 1);
        assert!(keys.recognise(Some(&relabelled), UserId(8), HASH, NOW).is_none(), "a re-labelled cookie");
        let (head, mac) = cookie.rsplit_once('.').unwrap();
        let flipped = if mac.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{head}.{flipped}{}", &mac[1..]);
        assert!(keys.recognise(Some(&tampered), UserId(7), HASH, NOW).is_none(), "a forged signature");
        assert!(keys.recognise(Some("garbage"), UserId(7), HASH, NOW).is_none());
        assert!(keys.recognise(None, UserId(7), HASH, NOW).is_none());
        let other_server = DeviceKeys::new(&RootKey::from_text("another root key, also thirty-two chars").unwrap());
        assert!(other_server.recognise(Some(&cookie), UserId(7), HASH, NOW).is_none(), "signed with another key");
    }

    #[test]
    fn a_new_password_or_a_year_retires_every_cookie() {
        let keys = keys();
        let cookie = keys.issue(UserId(7), HASH, NOW);
        assert!(keys.recognise(Some(&cookie), UserId(7), "$argon2id$another", NOW).is_none(), "password changed");
        let later = NOW + DEVICE_COOKIE_MAX_AGE_SECS;
        assert!(keys.recognise(Some(&cookie), UserId(7), HASH, later - 1).is_some());
        assert!(keys.recognise(Some(&cookie), UserId(7), HASH, later).is_none(), "a year old");
    }
}
