mod account;
mod dashboard;
mod home;
mod security;
mod two_factor;

pub use account::{CheckEmailPage, ForgotPasswordPage, LoginPage, RegisterPage, ResetPasswordPage, VerifyEmailPage};
pub use dashboard::DashboardPage;
pub use home::{HomePage, NotFoundPage};
pub use security::SecurityPage;
pub use two_factor::{RecoveryCodesPage, SecondStepPage, TwoFactorSetupPage};
