//! Assembles one image: layers, OCI config, OCI manifest, tag and the archive file.
//!
//! The archive is an OCI image layout in a tar (`oci-layout`, `index.json`, `blobs/sha256/*`)
//! that also carries Docker's `manifest.json`, the same hybrid `docker save` writes since
//! Docker 25: skopeo and containerd read the OCI side, `docker load` and
//! `minikube image load` the Docker side. Both sides point at the same blobs.

use crate::base::{BaseFiles, base_tree, binary_tree};
use crate::digest::{hex_of, sha256_digest};
use crate::elf::Architecture;
use crate::gzip::gzip;
use crate::json::{canonical_json, canonical_value};
use crate::layer::TarBuilder;
use crate::spec::ImageSpec;
use anyhow::{Context, Result};
use oci_spec::image::{
    Arch, ConfigBuilder, Descriptor, DescriptorBuilder, Digest, HistoryBuilder,
    ImageConfigurationBuilder, ImageIndexBuilder, ImageManifestBuilder, MediaType, Os,
    PlatformBuilder, RootFsBuilder,
};
use serde::Serialize;
use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

/// Number of hex digits of the manifest digest used as the tag.
pub const TAG_HEX_DIGITS: usize = 16;

/// Annotation with the tag in `index.json` (OCI image layout).
pub const ANNOTATION_REF_NAME: &str = "org.opencontainers.image.ref.name";
/// Annotation containerd's importer (`ctr image import`, minikube with containerd) names the
/// image by.
pub const ANNOTATION_CONTAINERD_NAME: &str = "io.containerd.image.name";

/// Everything one image is made of.
pub struct ImageInputs<'a> {
    pub spec: &'a ImageSpec,
    /// The static executable, copied to `/bin/<binary>`.
    pub binary: &'a [u8],
    pub base: &'a BaseFiles,
    /// Seconds since 1970 stamped on every file and on `created` (see [`crate::epoch`]).
    pub epoch: i64,
}

/// A content-addressed blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blob {
    pub media_type: MediaType,
    pub data: Vec<u8>,
    /// `sha256:<hex>` of `data`.
    pub digest: String,
}

impl Blob {
    pub(crate) fn new(media_type: MediaType, data: Vec<u8>) -> Blob {
        let digest = sha256_digest(&data);
        Blob {
            media_type,
            data,
            digest,
        }
    }

    /// Path of the blob inside an image layout.
    pub fn layout_path(&self) -> String {
        format!("blobs/sha256/{}", hex_of(&self.digest).unwrap_or_default())
    }

    fn descriptor(&self) -> Result<Descriptor> {
        Ok(Descriptor::new(
            self.media_type.clone(),
            self.data.len() as u64,
            Digest::from_str(&self.digest)?,
        ))
    }
}

/// One layer: the compressed blob plus what the config needs to know about it.
#[derive(Debug, Clone)]
pub struct BuiltLayer {
    /// The gzip-compressed tar (what the manifest references).
    pub blob: Blob,
    /// `sha256:` of the uncompressed tar (the config's `rootfs.diff_ids`).
    pub diff_id: String,
    pub uncompressed_size: u64,
    pub file_count: usize,
    /// What the layer holds (also its history `created_by`).
    pub description: String,
}

fn build_layer(tree: &TarBuilder, mtime: u64, description: String) -> Result<BuiltLayer> {
    let tar = tree.to_tar(mtime)?;
    Ok(BuiltLayer {
        diff_id: sha256_digest(&tar),
        uncompressed_size: tar.len() as u64,
        file_count: tree.file_count(),
        blob: Blob::new(MediaType::ImageLayerGzip, gzip(&tar)),
        description,
    })
}

/// A finished image, ready to be written as an archive.
#[derive(Debug, Clone)]
pub struct Image {
    pub name: String,
    /// Content-derived: the first [`TAG_HEX_DIGITS`] hex digits of the manifest digest.
    pub tag: String,
    /// Base layer first, then the binary layer.
    pub layers: Vec<BuiltLayer>,
    pub config: Blob,
    pub manifest: Blob,
    pub epoch: i64,
    /// `sha256:` of the service binary inside.
    pub binary_digest: String,
    /// The binary's CPU architecture, which is the image's platform (always linux).
    pub architecture: Architecture,
}

pub(crate) fn oci_arch(architecture: Architecture) -> Arch {
    match architecture {
        Architecture::Amd64 => Arch::Amd64,
        Architecture::Arm64 => Arch::ARM64,
    }
}

/// Builds the image (all in memory; the service binaries are a few MiB).
pub fn build_image(inputs: &ImageInputs<'_>) -> Result<Image> {
    let spec = inputs.spec;
    spec.validate()?;
    let architecture = crate::elf::ensure_static_executable(&spec.binary, inputs.binary)?;
    let mtime = u64::try_from(inputs.epoch).context("epoch before 1970")?;
    let created = crate::epoch::rfc3339(inputs.epoch)?;

    let layers = vec![
        build_layer(
            &base_tree(spec, inputs.base)?,
            mtime,
            format!(
                "base: passwd/group (nonroot {}), nsswitch.conf, CA bundle, /tmp",
                spec.user_spec()
            ),
        )?,
        build_layer(
            &binary_tree(spec, inputs.binary)?,
            mtime,
            format!("binary: {}", spec.binary_path()),
        )?,
    ];
    let comments = [
        format!("CA certificates: {}", inputs.base.ca_provenance),
        format!("static executable {}", sha256_digest(inputs.binary)),
    ];

    let mut env: Vec<String> = spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.sort();
    let labels: HashMap<String, String> = spec.labels.clone().into_iter().collect();
    let mut config = ConfigBuilder::default()
        .user(spec.user_spec())
        .env(env)
        .entrypoint(spec.entrypoint.clone())
        .working_dir(spec.workdir.clone())
        .stop_signal("SIGTERM");
    if !spec.cmd.is_empty() {
        config = config.cmd(spec.cmd.clone());
    }
    if !spec.ports.is_empty() {
        config = config.exposed_ports(
            spec.ports
                .iter()
                .map(|p| format!("{p}/tcp"))
                .collect::<Vec<_>>(),
        );
    }
    if !labels.is_empty() {
        config = config.labels(labels);
    }
    let history = layers
        .iter()
        .zip(comments)
        .map(|(layer, comment)| {
            // umoci refuses to unpack an image whose history entries lack `created`.
            HistoryBuilder::default()
                .created(created.clone())
                .created_by(layer.description.clone())
                .comment(comment)
                .build()
        })
        .collect::<Result<Vec<_>, _>>()?;
    let image_config = ImageConfigurationBuilder::default()
        .created(created)
        .architecture(oci_arch(architecture))
        .os(Os::Linux)
        .config(config.build()?)
        .rootfs(
            RootFsBuilder::default()
                .typ("layers")
                .diff_ids(layers.iter().map(|l| l.diff_id.clone()).collect::<Vec<_>>())
                .build()?,
        )
        .history(history)
        .build()?;
    let mut config_json = serde_json::to_value(&image_config)?;
    if !spec.healthcheck.is_empty()
        && let Some(inner) = config_json
            .get_mut("config")
            .and_then(|c| c.as_object_mut())
    {
        // Docker's extension of the config (`docker run` honours it; OCI tools ignore it).
        // Kubernetes uses its own probes; this keeps `docker run` of the image self-checking.
        let mut test = vec!["CMD".to_owned()];
        test.extend(spec.healthcheck.iter().cloned());
        inner.insert("Healthcheck".into(), serde_json::json!({ "Test": test }));
    }
    let config = Blob::new(MediaType::ImageConfig, canonical_value(config_json)?);

    let manifest = ImageManifestBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageManifest)
        .config(config.descriptor()?)
        .layers(
            layers
                .iter()
                .map(|l| l.blob.descriptor())
                .collect::<Result<Vec<_>>>()?,
        )
        .build()?;
    let manifest = Blob::new(MediaType::ImageManifest, canonical_json(&manifest)?);
    let tag = hex_of(&manifest.digest)
        .map(|h| h[..TAG_HEX_DIGITS].to_owned())
        .context("manifest digest is not sha256")?;

    Ok(Image {
        name: spec.name.clone(),
        tag,
        layers,
        config,
        manifest,
        epoch: inputs.epoch,
        binary_digest: sha256_digest(inputs.binary),
        architecture,
    })
}

/// Docker's `manifest.json` entry (the `docker save` format).
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DockerManifestEntry {
    config: String,
    repo_tags: Vec<String>,
    layers: Vec<String>,
}

impl Image {
    /// `name:tag`.
    pub fn reference(&self) -> String {
        format!("{}:{}", self.name, self.tag)
    }

    /// Sum of the compressed layer sizes.
    pub fn compressed_size(&self) -> u64 {
        self.layers.iter().map(|l| l.blob.data.len() as u64).sum()
    }

    /// Sum of the uncompressed layer sizes.
    pub fn uncompressed_size(&self) -> u64 {
        self.layers.iter().map(|l| l.uncompressed_size).sum()
    }

    /// Regular files across all layers.
    pub fn file_count(&self) -> usize {
        self.layers.iter().map(|l| l.file_count).sum()
    }

    /// `index.json` of the image layout.
    pub fn index_json(&self) -> Result<Vec<u8>> {
        let descriptor = DescriptorBuilder::default()
            .media_type(MediaType::ImageManifest)
            .size(self.manifest.data.len() as u64)
            .digest(Digest::from_str(&self.manifest.digest)?)
            .platform(
                PlatformBuilder::default()
                    .architecture(oci_arch(self.architecture))
                    .os(Os::Linux)
                    .build()?,
            );
        layout_index_json(descriptor, &self.tag, &self.reference())
    }

    /// Docker's `manifest.json` (not canonicalised: Docker expects this key order).
    pub fn docker_manifest_json(&self) -> Result<Vec<u8>> {
        let entry = DockerManifestEntry {
            config: self.config.layout_path(),
            repo_tags: vec![self.reference()],
            layers: self.layers.iter().map(|l| l.blob.layout_path()).collect(),
        };
        Ok(serde_json::to_vec(&[entry])?)
    }

    /// The archive bytes (a deterministic tar of the image layout).
    pub fn archive_bytes(&self) -> Result<Vec<u8>> {
        let mut tree = TarBuilder::new();
        tree.file("oci-layout", r#"{"imageLayoutVersion":"1.0.0"}"#, 0o644)?
            .file("index.json", self.index_json()?, 0o644)?
            .file("manifest.json", self.docker_manifest_json()?, 0o644)?;
        let blobs = self
            .layers
            .iter()
            .map(|l| &l.blob)
            .chain([&self.config, &self.manifest]);
        for blob in blobs {
            tree.file(&blob.layout_path(), blob.data.clone(), 0o644)?;
        }
        tree.to_tar(u64::try_from(self.epoch).unwrap_or(0))
    }

    /// Writes the archive to `path` and returns its size.
    pub fn write_archive(&self, path: &Path) -> Result<u64> {
        let bytes = self.archive_bytes()?;
        write_atomically(path, &bytes)?;
        Ok(bytes.len() as u64)
    }
}

/// An image layout's `index.json`: one entry, `descriptor` (a manifest or a nested index),
/// named by `tag` for OCI tools and by `reference` for containerd's importer.
pub(crate) fn layout_index_json(
    descriptor: DescriptorBuilder,
    tag: &str,
    reference: &str,
) -> Result<Vec<u8>> {
    let descriptor = descriptor
        .annotations(HashMap::from([
            (ANNOTATION_REF_NAME.to_owned(), tag.to_owned()),
            (
                ANNOTATION_CONTAINERD_NAME.to_owned(),
                format!("docker.io/library/{reference}"),
            ),
        ]))
        .build()?;
    let index = ImageIndexBuilder::default()
        .schema_version(2u32)
        .media_type(MediaType::ImageIndex)
        .manifests(vec![descriptor])
        .build()?;
    canonical_json(&index)
}

/// Writes `bytes` to `path` through a temp file in the same directory and a rename, so a
/// reader never sees half an archive.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("creating a temp file in {}", dir.display()))?;
    std::io::Write::write_all(&mut tmp, bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("renaming the archive to {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::Value;

    pub(crate) fn spec() -> ImageSpec {
        let text = r#"
[package]
name = "demo"
[package.metadata.image]
name = "demo"
binary = "demo"
entrypoint = ["/bin/demo"]
cmd = ["serve"]
ports = [8080, 9090]
user = 65532
group = 65532
workdir = "/"
env = { PORT = "8080", LOG_FORMAT = "json", SSL_CERT_FILE = "/etc/ssl/certs/ca-certificates.crt" }
healthcheck = ["/bin/demo", "healthcheck"]
[package.metadata.image.labels]
"org.opencontainers.image.title" = "demo"
"org.opencontainers.image.licenses" = "MIT"
"org.opencontainers.image.description" = "a demo"
"#;
        crate::spec::parse_manifest(text).unwrap().unwrap().1
    }

    /// A fake static x86-64 executable: an ELF header with no program headers.
    pub(crate) fn fake_binary(payload: &[u8]) -> Vec<u8> {
        fake_binary_for(62, payload)
    }

    /// The same for ELF `machine` (62 x86-64, 183 AArch64).
    pub(crate) fn fake_binary_for(machine: u16, payload: &[u8]) -> Vec<u8> {
        let mut b = vec![0u8; 64];
        b[..4].copy_from_slice(b"\x7fELF");
        b[4] = 2;
        b[5] = 1;
        b[0x10] = 3;
        b[0x12..0x14].copy_from_slice(&machine.to_le_bytes());
        b.extend_from_slice(payload);
        b
    }

    pub(crate) fn base() -> BaseFiles {
        BaseFiles {
            ca_bundle: b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n".to_vec(),
            ca_copyright: Some(b"MPL-2.0".to_vec()),
            ca_provenance: "test bundle".into(),
        }
    }

    fn build(payload: &[u8], epoch: i64) -> Image {
        let spec = spec();
        let binary = fake_binary(payload);
        let base = base();
        build_image(&ImageInputs {
            spec: &spec,
            binary: &binary,
            base: &base,
            epoch,
        })
        .unwrap()
    }

    #[test]
    fn identical_inputs_give_identical_archives() {
        let a = build(b"v1", 1_700_000_000);
        let b = build(b"v1", 1_700_000_000);
        assert_eq!(a.archive_bytes().unwrap(), b.archive_bytes().unwrap());
        assert_eq!(a.manifest.digest, b.manifest.digest);
        assert_eq!(a.tag, b.tag);
    }

    #[test]
    fn the_tag_follows_content_and_is_never_latest() {
        let a = build(b"v1", 1_700_000_000);
        let b = build(b"v2", 1_700_000_000);
        assert_ne!(a.tag, b.tag);
        assert_eq!(a.tag.len(), TAG_HEX_DIGITS);
        assert!(a.manifest.digest.contains(&a.tag));
        assert_ne!(a.tag, "latest");
        // Only the binary layer changes; the base layer is shared between the two.
        assert_eq!(a.layers[0].blob.digest, b.layers[0].blob.digest);
        assert_ne!(a.layers[1].blob.digest, b.layers[1].blob.digest);
    }

    #[test]
    fn digests_match_content() {
        let img = build(b"v1", 1_700_000_000);
        for blob in img
            .layers
            .iter()
            .map(|l| &l.blob)
            .chain([&img.config, &img.manifest])
        {
            assert_eq!(sha256_digest(&blob.data), blob.digest);
        }
        for layer in &img.layers {
            let tar = crate::gzip::gunzip(&layer.blob.data).unwrap();
            assert_eq!(sha256_digest(&tar), layer.diff_id);
            assert_eq!(tar.len() as u64, layer.uncompressed_size);
        }
        let manifest: Value = serde_json::from_slice(&img.manifest.data).unwrap();
        assert_eq!(manifest["config"]["digest"], img.config.digest.as_str());
        assert_eq!(manifest["config"]["size"], img.config.data.len());
        assert_eq!(
            manifest["layers"][1]["digest"],
            img.layers[1].blob.digest.as_str()
        );
        assert_eq!(manifest["layers"][1]["size"], img.layers[1].blob.data.len());
        assert_eq!(
            manifest["mediaType"],
            "application/vnd.oci.image.manifest.v1+json"
        );
        assert_eq!(
            manifest["layers"][0]["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        assert_eq!(manifest["schemaVersion"], 2);
    }

    #[test]
    fn config_carries_the_description() {
        let img = build(b"v1", 1_700_000_000);
        let config: Value = serde_json::from_slice(&img.config.data).unwrap();
        assert_eq!(config["created"], "2023-11-14T22:13:20Z");
        assert_eq!(config["architecture"], "amd64");
        assert_eq!(config["os"], "linux");
        let c = &config["config"];
        assert_eq!(c["User"], "65532:65532");
        assert_eq!(c["Entrypoint"], serde_json::json!(["/bin/demo"]));
        assert_eq!(c["Cmd"], serde_json::json!(["serve"]));
        assert_eq!(c["WorkingDir"], "/");
        assert_eq!(c["StopSignal"], "SIGTERM");
        assert_eq!(
            c["Env"],
            serde_json::json!([
                "LOG_FORMAT=json",
                "PORT=8080",
                "SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt"
            ])
        );
        assert_eq!(
            c["ExposedPorts"],
            serde_json::json!({"8080/tcp": {}, "9090/tcp": {}})
        );
        assert_eq!(c["Labels"]["org.opencontainers.image.title"], "demo");
        assert_eq!(c["Labels"].as_object().unwrap().len(), 3);
        assert_eq!(
            c["Healthcheck"]["Test"],
            serde_json::json!(["CMD", "/bin/demo", "healthcheck"])
        );
        let history = config["history"].as_array().unwrap();
        assert_eq!(history.len(), 2);
        for entry in history {
            assert_eq!(entry["created"], "2023-11-14T22:13:20Z");
        }
        let diff_ids: Vec<&str> = config["rootfs"]["diff_ids"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        assert_eq!(
            diff_ids,
            [
                img.layers[0].diff_id.as_str(),
                img.layers[1].diff_id.as_str()
            ]
        );
    }

    #[test]
    fn created_is_the_epoch_not_the_clock() {
        let a = build(b"v1", 86_400);
        let config: Value = serde_json::from_slice(&a.config.data).unwrap();
        assert_eq!(config["created"], "1970-01-02T00:00:00Z");
    }

    #[test]
    fn layout_files_reference_the_blobs() {
        let img = build(b"v1", 1_700_000_000);
        let index: Value = serde_json::from_slice(&img.index_json().unwrap()).unwrap();
        let m = &index["manifests"][0];
        assert_eq!(m["digest"], img.manifest.digest.as_str());
        assert_eq!(m["annotations"][ANNOTATION_REF_NAME], img.tag.as_str());
        let docker: Value = serde_json::from_slice(&img.docker_manifest_json().unwrap()).unwrap();
        assert_eq!(docker[0]["RepoTags"][0], img.reference());
        assert_eq!(docker[0]["Config"], img.config.layout_path());
        assert_eq!(docker[0]["Layers"].as_array().unwrap().len(), 2);
    }

    #[test]
    fn dynamic_binaries_are_refused() {
        let spec = spec();
        let binary = std::fs::read(crate::tools::find("gzip").unwrap()).unwrap();
        let base = base();
        let err = build_image(&ImageInputs {
            spec: &spec,
            binary: &binary,
            base: &base,
            epoch: 0,
        })
        .unwrap_err();
        assert!(err.to_string().contains("dynamically linked"), "{err}");
    }
}
