//! Redirect URIs: which ones a client may register, and whether the one in a request is a
//! registered one.
//!
//! OAuth 2.1 (draft-ietf-oauth-v2-1-13 §2.3.1, §4.1.3) requires exact string matching, with
//! one exception taken from RFC 8252 §7.3: for an `http` loopback IP literal (`127.0.0.1`,
//! `[::1]`) the port may differ, because a native client (Claude Desktop, VS Code, the SDKs'
//! CLI helpers) listens on whatever port the OS gives it at sign-in time. `localhost` gets the
//! same treatment: RFC 8252 recommends the IP literal, yet MCP clients register
//! `http://localhost:PORT/callback`, and refusing them would lock them out.

use url::{Host, Url};

/// Why a redirect URI cannot be registered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRedirect(pub String);

impl std::fmt::Display for BadRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether `url` is an `http` URL on a loopback host (any port).
fn is_loopback_http(url: &Url) -> bool {
    url.scheme() == "http"
        && match url.host() {
            Some(Host::Ipv4(ip)) => ip.is_loopback(),
            Some(Host::Ipv6(ip)) => ip.is_loopback(),
            Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        }
}

/// Checks a redirect URI at registration: an absolute URL without a fragment (RFC 6749
/// §3.1.2), `https`, `http` only on loopback, or a private-use scheme with a dot in it
/// (`com.example.app:/cb`, RFC 8252 §7.1) for native apps.
pub fn check_registrable(raw: &str) -> Result<(), BadRedirect> {
    let url = Url::parse(raw)
        .map_err(|e| BadRedirect(format!("redirect URI {raw:?} is not an absolute URL ({e})")))?;
    if url.fragment().is_some() {
        return Err(BadRedirect(format!(
            "redirect URI {raw:?} has a fragment; redirect URIs must not (RFC 6749 §3.1.2)"
        )));
    }
    match url.scheme() {
        "https" if url.host().is_some() => Ok(()),
        "http" if is_loopback_http(&url) => Ok(()),
        "http" => Err(BadRedirect(format!(
            "redirect URI {raw:?} uses http on a non-loopback host; use https, or \
             http://127.0.0.1:PORT/... for a native app"
        ))),
        s if s.contains('.') => Ok(()),
        s => Err(BadRedirect(format!(
            "redirect URI {raw:?} has scheme {s:?}; use https, http on loopback, or a \
             reverse-domain private-use scheme such as com.example.app"
        ))),
    }
}

/// Whether the `presented` redirect URI of an authorization or token request matches the
/// `registered` one: byte-for-byte, except the port of an http loopback URI.
pub fn matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(mut reg), Ok(mut pre)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    if !is_loopback_http(&reg) || !is_loopback_http(&pre) {
        return false;
    }
    // Same host literal required (127.0.0.1 registered does not admit localhost); only the
    // port is free. Url::set_port fails only for URLs without a host, excluded above.
    if reg.host() != pre.host() || reg.set_port(None).is_err() || pre.set_port(None).is_err() {
        return false;
    }
    // Compare the remaining text exactly, as registered (Url normalises only the port away).
    reg.as_str() == pre.as_str() && same_text_but_port(registered, presented)
}

/// Guards against `Url` normalisation admitting a URI that differs in text elsewhere (for
/// example `/cb` against `/./cb`): the strings must be equal once the `:port` is removed.
fn same_text_but_port(a: &str, b: &str) -> bool {
    strip_port(a) == strip_port(b)
}

fn strip_port(s: &str) -> String {
    let Some(rest) = s.strip_prefix("http://") else {
        return s.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => &authority[..i],
        _ => authority,
    };
    format!("http://{host}{tail}")
}

/// The registered redirect URI that `presented` matches, if any.
pub fn find<'a>(registered: &'a [String], presented: &str) -> Option<&'a str> {
    registered
        .iter()
        .map(String::as_str)
        .find(|r| matches(r, presented))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_except_loopback_port() {
        let reg = "https://claude.ai/api/mcp/auth_callback";
        assert!(matches(reg, reg));
        assert!(!matches(reg, "https://claude.ai/api/mcp/auth_callback/"));
        assert!(!matches(reg, "https://claude.ai/api/mcp/auth_callback?x=1"));
        assert!(!matches(
            reg,
            "https://claude.ai:8443/api/mcp/auth_callback"
        ));
        assert!(!matches(reg, "https://CLAUDE.ai/api/mcp/auth_callback"));

        let lo = "http://127.0.0.1:33418/callback";
        assert!(matches(lo, "http://127.0.0.1:51234/callback"));
        assert!(matches(lo, "http://127.0.0.1/callback"));
        assert!(!matches(lo, "http://127.0.0.1:51234/callback2"));
        assert!(!matches(lo, "http://127.0.0.1:51234/./callback"));
        assert!(
            !matches(lo, "http://localhost:51234/callback"),
            "another host"
        );
        assert!(
            !matches(lo, "https://127.0.0.1:51234/callback"),
            "another scheme"
        );
        assert!(matches("http://[::1]:1/cb?a=b", "http://[::1]:2/cb?a=b"));
        assert!(matches(
            "http://localhost:3000/cb",
            "http://localhost:6274/cb"
        ));
        assert!(!matches(
            "http://localhost:3000/cb",
            "http://localhost.evil.io:3000/cb"
        ));
        assert_eq!(
            find(
                &["https://a.io/cb".into(), lo.into()],
                "http://127.0.0.1:9/callback"
            ),
            Some(lo)
        );
        assert_eq!(find(&[reg.into()], "https://evil.io/cb"), None);
    }

    #[test]
    fn registration_rules() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://127.0.0.1:1234/cb",
            "http://localhost/cb",
            "http://[::1]:8/cb",
            "vscode.dev.redirect:/cb",
            "com.example.app:/oauth",
        ] {
            assert_eq!(check_registrable(ok), Ok(()), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "https://a.io/cb#frag",
            "javascript:alert(1)",
            "/relative",
            "",
        ] {
            assert!(check_registrable(bad).is_err(), "{bad}");
        }
    }
}
