# Opsdeck: the two commands of the README, and a few helpers.
.PHONY: run test build tools fmt

export PATH := $(HOME)/.cargo/bin:$(PATH)
# cargo-leptos sets RUSTFLAGS itself; an exported one would be doubled and force a rebuild.
unexport RUSTFLAGS

## Build (installing the toolchain if missing), migrate ./data/opsdeck.db, create the admin, serve :3000.
run: tools build
	mkdir -p data
	LEPTOS_SITE_ROOT=target/site LEPTOS_ENV=PROD ./target/debug/opsdeck serve

## Every test: Rust service/HTTP tests on SQLite and PostgreSQL, then the browser tests.
test:
	bash scripts/test.sh

build:
	cargo leptos build

tools:
	bash scripts/install-tools.sh

fmt:
	cargo fmt --all
