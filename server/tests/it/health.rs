use crate::support::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_answer_once_serving() {
    let app = spawn_app().await;
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<serde_json::Value>().await.unwrap()["database"], "ok");
}

#[tokio::test]
async fn home_page_loads_the_hydration_bundle_which_is_served_as_wasm() {
    let app = spawn_app().await;
    let home = app.get_page("/").await;
    assert_eq!(home.status(), 200);
    assert_eq!(home.headers()["cache-control"], "no-cache", "pages are revalidated");
    let html = home.text().await.unwrap();
    // The bundle is named by its content: gatehouse.<16 hex digits>.js / _bg.wasm / .css.
    let name = html
        .split("/pkg/")
        .filter_map(|rest| rest.split('"').next()?.strip_suffix(".js"))
        .next()
        .expect("hydration script");
    let hash = name.strip_prefix("gatehouse.").expect("a hashed name");
    assert!(hash.len() == 16 && hash.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
    assert!(html.contains(&format!("/pkg/{name}_bg.wasm")));
    assert!(html.contains(&format!("/pkg/{name}.css")));
    let wasm = app.client.get(app.url(&format!("/pkg/{name}_bg.wasm"))).send().await.unwrap();
    assert_eq!(wasm.status(), 200);
    assert_eq!(wasm.headers()["content-type"], "application/wasm");
    assert_eq!(wasm.headers()["cache-control"], "public, max-age=31536000, immutable");
    let etag = wasm.headers()["etag"].clone();
    let again =
        app.client.get(app.url(&format!("/pkg/{name}_bg.wasm"))).header("If-None-Match", etag).send().await.unwrap();
    assert_eq!(again.status(), 304);
    let css = app.client.get(app.url(&format!("/pkg/{name}.css"))).send().await.unwrap();
    assert_eq!(css.headers()["content-type"], "text/css");
    assert!(css.headers()["cache-control"].to_str().unwrap().contains("immutable"));
}

#[tokio::test]
async fn unknown_pages_are_404_and_security_headers_are_set() {
    let app = spawn_app().await;
    let page = app.get_page("/no/such/page").await;
    assert_eq!(page.status(), 404);
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    assert_eq!(page.headers()["referrer-policy"], "same-origin");
    assert!(page.text().await.unwrap().contains("Page not found"));
}

/// The pool skips sqlx's ping before every statement (a round trip each) but still checks a
/// PostgreSQL connection that sat idle, so connections the database dropped meanwhile (a
/// restart, an administrator ending them) are replaced before a request's statement runs on
/// one. Fails if the pool hands out idle connections unchecked.
#[tokio::test]
async fn database_connections_dropped_while_idle_are_replaced_before_a_request_uses_them() {
    let Some(url) = crate::support::fresh_postgres_database().await else {
        eprintln!("SQLite connections cannot be dropped by the database: skipped on this SQLite run");
        return;
    };
    let app = crate::support::spawn_app_with(|raw| raw.set("database_url", url.clone())).await;
    let email = "idle@example.com";
    app.verified_user(email, None).await;
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), 200);

    let mut admin = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
    let servers: Vec<i32> = sqlx::query_scalar(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() \
         AND backend_type = 'client backend'",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(!servers.is_empty(), "the server's connections were open");
    for pid in &servers {
        sqlx::query("SELECT pg_terminate_backend($1)").bind(pid).execute(&mut admin).await.unwrap();
    }
    let mut gone = false;
    for _ in 0..1500 {
        let left: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE pid = ANY($1)")
            .bind(&servers)
            .fetch_one(&mut admin)
            .await
            .unwrap();
        if left == 0 {
            gone = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(gone, "PostgreSQL ended the server's connections");
    // Longer than the window in which a connection just used is taken to be alive.
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;

    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200, "a dropped connection was handed to /readyz");
    let login = app.login(email, crate::support::PASSWORD).await;
    assert_eq!(login.status(), 200, "a dropped connection was handed to a login");
}
