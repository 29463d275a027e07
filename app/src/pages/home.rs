use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::A;

#[component]
pub fn HomePage() -> impl IntoView {
    view! {
        <Title text="Gatehouse"/>
        <section class="hero">
            <h1>"Your account, kept safe."</h1>
            <p class="lead">
                "Gatehouse signs you in to the apps you use, with email confirmation, "
                "two-factor authentication and a clear view of your sessions."
            </p>
            <div class="actions">
                <A href="/register" attr:class="button">"Create an account"</A>
                <A href="/login" attr:class="button secondary">"Log in"</A>
            </div>
        </section>
    }
}

#[component]
pub fn NotFoundPage() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found – Gatehouse"/>
        <section class="card">
            <h1>"Page not found"</h1>
            <p>"There is nothing at this address. " <A href="/">"Go to the home page"</A></p>
        </section>
    }
}
