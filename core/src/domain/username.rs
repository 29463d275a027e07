use std::fmt;

use super::Email;

/// An optional display/login name: 1–150 letters, digits and `.`, `_`, `-`, `+`.
/// `@` is refused so that a login identifier is never both a username and an email.
#[derive(Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 150;

    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(vec!["This field may not be blank.".into()]);
        }
        if name.chars().count() > Self::MAX_LEN {
            return Err(vec![format!("Ensure this field has no more than {} characters.", Self::MAX_LEN)]);
        }
        if !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')) {
            return Err(vec!["Enter a valid username: letters, digits and . _ - + only.".into()]);
        }
        Ok(Self(name.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness and log-in compare.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

/// What a person types in the login form's first box: an email or a username.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LoginIdentifier {
    Email(Email),
    Username(Username),
}

impl LoginIdentifier {
    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        if raw.contains('@') {
            Email::parse(raw).map(LoginIdentifier::Email)
        } else {
            Username::parse(raw).map(LoginIdentifier::Username)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_checked_and_keyed_case_insensitively() {
        assert_eq!(Username::parse(" Bob.Smith ").unwrap().key(), "bob.smith");
        assert!(Username::parse("bob smith").is_err());
        assert!(Username::parse("bob@example.com").is_err());
        assert!(Username::parse(&"x".repeat(151)).is_err());
    }

    #[test]
    fn identifiers_with_at_are_emails() {
        assert!(matches!(LoginIdentifier::parse("Bob@Example.com"), Ok(LoginIdentifier::Email(_))));
        assert!(matches!(LoginIdentifier::parse("bob"), Ok(LoginIdentifier::Username(_))));
        assert!(LoginIdentifier::parse("").is_err());
    }
}
