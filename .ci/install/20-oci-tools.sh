#!/usr/bin/env bash
# Installs the OCI and Nix tools that `cargo xtask images` checks and `cargo xtask ci` use:
#   skopeo (inspect/validate archives), umoci (unpack images into runtime bundles),
#   runc (run the unpacked images), nix-bin (nix-instantiate --parse for the Nix files),
#   openssl (a throwaway CA, so the images are checked reaching PostgreSQL over TLS).
# Idempotent and quiet when everything is present; `apt-get update` runs only when a
# package is actually missing, so repeated CI runs cost nothing.
set -euo pipefail

packages=(skopeo umoci runc nix-bin openssl)
missing=()
for pkg in "${packages[@]}"; do
    # dpkg-query reports "install ok installed" only for fully installed packages.
    if [[ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)" != "install ok installed" ]]; then
        missing+=("$pkg")
    fi
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
    sudo=sudo
else
    sudo=
fi

echo "20-oci-tools: installing ${missing[*]}" >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for tool in skopeo umoci runc nix-instantiate openssl; do
    command -v "$tool" >/dev/null || { echo "20-oci-tools: $tool still missing after install" >&2; exit 1; }
done
