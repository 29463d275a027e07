use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// A user's primary key. Integer, like Django's, so imported users keep their ids and seed
/// clients that read `user_id` as a number keep working.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub i64);

impl UserId {
    /// Django's `uidb64`: the decimal id, base64url without padding, used in emailed links.
    pub fn to_uidb64(self) -> String {
        URL_SAFE_NO_PAD.encode(self.0.to_string())
    }

    pub fn from_uidb64(uid: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(uid.trim().trim_end_matches('=')).ok()?;
        let text = std::str::from_utf8(&bytes).ok()?;
        text.parse::<i64>().ok().filter(|id| *id > 0).map(UserId)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uidb64_matches_django_and_round_trips() {
        assert_eq!(UserId(1).to_uidb64(), "MQ");
        assert_eq!(UserId(42).to_uidb64(), "NDI");
        assert_eq!(UserId::from_uidb64("NDI"), Some(UserId(42)));
        assert_eq!(UserId::from_uidb64("not base64!"), None);
        assert_eq!(UserId::from_uidb64("LTE"), None); // "-1"
    }
}
