//! The password meter's reading, as the page shows it: measured as the person types (the
//! `password_strength` server function) and carried back with a failed submit of a form with a
//! new password ([`crate::error::AppError::Rejected`]'s `strength`), also without JavaScript.

use serde::{Deserialize, Serialize};

/// The password meter's reading (see `gatehouse_core::password_strength`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StrengthView {
    /// From 0 (very weak) to 4 (strong).
    pub score: u8,
    pub label: String,
    pub advice: Option<String>,
}
