#!/usr/bin/env bash
# A real Prometheus server and promtool for the observability checks: service-kit's scrape
# test (a real Prometheus scrapes real servers, then its HTTP API is queried), `promtool check
# metrics` on each /metrics output, `promtool check rules` on the chart's rendered
# PrometheusRule, and `cargo xtask dev --observe`. Debian's package (2.42 here) is enough.
set -euo pipefail
if command -v prometheus >/dev/null && command -v promtool >/dev/null; then
  exit 0
fi
if ! command -v apt-get >/dev/null; then
  echo "45-prometheus.sh: prometheus and promtool are missing: install them (Debian: apt-get install prometheus)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# --no-install-recommends: the node exporter and the web console are not needed.
apt-get install -y -qq --no-install-recommends prometheus >/dev/null
# Debian starts a server on install (port 9090); the checks start their own on free ports.
service prometheus stop >/dev/null 2>&1 || true
prometheus --version 2>&1 | head -1
promtool --version 2>&1 | head -1
