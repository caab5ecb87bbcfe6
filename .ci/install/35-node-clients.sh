#!/usr/bin/env bash
# Node.js clients for the interoperability tests (`cargo xtask ci`, step interop): the official
# MCP TypeScript SDK v1 (@modelcontextprotocol/sdk), the v2 client (@modelcontextprotocol/client)
# and the MCP Inspector CLI (@modelcontextprotocol/inspector), at the exact versions of
# crates/todo-mcp/tests/clients/package-lock.json, into that folder's node_modules (ignored by
# git). Needs Node.js >= 20 with npm. Idempotent: skips when node_modules was installed from
# this very lockfile.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
dir="$root/crates/todo-mcp/tests/clients"
stamp="$dir/node_modules/.installed-from-lock.sha256"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "35-node-clients.sh: node and npm are required (Node.js >= 20)" >&2
  exit 1
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$major" -lt 20 ]; then
  echo "35-node-clients.sh: Node.js >= 20 is required, found $(node --version)" >&2
  exit 1
fi

want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
echo "35-node-clients.sh: npm ci in ${dir#"$root"/}"
# The packages' own install scripts are not needed (the Inspector's only populates a source
# checkout); --ignore-scripts keeps the install to what the lockfile names.
(cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$want" >"$stamp"
