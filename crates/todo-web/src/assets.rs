//! CSS and JavaScript, embedded in the binary and served under content-hashed names
//! (`/static/app.<hash>.css`), so browsers may cache them forever: a new build has new names.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

pub struct Asset {
    /// The URL path, e.g. `/static/app.3f2a9c1b0d.css`.
    pub path: String,
    pub body: &'static str,
    pub content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, ext: &str, body: String, content_type: &'static str) -> Asset {
        let digest = Sha256::digest(body.as_bytes());
        let hash = hex::encode(&digest[..5]);
        Asset {
            path: format!("/static/{stem}.{hash}.{ext}"),
            // Built once per process and served for its whole life.
            body: body.leak(),
            content_type,
        }
    }
}

pub static CSS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "css",
        tighten_css(&compact(include_str!("../static/app.css"), "/*")),
        "text/css; charset=utf-8",
    )
});

pub static JS: LazyLock<Asset> = LazyLock::new(|| {
    Asset::new(
        "app",
        "js",
        join_js(&compact(include_str!("../static/app.js"), "//")),
        "text/javascript; charset=utf-8",
    )
});

/// The sources are written for people (comments, indentation); browsers get them without
/// comment lines, indentation and blank lines. Line breaks stay, so JavaScript's automatic
/// semicolons and CSS values are untouched. Comments must be whole lines starting with
/// `comment` (`/* ... */` may span lines).
pub fn compact(source: &str, comment: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut in_block = false;
    for line in source.lines() {
        let line = line.trim();
        if in_block {
            in_block = !line.ends_with("*/");
            continue;
        }
        if line.is_empty() {
            continue;
        }
        if line.starts_with(comment) {
            in_block = comment == "/*" && !line.ends_with("*/");
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Joins compacted JavaScript lines where the line break means nothing: after `;`, `{` or
/// `,` no statement can end by automatic semicolon insertion. Lines with `//` (a trailing
/// comment, or a URL in a string) or a backtick (a template literal may span lines) keep
/// their line break.
pub fn join_js(js: &str) -> String {
    let mut out = String::with_capacity(js.len());
    for line in js.lines() {
        out.push_str(line);
        let joinable =
            line.ends_with([';', '{', ',']) && !line.contains("//") && !line.contains('`');
        if !joinable {
            out.push('\n');
        }
    }
    out
}

/// Drops the spaces CSS does not need after `:`, `;`, `,` and around braces. Safe for this
/// stylesheet: it has no selector with a space before a pseudo-class and no string with
/// these characters.
pub fn tighten_css(css: &str) -> String {
    // Lines end a declaration, a block or a selector list: they join without a newline
    // (any other line break becomes a space, as CSS reads it).
    let mut joined = String::with_capacity(css.len());
    for line in css.lines() {
        if !joined.is_empty() && !joined.ends_with([';', '{', '}', ',']) {
            joined.push(' ');
        }
        joined.push_str(line);
    }
    joined
        .replace(": ", ":")
        .replace("; ", ";")
        .replace(", ", ",")
        .replace(" {", "{")
        .replace("{ ", "{")
        .replace(" }", "}")
}

/// `GET /static/{file}`: only the current hashed names exist; anything else is a 404 (an old
/// name after a deploy must not be cached as the new content).
pub async fn serve(Path(file): Path<String>) -> Response {
    let wanted = format!("/static/{file}");
    for asset in [&*CSS, &*JS] {
        if asset.path == wanted {
            return (
                [
                    (
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(asset.content_type),
                    ),
                    (
                        header::CACHE_CONTROL,
                        HeaderValue::from_static("public, max-age=31536000, immutable"),
                    ),
                ],
                asset.body,
            )
                .into_response();
        }
    }
    (
        StatusCode::NOT_FOUND,
        [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        "no such asset",
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_compacted_without_changing_code() {
        let js = compact(
            "// a comment\n  const a = 1; // trailing stays\n\n  if (a) {\n    go();\n  }\n",
            "//",
        );
        assert_eq!(js, "const a = 1; // trailing stays\nif (a) {\ngo();\n}\n");
        let css = compact(
            "/* one */\n:root {\n  --x: 1;\n}\n/* two\n   lines */\na { b: c; }\n",
            "/*",
        );
        assert_eq!(css, ":root {\n--x: 1;\n}\na { b: c; }\n");
        assert_eq!(
            tighten_css("a, b { c: d; e: f }\n@media (max-width: 9px) { x { y: z } }"),
            "a,b{c:d;e:f}@media (max-width:9px){x{y:z}}"
        );
        // A value broken over two lines keeps its space.
        assert_eq!(tighten_css("a {\ngrid: 1fr\n2fr;\n}"), "a{grid:1fr 2fr;}");
        assert!(CSS.body.len() < include_str!("../static/app.css").len());
        assert!(JS.body.contains("'use strict';"));
        assert_eq!(
            join_js("if (a) {\ngo(1,\n2);\nx = 'http://h'; // c\ny = `t\n`;\nz()\n(w)\n"),
            "if (a) {go(1,2);x = 'http://h'; // c\ny = `t\n`;\nz()\n(w)\n"
        );
    }

    #[test]
    fn names_carry_a_content_hash() {
        assert!(CSS.path.starts_with("/static/app.") && CSS.path.ends_with(".css"));
        assert_eq!(CSS.path.len(), "/static/app.".len() + 10 + ".css".len());
        assert_ne!(
            CSS.path.trim_end_matches(".css"),
            JS.path.trim_end_matches(".js")
        );
    }
}
