//! The authorization-code and refresh-token rules of the token endpoint (OAuth 2.1
//! draft-ietf-oauth-v2-1-13 §4.1.3, §4.3; RFC 8707 §2.2), as pure checks over what the
//! store returned, and the error responses (RFC 6749 §5.2 codes, RFC 8707 `invalid_target`).
//!
//! Lifecycle (the store enforces the single use with a row lock; these functions decide):
//! - a code is single-use and lives [`CODE_TTL_SECS`]; a failed exchange still consumes it,
//!   and a second presentation revokes the grant the first one made;
//! - the exchange must come from the client the code was issued to, with the same redirect
//!   URI (exact string) and the PKCE verifier of its challenge; a `resource`, when sent, must
//!   be the code's;
//! - a refresh token rotates on every use (a used one presented again revokes the family);
//!   it is bound to its client, and a refresh may narrow the scopes, never widen them.

use crate::pkce;
use crate::scope::Scopes;

/// How long an authorization code is good for.
pub const CODE_TTL_SECS: u64 = 120;

/// An OAuth error response: `{"error", "error_description"}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    pub fn new(error: &'static str, description: impl Into<String>) -> OAuthError {
        OAuthError {
            error,
            description: description.into(),
        }
    }
    pub fn invalid_request(d: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_request", d)
    }
    pub fn invalid_grant(d: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_grant", d)
    }
    pub fn invalid_client(d: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_client", d)
    }
    pub fn invalid_scope(d: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_scope", d)
    }
    pub fn invalid_target(d: impl Into<String>) -> OAuthError {
        OAuthError::new("invalid_target", d)
    }

    /// The HTTP status: 401 for `invalid_client` (RFC 6749 §5.2), 400 otherwise.
    pub fn status(&self) -> u16 {
        if self.error == "invalid_client" {
            401
        } else {
            400
        }
    }
}

/// What a redeemed code was issued for, as the token endpoint sees it.
#[derive(Debug, Clone, Copy)]
pub struct IssuedCode<'a> {
    pub client_id: &'a str,
    pub redirect_uri: &'a str,
    pub code_challenge: &'a str,
    pub resource: &'a str,
}

/// What the client sent with `grant_type=authorization_code`.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    pub client_id: &'a str,
    pub redirect_uri: Option<&'a str>,
    pub code_verifier: Option<&'a str>,
    pub resource: Option<&'a str>,
}

/// Whether `ex` may exchange `code`. Every mismatch is `invalid_grant` (RFC 6749 §5.2).
pub fn check_exchange(code: &IssuedCode<'_>, ex: &Exchange<'_>) -> Result<(), OAuthError> {
    if ex.client_id != code.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    // The redirect URI of the authorization request, byte for byte (OAuth 2.1 §4.1.3).
    if ex.redirect_uri != Some(code.redirect_uri) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri must be the one sent in the authorization request",
        ));
    }
    let verifier = ex
        .code_verifier
        .ok_or_else(|| OAuthError::invalid_request("code_verifier is required (PKCE, S256)"))?;
    match pkce::verify(verifier, code.code_challenge) {
        Ok(true) => {}
        Ok(false) => {
            return Err(OAuthError::invalid_grant(
                "code_verifier does not match the code_challenge of the authorization request",
            ));
        }
        Err(e) => return Err(OAuthError::invalid_grant(e.to_string())),
    }
    if let Some(resource) = ex.resource
        && crate::resource::canonical(resource).ok().as_deref() != Some(code.resource)
    {
        return Err(OAuthError::invalid_target(format!(
            "resource {resource:?} is not the one this code was issued for ({})",
            code.resource
        )));
    }
    Ok(())
}

/// The scopes of a refreshed access token: the grant's, or the narrower set `requested`.
pub fn refresh_scopes(granted: &Scopes, requested: Option<&str>) -> Result<Scopes, OAuthError> {
    let Some(requested) = requested else {
        return Ok(granted.clone());
    };
    let requested = Scopes::parse(requested).map_err(OAuthError::invalid_scope)?;
    if requested.is_empty() || !requested.is_subset(granted) {
        return Err(OAuthError::invalid_scope(format!(
            "a refresh may narrow the granted scopes ({granted}), not widen them"
        )));
    }
    Ok(requested)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    const MCP: &str = "https://todo.example.com/mcp";
    const WRONG_VERIFIER: &str = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";

    fn code() -> IssuedCode<'static> {
        IssuedCode {
            client_id: "c1",
            redirect_uri: "http://127.0.0.1:5000/cb",
            code_challenge: CHALLENGE,
            resource: MCP,
        }
    }

    fn exchange() -> Exchange<'static> {
        Exchange {
            client_id: "c1",
            redirect_uri: Some("http://127.0.0.1:5000/cb"),
            code_verifier: Some(VERIFIER),
            resource: Some(MCP),
        }
    }

    #[test]
    fn a_matching_exchange_passes_and_each_mismatch_is_named() {
        assert_eq!(check_exchange(&code(), &exchange()), Ok(()));
        assert_eq!(
            check_exchange(
                &code(),
                &Exchange {
                    resource: None,
                    ..exchange()
                }
            ),
            Ok(())
        );
        let err = |ex: Exchange<'static>| check_exchange(&code(), &ex).err().map(|e| e.error);
        assert_eq!(
            err(Exchange {
                client_id: "c2",
                ..exchange()
            }),
            Some("invalid_grant")
        );
        assert_eq!(
            err(Exchange {
                redirect_uri: Some("http://127.0.0.1:5001/cb"),
                ..exchange()
            }),
            Some("invalid_grant"),
            "the token request repeats the exact URI, port included"
        );
        assert_eq!(
            err(Exchange {
                redirect_uri: None,
                ..exchange()
            }),
            Some("invalid_grant")
        );
        assert_eq!(
            err(Exchange {
                code_verifier: Some(WRONG_VERIFIER),
                ..exchange()
            }),
            Some("invalid_grant")
        );
        assert_eq!(
            err(Exchange {
                code_verifier: None,
                ..exchange()
            }),
            Some("invalid_request")
        );
        assert_eq!(
            err(Exchange {
                resource: Some("https://other.example.com/mcp"),
                ..exchange()
            }),
            Some("invalid_target")
        );
        assert_eq!(OAuthError::invalid_client("x").status(), 401);
        assert_eq!(OAuthError::invalid_grant("x").status(), 400);
    }

    #[test]
    fn refresh_may_narrow_but_not_widen() {
        let all = Scopes::all();
        let read = Scopes::parse("tasks:read").unwrap_or_default();
        assert_eq!(refresh_scopes(&all, None), Ok(all.clone()));
        assert_eq!(refresh_scopes(&all, Some("tasks:read")), Ok(read.clone()));
        assert_eq!(
            refresh_scopes(&read, Some("tasks:read tasks:write")).map_err(|e| e.error),
            Err("invalid_scope")
        );
        assert_eq!(
            refresh_scopes(&read, Some("admin")).map_err(|e| e.error),
            Err("invalid_scope")
        );
        assert_eq!(
            refresh_scopes(&read, Some("")).map_err(|e| e.error),
            Err("invalid_scope")
        );
    }
}
