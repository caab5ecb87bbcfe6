//! Static checks of the Nix derivations' inputs, for defects that only show inside the Nix
//! sandbox (where a file missing from a source set is simply not there) and that CI cannot
//! build to find out:
//! - every workspace-root file cargo, clippy, rustfmt or rustup reads is in `root` of
//!   `nix/source-files.nix`, and every entry there exists;
//! - every tracked file in a crate that is not a Cargo source lies in an asset or test-data
//!   directory of `nix/source-files.nix` (or is read by something other than cargo);
//! - every top-level directory the crates' code names (`helm`, `k8s`) is test data;
//! - the test check brings the programs the tests run (Helm, PostgreSQL) and uses the test
//!   source; `cargoFmt` gets a pname and version;
//! - no single file (`writeShellScript`, `writeText`, ...) goes into an image's `contents` or
//!   a `symlinkJoin`'s `paths`, whose lndir accepts directories only.

use serde::Deserialize;
use std::collections::BTreeSet;

/// `nix/source-files.nix`, as `nix-instantiate --eval --strict --json` prints it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SourceLists {
    pub root: Vec<String>,
    pub crate_assets: Vec<String>,
    pub test_data: Vec<String>,
}

/// Workspace-root files that cargo, clippy, rustfmt and rustup read when present.
pub const ROOT_CONFIG_FILES: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    ".cargo/config.toml",
    ".cargo/config",
    "clippy.toml",
    ".clippy.toml",
    "rustfmt.toml",
    ".rustfmt.toml",
    "rust-toolchain.toml",
    "rust-toolchain",
];

/// Tracked crate files that no cargo build or test reads (pytest and node run these, from
/// `cargo xtask ci`, step interop).
pub const NOT_READ_BY_CARGO: &[&str] = &[
    "crates/todo-mcp/tests/python/",
    "crates/todo-mcp/tests/clients/",
];

/// What crane's `fileset.commonCargoSources` keeps of a member directory.
pub fn is_cargo_source(path: &str) -> bool {
    path.ends_with(".rs") || path.ends_with(".toml") || path.ends_with("/Cargo.lock")
}

/// Problems with `root`: a config file that exists but is left out, or an entry that does
/// not exist (lib.fileset refuses a missing path).
pub fn root_problems(lists: &SourceLists, exists: impl Fn(&str) -> bool) -> Vec<String> {
    let mut problems = Vec::new();
    for file in ROOT_CONFIG_FILES {
        if exists(file) && !lists.root.iter().any(|r| r == file) {
            problems.push(format!(
                "{file} is read by cargo/clippy/rustfmt but is not in `root` of nix/source-files.nix: \
                 the Nix builds and checks would run without it"
            ));
        }
    }
    for entry in &lists.root {
        if !exists(entry) {
            problems.push(format!(
                "`root` of nix/source-files.nix lists {entry}, which does not exist"
            ));
        }
    }
    problems
}

/// Tracked files under the member directories that no Nix source holds.
pub fn uncovered_files(tracked: &[String], members: &[String], lists: &SourceLists) -> Vec<String> {
    let mut problems = Vec::new();
    for file in tracked {
        let Some(member) = members.iter().find(|m| file.starts_with(&format!("{m}/"))) else {
            continue;
        };
        let covered = is_cargo_source(file)
            || lists
                .crate_assets
                .iter()
                .any(|asset| file.starts_with(&format!("{member}/{asset}/")))
            || lists
                .test_data
                .iter()
                .any(|dir| file == dir || file.starts_with(&format!("{dir}/")))
            || NOT_READ_BY_CARGO.iter().any(|p| file.starts_with(p));
        if !covered {
            problems.push(format!(
                "{file} is in no Nix source: add its directory to `crateAssets` (read while \
                 compiling) or `testData` (read by tests) in nix/source-files.nix"
            ));
        }
    }
    problems
}

/// Paths in `code` built from one of `top_dirs`: a literal passed to `join(` or `Path::new(`
/// (`root.join("helm")`, `Path::new("../../k8s")`). Other literals (program names, messages
/// naming an installer) are not reads.
pub fn named_top_dirs(code: &str, top_dirs: &[String]) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for opener in ["join(\"", "Path::new(\""] {
        for piece in code.split(opener).skip(1) {
            let literal = piece.split('"').next().unwrap_or_default();
            let trimmed = literal.trim_start_matches("../").trim_end_matches('/');
            let first = trimmed.split('/').next().unwrap_or_default();
            if let Some(dir) = top_dirs.iter().find(|d| d.as_str() == first) {
                found.insert(dir.clone());
            }
        }
    }
    found
}

/// Top-level directories the crates name but `testData` leaves out.
pub fn missing_test_data(named: &BTreeSet<String>, lists: &SourceLists) -> Vec<String> {
    named
        .iter()
        .filter(|dir| {
            !lists
                .test_data
                .iter()
                .any(|t| t == *dir || t.starts_with(&format!("{dir}/")))
        })
        .map(|dir| {
            format!(
                "the crates read {dir}/ (a literal names it) but `testData` in nix/source-files.nix \
                 does not list it: tests that read it fail in `nix flake check`"
            )
        })
        .collect()
}

/// What evaluating nix/checks.nix against stand-ins says about the test and fmt checks.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CheckInputs {
    /// `tests.nativeBuildInputs` (stand-in packages evaluate to their attribute names).
    pub test_inputs: Vec<String>,
    /// `tests.src`: `"testSrc"` when it is the test source.
    pub test_src: String,
    pub fmt_has_pname: bool,
    pub fmt_has_version: bool,
}

/// Programs the tests run, and the nixpkgs attribute that provides each.
pub const TEST_PROGRAMS: &[(&str, &str)] = &[
    ("helm (chart-policy)", "kubernetes-helm"),
    ("initdb/postgres (throwaway-postgres)", "postgresql"),
];

/// The Nix expression that evaluates nix/checks.nix with stand-ins for nixpkgs and crane.
/// Evaluation is lazy, so only what is asked for needs a stand-in.
pub const CHECK_INPUTS_EXPR: &str = r#"
let
  pkgs = { lib = { }; postgresql = "postgresql"; kubernetes-helm = "kubernetes-helm"; };
  craneLib = { cargoNextest = a: a; cargoClippy = a: a; cargoFmt = a: a; };
  workspace = {
    inherit craneLib;
    commonArgs = { };
    cargoArtifacts = null;
    services = { };
    src = "src";
    testSrc = "testSrc";
  };
  checks = import ./nix/checks.nix { inherit pkgs workspace; images = { }; };
in {
  testInputs = checks.tests.nativeBuildInputs;
  testSrc = checks.tests.src;
  fmtHasPname = checks.fmt ? pname;
  fmtHasVersion = checks.fmt ? version;
}
"#;

pub fn check_input_problems(inputs: &CheckInputs) -> Vec<String> {
    let mut problems = Vec::new();
    for (program, attr) in TEST_PROGRAMS {
        if !inputs.test_inputs.iter().any(|i| i == attr) {
            problems.push(format!(
                "the tests run {program}, but checks.tests has no pkgs.{attr} in nativeBuildInputs"
            ));
        }
    }
    if inputs.test_src != "testSrc" {
        problems.push(format!(
            "checks.tests builds from {:?}, not workspace.testSrc: the tests' fixtures, chart \
             and manifests would be missing",
            inputs.test_src
        ));
    }
    if !(inputs.fmt_has_pname && inputs.fmt_has_version) {
        problems.push(
            "checks.fmt has no pname/version: crane guesses them and warns on every evaluation"
                .into(),
        );
    }
    problems
}

/// nixpkgs builders whose output is one file, not a directory.
const SINGLE_FILE_WRITERS: &[&str] = &[
    "writeShellScript",
    "writeScript",
    "writeText",
    "writeTextFile",
    "writeShellApplication",
];

/// Names bound to a single-file writer (`x = pkgs.writeShellScript "..."`), or used inline,
/// inside a `contents = [ ... ]`, `extraContents = [ ... ]` or `paths = [ ... ]` list.
/// (`writeTextFile` with a `destination` and `writeShellApplication` write directories, so
/// they count only without `destination` / never; kept simple: writeTextFile always counts,
/// writeShellApplication never.)
pub fn single_files_in_contents(nix: &str) -> Vec<String> {
    let writers: Vec<&str> = SINGLE_FILE_WRITERS
        .iter()
        .copied()
        .filter(|w| *w != "writeShellApplication")
        .collect();
    let is_writer = |word: &str| {
        let name = word.rsplit('.').next().unwrap_or(word);
        writers.contains(&name)
    };
    // Bindings `name = pkgs.writeX ...`.
    let mut single: BTreeSet<String> = BTreeSet::new();
    for line in nix.lines() {
        let Some((lhs, rhs)) = line.split_once('=') else {
            continue;
        };
        let name = lhs.trim();
        let first = rhs.split_whitespace().next().unwrap_or_default();
        if !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
            && is_writer(first)
        {
            single.insert(name.to_owned());
        }
    }
    let mut problems = Vec::new();
    for key in ["contents", "extraContents", "paths"] {
        let pattern = format!("{key} = [");
        let mut rest = nix;
        while let Some(at) = rest.find(&pattern) {
            let after = &rest[at + pattern.len()..];
            let Some(end) = closing_bracket(after) else {
                break;
            };
            let list = &after[..end];
            for word in list.split(|c: char| c.is_whitespace() || c == '(' || c == ')') {
                if single.contains(word) || is_writer(word) {
                    problems.push(format!(
                        "`{word}` in a `{key}` list is a single file ({}): symlinkJoin's lndir \
                         (streamLayeredImage contents, symlinkJoin paths) needs directories; use \
                         the *Bin variant or writeTextDir",
                        writer_of(nix, word)
                    ));
                }
            }
            rest = &after[end..];
        }
    }
    problems
}

fn writer_of(nix: &str, word: &str) -> String {
    nix.lines()
        .find_map(|line| {
            let (lhs, rhs) = line.split_once('=')?;
            (lhs.trim() == word).then(|| rhs.split_whitespace().next().unwrap_or("").to_owned())
        })
        .unwrap_or_else(|| word.to_owned())
}

/// Index of the `]` that closes a list whose `[` was just consumed.
fn closing_bracket(text: &str) -> Option<usize> {
    let mut depth = 1usize;
    for (i, c) in text.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lists() -> SourceLists {
        SourceLists {
            root: vec![
                "Cargo.toml".into(),
                "Cargo.lock".into(),
                ".cargo/config.toml".into(),
                "clippy.toml".into(),
            ],
            crate_assets: vec!["migrations".into(), "templates".into(), "static".into()],
            test_data: vec!["crates/cluster-doctor/tests/fixtures".into(), "helm".into()],
        }
    }

    #[test]
    fn a_root_config_file_left_out_is_caught() {
        let present = [
            "Cargo.toml",
            "Cargo.lock",
            ".cargo/config.toml",
            "clippy.toml",
        ];
        assert!(root_problems(&lists(), |f| present.contains(&f)).is_empty());
        // The original defect: clippy.toml exists, the source leaves it out.
        let mut without = lists();
        without.root.retain(|r| r != "clippy.toml");
        let problems = root_problems(&without, |f| present.contains(&f));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("clippy.toml is read"), "{problems:?}");
        // rustfmt.toml appears later: caught too.
        let problems = root_problems(&lists(), |f| present.contains(&f) || f == "rustfmt.toml");
        assert!(problems[0].contains("rustfmt.toml"), "{problems:?}");
        // A listed file that is gone would break lib.fileset.
        let problems = root_problems(&lists(), |f| f != "clippy.toml");
        assert!(
            problems
                .iter()
                .any(|p| p.contains("lists clippy.toml, which does not exist")),
            "{problems:?}"
        );
    }

    #[test]
    fn fixtures_outside_the_sources_are_caught() {
        let members = vec![
            "crates/cluster-doctor".to_string(),
            "crates/todo-web".into(),
        ];
        let tracked: Vec<String> = [
            "crates/cluster-doctor/src/lib.rs",
            "crates/cluster-doctor/Cargo.toml",
            "crates/cluster-doctor/tests/fixtures/oom.yaml",
            "crates/todo-web/templates/base.html",
            "crates/todo-web/static/app.css",
            "crates/todo-mcp/tests/python/test_sdk.py",
            "README.md",
        ]
        .map(String::from)
        .to_vec();
        assert!(uncovered_files(&tracked, &members, &lists()).is_empty());
        let mut without = lists();
        without.test_data.clear();
        without.crate_assets.retain(|a| a != "static");
        let problems = uncovered_files(&tracked, &members, &without);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("tests/fixtures/oom.yaml"));
        assert!(problems[1].contains("static/app.css"));
    }

    #[test]
    fn chart_and_manifests_named_by_tests_must_be_test_data() {
        let top = vec!["helm".to_string(), "k8s".into(), "nix".into()];
        let code = r#"repo_root().join("helm").join("todo"); Path::new("../../k8s/README.md");
            Command::new("nix"); const I: &str = "nix/install.sh"; root.join("not/a/dir")"#;
        let named = named_top_dirs(code, &top);
        assert_eq!(
            named.iter().map(String::as_str).collect::<Vec<_>>(),
            ["helm", "k8s"]
        );
        let problems = missing_test_data(&named, &lists());
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("read k8s/"), "{problems:?}");
    }

    #[test]
    fn a_test_check_without_helm_is_caught() {
        let good = CheckInputs {
            test_inputs: vec!["postgresql".into(), "kubernetes-helm".into()],
            test_src: "testSrc".into(),
            fmt_has_pname: true,
            fmt_has_version: true,
        };
        assert!(check_input_problems(&good).is_empty());
        // The original defects: no helm, the workspace source, cargoFmt without pname.
        let bad = CheckInputs {
            test_inputs: vec!["postgresql".into()],
            test_src: "src".into(),
            fmt_has_pname: false,
            fmt_has_version: false,
        };
        let problems = check_input_problems(&bad);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].contains("pkgs.kubernetes-helm"));
    }

    #[test]
    fn a_script_file_in_image_contents_is_caught() {
        // The shape of the original defect in nix/images.nix.
        let broken = r#"
  postgresEntrypoint = pkgs.writeShellScript "postgres-entrypoint" ''
    exec postgres
  '';
  postgres = streamImage {
    contents = [
      pkgs.postgresql
      (accounts spec)
    ]
    ++ extraContents;
    extraContents = [ postgresEntrypoint ];
  };
"#;
        let problems = single_files_in_contents(broken);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].contains("`postgresEntrypoint`"), "{problems:?}");
        assert!(problems[0].contains("writeShellScript"), "{problems:?}");
        let inline = r#"paths = [ (pkgs.writeText "passwd" "root:x:0:0") ];"#;
        assert_eq!(single_files_in_contents(inline).len(), 1);
        let fixed = r#"
  postgresEntrypoint = pkgs.writeShellScriptBin "postgres-entrypoint" ''
    exec postgres
  '';
  contents = [ pkgs.postgresql postgresEntrypoint (pkgs.writeTextDir "etc/passwd" "x") ];
"#;
        assert!(single_files_in_contents(fixed).is_empty());
    }
}
