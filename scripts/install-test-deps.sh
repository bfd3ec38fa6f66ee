#!/usr/bin/env bash
# Installs what the tests need from Debian and npm: PostgreSQL, Chromium, an SMTP sink,
# PowerDNS (with its SQLite backend), BIND (with dig and nsupdate), openssl (certificate checks)
# OpenSSH (managed hosts) and Zabbix 6.0's PHP frontend (its JSON-RPC API) with PostgreSQL
# support.
set -euo pipefail
need=()
[ -x /usr/lib/postgresql/15/bin/initdb ] || need+=(postgresql-15)
[ -x /usr/bin/chromium ] || need+=(chromium)
/usr/bin/python3 -c 'import aiosmtpd' 2>/dev/null || need+=(python3-aiosmtpd)
[ -x /usr/sbin/pdns_server ] || need+=(pdns-server)
[ -d /usr/share/pdns-backend-sqlite3 ] || need+=(pdns-backend-sqlite3)
command -v sqlite3 >/dev/null || need+=(sqlite3)
[ -x /usr/sbin/named ] || need+=(bind9)
command -v dig >/dev/null || need+=(dnsutils)
command -v openssl >/dev/null || need+=(openssl)
# Managed hosts: OpenSSH servers in network namespaces (server/tests/common/ssh_hosts.rs).
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
command -v ip >/dev/null || need+=(iproute2)
# Monitoring: the Zabbix API (scripts/zabbix.sh) needs its schema and frontend, and PHP.
[ -f /usr/share/zabbix-server-pgsql/schema.sql.gz ] || need+=(zabbix-server-pgsql)
[ -f /usr/share/zabbix/api_jsonrpc.php ] || need+=(zabbix-frontend-php)
command -v php >/dev/null || need+=(php8.2-cli)
php -m 2>/dev/null | grep -q '^pgsql$' || need+=(php8.2-pgsql)
if [ ${#need[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=300 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${need[@]}"
fi
if [ -f end2end/package.json ] && [ ! -d end2end/node_modules/playwright-core ]; then
  (cd end2end && npm install --no-audit --no-fund)
fi
