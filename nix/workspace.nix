# The Rust side of the flake: one toolchain, one dependency build, one static musl derivation
# per service. Shared by packages, images, checks and the dev shell (see ../flake.nix).
{ pkgs, crane }:
let
  inherit (pkgs) lib;

  # Static musl for the build machine's CPU: x86_64-unknown-linux-musl or
  # aarch64-unknown-linux-musl. The images hold nothing but this binary.
  muslTarget = "${pkgs.stdenv.hostPlatform.parsed.cpu.name}-unknown-linux-musl";

  # The compiler pinned in rust-toolchain.toml (rustup reads the same file), plus the musl
  # target. The target is added here only: rustup on the Debian CI machine cannot install it,
  # so rust-toolchain.toml must not ask for it.
  rustToolchainFor =
    p:
    (p.rust-bin.fromRustupToolchainFile ../rust-toolchain.toml).override {
      targets = [ muslTarget ];
    };

  # Function form, as crane recommends: crane instantiates the toolchain for the right
  # package set when it splices build/host platforms.
  craneLib = (crane.mkLib pkgs).overrideToolchain rustToolchainFor;

  rootManifest = builtins.fromTOML (builtins.readFile ../Cargo.toml);

  # Plain lists of what goes into each source besides Cargo sources (see the file).
  lists = import ./source-files.nix;
  atRoot = rel: ../. + "/${rel}";

  # A crate's Cargo sources (Cargo.toml/lock, *.rs, *.toml) and its compile-time assets.
  # maybeMissing: not every crate has every asset directory.
  crateSources =
    dir:
    lib.fileset.unions (
      [ (craneLib.fileset.commonCargoSources dir) ]
      ++ map (sub: lib.fileset.maybeMissing (dir + "/${sub}")) lists.crateAssets
    );

  # Workspace-root files every build reads (Cargo.toml, Cargo.lock, clippy.toml, ...).
  rootFiles = lib.fileset.unions (map atRoot lists.root);

  # Every workspace member: `members = ["crates/*", "xtask"]` in ../Cargo.toml.
  crateDirs = map (name: ../crates + "/${name}") (
    builtins.attrNames (lib.filterAttrs (_: type: type == "directory") (builtins.readDir ../crates))
  );
  memberDirs = crateDirs ++ [ ../xtask ];

  # The whole workspace: what clippy and the shared dependency build see.
  workspaceFileset = lib.fileset.unions ([ rootFiles ] ++ map crateSources memberDirs);
  src = lib.fileset.toSource {
    root = ../.;
    fileset = workspaceFileset;
  };

  # The workspace plus what the tests read at run time.
  testFileset = lib.fileset.unions ([ workspaceFileset ] ++ map atRoot lists.testData);
  testSrc = lib.fileset.toSource {
    root = ../.;
    fileset = testFileset;
  };

  # Workspace dependencies declared with a path (`foo = { path = "crates/foo" }`).
  workspacePathDeps = lib.filterAttrs (_: d: builtins.isAttrs d && d ? path) (
    rootManifest.workspace.dependencies or { }
  );

  # Directories of the local crates that the crate in `dir` depends on (normal, dev and build
  # dependencies: cargo resolves all of them for the lock file).
  localDepsOf =
    dir:
    let
      manifest = builtins.fromTOML (builtins.readFile (dir + "/Cargo.toml"));
      tables = [
        (manifest.dependencies or { })
        (manifest.dev-dependencies or { })
        (manifest.build-dependencies or { })
      ];
      depDir =
        name: spec:
        if builtins.isAttrs spec && (spec.workspace or false) && workspacePathDeps ? ${name} then
          [ (atRoot workspacePathDeps.${name}.path) ]
        else if builtins.isAttrs spec && spec ? path then
          [ (dir + "/${spec.path}") ]
        else
          [ ];
    in
    lib.concatMap (table: lib.concatLists (lib.mapAttrsToList depDir table)) tables;

  # `dir` and every local crate it depends on, transitively.
  closureOf =
    dir:
    map (e: e.path) (
      builtins.genericClosure {
        startSet = [
          {
            key = toString dir;
            path = dir;
          }
        ];
        operator =
          e:
          map (p: {
            key = toString p;
            path = p;
          }) (localDepsOf e.path);
      }
    );

  # One package's source set: its crate and its local dependencies, nothing else, so an edit
  # to another service does not rebuild this one. xtask is always there because it is listed
  # by name in `members` (the `crates/*` glob tolerates absent crates, a named member does not).
  packageFileset =
    name:
    lib.fileset.unions (
      [ rootFiles ]
      ++ map crateSources (lib.unique (closureOf (../crates + "/${name}") ++ closureOf ../xtask))
    );
  packageSrc =
    name:
    lib.fileset.toSource {
      root = ../.;
      fileset = packageFileset name;
    };

  # C code in dependencies (aws-lc-sys, ring) has to be compiled against musl, not glibc:
  # nixpkgs' static musl toolchain provides that compiler. aws-lc-sys builds with the cc
  # crate on Linux targets, so neither CMake nor Perl is needed.
  muslCc = pkgs.pkgsStatic.stdenv.cc;
  targetEnv = builtins.replaceStrings [ "-" ] [ "_" ] muslTarget;

  commonArgs = {
    inherit src;
    pname = "todo-chatbot";
    inherit (rootManifest.workspace.package) version;
    # Keep build-time and run-time inputs apart (cross-compilation hygiene crane recommends).
    strictDeps = true;

    # Every artifact targets static musl, so one dependency build serves the service
    # binaries, clippy and the tests alike. With an explicit target, RUSTFLAGS apply to the
    # target only, so proc macros and build scripts still build for the host.
    CARGO_BUILD_TARGET = muslTarget;
    CARGO_BUILD_RUSTFLAGS = "-C target-feature=+crt-static";
    "CC_${targetEnv}" = "${muslCc}/bin/${muslCc.targetPrefix}cc";
    "AR_${targetEnv}" = "${muslCc}/bin/${muslCc.targetPrefix}ar";
    HOST_CC = "${pkgs.stdenv.cc.nativePrefix}cc";
  };

  # Dependencies of the whole workspace, built once (from crane's dummy sources, so editing
  # our code never invalidates it) and shared by every derivation below.
  cargoArtifacts = craneLib.buildDepsOnly commonArgs;

  # Image descriptions: every crate with [package.metadata.image] is a service.
  serviceNames = builtins.filter (
    name:
    let
      manifest = builtins.fromTOML (builtins.readFile (../crates + "/${name}/Cargo.toml"));
    in
    manifest ? package.metadata.image
  ) (map baseNameOf crateDirs);

  # One package's binary, from the shared dependency build.
  mkBinary =
    {
      name,
      bin ? name,
    }:
    craneLib.buildPackage (
      commonArgs
      // {
        inherit cargoArtifacts;
        pname = bin;
        src = packageSrc name;
        # `--locked` would fail here: cargo drops the members this source set leaves out from
        # the lock file. Versions still come from Cargo.lock (only locked crates are vendored,
        # and the build is offline).
        cargoExtraArgs = "--offline --package ${name} --bin ${bin}";
        # The tests run once, for the whole workspace, in checks.tests.
        doCheck = false;
        # The binary must not keep the toolchain or vendored sources alive (crane strips
        # vendor references by default; this makes a leak fail loudly). The images copy the
        # bytes, not the store path, so this is about `nix build .#todo-api` closures.
        disallowedReferences = [ (rustToolchainFor pkgs) ];
        meta.mainProgram = bin;
      }
    );

  services = lib.genAttrs serviceNames (name: mkBinary { inherit name; });

  # The assembler `cargo xtask images` uses, as a command (crates/oci-image/src/bin), so the
  # Nix images come out of the same code as the native ones.
  imageTool = mkBinary {
    name = "oci-image";
  };
in
{
  inherit
    craneLib
    commonArgs
    cargoArtifacts
    services
    serviceNames
    mkBinary
    imageTool
    src
    testSrc
    packageSrc
    muslTarget
    ;
  # The file sets behind the sources, for inspection:
  # `lib.fileset.trace workspace.filesets.tests` lists what the test check sees.
  filesets = {
    workspace = workspaceFileset;
    tests = testFileset;
    package = packageFileset;
  };
  rustToolchain = rustToolchainFor pkgs;
  # The dev shell's toolchain: both musl targets, for `cargo xtask images` (cargo-zigbuild).
  devCraneLib = craneLib.overrideToolchain (
    p:
    (p.rust-bin.fromRustupToolchainFile ../rust-toolchain.toml).override {
      targets = [
        "x86_64-unknown-linux-musl"
        "aarch64-unknown-linux-musl"
      ];
    }
  );
}
