//! Bodies that change some fields of a resource (profile, admin updates): a JSON object whose
//! keys must each be one the operation accepts. A field that cannot be changed this way
//! (`is_staff` on your own profile, `id`, ...) is refused by name rather than ignored.

use gatehouse_core::domain::RawProfile;
use gatehouse_core::error::FieldErrorsBuilder;
use gatehouse_core::CoreError;
use serde_json::{Map, Value};

/// The profile fields, accepted wherever a profile is written.
pub const PROFILE_FIELDS: [&str; 8] =
    ["first_name", "last_name", "country", "profession", "bio", "thoughts", "profile_img", "username"];

/// Reads typed values out of the object, collecting every problem before answering.
pub struct FieldReader {
    map: Map<String, Value>,
    errors: FieldErrorsBuilder,
}

impl FieldReader {
    /// The body must be an object whose keys are all in `allowed`.
    pub fn new(body: Value, allowed: &[&str]) -> Result<Self, CoreError> {
        let Value::Object(map) = body else {
            return Err(CoreError::field("non_field_errors", "Expected a JSON object."));
        };
        let mut errors = FieldErrorsBuilder::default();
        for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
            errors.add(key, "This field cannot be changed here.");
        }
        Ok(Self { map, errors })
    }

    pub fn contains(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A string field; `None` when absent.
    pub fn text(&mut self, key: &str) -> Option<String> {
        match self.map.get(key)? {
            Value::String(s) => Some(s.clone()),
            _ => {
                self.errors.add(key, "Not a valid string.");
                None
            }
        }
    }

    /// A string field that may be `null` (to clear it).
    pub fn nullable_text(&mut self, key: &str) -> Option<Option<String>> {
        match self.map.get(key)? {
            Value::Null => Some(None),
            _ => self.text(key).map(Some),
        }
    }

    pub fn flag(&mut self, key: &str) -> Option<bool> {
        match self.map.get(key)? {
            Value::Bool(b) => Some(*b),
            _ => {
                self.errors.add(key, "Must be a boolean.");
                None
            }
        }
    }

    pub fn profile(&mut self) -> RawProfile {
        RawProfile {
            first_name: self.text("first_name"),
            last_name: self.text("last_name"),
            country: self.text("country"),
            profession: self.text("profession"),
            bio: self.text("bio"),
            thoughts: self.text("thoughts"),
            profile_img: self.text("profile_img"),
            username: self.nullable_text("username"),
        }
    }

    /// Every problem found so far, as one 400.
    pub fn finish(self) -> Result<(), CoreError> {
        self.errors.finish()
    }
}
