//! `gatehouse import-django` through the real binary, on the database of a running server:
//! a dump made by Django itself (`server/tests/fixtures/django_dump.json`, see
//! `scripts/django-sample-dump.py`), then the imported users log in with their Django
//! passwords and their hashes are upgraded.

use serde_json::{json, Value};

use crate::cli::gatehouse;
use crate::support::{spawn_app, TestApp, PASSWORD};

const DUMP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/django_dump.json");

/// Runs `import-django` against the app's own database; returns (success, stdout, stderr).
async fn import(app: &TestApp, file: &str, extra: &[&str]) -> (bool, String, String) {
    let output = gatehouse(app.data_dir.path())
        .env("GATEHOUSE_DATABASE_URL", app.core.settings().database_url())
        .arg("import-django")
        .arg(file)
        .args(extra)
        .output()
        .await
        .unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

async fn stored_hash(app: &TestApp, id: i64) -> String {
    sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
        .bind(id)
        .fetch_one(&app.core.database().pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_django_dump_is_imported_once_and_its_users_log_in_with_their_passwords() {
    let app = spawn_app().await;
    let (ok, out, err) = import(&app, DUMP, &["--dry-run"]).await;
    assert!(ok, "{err}");
    assert!(out.contains("7 created") && out.contains("dry run: nothing was written"), "{out}");
    assert_eq!(app.login("admin", PASSWORD).await.status(), 401, "the dry run wrote nothing");

    let (ok, out, err) = import(&app, DUMP, &[]).await;
    assert!(ok, "{err}");
    assert!(out.contains("8 users: 7 created, 0 updated, 0 unchanged, 1 skipped; 1 other objects ignored"), "{out}");
    assert!(out.contains("no email address") && out.contains("pk 7"), "the skipped user is named: {out}");

    // pbkdf2_sha256 (admin), argon2 (plain), bcrypt_sha256 (legacy): each logs in, each is upgraded.
    for (login, id, format) in
        [("admin", 1, "pbkdf2_sha256$"), ("plain@example.com", 3, "argon2$"), ("legacy", 4, "bcrypt_sha256$")]
    {
        assert!(stored_hash(&app, id).await.starts_with(format), "{login} kept Django's hash");
        let response = app.login(login, PASSWORD).await;
        assert_eq!(response.status(), 200, "{login}");
        assert!(stored_hash(&app, id).await.starts_with("$argon2id$"), "{login}'s hash upgraded");
        let token = response.json::<Value>().await.unwrap()["access"].as_str().unwrap().to_string();
        let account: Value = app.get_with_token("/api/v1/account/", "Bearer", &token).await.json().await.unwrap();
        assert_eq!(account["id"], id, "the Django id is kept");
        assert_eq!(app.login(login, PASSWORD).await.status(), 200, "{login} again, with the new hash");
    }
    let admin: Value = app.login("admin", PASSWORD).await.json().await.unwrap();
    let me: Value =
        app.get_with_token("/api/v1/account/", "Bearer", admin["access"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(
        (me["first_name"].as_str(), me["is_superuser"].as_bool(), me["is_verified"].as_bool()),
        (Some("Ada"), Some(true), Some(true))
    );
    assert_eq!(app.login("gone@example.com", PASSWORD).await.status(), 401, "inactive stays inactive");
    assert_eq!(app.login("unusable@example.com", PASSWORD).await.status(), 401, "Django's unusable password");
    assert_eq!(app.login("mail@example.com", PASSWORD).await.status(), 200, "email-as-username logs in by email");
    app.logged_in_browser("staff@example.com").await; // the web app too

    let (ok, out, err) = import(&app, DUMP, &[]).await;
    assert!(ok, "{err}");
    assert!(out.contains("0 created"), "a second run never duplicates: {out}");
    assert!(stored_hash(&app, 1).await.starts_with("$argon2id$"), "an upgraded hash is not taken back");
    let registered = app.register("after@example.com", None).await;
    assert_eq!(registered.status(), 201);
    let id = registered.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    assert!(id > 8, "new accounts get ids after the imported ones: {id}");
}

#[tokio::test]
async fn a_broken_row_is_named_and_nothing_is_imported() {
    let app = spawn_app().await;
    let mut dump: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(DUMP).unwrap()).unwrap();
    dump[4]["fields"]["is_staff"] = json!("yes");
    let broken = app.data_dir.path().join("broken.json");
    std::fs::write(&broken, serde_json::to_string(&dump).unwrap()).unwrap();
    let (ok, _, err) = import(&app, broken.to_str().unwrap(), &[]).await;
    assert!(!ok);
    assert!(err.contains("#5") && err.contains("is_staff") && err.contains("nothing was imported"), "{err}");
    assert_eq!(app.login("admin", PASSWORD).await.status(), 401, "the rows before it were not kept either");

    let (ok, _, err) = import(&app, "/no/such/file.json", &[]).await;
    assert!(!ok && err.contains("cannot read"), "{err}");
}
