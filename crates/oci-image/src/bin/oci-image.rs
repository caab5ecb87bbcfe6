//! `oci-image build`: one service's image, for every platform it is given a static binary
//! for, from its `Cargo.toml`: `<name>.oci.tar` (the multi-platform index) and
//! `<name>-<arch>.oci.tar` per platform (see `oci_image::multi`).
//!
//! This is how Nix assembles the service images (`nix/images.nix`): the same code as
//! `cargo xtask images`, so both paths turn the same `[package.metadata.image]` into the same
//! image config (entrypoint, user, env, labels, ports, healthcheck, `created`). Only the CA
//! bundle differs by source: Debian's package natively, nixpkgs' `cacert` under Nix.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use oci_image::{BaseFiles, CatalogEntry, build_multi_image};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "oci-image",
    about = "Assembles a reproducible OCI image archive"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes the archives into `--out-dir` and prints the image's catalog entry (the shape of
    /// target/images/manifest.json's entries) as one JSON line.
    Build(Build),
}

#[derive(clap::Args)]
struct Build {
    /// The service's Cargo.toml, holding `[package.metadata.image]`.
    #[arg(long)]
    manifest: PathBuf,
    /// A static executable to put at /bin/<binary>; once per platform (its ELF header says
    /// which: x86-64 is amd64, AArch64 arm64).
    #[arg(long, required = true)]
    binary: Vec<PathBuf>,
    /// PEM bundle of trusted CA certificates for /etc/ssl/certs/ca-certificates.crt.
    #[arg(long)]
    ca_bundle: PathBuf,
    /// Where the bundle came from, recorded in the image history.
    #[arg(long)]
    ca_provenance: Option<String>,
    /// The bundle's license text, shipped at /usr/share/doc/ca-certificates/copyright.
    #[arg(long)]
    ca_copyright: Option<PathBuf>,
    /// Seconds since 1970 for `created` and every mtime.
    #[arg(long, env = "SOURCE_DATE_EPOCH")]
    epoch: String,
    /// Where to write the archives (created if missing).
    #[arg(long)]
    out_dir: PathBuf,
}

fn build(args: Build) -> Result<()> {
    let service = oci_image::spec::read_service(&args.manifest)?.with_context(|| {
        format!(
            "{} has no [package.metadata.image] table",
            args.manifest.display()
        )
    })?;
    let binaries = args
        .binary
        .iter()
        .map(|path| {
            std::fs::read(path).with_context(|| format!("reading the binary {}", path.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    let mut base = BaseFiles::from_file(&args.ca_bundle)?;
    if let Some(provenance) = args.ca_provenance {
        base.ca_provenance = provenance;
    }
    if let Some(path) = &args.ca_copyright {
        base.ca_copyright =
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?);
    }
    let epoch = oci_image::epoch::parse_epoch(&args.epoch).context("--epoch")?;
    let refs: Vec<&[u8]> = binaries.iter().map(Vec::as_slice).collect();
    let image = build_multi_image(&service.spec, &refs, &base, epoch)
        .with_context(|| format!("assembling the {} image", service.spec.name))?;
    let written = image.write(&args.out_dir)?;
    let entry = CatalogEntry::for_image(&service.package, &image, &written, |path| {
        path.display().to_string()
    });
    println!("{}", serde_json::to_string(&entry)?);
    Ok(())
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(args) => build(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("oci-image: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
