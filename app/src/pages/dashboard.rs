//! The signed-in person's overview: who they are, how the account is protected, where it is
//! signed in, and what happened last.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

use super::profile::EventTable;
use crate::server_fns::dashboard;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| dashboard());
    view! {
        <Title text="Dashboard – Gatehouse"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => {
                        let u = d.user;
                        let name = u.username.clone().unwrap_or_else(|| u.email.clone());
                        view! {
                            <div class="stack">
                                <section class="card">
                                    <h1>"Welcome, " <span data-testid="dashboard-user">{name}</span></h1>
                                    <dl class="facts">
                                        <dt>"Email"</dt>
                                        <dd data-testid="dashboard-email">{u.email.clone()}</dd>
                                        <dt>"Username"</dt>
                                        <dd>{u.username.clone().unwrap_or_else(|| "—".into())}</dd>
                                        <dt>"Email confirmed"</dt>
                                        <dd>{if u.is_verified { "Yes" } else { "No" }}</dd>
                                        <dt>"Member since"</dt>
                                        <dd>{u.date_joined.clone()}</dd>
                                        <dt>"Last login"</dt>
                                        <dd data-testid="dashboard-last-login">{u.last_login.clone().unwrap_or_else(|| "—".into())}</dd>
                                        <dt>"Two-factor authentication"</dt>
                                        <dd data-testid="dashboard-two-factor">
                                            {if d.two_factor_on { "On" } else { "Off" }} " · "
                                            <A href="/security">"Manage"</A>
                                        </dd>
                                        <dt>"Signed in"</dt>
                                        <dd data-testid="dashboard-sessions">
                                            {format!("{} active session{}", d.active_sessions, if d.active_sessions == 1 { "" } else { "s" })}
                                            " · " <A href="/security">"See them"</A>
                                        </dd>
                                    </dl>
                                </section>
                                <section class="card" aria-labelledby="recent">
                                    <h2 id="recent">"Latest events"</h2>
                                    <EventTable events=d.recent/>
                                    <p class="aside"><A href="/history">"Full history"</A></p>
                                </section>
                            </div>
                        }.into_any()
                    }
                    Err(_) => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
