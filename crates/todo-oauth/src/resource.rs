//! The resource identifier of the MCP server and where its metadata lives.
//!
//! RFC 8707 §2 and MCP 2025-11-25 ("Canonical Server URI"): the resource is an absolute
//! `http(s)` URI without a fragment, compared after lower-casing scheme and host; no trailing
//! slash is added or removed (`https://todo.example.com/mcp`). RFC 9728 §3.1: its Protected
//! Resource Metadata is at the origin's `/.well-known/oauth-protected-resource` followed by
//! the resource's path.

use url::Url;

/// The canonical form of a resource URI, or an error saying what is wrong with it.
pub fn canonical(raw: &str) -> Result<String, String> {
    let url = Url::parse(raw.trim()).map_err(|e| {
        format!("{raw:?} is not an absolute URL ({e}); use e.g. https://todo.example.com/mcp")
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(format!(
            "{raw:?} must be an http or https URL with a host, e.g. https://todo.example.com/mcp"
        ));
    }
    if url.fragment().is_some() || url.query().is_some() || !url.username().is_empty() {
        return Err(format!(
            "{raw:?} must not carry a query, fragment or user info (RFC 8707 §2)"
        ));
    }
    // Url lower-cases scheme and host and drops a default port; the path stays as written.
    let text = url.as_str();
    // Url writes "https://host/" for an empty path; keep a bare origin bare.
    Ok(if url.path() == "/" && !raw.trim().ends_with('/') {
        text.trim_end_matches('/').to_owned()
    } else {
        text.to_owned()
    })
}

/// `scheme://host[:port]` of a canonical resource (the default authorization server: todo-api
/// behind the same host).
pub fn origin(resource: &str) -> Option<String> {
    let url = Url::parse(resource).ok()?;
    Some(url.origin().ascii_serialization())
}

/// The RFC 9728 metadata URL of a canonical resource.
pub fn metadata_url(resource: &str) -> Option<String> {
    let url = Url::parse(resource).ok()?;
    let path = url.path().trim_end_matches('/');
    Some(format!(
        "{}/.well-known/oauth-protected-resource{path}",
        url.origin().ascii_serialization()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_forms_and_metadata_urls() {
        assert_eq!(
            canonical("HTTPS://Todo.Example.com:443/mcp").as_deref(),
            Ok("https://todo.example.com/mcp")
        );
        assert_eq!(
            canonical("http://localhost:8080/mcp").as_deref(),
            Ok("http://localhost:8080/mcp")
        );
        assert_eq!(canonical("https://a.io").as_deref(), Ok("https://a.io"));
        for bad in [
            "/mcp",
            "ftp://a.io/mcp",
            "https://a.io/mcp#x",
            "https://a.io/mcp?x=1",
            "https://u@a.io/mcp",
        ] {
            assert!(canonical(bad).is_err(), "{bad}");
        }
        assert_eq!(
            metadata_url("https://todo.example.com/mcp").as_deref(),
            Some("https://todo.example.com/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            metadata_url("http://127.0.0.1:9/").as_deref(),
            Some("http://127.0.0.1:9/.well-known/oauth-protected-resource")
        );
        assert_eq!(
            origin("http://127.0.0.1:9/mcp").as_deref(),
            Some("http://127.0.0.1:9")
        );
    }
}
