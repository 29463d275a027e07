use std::process::ExitCode;

use clap::Parser;
use gatehouse_core::accounts::{Privileges, Registration};
use gatehouse_core::config::RawSettings;
use gatehouse_core::{Gatehouse, Settings};
use gatehouse_server::cli::{Cli, Command, CreateSuperuserArgs, ImportDjangoArgs, MailCommand, ServeArgs, Verified};
use gatehouse_server::startup::Application;

/// mimalloc rather than the system allocator: a request allocates and frees many small
/// objects across threads, and glibc's malloc was a tenth of a refresh's CPU (README,
/// "Benchmark").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(ServeArgs::default()));
    let overrides = match &command {
        Command::Serve(args) => serve_overrides(args),
        _ => RawSettings::default(),
    };
    let loaded = Settings::load_with(cli.config.as_deref(), overrides)
        .and_then(|settings| gatehouse_server::paths::check_settings(&settings).map(|()| settings));
    let settings = match loaded {
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
        Command::ImportDjango(args) => import_django(settings, args).await,
        Command::Mail(MailCommand::Retry) => mail_retry(settings).await,
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

async fn mail_retry(settings: Settings) -> anyhow::Result<()> {
    let mailer = gatehouse_core::mail::Mailer::new(&settings, Default::default(), Default::default())?;
    let moved = mailer.retry_failed().await?;
    println!("{moved} messages moved from outbox/failed to outbox/pending");
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
    let registration = Registration::parse(&email, username.as_deref(), &password, core.credentials().policy())
        .map_err(|e| anyhow::anyhow!("{}", gatehouse_server::describe_fields(&e)))?;
    let user = core
        .accounts()
        .create_user(&registration, Privileges { is_staff: true, is_superuser: true }, true)
        .await
        .map_err(|e| anyhow::anyhow!("{}", gatehouse_server::describe_fields(&e)))?;
    println!("superuser {} created (id {})", user.email, user.id);
    Ok(())
}

async fn import_django(settings: Settings, args: ImportDjangoArgs) -> anyhow::Result<()> {
    use gatehouse_core::django_import::{ImportOptions, VerifiedPolicy};
    use std::io::Read as _;
    let mut dump = String::new();
    if args.file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut dump)?;
    } else {
        dump = std::fs::read_to_string(&args.file)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", args.file.display()))?;
    }
    let verified = match args.verified {
        Verified::Active => VerifiedPolicy::Active,
        Verified::All => VerifiedPolicy::All,
        Verified::None => VerifiedPolicy::None,
    };
    let core = Gatehouse::start(settings).await?;
    let report = core
        .import()
        .import_django(&dump, ImportOptions { dry_run: args.dry_run, verified })
        .await
        .map_err(|e| anyhow::anyhow!("{}; nothing was imported", gatehouse_server::describe_import_error(&e)))?;
    let users = report.created + report.updated + report.unchanged + report.skipped_without_email.len();
    println!(
        "{users} users: {} created, {} updated, {} unchanged, {} skipped; {} other objects ignored",
        report.created,
        report.updated,
        report.unchanged,
        report.skipped_without_email.len(),
        report.other_objects
    );
    if !report.skipped_without_email.is_empty() {
        let pks: Vec<String> = report.skipped_without_email.iter().map(i64::to_string).collect();
        println!("skipped (no email address; a Gatehouse account needs one): pk {}", pks.join(", "));
    }
    for (pk, name) in &report.usernames_dropped {
        println!("pk {pk}: username {name:?} is not usable here (letters, digits and . _ - + only); they log in with their email");
    }
    if report.dry_run {
        println!("dry run: nothing was written");
    }
    Ok(())
}
