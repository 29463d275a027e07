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
    fn short_configured_keys_are_refused() {
        assert!(matches!(RootKey::load(Some("short"), Path::new("/nonexistent")), Err(KeyError::TooShort)));
    }
}
