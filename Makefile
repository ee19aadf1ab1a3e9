# One-command set-up: `make test` and `make dev` install what they need on a bare machine.
SHELL := /bin/bash
VENV := .venv
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR := never

.PHONY: test lint dev browser-test chromium events bench load cold-start venv venv-lint venv-package package deploy-check reseal-tokens fuzz clean

# Two stamps: `make dev` needs only moto (seconds to install); `make lint` and `make test`
# also need SAM CLI and cfn-lint (a minute or more). pip prints its progress.
$(VENV)/bin/python:
	python3 -m venv $(VENV)

$(VENV)/.dev-installed: requirements-dev.txt | $(VENV)/bin/python
	@echo "Installing moto, the local AWS emulator, into $(VENV) (first run only)…"
	$(VENV)/bin/pip install --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(VENV)/.lint-installed: requirements-lint.txt | $(VENV)/bin/python
	@echo "Installing SAM CLI and cfn-lint into $(VENV) (first run only)…"
	$(VENV)/bin/pip install --disable-pip-version-check -r requirements-lint.txt
	touch $@

$(VENV)/.package-installed: requirements-package.txt | $(VENV)/bin/python
	@echo "Installing cargo-lambda and Zig into $(VENV) (first run only)…"
	$(VENV)/bin/pip install --disable-pip-version-check -r requirements-package.txt
	touch $@

## venv: what `make dev` needs (moto); venv-lint: the template linters besides;
## venv-package: cargo-lambda and Zig for the arm64 builds
venv: $(VENV)/.dev-installed
venv-lint: $(VENV)/.lint-installed
venv-package: $(VENV)/.package-installed

FUNCTIONS := approvals-api slack-interactions slack-events oauth-callback decision-worker daily-reminders

## package: every function built for arm64 as build/lambda/<name>/bootstrap.zip, with a size table; fails over 5 MB
package: venv-package
	@rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" CARGO_TARGET_DIR=$(CURDIR)/target/package \
	  cargo lambda build --release --arm64 --output-format zip \
	  --lambda-dir build/lambda $(addprefix -p ,$(FUNCTIONS))
	./scripts/package-report.sh

## reseal-tokens: after a token key rotation, every installation's tokens sealed under the current key
## (against the stack named by APP_TABLE and APP_SECRET_ID, with your AWS credentials)
reseal-tokens:
	cargo run --release -p reseal-tokens

## fuzz: each cargo-fuzz target (fuzz/) for FUZZ_SECONDS (default 60) on nightly, with a table of executions
fuzz:
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	./scripts/fuzz.sh

## deploy-check: `sam build` of template.yaml as it is (BuildMethod rust-cargolambda), offline
deploy-check: venv-lint venv-package
	@rustup target list --installed | grep -qx aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/sam build --beta-features --build-dir build/sam

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

# Debian's chromium for the browser test; playwright's own browser download is not used.
# Chromium pulls in no colour emoji font, and the screenshots need ✅ and ❌.
chromium:
	@command -v chromium >/dev/null || (apt-get update && apt-get install -y --no-install-recommends chromium)
	@dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || (apt-get update && apt-get install -y --no-install-recommends fonts-noto-color-emoji)

## test: formatting, every workspace test (and a smoke run of each bench) against a fresh moto, clippy, template linters, browser test, and no secret or token in any log they wrote
test: venv venv-lint
	cargo fmt --all -- --check
	rm -rf build/logs
	cargo build -p decision-worker
	./scripts/with-aws.sh cargo test --workspace --tests --benches
	cargo clippy --workspace --all-targets -- -D warnings
	$(MAKE) lint
	$(MAKE) browser-test
	./scripts/check-logs.sh

## browser-test: the demo in headless chromium against the whole local stack (screenshots in build/browser)
browser-test: venv node_modules/.installed chromium
	cargo build -p dev-server
	node --test --test-timeout=240000 tests/browser/

lint: venv-lint
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/sam validate --lint --template template.yaml --region us-east-1

## dev: the whole system locally (moto, every function, Slack sandbox, demo host); Ctrl-C stops it
## The first run compiles the workspace (minutes; cargo shows its progress); state is in memory.
dev: venv
	@test -x target/debug/dev-server || echo "Compiling the dev server (first run only: about 2–3 minutes on 2 cores)…"
	cargo build -p dev-server
	./scripts/with-aws.sh target/debug/dev-server

## events: re-sign the sample events in events/ with the current time and the dev secret
events:
	cargo run --quiet -p dev-server --example make_events

## bench: every headline figure in one table (build/bench/table.md): ack path, cold start and peak RSS
## per function, zip sizes, reminder planning, AWS calls per lifecycle, click-to-updated latency
bench: venv package
	FUNCTIONS="$(FUNCTIONS)" ./scripts/bench.sh

## load: the click race at scale (LOAD_REQUESTS, default 1000, × LOAD_CLICKS approvers at once) through
## the gateway over HTTP, the release worker binary as processes fed by SQS, 1% of its runs killed;
## prints its checks, throughput and click-to-updated latency (tests/load/main.rs has the knobs)
load: venv
	cargo build --release -p decision-worker
	cargo build --release -p integration-tests --example load
	mkdir -p build/load
	set -o pipefail; DECISION_WORKER_BIN=$(CURDIR)/target/release/decision-worker \
	  ./scripts/with-aws.sh target/release/examples/load | tee build/load/result.md

## cold-start: exec to first answer of the release binaries against a local Runtime API and moto
cold-start: venv
	cargo build --release $(addprefix -p ,$(FUNCTIONS))
	./scripts/with-aws.sh bash -c 'for f in $(FUNCTIONS); do \
	  $(VENV)/bin/python scripts/cold_start.py target/release/$$f events/$$f.json || exit 1; done'

clean:
	rm -rf $(VENV) .dev target build node_modules
