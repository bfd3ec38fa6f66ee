#!/usr/bin/env bash
# Starts or stops a throwaway PowerDNS 4.7 authoritative server (sqlite3 backend, HTTP API) on
# 127.0.0.1, as server/tests/common/dns_servers.rs does (shared/INTEGRATIONS.md).
#   scripts/pdns.sh start DIR PORT   -> DNS on PORT, API on PORT+1; prints "URL KEY"
#   scripts/pdns.sh stop DIR          -> stops it by the PID it wrote
set -euo pipefail
cmd=$1; D=$2
case "$cmd" in
  start)
    PORT=${3:-5399}; API=$((PORT + 1)); KEY="pdns-bench-key-$PORT"
    command -v pdns_server >/dev/null || [ -x /usr/sbin/pdns_server ] || {
      DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq pdns-server pdns-backend-sqlite3 sqlite3 >/dev/null; }
    rm -rf "$D"; mkdir -p "$D/run"; chmod 755 "$D"
    sqlite3 "$D/pdns.sqlite3" < /usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql
    cat > "$D/pdns.conf" <<EOF
launch=gsqlite3
gsqlite3-database=$D/pdns.sqlite3
local-address=127.0.0.1
local-port=$PORT
api=yes
api-key=$KEY
webserver=yes
webserver-address=127.0.0.1
webserver-port=$API
webserver-allow-from=127.0.0.1
socket-dir=$D/run
daemon=no
guardian=no
disable-syslog=yes
security-poll-suffix=
default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 3600
loglevel=4
EOF
    /usr/sbin/pdns_server --config-dir="$D" </dev/null >"$D/pdns.log" 2>&1 &
    echo $! > "$D/pdns.pid"
    for _ in $(seq 1 100); do
      curl -fs -H "X-API-Key: $KEY" "http://127.0.0.1:$API/api/v1/servers/localhost" >/dev/null 2>&1 && break
      kill -0 "$(cat "$D/pdns.pid")" 2>/dev/null || { cat "$D/pdns.log" >&2; exit 1; }
      sleep 0.1
    done
    echo "http://127.0.0.1:$API/ $KEY"
    ;;
  stop)
    if [ -f "$D/pdns.pid" ]; then
      pid=$(cat "$D/pdns.pid")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
      rm -f "$D/pdns.pid"
    fi
    ;;
esac
