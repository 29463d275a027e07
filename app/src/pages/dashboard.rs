use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

use crate::components::use_current_user;

#[component]
pub fn DashboardPage() -> impl IntoView {
    let user = use_current_user();
    view! {
        <Title text="Dashboard – Gatehouse"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match user.await {
                    Ok(Some(u)) => {
                        let name = u.username.clone().unwrap_or_else(|| u.email.clone());
                        view! {
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
                                    <dd>{u.last_login.clone().unwrap_or_else(|| "—".into())}</dd>
                                </dl>
                            </section>
                        }.into_any()
                    }
                    _ => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}
