#!/usr/bin/env bash
# Python tools for the interoperability tests (`cargo xtask ci`, step interop), each in its own
# venv under .tools so nothing touches the system Python and their dependencies cannot clash:
# - .tools/py: the official MCP Python SDK, pytest and jsonschema (crates/todo-mcp/tests/python);
# - .tools/schemathesis: schemathesis, property-based tests over todo-api's OpenAPI document.
# Exact versions; idempotent and quiet when the right versions are installed.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"

# venv DIR PYTHON-MODULE=VERSION...: (re)creates DIR unless it holds exactly these versions.
venv() {
  local dir="$1"
  shift
  local specs=("$@")
  if [ -x "$dir/bin/python" ] && "$dir/bin/python" - "${specs[@]}" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
sys.exit(0 if all(version(n) == v for n, v in (s.split("==") for s in sys.argv[1:])) else 1)
PY
    return 0
  fi
  echo "30-python.sh: installing ${specs[*]} into $dir"
  rm -rf "$dir"
  python3 -m venv "$dir"
  "$dir/bin/pip" install -q --disable-pip-version-check "${specs[@]}"
}

venv "$root/.tools/py" "mcp==2.3.0" "pytest==9.2.0" "jsonschema==4.26.0"
venv "$root/.tools/schemathesis" "schemathesis==4.32.5"
"$root/.tools/schemathesis/bin/st" --version >/dev/null
