#!/usr/bin/env bash
# Starts or stops a throwaway Zabbix 6.0 API (the PHP frontend's JSON-RPC) for tests on
# 127.0.0.1: a database of its own on the test PostgreSQL with Zabbix's schema and data
# (Admin/zabbix, the shipped groups and templates), served by `php -S` in a private mount
# namespace whose /etc/zabbix holds the frontend's configuration (nothing on the machine is
# touched). zabbix_server itself is not needed for host, group and template calls.
#   scripts/zabbix.sh start DIR PG_URL PORT   -> prints the API URL
#   scripts/zabbix.sh stop DIR
set -euo pipefail
cmd=$1; D=$2
case "$cmd" in
  start)
    PG=$3; PORT=${4:-8082}
    DB="zbx_$(basename "$D" | tr -c 'a-zA-Z0-9_\n' '_')"
    rm -rf "$D"; mkdir -p "$D/etc"
    # postgres://user:pass@host:port/db
    rest=${PG#postgres://}; cred=${rest%%@*}; hostdb=${rest#*@}
    user=${cred%%:*}; pass=${cred#*:}; hp=${hostdb%%/*}; host=${hp%%:*}; pgport=${hp##*:}
    export PGPASSWORD=$pass
    psql -q -h "$host" -p "$pgport" -U "$user" -d postgres -c "DROP DATABASE IF EXISTS $DB" >/dev/null
    psql -q -h "$host" -p "$pgport" -U "$user" -d postgres -c "CREATE DATABASE $DB" >/dev/null
    for f in schema images data; do
      zcat "/usr/share/zabbix-server-pgsql/$f.sql.gz" | psql -q -h "$host" -p "$pgport" -U "$user" -d "$DB" -v ON_ERROR_STOP=1 >/dev/null
    done
    cat > "$D/etc/zabbix.conf.php" <<PHP
<?php
\$DB['TYPE'] = 'POSTGRESQL';
\$DB['SERVER'] = '$host';
\$DB['PORT'] = '$pgport';
\$DB['DATABASE'] = '$DB';
\$DB['USER'] = '$user';
\$DB['PASSWORD'] = '$pass';
\$DB['SCHEMA'] = '';
\$DB['ENCRYPTION'] = false;
\$DB['KEY_FILE'] = '';
\$DB['CERT_FILE'] = '';
\$DB['CA_FILE'] = '';
\$DB['VERIFY_HOST'] = false;
\$DB['CIPHER_LIST'] = '';
\$DB['VAULT_URL'] = '';
\$DB['VAULT_DB_PATH'] = '';
\$DB['VAULT_TOKEN'] = '';
\$DB['DOUBLE_IEEE754'] = true;
\$ZBX_SERVER_NAME = 'opsdeck-test';
\$IMAGE_FORMAT_DEFAULT = IMAGE_FORMAT_PNG;
PHP
    echo "$host $pgport $user $pass $DB" > "$D/db"
    PHP_CLI_SERVER_WORKERS=4 setsid unshare --mount --propagation private \
      sh -c "mount --bind '$D/etc' /etc/zabbix && exec php -S 127.0.0.1:$PORT -t /usr/share/zabbix" \
      > "$D/php.log" 2>&1 < /dev/null &
    echo $! > "$D/pid"
    url="http://127.0.0.1:$PORT/api_jsonrpc.php"
    for _ in $(seq 1 100); do
      curl -fs -H 'content-type: application/json-rpc' \
        -d '{"jsonrpc":"2.0","method":"apiinfo.version","params":[],"id":1}' "$url" >/dev/null 2>&1 && break
      sleep 0.2
    done
    curl -fs -H 'content-type: application/json-rpc' \
      -d '{"jsonrpc":"2.0","method":"apiinfo.version","params":[],"id":1}' "$url" >/dev/null \
      || { cat "$D/php.log" >&2; exit 1; }
    echo "$url"
    ;;
  stop)
    [ -f "$D/pid" ] && { kill -- -"$(cat "$D/pid")" 2>/dev/null || kill "$(cat "$D/pid")" 2>/dev/null || true; }
    if [ -f "$D/db" ]; then
      read -r host pgport user pass DB < "$D/db"; export PGPASSWORD=$pass
      psql -q -h "$host" -p "$pgport" -U "$user" -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    ;;
esac
