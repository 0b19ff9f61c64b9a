#!/usr/bin/env bash
# Debian packages the tests use: chromium, chromium-driver and a CJK font (browser tests;
# never downloaded by Selenium). Skips what is already installed.
set -euo pipefail
PACKAGES=(chromium chromium-driver fonts-wqy-zenhei)
missing=()
for package in "${PACKAGES[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
((${#missing[@]} == 0)) && exit 0
SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO=sudo
echo "system packages: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
