//! The admin API: every permission boundary (normal user, staff, superuser), the
//! last-superuser guard, sessions ended by admin actions, search/order/paging, and admin
//! actions on both histories.

use serde_json::{json, Value};

use crate::support::{spawn_app, PASSWORD};

const M: &str = "/api/v1/account/management";

#[tokio::test]
async fn each_role_may_do_exactly_its_part() {
    let app = spawn_app().await;
    let user = app.verified_user("plain@example.com", None).await;
    let (staff_id, staff) = app.privileged_user("staff@example.com", true, false).await;
    let (_, root) = app.privileged_user("root@example.com", true, true).await;
    let target: Value = app.call("GET", "/api/v1/account/", &user, None).await.json().await.unwrap();
    let id = target["id"].as_i64().unwrap();
    let new_user = json!({ "email": "made@example.com", "password": "a long enough passphrase" });

    let reads = [
        ("GET", format!("{M}/")),
        ("GET", format!("{M}/{id}/")),
        ("GET", format!("{M}/{id}/sessions/")),
        ("GET", format!("{M}/history/")),
    ];
    let writes = [
        ("POST", format!("{M}/create/"), Some(new_user.clone())),
        ("PATCH", format!("{M}/{id}/update/"), Some(json!({ "first_name": "X" }))),
        ("PUT", format!("{M}/{id}/update/"), Some(json!({ "email": "plain@example.com" }))),
        ("DELETE", format!("{M}/{id}/sessions/"), None),
        ("DELETE", format!("{M}/{id}/delete/"), None),
    ];
    for (method, path) in &reads {
        assert_eq!(app.call(method, path, &user, None).await.status(), 403, "user {method} {path}");
        assert_eq!(app.call(method, path, &staff, None).await.status(), 200, "staff {method} {path}");
    }
    for (method, path, body) in &writes {
        assert_eq!(app.call(method, path, &user, body.clone()).await.status(), 403, "user {method} {path}");
        assert_eq!(app.call(method, path, &staff, body.clone()).await.status(), 403, "staff {method} {path}");
    }
    let raise = json!({ "is_superuser": true });
    let own = format!("{M}/{staff_id}/update/");
    assert_eq!(app.call("PATCH", &own, &staff, Some(raise)).await.status(), 403, "staff cannot raise their own flags");
    let own_profile = app.call("PATCH", "/api/v1/account/", &staff, Some(json!({ "is_staff": false }))).await;
    assert_eq!(own_profile.status(), 400, "flags are not profile fields");
    assert_eq!(app.call("GET", &format!("{M}/"), "not-a-token", None).await.status(), 401);

    let expected = [201, 200, 200, 204, 204];
    for ((method, path, body), status) in writes.iter().zip(expected) {
        assert_eq!(app.call(method, path, &root, body.clone()).await.status(), status, "root {method} {path}");
    }
    assert_eq!(app.call("GET", &format!("{M}/{id}/"), &root, None).await.status(), 404, "deleted");
    assert_eq!(app.call("GET", &format!("{M}/abc/"), &root, None).await.status(), 404);
}

#[tokio::test]
async fn superusers_create_and_update_with_validation() {
    let app = spawn_app().await;
    let (_, root) = app.privileged_user("root@example.com", true, true).await;
    let weak = app
        .call("POST", &format!("{M}/create/"), &root, Some(json!({ "email": "w@example.com", "password": "123" })))
        .await;
    assert_eq!(weak.status(), 400);
    assert!(weak.json::<Value>().await.unwrap()["error"]["fields"]["password"].is_array(), "validated like a sign-up");
    let body = json!({
        "email": "Made@Example.com", "password": "a long enough passphrase", "username": "made",
        "first_name": "Made", "is_staff": true, "is_verified": true
    });
    let created = app.call("POST", &format!("{M}/create/"), &root, Some(body.clone())).await;
    assert_eq!(created.status(), 201);
    let user: Value = created.json().await.unwrap();
    assert_eq!(
        (user["email"].as_str(), user["first_name"].as_str(), user["is_staff"].as_bool()),
        (Some("made@example.com"), Some("Made"), Some(true))
    );
    assert_eq!(app.call("POST", &format!("{M}/create/"), &root, Some(body)).await.status(), 409);
    assert_eq!(app.login("made", "a long enough passphrase").await.status(), 200, "logs in at once");

    let id = user["id"].as_i64().unwrap();
    let update = format!("{M}/{id}/update/");
    let no_email = app.call("PUT", &update, &root, Some(json!({ "first_name": "Put" }))).await;
    assert_eq!(no_email.status(), 400, "PUT needs the email");
    let bad = app.call("PATCH", &update, &root, Some(json!({ "is_staff": "yes", "id": 7 }))).await;
    let error: Value = bad.json().await.unwrap();
    assert!(error["error"]["fields"]["is_staff"].is_array() && error["error"]["fields"]["id"].is_array(), "{error}");
    let patched = app.call("PATCH", &update, &root, Some(json!({ "is_staff": false, "country": "NL" }))).await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.unwrap();
    assert_eq!((patched["is_staff"].as_bool(), patched["country"].as_str()), (Some(false), Some("NL")));
}

#[tokio::test]
async fn the_last_active_superuser_cannot_be_demoted_deactivated_or_deleted() {
    let app = spawn_app().await;
    let (root_id, root) = app.privileged_user("root@example.com", true, true).await;
    let own = format!("{M}/{root_id}/update/");
    for change in [json!({ "is_superuser": false }), json!({ "is_active": false }), json!({ "is_staff": false })] {
        let response = app.call("PATCH", &own, &root, Some(change.clone())).await;
        assert_eq!(response.status(), 409, "{change}");
        assert!(response.json::<Value>().await.unwrap()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("last active superuser"));
    }
    assert_eq!(app.call("DELETE", &format!("{M}/{root_id}/delete/"), &root, None).await.status(), 409);

    let (_, second) = app.privileged_user("second@example.com", true, true).await;
    assert_eq!(app.call("PATCH", &own, &second, Some(json!({ "is_superuser": false }))).await.status(), 200);
    let second_id =
        app.call("GET", "/api/v1/account/", &second, None).await.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let delete_second = format!("{M}/{second_id}/delete/");
    assert_eq!(app.call("DELETE", &delete_second, &second, None).await.status(), 409, "now the last one");
}

#[tokio::test]
async fn deactivating_resetting_the_password_or_ending_sessions_kills_tokens_at_once() {
    let app = spawn_app().await;
    let (_, root) = app.privileged_user("root@example.com", true, true).await;
    for (n, change) in [
        Some(json!({ "is_active": false })),
        Some(json!({ "password": "a brand new passphrase" })),
        None,              // end sessions
        Some(json!(null)), // delete
    ]
    .into_iter()
    .enumerate()
    {
        let email = format!("victim{n}@example.com");
        let token = app.verified_user(&email, None).await;
        let id = app.call("GET", "/api/v1/account/", &token, None).await.json::<Value>().await.unwrap()["id"]
            .as_i64()
            .unwrap();
        let status = match change {
            Some(Value::Null) => app.call("DELETE", &format!("{M}/{id}/delete/"), &root, None).await.status(),
            Some(body) => app.call("PATCH", &format!("{M}/{id}/update/"), &root, Some(body)).await.status(),
            None => app.call("DELETE", &format!("{M}/{id}/sessions/"), &root, None).await.status(),
        };
        assert!(status.is_success(), "{n}: {status}");
        assert_eq!(app.call("GET", "/api/v1/account/", &token, None).await.status(), 401, "case {n}");
    }
    assert_eq!(app.login("victim0@example.com", PASSWORD).await.status(), 401, "inactive");
    assert_eq!(app.login("victim1@example.com", "a brand new passphrase").await.status(), 200);
}

#[tokio::test]
async fn users_are_searched_ordered_and_paged() {
    let app = spawn_app().await;
    let (_, staff) = app.privileged_user("staff@example.com", true, false).await;
    for (email, name) in [("alice@example.com", "alice"), ("bob@example.com", "bobby"), ("carol@example.org", "carol")]
    {
        app.verified_user(email, Some(name)).await;
    }
    let list = |query: &'static str| {
        let staff = staff.clone();
        let app = &app;
        async move {
            let response = app.call("GET", &format!("{M}/?{query}"), &staff, None).await;
            assert_eq!(response.status(), 200, "{query}");
            response.json::<Value>().await.unwrap()
        }
    };
    let emails = |page: &Value| -> Vec<String> {
        page["results"].as_array().unwrap().iter().map(|u| u["email"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(emails(&list("search=BOB").await), ["bob@example.com"]);
    assert_eq!(emails(&list("search=example.org").await), ["carol@example.org"]);
    assert_eq!(list("search=%25").await["count"], 0, "LIKE wildcards are plain text");
    let by_email = list("ordering=-email").await;
    assert_eq!(emails(&by_email)[0], "staff@example.com");
    let page = list("ordering=email&page_size=2&page=2").await;
    assert_eq!(
        (page["count"].as_i64(), emails(&page)),
        (Some(4), vec!["carol@example.org".into(), "staff@example.com".into()])
    );
    assert!(page["previous"].as_str().unwrap().contains("page=1"));
    let bad = app.call("GET", &format!("{M}/?ordering=password_hash"), &staff, None).await;
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn admin_actions_are_on_both_histories_and_staff_filter_everyones() {
    let app = spawn_app().await;
    let (root_id, root) = app.privileged_user("root@example.com", true, true).await;
    let token = app.verified_user("target@example.com", None).await;
    let id =
        app.call("GET", "/api/v1/account/", &token, None).await.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert_eq!(
        app.call("PATCH", &format!("{M}/{id}/update/"), &root, Some(json!({ "country": "BE" }))).await.status(),
        200
    );
    assert_eq!(app.login("target@example.com", "wrong password").await.status(), 401);

    for (who, token) in [("target", token.clone()), ("actor", root.clone())] {
        let history: Value = app.call("GET", "/api/v1/account/history/", &token, None).await.json().await.unwrap();
        let event = history["results"].as_array().unwrap().iter().find(|e| e["kind"] == "admin_user_updated");
        let event = event.unwrap_or_else(|| panic!("{who}: {history}"));
        assert_eq!((event["user_id"].as_i64(), event["actor_id"].as_i64()), (Some(id), Some(root_id)));
    }

    let filtered: Value =
        app.call("GET", &format!("{M}/history/?user={id}&kind=login_failed"), &root, None).await.json().await.unwrap();
    assert_eq!(filtered["count"], 1);
    assert_eq!(filtered["results"][0]["user_id"], id);
    let future: Value =
        app.call("GET", &format!("{M}/history/?since=2999-01-01T00:00:00Z"), &root, None).await.json().await.unwrap();
    assert_eq!(future["count"], 0);
    let past: Value =
        app.call("GET", &format!("{M}/history/?until=2000-01-01T00:00:00Z"), &root, None).await.json().await.unwrap();
    assert_eq!(past["count"], 0);
    for bad in ["kind=nope", "since=yesterday", "user=me"] {
        assert_eq!(app.call("GET", &format!("{M}/history/?{bad}"), &root, None).await.status(), 400, "{bad}");
    }
}
