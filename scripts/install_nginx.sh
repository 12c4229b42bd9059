#!/usr/bin/env bash
# Installs what the rollout tests and `cloud-doctor rollout demo` need: Debian's nginx binary.
# Only the binary is used: the tests and the demo write their own nginx.conf in a temporary
# directory and run nginx as the current user on 127.0.0.1. Debian's package also starts a system
# nginx on port 80 through its post-install script; policy-rc.d keeps it from starting here.
# Needs root for apt-get; without it the nginx tests skip and the demo says how to install it.
set -euo pipefail

if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
  echo "install_nginx: $(/usr/sbin/nginx -v 2>&1 || nginx -v 2>&1)"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "install_nginx: not root; install nginx yourself (sudo apt-get install -y nginx-light) or the nginx tests skip" >&2
  exit 1
fi
blocker=/usr/sbin/policy-rc.d
made_blocker=0
if [ ! -e "$blocker" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$blocker" && chmod +x "$blocker" && made_blocker=1
fi
trap '[ "$made_blocker" = 1 ] && rm -f "$blocker"' EXIT
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light >/dev/null
echo "install_nginx: $(/usr/sbin/nginx -v 2>&1)"
