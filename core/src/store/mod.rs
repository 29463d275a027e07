//! Storage, one module per aggregate. Only these modules write SQL.

pub mod audit;
pub mod email_tokens;
pub mod login_streaks;
pub mod rate_windows;
pub mod recovery_codes;
pub mod sessions;
pub mod throttle;
pub mod totp_devices;
pub mod transaction;
pub mod users;
pub mod web_sessions;
