//! `gatehouse import-django`: users from a Django `manage.py dumpdata` JSON (`auth.user`, or a
//! custom user model with the same fields). Ids, usernames, emails, names, flags, dates and
//! passwords are kept, so the users log in at once with their Django passwords. Each Django
//! hash is stored wrapped under argon2id (see `passwords`), never as Django wrote it; it is
//! replaced by a plain argon2id hash on the user's first login.
//!
//! All or nothing: a malformed user row stops the import, naming the row, and nothing is
//! written. Running it again updates what changed and never duplicates anyone.

use serde_json::{Map, Value};

use std::sync::Arc;

use crate::config::Settings;
use crate::db::Database;
use crate::django_hashes::LegacyKdf;
use crate::domain::{Email, Username};
use crate::error::CoreError;
use crate::passwords::{self, PasswordHasher};
use crate::store::users::{self, ImportOutcome, ImportedUser};

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

/// Django's users brought in, their hashes wrapped under argon2id.
#[derive(Clone)]
pub struct Import {
    pub(crate) db: Database,
    pub(crate) settings: Arc<Settings>,
    pub(crate) hasher: PasswordHasher,
}

impl Import {
    /// Imports the parsed users in one transaction (rolled back for a dry run).
    pub async fn import_django(&self, dump: &str, options: ImportOptions) -> Result<ImportReport, ImportError> {
        let (parsed, other_objects) = parse_dump(dump)?;
        let mut report = ImportReport { other_objects, dry_run: options.dry_run, ..Default::default() };
        // Wrapping costs an argon2id per user: done before the transaction, so that the
        // database is not held meanwhile.
        let wrapped = self.wrap_all(parsed.iter().map(|user| user.password.clone()).collect()).await?;
        let mut legacy_bound = 0;
        let mut tx = self.db.begin().await?;
        for (index, (user, wrapped)) in parsed.iter().zip(&wrapped).enumerate() {
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
            let kdf = wrapped.as_ref().map(|(_, kdf)| kdf);
            legacy_bound = legacy_bound.max(kdf.map_or(0, LegacyKdf::cost));
            let keeps_hash = |existing: &str| keeps_hash(existing, kdf);
            let imported = ImportedUser {
                id: user.pk,
                email,
                username: user.username.as_ref(),
                first_name: &user.first_name,
                last_name: &user.last_name,
                // A hash Gatehouse cannot verify (an unusable password, another format) is
                // kept as it came: it never matches.
                password_hash: wrapped.as_ref().map_or(&user.password, |(hash, _)| hash),
                keeps_hash: &keeps_hash,
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
            tx.rollback().await?;
        } else {
            users::after_explicit_ids(&mut tx, self.db.backend).await?;
            users::raise_legacy_bound(&mut tx, legacy_bound).await?;
            tx.commit().await?;
        }
        Ok(report)
    }

    /// At start: Django hashes stored as Django wrote them (imported before wrapping existed)
    /// are wrapped, and the legacy bound becomes the costliest legacy step still stored (it
    /// falls when the last users of a costly step have logged in and been upgraded).
    pub async fn wrap_stored_django_hashes(&self) -> Result<(), CoreError> {
        let stored = users::hashes_not_made_here(&self.db.pool).await?;
        let unwrapped: Vec<&(i64, String)> =
            stored.iter().filter(|(_, hash)| passwords::wrapped_kdf(hash).is_none()).collect();
        let wrapped = self.wrap_all(unwrapped.iter().map(|(_, hash)| hash.clone()).collect()).await?;
        let mut count = 0;
        for ((id, old), new) in unwrapped.iter().map(|row| (row.0, &row.1)).zip(&wrapped) {
            if let Some((new, _)) = new {
                count += usize::from(users::replace_password_hash(&self.db, id, old, new).await?);
            }
        }
        let already: Vec<LegacyKdf> = stored.iter().filter_map(|(_, hash)| passwords::wrapped_kdf(hash)).collect();
        let now_wrapped = wrapped.iter().flatten().map(|(_, kdf)| kdf);
        let bound = already.iter().chain(now_wrapped).map(LegacyKdf::cost).max().unwrap_or(0);
        users::set_legacy_bound(&self.db, bound).await?;
        if count > 0 {
            tracing::info!(count, "Django hashes stored as Django wrote them are now wrapped under argon2id");
        }
        Ok(())
    }

    /// [`PasswordHasher::wrap`](passwords::PasswordHasher::wrap) for each hash, in order, a
    /// few per hashing thread at a time: every thread works on them, and the queue stays well
    /// under `hash_queue_limit` (past it a hash is refused as `Overloaded`, which would fail an
    /// import, or a start, of more users than the queue holds).
    async fn wrap_all(&self, hashes: Vec<String>) -> Result<Vec<Option<(String, LegacyKdf)>>, CoreError> {
        let in_flight = (self.hasher.concurrency() * 2).min(self.settings.hash_queue_limit).max(1);
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(in_flight));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, hash) in hashes.into_iter().enumerate() {
            let hasher = self.hasher.clone();
            let slot = slots.clone().acquire_owned().await.map_err(|e| CoreError::internal("wrapping", e))?;
            tasks.spawn(async move {
                let wrapped = hasher.wrap(&hash).await;
                drop(slot);
                (index, wrapped)
            });
        }
        let mut wrapped = Vec::new();
        wrapped.resize_with(tasks.len(), || None);
        while let Some(done) = tasks.join_next().await {
            let (index, result) = done.map_err(|e| CoreError::internal("wrapping a Django hash", e))?;
            wrapped[index] = result?;
        }
        Ok(wrapped)
    }
}

/// Whether a hash stored by an earlier import (or since) is kept over the dump's: one
/// Gatehouse made (a login upgraded it, or the password changed here; they start with `$`),
/// or the same Django hash already wrapped (same legacy step, salt included: Django draws a
/// new salt for every password it sets, so the key is the same too).
fn keeps_hash(existing: &str, dump: Option<&LegacyKdf>) -> bool {
    existing.starts_with('$') || dump.is_some_and(|kdf| passwords::wrapped_kdf(existing).as_ref() == Some(kdf))
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
