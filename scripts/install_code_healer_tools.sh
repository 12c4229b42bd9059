#!/usr/bin/env bash
# Installs what the code healer's tests need beyond Python: Debian's Go toolchain (golang-go) for the Go
# sample repository's `go test`, and node-postgres in the Node sample repository (npm ci from its lock file).
# Needs root for apt-get; without Go or npm the tests that need them skip and say why.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v go >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install_code_healer_tools: not root; install Go yourself (apt-get install -y golang-go) or the Go tests skip" >&2
  else
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
  fi
fi
sample=tests/fixtures/code_repos/node-stock
if command -v npm >/dev/null 2>&1 && [ ! -d "$sample/node_modules/pg-pool" ]; then
  (cd "$sample" && npm ci --no-audit --no-fund --silent)
fi
echo "install_code_healer_tools: $(go version 2>/dev/null || echo 'no go'); node-postgres $([ -d "$sample/node_modules/pg-pool" ] && echo installed || echo missing)"
