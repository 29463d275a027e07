mod account;
mod admin;
mod dashboard;
mod home;
mod profile;
mod security;
mod two_factor;

pub use account::{CheckEmailPage, ForgotPasswordPage, LoginPage, RegisterPage, ResetPasswordPage, VerifyEmailPage};
pub use admin::{AdminDeleteUserPage, AdminNewUserPage, AdminUserPage, AdminUsersPage};
pub use dashboard::DashboardPage;
pub use home::{HomePage, NotFoundPage};
pub use profile::{ConfirmEmailPage, HistoryPage, ProfilePage};
pub use security::SecurityPage;
pub use two_factor::{RecoveryCodesPage, SecondStepPage, TwoFactorSetupPage};
