# Service images from the one description in each service's Cargo.toml
# ([package.metadata.image], the table `cargo xtask images` reads too), plus PostgreSQL.
#
# Each image ends up in the same archive format as the native path: an OCI image layout in a
# tar with a content-derived tag, plus Docker's manifest.json (the hybrid `docker save` writes
# since Docker 25), so skopeo, containerd, `docker load` and `minikube image load` all take it.
{ pkgs, workspace }:
let
  inherit (pkgs) lib dockerTools;

  # Fixed so the image config does not change with the build time.
  created = "1970-01-01T00:00:01Z";

  readSpec =
    name: (builtins.fromTOML (builtins.readFile (../crates + "/${name}/Cargo.toml"))).package.metadata.image;

  # passwd/group with root and the numeric non-root user. The shell named there does not
  # exist: nothing in the image can open a shell.
  accounts =
    spec:
    let
      uid = toString spec.user;
      gid = toString spec.group;
    in
    pkgs.symlinkJoin {
      name = "${spec.name}-accounts";
      paths = [
        (pkgs.writeTextDir "etc/passwd" ''
          root:x:0:0:root:/root:/sbin/nologin
          nonroot:x:${uid}:${gid}:nonroot:/home/nonroot:/sbin/nologin
        '')
        (pkgs.writeTextDir "etc/group" ''
          root:x:0:
          nonroot:x:${gid}:
        '')
        # Look in /etc/hosts (mounted by the kubelet) before DNS.
        (pkgs.writeTextDir "etc/nsswitch.conf" ''
          passwd: files
          group: files
          hosts: files dns
        '')
      ];
    };

  # The image as dockerTools builds it: a script that streams a Docker archive. Layers:
  # the static binary's store path, the CA bundle, the account files; nothing else (a static
  # binary has no runtime closure, so no libc and no shell come along).
  streamImage =
    {
      spec,
      binary,
      extraContents ? [ ],
    }:
    dockerTools.streamLayeredImage {
      inherit (spec) name;
      # Only names the intermediate archive; the published tag is derived from the manifest
      # digest in `toArchive` (the same rule as `cargo xtask images`), never `latest`.
      tag = "build";
      inherit created;
      contents = [
        binary
        # /etc/ssl/certs/ca-certificates.crt (and the other usual paths) from nixpkgs' cacert,
        # so TLS to Neon or an OpenAI-compatible API verifies inside the image.
        dockerTools.caCertificates
        (accounts spec)
      ]
      ++ extraContents;
      # /tmp is the only writable place (an emptyDir in Kubernetes); sticky like a real /tmp.
      extraCommands = ''
        mkdir -m 1777 tmp
      '';
      # Runs under fakeroot so the home directory can belong to the non-root user.
      fakeRootCommands = ''
        mkdir -p home/nonroot
        chown ${toString spec.user}:${toString spec.group} home/nonroot
        chmod 0700 home/nonroot
      '';
      config = {
        User = "${toString spec.user}:${toString spec.group}";
        Entrypoint = spec.entrypoint;
        Cmd = spec.cmd or [ ];
        WorkingDir = spec.workdir or "/";
        Env = lib.mapAttrsToList (k: v: "${k}=${v}") (spec.env or { });
        ExposedPorts = lib.listToAttrs (
          map (port: lib.nameValuePair "${toString port}/tcp" { }) (spec.ports or [ ])
        );
        Labels = spec.labels or { };
        StopSignal = "SIGTERM";
      }
      // lib.optionalAttrs (spec ? healthcheck) {
        # Exec form: there is no shell to run a string.
        Healthcheck.Test = [ "CMD" ] ++ spec.healthcheck;
      };
    };

  # Docker archive -> OCI layout (gzip layers) -> content-derived tag -> deterministic tar.
  toArchive =
    { name, stream }:
    pkgs.runCommand "${name}.oci.tar"
      {
        nativeBuildInputs = [
          pkgs.skopeo
          pkgs.jq
          pkgs.gnutar
        ];
        passthru.imageName = name;
      }
      ''
        export HOME=$TMPDIR
        ${stream} > docker.tar
        # --insecure-policy: the sandbox has no /etc/containers/policy.json; both ends are local.
        skopeo --insecure-policy copy --quiet --dest-compress-format gzip \
          docker-archive:docker.tar oci:layout:build
        digest=$(jq -r '.manifests[0].digest' layout/index.json)
        hex=''${digest#sha256:}
        tag=''${hex:0:16}
        jq --arg tag "$tag" --arg ref "docker.io/library/${name}:$tag" \
          '.manifests[0].annotations = {"org.opencontainers.image.ref.name": $tag, "io.containerd.image.name": $ref}' \
          layout/index.json > index.json
        mv index.json layout/index.json
        # Docker's view of the same blobs (what `docker load` reads).
        jq -c --arg ref "${name}:$tag" \
          '[{Config: ("blobs/sha256/" + (.config.digest | ltrimstr("sha256:"))),
             RepoTags: [$ref],
             Layers: [.layers[].digest | "blobs/sha256/" + ltrimstr("sha256:")]}]' \
          "layout/blobs/sha256/$hex" > layout/manifest.json
        # Sorted entries, one mtime, numeric root owner: the same bytes on every build.
        tar --sort=name --mtime=@1 --owner=0 --group=0 --numeric-owner --format=ustar \
          -C layout -cf "$out" oci-layout index.json manifest.json blobs
      '';

  mkServiceImage =
    { name, binary }:
    toArchive {
      inherit name;
      stream = streamImage {
        spec = readSpec name;
        inherit binary;
      };
    };

  services = lib.mapAttrs (name: binary: mkServiceImage { inherit name binary; }) workspace.services;

  # PostgreSQL from the same nixpkgs pin, so a cluster can run the whole stack without a
  # registry. Unlike the services it needs a shell: initdb has to run on first start.
  postgresSpec = {
    name = "postgres";
    user = 65532;
    group = 65532;
    entrypoint = [ "${postgresEntrypoint}" ];
    ports = [ 5432 ];
    env = {
      PGDATA = "/var/lib/postgresql/data/pgdata";
    };
    labels = {
      "org.opencontainers.image.title" = "postgres";
      "org.opencontainers.image.description" = "PostgreSQL ${pkgs.postgresql.version} from nixpkgs";
    };
  };
  postgresEntrypoint = pkgs.writeShellScript "postgres-entrypoint" ''
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
  postgres = toArchive {
    name = "postgres";
    stream = streamImage {
      spec = postgresSpec;
      binary = pkgs.postgresql;
      extraContents = [ postgresEntrypoint ];
    };
  };

  # Everything in one output: <name>.oci.tar for each image plus manifest.json, the same
  # shape as target/images/manifest.json. `archive` is the absolute store path.
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
        entries=()
        ${lib.concatMapStrings
          (
            { service, archive }:
            ''
              ln -s ${archive} $out/${service}.oci.tar
              index=$(tar -xOf ${archive} index.json)
              digest=$(jq -r '.manifests[0].digest' <<<"$index")
              tag=$(jq -r '.manifests[0].annotations["org.opencontainers.image.ref.name"]' <<<"$index")
              entries+=("$(jq -n -c \
                --arg service ${service} --arg name ${archive.imageName} --arg tag "$tag" \
                --arg digest "$digest" --arg archive ${archive} \
                --argjson size "$(stat -c %s ${archive})" \
                '{service: $service, name: $name, tag: $tag, reference: ($name + ":" + $tag),
                  digest: $digest, archive: $archive, size: $size}')")
            ''
          )
          (
            lib.mapAttrsToList (service: archive: { inherit service archive; }) services
            ++ [
              {
                service = "postgres";
                archive = postgres;
              }
            ]
          )
        }
        printf '%s\n' "''${entries[@]}" | jq -s '{images: .}' > $out/manifest.json
      '';
in
{
  inherit
    services
    postgres
    all
    mkServiceImage
    ;
}
