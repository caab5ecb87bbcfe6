# Service images from the one description in each service's Cargo.toml
# ([package.metadata.image]), assembled by the same code as `cargo xtask images` (the
# `oci-image` command from crates/oci-image), plus PostgreSQL from nixpkgs.
#
# Every image ends up in one archive format: an OCI image layout in a tar with a
# content-derived tag, plus Docker's manifest.json (the hybrid `docker save` writes since
# Docker 25), so skopeo, containerd, `docker load` and `minikube image load` all take it.
{
  pkgs,
  workspace,
  # Seconds since 1970 for `created` and every mtime: the flake's `self.lastModified`, the
  # committer time of the last commit, which is what `cargo xtask images` uses too.
  sourceEpoch,
  # One attrset of service binaries (service name -> derivation) per image platform: the
  # native ones (workspace.services) and the cross-compiled ones (nix/cross.nix).
  binarySets,
}:
let
  inherit (pkgs) lib dockerTools;

  # RFC 3339 UTC of sourceEpoch, for dockerTools' `created` (the service images get theirs
  # from the assembler, from the same number).
  created = import ./rfc3339.nix sourceEpoch;

  # The CA bundle the images carry at /etc/ssl/certs/ca-certificates.crt (natively it is the
  # build host's Debian package; here nixpkgs' Mozilla bundle).
  caBundle = "${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt";

  # This machine's CPU as an image platform: PostgreSQL's image is built for it only.
  hostArch =
    {
      x86_64 = "amd64";
      aarch64 = "arm64";
    }
    .${pkgs.stdenv.hostPlatform.parsed.cpu.name};

  # One service's image for every platform it gets a binary for: a directory with
  # <name>.oci.tar (the multi-platform index), <name>-<arch>.oci.tar per platform and
  # catalog-entry.json (its entry of manifest.json), as `cargo xtask images` writes them.
  mkServiceImage =
    {
      name,
      binaries,
      # Only the derivation name: a second derivation of the same image for the
      # reproducibility check.
      drvSuffix ? "",
    }:
    let
      spec = (builtins.fromTOML (builtins.readFile (../crates + "/${name}/Cargo.toml"))).package.metadata.image;
    in
    pkgs.runCommand "${name}${drvSuffix}-image"
      {
        nativeBuildInputs = [ workspace.imageTool ];
        passthru.imageName = spec.name;
      }
      ''
        mkdir -p "$out"
        oci-image build \
          --manifest ${../crates + "/${name}/Cargo.toml"} \
          ${lib.concatMapStringsSep " " (binary: "--binary ${lib.getExe' binary spec.binary}") binaries} \
          --ca-bundle ${caBundle} \
          --ca-provenance "nixpkgs cacert ${pkgs.cacert.version}" \
          --epoch ${toString sourceEpoch} \
          --out-dir "$out" > catalog-entry.json
        mv catalog-entry.json "$out/"
      '';

  services = lib.genAttrs workspace.serviceNames (
    name:
    mkServiceImage {
      inherit name;
      binaries = map (set: set.${name}) binarySets;
    }
  );

  # PostgreSQL from the same nixpkgs pin, so a cluster can run the whole stack without a
  # registry. Unlike the services it has a closure (libraries, a shell: initdb runs on first
  # start), so dockerTools lays it out, and skopeo turns its Docker archive into the same
  # archive format. (That conversion would drop a Healthcheck; this image declares none.)
  postgresUser = "65532";

  # A directory with bin/postgres-entrypoint, not a bare file: streamLayeredImage joins
  # `contents` with symlinkJoin, whose lndir accepts directories only.
  postgresEntrypoint = pkgs.writeShellScriptBin "postgres-entrypoint" ''
    set -euo pipefail
    export PATH=${
      lib.makeBinPath [
        pkgs.postgresql
        pkgs.coreutils
      ]
    }
    : "''${PGDATA:=/var/lib/postgresql/data/pgdata}"
    if [ ! -s "$PGDATA/PG_VERSION" ]; then
      mkdir -p "$PGDATA"
      chmod 0700 "$PGDATA"
      pwfile=$(mktemp)
      # The password comes from the environment (a Secret), never from the image.
      printf '%s' "''${POSTGRES_PASSWORD:?POSTGRES_PASSWORD must be set}" > "$pwfile"
      initdb -D "$PGDATA" -U "''${POSTGRES_USER:-postgres}" --pwfile="$pwfile" \
        -A scram-sha-256 -E UTF8 --no-locale
      rm -f "$pwfile"
      echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
      db="''${POSTGRES_DB:-postgres}"
      if [ "$db" != postgres ]; then
        echo "CREATE DATABASE \"$db\";" | postgres --single -D "$PGDATA" postgres > /dev/null
      fi
    fi
    # The socket goes to /tmp: the root filesystem is read-only.
    exec postgres -D "$PGDATA" -c listen_addresses='*' -c unix_socket_directories=/tmp "$@"
  '';

  # passwd/group with root and the numeric non-root user, as in the service images.
  postgresAccounts = pkgs.symlinkJoin {
    name = "postgres-accounts";
    paths = [
      (pkgs.writeTextDir "etc/passwd" ''
        root:x:0:0:root:/root:/sbin/nologin
        postgres:x:${postgresUser}:${postgresUser}:postgres:/var/lib/postgresql:/sbin/nologin
      '')
      (pkgs.writeTextDir "etc/group" ''
        root:x:0:
        postgres:x:${postgresUser}:
      '')
    ];
  };

  postgresStream = dockerTools.streamLayeredImage {
    name = "postgres";
    # Only names the intermediate archive; the published tag is derived from the manifest
    # digest below (the same rule as the service images), never `latest`.
    tag = "build";
    # File mtimes keep dockerTools' fixed default (1970-01-01T00:00:01Z).
    inherit created;
    contents = [
      pkgs.postgresql
      postgresEntrypoint
      postgresAccounts
    ];
    # /tmp is the only writable place (an emptyDir in Kubernetes); sticky like a real /tmp.
    extraCommands = ''
      mkdir -m 1777 tmp
    '';
    config = {
      User = "${postgresUser}:${postgresUser}";
      Entrypoint = [ (lib.getExe postgresEntrypoint) ];
      ExposedPorts."5432/tcp" = { };
      Env = [ "PGDATA=/var/lib/postgresql/data/pgdata" ];
      Labels = {
        "org.opencontainers.image.title" = "postgres";
        "org.opencontainers.image.description" = "PostgreSQL ${pkgs.postgresql.version} from nixpkgs";
      };
      StopSignal = "SIGINT";
    };
  };

  # Docker archive -> OCI layout (gzip layers) -> content-derived tag -> deterministic tar.
  postgres =
    pkgs.runCommand "postgres.oci.tar"
      {
        nativeBuildInputs = [
          pkgs.skopeo
          pkgs.jq
          pkgs.gnutar
        ];
        passthru.imageName = "postgres";
      }
      ''
        export HOME=$TMPDIR
        ${postgresStream} > docker.tar
        # --insecure-policy: the sandbox has no /etc/containers/policy.json; both ends are local.
        skopeo --insecure-policy copy --quiet --dest-compress-format gzip \
          docker-archive:docker.tar oci:layout:build
        digest=$(jq -r '.manifests[0].digest' layout/index.json)
        hex=''${digest#sha256:}
        tag=''${hex:0:16}
        jq --arg tag "$tag" --arg ref "docker.io/library/postgres:$tag" \
          '.manifests[0].annotations = {"org.opencontainers.image.ref.name": $tag, "io.containerd.image.name": $ref}' \
          layout/index.json > index.json
        mv index.json layout/index.json
        # Docker's view of the same blobs (what `docker load` reads).
        jq -c --arg ref "postgres:$tag" \
          '[{Config: ("blobs/sha256/" + (.config.digest | ltrimstr("sha256:"))),
             RepoTags: [$ref],
             Layers: [.layers[].digest | "blobs/sha256/" + ltrimstr("sha256:")]}]' \
          "layout/blobs/sha256/$hex" > layout/manifest.json
        # Sorted entries, one mtime, numeric root owner: the same bytes on every build.
        tar --sort=name --mtime=@${toString sourceEpoch} --owner=0 --group=0 --numeric-owner \
          --format=ustar -C layout -cf "$out" oci-layout index.json manifest.json blobs
      '';

  # Everything in one output: every archive plus manifest.json, the same shape as
  # target/images/manifest.json (`archive` paths are absolute store paths).
  all =
    pkgs.runCommand "todo-chatbot-images"
      {
        nativeBuildInputs = [
          pkgs.jq
          pkgs.gnutar
        ];
        passthru = services // {
          inherit postgres;
        };
      }
      ''
        mkdir -p $out
        ${lib.concatMapStrings (image: ''
          for archive in ${image}/*.oci.tar; do ln -s "$archive" $out/; done
        '') (lib.attrValues services)}
        ln -s ${postgres} $out/postgres.oci.tar
        index=$(tar -xOf ${postgres} index.json)
        digest=$(jq -r '.manifests[0].digest' <<<"$index")
        tag=$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' <<<"$index")
        jq -n -c --arg tag "$tag" --arg digest "$digest" --arg archive ${postgres} \
          --argjson size "$(stat -c %s ${postgres})" \
          '{service: "postgres", name: "postgres", tag: $tag, reference: ("postgres:" + $tag),
            digest: $digest, archive: $archive, size: $size,
            platforms: [{architecture: "${hostArch}", os: "linux", digest: $digest,
                         archive: $archive, size: $size}]}' > postgres-entry.json
        jq -s '{images: sort_by(.service)}' \
          ${lib.concatMapStringsSep " " (image: "${image}/catalog-entry.json") (lib.attrValues services)} \
          postgres-entry.json > $out/manifest.json
      '';
in
{
  inherit
    services
    postgres
    all
    mkServiceImage
    binarySets
    ;
}
