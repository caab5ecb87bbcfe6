//! The access token todo-mcp accepts: an HS256 JWT signed with `JWT_SECRET` (todo-api issues
//! it at `/oauth/token`, todo-mcp verifies it; the two already share that secret), bound to
//! one resource and a set of scopes.
//!
//! - `aud` is the canonical URL of the MCP endpoint (RFC 8707; MCP 2025-11-25 "Token Audience
//!   Binding and Validation": servers MUST reject tokens not issued for them). A todo-api
//!   sign-in token has no `aud` and is refused by [`AccessTokens::verify`]; conversely
//!   jsonwebtoken refuses a token carrying an `aud` where no audience is expected, so an MCP
//!   access token is no good at todo-api's REST API (tested below against todo-auth).
//! - `typ` in the JWT header is `at+jwt` (RFC 9068) so the two kinds cannot be confused even
//!   by a verifier that ignored `aud`.
//! - Short-lived ([`ACCESS_TTL_SECS`]) and revocable at once: `gid` is the grant, which is a
//!   sign-in session row in todo-store, and `ver` the user's token version, so todo-mcp's
//!   PostgreSQL check (the one sign-in tokens get) refuses the token as soon as the grant is
//!   revoked or the version bumped (password change, "sign out everywhere").

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use uuid::Uuid;

use crate::scope::Scopes;

/// Matches todo-auth's issuer: the same authorization server signs both kinds of token.
pub const ISSUER: &str = "todo-api";
/// Lifetime of an access token: ten minutes.
pub const ACCESS_TTL_SECS: i64 = 600;
/// JWT `typ` of access tokens (RFC 9068 §2.1).
pub const TYP: &str = "at+jwt";
const LEEWAY_SECS: u64 = 10;

/// The claims of an MCP access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: Uuid,
    /// The resource (canonical MCP URL) the token is for.
    pub aud: String,
    /// Space-delimited scopes.
    pub scope: String,
    pub client_id: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    /// The user's `token_version` at issue time.
    pub ver: i32,
    /// The grant (refresh-token family; a `sessions` row) the token belongs to.
    pub gid: Uuid,
    pub jti: Uuid,
}

/// Why an access token was refused; the text goes into `error_description`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessError {
    /// Not a JWT at all, or not one of ours.
    Invalid,
    Expired,
    /// A JWT signed by todo-api but with no audience: a sign-in token of the web app.
    SessionToken,
    /// Issued for another resource.
    WrongAudience(String),
}

impl std::fmt::Display for AccessError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AccessError::Invalid => f.write_str("the access token is invalid"),
            AccessError::Expired => f.write_str(
                "the access token expired; get a new one with the refresh token at /oauth/token",
            ),
            AccessError::SessionToken => f.write_str(
                "this is a todo-api sign-in token, not an access token for this MCP server; \
                 connect with OAuth (see the resource_metadata URL) to get one",
            ),
            AccessError::WrongAudience(aud) => write!(
                f,
                "the access token was issued for another resource ({aud}); request one with \
                 resource set to this server's URL"
            ),
        }
    }
}

/// Issues and verifies access tokens for one resource. Cheap to clone.
#[derive(Clone)]
pub struct AccessTokens {
    inner: Arc<Keys>,
}

struct Keys {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// What a new access token is for.
#[derive(Debug, Clone)]
pub struct Grant<'a> {
    pub user: Uuid,
    pub version: i32,
    pub resource: &'a str,
    pub scopes: &'a Scopes,
    pub client_id: &'a str,
    pub grant: Uuid,
}

impl AccessTokens {
    pub fn new(secret: &str) -> AccessTokens {
        AccessTokens {
            inner: Arc::new(Keys {
                encoding: EncodingKey::from_secret(secret.as_bytes()),
                decoding: DecodingKey::from_secret(secret.as_bytes()),
            }),
        }
    }

    /// Signs an access token valid from `now` for [`ACCESS_TTL_SECS`].
    pub fn issue_at(&self, g: &Grant<'_>, now: i64) -> Result<String, jsonwebtoken::errors::Error> {
        let claims = AccessClaims {
            iss: ISSUER.to_owned(),
            sub: g.user,
            aud: g.resource.to_owned(),
            scope: g.scopes.to_string(),
            client_id: g.client_id.to_owned(),
            iat: now,
            nbf: now,
            exp: now + ACCESS_TTL_SECS,
            ver: g.version,
            gid: g.grant,
            jti: Uuid::new_v4(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TYP.to_owned());
        jsonwebtoken::encode(&header, &claims, &self.inner.encoding)
    }

    pub fn issue(&self, g: &Grant<'_>) -> Result<String, jsonwebtoken::errors::Error> {
        self.issue_at(g, time::OffsetDateTime::now_utc().unix_timestamp())
    }

    /// Verifies signature, issuer, time claims, `typ` and that `aud` is `resource`.
    pub fn verify(&self, token: &str, resource: &str) -> Result<AccessClaims, AccessError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AccessError::Invalid)?;
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECS;
        // Checked by hand below, to tell a sign-in token and another resource's token apart.
        validation.validate_aud = false;
        let data = jsonwebtoken::decode::<serde_json_value::Loose>(
            token,
            &self.inner.decoding,
            &validation,
        );
        let loose = match data {
            Ok(d) => d.claims,
            Err(e) => {
                return Err(match e.kind() {
                    ErrorKind::ExpiredSignature => AccessError::Expired,
                    // A valid todo-api token lacking `aud` fails the required-claims check.
                    ErrorKind::MissingRequiredClaim(c) if c == "aud" => AccessError::SessionToken,
                    _ => AccessError::Invalid,
                });
            }
        };
        if loose.aud.as_deref() != Some(resource) {
            return Err(AccessError::WrongAudience(loose.aud.unwrap_or_default()));
        }
        if header.typ.as_deref() != Some(TYP) {
            return Err(AccessError::Invalid);
        }
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.inner.decoding, &validation)
            .map_err(|_| AccessError::Invalid)?
            .claims;
        Ok(claims)
    }
}

/// Only the claim that decides which refusal applies.
mod serde_json_value {
    #[derive(serde::Deserialize)]
    pub struct Loose {
        pub aud: Option<String>,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const SECRET: &str = "test-secret-test-secret-test-secret";
    const MCP: &str = "https://todo.example.com/mcp";

    fn grant(scopes: &Scopes) -> Grant<'_> {
        Grant {
            user: Uuid::new_v4(),
            version: 3,
            resource: MCP,
            scopes,
            client_id: "c1",
            grant: Uuid::new_v4(),
        }
    }

    #[test]
    fn issued_tokens_verify_for_their_resource_only() {
        let t = AccessTokens::new(SECRET);
        let scopes = Scopes::parse("tasks:read").unwrap_or_default();
        let g = grant(&scopes);
        let token = t.issue(&g).unwrap_or_default();
        let claims = t.verify(&token, MCP);
        assert!(
            claims
                .as_ref()
                .is_ok_and(|c| c.sub == g.user && c.scope == "tasks:read" && c.ver == 3),
            "{claims:?}"
        );
        assert_eq!(
            t.verify(&token, "https://other.example.com/mcp"),
            Err(AccessError::WrongAudience(MCP.into()))
        );
        assert_eq!(
            AccessTokens::new("another-secret-another-secret-xx").verify(&token, MCP),
            Err(AccessError::Invalid)
        );
        assert_eq!(t.verify("not a jwt", MCP), Err(AccessError::Invalid));
        let old = t.issue_at(&g, 1_000_000).unwrap_or_default();
        assert_eq!(t.verify(&old, MCP), Err(AccessError::Expired));
    }

    #[test]
    fn session_tokens_and_access_tokens_do_not_cross() {
        let session = todo_auth::Tokens::new(SECRET, Duration::from_secs(600));
        let web = session
            .issue(Uuid::new_v4(), "a@b.io", "A")
            .unwrap_or_default();
        assert_eq!(
            AccessTokens::new(SECRET).verify(&web, MCP),
            Err(AccessError::SessionToken)
        );
        let scopes = Scopes::all();
        let access = AccessTokens::new(SECRET)
            .issue(&grant(&scopes))
            .unwrap_or_default();
        assert!(
            session.verify(&access).is_err(),
            "todo-api's REST API must refuse an MCP access token"
        );
    }
}
