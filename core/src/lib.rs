//! The Gatehouse domain core. The web app's server functions, the JSON API and the
//! compatibility surfaces all call its services through [`Gatehouse`]; no rule about
//! accounts, credentials, sessions or mail is written anywhere else.
//!
//! [`Gatehouse`] is wiring only: it builds each service once with exactly what that service
//! uses (its fields say so) and hands them out. Services call one another only downwards:
//! the leaves ([`throttle::Throttle`], [`budgets::Budgets`], [`links::Links`],
//! [`notices::Notices`], [`background::Background`]) call no service;
//! [`credentials::Credentials`] and [`sessions::Sessions`] use leaves only;
//! [`accounts::Accounts`], [`profile::Profiles`] and [`two_factor::TwoFactor`] use those;
//! [`admin::Admin`] uses accounts and credentials.

pub mod accounts;
pub mod admin;
pub mod background;
pub mod budgets;
pub mod clock;
pub mod config;
pub mod context;
pub mod credentials;
pub mod db;
pub mod devices;
pub mod django_hashes;
pub mod django_import;
pub mod domain;
pub mod error;
pub mod history;
pub mod keys;
pub mod links;
pub mod mail;
pub mod metrics;
pub mod notices;
pub mod operations;
pub mod paging;
pub mod password_strength;
pub mod passwords;
pub mod principal;
pub mod principal_cache;
pub mod profile;
pub mod requests;
mod rotations;
pub mod sessions;
pub mod store;
#[cfg(test)]
mod test_fixtures;
pub mod throttle;
pub mod time_format;
pub mod tokens;
pub mod two_factor;
pub mod user_agent;

use std::sync::Arc;

pub use config::Settings;
pub use context::RequestContext;
pub use error::{CoreError, FieldErrors};
pub use principal::Principal;
pub use store::sessions::{Session, SessionKind};
pub use store::users::User;

use accounts::Accounts;
use admin::Admin;
use background::Background;
use budgets::Budgets;
use clock::Clock;
use credentials::Credentials;
use db::Database;
use devices::DeviceKeys;
use django_import::Import;
use domain::PasswordPolicy;
use history::Audit;
use keys::RootKey;
use links::Links;
use mail::Mailer;
use notices::Notices;
use operations::Operations;
use passwords::PasswordHasher;
use profile::Profiles;
use sessions::Sessions;
use throttle::Throttle;
use tokens::{JwtKeys, RefreshKeys};
use two_factor::TwoFactor;

/// The running core: the services, each built once with what it uses. Cheap to clone.
#[derive(Clone)]
pub struct Gatehouse(Arc<Services>);

struct Services {
    settings: Arc<Settings>,
    clock: Clock,
    db: Database,
    mailer: Mailer,
    accounts: Accounts,
    credentials: Credentials,
    sessions: Sessions,
    two_factor: TwoFactor,
    profiles: Profiles,
    admin: Admin,
    audit: Audit,
    import: Import,
    throttle: Throttle,
    budgets: Budgets,
    links: Links,
    operations: Operations,
    /// Tags messages a page is asked to show, so that only the server's own are shown.
    page_messages: keys::Tagger,
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Database(#[from] db::DatabaseError),
    #[error(transparent)]
    Key(#[from] keys::KeyError),
    #[error(transparent)]
    Mail(#[from] mail::MailError),
    #[error(transparent)]
    Core(#[from] CoreError),
}

impl Gatehouse {
    /// Connects, applies migrations, loads (or generates) the secret key and sets up mail.
    pub async fn start(settings: Settings) -> Result<Self, StartupError> {
        Self::start_with_clock(settings, Clock::System).await
    }

    /// Like [`start`](Self::start), telling time by `clock` (tests use a manual one).
    pub async fn start_with_clock(settings: Settings, clock: Clock) -> Result<Self, StartupError> {
        let db = Database::connect(&settings).await?;
        db.migrate().await?;
        let core = Self::with_database(settings, db, clock)?;
        core.import().wrap_stored_django_hashes().await?;
        Ok(core)
    }

    /// Like [`start`](Self::start) but with a database that is already connected and migrated.
    pub fn with_database(settings: Settings, db: Database, clock: Clock) -> Result<Self, StartupError> {
        let root =
            RootKey::load(settings.secret_key.as_ref().map(secrecy::ExposeSecret::expose_secret), &settings.data_dir)?;
        let settings = Arc::new(settings);
        let db = db.with_clock(clock.clone());
        let hasher = PasswordHasher::new(
            settings.argon2_memory_kib,
            settings.argon2_iterations,
            settings.argon2_parallelism,
            settings.hash_concurrency,
            settings.hash_queue_limit,
        );
        let background = Background::new();
        let mailer = Mailer::new(&settings, background.tracker(), clock.clone())?;
        let policy = PasswordPolicy { min_length: settings.password_min_length };
        let principals = Arc::new(principal_cache::PrincipalCache::new(
            settings.principal_cache_ttl,
            settings.principal_cache_outage_grace,
        ));
        let throttle = Throttle::new(db.clone(), clock.clone(), settings.clone());
        let budgets =
            Budgets::new(db.clone(), clock.clone(), settings.clone(), keys::Tagger::new(&root, "budget-keys"));
        let links = Links::new(db.clone(), clock.clone(), settings.clone());
        let notices = Notices::new(mailer.clone(), settings.clone());
        let credentials = Credentials {
            db: db.clone(),
            settings: settings.clone(),
            hasher: hasher.clone(),
            policy: policy.clone(),
            throttle: throttle.clone(),
            budgets: budgets.clone(),
            links: links.clone(),
            notices: notices.clone(),
            background: background.clone(),
        };
        let sessions = Sessions {
            db: db.clone(),
            clock: clock.clone(),
            settings: settings.clone(),
            hasher: hasher.clone(),
            jwt: JwtKeys::new(&root),
            refresh: RefreshKeys::new(&root),
            devices: DeviceKeys::new(&root),
            principals: principals.clone(),
            rotations: Arc::new(rotations::Rotations::new(db.clone())),
            started_at: clock.now_secs(),
            throttle: throttle.clone(),
            budgets: budgets.clone(),
            notices: notices.clone(),
            background: background.clone(),
        };
        let accounts = Accounts {
            db: db.clone(),
            settings: settings.clone(),
            hasher: hasher.clone(),
            credentials: credentials.clone(),
            budgets: budgets.clone(),
            links: links.clone(),
            notices: notices.clone(),
            background: background.clone(),
        };
        let two_factor = TwoFactor {
            db: db.clone(),
            clock: clock.clone(),
            settings: settings.clone(),
            keys: two_factor::TwoFactorKeys::new(&root),
            throttle: throttle.clone(),
            notices: notices.clone(),
            sessions: sessions.clone(),
        };
        let profiles = Profiles {
            db: db.clone(),
            clock: clock.clone(),
            settings: settings.clone(),
            principals,
            credentials: credentials.clone(),
            budgets: budgets.clone(),
            links: links.clone(),
            notices: notices.clone(),
        };
        let admin = Admin {
            db: db.clone(),
            hasher: hasher.clone(),
            accounts: accounts.clone(),
            credentials: credentials.clone(),
            notices,
        };
        let audit = Audit { db: db.clone(), clock: clock.clone(), settings: settings.clone() };
        let import = Import { db: db.clone(), settings: settings.clone(), hasher: hasher.clone() };
        let operations = Operations::new(db.clone(), clock.clone(), mailer.clone(), hasher, background);
        Ok(Self(Arc::new(Services {
            page_messages: keys::Tagger::new(&root, "page-messages"),
            settings,
            clock,
            db,
            mailer,
            accounts,
            credentials,
            sessions,
            two_factor,
            profiles,
            admin,
            audit,
            import,
            throttle,
            budgets,
            links,
            operations,
        })))
    }

    pub fn settings(&self) -> &Settings {
        &self.0.settings
    }

    pub fn database(&self) -> &Database {
        &self.0.db
    }

    pub fn clock(&self) -> &Clock {
        &self.0.clock
    }

    pub fn mailer(&self) -> &Mailer {
        &self.0.mailer
    }

    /// Sign-up, email verification, deleting one's own account.
    pub fn accounts(&self) -> &Accounts {
        &self.0.accounts
    }

    /// Passwords: the policy, changing one, resetting one by mail.
    pub fn credentials(&self) -> &Credentials {
        &self.0.credentials
    }

    /// Logging in and out, tokens and their refresh, turning a credential into a principal.
    pub fn sessions(&self) -> &Sessions {
        &self.0.sessions
    }

    /// TOTP devices and recovery codes.
    pub fn two_factor(&self) -> &TwoFactor {
        &self.0.two_factor
    }

    /// One's own profile and email address.
    pub fn profiles(&self) -> &Profiles {
        &self.0.profiles
    }

    /// Staff and superusers managing other accounts.
    pub fn admin(&self) -> &Admin {
        &self.0.admin
    }

    /// The security history.
    pub fn audit(&self) -> &Audit {
        &self.0.audit
    }

    /// Django's users brought in.
    pub fn import(&self) -> &Import {
        &self.0.import
    }

    /// Login throttling (its periodic purge).
    pub fn throttle(&self) -> &Throttle {
        &self.0.throttle
    }

    /// Per-address and per-client hourly budgets (their periodic purge).
    pub fn budgets(&self) -> &Budgets {
        &self.0.budgets
    }

    /// The pages mailed links open.
    pub fn links(&self) -> &Links {
        &self.0.links
    }

    /// What operators watch: gauges, readiness, background work at shutdown, hashing load.
    pub fn operations(&self) -> &Operations {
        &self.0.operations
    }

    /// A tag proving that this server made `message` for the page action `source` (a form's
    /// error carried back to its page in the URL): see [`Gatehouse::is_own_page_message`].
    pub fn page_message_tag(&self, source: &str, message: &str) -> String {
        self.0.page_messages.tag(&[source, message])
    }

    /// Whether `tag` is this server's tag for `message` from `source`: a page shows a message
    /// from its URL only then, so a crafted link cannot put words of its own on the page.
    pub fn is_own_page_message(&self, source: &str, message: &str, tag: &str) -> bool {
        self.0.page_messages.verify(&[source, message], tag)
    }
}
