//! `gatehouse check`: configuration, database and mail, each reported on its own line.

use gatehouse_core::db::Database;
use gatehouse_core::mail::Mailer;
use gatehouse_core::Settings;

pub async fn run(settings: Settings) -> anyhow::Result<()> {
    println!("configuration: ok (listening on {}, public URL {})", settings.bind, settings.public_url());
    let db = Database::connect(&settings).await?;
    anyhow::ensure!(db.ping().await, "database: not answering");
    println!("database: ok ({:?})", db.backend);
    match crate::startup::tls_config(&settings).await? {
        Some(_) => println!("tls: certificate and key load"),
        None => println!("tls: off (plain HTTP)"),
    }
    let mailer = Mailer::new(&settings, Default::default(), gatehouse_core::clock::Clock::System)?;
    match mailer.test_connection().await {
        None => println!("mail: console and outbox at {}", settings.outbox_dir().display()),
        Some(Ok(true)) => println!("mail: SMTP server answers"),
        Some(Ok(false)) => anyhow::bail!("mail: the SMTP server refused the connection"),
        Some(Err(error)) => anyhow::bail!("mail: {error}"),
    }
    Ok(())
}
