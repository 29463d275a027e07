//! No user text becomes markup (issue 18, item 3): markup typed into any editable field is
//! shown as text on every page that shows the field, textareas included (the renderer writes a
//! textarea's content unescaped unless we escape it).

use serde_json::{json, Value};

use crate::support::*;

/// Each breaks out of a different context: a textarea's content, an attribute value.
const PAYLOADS: [&str; 2] = ["</textarea><b id=\"x\">", "\"><b id=\"x\">"];
const TEXT_FIELDS: [&str; 6] = ["first_name", "last_name", "country", "profession", "bio", "thoughts"];

#[tokio::test]
async fn markup_in_any_editable_field_is_shown_as_text_on_every_page() {
    let app = spawn_app().await;
    let (_, admin) = app.privileged_user("root@example.com", true, true).await;
    let token = app.verified_user("victim@example.com", None).await;
    let me: Value = app.call("GET", "/api/v1/account/", &token, None).await.json().await.unwrap();
    let id = me["id"].as_i64().unwrap();
    let owner = app.logged_in_browser("victim@example.com").await;
    let staff = app.logged_in_browser("root@example.com").await;
    for payload in PAYLOADS {
        let body: Value =
            TEXT_FIELDS.iter().map(|f| (f.to_string(), json!(payload))).collect::<serde_json::Map<_, _>>().into();
        let saved = app.call("PATCH", "/api/v1/account/", &token, Some(body)).await;
        assert_eq!(saved.status(), 200, "the text itself is allowed");
        // The picture must be an http(s) URL; one carrying the payload is refused or kept as text.
        let picture = json!({ "profile_img": format!("https://img.example/{payload}.png") });
        let status = app.call("PATCH", "/api/v1/account/", &token, Some(picture)).await.status().as_u16();
        assert!(status == 200 || status == 400, "{status}");
        let pages = [
            (&owner, "/profile".to_string()),
            (&owner, "/dashboard".to_string()),
            (&owner, "/history".to_string()),
            (&owner, "/security".to_string()),
            (&staff, "/admin/users".to_string()),
            (&staff, format!("/admin/users/{id}")),
            (&staff, format!("/admin/users/{id}/delete")),
        ];
        for (browser, page) in pages {
            let html = browser.page(&page).await;
            assert!(!html.contains("<b id=\"x\">"), "{page} rendered the element from {payload:?}");
        }
        let profile = owner.page("/profile").await;
        assert!(profile.contains("&lt;/textarea&gt;&lt;b id=") || payload.starts_with('"'), "shown as text");
        assert_eq!(profile.matches("</textarea>").count(), 2, "exactly the two textareas' own ends");
    }
    let _ = admin;
}
