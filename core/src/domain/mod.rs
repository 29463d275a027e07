//! Values that carry meaning, parsed once at the edge. A function that takes an [`Email`]
//! never has to wonder whether it is well-formed or normalised.

mod email;
mod password;
mod user_id;
mod username;

pub use email::Email;
pub use password::{NewPassword, PasswordAttempt, PasswordPolicy};
pub use user_id::UserId;
pub use username::{LoginIdentifier, Username};
