use std::fmt;

/// An email address, syntax-checked and normalised to lower case (addresses compare
/// case-insensitively in Gatehouse).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let normalised = raw.trim().to_lowercase();
        if normalised.is_empty() {
            return Err(vec!["This field may not be blank.".into()]);
        }
        if normalised.chars().any(char::is_control) {
            return Err(vec!["Enter a valid email address.".into()]);
        }
        if normalised.len() > Self::MAX_LEN {
            return Err(vec![format!("Ensure this field has no more than {} characters.", Self::MAX_LEN)]);
        }
        match normalised.parse::<lettre::Address>() {
            Ok(address) if address.domain().contains('.') || address.domain() == "localhost" => Ok(Self(normalised)),
            _ => Err(vec!["Enter a valid email address.".into()]),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part before `@`, used by the password similarity rule.
    pub fn local_part(&self) -> &str {
        self.0.split('@').next().unwrap_or_default()
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalises_case_and_whitespace() {
        assert_eq!(Email::parse("  Alice@Example.COM ").unwrap().as_str(), "alice@example.com");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "alice",
            "alice@",
            "@example.com",
            "a b@example.com",
            "alice@example",
            "x@y@z.com",
            "a@\u{0}.com",
            "a\u{0}@b.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
