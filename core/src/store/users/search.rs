//! The admin list: search, order and page users.

use super::*;

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
