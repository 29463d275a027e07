//! The person's profile (with the email change), the link that confirms a new address, and
//! the security history.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::use_query_map;

use crate::components::{action_error, FormError, PasswordField, TextField};
use crate::server_fns::{
    history, profile, CancelEmailChange, ChangeEmail, ConfirmEmail, EventView, ProfileView, UpdateProfile,
};

#[component]
pub fn ProfilePage() -> impl IntoView {
    let query = use_query_map();
    let notice = move || {
        let q = query.read();
        if q.get("saved").is_some() {
            Some("Your profile is saved.")
        } else if q.get("email_sent").is_some() {
            Some("We sent a link to your new address. Your email changes when you open it.")
        } else if q.get("email_changed").is_some() {
            Some("Your email address is changed.")
        } else if q.get("email_cancelled").is_some() {
            Some("The email change is cancelled; the link we sent no longer works.")
        } else {
            None
        }
    };
    let data = Resource::new(move || query.read().get("saved"), |_| profile());
    view! {
        <Title text="Profile – Gatehouse"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(p) => view! {
                        <div class="stack">
                            <h1>"Profile"</h1>
                            {notice().map(|n| view! { <p class="alert success" role="status">{n}</p> })}
                            <ProfileCard profile=p.clone()/>
                            <EmailCard profile=p/>
                        </div>
                    }.into_any(),
                    Err(_) => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ProfileCard(profile: ProfileView) -> impl IntoView {
    let action = ServerAction::<UpdateProfile>::new();
    let error = action_error(action);
    view! {
        <section class="card" aria-labelledby="profile-details">
            <h2 id="profile-details">"Your details"</h2>
            <FormError error/>
            <ActionForm action attr:novalidate="" attr:class="grid-form">
                <TextField name="first_name" label="First name" autocomplete="given-name" required=false value=profile.first_name error/>
                <TextField name="last_name" label="Last name" autocomplete="family-name" required=false value=profile.last_name error/>
                <TextField
                    name="username"
                    label="Username"
                    autocomplete="username"
                    required=false
                    hint="Letters, digits and . _ - +. Leave empty to log in by email only."
                    value=profile.username
                    error
                />
                <TextField name="country" label="Country" autocomplete="country-name" required=false value=profile.country error/>
                <TextField name="profession" label="Profession" autocomplete="organization-title" required=false value=profile.profession error/>
                <TextField
                    name="profile_img"
                    label="Picture (URL)"
                    kind="url"
                    required=false
                    hint="An https:// address of an image."
                    value=profile.profile_img
                    error
                />
                <TextArea name="bio" label="About you" value=profile.bio error/>
                <TextArea name="thoughts" label="Thoughts" value=profile.thoughts error/>
                <button type="submit" class="button" disabled=move || action.pending().get()>"Save profile"</button>
            </ActionForm>
        </section>
    }
}

#[component]
fn TextArea(
    name: &'static str,
    label: &'static str,
    value: String,
    error: Signal<Option<crate::error::AppError>>,
) -> impl IntoView {
    let message = Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let error_id = format!("{name}-error");
    // The renderer writes a textarea's children as they are (tachys treats it as raw text), so
    // `</textarea><meta ...>` in a bio would end the element and become markup: escape it here.
    // The leading newline is the one the HTML parser drops, so a value's own first newline stays.
    let content = format!("\n{}", html_escape::encode_text(&value));
    view! {
        <div class="field wide">
            <label for=name>{label}</label>
            <textarea
                id=name
                name=name
                rows="4"
                aria-invalid=move || message.get().is_some().to_string()
                aria-describedby=error_id.clone()
            >{content}</textarea>
            <p class="field-error" id=error_id aria-live="polite">{move || message.get()}</p>
        </div>
    }
}

#[component]
fn EmailCard(profile: ProfileView) -> impl IntoView {
    let action = ServerAction::<ChangeEmail>::new();
    let cancel = ServerAction::<CancelEmailChange>::new();
    let error = action_error(action);
    let cancel_error = action_error(cancel);
    view! {
        <section class="card" aria-labelledby="email-address">
            <h2 id="email-address">"Email address"</h2>
            <p>"Your email is " <strong data-testid="profile-email">{profile.email}</strong> "."</p>
            {profile.pending_email.map(|pending| view! {
                <div class="alert success" data-testid="pending-email">
                    <p>"Waiting for you to open the link we sent to " <strong>{pending}</strong> "."</p>
                    <FormError error=cancel_error/>
                    <ActionForm action=cancel>
                        <button type="submit" class="button secondary" data-testid="cancel-email-change"
                            disabled=move || cancel.pending().get()>"Cancel this change"</button>
                    </ActionForm>
                </div>
            })}
            <p class="hint">"We send a link to the new address; your email changes when you open it. We tell your current address too."</p>
            <FormError error/>
            <ActionForm action attr:novalidate="">
                <TextField name="email" id="new_email" label="New email address" kind="email" autocomplete="email" error/>
                <PasswordField
                    name="current_password"
                    id="email_current_password"
                    label="Your password"
                    autocomplete="current-password"
                    error
                />
                <button type="submit" class="button secondary" disabled=move || action.pending().get()>"Change email"</button>
            </ActionForm>
        </section>
    }
}

/// Opened from the link sent to a new address.
#[component]
pub fn ConfirmEmailPage() -> impl IntoView {
    let query = use_query_map();
    let uid = move || query.read().get("uid").unwrap_or_default();
    let token = move || query.read().get("token").unwrap_or_default();
    let action = ServerAction::<ConfirmEmail>::new();
    let error = action_error(action);
    view! {
        <Title text="Confirm your new email – Gatehouse"/>
        <section class="card narrow">
            <h1>"Confirm your new email address"</h1>
            {move || error.get().map(|e| view! { <p class="alert error" role="alert">{e.to_string()}</p> })}
            <p>"One click and this becomes your account's address."</p>
            <ActionForm action>
                <input type="hidden" name="uid" value=uid/>
                <input type="hidden" name="token" value=token/>
                <button type="submit" class="button wide" disabled=move || action.pending().get()>
                    "Use this address"
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn HistoryPage() -> impl IntoView {
    let query = use_query_map();
    let page = move || query.read().get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1);
    let data = Resource::new(page, history);
    view! {
        <Title text="History – Gatehouse"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(h) => view! {
                        <div class="stack">
                            <h1>"Security history"</h1>
                            <p class="hint">{format!("{} events, newest first.", h.count)}</p>
                            <section class="card">
                                <EventTable events=h.events/>
                                <Pager page=h.page pages=h.pages base="/history?"/>
                            </section>
                        </div>
                    }.into_any(),
                    Err(_) => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// A table of events; on a phone each row stacks (see `.events` in the stylesheet).
#[component]
pub fn EventTable(events: Vec<EventView>) -> impl IntoView {
    view! {
        <table class="events" data-testid="events">
            <thead>
                <tr><th>"What"</th><th>"When"</th><th>"Device"</th><th>"Address"</th><th>"Details"</th></tr>
            </thead>
            <tbody>
                {events.into_iter().map(|e| view! {
                    <tr data-kind=e.kind>
                        <td data-label="What">{e.what}</td>
                        <td data-label="When">{e.time}</td>
                        <td data-label="Device">{e.device}</td>
                        <td data-label="Address">{e.ip}</td>
                        <td data-label="Details">{e.detail}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
}

/// "Newer / page N of M / Older" links; `base` ends with `?` or `&`.
#[component]
pub fn Pager(page: u32, pages: u32, #[prop(into)] base: String) -> impl IntoView {
    let previous = format!("{base}page={}", page.saturating_sub(1));
    let next = format!("{base}page={}", page + 1);
    view! {
        <nav class="pager" aria-label="Pages">
            {(page > 1).then(|| view! { <A href=previous>"← Previous"</A> })}
            <span>{format!("Page {page} of {pages}")}</span>
            {(page < pages).then(|| view! { <A href=next>"Next →"</A> })}
        </nav>
    }
}
