#!/usr/bin/env bash
# cargo-machete, the unused-dependency check of `cargo xtask ci` (step clippy): built from
# crates.io at an exact version with its own lockfile (`--locked`) into .tools/cargo-machete,
# in a target directory of its own that is removed afterwards. Idempotent and quiet when the
# right version is installed (about 70 crates, a minute or two on 2 cores otherwise).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${TOOLS_BIN:-$repo/.tools/bin}"
version=0.9.2
root="$repo/.tools/cargo-machete"
mkdir -p "$bin"

if [ -x "$bin/cargo-machete" ] && [ "$("$bin/cargo-machete" --version 2>/dev/null)" = "$version" ]; then
  exit 0
fi
echo "15-cargo-machete.sh: building cargo-machete $version into $root"
build="$(mktemp -d)"
trap 'rm -rf "$build"' EXIT
CARGO_TARGET_DIR="$build" cargo install --quiet --locked --version "$version" \
  --root "$root" cargo-machete
ln -sf "$root/bin/cargo-machete" "$bin/cargo-machete"
"$bin/cargo-machete" --version >/dev/null
