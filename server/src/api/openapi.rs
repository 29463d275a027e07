//! The OpenAPI 3.1 document of `/api/v1` — generated from the handlers' `#[utoipa::path]`
//! attributes and the types they take and return — and Swagger UI, both served from the
//! binary (the UI's files are vendored at build time by `utoipa-swagger-ui`'s `vendored`
//! feature: no CDN, no download).

use axum::Router;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use super::error::{ErrorBody, ErrorEnvelope};
use crate::state::AppState;

pub const DOCUMENT_PATH: &str = "/api/v1/openapi.json";
pub const SWAGGER_UI_PATH: &str = "/api/v1/swagger/ui";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Gatehouse API",
        version = "v1",
        description = "Accounts and authentication. Send the access token of `POST /api/v1/auth/token` as \
            `Authorization: Bearer <access>` (or `Authorization: JWT <access>`). In Swagger UI, press \
            Authorize and type `Bearer <access>`. Every path also accepts a trailing slash. Errors always \
            have the shape `{\"error\": {\"code\", \"message\", \"fields\"}}`.",
        license(name = "MIT OR Apache-2.0"),
    ),
    tags(
        (name = "auth", description = "Registration, email confirmation, tokens, passwords"),
        (name = "account", description = "The caller's own account and sessions"),
        (name = "mfa", description = "Two-factor authentication: TOTP and recovery codes"),
        (name = "meta", description = "About the API itself"),
    ),
    components(schemas(ErrorEnvelope, ErrorBody)),
    modifiers(&SecuritySchemes),
)]
struct ApiDoc;

/// The two `Authorization` schemes: `Bearer <token>` and `JWT <token>`. Both are declared as
/// API keys in the header, so Swagger UI's Authorize sends exactly what is typed.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let header = |description: &str| {
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description("Authorization", description)))
        };
        components.add_security_scheme("Bearer", header("`Bearer <access token>`"));
        components.add_security_scheme("JWT", header("`JWT <access token>` (djangorestframework-jwt clients)"));
    }
}

/// The whole document: info, tags, security schemes and shared schemas from [`ApiDoc`], the
/// paths (every one under `/api/v1`) from the routes.
pub fn full_document() -> Document {
    OpenApiRouter::<AppState>::with_openapi(ApiDoc::openapi()).nest("/api/v1", super::routes()).into_openapi()
}

/// `GET /api/v1/openapi.json` and Swagger UI at `/api/v1/swagger/ui/`.
pub fn swagger_ui() -> Router<AppState> {
    // No validator badge: it would send the document to validator.swagger.io.
    let config = utoipa_swagger_ui::Config::from(DOCUMENT_PATH).validator_url("none").persist_authorization(false);
    SwaggerUi::new(SWAGGER_UI_PATH).url(DOCUMENT_PATH, full_document()).config(config).into()
}
