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
    /// Import users from a Django `manage.py dumpdata` JSON file (auth.User or a custom user
    /// model with the same fields). All or nothing; running it again updates, never duplicates.
    ImportDjango(ImportDjangoArgs),
    /// Mail kept in the outbox.
    #[command(subcommand)]
    Mail(MailCommand),
}

#[derive(Debug, Subcommand)]
pub enum MailCommand {
    /// Move every message in `<data dir>/outbox/failed/` back to `outbox/pending/` with a
    /// fresh retry schedule; a running server sends them at its next pass (within 30 s).
    Retry,
}

#[derive(Debug, Args)]
pub struct ImportDjangoArgs {
    /// The dumpdata JSON file (`-` for standard input).
    pub file: PathBuf,
    /// Check the file and report what would happen, writing nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Which users count as having confirmed their email: `active` (default), `all` or `none`.
    #[arg(long, value_enum, default_value_t = Verified::Active)]
    pub verified: Verified,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Verified {
    Active,
    All,
    None,
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
