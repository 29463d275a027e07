//! Stored times are Unix seconds; the wire shows RFC 3339.

use serde::Serializer;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn to_rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

pub fn rfc3339<S: Serializer>(unix: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&to_rfc3339(*unix))
}

pub fn rfc3339_option<S: Serializer>(unix: &Option<i64>, serializer: S) -> Result<S::Ok, S::Error> {
    match unix {
        Some(unix) => serializer.serialize_str(&to_rfc3339(*unix)),
        None => serializer.serialize_none(),
    }
}

/// An RFC 3339 time as Unix seconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, Vec<String>> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| vec!["Enter a date and time like 2026-11-25T10:30:00Z.".to_string()])
}
