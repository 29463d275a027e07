//! Signing up, confirming the email address, logging in.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;
use leptos_router::hooks::use_query_map;

use crate::components::{action_error, FormError, PasswordField, TextField};
use crate::server_fns::{ForgotPassword, Login, Register, ResendVerification, ResetPassword, VerifyEmail};

#[component]
pub fn RegisterPage() -> impl IntoView {
    let action = ServerAction::<Register>::new();
    let error = action_error(action);
    view! {
        <Title text="Create an account – Gatehouse"/>
        <section class="card narrow">
            <h1>"Create an account"</h1>
            <FormError error/>
            <ActionForm action attr:novalidate="">
                <TextField name="email" label="Email" kind="email" autocomplete="email" error/>
                <TextField
                    name="username"
                    label="Username (optional)"
                    autocomplete="username"
                    required=false
                    hint="Letters, digits and . _ - +. You can log in with it or with your email."
                    error
                />
                <PasswordField
                    name="password"
                    label="Password"
                    autocomplete="new-password"
                    meter=true
                    hint="At least 8 characters; not a common password, not like your email."
                    error
                />
                <button type="submit" class="button wide" disabled=move || action.pending().get()>
                    "Create account"
                </button>
            </ActionForm>
            <p class="aside">"Already have an account? " <A href="/login">"Log in"</A></p>
        </section>
    }
}

#[component]
pub fn CheckEmailPage() -> impl IntoView {
    let query = use_query_map();
    let resent = move || query.read().get("resent").is_some();
    let action = ServerAction::<ResendVerification>::new();
    let error = action_error(action);
    view! {
        <Title text="Check your email – Gatehouse"/>
        <section class="card narrow">
            <h1>"Check your email"</h1>
            <p>"We sent you a link to confirm your email address. Open it to finish creating your account."</p>
            <Show when=move || resent() || matches!(action.value().get(), Some(Ok(_)))>
                <p class="alert success" role="status">
                    "If this address belongs to an unconfirmed account, a new link is on its way."
                </p>
            </Show>
            <h2>"No email?"</h2>
            <p>"Check your spam folder, or ask for a new link:"</p>
            <FormError error/>
            <ActionForm action attr:novalidate="">
                <TextField name="email" label="Email" kind="email" autocomplete="email" error/>
                <button type="submit" class="button secondary" disabled=move || action.pending().get()>
                    "Send a new link"
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn VerifyEmailPage() -> impl IntoView {
    let query = use_query_map();
    let uid = move || query.read().get("uid").unwrap_or_default();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<VerifyEmail>::new();
    let error = action_error(action);
    view! {
        <Title text="Confirm your email – Gatehouse"/>
        <section class="card narrow">
            <h1>"Confirm your email address"</h1>
            {move || error.get().map(|e| view! {
                <p class="alert error" role="alert">
                    {e.to_string()} " " <A href="/check-email">"Ask for a new link"</A>
                </p>
            })}
            <p>"One more click and your account is ready."</p>
            <ActionForm action>
                <input type="hidden" name="uid" value=uid/>
                <input type="hidden" name="token" value=token/>
                <button type="submit" class="button wide" disabled=move || action.pending().get()>
                    "Confirm my email"
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("verified").is_some() {
            Some("Your email address is confirmed. You can log in now.")
        } else if q.get("password_reset").is_some() {
            Some("Your password is changed. Log in with the new one.")
        } else if q.get("signed_out").is_some() {
            Some("You are logged out everywhere.")
        } else if q.get("registered").is_some() {
            Some("Your account is ready. You can log in now.")
        } else {
            None
        }
    };
    let action = ServerAction::<Login>::new();
    let error = action_error(action);
    view! {
        <Title text="Log in – Gatehouse"/>
        <section class="card narrow">
            <h1>"Log in"</h1>
            {move || notice().map(|n| view! { <p class="alert success" role="status">{n}</p> })}
            <FormError error/>
            {move || error.get().filter(|e| e.code() == "email_not_verified").map(|_| view! {
                <p class="aside"><A href="/check-email">"Send me a new confirmation link"</A></p>
            })}
            <ActionForm action attr:novalidate="">
                <TextField name="username" label="Email or username" autocomplete="username" error/>
                <PasswordField name="password" label="Password" autocomplete="current-password" error/>
                <button type="submit" class="button wide" disabled=move || action.pending().get()>
                    "Log in"
                </button>
            </ActionForm>
            <p class="aside"><A href="/forgot-password">"Forgot your password?"</A></p>
            <p class="aside">"New here? " <A href="/register">"Create an account"</A></p>
        </section>
    }
}

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let sent = move || query.read().get("sent").is_some();
    let action = ServerAction::<ForgotPassword>::new();
    let error = action_error(action);
    view! {
        <Title text="Forgot your password – Gatehouse"/>
        <section class="card narrow">
            <h1>"Forgot your password?"</h1>
            <Show
                when=sent
                fallback=move || view! {
                    <p>"Enter your email address and we will send you a link to choose a new password."</p>
                    <FormError error/>
                    <ActionForm action attr:novalidate="">
                        <TextField name="email" label="Email" kind="email" autocomplete="email" error/>
                        <button type="submit" class="button wide" disabled=move || action.pending().get()>
                            "Send me a link"
                        </button>
                    </ActionForm>
                }
            >
                <p class="alert success" role="status">
                    "If this address belongs to an account, a link to reset its password is on its way."
                </p>
            </Show>
            <p class="aside"><A href="/login">"Back to log in"</A></p>
        </section>
    }
}

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let query = use_query_map();
    let uid = move || query.read().get("uid").unwrap_or_default();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<ResetPassword>::new();
    let error = action_error(action);
    view! {
        <Title text="Choose a new password – Gatehouse"/>
        <section class="card narrow">
            <h1>"Choose a new password"</h1>
            {move || error.get().filter(|e| e.code() == "invalid_link").map(|e| view! {
                <p class="alert error" role="alert">
                    {e.to_string()} " " <A href="/forgot-password">"Ask for a new link"</A>
                </p>
            })}
            <ActionForm action attr:novalidate="">
                <input type="hidden" name="uid" value=uid/>
                <input type="hidden" name="token" value=token/>
                <PasswordField
                    name="new_password"
                    label="New password"
                    autocomplete="new-password"
                    meter=true
                    hint="At least 8 characters; not a common password, not like your email."
                    error
                />
                <button type="submit" class="button wide" disabled=move || action.pending().get()>
                    "Set new password"
                </button>
            </ActionForm>
        </section>
    }
}
