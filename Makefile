# The two commands: `make dev` runs the worker locally, `make test` runs everything.
# `make check` is the fast native loop (fmt, clippy, native tests; no wasm, no wrangler).
.PHONY: dev test check build setup clean bench manifest
dev:
	bash scripts/dev.sh $(ARGS)
test:
	bash scripts/test.sh
check:
	bash scripts/check.sh
build:
	bash scripts/build.sh
setup:
	bash scripts/setup.sh
clean:
	rm -rf build target .wrangler .tools
bench:
	bash scripts/bench.sh
# The integration manifest for Talkdesk Integrations, from integration/integration.json.
manifest:
	cargo run -q -p appconnect-core --example manifest -- $(BASE)
