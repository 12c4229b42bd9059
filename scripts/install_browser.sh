#!/usr/bin/env bash
# Installs what tests/test_widget_browser.py needs: Debian's chromium and the `playwright` Python
# package (its driver only). Playwright's own browser download (`playwright install`) is never used:
# the test launches /usr/bin/chromium. Needs root for apt-get; without it the browser test skips.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"

if ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install_browser: not root; install chromium yourself (apt-get install -y chromium) or the browser test skips" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
"$PY" -c "import playwright" 2>/dev/null || "$PY" -m pip install -q "playwright>=1.45"
echo "install_browser: $(chromium --version 2>/dev/null | tail -1); playwright $("$PY" -c 'import importlib.metadata as m; print(m.version("playwright"))')"
