# The two commands: `make dev` runs the worker locally, `make test` runs everything.
.PHONY: dev test build setup clean bench
dev:
	bash scripts/dev.sh $(ARGS)
test:
	bash scripts/test.sh
build:
	bash scripts/build.sh
setup:
	bash scripts/setup.sh
clean:
	rm -rf build target .wrangler .tools
bench:
	bash scripts/bench.sh
