#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL 15 for tests on 127.0.0.1. Durability is off (it is
# thrown away); random_page_cost=1.1 is the usual setting for SSD or cached data (docs/benchmarks.md).
#   scripts/pg.sh start DIR PORT   -> prints the admin URL
#   scripts/pg.sh stop DIR
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
cmd=$1; D=$2
case "$cmd" in
  start)
    PORT=${3:-55432}
    rm -rf "$D"; install -d -o postgres -g postgres -m 700 "$D" "$D/data" "$D/run"
    runuser -u postgres -- "$BIN/initdb" -D "$D/data" -U postgres --auth-local=peer --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
    runuser -u postgres -- "$BIN/pg_ctl" -D "$D/data" -l "$D/server.log" -w \
      -o "-c listen_addresses=127.0.0.1 -p $PORT -k $D/run -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c random_page_cost=1.1" start >/dev/null
    runuser -u postgres -- psql -q -h "$D/run" -p "$PORT" -c "CREATE ROLE opsdeck LOGIN SUPERUSER PASSWORD 'opsdeck-test'" >/dev/null
    runuser -u postgres -- psql -q -h "$D/run" -p "$PORT" -c "CREATE DATABASE opsdeck OWNER opsdeck" >/dev/null
    echo "postgres://opsdeck:opsdeck-test@127.0.0.1:$PORT/opsdeck"
    ;;
  stop)
    [ -d "$D/data" ] && runuser -u postgres -- "$BIN/pg_ctl" -D "$D/data" -m fast -w stop >/dev/null || true
    ;;
esac
