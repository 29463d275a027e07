//! Values that carry meaning, parsed once at the edge. A function that takes an [`Email`]
//! never has to wonder whether it is well-formed or normalised. And the entities the core works
//! with ([`User`], [`Session`]): plain data, read from the store's rows and shown by each face
//! through its own views.

mod email;
mod otp_code;
mod password;
mod profile;
mod session;
mod user;
mod user_id;
pub(crate) mod username;

pub use email::Email;
pub use otp_code::{RecoveryCode, TotpCode, RECOVERY_CODE_ALPHABET, RECOVERY_CODE_LENGTH};
pub use password::{NewPassword, PasswordAttempt, PasswordPolicy, MAX_PASSWORD_BYTES};
pub use profile::{ProfileChanges, RawProfile};
pub use session::{Session, SessionKind};
pub use user::User;
pub use user_id::UserId;
pub use username::{LoginIdentifier, Username};
