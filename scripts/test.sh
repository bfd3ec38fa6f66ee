#!/usr/bin/env bash
# The whole test suite: installs what it needs, builds, starts PostgreSQL, runs the Rust tests
# (each on SQLite and PostgreSQL), then serves Opsdeck and runs the browser tests in Chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
# cargo-leptos adds `--cfg erase_components` to debug builds; cargo test gets the same flag so it
# reuses that build. RUSTFLAGS must be unset for cargo-leptos itself (it would be doubled).
unset RUSTFLAGS
start=$(date +%s)

bash scripts/install-tools.sh
bash scripts/install-test-deps.sh

WORK=$(mktemp -d /tmp/opsdeck-test.XXXXXX)
chmod 755 "$WORK"
SERVER_PID=""
SMTP_PID=""
ZBX_PID=""
cleanup() {
  [ -n "$ZBX_PID" ] && kill "$ZBX_PID" 2>/dev/null || true
  bash scripts/zabbix.sh stop "$WORK/zabbix" || true
  [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true
  [ -n "$SMTP_PID" ] && kill "$SMTP_PID" 2>/dev/null || true
  bash scripts/pdns.sh stop "$WORK/pdns" || true
  bash scripts/sshhost.sh stop "$WORK/sshhost" || true
  bash scripts/pg.sh stop "$WORK/pg" || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# Test services start once per run, while the build runs: PostgreSQL first (seconds), then
# Zabbix's API on it (its schema takes ~15-25 s).
echo "== PostgreSQL, Zabbix"
PG_PORT=${OPSDECK_TEST_PG_PORT:-55439}
OPSDECK_TEST_PG_URL=$(bash scripts/pg.sh start "$WORK/pg" "$PG_PORT")
export OPSDECK_TEST_PG_URL
ZBX_PORT=${OPSDECK_TEST_ZABBIX_PORT:-8093}
bash scripts/zabbix.sh start "$WORK/zabbix" "$OPSDECK_TEST_PG_URL" "$ZBX_PORT" > "$WORK/zabbix.url" 2> "$WORK/zabbix.err" &
ZBX_PID=$!

echo "== build"
cargo leptos build

# `cargo test` rebuilds target/debug/opsdeck without cargo-leptos' environment; keep the real one.
cp target/debug/opsdeck "$WORK/opsdeck"

wait "$ZBX_PID" || { cat "$WORK/zabbix.err"; exit 1; }
ZBX_PID=""
OPSDECK_TEST_ZABBIX_URL=$(cat "$WORK/zabbix.url")
export OPSDECK_TEST_ZABBIX_URL

echo "== Rust tests (SQLite and PostgreSQL)"
RUSTFLAGS="--cfg erase_components" cargo test --workspace --exclude frontend

echo "== browser tests"
PORT=${OPSDECK_E2E_PORT:-3917}
export OPSDECK_ADMIN_PASSWORD="e2e-admin-$(date +%s)"
# The domain-request walk needs a real DNS server and a real SMTP sink.
PDNS_PORT=${OPSDECK_E2E_PDNS_PORT:-5395}
read -r OPSDECK_E2E_PDNS_URL OPSDECK_E2E_PDNS_KEY < <(bash scripts/pdns.sh start "$WORK/pdns" "$PDNS_PORT")
export OPSDECK_E2E_PDNS_URL OPSDECK_E2E_PDNS_KEY OPSDECK_E2E_PDNS_PORT=$PDNS_PORT
SMTP_PORT=${OPSDECK_E2E_SMTP_PORT:-2526}
export OPSDECK_E2E_MAILDIR="$WORK/maildir"
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox "$OPSDECK_E2E_MAILDIR" > "$WORK/smtp.log" 2>&1 &
SMTP_PID=$!
# The deploy walk needs a managed host: an OpenSSH server in a mount namespace of its own.
SSH_PORT=${OPSDECK_E2E_SSH_PORT:-2292}
OPSDECK_E2E_SSH_KEY=$(bash scripts/sshhost.sh start "$WORK/sshhost" "$SSH_PORT")
export OPSDECK_E2E_SSH_KEY OPSDECK_E2E_SSH_PORT=$SSH_PORT
mkdir -p "$WORK/site"
(cd "$WORK/site" && LEPTOS_SITE_ROOT="$OLDPWD/target/site" LEPTOS_ENV=PROD OPSDECK_BIND="127.0.0.1:$PORT" \
  OPSDECK_SMTP_HOST=127.0.0.1 OPSDECK_SMTP_PORT="$SMTP_PORT" OPSDECK_PUBLIC_URL="http://127.0.0.1:$PORT" \
  OPSDECK_DEPLOY_USERS=deploy \
  OPSDECK_DATABASE_URL="sqlite://$WORK/site/e2e.db?mode=rwc" exec "$WORK/opsdeck" serve > "$WORK/server.log" 2>&1) &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$WORK/server.log"; exit 1; }
(cd end2end && OPSDECK_E2E_URL="http://127.0.0.1:$PORT" node --test --test-concurrency=1 tests/) || { tail -50 "$WORK/server.log"; exit 1; }

echo "== all tests passed in $(( $(date +%s) - start ))s"
