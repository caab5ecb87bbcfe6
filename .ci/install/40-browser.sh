#!/usr/bin/env bash
# Headless Chromium and its WebDriver server for todo-web's end-to-end browser test
# (`cargo xtask ci` -> e2e::browser_e2e). The test drives chromedriver over the WebDriver
# protocol from Rust, so nothing else (no Node, no Selenium) is needed to run it. Fonts give the
# screenshots readable text. axe-core (npm, one pinned version) is the accessibility checker
# the test injects into every page: only its axe.min.js is used, installed with npm into
# .tools/axe (ignored by git). Lighthouse (npm, pinned) scores the sign-in and tasks pages
# with the same Chromium; it goes to .tools/lighthouse.
set -euo pipefail
# Fonts are checked where Debian's packages are the source; `nix develop` brings its own.
fonts_ok() { ! command -v dpkg >/dev/null || dpkg -s fonts-dejavu-core >/dev/null 2>&1; }
root="$(cd "$(dirname "$0")/../.." && pwd)"
AXE_VERSION=4.14.1
axe_js="$root/.tools/axe/node_modules/axe-core/axe.min.js"
axe_ok() { [ -f "$axe_js" ] && grep -q "axe v$AXE_VERSION" "$axe_js"; }
install_axe() {
  if axe_ok; then return; fi
  if ! command -v npm >/dev/null; then
    echo "40-browser.sh: npm is required to install axe-core $AXE_VERSION (Node.js >= 20)" >&2
    exit 1
  fi
  mkdir -p "$root/.tools/axe"
  (cd "$root/.tools/axe" && npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error "axe-core@$AXE_VERSION")
  axe_ok || { echo "40-browser.sh: axe-core $AXE_VERSION did not install to $axe_js" >&2; exit 1; }
}
LIGHTHOUSE_VERSION=13.5.0
lh_pkg="$root/.tools/lighthouse/node_modules/lighthouse/package.json"
install_lighthouse() {
  if [ -f "$lh_pkg" ] && grep -q "\"version\": \"$LIGHTHOUSE_VERSION\"" "$lh_pkg"; then return; fi
  mkdir -p "$root/.tools/lighthouse"
  (cd "$root/.tools/lighthouse" && npm install --no-save --ignore-scripts --no-audit --no-fund --loglevel=error "lighthouse@$LIGHTHOUSE_VERSION")
  grep -q "\"version\": \"$LIGHTHOUSE_VERSION\"" "$lh_pkg" || { echo "40-browser.sh: lighthouse $LIGHTHOUSE_VERSION did not install" >&2; exit 1; }
}
if command -v chromium >/dev/null && command -v chromedriver >/dev/null && fonts_ok; then
  install_axe
  install_lighthouse
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
install_axe
install_lighthouse
