#!/usr/bin/env bash
# With `make dev` running: installs the app for an example account through the simulator,
# waits until the worker has approved it, and prints where to look.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
base=${APPCONNECT_DEV_URL:-http://127.0.0.1:8787}
curl -sf -o /dev/null "$base/healthz" ||
  { echo "[demo] no worker at $base: run \`make dev\` first (in another terminal)" >&2; exit 1; }
[ -x target/release/talkdesk-sim ] || cargo build -q --release -p talkdesk-sim
sim() { target/release/talkdesk-sim --port 8790 "$@"; }
sim status >/dev/null 2>&1 ||
  { echo "[demo] no simulator on 127.0.0.1:8790: \`make dev\` starts it" >&2; exit 1; }
admin_token=$(sed -n 's/^ADMIN_TOKEN=//p' .dev.vars | tail -n1)
account=${1:-demo-$(date +%H%M%S)}
echo "[demo] installing the app for account $account (Talkdesk sends app.installed)" >&2
out=$(sim install --account "$account" --users 5)
id=$(printf '%s\n' "$out" | sed -n 's/^installed: installation \(.*\)$/\1/p' | head -n1)
[ -n "$id" ] || { echo "[demo] the simulator did not say which installation: $out" >&2; exit 1; }
echo "[demo] installation $id: waiting for the worker to verify, provision and approve" >&2
for _ in $(seq 1 120); do
  state=$(curl -s -H "authorization: Bearer $admin_token" "$base/admin/installations/$id" |
    sed -n 's/.*"state": *"\([a-z]*\)".*/\1/p' | head -n1)
  [ "$state" = active ] && break
  sleep 1
done
[ "$state" = active ] || { echo "[demo] not approved yet (state: ${state:-unknown}); see the [worker] log" >&2; exit 1; }
launch=$(sim launch "$id" --worker "$base" 2>/dev/null | tail -n1)
cat <<DONE
[demo] approved in $(( $(date +%s) - started )) s.
  Operator console:  $base/admin  (sign in with ADMIN_TOKEN from .dev.vars)
  This installation: $base/admin/console/installations/$id
  The app, as an agent opening it from Talkdesk: $launch
DONE
