//! The image checks of `cargo xtask ci` (alone: `cargo xtask images --ci`), in order:
//! - a reproducible build of every image for every platform (twice, compared);
//! - `skopeo inspect` of each multi-platform archive (the index lists both platforms, and
//!   `--override-arch` resolves each) and of each single-platform archive;
//! - the Nix path's assembler (`oci-image build`) writes the same archives from the same
//!   binaries;
//! - a scan of every layer of every platform for shells, package managers and secrets;
//! - the stack run three ways against a throwaway PostgreSQL reached over TLS: the host's
//!   platform under runc (read-only, uid 65532), the other platform's binaries under
//!   qemu-user, and the host's platform under a real Docker engine (`docker load`, `docker
//!   run --read-only`, the image's own Healthcheck). Each: `todo-api migrate` exits 0, every
//!   service answers /livez and /readyz, and exits 0 on SIGTERM.
//!
//! Needs skopeo, umoci, runc (`.ci/install/20-oci-tools.sh`), cargo-zigbuild and
//! qemu-user-static (`25-cross.sh`), docker.io (`50-docker.sh`), PostgreSQL binaries, root.

use super::docker::Daemon;
use super::{BuiltImage, Options, PLATFORMS, build_images, host_platform, tls};
use crate::util::{Step, project_root};
use anyhow::{Context, Result, bail, ensure};
use oci_image::elf::Architecture;
use oci_image::runc::{Container, RunSettings, Runc, Stopper};
use oci_image::scan::Secret;
use oci_image::{BaseFiles, read_archive, read_index_archive};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use xshell::{Shell, cmd};

/// Where the test CA appears inside the containers.
const CA_IN_CONTAINER: &str = "/etc/todo-ci/ca.pem";
/// The database the run checks' services share.
const CI_DATABASE: &str = "todo_images_ci";

/// Every image check, with two builds compared (what CI runs).
pub fn ci_checks(sh: &Shell) -> Result<()> {
    image_checks(sh, true)
}

pub fn image_checks(sh: &Shell, check_reproducible: bool) -> Result<()> {
    for tool in ["skopeo", "umoci", "runc"] {
        oci_image::tools::require(tool)?;
    }
    let host = host_platform().context("this machine's CPU is neither x86-64 nor AArch64")?;
    let root = project_root();
    let built = build_images(
        sh,
        &Options {
            services: Vec::new(),
            check_reproducible,
            out: root.join(super::OUT_DIR),
            platforms: PLATFORMS.to_vec(),
        },
    )?;

    {
        let _step = Step::new("images: skopeo inspect (index and each platform)");
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
        let _step = Step::new(
            "images: scan the layers of every platform for shells, package managers and secrets",
        );
        let scan_list = secrets.scan_list(&database_url);
        let mut problems = Vec::new();
        let mut scanned = 0;
        for b in &built {
            for (arch, path, _) in &b.written.platforms {
                let archive = read_archive(path)?;
                scanned += 1;
                for finding in oci_image::scan::scan(&archive, &scan_list) {
                    problems.push(format!("{} ({}): {finding}", b.service, arch.oci_name()));
                }
            }
        }
        ensure!(
            problems.is_empty(),
            "forbidden content in images:\n  {}",
            problems.join("\n  ")
        );
        eprintln!("  {scanned} images scanned: clean");
    }

    let work = tempfile::Builder::new()
        .prefix("todo-images-run-")
        .tempdir()?;
    let check = RunCheck {
        built: &built,
        secrets: &secrets,
        database_url: &database_url,
        tls: &tls,
        pg: &pg,
    };
    {
        let _step = Step::new(format!(
            "images: run every service for linux/{} under runc (read-only, uid 65532, host network)",
            host.arch.oci_name()
        ));
        let launcher = Launcher::runc(&built, host.arch, &work.path().join("runc"), &tls)?;
        check.run(&launcher)?;
    }
    for other in PLATFORMS.iter().filter(|p| p.arch != host.arch) {
        let _step = Step::new(format!(
            "images: run every service's linux/{} binary from its image under qemu-user",
            other.arch.oci_name()
        ));
        let launcher = Launcher::qemu(&built, other.arch, &work.path().join("qemu"), &tls)?;
        check.run(&launcher)?;
    }
    {
        let _step = Step::new(format!(
            "images: docker load + docker run --read-only of linux/{} (Docker engine, Healthcheck)",
            host.arch.oci_name()
        ));
        let daemon = Daemon::start(&work.path().join("docker"))?;
        let launcher = Launcher::docker(&built, host.arch, &daemon, &tls)?;
        check.run(&launcher)?;
    }
    Ok(())
}

/// `skopeo inspect --raw` of the multi-platform archive shows an index of every platform
/// built; `--override-arch` resolves each platform's manifest; each single-platform archive
/// reports its own digest and platform.
fn skopeo_inspect(sh: &Shell, b: &BuiltImage) -> Result<()> {
    let location = format!("oci-archive:{}", b.written.index_archive.display());
    let raw = cmd!(sh, "skopeo inspect --raw {location}")
        .quiet()
        .read()
        .with_context(|| format!("skopeo inspect --raw rejected {}", b.entry.archive))?;
    let index: serde_json::Value = serde_json::from_str(&raw)?;
    ensure!(
        index["mediaType"] == "application/vnd.oci.image.index.v1+json",
        "{}: skopeo sees a {} at the top, not an image index",
        b.entry.archive,
        index["mediaType"]
    );
    let listed: Vec<String> = index["manifests"]
        .as_array()
        .map(|all| {
            all.iter()
                .map(|m| format!("{}/{}", m["platform"]["os"], m["platform"]["architecture"]))
                .collect()
        })
        .unwrap_or_default();
    let expected: Vec<String> = b
        .written
        .platforms
        .iter()
        .map(|(arch, _, _)| format!("\"linux\"/\"{}\"", arch.oci_name()))
        .collect();
    ensure!(
        listed == expected,
        "{}: the index lists {listed:?}, expected {expected:?}",
        b.entry.archive
    );
    for (platform_arch, path, _) in &b.written.platforms {
        let arch = platform_arch.oci_name();
        let resolved = cmd!(
            sh,
            "skopeo --override-os linux --override-arch {arch} inspect {location}"
        )
        .quiet()
        .read()
        .with_context(|| format!("skopeo --override-arch {arch} rejected {}", b.entry.archive))?;
        let resolved: serde_json::Value = serde_json::from_str(&resolved)?;
        let image = b
            .image
            .platform(*platform_arch)
            .with_context(|| format!("{} has no {arch} image", b.service))?;
        let layers: Vec<&str> = image
            .layers
            .iter()
            .map(|l| l.blob.digest.as_str())
            .collect();
        // skopeo names the index by its digest and shows the platform it resolved.
        ensure!(
            resolved["Digest"] == b.image.index.digest.as_str()
                && resolved["Architecture"] == arch
                && resolved["Layers"] == serde_json::json!(layers),
            "{}: --override-arch {arch} resolved {} with layers {} ({}), expected the {arch} image's layers {layers:?}",
            b.entry.archive,
            resolved["Digest"],
            resolved["Layers"],
            resolved["Architecture"]
        );
        let want = &image.manifest.digest;
        let single = format!("oci-archive:{}", path.display());
        let out = cmd!(sh, "skopeo inspect {single}")
            .quiet()
            .read()
            .with_context(|| format!("skopeo inspect rejected {}", path.display()))?;
        let single: serde_json::Value = serde_json::from_str(&out)?;
        ensure!(
            single["Digest"] == want.as_str()
                && single["Architecture"] == arch
                && single["Os"] == "linux",
            "{}: skopeo reports {} for linux/{arch}, expected {want}",
            path.display(),
            single["Digest"]
        );
    }
    // Our own reader agrees with skopeo.
    let ours = read_index_archive(&b.written.index_archive)?;
    ensure!(
        ours.index_digest == b.image.index.digest,
        "{}: index digest {} differs from the build's {}",
        b.entry.archive,
        ours.index_digest,
        b.image.index.digest
    );
    eprintln!(
        "  {}: index of {} ({})",
        b.entry.archive,
        expected.join(", ").replace('"', ""),
        b.image.index.digest
    );
    Ok(())
}

/// The Nix path (`oci-image build`, the command nix/images.nix runs) turns the same release
/// binaries, CA bundle and epoch into the very same archives as the native path: one image
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
        let out = work.path().join(&b.service);
        let epoch = b.image.epoch.to_string();
        let provenance = &base.ca_provenance;
        let mut args: Vec<String> = Vec::new();
        for (_, binary) in &b.binaries {
            args.extend(["--binary".to_owned(), binary.display().to_string()]);
        }
        args.extend([
            "--ca-bundle".to_owned(),
            oci_image::base::HOST_CA_BUNDLE.to_owned(),
        ]);
        if base.ca_copyright.is_some() {
            args.extend([
                "--ca-copyright".to_owned(),
                oci_image::base::HOST_CA_COPYRIGHT.to_owned(),
            ]);
        }
        cmd!(
            sh,
            "{cli} build --manifest {manifest} {args...} --ca-provenance {provenance} --epoch {epoch} --out-dir {out}"
        )
        .quiet()
        .ignore_stdout()
        .run()?;
        let mut ours = vec![b.written.index_archive.clone()];
        ours.extend(b.written.platforms.iter().map(|(_, p, _)| p.clone()));
        for path in ours {
            let name = path.file_name().context("archive without a name")?;
            let theirs = out.join(name);
            let (a, t) = (std::fs::read(&path)?, std::fs::read(&theirs)?);
            ensure!(
                a == t,
                "{}: `oci-image build` wrote {} ({}), the native builder {} ({}): the two paths disagree",
                b.service,
                oci_image::digest::sha256_digest(&t),
                theirs.display(),
                oci_image::digest::sha256_digest(&a),
                path.display()
            );
        }
        eprintln!(
            "  {}: identical ({}, {} archives)",
            b.service,
            b.image.reference(),
            1 + b.written.platforms.len()
        );
    }
    Ok(())
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

/// How the run check starts a service of one platform.
enum Launcher<'a> {
    /// `runc run` of the unpacked image (the host's platform).
    Runc {
        runc: Runc,
        bundles: BTreeMap<String, PathBuf>,
        ca: PathBuf,
    },
    /// The image's binary under qemu-user with the unpacked root filesystem as its prefix
    /// (qemu looks absolute paths up there first: /etc/ssl, /etc/passwd, the CA).
    Qemu {
        qemu: PathBuf,
        rootfs: BTreeMap<String, PathBuf>,
    },
    /// `docker run` of the image `docker load` took.
    Docker {
        daemon: &'a Daemon,
        references: BTreeMap<String, String>,
        ca: PathBuf,
    },
}

/// qemu-user's name for an architecture's emulator.
fn qemu_for(arch: Architecture) -> &'static str {
    match arch {
        Architecture::Amd64 => "qemu-x86_64-static",
        Architecture::Arm64 => "qemu-aarch64-static",
    }
}

fn platform_archive(b: &BuiltImage, arch: Architecture) -> Result<&Path> {
    b.platform_archive(arch)
        .with_context(|| format!("{} was not built for {}", b.service, arch.oci_name()))
}

/// Every service's `arch` image unpacked into `work/<service>` (umoci), by service.
fn unpack_all(
    built: &[BuiltImage],
    arch: Architecture,
    work: &Path,
) -> Result<BTreeMap<String, PathBuf>> {
    built
        .iter()
        .map(|b| {
            let bundle =
                oci_image::runc::unpack(platform_archive(b, arch)?, &work.join(&b.service))?;
            Ok((b.service.clone(), bundle))
        })
        .collect()
}

impl<'a> Launcher<'a> {
    fn runc(
        built: &[BuiltImage],
        arch: Architecture,
        work: &Path,
        tls: &tls::TestTls,
    ) -> Result<Launcher<'a>> {
        let runc = Runc::new(&work.join("runc-state"))?;
        Ok(Launcher::Runc {
            runc,
            bundles: unpack_all(built, arch, work)?,
            ca: tls.ca_path.clone(),
        })
    }

    fn qemu(
        built: &[BuiltImage],
        arch: Architecture,
        work: &Path,
        tls: &tls::TestTls,
    ) -> Result<Launcher<'a>> {
        let qemu = oci_image::tools::find(qemu_for(arch)).with_context(|| {
            format!(
                "{} not found: run `bash .ci/install/25-cross.sh` (apt-get install qemu-user-static)",
                qemu_for(arch)
            )
        })?;
        let mut rootfs = BTreeMap::new();
        for (service, bundle) in unpack_all(built, arch, work)? {
            let root = bundle.join("rootfs");
            // Where the containers find the test CA (a bind mount under runc and Docker).
            let ca = root.join(CA_IN_CONTAINER.trim_start_matches('/'));
            if let Some(dir) = ca.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::copy(&tls.ca_path, &ca)?;
            // The binary runs as the image's user, which must reach it: the temp dirs and
            // umoci's bundle are 0700.
            let top = work.parent().unwrap_or(work);
            let mut dir = root.clone();
            loop {
                use std::os::unix::fs::PermissionsExt as _;
                std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))?;
                if dir == top || !dir.pop() {
                    break;
                }
            }
            rootfs.insert(service, root);
        }
        Ok(Launcher::Qemu { qemu, rootfs })
    }

    fn docker(
        built: &[BuiltImage],
        arch: Architecture,
        daemon: &'a Daemon,
        tls: &tls::TestTls,
    ) -> Result<Launcher<'a>> {
        let mut references = BTreeMap::new();
        for b in built {
            let loaded = daemon.load(platform_archive(b, arch)?)?;
            ensure!(
                loaded == b.image.reference(),
                "docker load named the image {loaded}, expected {}",
                b.image.reference()
            );
            references.insert(b.service.clone(), loaded);
        }
        Ok(Launcher::Docker {
            daemon,
            references,
            ca: tls.ca_path.clone(),
        })
    }

    /// Starts `b` with the image's entrypoint and `cmd` (the image's own cmd when None).
    fn launch(
        &self,
        b: &BuiltImage,
        id: &str,
        cmd: Option<Vec<String>>,
        env: BTreeMap<String, String>,
        log: &Path,
    ) -> Result<Container> {
        let mut args = b.spec.entrypoint.clone();
        args.extend(cmd.clone().unwrap_or_else(|| b.spec.cmd.clone()));
        match self {
            Launcher::Runc { runc, bundles, ca } => {
                let settings = RunSettings {
                    uid: b.spec.user,
                    gid: b.spec.group,
                    env,
                    args: Some(args),
                    mounts: vec![oci_image::runc::BindMount {
                        source: ca.clone(),
                        destination: CA_IN_CONTAINER.to_owned(),
                    }],
                };
                let bundle = &bundles[&b.service];
                oci_image::runc::configure_bundle(bundle, &settings)?;
                runc.spawn(id, bundle, log)
            }
            Launcher::Qemu { qemu, rootfs } => {
                let root = &rootfs[&b.service];
                let mut command = if is_root() {
                    // As the image's user, as in the pod.
                    let mut c = Command::new("setpriv");
                    c.arg(format!("--reuid={}", b.spec.user))
                        .arg(format!("--regid={}", b.spec.group))
                        .arg("--clear-groups")
                        .arg(qemu);
                    c
                } else {
                    Command::new(qemu)
                };
                let program = root.join(args[0].trim_start_matches('/'));
                command
                    .arg("-L")
                    .arg(root)
                    .arg(program)
                    .args(&args[1..])
                    .current_dir(root)
                    .env_clear()
                    .envs(&env);
                Container::spawn(id, command, log, Stopper::Process)
            }
            Launcher::Docker {
                daemon,
                references,
                ca,
            } => {
                let mut command = daemon.command();
                command.args([
                    "run",
                    "--rm",
                    "--name",
                    id,
                    "--network",
                    "host",
                    "--read-only",
                ]);
                command.args(["--tmpfs", "/tmp", "--health-interval", "1s"]);
                command
                    .arg("--volume")
                    .arg(format!("{}:{CA_IN_CONTAINER}:ro", ca.display()));
                for (k, v) in &env {
                    command.arg("--env").arg(format!("{k}={v}"));
                }
                command.arg(&references[&b.service]);
                if let Some(cmd) = cmd {
                    command.args(cmd);
                }
                Container::spawn(id, command, log, daemon.stopper())
            }
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Launcher::Runc { .. } => "runc",
            Launcher::Qemu { .. } => "qemu",
            Launcher::Docker { .. } => "docker",
        }
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// What every run check shares.
struct RunCheck<'a> {
    built: &'a [BuiltImage],
    secrets: &'a CiSecrets,
    database_url: &'a str,
    tls: &'a tls::TestTls,
    pg: &'a throwaway_postgres::PgServer,
}

impl RunCheck<'_> {
    /// `todo-api migrate`, then every service up in order (and healthy, under Docker), the
    /// database connections all TLS, a chat turn through the TLS LLM endpoint, then SIGTERM
    /// in reverse order with exit 0 each.
    fn run(&self, launcher: &Launcher<'_>) -> Result<()> {
        for b in self.built {
            ensure!(
                START_ORDER.contains(&b.service.as_str()),
                "service {} has no place in the start order in xtask/src/images/checks.rs",
                b.service
            );
        }
        let work = tempfile::Builder::new()
            .prefix("todo-images-logs-")
            .tempdir()?;
        let ports = Ports {
            mcp: free_port()?,
            api: free_port()?,
            web: free_port()?,
            llm: free_port()?,
        };
        let _llm = tls::FakeLlm::start(self.tls, ports.llm)?;
        let kind = launcher.name();
        let id_suffix = std::process::id();
        let image = |service: &str| self.built.iter().find(|b| b.service == service);

        if let Some(api) = image("todo-api") {
            let started = Instant::now();
            let env = service_env("todo-api", &ports, self.secrets, self.database_url)?;
            let mut migrate = launcher.launch(
                api,
                &format!("todo-ci-{kind}-migrate-{id_suffix}"),
                Some(vec!["migrate".into()]),
                env,
                &work.path().join("todo-api-migrate.log"),
            )?;
            let status = migrate.wait(Duration::from_secs(180))?;
            ensure!(
                status.success(),
                "`todo-api migrate` ({kind}) exited with {status}; its output:\n{}",
                migrate.log_tail()
            );
            eprintln!(
                "  todo-api migrate: exit 0 in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }

        let mut running: Vec<(String, Container)> = Vec::new();
        for service in START_ORDER {
            let Some(b) = image(service) else { continue };
            let env = service_env(service, &ports, self.secrets, self.database_url)?;
            let port: u16 = env["PORT"].parse()?;
            let started = Instant::now();
            let mut container = launcher.launch(
                b,
                &format!("todo-ci-{kind}-{service}-{id_suffix}"),
                None,
                env,
                &work.path().join(format!("{service}.log")),
            )?;
            for path in ["/livez", "/readyz"] {
                container
                    .wait_http_ok(port, path, Duration::from_secs(90))
                    .with_context(|| format!("{service} under {kind}"))?;
            }
            let mut note = String::new();
            if let Launcher::Docker { daemon, .. } = launcher {
                let health = daemon.wait_healthy(container.id(), Duration::from_secs(60))?;
                note = format!(", Healthcheck {health}");
            }
            eprintln!(
                "  {service}: /livez and /readyz 200 after {:.1}s (port {port}{note})",
                started.elapsed().as_secs_f64()
            );
            running.push((service.to_string(), container));
        }

        tls::require_tls_connections(self.pg, CI_DATABASE)?;
        if image("todo-api").is_some() {
            tls::chat_over_tls(ports.api)?;
        }

        // Stop in reverse order, each must exit 0 on SIGTERM.
        while let Some((service, mut container)) = running.pop() {
            let started = Instant::now();
            let status = container.terminate(Duration::from_secs(30))?;
            ensure!(
                status.code() == Some(0),
                "{service} ({kind}) did not exit cleanly on SIGTERM ({status}); its output:\n{}",
                container.log_tail()
            );
            eprintln!(
                "  {service}: SIGTERM -> exit 0 in {:.1}s",
                started.elapsed().as_secs_f64()
            );
        }
        Ok(())
    }
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
    fn every_platform_has_an_emulator() {
        assert_eq!(qemu_for(Architecture::Arm64), "qemu-aarch64-static");
        assert_eq!(qemu_for(Architecture::Amd64), "qemu-x86_64-static");
    }
}
