//! Settings: `GATEHOUSE_*` environment variables over an optional TOML file over defaults.
//!
//! [`Settings`] is the one list of settings: it is deserialized (by the `config` crate) from
//! the TOML file, the environment and command-line overrides, with `deny_unknown_fields`, so a
//! setting exists exactly when it is a field here. The environment is read for exactly these
//! field names (upper-cased, with the prefix). After deserializing, [`Settings::check`] applies
//! the rules no type can express; every error names the variable to fix.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Config, Environment, File, FileFormat};
use ipnet::IpNet;
use secrecy::ExposeSecret;
use serde::Deserialize;

/// Environment variable prefix of every setting.
pub const ENV_PREFIX: &str = "GATEHOUSE_";

/// `GATEHOUSE_*` variables that are not settings but are read by scripts and tests.
const NOT_SETTINGS: &[&str] = &["config", "test_database_url", "test_pg_admin_url", "skip_postgres"];

#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {reason}")]
pub struct ConfigError {
    /// The environment variable name, e.g. `GATEHOUSE_BIND`.
    pub setting: String,
    pub reason: String,
}

impl ConfigError {
    /// The setting `key` (e.g. `bind`), refused for `reason`; also for the rules the server
    /// checks itself (the URL paths it serves: `gatehouse_server::paths`).
    pub fn new(key: &str, reason: impl Into<String>) -> Self {
        Self { setting: env_name(key), reason: reason.into() }
    }

    /// Names the setting behind an error of the `config` crate.
    fn from_loader(error: config::ConfigError) -> Self {
        use config::ConfigError as E;
        let key = match &error {
            E::Type { key: Some(key), .. } | E::At { key: Some(key), .. } => Some(key.clone()),
            _ => None,
        };
        let message = error.to_string();
        let key = key.or_else(|| {
            // serde's "unknown field `x`, expected one of ..." carries the name in its text.
            message.strip_prefix("unknown field `").and_then(|rest| rest.split('`').next()).map(str::to_string)
        });
        match key {
            Some(key) => Self::new(&key, message),
            None => Self { setting: "configuration".into(), reason: message },
        }
    }
}

fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP, for a local relay or a test sink.
    None,
    StartTls,
    /// Implicit TLS (SMTPS, usually port 465).
    Tls,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    pub tls: SmtpTls,
}

/// The one header a trusted proxy writes the client's address into. Only that header is read:
/// a proxy passes other forwarding headers through as the client wrote them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx, HAProxy, Traefik, Envoy, most cloud load balancers).
    XForwardedFor,
    /// `Forwarded` (RFC 7239).
    Forwarded,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Every setting, named as in the TOML file; the environment variable is the name upper-cased
/// with the `GATEHOUSE_` prefix. Fields that default to something derived from other settings
/// are `Option`s read through methods of the same name.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: the SQLite file in the data dir ([`Settings::database_url`]).
    database_url: Option<String>,
    /// Base of links in emails; `None`: `http(s)://<bind>` ([`Settings::public_url`]).
    public_url: Option<String>,
    /// The root key as configured; `None` means "generate one into the data dir".
    pub secret_key: Option<Secret>,
    pub smtp_host: Option<String>,
    /// `None`: 25, 587 or 465 by `smtp_tls`.
    pub smtp_port: Option<u16>,
    pub smtp_username: Option<String>,
    pub smtp_password: Option<Secret>,
    #[serde(deserialize_with = "lowercase::deserialize")]
    pub smtp_tls: SmtpTls,
    pub mail_from: String,
    /// Also write every mail to the outbox when SMTP is configured.
    pub mail_outbox_always: bool,
    /// How long after its first attempt an undelivered SMTP message is still retried (from
    /// `outbox/pending/`, backing off); then it is given up to `outbox/failed/`.
    #[serde(with = "duration")]
    pub mail_retry_window: Duration,
    pub site_name: String,
    pub require_email_verification: bool,
    #[serde(with = "duration")]
    pub access_token_ttl: Duration,
    #[serde(with = "duration")]
    pub refresh_token_ttl: Duration,
    #[serde(with = "duration")]
    pub verification_token_ttl: Duration,
    #[serde(with = "duration")]
    pub password_reset_ttl: Duration,
    /// How long security history is kept; older events are deleted hourly.
    #[serde(with = "duration")]
    pub audit_retention: Duration,
    /// How long after a refresh the previous refresh token still yields the current pair (a
    /// client that lost the response, or two tabs racing) instead of counting as reuse.
    #[serde(with = "duration")]
    pub refresh_reuse_grace: Duration,
    /// How long a process may answer authenticated requests from its cache of live sessions
    /// and users without asking the database: the bound for a change made by another process
    /// (this process's own changes apply at once). 0 turns the cache off.
    #[serde(with = "duration")]
    pub principal_cache_ttl: Duration,
    /// While the database cannot be reached, how long past its TTL a cached principal still
    /// answers (if no write of this process made it stale). 0: only within the TTL.
    #[serde(with = "duration")]
    pub principal_cache_outage_grace: Duration,
    /// Failed logins for one account (from browsers it has not seen log in) before delays start.
    pub login_free_attempts_per_account: i64,
    /// Different accounts failing to log in from one address before that address is slowed.
    pub login_free_attempts_per_ip: i64,
    /// Mails of one kind (verification, reset, email change) to one address within any hour,
    /// all surfaces together; requests beyond are answered as usual and send nothing.
    pub mail_per_address_per_hour: usize,
    /// Sign-ups from one client address within any hour, all surfaces together (then 429).
    pub signups_per_ip_per_hour: usize,
    /// Reset, resend-verification and email-change requests from one client address within any
    /// hour, all surfaces together (then 429).
    pub mail_requests_per_ip_per_hour: usize,
    /// Peers whose `Forwarded` / `X-Forwarded-For` headers are believed (addresses or CIDRs).
    #[serde(deserialize_with = "list::deserialize")]
    pub trusted_proxies: Vec<IpRange>,
    /// Which header those proxies write the client's address into.
    #[serde(deserialize_with = "lowercase::deserialize")]
    pub forwarded_header: ForwardedHeader,
    /// Client-supplied link bases (`verification_base_url`) that emails may point at.
    #[serde(deserialize_with = "list::deserialize")]
    pub verification_base_url_allowlist: Vec<String>,
    pub password_min_length: usize,
    /// How many recovery codes one generation hands out.
    pub recovery_code_count: usize,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// How many password hashes may run at once (defaults to the number of cores).
    pub hash_concurrency: usize,
    /// Password hashes that may wait for a hashing thread; past that a request that needs one
    /// is answered 503 with `Retry-After` at once.
    pub hash_queue_limit: usize,
    pub max_body_bytes: usize,
    /// How long a client has to send a request's headers: from the connection's start for
    /// its first request, from the first byte for a later one (then the connection is closed).
    #[serde(with = "duration")]
    pub header_read_timeout: Duration,
    /// How long a connection may sit without a request in flight and without traffic before
    /// it is closed (keep-alive connections between requests, a body that stopped coming).
    #[serde(with = "duration")]
    pub idle_timeout: Duration,
    /// Connections served at once; beyond, a new one is answered 503 and closed at once.
    /// `None`: the open-file limit (raised to its hard limit at start) less a reserve.
    pub max_connections: Option<usize>,
    /// How long a request waits for a database connection (a free one, or a new one to a
    /// database that is down) before it is answered 503 with `Retry-After`.
    #[serde(with = "duration")]
    pub database_acquire_timeout: Duration,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Browser cookies carry `Secure`; `None`: on when the public URL is https.
    secure_cookies: Option<bool>,
    /// A `tracing` filter such as `info` or `gatehouse=debug,info`.
    pub log: String,
    #[serde(deserialize_with = "lowercase::deserialize")]
    pub log_format: LogFormat,
    /// Serve Prometheus metrics at all.
    pub metrics: bool,
    /// Serve `/metrics` on this address instead of the main one.
    pub metrics_bind: Option<SocketAddr>,
    /// On SIGTERM / Ctrl-C, how long in-flight requests may take to finish.
    #[serde(with = "duration")]
    pub shutdown_timeout: Duration,
    /// Serve the djoser + django-otp SPA surface (seeds 000/001: `/api/users/create/`,
    /// `/api/jwt/create/`, `/api/user/...`, `/api/me/`, `/api/totp/...`, `/api/static/...`).
    pub compat_djoser: bool,
    /// Serve the django_rest_jwt_auth surface (seed 002: signup, signin, refresh, restore,
    /// validation, get_user) under `compat_rest_jwt_auth_prefix`.
    pub compat_rest_jwt_auth: bool,
    /// Where that surface's paths start, e.g. `/auth` → `/auth/signin`. The server checks it
    /// against the paths it serves itself (`gatehouse_server::paths`).
    pub compat_rest_jwt_auth_prefix: String,
    /// The client's own page for setting a new password (the package's `PATH_TO_RESTORE`):
    /// `/restore` mails `<url>?token=<token>`. Unset: Gatehouse's own reset page.
    pub compat_rest_jwt_auth_restore_url: Option<String>,
    /// How long after a sign-in that surface's `/refresh` still renews the token (the
    /// package's `JWT_REFRESH_EXPIRATION_DELTA`); after it, the client signs in again.
    #[serde(with = "duration")]
    pub compat_rest_jwt_auth_refresh_limit: Duration,
    /// Serve the `/accounts/api/...` surface (seed 003: registration, activation, login,
    /// profile, dashboard, history, password change and reset, its OpenAPI 3.0 document).
    pub compat_accounts_api: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 3000)),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            public_url: None,
            secret_key: None,
            smtp_host: None,
            smtp_port: None,
            smtp_username: None,
            smtp_password: None,
            smtp_tls: SmtpTls::StartTls,
            mail_from: "Gatehouse <noreply@localhost>".into(),
            mail_outbox_always: false,
            mail_retry_window: Duration::from_secs(24 * 3600),
            site_name: "Gatehouse".into(),
            require_email_verification: true,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(14 * 86400),
            verification_token_ttl: Duration::from_secs(86400),
            audit_retention: Duration::from_secs(365 * 86400),
            password_reset_ttl: Duration::from_secs(3600),
            refresh_reuse_grace: Duration::from_secs(10),
            principal_cache_ttl: Duration::from_secs(1),
            principal_cache_outage_grace: Duration::from_secs(60),
            login_free_attempts_per_account: 5,
            login_free_attempts_per_ip: 20,
            mail_per_address_per_hour: 5,
            signups_per_ip_per_hour: 30,
            mail_requests_per_ip_per_hour: 60,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::XForwardedFor,
            verification_base_url_allowlist: Vec::new(),
            password_min_length: 8,
            recovery_code_count: 10,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            hash_concurrency: num_cpus::get().max(1),
            hash_queue_limit: 256,
            max_body_bytes: 64 * 1024,
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: None,
            database_acquire_timeout: Duration::from_secs(1),
            tls_cert: None,
            tls_key: None,
            secure_cookies: None,
            log: "info".into(),
            log_format: LogFormat::Text,
            metrics: true,
            metrics_bind: None,
            shutdown_timeout: Duration::from_secs(10),
            compat_djoser: true,
            compat_rest_jwt_auth: true,
            compat_accounts_api: true,
            compat_rest_jwt_auth_prefix: "/auth".into(),
            compat_rest_jwt_auth_restore_url: None,
            compat_rest_jwt_auth_refresh_limit: Duration::from_secs(7 * 86400),
        }
    }
}

/// Values given as text by name (lower case, without the prefix): command-line flags, and
/// tests. They win over the file and the environment.
#[derive(Debug, Default, Clone)]
pub struct RawSettings(BTreeMap<String, String>);

impl RawSettings {
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.0.insert(key.to_string(), value.into());
    }
}

impl Settings {
    /// The name of every setting (lower case, without the prefix), from the struct itself.
    pub fn names() -> &'static [&'static str] {
        serde_aux::serde_introspection::serde_introspect::<Settings>()
    }

    /// Reads the TOML file named by `config_file` or `GATEHOUSE_CONFIG` (if any), then the
    /// environment, which wins.
    pub fn load(config_file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_with(config_file, RawSettings::default())
    }

    /// Like [`load`](Self::load), with command-line values (`overrides`) winning over both.
    pub fn load_with(config_file: Option<&Path>, overrides: RawSettings) -> Result<Self, ConfigError> {
        let file = config_file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var(env_name("config")).ok().filter(|v| !v.is_empty()).map(PathBuf::from));
        Self::load_from(file.as_deref(), std::env::vars(), overrides)
    }

    /// The loader itself, with the environment passed in (tests give their own).
    pub fn load_from(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        overrides: RawSettings,
    ) -> Result<Self, ConfigError> {
        let names = Self::names();
        let env: config::Map<String, String> = env
            .into_iter()
            .filter(|(name, _)| {
                name.strip_prefix(ENV_PREFIX).is_some_and(|key| names.contains(&key.to_ascii_lowercase().as_str()))
            })
            .collect();
        let mut builder = Config::builder();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(ConfigError::new("config", format!("cannot read {}", path.display())));
            }
            builder = builder.add_source(File::from(path).format(FileFormat::Toml));
        }
        // An empty variable (`GATEHOUSE_SMTP_HOST=`) means "not set", as it does in most shells'
        // and orchestrators' eyes.
        let environment = Environment::with_prefix("GATEHOUSE").prefix_separator("_").ignore_empty(true);
        builder = builder.add_source(environment.source(Some(env)));
        for (key, value) in overrides.0 {
            builder = builder.set_override(key, value).map_err(ConfigError::from_loader)?;
        }
        let loaded = builder.build().map_err(|e| match path_error(file, &e) {
            Some(error) => error,
            None => ConfigError::from_loader(e),
        })?;
        let settings: Settings = loaded.try_deserialize().map_err(ConfigError::from_loader)?;
        settings.check()?;
        Ok(settings)
    }

    /// Only the given values over the defaults (no file, no environment): for tests.
    pub fn from_raw(raw: RawSettings) -> Result<Self, ConfigError> {
        Self::load_from(None, std::iter::empty(), raw)
    }

    /// `GATEHOUSE_*` variables in `env` that are not settings (likely typos), to warn about.
    pub fn unknown_env_vars(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        let names = Self::names();
        env.into_iter()
            .filter_map(|(name, _)| {
                let key = name.strip_prefix(ENV_PREFIX)?.to_ascii_lowercase();
                (!names.contains(&key.as_str()) && !NOT_SETTINGS.contains(&key.as_str())).then_some(name)
            })
            .collect()
    }

    /// The rules no type can express.
    fn check(&self) -> Result<(), ConfigError> {
        if let Some(url) = &self.database_url {
            let ok = url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://");
            if !ok {
                return Err(ConfigError::new("database_url", "must start with sqlite: or postgres://"));
            }
        }
        if self.mail_retry_window < Duration::from_secs(60) || self.mail_retry_window > Duration::from_secs(30 * 86400)
        {
            return Err(ConfigError::new("mail_retry_window", "must be between 1m and 30d"));
        }
        if self.principal_cache_outage_grace > Duration::from_secs(3600) {
            return Err(ConfigError::new("principal_cache_outage_grace", "must be at most 1h"));
        }
        if self.principal_cache_ttl > Duration::from_secs(60) {
            return Err(ConfigError::new("principal_cache_ttl", "must be at most 60s"));
        }
        if let Some(url) = &self.public_url {
            check_base_url("public_url", url)?;
        }
        if let Some(url) = &self.compat_rest_jwt_auth_restore_url {
            check_base_url("compat_rest_jwt_auth_restore_url", url)?;
        }
        for base in &self.verification_base_url_allowlist {
            check_base_url("verification_base_url_allowlist", base)?;
        }
        if self.tls_cert.is_some() != self.tls_key.is_some() {
            let missing = if self.tls_cert.is_some() { "tls_key" } else { "tls_cert" };
            return Err(ConfigError::new(missing, "GATEHOUSE_TLS_CERT and GATEHOUSE_TLS_KEY must be set together"));
        }
        if self.mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                "mail_from",
                format!("`{}` is not a mailbox like `Name <user@host>`", self.mail_from),
            ));
        }
        if self.password_min_length == 0 || self.password_min_length > 128 {
            return Err(ConfigError::new("password_min_length", "must be between 1 and 128"));
        }
        if !(1..=50).contains(&self.recovery_code_count) {
            return Err(ConfigError::new("recovery_code_count", "must be between 1 and 50"));
        }
        if self.login_free_attempts_per_account < 1 {
            return Err(ConfigError::new("login_free_attempts_per_account", "must be at least 1"));
        }
        if self.login_free_attempts_per_ip < 1 {
            return Err(ConfigError::new("login_free_attempts_per_ip", "must be at least 1"));
        }
        for (key, value) in [
            ("mail_per_address_per_hour", self.mail_per_address_per_hour),
            ("signups_per_ip_per_hour", self.signups_per_ip_per_hour),
            ("mail_requests_per_ip_per_hour", self.mail_requests_per_ip_per_hour),
        ] {
            if !(1..=10_000).contains(&value) {
                return Err(ConfigError::new(key, "must be between 1 and 10000"));
            }
        }
        if self.hash_queue_limit == 0 {
            return Err(ConfigError::new("hash_queue_limit", "must be at least 1"));
        }
        if self.hash_concurrency == 0 {
            return Err(ConfigError::new("hash_concurrency", "must be at least 1"));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::new("max_body_bytes", "must be at least 1024"));
        }
        for (key, value) in [
            ("header_read_timeout", self.header_read_timeout),
            ("idle_timeout", self.idle_timeout),
            ("database_acquire_timeout", self.database_acquire_timeout),
        ] {
            if value < Duration::from_millis(100) {
                return Err(ConfigError::new(key, "must be at least 100ms"));
            }
        }
        if self.max_connections.is_some_and(|n| n < 2) {
            return Err(ConfigError::new("max_connections", "must be at least 2"));
        }
        if self.access_token_ttl.as_secs() == 0 {
            return Err(ConfigError::new("access_token_ttl", "must be at least one second"));
        }
        if self.refresh_token_ttl < self.access_token_ttl {
            return Err(ConfigError::new("refresh_token_ttl", "must not be shorter than GATEHOUSE_ACCESS_TOKEN_TTL"));
        }
        if self.metrics_bind.is_some_and(|addr| addr == self.bind && addr.port() != 0) {
            return Err(ConfigError::new("metrics_bind", "must differ from GATEHOUSE_BIND"));
        }
        tracing_filter_ok(&self.log).map_err(|reason| ConfigError::new("log", reason))?;
        // Each parameter on its own first, so the error names the one at fault.
        use argon2::Params;
        let argon2 = |key: &str, m: u32, t: u32, p: u32| {
            Params::new(m, t, p, None).map(|_| ()).map_err(|e| ConfigError::new(key, format!("argon2 rejects it: {e}")))
        };
        let (m, t, p) = (self.argon2_memory_kib, self.argon2_iterations, self.argon2_parallelism);
        argon2("argon2_iterations", Params::DEFAULT_M_COST, t, Params::DEFAULT_P_COST)?;
        argon2("argon2_parallelism", Params::DEFAULT_M_COST.max(p.saturating_mul(8)), Params::DEFAULT_T_COST, p)?;
        argon2("argon2_memory_kib", m, t, p)?;
        Ok(())
    }

    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}/gatehouse.db?mode=rwc", self.data_dir.display()),
        }
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url().starts_with("sqlite:")
    }

    pub fn serves_tls(&self) -> bool {
        self.tls_cert.is_some()
    }

    /// Base of links in emails, without a trailing slash. By default it follows the address
    /// actually bound (so `:0` gets the real port once the listener is open).
    pub fn public_url(&self) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => format!("{}://{}", if self.serves_tls() { "https" } else { "http" }, self.bind),
        }
    }

    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies.unwrap_or_else(|| self.public_url().starts_with("https://"))
    }

    pub fn smtp(&self) -> Option<SmtpSettings> {
        let host = self.smtp_host.as_ref().filter(|h| !h.trim().is_empty())?;
        let default_port = match self.smtp_tls {
            SmtpTls::None => 25,
            SmtpTls::StartTls => 587,
            SmtpTls::Tls => 465,
        };
        Some(SmtpSettings {
            host: host.clone(),
            port: self.smtp_port.unwrap_or(default_port),
            username: self.smtp_username.clone(),
            password: self.smtp_password.as_ref().map(|p| p.expose_secret().to_string()),
            tls: self.smtp_tls,
        })
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

/// A missing or unparsable TOML file, named as such.
fn path_error(file: Option<&Path>, error: &config::ConfigError) -> Option<ConfigError> {
    match (file, error) {
        (Some(path), config::ConfigError::FileParse { cause, .. }) => {
            Some(ConfigError::new("config", format!("{} is not valid TOML: {cause}", path.display())))
        }
        (Some(path), config::ConfigError::Foreign(cause)) => {
            Some(ConfigError::new("config", format!("cannot read {}: {cause}", path.display())))
        }
        _ => None,
    }
}

fn check_base_url(key: &str, value: &str) -> Result<(), ConfigError> {
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ConfigError::new(key, format!("{value:?} contains whitespace or control characters")));
    }
    let parsed = url::Url::parse(value).map_err(|e| ConfigError::new(key, format!("`{value}`: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(ConfigError::new(key, format!("`{value}` is not an http(s) URL")));
    }
    Ok(())
}

/// The filter's syntax is checked by the server before it sets up logging (`tracing` lives
/// there); here only that the text is not empty.
fn tracing_filter_ok(filter: &str) -> Result<(), String> {
    if filter.trim().is_empty() {
        return Err("must not be empty (e.g. `info`)".into());
    }
    Ok(())
}

/// A setting that must never be printed (`Debug` shows it redacted) and is wiped from memory
/// when dropped; read it with [`secrecy::ExposeSecret::expose_secret`].
pub type Secret = secrecy::SecretString;

/// Names of choices (`starttls`, `json`) in any case.
mod lowercase {
    use serde::de::{Deserialize, Deserializer, IntoDeserializer};

    pub fn deserialize<'de, D: Deserializer<'de>, T: Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
        let text = String::deserialize(deserializer)?.trim().to_ascii_lowercase();
        T::deserialize(text.into_deserializer())
    }
}

/// Durations: `15m`, `14d`, `1h 30m` (humantime), or a plain number of seconds.
mod duration {
    use std::time::Duration;

    use serde::de::{Deserializer, Error, Visitor};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        struct DurationVisitor;
        impl Visitor<'_> for DurationVisitor {
            type Value = Duration;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a duration like 15m or 14d, or a number of seconds")
            }

            fn visit_u64<E: Error>(self, secs: u64) -> Result<Duration, E> {
                Ok(Duration::from_secs(secs))
            }

            fn visit_i64<E: Error>(self, secs: i64) -> Result<Duration, E> {
                u64::try_from(secs).map(Duration::from_secs).map_err(|_| E::custom("a duration cannot be negative"))
            }

            fn visit_str<E: Error>(self, text: &str) -> Result<Duration, E> {
                let text = text.trim();
                match text.parse::<u64>() {
                    Ok(secs) => Ok(Duration::from_secs(secs)),
                    Err(_) => humantime::parse_duration(text)
                        .map_err(|e| E::custom(format!("`{text}` is not a duration like 15m or 14d: {e}"))),
                }
            }
        }
        deserializer.deserialize_any(DurationVisitor)
    }
}

/// Lists: a TOML array, or one comma-separated string (as environment variables are written).
mod list {
    use std::str::FromStr;

    use serde::de::{Deserializer, Error, SeqAccess, Visitor};

    pub fn deserialize<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: std::fmt::Display,
    {
        struct ListVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: FromStr> Visitor<'de> for ListVisitor<T>
        where
            T::Err: std::fmt::Display,
        {
            type Value = Vec<T>;

            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list, or a comma-separated string")
            }

            fn visit_str<E: Error>(self, text: &str) -> Result<Vec<T>, E> {
                text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse_item).collect()
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<T>, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<String>()? {
                    items.push(parse_item(item.trim())?);
                }
                Ok(items)
            }
        }
        deserializer.deserialize_any(ListVisitor(std::marker::PhantomData))
    }

    fn parse_item<T: FromStr, E: Error>(text: &str) -> Result<T, E>
    where
        T::Err: std::fmt::Display,
    {
        text.parse().map_err(|e| E::custom(format!("`{text}`: {e}")))
    }
}

/// An address range such as `10.0.0.0/8`; a bare address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange(pub IpNet);

impl std::str::FromStr for IpRange {
    type Err = ipnet::AddrParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.parse::<std::net::IpAddr>() {
            Ok(address) => Ok(IpRange(IpNet::from(address))),
            Err(_) => text.parse().map(IpRange),
        }
    }
}

impl IpRange {
    pub fn contains(&self, address: &std::net::IpAddr) -> bool {
        self.0.contains(address)
    }
}

#[cfg(test)]
mod tests;
