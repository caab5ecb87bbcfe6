#!/usr/bin/env bash
# PostgreSQL server binaries for the test suites' throwaway databases (and util-linux's
# setpriv, which runs them as an unprivileged user when CI runs as root). Already there in
# `nix develop` (postgres on PATH) or after a Debian install (/usr/lib/postgresql/*/bin).
set -euo pipefail
have_postgres() {
  compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || command -v postgres >/dev/null
}
if have_postgres && { [ "$(id -u)" -ne 0 ] || command -v setpriv >/dev/null; }; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "00-postgres.sh: PostgreSQL's server binaries (initdb, postgres) are missing: install them (Debian: apt-get install postgresql; or enter nix develop)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq postgresql util-linux >/dev/null
# Debian starts a cluster on install; the tests use their own throwaway servers.
service postgresql stop >/dev/null 2>&1 || true
