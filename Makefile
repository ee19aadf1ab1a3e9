# One-command set-up: `make test` and `make dev` install what they need on a bare machine.
SHELL := /bin/bash
VENV := .venv
export SAM_CLI_TELEMETRY := 0
export CARGO_TERM_COLOR := never

.PHONY: test unit lint dev events bench build venv clean

$(VENV)/.installed: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

venv: $(VENV)/.installed

## test: formatting, every workspace test against a fresh moto, clippy, template linters
test: venv
	cargo fmt --all -- --check
	./scripts/with-aws.sh cargo test --workspace --all-targets
	cargo clippy --workspace --all-targets -- -D warnings
	$(MAKE) lint

lint: venv
	$(VENV)/bin/cfn-lint template.yaml
	$(VENV)/bin/sam validate --lint --template template.yaml --region us-east-1

## events: re-sign the sample events in events/ with the current time and the dev secret
events:
	cargo run --quiet -p approvals-shared --example make_events

## bench: the ack-path benchmark (criterion); reports in target/criterion
bench:
	cargo bench -p approvals-shared --bench ack_path

clean:
	rm -rf $(VENV) .dev target
