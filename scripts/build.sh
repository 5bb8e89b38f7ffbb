#!/usr/bin/env bash
# Builds the release wasm into build/ with worker-build. Skips the work when build/ is newer
# than every input, so wrangler's [build] hook costs nothing on an unchanged tree.
# Usage: scripts/build.sh [--force] [--no-opt]
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .tools/env.sh ] || bash scripts/setup.sh
. .tools/env.sh

force= ; extra=()
for a in "$@"; do
  case "$a" in
    --force) force=1 ;;
    --no-opt) extra+=(--no-opt) ;;
    *) echo "usage: $0 [--force] [--no-opt]" >&2; exit 2 ;;
  esac
done

# Which std the wasm is built with (scripts/setup.sh decides; the debian route always builds it).
std=${APPCONNECT_WASM_STD:-prebuilt}
[ "$APPCONNECT_WASM_ROUTE" = debian ] && std=source
stamp=target/wasm-std

out=build/index_bg.wasm
if [ -z "$force" ] && [ -f "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$std" ] &&
   [ -z "$(find src core/src core/Cargo.toml Cargo.toml Cargo.lock scripts/build.sh -newer "$out" -print -quit)" ]; then
  echo "[build] up to date: $out" >&2
  exit 0
fi

if [ "$APPCONNECT_WASM_ROUTE" = debian ]; then
  # Debian's rustc-web builds std from source for wasm32 (README: "The two commands"). worker-build
  # calls plain `cargo` and `rustc`, so Debian's come first in PATH.
  export PATH="/usr/bin:$PATH"
  # std is always built from source here (the block below).
  export RUSTC=/usr/bin/rustc
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_LINKER=wasm-ld-22
fi
if [ "$std" = source ]; then
  # std compiled from source with panics as a bare trap (-Cpanic=immediate-abort): no panic
  # messages, locations or their formatting in the wasm, about 31 KB of gzip (README "Figures").
  # A panic already ended the request with nothing logged (no panic hook is installed), so no
  # behaviour changes. -Z flags on a stable rustc need RUSTC_BOOTSTRAP, as the debian route has.
  export RUSTC_BOOTSTRAP=1 CARGO_UNSTABLE_BUILD_STD=std,panic_abort
  export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="-Zunstable-options -Cpanic=immediate-abort"
fi
echo "[build] worker-build --release ($APPCONNECT_WASM_ROUTE route, std $std)" >&2
start=$(date +%s)
"$WORKER_BUILD_BIN" --release "${extra[@]}"
# Drop the name and producer sections (about 15 % of the gzip size); stack traces then show
# function indices. Same feature set as worker-build's own wasm-opt pass.
"$WASM_OPT_BIN" "$out" -o "$out" --strip-debug --strip-producers \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling
mkdir -p target && echo "$std" > "$stamp"
echo "[build] done in $(( $(date +%s) - start )) s: $(stat -c %s "$out") bytes, $(gzip -9c "$out" | wc -c) gzip" >&2
