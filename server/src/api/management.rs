//! `/account/management/...`: the admin API. Staff list and view users and read everyone's
//! history; superusers create, change and delete users and end their sessions. The
//! extractors in each signature say who may call it; the rules are the core's
//! (`gatehouse_core::admin`).

use axum::extract::{OriginalUri, Path, State};
use axum::http::StatusCode;
use axum::Json;
use gatehouse_core::admin::{AccountChanges, NewAccount, RawAccountChanges, RawNewAccount};
use gatehouse_core::domain::UserId;
use gatehouse_core::history::parse_event_filter;
use gatehouse_core::paging::PageRequest;
use gatehouse_core::store::users::UserSearch;
use gatehouse_core::CoreError;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::account::SessionBody;
use super::error::ApiError;
use super::extract::{ApiJson, ApiQuery, Client, StaffUser, SuperUser};
use super::fields::{FieldReader, PROFILE_FIELDS};
use super::paging::{EventPage, UserPage};
use super::responses::*;
use super::views::User;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_users))
        .routes(routes!(create_user))
        .routes(routes!(all_history))
        .routes(routes!(view_user))
        .routes(routes!(user_to_update, replace_user, update_user))
        .routes(routes!(delete_user))
        .routes(routes!(user_sessions, end_user_sessions))
}

/// A user id in a path; anything else names no user (404).
fn user_id(raw: &str) -> Result<UserId, ApiError> {
    raw.parse::<i64>().map(UserId).map_err(|_| CoreError::NotFound.into())
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserListQuery {
    /// Text to find in the email, username, first or last name (case-insensitive); no control
    /// characters.
    #[param(max_length = 254, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
    search: Option<String>,
    /// `id`, `email`, `username`, `date_joined` or `last_login`; `-` in front for descending.
    #[param(pattern = r"^\s*(-?(id|email|username|date_joined|last_login))?\s*$")]
    ordering: Option<String>,
    /// From 1 to 4294967295.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4294967295_u64)]
    page: Option<String>,
    /// From 1 to 100; 20 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    page_size: Option<String>,
}

/// Users, searched, ordered and paged. Staff only.
#[utoipa::path(get, path = "/account/management", tag = "management", params(UserListQuery),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "One page of users", body = UserPage),
        BadRequest, Unauthorized, Forbidden))]
async fn list_users(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    uri: OriginalUri,
    ApiQuery(query): ApiQuery<UserListQuery>,
) -> Result<Json<UserPage>, ApiError> {
    let search = UserSearch::parse(query.search.as_deref(), query.ordering.as_deref())?;
    let page = state
        .core
        .admin()
        .list_users(&staff, &search, PageRequest::parse(query.page.as_deref(), query.page_size.as_deref())?)
        .await?;
    Ok(Json(UserPage::new(page, &state, &uri)))
}

/// The admin bodies: the fields that come first (`email`, `password`, which the three
/// bodies require differently), then the profile and flag fields every one of them takes. The
/// structs only document the bodies (read field by field, see `fields::FieldReader`); each is
/// whole because `additionalProperties: false` cannot be split over an `allOf`.
macro_rules! admin_account_body {
    ($(#[doc = $doc:literal])* $name:ident { $($head:tt)* }) => {
        $(#[doc = $doc])*
        #[derive(Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        pub struct $name {
            $($head)*
            /// Null or "" removes it.
            username: Option<String>,
            #[schema(value_type = String, required = false, max_length = 150, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
            first_name: Option<String>,
            #[schema(value_type = String, required = false, max_length = 150, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
            last_name: Option<String>,
            #[schema(value_type = String, required = false, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
            country: Option<String>,
            #[schema(value_type = String, required = false, max_length = 100, pattern = r"^[^\u0000-\u001F\u007F-\u009F]*$")]
            profession: Option<String>,
            #[schema(value_type = String, required = false, max_length = 2000, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
            bio: Option<String>,
            #[schema(value_type = String, required = false, max_length = 2000, pattern = r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F]*$")]
            thoughts: Option<String>,
            /// An http(s) URL, or "" for none.
            #[schema(value_type = String, required = false)]
            profile_img: Option<String>,
            /// `false` ends the user's sessions.
            #[schema(value_type = bool, required = false)]
            is_active: Option<bool>,
            #[schema(value_type = bool, required = false)]
            is_verified: Option<bool>,
            #[schema(value_type = bool, required = false)]
            is_staff: Option<bool>,
            #[schema(value_type = bool, required = false)]
            is_superuser: Option<bool>,
        }
    };
}

admin_account_body! {
    /// The fields a superuser sets on an account; any other field is refused by name.
    AccountFields {
        #[schema(value_type = String, required = false, format = Email)]
        email: Option<String>,
        /// Validated like a sign-up's. Setting it ends the user's sessions.
        #[schema(value_type = String, required = false)]
        password: Option<String>,
    }
}

admin_account_body! {
    /// A new account's fields (`email` and `password` required); any other field is refused by name.
    NewAccountFields {
        #[schema(value_type = String, required = true, format = Email)]
        email: Option<String>,
        /// Validated like a sign-up's.
        #[schema(value_type = String, required = true)]
        password: Option<String>,
    }
}

admin_account_body! {
    /// The fields `PUT` sets (`email` required; absent fields keep their values); any other field
    /// is refused by name.
    ReplacedAccountFields {
        #[schema(value_type = String, required = true, format = Email)]
        email: Option<String>,
        /// Required to create; validated like a sign-up's. Setting it ends the user's sessions.
        #[schema(value_type = String, required = false)]
        password: Option<String>,
    }
}

const ACCOUNT_FIELDS: [&str; 6] = ["email", "password", "is_active", "is_verified", "is_staff", "is_superuser"];

fn account_fields(body: serde_json::Value) -> Result<FieldReader, ApiError> {
    let allowed: Vec<&str> = PROFILE_FIELDS.iter().chain(ACCOUNT_FIELDS.iter()).copied().collect();
    Ok(FieldReader::new(body, &allowed)?)
}

/// Creates an account (no mail is sent; it is confirmed unless `is_verified` is false).
/// Superusers only.
#[utoipa::path(post, path = "/account/management/create", tag = "management", request_body = NewAccountFields,
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 201, description = "Created", body = User),
        BadRequest, Unauthorized, Forbidden, Conflict, PayloadTooLarge, UnsupportedMediaType))]
async fn create_user(
    State(state): State<AppState>,
    Client(client): Client,
    SuperUser(actor): SuperUser,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let mut fields = account_fields(body)?;
    let raw = RawNewAccount {
        email: fields.text("email").unwrap_or_default(),
        password: fields.text("password").unwrap_or_default(),
        username: fields.nullable_text("username").flatten(),
        profile: fields.profile(),
        is_active: fields.flag("is_active"),
        is_verified: fields.flag("is_verified"),
        is_staff: fields.flag("is_staff"),
        is_superuser: fields.flag("is_superuser"),
    };
    fields.finish()?;
    let new = NewAccount::parse(raw, state.core.credentials().policy())?;
    let user = state.core.admin().create_account(&actor, new, &client).await?;
    Ok((StatusCode::CREATED, Json(user.into())))
}

/// One user. Staff only.
#[utoipa::path(get, path = "/account/management/{id}", tag = "management",
    params(("id" = i64, Path, description = "The user's id")),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "The user", body = User), Unauthorized, Forbidden, NotFound))]
async fn view_user(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.core.admin().view_user(&staff, user_id(&id)?).await?.into()))
}

/// The user about to be updated (seed 004 lists this path with GET: DRF's
/// `RetrieveUpdateAPIView` answers it). Superusers only.
#[utoipa::path(get, path = "/account/management/{id}/update", tag = "management",
    params(("id" = i64, Path, description = "The user's id")),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "The user", body = User), Unauthorized, Forbidden, NotFound))]
async fn user_to_update(
    State(state): State<AppState>,
    SuperUser(actor): SuperUser,
    Path(id): Path<String>,
) -> Result<Json<User>, ApiError> {
    Ok(Json(state.core.admin().view_user(&actor.as_staff(), user_id(&id)?).await?.into()))
}

async fn apply_update(
    state: &AppState,
    client: &gatehouse_core::RequestContext,
    actor: &gatehouse_core::admin::Superuser,
    id: &str,
    body: serde_json::Value,
    require_email: bool,
) -> Result<Json<User>, ApiError> {
    let id = user_id(id)?;
    let mut fields = account_fields(body)?;
    if require_email && !fields.contains("email") {
        return Err(CoreError::field("email", "This field is required.").into());
    }
    let raw = RawAccountChanges {
        email: fields.text("email"),
        password: fields.text("password"),
        profile: fields.profile(),
        is_active: fields.flag("is_active"),
        is_verified: fields.flag("is_verified"),
        is_staff: fields.flag("is_staff"),
        is_superuser: fields.flag("is_superuser"),
    };
    fields.finish()?;
    let changes = AccountChanges::parse(raw)?;
    Ok(Json(state.core.admin().update_account(actor, id, changes, client).await?.into()))
}

/// Replaces the account's fields (`email` required; absent fields keep their values, as in
/// Django REST framework). Superusers only; the last active superuser cannot be demoted or
/// deactivated (409).
#[utoipa::path(put, path = "/account/management/{id}/update", tag = "management", request_body = ReplacedAccountFields,
    params(("id" = i64, Path, description = "The user's id")),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "Updated", body = User),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UnsupportedMediaType))]
async fn replace_user(
    State(state): State<AppState>,
    Client(client): Client,
    SuperUser(actor): SuperUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<User>, ApiError> {
    apply_update(&state, &client, &actor, &id, body, true).await
}

/// Changes some of the account's fields. Superusers only; the last active superuser cannot
/// be demoted or deactivated (409).
#[utoipa::path(patch, path = "/account/management/{id}/update", tag = "management", request_body = AccountFields,
    params(("id" = i64, Path, description = "The user's id")),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "Updated", body = User),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UnsupportedMediaType))]
async fn update_user(
    State(state): State<AppState>,
    Client(client): Client,
    SuperUser(actor): SuperUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<Json<User>, ApiError> {
    apply_update(&state, &client, &actor, &id, body, false).await
}

/// Deletes the account with its sessions (its history stays). Superusers only; never the
/// last active superuser (409).
#[utoipa::path(delete, path = "/account/management/{id}/delete", tag = "management",
    params(("id" = i64, Path, description = "The user's id")),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 204, description = "Deleted"), Unauthorized, Forbidden, NotFound, Conflict))]
async fn delete_user(
    State(state): State<AppState>,
    Client(client): Client,
    SuperUser(actor): SuperUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.admin().delete_account_as_admin(&actor, user_id(&id)?, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user's live sessions. Staff only.
#[utoipa::path(get, path = "/account/management/{id}/sessions", tag = "management",
    params(("id" = i64, Path, description = "The user's id")),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "Live sessions", body = Vec<SessionBody>), Unauthorized, Forbidden, NotFound))]
async fn user_sessions(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<SessionBody>>, ApiError> {
    let sessions = state.core.admin().user_sessions(&staff, user_id(&id)?).await?;
    Ok(Json(sessions.into_iter().map(|s| SessionBody::new(s, "")).collect()))
}

/// Ends every session of the user: their access tokens stop working at once. Superusers only.
#[utoipa::path(delete, path = "/account/management/{id}/sessions", tag = "management",
    params(("id" = i64, Path, description = "The user's id")),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 204, description = "Ended"), Unauthorized, Forbidden, NotFound))]
async fn end_user_sessions(
    State(state): State<AppState>,
    Client(client): Client,
    SuperUser(actor): SuperUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.core.admin().end_user_sessions(&actor, user_id(&id)?, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Events of (or by) this user id.
    #[param(value_type = Option<i64>)]
    user: Option<String>,
    /// One event kind, e.g. `login_failed`.
    #[param(schema_with = event_kind_schema)]
    kind: Option<String>,
    /// From this time on (RFC 3339, inclusive); empty is none.
    #[param(schema_with = time_schema)]
    since: Option<String>,
    /// Before this time (RFC 3339, exclusive); empty is none.
    #[param(schema_with = time_schema)]
    until: Option<String>,
    /// From 1 to 4294967295.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4294967295_u64)]
    page: Option<String>,
    /// From 1 to 100; 20 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    page_size: Option<String>,
}

/// An event kind's name, from the core's own list (surrounding spaces ignored; empty is none).
fn event_kind_schema() -> utoipa::openapi::schema::Object {
    use gatehouse_core::store::audit::EventKind;
    let names: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some(format!(r"^\s*({})?\s*$", names.join("|"))))
        .build()
}

/// An RFC 3339 time, or nothing (an empty or blank value is no bound).
fn time_schema() -> utoipa::openapi::schema::Schema {
    use utoipa::openapi::schema::{AnyOfBuilder, KnownFormat, ObjectBuilder, SchemaFormat, Type};
    AnyOfBuilder::new()
        .item(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        )
        .item(ObjectBuilder::new().schema_type(Type::String).pattern(Some(r"^\s*$")))
        .build()
        .into()
}

/// Everyone's security events, newest first, filtered. Staff only.
#[utoipa::path(get, path = "/account/management/history", tag = "management", params(HistoryQuery),
    security(("Bearer" = []), ("JWT" = [])),
    responses((status = 200, description = "One page of events", body = EventPage),
        BadRequest, Unauthorized, Forbidden))]
async fn all_history(
    State(state): State<AppState>,
    StaffUser(staff): StaffUser,
    uri: OriginalUri,
    ApiQuery(query): ApiQuery<HistoryQuery>,
) -> Result<Json<EventPage>, ApiError> {
    let filter = parse_event_filter(
        query.user.as_deref(),
        query.kind.as_deref(),
        query.since.as_deref(),
        query.until.as_deref(),
    )?;
    let page = state
        .core
        .audit()
        .all_history(&staff, &filter, PageRequest::parse(query.page.as_deref(), query.page_size.as_deref())?)
        .await?;
    Ok(Json(EventPage::new(page, &state, &uri)))
}
