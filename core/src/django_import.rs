//! `gatehouse import-django`: users from a Django `manage.py dumpdata` JSON (`auth.user`, or a
//! custom user model with the same fields). Ids, usernames, emails, names, flags, dates and
//! password hashes are kept, so the users log in at once with their Django passwords (the
//! hash is upgraded to argon2id on their first login, see `django_hashes`).
//!
//! All or nothing: a malformed user row stops the import, naming the row, and nothing is
//! written. Running it again updates what changed and never duplicates anyone.

use serde_json::{Map, Value};

use crate::domain::{Email, Username};
use crate::error::CoreError;
use crate::store::users::{self, ImportOutcome, ImportedUser};
use crate::Gatehouse;

/// Which imported users count as having confirmed their email address.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum VerifiedPolicy {
    /// Active users (all of them have an email: users without one are skipped).
    #[default]
    Active,
    All,
    None,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct ImportOptions {
    pub dry_run: bool,
    pub verified: VerifiedPolicy,
}

/// What an import did (or, with `dry_run`, would do).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ImportReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Users without an email address (a Gatehouse account needs one): their primary keys.
    pub skipped_without_email: Vec<i64>,
    /// Usernames Gatehouse cannot hold (e.g. with `@`): the user keeps logging in by email.
    pub usernames_dropped: Vec<(i64, String)>,
    /// Objects of other models in the dump (groups, permissions, ...), ignored.
    pub other_objects: usize,
    pub dry_run: bool,
}

/// A problem with the dump itself.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file is not a dumpdata JSON array: {0}")]
    NotADump(String),
    #[error("object #{index} (pk {pk}): {problem}")]
    BadRow { index: usize, pk: String, problem: String },
    #[error("object #{index} (pk {pk}): {source}")]
    Rejected { index: usize, pk: i64, source: CoreError },
    #[error(transparent)]
    Core(#[from] CoreError),
}

/// The fields that make an object a user, whatever its model is called.
const USER_FIELDS: [&str; 6] = ["password", "username", "is_superuser", "is_staff", "is_active", "date_joined"];

/// Reads the dump: the user rows, parsed and checked, and how many other objects it holds.
pub fn parse_dump(json: &str) -> Result<(Vec<ParsedUser>, usize), ImportError> {
    let objects: Vec<Value> = serde_json::from_str(json).map_err(|e| ImportError::NotADump(e.to_string()))?;
    let mut users = Vec::new();
    let mut others = 0;
    for (index, object) in objects.iter().enumerate() {
        let fields = object.get("fields").and_then(Value::as_object);
        let is_user = fields.is_some_and(|f| USER_FIELDS.iter().all(|k| f.contains_key(*k)))
            || object.get("model").and_then(Value::as_str) == Some("auth.user");
        if !is_user {
            others += 1;
            continue;
        }
        let pk = object.get("pk").map(Value::to_string).unwrap_or_else(|| "?".into());
        let bad = |problem: String| ImportError::BadRow { index: index + 1, pk: pk.clone(), problem };
        users.push(ParsedUser::from_object(object, fields).map_err(bad)?);
    }
    Ok((users, others))
}

/// One user row of the dump, checked.
#[derive(Clone, Debug)]
pub struct ParsedUser {
    pub pk: i64,
    pub email: Option<Email>,
    /// The dump's username when it was not usable here.
    pub dropped_username: Option<String>,
    pub username: Option<Username>,
    pub first_name: String,
    pub last_name: String,
    pub password: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: i64,
    pub last_login: Option<i64>,
}

impl ParsedUser {
    fn from_object(object: &Value, fields: Option<&Map<String, Value>>) -> Result<Self, String> {
        let fields = fields.ok_or("no \"fields\" object")?;
        let pk =
            object.get("pk").and_then(Value::as_i64).filter(|pk| *pk > 0).ok_or("\"pk\" is not a positive integer")?;
        let text = |key: &str| -> Result<String, String> {
            match fields.get(key) {
                None | Some(Value::Null) => Ok(String::new()),
                Some(Value::String(s)) if !s.contains('\0') => Ok(s.clone()),
                Some(_) => Err(format!("\"{key}\" is not a string")),
            }
        };
        let flag = |key: &str| -> Result<bool, String> {
            fields.get(key).and_then(Value::as_bool).ok_or(format!("\"{key}\" is not true or false"))
        };
        let time = |key: &str| -> Result<Option<i64>, String> {
            match fields.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => {
                    dump_time(s).map(Some).ok_or(format!("\"{key}\" is not a date and time: {s}"))
                }
                Some(_) => Err(format!("\"{key}\" is not a date and time")),
            }
        };
        let raw_email = text("email")?;
        let email = match raw_email.trim() {
            "" => None,
            raw => Some(Email::parse(raw).map_err(|m| format!("\"email\" {raw:?}: {}", m.join(" ")))?),
        };
        let raw_username = text("username")?;
        let same_as_email = email.as_ref().is_some_and(|e| raw_username.trim().eq_ignore_ascii_case(e.as_str()));
        let (username, dropped_username) = match raw_username.trim() {
            "" => (None, None),
            _ if same_as_email => (None, None),
            name => match Username::parse(name) {
                Ok(u) => (Some(u), None),
                Err(_) => (None, Some(name.to_string())),
            },
        };
        let password = text("password")?;
        if password.is_empty() {
            return Err("\"password\" is empty".into());
        }
        Ok(ParsedUser {
            pk,
            email,
            dropped_username,
            username,
            first_name: text("first_name")?,
            last_name: text("last_name")?,
            password,
            is_active: flag("is_active")?,
            is_staff: flag("is_staff")?,
            is_superuser: flag("is_superuser")?,
            date_joined: time("date_joined")?.ok_or("\"date_joined\" is missing")?,
            last_login: time("last_login")?,
        })
    }
}

/// Django writes `2024-01-02T03:04:05.123Z` (or with an offset); without a time zone
/// (`USE_TZ = False`) the time is taken as UTC.
fn dump_time(text: &str) -> Option<i64> {
    use time::format_description::well_known::Iso8601;
    let text = text.trim();
    if let Ok(t) = time::OffsetDateTime::parse(text, &Iso8601::DEFAULT) {
        return Some(t.unix_timestamp());
    }
    time::PrimitiveDateTime::parse(text, &Iso8601::DEFAULT).ok().map(|t| t.assume_utc().unix_timestamp())
}

impl Gatehouse {
    /// Imports the parsed users in one transaction (rolled back for a dry run).
    pub async fn import_django(&self, dump: &str, options: ImportOptions) -> Result<ImportReport, ImportError> {
        let (parsed, other_objects) = parse_dump(dump)?;
        let mut report = ImportReport { other_objects, dry_run: options.dry_run, ..Default::default() };
        let mut tx = self.database().writer.begin().await.map_err(CoreError::from)?;
        for (index, user) in parsed.iter().enumerate() {
            if let Some(name) = &user.dropped_username {
                report.usernames_dropped.push((user.pk, name.clone()));
            }
            let Some(email) = &user.email else {
                report.skipped_without_email.push(user.pk);
                continue;
            };
            let is_verified = match options.verified {
                VerifiedPolicy::Active => user.is_active,
                VerifiedPolicy::All => true,
                VerifiedPolicy::None => false,
            };
            let imported = ImportedUser {
                id: user.pk,
                email,
                username: user.username.as_ref(),
                first_name: &user.first_name,
                last_name: &user.last_name,
                password_hash: &user.password,
                is_active: user.is_active,
                is_verified,
                is_staff: user.is_staff || user.is_superuser,
                is_superuser: user.is_superuser,
                date_joined: user.date_joined,
                last_login: user.last_login,
            };
            let outcome = users::upsert_imported(&mut tx, &imported).await.map_err(|source| ImportError::Rejected {
                index: index + 1,
                pk: user.pk,
                source,
            })?;
            match outcome {
                ImportOutcome::Created => report.created += 1,
                ImportOutcome::Updated => report.updated += 1,
                ImportOutcome::Unchanged => report.unchanged += 1,
            }
        }
        if options.dry_run {
            tx.rollback().await.map_err(CoreError::from)?;
        } else {
            users::after_explicit_ids(&mut tx, self.database().backend).await?;
            tx.commit().await.map_err(CoreError::from)?;
            // The user store counts its own writes; this transaction is the import's.
            self.database().changed();
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_malformed_row_is_named() {
        let dump = r#"[{"model":"auth.group","pk":1,"fields":{"name":"x"}},
            {"model":"auth.user","pk":7,"fields":{"password":"x","username":"a","email":"a@example.com",
             "is_superuser":false,"is_staff":"no","is_active":true,"date_joined":"2024-01-01T00:00:00Z"}}]"#;
        let error = parse_dump(dump).unwrap_err().to_string();
        assert!(error.contains("#2") && error.contains("pk 7") && error.contains("is_staff"), "{error}");
        assert!(parse_dump("{}").is_err());
    }

    #[test]
    fn times_with_and_without_zone_and_odd_usernames() {
        assert_eq!(dump_time("2024-01-02T03:04:05.123Z"), Some(1704164645));
        assert_eq!(dump_time("2024-01-02T03:04:05"), Some(1704164645));
        assert_eq!(dump_time("2024-01-02T04:04:05+01:00"), Some(1704164645));
        assert_eq!(dump_time("yesterday"), None);
        let dump = r#"[{"model":"custom.person","pk":3,"fields":{"password":"x","username":"me@home",
             "email":"me@example.com","is_superuser":false,"is_staff":false,"is_active":true,
             "date_joined":"2024-01-01T00:00:00Z","last_login":null}}]"#;
        let (users, others) = parse_dump(dump).unwrap();
        assert_eq!((users.len(), others), (1, 0), "a custom user model with the same fields");
        assert_eq!(users[0].dropped_username.as_deref(), Some("me@home"));
    }
}
