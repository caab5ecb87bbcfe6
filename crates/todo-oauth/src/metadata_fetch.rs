//! Fetching an OAuth Client ID Metadata Document: the one outbound request the authorization
//! server makes on a stranger's say-so, so every limit of [`FetchPolicy`] applies and the
//! server-side request forgery guard sits where it cannot be raced.
//!
//! - The URL is checked first ([`check_client_id_url`]: https, shape, IP literals screened).
//! - Names are resolved by [`ScreeningResolver`], which refuses the whole lookup if any
//!   address is loopback, private, link-local (cloud metadata at 169.254.169.254) or
//!   otherwise not public; the connection then goes only to the screened addresses, so a DNS
//!   answer that changes between a check and the connect (rebinding) gains nothing.
//! - No proxy (a proxy would resolve the name itself, past the guard), no redirects (a 3xx
//!   is refused: the document lives at the client identifier itself), one overall timeout,
//!   the body read in chunks and abandoned past [`FetchPolicy::max_bytes`], a JSON content
//!   type required, then [`check_document`].

use crate::client_metadata::{
    FetchPolicy, Metadata, cache_ttl, check_client_id_url, check_document, is_json_type, screen_ip,
};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// A fetched, checked document and how long it may be reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub metadata: Metadata,
    pub ttl: Duration,
}

/// Resolves names and refuses any that reaches an address [`screen_ip`] refuses.
#[derive(Debug, Clone, Copy)]
pub struct ScreeningResolver {
    policy: FetchPolicy,
}

impl Resolve for ScreeningResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| format!("{host} could not be resolved ({e})"))?
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no address").into());
            }
            for addr in &addrs {
                screen_ip(addr.ip(), &policy).map_err(|why| {
                    format!(
                        "{host} resolves to {}, {why}; refusing to fetch from it (SSRF)",
                        addr.ip()
                    )
                })?;
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// Fetches client metadata documents under one policy. Cheap to clone.
#[derive(Clone)]
pub struct Fetcher {
    http: reqwest::Client,
    policy: FetchPolicy,
}

impl std::fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fetcher")
            .field("policy", &self.policy)
            .finish()
    }
}

/// The message of an error and of everything it wraps: reqwest's own text alone ("error
/// sending request") would hide the resolver's refusal.
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

impl Fetcher {
    pub fn new(policy: FetchPolicy) -> Result<Fetcher, String> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout)
            .https_only(!policy.allow_loopback)
            .dns_resolver(Arc::new(ScreeningResolver { policy }))
            .user_agent(concat!(
                "todo-api/",
                env!("CARGO_PKG_VERSION"),
                " (OAuth client metadata fetch)"
            ))
            .build()
            .map_err(|e| format!("the client metadata HTTP client could not be built: {e}"))?;
        Ok(Fetcher { http, policy })
    }

    pub fn policy(&self) -> &FetchPolicy {
        &self.policy
    }

    /// Fetches and checks the document `client_id` names; the error says what was wrong.
    pub async fn fetch(&self, client_id: &str) -> Result<Fetched, String> {
        let url = check_client_id_url(client_id, &self.policy)?;
        let at = url.as_str().to_owned();
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                format!(
                    "fetching the client metadata document {at} took longer than {} s",
                    self.policy.timeout.as_secs_f32()
                )
            } else {
                format!(
                    "the client metadata document {at} could not be fetched: {}",
                    chain(&e)
                )
            }
        };
        let mut response = self
            .http
            .get(url.clone())
            .header(ACCEPT, "application/json")
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(format!(
                "the client metadata document {at} answered {status} (a redirect); redirects \
                 are not followed: serve the document at the client_id URL itself"
            ));
        }
        if status != reqwest::StatusCode::OK {
            return Err(format!(
                "the client metadata document {at} answered {status}, not 200 OK"
            ));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !is_json_type(&content_type) {
            return Err(format!(
                "the client metadata document {at} is served as {content_type:?}; it must be \
                 application/json"
            ));
        }
        let too_big = || {
            format!(
                "the client metadata document {at} is larger than {} bytes",
                self.policy.max_bytes
            )
        };
        if response
            .content_length()
            .is_some_and(|n| n > self.policy.max_bytes as u64)
        {
            return Err(too_big());
        }
        let ttl = cache_ttl(
            response
                .headers()
                .get(CACHE_CONTROL)
                .and_then(|v| v.to_str().ok()),
            &self.policy,
        );
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > self.policy.max_bytes {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
        }
        let metadata = check_document(&url, &body)?;
        Ok(Fetched { metadata, ttl })
    }
}
