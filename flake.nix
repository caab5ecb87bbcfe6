{
  description = "todo-chatbot: Rust services, reproducible minimal OCI images, Kubernetes deployment";

  inputs = {
    # A release branch crane supports. crane's lib/default.nix declares its oldest supported
    # nixpkgs (`minSupported = "26.05"` at the crane revision in flake.lock; 25.11 was
    # dropped in crane PR #1056), and flake.lock pins this branch at the revision crane's own
    # test/flake.lock tests against (`nixpkgs-latest-release`, same revision and narHash).
    # When bumping crane, re-read both files at the new revision.
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-26.05";

    crane.url = "github:ipetkov/crane";

    rust-overlay = {
      url = "github:oxalica/rust-overlay";
      # One nixpkgs for everything: no second copy to download, and the toolchain links
      # against the same libraries as the rest of the build.
      inputs.nixpkgs.follows = "nixpkgs";
    };
  };

  outputs =
    {
      self,
      nixpkgs,
      crane,
      rust-overlay,
      ...
    }:
    let
      inherit (nixpkgs) lib;

      # Binaries and images are static Linux executables. Either Linux system builds the
      # images for both platforms: its own CPU natively, the other by cross compilation.
      linuxSystems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      # The dev shell and formatter also run on macOS; images come from a Linux builder
      # there (README: "Images on macOS").
      allSystems = linuxSystems ++ [
        "x86_64-darwin"
        "aarch64-darwin"
      ];

      perSystem =
        system:
        let
          pkgs = import nixpkgs {
            inherit system;
            # rust-bin (the toolchain from rust-toolchain.toml) comes from this overlay.
            overlays = [ (import rust-overlay) ];
          };
          workspace = import ./nix/workspace.nix { inherit pkgs crane; };
          # The other image platform's binaries: arm64 from x86_64, amd64 from aarch64.
          cross = import ./nix/cross.nix {
            inherit pkgs crane workspace;
            crossName =
              {
                x86_64 = "aarch64-multiplatform-musl";
                aarch64 = "musl64";
              }
              .${pkgs.stdenv.hostPlatform.parsed.cpu.name};
          };
          images = import ./nix/images.nix {
            inherit pkgs workspace;
            # The committer time of the last commit: `cargo xtask images` stamps the same
            # (git log -1 --format=%ct), so both builders write the same `created`.
            sourceEpoch = self.lastModified;
            binarySets = [
              workspace.services
              cross.services
            ];
          };
        in
        {
          inherit
            pkgs
            workspace
            cross
            images
            ;
          checks = import ./nix/checks.nix { inherit pkgs workspace images; };
        };

      forSystems = systems: f: lib.genAttrs systems (system: f (perSystem system));
    in
    {
      packages = forSystems linuxSystems (
        {
          workspace,
          cross,
          images,
          ...
        }:
        # todo-api, todo-mcp, todo-web: the static binaries for this machine's CPU.
        workspace.services
        # todo-api-aarch64-unknown-linux-musl, ...: the other platform's.
        // lib.mapAttrs' (name: binary: lib.nameValuePair "${name}-${cross.rustcTarget}" binary) cross.services
        # image-todo-api, ...: each service's image for both platforms (a directory of archives).
        // lib.mapAttrs' (name: image: lib.nameValuePair "image-${name}" image) images.services
        // {
          image-postgres = images.postgres;
          # Every image plus manifest.json. `nix build .#images.postgres` (or
          # `.#images.todo-api`) picks one image through passthru.
          images = images.all;
          default = images.all;
        }
      );

      checks = forSystems linuxSystems ({ checks, ... }: checks);

      devShells = forSystems allSystems (
        { pkgs, workspace, ... }:
        {
          # cargo, rustc, clippy and rustfmt come from the crane toolchain (rust-toolchain.toml,
          # plus both musl targets).
          # The rest is what `cargo xtask deploy` and `cargo xtask ci` call; `bash .ci/run`
          # adds the tools nixpkgs lacks (Helm 4 next to nixpkgs' Helm, the MCP Python SDK,
          # kubernetes-validate) under .tools/.
          default = workspace.devCraneLib.devShell {
            packages = [
              pkgs.minikube
              pkgs.kubernetes-helm
              pkgs.kubectl
              pkgs.k8sgpt
              # Natural-language kubectl (README: "Asking the cluster"); nixpkgs'
              # pkgs/by-name/ku/kubectl-ai/package.nix.
              pkgs.kubectl-ai
              pkgs.postgresql
              pkgs.skopeo
              pkgs.openssl
              pkgs.cargo-nextest
              # crates/workspace-hack (`cargo hakari generate`) and the unused-dependency check.
              pkgs.cargo-hakari
              pkgs.cargo-machete
              # `cargo xtask images` cross-compiles both platforms with these.
              pkgs.cargo-zigbuild
              pkgs.zig
              pkgs.python3
              pkgs.nodejs
              pkgs.unzip
            ]
            # Linux-only: running images (umoci, runc) and the browser end to end.
            ++ lib.optionals pkgs.stdenv.hostPlatform.isLinux [
              pkgs.umoci
              pkgs.runc
              pkgs.chromium
              pkgs.chromedriver
            ];
          };
        }
      );

      # nixfmt-tree runs the RFC-style nixfmt over the whole tree for a bare `nix fmt`.
      formatter = forSystems allSystems ({ pkgs, ... }: pkgs.nixfmt-tree);
    };
}
