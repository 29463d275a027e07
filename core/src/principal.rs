//! Who is calling: a live session and its user, as every face hands it to the core.

use crate::error::CoreError;
use crate::store::sessions::Session;
use crate::store::users::User;

/// Who is calling, established from a live session.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: User,
    pub session: Session,
}

impl Principal {
    /// The principal of a session that completed every step of logging in; a session that
    /// still owes its second factor may only complete it, refresh and log itself out.
    pub fn completed(self) -> Result<Self, CoreError> {
        if self.session.second_factor_pending {
            Err(CoreError::SecondFactorRequired)
        } else {
            Ok(self)
        }
    }

    /// Changing the second factor needs a session that proved it.
    pub fn require_aal2(&self) -> Result<(), CoreError> {
        if self.session.aal == "aal2" {
            Ok(())
        } else {
            Err(CoreError::Aal2Required)
        }
    }
}
