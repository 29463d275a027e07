//! The caller's context, worked out once per request for every face: the client address (the
//! peer, or what a trusted proxy says it forwarded for), the user agent, and the device cookie.

use std::net::{IpAddr, SocketAddr};

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::{FORWARDED, USER_AGENT};
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
use forwarded_header_value::ForwardedHeaderValue;
use gatehouse_core::config::{ForwardedHeader, IpRange};
use gatehouse_core::RequestContext;

use crate::cookies::DEVICE_COOKIE;
use crate::state::AppState;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

pub async fn attach_request_context(State(state): State<AppState>, mut request: Request<Body>, next: Next) -> Response {
    let settings = state.core.settings();
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
    let headers = request.headers();
    let ip = peer.map(|peer| client_ip(peer, headers, &settings.trusted_proxies, settings.forwarded_header));
    let agent = headers.get(USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let jar = CookieJar::from_headers(headers);
    let context = RequestContext::new(ip.map(|ip| ip.to_string()).unwrap_or_default(), agent)
        .with_device_cookie(jar.get(DEVICE_COOKIE).map(|c| c.value()));
    request.extensions_mut().insert(context);
    next.run(request).await
}

/// The client's address. A forwarding header is believed only when the peer is a trusted
/// proxy, and only the one header the proxies are configured to write. Its chain is walked from
/// the nearest hop back, skipping trusted proxies: the first address that is not one is the
/// client (anything further left was written by the client itself and could be forged). An
/// entry that cannot be read ends the walk at the hop that wrote it.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpRange], header: ForwardedHeader) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|range| range.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    let mut client = peer;
    for hop in forwarded_chain(headers, header).into_iter().rev() {
        match hop {
            Some(ip) => client = ip.to_canonical(),
            None => break,
        }
        if !is_trusted(&client) {
            break;
        }
    }
    client
}

/// The addresses a request passed through, client first; `None` for entries without a
/// readable address (`unknown`, obfuscated names, garbage).
fn forwarded_chain(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let name = match header {
        ForwardedHeader::XForwardedFor => X_FORWARDED_FOR,
        ForwardedHeader::Forwarded => FORWARDED,
    };
    let entries = headers
        .get_all(name)
        .iter()
        .flat_map(|value| value.to_str().unwrap_or("\u{0}").split(',').map(str::trim).collect::<Vec<_>>());
    entries
        .map(|entry| match header {
            ForwardedHeader::XForwardedFor => parse_address(entry),
            ForwardedHeader::Forwarded => {
                ForwardedHeaderValue::from_forwarded(entry).ok().and_then(|value| value.proximate().forwarded_for_ip())
            }
        })
        .collect()
}

/// `192.0.2.1`, `2001:db8::1`, `192.0.2.1:4711` or `[2001:db8::1]:4711`.
fn parse_address(entry: &str) -> Option<IpAddr> {
    entry.parse::<IpAddr>().ok().or_else(|| entry.parse::<SocketAddr>().ok().map(|addr| addr.ip()))
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

    const XFF: ForwardedHeader = ForwardedHeader::XForwardedFor;

    #[test]
    fn an_untrusted_peer_cannot_choose_its_address() {
        let spoofed = headers(&[("x-forwarded-for", "203.0.113.9"), ("forwarded", "for=203.0.113.9")]);
        assert_eq!(client_ip(ip("198.51.100.1"), &spoofed, &[], XFF), ip("198.51.100.1"));
        assert_eq!(client_ip(ip("198.51.100.1"), &spoofed, &ranges(&["10.0.0.0/8"]), XFF), ip("198.51.100.1"));
    }

    #[test]
    fn a_trusted_proxy_names_the_client_in_its_own_header_only() {
        let trusted = ranges(&["10.0.0.0/8"]);
        let one_hop = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &one_hop, &trusted, XFF), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("10.0.0.2"), &HeaderMap::new(), &trusted, XFF), ip("10.0.0.2"));
        // An nginx that writes X-Forwarded-For passes a client's own `Forwarded` through.
        let both = headers(&[("forwarded", "for=6.6.6.6"), ("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &both, &trusted, XFF), ip("203.0.113.9"));
        let rfc7239 =
            headers(&[("forwarded", "for=\"[2001:db8::1]:4711\";proto=https"), ("x-forwarded-for", "6.6.6.6")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &rfc7239, &trusted, ForwardedHeader::Forwarded), ip("2001:db8::1"));
    }

    #[test]
    fn what_the_client_wrote_left_of_the_first_untrusted_hop_is_ignored() {
        let trusted = ranges(&["10.0.0.0/8"]);
        // The client sent "X-Forwarded-For: 1.2.3.4" itself; the proxy appended its real address.
        let forged = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &forged, &trusted, XFF), ip("203.0.113.9"));
        // Two trusted proxies in a row are skipped; ports are allowed.
        let chained = headers(&[("x-forwarded-for", "203.0.113.9:5555, 10.0.0.7")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &chained, &trusted, XFF), ip("203.0.113.9"));
        // Garbage the client wrote does not hide the address the proxy appended.
        let garbage = headers(&[("x-forwarded-for", "not an address, 203.0.113.9")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &garbage, &trusted, XFF), ip("203.0.113.9"));
        // An unreadable nearest entry stops at the proxy that wrote it.
        let unreadable = headers(&[("x-forwarded-for", "203.0.113.9, unknown")]);
        assert_eq!(client_ip(ip("10.0.0.2"), &unreadable, &trusted, XFF), ip("10.0.0.2"));
    }

    #[test]
    fn ipv4_mapped_peers_are_their_ipv4_address() {
        let trusted = ranges(&["10.0.0.0/8"]);
        let one_hop = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(client_ip(ip("::ffff:10.0.0.2"), &one_hop, &trusted, XFF), ip("203.0.113.9"));
        assert_eq!(client_ip(ip("::ffff:198.51.100.1"), &HeaderMap::new(), &[], XFF), ip("198.51.100.1"));
    }
}
