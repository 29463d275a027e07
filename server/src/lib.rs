//! The `gatehouse` binary's library half: start-up, CLI, the JSON API and the web app's
//! server side. Integration tests start the real server through [`startup::Application`].

pub mod api;
pub mod assets;
pub mod check;
pub mod cli;
pub mod compat;
pub mod cookies;
pub mod health;
pub mod metrics;
pub mod paths;
pub mod request_context;
pub mod security_headers;
pub mod serve;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;

/// One line per field problem, for the CLI; a conflict worded as the JSON API words it.
pub fn describe_fields(error: &gatehouse_core::CoreError) -> String {
    if let gatehouse_core::CoreError::Conflict(conflict) = error {
        let message = api::error::conflict_message(*conflict);
        return match conflict.field() {
            Some(field) => format!("{field}: {message}"),
            None => message.to_string(),
        };
    }
    match error.fields() {
        Some(fields) => fields
            .iter()
            .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
            .collect::<Vec<_>>()
            .join("\n"),
        None => error.to_string(),
    }
}

/// An import's refusal, for the CLI: a user that collides with another is named with the
/// conflict worded as the JSON API words it.
pub fn describe_import_error(error: &gatehouse_core::django_import::ImportError) -> String {
    use gatehouse_core::django_import::ImportError;
    use gatehouse_core::CoreError;
    match error {
        ImportError::Rejected { index, pk, source: CoreError::Conflict(conflict) } => {
            format!("object #{index} (pk {pk}): {}", api::error::conflict_message(*conflict))
        }
        ImportError::Core(CoreError::Conflict(conflict)) => api::error::conflict_message(*conflict).to_string(),
        other => other.to_string(),
    }
}
