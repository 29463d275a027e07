//! Device cookies (OWASP's "device cookies" against account lockout): after a successful
//! login, the browser or client receives a signed cookie naming the account. A later login
//! attempt for that account presenting the cookie is counted against the cookie's own budget,
//! not against the account's budget for unknown clients nor the address's, so a stranger
//! failing at someone's account (or many accounts, from the same NAT address) cannot stop the
//! owner on a device that has logged in before.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::UserId;
use crate::keys::RootKey;
use crate::tokens::{constant_time_eq, random_token};

/// The cookie's name.
pub const DEVICE_COOKIE: &str = "gatehouse_device";
/// How long a device is remembered after its last successful login.
pub const DEVICE_COOKIE_MAX_AGE_SECS: u64 = 365 * 86400;

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

    /// A new cookie value for `user`: `<user id>.<nonce>.<mac>`.
    pub fn issue(&self, user: UserId) -> String {
        let nonce = random_token();
        format!("{}.{nonce}.{}", user.0, self.mac(user, &nonce))
    }

    /// The device behind `cookie` when it is well-formed, signed by us, and for `user`.
    pub fn recognise(&self, cookie: Option<&str>, user: UserId) -> Option<KnownDevice> {
        let mut parts = cookie?.trim().splitn(3, '.');
        let (id, nonce, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let id: i64 = id.parse().ok()?;
        if id != user.0 || nonce.is_empty() || nonce.len() > 64 {
            return None;
        }
        constant_time_eq(&self.mac(user, nonce), mac).then(|| KnownDevice { nonce: nonce.to_string() })
    }

    fn mac(&self, user: UserId, nonce: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(format!("{}:{nonce}", user.0).as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// The `Set-Cookie` value that hands `value` to the client: HttpOnly, SameSite=Lax, Secure
/// when the site is served over https.
pub fn set_cookie_header(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{DEVICE_COOKIE}={value}; Path=/; Max-Age={DEVICE_COOKIE_MAX_AGE_SECS}; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> DeviceKeys {
        DeviceKeys::new(&RootKey::from_text("a root key of at least thirty-two characters").unwrap())
    }

    #[test]
    fn a_cookie_is_recognised_only_for_its_own_account_and_unaltered() {
        let keys = keys();
        let cookie = keys.issue(UserId(7));
        assert!(keys.recognise(Some(&cookie), UserId(7)).is_some());
        assert!(keys.recognise(Some(&cookie), UserId(8)).is_none(), "another account");
        let forged = cookie.replacen("7.", "8.", 1);
        assert!(keys.recognise(Some(&forged), UserId(8)).is_none(), "a re-labelled cookie");
        let mut tampered = cookie.clone();
        tampered.pop();
        tampered.push('A');
        assert!(keys.recognise(Some(&tampered), UserId(7)).is_none() || tampered == cookie);
        assert!(keys.recognise(Some("garbage"), UserId(7)).is_none());
        assert!(keys.recognise(None, UserId(7)).is_none());
        let other_server = DeviceKeys::new(&RootKey::from_text("another root key, also thirty-two chars").unwrap());
        assert!(other_server.recognise(Some(&cookie), UserId(7)).is_none(), "signed with another key");
    }
}
