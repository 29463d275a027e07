//! Access tokens (JWT, HS256) and opaque refresh / link tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::keys::constant_time_eq;
use crate::keys::RootKey;
use crate::store::sessions::Session;
use crate::store::users::User;

/// The claims of SPEC §4. `sid` ties the token to a session: when the session ends (logout,
/// logout-all, password change), every access token of it stops working at once.
/// The one wire format the core keeps serde for: these claims *are* the signed token (a JWT
/// is JSON), so their serialisation is part of what the core issues and verifies, not a view.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct AccessClaims {
    pub sub: String,
    pub user_id: i64,
    pub username: String,
    pub email: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub sid: String,
    pub aal: String,
    pub amr: Vec<String>,
    pub otp_device_id: Option<i64>,
    /// Only on tokens of the django_rest_jwt_auth surface, which renews a token by presenting
    /// it: when the sign-in it descends from happened (Unix seconds; the package's claim).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orig_iat: Option<i64>,
    /// Always `"access"`, so no other JWT this server might sign is accepted as one.
    pub token_type: String,
}

/// How long past its `exp` a token is still taken: clocks of issuer and caller may differ.
pub const EXPIRY_LEEWAY_SECS: i64 = 5;

#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl JwtKeys {
    pub fn new(root: &RootKey) -> Self {
        let secret = root.derive("jwt-hs256");
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked by the core's clock (see `verify`), not the system's.
        validation.validate_exp = false;
        validation.set_required_spec_claims(&["exp", "sub", "iat"]);
        Self { encoding: EncodingKey::from_secret(&secret), decoding: DecodingKey::from_secret(&secret), validation }
    }

    /// A token for `session`; `orig_iat` marks one that its surface renews (see the claim).
    pub fn issue(
        &self,
        user: &User,
        session: &Session,
        now: i64,
        ttl_secs: i64,
        orig_iat: Option<i64>,
    ) -> Result<(String, AccessClaims), jsonwebtoken::errors::Error> {
        let claims = AccessClaims {
            sub: user.id.to_string(),
            user_id: user.id.0,
            username: user.display_username().to_string(),
            email: user.email.clone(),
            exp: now + ttl_secs,
            iat: now,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            sid: session.id.clone(),
            aal: session.aal.clone(),
            amr: session.amr.clone(),
            otp_device_id: session.otp_device_id,
            orig_iat,
            token_type: "access".into(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, claims))
    }

    /// Signature, algorithm (HS256 only: `none` and others are refused), expiry at `now`
    /// (with [`EXPIRY_LEEWAY_SECS`]) and type. Whether the session is still alive is the
    /// caller's next check.
    pub fn verify(&self, token: &str, now: i64) -> Option<AccessClaims> {
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation).ok()?;
        let claims = data.claims;
        let live = claims.exp.saturating_add(EXPIRY_LEEWAY_SECS) >= now;
        (live && claims.token_type == "access" && claims.sub == claims.user_id.to_string()).then_some(claims)
    }
}

/// Refresh tokens: `<session id>.<generation>.<MAC>`, the MAC an HMAC-SHA256 under a key
/// derived from the root key. Nothing secret is stored: the database keeps only the session's
/// current generation, so a database leak yields no usable token, and the server can hand a
/// client that retries a refresh the current token again (the grace rule) without keeping it.
#[derive(Clone)]
pub struct RefreshKeys {
    key: [u8; 32],
}

impl RefreshKeys {
    pub fn new(root: &RootKey) -> Self {
        Self { key: root.derive("refresh-token") }
    }

    pub fn issue(&self, session_id: &str, generation: i64) -> String {
        format!("{session_id}.{generation}.{}", self.mac(session_id, generation))
    }

    /// `(session id, generation)` of a well-formed token with a valid MAC.
    pub fn parse(&self, token: &str) -> Option<(String, i64)> {
        let mut parts = token.trim().splitn(3, '.');
        let (session_id, generation, mac) = (parts.next()?, parts.next()?, parts.next()?);
        let generation: i64 = generation.parse().ok().filter(|g| *g >= 0)?;
        constant_time_eq(&self.mac(session_id, generation), mac).then(|| (session_id.to_string(), generation))
    }

    fn mac(&self, session_id: &str, generation: i64) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        mac.update(format!("{session_id}:{generation}").as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }
}

/// A fresh 256-bit random token, URL-safe.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What is stored instead of a token: its SHA-256, hex. Tokens are high-entropy, so a fast
/// hash is enough; the point is that a database leak does not leak usable tokens.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::user;

    /// Tokens are issued and checked at this time, whatever the real clock says.
    const NOW: i64 = 1_700_000_000;

    fn session() -> Session {
        crate::test_fixtures::session(0)
    }

    fn keys(secret: &str) -> JwtKeys {
        JwtKeys::new(&RootKey::from_text(secret).unwrap())
    }

    #[test]
    fn issued_tokens_verify_with_all_claims() {
        let k = keys(&"k".repeat(40));
        let (token, claims) = k.issue(&user(), &session(), NOW, 900, None).unwrap();
        let back = k.verify(&token, NOW).unwrap();
        assert_eq!(back, claims);
        assert_eq!(back.username, "a@example.com");
        assert_eq!(back.sid, "s1");
        assert_eq!(back.otp_device_id, None);
    }

    #[test]
    fn refuses_wrong_key_expired_none_and_garbage() {
        let k = keys(&"k".repeat(40));
        let (token, _) = keys(&"o".repeat(40)).issue(&user(), &session(), NOW, 900, None).unwrap();
        assert!(k.verify(&token, NOW).is_none(), "wrong key");
        let (expired, _) = k.issue(&user(), &session(), NOW, -60, None).unwrap();
        assert!(k.verify(&expired, NOW).is_none(), "expired");
        let (good, _) = k.issue(&user(), &session(), NOW, 900, None).unwrap();
        let payload = good.split('.').nth(1).unwrap();
        let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
        assert!(k.verify(&format!("{none_header}.{payload}."), NOW).is_none(), "alg none");
        assert!(k.verify("garbage", NOW).is_none());
        assert!(k.verify("", NOW).is_none());
    }

    #[test]
    fn refresh_tokens_round_trip_and_resist_tampering() {
        let root = RootKey::from_text(&"k".repeat(40)).unwrap();
        let keys = RefreshKeys::new(&root);
        let token = keys.issue("5d0c8d4e-0000-4000-8000-000000000001", 3);
        assert_eq!(keys.parse(&token), Some(("5d0c8d4e-0000-4000-8000-000000000001".into(), 3)));
        let bumped = token.replacen(".3.", ".4.", 1);
        assert_eq!(keys.parse(&bumped), None, "generation is covered by the MAC");
        let other = RefreshKeys::new(&RootKey::from_text(&"o".repeat(40)).unwrap());
        assert_eq!(other.parse(&token), None, "other key");
        for junk in ["", "a.b", "a.-1.x", "a.1.", "...", "a.1.x.y"] {
            assert_eq!(keys.parse(junk), None, "{junk}");
        }
    }

    #[test]
    fn hashes_are_stable_and_comparisons_exact() {
        assert_eq!(token_hash("abc").len(), 64);
        assert_eq!(token_hash("abc"), token_hash("abc"));
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "abcd"));
        assert_ne!(random_token(), random_token());
    }
}
