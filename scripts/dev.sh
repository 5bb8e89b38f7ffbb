#!/usr/bin/env bash
# Runs the worker locally: setup, release build, local D1 migrations, then `wrangler dev` on
# 127.0.0.1:8787 with local D1 and KV persisted under .wrangler/state. No Cloudflare account.
# Extra arguments go to `wrangler dev` (e.g. --port 8788, --test-scheduled).
set -euo pipefail
cd "$(dirname "$0")/.."
APPCONNECT_SETUP_BROWSER=${APPCONNECT_SETUP_BROWSER:-0} bash scripts/setup.sh
. .tools/env.sh
bash scripts/build.sh
if [ ! -f .dev.vars ]; then
  echo "[dev] creating .dev.vars from .dev.vars.example (development values only)" >&2
  cp .dev.vars.example .dev.vars
fi
echo "[dev] applying D1 migrations locally" >&2
"$NODE22" "$WRANGLER" d1 migrations apply DB --local
echo "[dev] serving on http://127.0.0.1:8787 (Ctrl-C stops)" >&2
exec "$NODE22" "$WRANGLER" dev --local --ip 127.0.0.1 --port 8787 --show-interactive-dev-session=false "$@"
