#!/usr/bin/env bash
# Install checkov into its own virtual environment (.venv-checkov).
#
# checkov pins old boto3 and packaging and ships a top-level module named `hcl2`
# that shadows python-hcl2, so it cannot share the product's environment. The
# product calls its CLI (`checkov --skip-download -o json`), which works offline.
# Idempotent: does nothing when .venv-checkov/bin/checkov already runs.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${CHECKOV_VENV:-.venv-checkov}"
VERSION="${CHECKOV_VERSION:-}"

if [ -x "$VENV/bin/checkov" ] && "$VENV/bin/checkov" --version >/dev/null 2>&1; then
    echo "checkov already installed: $("$VENV/bin/checkov" --version)"
    exit 0
fi

"$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
if [ -n "$VERSION" ]; then
    "$VENV/bin/python" -m pip install -q "checkov==$VERSION"
else
    "$VENV/bin/python" -m pip install -q checkov
fi
echo "checkov installed: $("$VENV/bin/checkov" --version)"
