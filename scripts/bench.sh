#!/usr/bin/env bash
# Opt-in benchmarks against the release wasm in workerd. Prints tables; the README keeps the
# figures. Not part of `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
wasm=build/index_bg.wasm
echo "wasm: $(stat -c %s $wasm) bytes raw, $(gzip -9c $wasm | wc -c) bytes gzip"
cargo test --release --features e2e --test e2e -- --ignored bench_ --nocapture --test-threads=1
