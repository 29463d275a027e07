mod account;
mod dashboard;
mod home;

pub use account::{CheckEmailPage, LoginPage, RegisterPage, VerifyEmailPage};
pub use dashboard::DashboardPage;
pub use home::{HomePage, NotFoundPage};
