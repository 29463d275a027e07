/// Who is calling, as far as the network tells: recorded on sessions and audit events.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    pub ip: String,
    pub user_agent: String,
}

impl RequestContext {
    /// User agents are client-controlled; keep rows small.
    pub fn new(ip: impl Into<String>, user_agent: &str) -> Self {
        Self { ip: ip.into(), user_agent: user_agent.chars().take(256).collect() }
    }
}
