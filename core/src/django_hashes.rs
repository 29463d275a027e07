//! Password hashes made by Django, for users imported with `gatehouse import-django`:
//! `pbkdf2_sha256$…`, `argon2$argon2id$…` / `argon2$argon2i$…`, `bcrypt_sha256$…` and
//! `bcrypt$…`. Each is split into its *legacy step* ([`LegacyKdf`]: how Django derives a key
//! from the password, with the stored parameters and salt) and the key Django stored. The
//! import never keeps that key as Django stored it: `passwords` wraps it under argon2id, so
//! the database holds no fast hash to crack; checking a password runs the legacy step, then
//! argon2id. A successful login replaces the whole thing with a plain argon2id hash.
//!
//! The stored parameters come from another system, so they are bounded: a hash that asks for
//! more work than any Django release uses is not taken as a Django hash (it never matches)
//! rather than tying up a hashing slot.

use std::fmt;

use argon2::password_hash::PasswordHash;
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
const MIN_BCRYPT_COST: u32 = 4;
const MAX_BCRYPT_COST: u32 = 16;
/// Longest derived key taken (Django's are 32 bytes; bcrypt's 23).
const MAX_KEY_LEN: usize = 64;

/// What the other legacy steps cost in PBKDF2-HMAC-SHA256 iterations (the unit of
/// [`LegacyKdf::cost`]), measured on one core with release builds of these crates
/// (2026-12-07: 107 ns an iteration): a bcrypt round (cost `c` runs 2^c of them) 66 µs, about
/// 600 iterations; an argon2 pass over one 1 KiB block 0.9 µs, about 9. Only the ratios
/// matter, to find the costliest step and pad the others up to it (see `passwords`).
const BCRYPT_ROUND_COST: u64 = 600;
const ARGON2_BLOCK_PASS_COST: u64 = 9;

/// A Django hash Gatehouse can verify: its legacy step and the key Django stored.
pub struct DjangoHash {
    pub kdf: LegacyKdf,
    key: Vec<u8>,
}

impl DjangoHash {
    /// `None` when `stored` is not a Django hash Gatehouse can verify: another format, Django's
    /// unusable password (`!…`), or parameters beyond the bounds.
    pub fn parse(stored: &str) -> Option<Self> {
        let (algorithm, rest) = stored.split_once('$')?;
        match algorithm {
            "pbkdf2_sha256" => pbkdf2_sha256(rest),
            "argon2" => argon2(rest),
            "bcrypt_sha256" => bcrypt(rest, true),
            "bcrypt" => bcrypt(rest, false),
            _ => None,
        }
    }

    /// The key Django stored (what the import wraps under argon2id).
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Whether `password` derives the stored key, compared in constant time.
    pub fn matches(&self, password: &str) -> bool {
        self.kdf.derive(password).ct_eq(&self.key).into()
    }
}

/// How Django derives a key from a password: the algorithm, its stored parameters and salt.
/// Its text form (`Display`, [`LegacyKdf::parse`]) is Django's hash without the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LegacyKdf {
    /// `pbkdf2_sha256$<iterations>$<salt>$<key length>`
    Pbkdf2Sha256 { iterations: u32, salt: String, len: usize },
    /// `argon2$<argon2-cffi's PHC string without its hash>$<key length>`
    Argon2 { phc: String, len: usize },
    /// `bcrypt_sha256$<cost>$<salt>` or `bcrypt$<cost>$<salt>` (bcrypt's own base64 salt);
    /// `bcrypt_sha256` feeds bcrypt the hex SHA-256 of the password.
    Bcrypt { prehash: bool, cost: u32, salt: String },
}

impl LegacyKdf {
    pub fn parse(text: &str) -> Option<Self> {
        let (algorithm, rest) = text.split_once('$')?;
        let kdf = match algorithm {
            "pbkdf2_sha256" => {
                let mut parts = rest.split('$');
                let (iterations, salt, len) = (parts.next()?, parts.next()?, parts.next()?);
                LegacyKdf::Pbkdf2Sha256 {
                    iterations: iterations.parse().ok()?,
                    salt: salt.to_string(),
                    len: len.parse().ok()?,
                }
            }
            "argon2" => {
                let (phc, len) = rest.rsplit_once('$')?;
                LegacyKdf::Argon2 { phc: phc.to_string(), len: len.parse().ok()? }
            }
            "bcrypt_sha256" | "bcrypt" => {
                let (cost, salt) = rest.split_once('$')?;
                LegacyKdf::Bcrypt { prehash: algorithm == "bcrypt_sha256", cost: cost.parse().ok()?, salt: salt.into() }
            }
            _ => return None,
        };
        kdf.within_bounds().then_some(kdf)
    }

    /// The legacy step: the key Django would have derived from `password`.
    pub fn derive(&self, password: &str) -> Vec<u8> {
        match self {
            LegacyKdf::Pbkdf2Sha256 { iterations, salt, len } => {
                let mut key = vec![0u8; *len];
                pbkdf2::pbkdf2_hmac::<Sha256>(password.as_bytes(), salt.as_bytes(), *iterations, &mut key);
                key
            }
            LegacyKdf::Argon2 { phc, len } => argon2_derive(phc, *len, password).unwrap_or_default(),
            LegacyKdf::Bcrypt { prehash, cost, salt } => bcrypt_derive(*prehash, *cost, salt, password),
        }
    }

    /// What [`derive`](Self::derive) costs, in PBKDF2-HMAC-SHA256 iterations (an estimate
    /// across algorithms, exact within PBKDF2).
    pub fn cost(&self) -> u64 {
        match self {
            LegacyKdf::Pbkdf2Sha256 { iterations, len, .. } => u64::from(*iterations) * len.div_ceil(32) as u64,
            LegacyKdf::Argon2 { phc, .. } => {
                let params = argon2_params(phc).map(|(_, _, p)| p);
                params.map_or(0, |p| u64::from(p.m_cost()) * u64::from(p.t_cost()) * ARGON2_BLOCK_PASS_COST)
            }
            LegacyKdf::Bcrypt { cost, .. } => (1u64 << cost) * BCRYPT_ROUND_COST,
        }
    }

    fn within_bounds(&self) -> bool {
        match self {
            LegacyKdf::Pbkdf2Sha256 { iterations, salt, len } => {
                (1..=MAX_PBKDF2_ITERATIONS).contains(iterations)
                    && (1..=MAX_KEY_LEN).contains(len)
                    && !salt.contains('$')
            }
            LegacyKdf::Argon2 { phc, len } => {
                (4..=MAX_KEY_LEN).contains(len)
                    && argon2_params(phc).is_some_and(|(_, _, p)| {
                        p.m_cost() <= MAX_ARGON2_MEMORY_KIB
                            && p.t_cost() <= MAX_ARGON2_TIME
                            && p.p_cost() <= MAX_ARGON2_LANES
                    })
            }
            LegacyKdf::Bcrypt { cost, salt, .. } => {
                (MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(cost) && bcrypt_salt(salt).is_some()
            }
        }
    }
}

impl fmt::Display for LegacyKdf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LegacyKdf::Pbkdf2Sha256 { iterations, salt, len } => write!(f, "pbkdf2_sha256${iterations}${salt}${len}"),
            LegacyKdf::Argon2 { phc, len } => write!(f, "argon2${phc}${len}"),
            LegacyKdf::Bcrypt { prehash, cost, salt } => {
                write!(f, "{}${cost}${salt}", if *prehash { "bcrypt_sha256" } else { "bcrypt" })
            }
        }
    }
}

/// `<iterations>$<salt>$<base64 of the key>`
fn pbkdf2_sha256(rest: &str) -> Option<DjangoHash> {
    let mut parts = rest.splitn(3, '$');
    let (iterations, salt, key) = (parts.next()?, parts.next()?, parts.next()?);
    let key = STANDARD.decode(key).ok()?;
    let kdf = LegacyKdf::Pbkdf2Sha256 { iterations: iterations.parse().ok()?, salt: salt.into(), len: key.len() };
    kdf.within_bounds().then_some(DjangoHash { kdf, key })
}

/// Django stores argon2-cffi's PHC string after its own `argon2` prefix.
fn argon2(rest: &str) -> Option<DjangoHash> {
    let phc = format!("${rest}");
    let mut parsed = PasswordHash::new(&phc).ok()?;
    let key = parsed.hash.take()?.as_bytes().to_vec();
    let without_key = parsed.to_string();
    let kdf = LegacyKdf::Argon2 { phc: without_key.trim_start_matches('$').to_string(), len: key.len() };
    kdf.within_bounds().then_some(DjangoHash { kdf, key })
}

/// `$2b$<cost>$<22 characters of salt><31 of hash>` (Django keeps bcrypt's own string after
/// its prefix). The key is the hash's text: bcrypt's base64 of its 23 bytes.
fn bcrypt(rest: &str, prehash: bool) -> Option<DjangoHash> {
    let rest = rest.strip_prefix('$')?;
    if rest.len() != 59 || !rest.is_ascii() {
        return None;
    }
    let (setting, hash) = rest.split_at(28);
    let (_version, cost_and_salt) = setting.split_once('$')?;
    let (cost, salt) = cost_and_salt.split_once('$')?;
    let kdf = LegacyKdf::Bcrypt { prehash, cost: cost.parse().ok()?, salt: salt.to_string() };
    kdf.within_bounds().then_some(DjangoHash { kdf, key: hash.as_bytes().to_vec() })
}

fn argon2_params(phc: &str) -> Option<(argon2::Algorithm, argon2::Version, argon2::Params)> {
    let full = format!("${phc}");
    let parsed = PasswordHash::new(&full).ok()?;
    let algorithm = argon2::Algorithm::try_from(parsed.algorithm).ok()?;
    let version = parsed.version.map(argon2::Version::try_from).transpose().ok()?.unwrap_or_default();
    Some((algorithm, version, argon2::Params::try_from(&parsed).ok()?))
}

fn argon2_derive(phc: &str, len: usize, password: &str) -> Option<Vec<u8>> {
    let full = format!("${phc}");
    let parsed = PasswordHash::new(&full).ok()?;
    let (algorithm, version, params) = argon2_params(phc)?;
    let params = argon2::Params::new(params.m_cost(), params.t_cost(), params.p_cost(), Some(len)).ok()?;
    let mut salt = [0u8; argon2::password_hash::Salt::MAX_LENGTH];
    let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
    let mut key = vec![0u8; len];
    argon2::Argon2::new(algorithm, version, params).hash_password_into(password.as_bytes(), salt, &mut key).ok()?;
    Some(key)
}

fn bcrypt_salt(salt: &str) -> Option<[u8; 16]> {
    // bcrypt's crate parses only whole hashes: give it one with this salt and an empty hash.
    let whole = format!("$2b$04${salt}{}", ".".repeat(31));
    whole.parse::<bcrypt::HashParts>().ok().map(|parts| parts.get_salt_raw())
}

fn bcrypt_derive(prehash: bool, cost: u32, salt: &str, password: &str) -> Vec<u8> {
    let Some(salt) = bcrypt_salt(salt) else { return Vec::new() };
    // Django hands bcrypt the password's bytes (bcrypt itself reads at most 72 of them), or
    // for `bcrypt_sha256` their hex SHA-256: 64 bytes, so long passwords count in full.
    let input = if prehash { hex_sha256(password).into_bytes() } else { password.as_bytes().to_vec() };
    let Ok(parts) = bcrypt::hash_with_salt(input, cost, salt) else { return Vec::new() };
    parts.format_for_version(bcrypt::Version::TwoB).as_bytes()[29..].to_vec()
}

fn hex_sha256(password: &str) -> String {
    Sha256::digest(password.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn verify(stored: &str, password: &str) -> Option<bool> {
        DjangoHash::parse(stored).map(|hash| hash.matches(password))
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

    /// The legacy step written out and read back is the same step: the wrapped form keeps it.
    #[test]
    fn a_legacy_step_survives_its_text_form() {
        let fixture: Fixture = serde_json::from_str(include_str!("../tests/fixtures/django_hashes.json")).unwrap();
        for vector in &fixture.vectors {
            let hash = DjangoHash::parse(&vector.encoded).unwrap();
            let text = hash.kdf.to_string();
            let stored_key = &vector.encoded[vector.encoded.len() - 31..];
            assert!(!text.contains(stored_key), "{text} holds no part of the key");
            let back = LegacyKdf::parse(&text).unwrap_or_else(|| panic!("{text} parses"));
            assert_eq!(back, hash.kdf);
            assert_eq!(back.derive(&vector.password), hash.key(), "{text}");
        }
    }

    #[test]
    fn other_formats_are_not_django_and_absurd_parameters_are_refused() {
        assert!(DjangoHash::parse("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaA").is_none());
        assert!(DjangoHash::parse("!unusable").is_none());
        assert!(DjangoHash::parse("md5$salt$hash").is_none());
        assert!(DjangoHash::parse("pbkdf2_sha256$4000000000$salt$aGFzaA==").is_none());
        assert!(DjangoHash::parse("pbkdf2_sha256$nope$salt$aGFzaA==").is_none());
        assert!(DjangoHash::parse("argon2$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo").is_none());
        assert!(DjangoHash::parse("bcrypt$$2b$31$abcdefghijklmnopqrstuu").is_none());
        assert!(LegacyKdf::parse("pbkdf2_sha256$20000000$salt$32").is_none());
        assert!(LegacyKdf::parse("bcrypt$17$abcdefghijklmnopqrstuu").is_none());
    }

    #[test]
    fn costs_grow_with_the_parameters() {
        let pbkdf2 = |iterations| LegacyKdf::Pbkdf2Sha256 { iterations, salt: "s".into(), len: 32 };
        assert_eq!(pbkdf2(1_000_000).cost(), 1_000_000);
        assert!(pbkdf2(260_000).cost() < pbkdf2(1_000_000).cost());
        let bcrypt = |cost| LegacyKdf::Bcrypt { prehash: true, cost, salt: "abcdefghijklmnopqrstuu".into() };
        assert_eq!(bcrypt(13).cost(), 2 * bcrypt(12).cost());
    }
}
