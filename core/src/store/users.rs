use sqlx::{AnyPool, FromRow, Row as _};

use crate::db::{unique_violation, Database, Flag};
use crate::store::transaction::Transaction;
use unicode_normalization::UnicodeNormalization;

use crate::domain::{username, Email, LoginIdentifier, ProfileChanges, UserId, Username};
use crate::error::{Conflict, CoreError};
use crate::store::email_tokens::{self, Purpose};

pub use crate::domain::User;

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

/// The admin list's sort orders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserOrder {
    Id,
    Email,
    Username,
    DateJoined,
    LastLogin,
}

impl UserOrder {
    fn column(self) -> &'static str {
        match self {
            UserOrder::Id => "id",
            UserOrder::Email => "email",
            UserOrder::Username => "username_key",
            UserOrder::DateJoined => "date_joined",
            UserOrder::LastLogin => "last_login",
        }
    }
}

/// Which users the admin list shows, in which order.
#[derive(Clone, Debug)]
pub struct UserSearch {
    /// Lower-case text to find in the email, username, first or last name.
    pub text: Option<String>,
    pub order: UserOrder,
    pub descending: bool,
}

impl UserSearch {
    fn clause(&self) -> (String, Option<String>) {
        match &self.text {
            None => (String::new(), None),
            Some(text) => {
                let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
                let condition = ["email", "COALESCE(username_key, '')", "LOWER(first_name)", "LOWER(last_name)"]
                    .map(|c| format!("{c} LIKE $1 ESCAPE '\\'"))
                    .join(" OR ");
                (format!("WHERE {condition}"), Some(format!("%{escaped}%")))
            }
        }
    }
}

pub async fn count_matching(pool: &AnyPool, search: &UserSearch) -> Result<i64, CoreError> {
    let (clause, pattern) = search.clause();
    let sql = format!("SELECT COUNT(*) FROM users {clause}");
    let mut query = sqlx::query_scalar::<_, i64>(&sql);
    if let Some(p) = pattern {
        query = query.bind(p);
    }
    Ok(query.fetch_one(pool).await?)
}

/// One page of the matching users. Ties (and missing last logins) are ordered by id, so
/// pages never overlap.
pub async fn page_matching(
    pool: &AnyPool,
    search: &UserSearch,
    offset: i64,
    limit: i64,
) -> Result<Vec<User>, CoreError> {
    let (clause, pattern) = search.clause();
    let direction = if search.descending { "DESC" } else { "ASC" };
    let first = if pattern.is_some() { 2 } else { 1 };
    let column = search.order.column();
    // NULLs (no username, never logged in) last either way, the same on both databases.
    let sql = format!(
        "SELECT {COLUMNS} FROM users {clause} ORDER BY ({column} IS NULL), {column} {direction}, id {direction} \
         LIMIT ${first} OFFSET ${}",
        first + 1
    );
    let mut query = sqlx::query_as::<_, UserRow>(&sql);
    if let Some(p) = pattern {
        query = query.bind(p);
    }
    let rows = query.bind(limit).bind(offset).fetch_all(pool).await?;
    Ok(rows.into_iter().map(User::from).collect())
}

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

/// The rule `names_rule` records for a row whose email and username are stored as
/// [`Email::parse`] and [`Username::parse`] give them today, with `username_key` and
/// `username_skeleton` computed from that. Raise it when those rules change: the next start
/// then renormalises every row (see [`renormalise_names`]).
pub const NAMES_RULE: i64 = 1;

/// Rows renormalised per transaction at start.
const RENORMALISE_CHUNK: usize = 500;

/// Brings the names of rows stored under an earlier rule (`names_rule` below [`NAMES_RULE`])
/// to today's: the email and the username in NFKC form (the email's domain IDNA-mapped), and
/// the username's log-in key and look-alike skeleton. Each row's email and username change in
/// their own savepoint: one whose new form another account already holds (two accounts that
/// were distinct before, such as `admin` and `ａｄｍｉｎ`) is left as it was, with no skeleton,
/// and a warning; whichever claimed the name first keeps it. Such rows, and those whose email
/// today's rules refuse (a quoted local part), keep `names_rule` 0 and are tried again at the
/// next start (after one of the pair is renamed or deleted, say). Idempotent; several
/// processes starting at once only repeat one another's work.
pub(crate) async fn renormalise_names(db: &Database) -> Result<(), sqlx::Error> {
    let rows: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT id, email, username FROM users WHERE names_rule < $1 ORDER BY id")
            .bind(NAMES_RULE)
            .fetch_all(&db.pool)
            .await?;
    if rows.is_empty() {
        return Ok(());
    }
    let (mut done, mut left) = (0usize, 0usize);
    for chunk in rows.chunks(RENORMALISE_CHUNK) {
        // A migration step, before any principal is cached: a plain transaction, no count.
        let mut tx = db.writer.begin().await?;
        for (id, email, username) in chunk {
            let email_done = match Email::parse(email) {
                Ok(parsed) if parsed.as_str() == email => true,
                Ok(parsed) => {
                    let set = sqlx::query("UPDATE users SET email = $1 WHERE id = $2").bind(parsed.as_str()).bind(id);
                    claim(&mut tx, set, *id, "email").await?
                }
                Err(_) => {
                    tracing::warn!(user_id = id, "the stored email is not one today's rules accept; left as it is");
                    false
                }
            };
            let username_done = match username {
                None => true,
                Some(name) => {
                    let display: String = name.nfkc().collect();
                    let set = sqlx::query(
                        "UPDATE users SET username = $1, username_key = $2, username_skeleton = $3 WHERE id = $4",
                    )
                    .bind(display)
                    .bind(username::case_key(name))
                    .bind(username::look_alike_key(name))
                    .bind(id);
                    claim(&mut tx, set, *id, "username").await?
                }
            };
            if email_done && username_done {
                sqlx::query("UPDATE users SET names_rule = $1 WHERE id = $2")
                    .bind(NAMES_RULE)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                done += 1;
            } else {
                left += 1;
            }
        }
        tx.commit().await?;
    }
    tracing::info!(done, left, "usernames and emails renormalised (look-alike names)");
    Ok(())
}

/// Runs `update` in a savepoint: `false` (and a warning) if it would give the row a name
/// another account holds, the row then as it was.
async fn claim<'q>(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    update: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    id: i64,
    field: &'static str,
) -> Result<bool, sqlx::Error> {
    let mut savepoint = sqlx::Acquire::begin(&mut **tx).await?;
    match update.execute(&mut *savepoint).await {
        Ok(_) => {
            savepoint.commit().await?;
            Ok(true)
        }
        Err(e) if unique_violation(&e).is_some() => {
            savepoint.rollback().await?;
            tracing::warn!(
                user_id = id,
                field,
                "normalised, this account's {field} is another account's (a look-alike); left as it was"
            );
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
