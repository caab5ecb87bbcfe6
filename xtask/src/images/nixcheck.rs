//! What CI can check about the Nix files without building anything (there is no binary
//! cache and nixpkgs cannot be fetched here):
//! - every `.nix` file parses (`nix-instantiate --parse`, Debian's nix-bin);
//! - Nix's own TOML reader sees the same `[package.metadata.image]` tables as the Rust side;
//! - `flake.lock` pins exactly the inputs `flake.nix` declares, each locked by rev and
//!   narHash, with rust-overlay's nixpkgs following ours;
//! - the derivations' sources and inputs hold what the builds and tests read
//!   ([`super::nixsources`]);
//! - `nix/rfc3339.nix` (the postgres image's `created`) formats like the native builder.

use crate::util::{Step, project_root};
use anyhow::{Context, Result, ensure};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use xshell::{Shell, cmd};

/// Debian's nix-bin warns on every call that the `nixbld` group is missing; we never build.
const NIX_CONFIG: &str = "build-users-group =";

/// Runs all Nix checks; needs `nix-instantiate` (`.ci/install/20-oci-tools.sh`).
pub fn nix_checks(sh: &Shell) -> Result<()> {
    let _step = Step::new("nix: parse files, compare image descriptions, check flake.lock");
    let nix = oci_image::tools::require("nix-instantiate")?;
    let root = project_root();
    let files = nix_files(&root)?;
    for file in &files {
        let out = cmd!(sh, "{nix} --parse {file}")
            .env("NIX_CONFIG", NIX_CONFIG)
            .quiet()
            .ignore_stdout()
            .ignore_status()
            .output()?;
        ensure!(
            out.status.success(),
            "{} does not parse:\n{}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("  {} .nix files parse", files.len());

    let eval = |expr: &str| -> Result<Value> {
        let out = cmd!(sh, "{nix} --eval --strict --json -E {expr}")
            .env("NIX_CONFIG", NIX_CONFIG)
            .quiet()
            .ignore_status()
            .output()?;
        ensure!(
            out.status.success(),
            "nix-instantiate --eval failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(serde_json::from_slice(&out.stdout)?)
    };

    // The same selection nix/workspace.nix makes, through Nix's TOML parser.
    let nix_specs = eval(
        r#"let
          crates = builtins.attrNames (builtins.readDir ./crates);
          read = n: builtins.fromTOML (builtins.readFile (./crates + "/${n}/Cargo.toml"));
          withImage = builtins.filter (n: builtins.pathExists (./crates + "/${n}/Cargo.toml") && (read n) ? package.metadata.image) crates;
        in builtins.listToAttrs (map (n: { name = n; value = (read n).package.metadata.image; }) withImage)"#,
    )?;
    compare_specs(&root, &nix_specs)?;

    // flake.nix's `inputs` is plain data: evaluating it fetches nothing.
    let inputs = eval("(import ./flake.nix).inputs")?;
    let lock_path = root.join("flake.lock");
    let lock: Value = serde_json::from_str(
        &std::fs::read_to_string(&lock_path)
            .with_context(|| format!("reading {}", lock_path.display()))?,
    )
    .context("flake.lock is not JSON")?;
    let problems = validate_lock(&lock, &inputs);
    ensure!(
        problems.is_empty(),
        "flake.lock:\n  {}",
        problems.join("\n  ")
    );
    eprintln!(
        "  flake.lock pins {} inputs by rev and narHash",
        inputs.as_object().map_or(0, |o| o.len())
    );

    source_checks(sh, &root, &eval, &files)?;

    for epoch in [0i64, 951_782_400, 1_785_782_307, 4_102_444_799] {
        let nix = eval(&format!("import ./nix/rfc3339.nix {epoch}"))?;
        let native = oci_image::epoch::rfc3339(epoch)?;
        ensure!(
            nix.as_str() == Some(native.as_str()),
            "nix/rfc3339.nix formats {epoch} as {nix}, the native builder as {native:?}"
        );
    }
    eprintln!("  nix/rfc3339.nix and the native builder format `created` alike");
    Ok(())
}

/// The checks of [`super::nixsources`] on this repository.
fn source_checks(
    sh: &Shell,
    root: &Path,
    eval: &dyn Fn(&str) -> Result<Value>,
    nix_files: &[PathBuf],
) -> Result<()> {
    use super::nixsources::*;
    let lists: SourceLists = serde_json::from_value(eval("import ./nix/source-files.nix")?)
        .context("nix/source-files.nix does not have the shape xtask expects")?;
    let mut problems = root_problems(&lists, |f| root.join(f).is_file());

    let tracked: Vec<String> = cmd!(sh, "git -C {root} ls-files")
        .quiet()
        .read()
        .context("listing tracked files (git ls-files)")?
        .lines()
        .map(str::to_owned)
        .collect();
    let mut members: Vec<String> = tracked
        .iter()
        .filter_map(|f| f.strip_prefix("crates/")?.split_once("/Cargo.toml"))
        .filter(|(name, rest)| rest.is_empty() && !name.contains('/'))
        .map(|(name, _)| format!("crates/{name}"))
        .collect();
    members.push("xtask".into());
    problems.extend(uncovered_files(&tracked, &members, &lists));

    // Top-level directories besides the workspace members themselves.
    let top_dirs: Vec<String> = tracked
        .iter()
        .filter_map(|f| f.split_once('/').map(|(dir, _)| dir.to_owned()))
        .filter(|d| d != "crates" && d != "xtask")
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut named = BTreeSet::new();
    for file in tracked
        .iter()
        .filter(|f| f.starts_with("crates/") && f.ends_with(".rs"))
    {
        let code =
            std::fs::read_to_string(root.join(file)).with_context(|| format!("reading {file}"))?;
        named.extend(named_top_dirs(&code, &top_dirs));
    }
    problems.extend(missing_test_data(&named, &lists));

    let inputs: CheckInputs = serde_json::from_value(eval(CHECK_INPUTS_EXPR)?)
        .context("evaluating nix/checks.nix with stand-ins")?;
    problems.extend(check_input_problems(&inputs));

    for file in nix_files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        problems.extend(
            single_files_in_contents(&text)
                .into_iter()
                .map(|p| format!("{}: {p}", file.display())),
        );
    }
    ensure!(
        problems.is_empty(),
        "the Nix sources and inputs miss what the builds and tests read:\n  {}",
        problems.join("\n  ")
    );
    eprintln!(
        "  Nix sources hold every root config file, crate asset and test data ({} test-data paths; tests read {}), the test check has {}",
        lists.test_data.len(),
        named.into_iter().collect::<Vec<_>>().join(", "),
        inputs.test_inputs.join(", ")
    );
    Ok(())
}

/// flake.nix and everything under nix/.
fn nix_files(root: &Path) -> Result<Vec<PathBuf>> {
    let mut files = vec![root.join("flake.nix")];
    let mut dirs = vec![root.join("nix")];
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("listing {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "nix") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// Nix and Rust must read identical image descriptions from the same Cargo.toml files.
fn compare_specs(root: &Path, nix_specs: &Value) -> Result<()> {
    let rust = oci_image::discover_services(root)?;
    let nix: BTreeMap<String, oci_image::ImageSpec> = serde_json::from_value(nix_specs.clone())
        .context("Nix's view of [package.metadata.image] does not deserialize as an image spec")?;
    let rust_names: Vec<&str> = rust.iter().map(|s| s.package.as_str()).collect();
    let nix_names: Vec<&str> = nix.keys().map(String::as_str).collect();
    ensure!(
        rust_names == nix_names,
        "Nix finds images for {nix_names:?}, the Rust side for {rust_names:?}"
    );
    for service in &rust {
        ensure!(
            nix.get(&service.package) == Some(&service.spec),
            "Nix reads a different [package.metadata.image] for {} than the Rust side",
            service.package
        );
    }
    eprintln!(
        "  Nix and Rust read the same image descriptions for {}",
        rust_names.join(", ")
    );
    Ok(())
}

fn is_hex40(s: &str) -> bool {
    s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// SRI sha256: `sha256-` and 44 characters of base64 (32 bytes, one `=` of padding).
fn is_sri_sha256(s: &str) -> bool {
    s.strip_prefix("sha256-").is_some_and(|b64| {
        b64.len() == 44
            && b64.ends_with('=')
            && b64[..43]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    })
}

/// `github:OWNER/REPO[/REF]` split into its parts.
fn parse_github_url(url: &str) -> Option<(&str, &str, Option<&str>)> {
    let rest = url.strip_prefix("github:")?;
    let mut parts = rest.splitn(3, '/');
    let owner = parts.next().filter(|s| !s.is_empty())?;
    let repo = parts.next().filter(|s| !s.is_empty())?;
    Some((owner, repo, parts.next()))
}

/// Every problem with `lock` given the `inputs` attribute of flake.nix (as JSON).
pub fn validate_lock(lock: &Value, inputs: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    let mut problem = |msg: String| problems.push(msg);
    if lock["version"] != 7 {
        problem(format!("lock version is {}, expected 7", lock["version"]));
    }
    let Some(nodes) = lock["nodes"].as_object() else {
        problem("no nodes".into());
        return problems;
    };
    let Some(root_name) = lock["root"].as_str() else {
        problem("no root node name".into());
        return problems;
    };
    let Some(root_inputs) = nodes.get(root_name).and_then(|n| n["inputs"].as_object()) else {
        problem(format!(
            "root node {root_name:?} is missing or has no inputs"
        ));
        return problems;
    };
    let Some(declared) = inputs.as_object() else {
        problem("flake.nix declares no inputs".into());
        return problems;
    };

    for name in declared.keys() {
        if !root_inputs.contains_key(name) {
            problem(format!(
                "input {name} is declared in flake.nix but not locked"
            ));
        }
    }
    for name in root_inputs.keys() {
        if !declared.contains_key(name) {
            problem(format!(
                "input {name} is locked but no longer declared in flake.nix"
            ));
        }
    }

    // Every node except the root must be locked to an exact GitHub revision.
    for (node_name, node) in nodes {
        if node_name == root_name {
            continue;
        }
        let locked = &node["locked"];
        let field = |k: &str| locked[k].as_str().unwrap_or_default();
        if field("type") != "github" {
            problem(format!(
                "{node_name}: locked type is {}, expected github",
                locked["type"]
            ));
        }
        if field("owner").is_empty() || field("repo").is_empty() {
            problem(format!("{node_name}: locked owner/repo missing"));
        }
        if !is_hex40(field("rev")) {
            problem(format!(
                "{node_name}: rev {} is not a 40-hex commit",
                locked["rev"]
            ));
        }
        if !is_sri_sha256(field("narHash")) {
            problem(format!(
                "{node_name}: narHash {} is not sha256-<base64>",
                locked["narHash"]
            ));
        }
        if locked["lastModified"].as_u64().unwrap_or(0) == 0 {
            problem(format!("{node_name}: lastModified missing"));
        }
        let original = &node["original"];
        if original["type"] != "github"
            || original["owner"] != locked["owner"]
            || original["repo"] != locked["repo"]
        {
            problem(format!(
                "{node_name}: original does not match the locked owner/repo"
            ));
        }
        // References from this node to others must resolve.
        if let Some(node_inputs) = node["inputs"].as_object() {
            for (input, target) in node_inputs {
                match target {
                    Value::String(t) if !nodes.contains_key(t) => problem(format!(
                        "{node_name}: input {input} points at missing node {t}"
                    )),
                    Value::Array(path) if path.is_empty() => {
                        problem(format!("{node_name}: input {input} follows an empty path"))
                    }
                    _ => {}
                }
            }
        }
    }

    // Each declared input: locked as a node of its own, matching flake.nix's URL and follows.
    for (name, decl) in declared {
        let Some(target) = root_inputs.get(name) else {
            continue;
        };
        let Some(node_name) = target.as_str() else {
            problem(format!(
                "root input {name} is not locked to a node of its own"
            ));
            continue;
        };
        let Some(node) = nodes.get(node_name) else {
            problem(format!(
                "root input {name} points at missing node {node_name}"
            ));
            continue;
        };
        match decl["url"].as_str().and_then(parse_github_url) {
            None => problem(format!(
                "flake.nix input {name}: url {} is not github:OWNER/REPO[/REF]",
                decl["url"]
            )),
            Some((owner, repo, reference)) => {
                let original = &node["original"];
                if original["owner"] != owner || original["repo"] != repo {
                    problem(format!(
                        "{name}: flake.nix wants github:{owner}/{repo}, the lock has {}/{}",
                        original["owner"], original["repo"]
                    ));
                }
                if original["ref"].as_str() != reference {
                    problem(format!(
                        "{name}: flake.nix wants ref {reference:?}, the lock's original has {}",
                        original["ref"]
                    ));
                }
            }
        }
        if let Some(decl_inputs) = decl["inputs"].as_object() {
            for (input, spec) in decl_inputs {
                let Some(follows) = spec["follows"].as_str() else {
                    continue;
                };
                let expected: Vec<Value> = follows
                    .split('/')
                    .map(|s| Value::String(s.to_owned()))
                    .collect();
                if node["inputs"][input] != Value::Array(expected.clone()) {
                    problem(format!(
                        "{name}: input {input} must follow {follows} (lock: {})",
                        node["inputs"][input]
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A good lock (the same pins as the repository's flake.lock, which `nix_checks` checks
    /// for real). Inline rather than included, so the test builds from Cargo sources alone
    /// (the Nix checks compile it without flake.lock in their source set).
    const LOCK: &str = r#"{
  "nodes": {
    "crane": {
      "locked": {
        "lastModified": 1785782307,
        "narHash": "sha256-MPaRdVkf6zZP5fCPxYCi8Dr4pZzgmXzg8T9nVEbp3Mw=",
        "owner": "ipetkov",
        "repo": "crane",
        "rev": "2c71e194474d13de031d729b729c968ddbe3507f",
        "type": "github"
      },
      "original": {
        "owner": "ipetkov",
        "repo": "crane",
        "type": "github"
      }
    },
    "nixpkgs": {
      "locked": {
        "lastModified": 1785734586,
        "narHash": "sha256-ODZkEK9Gy50yg6h98u7KkitZ3oc/uuTFK00bh1CRdNA=",
        "owner": "NixOS",
        "repo": "nixpkgs",
        "rev": "531670d871c0e29724a02f3cbcac170adc65b58c",
        "type": "github"
      },
      "original": {
        "owner": "NixOS",
        "ref": "nixos-26.05",
        "repo": "nixpkgs",
        "type": "github"
      }
    },
    "root": {
      "inputs": {
        "crane": "crane",
        "nixpkgs": "nixpkgs",
        "rust-overlay": "rust-overlay"
      }
    },
    "rust-overlay": {
      "inputs": {
        "nixpkgs": [
          "nixpkgs"
        ]
      },
      "locked": {
        "lastModified": 1787367552,
        "narHash": "sha256-YT4Fs2k7bi+7YzuLt93EtIRgjpwHK5ZfsQEIh5dEQSk=",
        "owner": "oxalica",
        "repo": "rust-overlay",
        "rev": "fd2ebb9cc4323d0c5a1336138dab5c3c5a5d8bd9",
        "type": "github"
      },
      "original": {
        "owner": "oxalica",
        "repo": "rust-overlay",
        "type": "github"
      }
    }
  },
  "root": "root",
  "version": 7
}"#;
    /// What `nix-instantiate --eval --json -E '(import ./flake.nix).inputs'` prints.
    const INPUTS: &str = r#"{"crane":{"url":"github:ipetkov/crane"},"nixpkgs":{"url":"github:NixOS/nixpkgs/nixos-26.05"},"rust-overlay":{"inputs":{"nixpkgs":{"follows":"nixpkgs"}},"url":"github:oxalica/rust-overlay"}}"#;

    fn good() -> (Value, Value) {
        (
            serde_json::from_str(LOCK).unwrap(),
            serde_json::from_str(INPUTS).unwrap(),
        )
    }

    fn problems_after(edit: impl FnOnce(&mut Value, &mut Value)) -> Vec<String> {
        let (mut lock, mut inputs) = good();
        edit(&mut lock, &mut inputs);
        validate_lock(&lock, &inputs)
    }

    #[test]
    fn the_repository_lock_is_valid() {
        let (lock, inputs) = good();
        assert_eq!(validate_lock(&lock, &inputs), Vec::<String>::new());
        assert_eq!(
            lock["nodes"]["nixpkgs"]["locked"]["rev"],
            "531670d871c0e29724a02f3cbcac170adc65b58c"
        );
    }

    fn assert_flags(problems: Vec<String>, needle: &str) {
        assert!(
            problems.iter().any(|p| p.contains(needle)),
            "{needle:?} not in {problems:?}"
        );
    }

    #[test]
    fn wrong_version() {
        assert_flags(
            problems_after(|l, _| l["version"] = 6.into()),
            "lock version",
        );
    }

    #[test]
    fn short_rev() {
        assert_flags(
            problems_after(|l, _| l["nodes"]["crane"]["locked"]["rev"] = "2c71e19".into()),
            "crane: rev",
        );
    }

    #[test]
    fn missing_nar_hash() {
        assert_flags(
            problems_after(|l, _| {
                l["nodes"]["nixpkgs"]["locked"]
                    .as_object_mut()
                    .unwrap()
                    .remove("narHash");
            }),
            "nixpkgs: narHash",
        );
    }

    #[test]
    fn non_github_input() {
        assert_flags(
            problems_after(|l, _| l["nodes"]["crane"]["locked"]["type"] = "path".into()),
            "locked type",
        );
    }

    #[test]
    fn undeclared_and_unlocked_inputs() {
        assert_flags(
            problems_after(|l, _| {
                l["nodes"]["root"]["inputs"]
                    .as_object_mut()
                    .unwrap()
                    .remove("crane");
            }),
            "crane is declared in flake.nix but not locked",
        );
        assert_flags(
            problems_after(|_, i| {
                i.as_object_mut().unwrap().remove("crane");
            }),
            "no longer declared",
        );
    }

    #[test]
    fn rust_overlay_must_follow_our_nixpkgs() {
        assert_flags(
            problems_after(|l, _| {
                l["nodes"]["rust-overlay"]["inputs"]["nixpkgs"] = "nixpkgs_2".into()
            }),
            "must follow nixpkgs",
        );
    }

    #[test]
    fn branch_must_match_flake_nix() {
        assert_flags(
            problems_after(|_, i| {
                i["nixpkgs"]["url"] = "github:NixOS/nixpkgs/nixos-unstable".into()
            }),
            "wants ref",
        );
        assert_flags(
            problems_after(|_, i| i["crane"]["url"] = "github:someone/crane".into()),
            "wants github:someone/crane",
        );
    }

    #[test]
    fn sri_and_github_parsers() {
        assert!(is_sri_sha256(
            "sha256-Ti+ZBvW6yrWWAg2szExVTwCd4qOJ3KlVr1tFHfyfi8Q="
        ));
        assert!(!is_sri_sha256("sha256-short="));
        assert!(!is_sri_sha256(
            "sha512-Ti+ZBvW6yrWWAg2szExVTwCd4qOJ3KlVr1tFHfyfi8Q="
        ));
        assert_eq!(
            parse_github_url("github:NixOS/nixpkgs/nixos-26.05"),
            Some(("NixOS", "nixpkgs", Some("nixos-26.05")))
        );
        assert_eq!(
            parse_github_url("github:ipetkov/crane"),
            Some(("ipetkov", "crane", None))
        );
        assert_eq!(parse_github_url("git+https://x"), None);
    }
}
