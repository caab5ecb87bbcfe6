//! `target/images/manifest.json`: the list of built images.
//!
//! Other tools (deploy, Helm values, smoke tests) read it, so its shape is a contract:
//! `{"images":[{"service","name","tag","reference","digest","archive","size","platforms"}]}`,
//! each platform `{"architecture","os","digest","archive","size"}`.

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One built image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatalogEntry {
    /// Cargo package of the service.
    pub service: String,
    /// Image repository name.
    pub name: String,
    /// Content-derived tag.
    pub tag: String,
    /// `name:tag`.
    pub reference: String,
    /// `sha256:` of the image index (multi-platform) or of the image manifest.
    pub digest: String,
    /// Path of the archive, relative to the repository root when it lies inside it.
    pub archive: String,
    /// Size of the archive in bytes.
    pub size: u64,
    /// One single-platform archive per platform (what `docker load` and `minikube image
    /// load` take), same tag. Empty in catalogs written before images were multi-platform.
    #[serde(default)]
    pub platforms: Vec<PlatformEntry>,
}

/// One platform of a multi-platform image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlatformEntry {
    /// `amd64` or `arm64`.
    pub architecture: String,
    pub os: String,
    /// `sha256:` of this platform's image manifest.
    pub digest: String,
    pub archive: String,
    pub size: u64,
}

impl CatalogEntry {
    /// The entry for a written multi-platform image; `display` turns paths into what the
    /// catalog records (relative to the repository root, or absolute).
    pub fn for_image(
        service: &str,
        image: &crate::MultiImage,
        written: &crate::multi::WrittenImage,
        display: impl Fn(&Path) -> String,
    ) -> CatalogEntry {
        CatalogEntry {
            service: service.to_owned(),
            name: image.name.clone(),
            tag: image.tag.clone(),
            reference: image.reference(),
            digest: image.index.digest.clone(),
            archive: display(&written.index_archive),
            size: written.index_size,
            platforms: written
                .platforms
                .iter()
                .map(|(arch, path, size)| PlatformEntry {
                    architecture: arch.oci_name().to_owned(),
                    os: "linux".to_owned(),
                    digest: image
                        .platform(*arch)
                        .map(|i| i.manifest.digest.clone())
                        .unwrap_or_default(),
                    archive: display(path),
                    size: *size,
                })
                .collect(),
        }
    }

    /// The single-platform archive for `architecture`, if built.
    pub fn platform(&self, architecture: &str) -> Option<&PlatformEntry> {
        self.platforms
            .iter()
            .find(|p| p.architecture == architecture)
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageCatalog {
    pub images: Vec<CatalogEntry>,
}

impl ImageCatalog {
    /// Writes the catalog as pretty JSON with a trailing newline.
    pub fn write(&self, path: &Path) -> Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
    }

    pub fn read(path: &Path) -> Result<ImageCatalog> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// The entry of `service`, if built.
    pub fn get(&self, service: &str) -> Option<&CatalogEntry> {
        self.images.iter().find(|e| e.service == service)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn has_the_contract_shape() {
        let catalog = ImageCatalog {
            images: vec![CatalogEntry {
                service: "todo-api".into(),
                name: "todo-api".into(),
                tag: "0123456789abcdef".into(),
                reference: "todo-api:0123456789abcdef".into(),
                digest: format!("sha256:{}", "0".repeat(64)),
                archive: "target/images/todo-api.oci.tar".into(),
                size: 123,
                platforms: vec![PlatformEntry {
                    architecture: "arm64".into(),
                    os: "linux".into(),
                    digest: format!("sha256:{}", "1".repeat(64)),
                    archive: "target/images/todo-api-arm64.oci.tar".into(),
                    size: 100,
                }],
            }],
        };
        let value = serde_json::to_value(&catalog).unwrap();
        let entry = value["images"][0].as_object().unwrap();
        let keys: Vec<&str> = entry.keys().map(String::as_str).collect();
        let mut expected = vec![
            "service",
            "name",
            "tag",
            "reference",
            "digest",
            "archive",
            "size",
            "platforms",
        ];
        expected.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(keys_sorted, expected);
        assert!(entry["size"].is_u64());
        let platform: Vec<&str> = entry["platforms"][0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            platform,
            ["architecture", "archive", "digest", "os", "size"]
        );
        assert_eq!(
            catalog.images[0].platform("arm64").unwrap().archive,
            "target/images/todo-api-arm64.oci.tar"
        );
        // Catalogs from before multi-platform images still read.
        let old: ImageCatalog = serde_json::from_str(
            r#"{"images":[{"service":"s","name":"s","tag":"t","reference":"s:t","digest":"d","archive":"a","size":1}]}"#,
        )
        .unwrap();
        assert!(old.images[0].platforms.is_empty());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images/manifest.json");
        catalog.write(&path).unwrap();
        assert_eq!(ImageCatalog::read(&path).unwrap(), catalog);
    }
}
