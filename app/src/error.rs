//! The web app's one error type for server functions. It crosses the wire (JSON), also in the
//! URL of a redirect when a form was posted without JavaScript, so pages can show it either way.

use std::collections::BTreeMap;

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::strength::StrengthView;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum AppError {
    /// A rule said no: `code` is the core's error code, `fields` the per-field messages.
    #[error("{message}")]
    Rejected {
        code: String,
        message: String,
        fields: BTreeMap<String, Vec<String>>,
        /// The password meter's reading of the new password a refused form carried, so the
        /// page shows it again (see `server_fns::profile::ssr::with_strength`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        strength: Option<Box<StrengthView>>,
    },
    /// The call itself failed (network, server function plumbing).
    #[error("Something went wrong, please try again. ({0})")]
    Transport(String),
}

impl AppError {
    pub fn code(&self) -> &str {
        match self {
            AppError::Rejected { code, .. } => code,
            AppError::Transport(_) => "transport",
        }
    }

    /// The messages for one form field, joined.
    pub fn field(&self, name: &str) -> Option<String> {
        match self {
            AppError::Rejected { fields, .. } => fields.get(name).map(|m| m.join(" ")),
            AppError::Transport(_) => None,
        }
    }

    /// The message to show above a form: the general one, unless the field messages say it all.
    pub fn summary(&self) -> Option<String> {
        match self {
            AppError::Rejected { fields, .. } if !fields.is_empty() => None,
            other => Some(other.to_string()),
        }
    }

    /// The password meter's reading that came back with a failed submit.
    pub fn strength(&self) -> Option<StrengthView> {
        match self {
            AppError::Rejected { strength, .. } => strength.as_deref().cloned(),
            AppError::Transport(_) => None,
        }
    }
}

impl FromServerFnError for AppError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        if matches!(value, ServerFnErrorErr::Args(_) | ServerFnErrorErr::MissingArg(_)) {
            answer_with_status(400);
        }
        AppError::Transport(value.to_string())
    }
}

/// The status a page or server function answers with for each core error (the web face's
/// own map; the JSON API has its own in the server crate).
#[cfg(feature = "ssr")]
fn status_of(error: &gatehouse_core::CoreError) -> u16 {
    use gatehouse_core::CoreError;
    match error {
        CoreError::Validation { .. } | CoreError::InvalidLink => 400,
        CoreError::InvalidCredentials | CoreError::Unauthenticated => 401,
        CoreError::EmailNotVerified
        | CoreError::Forbidden
        | CoreError::SecondFactorRequired
        | CoreError::Aal2Required => 403,
        CoreError::NotFound => 404,
        CoreError::Conflict(_) => 409,
        CoreError::Throttled { .. } => 429,
        CoreError::Overloaded { .. } | CoreError::DatabaseUnavailable | CoreError::StorageFull => 503,
        CoreError::Internal(_) => 500,
    }
}

#[cfg(feature = "ssr")]
impl From<gatehouse_core::CoreError> for AppError {
    fn from(error: gatehouse_core::CoreError) -> Self {
        answer_with_status(status_of(&error));
        if let gatehouse_core::CoreError::Conflict(conflict) = error {
            return conflict_error(conflict);
        }
        AppError::Rejected {
            code: error.code().to_string(),
            message: error.to_string(),
            fields: error.fields().cloned().unwrap_or_default(),
            strength: None,
        }
    }
}

/// The web app's wording of a conflict: the message above the form, and under the field it
/// is about.
#[cfg(feature = "ssr")]
fn conflict_error(conflict: gatehouse_core::error::Conflict) -> AppError {
    use gatehouse_core::error::Conflict;
    let message = match conflict {
        Conflict::Email => "A user with that email already exists.",
        Conflict::Username => "A user with that username already exists.",
        Conflict::LastSuperuser => "This is the last active superuser: make another superuser first.",
        Conflict::EnrolmentInProgress => "Another enrolment is in progress; try again.",
    };
    AppError::Rejected {
        code: gatehouse_core::CoreError::Conflict(conflict).code().to_string(),
        message: message.to_string(),
        fields: conflict.field().map(|field| (field.to_string(), vec![message.to_string()])).into_iter().collect(),
        strength: None,
    }
}

/// The web app's words for what the core says is wrong with a field without wording it.
#[cfg(feature = "ssr")]
fn problem_words(problem: gatehouse_core::requests::FieldProblem) -> String {
    use gatehouse_core::requests::FieldProblem;
    match problem {
        FieldProblem::Blank => "This field may not be blank.".into(),
        FieldProblem::TooLong { max } => format!("Ensure this field has no more than {max} characters."),
    }
}

/// A login that cannot be tried: under the login form's fields, `username` and `password`.
#[cfg(feature = "ssr")]
impl From<gatehouse_core::requests::InvalidLogin> for AppError {
    fn from(invalid: gatehouse_core::requests::InvalidLogin) -> Self {
        let mut fields = gatehouse_core::FieldErrors::new();
        for (field, problem) in [("username", invalid.identifier), ("password", invalid.password)] {
            if let Some(problem) = problem {
                fields.insert(field.into(), vec![problem_words(problem)]);
            }
        }
        gatehouse_core::CoreError::validation(fields).into()
    }
}

/// Answers a script's call with the error's real status (server functions would say 500 for
/// every error). A plain form post keeps its redirect back to the page, which carries the error.
#[cfg(feature = "ssr")]
fn answer_with_status(status: u16) {
    use leptos::prelude::use_context;
    let form_post = use_context::<axum::http::request::Parts>().is_some_and(|parts| {
        parts
            .headers
            .get(axum::http::header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
    });
    if let (false, Some(response), Ok(status)) =
        (form_post, use_context::<leptos_axum::ResponseOptions>(), axum::http::StatusCode::from_u16(status))
    {
        response.set_status(status);
    }
}

#[cfg(all(test, feature = "ssr"))]
mod status_tests {
    use gatehouse_core::CoreError;

    use super::status_of;

    #[test]
    fn pages_answer_each_core_error_with_its_status() {
        let cases = [
            (CoreError::field("email", "bad"), 400),
            (CoreError::InvalidLink, 400),
            (CoreError::InvalidCredentials, 401),
            (CoreError::Unauthenticated, 401),
            (CoreError::EmailNotVerified, 403),
            (CoreError::Aal2Required, 403),
            (CoreError::NotFound, 404),
            (CoreError::Conflict(gatehouse_core::error::Conflict::Username), 409),
            (CoreError::Throttled { retry_after_secs: 3 }, 429),
            (CoreError::Overloaded { retry_after_secs: 1 }, 503),
            (CoreError::DatabaseUnavailable, 503),
            (CoreError::StorageFull, 503),
            (CoreError::Internal("x".into()), 500),
        ];
        for (error, status) in cases {
            assert_eq!(status_of(&error), status, "{error:?}");
        }
    }
}
