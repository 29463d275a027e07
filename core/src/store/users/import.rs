//! Users brought in from a Django dump, with their Django primary keys.

use super::*;

/// A user as `import-django` brings them: the Django primary key is kept as the id.
pub struct ImportedUser<'a> {
    pub id: i64,
    pub email: &'a Email,
    pub username: Option<&'a Username>,
    pub first_name: &'a str,
    pub last_name: &'a str,
    /// What to store for the password (the import's wrapped form of the Django hash).
    pub password_hash: &'a str,
    /// Whether a hash already stored for this id is to be kept instead (the import decides:
    /// one Gatehouse made since, or this same Django hash wrapped by an earlier run).
    pub keeps_hash: &'a (dyn Fn(&str) -> bool + Sync),
    pub is_active: bool,
    pub is_verified: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: i64,
    pub last_login: Option<i64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportOutcome {
    Created,
    Updated,
    Unchanged,
}

/// Creates the user with the given id, or brings an earlier import of it up to date. A hash
/// the import says to keep is kept; so are a newer last login and a confirmation done here.
pub async fn upsert_imported(tx: &mut Transaction, user: &ImportedUser<'_>) -> Result<ImportOutcome, CoreError> {
    let sql = format!("SELECT {COLUMNS}, password_hash FROM users WHERE id = $1");
    let existing = sqlx::query_as::<_, UserWithHashRow>(&sql).bind(user.id).fetch_optional(tx.connection()).await?;
    let Some(existing) = existing else {
        let result = sqlx::query(
            "INSERT INTO users (id, email, username, username_key, username_skeleton, names_rule, password_hash, \
               first_name, last_name, is_active, is_verified, is_staff, is_superuser, date_joined, last_login) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(user.id)
        .bind(user.email.as_str())
        .bind(user.username.map(|u| u.as_str().to_string()))
        .bind(user.username.map(Username::key))
        .bind(user.username.map(Username::skeleton))
        .bind(NAMES_RULE)
        .bind(user.password_hash)
        .bind(user.first_name)
        .bind(user.last_name)
        .bind(user.is_active)
        .bind(user.is_verified)
        .bind(user.is_staff)
        .bind(user.is_superuser)
        .bind(user.date_joined)
        .bind(user.last_login)
        .execute(tx.connection())
        .await;
        return result.map(|_| ImportOutcome::Created).map_err(conflict_or);
    };
    let keep = (user.keeps_hash)(&existing.password_hash);
    let password_hash = if keep { existing.password_hash.clone() } else { user.password_hash.to_string() };
    let last_login = existing.user.last_login.max(user.last_login);
    let is_verified = existing.user.is_verified.0 || user.is_verified;
    let current: User = existing.user.into();
    let unchanged = current.email == user.email.as_str()
        && current.username.as_deref() == user.username.map(Username::as_str)
        && current.first_name == user.first_name
        && current.last_name == user.last_name
        && existing.password_hash == password_hash
        && (current.is_active, current.is_verified, current.is_staff, current.is_superuser)
            == (user.is_active, is_verified, user.is_staff, user.is_superuser)
        && current.date_joined == user.date_joined
        && current.last_login == last_login;
    if unchanged {
        return Ok(ImportOutcome::Unchanged);
    }
    sqlx::query(
        "UPDATE users SET email = $1, username = $2, username_key = $3, username_skeleton = $4, password_hash = $5, \
           first_name = $6, last_name = $7, is_active = $8, is_verified = $9, is_staff = $10, is_superuser = $11, \
           date_joined = $12, last_login = $13 WHERE id = $14",
    )
    .bind(user.email.as_str())
    .bind(user.username.map(|u| u.as_str().to_string()))
    .bind(user.username.map(Username::key))
    .bind(user.username.map(Username::skeleton))
    .bind(password_hash)
    .bind(user.first_name)
    .bind(user.last_name)
    .bind(user.is_active)
    .bind(is_verified)
    .bind(user.is_staff)
    .bind(user.is_superuser)
    .bind(user.date_joined)
    .bind(last_login)
    .bind(user.id)
    .execute(tx.connection())
    .await
    .map_err(conflict_or)?;
    Ok(ImportOutcome::Updated)
}

/// After rows were inserted with explicit ids: PostgreSQL's identity must move past them
/// (SQLite's AUTOINCREMENT already has).
pub async fn after_explicit_ids(tx: &mut Transaction, backend: crate::db::Backend) -> Result<(), CoreError> {
    if backend == crate::db::Backend::Postgres {
        sqlx::query("SELECT setval(pg_get_serial_sequence('users', 'id'), (SELECT COALESCE(MAX(id), 1) FROM users))")
            .execute(tx.connection())
            .await?;
    }
    Ok(())
}
