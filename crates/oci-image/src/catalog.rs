//! `target/images/manifest.json`: the list of built images.
//!
//! Other tools (deploy, Helm values, smoke tests) read it, so its shape is a contract:
//! `{"images":[{"service","name","tag","reference","digest","archive","size"}]}`.

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
    /// `sha256:` of the image manifest.
    pub digest: String,
    /// Path of the archive, relative to the repository root when it lies inside it.
    pub archive: String,
    /// Size of the archive in bytes.
    pub size: u64,
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
        ];
        expected.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(keys_sorted, expected);
        assert!(entry["size"].is_u64());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("images/manifest.json");
        catalog.write(&path).unwrap();
        assert_eq!(ImageCatalog::read(&path).unwrap(), catalog);
    }
}
