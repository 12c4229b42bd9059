#!/usr/bin/env bash
# Installs Debian's PostgreSQL server binaries for the tests that start a throw-away cluster on loopback
# (tests/postgres_harness.py: checkpoints, and two doors + two workers sharing one database).
# No service is started here; each test session runs its own cluster. Needs root for apt-get; without it those tests skip.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  echo "install_postgres: $(ls /usr/lib/postgresql/*/bin/initdb | head -1)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install_postgres: not root; install postgresql yourself (apt-get install -y postgresql) or those tests skip" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
echo "install_postgres: $(ls /usr/lib/postgresql/*/bin/initdb | head -1)"
