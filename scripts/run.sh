#!/usr/bin/env bash
# Start the whole system on embedded defaults: action server + Rasa server.
# Trains first when no model matches the data. Ctrl-C stops what we started.
set -euo pipefail
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD"
RASA=.venv/bin/rasa
RASA_PORT=${RASA_PORT:-5005}
ACTIONS_PORT=${ACTIONS_PORT:-5055}

mkdir -p var   # SQLite tracker store (endpoints.yml)
bash scripts/train.sh

pids=()
stop_all() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    echo
    echo "run: stopping ${pids[*]}"
    kill "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all INT TERM EXIT

"$RASA" run actions --actions actions --port "$ACTIONS_PORT" &
pids+=($!)
"$RASA" run --model models --endpoints endpoints.yml --credentials credentials.yml --port "$RASA_PORT" &
pids+=($!)

start=$(date +%s)
until curl -fs "http://localhost:$RASA_PORT/" >/dev/null 2>&1; do
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "run: a server exited during start-up (pid $pid)" >&2; exit 1; }
  done
  sleep 1
done
cat <<MSG

run: ready in $(( $(date +%s) - start )) s
  action server   http://localhost:$ACTIONS_PORT/webhook   (pid ${pids[0]})
  Rasa server     http://localhost:$RASA_PORT              (pid ${pids[1]})
    REST          POST http://localhost:$RASA_PORT/webhooks/rest/webhook
    socket.io     http://localhost:$RASA_PORT/socket.io
  tracker store   var/tracker.db (SQLite)
  try:  curl -s localhost:$RASA_PORT/webhooks/rest/webhook -d '{"sender":"u1","message":"怎么创建钱包"}'
Ctrl-C stops both.
MSG
wait -n "${pids[@]}" || true
echo "run: a server stopped or Ctrl-C was pressed; stopping the rest" >&2
