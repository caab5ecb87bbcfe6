#!/usr/bin/env bash
# Cross compilation of the image binaries for linux/amd64 and linux/arm64 (`cargo xtask
# images`): Zig as the C cross compiler (aws-lc-sys and ring have C code) driven by
# cargo-zigbuild, both from PyPI into a venv under .tools (no system toolchain needed, and the
# same tools work on macOS); the Rust standard library for both musl targets; and
# qemu-user-static, which runs the arm64 binaries on an amd64 machine (and the other way round)
# for the image checks. Idempotent and quiet when everything is present.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${TOOLS_BIN:-$repo/.tools/bin}"
venv="$repo/.tools/cross"
zig_version=0.17.0
zigbuild_version=0.24.0
targets=(x86_64-unknown-linux-musl aarch64-unknown-linux-musl)
mkdir -p "$bin"

if ! { [ -x "$bin/zig" ] && [ "$("$bin/zig" version 2>/dev/null)" = "$zig_version" ] &&
       [ -x "$bin/cargo-zigbuild" ] && "$bin/cargo-zigbuild" --version 2>/dev/null | grep -q " $zigbuild_version"; }; then
  echo "25-cross.sh: installing ziglang $zig_version and cargo-zigbuild $zigbuild_version into $venv"
  rm -rf "$venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check \
    "ziglang==$zig_version" "cargo-zigbuild==$zigbuild_version"
  zig_dir="$("$venv/bin/python" -c 'import os, ziglang; print(os.path.dirname(ziglang.__file__))')"
  ln -sf "$zig_dir/zig" "$bin/zig"
  ln -sf "$venv/bin/cargo-zigbuild" "$bin/cargo-zigbuild"
fi

# The toolchain rust-toolchain.toml pins (rustup picks it from the repository).
installed="$(cd "$repo" && rustup target list --installed)"
for target in "${targets[@]}"; do
  if ! grep -qx "$target" <<<"$installed"; then
    echo "25-cross.sh: rustup target add $target"
    (cd "$repo" && rustup target add "$target" >/dev/null)
  fi
done

if ! command -v qemu-aarch64-static >/dev/null || ! command -v qemu-x86_64-static >/dev/null; then
  if ! command -v apt-get >/dev/null; then
    echo "25-cross.sh: qemu-user-static is missing: install it (it runs the other platform's binaries in the image checks)" >&2
    exit 1
  fi
  echo "25-cross.sh: installing qemu-user-static"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null
fi
"$bin/zig" version >/dev/null
"$bin/cargo-zigbuild" --version >/dev/null
