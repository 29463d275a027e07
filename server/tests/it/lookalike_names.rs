//! Issue 18, item 8: names that merely look like a taken one are taken. Usernames are kept in
//! NFKC form and unique by their UTS #39 confusable skeleton; emails are NFKC with an
//! IDNA-mapped domain; quoted local parts are refused. Every registration surface shares the
//! rule, since it lives in the core's domain types and the users store.

use serde_json::{json, Value};

use crate::support::{spawn_app, spawn_app_with, TestApp, PASSWORD};

/// Beside `admin`: fullwidth, Cyrillic `а`, dotless `ı`, dotted capital `İ`, modifier `ᴬ`, and
/// plain upper case.
const LOOK_ALIKES: [&str; 6] = ["ａｄｍｉｎ", "аdmin", "admın", "ADMİN", "ᴬdmin", "ADMIN"];

async fn open_app() -> TestApp {
    spawn_app_with(|s| s.set("require_email_verification", "false")).await
}

fn fields(body: &Value) -> &Value {
    &body["error"]["fields"]
}

#[tokio::test]
async fn look_alike_usernames_are_taken_on_the_api() {
    let app = spawn_app().await;
    assert_eq!(app.register("admin@example.com", Some("admin")).await.status(), 201);
    for (n, name) in LOOK_ALIKES.iter().enumerate() {
        let response = app.register(&format!("other{n}@example.com"), Some(name)).await;
        assert_eq!(response.status(), 409, "{name}");
        let body: Value = response.json().await.unwrap();
        assert!(fields(&body)["username"].is_array(), "{name}: {body}");
        assert!(fields(&body)["email"].is_null(), "{name}: {body}");
    }
    // Different names stay different.
    for name in ["adam", "admins", "administrator"] {
        assert_eq!(app.register(&format!("{name}@example.com"), Some(name)).await.status(), 201, "{name}");
    }
}

#[tokio::test]
async fn look_alike_usernames_are_taken_on_the_compat_surfaces() {
    let app = open_app().await;
    let (status, _) = app
        .json_call(
            "POST",
            "/api/users/create/",
            None,
            Some(json!({ "email": "admin@example.com", "username": "admin", "password": PASSWORD })),
        )
        .await;
    assert_eq!(status, 201);
    for (n, name) in LOOK_ALIKES.iter().enumerate() {
        let body = json!({ "email": format!("djoser{n}@example.com"), "username": name, "password": PASSWORD });
        let (status, body) = app.json_call("POST", "/api/users/create/", None, Some(body)).await;
        assert_eq!(status, 409, "djoser, {name}: {body}");
        assert!(body["username"].is_array() && body["email"].is_null(), "djoser, {name}: {body}");

        let body = json!({ "email": format!("accounts{n}@example.com"), "username": name, "password": PASSWORD,
            "confirm_password": PASSWORD });
        let (status, body) = app.json_call("POST", "/accounts/api/registration/", None, Some(body)).await;
        assert_eq!(status, 409, "accounts API, {name}: {body}");
        assert!(body["username"].is_array(), "accounts API, {name}: {body}");
    }
}

#[tokio::test]
async fn look_alike_usernames_are_taken_on_the_web_sign_up() {
    let app = spawn_app().await;
    assert_eq!(app.register("admin@example.com", Some("admin")).await.status(), 201);
    for (n, name) in LOOK_ALIKES.iter().enumerate() {
        let email = format!("web{n}@example.com");
        let fields = [("email", email.as_str()), ("username", name), ("password", PASSWORD)];
        let (status, location) = app.browser().submit("/register", "/_fn/register", &fields).await;
        assert_eq!(status, 302, "{name}");
        assert!(location.contains("__err="), "{name}: {location}");
        let html = app.browser().page(&location).await;
        assert!(html.contains("A user with that username already exists."), "{name}");
    }
    assert!(app.outbox().messages_to("web0@example.com").is_empty(), "no account was made");
}

#[tokio::test]
async fn renaming_to_a_look_alike_is_refused_in_the_profile_and_by_staff() {
    let app = spawn_app().await;
    app.verified_user("admin@example.com", Some("admin")).await;
    let token = app.verified_user("mallory@example.com", Some("mallory")).await;
    for name in LOOK_ALIKES {
        let response = app.call("PATCH", "/api/v1/account/", &token, Some(json!({ "username": name }))).await;
        assert_eq!(response.status(), 409, "{name}");
        assert!(fields(&response.json().await.unwrap())["username"].is_array(), "{name}");
    }
    let (_, root) = app.privileged_user("root@example.com", true, true).await;
    let management = "/api/v1/account/management";
    let created = app
        .call(
            "POST",
            &format!("{management}/create/"),
            &root,
            Some(json!({ "email": "made@example.com", "password": "a long enough passphrase", "username": "аdmin" })),
        )
        .await;
    assert_eq!(created.status(), 409, "staff cannot create a look-alike either");
    assert!(fields(&created.json().await.unwrap())["username"].is_array());
    let me: Value = app.call("GET", "/api/v1/account/", &token, None).await.json().await.unwrap();
    let update = format!("{management}/{}/update/", me["id"]);
    let renamed = app.call("PATCH", &update, &root, Some(json!({ "username": "admın" }))).await;
    assert_eq!(renamed.status(), 409);
    assert!(fields(&renamed.json().await.unwrap())["username"].is_array());
}

#[tokio::test]
async fn names_are_stored_in_nfkc_form_and_log_in_whatever_their_case() {
    let app = open_app().await;
    let response = app.register("ada@example.com", Some("ᴬｄａ")).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.json::<Value>().await.unwrap()["username"], "Ada", "NFKC, case kept");
    for typed in ["Ada", "ada", "ADA", "ａｄａ"] {
        assert_eq!(app.login(typed, PASSWORD).await.status(), 200, "{typed}");
    }
    // A look-alike is not the name: it does not log in as Ada (and cannot be registered).
    assert_eq!(app.login("аda", PASSWORD).await.status(), 401);
}

#[tokio::test]
async fn look_alike_emails_are_taken() {
    let app = open_app().await;
    assert_eq!(app.register("admin@example.com", None).await.status(), 201);
    for email in ["ａdmin@example.com", "admin@ｅxample.com", "ＡＤＭＩＮ@ＥＸＡＭＰＬＥ.ＣＯＭ"] {
        let response = app.register(email, None).await;
        assert_eq!(response.status(), 409, "{email}");
        let body: Value = response.json().await.unwrap();
        assert!(fields(&body)["email"].is_array(), "{email}: {body}");
        assert_eq!(app.login(email, PASSWORD).await.status(), 200, "{email} is admin@example.com");
        let body = json!({ "email": email, "password": PASSWORD });
        let (status, body) = app.json_call("POST", "/api/users/create/", None, Some(body)).await;
        assert_eq!(status, 409, "djoser, {email}: {body}");
        assert!(body["email"].is_array(), "djoser, {email}: {body}");
    }
    let response = app.register("x@Bücher.de", None).await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.json::<Value>().await.unwrap()["email"], "x@xn--bcher-kva.de", "IDNA-mapped");
    assert_eq!(app.register("x@xn--BCHER-kva.de", None).await.status(), 409);
}

#[tokio::test]
async fn quoted_local_parts_are_refused() {
    let app = open_app().await;
    for email in ["\"a b\"@example.com", "\"admin\"@example.com"] {
        let response = app.register(email, None).await;
        assert_eq!(response.status(), 400, "{email}");
        let body: Value = response.json().await.unwrap();
        assert!(fields(&body)["email"].is_array(), "{email}: {body}");
        let body = json!({ "email": email, "password": PASSWORD });
        let (status, body) = app.json_call("POST", "/api/users/create/", None, Some(body)).await;
        assert_eq!((status, body["email"].is_array()), (400, true), "djoser, {email}: {body}");
    }
}

/// Rows stored before this rule (`names_rule` 0, no skeleton, names as typed) are brought to it
/// at start: the first account to claim a name keeps it, later look-alikes are left as they
/// were (and tried again at each start), and new look-alikes of any of them are refused.
#[tokio::test]
async fn rows_stored_under_the_old_rule_are_renormalised_at_start() {
    let app = open_app().await;
    let pool = &app.core.database().pool;
    let mut ids = Vec::new();
    for (email, name) in [
        ("one@example.com", "one"),
        ("two@example.com", "two"),
        ("three@example.com", "three"),
        ("four@example.com", "four"),
    ] {
        let user: Value = app.register(email, Some(name)).await.json().await.unwrap();
        ids.push(user["id"].as_i64().unwrap());
    }
    // As the old rule stored them: the name as typed, its lower case as the key, emails lower
    // case only.
    for (id, email, name) in [
        (ids[0], "one@example.com", "admin"),
        (ids[1], "two@example.com", "ａｄｍｉｎ"),
        (ids[2], "three@example.com", "аdmin"),
        (ids[3], "ｂob@example.com", "Ｂob"),
    ] {
        sqlx::query(
            "UPDATE users SET email = $1, username = $2, username_key = $3, username_skeleton = NULL, \
             names_rule = 0 WHERE id = $4",
        )
        .bind(email)
        .bind(name)
        .bind(name.to_lowercase())
        .bind(id)
        .execute(pool)
        .await
        .unwrap();
    }
    let row = |id: i64| async move {
        sqlx::query_as::<_, (String, Option<String>, Option<String>, Option<String>, i64)>(
            "SELECT email, username, username_key, username_skeleton, names_rule FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap()
    };
    for _ in 0..2 {
        // A start (twice: it is idempotent).
        app.core.database().migrate().await.unwrap();
        let admin = row(ids[0]).await;
        assert_eq!(admin.1.as_deref(), Some("admin"));
        assert!(admin.3.is_some() && admin.4 >= 1, "the first admin claims the skeleton: {admin:?}");
        let fullwidth = row(ids[1]).await;
        assert_eq!(
            (fullwidth.1.as_deref(), fullwidth.3.as_deref(), fullwidth.4),
            (Some("ａｄｍｉｎ"), None, 0),
            "its NFKC form is admin's: left as it was"
        );
        let cyrillic = row(ids[2]).await;
        assert_eq!((cyrillic.3.as_deref(), cyrillic.4), (None, 0), "a look-alike of admin: no skeleton of its own");
        let bob = row(ids[3]).await;
        assert_eq!(
            (bob.0.as_str(), bob.1.as_deref(), bob.2.as_deref(), bob.4 >= 1),
            ("bob@example.com", Some("Bob"), Some("bob"), true)
        );
    }
    for (n, name) in ["ADMİN", "admın", "аdmin", "ａｄｍｉｎ", "BOB", "ｂob"].into_iter().enumerate() {
        let response = app.register(&format!("new{n}@example.net"), Some(name)).await;
        assert_eq!(response.status(), 409, "{name} looks like a stored name");
        assert!(fields(&response.json().await.unwrap())["username"].is_array());
    }
    // Log-in finds the renormalised accounts by their new forms.
    let login: Value = app.login("ADMIN", PASSWORD).await.json().await.unwrap();
    assert!(login["access"].is_string(), "{login}");
    assert_eq!(app.login("ｂob@example.com", PASSWORD).await.status(), 200);
    assert_eq!(app.login("bob", PASSWORD).await.status(), 200);
    assert_eq!(app.login("аdmin", PASSWORD).await.status(), 200, "the old Cyrillic account keeps its own name");
}
