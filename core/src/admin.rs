//! Administration. Who may do what is in the types: [`Staff`] (list and view users, read
//! everyone's history) and [`Superuser`] (create, change, delete, end sessions) can only be
//! obtained from a principal that has the flag, so a function taking one cannot be called by
//! anybody else. Every action is one history event on the target's and the actor's history.

use crate::accounts::{Accounts, Privileges, Registration};
use crate::context::RequestContext;
use crate::credentials::Credentials;
use crate::db::Database;
use crate::domain::{Email, PasswordPolicy, ProfileChanges, RawProfile, UserId};
use crate::error::{CoreError, FieldErrorsBuilder};
use crate::notices::Notices;
use crate::paging::{Page, PageRequest};
use crate::passwords::PasswordHasher;
use crate::principal::Principal;
use crate::store::audit::{self, EventKind};
use crate::store::email_tokens;
use crate::store::sessions::{self, Session};
use crate::store::users::{self, User, UserOrder, UserSearch, UserUpdate};

/// A signed-in staff member (superusers are staff too).
#[derive(Clone, Debug)]
pub struct Staff(Principal);

/// A signed-in superuser.
#[derive(Clone, Debug)]
pub struct Superuser(Principal);

impl Principal {
    pub fn into_staff(self) -> Result<Staff, CoreError> {
        if self.user.is_staff || self.user.is_superuser {
            Ok(Staff(self))
        } else {
            Err(CoreError::Forbidden)
        }
    }

    pub fn into_superuser(self) -> Result<Superuser, CoreError> {
        if self.user.is_superuser {
            Ok(Superuser(self))
        } else {
            Err(CoreError::Forbidden)
        }
    }
}

impl Staff {
    pub fn principal(&self) -> &Principal {
        &self.0
    }
}

impl Superuser {
    pub fn principal(&self) -> &Principal {
        &self.0
    }

    pub fn as_staff(&self) -> Staff {
        Staff(self.0.clone())
    }
}

/// A superuser's changes to an account; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct AccountChanges {
    pub email: Option<Email>,
    /// Checked against the account's own details before it is hashed.
    pub password: Option<String>,
    pub profile: ProfileChanges,
    pub is_active: Option<bool>,
    pub is_verified: Option<bool>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
}

/// A superuser's changes as a form or a JSON body brings them; `None` = not sent.
#[derive(Clone, Debug, Default)]
pub struct RawAccountChanges {
    pub email: Option<String>,
    pub password: Option<String>,
    pub profile: RawProfile,
    pub is_active: Option<bool>,
    pub is_verified: Option<bool>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
}

impl AccountChanges {
    /// The one parse of an admin update, for the JSON API and the web app's admin pages alike;
    /// every bad field is reported at once. The password is checked against the policy by
    /// [`Admin::update_account`], which knows the account it must not resemble.
    pub fn parse(raw: RawAccountChanges) -> Result<Self, CoreError> {
        let mut errors = FieldErrorsBuilder::default();
        let email = match raw.email {
            Some(email) => errors.check("email", Email::parse(&email)).map(Some),
            None => Some(None),
        };
        let profile = errors.absorb(ProfileChanges::parse(raw.profile))?;
        errors.finish()?;
        Ok(Self {
            email: email.unwrap(),
            password: raw.password,
            profile: profile.unwrap(),
            is_active: raw.is_active,
            is_verified: raw.is_verified,
            is_staff: raw.is_staff,
            is_superuser: raw.is_superuser,
        })
    }

    fn field_names(&self) -> Vec<&'static str> {
        let mut names = self.profile.field_names();
        let others = [
            ("email", self.email.is_some()),
            ("password", self.password.is_some()),
            ("is_active", self.is_active.is_some()),
            ("is_verified", self.is_verified.is_some()),
            ("is_staff", self.is_staff.is_some()),
            ("is_superuser", self.is_superuser.is_some()),
        ];
        names.extend(others.into_iter().filter_map(|(n, changed)| changed.then_some(n)));
        names
    }

    /// Changes after which the account's sessions must end at once.
    fn ends_sessions(&self) -> bool {
        self.password.is_some() || self.is_active == Some(false)
    }

    /// The address the account moves to, if it is not `current_email` (a form that sends the
    /// unchanged address back changes nothing).
    fn new_email(&self, current_email: &str) -> Option<&Email> {
        self.email.as_ref().filter(|email| email.as_str() != current_email)
    }

    /// Changes after which no link mailed earlier may work: they were sent under the old
    /// password or to the old address, or the account is closed.
    fn retires_links(&self, current_email: &str) -> bool {
        self.ends_sessions() || self.new_email(current_email).is_some()
    }
}

/// A new account made by a superuser.
#[derive(Debug)]
pub struct NewAccount {
    pub registration: Registration,
    pub profile: ProfileChanges,
    pub is_active: bool,
    pub is_verified: bool,
    pub privileges: Privileges,
}

/// A new account as a form or a JSON body brings it; `None` = not sent.
#[derive(Clone, Debug, Default)]
pub struct RawNewAccount {
    pub email: String,
    pub username: Option<String>,
    pub password: String,
    /// Its `username` is not read: the account's is `username` above.
    pub profile: RawProfile,
    /// Active unless `false`.
    pub is_active: Option<bool>,
    /// Confirmed unless `false`.
    pub is_verified: Option<bool>,
    pub is_staff: Option<bool>,
    pub is_superuser: Option<bool>,
}

impl NewAccount {
    /// The one parse of a superuser's new account, for the JSON API and the web app's admin
    /// pages alike: the sign-up's checks and the profile's, every bad field at once.
    pub fn parse(raw: RawNewAccount, policy: &PasswordPolicy) -> Result<Self, CoreError> {
        let mut errors = FieldErrorsBuilder::default();
        let registration =
            errors.absorb(Registration::parse(&raw.email, raw.username.as_deref(), &raw.password, policy))?;
        let profile = errors.absorb(ProfileChanges::parse(RawProfile { username: None, ..raw.profile }))?;
        errors.finish()?;
        Ok(Self {
            registration: registration.unwrap(),
            profile: profile.unwrap(),
            is_active: raw.is_active.unwrap_or(true),
            is_verified: raw.is_verified.unwrap_or(true),
            privileges: Privileges {
                is_staff: raw.is_staff.unwrap_or(false),
                is_superuser: raw.is_superuser.unwrap_or(false),
            },
        })
    }
}

/// Staff looking at accounts; superusers changing them.
#[derive(Clone)]
pub struct Admin {
    pub(crate) db: Database,
    pub(crate) hasher: PasswordHasher,
    pub(crate) accounts: Accounts,
    pub(crate) credentials: Credentials,
    pub(crate) notices: Notices,
}

impl Admin {
    /// Users matching the search, in the order asked, one page.
    pub async fn list_users(
        &self,
        _staff: &Staff,
        search: &UserSearch,
        request: PageRequest,
    ) -> Result<Page<User>, CoreError> {
        let count = users::count_matching(&self.db.pool, search).await?;
        let results = users::page_matching(&self.db.pool, search, request.offset(), request.limit()).await?;
        Ok(Page { count, request, results })
    }

    pub async fn view_user(&self, _staff: &Staff, id: UserId) -> Result<User, CoreError> {
        self.accounts.user(id).await
    }

    /// A user's live sessions, as their own "your sessions" shows them.
    pub async fn user_sessions(&self, _staff: &Staff, id: UserId) -> Result<Vec<Session>, CoreError> {
        self.accounts.user(id).await?;
        sessions::list_active_for_user(&self.db, id).await
    }

    pub async fn create_account(
        &self,
        actor: &Superuser,
        new: NewAccount,
        context: &RequestContext,
    ) -> Result<User, CoreError> {
        let user = self.accounts.create_user(&new.registration, new.privileges, new.is_verified).await?;
        let update = UserUpdate { profile: Some(&new.profile), is_active: Some(new.is_active), ..Default::default() };
        let user = users::update(&self.db, user.id, &update).await?.ok_or(CoreError::NotFound)?;
        self.record_admin(actor, user.id, EventKind::AdminUserCreated, context, &user.email).await?;
        Ok(user)
    }

    /// Changes an account. Taking the last active superuser's flag (or deactivating them) is
    /// refused; a new password or deactivation ends the account's sessions at once.
    pub async fn update_account(
        &self,
        actor: &Superuser,
        id: UserId,
        changes: AccountChanges,
        context: &RequestContext,
    ) -> Result<User, CoreError> {
        let target = self.accounts.user(id).await?;
        let hash = match &changes.password {
            Some(raw) => {
                let password = self.credentials.check_new_password(&target, raw, "password")?;
                Some(self.hasher.hash(password.expose()).await?)
            }
            None => None,
        };
        // Superusers are always staff: granting superuser grants staff (whatever the staff
        // flag says), taking staff away takes superuser too.
        let is_superuser = match (changes.is_superuser, changes.is_staff) {
            (Some(true), _) => Some(true),
            (_, Some(false)) => Some(false),
            (unchanged, _) => unchanged,
        };
        let is_staff = if is_superuser == Some(true) { Some(true) } else { changes.is_staff };
        let update = UserUpdate {
            profile: Some(&changes.profile),
            email: changes.email.as_ref(),
            password_hash: hash.as_deref(),
            is_active: changes.is_active,
            is_verified: changes.is_verified,
            is_staff,
            is_superuser,
        };
        let user = users::update(&self.db, id, &update).await?.ok_or(CoreError::NotFound)?;
        let mut tx = self.db.begin().await?;
        if changes.ends_sessions() {
            sessions::revoke_all_for_user(&mut tx, id, None, "admin").await?;
        }
        if changes.retires_links(&target.email) {
            email_tokens::retire_every_purpose(&mut tx, id).await?;
        }
        tx.commit().await?;
        if let Some(new_email) = changes.new_email(&target.email) {
            self.notices.send_email_changed_notice(&target, new_email)?;
        }
        if changes.password.is_some() {
            self.notices.send_password_changed_notice(&user, "set by an administrator")?;
        }
        let detail = changes.field_names().join(", ");
        self.record_admin(actor, id, EventKind::AdminUserUpdated, context, &detail).await?;
        Ok(user)
    }

    /// Deletes an account (never the last active superuser); its sessions go with it.
    pub async fn delete_account_as_admin(
        &self,
        actor: &Superuser,
        id: UserId,
        context: &RequestContext,
    ) -> Result<(), CoreError> {
        let target = self.accounts.user(id).await?;
        if !users::delete_guarded(&self.db, id).await? {
            return Err(CoreError::NotFound);
        }
        self.record_admin(actor, id, EventKind::AdminUserDeleted, context, &target.email).await
    }

    /// Ends every session of an account (and so every access token issued to it), and retires
    /// every link mailed for it, as the owner's own "log out everywhere" does.
    pub async fn end_user_sessions(
        &self,
        actor: &Superuser,
        id: UserId,
        context: &RequestContext,
    ) -> Result<u64, CoreError> {
        self.accounts.user(id).await?;
        let mut tx = self.db.begin().await?;
        let ended = sessions::revoke_all_for_user(&mut tx, id, None, "admin").await?;
        email_tokens::retire_every_purpose(&mut tx, id).await?;
        tx.commit().await?;
        self.record_admin(actor, id, EventKind::AdminSessionsEnded, context, &format!("{ended} sessions")).await?;
        Ok(ended)
    }

    async fn record_admin(
        &self,
        actor: &Superuser,
        target: UserId,
        kind: EventKind,
        context: &RequestContext,
        detail: &str,
    ) -> Result<(), CoreError> {
        audit::record_admin(&self.db, actor.principal().user.id, target, kind, context, detail).await
    }
}

impl UserSearch {
    /// `search`: text to find (case-insensitive); `ordering`: `id`, `email`, `username`,
    /// `date_joined` or `last_login`, `-` in front for descending (default `id`).
    pub fn parse(search: Option<&str>, ordering: Option<&str>) -> Result<Self, CoreError> {
        let text = search.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty());
        if text.as_ref().is_some_and(|t| t.chars().any(char::is_control) || t.chars().count() > 254) {
            return Err(CoreError::field("search", "Enter at most 254 characters of text."));
        }
        let ordering = ordering.map(str::trim).filter(|o| !o.is_empty()).unwrap_or("id");
        let (descending, name) = match ordering.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, ordering),
        };
        let order = match name {
            "id" => UserOrder::Id,
            "email" => UserOrder::Email,
            "username" => UserOrder::Username,
            "date_joined" => UserOrder::DateJoined,
            "last_login" => UserOrder::LastLogin,
            _ => {
                return Err(CoreError::field(
                    "ordering",
                    "Order by id, email, username, date_joined or last_login (with - in front for descending).",
                ))
            }
        };
        Ok(UserSearch { text, order, descending })
    }
}
