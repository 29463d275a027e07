use std::fmt;

/// A TOTP code as typed: six digits, spaces ignored ("123 456").
#[derive(Clone, PartialEq, Eq)]
pub struct TotpCode(String);

impl TotpCode {
    pub fn parse(input: &str) -> Result<Self, Vec<String>> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(vec!["Enter the 6-digit code from your authenticator app.".into()])
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TotpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpCode(***)")
    }
}

/// A recovery code as typed, normalised: case, spaces and dashes do not matter
/// ("ABCD-1234" is "abcd1234").
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(String);

/// Characters of recovery codes.
pub const RECOVERY_CODE_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
pub const RECOVERY_CODE_LENGTH: usize = 8;

impl RecoveryCode {
    pub fn parse(input: &str) -> Result<Self, Vec<String>> {
        let code: String =
            input.chars().filter(|c| !c.is_whitespace() && *c != '-').map(|c| c.to_ascii_lowercase()).collect();
        let valid = code.len() == RECOVERY_CODE_LENGTH && code.bytes().all(|b| RECOVERY_CODE_ALPHABET.contains(&b));
        if valid {
            Ok(Self(code))
        } else {
            Err(vec!["Enter one of your recovery codes (8 letters and digits).".into()])
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_normalised_as_people_type_them() {
        assert_eq!(TotpCode::parse(" 123 456 ").unwrap().as_str(), "123456");
        assert!(TotpCode::parse("12345").is_err() && TotpCode::parse("12345a").is_err());
        assert_eq!(RecoveryCode::parse("ABCD-12 34").unwrap().as_str(), "abcd1234");
        assert!(RecoveryCode::parse("abcd123").is_err() && RecoveryCode::parse("abcd123!").is_err());
    }
}
