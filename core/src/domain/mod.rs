//! Values that carry meaning, parsed once at the edge. A function that takes an [`Email`]
//! never has to wonder whether it is well-formed or normalised.

mod email;
mod otp_code;
mod password;
mod profile;
mod user_id;
pub(crate) mod username;

pub use email::Email;
pub use otp_code::{RecoveryCode, TotpCode, RECOVERY_CODE_ALPHABET, RECOVERY_CODE_LENGTH};
pub use password::{NewPassword, PasswordAttempt, PasswordPolicy};
pub use profile::{ProfileChanges, RawProfile};
pub use user_id::UserId;
pub use username::{LoginIdentifier, Username};
