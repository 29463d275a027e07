//! The Security page: change password, two-factor authentication, sessions with revoke, log
//! out everywhere, delete account.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

use super::two_factor::TwoFactorCard;
use crate::components::{action_error, FormError, PasswordField};
use crate::server_fns::{
    list_sessions, two_factor_status, ChangePassword, DeleteAccount, LogoutEverywhere, RevokeSession,
};

#[component]
pub fn SecurityPage() -> impl IntoView {
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("password_changed").is_some() {
            Some("Your password is changed. Every other session has been logged out.")
        } else if q.get("revoked").is_some() {
            Some("That session is logged out.")
        } else if q.get("two_factor_off").is_some() {
            Some("Two-factor authentication is off.")
        } else {
            None
        }
    };
    // One resource for the whole page: it renders once, when everything is ready.
    let data = Resource::new(
        move || (query.read().get("revoked"), query.read().get("two_factor_off")),
        |_| async { Ok::<_, crate::error::AppError>((two_factor_status().await?, list_sessions().await?)) },
    );
    view! {
        <Title text="Security – Gatehouse"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok((two_factor, list)) => view! {
                        <div class="stack">
                            <h1>"Security"</h1>
                            {notice().map(|n| view! { <p class="alert success" role="status">{n}</p> })}
                            <ChangePasswordCard/>
                            <TwoFactorCard status=two_factor/>
                            <SessionsCard sessions=list/>
                            <DeleteAccountCard/>
                        </div>
                    }
                    .into_any(),
                    Err(_) => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ChangePasswordCard() -> impl IntoView {
    let action = ServerAction::<ChangePassword>::new();
    let error = action_error(action);
    view! {
        <section class="card" aria-labelledby="change-password">
            <h2 id="change-password">"Change password"</h2>
            <p>"Changing your password logs out every other session."</p>
            <FormError error/>
            <ActionForm action attr:novalidate="">
                <PasswordField name="current_password" label="Current password" autocomplete="current-password" error/>
                <PasswordField name="new_password" label="New password" autocomplete="new-password" meter=true error/>
                <button type="submit" class="button" disabled=move || action.pending().get()>"Change password"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn SessionsCard(sessions: Vec<crate::server_fns::SessionSummary>) -> impl IntoView {
    let revoke = ServerAction::<RevokeSession>::new();
    let everywhere = ServerAction::<LogoutEverywhere>::new();
    view! {
        <section class="card" aria-labelledby="sessions">
            <h2 id="sessions">"Your sessions"</h2>
            <p>"Everywhere you are logged in: this browser, other browsers, and apps using the API."</p>
            <ul class="sessions" data-testid="sessions">
                {sessions
                    .into_iter()
                    .map(|s| {
                        let label = if s.browser { "Browser" } else { "API client" };
                        let agent = s.device.clone();
                        view! {
                            <li class="session">
                                <div>
                                    <strong>{label}</strong>
                                    {s.current.then(|| view! { <span class="badge">"this session"</span> })}
                                    <p class="hint">{agent}</p>
                                    <p class="hint">
                                        {format!("{} · signed in {} · last active {}", s.ip, s.created, s.last_used)}
                                    </p>
                                </div>
                                <ActionForm action=revoke attr:class="inline">
                                    <input type="hidden" name="id" value=s.id.clone()/>
                                    <button type="submit" class="button secondary small">"Log out"</button>
                                </ActionForm>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
            <ActionForm action=everywhere>
                <button type="submit" class="button secondary">"Log out everywhere"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn DeleteAccountCard() -> impl IntoView {
    let action = ServerAction::<DeleteAccount>::new();
    let error = action_error(action);
    view! {
        <section class="card danger-zone" aria-labelledby="delete-account">
            <h2 id="delete-account">"Delete account"</h2>
            <p>"This removes your account, its sessions and its data for good."</p>
            <FormError error/>
            <ActionForm action attr:novalidate="">
                <PasswordField
                    name="current_password"
                    id="delete_current_password"
                    label="Confirm with your password"
                    autocomplete="current-password"
                    error
                />
                <button type="submit" class="button danger">"Delete my account"</button>
            </ActionForm>
        </section>
    }
}
