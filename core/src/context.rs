/// Who is calling, as far as the network tells: recorded on sessions and audit events, and
/// used for throttling.
#[derive(Clone, Default)]
pub struct RequestContext {
    /// The client's address: the peer, or what a trusted proxy says it forwarded for.
    pub ip: String,
    pub user_agent: String,
    /// The device cookie the client presented, unverified (see [`crate::devices`]).
    pub device_cookie: Option<String>,
}

/// The device cookie is a credential of sorts: never printed.
impl std::fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestContext")
            .field("ip", &self.ip)
            .field("user_agent", &self.user_agent)
            .field("device_cookie", &self.device_cookie.as_ref().map(|_| "***"))
            .finish()
    }
}

impl RequestContext {
    /// User agents are client-controlled; keep rows small.
    pub fn new(ip: impl Into<String>, user_agent: &str) -> Self {
        Self { ip: ip.into(), user_agent: user_agent.chars().take(256).collect(), device_cookie: None }
    }

    pub fn with_device_cookie(mut self, cookie: Option<&str>) -> Self {
        self.device_cookie = cookie.map(|c| c.chars().take(256).collect());
        self
    }
}
