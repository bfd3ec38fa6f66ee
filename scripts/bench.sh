#!/usr/bin/env bash
# The CMDB benchmark (docs/benchmarks.md): builds a release server, fills a database with
# `opsdeck bench-seed`, serves it on loopback, and drives it with wrk at 32 connections.
#   scripts/bench.sh [sqlite|postgres|both]   (default both)
# Traffic goes only to 127.0.0.1; every run is bounded (DURATION seconds per endpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
which=${1:-both}
DURATION=${DURATION:-10}
PORT=${PORT:-3977}
command -v wrk >/dev/null || { apt-get -o DPkg::Lock::Timeout=300 update -qq; DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq wrk; }
[ -d target/site/pkg ] || cargo leptos build
# The release binary serves the pages the debug site built (same markup; only the server is timed).
LEPTOS_OUTPUT_NAME=opsdeck CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo build --release -p server --bin opsdeck
BIN=$PWD/target/release/opsdeck
WORK=$(mktemp -d /tmp/opsdeck-bench.XXXXXX); chmod 755 "$WORK"
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true; bash scripts/pg.sh stop "$WORK/pg" || true; rm -rf "$WORK"; }
trap cleanup EXIT

run() { # backend url
  local name=$1 url=$2
  echo "== $name: generating the estate"
  (cd "$WORK" && OPSDECK_DATABASE_URL="$url" OPSDECK_LOG=warn "$BIN" bench-seed | grep -E '^(ADMIN|BENCH)_TOKEN=' > "$WORK/tokens.env")
  # shellcheck disable=SC1091
  source "$WORK/tokens.env"
  (cd "$WORK" && LEPTOS_SITE_ROOT="$OLDPWD/target/site" LEPTOS_ENV=PROD OPSDECK_DATABASE_URL="$url" OPSDECK_BIND="127.0.0.1:$PORT" OPSDECK_LOG=warn exec "$BIN" serve > "$WORK/server-$name.log" 2>&1) &
  SERVER=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
  # Token authentication works for the server-rendered page too.
  printf '%-44s %10s %9s %9s\n' "request ($name)" "req/s" "p50" "p99"
  for spec in \
      "admin|/api/hosts/?page_size=50" \
      "bench|/api/hosts/?page_size=50" \
      "admin|/api/hosts/?q=10.1.2" \
      "admin|/api/applications/?name=app0012" \
      "bench|/api/applications/?page_size=50" \
      "admin|/hosts"; do
    local who=${spec%%|*} path=${spec#*|} tok=$ADMIN_TOKEN
    [ "$who" = bench ] && tok=$BENCH_TOKEN
    local out
    wrk -t2 -c32 -d1s -H "Authorization: token $tok" "http://127.0.0.1:$PORT$path" >/dev/null 2>&1 # warm-up
    out=$(wrk -t2 -c32 -d"${DURATION}s" --latency -H "Authorization: token $tok" "http://127.0.0.1:$PORT$path" 2>&1)
    printf '%-44s %10s %9s %9s\n' "$who $path" \
      "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
      "$(echo "$out" | awk '$1=="50%" {print $2}')" \
      "$(echo "$out" | awk '$1=="99%" {print $2}')"
    echo "$out" | grep -q 'Non-2xx' && echo "   (non-2xx answers: $(echo "$out" | awk '/Non-2xx/ {print $NF}'))"
  done
  echo "peak RSS ($name): $(awk '/VmHWM/ {print $2, $3}' /proc/$SERVER/status) (now: $(awk '/RssAnon|RssFile/ {printf "%s %s %s  ", $1, $2, $3}' /proc/$SERVER/status))"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
}

if [ "$which" = sqlite ] || [ "$which" = both ]; then
  run sqlite "sqlite://$WORK/bench.db?mode=rwc"
fi
if [ "$which" = postgres ] || [ "$which" = both ]; then
  PG=$(bash scripts/pg.sh start "$WORK/pg" 55499)
  run postgres "$PG"
fi
