#!/usr/bin/env bash
# Installs the build toolchain Opsdeck needs; skips what is already on PATH.
# Versions and flags are the ones verified in shared/BUILD.md.
set -euo pipefail
export PATH="$HOME/.cargo/bin:$PATH"

if ! rustup target list --installed | grep -q wasm32-unknown-unknown; then
  rustup target add wasm32-unknown-unknown
fi
if ! wasm-bindgen --version 2>/dev/null | grep -q 0.2.130; then
  cargo install wasm-bindgen-cli --version 0.2.130
fi
if ! cargo leptos --version >/dev/null 2>&1; then
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install cargo-leptos --version 0.3.11 --locked --ignore-rust-version --features no_downloads
fi
if [ "${OPSDECK_RELEASE:-0}" = 1 ] && ! wasm-opt --version >/dev/null 2>&1; then
  cargo install wasm-opt --version 0.116.1 --locked
fi
