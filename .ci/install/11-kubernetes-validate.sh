#!/usr/bin/env bash
# Installs kubernetes-validate (offline strict validation of manifests against the
# Kubernetes OpenAPI schemas, 1.25-1.37) into a virtualenv under <repo>/.tools and links
# it into $TOOLS_BIN (default <repo>/.tools/bin). A virtualenv because Debian's system
# Python refuses `pip install` outside one (PEP 668). Idempotent, quiet when installed.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${TOOLS_BIN:-$repo/.tools/bin}"
venv="$repo/.tools/kubernetes-validate-venv"
version=1.37.0

if [ -x "$bin/kubernetes-validate" ] && [ "$("$bin/kubernetes-validate" --version 2>/dev/null)" = "$version" ]; then
    exit 0
fi

if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' >/dev/null 2>&1; then
    if command -v apt-get >/dev/null 2>&1; then
        echo "11-kubernetes-validate.sh: installing python3-venv"
        apt-get install -y -q python3-venv >/dev/null
    else
        echo "11-kubernetes-validate.sh: python3 with the venv module is required" >&2
        exit 1
    fi
fi

echo "11-kubernetes-validate.sh: installing kubernetes-validate $version into $venv"
rm -rf "$venv"
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check "kubernetes-validate==$version"
mkdir -p "$bin"
ln -sf "$venv/bin/kubernetes-validate" "$bin/kubernetes-validate"

if [ "$("$bin/kubernetes-validate" --version 2>/dev/null)" != "$version" ]; then
    echo "11-kubernetes-validate.sh: $bin/kubernetes-validate does not report version $version" >&2
    exit 1
fi
