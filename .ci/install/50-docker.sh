#!/usr/bin/env bash
# A real Docker engine for the image checks (`docker load` + `docker run` of each image, as
# minikube's docker runtime would). Debian's docker.io; the checks start their own dockerd
# with a private data root and socket, so the package's service is not started here.
set -euo pipefail
if command -v dockerd >/dev/null && command -v docker >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "50-docker.sh: dockerd and docker are missing: install Docker Engine" >&2
  exit 1
fi
echo "50-docker.sh: installing docker.io"
# No service starts during the install (there may be no init system to start it with).
policy=/usr/sbin/policy-rc.d
made_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy"
  chmod +x "$policy"
  made_policy=1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
[ -n "$made_policy" ] && rm -f "$policy"
command -v dockerd >/dev/null
