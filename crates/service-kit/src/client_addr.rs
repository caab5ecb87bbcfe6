//! Who the client is, and which host it asked for, when requests may come through proxies.
//!
//! `X-Forwarded-For` and `X-Forwarded-Host` are plain request headers: any client can send
//! them. They mean something only when the peer that sent them is a proxy we run (the
//! ingress controller, todo-web calling todo-api, the local stack's router). So they are
//! believed only from peers inside `TRUSTED_PROXIES`; with it empty (the default) no header
//! is believed and the TCP peer is the client. Being on a private network is not trust: a
//! NodePort or LoadBalancer with SNAT makes every client look private.

use crate::config::{ConfigError, Env};
use axum::http::HeaderMap;
use ipnet::IpNet;
use std::net::IpAddr;

/// The setting's name, shared by every service that reads it.
pub const TRUSTED_PROXIES: &str = "TRUSTED_PROXIES";

/// The networks whose peers may speak for the client through forwarding headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
}

impl TrustedProxies {
    /// Trusts no forwarding header: the peer address is the client.
    pub fn none() -> TrustedProxies {
        TrustedProxies::default()
    }

    /// A comma-separated list of CIDRs (`10.0.0.0/8, fd00::/8`) or single addresses.
    pub fn parse(list: &str) -> Result<TrustedProxies, String> {
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => item.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!(
                        "`{item}` is not a CIDR or an IP address; write e.g. 10.0.0.0/8,127.0.0.1/32"
                    )
                })?,
            };
            nets.push(net.trunc());
        }
        Ok(TrustedProxies { nets })
    }

    /// `TRUSTED_PROXIES` from the environment (unset or empty: trust none).
    pub fn from_env(env: &Env) -> Result<TrustedProxies, ConfigError> {
        match env.optional(TRUSTED_PROXIES) {
            None => Ok(TrustedProxies::none()),
            Some(list) => TrustedProxies::parse(&list).map_err(|message| ConfigError {
                variable: TRUSTED_PROXIES.to_owned(),
                message,
            }),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.nets.is_empty()
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address. From a trusted peer, `X-Forwarded-For` is walked from the right
    /// (each proxy appends the address it received from), skipping our own proxies: the first
    /// address that is not one of them is the client. Entries left of it were written by the
    /// client or its proxies and prove nothing. An unreadable entry stops the walk at the last
    /// hop that a trusted proxy vouched for.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.trusts(client) {
            return client;
        }
        let values: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        for entry in values.iter().rev().flat_map(|v| v.rsplit(',')) {
            let Some(ip) = parse_entry(entry) else {
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }

    /// The host the client asked for: `X-Forwarded-Host` when a trusted proxy sent it (the
    /// value the proxy itself wrote, the rightmost), otherwise `Host`.
    pub fn host<'a>(&self, peer: IpAddr, headers: &'a HeaderMap) -> Option<&'a str> {
        let forwarded = if self.trusts(peer) {
            headers
                .get_all("x-forwarded-host")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .next_back()
                .and_then(|v| v.rsplit(',').next())
                .map(str::trim)
                .filter(|h| !h.is_empty())
        } else {
            None
        };
        forwarded.or_else(|| {
            headers
                .get(axum::http::header::HOST)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
        })
    }
}

/// One `X-Forwarded-For` entry: an address, maybe with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    if let Ok(sock) = entry.parse::<std::net::SocketAddr>() {
        return Some(sock.ip().to_canonical());
    }
    entry
        .strip_prefix('[')
        .and_then(|e| e.strip_suffix(']'))
        .and_then(|e| e.parse::<IpAddr>().ok())
        .map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn parses_cidrs_and_single_addresses_and_names_bad_ones() {
        let t = TrustedProxies::parse(" 10.0.0.0/8, 127.0.0.1 ,::1/128,").unwrap_or_default();
        assert!(t.trusts(ip("10.9.8.7")));
        assert!(t.trusts(ip("127.0.0.1")));
        assert!(t.trusts(ip("::ffff:127.0.0.1")), "IPv4-mapped peers count");
        assert!(t.trusts(ip("::1")));
        assert!(!t.trusts(ip("127.0.0.2")));
        assert!(TrustedProxies::parse("").unwrap_or_default().is_empty());
        let err = TrustedProxies::parse("10.0.0.0/8,ingress").unwrap_err();
        assert!(err.contains("`ingress`"), "{err}");
        let err = TrustedProxies::from_env(&Env::from_pairs([(TRUSTED_PROXIES, "10.0.0.0/33")]))
            .unwrap_err();
        assert_eq!(err.variable, TRUSTED_PROXIES);
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_headers_say() {
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-forwarded-host", "evil"),
        ]);
        let none = TrustedProxies::none();
        assert_eq!(none.client_ip(ip("10.1.2.3"), &h), ip("10.1.2.3"));
        let mut h2 = h.clone();
        h2.insert("host", HeaderValue::from_static("todo.example.com"));
        assert_eq!(none.host(ip("10.1.2.3"), &h2), Some("todo.example.com"));
    }

    #[test]
    fn walks_forwarded_for_from_the_right_skipping_trusted_hops() {
        let t = TrustedProxies::parse("10.0.0.0/8").unwrap_or_default();
        // The client forged the first entry; the ingress (10.0.0.5) appended the real one,
        // and a second proxy (10.0.0.6) appended the ingress.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.5")]);
        assert_eq!(t.client_ip(ip("10.0.0.6"), &h), ip("203.0.113.9"));
        // Split over several header lines, in order.
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "203.0.113.9:4711"),
        ]);
        assert_eq!(t.client_ip(ip("10.0.0.6"), &h), ip("203.0.113.9"));
        // A peer outside the list is the client even if private.
        let h = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(t.client_ip(ip("192.168.1.1"), &h), ip("192.168.1.1"));
        // Garbage stops the walk at the last vouched-for hop.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, junk, 10.0.0.5")]);
        assert_eq!(t.client_ip(ip("10.0.0.6"), &h), ip("10.0.0.5"));
        // All trusted: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.0.0.1, 10.0.0.5")]);
        assert_eq!(t.client_ip(ip("10.0.0.6"), &h), ip("10.0.0.1"));
        // No header: the peer.
        assert_eq!(
            t.client_ip(ip("10.0.0.6"), &HeaderMap::new()),
            ip("10.0.0.6")
        );
        let h = headers(&[("x-forwarded-for", "[2001:db8::1]:443")]);
        assert_eq!(t.client_ip(ip("10.0.0.6"), &h), ip("2001:db8::1"));
    }

    #[test]
    fn forwarded_host_only_from_a_trusted_peer() {
        let t = TrustedProxies::parse("127.0.0.1/32").unwrap_or_default();
        let h = headers(&[
            ("host", "10.0.0.9:8080"),
            ("x-forwarded-host", "todo.example.com"),
        ]);
        assert_eq!(t.host(ip("127.0.0.1"), &h), Some("todo.example.com"));
        assert_eq!(t.host(ip("198.51.100.1"), &h), Some("10.0.0.9:8080"));
        let h = headers(&[
            ("host", "h"),
            ("x-forwarded-host", "forged, todo.example.com"),
        ]);
        assert_eq!(t.host(ip("127.0.0.1"), &h), Some("todo.example.com"));
    }
}
