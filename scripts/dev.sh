#!/usr/bin/env bash
# The whole local stack in one terminal: the worker (`wrangler dev`, local D1 and KV persisted
# under .wrangler/state), the Talkdesk simulator on 127.0.0.1:8790, and a cron tick that runs the
# worker's scheduled sweep every 15 s (local only; Cloudflare runs the real cron each minute).
# Each line is prefixed with where it came from. Ctrl-C stops all three. No Cloudflare account.
#
# `make dev ARGS="--port 8788"` passes arguments to `wrangler dev`; APPCONNECT_DEV_SIM=0 leaves
# the simulator out, APPCONNECT_DEV_TICK=0 the cron tick.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
APPCONNECT_SETUP_BROWSER=${APPCONNECT_SETUP_BROWSER:-0} bash scripts/setup.sh
. .tools/env.sh
bash scripts/build.sh
if [ ! -f .dev.vars ]; then
  echo "[dev] creating .dev.vars from .dev.vars.example (development values only)" >&2
  cp .dev.vars.example .dev.vars
fi
echo "[dev] applying D1 migrations locally" >&2
"$NODE22" "$WRANGLER" d1 migrations apply DB --local >/dev/null

var() { sed -n "s/^$1=//p" .dev.vars | tail -n1; }
# The worker's port: 8787, or what `ARGS="--port N"` says (the simulator's callback, the cron
# tick and the readiness check follow it).
port=8787
args=("$@")
for i in "${!args[@]}"; do
  if [ "${args[$i]}" = "--port" ]; then port=${args[$((i + 1))]:-8787}; fi
done
app_id=$(var TALKDESK_APP_ID)
callback_token=$(var CALLBACK_TOKEN)
base="http://127.0.0.1:$port"

pids=()
# Every process below $1 (wrangler starts workerd in a process group of its own).
tree() { local c; for c in $(pgrep -P "$1" 2>/dev/null); do tree "$c"; echo "$c"; done; }
stop() {
  trap - INT TERM EXIT
  local all=()
  for pid in "${pids[@]}"; do all+=($(tree "$pid") "$pid"); done
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || true; done
  kill "${all[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT
# Runs a command in its own process group, each output line prefixed.
run() {
  local prefix=$1; shift
  setsid bash -c '"$@" 2>&1 | sed -u "s/^/'"$prefix"' /"' _ "$@" &
  pids+=($!)
}

if [ "${APPCONNECT_DEV_SIM:-1}" = 1 ]; then
  echo "[dev] building the Talkdesk simulator" >&2
  cargo build -q --release -p talkdesk-sim
  run "[sim]   " target/release/talkdesk-sim --port 8790 serve --app-id "$app_id" \
    --callback "$base/events/$callback_token" --time-scale 0.01 \
    --redirect-uri "$base/oauth/callback"
fi
# `--port` is ours to pass once, so it is taken out of the arguments given on.
rest=()
skip=
for a in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  if [ "$a" = "--port" ]; then skip=1; continue; fi
  rest+=("$a")
done
run "[worker]" "$NODE22" "$WRANGLER" dev --local --ip 127.0.0.1 --port "$port" \
  --test-scheduled --show-interactive-dev-session=false "${rest[@]}"
if [ "${APPCONNECT_DEV_TICK:-1}" = 1 ]; then
  run "[cron]  " bash -c "while sleep 15; do
    curl -s -o /dev/null -w 'sweep %{http_code}\n' '$base/__scheduled?cron=*+*+*+*+*' || true
  done"
fi
ready=
for _ in $(seq 1 120); do
  if curl -s -o /dev/null "$base/healthz"; then ready=1; break; fi
  sleep 1
done
[ -n "$ready" ] || { echo "[dev] the worker did not answer on $base in 2 minutes; see the [worker] lines" >&2; stop; exit 1; }
echo "[dev] ready in $(( $(date +%s) - started )) s: worker $base, simulator http://127.0.0.1:8790, console $base/admin" >&2
echo "[dev] in another terminal: make demo (a full install), Ctrl-C here stops everything" >&2
# When any part stops (wrangler exits, the simulator dies), everything stops.
wait -n
stop
