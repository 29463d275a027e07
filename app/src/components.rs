//! Pieces every page uses: the header, form fields with their errors.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

use crate::error::AppError;
use crate::server_fns::{current_user, Logout};
use crate::strength::StrengthView;

/// The signed-in user, re-read on every navigation so the header follows log in and out.
pub fn use_current_user() -> Resource<Result<Option<crate::server_fns::UserSummary>, AppError>> {
    let location = use_location();
    Resource::new(move || location.pathname.get(), |_| current_user())
}

#[component]
pub fn SiteHeader() -> impl IntoView {
    let user = use_current_user();
    let logout = ServerAction::<Logout>::new();
    view! {
        <header class="site-header">
            <A href="/" attr:class="brand">"Gatehouse"</A>
            <nav aria-label="Account">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match user.await {
                            Ok(Some(u)) => view! {
                                <A href="/dashboard">{u.username.clone().unwrap_or(u.email.clone())}</A>
                                <A href="/profile">"Profile"</A>
                                <A href="/history">"History"</A>
                                <A href="/security">"Security"</A>
                                {u.is_staff.then(|| view! { <A href="/admin/users">"Admin"</A> })}
                                <ActionForm action=logout attr:class="inline">
                                    <button type="submit" class="link-button">"Log out"</button>
                                </ActionForm>
                            }.into_any(),
                            _ => view! {
                                <A href="/login">"Log in"</A>
                                <A href="/register" attr:class="button small">"Sign up"</A>
                            }.into_any(),
                        }
                    })}
                </Transition>
            </nav>
        </header>
    }
}

/// The error of the last submission of a form, if any.
pub fn action_error<I, O>(action: ServerAction<I>) -> Signal<Option<AppError>>
where
    I: leptos::server_fn::ServerFn<Output = O, Error = AppError> + Clone + Send + Sync + 'static,
    O: Clone + Send + Sync + 'static,
{
    Signal::derive(move || action.value().get().and_then(Result::err))
}

/// The message above a form.
#[component]
pub fn FormError(error: Signal<Option<AppError>>) -> impl IntoView {
    move || {
        error.get().and_then(|e| e.summary()).map(|message| {
            view! { <p class="alert error" role="alert">{message}</p> }
        })
    }
}

#[component]
pub fn TextField(
    name: &'static str,
    label: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(default = "")] autocomplete: &'static str,
    #[prop(default = true)] required: bool,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(optional, into)] value: Option<String>,
    /// The element id, when two forms on one page share a field name.
    #[prop(optional)]
    id: Option<&'static str>,
    /// The phone keyboard to offer, e.g. `numeric` for one-time codes.
    #[prop(optional)]
    inputmode: Option<&'static str>,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let message = Signal::derive(move || error.get().and_then(|e| e.field(name)));
    let id = id.unwrap_or(name);
    let error_id = format!("{id}-error");
    view! {
        <div class="field">
            <label for=id>{label}</label>
            {hint.map(|h| view! { <p class="hint">{h}</p> })}
            <input
                id=id
                name=name
                type=kind
                inputmode=inputmode
                autocomplete=autocomplete
                required=required
                value=value
                aria-invalid=move || message.get().is_some().to_string()
                aria-describedby=error_id.clone()
            />
            <FieldMessage id=error_id message/>
        </div>
    }
}

/// A password input with a Show/Hide toggle and, for new passwords, the strength meter. The
/// page is rendered on the server, so the error of a failed submit is known there and handed
/// to the island as it stands.
#[component]
pub fn PasswordField(
    name: &'static str,
    label: &'static str,
    autocomplete: &'static str,
    /// The element id, when two forms on one page share a field name.
    #[prop(optional)]
    id: Option<&'static str>,
    #[prop(optional)] hint: Option<&'static str>,
    /// Show the strength meter under a new password.
    #[prop(optional)]
    meter: bool,
    error: Signal<Option<AppError>>,
) -> impl IntoView {
    let failed = error.get_untracked();
    view! {
        <PasswordInput
            name=name.to_string()
            label=label.to_string()
            autocomplete=autocomplete.to_string()
            id=id.unwrap_or(name).to_string()
            hint=hint.map(str::to_string)
            meter
            message=failed.as_ref().and_then(|e| e.field(name))
            reading=failed.and_then(|e| e.strength())
        />
    }
}

/// The island behind [`PasswordField`]: the toggle, and the meter measured on the server (a
/// server function) as the person types. `reading` is what a failed submit brought back.
#[island]
fn PasswordInput(
    name: String,
    label: String,
    autocomplete: String,
    id: String,
    hint: Option<String>,
    meter: bool,
    message: Option<String>,
    reading: Option<StrengthView>,
) -> impl IntoView {
    let (visible, set_visible) = signal(false);
    let measure = Action::new(|password: &String| {
        let password = password.clone();
        async move { crate::server_fns::password_strength(password, String::new(), String::new()).await }
    });
    let error_id = format!("{id}-error");
    let invalid = message.is_some().to_string();
    view! {
        <div class="field">
            <label for=id.clone()>{label}</label>
            {hint.map(|h| view! { <p class="hint">{h}</p> })}
            <div class="password-row">
                <input
                    id=id.clone()
                    name=name
                    type=move || if visible.get() { "text" } else { "password" }
                    autocomplete=autocomplete
                    required=true
                    aria-invalid=invalid
                    aria-describedby=error_id.clone()
                    on:input=move |ev| {
                        if meter {
                            measure.dispatch(event_target_value(&ev));
                        }
                    }
                />
                <button
                    type="button"
                    class="toggle-visibility js-only"
                    aria-controls=id
                    aria-pressed=move || visible.get().to_string()
                    on:click=move |_| set_visible.update(|v| *v = !*v)
                >
                    {move || if visible.get() { "Hide" } else { "Show" }}
                </button>
            </div>
            <p class="field-error" id=error_id aria-live="polite">{message}</p>
            {meter.then(|| {
                // As the person types, or the reading a failed submit brought back.
                let reading = Signal::derive(move || {
                    measure.value().get().and_then(Result::ok).or_else(|| reading.clone())
                });
                view! { <StrengthMeter reading/> }
            })}
        </div>
    }
}

/// The password strength meter: a bar from 0 to 4 and a word, with advice when there is some.
#[component]
fn StrengthMeter(reading: Signal<Option<StrengthView>>) -> impl IntoView {
    move || {
        reading.get().map(|StrengthView { score, label, advice }| {
            view! {
                <div class="strength" data-testid="password-strength" data-score=score.to_string()>
                    <meter min="0" max="4" low="2" high="3" optimum="4" value=score.to_string()></meter>
                    <span>"Strength: " <strong>{label}</strong></span>
                    {advice.map(|a| view! { <p class="hint">{a}</p> })}
                </div>
            }
        })
    }
}

#[component]
fn FieldMessage(id: String, message: Signal<Option<String>>) -> impl IntoView {
    view! {
        <p class="field-error" id=id aria-live="polite">
            {move || message.get()}
        </p>
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters: for query values and the
/// text of `data:` URLs.
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_unreserved_characters_stay() {
        assert_eq!(super::percent_encode("a b\nc-1&ü"), "a%20b%0Ac-1%26%C3%BC");
    }
}
