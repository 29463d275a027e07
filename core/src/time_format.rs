//! Stored times are Unix seconds; the faces show RFC 3339.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub fn to_rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix).ok().and_then(|t| t.format(&Rfc3339).ok()).unwrap_or_default()
}

/// An RFC 3339 time as Unix seconds.
pub fn parse_rfc3339(text: &str) -> Result<i64, Vec<String>> {
    OffsetDateTime::parse(text, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|_| vec!["Enter a date and time like 2026-11-25T10:30:00Z.".to_string()])
}
