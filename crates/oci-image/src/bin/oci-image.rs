//! `oci-image build`: one image archive from one service's `Cargo.toml` and its static binary.
//!
//! This is how Nix assembles the service images (`nix/images.nix`): the same code as
//! `cargo xtask images`, so both paths turn the same `[package.metadata.image]` into the same
//! image config (entrypoint, user, env, labels, ports, healthcheck, `created`). Only the CA
//! bundle differs by source: Debian's package natively, nixpkgs' `cacert` under Nix.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use oci_image::{BaseFiles, ImageInputs, build_image};
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
    /// Writes `--out`, an OCI image layout in a tar (plus Docker's manifest.json), and prints
    /// the image's name, tag and digests as one JSON line.
    Build(Build),
}

#[derive(clap::Args)]
struct Build {
    /// The service's Cargo.toml, holding `[package.metadata.image]`.
    #[arg(long)]
    manifest: PathBuf,
    /// The static executable to put at /bin/<binary>.
    #[arg(long)]
    binary: PathBuf,
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
    /// The archive to write.
    #[arg(long)]
    out: PathBuf,
}

fn build(args: Build) -> Result<()> {
    let service = oci_image::spec::read_service(&args.manifest)?.with_context(|| {
        format!(
            "{} has no [package.metadata.image] table",
            args.manifest.display()
        )
    })?;
    let binary = std::fs::read(&args.binary)
        .with_context(|| format!("reading the binary {}", args.binary.display()))?;
    let mut base = BaseFiles::from_file(&args.ca_bundle)?;
    if let Some(provenance) = args.ca_provenance {
        base.ca_provenance = provenance;
    }
    if let Some(path) = &args.ca_copyright {
        base.ca_copyright =
            Some(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?);
    }
    let epoch = oci_image::epoch::parse_epoch(&args.epoch).context("--epoch")?;
    let image = build_image(&ImageInputs {
        spec: &service.spec,
        binary: &binary,
        base: &base,
        epoch,
    })
    .with_context(|| format!("assembling the {} image", service.spec.name))?;
    let size = image.write_archive(&args.out)?;
    let summary = serde_json::json!({
        "name": image.name,
        "tag": image.tag,
        "reference": image.reference(),
        "digest": image.manifest.digest,
        "architecture": image.architecture.oci_name(),
        "size": size,
    });
    println!("{summary}");
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
