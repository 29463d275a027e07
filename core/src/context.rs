/// Who is calling, as far as the network tells: recorded on sessions and audit events, and
/// used for throttling.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    /// The client's address: the peer, or what a trusted proxy says it forwarded for.
    pub ip: String,
    pub user_agent: String,
    /// The device cookie the client presented, unverified (see [`crate::devices`]).
    pub device_cookie: Option<String>,
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
