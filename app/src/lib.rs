//! The Gatehouse web app: rendered on the server, every form working without JavaScript
//! (forms post to server functions). In the browser only the islands (`#[island]`: the
//! password fields and the copy button) hydrate, so the wasm bundle holds just their code.

pub mod error;
pub mod server_fns;
pub mod strength;

mod components;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::{path, SsrMode};

use components::SiteHeader;
use pages::*;

/// The HTML document around the app; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    page_headers();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="stylesheet" id="gatehouse" href=format!("/pkg/{}.css", options.output_name)/>
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The Content-Security-Policy of a page: scripts only through the nonce of this response
/// (the hydration script Leptos writes; what it loads inherits the trust, `'strict-dynamic'`)
/// plus WebAssembly compilation; everything else from this origin only; never framed.
pub fn content_security_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'nonce-{nonce}' 'strict-dynamic' 'wasm-unsafe-eval'; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
         base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Headers of every page: the CSP with this response's nonce, and `no-cache` (pages show
/// per-user data and must be revalidated; the bundle files are cached instead).
#[cfg(feature = "ssr")]
fn page_headers() {
    use axum::http::{header, HeaderValue};
    let Some(response) = use_context::<leptos_axum::ResponseOptions>() else { return };
    if let Some(nonce) = leptos::nonce::use_nonce() {
        if let Ok(csp) = HeaderValue::from_str(&content_security_policy(&nonce.to_string())) {
            response.insert_header(header::CONTENT_SECURITY_POLICY, csp);
        }
    }
    response.insert_header(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title text="Gatehouse"/>
        <Router>
            <SiteHeader/>
            <main class="page">
                // Async rendering: each page is sent once its data is ready, as plain HTML, so
                // it reads the same with JavaScript off (streamed chunks would need a script).
                <Routes fallback=NotFoundPage>
                    <Route path=path!("/") view=HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/register") view=RegisterPage ssr=SsrMode::Async/>
                    <Route path=path!("/check-email") view=CheckEmailPage ssr=SsrMode::Async/>
                    <Route path=path!("/verify-email") view=VerifyEmailPage ssr=SsrMode::Async/>
                    <Route path=path!("/login") view=LoginPage ssr=SsrMode::Async/>
                    <Route path=path!("/login/two-factor") view=SecondStepPage ssr=SsrMode::Async/>
                    <Route path=path!("/dashboard") view=DashboardPage ssr=SsrMode::Async/>
                    <Route path=path!("/security") view=SecurityPage ssr=SsrMode::Async/>
                    <Route path=path!("/security/two-factor") view=TwoFactorSetupPage ssr=SsrMode::Async/>
                    <Route path=path!("/security/recovery-codes") view=RecoveryCodesPage ssr=SsrMode::Async/>
                    <Route path=path!("/profile") view=ProfilePage ssr=SsrMode::Async/>
                    <Route path=path!("/confirm-email") view=ConfirmEmailPage ssr=SsrMode::Async/>
                    <Route path=path!("/history") view=HistoryPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users") view=AdminUsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users/new") view=AdminNewUserPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users/:id") view=AdminUserPage ssr=SsrMode::Async/>
                    <Route path=path!("/admin/users/:id/delete") view=AdminDeleteUserPage ssr=SsrMode::Async/>
                    <Route path=path!("/forgot-password") view=ForgotPasswordPage ssr=SsrMode::Async/>
                    <Route path=path!("/reset-password") view=ResetPasswordPage ssr=SsrMode::Async/>
                </Routes>
            </main>
        </Router>
    }
}
