use std::collections::BTreeSet;
use std::io::Write;

use super::*;

fn raw(pairs: &[(&str, &str)]) -> RawSettings {
    let mut raw = RawSettings::default();
    for (k, v) in pairs {
        raw.set(k, *v);
    }
    raw
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (env_name(k), v.to_string())).collect()
}

#[test]
fn defaults_are_the_embedded_setup() {
    let s = Settings::from_raw(RawSettings::default()).unwrap();
    assert_eq!(s.bind.to_string(), "127.0.0.1:3000");
    assert_eq!(s.public_url(), "http://127.0.0.1:3000");
    assert!(s.is_sqlite());
    assert!(s.database_url().contains("data/gatehouse.db"));
    assert!(s.smtp().is_none());
    assert_eq!(s.access_token_ttl, Duration::from_secs(900));
    assert_eq!(s.refresh_token_ttl, Duration::from_secs(14 * 86400));
    assert!(s.require_email_verification);
    assert!(!s.secure_cookies());
    assert!(s.metrics);
    assert_eq!(s.log_format, LogFormat::Text);
    assert_eq!(s.mail_retry_window, Duration::from_secs(24 * 3600));
}

#[test]
fn a_bad_value_names_its_variable() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("bind", "nope")], "GATEHOUSE_BIND"),
        (&[("smtp_host", "mail"), ("smtp_tls", "maybe")], "GATEHOUSE_SMTP_TLS"),
        (&[("access_token_ttl", "soon")], "GATEHOUSE_ACCESS_TOKEN_TTL"),
        (&[("database_url", "mysql://x")], "GATEHOUSE_DATABASE_URL"),
        (&[("require_email_verification", "perhaps")], "GATEHOUSE_REQUIRE_EMAIL_VERIFICATION"),
        (&[("login_free_attempts_per_ip", "many")], "GATEHOUSE_LOGIN_FREE_ATTEMPTS_PER_IP"),
        (&[("mail_per_address_per_hour", "0")], "GATEHOUSE_MAIL_PER_ADDRESS_PER_HOUR"),
        (&[("signups_per_ip_per_hour", "-1")], "GATEHOUSE_SIGNUPS_PER_IP_PER_HOUR"),
        (&[("hash_queue_limit", "0")], "GATEHOUSE_HASH_QUEUE_LIMIT"),
        (&[("header_read_timeout", "0s")], "GATEHOUSE_HEADER_READ_TIMEOUT"),
        (&[("idle_timeout", "10ms")], "GATEHOUSE_IDLE_TIMEOUT"),
        (&[("max_connections", "1")], "GATEHOUSE_MAX_CONNECTIONS"),
        (&[("database_acquire_timeout", "0")], "GATEHOUSE_DATABASE_ACQUIRE_TIMEOUT"),
        (&[("trusted_proxies", "10.0.0.0/99")], "GATEHOUSE_TRUSTED_PROXIES"),
        (&[("log_format", "xml")], "GATEHOUSE_LOG_FORMAT"),
        (&[("tls_cert", "/x.pem")], "GATEHOUSE_TLS_KEY"),
        (&[("compat_rest_jwt_auth_restore_url", "javascript:x")], "GATEHOUSE_COMPAT_REST_JWT_AUTH_RESTORE_URL"),
        (
            &[("compat_rest_jwt_auth_restore_url", "https://app.example.com/r\nhttps://evil.test/")],
            "GATEHOUSE_COMPAT_REST_JWT_AUTH_RESTORE_URL",
        ),
        (
            &[("verification_base_url_allowlist", "https://app.example.com/a b")],
            "GATEHOUSE_VERIFICATION_BASE_URL_ALLOWLIST",
        ),
        (&[("principal_cache_ttl", "61s")], "GATEHOUSE_PRINCIPAL_CACHE_TTL"),
        (&[("principal_cache_outage_grace", "2h")], "GATEHOUSE_PRINCIPAL_CACHE_OUTAGE_GRACE"),
        (&[("mail_retry_window", "a while")], "GATEHOUSE_MAIL_RETRY_WINDOW"),
        (&[("mail_retry_window", "30s")], "GATEHOUSE_MAIL_RETRY_WINDOW"),
        (&[("mail_retry_window", "31d")], "GATEHOUSE_MAIL_RETRY_WINDOW"),
    ];
    for (pairs, variable) in cases {
        let from_env = Settings::load_from(None, env(pairs), RawSettings::default()).unwrap_err();
        assert_eq!(from_env.setting, *variable, "{pairs:?} from the environment: {from_env}");
        let from_flags = Settings::from_raw(raw(pairs)).unwrap_err();
        assert_eq!(from_flags.setting, *variable, "{pairs:?} as overrides: {from_flags}");
    }
}

#[test]
fn an_unknown_key_in_the_file_is_refused_by_name() {
    let file = toml_file("login_free_atempts_per_ip = 3\n");
    let err = Settings::load_from(Some(file.path()), Vec::new(), RawSettings::default()).unwrap_err();
    assert_eq!(err.setting, "GATEHOUSE_LOGIN_FREE_ATEMPTS_PER_IP", "{err}");
    let file = toml_file("this is not toml");
    let err = Settings::load_from(Some(file.path()), Vec::new(), RawSettings::default()).unwrap_err();
    assert_eq!(err.setting, "GATEHOUSE_CONFIG", "{err}");
}

#[test]
fn the_environment_wins_over_the_file_and_flags_over_both() {
    let file = toml_file("site_name = \"From file\"\nlog = \"debug\"\nmail_from = \"File <f@example.com>\"\n");
    let s = Settings::load_from(
        Some(file.path()),
        env(&[("site_name", "From env"), ("log", "trace")]),
        raw(&[("log", "warn")]),
    )
    .unwrap();
    assert_eq!(s.site_name, "From env");
    assert_eq!(s.log, "warn");
    assert_eq!(s.mail_from, "File <f@example.com>");
}

#[test]
fn empty_variables_mean_unset_and_choices_ignore_case() {
    let s = Settings::load_from(
        None,
        env(&[
            ("secret_key", ""),
            ("tls_cert", ""),
            ("tls_key", ""),
            ("smtp_port", ""),
            ("smtp_tls", "STARTTLS"),
            ("log_format", "Json"),
        ]),
        RawSettings::default(),
    )
    .unwrap();
    assert!(s.secret_key.is_none() && s.tls_cert.is_none() && s.smtp_port.is_none());
    assert_eq!(s.smtp_tls, SmtpTls::StartTls);
    assert_eq!(s.log_format, LogFormat::Json);
}

#[test]
fn argon2_errors_name_the_parameter_at_fault() {
    for key in ["argon2_memory_kib", "argon2_iterations", "argon2_parallelism"] {
        let err = Settings::from_raw(raw(&[(key, "0")])).unwrap_err();
        assert_eq!(err.setting, env_name(key), "{err}");
    }
}

#[test]
fn variables_that_are_not_settings_are_ignored_and_reported() {
    let vars = env(&[("test_database_url", "postgres://x"), ("site_nmae", "typo"), ("site_name", "ok")]);
    let s = Settings::load_from(None, vars.clone(), RawSettings::default()).unwrap();
    assert_eq!(s.site_name, "ok");
    assert_eq!(Settings::unknown_env_vars(vars), vec!["GATEHOUSE_SITE_NMAE".to_string()]);
}

#[test]
fn secrets_never_show_in_debug_output() {
    let s =
        Settings::from_raw(raw(&[("secret_key", "0123456789abcdef0123456789abcdef-x"), ("smtp_password", "hunter2")]))
            .unwrap();
    let printed = format!("{s:?}");
    assert!(!printed.contains("0123456789abcdef") && !printed.contains("hunter2"), "{printed}");
    assert_eq!(secrecy::ExposeSecret::expose_secret(&s.secret_key.unwrap()), "0123456789abcdef0123456789abcdef-x");
}

/// One value for a setting that differs from its default, how to write it in TOML, and a
/// check that it took effect.
struct Case {
    name: &'static str,
    value: &'static str,
    toml: &'static str,
    /// Other settings it must come with (e.g. the key with the certificate).
    with: &'static [(&'static str, &'static str)],
    took_effect: fn(&Settings) -> bool,
}

const fn case(name: &'static str, value: &'static str, toml: &'static str, took_effect: fn(&Settings) -> bool) -> Case {
    Case { name, value, toml, with: &[], took_effect }
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn every_setting() -> Vec<Case> {
    vec![
        case("bind", "0.0.0.0:4000", "\"0.0.0.0:4000\"", |s| s.bind.port() == 4000),
        case("data_dir", "/srv/gh", "\"/srv/gh\"", |s| s.data_dir == Path::new("/srv/gh")),
        case("database_url", "postgres://db/gh", "\"postgres://db/gh\"", |s| !s.is_sqlite()),
        case("public_url", "https://auth.example.com/", "\"https://auth.example.com\"", |s| {
            s.public_url() == "https://auth.example.com" && s.secure_cookies()
        }),
        case("secret_key", "0123456789abcdef0123456789abcdef", "\"0123456789abcdef0123456789abcdef\"", |s| {
            s.secret_key.is_some()
        }),
        case("smtp_host", "mail.example", "\"mail.example\"", |s| s.smtp().is_some_and(|m| m.host == "mail.example")),
        case("smtp_port", "2525", "2525", |s| s.smtp_port == Some(2525)),
        case("smtp_username", "robot", "\"robot\"", |s| s.smtp_username.as_deref() == Some("robot")),
        case("smtp_password", "12345", "\"12345\"", |s| {
            s.smtp_password.as_ref().is_some_and(|p| secrecy::ExposeSecret::expose_secret(p) == "12345")
        }),
        case("smtp_tls", "tls", "\"tls\"", |s| s.smtp_tls == SmtpTls::Tls),
        case("mail_from", "Ops <ops@example.com>", "\"Ops <ops@example.com>\"", |s| s.mail_from.contains("ops@")),
        case("mail_outbox_always", "yes", "true", |s| s.mail_outbox_always),
        case("mail_retry_window", "3d", "\"2h 30m\"", |s| [secs(3 * 86400), secs(9000)].contains(&s.mail_retry_window)),
        case("site_name", "1234", "\"Acme\"", |s| s.site_name != "Gatehouse"),
        case("require_email_verification", "off", "false", |s| !s.require_email_verification),
        case("access_token_ttl", "5m", "\"5m\"", |s| s.access_token_ttl == secs(300)),
        case("refresh_token_ttl", "3600", "3600", |s| s.refresh_token_ttl == secs(3600)),
        case("verification_token_ttl", "2h", "\"2h\"", |s| s.verification_token_ttl == secs(7200)),
        case("audit_retention", "30days", "\"30days\"", |s| s.audit_retention == secs(30 * 86400)),
        case("password_reset_ttl", "30m", "\"30m\"", |s| s.password_reset_ttl == secs(1800)),
        case("refresh_reuse_grace", "3s", "\"3s\"", |s| s.refresh_reuse_grace == secs(3)),
        case("principal_cache_ttl", "0s", "\"0s\"", |s| s.principal_cache_ttl.is_zero()),
        case("principal_cache_outage_grace", "5m", "\"5m\"", |s| s.principal_cache_outage_grace == secs(300)),
        case("login_free_attempts_per_account", "9", "9", |s| s.login_free_attempts_per_account == 9),
        case("login_free_attempts_per_ip", "1000", "1000", |s| s.login_free_attempts_per_ip == 1000),
        case("mail_per_address_per_hour", "2", "2", |s| s.mail_per_address_per_hour == 2),
        case("signups_per_ip_per_hour", "3", "3", |s| s.signups_per_ip_per_hour == 3),
        case("mail_requests_per_ip_per_hour", "4", "4", |s| s.mail_requests_per_ip_per_hour == 4),
        case("trusted_proxies", "10.0.0.0/8, 192.0.2.1", "[\"10.0.0.0/8\", \"192.0.2.1\"]", |s| {
            s.trusted_proxies.len() == 2 && s.trusted_proxies[1].contains(&"192.0.2.1".parse().unwrap())
        }),
        case("forwarded_header", "Forwarded", "\"forwarded\"", |s| s.forwarded_header == ForwardedHeader::Forwarded),
        case(
            "verification_base_url_allowlist",
            "https://a.example,https://b.example",
            "[\"https://a.example\", \"https://b.example\"]",
            |s| s.verification_base_url_allowlist.len() == 2,
        ),
        case("password_min_length", "12", "12", |s| s.password_min_length == 12),
        case("recovery_code_count", "16", "16", |s| s.recovery_code_count == 16),
        case("argon2_memory_kib", "8192", "8192", |s| s.argon2_memory_kib == 8192),
        case("argon2_iterations", "3", "3", |s| s.argon2_iterations == 3),
        case("argon2_parallelism", "2", "2", |s| s.argon2_parallelism == 2),
        case("hash_concurrency", "7", "7", |s| s.hash_concurrency == 7),
        case("hash_queue_limit", "9", "9", |s| s.hash_queue_limit == 9),
        case("max_body_bytes", "2048", "2048", |s| s.max_body_bytes == 2048),
        case("header_read_timeout", "3s", "\"3s\"", |s| s.header_read_timeout == secs(3)),
        case("idle_timeout", "2m", "\"2m\"", |s| s.idle_timeout == secs(120)),
        case("max_connections", "500", "500", |s| s.max_connections == Some(500)),
        case("database_acquire_timeout", "250ms", "\"250ms\"", |s| {
            s.database_acquire_timeout == Duration::from_millis(250)
        }),
        Case {
            with: &[("tls_key", "/k.pem")],
            ..case("tls_cert", "/c.pem", "\"/c.pem\"", |s| s.tls_cert.is_some() && s.public_url().starts_with("https"))
        },
        Case { with: &[("tls_cert", "/c.pem")], ..case("tls_key", "/k.pem", "\"/k.pem\"", |s| s.tls_key.is_some()) },
        case("secure_cookies", "true", "true", |s| s.secure_cookies()),
        case("log", "debug", "\"debug\"", |s| s.log == "debug"),
        case("log_format", "json", "\"json\"", |s| s.log_format == LogFormat::Json),
        case("metrics", "false", "false", |s| !s.metrics),
        case("compat_djoser", "false", "false", |s| !s.compat_djoser),
        case("compat_rest_jwt_auth", "false", "false", |s| !s.compat_rest_jwt_auth),
        case("compat_accounts_api", "false", "false", |s| !s.compat_accounts_api),
        case("compat_rest_jwt_auth_prefix", "/jwt", "\"/jwt\"", |s| s.compat_rest_jwt_auth_prefix == "/jwt"),
        case(
            "compat_rest_jwt_auth_restore_url",
            "https://app.example.com/restore",
            "\"https://app.example.com/restore\"",
            |s| s.compat_rest_jwt_auth_restore_url.as_deref() == Some("https://app.example.com/restore"),
        ),
        case("metrics_bind", "127.0.0.1:9100", "\"127.0.0.1:9100\"", |s| {
            s.metrics_bind.is_some_and(|a| a.port() == 9100)
        }),
        case("shutdown_timeout", "30s", "\"30s\"", |s| s.shutdown_timeout == secs(30)),
        case("compat_rest_jwt_auth_refresh_limit", "2d", "\"2d\"", |s| {
            s.compat_rest_jwt_auth_refresh_limit == secs(2 * 86400)
        }),
    ]
}

#[test]
fn the_test_table_covers_every_setting() {
    let tested: BTreeSet<&str> = every_setting().iter().map(|c| c.name).collect();
    let fields: BTreeSet<&str> = Settings::names().iter().copied().collect();
    assert_eq!(tested, fields);
}

#[test]
fn the_readme_documents_every_setting_and_nothing_else() {
    let readme = include_str!("../../../README.md");
    let section = readme.split("## Configuration").nth(1).expect("a Configuration section");
    let section = section.split("\n## ").next().unwrap();
    let documented: BTreeSet<String> = section
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter_map(|word| word.strip_prefix(ENV_PREFIX))
        .map(str::to_ascii_lowercase)
        .filter(|key| !key.is_empty() && key != "config")
        .collect();
    let fields: BTreeSet<String> = Settings::names().iter().map(|s| s.to_string()).collect();
    assert_eq!(documented, fields);
}

#[test]
fn every_setting_is_read_from_the_environment() {
    for case in every_setting() {
        let mut pairs = vec![(case.name, case.value)];
        pairs.extend(case.with.iter().copied());
        let settings = Settings::load_from(None, env(&pairs), RawSettings::default())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert!((case.took_effect)(&settings), "GATEHOUSE_{} did not take effect", case.name.to_uppercase());
    }
}

#[test]
fn every_setting_is_read_from_the_toml_file() {
    let defaults = Settings::from_raw(RawSettings::default()).unwrap();
    for case in every_setting() {
        assert!(!(case.took_effect)(&defaults), "{}: the check must fail on the default", case.name);
        let mut text = format!("{} = {}\n", case.name, case.toml);
        for (name, value) in case.with {
            text.push_str(&format!("{name} = \"{value}\"\n"));
        }
        let file = toml_file(&text);
        let settings = Settings::load_from(Some(file.path()), Vec::new(), RawSettings::default())
            .unwrap_or_else(|e| panic!("{}: {e}", case.name));
        assert!((case.took_effect)(&settings), "`{}` in the TOML file did not take effect", case.name);
    }
}

fn toml_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::Builder::new().suffix(".toml").tempfile().unwrap();
    file.write_all(text.as_bytes()).unwrap();
    file
}
