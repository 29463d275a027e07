//! Security history: a person's own events, everyone's for staff (filtered), and pruning after
//! the retention setting.

use crate::admin::Staff;
use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Database;
use crate::domain::UserId;
use crate::error::{CoreError, FieldErrorsBuilder};
use crate::paging::{Page, PageRequest};
use crate::principal::Principal;
use crate::store::audit::{self, AuditEvent, EventFilter, EventKind};

/// The security history: reading it, and pruning it after the retention setting.
#[derive(Clone)]
pub struct Audit {
    pub(crate) db: Database,
    pub(crate) clock: Clock,
    pub(crate) settings: Arc<Settings>,
}

impl Audit {
    /// The caller's events (including what they did as an admin), newest first.
    pub async fn history(&self, principal: &Principal, page: PageRequest) -> Result<Page<AuditEvent>, CoreError> {
        let filter = EventFilter { user: Some(principal.user.id), ..Default::default() };
        self.events(&filter, page).await
    }

    /// Everyone's events, for staff, filtered by user, kind and time.
    pub async fn all_history(
        &self,
        _staff: &Staff,
        filter: &EventFilter,
        page: PageRequest,
    ) -> Result<Page<AuditEvent>, CoreError> {
        self.events(filter, page).await
    }

    async fn events(&self, filter: &EventFilter, request: PageRequest) -> Result<Page<AuditEvent>, CoreError> {
        let count = audit::count(&self.db.pool, filter).await?;
        let results = audit::page(&self.db.pool, filter, request.offset(), request.limit()).await?;
        Ok(Page { count, request, results })
    }

    /// Deletes events older than the retention setting (run periodically); returns how many.
    pub async fn prune_history(&self) -> Result<u64, CoreError> {
        let retention = self.settings.audit_retention.as_secs() as i64;
        audit::prune(&self.db, self.clock.now_secs() - retention).await
    }
}

fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Parses staff's history filters: `user` an id, `kind` an event kind, `since`/`until`
/// RFC 3339 times.
pub fn parse_event_filter(
    user: Option<&str>,
    kind: Option<&str>,
    since: Option<&str>,
    until: Option<&str>,
) -> Result<EventFilter, CoreError> {
    let mut errors = FieldErrorsBuilder::default();
    let user = present(user).and_then(|u| {
        errors.check("user", u.parse::<i64>().map(UserId).map_err(|_| vec!["Enter a user id.".to_string()]))
    });
    let kind = present(kind).and_then(|k| {
        errors.check("kind", EventKind::parse(k).ok_or_else(|| vec![format!("There is no event kind \"{k}\".")]))
    });
    let mut time = |field: &str, value: Option<&str>| {
        present(value).and_then(|v| errors.check(field, crate::time_format::parse_rfc3339(v)))
    };
    let since = time("since", since);
    let until = time("until", until);
    errors.finish()?;
    Ok(EventFilter { user, kind, since, until })
}
