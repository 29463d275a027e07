//! The JSON API's one error type and its one wire shape:
//! `{"error": {"code": "...", "message": "...", "fields": {...}}}`.

use axum::extract::rejection::JsonRejection;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_core::error::Conflict;
use gatehouse_core::requests::{FieldProblem, InvalidLogin};
use gatehouse_core::{CoreError, FieldErrors};
use serde::Serialize;

#[derive(Debug)]
pub enum ApiError {
    Core(CoreError),
    /// The request itself is unusable: bad JSON, wrong content type, body too large, ...
    BadRequest {
        status: StatusCode,
        code: &'static str,
        message: String,
    },
}

impl From<CoreError> for ApiError {
    fn from(error: CoreError) -> Self {
        ApiError::Core(error)
    }
}

/// DRF's words for what the core says is wrong with a field without wording it; the JSON API
/// and the Django surfaces say it alike.
pub fn problem_words(problem: FieldProblem) -> String {
    match problem {
        FieldProblem::Blank => "This field may not be blank.".into(),
        FieldProblem::TooLong { max } => format!("Ensure this field has no more than {max} characters."),
    }
}

/// A login that cannot be tried, worded: the identifier's problem under `username` (whatever
/// the body called it), the password's under `password`.
pub fn invalid_login(invalid: InvalidLogin) -> CoreError {
    let mut fields = FieldErrors::new();
    for (field, problem) in [("username", invalid.identifier), ("password", invalid.password)] {
        if let Some(problem) = problem {
            fields.insert(field.into(), vec![problem_words(problem)]);
        }
    }
    CoreError::validation(fields)
}

impl From<InvalidLogin> for ApiError {
    fn from(invalid: InvalidLogin) -> Self {
        ApiError::Core(invalid_login(invalid))
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        let (status, code) = match &rejection {
            JsonRejection::MissingJsonContentType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            JsonRejection::JsonSyntaxError(_) => (StatusCode::BAD_REQUEST, "parse_error"),
            JsonRejection::JsonDataError(_) => (StatusCode::BAD_REQUEST, "validation_error"),
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
            }
            _ => (StatusCode::BAD_REQUEST, "bad_request"),
        };
        ApiError::BadRequest { status, code, message: rejection.body_text() }
    }
}

impl From<axum::extract::rejection::QueryRejection> for ApiError {
    fn from(rejection: axum::extract::rejection::QueryRejection) -> Self {
        ApiError::BadRequest {
            status: StatusCode::BAD_REQUEST,
            code: "validation_error",
            message: rejection.body_text(),
        }
    }
}

impl ApiError {
    /// A body that is not the JSON expected: syntax errors are `parse_error`, wrong shapes
    /// `validation_error`, as for [`JsonRejection`].
    pub fn from_json_error(error: serde_json::Error) -> Self {
        let code = if error.is_data() { "validation_error" } else { "parse_error" };
        ApiError::BadRequest { status: StatusCode::BAD_REQUEST, code, message: error.to_string() }
    }

    pub fn from_body_rejection(rejection: axum::extract::rejection::BytesRejection) -> Self {
        let (status, code) = if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
        } else {
            (StatusCode::BAD_REQUEST, "bad_request")
        };
        ApiError::BadRequest { status, code, message: rejection.body_text() }
    }

    pub fn not_found() -> Self {
        ApiError::BadRequest { status: StatusCode::NOT_FOUND, code: "not_found", message: "Not found.".into() }
    }

    pub fn method_not_allowed() -> Self {
        ApiError::BadRequest {
            status: StatusCode::METHOD_NOT_ALLOWED,
            code: "method_not_allowed",
            message: "Method not allowed.".into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { status, .. } => *status,
            ApiError::Core(error) => status_of(error),
        }
    }
}

/// The HTTP status of each core error: the JSON API's, which the compatibility surfaces
/// start from and re-shape in their own modules.
pub fn status_of(error: &CoreError) -> StatusCode {
    match error {
        CoreError::Validation { .. } | CoreError::InvalidLink => StatusCode::BAD_REQUEST,
        CoreError::InvalidCredentials | CoreError::Unauthenticated => StatusCode::UNAUTHORIZED,
        CoreError::EmailNotVerified
        | CoreError::Forbidden
        | CoreError::SecondFactorRequired
        | CoreError::Aal2Required => StatusCode::FORBIDDEN,
        CoreError::NotFound => StatusCode::NOT_FOUND,
        CoreError::Conflict(_) => StatusCode::CONFLICT,
        CoreError::Throttled { .. } => StatusCode::TOO_MANY_REQUESTS,
        CoreError::Overloaded { .. } | CoreError::DatabaseUnavailable | CoreError::StorageFull => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        CoreError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// How the API words each conflict the core reports (the CLI says it the same way).
pub fn conflict_message(conflict: Conflict) -> &'static str {
    match conflict {
        Conflict::Email => "A user with that email already exists.",
        Conflict::Username => "A user with that username already exists.",
        Conflict::LastSuperuser => "This is the last active superuser: make another superuser first.",
        Conflict::EnrolmentInProgress => "Another enrolment is in progress; try again.",
    }
}

/// A conflict's message under the field it is about (none for the others: an empty map).
pub fn conflict_fields(conflict: Conflict) -> FieldErrors {
    conflict
        .field()
        .map(|field| (field.to_string(), vec![conflict_message(conflict).to_string()]))
        .into_iter()
        .collect()
}

/// Every error the API answers: one shape, whatever the status.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(example = json!({"error": {"code": "validation_error", "message": "Some fields are not valid.", "fields": {"password": ["This password is too common."]}}}))]
pub struct ErrorEnvelope {
    pub error: ErrorBody,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Stable and machine-readable: `validation_error`, `invalid_credentials`, `throttled`, ...
    pub code: String,
    /// For people; may change between versions.
    pub message: String,
    /// Messages per input field, for validation errors; otherwise null.
    #[schema(required = true, value_type = Option<std::collections::HashMap<String, Vec<String>>>)]
    pub fields: Option<FieldErrors>,
}

impl ApiError {
    fn core(&self) -> Option<&CoreError> {
        match self {
            ApiError::Core(error) => Some(error),
            ApiError::BadRequest { .. } => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let (code, message, fields) = match &self {
            ApiError::Core(CoreError::Conflict(conflict)) => (
                CoreError::Conflict(*conflict).code(),
                conflict_message(*conflict).to_string(),
                Some(conflict_fields(*conflict)),
            ),
            ApiError::Core(error) => (error.code(), error.to_string(), error.fields().cloned()),
            ApiError::BadRequest { code, message, .. } => (*code, message.clone(), None),
        };
        let body = ErrorEnvelope { error: ErrorBody { code: code.to_string(), message, fields } };
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        if let Some(retry_after_secs) = self.core().and_then(CoreError::retry_after_secs) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"api\""));
        }
        response
    }
}

/// The answer when a handler panicked: still the API's JSON shape, never a dropped connection.
pub fn panic_response(_panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    ApiError::Core(CoreError::Internal("panic".into())).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_error_has_its_status() {
        let cases = [
            (CoreError::field("email", "bad"), 400),
            (CoreError::InvalidLink, 400),
            (CoreError::Conflict(Conflict::Email), 409),
            (CoreError::Conflict(Conflict::LastSuperuser), 409),
            (CoreError::InvalidCredentials, 401),
            (CoreError::Unauthenticated, 401),
            (CoreError::EmailNotVerified, 403),
            (CoreError::Forbidden, 403),
            (CoreError::SecondFactorRequired, 403),
            (CoreError::Aal2Required, 403),
            (CoreError::NotFound, 404),
            (CoreError::Throttled { retry_after_secs: 3 }, 429),
            (CoreError::Overloaded { retry_after_secs: 1 }, 503),
            (CoreError::DatabaseUnavailable, 503),
            (CoreError::StorageFull, 503),
            (CoreError::Internal("x".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(status_of(&error).as_u16(), status, "{error:?}");
        }
    }

    #[test]
    fn a_conflict_is_worded_under_its_field() {
        let email = conflict_fields(Conflict::Email);
        assert_eq!(email["email"], vec!["A user with that email already exists.".to_string()]);
        assert_eq!(conflict_fields(Conflict::Username).keys().collect::<Vec<_>>(), ["username"]);
        assert!(conflict_fields(Conflict::LastSuperuser).is_empty());
        assert!(conflict_message(Conflict::LastSuperuser).contains("last active superuser"));
    }
}
