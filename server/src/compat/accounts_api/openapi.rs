//! Seed 003's own OpenAPI 3.0 document, served the way drf-spectacular serves one:
//! `GET /accounts/api/spectacular/` answers YAML (`application/vnd.oai.openapi`), or JSON with
//! `?format=json` or `Accept: application/json` (`application/vnd.oai.openapi+json`). Swagger
//! UI beside it at `/accounts/api/spectacular/swagger-ui/`, served from the binary. The
//! document is generated from the handlers, like `/api/v1`'s, then written down to 3.0 (the
//! version drf-spectacular emits) with DRF's trailing slashes on every path.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::RawQuery;
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{IntoResponses, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use super::PREFIX;
use crate::state::AppState;

pub const DOCUMENT_PATH: &str = "/accounts/api/spectacular";
pub const SWAGGER_UI_PATH: &str = "/accounts/api/spectacular/swagger-ui";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "JWT Authetication API",
        version = "1.0.0",
        description = "Key Features: API Endpoints are provided for New User Registration, Login, Account Activation \
            Token Via Email verification | Get New Token for email verification | Only Verified users can login into \
            dashboard | Visit to user dashboard | Get user profile | Update User Profile | Change User Old Password | \
            Watch User History | Reset Forgotten Password Via Email Verification | Set Forgotten Password. \
            Served by Gatehouse over the same accounts as `/api/v1`. Send the `access_token` of the login as \
            `Authorization: Bearer <access_token>`.",
    ),
    tags((name = "accounts")),
    modifiers(&JwtAuth),
)]
struct ApiDoc;

/// simplejwt's scheme as drf-spectacular names it.
struct JwtAuth;

impl Modify for JwtAuth {
    fn modify(&self, openapi: &mut Document) {
        let scheme = HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("jwtAuth", SecurityScheme::Http(scheme));
    }
}

/// DRF's validation errors: `{"field": ["message", ...]}`, `non_field_errors` for the form as a
/// whole; or `{"detail": "message"}` when the body itself is unusable.
#[derive(Serialize, ToSchema)]
pub struct FieldErrors(BTreeMap<String, Messages>);

#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // described, never built: `compat::drf` writes these bodies
pub enum Messages {
    Many(Vec<String>),
    One(String),
}

/// `{"detail": "message"}`.
#[derive(Serialize, ToSchema)]
pub struct Detail {
    detail: String,
}

// The error responses that many operations share; they exist only to be described.

/// No valid access token.
#[derive(IntoResponses)]
#[response(status = 401, headers(("WWW-Authenticate" = String)))]
#[allow(dead_code)]
pub struct Unauthorized(#[to_schema] Detail);

/// The token is good only for the second step of a two-factor login.
#[derive(IntoResponses)]
#[response(status = 403)]
#[allow(dead_code)]
pub struct Forbidden(#[to_schema] Detail);

/// The body is larger than the server accepts.
#[derive(IntoResponses)]
#[response(status = 413)]
#[allow(dead_code)]
pub struct PayloadTooLarge(#[to_schema] Detail);

/// Too many failed attempts: wait `Retry-After` seconds.
#[derive(IntoResponses)]
#[response(status = 429, headers(("Retry-After" = u64)))]
#[allow(dead_code)]
pub struct Throttled(#[to_schema] Detail);

/// The routes, the document made from them (rendered once, as JSON and as YAML) and Swagger UI.
pub fn router() -> Router<AppState> {
    let (routes, mut generated) =
        OpenApiRouter::with_openapi(ApiDoc::openapi()).nest(PREFIX, super::routes()).split_for_parts();
    body_optional(&mut generated, &format!("{PREFIX}/update/profile"));
    let document = openapi_3_0(serde_json::to_value(generated).expect("an OpenAPI document serializes"));
    let json = Bytes::from(serde_json::to_vec_pretty(&document).expect("a JSON value serializes"));
    let yaml = Bytes::from(serde_norway::to_string(&document).expect("a JSON value is YAML"));
    // No validator badge: it would send the document to validator.swagger.io.
    let config = utoipa_swagger_ui::Config::from(format!("{DOCUMENT_PATH}/?format=json"))
        .validator_url("none")
        .persist_authorization(false);
    routes
        .route(
            DOCUMENT_PATH,
            get(move |query: RawQuery, headers: HeaderMap| async move { serve(&json, &yaml, query, &headers) }),
        )
        .merge(SwaggerUi::new(SWAGGER_UI_PATH).config(config))
}

/// Marks a `POST` body as optional: DRF's parsers read no body at all as `{}`, which some
/// operations accept (every field optional), while a JSON `null` is still refused. utoipa
/// infers "required" from the body's type and would have to make it nullable to make it
/// optional.
fn body_optional(document: &mut Document, path: &str) {
    let body =
        document.paths.paths.get_mut(path).and_then(|item| item.post.as_mut()).and_then(|o| o.request_body.as_mut());
    match body {
        Some(utoipa::openapi::RefOr::T(body)) => body.required = Some(utoipa::openapi::Required::False),
        _ => panic!("{path} is documented with a body"),
    }
}

/// drf-spectacular's content negotiation: `?format=json|yaml` first, then `Accept`, YAML by
/// default.
fn serve(json: &Bytes, yaml: &Bytes, RawQuery(query): RawQuery, headers: &HeaderMap) -> Response {
    let format = query.as_deref().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes()).find(|(k, _)| k == "format").map(|(_, v)| v.into_owned())
    });
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let wants_json = match format.as_deref() {
        Some("json" | "openapi-json") => true,
        Some(_) => false,
        None => accept.contains("json") && !accept.contains("yaml") && !accept.contains("vnd.oai.openapi;"),
    };
    let (body, content_type) = if wants_json {
        (json.clone(), "application/vnd.oai.openapi+json; charset=utf-8")
    } else {
        (yaml.clone(), "application/vnd.oai.openapi; charset=utf-8")
    };
    ([(header::CONTENT_TYPE, HeaderValue::from_static(content_type))], body).into_response()
}

/// Writes a generated OpenAPI 3.1 document down to 3.0.3: the license loses its SPDX
/// `identifier`, `type: [T, "null"]` becomes
/// `type: T, nullable: true`, a `oneOf` with a `null` branch the same, `propertyNames` of
/// string (every JSON key is one) goes, and every path gets
/// DRF's trailing slash. Panics on a 3.1 construct it does not know, so a new one is found by
/// the tests, not by a client.
pub fn openapi_3_0(mut document: Value) -> Value {
    document["openapi"] = Value::from("3.0.3");
    // 3.0's license has a name and a URL, no SPDX `identifier`.
    if let Some(license) = document.pointer_mut("/info/license").and_then(Value::as_object_mut) {
        license.remove("identifier");
    }
    if let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) {
        let slashed = std::mem::take(paths).into_iter().map(|(path, item)| (format!("{path}/"), item)).collect();
        *paths = slashed;
    }
    write_down(&mut document);
    document
}

fn write_down(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Array(types)) = map.get("type").cloned() {
                let named: Vec<&Value> = types.iter().filter(|t| t.as_str() != Some("null")).collect();
                assert!(named.len() == 1, "no OpenAPI 3.0 equivalent of type {types:?}");
                map.insert("type".into(), named[0].clone());
                if named.len() < types.len() {
                    map.insert("nullable".into(), Value::Bool(true));
                }
            }
            if let Some(Value::Array(branches)) = map.get("oneOf").cloned() {
                let is_null = |b: &Value| b.get("type").and_then(Value::as_str) == Some("null");
                if branches.iter().any(is_null) {
                    let rest: Vec<Value> = branches.into_iter().filter(|b| !is_null(b)).collect();
                    map.insert("oneOf".into(), Value::Array(rest));
                    map.insert("nullable".into(), Value::Bool(true));
                }
            }
            // JSON object keys are strings anyway; 3.0 has no `propertyNames`.
            if map.get("propertyNames") == Some(&serde_json::json!({ "type": "string" })) {
                map.remove("propertyNames");
            }
            for forbidden in ["const", "examples", "prefixItems", "$schema", "contentMediaType", "propertyNames"] {
                assert!(
                    !map.contains_key(forbidden) || map.get("type").is_none(),
                    "no OpenAPI 3.0 equivalent of {forbidden}"
                );
            }
            map.values_mut().for_each(write_down);
        }
        Value::Array(items) => items.iter_mut().for_each(write_down),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::openapi_3_0;

    #[test]
    fn nullable_types_and_trailing_slashes_are_written_the_3_0_way() {
        let written = openapi_3_0(json!({
            "openapi": "3.1.0",
            "info": { "license": { "name": "MIT", "identifier": "MIT" } },
            "paths": { "/accounts/api/login": {} },
            "components": { "schemas": { "P": { "properties": {
                "a": { "type": ["string", "null"] },
                "b": { "oneOf": [{ "type": "null" }, { "$ref": "#/components/schemas/Q" }] },
                "c": { "type": "string" },
                "d": { "type": "object", "propertyNames": { "type": "string" }, "additionalProperties": { "type": "string" } }
            } } } }
        }));
        assert_eq!(written["openapi"], "3.0.3");
        assert_eq!(written["info"]["license"], json!({ "name": "MIT" }));
        assert!(written["paths"].get("/accounts/api/login/").is_some());
        let p = &written["components"]["schemas"]["P"]["properties"];
        assert_eq!(p["a"], json!({ "type": "string", "nullable": true }));
        assert_eq!(p["b"], json!({ "oneOf": [{ "$ref": "#/components/schemas/Q" }], "nullable": true }));
        assert_eq!(p["c"], json!({ "type": "string" }));
        assert_eq!(p["d"], json!({ "type": "object", "additionalProperties": { "type": "string" } }));
    }
}
