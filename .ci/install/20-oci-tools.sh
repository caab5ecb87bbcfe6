#!/usr/bin/env bash
# Installs the OCI and Nix tools that `cargo xtask images` checks and `cargo xtask ci` use:
#   skopeo (inspect/validate archives), umoci (unpack images into runtime bundles),
#   runc (run the unpacked images), nix-instantiate (parse and evaluate the Nix files),
#   openssl (a throwaway CA, so the images are checked reaching PostgreSQL over TLS).
# Idempotent and quiet when every tool is on PATH (Debian packages or `nix develop`);
# `apt-get update` runs only when a tool is actually missing.
set -euo pipefail

# tool:Debian package
tools=(skopeo:skopeo umoci:umoci runc:runc nix-instantiate:nix-bin openssl:openssl)
# runc lands in /usr/sbin, which is not on every user's PATH.
export PATH="$PATH:/usr/sbin:/sbin"
missing=()
for entry in "${tools[@]}"; do
    command -v "${entry%%:*}" >/dev/null || missing+=("${entry#*:}")
done

if ((${#missing[@]} == 0)); then
    exit 0
fi

if ! command -v apt-get >/dev/null; then
    echo "20-oci-tools: missing ${missing[*]}: install them (nix develop provides skopeo, umoci, runc, openssl; Nix itself gives nix-instantiate)" >&2
    exit 1
fi
if [[ $(id -u) -ne 0 ]]; then
    sudo=sudo
else
    sudo=
fi

echo "20-oci-tools: installing ${missing[*]}" >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
for entry in "${tools[@]}"; do
    command -v "${entry%%:*}" >/dev/null || { echo "20-oci-tools: ${entry%%:*} still missing after install" >&2; exit 1; }
done
