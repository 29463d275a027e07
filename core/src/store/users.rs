use serde::Serialize;
use sqlx::{AnyPool, FromRow};

use crate::db::{now, unique_violation, Flag};
use crate::domain::{Email, LoginIdentifier, UserId, Username};
use crate::error::CoreError;

/// A user account as every face sees it. The password hash never leaves the store in it.
/// Serialises as the canonical API shows a user (times in RFC 3339).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct User {
    pub id: UserId,
    pub email: String,
    #[cfg_attr(feature = "openapi", schema(required = true))]
    pub username: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub country: String,
    pub profession: String,
    pub bio: String,
    pub thoughts: String,
    pub profile_img: String,
    pub is_active: bool,
    pub is_verified: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    /// Stored as Unix seconds; sent as RFC 3339.
    #[serde(serialize_with = "crate::time_format::rfc3339")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, format = DateTime))]
    pub date_joined: i64,
    #[serde(serialize_with = "crate::time_format::rfc3339_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>, format = DateTime, required = true))]
    pub last_login: Option<i64>,
}

impl User {
    /// What a new password must not resemble.
    pub fn personal_values(&self) -> Vec<&str> {
        let local = self.email.split('@').next().unwrap_or_default();
        [
            Some(self.email.as_str()),
            Some(local),
            self.username.as_deref(),
            Some(&self.first_name),
            Some(&self.last_name),
        ]
        .into_iter()
        .flatten()
        .filter(|v| !v.is_empty())
        .collect()
    }

    /// The name to show or put in a token: the username, else the email (Django's
    /// `email_as_username` clients expect exactly that).
    pub fn display_username(&self) -> &str {
        self.username.as_deref().unwrap_or(&self.email)
    }
}

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
struct LoginRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
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

pub async fn insert(pool: &AnyPool, new: NewUser<'_>) -> Result<User, CoreError> {
    let sql = format!(
        "INSERT INTO users (email, username, username_key, password_hash, is_verified, is_staff, is_superuser, date_joined) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {COLUMNS}"
    );
    let result = sqlx::query_as::<_, UserRow>(&sql)
        .bind(new.email.as_str())
        .bind(new.username.map(|u| u.as_str().to_string()))
        .bind(new.username.map(Username::key))
        .bind(new.password_hash)
        .bind(new.is_verified)
        .bind(new.is_staff)
        .bind(new.is_superuser)
        .bind(now())
        .fetch_one(pool)
        .await;
    match result {
        Ok(row) => Ok(row.into()),
        Err(e) => Err(match unique_violation(&e) {
            Some(constraint) if constraint.contains("username") => {
                taken("username", "A user with that username already exists.")
            }
            Some(_) => taken("email", "A user with that email already exists."),
            None => e.into(),
        }),
    }
}

fn taken(field: &str, message: &str) -> CoreError {
    let mut fields = crate::error::FieldErrors::new();
    fields.insert(field.to_string(), vec![message.to_string()]);
    CoreError::Conflict { message: message.to_string(), fields }
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

/// The user and their password hash, for checking a login.
pub async fn find_for_login(pool: &AnyPool, identifier: &LoginIdentifier) -> Result<Option<(User, String)>, CoreError> {
    let (column, value) = match identifier {
        LoginIdentifier::Email(email) => ("email", email.as_str().to_string()),
        LoginIdentifier::Username(name) => ("username_key", name.key()),
    };
    let sql = format!("SELECT {COLUMNS}, password_hash FROM users WHERE {column} = $1");
    let row = sqlx::query_as::<_, LoginRow>(&sql).bind(&value).fetch_optional(pool).await?;
    Ok(row.map(|r| (r.user.into(), r.password_hash)))
}

pub async fn set_password_hash(pool: &AnyPool, id: UserId, hash: &str) -> Result<(), CoreError> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2").bind(hash).bind(id.0).execute(pool).await?;
    Ok(())
}

pub async fn mark_verified(pool: &AnyPool, id: UserId) -> Result<(), CoreError> {
    sqlx::query("UPDATE users SET is_verified = $1 WHERE id = $2").bind(true).bind(id.0).execute(pool).await?;
    Ok(())
}

pub async fn touch_last_login(pool: &AnyPool, id: UserId) -> Result<(), CoreError> {
    sqlx::query("UPDATE users SET last_login = $1 WHERE id = $2").bind(now()).bind(id.0).execute(pool).await?;
    Ok(())
}

/// Removes the account; sessions and links go with it (foreign keys cascade).
pub async fn delete(pool: &AnyPool, id: UserId) -> Result<(), CoreError> {
    sqlx::query("DELETE FROM users WHERE id = $1").bind(id.0).execute(pool).await?;
    Ok(())
}

/// The hash to check a password against (`None` if the account is gone).
pub async fn password_hash(pool: &AnyPool, id: UserId) -> Result<Option<String>, CoreError> {
    Ok(sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1").bind(id.0).fetch_optional(pool).await?)
}
