//! Settings: `GATEHOUSE_*` environment variables over an optional TOML file over defaults.
//!
//! Values are read into [`RawSettings`] (everything optional, mostly strings) and then checked
//! one by one in [`Settings::from_raw`], so an error always names the variable to fix.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use std::collections::BTreeMap;

/// Environment variable prefix of every setting.
pub const ENV_PREFIX: &str = "GATEHOUSE_";

#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {reason}")]
pub struct ConfigError {
    /// The environment variable name, e.g. `GATEHOUSE_BIND`.
    pub setting: String,
    pub reason: String,
}

impl ConfigError {
    fn new(key: &str, reason: impl Into<String>) -> Self {
        Self { setting: env_name(key), reason: reason.into() }
    }
}

fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

#[derive(Debug, Clone)]
pub struct Settings {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database_url: String,
    /// Base of links in emails, without a trailing slash.
    pub public_url: String,
    /// The root key as configured; `None` means "generate one into the data dir".
    pub secret_key: Option<String>,
    pub smtp: Option<SmtpSettings>,
    /// Also write every mail to the outbox when SMTP is configured.
    pub mail_outbox_always: bool,
    pub mail_from: String,
    pub site_name: String,
    pub require_email_verification: bool,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub verification_token_ttl: Duration,
    pub password_reset_ttl: Duration,
    /// How long after a refresh the previous refresh token still yields the current pair (a
    /// client that lost the response, or two tabs racing) instead of counting as reuse.
    pub refresh_reuse_grace: Duration,
    /// Failed logins for one account before delays start (they then double, up to 1 minute).
    pub login_free_attempts_per_account: i64,
    /// Failed logins from one IP address before delays start (they then double, up to 5 minutes).
    pub login_free_attempts_per_ip: i64,
    /// Client-supplied link bases (`verification_base_url`) that emails may point at.
    pub verification_base_url_allowlist: Vec<String>,
    pub password_min_length: usize,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    /// How many password hashes may run at once (defaults to the number of cores).
    pub hash_concurrency: usize,
    pub max_body_bytes: usize,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Browser session cookies carry `Secure`; defaults to on when the public URL is https.
    pub secure_cookies: bool,
    /// A `tracing` filter such as `info` or `gatehouse=debug,info`.
    pub log: String,
}

/// The names (lower case, without the prefix) of every setting, in the order the README lists them.
pub const SETTING_KEYS: &[&str] = &[
    "bind",
    "data_dir",
    "database_url",
    "public_url",
    "secret_key",
    "smtp_host",
    "smtp_port",
    "smtp_username",
    "smtp_password",
    "smtp_tls",
    "mail_from",
    "mail_outbox_always",
    "site_name",
    "require_email_verification",
    "access_token_ttl",
    "refresh_token_ttl",
    "verification_token_ttl",
    "password_reset_ttl",
    "verification_base_url_allowlist",
    "password_min_length",
    "argon2_memory_kib",
    "argon2_iterations",
    "argon2_parallelism",
    "hash_concurrency",
    "max_body_bytes",
    "tls_cert",
    "tls_key",
    "secure_cookies",
    "log",
];

/// Every setting as it arrives from the environment or the TOML file, as text.
#[derive(Debug, Default, Clone)]
pub struct RawSettings(BTreeMap<String, String>);

impl RawSettings {
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.0.insert(key.to_string(), value.into());
    }

    fn take(&mut self, key: &str) -> Option<String> {
        self.0.remove(key)
    }

    /// Reads the known `GATEHOUSE_*` variables from the process environment.
    pub fn from_env() -> Self {
        let mut raw = Self::default();
        for key in SETTING_KEYS {
            if let Ok(value) = std::env::var(env_name(key)) {
                raw.set(key, value);
            }
        }
        raw
    }

    /// Reads a TOML file of `key = value` lines using the same names in lower case.
    pub fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::new("config", format!("cannot read {}: {e}", path.display())))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| ConfigError::new("config", format!("{} is not valid TOML: {e}", path.display())))?;
        let mut raw = Self::default();
        for (key, value) in table {
            let key = key.to_ascii_lowercase();
            if !SETTING_KEYS.contains(&key.as_str()) {
                return Err(ConfigError::new(&key, format!("unknown setting in {}", path.display())));
            }
            let text = match value {
                toml::Value::String(s) => s,
                toml::Value::Array(items) => items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string).unwrap_or_else(|| i.to_string()))
                    .collect::<Vec<_>>()
                    .join(","),
                other => other.to_string(),
            };
            raw.set(&key, text);
        }
        Ok(raw)
    }

    /// Values from `other` win.
    fn overlay(mut self, other: RawSettings) -> Self {
        self.0.extend(other.0);
        self
    }
}

impl Settings {
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
        let from_file = match file {
            Some(path) => RawSettings::from_toml_file(&path)?,
            None => RawSettings::default(),
        };
        Self::from_raw(from_file.overlay(RawSettings::from_env()).overlay(overrides))
    }

    /// Checks every raw value; the first bad one is reported with its variable name.
    pub fn from_raw(mut raw: RawSettings) -> Result<Self, ConfigError> {
        let bind: SocketAddr = parse_or("bind", raw.take("bind"), "127.0.0.1:3000".parse().unwrap())?;
        let data_dir = PathBuf::from(raw.take("data_dir").unwrap_or_else(|| "./data".into()));
        let database_url = match raw.take("database_url") {
            Some(url) => check_database_url(url)?,
            None => format!("sqlite://{}/gatehouse.db?mode=rwc", data_dir.display()),
        };
        let tls_cert = raw.take("tls_cert").map(PathBuf::from);
        let tls_key = raw.take("tls_key").map(PathBuf::from);
        if tls_cert.is_some() != tls_key.is_some() {
            let missing = if tls_cert.is_some() { "tls_key" } else { "tls_cert" };
            return Err(ConfigError::new(missing, "GATEHOUSE_TLS_CERT and GATEHOUSE_TLS_KEY must be set together"));
        }
        let scheme = if tls_cert.is_some() { "https" } else { "http" };
        let public_url = match raw.take("public_url") {
            Some(url) => check_base_url("public_url", &url)?,
            None => format!("{scheme}://{bind}"),
        };
        let smtp = match raw.take("smtp_host").filter(|h| !h.trim().is_empty()) {
            None => None,
            Some(host) => {
                let tls = match raw.take("smtp_tls").as_deref().map(str::to_ascii_lowercase).as_deref() {
                    None | Some("starttls") => SmtpTls::StartTls,
                    Some("none") => SmtpTls::None,
                    Some("tls") => SmtpTls::Tls,
                    Some(other) => {
                        return Err(ConfigError::new(
                            "smtp_tls",
                            format!("`{other}` is not one of none, starttls, tls"),
                        ))
                    }
                };
                let default_port = match tls {
                    SmtpTls::None => 25,
                    SmtpTls::StartTls => 587,
                    SmtpTls::Tls => 465,
                };
                Some(SmtpSettings {
                    host,
                    port: parse_or("smtp_port", raw.take("smtp_port"), default_port)?,
                    username: raw.take("smtp_username"),
                    password: raw.take("smtp_password"),
                    tls,
                })
            }
        };
        let mail_from = raw.take("mail_from").unwrap_or_else(|| "Gatehouse <noreply@localhost>".into());
        if mail_from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError::new(
                "mail_from",
                format!("`{mail_from}` is not a mailbox like `Name <user@host>`"),
            ));
        }
        let allowlist = raw
            .take("verification_base_url_allowlist")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| check_base_url("verification_base_url_allowlist", s))
            .collect::<Result<Vec<_>, _>>()?;
        let settings = Settings {
            bind,
            data_dir,
            database_url,
            secure_cookies: parse_bool_or(
                "secure_cookies",
                raw.take("secure_cookies"),
                public_url.starts_with("https://"),
            )?,
            public_url,
            secret_key: raw.take("secret_key").filter(|k| !k.is_empty()),
            smtp,
            mail_outbox_always: parse_bool_or("mail_outbox_always", raw.take("mail_outbox_always"), false)?,
            mail_from,
            site_name: raw.take("site_name").unwrap_or_else(|| "Gatehouse".into()),
            require_email_verification: parse_bool_or(
                "require_email_verification",
                raw.take("require_email_verification"),
                true,
            )?,
            access_token_ttl: parse_duration_or("access_token_ttl", raw.take("access_token_ttl"), 15 * 60)?,
            refresh_token_ttl: parse_duration_or("refresh_token_ttl", raw.take("refresh_token_ttl"), 14 * 86400)?,
            verification_token_ttl: parse_duration_or(
                "verification_token_ttl",
                raw.take("verification_token_ttl"),
                86400,
            )?,
            password_reset_ttl: parse_duration_or("password_reset_ttl", raw.take("password_reset_ttl"), 3600)?,
            refresh_reuse_grace: parse_duration_or("refresh_reuse_grace", raw.take("refresh_reuse_grace"), 10)?,
            login_free_attempts_per_account: parse_or(
                "login_free_attempts_per_account",
                raw.take("login_free_attempts_per_account"),
                5,
            )?,
            login_free_attempts_per_ip: parse_or(
                "login_free_attempts_per_ip",
                raw.take("login_free_attempts_per_ip"),
                20,
            )?,
            verification_base_url_allowlist: allowlist,
            password_min_length: parse_or("password_min_length", raw.take("password_min_length"), 8)?,
            argon2_memory_kib: parse_or("argon2_memory_kib", raw.take("argon2_memory_kib"), 19_456)?,
            argon2_iterations: parse_or("argon2_iterations", raw.take("argon2_iterations"), 2)?,
            argon2_parallelism: parse_or("argon2_parallelism", raw.take("argon2_parallelism"), 1)?,
            hash_concurrency: parse_or("hash_concurrency", raw.take("hash_concurrency"), num_cpus::get().max(1))?,
            max_body_bytes: parse_or("max_body_bytes", raw.take("max_body_bytes"), 64 * 1024)?,
            tls_cert,
            tls_key,
            log: raw.take("log").unwrap_or_else(|| "info".into()),
        };
        settings.check_ranges()?;
        Ok(settings)
    }

    fn check_ranges(&self) -> Result<(), ConfigError> {
        if self.password_min_length == 0 || self.password_min_length > 128 {
            return Err(ConfigError::new("password_min_length", "must be between 1 and 128"));
        }
        if self.login_free_attempts_per_account < 1 {
            return Err(ConfigError::new("login_free_attempts_per_account", "must be at least 1"));
        }
        if self.login_free_attempts_per_ip < 1 {
            return Err(ConfigError::new("login_free_attempts_per_ip", "must be at least 1"));
        }
        if self.hash_concurrency == 0 {
            return Err(ConfigError::new("hash_concurrency", "must be at least 1"));
        }
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::new("max_body_bytes", "must be at least 1024"));
        }
        if self.access_token_ttl.as_secs() == 0 {
            return Err(ConfigError::new("access_token_ttl", "must be at least one second"));
        }
        if self.refresh_token_ttl < self.access_token_ttl {
            return Err(ConfigError::new("refresh_token_ttl", "must not be shorter than GATEHOUSE_ACCESS_TOKEN_TTL"));
        }
        argon2::Params::new(self.argon2_memory_kib, self.argon2_iterations, self.argon2_parallelism, None)
            .map_err(|e| ConfigError::new("argon2_memory_kib", format!("argon2 parameters rejected: {e}")))?;
        Ok(())
    }

    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }

    pub fn outbox_dir(&self) -> PathBuf {
        self.data_dir.join("outbox")
    }
}

fn parse_or<T: std::str::FromStr>(key: &str, value: Option<String>, default: T) -> Result<T, ConfigError>
where
    T::Err: std::fmt::Display,
{
    match value {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e| ConfigError::new(key, format!("`{v}`: {e}"))),
    }
}

fn parse_bool_or(key: &str, value: Option<String>, default: bool) -> Result<bool, ConfigError> {
    match value.as_deref().map(|v| v.trim().to_ascii_lowercase()) {
        None => Ok(default),
        Some(v) => match v.as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::new(key, format!("`{v}` is not a boolean (true/false)"))),
        },
    }
}

/// Durations are written like `15m`, `14d`, `1h 30m`, or as a plain number of seconds.
fn parse_duration_or(key: &str, value: Option<String>, default_secs: u64) -> Result<Duration, ConfigError> {
    match value {
        None => Ok(Duration::from_secs(default_secs)),
        Some(v) => {
            let v = v.trim();
            let parsed = match v.parse::<u64>() {
                Ok(secs) => Ok(Duration::from_secs(secs)),
                Err(_) => humantime::parse_duration(v).map_err(|e| e.to_string()),
            };
            parsed.map_err(|e| ConfigError::new(key, format!("`{v}` is not a duration like 15m or 14d: {e}")))
        }
    }
}

fn check_database_url(url: String) -> Result<String, ConfigError> {
    if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(url)
    } else {
        Err(ConfigError::new("database_url", "must start with sqlite: or postgres://"))
    }
}

fn check_base_url(key: &str, value: &str) -> Result<String, ConfigError> {
    let parsed = url::Url::parse(value).map_err(|e| ConfigError::new(key, format!("`{value}`: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(ConfigError::new(key, format!("`{value}` is not an http(s) URL")));
    }
    Ok(value.trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawSettings {
        let mut raw = RawSettings::default();
        for (k, v) in pairs {
            raw.set(k, *v);
        }
        raw
    }

    #[test]
    fn defaults_are_the_embedded_setup() {
        let s = Settings::from_raw(RawSettings::default()).unwrap();
        assert_eq!(s.bind.to_string(), "127.0.0.1:3000");
        assert_eq!(s.public_url, "http://127.0.0.1:3000");
        assert!(s.is_sqlite());
        assert!(s.database_url.contains("data/gatehouse.db"));
        assert!(s.smtp.is_none());
        assert_eq!(s.access_token_ttl, Duration::from_secs(900));
        assert_eq!(s.refresh_token_ttl, Duration::from_secs(14 * 86400));
        assert!(s.require_email_verification);
        assert!(!s.secure_cookies);
    }

    #[test]
    fn a_bad_value_names_its_variable() {
        let err = Settings::from_raw(raw(&[("bind", "nope")])).unwrap_err();
        assert_eq!(err.setting, "GATEHOUSE_BIND");
        let err = Settings::from_raw(raw(&[("smtp_host", "mail"), ("smtp_tls", "maybe")])).unwrap_err();
        assert_eq!(err.setting, "GATEHOUSE_SMTP_TLS");
        let err = Settings::from_raw(raw(&[("access_token_ttl", "soon")])).unwrap_err();
        assert_eq!(err.setting, "GATEHOUSE_ACCESS_TOKEN_TTL");
        let err = Settings::from_raw(raw(&[("database_url", "mysql://x")])).unwrap_err();
        assert_eq!(err.setting, "GATEHOUSE_DATABASE_URL");
        let err = Settings::from_raw(raw(&[("require_email_verification", "perhaps")])).unwrap_err();
        assert_eq!(err.setting, "GATEHOUSE_REQUIRE_EMAIL_VERIFICATION");
    }

    #[test]
    fn durations_and_smtp_ports_parse() {
        let s = Settings::from_raw(raw(&[
            ("access_token_ttl", "5m"),
            ("refresh_token_ttl", "3600"),
            ("smtp_host", "mail.example"),
            ("smtp_tls", "tls"),
        ]))
        .unwrap();
        assert_eq!(s.access_token_ttl, Duration::from_secs(300));
        assert_eq!(s.refresh_token_ttl, Duration::from_secs(3600));
        let smtp = s.smtp.unwrap();
        assert_eq!(smtp.tls, SmtpTls::Tls);
        assert_eq!(smtp.port, 465);
    }
}
