#!/usr/bin/env bash
# Start anvil, Foundry's local EVM node, for the transaction lookup's tests and benchmark.
# The binary ships in the npm package @foundry-rs/anvil-linux-amd64, pinned in
# widget/package-lock.json and installed with the widget's packages (scripts/widget.sh,
# `make setup`). Usage: scripts/anvil.sh [PORT]   (default 8545; loopback only)
# Then: CHAIN_RPC_ETHEREUM=http://127.0.0.1:PORT make run
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
ANVIL="$ROOT/widget/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil"
if [[ ! -x "$ANVIL" ]]; then
  bash "$ROOT/scripts/widget.sh"
fi
if [[ ! -x "$ANVIL" ]]; then
  echo "anvil: $ANVIL not found (the npm package is for Linux x86-64 only)" >&2
  exit 1
fi
exec "$ANVIL" --host 127.0.0.1 --port "${1:-8545}" --silent
