//! `cargo xtask deploy`: from options and discovered facts to the ordered plan.
//!
//! 1 preflight, 2 cluster (minikube start/reuse + addons, or the current context),
//! 3 images (build, load or push, verify), 4 secrets (LLM key from the environment),
//! 5 `helm upgrade --install`, 6 watch the rollout with kube-rs, 7 print the address, smoke.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::facts::{
    ImageEntry, ImageManifest, ProfileState, normalize_reference, parse_enabled_addons,
    parse_image_list, probe_output, profile_state,
};
use crate::plan::{
    AccessSpec, Action, Command, Expect, Phase, Plan, Step, WaitSpec, format_duration,
};
use crate::preflight::{Preflight, Tool, ToolCheck, ToolState};

/// The Secret `deploy` creates from `LLM_API_KEY`, and its key.
pub const LLM_SECRET_NAME: &str = "todo-llm-api-key";
pub const LLM_SECRET_KEY: &str = "api-key";
pub const LLM_API_KEY_ENV: &str = "LLM_API_KEY";
/// The services whose images the chart runs, and the chart's values key for each.
pub const SERVICES: &[(&str, &str)] = &[
    ("todo-api", "api"),
    ("todo-mcp", "mcp"),
    ("todo-web", "web"),
];
pub const MINIKUBE_IP_CAPTURE: &str = "minikube ip";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClusterTarget {
    /// A minikube profile, started or reused.
    Minikube,
    /// Whatever the current kubeconfig context points at; images go through `--registry`.
    Current,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValuesChoice {
    Dev,
    Prod,
    File(PathBuf),
}

impl ValuesChoice {
    /// `dev`, `prod` or a path.
    pub fn parse(text: &str) -> ValuesChoice {
        match text {
            "dev" => ValuesChoice::Dev,
            "prod" => ValuesChoice::Prod,
            path => ValuesChoice::File(PathBuf::from(path)),
        }
    }

    /// The `-f` argument, relative to the project root for the chart's own files.
    pub fn file(&self, chart: &str) -> String {
        match self {
            ValuesChoice::Dev => format!("{chart}/values-dev.yaml"),
            ValuesChoice::Prod => format!("{chart}/values-prod.yaml"),
            ValuesChoice::File(path) => path.display().to_string(),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImagesMode {
    /// Nix when it is installed, otherwise native.
    Auto,
    Nix,
    Native,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployOptions {
    pub cluster: ClusterTarget,
    pub profile: String,
    pub values: ValuesChoice,
    pub images: ImagesMode,
    pub registry: Option<String>,
    /// User `--set k=v`, appended after ours so they win.
    pub sets: Vec<String>,
    pub smoke: bool,
    pub cpus: u32,
    pub memory_mb: u32,
    pub release: String,
    pub namespace: String,
    /// The chart directory, relative to the project root.
    pub chart: String,
    pub timeout: Duration,
    /// `--platform linux/ARCH`: load that platform's images whatever the nodes are.
    pub platform: Option<String>,
    /// `--with-kagent`: also install kagent's charts (see [`crate::kagent`]).
    pub kagent: Option<crate::kagent::KagentOptions>,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            cluster: ClusterTarget::Minikube,
            profile: "todo-chatbot".to_string(),
            values: ValuesChoice::Dev,
            images: ImagesMode::Auto,
            registry: None,
            sets: Vec::new(),
            smoke: true,
            cpus: 2,
            memory_mb: 4096,
            release: "todo".to_string(),
            namespace: "todo".to_string(),
            chart: "helm/todo".to_string(),
            timeout: Duration::from_secs(600),
            platform: None,
            kagent: None,
        }
    }
}

impl DeployOptions {
    /// Option combinations that cannot work, caught before anything runs.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.cluster == ClusterTarget::Current && self.registry.is_none() {
            anyhow::bail!(
                "--cluster current needs --registry HOST[:PORT]: images are pushed there for the cluster to pull \
                 (only minikube can load local images); e.g. `cargo xtask deploy --cluster current --registry \
                 registry.example.com/todo`"
            );
        }
        if let Some(bad) = self
            .sets
            .iter()
            .find(|set| !set.contains('=') || set.starts_with('='))
        {
            anyhow::bail!("--set {bad}: expected KEY=VALUE, e.g. --set api.replicaCount=2");
        }
        if let Some(registry) = &self.registry {
            anyhow::ensure!(
                !registry.contains("://") && !registry.is_empty(),
                "--registry {registry}: give HOST[:PORT][/PATH] without a scheme, e.g. localhost:5000"
            );
        }
        anyhow::ensure!(
            self.cpus >= 2,
            "--cpus {}: minikube needs at least 2",
            self.cpus
        );
        if let Some(platform) = &self.platform {
            normalize_platform(platform)?;
        }
        anyhow::ensure!(
            self.memory_mb >= 1800,
            "--memory {}: minikube needs at least 1800 MB",
            self.memory_mb
        );
        Ok(())
    }

    /// The kubeconfig context the plan targets: the profile on minikube, else the current one.
    pub fn context(&self) -> Option<&str> {
        match self.cluster {
            ClusterTarget::Minikube => Some(&self.profile),
            ClusterTarget::Current => None,
        }
    }

    /// The chart's fullname for this release (Helm's `todo.fullname` rule).
    pub fn fullname(&self) -> String {
        if self.release.contains("todo") {
            self.release.clone()
        } else {
            format!("{}-todo", self.release)
        }
    }

    fn uses_nix(&self, preflight: &Preflight) -> bool {
        self.images_choice(preflight).0
    }

    /// Which image builder the plan uses and why, on this machine's OS.
    pub fn images_choice(&self, preflight: &Preflight) -> (bool, String) {
        images_choice(self.images, preflight.tool(Tool::Nix), std::env::consts::OS)
    }

    /// Where the build leaves its manifest, and the base of the archive paths in it.
    pub fn manifest_location(&self, preflight: &Preflight) -> (&'static str, &'static str) {
        if self.uses_nix(preflight) {
            ("result/manifest.json", "result")
        } else {
            ("target/images/manifest.json", "")
        }
    }

    fn tools(&self) -> (Vec<Tool>, Vec<Tool>) {
        let mut required = vec![Tool::Helm, Tool::Kubectl];
        if self.cluster == ClusterTarget::Minikube {
            required.insert(0, Tool::Minikube);
        }
        if self.registry.is_some() {
            required.push(Tool::Skopeo);
        }
        let mut optional = Vec::new();
        match self.images {
            ImagesMode::Nix => required.push(Tool::Nix),
            ImagesMode::Auto => optional.push(Tool::Nix),
            ImagesMode::Native => {}
        }
        (required, optional)
    }
}

/// Whether `--images MODE` builds with Nix, and the reason shown in the plan. `auto` picks
/// Nix only where it can build this flake's images: on Linux (the flake builds images for
/// Linux systems; macOS needs a Linux builder, which `--images nix` assumes) with a Nix at
/// least as new as the pinned crane requires. The plan passes `--extra-experimental-features
/// 'nix-command flakes'` itself, so a stock Nix without flakes enabled works too.
pub fn images_choice(mode: ImagesMode, nix: Option<&ToolCheck>, os: &str) -> (bool, String) {
    let native = "native builder (`cargo xtask images`)";
    match mode {
        ImagesMode::Nix => (true, "images: Nix (--images nix)".into()),
        ImagesMode::Native => (false, format!("images: {native} (--images native)")),
        ImagesMode::Auto if os != "linux" => (
            false,
            format!(
                "images: {native}: on {os} the flake builds images only through a Linux builder; \
                 pass --images nix if you have one configured"
            ),
        ),
        ImagesMode::Auto => {
            let minimum = Tool::Nix.minimum();
            match nix.map(|check| &check.state) {
                Some(ToolState::Ok { version, .. }) => (
                    true,
                    format!(
                        "images: Nix (nix {version} >= {minimum}; `--images native` builds without it)"
                    ),
                ),
                Some(ToolState::TooOld { version, .. }) => (
                    false,
                    format!(
                        "images: {native}: nix {version} is older than {minimum}, the oldest the pinned crane \
                         supports; upgrade Nix to build with it"
                    ),
                ),
                Some(ToolState::Unusable { detail, .. }) => (
                    false,
                    format!("images: {native}: nix does not report its version ({detail})"),
                ),
                Some(ToolState::Missing) | None => {
                    (false, format!("images: {native}: Nix not found"))
                }
            }
        }
    }
}

/// Which images the target already has.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum PresentImages {
    /// Not known (cluster not running yet, or nothing built): load everything.
    #[default]
    Unknown,
    /// Normalized references the cluster or registry has.
    Known(BTreeSet<String>),
}

/// Everything the deploy plan depends on besides the options.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeployFacts {
    pub preflight: Preflight,
    pub profile: ProfileState,
    /// Enabled minikube addons, when the profile is running.
    pub addons: Option<BTreeSet<String>>,
    pub current_context: Option<String>,
    /// The last build's manifest; `None` before the first build.
    pub manifest: Option<ImageManifest>,
    pub present: PresentImages,
    /// Whether `LLM_API_KEY` is set (its value is never part of the facts).
    pub llm_api_key_set: bool,
    /// The CPU architectures of the cluster's nodes (`amd64`, `arm64`); empty when the cluster
    /// could not be asked (not started yet).
    pub node_architectures: BTreeSet<String>,
    /// This machine's CPU as an image platform (`amd64`, `arm64`): what a new minikube runs.
    pub host_architecture: String,
    /// This machine's OS (`std::env::consts::OS`: linux, macos, windows).
    pub host_os: String,
    /// The minikube profile's driver: the existing profile's (`minikube profile list`), else
    /// the one preflight picked for a new profile; `None` when unknown.
    pub minikube_driver: Option<String>,
}

/// `linux/arm64`, `arm64`, `aarch64` -> `arm64` (likewise amd64); anything else is refused.
pub fn normalize_platform(platform: &str) -> anyhow::Result<&'static str> {
    let arch = platform
        .trim()
        .strip_prefix("linux/")
        .unwrap_or(platform.trim());
    match arch {
        "amd64" | "x86_64" => Ok("amd64"),
        "arm64" | "aarch64" => Ok("arm64"),
        _ => anyhow::bail!(
            "--platform {platform}: the images are built for linux/amd64 and linux/arm64"
        ),
    }
}

/// Which platform's images go onto the cluster's nodes, and why (the plan shows it). Asked
/// from the cluster when it runs; a minikube that is not up yet will run the host's CPU.
pub fn load_platform(options: &DeployOptions, facts: &DeployFacts) -> (String, String) {
    if let Some(arch) = options
        .platform
        .as_deref()
        .and_then(|p| normalize_platform(p).ok())
    {
        return (arch.to_owned(), format!("--platform linux/{arch}"));
    }
    let nodes: Vec<&str> = facts
        .node_architectures
        .iter()
        .map(String::as_str)
        .collect();
    let host = facts.host_architecture.as_str();
    match nodes.as_slice() {
        [one] => (
            one.to_string(),
            format!("the cluster's nodes are linux/{one}"),
        ),
        [first, ..] => (
            first.to_string(),
            format!(
                "the cluster's nodes are {}: loading linux/{first} (pass --platform to choose)",
                nodes
                    .iter()
                    .map(|n| format!("linux/{n}"))
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
        ),
        [] => (
            host.to_owned(),
            format!(
                "the cluster is not up to ask yet; minikube runs this machine's CPU, linux/{host}"
            ),
        ),
    }
}

fn registry_is_local(registry: &str) -> bool {
    let host = registry.split('/').next().unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    matches!(host, "localhost" | "127.0.0.1" | "[::1]")
}

/// The image references the plan deploys (placeholders before the first build): the
/// services' images. (Nix's manifest also lists a PostgreSQL image, which the chart does not
/// use: it runs the official multi-platform `postgres` image.)
fn images(options: &DeployOptions, facts: &DeployFacts) -> Vec<ImageEntry> {
    match &facts.manifest {
        Some(manifest) => manifest
            .images
            .iter()
            .filter(|image| {
                SERVICES
                    .iter()
                    .any(|(service, _)| *service == image.service)
            })
            .cloned()
            .collect(),
        None => {
            let (_, base) = options.manifest_location(&facts.preflight);
            SERVICES
                .iter()
                .map(|(service, _)| {
                    let path = |file: String| {
                        if base.is_empty() {
                            format!("target/images/{file}")
                        } else {
                            format!("{base}/{file}")
                        }
                    };
                    ImageEntry {
                        service: service.to_string(),
                        name: service.to_string(),
                        tag: "<tag>".to_string(),
                        reference: format!("{service}:<tag>"),
                        digest: String::new(),
                        archive: path(format!("{service}.oci.tar")),
                        size: 0,
                        platforms: ["amd64", "arm64"]
                            .iter()
                            .map(|arch| crate::facts::PlatformArchive {
                                architecture: arch.to_string(),
                                archive: path(format!("{service}-{arch}.oci.tar")),
                                digest: String::new(),
                            })
                            .collect(),
                    }
                })
                .collect()
        }
    }
}

/// The chart's values key for a service (`todo-api` -> `api`).
pub fn chart_key(service: &str) -> &str {
    SERVICES
        .iter()
        .find(|(s, _)| *s == service)
        .map_or(service.strip_prefix("todo-").unwrap_or(service), |(_, k)| k)
}

fn pushed_reference(registry: &str, image: &ImageEntry) -> String {
    format!(
        "{}/{}:{}",
        registry.trim_end_matches('/'),
        image.name,
        image.tag
    )
}

pub(crate) fn kubectl(context: Option<&str>) -> Command {
    let command = Command::new("kubectl", Vec::<String>::new());
    match context {
        Some(context) => command.args(["--context", context]),
        None => command,
    }
}

pub(crate) fn helm(context: Option<&str>) -> Command {
    let command = Command::new("helm", Vec::<String>::new());
    match context {
        Some(context) => command.args(["--kube-context", context]),
        None => command,
    }
}

/// The deploy plan for these options and facts. Pure: the tests feed it fixture facts.
pub fn deploy_plan(options: &DeployOptions, facts: &DeployFacts) -> Plan {
    let mut steps = Vec::new();
    let context = options.context();
    let profile = options.profile.as_str();
    let namespace = options.namespace.as_str();

    // 1. Preflight.
    let (required, _) = options.tools();
    let mut checked: Vec<String> = required
        .iter()
        .map(|tool| format!("{} >= {}", tool.program(), tool.minimum()))
        .collect();
    if options.cluster == ClusterTarget::Minikube
        && !matches!(facts.profile, ProfileState::Running | ProfileState::Stopped)
    {
        checked.push("a minikube driver (docker, podman or kvm2)".to_string());
    }
    let mut problems = facts.preflight.problems();
    if options.cluster == ClusterTarget::Current
        && facts.preflight.has(Tool::Kubectl)
        && facts.current_context.is_none()
    {
        problems.push(
            "--cluster current: the kubeconfig has no current context; pick one with `kubectl config use-context NAME`"
                .to_string(),
        );
    }
    if options.kagent.is_some() {
        checked.push(format!("{LLM_API_KEY_ENV} for --with-kagent"));
        problems.extend(crate::kagent::preflight_problems(facts.llm_api_key_set));
    }
    steps.push(Step::new(
        Phase::Preflight,
        Action::Check {
            checked: checked.join(", "),
            problems,
        },
        "fix the problems listed (or enter `nix develop`), then re-run `cargo xtask deploy`",
    ));

    // 2. Cluster.
    if options.cluster == ClusterTarget::Minikube {
        match facts.profile {
            ProfileState::Running => {
                steps.push(Step::note(
                    Phase::Cluster,
                    format!("minikube profile {profile} is running: reusing it"),
                ));
                if facts.current_context.as_deref() != Some(profile) {
                    steps.push(Step::new(
                        Phase::Cluster,
                        Action::Run(Command::new("kubectl", ["config", "use-context", profile])),
                        format!(
                            "`minikube -p {profile} update-context` repairs the kubeconfig entry"
                        ),
                    ));
                }
            }
            ProfileState::Stopped => steps.push(Step::new(
                Phase::Cluster,
                Action::Run(Command::new("minikube", ["start", "-p", profile])),
                format!(
                    "see `minikube -p {profile} logs`; `minikube delete -p {profile}` starts over"
                ),
            )),
            ProfileState::Absent | ProfileState::Unknown => {
                let mut start = Command::new("minikube", ["start", "-p", profile]).args([
                    "--cpus",
                    &options.cpus.to_string(),
                    "--memory",
                    &options.memory_mb.to_string(),
                ]);
                if let crate::preflight::DriverCheck::Found { driver, .. } = &facts.preflight.driver
                {
                    start = start.arg(format!("--driver={}", driver.name()));
                }
                steps.push(Step::new(
                    Phase::Cluster,
                    Action::Run(start),
                    format!("see `minikube -p {profile} logs`; `minikube delete -p {profile}` starts over"),
                ));
            }
        }
        for addon in ["ingress", "metrics-server"] {
            let enabled = facts
                .addons
                .as_ref()
                .is_some_and(|addons| addons.contains(addon));
            if enabled {
                steps.push(Step::note(
                    Phase::Cluster,
                    format!("addon {addon} is already enabled"),
                ));
            } else {
                steps.push(Step::new(
                    Phase::Cluster,
                    Action::Run(Command::new("minikube", ["-p", profile, "addons", "enable", addon])),
                    format!("`minikube -p {profile} addons list` shows the addons; retry the command above"),
                ));
            }
        }
    } else {
        steps.push(Step::note(
            Phase::Cluster,
            format!(
                "--cluster current: using kubeconfig context {}",
                facts
                    .current_context
                    .as_deref()
                    .unwrap_or("(none: `kubectl config current-context` gave no answer)")
            ),
        ));
    }

    // 3. Images: build, load or push, verify.
    let (nix, why) = options.images_choice(&facts.preflight);
    if options.images == ImagesMode::Auto {
        steps.push(Step::note(Phase::BuildImages, why));
    }
    let build = if nix {
        Command::new(
            "nix",
            [
                "--extra-experimental-features",
                "nix-command flakes",
                "build",
                ".#images",
            ],
        )
    } else {
        Command::new("cargo", ["xtask", "images"])
    };
    steps.push(Step::new(
        Phase::BuildImages,
        Action::Run(build),
        if nix {
            "fix the build error above; `cargo xtask deploy --images native` builds without Nix"
        } else {
            "fix the build error above, then re-run `cargo xtask images`"
        },
    ));
    let images = images(options, facts);
    let present = |reference: &str| match &facts.present {
        PresentImages::Known(set) => set.contains(&normalize_reference(reference)),
        PresentImages::Unknown => false,
    };
    match &options.registry {
        None => {
            let (arch, why) = load_platform(options, facts);
            steps.push(Step::note(
                Phase::LoadImages,
                format!("images for linux/{arch}: {why}"),
            ));
            for image in &images {
                let Some(archive) = image.archive_for(&arch) else {
                    steps.push(Step::new(
                        Phase::LoadImages,
                        Action::Check {
                            checked: format!("{} has a linux/{arch} image", image.reference),
                            problems: vec![format!(
                                "{} was not built for linux/{arch}: run `cargo xtask images` (every platform) \
                                 or `cargo xtask images --platform linux/{arch}`",
                                image.reference
                            )],
                        },
                        "build the image for the nodes' platform".to_string(),
                    ));
                    continue;
                };
                if present(&image.reference) {
                    steps.push(Step::note(
                        Phase::LoadImages,
                        format!(
                            "minikube already has {}: not loading it again",
                            image.reference
                        ),
                    ));
                } else {
                    steps.push(Step::new(
                        Phase::LoadImages,
                        Action::Run(Command::new("minikube", ["-p", profile, "image", "load", archive])),
                        format!("check that {archive} exists (re-run the image build) and `minikube -p {profile} status`"),
                    ));
                }
            }
            let references: Vec<String> = images.iter().map(|i| i.reference.clone()).collect();
            steps.push(Step::new(
                Phase::LoadImages,
                Action::Run(
                    Command::new("minikube", ["-p", profile, "image", "ls"]).expect(Expect::ListsImages(references)),
                ),
                format!("an image did not arrive: `minikube -p {profile} image load <archive>` by hand shows why"),
            ));
        }
        Some(registry) => {
            let local = registry_is_local(registry);
            for image in &images {
                let target = pushed_reference(registry, image);
                if present(&target) {
                    steps.push(Step::note(
                        Phase::LoadImages,
                        format!("{target} is already in the registry: not pushing it again"),
                    ));
                    continue;
                }
                // Every platform under one tag: the registry serves each node its own.
                let mut copy = Command::new("skopeo", ["copy", "--all"]);
                if local {
                    copy = copy.arg("--dest-tls-verify=false");
                }
                steps.push(Step::new(
                    Phase::LoadImages,
                    Action::Run(copy.args([format!("oci-archive:{}", image.archive), format!("docker://{target}")])),
                    format!("check the registry is reachable and you are logged in (`skopeo login {registry}`)"),
                ));
            }
            for image in &images {
                let target = pushed_reference(registry, image);
                let mut inspect = Command::new("skopeo", ["inspect"]);
                if local {
                    inspect = inspect.arg("--tls-verify=false");
                }
                steps.push(Step::new(
                    Phase::LoadImages,
                    Action::Run(inspect.arg(format!("docker://{target}"))),
                    format!("{target} is not in the registry after the push; retry the push above"),
                ));
            }
        }
    }

    // 4. Secrets.
    let mut helm_sets: Vec<String> = Vec::new();
    if facts.llm_api_key_set {
        let apply = kubectl(context).args(["apply", "-f", "-"]);
        steps.push(Step::new(
            Phase::Secrets,
            Action::Pipe(
                kubectl(context).args([
                    "create",
                    "namespace",
                    namespace,
                    "--dry-run=client",
                    "-o",
                    "yaml",
                ]),
                apply.clone(),
            ),
            "check the cluster is reachable: `kubectl cluster-info`",
        ));
        steps.push(Step::new(
            Phase::Secrets,
            Action::Pipe(
                kubectl(context)
                    .args(["create", "secret", "generic", LLM_SECRET_NAME, "--namespace", namespace])
                    .secret_arg(&format!("--from-literal={LLM_SECRET_KEY}="), LLM_API_KEY_ENV)
                    .args(["--dry-run=client", "-o", "yaml"]),
                apply,
            ),
            "check you may create Secrets in the namespace: `kubectl auth can-i create secrets -n todo`",
        ));
        helm_sets.push(format!("llm.existingSecret={LLM_SECRET_NAME}"));
    } else {
        steps.push(Step::note(
            Phase::Secrets,
            format!(
                "{LLM_API_KEY_ENV} is not set: no LLM key Secret, the built-in chat engine answers"
            ),
        ));
    }

    // 5. Helm.
    let helm4 = facts
        .preflight
        .tool(Tool::Helm)
        .and_then(|t| t.version())
        .is_some_and(|v| v.major >= 4);
    let mut upgrade = helm(context).args([
        "upgrade",
        "--install",
        &options.release,
        &options.chart,
        "--namespace",
        namespace,
        "--create-namespace",
    ]);
    // Helm 4 renamed --atomic (still accepted, with a deprecation warning).
    upgrade = if helm4 {
        upgrade.args(["--rollback-on-failure", "--wait=watcher"])
    } else {
        upgrade.args(["--atomic", "--wait"])
    };
    upgrade = upgrade.args([
        "--timeout",
        &format_duration(options.timeout),
        "-f",
        &options.values.file(&options.chart),
    ]);
    for image in &images {
        let key = chart_key(&image.service);
        upgrade = upgrade.args([
            "--set".to_string(),
            format!("{key}.image.tag={}", image.tag),
        ]);
    }
    // The chart prefixes every service repository with `image.registry` (values-prod sets one).
    // Set it to where the images really are: the registry pushed to, or none for images
    // loaded into minikube (they are known there by their bare name).
    let registry = options
        .registry
        .as_deref()
        .map(|r| r.trim_end_matches('/'))
        .unwrap_or_default();
    upgrade = upgrade.args(["--set".to_string(), format!("image.registry={registry}")]);
    for set in helm_sets.iter().chain(&options.sets) {
        upgrade = upgrade.args(["--set", set]);
    }
    let mut release = Step::new(
        Phase::Release,
        Action::Run(upgrade),
        format!(
            "the doctor's findings above say why; `cargo xtask doctor --namespace {namespace}` re-checks"
        ),
    );
    release.diagnose_on_failure = true;
    steps.push(release);

    // 6. Watch the rollout (alongside helm's own wait, so progress streams while it waits).
    let fullname = options.fullname();
    let mut wait = Step::new(
        Phase::Wait,
        Action::WaitRollout(WaitSpec {
            context: context.map(str::to_string),
            namespace: namespace.to_string(),
            release: options.release.clone(),
            deployments: SERVICES
                .iter()
                .map(|(_, key)| format!("{fullname}-{key}"))
                .collect(),
            stateful_sets: vec![format!("{fullname}-postgresql")],
            timeout: options.timeout,
        }),
        format!(
            "`cargo xtask doctor --namespace {namespace}` re-checks once you fixed the findings"
        ),
    );
    wait.alongside_previous = true;
    wait.diagnose_on_failure = true;
    steps.push(wait);

    // 7. Where the app is, then smoke.
    let minikube_ip_capture = if options.cluster == ClusterTarget::Minikube {
        steps.push(Step::new(
            Phase::Access,
            Action::Run(
                Command::new("minikube", ["-p", profile, "ip"])
                    .expect(Expect::Capture(MINIKUBE_IP_CAPTURE)),
            ),
            format!("`minikube -p {profile} status`"),
        ));
        Some(MINIKUBE_IP_CAPTURE)
    } else {
        None
    };
    steps.push(Step::new(
        Phase::Access,
        Action::PrintAccess(AccessSpec {
            context: context.map(str::to_string),
            namespace: namespace.to_string(),
            web_service: format!("{fullname}-web"),
            web_port: 8080,
            minikube_ip_capture,
            tunnel: options.cluster == ClusterTarget::Minikube
                && crate::facts::needs_tunnel(&facts.host_os, facts.minikube_driver.as_deref()),
        }),
        "",
    ));
    if options.smoke {
        steps.push(Step::new(
            Phase::Smoke,
            Action::Run(Command::new("cargo", ["xtask", "smoke", "--namespace", namespace])),
            format!("the table above names the failing check; `cargo xtask doctor --namespace {namespace}`"),
        ));
    } else {
        steps.push(Step::note(
            Phase::Smoke,
            "--no-smoke: not running `cargo xtask smoke`",
        ));
    }

    // 8. kagent, once the release is up (its failure leaves a working release).
    if let Some(kagent) = &options.kagent {
        steps.extend(crate::kagent::install_steps(
            context,
            kagent,
            options.timeout,
        ));
    }

    Plan {
        title: "cargo xtask deploy".to_string(),
        facts: fact_lines(options, facts),
        steps,
    }
}

fn fact_lines(options: &DeployOptions, facts: &DeployFacts) -> Vec<String> {
    let mut lines = facts.preflight.summary_lines();
    if options.cluster == ClusterTarget::Minikube {
        let state = match facts.profile {
            ProfileState::Running => "running",
            ProfileState::Stopped => "stopped",
            ProfileState::Absent => "does not exist",
            ProfileState::Unknown => "unknown (minikube not usable)",
        };
        lines.push(format!("minikube profile {}: {state}", options.profile));
    }
    lines.push(format!(
        "kubeconfig current context: {}",
        facts.current_context.as_deref().unwrap_or("unknown")
    ));
    let (manifest, _) = options.manifest_location(&facts.preflight);
    match &facts.manifest {
        Some(m) => lines.push(format!(
            "images: {} (from {manifest}; the build step may change them, the plan is rebuilt after it)",
            m.images.iter().map(|i| i.reference.as_str()).collect::<Vec<_>>().join(", ")
        )),
        None => lines.push(format!("images: {manifest} not built yet; `<tag>` is known after the build step")),
    }
    lines.push(match facts.present {
        PresentImages::Known(ref set) => {
            format!("images already in the target: {} checked", set.len())
        }
        PresentImages::Unknown => {
            "images already in the target: unknown (every image is loaded)".to_string()
        }
    });
    lines.push(format!(
        "{LLM_API_KEY_ENV}: {}",
        if facts.llm_api_key_set {
            "set (value not shown)"
        } else {
            "not set"
        }
    ));
    if let Some(kagent) = &options.kagent {
        lines.push(crate::kagent::fact_line(kagent));
    }
    lines
}

/// Where the probes run: the project root and the PATH for tools (with `.tools/bin`).
#[derive(Clone, Debug)]
pub struct Environment {
    pub root: PathBuf,
    pub path: std::ffi::OsString,
    pub llm_api_key_set: bool,
    /// A kubeconfig to use instead of `$KUBECONFIG` / `~/.kube/config` (kube-rs and, through
    /// `KUBECONFIG`, the external tools).
    pub kubeconfig: Option<PathBuf>,
}

/// Runs the read-only probes the plan needs (tool versions, profile, addons, context, manifest,
/// images present). `after_build` also asks the cluster or registry which images it has.
pub fn gather_deploy_facts(
    options: &DeployOptions,
    env: &Environment,
    after_build: bool,
) -> anyhow::Result<DeployFacts> {
    let path = env.path.as_os_str();
    let (required, optional) = options.tools();
    let profile_known = |preflight: &Preflight| match options.cluster {
        ClusterTarget::Minikube => profile_state(&options.profile, preflight, path),
        ClusterTarget::Current => ProfileState::Unknown,
    };
    let mut preflight = Preflight::run(&required, &optional, false, path);
    let profile = profile_known(&preflight);
    if options.cluster == ClusterTarget::Minikube
        && !matches!(profile, ProfileState::Running | ProfileState::Stopped)
    {
        preflight.driver = crate::preflight::detect_driver(path);
    }
    if let ValuesChoice::File(file) = &options.values {
        let absolute = if file.is_absolute() {
            file.clone()
        } else {
            env.root.join(file)
        };
        if !absolute.is_file() {
            preflight
                .other_problems
                .push(format!("--values {}: no such file", file.display()));
        }
    }
    let addons = if profile == ProfileState::Running {
        probe_output(
            "minikube",
            &["-p", &options.profile, "addons", "list", "-o", "json"],
            path,
        )
        .and_then(|(_, out)| parse_enabled_addons(&out))
    } else {
        None
    };
    let current_context = if preflight.has(Tool::Kubectl) {
        probe_output("kubectl", &["config", "current-context"], path)
            .filter(|(code, _)| *code == Some(0))
            .map(|(_, out)| out.trim().to_string())
            .filter(|c| !c.is_empty())
    } else {
        None
    };
    let (manifest_path, base) = options.manifest_location(&preflight);
    let manifest = ImageManifest::load(&env.root.join(manifest_path), base)?;
    let present = match (&manifest, after_build) {
        (Some(manifest), true) => present_images(options, manifest, &preflight, profile, path),
        _ => PresentImages::Unknown,
    };
    let node_architectures = node_architectures(options, &preflight, profile, path);
    let minikube_driver = match (&preflight.driver, profile) {
        (crate::preflight::DriverCheck::Found { driver, .. }, _) => Some(driver.name().to_owned()),
        (_, ProfileState::Running | ProfileState::Stopped) => {
            probe_output("minikube", &["profile", "list", "-o", "json"], path)
                .and_then(|(_, out)| crate::facts::parse_profile_driver(&out, &options.profile))
        }
        _ => None,
    };
    Ok(DeployFacts {
        preflight,
        profile,
        addons,
        current_context,
        manifest,
        present,
        llm_api_key_set: env.llm_api_key_set,
        node_architectures,
        host_architecture: crate::facts::host_architecture(std::env::consts::ARCH)
            .unwrap_or("amd64")
            .to_owned(),
        host_os: std::env::consts::OS.to_owned(),
        minikube_driver,
    })
}

/// Asks the cluster (when it runs) which CPU architectures its nodes have.
fn node_architectures(
    options: &DeployOptions,
    preflight: &Preflight,
    profile: ProfileState,
    path: &OsStr,
) -> BTreeSet<String> {
    let reachable = match options.cluster {
        ClusterTarget::Minikube => profile == ProfileState::Running,
        ClusterTarget::Current => true,
    };
    if !reachable || !preflight.has(Tool::Kubectl) {
        return BTreeSet::new();
    }
    let mut args = Vec::new();
    if let Some(context) = options.context() {
        args.extend(["--context", context]);
    }
    args.extend([
        "get",
        "nodes",
        "-o",
        "jsonpath={.items[*].status.nodeInfo.architecture}",
    ]);
    match probe_output("kubectl", &args, path) {
        Some((Some(0), out)) => crate::facts::parse_node_architectures(&out),
        _ => BTreeSet::new(),
    }
}

fn present_images(
    options: &DeployOptions,
    manifest: &ImageManifest,
    preflight: &Preflight,
    profile: ProfileState,
    path: &OsStr,
) -> PresentImages {
    match &options.registry {
        None if profile == ProfileState::Running && preflight.has(Tool::Minikube) => {
            match probe_output("minikube", &["-p", &options.profile, "image", "ls"], path) {
                Some((Some(0), out)) => PresentImages::Known(parse_image_list(&out)),
                _ => PresentImages::Unknown,
            }
        }
        Some(registry) if preflight.has(Tool::Skopeo) => {
            let mut found = BTreeSet::new();
            for image in &manifest.images {
                let target = pushed_reference(registry, image);
                let mut args = vec![
                    "inspect".to_string(),
                    "--format".to_string(),
                    "{{.Digest}}".to_string(),
                ];
                if registry_is_local(registry) {
                    args.push("--tls-verify=false".to_string());
                }
                args.push(format!("docker://{target}"));
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                // Same tag and same digest: the registry has exactly this image.
                if let Some((Some(0), digest)) = probe_output("skopeo", &args, path)
                    && (image.digest.is_empty() || digest.trim() == image.digest)
                {
                    found.insert(normalize_reference(&target));
                }
            }
            PresentImages::Known(found)
        }
        _ => PresentImages::Unknown,
    }
}

/// `file` relative to `root` unless absolute (for `--values FILE` given from another directory).
pub fn resolve_from(dir: &Path, file: &Path) -> PathBuf {
    if file.is_absolute() {
        file.to_path_buf()
    } else {
        dir.join(file)
    }
}

impl Environment {
    /// The environment of this process: PATH with `<root>/.tools/bin` in front, and whether
    /// `LLM_API_KEY` is set (never its value).
    pub fn from_process(root: &Path) -> Environment {
        Environment {
            root: root.to_path_buf(),
            path: crate::preflight::path_with_project_tools(root, std::env::var_os("PATH")),
            llm_api_key_set: std::env::var_os(LLM_API_KEY_ENV).is_some_and(|v| !v.is_empty()),
            kubeconfig: None,
        }
    }
}
