//! Django REST framework's answers, shared by the DRF-based surfaces: the one place where the
//! core's errors become DRF's shapes — `{"field": ["message"]}` for validation,
//! `{"detail": "..."}` for the rest — and where request bodies (JSON or a form) and the
//! `Authorization` header are read the way DRF reads them.

use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use gatehouse_core::error::Conflict;
use gatehouse_core::CoreError;
use gatehouse_core::Principal;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use crate::api::extract::bearer_token;
use crate::state::AppState;

/// An error answered in DRF's shape.
#[derive(Debug)]
pub enum DrfError {
    Core(CoreError),
    /// The body itself is unusable.
    Body(StatusCode, String),
}

impl From<CoreError> for DrfError {
    fn from(error: CoreError) -> Self {
        DrfError::Core(error)
    }
}

/// DRF words a login that cannot be tried as the JSON API does.
impl From<gatehouse_core::requests::InvalidLogin> for DrfError {
    fn from(invalid: gatehouse_core::requests::InvalidLogin) -> Self {
        DrfError::Core(crate::api::error::invalid_login(invalid))
    }
}

impl DrfError {
    /// The messages DRF (and djangorestframework-jwt) use for these cases.
    fn body(&self) -> (StatusCode, Value) {
        let detail = |message: &str| json!({ "detail": message });
        match self {
            DrfError::Body(status, message) => (*status, detail(message)),
            DrfError::Core(error) => {
                let status = crate::api::error::status_of(error);
                let body = match error {
                    CoreError::Validation { fields, .. } if !fields.is_empty() => json!(fields),
                    CoreError::Conflict(conflict) => conflict_body(*conflict),
                    CoreError::InvalidCredentials => {
                        json!({ "non_field_errors": ["Unable to log in with provided credentials."] })
                    }
                    CoreError::Unauthenticated => detail("Authentication credentials were not provided."),
                    CoreError::Forbidden => detail("You do not have permission to perform this action."),
                    CoreError::Throttled { retry_after_secs } => {
                        detail(&format!("Request was throttled. Expected available in {retry_after_secs} seconds."))
                    }
                    CoreError::InvalidLink => json!({ "token": ["Invalid token for given user."] }),
                    other => detail(&other.to_string()),
                };
                // Validation and credential errors are 400 in DRF (never 401 for a bad login).
                let status =
                    if matches!(error, CoreError::InvalidCredentials) { StatusCode::BAD_REQUEST } else { status };
                (status, body)
            }
        }
    }
}

/// DRF's wording of a conflict: a unique field's validator message under that field
/// (`{"email": ["..."]}`), anything else as `detail`.
fn conflict_body(conflict: Conflict) -> Value {
    match conflict {
        Conflict::Email => json!({ "email": ["A user with that email already exists."] }),
        Conflict::Username => json!({ "username": ["A user with that username already exists."] }),
        Conflict::LastSuperuser => {
            json!({ "detail": "This is the last active superuser: make another superuser first." })
        }
        Conflict::EnrolmentInProgress => json!({ "detail": "Another enrolment is in progress; try again." }),
    }
}

impl IntoResponse for DrfError {
    fn into_response(self) -> Response {
        let (status, body) = self.body();
        let mut response = (status, Json(body)).into_response();
        if let DrfError::Core(error) = &self {
            if let Some(retry_after_secs) = error.retry_after_secs() {
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("JWT realm=\"api\""));
        }
        response
    }
}

/// DRF's "This field is required." for a field that did not come.
pub fn required(field: &str, value: Option<String>) -> Result<String, CoreError> {
    value.filter(|v| !v.is_empty()).ok_or_else(|| CoreError::field(field, "This field is required."))
}

/// A request body as DRF's parsers take it: JSON, or a form (`application/x-www-form-urlencoded`).
/// An empty body is an empty object.
pub struct DrfBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for DrfBody<T> {
    type Rejection = DrfError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|e| DrfError::Body(e.status(), e.body_text()))?;
        let parsed = if bytes.iter().all(u8::is_ascii_whitespace) {
            serde_json::from_value(json!({})).map_err(|e| e.to_string())
        } else if is_form {
            serde_urlencoded::from_bytes(&bytes).map_err(|e| e.to_string())
        } else {
            serde_json::from_slice(&bytes).map_err(|e| format!("JSON parse error - {e}"))
        };
        parsed.map(DrfBody).map_err(|message| DrfError::Body(StatusCode::BAD_REQUEST, message))
    }
}

/// Path parameters; one that cannot be read (not UTF-8 once decoded) is a 400 in DRF's shape.
pub struct DrfPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for DrfPath<T> {
    type Rejection = DrfError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| DrfPath(value))
            .map_err(|e| DrfError::Body(StatusCode::BAD_REQUEST, e.body_text()))
    }
}

/// A query string as DRF reads it; a value it cannot use is a 400 in DRF's shape.
pub struct DrfQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for DrfQuery<T> {
    type Rejection = DrfError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        serde_urlencoded::from_str(parts.uri.query().unwrap_or_default())
            .map(DrfQuery)
            .map_err(|e| DrfError::Body(StatusCode::BAD_REQUEST, e.to_string()))
    }
}

/// A caller with a valid token (`Authorization: JWT <token>`, or `Bearer`), whatever it
/// still owes: what the second step of logging in accepts.
pub struct TokenUser(pub Principal);

impl FromRequestParts<AppState> for TokenUser {
    type Rejection = DrfError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = bearer_token(parts).ok_or(CoreError::Unauthenticated)?;
        let principal = state.core.sessions().authenticate_access_token(token).await.map_err(|e| match e {
            // djangorestframework-jwt: a bad or expired token is "not authenticated" too.
            CoreError::Unauthenticated => DrfError::Core(CoreError::Unauthenticated),
            other => DrfError::Core(other),
        })?;
        Ok(TokenUser(principal))
    }
}

/// A caller who completed logging in (a user with a verified device has passed the second
/// step): what every other view needs.
pub struct DrfUser(pub Principal);

impl FromRequestParts<AppState> for DrfUser {
    type Rejection = DrfError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let TokenUser(principal) = TokenUser::from_request_parts(parts, state).await?;
        Ok(DrfUser(principal.completed()?))
    }
}

/// django-otp's `IsOtpVerified`: the token proves a second factor (aal2); 403 otherwise.
pub struct OtpVerifiedUser(pub Principal);

impl FromRequestParts<AppState> for OtpVerifiedUser {
    type Rejection = DrfError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let DrfUser(principal) = DrfUser::from_request_parts(parts, state).await?;
        principal.require_aal2().map_err(|_| CoreError::Forbidden)?;
        Ok(OtpVerifiedUser(principal))
    }
}
