# `nix flake check`: lint, format, the test suite against a real PostgreSQL, the Helm chart,
# and an independent rebuild that must come out bit for bit the same.
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

  # crates/workspace-hack is what cargo-hakari would generate now, and every crate depends on
  # it: as crane's examples/quick-start-workspace does it. A stale hack does not break a
  # build, it only brings back the recompiles it exists to prevent (xtask/src/one_build.rs).
  hakari = craneLib.mkCargoDerivation {
    inherit (commonArgs) src pname version;
    cargoArtifacts = null;
    doInstallCargoArtifacts = false;
    buildPhaseCargoCommand = ''
      cargo hakari generate --diff
      cargo hakari manage-deps --dry-run
      cargo hakari verify
    '';
    nativeBuildInputs = [ pkgs.cargo-hakari ];
  };

  # pname/version from commonArgs: without them crane guesses from Cargo.toml and warns on
  # every evaluation (the workspace root has no [package]).
  fmt = craneLib.cargoFmt {
    inherit (commonArgs) src pname version;
  };

  tests = craneLib.cargoNextest (
    commonArgs
    // {
      inherit cargoArtifacts;
      # Fixtures, the chart and k8s/ (nix/source-files.nix, testData): tests read them.
      src = workspace.testSrc;
      # The chart tests render with whatever Helm major nixpkgs ships (3 or 4);
      # `cargo xtask ci` runs them with both.
      nativeBuildInputs = [
        pkgs.postgresql
        pkgs.kubernetes-helm
      ];
      # real_tools runs images under runc and builds a fixture with a nested cargo: neither is
      # possible in the sandbox. `cargo xtask ci` runs it on a real machine.
      cargoNextestExtraArgs = "--no-tests=pass -E 'not binary(real_tools)'";
      # A real PostgreSQL for the tests, private to this build: data and socket in the build
      # directory, TCP on loopback only. The tests find it through DATABASE_URL.
      preCheck = ''
        export HOME=$TMPDIR
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
}
# The services themselves must build.
// workspace.services
// {
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

  # todo-api compiled a second time for every image platform, as separate derivations (the
  # names differ, nothing the compiler sees does), and its image assembled from those
  # binaries: binaries and archives must equal the first build byte for byte. The images
  # hold the binaries' bytes, not their store paths, so the comparison is meaningful.
  # `nix build --rebuild .#images` re-checks every derivation.
  image-reproducible =
    let
      name = "todo-api";
      first = map (set: set.${name}) images.binarySets;
      rebuilt = map (
        binary:
        binary.overrideAttrs (old: {
          pname = "${old.pname}-rebuild";
        })
      ) first;
      firstImage = images.services.${name};
      rebuiltImage = images.mkServiceImage {
        inherit name;
        binaries = rebuilt;
        drvSuffix = "-rebuild";
      };
    in
    pkgs.runCommand "image-reproducible" { } ''
      status=0
      ${lib.concatStrings (
        lib.zipListsWith (a: b: ''
          if ! cmp ${lib.getExe a} ${lib.getExe b}; then
            echo "a ${name} binary differs between two builds: ${lib.getExe a} ${lib.getExe b}" >&2
            status=1
          fi
        '') first rebuilt
      )}
      for archive in ${firstImage}/*.oci.tar; do
        if ! cmp "$archive" "${rebuiltImage}/$(basename "$archive")"; then
          echo "$(basename "$archive") differs between two builds" >&2
          status=1
        fi
      done
      [ $status = 0 ] && touch $out
      exit $status
    '';
}
