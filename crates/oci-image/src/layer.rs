//! Deterministic tar archives (used for image layers and for the outer image archive).
//!
//! Everything that usually makes two tarballs of the same files differ is pinned: entries are
//! sorted by path, parent directories are added explicitly, every entry gets the same mtime,
//! owners are numeric (no user or group names), modes are set by the caller, and there are no
//! extended attributes or PAX records. The result depends only on the paths, contents, modes,
//! owners and the one mtime.

use anyhow::{Context, Result, bail, ensure};
use std::collections::BTreeMap;

/// What a path in the archive is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File(Vec<u8>),
}

/// One entry: kind, permission bits and numeric owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: EntryKind,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// Mode of directories the builder adds implicitly (parents of added paths).
pub const DIR_MODE: u32 = 0o755;

/// A set of files and directories that becomes a tar archive.
#[derive(Debug, Clone, Default)]
pub struct TarBuilder {
    /// Keyed by the normalised path without a trailing slash; the map keeps them sorted.
    entries: BTreeMap<String, Entry>,
}

/// Checks a path is relative, normalised and plain, and returns it without a trailing slash.
fn normalise(path: &str) -> Result<String> {
    let trimmed = path.trim_end_matches('/');
    ensure!(!trimmed.is_empty(), "empty path in archive");
    ensure!(
        !trimmed.starts_with('/'),
        "archive path {path:?} must be relative (no leading /)"
    );
    for part in trimmed.split('/') {
        ensure!(
            !part.is_empty() && part != "." && part != "..",
            "archive path {path:?} must not contain empty, . or .. components"
        );
    }
    Ok(trimmed.to_owned())
}

impl TarBuilder {
    pub fn new() -> TarBuilder {
        TarBuilder::default()
    }

    /// Adds (or replaces) a directory owned by root.
    pub fn dir(&mut self, path: &str, mode: u32) -> Result<&mut Self> {
        self.insert(path, EntryKind::Dir, mode, 0, 0)
    }

    /// Adds (or replaces) a regular file owned by root.
    pub fn file(&mut self, path: &str, data: impl Into<Vec<u8>>, mode: u32) -> Result<&mut Self> {
        self.insert(path, EntryKind::File(data.into()), mode, 0, 0)
    }

    /// Adds an entry with an explicit owner; missing parents become root-owned 0755 dirs.
    pub fn insert(
        &mut self,
        path: &str,
        kind: EntryKind,
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<&mut Self> {
        let path = normalise(path)?;
        ensure!(
            mode <= 0o7777,
            "mode {mode:o} of {path} has bits beyond 07777"
        );
        let mut parent = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len() - 1] {
            if !parent.is_empty() {
                parent.push('/');
            }
            parent.push_str(part);
            match self.entries.get(&parent) {
                Some(Entry {
                    kind: EntryKind::File(_),
                    ..
                }) => {
                    bail!("{path}: parent {parent} is a file")
                }
                Some(_) => {}
                None => {
                    self.entries.insert(
                        parent.clone(),
                        Entry {
                            kind: EntryKind::Dir,
                            mode: DIR_MODE,
                            uid: 0,
                            gid: 0,
                        },
                    );
                }
            }
        }
        self.entries.insert(
            path,
            Entry {
                kind,
                mode,
                uid,
                gid,
            },
        );
        Ok(self)
    }

    /// The entries in archive order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(p, e)| (p.as_str(), e))
    }

    /// Number of regular files.
    pub fn file_count(&self) -> usize {
        self.entries
            .values()
            .filter(|e| matches!(e.kind, EntryKind::File(_)))
            .count()
    }

    /// Writes the archive: ustar headers, entries sorted by path, every mtime = `mtime`.
    pub fn to_tar(&self, mtime: u64) -> Result<Vec<u8>> {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, entry) in &self.entries {
            let mut header = tar::Header::new_ustar();
            header.set_mode(entry.mode);
            header.set_uid(u64::from(entry.uid));
            header.set_gid(u64::from(entry.gid));
            header.set_mtime(mtime);
            let (name, data): (String, &[u8]) = match &entry.kind {
                EntryKind::Dir => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    (format!("{path}/"), &[])
                }
                EntryKind::File(data) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(data.len() as u64);
                    (path.clone(), data)
                }
            };
            builder
                .append_data(&mut header, &name, data)
                .with_context(|| format!("adding {name} to a tar archive"))?;
        }
        builder.into_inner().context("finishing a tar archive")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::digest::sha256_digest;

    fn sample(order: &[usize]) -> TarBuilder {
        let files: [(&str, &[u8], u32); 4] = [
            ("etc/passwd", b"root:x:0:0::/:/sbin/nologin\n", 0o644),
            ("bin/app", b"\x7fELF...", 0o755),
            (
                "etc/ssl/certs/ca-certificates.crt",
                b"-----BEGIN CERTIFICATE-----\n",
                0o644,
            ),
            ("tmp", b"", 0o1777),
        ];
        let mut b = TarBuilder::new();
        for &i in order {
            let (path, data, mode) = files[i];
            if path == "tmp" {
                b.dir(path, mode).unwrap();
            } else {
                b.file(path, data, mode).unwrap();
            }
        }
        b
    }

    #[test]
    fn same_inputs_give_identical_bytes() {
        let a = sample(&[0, 1, 2, 3]).to_tar(1_700_000_000).unwrap();
        let b = sample(&[0, 1, 2, 3]).to_tar(1_700_000_000).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn insertion_order_does_not_matter() {
        let a = sample(&[0, 1, 2, 3]).to_tar(42).unwrap();
        let b = sample(&[3, 2, 1, 0]).to_tar(42).unwrap();
        let c = sample(&[2, 0, 3, 1]).to_tar(42).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
    }

    #[test]
    fn mtime_is_the_only_time_input() {
        let a = sample(&[0, 1, 2, 3]).to_tar(42).unwrap();
        let b = sample(&[0, 1, 2, 3]).to_tar(43).unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn golden_digest() {
        // Pins the exact byte layout: if this changes, every image digest changes with it.
        let tar = sample(&[0, 1, 2, 3]).to_tar(1_700_000_000).unwrap();
        assert_eq!(
            sha256_digest(&tar),
            "sha256:0334647b256d059893558e752709b58f975843b53cd69106ec6b50cff41484de"
        );
    }

    #[test]
    fn entries_are_sorted_with_explicit_parents_and_fixed_metadata() {
        let tar = sample(&[3, 1, 0, 2]).to_tar(1234).unwrap();
        let mut archive = tar::Archive::new(tar.as_slice());
        let mut seen = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            assert!(entry.pax_extensions().unwrap().is_none());
            let h = entry.header().clone();
            assert_eq!(h.mtime().unwrap(), 1234);
            assert_eq!(h.uid().unwrap(), 0);
            assert_eq!(h.gid().unwrap(), 0);
            assert_eq!(h.username().unwrap(), Some(""));
            assert_eq!(h.groupname().unwrap(), Some(""));
            seen.push((
                entry.path().unwrap().to_string_lossy().into_owned(),
                h.mode().unwrap(),
            ));
        }
        let expected = [
            ("bin/", 0o755),
            ("bin/app", 0o755),
            ("etc/", 0o755),
            ("etc/passwd", 0o644),
            ("etc/ssl/", 0o755),
            ("etc/ssl/certs/", 0o755),
            ("etc/ssl/certs/ca-certificates.crt", 0o644),
            ("tmp/", 0o1777),
        ];
        let expected: Vec<(String, u32)> =
            expected.iter().map(|(p, m)| (p.to_string(), *m)).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn gnu_tar_lists_it_as_intended() {
        // An independent reader: GNU tar (part of every Debian base system).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("layer.tar");
        std::fs::write(&path, sample(&[0, 1, 2, 3]).to_tar(1_700_000_000).unwrap()).unwrap();
        let out = std::process::Command::new("tar")
            .args(["--numeric-owner", "--utc", "-tvf"])
            .arg(&path)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listing = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = listing.lines().collect();
        assert_eq!(lines.len(), 8, "{listing}");
        assert!(lines[1].starts_with("-rwxr-xr-x 0/0 "), "{listing}");
        assert!(lines[1].ends_with(" 2023-11-14 22:13 bin/app"), "{listing}");
        assert!(lines[7].starts_with("drwxrwxrwt 0/0 "), "{listing}");
        assert!(lines[7].ends_with(" tmp/"), "{listing}");
    }

    #[test]
    fn bad_paths_are_rejected() {
        let mut b = TarBuilder::new();
        assert!(b.file("/etc/passwd", "x", 0o644).is_err());
        assert!(b.file("etc/../passwd", "x", 0o644).is_err());
        assert!(b.file("etc//passwd", "x", 0o644).is_err());
        assert!(b.file("", "x", 0o644).is_err());
        b.file("etc", "x", 0o644).unwrap();
        assert!(b.file("etc/passwd", "x", 0o644).is_err());
    }

    #[test]
    fn explicit_dir_metadata_wins_over_implicit_parent() {
        let mut b = TarBuilder::new();
        b.file("tmp/x", "x", 0o644).unwrap();
        b.dir("tmp", 0o1777).unwrap();
        let (_, tmp) = b.entries().next().unwrap();
        assert_eq!(tmp.mode, 0o1777);
        assert_eq!(b.file_count(), 1);
    }
}
