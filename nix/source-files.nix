# What the derivations' sources hold besides each workspace member's Cargo sources (crane's
# `fileset.commonCargoSources` of the member's directory: `Cargo.toml`, `Cargo.lock`, `*.rs`,
# `*.toml`), as plain data. nix/workspace.nix turns it into lib.fileset values; `cargo xtask ci` reads it
# with a bare Nix (no nixpkgs needed) and fails when a file that cargo, clippy or a test reads
# is missing from it, because in the sandbox such a file is simply not there.
{
  # Read from the workspace root by every cargo, clippy and rustfmt run. clippy.toml holds
  # `allow-unwrap-in-tests`; without it `clippy --all-targets -- --deny warnings` fails.
  root = [
    "Cargo.toml"
    "Cargo.lock"
    ".cargo/config.toml"
    "clippy.toml"
    "rust-toolchain.toml"
    # cargo-hakari's settings: the `hakari` check regenerates crates/workspace-hack from it.
    ".config/hakari.toml"
  ];

  # Per crate, relative to the crate's directory: what it reads while compiling (sqlx's
  # `migrate!` embeds migrations/, askama reads templates/, `include_str!` reads static/).
  crateAssets = [
    "migrations"
    "templates"
    "static"
  ];

  # Relative to the repository root: what the tests read at run time (cluster fixtures, the
  # chart, the rendered manifests). Only the test check's source holds these, so editing the
  # chart rebuilds no binary.
  testData = [
    "crates/cluster-doctor/tests/fixtures"
    "crates/cluster-ask/tests/fixtures"
    "crates/chart-policy/checkov-skips.txt"
    "helm"
    "k8s"
  ];
}
