use std::fmt;

use unicode_normalization::UnicodeNormalization;

/// An email address, syntax-checked and normalised: NFKC, lower case, the domain mapped by
/// IDNA (UTS #46) to its ASCII form, so `ａdmin@example.com`, `Admin@EXAMPLE.com` and
/// `admin@ｅxample.com` are one address (`admin@example.com`) and `x@bücher.de` is stored as
/// `x@xn--bcher-kva.de` (what mail is sent to, and no homograph hides in it). Quoted local
/// parts (`"a b"@example.com`) are refused.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let invalid = || vec!["Enter a valid email address.".to_string()];
        let folded: String = raw.trim().nfkc().collect::<String>().to_lowercase().nfkc().collect();
        if folded.is_empty() {
            return Err(vec!["This field may not be blank.".into()]);
        }
        if folded.chars().any(char::is_control) {
            return Err(invalid());
        }
        if folded.contains('"') {
            return Err(vec!["Enter a valid email address: quoted local parts are not accepted.".into()]);
        }
        let (local, domain) = folded.rsplit_once('@').ok_or_else(invalid)?;
        let domain = if domain.starts_with('[') {
            // An address literal (`[192.0.2.1]`): no name to map.
            domain.to_string()
        } else {
            idna::domain_to_ascii_cow(domain.as_bytes(), idna::AsciiDenyList::STD3).map_err(|_| invalid())?.into_owned()
        };
        let normalised = format!("{local}@{domain}");
        if normalised.len() > Self::MAX_LEN {
            return Err(vec![format!("Ensure this field has no more than {} characters.", Self::MAX_LEN)]);
        }
        match normalised.parse::<lettre::Address>() {
            Ok(address) if address.domain().contains('.') || address.domain() == "localhost" => Ok(Self(normalised)),
            _ => Err(invalid()),
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

    /// Issue 18: compatibility forms of an address (fullwidth letters in the local part or the
    /// domain) are the address itself.
    #[test]
    fn look_alike_addresses_are_the_address() {
        for look_alike in [
            "ａdmin@example.com",
            "admin@ｅxample.com",
            "ＡＤＭＩＮ@ＥＸＡＭＰＬＥ.ＣＯＭ",
            "admin@example。com",
            "Admin@Example.Com",
        ] {
            assert_eq!(Email::parse(look_alike).unwrap().as_str(), "admin@example.com", "{look_alike}");
        }
    }

    #[test]
    fn international_domains_are_stored_in_ascii() {
        assert_eq!(Email::parse("x@Bücher.de").unwrap().as_str(), "x@xn--bcher-kva.de");
        assert_eq!(Email::parse("x@xn--bcher-kva.de").unwrap().as_str(), "x@xn--bcher-kva.de");
        // A Cyrillic `е` is another domain, and shows as one.
        assert_ne!(Email::parse("x@ехample.com").unwrap().as_str(), "x@example.com");
        assert!(Email::parse("x@ехample.com").unwrap().as_str().contains("xn--"));
    }

    #[test]
    fn refuses_quoted_local_parts() {
        for quoted in ["\"a b\"@example.com", "\"admin\"@example.com", "＂admin＂@example.com"] {
            let error = Email::parse(quoted).unwrap_err();
            assert!(error[0].contains("quoted"), "{quoted}: {error:?}");
        }
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
            "a@exa_mple.com",
            "a@exa mple.com",
            "a@-.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(Email::parse(&format!("{}@example.com", "a".repeat(250))).is_err());
    }
}
