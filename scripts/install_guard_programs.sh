#!/usr/bin/env bash
# Installs the real programs the guard's differential tests run (tests/test_guard_differential.py): the tests check
# that each argv the guard allows is read by the real program as the subcommand and options the guard judged, on
# throwaway local servers where one is needed. Debian packages only; needs root for apt-get, else the tests skip.
set -euo pipefail
want=()
command -v strace >/dev/null || want+=(strace)
command -v ip >/dev/null || want+=(iproute2)
command -v ps >/dev/null || want+=(procps)
command -v lsof >/dev/null || want+=(lsof)
command -v git >/dev/null || want+=(git)
command -v curl >/dev/null || want+=(curl)
command -v psql >/dev/null || want+=(postgresql-client)
command -v mariadb >/dev/null || want+=(mariadb-client)
command -v mariadbd >/dev/null || [ -x /usr/sbin/mariadbd ] || want+=(mariadb-server)
command -v redis-cli >/dev/null || want+=(redis-tools)
command -v redis-server >/dev/null || want+=(redis-server)
if [ ${#want[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "install_guard_programs: not root; install ${want[*]} yourself or the differential tests skip" >&2
    exit 1
  fi
  apt-get update -qq
  # servers are started by the tests themselves, on loopback: keep the packages' own services stopped
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${want[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi
echo "install_guard_programs: $(mariadb --version 2>/dev/null | head -c 60); $(redis-server --version | head -c 40); strace $(strace -V | head -1 | awk '{print $4}')"
