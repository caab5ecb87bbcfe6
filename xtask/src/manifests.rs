//! `cargo xtask manifests`: renders helm/todo with values-dev.yaml into plain manifests
//! under k8s/ (one file per component and kind, plus kustomization.yaml, no Secrets);
//! `--check` fails when the committed files differ from a fresh render.
//!
//! The split leaves out Helm's ownership labels (`helm.sh/chart`,
//! `app.kubernetes.io/managed-by: Helm`): objects applied from k8s/ are not a release's, and
//! a later `helm install` over them must not trip Helm's ownership check.
//!
//! Also the chart's CI checks, [`ci_checks`]: lint, render, two renders byte-identical,
//! bad values, the HTTPRoute's shape, strict schema validation for Kubernetes 1.31 to 1.35,
//! checkov with the reviewed skips, and `--check` (k8s/ current and free of Helm ownership
//! labels). The logic (scenarios, the split, the bad values and their messages, the checkov
//! skips) lives in crates/chart-policy.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result, bail};
use chart_policy::manifests::{self as split, ManifestSet};
use chart_policy::objects::Rendered;
use chart_policy::tools::{self, Helm, RenderRequest};
use chart_policy::{bad_values, checkov, httproute, monitoring, policy, scenarios};
use xshell::{Shell, cmd};

use crate::util::{Step, project_root};

/// Kubernetes versions every rendered manifest is validated against.
pub const KUBERNETES_VERSIONS: [&str; 5] = ["1.31.0", "1.32.0", "1.33.0", "1.34.0", "1.35.0"];

#[derive(clap::Args)]
pub struct Cmd {
    /// Compare k8s/ with a fresh render instead of writing it; fails when they differ.
    #[arg(long, conflicts_with = "ci_checks")]
    check: bool,
    /// Run every chart check CI runs (lint, render, bad values, strict validation for
    /// Kubernetes 1.31-1.35, --check) instead of writing k8s/.
    #[arg(long)]
    ci_checks: bool,
}

impl Cmd {
    pub fn run(self, sh: &Shell) -> Result<()> {
        if self.ci_checks {
            ci_checks(sh)
        } else if self.check {
            check()
        } else {
            write()
        }
    }
}

fn k8s_dir() -> PathBuf {
    project_root().join("k8s")
}

/// Renders and splits the chart, and checks that k8s/README.md documents the Secrets.
fn fresh() -> Result<ManifestSet> {
    let helm = Helm::primary()?;
    let mut request = RenderRequest::new().values_file(split::VALUES_FILE);
    request.release = split::RELEASE.into();
    request.namespace = split::NAMESPACE.into();
    request.skip_tests = true;
    let set = split::split(&helm.template(&request)?)?;
    let readme_path = k8s_dir().join(split::README);
    let readme = std::fs::read_to_string(&readme_path).with_context(|| {
        format!(
            "reading {} (written by hand, not generated)",
            readme_path.display()
        )
    })?;
    let gaps = split::readme_gaps(&readme, &set.required_secrets);
    if !gaps.is_empty() {
        bail!(
            "k8s/README.md does not say how to create the Secrets the manifests need:\n  - {}\nEdit k8s/README.md (it is written by hand).",
            gaps.join("\n  - ")
        );
    }
    Ok(set)
}

/// Generated files currently in k8s/ (every *.yaml: README.md is the only other file).
fn files_on_disk() -> Result<BTreeSet<String>> {
    let dir = k8s_dir();
    if !dir.exists() {
        return Ok(BTreeSet::new());
    }
    let mut files = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.ends_with(".yaml") {
            files.insert(name);
        }
    }
    Ok(files)
}

fn write() -> Result<()> {
    let _step = Step::new("manifests: render helm/todo (values-dev.yaml) into k8s/");
    let set = fresh()?;
    let dir = k8s_dir();
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let (mut written, mut unchanged) = (0, 0);
    for (name, content) in &set.files {
        let path = dir.join(name);
        if std::fs::read_to_string(&path).ok().as_deref() == Some(content.as_str()) {
            unchanged += 1;
            continue;
        }
        std::fs::write(&path, content).with_context(|| format!("writing {}", path.display()))?;
        eprintln!("  wrote k8s/{name}");
        written += 1;
    }
    let mut removed = 0;
    for stale in files_on_disk()?
        .iter()
        .filter(|name| !set.files.contains_key(*name))
    {
        let path = dir.join(stale);
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        eprintln!("  removed k8s/{stale} (the chart no longer renders it)");
        removed += 1;
    }
    let omitted = if set.omitted_secrets.is_empty() {
        "no Secret was rendered (none with generated values is, without a cluster)".to_string()
    } else {
        format!("left out: Secret {}", set.omitted_secrets.join(", "))
    };
    eprintln!(
        "k8s/: {} files ({written} written, {unchanged} unchanged, {removed} removed); {omitted}",
        set.files.len()
    );
    Ok(())
}

/// Fails, naming the files, when k8s/ differs from a fresh render.
pub fn check() -> Result<()> {
    let set = fresh()?;
    let dir = k8s_dir();
    let mut problems = Vec::new();
    for (name, content) in &set.files {
        match std::fs::read_to_string(dir.join(name)) {
            Ok(on_disk) if on_disk == *content => {}
            Ok(_) => problems.push(format!("k8s/{name} differs from the render")),
            Err(_) => problems.push(format!("k8s/{name} is missing")),
        }
    }
    for extra in files_on_disk()?
        .iter()
        .filter(|name| !set.files.contains_key(*name))
    {
        problems.push(format!("k8s/{extra} is not rendered by the chart any more"));
    }
    for name in files_on_disk()? {
        let text = std::fs::read_to_string(dir.join(&name)).unwrap_or_default();
        for label in split::HELM_OWNERSHIP_LABELS {
            if text.lines().any(|l| l.trim_start().starts_with(label)) {
                problems.push(format!(
                    "k8s/{name} carries the Helm ownership label `{label}`"
                ));
            }
        }
    }
    if !problems.is_empty() {
        bail!(
            "k8s/ is out of date with helm/todo:\n  - {}\nRun `cargo xtask manifests` and commit k8s/.",
            problems.join("\n  - ")
        );
    }
    eprintln!(
        "k8s/ matches a fresh render of helm/todo ({} files)",
        set.files.len()
    );
    Ok(())
}

/// Everything CI checks about the chart. Needs helm (v4), helm3 and kubectl
/// (.ci/install/10-helm.sh), kubernetes-validate (.ci/install/11-kubernetes-validate.sh) and
/// checkov (.ci/install/12-checkov.sh), found in $TOOLS_BIN, <repo>/.tools/bin or PATH.
pub fn ci_checks(sh: &Shell) -> Result<()> {
    let helms = Helm::installed()?;
    let validator = tools::find_tool("kubernetes-validate", tools::KUBERNETES_VALIDATE_INSTALLER)?;
    let kubectl = tools::find_tool("kubectl", tools::HELM_INSTALLER)?;
    let work = tempfile::tempdir().context("creating a temporary directory")?;
    let chart = tools::chart_dir();
    let versions: Vec<&str> = helms.iter().map(|h| h.version.as_str()).collect();

    {
        let _step = Step::new(format!(
            "chart: helm lint --strict, each values file, helm {}",
            versions.join(" and ")
        ));
        for helm in &helms {
            for file in scenarios::VALUES_FILES {
                let args = [
                    "lint".into(),
                    "--strict".into(),
                    chart.clone().into_os_string(),
                    "--values".into(),
                    chart.join(file).into(),
                ];
                let output = helm.run(&args, &[])?;
                if !output.status.success() {
                    bail!(
                        "helm {} lint --strict -f {file} failed:\n{}{}",
                        helm.version,
                        String::from_utf8_lossy(&output.stdout),
                        String::from_utf8_lossy(&output.stderr)
                    );
                }
                eprintln!("  ok: helm {} lint --strict -f {file}", helm.version);
            }
        }
    }

    {
        let _step = Step::new(format!(
            "chart: two renders of each values file are byte-identical (GitOps), helm {}",
            versions.join(" and ")
        ));
        for helm in &helms {
            for file in scenarios::VALUES_FILES {
                let request = RenderRequest::new().values_file(file);
                let first = helm.template(&request)?;
                let second = helm.template(&request)?;
                if first != second {
                    bail!(
                        "helm {} template -f {file} rendered twice differs: a GitOps sync would change objects on every render (generated values?)",
                        helm.version
                    );
                }
                eprintln!(
                    "  ok: helm {} template -f {file}, twice, {} bytes identical",
                    helm.version,
                    first.len()
                );
            }
        }
    }

    let mut renders: Vec<(String, String)> = Vec::new();
    let mut http_routes = 0;
    let mut pods = 0;
    {
        let all = scenarios::all();
        let _step = Step::new(format!(
            "chart: helm template, {} scenarios, helm {}",
            all.len(),
            versions.join(" and ")
        ));
        for (index, helm) in helms.iter().enumerate() {
            for scenario in &all {
                let text = helm.template(&scenario.request())?;
                let documents = text.matches("\nkind: ").count();
                eprintln!(
                    "  ok: helm {} template, {} ({documents} objects)",
                    helm.version, scenario.name
                );
                // kubernetes-validate has no Gateway API schemas: the HTTPRoute's shape is
                // checked against its documented v1 fields instead (chart_policy::httproute).
                let parsed = Rendered::parse(&text)?;
                // Pod Security "restricted" on every pod the render can create (Deployments,
                // the StatefulSet, the backup CronJob, the helm test pods).
                let violations = policy::restricted(&parsed);
                if !violations.is_empty() {
                    bail!(
                        "scenario \"{}\" renders pods that Pod Security \"restricted\" would reject:\n  - {}",
                        scenario.name,
                        violations
                            .iter()
                            .map(ToString::to_string)
                            .collect::<Vec<_>>()
                            .join("\n  - ")
                    );
                }
                pods += parsed.workloads().len();
                for route in parsed.http_routes() {
                    let errors = httproute::shape_errors(route);
                    if !errors.is_empty() {
                        bail!(
                            "scenario \"{}\": the HTTPRoute is not valid gateway.networking.k8s.io/v1:\n  - {}",
                            scenario.name,
                            errors.join("\n  - ")
                        );
                    }
                    http_routes += 1;
                }
                // Helm 3 renders the same objects (crates/chart-policy compares them).
                if index == 0 {
                    let kept: Vec<String> = split::documents_of(&text)
                        .into_iter()
                        .filter(|d| !d.contains(&format!("\nkind: {}\n", httproute::KIND)))
                        .collect();
                    renders.push((
                        format!("scenario \"{}\"", scenario.name),
                        kept.join("---\n"),
                    ));
                }
            }
        }
    }

    {
        let _step = Step::new(format!(
            "chart: {} sets of bad values are refused with clear messages",
            bad_values::CASES.len()
        ));
        for helm in &helms {
            for case in bad_values::CASES {
                let message = case.check(helm)?;
                let reason = message
                    .lines()
                    .rfind(|l| l.starts_with("- ") || l.starts_with("Error:"))
                    .unwrap_or_default();
                eprintln!(
                    "  refused by helm {}: {} -> {}",
                    helm.version,
                    case.name,
                    reason.trim()
                );
            }
        }
    }

    {
        let _step = Step::new(format!(
            "chart: monitoring.* on: promtool check rules on the PrometheusRule, the dashboard parses, helm {}",
            versions.join(" and ")
        ));
        let promtool = tools::find_tool("promtool", monitoring::PROMETHEUS_INSTALLER)?;
        for helm in &helms {
            let documents = monitoring::documents(&helm.template(&monitoring::request())?)?;
            let rules = monitoring::rule_groups(&documents)?;
            let checked = monitoring::promtool_check_rules(&promtool, &rules)?;
            let dashboard = monitoring::dashboard(&documents)?;
            let queries = monitoring::dashboard_queries(&dashboard);
            if let Some(query) = queries
                .iter()
                .find(|q| monitoring::metric_names(q).is_empty())
            {
                bail!("the Grafana dashboard has a query that names no metric: {query}");
            }
            eprintln!(
                "  ok: helm {}: promtool check rules: {}; dashboard: {} queries",
                helm.version,
                checked
                    .lines()
                    .rfind(|l| !l.trim().is_empty())
                    .unwrap_or_default()
                    .trim(),
                queries.len()
            );
        }
    }

    {
        let _step = Step::new("chart: k8s/ is up to date (cargo xtask manifests --check)");
        check()?;
        let kustomized = cmd!(sh, "{kubectl} kustomize k8s")
            .read()
            .context("`kubectl kustomize k8s` failed: k8s/kustomization.yaml is broken; run `cargo xtask manifests`")?;
        renders.push(("kubectl kustomize k8s".to_string(), kustomized));
    }

    eprintln!(
        "  ok: {pods} pod templates pass Pod Security \"restricted\"; {http_routes} HTTPRoutes match the documented gateway.networking.k8s.io/v1 shape"
    );

    {
        // Not under a hidden directory (tempdir's ".tmp..."): checkov skips those silently.
        let checkov_dir = tempfile::Builder::new()
            .prefix("chart-checkov-")
            .tempdir()
            .context("creating a temporary directory for checkov")?;
        let dir = checkov_dir.path().to_path_buf();
        let helm = &helms[0];
        let mut files = 0;
        for scenario in scenarios::all() {
            // Every values file, plus the scenarios that render objects they do not (the
            // backup CronJob, the HTTPRoute, NodePort).
            if !(scenarios::VALUES_FILES.contains(&scenario.name)
                || scenario.name.starts_with("Gateway API"))
            {
                continue;
            }
            let name = format!("render-{files}.yaml");
            std::fs::write(dir.join(&name), helm.template(&scenario.request())?)?;
            files += 1;
        }
        for name in files_on_disk()? {
            if name != "kustomization.yaml" {
                std::fs::copy(k8s_dir().join(&name), dir.join(format!("k8s-{name}")))?;
                files += 1;
            }
        }
        let _step = Step::new(format!(
            "chart: checkov over {files} files (values files' renders and k8s/), skips in {}",
            checkov::skips_file().display()
        ));
        let outcome = checkov::check(&dir)?;
        eprintln!(
            "  ok: checkov {} passed, {} failed checks covered by a reviewed skip, 0 unexcused",
            outcome.passed, outcome.skipped
        );
    }

    let to_validate = work.path().join("distinct-objects.yaml");
    let distinct = split::distinct_documents(&renders);
    std::fs::write(&to_validate, &distinct)
        .with_context(|| format!("writing {}", to_validate.display()))?;
    {
        let objects = distinct.matches("\n# rendered by: ").count() + 1;
        let _step = Step::new(format!(
            "chart: kubernetes-validate --strict, {objects} distinct objects of {} renders, Kubernetes {}",
            renders.len(),
            KUBERNETES_VERSIONS.join(", ")
        ));
        // One process per version with all objects in one file: every object costs a
        // schema load, so identical objects of different renders are validated once.
        // The processes are single-threaded Python: run them side by side.
        let mut running: Vec<(&str, Child)> = Vec::new();
        for version in KUBERNETES_VERSIONS {
            let child = Command::new(&validator)
                .args(["--strict", "--quiet", "--kubernetes-version", version])
                .arg(&to_validate)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .with_context(|| format!("starting {}", validator.display()))?;
            running.push((version, child));
        }
        let mut failures = Vec::new();
        for (version, child) in running {
            let output = child
                .wait_with_output()
                .with_context(|| format!("waiting for kubernetes-validate {version}"))?;
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
            if output.status.success() && !text.contains("ERROR") {
                eprintln!("  ok: Kubernetes {version}");
            } else {
                failures.push(format!("Kubernetes {version}:\n{}", text.trim()));
            }
        }
        if !failures.is_empty() {
            let kept = work.keep().join("distinct-objects.yaml");
            bail!(
                "rendered manifests do not validate strictly:\n{}\nThe objects are in {} (a comment above each names the renders it came from).",
                failures.join("\n"),
                kept.display()
            );
        }
    }
    Ok(())
}
