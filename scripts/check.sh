#!/usr/bin/env bash
# The inner loop: formatting, lints and every native test (the core's unit tests, the native
# lifecycle tier against SQLite and the simulator, the simulator's own tests). No wasm build,
# no wrangler: under a minute on a warm machine. `make test` runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
started=$(date +%s)
step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
# The e2e code is linted (it compiles without a wasm build) but not run.
cargo clippy --workspace --all-targets --features appconnect-worker/e2e --quiet -- -D warnings
step "native tests"
cargo test --workspace --quiet
step "check green in $(( $(date +%s) - started )) s"
