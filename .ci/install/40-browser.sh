#!/usr/bin/env bash
# Headless Chromium and its WebDriver server for todo-web's end-to-end browser test
# (`cargo xtask ci` -> e2e::browser_e2e). The test drives chromedriver over the WebDriver
# protocol from Rust, so nothing else (no Node, no Selenium) is needed. Fonts give the
# screenshots readable text.
set -euo pipefail
# Fonts are checked where Debian's packages are the source; `nix develop` brings its own.
fonts_ok() { ! command -v dpkg >/dev/null || dpkg -s fonts-dejavu-core >/dev/null 2>&1; }
if command -v chromium >/dev/null && command -v chromedriver >/dev/null && fonts_ok; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "40-browser.sh: chromium and chromedriver are missing: install them (nix develop provides both on Linux)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null
chromium --version 2>/dev/null
chromedriver --version
