#!/usr/bin/env bash
# The scale-out profile on one machine (deploy/scaleout.py): PostgreSQL, Redis, nginx,
# two Rasa processes, two action servers, one desk. Usage: scripts/scaleout.sh start|stop|status
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
exec .venv/bin/python -m deploy.scaleout "$@"
