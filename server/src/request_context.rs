//! The caller's context, worked out once per request for every face: the client address (the
//! peer, or what a trusted proxy says it forwarded for), the user agent, and the device cookie.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{FORWARDED, USER_AGENT};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use forwarded_header_value::ForwardedHeaderValue;
use gatehouse_core::config::IpRange;
use gatehouse_core::devices::DEVICE_COOKIE;
use gatehouse_core::RequestContext;

use crate::state::AppState;

const X_FORWARDED_FOR: &str = "x-forwarded-for";

pub async fn attach_request_context(State(state): State<AppState>, mut request: Request<Body>, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let headers = request.headers();
    let ip = peer.map(|peer| client_ip(peer, headers, &state.core.settings().trusted_proxies));
    let agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let jar = CookieJar::from_headers(headers);
    let context = RequestContext::new(ip.map(|ip| ip.to_string()).unwrap_or_default(), agent)
        .with_device_cookie(jar.get(DEVICE_COOKIE).map(|c| c.value()));
    request.extensions_mut().insert(context);
    next.run(request).await
}

/// The client's address. Forwarding headers are believed only when the peer is a trusted
/// proxy; then the chain is walked from the nearest hop back, skipping trusted proxies, and the
/// first address that is not one is the client (anything further left was written by the
/// client itself and could be forged). `Forwarded` (RFC 7239) wins over `X-Forwarded-For`.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpRange]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let Some(chain) = forwarded_chain(headers) else { return peer };
    // A chain entry we cannot read (`unknown`, an obfuscated name) ends the walk at the hop
    // that wrote it: the peer, or the last trusted proxy before it.
    let mut client = peer;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if is_trusted(&client) => client = *ip,
            _ => break,
        }
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

/// The addresses a request passed through, client first; `None` for entries without an IP.
fn forwarded_chain(headers: &HeaderMap) -> Option<Vec<Option<IpAddr>>> {
    let joined = |name| {
        let values: Vec<&str> = headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    let parsed = if let Some(forwarded) = joined(FORWARDED.as_str()) {
        ForwardedHeaderValue::from_forwarded(&forwarded).ok()?
    } else {
        ForwardedHeaderValue::from_x_forwarded_for(&joined(X_FORWARDED_FOR)?).ok()?
    };
    Some(parsed.iter().map(|stanza| stanza.forwarded_for_ip()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn ranges(list: &[&str]) -> Vec<IpRange> {
        list.iter().map(|r| r.parse().unwrap()).collect()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let spoofed = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_ip(ip("198.51.100.1"), &spoofed, &[]), ip("198.51.100.1"));
        assert_eq!(client_ip(ip("198.51.100.1"), &spoofed, &ranges(&["10.0.0.0/8"])), ip("198.51.100.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client() {
        let trusted = ranges(&["10.0.0.0/8"]);
        let one_hop = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &one_hop, &trusted), ip("203.0.113.9"));
        let rfc7239 = headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &rfc7239, &trusted), ip("2001:db8::1"));
        assert_eq!(client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted), ip("10.0.0.2"));
    }

    #[test]
    fn what_the_client_wrote_left_of_the_first_untrusted_hop_is_ignored() {
        let trusted = ranges(&["10.0.0.0/8"]);
        // The client sent "X-Forwarded-For: 1.2.3.4" itself; the proxy appended its real address.
        let forged = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &forged, &trusted), ip("203.0.113.9"));
        // Two trusted proxies in a row are skipped.
        let chained = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.7")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &chained, &trusted), ip("203.0.113.9"));
        let garbage = headers(&[("x-forwarded-for", "not an address")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &garbage, &trusted), ip("10.0.0.2"));
    }
}
