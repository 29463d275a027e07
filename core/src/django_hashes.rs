//! Password hashes made by Django, for users imported with `gatehouse import-django`:
//! `pbkdf2_sha256$…`, `argon2$argon2id$…` / `argon2$argon2i$…`, `bcrypt_sha256$…` and
//! `bcrypt$…`. They verify as Django verifies them; a successful login then replaces the
//! hash with the current argon2id (see `passwords::needs_rehash`: these never parse as PHC).
//!
//! The stored parameters come from another system, so they are bounded: a hash that asks for
//! more work than any Django release uses never matches rather than tying up a hashing slot.

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Far above Django's defaults (PBKDF2 1,000,000 iterations in 5.2; argon2 m=102400 KiB, t=2,
/// p=8; bcrypt cost 12).
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;
const MAX_ARGON2_MEMORY_KIB: u32 = 1024 * 1024;
const MAX_ARGON2_TIME: u32 = 64;
const MAX_ARGON2_LANES: u32 = 64;
const MAX_BCRYPT_COST: u32 = 16;

/// `None` when `stored` is not one of Django's formats; otherwise whether `password` matches.
pub fn verify(stored: &str, password: &str) -> Option<bool> {
    let (algorithm, rest) = stored.split_once('$')?;
    Some(match algorithm {
        "pbkdf2_sha256" => pbkdf2_sha256(rest, password),
        "argon2" => argon2(rest, password),
        "bcrypt_sha256" => bcrypt(rest, &hex_sha256(password)),
        "bcrypt" => bcrypt(rest, password),
        _ => return None,
    })
}

/// `<iterations>$<salt>$<base64 of 32 bytes>`
fn pbkdf2_sha256(rest: &str, password: &str) -> bool {
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else { return false };
    let Ok(expected) = STANDARD.decode(expected) else { return false };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS || expected.is_empty() || expected.len() > 64 {
        return false;
    }
    let mut derived = vec![0u8; expected.len()];
    pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut derived);
    derived.ct_eq(&expected).into()
}

/// Django stores argon2-cffi's PHC string after its own `argon2` prefix.
fn argon2(rest: &str, password: &str) -> bool {
    let phc = format!("${rest}");
    let Ok(parsed) = PasswordHash::new(&phc) else { return false };
    let Ok(params) = argon2::Params::try_from(&parsed) else { return false };
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB
        || params.t_cost() > MAX_ARGON2_TIME
        || params.p_cost() > MAX_ARGON2_LANES
    {
        return false;
    }
    argon2::Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok()
}

/// `$2b$<cost>$<salt+hash>` (Django keeps bcrypt's own string after its prefix).
fn bcrypt(rest: &str, password: &str) -> bool {
    let cost = rest.split('$').nth(2).and_then(|c| c.parse::<u32>().ok());
    if cost.is_none_or(|c| c > MAX_BCRYPT_COST) {
        return false;
    }
    // Django hands bcrypt the password's bytes; bcrypt itself reads at most 72 of them.
    let bytes = password.as_bytes();
    bcrypt::verify(&bytes[..bytes.len().min(72)], rest).unwrap_or(false)
}

/// What Django's `bcrypt_sha256` feeds bcrypt: the hex SHA-256 of the password (64 bytes,
/// under bcrypt's 72-byte limit, so long passwords count in full).
fn hex_sha256(password: &str) -> String {
    Sha256::digest(password.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::verify;

    #[derive(serde::Deserialize)]
    struct Fixture {
        vectors: Vec<Vector>,
    }

    #[derive(serde::Deserialize)]
    struct Vector {
        algorithm: String,
        password: String,
        encoded: String,
    }

    /// Vectors made by Django itself (`scripts/django-hash-vectors.py`).
    #[test]
    fn every_django_vector_verifies_and_wrong_passwords_do_not() {
        let fixture: Fixture =
            serde_json::from_str(include_str!("../tests/fixtures/django_hashes.json")).expect("the fixture parses");
        let algorithms: std::collections::BTreeSet<&str> =
            fixture.vectors.iter().map(|v| v.algorithm.as_str()).collect();
        assert_eq!(algorithms.into_iter().collect::<Vec<_>>(), ["argon2", "bcrypt", "bcrypt_sha256", "pbkdf2_sha256"]);
        for vector in &fixture.vectors {
            assert_eq!(verify(&vector.encoded, &vector.password), Some(true), "{}", vector.encoded);
            let wrong = format!("{}x", vector.password);
            assert_eq!(verify(&vector.encoded, &wrong), Some(false), "{}", vector.encoded);
        }
    }

    #[test]
    fn other_formats_are_not_django_and_absurd_parameters_never_match() {
        assert_eq!(verify("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA", "x"), None);
        assert_eq!(verify("!unusable", "x"), None);
        assert_eq!(verify("md5$salt$hash", "x"), None);
        assert_eq!(verify("pbkdf2_sha256$4000000000$salt$aGFzaA==", "x"), Some(false));
        assert_eq!(verify("pbkdf2_sha256$nope$salt$aGFzaA==", "x"), Some(false));
        assert_eq!(verify("argon2$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo", "x"), Some(false));
        assert_eq!(verify("bcrypt$$2b$31$abcdefghijklmnopqrstuu", "x"), Some(false));
    }
}
