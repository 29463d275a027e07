//! Security history: a person's own events, everyone's for staff (filtered), and pruning after
//! the retention setting.

use crate::admin::Staff;
use crate::auth::Principal;
use crate::error::CoreError;
use crate::paging::{Page, PageRequest};
use crate::store::audit::{self, AuditEvent, EventFilter};
use crate::Gatehouse;

impl Gatehouse {
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
        let count = audit::count(self.pool(), filter).await?;
        let results = audit::page(self.pool(), filter, request.offset(), request.limit()).await?;
        Ok(Page { count, request, results })
    }

    /// Deletes events older than the retention setting (run periodically); returns how many.
    pub async fn prune_history(&self) -> Result<u64, CoreError> {
        let retention = self.settings().audit_retention.as_secs() as i64;
        audit::prune(self.pool(), self.clock().now_secs() - retention).await
    }
}
