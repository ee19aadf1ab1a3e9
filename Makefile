# One-command set-up: `make test` and `make dev` install what they need on a bare machine.
SHELL := /bin/bash
VENV := .venv
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR := never

.PHONY: test lint dev browser-test chromium events bench cold-start venv clean

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian's chromium for the browser test; playwright's own browser download is not used.
chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)

## test: formatting, every workspace test (and a smoke run of each bench) against a fresh moto, clippy, template linters, browser test
test: venv
	cargo fmt --all -- --check
	./scripts/with-aws.sh cargo test --workspace --tests --benches
	cargo clippy --workspace --all-targets -- -D warnings
	$(MAKE) lint
	$(MAKE) browser-test

## browser-test: the demo in headless chromium against the whole local stack (screenshots in build/browser)
browser-test: venv node_modules/.installed chromium
	cargo build -p dev-server
	node --test --test-timeout=240000 tests/browser/

lint: venv
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/sam validate --lint --template template.yaml --region us-east-1

## dev: the whole system locally (moto, every function, Slack sandbox, demo host); Ctrl-C stops it
dev: venv
	cargo build -p dev-server
	./scripts/with-aws.sh target/debug/dev-server

## events: re-sign the sample events in events/ with the current time and the dev secret
events:
	cargo run --quiet -p dev-server --example make_events

## bench: the ack-path and cold-start benchmarks (criterion); reports in target/criterion
bench:
	cargo bench -p slack-interactions

## cold-start: exec to first answer of the release binaries against a local Runtime API and moto
cold-start: venv
	cargo build --release -p slack-interactions -p slack-events
	./scripts/with-aws.sh sh -c '$(VENV)/bin/python scripts/cold_start.py target/release/slack-interactions events/slack-interactions.json && \
	  $(VENV)/bin/python scripts/cold_start.py target/release/slack-events events/slack-events.json'

clean:
	rm -rf $(VENV) .dev target build node_modules
