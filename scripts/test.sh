#!/usr/bin/env bash
# The whole suite, as CI runs it (.ci/run): setup, formatting, lints, native tests, the release
# wasm build, and the end-to-end tier against that build in workerd (`wrangler dev`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .tools/env.sh
step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }
started=$(date +%s)

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets --features appconnect-worker/e2e --quiet -- -D warnings
step "release wasm build"
bash scripts/build.sh
step "native and end-to-end tests"
# The end-to-end tier (tests/e2e/, feature e2e) starts its own wrangler dev on free loopback
# ports against build/, and stops every process it started.
cargo test --workspace --all-targets --features appconnect-worker/e2e
step "all green in $(( $(date +%s) - started )) s"
