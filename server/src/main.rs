use std::process::ExitCode;

use clap::Parser;
use gatehouse_core::accounts::{Privileges, Registration};
use gatehouse_core::config::RawSettings;
use gatehouse_core::{Gatehouse, Settings};
use gatehouse_server::cli::{Cli, Command, CreateSuperuserArgs, ServeArgs};
use gatehouse_server::startup::Application;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    let overrides = match &command {
        Command::Serve(args) => serve_overrides(args),
        _ => RawSettings::default(),
    };
    let settings = match Settings::load_with(cli.config.as_deref(), overrides) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("gatehouse: {error}");
            return ExitCode::from(2);
        }
    };
    if let Err(reason) = gatehouse_server::telemetry::check_filter(&settings.log) {
        eprintln!("gatehouse: invalid setting GATEHOUSE_LOG: {reason}");
        return ExitCode::from(2);
    }
    gatehouse_server::telemetry::init(&settings.log, settings.log_format);
    for variable in Settings::unknown_env_vars(std::env::vars()) {
        tracing::warn!(variable, "ignoring an environment variable that is not a setting (a typo?)");
    }
    let result = match command {
        Command::Serve(_) => serve(settings).await,
        Command::Migrate => migrate(settings).await,
        Command::Createsuperuser(args) => create_superuser(settings, args).await,
        Command::Check => gatehouse_server::check::run(settings).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("gatehouse: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve_overrides(args: &ServeArgs) -> RawSettings {
    let mut raw = RawSettings::default();
    if let Some(bind) = &args.bind {
        raw.set("bind", bind);
    }
    if let Some(cert) = &args.tls_cert {
        raw.set("tls_cert", cert.display().to_string());
    }
    if let Some(key) = &args.tls_key {
        raw.set("tls_key", key.display().to_string());
    }
    raw
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(settings).await?;
    app.run_until_stopped().await
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let db = gatehouse_core::db::Database::connect(&settings).await?;
    db.migrate().await?;
    println!("migrations applied");
    Ok(())
}

async fn create_superuser(settings: Settings, args: CreateSuperuserArgs) -> anyhow::Result<()> {
    let core = Gatehouse::start(settings).await?;
    let ask = |label: &str, given: Option<String>, secret: bool| -> anyhow::Result<Option<String>> {
        if given.is_some() || args.no_input {
            return Ok(given);
        }
        Ok(Some(if secret {
            rpassword::prompt_password(format!("{label}: "))?
        } else {
            eprint!("{label}: ");
            let mut line = String::new();
            std::io::stdin().read_line(&mut line)?;
            line.trim().to_string()
        }))
    };
    let email = ask("Email", args.email.clone(), false)?
        .ok_or_else(|| anyhow::anyhow!("--email is required with --no-input"))?;
    let username = ask("Username (optional)", args.username.clone(), false)?.filter(|u| !u.is_empty());
    let password = ask("Password", args.password.clone(), true)?
        .ok_or_else(|| anyhow::anyhow!("--password is required with --no-input"))?;
    let registration = Registration::parse(&email, username.as_deref(), &password, core.password_policy())
        .map_err(|e| anyhow::anyhow!("{}", gatehouse_server::describe_fields(&e)))?;
    let user = core
        .create_user(&registration, Privileges { is_staff: true, is_superuser: true }, true)
        .await
        .map_err(|e| anyhow::anyhow!("{}", gatehouse_server::describe_fields(&e)))?;
    println!("superuser {} created (id {})", user.email, user.id);
    Ok(())
}
