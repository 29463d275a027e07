//! The OpenAPI document: served, OpenAPI 3.1, every documented operation routed, every API
//! route documented, and equal to the committed snapshot (`insta`:
//! `server/tests/it/snapshots/openapi.snap`; after a deliberate API change
//! `INSTA_UPDATE=always cargo test` rewrites it, and a failing run shows the difference).

use serde_json::Value;

use crate::support::spawn_app;

async fn document(app: &crate::support::TestApp) -> Value {
    let response = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn operations(document: &Value) -> Vec<(String, String)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                found.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_document_is_openapi_3_1_and_matches_the_snapshot() {
    let app = spawn_app().await;
    let document = document(&app).await;
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"), "{}", document["openapi"]);
    let schemes = &document["components"]["securitySchemes"];
    assert_eq!(schemes["Bearer"]["in"], "header");
    assert_eq!(schemes["JWT"]["name"], "Authorization");
    let token = &document["paths"]["/api/v1/auth/token"]["post"]["responses"];
    assert!(token["429"]["headers"]["Retry-After"].is_object(), "429 documents Retry-After");
    assert!(token["401"]["content"]["application/json"].is_object(), "errors have the JSON shape");

    insta::with_settings!({ prepend_module_to_snapshot => false, omit_expression => true }, {
        insta::assert_json_snapshot!("openapi", document);
    });
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let app = spawn_app().await;
    let document = document(&app).await;
    let operations = operations(&document);
    assert!(operations.len() >= 14, "{operations:?}");
    for (method, path) in operations {
        let url = app.url(&path.replace("{id}", "00000000-0000-4000-8000-000000000000"));
        let response = app
            .client
            .request(method.parse().unwrap(), url)
            .header("Content-Type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or_default();
        let unrouted = status == 405 || (status == 404 && body["error"]["code"] == "not_found");
        assert!(!unrouted, "{method} {path} is documented but not routed ({status} {body})");
    }
}

/// Routes reach the API router only through `utoipa_axum::routes!`, which registers a handler
/// and its documentation together; a plain `.route(` would add an undocumented route.
#[test]
fn api_routes_are_only_registered_with_their_documentation() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src/api");
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for forbidden in [".route(", ".route_service(", ".nest_service("] {
            assert!(!source.contains(forbidden), "{} registers a route without documentation", path.display());
        }
    }
}

#[tokio::test]
async fn swagger_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/api/v1/swagger/ui/")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    for asset in ["swagger-ui.css", "swagger-ui-bundle.js", "swagger-initializer.js"] {
        let response = app.client.get(app.url(&format!("/api/v1/swagger/ui/{asset}"))).send().await.unwrap();
        assert_eq!(response.status(), 200, "{asset}");
    }
    let initializer = app.client.get(app.url("/api/v1/swagger/ui/swagger-initializer.js")).send().await.unwrap();
    assert!(initializer.text().await.unwrap().contains("/api/v1/openapi.json"));
}
