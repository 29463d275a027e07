use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Gatehouse: a self-hosted account and authentication server.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about)]
pub struct Cli {
    /// A TOML file of settings (same names as the GATEHOUSE_* variables, in lower case).
    #[arg(long, global = true, env = "GATEHOUSE_CONFIG")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply migrations and serve the web app and the API (the default).
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate,
    /// Create a superuser (interactive unless --no-input).
    Createsuperuser(CreateSuperuserArgs),
    /// Check the configuration, the database and the mail settings, then exit.
    Check,
}

#[derive(Debug, Default, Args)]
pub struct ServeArgs {
    /// Listen address (overrides GATEHOUSE_BIND).
    #[arg(long)]
    pub bind: Option<String>,
    /// PEM certificate chain for HTTPS (overrides GATEHOUSE_TLS_CERT).
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for HTTPS (overrides GATEHOUSE_TLS_KEY).
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CreateSuperuserArgs {
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub username: Option<String>,
    /// The password (for scripts; interactive use prompts without echo instead).
    #[arg(long)]
    pub password: Option<String>,
    /// Never prompt; fail if a value is missing.
    #[arg(long)]
    pub no_input: bool,
}
