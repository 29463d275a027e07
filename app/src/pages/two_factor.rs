//! Two-factor authentication pages: the second step of logging in, setting up an
//! authenticator app, the recovery codes shown once, and the Security page's two-factor card.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};

use crate::components::{action_error, percent_encode, FormError, TextField};
use crate::server_fns::{
    second_step, take_new_recovery_codes, totp_setup, ConfirmTotpSetup, Logout, RegenerateRecoveryCodes, RemoveTotp,
    SecondStepState, StartTotpSetup, TotpSetupView, TwoFactorSummary, UseRecoveryCode, VerifySecondFactor,
};

/// After the password, for an account with two-factor authentication.
#[component]
pub fn SecondStepPage() -> impl IntoView {
    let state = Resource::new(|| (), |_| second_step());
    view! {
        <Title text="Two-factor authentication – Gatehouse"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match state.await {
                    Ok(SecondStepState::Pending) => view! { <SecondStepForms/> }.into_any(),
                    Ok(SecondStepState::SignedIn) => view! { <Redirect path="/dashboard"/> }.into_any(),
                    _ => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SecondStepForms() -> impl IntoView {
    let totp = ServerAction::<VerifySecondFactor>::new();
    let totp_error = action_error(totp);
    let recovery = ServerAction::<UseRecoveryCode>::new();
    let recovery_error = action_error(recovery);
    let cancel = ServerAction::<Logout>::new();
    view! {
        <section class="card narrow">
            <h1>"Two-factor authentication"</h1>
            <p>"Enter the 6-digit code your authenticator app shows for this account."</p>
            <FormError error=totp_error/>
            <ActionForm action=totp attr:novalidate="">
                <TextField
                    name="code"
                    label="Authentication code"
                    autocomplete="one-time-code"
                    inputmode="numeric"
                    error=totp_error
                />
                <button type="submit" class="button wide" disabled=move || totp.pending().get()>"Verify"</button>
            </ActionForm>
            <details class="alternative" open=move || recovery_error.get().is_some()>
                <summary>"Lost your phone? Use a recovery code"</summary>
                <FormError error=recovery_error/>
                <ActionForm action=recovery attr:novalidate="">
                    <TextField
                        name="code"
                        id="recovery_code"
                        label="Recovery code"
                        autocomplete="off"
                        hint="One of the codes you saved when you set up two-factor authentication. Each works once."
                        error=recovery_error
                    />
                    <button type="submit" class="button secondary wide" disabled=move || recovery.pending().get()>
                        "Use recovery code"
                    </button>
                </ActionForm>
            </details>
            <ActionForm action=cancel attr:class="aside">
                <button type="submit" class="link-button">"Cancel and log out"</button>
            </ActionForm>
        </section>
    }
}

/// Setting up an authenticator app: scan (or type), then confirm with a first code.
#[component]
pub fn TwoFactorSetupPage() -> impl IntoView {
    let setup = Resource::new(|| (), |_| totp_setup());
    view! {
        <Title text="Set up two-factor authentication – Gatehouse"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match setup.await {
                    Ok(Some(setup)) => view! { <SetupSteps setup/> }.into_any(),
                    Ok(None) => view! { <Redirect path="/security"/> }.into_any(),
                    Err(_) => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn SetupSteps(setup: TotpSetupView) -> impl IntoView {
    let confirm = ServerAction::<ConfirmTotpSetup>::new();
    let error = action_error(confirm);
    view! {
        <section class="card narrow">
            <h1>"Set up two-factor authentication"</h1>
            <h2>"1. Scan this code with your authenticator app"</h2>
            // The SVG is drawn by the server from the otpauth URL (no user input).
            <div class="qr" role="img" aria-label="QR code for your authenticator app" inner_html=setup.qr_svg></div>
            <p class="hint">"Can't scan it? Type this key into the app instead:"</p>
            <p class="secret" data-testid="totp-secret">
                {setup.secret_groups.into_iter().map(|g| view! { <code>{g}</code>" " }).collect_view()}
            </p>
            <p class="hint"><a href=setup.otpauth_url>"Open in an authenticator app on this device"</a></p>
            <h2>"2. Enter the code it shows"</h2>
            <FormError error/>
            <ActionForm action=confirm attr:novalidate="">
                <TextField
                    name="code"
                    label="Authentication code"
                    autocomplete="one-time-code"
                    inputmode="numeric"
                    error
                />
                <button type="submit" class="button wide" disabled=move || confirm.pending().get()>
                    "Turn on two-factor authentication"
                </button>
            </ActionForm>
            <p class="aside"><A href="/security">"Cancel"</A></p>
        </section>
    }
}

/// The recovery codes just generated, shown this once.
#[component]
pub fn RecoveryCodesPage() -> impl IntoView {
    let codes = Resource::new(|| (), |_| take_new_recovery_codes());
    view! {
        <Title text="Recovery codes – Gatehouse"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match codes.await {
                    Ok(Some(codes)) => view! { <RecoveryCodes codes/> }.into_any(),
                    Ok(None) => view! {
                        <section class="card narrow">
                            <h1>"Recovery codes"</h1>
                            <p>"Recovery codes are shown only once, right after they are made."</p>
                            <p>
                                "If you did not save them, make a new set on the "
                                <A href="/security">"Security page"</A> "; the old ones then stop working."
                            </p>
                        </section>
                    }.into_any(),
                    Err(_) => view! { <Redirect path="/login"/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn RecoveryCodes(codes: Vec<String>) -> impl IntoView {
    let readable: Vec<String> = codes.iter().map(|c| group_code(c)).collect();
    let text = format!("Gatehouse recovery codes (each works once)\n\n{}\n", readable.join("\n"));
    let download = format!("data:text/plain;charset=utf-8,{}", percent_encode(&text));
    view! {
        <section class="card narrow">
            <h1>"Save your recovery codes"</h1>
            <p class="alert success" role="status">"Two-factor authentication is on."</p>
            <p>
                "If you lose your phone, each of these codes lets you log in once. Keep them somewhere "
                "safe, such as a password manager. They are shown only now."
            </p>
            <ol class="recovery-codes" data-testid="recovery-codes">
                {readable.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ol>
            <div class="actions start">
                <a class="button secondary" href=download download="gatehouse-recovery-codes.txt">"Download"</a>
                <CopyButton text/>
                <A href="/security" attr:class="button">"I have saved them"</A>
            </div>
        </section>
    }
}

/// Copies `text` to the clipboard (shown only once the page is hydrated).
#[island]
fn CopyButton(text: String) -> impl IntoView {
    let (copied, set_copied) = signal(false);
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let _ = window().navigator().clipboard().write_text(&text);
            set_copied.set(true);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (&text, set_copied);
    };
    view! {
        <button type="button" class="button secondary js-only" on:click=copy>
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

/// "abcd2345" → "abcd-2345": easier to read and type; the dash is ignored when used.
fn group_code(code: &str) -> String {
    let (head, tail) = code.split_at(code.len() / 2);
    format!("{head}-{tail}")
}

/// The Security page's two-factor card.
#[component]
pub fn TwoFactorCard(status: TwoFactorSummary) -> impl IntoView {
    let start = ServerAction::<StartTotpSetup>::new();
    let start_error = action_error(start);
    let regenerate = ServerAction::<RegenerateRecoveryCodes>::new();
    let regenerate_error = action_error(regenerate);
    let remove = ServerAction::<RemoveTotp>::new();
    let remove_error = action_error(remove);
    let body = if status.enabled {
        let since = status.enabled_since.clone().unwrap_or_default();
        let left = status.recovery_codes_left;
        view! {
            <p data-testid="two-factor-status">
                <strong>"On"</strong> {format!(" since {since}, with an authenticator app.")}
            </p>
            <p class=if left <= 3 { "alert error" } else { "hint" } data-testid="recovery-codes-left">
                {format!("Recovery codes left: {left}.")}
                {(left <= 3).then_some(" Make a new set before you run out.")}
            </p>
            <FormError error=regenerate_error/>
            <ActionForm action=regenerate>
                <button type="submit" class="button secondary">"Make new recovery codes"</button>
            </ActionForm>
            <h3>"Turn off"</h3>
            <p class="hint">"Your account will again be protected by your password alone."</p>
            <FormError error=remove_error/>
            <ActionForm action=remove>
                <button type="submit" class="button danger">"Turn off two-factor authentication"</button>
            </ActionForm>
        }
        .into_any()
    } else {
        view! {
            <p data-testid="two-factor-status"><strong>"Off."</strong>
                " Add a second step to logging in: a code from an authenticator app on your phone."</p>
            {status.setup_pending.then(|| view! {
                <p><A href="/security/two-factor">"Continue setting up"</A></p>
            })}
            <FormError error=start_error/>
            <ActionForm action=start>
                <button type="submit" class="button">
                    {if status.setup_pending { "Start again" } else { "Set up an authenticator app" }}
                </button>
            </ActionForm>
        }
        .into_any()
    };
    view! {
        <section class="card" aria-labelledby="two-factor">
            <h2 id="two-factor">"Two-factor authentication"</h2>
            {body}
        </section>
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_grouped() {
        assert_eq!(super::group_code("abcd2345"), "abcd-2345");
    }
}
