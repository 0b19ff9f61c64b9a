#!/usr/bin/env bash
# Install the web widget's npm packages (rasa-webchat, pinned by widget/package-lock.json).
# The page loads the bundle from our own server, never from a CDN. Skipped while
# the lock file is unchanged.
set -euo pipefail
cd "$(dirname "$0")/../widget"
if ! command -v npm >/dev/null 2>&1; then
  echo "widget: npm not found; install Node.js 18+ (Debian: apt-get install nodejs npm) to serve the web widget" >&2
  exit 1
fi
STAMP="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
if [[ ! -f "$STAMP" ]]; then
  echo "widget: installing rasa-webchat from the npm registry (about 40 s)"
  npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error
  touch "$STAMP"
fi
