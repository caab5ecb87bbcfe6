//! The one timestamp in an image: `SOURCE_DATE_EPOCH` if set (the reproducible-builds
//! convention), else the committer time of the last commit, so rebuilding the same commit
//! anywhere gives the same mtimes and the same `created`.

use anyhow::{Context, Result, bail};
use std::path::Path;
use std::process::Command;

/// Seconds since the Unix epoch to stamp on every file and on `created`.
pub fn source_date_epoch(repo_root: &Path) -> Result<i64> {
    if let Ok(value) = std::env::var("SOURCE_DATE_EPOCH") {
        return parse_epoch(&value).context("SOURCE_DATE_EPOCH");
    }
    let out = Command::new("git")
        .arg("-C")
        .arg(repo_root)
        .args(["log", "-1", "--format=%ct"])
        .output()
        .context("running `git log` for the last commit time (or set SOURCE_DATE_EPOCH)")?;
    if !out.status.success() {
        bail!(
            "`git log -1 --format=%ct` failed in {} (set SOURCE_DATE_EPOCH to build outside git): {}",
            repo_root.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    parse_epoch(String::from_utf8_lossy(&out.stdout).trim()).context("last commit time")
}

/// Parses a non-negative integer number of seconds.
pub fn parse_epoch(value: &str) -> Result<i64> {
    let secs: i64 = value
        .trim()
        .parse()
        .with_context(|| format!("{value:?} is not a whole number of seconds"))?;
    if secs < 0 {
        bail!("{secs} is before 1970");
    }
    Ok(secs)
}

/// RFC 3339 UTC timestamp of `secs`, e.g. `2026-11-24T06:11:00Z`.
pub fn rfc3339(secs: i64) -> Result<String> {
    let t = time::OffsetDateTime::from_unix_timestamp(secs)
        .with_context(|| format!("{secs} is out of range for a timestamp"))?;
    t.format(&time::format_description::well_known::Rfc3339)
        .context("formatting a timestamp")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn formats_utc() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse_epoch("yesterday").is_err());
        assert!(parse_epoch("-5").is_err());
        assert_eq!(parse_epoch(" 12 ").unwrap(), 12);
    }

    #[test]
    fn reads_the_repository_commit_time() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let secs = source_date_epoch(root).unwrap();
        match std::env::var("SOURCE_DATE_EPOCH") {
            // Nix sandboxes set it (and have no .git); it must win over git.
            Ok(v) => assert_eq!(secs, parse_epoch(&v).unwrap()),
            Err(_) => assert!(secs > 1_600_000_000, "{secs}"),
        }
    }
}
