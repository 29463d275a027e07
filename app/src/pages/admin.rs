//! The admin pages: staff list, search and view users; superusers also create, edit, set a
//! password, end sessions and delete (after a confirmation page). Whether the viewer may edit
//! is the server's answer (`can_edit`); the server functions refuse anybody else anyway.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Redirect, A};
use leptos_router::hooks::{use_params_map, use_query_map};

use super::profile::{EventTable, Pager};
use crate::components::{action_error, percent_encode, FormError, PasswordField, TextField};
use crate::error::AppError;
use crate::server_fns::{
    admin_user, admin_users, AdminCreateUser, AdminDeleteUser, AdminEndSessions, AdminSetPassword, AdminUpdateUser,
    AdminUserView, UserRow,
};

/// What a refused or failed load shows: log in, a 403, or the error.
fn refused(error: AppError) -> AnyView {
    match error.code() {
        "not_authenticated" => view! { <Redirect path="/login"/> }.into_any(),
        "permission_denied" => view! { <ForbiddenNotice/> }.into_any(),
        "not_found" => view! { <section class="card"><h1>"No such user"</h1><p><A href="/admin/users">"Back to the users"</A></p></section> }.into_any(),
        _ => view! { <p class="alert error" role="alert">{error.to_string()}</p> }.into_any(),
    }
}

#[component]
fn ForbiddenNotice() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::FORBIDDEN);
    }
    view! {
        <section class="card narrow">
            <h1>"Staff only"</h1>
            <p>"The admin pages are for staff members. " <A href="/dashboard">"Back to your dashboard"</A></p>
        </section>
    }
}

const ORDERINGS: [(&str, &str); 8] = [
    ("id", "Oldest first"),
    ("-id", "Newest first"),
    ("email", "Email A–Z"),
    ("-email", "Email Z–A"),
    ("username", "Username A–Z"),
    ("-date_joined", "Joined, newest"),
    ("-last_login", "Last login, newest"),
    ("last_login", "Last login, oldest"),
];

#[component]
pub fn AdminUsersPage() -> impl IntoView {
    let query = use_query_map();
    let search = move || query.read().get("search").unwrap_or_default();
    let ordering = move || query.read().get("ordering").unwrap_or_else(|| "id".into());
    let page = move || query.read().get("page").and_then(|p| p.parse::<u32>().ok()).unwrap_or(1);
    let data = Resource::new(move || (search(), ordering(), page()), |(s, o, p)| admin_users(s, o, p));
    let deleted = move || query.read().get("deleted").is_some();
    view! {
        <Title text="Users – Gatehouse admin"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(list) => {
                        let base = format!("/admin/users?search={}&ordering={}&", percent_encode(&search()), percent_encode(&ordering()));
                        view! {
                            <div class="stack wide">
                                <div class="title-row">
                                    <h1>"Users"</h1>
                                    {list.can_edit.then(|| view! { <A href="/admin/users/new" attr:class="button small">"New user"</A> })}
                                </div>
                                {deleted().then(|| view! { <p class="alert success" role="status">"The user is deleted."</p> })}
                                {(!list.can_edit).then(|| view! { <p class="hint" data-testid="read-only">"You can look, not change: only superusers edit users."</p> })}
                                <form method="get" action="/admin/users" class="search" role="search">
                                    <label for="search">"Search"</label>
                                    <input id="search" name="search" type="search" value=search() placeholder="Email, username or name"/>
                                    <label for="ordering">"Order"</label>
                                    <select id="ordering" name="ordering">
                                        {ORDERINGS.iter().map(|(value, label)| view! {
                                            <option value=*value selected=ordering() == *value>{*label}</option>
                                        }).collect_view()}
                                    </select>
                                    <button type="submit" class="button small">"Search"</button>
                                </form>
                                <section class="card">
                                    <p class="hint">{format!("{} users", list.count)}</p>
                                    <UserTable users=list.users/>
                                    <Pager page=list.page pages=list.pages base=base/>
                                </section>
                            </div>
                        }.into_any()
                    }
                    Err(e) => refused(e),
                }
            })}
        </Suspense>
    }
}

#[component]
fn UserTable(users: Vec<UserRow>) -> impl IntoView {
    view! {
        <table class="events users" data-testid="users">
            <thead>
                <tr><th>"Email"</th><th>"Username"</th><th>"Name"</th><th>"Role"</th><th>"Joined"</th><th>"Last login"</th></tr>
            </thead>
            <tbody>
                {users.into_iter().map(|u| {
                    let role = role(&u);
                    view! {
                    <tr>
                        <td data-label="Email"><A href=format!("/admin/users/{}", u.id)>{u.email.clone()}</A></td>
                        <td data-label="Username">{u.username.clone()}</td>
                        <td data-label="Name">{u.name.clone()}</td>
                        <td data-label="Role">{role}</td>
                        <td data-label="Joined">{u.date_joined.clone()}</td>
                        <td data-label="Last login">{u.last_login.clone()}</td>
                    </tr>
                }}).collect_view()}
            </tbody>
        </table>
    }
}

fn role(u: &UserRow) -> String {
    let role = if u.is_superuser {
        "Superuser"
    } else if u.is_staff {
        "Staff"
    } else {
        "User"
    };
    if u.is_active {
        role.to_string()
    } else {
        format!("{role} (inactive)")
    }
}

#[component]
pub fn AdminUserPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or(0);
    let notice = move || {
        let q = query.read();
        [
            ("created", "The user is created."),
            ("saved", "The changes are saved."),
            ("password_set", "The password is set; the user's sessions have ended."),
            ("sessions_ended", "Every session of the user has ended."),
        ]
        .into_iter()
        .find(|(key, _)| q.get(key).is_some())
        .map(|(_, text)| text)
    };
    let data = Resource::new(
        move || (id(), query.read().get("saved"), query.read().get("sessions_ended")),
        |(id, _, _)| admin_user(id),
    );
    view! {
        <Title text="User – Gatehouse admin"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(user) => view! {
                        <div class="stack wide">
                            <p><A href="/admin/users">"← Users"</A></p>
                            <h1 data-testid="admin-user-email">{user.row.email.clone()}</h1>
                            {notice().map(|n| view! { <p class="alert success" role="status">{n}</p> })}
                            <UserDetails user=user.clone()/>
                            {user.can_edit.then(|| view! { <EditUser user=user.clone()/> })}
                            <UserSessions user=user.clone()/>
                            <section class="card" aria-labelledby="user-history">
                                <h2 id="user-history">"History"</h2>
                                <EventTable events=user.history/>
                            </section>
                        </div>
                    }.into_any(),
                    Err(e) => refused(e),
                }
            })}
        </Suspense>
    }
}

#[component]
fn UserDetails(user: AdminUserView) -> impl IntoView {
    let yes_no = |b: bool| if b { "Yes" } else { "No" };
    view! {
        <section class="card">
            <dl class="facts" data-testid="admin-user-details">
                <dt>"Id"</dt><dd>{user.row.id}</dd>
                <dt>"Username"</dt><dd>{if user.row.username.is_empty() { "—".to_string() } else { user.row.username.clone() }}</dd>
                <dt>"Name"</dt><dd>{user.row.name.clone()}</dd>
                <dt>"Role"</dt><dd data-testid="admin-user-role">{role(&user.row)}</dd>
                <dt>"Email confirmed"</dt><dd>{yes_no(user.is_verified)}</dd>
                <dt>"Joined"</dt><dd>{user.row.date_joined.clone()}</dd>
                <dt>"Last login"</dt><dd>{user.row.last_login.clone()}</dd>
            </dl>
        </section>
    }
}

#[component]
fn Checkbox(name: &'static str, label: &'static str, checked: bool) -> impl IntoView {
    view! {
        <label class="check" for=name>
            <input type="checkbox" id=name name=name value="on" checked=checked/>
            {label}
        </label>
    }
}

#[component]
fn EditUser(user: AdminUserView) -> impl IntoView {
    let update = ServerAction::<AdminUpdateUser>::new();
    let update_error = action_error(update);
    let password = ServerAction::<AdminSetPassword>::new();
    let password_error = action_error(password);
    let id = user.row.id.to_string();
    let (update_id, password_id) = (id.clone(), id.clone());
    let delete_href = format!("/admin/users/{id}/delete");
    view! {
        <section class="card" aria-labelledby="edit-user">
            <h2 id="edit-user">"Edit"</h2>
            <FormError error=update_error/>
            <ActionForm action=update attr:novalidate="" attr:class="grid-form">
                <input type="hidden" name="id" value=update_id/>
                <TextField name="email" label="Email" kind="email" value=user.row.email.clone() error=update_error/>
                <TextField name="username" label="Username" required=false value=user.row.username.clone() error=update_error/>
                <TextField name="first_name" label="First name" required=false value=user.first_name.clone() error=update_error/>
                <TextField name="last_name" label="Last name" required=false value=user.last_name.clone() error=update_error/>
                <TextField name="country" label="Country" required=false value=user.country.clone() error=update_error/>
                <TextField name="profession" label="Profession" required=false value=user.profession.clone() error=update_error/>
                <fieldset class="flags wide">
                    <legend>"Flags"</legend>
                    <Checkbox name="is_active" label="Active (can log in)" checked=user.row.is_active/>
                    <Checkbox name="is_verified" label="Email confirmed" checked=user.is_verified/>
                    <Checkbox name="is_staff" label="Staff (sees the admin)" checked=user.row.is_staff/>
                    <Checkbox name="is_superuser" label="Superuser (changes users)" checked=user.row.is_superuser/>
                </fieldset>
                <button type="submit" class="button" disabled=move || update.pending().get()>"Save changes"</button>
            </ActionForm>
            <h3>"Set a password"</h3>
            <p class="hint">"The user's sessions end; tell them the new password another way."</p>
            <FormError error=password_error/>
            <ActionForm action=password attr:novalidate="">
                <input type="hidden" name="id" value=password_id/>
                <PasswordField name="password" id="admin_password" label="New password" autocomplete="new-password" meter=true error=password_error/>
                <button type="submit" class="button secondary">"Set password"</button>
            </ActionForm>
            <h3>"Delete"</h3>
            <p><A href=delete_href attr:class="button danger">"Delete this user…"</A></p>
        </section>
    }
}

#[component]
fn UserSessions(user: AdminUserView) -> impl IntoView {
    let end = ServerAction::<AdminEndSessions>::new();
    let error = action_error(end);
    let count = user.sessions.len();
    view! {
        <section class="card" aria-labelledby="user-sessions">
            <h2 id="user-sessions">"Sessions"</h2>
            <p data-testid="admin-user-sessions">{format!("{count} active session{}", if count == 1 { "" } else { "s" })}</p>
            <ul class="sessions">
                {user.sessions.into_iter().map(|s| view! {
                    <li class="session">
                        <div>
                            <strong>{if s.browser { "Browser" } else { "API client" }}</strong>
                            <p class="hint">{s.device.clone()}</p>
                            <p class="hint">{format!("{} · signed in {} · last active {}", s.ip, s.created, s.last_used)}</p>
                        </div>
                    </li>
                }).collect_view()}
            </ul>
            {user.can_edit.then(|| view! {
                <FormError error/>
                <ActionForm action=end>
                    <input type="hidden" name="id" value=user.row.id.to_string()/>
                    <button type="submit" class="button secondary">"End all sessions"</button>
                </ActionForm>
            })}
        </section>
    }
}

/// The confirmation step before deleting a user.
#[component]
pub fn AdminDeleteUserPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").and_then(|id| id.parse::<i64>().ok()).unwrap_or(0);
    let data = Resource::new(id, admin_user);
    let delete = ServerAction::<AdminDeleteUser>::new();
    let error = action_error(delete);
    view! {
        <Title text="Delete user – Gatehouse admin"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(user) if user.can_edit => view! {
                        <section class="card narrow danger-zone">
                            <h1>"Delete " {user.row.email.clone()} "?"</h1>
                            <p>"The account and its sessions go for good. Its history stays."</p>
                            <FormError error/>
                            <ActionForm action=delete>
                                <input type="hidden" name="id" value=user.row.id.to_string()/>
                                <button type="submit" class="button danger">"Yes, delete this user"</button>
                            </ActionForm>
                            <p class="aside"><A href=format!("/admin/users/{}", user.row.id)>"Cancel"</A></p>
                        </section>
                    }.into_any(),
                    Ok(_) => view! { <ForbiddenNotice/> }.into_any(),
                    Err(e) => refused(e),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn AdminNewUserPage() -> impl IntoView {
    let create = ServerAction::<AdminCreateUser>::new();
    let error = action_error(create);
    // Whether the viewer may create is the server's answer, through the list's `can_edit`.
    let allowed = Resource::new(|| (), |_| admin_users(String::new(), "id".into(), 1));
    view! {
        <Title text="New user – Gatehouse admin"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match allowed.await {
                    Ok(list) if list.can_edit => view! {
                        <section class="card narrow">
                            <h1>"New user"</h1>
                            <FormError error/>
                            <ActionForm action=create attr:novalidate="">
                                <TextField name="email" label="Email" kind="email" error/>
                                <TextField name="username" label="Username (optional)" required=false error/>
                                <PasswordField name="password" label="Password" autocomplete="new-password" meter=true error/>
                                <TextField name="first_name" label="First name" required=false error/>
                                <TextField name="last_name" label="Last name" required=false error/>
                                <fieldset class="flags">
                                    <legend>"Flags"</legend>
                                    <Checkbox name="is_verified" label="Email confirmed" checked=true/>
                                    <Checkbox name="is_staff" label="Staff" checked=false/>
                                    <Checkbox name="is_superuser" label="Superuser" checked=false/>
                                </fieldset>
                                <button type="submit" class="button wide">"Create user"</button>
                            </ActionForm>
                        </section>
                    }.into_any(),
                    Ok(_) => view! { <ForbiddenNotice/> }.into_any(),
                    Err(e) => refused(e),
                }
            })}
        </Suspense>
    }
}
