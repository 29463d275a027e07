use sqlx::{AnyPool, FromRow, Row as _};

use crate::db::{unique_violation, Database, Flag};
use crate::store::transaction::Transaction;
use unicode_normalization::UnicodeNormalization;

use crate::domain::{username, Email, LoginIdentifier, ProfileChanges, UserId, Username};
use crate::error::{Conflict, CoreError};
use crate::store::email_tokens::{self, Purpose};

pub use crate::domain::User;
pub use import::{after_explicit_ids, upsert_imported, ImportOutcome, ImportedUser};
pub(crate) use names::renormalise_names;
pub use names::NAMES_RULE;
pub use search::{count_matching, page_matching, UserOrder, UserSearch};

mod import;
mod names;
mod search;

/// A `users` row as read (without the password hash, which only [`UserWithHashRow`] and
/// [`LoginRow`] carry). Only what [`User`] names leaves the store: a new column is added here,
/// and reaches an entity or an answer only when someone writes it there.
#[derive(FromRow)]
struct UserRow {
    id: i64,
    email: String,
    username: Option<String>,
    first_name: String,
    last_name: String,
    country: String,
    profession: String,
    bio: String,
    thoughts: String,
    profile_img: String,
    is_active: Flag,
    is_verified: Flag,
    is_staff: Flag,
    is_superuser: Flag,
    date_joined: i64,
    last_login: Option<i64>,
}

#[derive(FromRow)]
struct UserWithHashRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

#[derive(FromRow)]
struct LoginRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
    has_reset_links: Flag,
    has_failure_streak: Flag,
}

/// An account as a login needs it: read in one statement, since a login's round trips to the
/// database compete with the password hashes for the same cores.
pub struct LoginAccount {
    pub user: User,
    pub password_hash: String,
    /// A password reset link still live when the login began.
    pub has_reset_links: bool,
    /// Failed logins since the last successful one (see `store::login_streaks`).
    pub has_failure_streak: bool,
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> Self {
        User {
            id: UserId(r.id),
            email: r.email,
            username: r.username,
            first_name: r.first_name,
            last_name: r.last_name,
            country: r.country,
            profession: r.profession,
            bio: r.bio,
            thoughts: r.thoughts,
            profile_img: r.profile_img,
            is_active: r.is_active.0,
            is_verified: r.is_verified.0,
            is_staff: r.is_staff.0,
            is_superuser: r.is_superuser.0,
            date_joined: r.date_joined,
            last_login: r.last_login,
        }
    }
}

const COLUMNS: &str = "id, email, username, first_name, last_name, country, profession, bio, thoughts, \
     profile_img, is_active, is_verified, is_staff, is_superuser, date_joined, last_login";

/// What a new account is made of; the password is already hashed.
pub struct NewUser<'a> {
    pub email: &'a Email,
    pub username: Option<&'a Username>,
    pub password_hash: &'a str,
    pub is_verified: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
}

pub async fn insert(db: &Database, new: NewUser<'_>) -> Result<User, CoreError> {
    let mut tx = db.begin().await?;
    let sql = format!(
        "INSERT INTO users (email, username, username_key, username_skeleton, names_rule, password_hash, is_verified, \
           is_staff, is_superuser, date_joined) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    );
    let result = sqlx::query_as::<_, UserRow>(&sql)
        .bind(new.email.as_str())
        .bind(new.username.map(|u| u.as_str().to_string()))
        .bind(new.username.map(Username::key))
        .bind(new.username.map(Username::skeleton))
        .bind(NAMES_RULE)
        .bind(new.password_hash)
        .bind(new.is_verified)
        .bind(new.is_staff)
        .bind(new.is_superuser)
        .bind(db.now())
        .fetch_one(tx.connection())
        .await;
    tx.commit().await?;
    result.map(Into::into).map_err(conflict_or)
}

/// The conflict [`insert`] would answer when the email or username is already taken, found by
/// reading: a sign-up for a taken address then costs no password hash. The unique indexes
/// still decide between concurrent sign-ups.
pub async fn already_taken(
    pool: &AnyPool,
    email: &Email,
    username: Option<&Username>,
) -> Result<Option<CoreError>, CoreError> {
    let email_taken: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE email = $1").bind(email.as_str()).fetch_optional(pool).await?;
    if email_taken.is_some() {
        return Ok(Some(CoreError::Conflict(Conflict::Email)));
    }
    if let Some(username) = username {
        let name_taken: Option<i64> = sqlx::query_scalar("SELECT id FROM users WHERE username_skeleton = $1")
            .bind(username.skeleton())
            .fetch_optional(pool)
            .await?;
        if name_taken.is_some() {
            return Ok(Some(CoreError::Conflict(Conflict::Username)));
        }
    }
    Ok(None)
}

pub async fn find(pool: &AnyPool, id: UserId) -> Result<Option<User>, CoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
    let row = sqlx::query_as::<_, UserRow>(&sql).bind(id.0).fetch_optional(pool).await?;
    Ok(row.map(User::from))
}

pub async fn find_by_email(pool: &AnyPool, email: &Email) -> Result<Option<User>, CoreError> {
    let sql = format!("SELECT {COLUMNS} FROM users WHERE email = $1");
    let row = sqlx::query_as::<_, UserRow>(&sql).bind(email.as_str()).fetch_optional(pool).await?;
    Ok(row.map(User::from))
}

/// What a login reads: the account (if there is one) and the legacy work every password check
/// does while imported Django hashes are stored (see `passwords`).
pub struct LoginLookup {
    pub account: Option<LoginAccount>,
    pub legacy_bound: u64,
}

/// The user and their password hash, for checking a login, with the legacy bound. One
/// statement whether or not the account exists (or the name could be one: `None` looks for
/// an email no account has), so the database's part of the answer costs the same too.
pub async fn find_for_login(pool: &AnyPool, identifier: Option<&LoginIdentifier>) -> Result<LoginLookup, CoreError> {
    let (column, value) = match identifier {
        Some(LoginIdentifier::Email(email)) => ("email", email.as_str().to_string()),
        Some(LoginIdentifier::Username(name)) => ("username_key", name.key()),
        None => ("email", String::new()),
    };
    // The bound's one row, joined to the user's row if there is one.
    let sql = format!(
        "SELECT legacy_hash_bound.work AS legacy_bound, {COLUMNS}, password_hash, {} AS has_reset_links, \
         {} AS has_failure_streak FROM legacy_hash_bound LEFT JOIN users ON users.{column} = $1",
        email_tokens::live_exists("users.id", Purpose::ResetPassword),
        super::login_streaks::exists("users.id"),
    );
    let row = sqlx::query(&sql).bind(&value).fetch_one(pool).await?;
    let legacy_bound: i64 = row.try_get("legacy_bound")?;
    let found: Option<i64> = row.try_get("id")?;
    let account = match found {
        Some(_) => {
            let r = LoginRow::from_row(&row)?;
            Some(LoginAccount {
                user: r.user.into(),
                password_hash: r.password_hash,
                has_reset_links: r.has_reset_links.0,
                has_failure_streak: r.has_failure_streak.0,
            })
        }
        None => None,
    };
    Ok(LoginLookup { account, legacy_bound: legacy_bound.max(0) as u64 })
}

/// Raises the legacy bound to `work` if it is lower (an import adds legacy hashes).
pub async fn raise_legacy_bound(tx: &mut Transaction, work: u64) -> Result<(), CoreError> {
    sqlx::query("UPDATE legacy_hash_bound SET work = $1 WHERE work < $1")
        .bind(work as i64)
        .execute(tx.connection())
        .await?;
    Ok(())
}

/// Sets the legacy bound (at start, from the legacy hashes still stored).
pub async fn set_legacy_bound(db: &Database, work: u64) -> Result<(), CoreError> {
    sqlx::query("UPDATE legacy_hash_bound SET work = $1").bind(work as i64).execute(&db.writer).await?;
    Ok(())
}

/// Every stored hash Gatehouse did not make itself (its own start with `$`): imported ones,
/// wrapped or not, and unusable passwords. By id, for the start's wrapping.
pub async fn hashes_not_made_here(pool: &AnyPool) -> Result<Vec<(i64, String)>, CoreError> {
    let rows = sqlx::query_as("SELECT id, password_hash FROM users WHERE password_hash NOT LIKE '$%' ORDER BY id")
        .fetch_all(pool)
        .await?;
    Ok(rows)
}

/// Replaces the hash only if it is still `old` (a login may have upgraded it meanwhile).
pub async fn replace_password_hash(db: &Database, id: i64, old: &str, new: &str) -> Result<bool, CoreError> {
    let mut tx = db.begin().await?;
    let done = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3")
        .bind(new)
        .bind(id)
        .bind(old)
        .execute(tx.connection())
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

pub async fn set_password_hash(tx: &mut Transaction, id: UserId, hash: &str) -> Result<(), CoreError> {
    let statement = sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(id.0);
    statement.execute(tx.connection()).await?;
    Ok(())
}

pub async fn mark_verified(tx: &mut Transaction, id: UserId) -> Result<(), CoreError> {
    let statement = sqlx::query("UPDATE users SET is_verified = $1 WHERE id = $2").bind(true).bind(id.0);
    statement.execute(tx.connection()).await?;
    Ok(())
}

pub async fn touch_last_login(db: &Database, id: UserId) -> Result<(), CoreError> {
    let mut tx = db.begin().await?;
    sqlx::query("UPDATE users SET last_login = $1 WHERE id = $2")
        .bind(db.now())
        .bind(id.0)
        .execute(tx.connection())
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Removes the account; sessions and links go with it (foreign keys cascade).
pub async fn delete(db: &Database, id: UserId) -> Result<(), CoreError> {
    let mut tx = db.begin().await?;
    sqlx::query("DELETE FROM users WHERE id = $1").bind(id.0).execute(tx.connection()).await?;
    tx.commit().await?;
    Ok(())
}

/// The hash to check a password against (`None` if the account is gone).
pub async fn password_hash(pool: &AnyPool, id: UserId) -> Result<Option<String>, CoreError> {
    Ok(sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1").bind(id.0).fetch_optional(pool).await?)
}

/// Column changes of one user; `None` leaves a column as it is.
#[derive(Clone, Debug, Default)]
pub struct UserUpdate<'a> {
    pub profile: Option<&'a ProfileChanges>,
    pub email: Option<&'a Email>,
    pub password_hash: Option<&'a str>,
    pub is_active: Option<bool>,
    pub is_verified: Option<bool>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
}

enum Value {
    Text(String),
    MaybeText(Option<String>),
    Bool(bool),
}

impl UserUpdate<'_> {
    /// `column = $n` pairs and their values.
    fn assignments(&self) -> Vec<(&'static str, Value)> {
        let mut set = Vec::new();
        if let Some(p) = self.profile {
            let texts = [
                ("first_name", &p.first_name),
                ("last_name", &p.last_name),
                ("country", &p.country),
                ("profession", &p.profession),
                ("bio", &p.bio),
                ("thoughts", &p.thoughts),
                ("profile_img", &p.profile_img),
            ];
            set.extend(texts.into_iter().filter_map(|(c, v)| v.clone().map(|v| (c, Value::Text(v)))));
            if let Some(username) = &p.username {
                set.push(("username", Value::MaybeText(username.as_ref().map(|u| u.as_str().to_string()))));
                set.push(("username_key", Value::MaybeText(username.as_ref().map(Username::key))));
                set.push(("username_skeleton", Value::MaybeText(username.as_ref().map(Username::skeleton))));
            }
        }
        if let Some(email) = self.email {
            set.push(("email", Value::Text(email.as_str().to_string())));
        }
        if let Some(hash) = self.password_hash {
            set.push(("password_hash", Value::Text(hash.to_string())));
        }
        let flags = [
            ("is_active", self.is_active),
            ("is_verified", self.is_verified),
            ("is_staff", self.is_staff),
            ("is_superuser", self.is_superuser),
        ];
        set.extend(flags.into_iter().filter_map(|(c, v)| v.map(|v| (c, Value::Bool(v)))));
        set
    }

    /// Takes away the last active superuser's powers (or the account itself).
    fn demotes_superuser(&self) -> bool {
        self.is_superuser == Some(false) || self.is_active == Some(false)
    }
}

/// Applies `update` to one user; the updated user, or `None` if there is no such user. A
/// change that would leave no active superuser is refused (see [`guard_last_superuser`]).
pub async fn update(db: &Database, id: UserId, update: &UserUpdate<'_>) -> Result<Option<User>, CoreError> {
    let mut tx = db.begin().await?;
    if update.demotes_superuser() {
        guard_last_superuser(&mut tx, id).await?;
    }
    let assignments = update.assignments();
    let updated = if assignments.is_empty() {
        let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
        sqlx::query_as::<_, UserRow>(&sql).bind(id.0).fetch_optional(tx.connection()).await?
    } else {
        let set: Vec<String> = assignments.iter().enumerate().map(|(i, (c, _))| format!("{c} = ${}", i + 1)).collect();
        let sql = format!("UPDATE users SET {} WHERE id = ${} RETURNING {COLUMNS}", set.join(", "), set.len() + 1);
        let mut query = sqlx::query_as::<_, UserRow>(&sql);
        for (_, value) in assignments {
            query = match value {
                Value::Text(v) => query.bind(v),
                Value::MaybeText(v) => query.bind(v),
                Value::Bool(v) => query.bind(v),
            };
        }
        match query.bind(id.0).fetch_optional(tx.connection()).await {
            Ok(row) => row,
            Err(e) => return Err(conflict_or(e)),
        }
    };
    tx.commit().await?;
    Ok(updated.map(User::from))
}

/// Deletes the user unless that would leave no active superuser; `false` if there was no
/// such user. Sessions and links go with it (foreign keys cascade).
pub async fn delete_guarded(db: &Database, id: UserId) -> Result<bool, CoreError> {
    let mut tx = db.begin().await?;
    guard_last_superuser(&mut tx, id).await?;
    let deleted = sqlx::query("DELETE FROM users WHERE id = $1").bind(id.0).execute(tx.connection()).await?;
    tx.commit().await?;
    Ok(deleted.rows_affected() == 1)
}

/// Refuses ([`Conflict::LastSuperuser`]) when `id` is the only active superuser. The no-op UPDATE first locks every
/// active superuser's row (PostgreSQL) or the database (SQLite), so two superusers demoting
/// each other at once cannot both pass the count.
async fn guard_last_superuser(tx: &mut Transaction, id: UserId) -> Result<(), CoreError> {
    sqlx::query("UPDATE users SET is_superuser = is_superuser WHERE is_superuser = $1 AND is_active = $1")
        .bind(true)
        .execute(tx.connection())
        .await?;
    let target_is_one: Option<i64> =
        sqlx::query_scalar("SELECT id FROM users WHERE id = $1 AND is_superuser = $2 AND is_active = $2")
            .bind(id.0)
            .bind(true)
            .fetch_optional(tx.connection())
            .await?;
    if target_is_one.is_none() {
        return Ok(());
    }
    let others: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM users WHERE id <> $1 AND is_superuser = $2 AND is_active = $2")
            .bind(id.0)
            .bind(true)
            .fetch_one(tx.connection())
            .await?;
    if others == 0 {
        return Err(CoreError::Conflict(Conflict::LastSuperuser));
    }
    Ok(())
}

/// A unique index refusing a write, as the conflict of the field it guards; any other error
/// as it is.
fn conflict_or(e: sqlx::Error) -> CoreError {
    match unique_violation(&e) {
        Some(constraint) if constraint.contains("username") => CoreError::Conflict(Conflict::Username),
        Some(_) => CoreError::Conflict(Conflict::Email),
        None => e.into(),
    }
}
