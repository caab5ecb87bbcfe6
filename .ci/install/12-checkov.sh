#!/usr/bin/env bash
# Installs checkov (static analysis of Kubernetes manifests; `cargo xtask ci`'s chart step runs
# it over every values file's render and over k8s/) into its own virtualenv under
# <repo>/.tools/checkov and links it into $TOOLS_BIN (default <repo>/.tools/bin). Its own
# virtualenv because checkov pins many libraries that would clash with other Python tools.
# Idempotent, quiet when installed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${TOOLS_BIN:-$repo/.tools/bin}"
venv="$repo/.tools/checkov"
version=3.3.30

installed_version() {
    "$bin/checkov" --version 2>/dev/null | tail -n 1 | tr -d '[:space:]'
}

if [ -x "$bin/checkov" ] && [ "$(installed_version)" = "$version" ]; then
    exit 0
fi

if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "12-checkov.sh: installing python3-venv"
        apt-get install -y -q python3-venv >/dev/null
    else
        echo "12-checkov.sh: python3 with the venv module is required" >&2
        exit 1
    fi
fi

echo "12-checkov.sh: installing checkov $version into $venv"
started=$SECONDS
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "checkov==$version"
mkdir -p "$bin"
ln -sf "$venv/bin/checkov" "$bin/checkov"

if [ "$(installed_version)" != "$version" ]; then
    echo "12-checkov.sh: $bin/checkov does not report version $version (got '$(installed_version)')" >&2
    exit 1
fi
echo "12-checkov.sh: installed in $((SECONDS - started))s"
