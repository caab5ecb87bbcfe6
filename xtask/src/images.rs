//! `cargo xtask images`: builds the service OCI images natively (no Docker, no Nix), for
//! linux/amd64 and linux/arm64.
//!
//! A thin front over `crates/oci-image`: one release build of every service for every
//! platform (static musl, cross-compiled by cargo-zigbuild, paths remapped), then the crate
//! assembles `target/images/<service>.oci.tar` (the multi-platform index),
//! `target/images/<service>-<arch>.oci.tar` (one platform each, for `docker load` and
//! `minikube image load`) and `target/images/manifest.json`. Also the image parts of CI
//! ([`ci_checks`], in `checks`), the image benchmark ([`bench`]) and the Nix file checks
//! ([`nix_checks`]).

mod checks;
mod docker;
mod nixcheck;
mod nixsources;
mod tls;

pub use checks::ci_checks;
pub use nixcheck::nix_checks;

use crate::util::{Step, project_root};
use anyhow::{Context, Result, bail, ensure};
use oci_image::elf::Architecture;
use oci_image::multi::WrittenImage;
use oci_image::{BaseFiles, CatalogEntry, ImageCatalog, MultiImage, ServiceImage, read_archive};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use xshell::{Shell, cmd};

/// An image platform and the Rust target its binaries are built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Platform {
    pub arch: Architecture,
    pub target: &'static str,
}

/// Every platform the images are built for. Static musl on both, as in the Nix build.
///
/// The C code in dependencies (aws-lc-sys, ring) needs a C cross compiler. Zig, through
/// cargo-zigbuild, is that compiler here rather than Debian's gcc-aarch64-linux-gnu: one
/// toolchain from PyPI (`ziglang`, `cargo-zigbuild`; `.ci/install/25-cross.sh`) that targets
/// both platforms from Linux and macOS hosts of either CPU, where Debian's cross gcc only
/// serves Debian hosts building arm64. Zig cannot link static glibc, hence musl for amd64 too.
/// Explicit targets also mean RUSTFLAGS apply to the target only, so proc macros and build
/// scripts still build for the host.
pub const PLATFORMS: [Platform; 2] = [
    Platform {
        arch: Architecture::Amd64,
        target: "x86_64-unknown-linux-musl",
    },
    Platform {
        arch: Architecture::Arm64,
        target: "aarch64-unknown-linux-musl",
    },
];

/// Parses `linux/arm64`, `arm64`, `linux/amd64`, `amd64` (also `aarch64`, `x86_64`), the
/// same names `cargo xtask deploy --platform` takes.
pub fn parse_platform(text: &str) -> Result<Platform> {
    let arch = deploy_plan::deploy::normalize_platform(text)?;
    PLATFORMS
        .into_iter()
        .find(|p| p.arch.oci_name() == arch)
        .context("platform table")
}

/// The platform of this machine's CPU, if images are built for it.
pub fn host_platform() -> Option<Platform> {
    parse_platform(std::env::consts::ARCH).ok()
}
/// Release builds for images, apart from the dev builds in `target/`.
const BUILD_DIR: &str = "target/image-build";
/// The second, from-scratch build of `--check-reproducible`.
const CHECK_DIR: &str = "target/image-build-2";
/// Cold builds of `cargo xtask bench images`.
const BENCH_DIR: &str = "target/image-bench";
const OUT_DIR: &str = "target/images";
/// Image size budget (compressed layers).
const SIZE_BUDGET: u64 = 15 * 1024 * 1024;

#[derive(clap::Args)]
pub struct Cmd {
    /// Build only this service's image (repeatable; default: every service)
    #[arg(long = "service", value_name = "NAME")]
    services: Vec<String>,
    /// Build a second time from scratch in another target dir and fail on any difference
    #[arg(long)]
    check_reproducible: bool,
    /// Directory for <service>.oci.tar and manifest.json (relative to the repository root)
    #[arg(long, value_name = "DIR", default_value = OUT_DIR)]
    out: PathBuf,
    /// Run the image checks of `cargo xtask ci` instead: the Nix files (parse, flake.lock),
    /// then a reproducible build of every image, skopeo, a layer scan, and each service
    /// under runc against a throwaway PostgreSQL
    #[arg(long, conflicts_with_all = ["services", "check_reproducible", "out"])]
    ci: bool,
    /// With --ci: build once instead of twice (for local iteration; CI always builds twice)
    #[arg(long, requires = "ci")]
    quick: bool,
    /// Platforms to build (comma-separated; default: linux/amd64,linux/arm64)
    #[arg(
        long = "platform",
        value_name = "OS/ARCH",
        value_delimiter = ',',
        conflicts_with = "ci"
    )]
    platforms: Vec<String>,
}

impl Cmd {
    pub fn run(self, sh: &Shell) -> Result<()> {
        if self.ci {
            nix_checks(sh)?;
            return checks::image_checks(sh, !self.quick);
        }
        let platforms = if self.platforms.is_empty() {
            PLATFORMS.to_vec()
        } else {
            self.platforms
                .iter()
                .map(|p| parse_platform(p))
                .collect::<Result<_>>()?
        };
        let built = build_images(
            sh,
            &Options {
                services: self.services,
                check_reproducible: self.check_reproducible,
                out: project_root().join(self.out),
                platforms,
            },
        )?;
        println!(
            "{:<10} {:<8} {:<27} {:>10}  ARCHIVE",
            "SERVICE", "PLATFORM", "REFERENCE", "SIZE"
        );
        for b in &built {
            println!(
                "{:<10} {:<8} {:<27} {:>10}  {}",
                b.service,
                "index",
                b.image.reference(),
                mib(b.entry.size),
                b.entry.archive
            );
            for p in &b.entry.platforms {
                println!(
                    "{:<10} {:<8} {:<27} {:>10}  {}",
                    "",
                    p.architecture,
                    b.image.reference(),
                    mib(p.size),
                    p.archive
                );
            }
        }
        Ok(())
    }
}

/// What to build.
pub struct Options {
    /// Service packages; empty means all.
    pub services: Vec<String>,
    pub check_reproducible: bool,
    /// Absolute output directory.
    pub out: PathBuf,
    /// What to build for (at least one).
    pub platforms: Vec<Platform>,
}

/// An image written to disk, for every platform built.
pub struct BuiltImage {
    pub service: String,
    pub spec: oci_image::ImageSpec,
    pub image: MultiImage,
    /// Absolute paths of what was written.
    pub written: WrittenImage,
    /// Its manifest.json entry (paths relative to the repository root).
    pub entry: CatalogEntry,
    /// The release binary each platform's image holds.
    pub binaries: Vec<(Platform, PathBuf)>,
}

impl BuiltImage {
    /// The single-platform archive for `arch`, if built.
    pub fn platform_archive(&self, arch: Architecture) -> Option<&Path> {
        self.written
            .platforms
            .iter()
            .find(|(a, _, _)| *a == arch)
            .map(|(_, path, _)| path.as_path())
    }
}

/// An image assembled in memory, with the binaries it was made from.
struct Assembled {
    service: ServiceImage,
    binaries: Vec<(Platform, PathBuf)>,
    image: MultiImage,
    /// `sha256:` of the multi-platform archive's bytes.
    archive_digest: String,
    assemble_time: Duration,
}

/// Builds the images and writes the archives plus manifest.json.
pub fn build_images(sh: &Shell, opts: &Options) -> Result<Vec<BuiltImage>> {
    let root = project_root();
    let services = select_services(&root, &opts.services)?;
    let epoch = oci_image::epoch::source_date_epoch(&root)?;
    let base = BaseFiles::from_host()?;
    ensure!(!opts.platforms.is_empty(), "no platform to build for");
    eprintln!(
        "images: {} for {} (SOURCE_DATE_EPOCH={epoch}; CA bundle: {})",
        services
            .iter()
            .map(|s| s.package.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        platform_list(&opts.platforms),
        base.ca_provenance
    );

    // Both builds must see the same sources, or a difference proves nothing.
    let sources_before = if opts.check_reproducible {
        Some(source_fingerprint(sh, &root)?)
    } else {
        None
    };
    let first_dir = root.join(BUILD_DIR);
    {
        let _step = Step::new(format!(
            "images: release build for {} in {BUILD_DIR}",
            platform_list(&opts.platforms)
        ));
        compile(sh, &root, &services, &first_dir, &opts.platforms)?;
    }
    let first = assemble(&services, &first_dir, &opts.platforms, epoch, &base)?;

    if opts.check_reproducible {
        let second_dir = root.join(CHECK_DIR);
        sh.remove_path(&second_dir)?;
        {
            let _step = Step::new(format!(
                "images: second release build from scratch in {CHECK_DIR} (slow: a full cold build)"
            ));
            compile(sh, &root, &services, &second_dir, &opts.platforms)?;
        }
        let second = assemble(&services, &second_dir, &opts.platforms, epoch, &base)?;
        let sources_changed =
            sources_before.as_deref() != Some(source_fingerprint(sh, &root)?.as_str());
        let differences = compare(&root, &first, &second);
        if !differences.is_empty() {
            if sources_changed {
                bail!(
                    "the two builds differ, but the sources also changed while they ran (so the \
                     edits may be the cause); run `cargo xtask images --check-reproducible` again \
                     on a quiet tree:\n  {}",
                    differences.join("\n  ")
                );
            }
            bail!(
                "the two builds differ:\n  {}\n{CHECK_DIR} is kept for inspection (compare the files \
                 with `cmp -l` or diffoscope)",
                differences.join("\n  ")
            );
        }
        if sources_changed {
            eprintln!(
                "images: note: files changed during the check, but none of it reached the images"
            );
        }
        eprintln!(
            "images: both builds are identical ({} images, {} each)",
            first.len(),
            platform_list(&opts.platforms)
        );
        // A second copy of every release artifact is >1 GB of disk nobody needs once it matched.
        sh.remove_path(&second_dir)?;
    }

    write_outputs(&root, &opts.out, first)
}

/// A digest over every file git would commit (tracked or new, not ignored), path and content.
fn source_fingerprint(sh: &Shell, root: &Path) -> Result<String> {
    let listing = cmd!(
        sh,
        "git -C {root} ls-files -z --cached --others --exclude-standard"
    )
    .quiet()
    .read()
    .context("listing the sources with git ls-files")?;
    let mut paths: Vec<&str> = listing.split('\0').filter(|p| !p.is_empty()).collect();
    paths.sort_unstable();
    paths.dedup();
    let mut all = Vec::new();
    for path in paths {
        // Deleted-but-tracked files simply count as absent.
        let content = std::fs::read(root.join(path)).unwrap_or_default();
        all.extend_from_slice(path.as_bytes());
        all.push(0);
        all.extend_from_slice(oci_image::digest::sha256_digest(&content).as_bytes());
        all.push(b'\n');
    }
    Ok(oci_image::digest::sha256_digest(&all))
}

/// Every service with an image, or the named ones (by package or image name).
fn select_services(root: &Path, wanted: &[String]) -> Result<Vec<ServiceImage>> {
    let all = oci_image::discover_services(root)?;
    ensure!(
        !all.is_empty(),
        "no crate under crates/ has [package.metadata.image]"
    );
    if wanted.is_empty() {
        return Ok(all);
    }
    let mut picked = Vec::new();
    for name in wanted {
        let Some(service) = all
            .iter()
            .find(|s| s.package == *name || s.spec.name == *name)
        else {
            bail!(
                "no service named {name}; services with images: {}",
                all.iter()
                    .map(|s| s.package.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        };
        if !picked.contains(service) {
            picked.push(service.clone());
        }
    }
    Ok(picked)
}

/// RUSTFLAGS for a static, location-independent release build (0x1f-separated, as
/// CARGO_ENCODED_RUSTFLAGS wants, so paths with spaces survive).
fn encoded_rustflags(sh: &Shell, root: &Path, target_dir: &Path) -> Result<String> {
    let sysroot = cmd!(sh, "rustc --print sysroot")
        .read()
        .context("asking rustc for its sysroot")?;
    let cargo_home = cargo_home().context("neither CARGO_HOME nor HOME is set")?;
    let mut flags = vec!["-C".to_owned(), "target-feature=+crt-static".to_owned()];
    // rustc applies the last matching remapping, so the target dir (inside the repository)
    // comes after the repository itself; both builds then see the same /build/target paths.
    for (from, to) in [
        (root.display().to_string(), "/build"),
        (cargo_home.display().to_string(), "/cargo"),
        (sysroot.trim().to_owned(), "/rustc-sysroot"),
        (target_dir.display().to_string(), "/build/target"),
    ] {
        flags.push(format!("--remap-path-prefix={from}={to}"));
    }
    Ok(flags.join("\u{1f}"))
}

/// `linux/amd64, linux/arm64`.
fn platform_list(platforms: &[Platform]) -> String {
    platforms
        .iter()
        .map(|p| format!("linux/{}", p.arch.oci_name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The installer of Zig, cargo-zigbuild and the Rust targets.
const CROSS_INSTALLER: &str = ".ci/install/25-cross.sh";

/// One `cargo zigbuild --release` for all services and platforms into `target_dir` (one
/// invocation, so build scripts and proc macros compile once for all targets).
fn compile(
    sh: &Shell,
    root: &Path,
    services: &[ServiceImage],
    target_dir: &Path,
    platforms: &[Platform],
) -> Result<()> {
    let tools = root.join(".tools/bin");
    let path = std::env::var("PATH").unwrap_or_default();
    let search = format!("{}:{path}", tools.display());
    for tool in ["cargo-zigbuild", "zig"] {
        ensure!(
            std::env::split_paths(&search).any(|dir| dir.join(tool).is_file()),
            "{tool} not found (in .tools/bin or on PATH): the images are cross-compiled with \
             cargo-zigbuild and Zig; run `bash {CROSS_INSTALLER}` (pip installs both into .tools)"
        );
    }
    let installed = cmd!(sh, "rustup target list --installed")
        .quiet()
        .ignore_status()
        .read()
        .unwrap_or_default();
    let missing: Vec<&str> = platforms
        .iter()
        .map(|p| p.target)
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    ensure!(
        installed.is_empty() || missing.is_empty(),
        "the Rust standard library for {} is not installed: run `rustup target add {}` (or `bash {CROSS_INSTALLER}`)",
        missing.join(", "),
        missing.join(" ")
    );
    let flags = encoded_rustflags(sh, root, target_dir)?;
    let mut args: Vec<String> = vec!["zigbuild".into(), "--release".into(), "--locked".into()];
    for p in platforms {
        args.push("--target".into());
        args.push(p.target.into());
    }
    for s in services {
        args.push("--package".into());
        args.push(s.package.clone());
    }
    cmd!(sh, "cargo {args...}")
        .env("PATH", &search)
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", flags)
        // C objects must not record where the build ran either.
        .env("CFLAGS", c_prefix_maps(root, target_dir))
        // Anything here would override or mix with the flags above.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .run()
        .with_context(|| {
            format!(
                "release build of the service binaries into {} failed",
                target_dir.display()
            )
        })
}

/// `-ffile-prefix-map` for the C compiler: the same remapping the Rust flags do.
fn c_prefix_maps(root: &Path, target_dir: &Path) -> String {
    let mut maps = vec![format!("-ffile-prefix-map={}=/build", root.display())];
    if let Some(home) = cargo_home() {
        maps.push(format!("-ffile-prefix-map={}=/cargo", home.display()));
    }
    maps.push(format!(
        "-ffile-prefix-map={}=/build/target",
        target_dir.display()
    ));
    maps.join(" ")
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
}

fn binary_path(target_dir: &Path, platform: Platform, service: &ServiceImage) -> PathBuf {
    target_dir
        .join(platform.target)
        .join("release")
        .join(&service.spec.binary)
}

/// Assembles every image from the binaries in `target_dir`.
fn assemble(
    services: &[ServiceImage],
    target_dir: &Path,
    platforms: &[Platform],
    epoch: i64,
    base: &BaseFiles,
) -> Result<Vec<Assembled>> {
    let mut out = Vec::new();
    for service in services {
        let started = Instant::now();
        let mut binaries = Vec::new();
        let mut bytes = Vec::new();
        for platform in platforms {
            let path = binary_path(target_dir, *platform, service);
            bytes.push(std::fs::read(&path).with_context(|| {
                format!(
                    "reading {} (did the release build produce it?)",
                    path.display()
                )
            })?);
            binaries.push((*platform, path));
        }
        let refs: Vec<&[u8]> = bytes.iter().map(Vec::as_slice).collect();
        let image = oci_image::build_multi_image(&service.spec, &refs, base, epoch)
            .with_context(|| format!("assembling the {} image", service.spec.name))?;
        let archive_digest = oci_image::digest::sha256_digest(&image.index_archive_bytes()?);
        out.push(Assembled {
            service: service.clone(),
            binaries,
            image,
            archive_digest,
            assemble_time: started.elapsed(),
        });
    }
    Ok(out)
}

fn relative(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Every difference between two builds, naming the platform and file that differs.
fn compare(root: &Path, first: &[Assembled], second: &[Assembled]) -> Vec<String> {
    let mut diffs = Vec::new();
    for (a, b) in first.iter().zip(second) {
        let name = &a.service.spec.name;
        for ((platform, path_a), (_, path_b)) in a.binaries.iter().zip(&b.binaries) {
            let (Some(ia), Some(ib)) = (
                a.image.platform(platform.arch),
                b.image.platform(platform.arch),
            ) else {
                diffs.push(format!(
                    "{name}: one build lacks {}",
                    platform.arch.oci_name()
                ));
                continue;
            };
            let arch = platform.arch.oci_name();
            if ia.binary_digest != ib.binary_digest {
                diffs.push(format!(
                    "{name} ({arch}): binary differs: {} ({}) vs {} ({})",
                    relative(root, path_a),
                    ia.binary_digest,
                    relative(root, path_b),
                    ib.binary_digest
                ));
            }
            for (i, (la, lb)) in ia.layers.iter().zip(&ib.layers).enumerate() {
                if la.blob.digest != lb.blob.digest {
                    diffs.push(format!(
                        "{name} ({arch}): layer {i} ({}) differs: {} vs {}",
                        la.description, la.blob.digest, lb.blob.digest
                    ));
                }
            }
            if ia.config.digest != ib.config.digest {
                diffs.push(format!(
                    "{name} ({arch}): config differs: {} vs {}",
                    ia.config.digest, ib.config.digest
                ));
            }
            if ia.manifest.digest != ib.manifest.digest {
                diffs.push(format!(
                    "{name} ({arch}): manifest differs: {} vs {}",
                    ia.manifest.digest, ib.manifest.digest
                ));
            }
        }
        if a.image.index.digest != b.image.index.digest {
            diffs.push(format!(
                "{name}: image index differs: {} vs {}",
                a.image.index.digest, b.image.index.digest
            ));
        }
        if a.archive_digest != b.archive_digest {
            diffs.push(format!(
                "{name}: archive {name}.oci.tar differs: {} vs {}",
                a.archive_digest, b.archive_digest
            ));
        }
    }
    diffs
}

/// Writes the archives and manifest.json; entries of services not rebuilt this time stay
/// listed as long as their archive is still there.
fn write_outputs(root: &Path, out: &Path, assembled: Vec<Assembled>) -> Result<Vec<BuiltImage>> {
    let mut built = Vec::new();
    let mut entries = Vec::new();
    for a in assembled {
        let written = a.image.write(out)?;
        let entry = CatalogEntry::for_image(&a.service.package, &a.image, &written, |path| {
            relative(root, path)
        });
        entries.push(entry.clone());
        built.push(BuiltImage {
            service: a.service.package,
            spec: a.service.spec,
            image: a.image,
            written,
            entry,
            binaries: a.binaries,
        });
    }
    let catalog_path = out.join("manifest.json");
    let mut catalog = ImageCatalog::read(&catalog_path).unwrap_or_default();
    catalog.images.retain(|old| {
        !entries.iter().any(|e| e.service == old.service) && root.join(&old.archive).is_file()
    });
    catalog.images.extend(entries);
    catalog.images.sort_by(|a, b| a.service.cmp(&b.service));
    catalog.write(&catalog_path)?;
    eprintln!("images: wrote {}", relative(root, &catalog_path));
    Ok(built)
}

fn mib(bytes: u64) -> String {
    format!("{:.2} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `cargo xtask bench images`: per image and platform, compressed and uncompressed size and
/// file count; the time of a cold (fresh target dir) and a warm (everything cached) build of
/// all platforms.
pub fn bench(sh: &Shell) -> Result<()> {
    let root = project_root();
    let services = select_services(&root, &[])?;
    let epoch = oci_image::epoch::source_date_epoch(&root)?;
    let base = BaseFiles::from_host()?;
    let dir = root.join(BENCH_DIR);
    sh.remove_path(&dir)?;
    let platforms = PLATFORMS.to_vec();

    let started = Instant::now();
    {
        let _step = Step::new(format!(
            "bench images: cold release build for {} in {BENCH_DIR}",
            platform_list(&platforms)
        ));
        compile(sh, &root, &services, &dir, &platforms)?;
    }
    let cold_compile = started.elapsed();
    let cold = assemble(&services, &dir, &platforms, epoch, &base)?;

    let started = Instant::now();
    {
        let _step = Step::new("bench images: warm release build (nothing changed)");
        compile(sh, &root, &services, &dir, &platforms)?;
    }
    let warm_compile = started.elapsed();
    let warm = assemble(&services, &dir, &platforms, epoch, &base)?;

    let out = dir.join("out");
    println!(
        "{:<10} {:<8} {:>12} {:>12} {:>12} {:>6}  BUDGET",
        "IMAGE", "PLATFORM", "ARCHIVE", "COMPRESSED", "UNCOMPRESSED", "FILES"
    );
    let mut over = Vec::new();
    for c in &cold {
        let written = c.image.write(&out)?;
        for (arch, path, _) in &written.platforms {
            let archive = read_archive(path)?;
            let compressed = archive.compressed_size();
            let verdict = if compressed < SIZE_BUDGET {
                "ok (< 15 MiB)"
            } else {
                over.push(format!("{} {}", c.service.package, arch.oci_name()));
                "OVER 15 MiB"
            };
            println!(
                "{:<10} {:<8} {:>12} {:>12} {:>12} {:>6}  {verdict}",
                c.image.name,
                arch.oci_name(),
                mib(archive.size),
                mib(compressed),
                mib(archive.uncompressed_size()),
                archive.file_count(),
            );
        }
        println!(
            "{:<10} {:<8} {:>12}  (both platforms, shared base layer stored once)",
            c.image.name,
            "index",
            mib(written.index_size)
        );
    }
    let assembly = |all: &[Assembled]| all.iter().map(|a| a.assemble_time).sum::<Duration>();
    println!(
        "builds: one cargo zigbuild for all {} services and {}: cold {:.1}s, warm {:.1}s \
         (plus assembly: cold {:.1}s, warm {:.1}s)",
        services.len(),
        platform_list(&platforms),
        cold_compile.as_secs_f64(),
        warm_compile.as_secs_f64(),
        assembly(&cold).as_secs_f64(),
        assembly(&warm).as_secs_f64()
    );
    // The bench target dir is a full release build (>1 GB) used only for timing.
    sh.remove_path(&dir)?;
    if !over.is_empty() {
        eprintln!("warning: over the 15 MiB budget: {}", over.join(", "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn unknown_services_are_refused() {
        assert!(select_services(&project_root(), &["nope".into()]).is_err());
        let one =
            select_services(&project_root(), &["todo-api".into(), "todo-api".into()]).unwrap();
        assert_eq!(one.len(), 1);
    }

    #[test]
    fn platforms_by_name() {
        assert_eq!(
            parse_platform("linux/arm64").unwrap().target,
            "aarch64-unknown-linux-musl"
        );
        assert_eq!(parse_platform("amd64").unwrap().arch, Architecture::Amd64);
        assert_eq!(parse_platform("aarch64").unwrap().arch, Architecture::Arm64);
        let error = parse_platform("linux/riscv64").unwrap_err().to_string();
        assert!(error.contains("linux/amd64 and linux/arm64"), "{error}");
        assert_eq!(platform_list(&PLATFORMS), "linux/amd64, linux/arm64");
    }

    #[test]
    fn c_objects_are_remapped_like_rust() {
        let maps = c_prefix_maps(Path::new("/src/repo"), Path::new("/src/repo/target/x"));
        assert!(
            maps.starts_with("-ffile-prefix-map=/src/repo=/build "),
            "{maps}"
        );
        assert!(
            maps.ends_with("-ffile-prefix-map=/src/repo/target/x=/build/target"),
            "{maps}"
        );
    }
}
