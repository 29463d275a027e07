mod account;
mod dashboard;
mod home;
mod security;

pub use account::{CheckEmailPage, ForgotPasswordPage, LoginPage, RegisterPage, ResetPasswordPage, VerifyEmailPage};
pub use dashboard::DashboardPage;
pub use home::{HomePage, NotFoundPage};
pub use security::SecurityPage;
