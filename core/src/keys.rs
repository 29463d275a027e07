//! The root secret and the keys derived from it. Each use (JWT signing, later TOTP secret
//! encryption) gets its own key, so a leak of one derived key exposes nothing else.

use std::io::Write;
use std::path::Path;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("GATEHOUSE_SECRET_KEY must be at least 32 characters long")]
    TooShort,
    #[error("cannot read or create the secret key file {0}: {1}")]
    File(String, std::io::Error),
}

#[derive(Clone)]
pub struct RootKey(Vec<u8>);

impl std::fmt::Debug for RootKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RootKey(***)")
    }
}

const KEY_FILE: &str = "secret_key";

impl RootKey {
    /// The configured key, or the one kept in the data dir (generated there, mode 0600, the
    /// first time).
    pub fn load(configured: Option<&str>, data_dir: &Path) -> Result<Self, KeyError> {
        if let Some(key) = configured {
            return Self::from_text(key);
        }
        let path = data_dir.join(KEY_FILE);
        let io = |e| KeyError::File(path.display().to_string(), e);
        match std::fs::read_to_string(&path) {
            Ok(text) => Self::from_text(text.trim()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(data_dir).map_err(io)?;
                let mut bytes = [0u8; 48];
                rand::rngs::OsRng.fill_bytes(&mut bytes);
                let text = URL_SAFE_NO_PAD.encode(bytes);
                let mut file = open_private(&path).map_err(io)?;
                file.write_all(text.as_bytes()).map_err(io)?;
                tracing::info!(path = %path.display(), "generated a new secret key");
                Self::from_text(&text)
            }
            Err(e) => Err(io(e)),
        }
    }

    pub fn from_text(text: &str) -> Result<Self, KeyError> {
        if text.len() < 32 {
            return Err(KeyError::TooShort);
        }
        Ok(Self(text.as_bytes().to_vec()))
    }

    /// A 32-byte key for one purpose, e.g. `derive("jwt-hs256")`.
    pub fn derive(&self, purpose: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes keys of any length");
        mac.update(b"gatehouse/");
        mac.update(purpose.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Tags that prove a value was made by this server: HMAC-SHA256 under a key derived for one
/// purpose, over the value's parts (each length-prefixed, so parts cannot run into each other).
#[derive(Clone)]
pub struct Tagger {
    key: [u8; 32],
}

impl Tagger {
    pub fn new(root: &RootKey, purpose: &str) -> Self {
        Self { key: root.derive(&format!("tag/{purpose}")) }
    }

    pub fn tag(&self, parts: &[&str]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        for part in parts {
            mac.update(&(part.len() as u64).to_be_bytes());
            mac.update(part.as_bytes());
        }
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether `tag` is this tagger's tag of `parts` (compared in constant time).
    pub fn verify(&self, parts: &[&str], tag: &str) -> bool {
        constant_time_eq(&self.tag(parts), tag)
    }
}

/// Encryption at rest for secrets the server must read back (TOTP secrets):
/// ChaCha20-Poly1305 under a key derived from the root key, a fresh random nonce per value,
/// stored as base64url(`nonce || ciphertext`). `purpose` is bound as associated data, so a
/// value sealed for one use cannot be opened as another.
#[derive(Clone)]
pub struct SecretBox {
    cipher: chacha20poly1305::ChaCha20Poly1305,
}

impl SecretBox {
    pub fn new(root: &RootKey, purpose: &str) -> Self {
        use chacha20poly1305::KeyInit;
        let key = root.derive(&format!("secret-box/{purpose}"));
        Self { cipher: chacha20poly1305::ChaCha20Poly1305::new(&key.into()) }
    }

    pub fn seal(&self, plaintext: &[u8], purpose: &str) -> String {
        use chacha20poly1305::aead::{Aead, AeadCore, Payload};
        let nonce = chacha20poly1305::ChaCha20Poly1305::generate_nonce(&mut rand::rngs::OsRng);
        let sealed = self
            .cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad: purpose.as_bytes() })
            .expect("ChaCha20-Poly1305 encrypts any length we use");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(out)
    }

    /// `None` when the value was not sealed by this key for this purpose, or was altered.
    pub fn open(&self, sealed: &str, purpose: &str) -> Option<Vec<u8>> {
        use chacha20poly1305::aead::{Aead, Payload};
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        if bytes.len() < 12 {
            return None;
        }
        let (nonce, ciphertext) = bytes.split_at(12);
        self.cipher.decrypt(nonce.into(), Payload { msg: ciphertext, aad: purpose.as_bytes() }).ok()
    }
}

/// Compares secrets without an early exit.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

#[cfg(test)]
mod tagger_tests {
    use super::{RootKey, Tagger};

    #[test]
    fn tags_verify_only_for_the_same_key_purpose_and_parts() {
        let root = RootKey::from_text(&"k".repeat(40)).unwrap();
        let tagger = Tagger::new(&root, "page-messages");
        let tag = tagger.tag(&["/_fn/login", "abc"]);
        assert!(tagger.verify(&["/_fn/login", "abc"], &tag));
        assert!(!tagger.verify(&["/_fn/login", "abd"], &tag));
        assert!(!tagger.verify(&["/_fn/login", "abc"], "forged"));
        assert!(!tagger.verify(&["/_fn/loginabc", ""], &tag), "parts cannot be shifted");
        assert!(!Tagger::new(&root, "other").verify(&["/_fn/login", "abc"], &tag));
    }
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_with_private_mode_and_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = RootKey::load(None, dir.path()).unwrap();
        let second = RootKey::load(None, dir.path()).unwrap();
        assert_eq!(first.derive("x"), second.derive("x"));
        assert_ne!(first.derive("x"), first.derive("y"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_purpose() {
        let root = RootKey::from_text("a root key of at least thirty-two characters").unwrap();
        let secrets = SecretBox::new(&root, "totp");
        let sealed = secrets.seal(b"JBSWY3DPEHPK3PXP", "totp");
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_ne!(sealed, secrets.seal(b"JBSWY3DPEHPK3PXP", "totp"), "a fresh nonce each time");
        assert_eq!(secrets.open(&sealed, "totp").unwrap(), b"JBSWY3DPEHPK3PXP");
        assert!(secrets.open(&sealed, "other").is_none(), "bound to its purpose");
        let other = RootKey::from_text("another root key, also thirty-two chars").unwrap();
        assert!(SecretBox::new(&other, "totp").open(&sealed, "totp").is_none(), "bound to the root key");
        let mut altered = sealed.clone();
        altered.replace_range(20..21, if &sealed[20..21] == "A" { "B" } else { "A" });
        assert!(secrets.open(&altered, "totp").is_none(), "authenticated");
    }

    #[test]
    fn short_configured_keys_are_refused() {
        assert!(matches!(RootKey::load(Some("short"), Path::new("/nonexistent")), Err(KeyError::TooShort)));
    }
}
