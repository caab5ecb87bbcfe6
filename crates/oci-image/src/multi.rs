//! One image for several platforms: an OCI image index over one image per platform, each
//! built from the same description with that platform's static binary.
//!
//! Written as:
//! - `<name>.oci.tar`: the OCI image layout whose `index.json` points at the image index (a
//!   nested index, as `docker buildx --output type=oci` writes), tagged with the index's
//!   content-derived tag. `skopeo copy --all oci-archive:...` pushes both platforms under one
//!   tag; `skopeo inspect --override-arch arm64 oci-archive:...` resolves one platform.
//! - `<name>-<arch>.oci.tar`: each platform alone, in the single-image format with Docker's
//!   `manifest.json`, for `docker load` and `minikube image load`, which want one platform.
//!   Same tag as the index, so a chart value names the image on any node.

use crate::base::BaseFiles;
use crate::digest::hex_of;
use crate::elf::Architecture;
use crate::image::{
    Blob, Image, ImageInputs, TAG_HEX_DIGITS, build_image, layout_index_json, oci_arch,
    write_atomically,
};
use crate::json::canonical_json;
use crate::layer::TarBuilder;
use crate::spec::ImageSpec;
use anyhow::{Context, Result, bail, ensure};
use oci_spec::image::{
    DescriptorBuilder, Digest, ImageIndexBuilder, MediaType, Os, PlatformBuilder,
};
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// An image for one or more platforms.
#[derive(Debug, Clone)]
pub struct MultiImage {
    pub name: String,
    /// Content-derived: the first [`TAG_HEX_DIGITS`] hex digits of the index digest.
    pub tag: String,
    /// The OCI image index listing every platform's manifest.
    pub index: Blob,
    /// One image per platform, amd64 before arm64; each carries `tag` too.
    pub images: Vec<Image>,
    pub epoch: i64,
}

/// File name of the multi-platform archive (`arch` None) or of one platform's archive.
pub fn archive_file_name(name: &str, arch: Option<Architecture>) -> String {
    match arch {
        None => format!("{name}.oci.tar"),
        Some(arch) => format!("{name}-{}.oci.tar", arch.oci_name()),
    }
}

/// Builds the image for every binary given (one per architecture).
pub fn build_multi_image(
    spec: &ImageSpec,
    binaries: &[&[u8]],
    base: &BaseFiles,
    epoch: i64,
) -> Result<MultiImage> {
    ensure!(!binaries.is_empty(), "no binary given for {}", spec.name);
    let mut images = binaries
        .iter()
        .map(|binary| {
            build_image(&ImageInputs {
                spec,
                binary,
                base,
                epoch,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    images.sort_by_key(|image| image.architecture.oci_name());
    for pair in images.windows(2) {
        if pair[0].architecture == pair[1].architecture {
            bail!(
                "two {} binaries given for {}: give one per architecture",
                pair[0].architecture.oci_name(),
                spec.name
            );
        }
    }
    let manifests = images
        .iter()
        .map(|image| {
            Ok(DescriptorBuilder::default()
                .media_type(MediaType::ImageManifest)
                .size(image.manifest.data.len() as u64)
                .digest(Digest::from_str(&image.manifest.digest)?)
                .platform(
                    PlatformBuilder::default()
                        .architecture(oci_arch(image.architecture))
                        .os(Os::Linux)
                        .build()?,
                )
                .build()?)
        })
        .collect::<Result<Vec<_>>>()?;
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(manifests)
        .build()?;
    let index = Blob::new(MediaType::ImageIndex, canonical_json(&index)?);
    let hex = hex_of(&index.digest).context("index digest is not sha256")?;
    let tag = hex[..TAG_HEX_DIGITS].to_owned();
    for image in &mut images {
        image.tag = tag.clone();
    }
    Ok(MultiImage {
        name: spec.name.clone(),
        tag,
        index,
        images,
        epoch,
    })
}

/// Where [`MultiImage::write`] put the archives.
#[derive(Debug, Clone)]
pub struct WrittenImage {
    pub index_archive: PathBuf,
    pub index_size: u64,
    /// Per platform: architecture, archive, size.
    pub platforms: Vec<(Architecture, PathBuf, u64)>,
}

impl MultiImage {
    /// `name:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// The image for `arch`, if built.
    pub fn platform(&self, arch: Architecture) -> Option<&Image> {
        self.images.iter().find(|image| image.architecture == arch)
    }

    /// The multi-platform archive's bytes (a deterministic tar of the image layout). Blobs
    /// shared by platforms (the base layer) are stored once.
    pub fn index_archive_bytes(&self) -> Result<Vec<u8>> {
        let top = DescriptorBuilder::default()
            .media_type(MediaType::ImageIndex)
            .size(self.index.data.len() as u64)
            .digest(Digest::from_str(&self.index.digest)?);
        let index_json = layout_index_json(top, &self.tag, &self.reference())?;
        let mut tree = TarBuilder::new();
        tree.file("oci-layout", r#"{"imageLayoutVersion":"1.0.0"}"#, 0o644)?
            .file("index.json", index_json, 0o644)?;
        let blobs = std::iter::once(&self.index).chain(self.images.iter().flat_map(|image| {
            image
                .layers
                .iter()
                .map(|l| &l.blob)
                .chain([&image.config, &image.manifest])
        }));
        for blob in blobs {
            tree.file(&blob.layout_path(), blob.data.clone(), 0o644)?;
        }
        tree.to_tar(u64::try_from(self.epoch).unwrap_or(0))
    }

    /// Writes `<name>.oci.tar` and `<name>-<arch>.oci.tar` for each platform into `dir`.
    pub fn write(&self, dir: &Path) -> Result<WrittenImage> {
        let index_archive = dir.join(archive_file_name(&self.name, None));
        let bytes = self.index_archive_bytes()?;
        write_atomically(&index_archive, &bytes)?;
        let mut platforms = Vec::new();
        for image in &self.images {
            let path = dir.join(archive_file_name(&self.name, Some(image.architecture)));
            let size = image.write_archive(&path)?;
            platforms.push((image.architecture, path, size));
        }
        Ok(WrittenImage {
            index_archive,
            index_size: bytes.len() as u64,
            platforms,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::archive::{parse_archive, parse_index_archive};
    use crate::image::tests::{base, fake_binary_for as binary, spec};

    fn both(payload: &[u8]) -> MultiImage {
        let amd64 = binary(62, payload);
        let arm64 = binary(183, payload);
        // Given arm64 first: the order of the result does not depend on it.
        build_multi_image(&spec(), &[&arm64, &amd64], &base(), 1_700_000_000).unwrap()
    }

    #[test]
    fn the_index_lists_both_platforms_and_reads_back() {
        let multi = both(b"v1");
        let archive = parse_index_archive(&multi.index_archive_bytes().unwrap()).unwrap();
        assert_eq!(archive.tag.as_deref(), Some(multi.tag.as_str()));
        assert_eq!(archive.index_digest, multi.index.digest);
        let archs: Vec<String> = archive
            .platforms
            .iter()
            .map(|p| p.config.architecture().to_string())
            .collect();
        assert_eq!(archs, ["amd64", "arm64"]);
        for (platform, image) in archive.platforms.iter().zip(&multi.images) {
            assert_eq!(platform.manifest_digest, image.manifest.digest);
            assert_eq!(platform.config_json["os"], "linux");
            assert!(platform.config_json["config"]["Healthcheck"].is_object());
        }
        // The base layer is the same blob for both platforms, the binary layer is not.
        let (a, b) = (&archive.platforms[0].layers, &archive.platforms[1].layers);
        assert_eq!(a[0].digest, b[0].digest);
        assert_ne!(a[1].digest, b[1].digest);
        assert!(archive.platform("arm64").is_some());
        assert!(archive.platform("riscv64").is_none());
        // A single-image reader refuses it with a pointer to the right reader.
        let error = parse_archive(&multi.index_archive_bytes().unwrap())
            .unwrap_err()
            .to_string();
        assert!(error.contains("read_index_archive"), "{error}");
    }

    #[test]
    fn per_platform_archives_carry_the_index_tag() {
        let multi = both(b"v1");
        for image in &multi.images {
            let single = parse_archive(&image.archive_bytes().unwrap()).unwrap();
            assert_eq!(single.tag.as_deref(), Some(multi.tag.as_str()));
            let docker = single.docker_manifest.unwrap();
            assert_eq!(
                docker[0]["RepoTags"],
                serde_json::json!([multi.reference()])
            );
            assert_eq!(
                single.config.architecture().to_string(),
                image.architecture.oci_name()
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let written = multi.write(dir.path()).unwrap();
        assert!(written.index_archive.ends_with("demo.oci.tar"));
        let names: Vec<String> = written
            .platforms
            .iter()
            .map(|(_, p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["demo-amd64.oci.tar", "demo-arm64.oci.tar"]);
    }

    #[test]
    fn the_tag_follows_every_platform() {
        let first = both(b"v1");
        assert_eq!(first.index.digest, both(b"v1").index.digest);
        let arm64_changed = {
            let amd64 = binary(62, b"v1");
            let arm64 = binary(183, b"v2");
            build_multi_image(&spec(), &[&amd64, &arm64], &base(), 1_700_000_000).unwrap()
        };
        assert_ne!(first.tag, arm64_changed.tag);
        // amd64 itself did not change.
        assert_eq!(
            first.images[0].manifest.digest,
            arm64_changed.images[0].manifest.digest
        );
        let amd64_only = {
            let amd64 = binary(62, b"v1");
            build_multi_image(&spec(), &[&amd64], &base(), 1_700_000_000).unwrap()
        };
        assert_eq!(amd64_only.images.len(), 1);
        assert_ne!(amd64_only.tag, first.tag);
    }

    #[test]
    fn two_binaries_of_one_architecture_are_refused() {
        let a = binary(183, b"a");
        let b = binary(183, b"b");
        let error = build_multi_image(&spec(), &[&a, &b], &base(), 1)
            .unwrap_err()
            .to_string();
        assert!(error.contains("two arm64 binaries"), "{error}");
        assert!(build_multi_image(&spec(), &[], &base(), 1).is_err());
    }
}
