//! The address of the client behind a request, for per-address limits.
//!
//! The peer of the TCP connection is the client, unless the peer is one of
//! `TICKETCLUB_TRUSTED_PROXIES`: then `X-Forwarded-For` is read from the right (each proxy
//! appends the address it saw), skipping trusted proxies, and the first address not trusted is
//! the client. Anything to its left was written by the client itself and proves nothing; with
//! no trusted proxies the header is ignored entirely, or anyone could pick their own address.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::request::Parts;
use ipnet::IpNet;

use crate::state::AppState;

/// The client's address, as far as it can be trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ClientIp(pub IpAddr);

impl FromRequestParts<AppState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        // The serve loop records every connection's peer; a router driven without it (a unit
        // test calling it directly) counts as one local client.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::from([127, 0, 0, 1]), |info| info.0.ip());
        let trusted = &state.settings.limits.trusted_proxies;
        Ok(ClientIp(client_ip(peer, &parts.headers, trusted)))
    }
}

/// The client of a request that came from `peer` with `headers`, believing `X-Forwarded-For`
/// only as far as it was written by `trusted` proxies.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(ip));
    if !is_trusted(&peer) {
        return peer;
    }
    // Several headers are one list, in order.
    let forwarded: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    let mut client = peer;
    for hop in forwarded.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else {
            // Garbage from beyond the last trusted hop: stop at what we know.
            break;
        };
        client = ip;
        if !is_trusted(&ip) {
            break;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("an address")
    }

    fn forwarded(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", value.parse().expect("a header value"));
        headers
    }

    #[test]
    fn the_header_is_ignored_unless_the_peer_is_a_trusted_proxy() {
        let headers = forwarded("1.2.3.4");
        assert_eq!(client_ip(ip("10.0.0.9"), &headers, &[]), ip("10.0.0.9"));
        let proxies = ["10.0.0.0/24".parse().expect("a net")];
        assert_eq!(
            client_ip(ip("10.0.1.9"), &headers, &proxies),
            ip("10.0.1.9")
        );
        assert_eq!(client_ip(ip("10.0.0.9"), &headers, &proxies), ip("1.2.3.4"));
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client_not_what_the_client_wrote() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/24".parse().expect("a net")];
        let headers = forwarded("6.6.6.6, 1.2.3.4, 10.0.0.7");
        assert_eq!(client_ip(ip("10.0.0.9"), &headers, &proxies), ip("1.2.3.4"));
        let garbage = forwarded("1.2.3.4, not-an-ip");
        assert_eq!(
            client_ip(ip("10.0.0.9"), &garbage, &proxies),
            ip("10.0.0.9")
        );
        let all_proxies = forwarded("10.0.0.5");
        assert_eq!(
            client_ip(ip("10.0.0.9"), &all_proxies, &proxies),
            ip("10.0.0.5")
        );
    }
}
