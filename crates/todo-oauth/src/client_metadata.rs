//! Client metadata: the checks shared by RFC 7591 dynamic registration and OAuth Client ID
//! Metadata Documents (draft-ietf-oauth-client-id-metadata-document-00, the registration
//! MCP Authorization 2025-11-25 prefers), and the rules of the latter that need no I/O: which
//! `client_id` URLs may be fetched, which addresses they may resolve to, what a fetched
//! document must say, and how long it may be cached. The fetch itself is
//! [`crate::metadata_fetch`].
//!
//! What the draft asks, and how it is met here:
//! - the client identifier URL uses `https`, has a path, no dot segments, no fragment, no
//!   user info ([`check_client_id_url`]; we also require the URL to be written in its
//!   normalised form, so one client has one identifier);
//! - the document is a JSON object whose `client_id` equals the URL by simple string
//!   comparison; `token_endpoint_auth_method` must not be a shared-secret method and no
//!   `client_secret` may appear ([`check_document`]); this server accepts public clients
//!   only, so anything but `none` is refused with the reason;
//! - the authorization server should cache per HTTP caching headers within its own bounds
//!   ([`cache_ttl`]) and guard against SSRF: the fetch refuses addresses that are not public
//!   unicast ones ([`screen_ip`]), after DNS resolution (see the fetcher).

use crate::grant::OAuthError;
use crate::redirect;
use serde_json::Value;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use url::{Host, Url};

/// At most this many redirect URIs per client.
pub const MAX_REDIRECT_URIS: usize = 10;
/// At most this many characters in a client name.
pub const MAX_CLIENT_NAME: usize = 100;

/// What a client's metadata says, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    pub client_name: String,
    pub redirect_uris: Vec<String>,
}

/// Checks client metadata (RFC 7591 §2): `redirect_uris` (1 to 10, each registrable),
/// `token_endpoint_auth_method` `none` if given, `grant_types` and `response_types` within
/// what this server does, and `client_name` (`default_name` when absent). Errors are RFC 7591
/// §3.2.2 codes naming the field.
pub fn check_metadata(meta: &Value, default_name: &str) -> Result<Metadata, OAuthError> {
    let bad = |e: &'static str, d: String| Err(OAuthError::new(e, d));
    let Some(meta) = meta.as_object() else {
        return bad(
            "invalid_client_metadata",
            "the client metadata must be a JSON object (RFC 7591 §2)".into(),
        );
    };
    let Some(uris) = meta.get("redirect_uris").and_then(Value::as_array) else {
        return bad(
            "invalid_redirect_uri",
            format!("redirect_uris is required: a list of 1 to {MAX_REDIRECT_URIS} redirect URIs"),
        );
    };
    if uris.is_empty() || uris.len() > MAX_REDIRECT_URIS {
        return bad(
            "invalid_redirect_uri",
            format!("redirect_uris must list 1 to {MAX_REDIRECT_URIS} redirect URIs"),
        );
    }
    let mut redirect_uris = Vec::with_capacity(uris.len());
    for uri in uris {
        let Some(uri) = uri.as_str() else {
            return bad(
                "invalid_redirect_uri",
                "redirect_uris must be strings".into(),
            );
        };
        if let Err(e) = redirect::check_registrable(uri) {
            return bad("invalid_redirect_uri", e.0);
        }
        redirect_uris.push(uri.to_owned());
    }
    let text = |field: &str| meta.get(field).and_then(Value::as_str);
    if let Some(method) = text("token_endpoint_auth_method")
        && method != "none"
    {
        return bad(
            "invalid_client_metadata",
            format!(
                "token_endpoint_auth_method {method:?} is not supported: this server accepts \
                 public clients only (\"none\"), which PKCE protects"
            ),
        );
    }
    let listed_in = |field: &str, allowed: &[&str]| {
        meta.get(field).and_then(Value::as_array).is_none_or(|a| {
            a.iter()
                .all(|x| x.as_str().is_some_and(|x| allowed.contains(&x)))
        })
    };
    if !listed_in("grant_types", &["authorization_code", "refresh_token"]) {
        return bad(
            "invalid_client_metadata",
            "grant_types may hold only authorization_code and refresh_token".into(),
        );
    }
    if !listed_in("response_types", &["code"]) {
        return bad(
            "invalid_client_metadata",
            "response_types may hold only code".into(),
        );
    }
    let name = text("client_name").unwrap_or(default_name).trim();
    if name.is_empty()
        || name.chars().count() > MAX_CLIENT_NAME
        || name.chars().any(char::is_control)
    {
        return bad(
            "invalid_client_metadata",
            format!(
                "client_name must be 1 to {MAX_CLIENT_NAME} characters without control characters"
            ),
        );
    }
    Ok(Metadata {
        client_name: name.to_owned(),
        redirect_uris,
    })
}

/// Whether a `client_id` names a metadata document (a URL) rather than a registered client
/// (registration hands out UUIDs, which never contain `://`).
pub fn is_document_id(client_id: &str) -> bool {
    client_id.contains("://")
}

/// Limits and the test-only escape of the metadata fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FetchPolicy {
    /// `OAUTH_CLIENT_METADATA_ALLOW_LOOPBACK` (tests only): also accept `http` URLs and
    /// loopback addresses, so a test can serve a document from 127.0.0.1. Private,
    /// link-local and other non-public addresses stay refused.
    pub allow_loopback: bool,
    /// Largest document accepted (the draft suggests 5 KB).
    pub max_bytes: usize,
    /// The whole fetch, connection included.
    pub timeout: Duration,
    /// Cache bounds: a document is reused at least this long (also with `no-store`, so one
    /// authorization flow sees one document) ...
    pub min_ttl: Duration,
    /// ... and at most this long, whatever its headers say.
    pub max_ttl: Duration,
    /// When the response says nothing about caching.
    pub default_ttl: Duration,
}

impl Default for FetchPolicy {
    fn default() -> FetchPolicy {
        FetchPolicy {
            allow_loopback: false,
            max_bytes: 5 * 1024,
            timeout: Duration::from_secs(5),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(24 * 3600),
            default_ttl: Duration::from_secs(600),
        }
    }
}

/// Checks a client identifier URL before anything is fetched; the message names the problem.
pub fn check_client_id_url(raw: &str, policy: &FetchPolicy) -> Result<Url, String> {
    let url =
        Url::parse(raw).map_err(|e| format!("client_id {raw:?} is not an absolute URL ({e})"))?;
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_loopback => {}
        s => {
            return Err(format!(
                "client_id {raw:?} uses {s}: a client metadata document URL must be https"
            ));
        }
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "client_id {raw:?} carries user info; a client metadata document URL must not"
        ));
    }
    if url.fragment().is_some() {
        return Err(format!(
            "client_id {raw:?} has a fragment; a client metadata document URL must not"
        ));
    }
    let path = raw
        .split_once("://")
        .map(|(_, rest)| rest.find('/').map(|i| &rest[i..]).unwrap_or(""))
        .unwrap_or("");
    let path = path.split(['?', '#']).next().unwrap_or("");
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(format!(
            "client_id {raw:?} has a dot segment in its path; a client metadata document URL \
             must not"
        ));
    }
    if path.is_empty() || path == "/" {
        return Err(format!(
            "client_id {raw:?} has no path; a client metadata document URL names a document, \
             e.g. https://app.example.com/oauth/client.json"
        ));
    }
    if let Some(ip) = match url.host() {
        Some(Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
        Some(Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
        Some(Host::Domain(_)) => None,
        None => return Err(format!("client_id {raw:?} has no host")),
    } {
        screen_ip(ip, policy).map_err(|why| {
            format!("client_id {raw:?} points at {ip}, {why}; refusing to fetch it (SSRF)")
        })?;
    }
    if url.as_str() != raw {
        return Err(format!(
            "client_id {raw:?} is not written in normal form ({}); use that exact URL",
            url.as_str()
        ));
    }
    Ok(url)
}

/// Why an address may not be fetched from, or `Ok` for a public unicast address (and, with
/// [`FetchPolicy::allow_loopback`], a loopback one).
pub fn screen_ip(ip: IpAddr, policy: &FetchPolicy) -> Result<(), &'static str> {
    let why = match ip {
        IpAddr::V4(v4) => v4_class(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_v4(v6) {
                v4_class(v4)
            } else {
                v6_class(v6)
            }
        }
    };
    match why {
        None => Ok(()),
        Some("a loopback address") if policy.allow_loopback => Ok(()),
        Some(why) => Err(why),
    }
}

fn v4_class(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(if ip.is_loopback() {
        "a loopback address"
    } else if ip.is_private() {
        "a private address"
    } else if ip.is_link_local() {
        "a link-local address (where cloud metadata services live)"
    } else if a == 100 && (64..128).contains(&b) {
        "a shared (carrier-grade NAT) address"
    } else if ip.is_unspecified() || a == 0 {
        "an unspecified address"
    } else if ip.is_broadcast() || ip.is_multicast() || a >= 240 {
        "a broadcast, multicast or reserved address"
    } else if ip.is_documentation() || (a == 198 && (b & 0xfe) == 18) || (a, b, c) == (192, 0, 0) {
        "a documentation, benchmarking or protocol-assignment address"
    } else {
        return None;
    })
}

fn v6_class(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    Some(if ip.is_loopback() {
        "a loopback address"
    } else if ip.is_unspecified() {
        "an unspecified address"
    } else if (s[0] & 0xfe00) == 0xfc00 {
        "a unique-local (private) address"
    } else if (s[0] & 0xffc0) == 0xfe80 || (s[0] & 0xffc0) == 0xfec0 {
        "a link-local address"
    } else if ip.is_multicast() {
        "a multicast address"
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        "a documentation address"
    } else {
        return None;
    })
}

/// The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`)
/// or NAT64 (`64:ff9b::a.b.c.d`) address: screened as the IPv4 address it reaches.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..5] == [0; 5] && s[5] == 0xffff {
        return Some(tail);
    }
    if s[..6] == [0; 6] && !ip.is_loopback() && !ip.is_unspecified() {
        return Some(tail);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0; 4] {
        return Some(tail);
    }
    None
}

/// Whether a `Content-Type` is JSON: `application/json` or `application/<x>+json`.
pub fn is_json_type(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|sub| sub.ends_with("+json"))
}

/// Checks a fetched document for the client identifier `url`: its `client_id` must be the URL
/// exactly, no shared secret may appear, and the metadata rules of registration hold. The
/// client's name defaults to the URL's host.
pub fn check_document(url: &Url, body: &[u8]) -> Result<Metadata, String> {
    let doc: Value = serde_json::from_slice(body)
        .map_err(|e| format!("the client metadata document at {url} is not JSON ({e})"))?;
    if !doc.is_object() {
        return Err(format!(
            "the client metadata document at {url} must be a JSON object"
        ));
    }
    match doc.get("client_id").and_then(Value::as_str) {
        Some(id) if id == url.as_str() => {}
        Some(id) => {
            return Err(format!(
                "the client metadata document at {url} says client_id {id:?}; it must be the \
                 document's own URL"
            ));
        }
        None => {
            return Err(format!(
                "the client metadata document at {url} has no client_id; it must hold the \
                 document's own URL"
            ));
        }
    }
    for secret in ["client_secret", "client_secret_expires_at"] {
        if doc.get(secret).is_some() {
            return Err(format!(
                "the client metadata document at {url} holds {secret}; a metadata document \
                 is public and must not"
            ));
        }
    }
    let host = url.host_str().unwrap_or("an app");
    check_metadata(&doc, host)
        .map_err(|e| format!("the client metadata document at {url}: {}", e.description))
}

/// How long a fetched document may be reused: `Cache-Control: max-age` within the policy's
/// bounds; `no-store`/`no-cache` mean the shortest; no header means the default.
pub fn cache_ttl(cache_control: Option<&str>, policy: &FetchPolicy) -> Duration {
    let Some(cc) = cache_control else {
        return policy.default_ttl;
    };
    let mut ttl = None;
    for directive in cc.split(',') {
        let d = directive.trim().to_ascii_lowercase();
        if d == "no-store" || d == "no-cache" {
            return policy.min_ttl;
        }
        if let Some(secs) = d.strip_prefix("max-age=")
            && let Ok(secs) = secs.trim_matches('"').parse::<u64>()
        {
            ttl = Some(Duration::from_secs(secs));
        }
    }
    ttl.unwrap_or(policy.default_ttl)
        .clamp(policy.min_ttl, policy.max_ttl)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    fn strict() -> FetchPolicy {
        FetchPolicy::default()
    }

    #[test]
    fn client_id_urls_are_checked_before_any_fetch() {
        let ok = "https://app.example.com/oauth/client.json";
        assert!(check_client_id_url(ok, &strict()).is_ok());
        assert!(check_client_id_url("https://app.example.com:8443/c?v=1", &strict()).is_ok());
        for (bad, says) in [
            ("http://app.example.com/c.json", "must be https"),
            ("https://app.example.com", "no path"),
            ("https://app.example.com/", "no path"),
            ("https://app.example.com/a/../c.json", "dot segment"),
            ("https://app.example.com/./c.json", "dot segment"),
            ("https://u:p@app.example.com/c.json", "user info"),
            ("https://app.example.com/c.json#x", "fragment"),
            ("https://APP.example.com/c.json", "normal form"),
            ("https://127.0.0.1/c.json", "loopback"),
            ("https://[::1]/c.json", "loopback"),
            ("https://10.1.2.3/c.json", "private"),
            ("https://192.168.0.10/c.json", "private"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://[::ffff:127.0.0.1]/c.json", "loopback"),
            ("https://[fd00:ec2::254]/c.json", "unique-local"),
            ("https://0.0.0.0/c.json", "unspecified"),
            ("not a url", "not an absolute URL"),
        ] {
            let e = check_client_id_url(bad, &strict()).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        // The test-only escape admits http and loopback, nothing else.
        let lo = FetchPolicy {
            allow_loopback: true,
            ..strict()
        };
        assert!(check_client_id_url("http://127.0.0.1:4000/c.json", &lo).is_ok());
        assert!(check_client_id_url("http://10.0.0.1/c.json", &lo).is_err());
        assert!(check_client_id_url("https://169.254.169.254/c", &lo).is_err());
    }

    #[test]
    fn only_public_unicast_addresses_pass() {
        let p = strict();
        for ok in ["93.184.215.14", "1.1.1.1", "2606:4700:4700::1111"] {
            assert_eq!(screen_ip(ok.parse().unwrap(), &p), Ok(()), "{ok}");
        }
        for bad in [
            "127.0.0.1",
            "127.9.9.9",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "::1",
            "::",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::7f00:1",
            "2001:db8::1",
        ] {
            let ip: IpAddr = bad.parse().unwrap();
            assert!(screen_ip(ip, &p).is_err(), "{bad}");
        }
    }

    #[test]
    fn documents_must_name_themselves_and_hold_no_secret() {
        let url = Url::parse("https://app.example.com/c.json").unwrap();
        let doc = |v: Value| serde_json::to_vec(&v).unwrap();
        let good = json!({"client_id": url.as_str(), "client_name": "App",
                          "redirect_uris": ["https://app.example.com/cb"]});
        assert_eq!(
            check_document(&url, &doc(good)),
            Ok(Metadata {
                client_name: "App".into(),
                redirect_uris: vec!["https://app.example.com/cb".into()]
            })
        );
        let unnamed = json!({"client_id": url.as_str(), "redirect_uris": ["http://127.0.0.1/cb"]});
        assert_eq!(
            check_document(&url, &doc(unnamed)).map(|m| m.client_name),
            Ok("app.example.com".into())
        );
        for (bad, says) in [
            (
                json!({"client_id": "https://evil.example/c.json", "redirect_uris": ["https://a.io/cb"]}),
                "own URL",
            ),
            (
                json!({"redirect_uris": ["https://a.io/cb"]}),
                "no client_id",
            ),
            (
                json!({"client_id": url.as_str(), "client_secret": "s", "redirect_uris": ["https://a.io/cb"]}),
                "client_secret",
            ),
            (
                json!({"client_id": url.as_str(), "token_endpoint_auth_method": "client_secret_basic", "redirect_uris": ["https://a.io/cb"]}),
                "token_endpoint_auth_method",
            ),
            (json!({"client_id": url.as_str()}), "redirect_uris"),
            (
                json!({"client_id": url.as_str(), "redirect_uris": ["http://evil.example/cb"]}),
                "http on a non-loopback",
            ),
            (json!(["not", "an", "object"]), "JSON object"),
        ] {
            let e = check_document(&url, &doc(bad.clone())).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
        }
        assert!(
            check_document(&url, b"<html>")
                .unwrap_err()
                .contains("not JSON")
        );
    }

    #[test]
    fn cache_lifetimes_follow_the_headers_within_bounds() {
        let p = strict();
        assert_eq!(cache_ttl(None, &p), p.default_ttl);
        assert_eq!(
            cache_ttl(Some("public, max-age=3600"), &p),
            Duration::from_secs(3600)
        );
        assert_eq!(cache_ttl(Some("max-age=1"), &p), p.min_ttl);
        assert_eq!(cache_ttl(Some("max-age=99999999"), &p), p.max_ttl);
        assert_eq!(cache_ttl(Some("no-store"), &p), p.min_ttl);
        assert_eq!(cache_ttl(Some("private"), &p), p.default_ttl);
        assert!(is_json_type("application/json; charset=utf-8"));
        assert!(is_json_type("Application/JSON"));
        assert!(is_json_type("application/oauth-client+json"));
        assert!(!is_json_type("text/html"));
        assert!(!is_json_type("text/json"));
    }
}
