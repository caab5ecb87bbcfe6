//! Reproducible minimal OCI images for the todo-chatbot services, built without Docker.
//!
//! The pipeline, one module per step:
//! - [`spec`]: reads the one description of an image, `[package.metadata.image]` in the
//!   service's `Cargo.toml` (Nix reads the same table with `builtins.fromTOML`).
//! - [`layer`] + [`gzip`]: deterministic tar (sorted entries, fixed mtime, numeric owners,
//!   fixed modes) and deterministic gzip (fixed header, fixed level), so the same inputs give
//!   the same bytes on every machine.
//! - [`base`]: the base layer (passwd/group with the non-root user, CA bundle, `/tmp`).
//! - [`image`]: layers + OCI config + manifest (via `oci-spec`), the content-derived tag and
//!   the archive (`oci-layout`, `index.json`, `blobs/`, plus Docker's `manifest.json`).
//! - [`multi`]: one image per platform (amd64, arm64) under an OCI image index, written as a
//!   multi-platform archive plus one single-platform archive each.
//! - [`archive`]: reads an archive back and verifies every digest; [`scan`] looks through its
//!   layers for shells, package managers and secrets.
//! - [`catalog`]: `target/images/manifest.json`, the list of built images other code reads.
//! - [`runc`]: runs an image for real (umoci unpack + runc) the way CI checks it.

pub mod archive;
pub mod base;
pub mod catalog;
pub mod digest;
pub mod elf;
pub mod epoch;
pub mod gzip;
pub mod http;
pub mod image;
pub mod json;
pub mod layer;
pub mod multi;
pub mod runc;
pub mod scan;
pub mod spec;
pub mod tools;

pub use archive::{IndexArchive, OciArchive, read_archive, read_index_archive};
pub use base::BaseFiles;
pub use catalog::{CatalogEntry, ImageCatalog};
pub use image::{Image, ImageInputs, build_image};
pub use multi::{MultiImage, build_multi_image};
pub use spec::{ImageSpec, ServiceImage, discover_services};
