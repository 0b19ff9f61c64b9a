#!/usr/bin/env bash
# Debian packages the tests use: chromium, chromium-driver and a CJK font (browser tests;
# never downloaded by Selenium); PostgreSQL, Redis and nginx (the scale-out profile,
# deploy/scaleout.py, which starts its own instances: the packages' services stay off).
# Skips what is already installed.
set -euo pipefail
PACKAGES=(chromium chromium-driver fonts-wqy-zenhei postgresql redis-server nginx)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO=sudo
echo "system packages: installing ${missing[*]}"
$SUDO apt-get update -qq
# policy-rc.d exit 101: the packages' own services are not started (we run our own instances);
# removed again afterwards unless it was there before.
created_policy=""
if [[ ! -e /usr/sbin/policy-rc.d ]]; then
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null && $SUDO chmod +x /usr/sbin/policy-rc.d
  created_policy=1
fi
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
[[ -n "$created_policy" ]] && $SUDO rm -f /usr/sbin/policy-rc.d
exit 0
