//! Paged lists the way Django REST framework's `PageNumberPagination` answers them:
//! `{count, next, previous, results}`, `next`/`previous` being absolute URLs (or null).

use axum::extract::OriginalUri;
use gatehouse_core::paging::{Page, PageRequest};
use gatehouse_core::store::audit::AuditEvent;
use gatehouse_core::time_format::to_rfc3339;
use gatehouse_core::{CoreError, User};

use super::views;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::state::AppState;

/// `?page=&page_size=`: from 1; page_size up to 100 (default 20).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1 to 4294967295.
    #[param(value_type = Option<u64>, minimum = 1, maximum = 4294967295_u64)]
    page: Option<String>,
    /// From 1 to 100; 20 when absent.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    page_size: Option<String>,
}

impl PageQuery {
    pub fn request(&self) -> Result<PageRequest, CoreError> {
        PageRequest::parse(self.page.as_deref(), self.page_size.as_deref())
    }
}

/// The URL of another page of the same list: this request's URL with `page` replaced.
fn page_url(state: &AppState, uri: &OriginalUri, page: Option<u32>) -> Option<String> {
    let page = page?;
    let mut url = url::Url::parse(&format!("{}{}", state.core.settings().public_url(), uri.0)).ok()?;
    let others: Vec<(String, String)> = url.query_pairs().into_owned().filter(|(k, _)| k != "page").collect();
    url.query_pairs_mut().clear().extend_pairs(others).append_pair("page", &page.to_string());
    Some(url.to_string())
}

/// One security event.
#[derive(Serialize, ToSchema)]
pub struct EventBody {
    id: i64,
    /// `login_succeeded`, `password_changed`, `admin_user_updated`, ...
    kind: String,
    #[schema(format = DateTime)]
    created_at: String,
    ip: String,
    user_agent: String,
    /// The user agent, readable: "Firefox on Linux".
    device: String,
    /// Kind-specific: the session, the fields changed, the new address, ...
    detail: String,
    /// Whose history the event is on.
    #[schema(required = true)]
    user_id: Option<i64>,
    /// For admin actions: the staff member who acted.
    #[schema(required = true)]
    actor_id: Option<i64>,
}

impl From<AuditEvent> for EventBody {
    fn from(e: AuditEvent) -> Self {
        EventBody {
            id: e.id,
            kind: e.kind,
            created_at: to_rfc3339(e.created_at),
            ip: e.ip,
            device: gatehouse_core::user_agent::describe(&e.user_agent),
            user_agent: e.user_agent,
            detail: e.detail,
            user_id: e.user_id,
            actor_id: e.actor_id,
        }
    }
}

/// One page of events, newest first.
#[derive(Serialize, ToSchema)]
pub struct EventPage {
    count: i64,
    #[schema(required = true)]
    next: Option<String>,
    #[schema(required = true)]
    previous: Option<String>,
    results: Vec<EventBody>,
}

impl EventPage {
    pub fn new(page: Page<AuditEvent>, state: &AppState, uri: &OriginalUri) -> Self {
        EventPage {
            count: page.count,
            next: page_url(state, uri, page.next()),
            previous: page_url(state, uri, page.previous()),
            results: page.results.into_iter().map(EventBody::from).collect(),
        }
    }
}

/// One page of users.
#[derive(Serialize, ToSchema)]
pub struct UserPage {
    count: i64,
    #[schema(required = true)]
    next: Option<String>,
    #[schema(required = true)]
    previous: Option<String>,
    results: Vec<views::User>,
}

impl UserPage {
    pub fn new(page: Page<User>, state: &AppState, uri: &OriginalUri) -> Self {
        UserPage {
            count: page.count,
            next: page_url(state, uri, page.next()),
            previous: page_url(state, uri, page.previous()),
            results: page.results.into_iter().map(views::User::from).collect(),
        }
    }
}
