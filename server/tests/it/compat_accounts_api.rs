//! Seed 003 (`/accounts/api/...`, drf-spectacular), replayed in the document's order with its
//! bodies: registration with `confirm_password` and `verification_base_url`, a new activation
//! token (both spellings), activation by `{uidb64}/{token}`, login of confirmed accounts only,
//! profile, update, dashboard, history, password change, forgotten password. Then its own
//! OpenAPI 3.0 document, the switch, and one account across all four surfaces.

use serde_json::{json, Value};

use crate::support::{link_params, spawn_app_with, TestApp, PASSWORD};

const CLIENT_PAGE: &str = "https://app.example.com/activate";

async fn seed_app() -> TestApp {
    spawn_app_with(|s| s.set("verification_base_url_allowlist", CLIENT_PAGE)).await
}

async fn send(app: &TestApp, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    app.json_call(method, path, token.map(|t| format!("Bearer {t}")), body).await
}

/// `(uidb64, token)` from a link to the client's page: `<base>/<uidb64>/<token>/`.
fn client_link_parts(link: &str) -> (String, String) {
    let rest = link.strip_prefix(&format!("{CLIENT_PAGE}/")).unwrap_or_else(|| panic!("not the client page: {link}"));
    let parts: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
    assert_eq!(parts.len(), 2, "{link}");
    (parts[0].to_string(), parts[1].to_string())
}

async fn login(app: &TestApp, email: &str, password: &str) -> (u16, Value) {
    send(app, "POST", "/accounts/api/login/", None, Some(json!({ "email": email, "password": password }))).await
}

#[tokio::test]
async fn seed_003_register_activate_log_in_profile_dashboard_history_and_passwords() {
    let app = seed_app().await;
    let email = "krishna@example.com";
    let outbox = app.outbox();

    // New user registration: the serializer's checks first.
    let mut form = json!({ "username": "krishna", "email": email, "password": PASSWORD,
        "confirm_password": "something else", "verification_base_url": CLIENT_PAGE });
    let (status, body) = send(&app, "POST", "/accounts/api/registration/", None, Some(form.clone())).await;
    assert_eq!((status, body["non_field_errors"].is_array()), (400, true), "{body}");
    let (status, body) =
        send(&app, "POST", "/accounts/api/registration/", None, Some(json!({ "email": email, "password": PASSWORD })))
            .await;
    assert_eq!(status, 400);
    assert!(body["username"].is_array() && body["confirm_password"].is_null(), "the first missing field: {body}");
    form["confirm_password"] = json!(PASSWORD);
    let (status, body) = send(&app, "POST", "/accounts/api/registration/", None, Some(form.clone())).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["msg"].as_str().unwrap().contains("krishna"), "{body}");
    let (status, _) = send(&app, "POST", "/accounts/api/registration/", None, Some(form)).await;
    assert_eq!(status, 409, "the address is taken");

    // Only verified users can log in.
    let (status, body) = login(&app, email, PASSWORD).await;
    assert_eq!((status, body["detail"].is_string()), (403, true), "{body}");

    // The activation mail opens the client's page (its base is allowed).
    let first = client_link_parts(&outbox.wait_for_nth_link(email, 0).await);

    // A new activation token: a base not on the allow-list is not used, the mail opens
    // Gatehouse's own page; the answer carries no tokens and is the same for a stranger.
    let asked = json!({ "email": email, "verification_base_url": "https://evil.test/activate" });
    let (status, answer) = send(&app, "POST", "/accounts/api/get/acctivation/token/", None, Some(asked)).await;
    assert_eq!(status, 200);
    assert!(answer["msg"].is_string() && answer.get("access_token").is_none(), "{answer}");
    let own = outbox.wait_for_nth_link(email, 1).await;
    assert!(own.starts_with(&format!("{}/verify-email?", app.base)), "{own}");
    let stranger = json!({ "email": "nobody@example.com" });
    let (status, same) = send(&app, "POST", "/accounts/api/get/acctivation/token/", None, Some(stranger)).await;
    assert_eq!((status, &same), (200, &answer), "no enumeration");
    let asked = json!({ "email": email, "verification_base_url": CLIENT_PAGE });
    let (status, _) = send(&app, "POST", "/accounts/api/get/accttivation/token/", None, Some(asked)).await;
    assert_eq!(status, 200, "the document's other spelling");
    let (uidb64, token) = client_link_parts(&outbox.wait_for_nth_link(email, 2).await);

    // Activation: each new link retired the ones before; a link works once.
    let verify = |uid: &str, token: &str| format!("/accounts/api/verify/token/{uid}/{token}/");
    let (status, body) = send(&app, "POST", &verify(&first.0, &first.1), None, None).await;
    assert_eq!((status, body["token"].is_array()), (400, true), "{body}");
    let (status, body) = send(&app, "POST", &verify(&uidb64, &token), None, None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["msg"].is_string());
    assert_eq!(send(&app, "POST", &verify(&uidb64, &token), None, None).await.0, 400);

    // Login: `{msg, access_token, refresh_token}`; a wrong password is DRF's 400.
    let (status, body) = login(&app, email, "not the password").await;
    assert_eq!((status, body["non_field_errors"].is_array()), (400, true), "{body}");
    let (status, body) = login(&app, email, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["msg"].as_str().unwrap().contains("krishna"));
    let access = body["access_token"].as_str().unwrap().to_string();
    let refresh = body["refresh_token"].as_str().unwrap().to_string();

    // Profile, update, dashboard.
    let (status, profile) = send(&app, "GET", "/accounts/api/get/profile/", Some(&access), None).await;
    assert_eq!(status, 200);
    for field in ["country", "profession", "bio", "thoughts", "profile_img"] {
        assert_eq!(profile[field], "", "{field}");
    }
    assert_eq!(send(&app, "GET", "/accounts/api/get/profile/", None, None).await.0, 401);
    let changes = json!({ "country": "Nepal", "profession": "Engineer", "bio": "Builds things.",
        "thoughts": "Tests first.", "profile_img": "https://img.example.com/k.png" });
    let (status, updated) =
        send(&app, "POST", "/accounts/api/update/profile/", Some(&access), Some(changes.clone())).await;
    assert_eq!(status, 200, "{updated}");
    for (field, value) in changes.as_object().unwrap() {
        assert_eq!(&updated[field], value, "{field}");
    }
    let bad = json!({ "profile_img": "javascript:alert(1)" });
    let (status, body) = send(&app, "POST", "/accounts/api/update/profile/", Some(&access), Some(bad)).await;
    assert_eq!((status, body["profile_img"].is_array()), (400, true), "{body}");
    let (status, dashboard) = send(&app, "GET", "/accounts/api/dashboard/", Some(&access), None).await;
    assert_eq!(status, 200);
    assert_eq!(dashboard["profile"]["country"], "Nepal");
    assert_eq!(dashboard["two_factor_enabled"], false);

    // The user's history, newest first, paged like DRF.
    let (status, history) = send(&app, "GET", "/accounts/api/history/?page_size=50", Some(&access), None).await;
    assert_eq!(status, 200, "{history}");
    let kinds: Vec<&str> = history["results"].as_array().unwrap().iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"profile_updated"), "{kinds:?}");
    for kind in ["registered", "email_verified", "login_failed", "login_succeeded"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    assert_eq!(send(&app, "GET", "/accounts/api/history/?page=0", Some(&access), None).await.0, 400);

    // Change the old password: the old one must be right and the new one typed twice.
    let change = |old: &str, new: &str, confirm: &str| json!({ "old_password": old, "new_password": new, "confirm_password": confirm });
    let new_password = "a fresh Passphrase 2";
    let path = "/accounts/api/change/password/";
    let (status, body) =
        send(&app, "POST", path, Some(&access), Some(change("wrong", new_password, new_password))).await;
    assert_eq!((status, body["old_password"].is_array()), (400, true), "{body}");
    let (status, body) = send(&app, "POST", path, Some(&access), Some(change(PASSWORD, new_password, "other"))).await;
    assert_eq!((status, body["non_field_errors"].is_array()), (400, true), "{body}");
    let (status, body) = send(&app, "POST", path, Some(&access), Some(change(PASSWORD, "short", "short"))).await;
    assert_eq!((status, body["new_password"].is_array()), (400, true), "{body}");
    let (status, _) = send(&app, "POST", path, Some(&access), Some(change(PASSWORD, new_password, new_password))).await;
    assert_eq!(status, 200);
    assert_eq!(login(&app, email, new_password).await.0, 200);
    assert_eq!(send(&app, "GET", "/accounts/api/dashboard/", Some(&access), None).await.0, 200, "this session stays");

    // Forgotten password: the link opens the client's page; the answer is the same for a
    // stranger; the new password ends every session.
    let asked = json!({ "email": email, "verification_base_url": CLIENT_PAGE });
    let (status, answer) = send(&app, "POST", "/accounts/api/forget/password/", None, Some(asked)).await;
    assert_eq!(status, 200);
    let stranger = json!({ "email": "nobody@example.com" });
    assert_eq!(send(&app, "POST", "/accounts/api/forget/password/", None, Some(stranger)).await, (200, answer));
    // Mail 3 was the notice of the password change above; the reset link is mail 4.
    let (uidb64, token) = client_link_parts(&outbox.wait_for_nth_link(email, 4).await);
    let set_path = format!("/accounts/api/set/new/forget/password/{uidb64}/{token}/");
    let newest = "the Newest passphrase 3";
    let mismatch = json!({ "new_password": newest, "confirm_password": "typo" });
    assert_eq!(send(&app, "POST", &set_path, None, Some(mismatch)).await.0, 400);
    let set = json!({ "new_password": newest, "confirm_password": newest });
    let (status, body) = send(&app, "POST", &set_path, None, Some(set.clone())).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(send(&app, "POST", &set_path, None, Some(set)).await.0, 400, "the link works once");
    assert_eq!(send(&app, "GET", "/accounts/api/dashboard/", Some(&access), None).await.0, 401, "sessions ended");
    let renewed = app.post_json("/api/v1/auth/token/refresh/", &json!({ "refresh": refresh })).await;
    assert_eq!(renewed.status(), 401, "the refresh token died with its session");
    let (status, body) = login(&app, email, newest).await;
    assert_eq!(status, 200, "{body}");
    let refresh = body["refresh_token"].as_str().unwrap();
    let renewed = app.post_json("/api/v1/auth/token/refresh/", &json!({ "refresh": refresh })).await;
    assert_eq!(renewed.status(), 200, "the refresh token is the canonical one");
}

#[tokio::test]
async fn without_an_allow_list_every_link_opens_gatehouse() {
    let app = spawn_app_with(|_| {}).await;
    let form = json!({ "username": "plain", "email": "plain@example.com", "password": PASSWORD,
        "confirm_password": PASSWORD, "verification_base_url": CLIENT_PAGE });
    assert_eq!(send(&app, "POST", "/accounts/api/registration/", None, Some(form)).await.0, 201);
    let link = app.outbox().wait_for_link("plain@example.com").await;
    assert!(link.starts_with(&format!("{}/verify-email?", app.base)), "{link}");
    let (uid, token) = link_params(&link);
    let (status, _) = send(&app, "POST", &format!("/accounts/api/verify/token/{uid}/{token}/"), None, None).await;
    assert_eq!(status, 200, "Gatehouse's link activates through this surface too");
}

#[tokio::test]
async fn the_document_is_openapi_3_0_in_yaml_or_json_with_swagger_ui_beside_it() {
    let app = seed_app().await;
    let yaml = app.client.get(app.url("/accounts/api/spectacular/")).send().await.unwrap();
    assert_eq!(yaml.status(), 200);
    assert!(yaml.headers()["content-type"].to_str().unwrap().starts_with("application/vnd.oai.openapi;"));
    let from_yaml: Value = serde_norway::from_str(&yaml.text().await.unwrap()).expect("YAML");

    let json = app.client.get(app.url("/accounts/api/spectacular/?format=json")).send().await.unwrap();
    assert!(json.headers()["content-type"].to_str().unwrap().starts_with("application/vnd.oai.openapi+json"));
    let document: Value = json.json().await.unwrap();
    assert_eq!(document, from_yaml, "one document, two spellings");
    let accepted: Value = app
        .client
        .get(app.url("/accounts/api/spectacular/"))
        .header("Accept", "application/json")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .expect("JSON on request by Accept");
    assert_eq!(accepted, document);

    assert_eq!(document["openapi"], "3.0.3");
    assert_eq!(document["info"]["title"], "JWT Authetication API");
    let text = document.to_string();
    assert!(!text.contains("\"null\""), "no 3.1 null types");
    for (method, path) in [
        ("post", "/accounts/api/registration/"),
        ("post", "/accounts/api/get/acctivation/token/"),
        ("post", "/accounts/api/get/accttivation/token/"),
        ("post", "/accounts/api/verify/token/{uidb64}/{token}/"),
        ("post", "/accounts/api/login/"),
        ("get", "/accounts/api/get/profile/"),
        ("post", "/accounts/api/update/profile/"),
        ("get", "/accounts/api/dashboard/"),
        ("get", "/accounts/api/history/"),
        ("post", "/accounts/api/change/password/"),
        ("post", "/accounts/api/forget/password/"),
        ("post", "/accounts/api/set/new/forget/password/{uidb64}/{token}/"),
    ] {
        assert!(document["paths"][path][method].is_object(), "{method} {path}");
    }
    assert_eq!(document["paths"].as_object().unwrap().len(), 12, "nothing else");
    let registration = &document["paths"]["/accounts/api/registration/"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"];
    assert_eq!(registration["$ref"], "#/components/schemas/RegistrationBody");
    let schema = &document["components"]["schemas"]["RegistrationBody"];
    for field in ["username", "email", "password", "confirm_password", "verification_base_url"] {
        assert!(schema["properties"][field].is_object(), "{field}");
    }
    assert_eq!(document["components"]["securitySchemes"]["jwtAuth"]["scheme"], "bearer");

    let ui = app.client.get(app.url("/accounts/api/spectacular/swagger-ui/")).send().await.unwrap();
    assert_eq!(ui.status(), 200);
    assert!(ui.text().await.unwrap().contains("swagger-ui"));
    let initializer =
        app.client.get(app.url("/accounts/api/spectacular/swagger-ui/swagger-initializer.js")).send().await.unwrap();
    assert!(initializer.text().await.unwrap().contains("/accounts/api/spectacular/?format=json"));
}

#[tokio::test]
async fn switched_off_its_paths_are_404() {
    let off = spawn_app_with(|s| s.set("compat_accounts_api", "false")).await;
    for (method, path) in [
        ("POST", "/accounts/api/registration/"),
        ("POST", "/accounts/api/login/"),
        ("GET", "/accounts/api/get/profile/"),
        ("GET", "/accounts/api/spectacular/"),
        ("GET", "/accounts/api/spectacular/swagger-ui/"),
    ] {
        assert_eq!(send(&off, method, path, None, Some(json!({}))).await.0, 404, "{method} {path}");
    }
    assert_eq!(off.register("still@example.com", None).await.status(), 201, "/api/v1 stays");
}

/// Registered on seed 003, logged in on each of the other surfaces; logging out everywhere on
/// one of them ends the tokens of all.
#[tokio::test]
async fn one_account_on_all_four_surfaces_and_logout_all_ends_every_token() {
    let app = spawn_app_with(|s| s.set("require_email_verification", "false")).await;
    let email = "everywhere@example.com";
    let form = json!({ "username": "everywhere", "email": email, "password": PASSWORD, "confirm_password": PASSWORD });
    assert_eq!(send(&app, "POST", "/accounts/api/registration/", None, Some(form)).await.0, 201);
    let credentials = json!({ "email": email, "password": PASSWORD });

    let (status, seed_003) = login(&app, email, PASSWORD).await;
    assert_eq!(status, 200);
    let seed_003 = seed_003["access_token"].as_str().unwrap().to_string();
    let djoser: Value = app.post_json("/api/jwt/create/", &credentials).await.json().await.unwrap();
    let djoser = djoser["token"].as_str().unwrap().to_string();
    let signin = json!({ "username": "everywhere", "password": PASSWORD });
    let rest_jwt_auth: Value = app.post_json("/auth/signin", &signin).await.json().await.unwrap();
    let rest_jwt_auth = rest_jwt_auth["token"].as_str().unwrap().to_string();
    let canonical: Value = app.login(email, PASSWORD).await.json().await.unwrap();
    let canonical = canonical["access"].as_str().unwrap().to_string();

    let tokens = [("seed 003", seed_003), ("djoser", djoser), ("rest_jwt_auth", rest_jwt_auth), ("/api/v1", canonical)];
    for (surface, token) in &tokens {
        assert_eq!(token_status(&app, surface, token).await, 200, "{surface}");
    }

    let (status, _) = send(&app, "POST", "/api/user/logout/all/", None, None).await;
    assert_eq!(status, 401);
    let djoser = &tokens[1].1;
    let ended = app.client.post(app.url("/api/user/logout/all/")).header("Authorization", format!("JWT {djoser}"));
    assert_eq!(ended.send().await.unwrap().status(), 200);
    for (surface, token) in &tokens {
        assert_eq!(token_status(&app, surface, token).await, 401, "{surface} after logout-all on the djoser surface");
    }
}

/// What an authenticated read of the account answers on `surface` with `token`.
async fn token_status(app: &TestApp, surface: &str, token: &str) -> u16 {
    let response = match surface {
        "seed 003" => app.get_with_token("/accounts/api/get/profile/", "Bearer", token).await,
        "djoser" => app.get_with_token("/api/me/", "JWT", token).await,
        "rest_jwt_auth" => app.post_json("/auth/get_user", &json!({ "token": token })).await,
        _ => app.get_with_token("/api/v1/account/", "Bearer", token).await,
    };
    response.status().as_u16()
}

#[tokio::test]
async fn a_link_base_with_whitespace_or_control_characters_is_refused_and_never_mailed() {
    let app = seed_app().await;
    let email = "smuggle@example.com";
    let smuggled = [
        format!("{CLIENT_PAGE}/\nhttps://evil.test/steal"),
        format!("{CLIENT_PAGE}/ click https://evil.test"),
        format!("{CLIENT_PAGE}/\r\nBcc: victim@example.com"),
        format!("{CLIENT_PAGE}\t"),
    ];
    for base in &smuggled {
        let form = json!({ "username": "smuggle", "email": email, "password": PASSWORD,
            "confirm_password": PASSWORD, "verification_base_url": base });
        let (status, body) = send(&app, "POST", "/accounts/api/registration/", None, Some(form)).await;
        assert_eq!(status, 400, "{base:?}: {body}");
        assert!(body["verification_base_url"].is_array(), "the field is named, in this surface's shape: {body}");
    }
    let form = json!({ "username": "smuggle", "email": email, "password": PASSWORD,
        "confirm_password": PASSWORD, "verification_base_url": CLIENT_PAGE });
    assert_eq!(send(&app, "POST", "/accounts/api/registration/", None, Some(form)).await.0, 201);
    for (path, body) in [
        ("/accounts/api/get/acctivation/token/", json!({ "email": email, "verification_base_url": smuggled[0] })),
        ("/accounts/api/forget/password/", json!({ "email": email, "verification_base_url": smuggled[0] })),
    ] {
        let (status, answer) = send(&app, "POST", path, None, Some(body)).await;
        assert_eq!(status, 400, "{path}: {answer}");
        assert!(answer["verification_base_url"].is_array(), "{path}: {answer}");
    }
    // Only the registration's own mail went out, and no mail names the smuggled site.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let mails = app.outbox().messages_to(email);
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert!(mails.iter().all(|m| !m.contains("evil.test")), "{mails:?}");
}

#[tokio::test]
async fn the_mailed_client_link_is_the_parsed_url_with_the_uid_and_token_as_path_segments() {
    let app = seed_app().await;
    let email = "segments@example.com";
    // A base that parses to a different serialization than its text (upper-case host, a dot
    // segment): the mail carries the parsed form.
    let base = "https://APP.example.com/activate/./";
    let form = json!({ "username": "segments", "email": email, "password": PASSWORD,
        "confirm_password": PASSWORD, "verification_base_url": base });
    assert_eq!(send(&app, "POST", "/accounts/api/registration/", None, Some(form)).await.0, 201);
    let link = app.outbox().wait_for_link(email).await;
    let (uid, token) = client_link_parts(&link);
    assert_eq!(link, format!("{CLIENT_PAGE}/{uid}/{token}/"));
}
