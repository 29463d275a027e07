//! The `gatehouse` binary's library half: start-up, CLI, the JSON API and the web app's
//! server side. Integration tests start the real server through [`startup::Application`].

pub mod api;
pub mod assets;
pub mod check;
pub mod cli;
pub mod compat;
pub mod health;
pub mod metrics;
pub mod request_context;
pub mod security_headers;
pub mod serve;
pub mod shutdown;
pub mod startup;
pub mod state;
pub mod telemetry;
pub mod web;

/// One line per field problem, for the CLI.
pub fn describe_fields(error: &gatehouse_core::CoreError) -> String {
    match error.fields() {
        Some(fields) => fields
            .iter()
            .map(|(field, messages)| format!("{field}: {}", messages.join(" ")))
            .collect::<Vec<_>>()
            .join("\n"),
        None => error.to_string(),
    }
}
