//! The URL paths the server serves itself, and the settings that must keep clear of them.
//! The core does not know its URLs: this rule is checked here, at start, with the same
//! refusal the settings' own rules give (`invalid setting GATEHOUSE_...: ...`).

use gatehouse_core::config::ConfigError;
use gatehouse_core::Settings;

/// Where the server's own routes live: the JSON API, the web app's server functions and its
/// static bundle.
pub const RESERVED_PREFIXES: [&str; 3] = ["/api", "/_fn", "/pkg"];

/// The settings that name URL paths: `compat_rest_jwt_auth_prefix` must be a path like
/// `/auth` and stay out of [`RESERVED_PREFIXES`].
pub fn check_settings(settings: &Settings) -> Result<(), ConfigError> {
    let prefix = &settings.compat_rest_jwt_auth_prefix;
    let prefix_ok = prefix.len() > 1
        && prefix.starts_with('/')
        && !prefix.ends_with('/')
        && prefix.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-'))
        && !RESERVED_PREFIXES.iter().any(|taken| prefix == taken || prefix.starts_with(&format!("{taken}/")));
    if !prefix_ok {
        return Err(ConfigError::new(
            "compat_rest_jwt_auth_prefix",
            "must be a path like /auth (letters, digits, / _ -; not /api, /_fn or /pkg)",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use gatehouse_core::config::RawSettings;

    use super::*;

    /// Moved from the core's config tests with the rule: a bad value names its variable,
    /// whether it came from the environment or as an override.
    #[test]
    fn a_bad_prefix_names_its_variable() {
        for value in ["auth/", "/api/v1", "/api", "/_fn/x", "/pkg", "/", "auth", "/a b"] {
            let env = [("GATEHOUSE_COMPAT_REST_JWT_AUTH_PREFIX".to_string(), value.to_string())];
            let from_env = Settings::load_from(None, env, RawSettings::default()).unwrap();
            let error = check_settings(&from_env).unwrap_err();
            assert_eq!(error.setting, "GATEHOUSE_COMPAT_REST_JWT_AUTH_PREFIX", "{value:?} from the environment");
            assert!(error.to_string().contains("not /api, /_fn or /pkg"), "{error}");
            let mut raw = RawSettings::default();
            raw.set("compat_rest_jwt_auth_prefix", value);
            let from_flags = Settings::from_raw(raw).unwrap();
            assert_eq!(
                check_settings(&from_flags).unwrap_err().setting,
                "GATEHOUSE_COMPAT_REST_JWT_AUTH_PREFIX",
                "{value:?} as an override"
            );
        }
    }

    #[test]
    fn a_path_of_its_own_is_accepted() {
        for value in ["/auth", "/jwt", "/apix", "/v1/auth", "/pkg-auth"] {
            let mut raw = RawSettings::default();
            raw.set("compat_rest_jwt_auth_prefix", value);
            assert!(check_settings(&Settings::from_raw(raw).unwrap()).is_ok(), "{value:?}");
        }
        assert!(check_settings(&Settings::from_raw(RawSettings::default()).unwrap()).is_ok());
    }
}
