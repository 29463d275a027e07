//! A readable device from a `User-Agent` ("Firefox on Linux"), for sessions and history. The
//! parsing is `woothee`'s (a maintained UA database), not ours.

/// "Firefox on Linux", "Safari on iPhone", "curl", or "Unknown device".
pub fn describe(user_agent: &str) -> String {
    let unknown = || if user_agent.trim().is_empty() { "Unknown device".to_string() } else { short(user_agent) };
    let Some(parsed) = woothee::parser::Parser::new().parse(user_agent) else { return unknown() };
    // Tools (curl, HTTP libraries) read better by their own name than as "HTTP Library".
    let known = |v: &str| !v.is_empty() && v != woothee::woothee::VALUE_UNKNOWN && v != "HTTP Library";
    match (known(parsed.name), known(parsed.os)) {
        (true, true) => format!("{} on {}", parsed.name, parsed.os),
        (true, false) => parsed.name.to_string(),
        (false, true) => format!("Unknown browser on {}", parsed.os),
        (false, false) => unknown(),
    }
}

/// An unrecognised agent, as its first word (a client's name, such as `curl/8.5.0`).
fn short(user_agent: &str) -> String {
    let first: String = user_agent.split_whitespace().next().unwrap_or_default().chars().take(40).collect();
    first.split('/').next().unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::describe;

    #[test]
    fn common_agents_read_as_browser_on_system() {
        let firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
        assert_eq!(describe(firefox), "Firefox on Linux");
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
        assert_eq!(describe(chrome), "Chrome on Windows 10");
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
        assert_eq!(describe(iphone), "Safari on iPhone");
        assert_eq!(describe("curl/8.5.0"), "curl");
        assert_eq!(describe(""), "Unknown device");
    }
}
