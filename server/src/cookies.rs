//! The cookies the server hands out, written here and nowhere else: the core knows devices
//! (`gatehouse_core::devices`), not HTTP. The JSON API and the web app's server functions
//! (which the server hands [`device_cookie_header`] through the Leptos context) both use it.

use gatehouse_core::devices::DEVICE_COOKIE_MAX_AGE_SECS;

/// The device cookie's name.
pub const DEVICE_COOKIE: &str = "gatehouse_device";

/// The `Set-Cookie` value that hands the device cookie `value` to the client: HttpOnly,
/// SameSite=Lax, Secure when the site is served over https; it lasts as long as the core
/// remembers a device.
pub fn device_cookie_header(value: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{DEVICE_COOKIE}={value}; Path=/; Max-Age={DEVICE_COOKIE_MAX_AGE_SECS}; HttpOnly; SameSite=Lax{secure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_device_cookie_is_http_only_and_secure_over_https() {
        assert_eq!(
            device_cookie_header("v", false),
            "gatehouse_device=v; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax"
        );
        assert!(device_cookie_header("v", true).ends_with("; SameSite=Lax; Secure"));
    }
}
