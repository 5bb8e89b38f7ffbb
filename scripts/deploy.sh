#!/usr/bin/env bash
# One-command deploy to Cloudflare: `make deploy` (or `make deploy DRY_RUN=1`, which needs no
# account and runs nothing remote: it prints every step it would take and what to paste into
# Partner Project).
#
# 1. checks the Cloudflare login (`wrangler whoami`);
# 2. finds the D1 database `appconnect` and the KV namespace `appconnect-cache`, or creates them;
# 3. checks every required var (TALKDESK_APP_ID, PUBLIC_BASE_URL: in wrangler.toml's [vars] or
#    the environment) and secret (SEALING_KEY, ADMIN_TOKEN, CALLBACK_TOKEN) is set;
# 4. applies the remote D1 migrations; 5. deploys; 6. waits for /healthz;
# 7. prints the callback URL, launch URL, redirect URI and bridge endpoints.
#
# The deploy uses build/wrangler.deploy.toml (wrangler.toml with the real ids filled in), so
# wrangler.toml keeps its local placeholders.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${DRY_RUN:-0}" in 1|true|yes) dry=1 ;; *) dry=0 ;; esac
[ "${1:-}" = "--dry-run" ] && dry=1
DB_NAME=${APPCONNECT_D1_NAME:-appconnect}
KV_TITLE=${APPCONNECT_KV_TITLE:-appconnect-cache}
SECRETS=(SEALING_KEY ADMIN_TOKEN CALLBACK_TOKEN)

say() { printf '\033[1m[deploy]\033[0m %s\n' "$*" >&2; }
die() { printf '[deploy] error: %s\n' "$*" >&2; exit 1; }
step() { say "$1"; }

# A var from the environment, else from wrangler.toml's [vars].
toml_var() {
  sed -n '/^\[vars\]/,/^\[/p' wrangler.toml | sed -n "s/^[[:space:]]*$1[[:space:]]*=[[:space:]]*\"\(.*\)\"[[:space:]]*$/\1/p" | head -n1
}
var() { local v=${!1:-}; [ -n "$v" ] && printf '%s' "$v" || toml_var "$1"; }

app_id=$(var TALKDESK_APP_ID)
base=$(var PUBLIC_BASE_URL)
base=${base%/}
missing=()
[ -n "$app_id" ] || missing+=("TALKDESK_APP_ID (set it under [vars] in wrangler.toml)")
[ -n "$base" ] || missing+=("PUBLIC_BASE_URL (under [vars]: https://<your worker's host>)")
case "$base" in ""|https://*) ;; *) missing+=("PUBLIC_BASE_URL must start with https://");; esac
[ ${#missing[@]} -eq 0 ] || die "missing settings: ${missing[*]}"

if [ "$dry" = 1 ]; then
  say "dry run: nothing remote is called; these are the steps and their commands"
  wr() { printf '  would run: wrangler %s\n' "$*"; }
else
  APPCONNECT_SETUP_BROWSER=0 bash scripts/setup.sh
  . .tools/env.sh
  unset CI # wrangler's login and deploy need its normal (non-CI) behaviour here
  wr() { "$NODE22" "$WRANGLER" "$@"; }
fi

step "1/7 Cloudflare login"
if [ "$dry" = 1 ]; then wr whoami --json
else
  # `whoami` alone exits 0 when logged out; with --json it does not.
  wr whoami --json >/dev/null 2>&1 || die "not logged in: run \`make wrangler ARGS=login\` (or set CLOUDFLARE_API_TOKEN)"
fi

step "2/7 D1 database '$DB_NAME' and KV namespace '$KV_TITLE'"
if [ "$dry" = 1 ]; then
  wr d1 list --json
  wr "d1 create $DB_NAME   (only when it is not listed)"
  wr kv namespace list
  wr "kv namespace create $KV_TITLE   (only when it is not listed)"
  db_id="<d1 id>"; kv_id="<kv id>"
else
  db_id=$(wr d1 list --json | "$NODE22" -e '
    const l = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const d = l.find(x => x.name === process.argv[1]); if (d) console.log(d.uuid);' "$DB_NAME")
  if [ -z "$db_id" ]; then
    say "creating D1 database $DB_NAME"
    wr d1 create "$DB_NAME" >/dev/null
    db_id=$(wr d1 list --json | "$NODE22" -e '
      const l = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const d = l.find(x => x.name === process.argv[1]); if (d) console.log(d.uuid);' "$DB_NAME")
  fi
  [ -n "$db_id" ] || die "could not find or create D1 database $DB_NAME: run \`make wrangler ARGS='d1 create $DB_NAME'\`"
  kv_id=$(wr kv namespace list | "$NODE22" -e '
    const l = JSON.parse(require("fs").readFileSync(0, "utf8"));
    const n = l.find(x => x.title === process.argv[1]); if (n) console.log(n.id);' "$KV_TITLE")
  if [ -z "$kv_id" ]; then
    say "creating KV namespace $KV_TITLE"
    wr kv namespace create "$KV_TITLE" >/dev/null
    kv_id=$(wr kv namespace list | "$NODE22" -e '
      const l = JSON.parse(require("fs").readFileSync(0, "utf8"));
      const n = l.find(x => x.title === process.argv[1]); if (n) console.log(n.id);' "$KV_TITLE")
  fi
  [ -n "$kv_id" ] || die "could not find or create KV namespace $KV_TITLE: run \`make wrangler ARGS='kv namespace create $KV_TITLE'\`"
fi
mkdir -p build
# Paths are relative to the configuration's own folder (build/); the build runs before deploy.
sed -e "s/^database_id = .*/database_id = \"$db_id\"/" \
    -e "/^\[\[kv_namespaces\]\]/,/^\[/ s/^id = .*/id = \"$kv_id\"/" \
    -e "s/^database_name = .*/database_name = \"$DB_NAME\"/" \
    -e "s|^main = \"build/|main = \"|" \
    -e "s|^migrations_dir = \"migrations\"|migrations_dir = \"../migrations\"|" \
    -e "/^\[build\]/,/^\$/d" wrangler.toml > build/wrangler.deploy.toml
# Settings given in the environment go into the deployed [vars].
for name in TALKDESK_APP_ID PUBLIC_BASE_URL; do
  if [ -z "$(toml_var "$name")" ]; then
    value=$(var "$name")
    sed -i "/^\[vars\]/a $name = \"$value\"" build/wrangler.deploy.toml
  fi
done
say "  deploy configuration: build/wrangler.deploy.toml (D1 $db_id, KV $kv_id)"

step "3/7 secrets (${SECRETS[*]})"
if [ "$dry" = 1 ]; then
  wr secret list --format json -c build/wrangler.deploy.toml
  for s in "${SECRETS[@]}"; do printf '  if missing: make wrangler ARGS="secret put %s"\n' "$s"; done
else
  listed=$(wr secret list --format json -c build/wrangler.deploy.toml 2>/dev/null || echo '[]')
  absent=()
  for s in "${SECRETS[@]}"; do
    printf '%s' "$listed" | grep -q "\"$s\"" || absent+=("$s")
  done
  if [ ${#absent[@]} -gt 0 ]; then
    for s in "${absent[@]}"; do say "  missing secret $s: make wrangler ARGS=\"secret put $s -c build/wrangler.deploy.toml\""; done
    die "set the missing secrets, then run make deploy again"
  fi
fi

step "4/7 remote D1 migrations"
wr d1 migrations apply DB --remote -c build/wrangler.deploy.toml

step "5/7 deploy"
if [ "$dry" = 1 ]; then
  echo "  would build the release wasm (scripts/build.sh), then:"
  wr deploy -c build/wrangler.deploy.toml
else
  bash scripts/build.sh
  wr deploy -c build/wrangler.deploy.toml
fi

step "6/7 waiting for $base/healthz"
if [ "$dry" = 1 ]; then
  echo "  would poll $base/healthz until it answers 200 (up to 2 minutes)"
else
  ok=
  for _ in $(seq 1 60); do
    if curl -sf -o /dev/null "$base/healthz"; then ok=1; break; fi
    sleep 2
  done
  [ -n "$ok" ] || die "$base/healthz did not answer 200 in 2 minutes: check \`make wrangler ARGS=tail\`"
fi

step "7/7 paste into Partner Project"
cat <<DONE
  App id (TALKDESK_APP_ID):   $app_id
  Events callback URL:        $base/events/<CALLBACK_TOKEN>   (the secret's value)
  Launch URL:                 $base/launch
  Redirect URI (sign-in):     $base/oauth/callback
  Talkdesk Integrations:      $base/bridge/auth, $base/bridge/contacts, $base/bridge/agents,
                              $base/bridge/interactions, $base/bridge/actions/{name}
  Integration manifest:       make manifest BASE=$base
  Operator console:           $base/admin
DONE
