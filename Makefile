# spinflow: the two commands of the README are `make up` and `make test`.
SHELL := /bin/bash
SPINFLOW := target/release/spinflow
VENV := .venv
PY := $(VENV)/bin/python

.PHONY: up build host components test test-deps venv rust-test py-test lint

## Build everything and run the whole app on 127.0.0.1:3000.
up: build
	$(SPINFLOW) up

build: components

host:
	cargo build --release -p spinflow

## Build every component of spin.toml, as `spin build` would.
components: host
	$(SPINFLOW) build

## Run every test: Rust unit and end-to-end tests, then the Python suites.
test: test-deps build venv rust-test py-test

test-deps:
	bash scripts/install-test-deps.sh

venv: $(VENV)/.installed

$(VENV)/.installed: tests/python/requirements.txt
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r tests/python/requirements.txt
	touch $@

rust-test: build
	cargo test --release --workspace

py-test: build venv
	$(VENV)/bin/pytest tests/python -q

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --release -- -D warnings
