# The two commands: `make dev` runs the worker locally, `make test` runs everything.
# `make check` is the fast native loop (fmt, clippy, native tests; no wasm, no wrangler).
.PHONY: dev demo deploy wrangler test check build setup clean bench manifest
dev:
	bash scripts/dev.sh $(ARGS)
# With `make dev` running: a full install for an example account, then where to look.
demo:
	bash scripts/demo.sh $(ACCOUNT)
# Deploy to Cloudflare (`make deploy DRY_RUN=1` shows every step without an account).
deploy:
	DRY_RUN=$(DRY_RUN) bash scripts/deploy.sh
# The project's own wrangler with the Node it needs: make wrangler ARGS="d1 list"
wrangler:
	bash scripts/wrangler.sh $(ARGS)
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
