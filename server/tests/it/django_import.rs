//! `gatehouse import-django` through the real binary, on the database of a running server:
//! a dump made by Django itself (`server/tests/fixtures/django_dump.json`, see
//! `scripts/django-sample-dump.py`), then the imported users log in with their Django
//! passwords and their hashes are upgraded. Django's hashes are stored wrapped under argon2id,
//! and checking them costs no more than an unknown account does (counted, not timed).

use gatehouse_core::django_hashes::DjangoHash;
use gatehouse_core::passwords::Work;
use serde_json::{json, Value};

use crate::cli::gatehouse;
use crate::support::{spawn_app, spawn_app_with, TestApp, PASSWORD};

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

async fn user_id(app: &TestApp, email: &str) -> i64 {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&app.core.database().pool)
        .await
        .unwrap()
}

/// The dump's password hash of the user with primary key `pk`, as Django wrote it.
fn dump_hash(pk: i64) -> String {
    let dump: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(DUMP).unwrap()).unwrap();
    let user = dump.iter().find(|o| o["model"] == "auth.user" && o["pk"] == pk).unwrap();
    user["fields"]["password"].as_str().unwrap().to_string()
}

/// The stored form is the wrapped one: argon2id first, then Django's legacy step, and no part
/// of the key Django stored (its last 31 characters are key in every format).
fn assert_wrapped(stored: &str, django: &str, who: &str) {
    let algorithm = django.split('$').next().unwrap();
    assert!(stored.starts_with("wrapped$argon2id$v=19$"), "{who}: {stored}");
    assert!(stored.contains(&format!("${algorithm}$")), "{who}'s legacy step is kept: {stored}");
    assert!(!stored.contains(&django[django.len() - 31..]), "{who}: no Django key at rest: {stored}");
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

    // pbkdf2_sha256 (admin), argon2 (plain), bcrypt_sha256 (legacy): each is stored wrapped,
    // refuses a wrong password, logs in with the right one and is upgraded.
    for (login, id) in [("admin", 1), ("plain@example.com", 3), ("legacy", 4)] {
        let wrapped = stored_hash(&app, id).await;
        assert_wrapped(&wrapped, &dump_hash(id), login);
        assert_eq!(app.login(login, "not the password").await.status(), 401, "{login}");
        assert_eq!(stored_hash(&app, id).await, wrapped, "a failed login changes nothing");
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

    let still_wrapped = stored_hash(&app, 2).await;
    let (ok, out, err) = import(&app, DUMP, &[]).await;
    assert!(ok, "{err}");
    assert!(out.contains("0 created"), "a second run never duplicates: {out}");
    assert_eq!(stored_hash(&app, 2).await, still_wrapped, "the same Django hash is not wrapped again");
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

/// A Django hash written raw into the database (as an import by an earlier version left it)
/// is wrapped when Gatehouse next starts, and its user still logs in with the Django password.
#[tokio::test]
async fn a_raw_django_hash_in_the_database_is_wrapped_at_the_next_start() {
    let app = spawn_app().await;
    app.verified_user("raw@example.com", None).await;
    app.verified_user("rawbcrypt@example.com", None).await;
    let (pbkdf2, bcrypt) = (dump_hash(1), dump_hash(4));
    for (email, django) in [("raw@example.com", &pbkdf2), ("rawbcrypt@example.com", &bcrypt)] {
        sqlx::query("UPDATE users SET password_hash = $1 WHERE email = $2")
            .bind(django)
            .bind(email)
            .execute(&app.core.database().pool)
            .await
            .unwrap();
    }
    let (raw_id, bcrypt_id) = (user_id(&app, "raw@example.com").await, user_id(&app, "rawbcrypt@example.com").await);
    assert_eq!(stored_hash(&app, raw_id).await, pbkdf2);

    // The next start: the same database, another core (what `serve` runs first).
    let restarted = gatehouse_core::Gatehouse::start(app.core.settings().clone()).await.unwrap();
    for (id, django, who) in [(raw_id, &pbkdf2, "pbkdf2_sha256"), (bcrypt_id, &bcrypt, "bcrypt_sha256")] {
        assert_wrapped(&stored_hash(&app, id).await, django, who);
    }
    drop(restarted);
    assert_eq!(app.login("raw@example.com", "not the password").await.status(), 401);
    assert_eq!(app.login("raw@example.com", PASSWORD).await.status(), 200);
    assert!(stored_hash(&app, raw_id).await.starts_with("$argon2id$"), "upgraded at login");
    assert_eq!(app.login("rawbcrypt@example.com", PASSWORD).await.status(), 200);
    assert!(stored_hash(&app, bcrypt_id).await.starts_with("$argon2id$"), "upgraded at login");
}

/// Every failed login does the same work, counted by the hasher: one argon2 run and the
/// legacy bound (the costliest legacy step the import stored), whether the account is an
/// imported one of any format, a native one, an unusable or inactive one, or none at all.
#[tokio::test]
async fn an_unknown_account_costs_the_work_of_an_imported_one_with_a_wrong_password() {
    let app = spawn_app_with(|s| {
        s.set("login_free_attempts_per_account", "1000");
        s.set("login_free_attempts_per_ip", "1000");
    })
    .await;
    let (ok, _, err) = import(&app, DUMP, &[]).await;
    assert!(ok, "{err}");
    // After the import, whose ids would take over an account made before it.
    app.verified_user("native@example.com", None).await;
    let bound = [1, 2, 3, 4, 5, 6].map(|pk| DjangoHash::parse(&dump_hash(pk)).unwrap().kdf.cost()).into_iter().max();
    let bound = bound.unwrap();
    assert!(bound > 0);

    let failures = [
        ("admin", "imported, pbkdf2_sha256"),
        ("plain@example.com", "imported, argon2"),
        ("legacy", "imported, bcrypt_sha256"),
        ("gone@example.com", "imported, inactive"),
        ("unusable@example.com", "imported, unusable password"),
        ("native@example.com", "native"),
        ("ghost@example.com", "unknown"),
        ("ghost", "unknown username"),
        ("not even @ name", "unparsable"),
    ];
    for (login, what) in failures {
        let before = app.core.operations().password_work();
        assert_eq!(app.login(login, "a wrong password").await.status(), 401, "{what}");
        let after = app.core.operations().password_work();
        let done = Work { argon2: after.argon2 - before.argon2, legacy: after.legacy - before.legacy };
        assert_eq!(done, Work { argon2: 1, legacy: bound }, "{what}");
    }

    // Successes are not padded: a native login does its argon2 and nothing more.
    let before = app.core.operations().password_work();
    assert_eq!(app.login("native@example.com", PASSWORD).await.status(), 200);
    let after = app.core.operations().password_work();
    assert_eq!((after.argon2 - before.argon2, after.legacy - before.legacy), (1, 0));
}

/// Wrapping many hashes at once keeps within the hashing queue's bound: an import of more
/// users than the queue may hold still succeeds (each would otherwise be refused `Overloaded`).
#[tokio::test]
async fn an_import_larger_than_the_hash_queue_succeeds() {
    let app = spawn_app().await;
    let output = gatehouse(app.data_dir.path())
        .env("GATEHOUSE_DATABASE_URL", app.core.settings().database_url())
        .env("GATEHOUSE_HASH_QUEUE_LIMIT", "1")
        .env("GATEHOUSE_HASH_CONCURRENCY", "1")
        .arg("import-django")
        .arg(DUMP)
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&output.stdout).contains("7 created"));
}
