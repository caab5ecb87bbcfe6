#!/usr/bin/env bash
# Python tools for the interoperability tests: the official MCP Python SDK and pytest, in a
# venv under .tools so nothing touches the system Python.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/.tools/py"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import mcp, pytest" 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "mcp>=2.3,<3" "pytest>=8,<10"
