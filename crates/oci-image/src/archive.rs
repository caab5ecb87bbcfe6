//! Reads an image archive back and verifies it: every blob matches its digest, the manifest
//! matches the index, sizes match the descriptors, `diff_ids` match the uncompressed layers,
//! and Docker's `manifest.json` (when present) points at the same blobs.
//!
//! Used by tests, by the layer scan in CI and by the benchmark; works on any single-image OCI
//! archive ([`read_archive`]) or multi-platform one ([`read_index_archive`]), not only the
//! ones this crate writes.

use crate::digest::{hex_of, sha256_digest};
use crate::gzip::gunzip;
use anyhow::{Context, Result, bail, ensure};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read as _;
use std::path::Path;

/// A regular file, directory or other entry in a layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerEntry {
    /// Path as stored (relative, directories end in `/`).
    pub path: String,
    pub entry_type: tar::EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub data: Vec<u8>,
}

/// One layer, decompressed.
#[derive(Debug, Clone)]
pub struct LayerContents {
    pub digest: String,
    pub diff_id: String,
    pub compressed_size: u64,
    pub uncompressed_size: u64,
    pub entries: Vec<LayerEntry>,
}

impl LayerContents {
    /// Regular files in the layer.
    pub fn files(&self) -> impl Iterator<Item = &LayerEntry> {
        self.entries.iter().filter(|e| e.entry_type.is_file())
    }
}

/// A verified single-image archive.
#[derive(Debug, Clone)]
pub struct OciArchive {
    pub index: ImageIndex,
    pub manifest: ImageManifest,
    pub manifest_digest: String,
    pub config: ImageConfiguration,
    /// The config as raw JSON (keeps Docker extensions such as `Healthcheck`).
    pub config_json: Value,
    pub layers: Vec<LayerContents>,
    /// The tag from `org.opencontainers.image.ref.name`, if any.
    pub tag: Option<String>,
    /// Docker's `manifest.json`, if the archive has one.
    pub docker_manifest: Option<Value>,
    /// Size of the archive file in bytes.
    pub size: u64,
}

impl OciArchive {
    /// Sum of the compressed layer sizes.
    pub fn compressed_size(&self) -> u64 {
        self.layers.iter().map(|l| l.compressed_size).sum()
    }

    /// Sum of the uncompressed layer sizes.
    pub fn uncompressed_size(&self) -> u64 {
        self.layers.iter().map(|l| l.uncompressed_size).sum()
    }

    /// Regular files across all layers.
    pub fn file_count(&self) -> usize {
        self.layers.iter().map(|l| l.files().count()).sum()
    }
}

/// Reads all entries of a tar into memory.
pub fn read_tar(bytes: &[u8]) -> Result<Vec<LayerEntry>> {
    let mut archive = tar::Archive::new(bytes);
    let mut out = Vec::new();
    for entry in archive.entries().context("reading tar entries")? {
        let mut entry = entry.context("reading a tar entry")?;
        let header = entry.header().clone();
        let path = entry
            .path()
            .context("tar entry path")?
            .to_string_lossy()
            .into_owned();
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .with_context(|| format!("reading {path} from a tar"))?;
        out.push(LayerEntry {
            path,
            entry_type: header.entry_type(),
            mode: header.mode()?,
            uid: header.uid()?,
            gid: header.gid()?,
            mtime: header.mtime()?,
            data,
        });
    }
    Ok(out)
}

/// Reads and verifies the archive at `path`.
pub fn read_archive(path: &Path) -> Result<OciArchive> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_archive(&bytes).with_context(|| format!("checking image archive {}", path.display()))
}

/// The files of an archive (a tar of an OCI image layout), blobs verified against their names.
struct Layout {
    files: BTreeMap<String, Vec<u8>>,
}

impl Layout {
    fn parse(bytes: &[u8]) -> Result<Layout> {
        let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
        for entry in read_tar(bytes)? {
            if entry.entry_type.is_file() {
                let path = entry.path.trim_start_matches("./").to_owned();
                files.insert(path, entry.data);
            }
        }
        let layout = Layout { files };
        let oci_layout: Value =
            serde_json::from_slice(layout.file("oci-layout")?).context("oci-layout")?;
        ensure!(
            oci_layout["imageLayoutVersion"] == "1.0.0",
            "oci-layout has imageLayoutVersion {}, expected 1.0.0",
            oci_layout["imageLayoutVersion"]
        );
        for (name, data) in &layout.files {
            if let Some(hex) = name.strip_prefix("blobs/sha256/") {
                let digest = format!("sha256:{hex}");
                let actual = sha256_digest(data);
                ensure!(
                    actual == digest,
                    "blob {name} has digest {actual}, not its name"
                );
            }
        }
        Ok(layout)
    }

    fn file(&self, name: &str) -> Result<&[u8]> {
        self.files
            .get(name)
            .map(Vec::as_slice)
            .with_context(|| format!("the archive has no {name}"))
    }

    /// The blob a descriptor names, checked against the descriptor's size.
    fn blob(&self, digest: &str, size: u64, what: &str) -> Result<&[u8]> {
        let hex =
            hex_of(digest).with_context(|| format!("{what}: {digest} is not a sha256 digest"))?;
        let data = self
            .files
            .get(&format!("blobs/sha256/{hex}"))
            .with_context(|| format!("{what}: blob {digest} is missing"))?;
        ensure!(
            data.len() as u64 == size,
            "{what}: descriptor says {size} bytes, blob {digest} has {}",
            data.len()
        );
        Ok(data)
    }

    /// The one descriptor of index.json and its tag annotation.
    fn top(&self) -> Result<(ImageIndex, Descriptor, Option<String>)> {
        let index: ImageIndex =
            serde_json::from_slice(self.file("index.json")?).context("index.json")?;
        let [descriptor] = index.manifests().as_slice() else {
            bail!(
                "index.json lists {} manifests; expected exactly one",
                index.manifests().len()
            );
        };
        let descriptor = descriptor.clone();
        let tag = descriptor
            .annotations()
            .as_ref()
            .and_then(|a| a.get(crate::image::ANNOTATION_REF_NAME))
            .cloned();
        Ok((index, descriptor, tag))
    }

    /// The image a manifest descriptor points at, every blob verified.
    fn image(&self, descriptor: &Descriptor, what: &str) -> Result<ImageParts> {
        let manifest_digest = descriptor.digest().to_string();
        let manifest_bytes = self.blob(&manifest_digest, descriptor.size(), what)?;
        let manifest: ImageManifest =
            serde_json::from_slice(manifest_bytes).context("image manifest")?;
        let config_bytes = self.blob(
            manifest.config().digest().as_ref(),
            manifest.config().size(),
            "manifest config",
        )?;
        let config: ImageConfiguration =
            serde_json::from_slice(config_bytes).context("image config")?;
        let config_json: Value = serde_json::from_slice(config_bytes)?;
        let diff_ids = config.rootfs().diff_ids();
        ensure!(
            diff_ids.len() == manifest.layers().len(),
            "config lists {} diff_ids for {} layers",
            diff_ids.len(),
            manifest.layers().len()
        );
        let mut layers = Vec::new();
        for (i, (layer, diff_id)) in manifest.layers().iter().zip(diff_ids).enumerate() {
            let digest = layer.digest().to_string();
            let compressed = self.blob(&digest, layer.size(), &format!("layer {i}"))?;
            let tar = if layer.media_type().as_ref().ends_with("+gzip")
                || layer.media_type().as_ref().ends_with(".tar.gzip")
            {
                gunzip(compressed).with_context(|| format!("decompressing layer {i} ({digest})"))?
            } else {
                compressed.to_vec()
            };
            let actual = sha256_digest(&tar);
            ensure!(
                actual == *diff_id,
                "layer {i}: uncompressed digest {actual} differs from config diff_id {diff_id}"
            );
            layers.push(LayerContents {
                digest,
                diff_id: diff_id.clone(),
                compressed_size: compressed.len() as u64,
                uncompressed_size: tar.len() as u64,
                entries: read_tar(&tar).with_context(|| format!("reading layer {i}"))?,
            });
        }
        Ok(ImageParts {
            manifest_digest,
            manifest,
            config,
            config_json,
            layers,
        })
    }
}

struct ImageParts {
    manifest_digest: String,
    manifest: ImageManifest,
    config: ImageConfiguration,
    config_json: Value,
    layers: Vec<LayerContents>,
}

impl ImageParts {
    fn into_archive(
        self,
        index: ImageIndex,
        tag: Option<String>,
        docker_manifest: Option<Value>,
        size: usize,
    ) -> OciArchive {
        OciArchive {
            index,
            manifest_digest: self.manifest_digest,
            manifest: self.manifest,
            config: self.config,
            config_json: self.config_json,
            layers: self.layers,
            tag,
            docker_manifest,
            size: size as u64,
        }
    }
}

/// Verifies an archive held in memory.
pub fn parse_archive(bytes: &[u8]) -> Result<OciArchive> {
    let layout = Layout::parse(bytes)?;
    let (index, descriptor, tag) = layout.top()?;
    ensure!(
        descriptor.media_type() == &MediaType::ImageManifest,
        "index.json points at a {} (a multi-platform archive?): read it with read_index_archive",
        descriptor.media_type()
    );
    let image = layout.image(&descriptor, "index.json manifest")?;
    let docker_manifest = match layout.files.get("manifest.json") {
        None => None,
        Some(bytes) => {
            let value: Value = serde_json::from_slice(bytes).context("manifest.json")?;
            check_docker_manifest(&value, &image.manifest, tag.as_deref())?;
            Some(value)
        }
    };
    Ok(image.into_archive(index, tag, docker_manifest, bytes.len()))
}

/// A multi-platform archive: index.json points at an OCI image index, which lists one image
/// manifest per platform.
#[derive(Debug, Clone)]
pub struct IndexArchive {
    /// The tag from `org.opencontainers.image.ref.name`, if any.
    pub tag: Option<String>,
    /// `sha256:` of the image index (what a registry serves for `name:tag`).
    pub index_digest: String,
    /// The image index itself.
    pub index: ImageIndex,
    /// One image per platform, in index order (each with the index as its `index`).
    pub platforms: Vec<OciArchive>,
    pub size: u64,
}

impl IndexArchive {
    /// The image for `architecture` (`amd64`, `arm64`).
    pub fn platform(&self, architecture: &str) -> Option<&OciArchive> {
        self.platforms
            .iter()
            .find(|p| p.config.architecture().to_string() == architecture)
    }
}

/// Reads and verifies a multi-platform archive at `path`.
pub fn read_index_archive(path: &Path) -> Result<IndexArchive> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    parse_index_archive(&bytes)
        .with_context(|| format!("checking image index archive {}", path.display()))
}

/// Verifies a multi-platform archive held in memory: the index, and for each platform its
/// manifest, config and layers; each manifest's platform must match its config.
pub fn parse_index_archive(bytes: &[u8]) -> Result<IndexArchive> {
    let layout = Layout::parse(bytes)?;
    let (_, descriptor, tag) = layout.top()?;
    ensure!(
        descriptor.media_type() == &MediaType::ImageIndex,
        "index.json points at a {}, not an image index",
        descriptor.media_type()
    );
    let index_digest = descriptor.digest().to_string();
    let index_bytes = layout.blob(&index_digest, descriptor.size(), "index.json image index")?;
    let index: ImageIndex = serde_json::from_slice(index_bytes).context("image index")?;
    ensure!(
        !index.manifests().is_empty(),
        "the image index lists no manifests"
    );
    let mut platforms = Vec::new();
    for (i, manifest) in index.manifests().iter().enumerate() {
        let platform = manifest
            .platform()
            .as_ref()
            .with_context(|| format!("index manifest {i} names no platform"))?;
        let image = layout.image(manifest, &format!("index manifest {i}"))?;
        ensure!(
            image.config.architecture() == platform.architecture()
                && image.config.os() == platform.os(),
            "index manifest {i} says {}/{}, its config {}/{}",
            platform.os(),
            platform.architecture(),
            image.config.os(),
            image.config.architecture()
        );
        platforms.push(image.into_archive(index.clone(), tag.clone(), None, bytes.len()));
    }
    Ok(IndexArchive {
        tag,
        index_digest,
        index,
        platforms,
        size: bytes.len() as u64,
    })
}

fn check_docker_manifest(value: &Value, manifest: &ImageManifest, tag: Option<&str>) -> Result<()> {
    let Some([entry]) = value.as_array().map(Vec::as_slice) else {
        bail!("manifest.json must be an array with one image");
    };
    let path_of = |digest: &str| format!("blobs/sha256/{}", hex_of(digest).unwrap_or_default());
    ensure!(
        entry["Config"] == path_of(manifest.config().digest().as_ref()).as_str(),
        "manifest.json Config {} is not the OCI manifest's config",
        entry["Config"]
    );
    let layers: Vec<String> = manifest
        .layers()
        .iter()
        .map(|l| path_of(l.digest().as_ref()))
        .collect();
    ensure!(
        entry["Layers"] == serde_json::json!(layers),
        "manifest.json Layers differ from the OCI manifest's layers"
    );
    if let Some(tag) = tag {
        let tags = entry["RepoTags"].as_array().cloned().unwrap_or_default();
        ensure!(
            tags.iter()
                .filter_map(Value::as_str)
                .any(|t| t.rsplit_once(':').map(|(_, t)| t) == Some(tag)),
            "manifest.json RepoTags {tags:?} do not carry the index tag {tag}"
        );
    }
    Ok(())
}

/// Unpacks the archive into `dir` as an OCI image layout directory (for `umoci unpack` and
/// `skopeo ... oci:DIR:TAG`). Only plain relative paths are accepted.
pub fn extract_archive(archive: &Path, dir: &Path) -> Result<()> {
    let bytes = std::fs::read(archive).with_context(|| format!("reading {}", archive.display()))?;
    for entry in read_tar(&bytes)? {
        let rel = entry.path.trim_start_matches("./");
        ensure!(
            !rel.starts_with('/') && !rel.split('/').any(|p| p == ".."),
            "archive entry {rel:?} escapes the target directory"
        );
        let target = dir.join(rel);
        if entry.entry_type.is_dir() {
            std::fs::create_dir_all(&target)
                .with_context(|| format!("creating {}", target.display()))?;
        } else if entry.entry_type.is_file() {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(&target, &entry.data)
                .with_context(|| format!("writing {}", target.display()))?;
        } else {
            bail!("archive entry {rel:?} is neither a file nor a directory");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::image::{ImageInputs, build_image};

    fn archive_bytes() -> (crate::Image, Vec<u8>) {
        let spec = crate::image::tests::spec();
        let binary = crate::image::tests::fake_binary(b"payload");
        let base = crate::image::tests::base();
        let image = build_image(&ImageInputs {
            spec: &spec,
            binary: &binary,
            base: &base,
            epoch: 1000,
        })
        .unwrap();
        let bytes = image.archive_bytes().unwrap();
        (image, bytes)
    }

    #[test]
    fn reads_back_what_was_written() {
        let (image, bytes) = archive_bytes();
        let archive = parse_archive(&bytes).unwrap();
        assert_eq!(archive.manifest_digest, image.manifest.digest);
        assert_eq!(archive.tag.as_deref(), Some(image.tag.as_str()));
        assert_eq!(archive.layers.len(), 2);
        assert_eq!(archive.compressed_size(), image.compressed_size());
        assert_eq!(archive.uncompressed_size(), image.uncompressed_size());
        assert_eq!(archive.file_count(), image.file_count());
        assert!(archive.docker_manifest.is_some());
        let bin = archive.layers[1].files().next().unwrap();
        assert_eq!(bin.path, "bin/demo");
        assert_eq!(bin.mode, 0o755);
        let base_paths: Vec<&str> = archive.layers[0]
            .entries
            .iter()
            .map(|e| e.path.as_str())
            .collect();
        for expected in [
            "etc/passwd",
            "etc/group",
            "etc/ssl/certs/ca-certificates.crt",
            "tmp/",
        ] {
            assert!(
                base_paths.contains(&expected),
                "{expected} missing: {base_paths:?}"
            );
        }
        let passwd = archive.layers[0]
            .entries
            .iter()
            .find(|e| e.path == "etc/passwd")
            .unwrap();
        assert!(String::from_utf8_lossy(&passwd.data).contains("nonroot:x:65532:65532:"));
        let tmp = archive.layers[0]
            .entries
            .iter()
            .find(|e| e.path == "tmp/")
            .unwrap();
        assert_eq!(tmp.mode, 0o1777);
        for entry in archive.layers.iter().flat_map(|l| &l.entries) {
            assert_eq!(entry.mtime, 1000, "{}", entry.path);
        }
    }

    #[test]
    fn a_tampered_blob_is_detected() {
        let (image, mut bytes) = archive_bytes();
        // Flip one byte inside the config blob's data.
        let needle = &image.config.data[..40];
        let at = bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .unwrap();
        bytes[at + 20] ^= 1;
        let err = format!("{:#}", parse_archive(&bytes).unwrap_err());
        assert!(err.contains("not its name"), "{err}");
    }

    #[test]
    fn extracts_to_a_layout_directory() {
        let (image, bytes) = archive_bytes();
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("img.tar");
        std::fs::write(&file, &bytes).unwrap();
        let out = dir.path().join("layout");
        extract_archive(&file, &out).unwrap();
        assert!(out.join("oci-layout").is_file());
        assert!(out.join("index.json").is_file());
        assert!(out.join(image.manifest.layout_path()).is_file());
    }
}
