{
  description = "todo-chatbot: Rust services, reproducible minimal OCI images, Kubernetes deployment";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.11";

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

      # The images are linux/amd64 and the static binaries target x86_64 musl.
      systems = [ "x86_64-linux" ];

      perSystem =
        system:
        let
          pkgs = import nixpkgs {
            inherit system;
            # rust-bin (the toolchain from rust-toolchain.toml) comes from this overlay.
            overlays = [ (import rust-overlay) ];
          };
          workspace = import ./nix/workspace.nix { inherit pkgs crane; };
          images = import ./nix/images.nix { inherit pkgs workspace; };
        in
        {
          inherit pkgs workspace images;
          checks = import ./nix/checks.nix { inherit pkgs workspace images; };
        };

      forAllSystems = f: lib.genAttrs systems (system: f (perSystem system));
    in
    {
      packages = forAllSystems (
        { workspace, images, ... }:
        # todo-api, todo-mcp, todo-web: the static binaries.
        workspace.services
        # image-todo-api, ...: one image archive each.
        // lib.mapAttrs' (name: image: lib.nameValuePair "image-${name}" image) images.services
        // {
          image-postgres = images.postgres;
          # Every image plus manifest.json. `nix build .#images.postgres` (or
          # `.#images.todo-api`) picks one image through passthru.
          images = images.all;
          default = images.all;
        }
      );

      checks = forAllSystems ({ checks, ... }: checks);

      devShells = forAllSystems (
        { pkgs, workspace, ... }:
        {
          default = workspace.craneLib.devShell {
            # Pulls in the build inputs of every check (postgresql, helm, cmake, ...).
            checks = self.checks.${pkgs.stdenv.hostPlatform.system};
            # cargo, rustc, clippy and rustfmt come from the crane toolchain above.
            packages = [
              pkgs.minikube
              pkgs.kubernetes-helm
              pkgs.kubectl
              pkgs.postgresql
              pkgs.skopeo
              pkgs.umoci
              pkgs.runc
              pkgs.cargo-nextest
            ]
            ++ lib.optionals (pkgs ? k8sgpt) [ pkgs.k8sgpt ];
          };
        }
      );

      # nixfmt-tree runs the RFC-style nixfmt over the whole tree for a bare `nix fmt`;
      # plain nixfmt (RFC style since 25.11) where nixfmt-tree is missing.
      formatter = forAllSystems ({ pkgs, ... }: pkgs.nixfmt-tree or pkgs.nixfmt);
    };
}
