use std::collections::HashSet;
use std::fmt;
use std::io::Read;
use std::sync::OnceLock;

/// The longest password accepted anywhere; stops multi-megabyte inputs reaching the hasher.
pub const MAX_PASSWORD_BYTES: usize = 4096;

/// A password someone is trying (login, re-authentication). Only its size is checked.
#[derive(Clone)]
pub struct PasswordAttempt(String);

impl PasswordAttempt {
    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        if raw.is_empty() {
            return Err(vec!["This field may not be blank.".into()]);
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(vec![format!("Ensure this field has no more than {MAX_PASSWORD_BYTES} characters.")]);
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// A password that passed the [`PasswordPolicy`] and may be stored (after hashing).
#[derive(Clone)]
pub struct NewPassword(String);

impl NewPassword {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordAttempt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordAttempt(***)")
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

/// The rules of SPEC §3, the same four as Django's default validators.
#[derive(Clone, Debug)]
pub struct PasswordPolicy {
    pub min_length: usize,
}

/// Above this similarity ratio a password counts as "too similar" (Django's default 0.7).
const MAX_SIMILARITY: f64 = 0.7;

impl PasswordPolicy {
    /// Checks `raw` against every rule; `personal` holds the values it must not resemble
    /// (email, its local part, username, names).
    pub fn check(&self, raw: &str, personal: &[&str]) -> Result<NewPassword, Vec<String>> {
        let mut problems = Vec::new();
        let length = raw.chars().count();
        if length < self.min_length {
            problems
                .push(format!("This password is too short. It must contain at least {} characters.", self.min_length));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            problems.push(format!("This password is too long. It must contain at most {MAX_PASSWORD_BYTES} bytes."));
        }
        if is_too_similar(raw, personal) {
            problems.push("This password is too similar to your email or username.".into());
        }
        if is_common(raw) {
            problems.push("This password is too common.".into());
        }
        if !raw.is_empty() && raw.chars().all(|c| c.is_ascii_digit()) {
            problems.push("This password is entirely numeric.".into());
        }
        if problems.is_empty() {
            Ok(NewPassword(raw.to_string()))
        } else {
            Err(problems)
        }
    }
}

fn is_too_similar(password: &str, personal: &[&str]) -> bool {
    let password = password.to_lowercase();
    personal.iter().filter(|v| !v.is_empty()).any(|value| {
        let value = value.to_lowercase();
        // Compare with the whole value, the part before any `@`, and the word-like parts
        // ("alice.smith@x.org" → "alice.smith", "alice", "smith", ...).
        std::iter::once(value.as_str())
            .chain(value.split('@').next())
            .chain(value.split(|c: char| !c.is_alphanumeric()))
            .filter(|part| part.chars().count() >= 3)
            .any(|part| {
                password.contains(part) && part.len() * 2 >= password.len()
                    || similarity(&password, part) >= MAX_SIMILARITY
            })
    })
}

/// Ratio in 0..=1 of how alike two strings are, on the same scale as Python's SequenceMatcher.
fn similarity(a: &str, b: &str) -> f64 {
    strsim::normalized_levenshtein(a, b)
}

fn is_common(password: &str) -> bool {
    static COMMON: OnceLock<HashSet<String>> = OnceLock::new();
    let common = COMMON.get_or_init(|| {
        let gz = include_bytes!("../../data/common-passwords.txt.gz");
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .expect("the bundled common-passwords list is valid gzip text");
        text.lines().map(|l| l.trim().to_string()).filter(|l| !l.is_empty()).collect()
    });
    common.contains(&password.trim().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> PasswordPolicy {
        PasswordPolicy { min_length: 8 }
    }

    #[test]
    fn accepts_a_reasonable_password() {
        assert!(policy().check("correct horse battery", &["alice@example.com", "alice"]).is_ok());
    }

    #[test]
    fn reports_every_broken_rule() {
        let problems = policy().check("123456", &[]).unwrap_err();
        assert_eq!(problems.len(), 3, "{problems:?}"); // short, common, numeric
        assert!(policy().check("password1", &[]).unwrap_err()[0].contains("common"));
        assert!(policy().check("98765432123", &[]).unwrap_err().iter().any(|p| p.contains("numeric")));
    }

    #[test]
    fn refuses_passwords_like_the_account() {
        let problems = policy().check("carmeella2019", &["carmeella@example.com", "carmeella"]).unwrap_err();
        assert!(problems[0].contains("similar"), "{problems:?}");
        assert!(policy().check("Alice.Smith", &["alice.smith@example.com"]).is_err());
    }

    #[test]
    fn attempts_only_check_size() {
        assert!(PasswordAttempt::parse("x").is_ok());
        assert!(PasswordAttempt::parse("").is_err());
        assert!(PasswordAttempt::parse(&"x".repeat(MAX_PASSWORD_BYTES + 1)).is_err());
        assert_eq!(format!("{:?}", PasswordAttempt::parse("secret").unwrap()), "PasswordAttempt(***)");
    }
}
