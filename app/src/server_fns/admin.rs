//! The admin pages' server functions. Staff read, superusers change: each function gets its
//! caller as `Staff` or `Superuser` from the core, which refuses anybody else (403).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::{EventView, SessionSummary};
use crate::error::AppError;

/// One row of the users list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserRow {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub name: String,
    pub is_active: bool,
    pub is_staff: bool,
    pub is_superuser: bool,
    pub date_joined: String,
    pub last_login: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserListView {
    pub users: Vec<UserRow>,
    pub count: i64,
    pub page: u32,
    pub pages: u32,
    /// The viewer may create and change users.
    pub can_edit: bool,
}

/// One user, as the admin's user page shows them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdminUserView {
    pub row: UserRow,
    pub is_verified: bool,
    pub first_name: String,
    pub last_name: String,
    pub country: String,
    pub profession: String,
    pub sessions: Vec<SessionSummary>,
    pub history: Vec<EventView>,
    pub can_edit: bool,
}

#[server(prefix = "/_fn", endpoint = "admin_users")]
pub async fn admin_users(search: String, ordering: String, page: u32) -> Result<UserListView, AppError> {
    use gatehouse_core::paging::{PageRequest, DEFAULT_PAGE_SIZE};
    use gatehouse_core::store::users::UserSearch;
    let staff = ssr::staff().await?;
    let search = UserSearch::parse(Some(&search), Some(&ordering))?;
    let request = PageRequest { page: page.max(1), page_size: DEFAULT_PAGE_SIZE };
    let page = super::ssr::core()?.admin().list_users(&staff, &search, request).await?;
    Ok(UserListView {
        users: page.results.iter().map(ssr::row).collect(),
        count: page.count,
        page: request.page,
        pages: page.pages(),
        can_edit: staff.principal().user.is_superuser,
    })
}

#[server(prefix = "/_fn", endpoint = "admin_user")]
pub async fn admin_user(id: i64) -> Result<AdminUserView, AppError> {
    use gatehouse_core::domain::UserId;
    use gatehouse_core::paging::PageRequest;
    use gatehouse_core::store::audit::EventFilter;
    let staff = ssr::staff().await?;
    let core = super::ssr::core()?;
    let user = core.admin().view_user(&staff, UserId(id)).await?;
    let sessions = core.admin().user_sessions(&staff, user.id).await?;
    let filter = EventFilter { user: Some(user.id), ..Default::default() };
    let history = core.audit().all_history(&staff, &filter, PageRequest { page: 1, page_size: 20 }).await?;
    Ok(AdminUserView {
        row: ssr::row(&user),
        is_verified: user.is_verified,
        first_name: user.first_name.clone(),
        last_name: user.last_name.clone(),
        country: user.country.clone(),
        profession: user.profession.clone(),
        sessions: sessions.into_iter().map(|s| super::ssr::session_summary(s, "")).collect(),
        history: history.results.into_iter().map(super::profile::ssr::event_view).collect(),
        can_edit: staff.principal().user.is_superuser,
    })
}

#[allow(clippy::too_many_arguments)] // one argument per form field
#[server(prefix = "/_fn", endpoint = "admin_create_user")]
pub async fn admin_create_user(
    email: String,
    username: String,
    password: String,
    first_name: String,
    last_name: String,
    is_verified: Option<String>,
    is_staff: Option<String>,
    is_superuser: Option<String>,
) -> Result<(), AppError> {
    use gatehouse_core::admin::{NewAccount, RawNewAccount};
    use gatehouse_core::domain::RawProfile;
    let actor = ssr::superuser().await?;
    let core = super::ssr::core()?;
    let personal = [email.clone(), username.clone()];
    let raw = RawNewAccount {
        profile: RawProfile { first_name: Some(first_name), last_name: Some(last_name), ..Default::default() },
        email,
        username: Some(username),
        password: password.clone(),
        is_active: Some(true),
        is_verified: Some(is_verified.is_some()),
        is_staff: Some(is_staff.is_some()),
        is_superuser: Some(is_superuser.is_some()),
    };
    let new = NewAccount::parse(raw, core.credentials().policy())
        .map_err(|e| super::profile::ssr::with_strength(e.into(), &password, &personal))?;
    let user = core.admin().create_account(&actor, new, &super::ssr::client()?).await?;
    leptos_axum::redirect(&format!("/admin/users/{}?created=1", user.id));
    Ok(())
}

/// The edit form: every flag is a checkbox (absent = off), every text field is sent.
#[allow(clippy::too_many_arguments)] // one argument per form field
#[server(prefix = "/_fn", endpoint = "admin_update_user")]
pub async fn admin_update_user(
    id: i64,
    email: String,
    username: String,
    first_name: String,
    last_name: String,
    country: String,
    profession: String,
    is_active: Option<String>,
    is_verified: Option<String>,
    is_staff: Option<String>,
    is_superuser: Option<String>,
) -> Result<(), AppError> {
    use gatehouse_core::admin::{AccountChanges, RawAccountChanges};
    use gatehouse_core::domain::{RawProfile, UserId};
    let actor = ssr::superuser().await?;
    let profile = RawProfile {
        first_name: Some(first_name),
        last_name: Some(last_name),
        country: Some(country),
        profession: Some(profession),
        username: Some(Some(username)),
        ..Default::default()
    };
    let changes = AccountChanges::parse(RawAccountChanges {
        email: Some(email),
        password: None,
        profile,
        is_active: Some(is_active.is_some()),
        is_verified: Some(is_verified.is_some()),
        is_staff: Some(is_staff.is_some()),
        is_superuser: Some(is_superuser.is_some()),
    })?;
    super::ssr::core()?.admin().update_account(&actor, UserId(id), changes, &super::ssr::client()?).await?;
    leptos_axum::redirect(&format!("/admin/users/{id}?saved=1"));
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "admin_set_password")]
pub async fn admin_set_password(id: i64, password: String) -> Result<(), AppError> {
    use gatehouse_core::admin::{AccountChanges, RawAccountChanges};
    use gatehouse_core::domain::UserId;
    let actor = ssr::superuser().await?;
    let changes = AccountChanges::parse(RawAccountChanges { password: Some(password.clone()), ..Default::default() })?;
    super::ssr::core()?
        .admin()
        .update_account(&actor, UserId(id), changes, &super::ssr::client()?)
        .await
        .map_err(|e| super::profile::ssr::with_strength(e.into(), &password, &[]))?;
    leptos_axum::redirect(&format!("/admin/users/{id}?password_set=1"));
    Ok(())
}

#[server(prefix = "/_fn", endpoint = "admin_end_sessions")]
pub async fn admin_end_sessions(id: i64) -> Result<(), AppError> {
    use gatehouse_core::domain::UserId;
    let actor = ssr::superuser().await?;
    super::ssr::core()?.admin().end_user_sessions(&actor, UserId(id), &super::ssr::client()?).await?;
    leptos_axum::redirect(&format!("/admin/users/{id}?sessions_ended=1"));
    Ok(())
}

/// Sent from the confirmation page (`/admin/users/{id}/delete`), never from a single click.
#[server(prefix = "/_fn", endpoint = "admin_delete_user")]
pub async fn admin_delete_user(id: i64) -> Result<(), AppError> {
    use gatehouse_core::domain::UserId;
    let actor = ssr::superuser().await?;
    super::ssr::core()?.admin().delete_account_as_admin(&actor, UserId(id), &super::ssr::client()?).await?;
    leptos_axum::redirect("/admin/users?deleted=1");
    Ok(())
}

#[cfg(feature = "ssr")]
mod ssr {
    use gatehouse_core::admin::{Staff, Superuser};
    use gatehouse_core::User;

    use super::UserRow;
    use crate::error::AppError;

    pub async fn staff() -> Result<Staff, AppError> {
        Ok(super::super::ssr::require_principal().await?.into_staff()?)
    }

    pub async fn superuser() -> Result<Superuser, AppError> {
        Ok(super::super::ssr::require_principal().await?.into_superuser()?)
    }

    pub fn row(user: &User) -> UserRow {
        UserRow {
            id: user.id.0,
            email: user.email.clone(),
            username: user.username.clone().unwrap_or_default(),
            name: format!("{} {}", user.first_name, user.last_name).trim().to_string(),
            is_active: user.is_active,
            is_staff: user.is_staff || user.is_superuser,
            is_superuser: user.is_superuser,
            date_joined: super::super::ssr::date(user.date_joined),
            last_login: user.last_login.map(super::super::ssr::date).unwrap_or_else(|| "never".into()),
        }
    }
}
