//! The OAuth 2.1 rules of todo-chatbot's MCP authorization, without I/O, shared by the
//! authorization server (todo-api) and the resource server (todo-mcp) so each rule is
//! written once.
//!
//! Sources (read for this crate, December 2026):
//! - MCP Authorization, revision 2025-11-25 (PKCE S256 required, `resource` parameter,
//!   audience-bound tokens, Protected Resource Metadata discovery, scope challenges).
//! - OAuth 2.1 draft (draft-ietf-oauth-v2-1-13): PKCE for every client, exact redirect URI
//!   matching, loopback redirect URIs with any port (from RFC 8252 §7.3).
//! - RFC 7636 (PKCE), RFC 8707 (resource indicators), RFC 9728 (Protected Resource Metadata),
//!   RFC 6750 (Bearer challenges).
//!
//! - OAuth Client ID Metadata Document (draft-ietf-oauth-client-id-metadata-document-00),
//!   RFC 7591 (client metadata).
//!
//! Modules: [`pkce`], [`redirect`], [`scope`], [`resource`] (canonical resource URIs and
//! their metadata URLs), [`access`] (the access token todo-mcp accepts), [`grant`] (the token
//! endpoint's code and refresh rules), [`apps`] (the connected-apps view), [`client_metadata`] (registration and metadata
//! document rules) and [`metadata_fetch`] (the crate's one I/O: the guarded fetch of a
//! client's metadata document).

pub mod access;
pub mod apps;
pub mod client_metadata;
pub mod grant;
pub mod metadata_fetch;
pub mod pkce;
pub mod redirect;
pub mod resource;
pub mod scope;

/// todo-web's consent page; `/oauth/authorize` sends the browser there with its own query.
/// Outside `/oauth/` because the ingress sends that prefix to todo-api.
pub const CONSENT_PATH: &str = "/connect";

pub use access::{AccessClaims, AccessError, AccessTokens};
pub use scope::{Scope, Scopes};
