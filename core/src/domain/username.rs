use std::fmt;

use unicode_normalization::UnicodeNormalization;

use super::Email;

/// An optional display/login name: 1–150 letters, digits and `.`, `_`, `-`, `+`, kept in its
/// NFKC form (as Django's `normalize_username` does), so `ａｄｍｉｎ` and `ᴬdmin` are stored as
/// `admin` and `Admin`. `@` is refused so that a login identifier is never both a username and
/// an email.
#[derive(Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub const MAX_LEN: usize = 150;

    pub fn parse(raw: &str) -> Result<Self, Vec<String>> {
        let name: String = raw.trim().nfkc().collect();
        if name.is_empty() {
            return Err(vec!["This field may not be blank.".into()]);
        }
        if name.chars().count() > Self::MAX_LEN {
            return Err(vec![format!("Ensure this field has no more than {} characters.", Self::MAX_LEN)]);
        }
        if !name.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '+')) {
            return Err(vec!["Enter a valid username: letters, digits and . _ - + only.".into()]);
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that log-in looks the account up by (and the admin list searches
    /// and sorts by): `Admin` and `ADMIN` are the account `admin`.
    pub fn key(&self) -> String {
        case_key(&self.0)
    }

    /// What uniqueness compares: the UTS #39 confusable skeleton of [`Username::key`], so a
    /// name that merely looks like a taken one (`аdmin` with a Cyrillic `а`, `admın` with a
    /// dotless `ı`, `ADMİN`) is taken too. Not for display: it is deliberately lossy (`m` and
    /// `rn` share one, as they look alike).
    pub fn skeleton(&self) -> String {
        look_alike_key(&self.0)
    }
}

/// [`Username::key`] of a stored name, whatever rule it was checked by when it was stored.
pub(crate) fn case_key(name: &str) -> String {
    // NFKC again after lower-casing: lower case can leave a form NFKC would change.
    name.nfkc().collect::<String>().to_lowercase().nfkc().collect()
}

/// [`Username::skeleton`] of a stored name, whatever rule it was checked by when it was stored.
pub(crate) fn look_alike_key(name: &str) -> String {
    // UTS #39 skeletons are case-sensitive: that of `0` is `O`, which names compared in lower
    // case must take for `o`. So the skeleton of the lower case, lower-cased, and its skeleton.
    let skeleton: String = unicode_security::skeleton(&case_key(name)).collect();
    let skeleton: String = unicode_security::skeleton(&skeleton.to_lowercase()).collect();
    without_dots_on_dotted_letters(&skeleton)
}

/// Drops a combining dot above (U+0307) that sits on a letter already dotted (`i`, `j`): it
/// draws nothing new. Lower-casing `İ` gives `i` + U+0307, which the skeleton keeps.
fn without_dots_on_dotted_letters(skeleton: &str) -> String {
    let mut out = String::with_capacity(skeleton.len());
    for c in skeleton.chars() {
        if c == '\u{307}' && matches!(out.chars().last(), Some('i' | 'j')) {
            continue;
        }
        out.push(c);
    }
    out
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

    /// The look-alikes of issue 18 (fullwidth, Cyrillic `а`, dotless `ı`, dotted capital `İ`,
    /// modifier `ᴬ`, mixed case): one skeleton with `admin`.
    #[test]
    fn look_alikes_of_a_name_share_its_skeleton() {
        let admin = Username::parse("admin").unwrap().skeleton();
        for look_alike in ["ａｄｍｉｎ", "аdmin", "admın", "ADMİN", "ᴬdmin", "ADMIN", "Admin", "ａdmin", "аdmіn"]
        {
            let name = Username::parse(look_alike).unwrap_or_else(|e| panic!("{look_alike}: {e:?}"));
            assert_eq!(name.skeleton(), admin, "{look_alike} should look like admin");
        }
    }

    #[test]
    fn names_are_kept_in_nfkc_form_as_typed() {
        assert_eq!(Username::parse("ａｄｍｉｎ").unwrap().as_str(), "admin");
        assert_eq!(Username::parse("ᴬdmin").unwrap().as_str(), "Admin");
        assert_eq!(Username::parse(" BoB ").unwrap().as_str(), "BoB");
        // Not a compatibility form: kept (the skeleton, not the display name, catches it).
        assert_eq!(Username::parse("аdmin").unwrap().as_str(), "аdmin");
        // NFKC can make a name invalid: `½` becomes `1⁄2`, whose fraction slash is refused.
        assert!(Username::parse("½").is_err());
    }

    #[test]
    fn log_in_keys_fold_case_but_not_look_alikes() {
        let key = |n: &str| Username::parse(n).unwrap().key();
        assert_eq!(key("ADMIN"), "admin");
        assert_eq!(key("ａｄｍｉｎ"), "admin");
        assert_eq!(key("ᴬdmin"), "admin");
        assert_ne!(key("аdmin"), "admin");
        assert_ne!(key("admın"), "admin");
    }

    #[test]
    fn different_names_keep_different_skeletons() {
        let skeleton = |n: &str| Username::parse(n).unwrap().skeleton();
        for (a, b) in [
            ("adam", "admin"),
            ("admin", "admins"),
            ("admin", "admin1"),
            ("bob", "rob"),
            ("alice", "alice.smith"),
            ("jose", "josé"),
            ("ivan", "иван"),
            ("admin", "adm"),
        ] {
            assert_ne!(skeleton(a), skeleton(b), "{a} and {b} are different names");
        }
    }

    /// UTS #39 takes `rn` for `m` (and `l`, `I`, `1` for one another, `0` for `O`): such pairs
    /// are one name as far as uniqueness goes, which is the point of the skeleton.
    #[test]
    fn the_skeleton_takes_rn_for_m_and_l_for_one() {
        let skeleton = |n: &str| Username::parse(n).unwrap().skeleton();
        assert_eq!(skeleton("adrnin"), skeleton("admin"));
        assert_eq!(skeleton("paul1"), skeleton("paull"));
        assert_eq!(skeleton("0scar"), skeleton("oscar"));
    }

    #[test]
    fn identifiers_with_at_are_emails() {
        assert!(matches!(LoginIdentifier::parse("Bob@Example.com"), Ok(LoginIdentifier::Email(_))));
        assert!(matches!(LoginIdentifier::parse("bob"), Ok(LoginIdentifier::Username(_))));
        assert!(LoginIdentifier::parse("").is_err());
    }
}
