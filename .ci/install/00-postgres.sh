#!/usr/bin/env bash
# PostgreSQL server binaries for the test suites' throwaway databases (and util-linux's
# setpriv, which runs them as an unprivileged user when CI runs as root).
set -euo pipefail
if compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null && command -v setpriv >/dev/null; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql util-linux >/dev/null
# Debian starts a cluster on install; the tests use their own throwaway servers.
service postgresql stop >/dev/null 2>&1 || true
