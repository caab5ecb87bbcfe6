//! `cargo xtask images`: builds the service OCI images natively (no Docker, no Nix).
//!
//! A thin front over `crates/oci-image`: one release build of every service (static, paths
//! remapped), then the crate assembles `target/images/<service>.oci.tar` and
//! `target/images/manifest.json`. Also the image parts of CI ([`ci_checks`]), the image
//! benchmark ([`bench`]) and the Nix file checks ([`nix_checks`]).

mod nixcheck;
mod nixsources;
mod tls;

pub use nixcheck::nix_checks;

use crate::util::{Step, project_root};
use anyhow::{Context, Result, bail, ensure};
use oci_image::runc::{Container, RunSettings, Runc};
use oci_image::scan::Secret;
use oci_image::{
    BaseFiles, CatalogEntry, Image, ImageCatalog, ImageInputs, ServiceImage, build_image,
    read_archive,
};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use xshell::{Shell, cmd};

/// The target triple of the static release builds. Explicit on purpose: with `--target`,
/// RUSTFLAGS (crt-static) apply to the target only and proc macros still link dynamically.
const TARGET: &str = "x86_64-unknown-linux-gnu";
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
}

impl Cmd {
    pub fn run(self, sh: &Shell) -> Result<()> {
        if self.ci {
            nix_checks(sh)?;
            return if self.quick {
                image_checks(sh, false)
            } else {
                ci_checks(sh)
            };
        }
        let built = build_images(
            sh,
            &Options {
                services: self.services,
                check_reproducible: self.check_reproducible,
                out: project_root().join(self.out),
            },
        )?;
        println!(
            "{:<10} {:<27} {:>10}  ARCHIVE",
            "SERVICE", "REFERENCE", "SIZE"
        );
        for b in &built {
            println!(
                "{:<10} {:<27} {:>10}  {}",
                b.service,
                b.image.reference(),
                mib(b.size),
                b.archive_display
            );
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
}

/// An image written to disk.
pub struct BuiltImage {
    pub service: String,
    pub spec: oci_image::ImageSpec,
    pub image: Image,
    pub archive: PathBuf,
    /// `archive` as listed in manifest.json (relative to the repository root when inside it).
    pub archive_display: String,
    pub size: u64,
}

/// An image assembled in memory, with the binary it was made from.
struct Assembled {
    service: ServiceImage,
    binary_path: PathBuf,
    image: Image,
    /// The archive file's bytes (assembled once, written as is).
    archive: Vec<u8>,
    archive_digest: String,
    assemble_time: Duration,
}

/// Builds the images and writes the archives plus manifest.json.
pub fn build_images(sh: &Shell, opts: &Options) -> Result<Vec<BuiltImage>> {
    let root = project_root();
    let services = select_services(&root, &opts.services)?;
    let epoch = oci_image::epoch::source_date_epoch(&root)?;
    let base = BaseFiles::from_host()?;
    eprintln!(
        "images: {} (SOURCE_DATE_EPOCH={epoch}; CA bundle: {})",
        services
            .iter()
            .map(|s| s.package.as_str())
            .collect::<Vec<_>>()
            .join(", "),
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
        let _step = Step::new(format!("images: release build in {BUILD_DIR}"));
        compile(sh, &root, &services, &first_dir)?;
    }
    let first = assemble(&services, &first_dir, epoch, &base)?;

    if opts.check_reproducible {
        let second_dir = root.join(CHECK_DIR);
        sh.remove_path(&second_dir)?;
        {
            let _step = Step::new(format!(
                "images: second release build from scratch in {CHECK_DIR} (slow: a full cold build)"
            ));
            compile(sh, &root, &services, &second_dir)?;
        }
        let second = assemble(&services, &second_dir, epoch, &base)?;
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
        eprintln!("images: both builds are identical ({} images)", first.len());
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
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .context("neither CARGO_HOME nor HOME is set")?;
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

/// One `cargo build --release` for all services into `target_dir`.
fn compile(sh: &Shell, root: &Path, services: &[ServiceImage], target_dir: &Path) -> Result<()> {
    let flags = encoded_rustflags(sh, root, target_dir)?;
    let mut args: Vec<String> = vec![
        "build".into(),
        "--release".into(),
        "--locked".into(),
        "--target".into(),
        TARGET.into(),
    ];
    for s in services {
        args.push("--package".into());
        args.push(s.package.clone());
    }
    cmd!(sh, "cargo {args...}")
        .env("CARGO_TARGET_DIR", target_dir)
        .env("CARGO_ENCODED_RUSTFLAGS", flags)
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

fn binary_path(target_dir: &Path, service: &ServiceImage) -> PathBuf {
    target_dir
        .join(TARGET)
        .join("release")
        .join(&service.spec.binary)
}

/// Assembles every image from the binaries in `target_dir`.
fn assemble(
    services: &[ServiceImage],
    target_dir: &Path,
    epoch: i64,
    base: &BaseFiles,
) -> Result<Vec<Assembled>> {
    let mut out = Vec::new();
    for service in services {
        let started = Instant::now();
        let path = binary_path(target_dir, service);
        let binary = std::fs::read(&path).with_context(|| {
            format!(
                "reading {} (did the release build produce it?)",
                path.display()
            )
        })?;
        let image = build_image(&ImageInputs {
            spec: &service.spec,
            binary: &binary,
            base,
            epoch,
        })
        .with_context(|| format!("assembling the {} image", service.spec.name))?;
        let archive = image.archive_bytes()?;
        let archive_digest = oci_image::digest::sha256_digest(&archive);
        out.push(Assembled {
            service: service.clone(),
            binary_path: path,
            image,
            archive,
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

/// Every difference between two builds, naming the file that differs.
fn compare(root: &Path, first: &[Assembled], second: &[Assembled]) -> Vec<String> {
    let mut diffs = Vec::new();
    for (a, b) in first.iter().zip(second) {
        let name = &a.service.spec.name;
        if a.image.binary_digest != b.image.binary_digest {
            diffs.push(format!(
                "{name}: binary differs: {} ({}) vs {} ({})",
                relative(root, &a.binary_path),
                a.image.binary_digest,
                relative(root, &b.binary_path),
                b.image.binary_digest
            ));
        }
        for (i, (la, lb)) in a.image.layers.iter().zip(&b.image.layers).enumerate() {
            if la.blob.digest != lb.blob.digest {
                diffs.push(format!(
                    "{name}: layer {i} ({}) differs: {} vs {}",
                    la.description, la.blob.digest, lb.blob.digest
                ));
            }
        }
        if a.image.config.digest != b.image.config.digest {
            diffs.push(format!(
                "{name}: config differs: {} vs {}",
                a.image.config.digest, b.image.config.digest
            ));
        }
        if a.image.manifest.digest != b.image.manifest.digest {
            diffs.push(format!(
                "{name}: manifest differs: {} vs {}",
                a.image.manifest.digest, b.image.manifest.digest
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
        let archive = out.join(format!("{}.oci.tar", a.service.package));
        oci_image::image::write_atomically(&archive, &a.archive)?;
        let size = a.archive.len() as u64;
        let archive_display = relative(root, &archive);
        entries.push(CatalogEntry {
            service: a.service.package.clone(),
            name: a.image.name.clone(),
            tag: a.image.tag.clone(),
            reference: a.image.reference(),
            digest: a.image.manifest.digest.clone(),
            archive: archive_display.clone(),
            size,
        });
        built.push(BuiltImage {
            service: a.service.package,
            spec: a.service.spec,
            image: a.image,
            archive,
            archive_display,
            size,
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

/// Random lowercase hex from the kernel's CSPRNG.
fn random_hex(bytes: usize) -> Result<String> {
    use std::io::Read as _;
    let mut buf = vec![0u8; bytes];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .context("reading /dev/urandom")?;
    Ok(oci_image::digest::hex(&buf))
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// Secrets CI hands to the containers, which must therefore appear in no layer.
struct CiSecrets {
    jwt_secret: String,
    db_password: String,
}

impl CiSecrets {
    fn generate() -> Result<CiSecrets> {
        Ok(CiSecrets {
            jwt_secret: random_hex(32)?,
            db_password: random_hex(16)?,
        })
    }

    /// The generated secrets plus any secret-looking variable in CI's own environment.
    fn scan_list(&self, database_url: &str) -> Vec<Secret> {
        let mut list = vec![
            Secret::new("JWT_SECRET", &self.jwt_secret),
            Secret::new("POSTGRES_PASSWORD", &self.db_password),
            Secret::new("DATABASE_URL", database_url),
        ];
        for (name, value) in std::env::vars() {
            let secret_like = [
                "JWT_SECRET",
                "DATABASE_URL",
                "LLM_API_KEY",
                "POSTGRES_PASSWORD",
            ]
            .contains(&name.as_str())
                || ["_SECRET", "_PASSWORD", "_TOKEN", "_API_KEY"]
                    .iter()
                    .any(|s| name.ends_with(s));
            if secret_like && value.len() >= 8 {
                list.push(Secret::new(name, value));
            }
        }
        list
    }
}

/// The image checks of `cargo xtask ci`, in order: reproducible build (twice, compared),
/// `skopeo inspect` of every archive, a scan of every layer for shells, package managers and
/// secrets, then every service run under runc against a throwaway PostgreSQL.
///
/// Needs skopeo, umoci and runc (`.ci/install/20-oci-tools.sh`), PostgreSQL binaries, root.
pub fn ci_checks(sh: &Shell) -> Result<()> {
    image_checks(sh, true)
}

fn image_checks(sh: &Shell, check_reproducible: bool) -> Result<()> {
    for tool in ["skopeo", "umoci", "runc"] {
        oci_image::tools::require(tool)?;
    }
    let root = project_root();
    let built = build_images(
        sh,
        &Options {
            services: Vec::new(),
            check_reproducible,
            out: root.join(OUT_DIR),
        },
    )?;

    {
        let _step = Step::new("images: skopeo inspect");
        for b in &built {
            skopeo_inspect(sh, b)?;
        }
    }
    nix_assembly_agrees(sh, &built)?;

    let secrets = CiSecrets::generate()?;
    let pg = throwaway_postgres::PgServer::start()
        .context("starting a throwaway PostgreSQL for the image run checks")?;
    // The services reach this database over TLS with full verification, as they would
    // reach Neon: proof that the static binaries' TLS stack works inside the image.
    let tls_dir = tempfile::Builder::new()
        .prefix("todo-images-tls-")
        .tempdir()?;
    let tls = tls::TestTls::generate(sh, tls_dir.path())?;
    pg.enable_tls(&tls.server_cert, &tls.server_key)?;
    let database_url = format!(
        "{}?sslmode=verify-full&sslrootcert={CA_IN_CONTAINER}",
        with_password(
            &pg.create_database(CI_DATABASE)?,
            "postgres",
            &secrets.db_password,
        )
    );

    {
        let _step = Step::new("images: scan layers for shells, package managers and secrets");
        let scan_list = secrets.scan_list(&database_url);
        let mut problems = Vec::new();
        for b in &built {
            let archive = read_archive(&b.archive)?;
            for finding in oci_image::scan::scan(&archive, &scan_list) {
                problems.push(format!("{}: {finding}", b.service));
            }
        }
        ensure!(
            problems.is_empty(),
            "forbidden content in images:\n  {}",
            problems.join("\n  ")
        );
    }

    let _step =
        Step::new("images: run every service under runc (read-only, uid 65532, host network)");
    run_services(&built, &secrets, &database_url, &tls, &pg)
}

/// Where the test CA appears inside the containers.
const CA_IN_CONTAINER: &str = "/etc/todo-ci/ca.pem";
/// The database the runc check's services share.
const CI_DATABASE: &str = "todo_images_ci";

/// `skopeo inspect` must accept the archive and report our manifest digest.
/// The Nix path (`oci-image build`, the command nix/images.nix runs) turns the same release
/// binary, CA bundle and epoch into the very same archive as the native path: one image
/// description, one assembler, whichever builder.
fn nix_assembly_agrees(sh: &Shell, built: &[BuiltImage]) -> Result<()> {
    let _step = Step::new("images: `oci-image build` (the Nix path) writes the same archives");
    cmd!(sh, "cargo build -q -p oci-image --bin oci-image").run()?;
    let cli = crate::util::target_dir().join("debug/oci-image");
    let root = project_root();
    let base = BaseFiles::from_host()?;
    let work = tempfile::tempdir()?;
    for b in built {
        let manifest = root.join("crates").join(&b.service).join("Cargo.toml");
        let binary = root
            .join(BUILD_DIR)
            .join(TARGET)
            .join("release")
            .join(&b.spec.binary);
        let out = work.path().join(format!("{}.oci.tar", b.service));
        let epoch = b.image.epoch.to_string();
        let provenance = &base.ca_provenance;
        let mut args = vec![
            "--ca-bundle".to_owned(),
            oci_image::base::HOST_CA_BUNDLE.to_owned(),
        ];
        if base.ca_copyright.is_some() {
            args.extend([
                "--ca-copyright".to_owned(),
                oci_image::base::HOST_CA_COPYRIGHT.to_owned(),
            ]);
        }
        cmd!(
            sh,
            "{cli} build --manifest {manifest} --binary {binary} {args...} --ca-provenance {provenance} --epoch {epoch} --out {out}"
        )
        .quiet()
        .ignore_stdout()
        .run()?;
        let ours = std::fs::read(&b.archive)?;
        let theirs = std::fs::read(&out)?;
        ensure!(
            ours == theirs,
            "{}: `oci-image build` wrote {} ({}), the native builder {} ({}): the two paths disagree",
            b.service,
            oci_image::digest::sha256_digest(&theirs),
            out.display(),
            oci_image::digest::sha256_digest(&ours),
            b.archive.display()
        );
        eprintln!("  {}: identical ({})", b.service, b.image.reference());
    }
    Ok(())
}

fn skopeo_inspect(sh: &Shell, b: &BuiltImage) -> Result<()> {
    let location = format!("oci-archive:{}", b.archive.display());
    let out = cmd!(sh, "skopeo inspect {location}")
        .quiet()
        .read()
        .with_context(|| format!("skopeo inspect rejected {}", b.archive_display))?;
    let inspect: serde_json::Value = serde_json::from_str(&out)?;
    ensure!(
        inspect["Digest"] == b.image.manifest.digest.as_str(),
        "skopeo reports digest {} for {}, the build wrote {}",
        inspect["Digest"],
        b.archive_display,
        b.image.manifest.digest
    );
    ensure!(
        inspect["Architecture"] == "amd64" && inspect["Os"] == "linux",
        "{}: platform {}/{}, expected linux/amd64",
        b.archive_display,
        inspect["Os"],
        inspect["Architecture"]
    );
    eprintln!("  {}: ok ({})", b.archive_display, b.image.manifest.digest);
    Ok(())
}

/// Puts `user:password@` into a `postgres://user@host/...` URL.
fn with_password(url: &str, user: &str, password: &str) -> String {
    url.replacen(&format!("://{user}@"), &format!("://{user}:{password}@"), 1)
}

/// Ports the services listen on in the runc check (host network, so all distinct).
struct Ports {
    mcp: u16,
    api: u16,
    web: u16,
    /// The fake TLS LLM endpoint todo-api's chat engine calls.
    llm: u16,
}

/// Order the stack starts in: mcp (DB), api (DB, mcp), web (api).
const START_ORDER: &[&str] = &["todo-mcp", "todo-api", "todo-web"];

/// The environment each service gets in the runc check (the contract in the helper context).
fn service_env(
    service: &str,
    ports: &Ports,
    secrets: &CiSecrets,
    database_url: &str,
) -> Result<BTreeMap<String, String>> {
    let mut env = BTreeMap::from([("RUST_LOG".to_owned(), "info".to_owned())]);
    let mut set = |k: &str, v: String| {
        env.insert(k.to_owned(), v);
    };
    match service {
        "todo-mcp" => {
            set("PORT", ports.mcp.to_string());
            set("DATABASE_URL", database_url.to_owned());
            set("JWT_SECRET", secrets.jwt_secret.clone());
        }
        "todo-api" => {
            set("PORT", ports.api.to_string());
            set("DATABASE_URL", database_url.to_owned());
            set("JWT_SECRET", secrets.jwt_secret.clone());
            set("MCP_URL", format!("http://127.0.0.1:{}/mcp", ports.mcp));
            // The chat engine calls an OpenAI-compatible endpoint over TLS. Its certificate
            // comes from the test CA, so the CA replaces the image's bundle for this run.
            set(
                "LLM_BASE_URL",
                format!("https://127.0.0.1:{}/v1", ports.llm),
            );
            set("LLM_MODEL", tls::LLM_MODEL.to_owned());
            set("SSL_CERT_FILE", CA_IN_CONTAINER.to_owned());
        }
        "todo-web" => {
            set("PORT", ports.web.to_string());
            set("API_URL", format!("http://127.0.0.1:{}", ports.api));
        }
        other => bail!(
            "no runtime settings for service {other}: add it to service_env in xtask/src/images.rs"
        ),
    }
    Ok(env)
}

fn run_services(
    built: &[BuiltImage],
    secrets: &CiSecrets,
    database_url: &str,
    tls: &tls::TestTls,
    pg: &throwaway_postgres::PgServer,
) -> Result<()> {
    let ca_mount = vec![oci_image::runc::BindMount {
        source: tls.ca_path.clone(),
        destination: CA_IN_CONTAINER.to_owned(),
    }];
    for b in built {
        ensure!(
            START_ORDER.contains(&b.service.as_str()),
            "service {} has no place in the start order in xtask/src/images.rs",
            b.service
        );
    }
    let work = tempfile::Builder::new()
        .prefix("todo-images-runc-")
        .tempdir()?;
    let runc = Runc::new(&work.path().join("runc-state"))?;
    let ports = Ports {
        mcp: free_port()?,
        api: free_port()?,
        web: free_port()?,
        llm: free_port()?,
    };
    let _llm = tls::FakeLlm::start(tls, ports.llm)?;
    let id_suffix = std::process::id();

    // Each image unpacked once: migrate and serve reuse the todo-api bundle.
    let mut bundles = BTreeMap::new();
    for b in built {
        let bundle = oci_image::runc::unpack(&b.archive, &work.path().join(&b.service))?;
        bundles.insert(b.service.clone(), bundle);
    }
    let image = |service: &str| built.iter().find(|b| b.service == service);

    if let Some(api) = image("todo-api") {
        let started = Instant::now();
        let mut settings = run_settings(
            api,
            service_env("todo-api", &ports, secrets, database_url)?,
            ca_mount.clone(),
        );
        settings.args = Some(vec![api.spec.binary_path(), "migrate".into()]);
        oci_image::runc::configure_bundle(&bundles["todo-api"], &settings)?;
        let mut migrate = runc.spawn(
            &format!("todo-ci-migrate-{id_suffix}"),
            &bundles["todo-api"],
            &work.path().join("todo-api-migrate.log"),
        )?;
        let status = migrate.wait(Duration::from_secs(120))?;
        ensure!(
            status.success(),
            "`todo-api migrate` in the image exited with {status}; its output:\n{}",
            migrate.log_tail()
        );
        eprintln!(
            "  todo-api migrate: exit 0 in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }

    let mut running: Vec<(String, u16, Container)> = Vec::new();
    for service in START_ORDER {
        let Some(b) = image(service) else { continue };
        let env = service_env(service, &ports, secrets, database_url)?;
        let port: u16 = env["PORT"].parse()?;
        let settings = run_settings(b, env, ca_mount.clone());
        oci_image::runc::configure_bundle(&bundles[*service], &settings)?;
        let started = Instant::now();
        let mut container = runc.spawn(
            &format!("todo-ci-{service}-{id_suffix}"),
            &bundles[*service],
            &work.path().join(format!("{service}.log")),
        )?;
        for path in ["/livez", "/readyz"] {
            container
                .wait_http_ok(port, path, Duration::from_secs(60))
                .with_context(|| format!("{service} under runc"))?;
        }
        eprintln!(
            "  {service}: /livez and /readyz 200 after {:.1}s (port {port})",
            started.elapsed().as_secs_f64()
        );
        running.push((service.to_string(), port, container));
    }

    tls::require_tls_connections(pg, CI_DATABASE)?;
    if image("todo-api").is_some() {
        tls::chat_over_tls(ports.api)?;
    }

    // Stop in reverse order, each must exit 0 on SIGTERM.
    while let Some((service, _port, mut container)) = running.pop() {
        let started = Instant::now();
        let status = container.terminate(Duration::from_secs(30))?;
        ensure!(
            status.code() == Some(0),
            "{service} did not exit cleanly on SIGTERM ({status}); its output:\n{}",
            container.log_tail()
        );
        eprintln!(
            "  {service}: SIGTERM -> exit 0 in {:.1}s",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// Serve settings: the image's own entrypoint + cmd, as its non-root user.
fn run_settings(
    b: &BuiltImage,
    env: BTreeMap<String, String>,
    mounts: Vec<oci_image::runc::BindMount>,
) -> RunSettings {
    let mut args = b.spec.entrypoint.clone();
    args.extend(b.spec.cmd.iter().cloned());
    RunSettings {
        uid: b.spec.user,
        gid: b.spec.group,
        env,
        args: Some(args),
        mounts,
    }
}

/// `cargo xtask bench images`: per image, compressed and uncompressed size, file count, and
/// the time of a cold (fresh target dir) and a warm (everything cached) build.
pub fn bench(sh: &Shell) -> Result<()> {
    let root = project_root();
    let services = select_services(&root, &[])?;
    let epoch = oci_image::epoch::source_date_epoch(&root)?;
    let base = BaseFiles::from_host()?;
    let dir = root.join(BENCH_DIR);
    sh.remove_path(&dir)?;

    let started = Instant::now();
    {
        let _step = Step::new(format!("bench images: cold release build in {BENCH_DIR}"));
        compile(sh, &root, &services, &dir)?;
    }
    let cold_compile = started.elapsed();
    let cold = assemble(&services, &dir, epoch, &base)?;

    let started = Instant::now();
    {
        let _step = Step::new("bench images: warm release build (nothing changed)");
        compile(sh, &root, &services, &dir)?;
    }
    let warm_compile = started.elapsed();
    let warm = assemble(&services, &dir, epoch, &base)?;

    let out = dir.join("out");
    println!(
        "{:<10} {:>12} {:>12} {:>12} {:>6} {:>11} {:>11}  BUDGET",
        "IMAGE", "ARCHIVE", "COMPRESSED", "UNCOMPRESSED", "FILES", "COLD BUILD", "WARM BUILD"
    );
    let mut over = Vec::new();
    for (c, w) in cold.iter().zip(&warm) {
        let path = out.join(format!("{}.oci.tar", c.service.package));
        oci_image::image::write_atomically(&path, &c.archive)?;
        let archive = read_archive(&path)?;
        let compressed = archive.compressed_size();
        let verdict = if compressed < SIZE_BUDGET {
            "ok (< 15 MiB)"
        } else {
            over.push(c.service.package.clone());
            "OVER 15 MiB"
        };
        println!(
            "{:<10} {:>12} {:>12} {:>12} {:>6} {:>10.1}s {:>10.1}s  {verdict}",
            c.image.name,
            mib(archive.size),
            mib(compressed),
            mib(archive.uncompressed_size()),
            archive.file_count(),
            (cold_compile + c.assemble_time).as_secs_f64(),
            (warm_compile + w.assemble_time).as_secs_f64(),
        );
    }
    println!(
        "builds: one cargo invocation for all {} services: cold {:.1}s, warm {:.1}s; \
         the per-image columns add that image's assembly time",
        services.len(),
        cold_compile.as_secs_f64(),
        warm_compile.as_secs_f64()
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
    fn password_goes_into_the_userinfo() {
        assert_eq!(
            with_password("postgres://postgres@127.0.0.1:5/db", "postgres", "pw"),
            "postgres://postgres:pw@127.0.0.1:5/db"
        );
    }

    #[test]
    fn every_service_has_runtime_settings() {
        let ports = Ports {
            mcp: 1,
            api: 2,
            web: 3,
            llm: 4,
        };
        let secrets = CiSecrets {
            jwt_secret: "j".repeat(64),
            db_password: "p".repeat(32),
        };
        for service in oci_image::discover_services(&project_root()).unwrap() {
            let env = service_env(&service.package, &ports, &secrets, "postgres://x").unwrap();
            assert!(env.contains_key("PORT"), "{}", service.package);
            assert!(
                START_ORDER.contains(&service.package.as_str()),
                "{}",
                service.package
            );
        }
        let api = service_env("todo-api", &ports, &secrets, "postgres://x").unwrap();
        assert_eq!(api["MCP_URL"], "http://127.0.0.1:1/mcp");
        let web = service_env("todo-web", &ports, &secrets, "postgres://x").unwrap();
        assert_eq!(web["API_URL"], "http://127.0.0.1:2");
        assert!(!web.contains_key("JWT_SECRET"));
    }

    #[test]
    fn unknown_services_are_refused() {
        assert!(select_services(&project_root(), &["nope".into()]).is_err());
        let one =
            select_services(&project_root(), &["todo-api".into(), "todo-api".into()]).unwrap();
        assert_eq!(one.len(), 1);
    }
}
