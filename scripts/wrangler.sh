#!/usr/bin/env bash
# The project's own wrangler, run with the Node it needs (22, from node_modules; Debian's Node
# is too old): `make wrangler ARGS="d1 list"`.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .tools/env.sh ] || APPCONNECT_SETUP_BROWSER=0 bash scripts/setup.sh
. .tools/env.sh
# A person runs this: wrangler's prompts (login, `secret put`) must work, which CI=true forbids.
unset CI
exec "$NODE22" "$WRANGLER" "$@"
