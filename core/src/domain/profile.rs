//! The profile fields a person edits (and a superuser through the admin), parsed once: length
//! limits, no control characters (PostgreSQL refuses NUL; none belongs in a name), the picture
//! an http(s) URL.

use crate::error::{CoreError, FieldErrorsBuilder};

use super::Username;

/// The raw fields as a form or a JSON body brings them; `None` = not sent.
#[derive(Clone, Debug, Default)]
pub struct RawProfile {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub country: Option<String>,
    pub profession: Option<String>,
    pub bio: Option<String>,
    pub thoughts: Option<String>,
    pub profile_img: Option<String>,
    /// `Some(None)` or `Some(Some(""))` removes the username.
    pub username: Option<Option<String>>,
}

/// Checked profile changes; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProfileChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub country: Option<String>,
    pub profession: Option<String>,
    pub bio: Option<String>,
    pub thoughts: Option<String>,
    pub profile_img: Option<String>,
    pub username: Option<Option<Username>>,
}

/// Longest accepted values, in characters.
pub const NAME_MAX: usize = 150;
pub const SHORT_TEXT_MAX: usize = 100;
pub const LONG_TEXT_MAX: usize = 2000;
pub const URL_MAX: usize = 2048;

impl ProfileChanges {
    pub fn parse(raw: RawProfile) -> Result<Self, CoreError> {
        let mut errors = FieldErrorsBuilder::default();
        let mut line = |field: &str, value: Option<String>, max: usize| {
            value.and_then(|v| errors.check(field, text(v.trim(), max, false)))
        };
        let first_name = line("first_name", raw.first_name, NAME_MAX);
        let last_name = line("last_name", raw.last_name, NAME_MAX);
        let country = line("country", raw.country, SHORT_TEXT_MAX);
        let profession = line("profession", raw.profession, SHORT_TEXT_MAX);
        let bio = raw.bio.and_then(|v| errors.check("bio", text(v.trim(), LONG_TEXT_MAX, true)));
        let thoughts = raw.thoughts.and_then(|v| errors.check("thoughts", text(v.trim(), LONG_TEXT_MAX, true)));
        let profile_img = raw.profile_img.and_then(|v| errors.check("profile_img", picture_url(v.trim())));
        let username = match raw.username {
            None => None,
            Some(value) => match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
                None => Some(None),
                Some(name) => errors.check("username", Username::parse(name)).map(Some),
            },
        };
        errors.finish()?;
        Ok(Self { first_name, last_name, country, profession, bio, thoughts, profile_img, username })
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// The names of the fields this changes, for the history.
    pub fn field_names(&self) -> Vec<&'static str> {
        [
            ("first_name", self.first_name.is_some()),
            ("last_name", self.last_name.is_some()),
            ("country", self.country.is_some()),
            ("profession", self.profession.is_some()),
            ("bio", self.bio.is_some()),
            ("thoughts", self.thoughts.is_some()),
            ("profile_img", self.profile_img.is_some()),
            ("username", self.username.is_some()),
        ]
        .into_iter()
        .filter_map(|(name, changed)| changed.then_some(name))
        .collect()
    }
}

fn text(value: &str, max: usize, multiline: bool) -> Result<String, Vec<String>> {
    let mut problems = Vec::new();
    if value.chars().count() > max {
        problems.push(format!("Ensure this field has no more than {max} characters."));
    }
    if value.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t' || c == '\r'))) {
        problems.push("This field cannot contain control characters.".to_string());
    }
    if problems.is_empty() {
        Ok(value.to_string())
    } else {
        Err(problems)
    }
}

/// Empty (no picture) or an absolute http(s) URL.
fn picture_url(value: &str) -> Result<String, Vec<String>> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let too_long = value.len() > URL_MAX;
    let parsed = url::Url::parse(value).ok().filter(|u| matches!(u.scheme(), "http" | "https") && u.has_host());
    match (parsed, too_long) {
        (Some(url), false) => Ok(url.to_string()),
        (_, true) => Err(vec![format!("Ensure this field has no more than {URL_MAX} characters.")]),
        (None, false) => Err(vec!["Enter a valid http:// or https:// URL.".to_string()]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_control_characters_and_urls_are_checked_per_field() {
        let raw = RawProfile {
            first_name: Some("x".repeat(NAME_MAX + 1)),
            country: Some("Fr\0ance".into()),
            bio: Some("line one\nline two".into()),
            profile_img: Some("javascript:alert(1)".into()),
            ..Default::default()
        };
        let error = ProfileChanges::parse(raw).unwrap_err();
        let fields = error.fields().unwrap();
        assert!(fields.contains_key("first_name") && fields.contains_key("country"));
        assert!(fields.contains_key("profile_img") && !fields.contains_key("bio"));
    }

    #[test]
    fn values_are_trimmed_and_an_empty_username_removes_it() {
        let raw = RawProfile {
            first_name: Some("  Ada ".into()),
            profile_img: Some("https://example.com/a.png".into()),
            username: Some(Some(" ".into())),
            ..Default::default()
        };
        let changes = ProfileChanges::parse(raw).unwrap();
        assert_eq!(changes.first_name.as_deref(), Some("Ada"));
        assert_eq!(changes.username, Some(None));
        assert_eq!(changes.field_names(), ["first_name", "profile_img", "username"]);
        assert!(ProfileChanges::parse(RawProfile::default()).unwrap().is_empty());
    }
}
