# The service binaries for the other image platform than the build machine's CPU (arm64 on
# x86_64-linux, amd64 on aarch64-linux), the way crane's cross-rust-overlay example does it:
# a nixpkgs cross package set (here the static musl one, as for the native binaries) and
# crane, whose mkCrossToolchainEnv takes CARGO_BUILD_TARGET, the linker and the C compiler
# for aws-lc-sys and ring from that set. rust-overlay adds the target's standard library to
# the toolchain from rust-toolchain.toml by itself when it is instantiated for a cross set.
{
  # The build machine's nixpkgs (with the rust-overlay overlay, which pkgsCross inherits).
  pkgs,
  crane,
  # nix/workspace.nix of the build machine: the same sources and version.
  workspace,
  # A pkgsCross attribute: "musl64" (amd64) or "aarch64-multiplatform-musl" (arm64).
  crossName,
}:
let
  inherit (pkgs) lib;
  crossPkgs = pkgs.pkgsCross.${crossName}.pkgsStatic;
  craneLib = (crane.mkLib crossPkgs).overrideToolchain (
    p: p.rust-bin.fromRustupToolchainFile ../rust-toolchain.toml
  );
  commonArgs = {
    inherit (workspace) src;
    inherit (workspace.commonArgs) pname version;
    strictDeps = true;
    # musl is static by default; explicit so the binary cannot silently turn dynamic.
    CARGO_BUILD_RUSTFLAGS = "-C target-feature=+crt-static";
  };
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;
in
{
  inherit (crossPkgs.stdenv.hostPlatform.rust) rustcTarget;
  services = lib.genAttrs workspace.serviceNames (
    name:
    craneLib.buildPackage (
      commonArgs
      // {
        inherit cargoArtifacts;
        pname = name;
        src = workspace.packageSrc name;
        cargoExtraArgs = "--offline --package ${name} --bin ${name}";
        doCheck = false;
        meta.mainProgram = name;
      }
    )
  );
}
