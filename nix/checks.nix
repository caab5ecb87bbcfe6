# `nix flake check`: lint, format, the test suite against a real PostgreSQL, the Helm chart,
# and a rebuild of an image that must come out bit for bit the same.
{
  pkgs,
  workspace,
  images,
}:
let
  inherit (pkgs) lib;
  inherit (workspace) craneLib commonArgs cargoArtifacts;
in
{
  clippy = craneLib.cargoClippy (
    commonArgs
    // {
      inherit cargoArtifacts;
      cargoClippyExtraArgs = "--all-targets -- --deny warnings";
    }
  );

  fmt = craneLib.cargoFmt { inherit (commonArgs) src; };

  tests = craneLib.cargoNextest (
    commonArgs
    // {
      inherit cargoArtifacts;
      nativeBuildInputs = commonArgs.nativeBuildInputs ++ [ pkgs.postgresql ];
      # real_tools runs images under runc and builds a fixture with a nested cargo: neither is
      # possible in the sandbox. `cargo xtask ci` runs it on a real machine.
      cargoNextestExtraArgs = "--no-tests=pass -E 'not binary(real_tools)'";
      # A real PostgreSQL for the tests, private to this build: data and socket in the build
      # directory, TCP on loopback only. The tests find it through DATABASE_URL.
      preCheck = ''
        export PGDATA=$TMPDIR/pgdata
        initdb -D "$PGDATA" -U postgres -A trust -E UTF8 --no-locale --no-sync > /dev/null
        pg_ctl -D "$PGDATA" -w -l "$TMPDIR/postgres.log" \
          -o "-c listen_addresses=127.0.0.1 -c port=54329 -c unix_socket_directories=$TMPDIR -c fsync=off" \
          start
        export DATABASE_URL=postgres://postgres@127.0.0.1:54329/postgres
        export PG_BIN_DIR=${pkgs.postgresql}/bin
      '';
      postCheck = ''
        pg_ctl -D "$PGDATA" -m fast stop
      '';
    }
  );

  # The services themselves must build.
}
// workspace.services
// lib.optionalAttrs (builtins.pathExists ../helm/todo) {
  helm-lint =
    pkgs.runCommand "helm-lint"
      {
        nativeBuildInputs = [ pkgs.kubernetes-helm ];
      }
      ''
        # helm wants a writable home for its cache and config.
        export HOME=$TMPDIR
        cp -r ${../helm/todo} chart
        chmod -R u+w chart
        helm lint --strict chart
        touch $out
      '';
}
// {
  # Builds todo-api's binary and image a second time, as separate derivations, and demands
  # identical archives. (Dependencies come from the shared cargoArtifacts in both builds;
  # `nix build --rebuild .#image-todo-api` re-checks a single derivation, too.)
  image-reproducible =
    let
      name = "todo-api";
      rebuilt = images.mkServiceImage {
        inherit name;
        binary = workspace.services.${name}.overrideAttrs (old: {
          pname = "${old.pname}-rebuild";
        });
      };
      first = images.services.${name};
    in
    pkgs.runCommand "image-reproducible" { } ''
      if ! cmp ${first} ${rebuilt}; then
        echo "image ${name} differs between two builds:" >&2
        echo "  ${first}" >&2
        echo "  ${rebuilt}" >&2
        exit 1
      fi
      touch $out
    '';
}
