#!/usr/bin/env bash
# The benchmarks of docs/benchmarks.md: builds a release server, fills a database with
# `opsdeck bench-seed`, serves it on loopback, and drives it with wrk at 32 connections.
#   scripts/bench.sh [sqlite|postgres|both]                  the CMDB benchmark (issue 3)
#   scripts/bench.sh cmdb|requests|dns [sqlite|postgres|both] one area (requests, DNS: issue 9)
#   scripts/bench.sh exec [sqlite|postgres|both]              deploy task list at 100k tasks and a
#                                                             deploy fanned out to FANOUT (100) OpenSSH hosts (issue 10)
# Traffic goes only to 127.0.0.1; every run is bounded (DURATION seconds per endpoint).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH"
mode=cmdb
case "${1:-}" in cmdb|requests|dns|exec) mode=$1; shift ;; esac
which=${1:-both}
DURATION=${DURATION:-10}
PORT=${PORT:-3977}
PDNS_PORT=${PDNS_PORT:-5397}
command -v wrk >/dev/null || { apt-get -o DPkg::Lock::Timeout=300 update -qq; DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq wrk; }
[ -d target/site/pkg ] || cargo leptos build
# The release binary serves the pages the debug site built (same markup; only the server is timed).
[ -n "${BENCH_BIN:-}" ] || LEPTOS_OUTPUT_NAME=opsdeck CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 cargo build --release -p server --bin opsdeck
BIN=${BENCH_BIN:-$PWD/target/release/opsdeck}
WORK=$(mktemp -d /tmp/opsdeck-bench.XXXXXX); chmod 755 "$WORK"
SERVER=""
cleanup() {
  [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
  bash scripts/pg.sh stop "$WORK/pg" || true
  bash scripts/pdns.sh stop "$WORK/pdns" || true
  for d in "$WORK"/fan/h*; do [ -d "$d" ] && bash scripts/sshhost.sh stop "$d"; done 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# The estate of each mode. Requests and DNS keep a small CMDB estate (their lists never read it).
seed_env=()
case "$mode" in
  requests) seed_env=(OPSDECK_BENCH_HOSTS=2000 OPSDECK_BENCH_APPS=200 OPSDECK_BENCH_INSTANCES=1000 OPSDECK_BENCH_GRANTS=100
                      OPSDECK_BENCH_REQUESTS="${OPSDECK_BENCH_REQUESTS:-100000}") ;;
  dns) seed_env=(OPSDECK_BENCH_HOSTS=2000 OPSDECK_BENCH_APPS=200 OPSDECK_BENCH_INSTANCES=1000 OPSDECK_BENCH_GRANTS=100
                 OPSDECK_BENCH_RECORDS="${OPSDECK_BENCH_RECORDS:-50000}") ;;
  exec) seed_env=(OPSDECK_BENCH_HOSTS=2000 OPSDECK_BENCH_APPS=2000 OPSDECK_BENCH_INSTANCES=1000 OPSDECK_BENCH_GRANTS=1000
                  OPSDECK_BENCH_DEPLOY_TASKS="${OPSDECK_BENCH_DEPLOY_TASKS:-100000}") ;;
esac

api() { # method path [body-file] -> body on stdout
  local args=(-fsS -X "$1" -H "Authorization: token $ADMIN_TOKEN" -H 'content-type: application/json')
  [ -n "${3:-}" ] && args+=(--data-binary "@$3")
  curl "${args[@]}" "http://127.0.0.1:$PORT$2"
}

measure() { # label token path
  local label=$1 tok=$2 path=$3 out
  wrk -t2 -c32 -d1s -H "Authorization: token $tok" "http://127.0.0.1:$PORT$path" >/dev/null 2>&1 # warm-up
  out=$(wrk -t2 -c32 -d"${DURATION}s" --latency -H "Authorization: token $tok" "http://127.0.0.1:$PORT$path" 2>&1)
  printf '%-64s %10s %9s %9s\n' "$label $path" \
    "$(echo "$out" | awk '/Requests\/sec/ {print $2}')" \
    "$(echo "$out" | awk '$1=="50%" {print $2}')" \
    "$(echo "$out" | awk '$1=="99%" {print $2}')"
  if echo "$out" | grep -q 'Non-2xx'; then echo "   (non-2xx answers: $(echo "$out" | awk '/Non-2xx/ {print $NF}'))"; fi
}

cmdb_requests() {
  for spec in \
      "admin|/api/hosts/?page_size=50" \
      "bench|/api/hosts/?page_size=50" \
      "admin|/api/hosts/?q=10.1.2" \
      "admin|/api/applications/?name=app0012" \
      "bench|/api/applications/?page_size=50" \
      "admin|/hosts"; do
    local who=${spec%%|*} path=${spec#*|} tok=$ADMIN_TOKEN
    [ "$who" = bench ] && tok=$BENCH_TOKEN
    # Token authentication works for the server-rendered page too.
    measure "$who" "$tok" "$path"
  done
}

requests_requests() {
  local rr=/api/resource-request
  echo "   (bench-approver's inbox: $(curl -fsS -H "Authorization: token $BENCH_APPROVER_TOKEN" "http://127.0.0.1:$PORT$rr/inbox/"); host requests: $(curl -fsS -H "Authorization: token $BENCH_APPROVER_TOKEN" "http://127.0.0.1:$PORT$rr/hosts/?page_size=1" | jq .count), of bench-req: $(curl -fsS -H "Authorization: token $BENCH_REQ_TOKEN" "http://127.0.0.1:$PORT$rr/hosts/?page_size=1" | jq .count))"
  measure approver "$BENCH_APPROVER_TOKEN" "$rr/hosts/?page_size=50"
  measure bench-req "$BENCH_REQ_TOKEN" "$rr/hosts/?page_size=50"
  measure approver "$BENCH_APPROVER_TOKEN" "$rr/domains/?view=inbox"
  measure approver "$BENCH_APPROVER_TOKEN" "$rr/ssl-certificates/?status=wait_review"
  measure approver "$BENCH_APPROVER_TOKEN" "$rr/inbox/"
  measure bench-req "$BENCH_REQ_TOKEN" "$rr/inbox/"
}

# Bulk import: BULK_RECORDS (10,000) records into a new zone, POSTed in arrays of 500 (the API's
# cap on objects per request) one after another; timed from the first POST until every record
# is `synced` (the serving process's job runner pushes them to PowerDNS).
bulk_import() {
  local name=$1 n=${BULK_RECORDS:-10000} zone=bulk-bench.test did files=() t0 t1 t2 pending=1 total
  did=$(echo "{\"name\":\"$zone\"}" > "$WORK/zone.json"; api POST "/api/dns-services/$BENCH_DNS_SID/domains/" "$WORK/zone.json" | jq .id)
  python3 - "$WORK" "$n" "$zone" <<'EOF'
import json, sys
work, n, zone = sys.argv[1], int(sys.argv[2]), sys.argv[3]
recs = []
for i in range(n):
    if i % 5 == 4:
        recs.append({"name": f"b{i:05}.{zone}", "type": "TXT", "value": f"bulk {i}", "ttl": 300})
    else:
        recs.append({"name": f"b{i:05}.{zone}", "type": "A", "value": f"10.{i >> 8 & 255}.{i & 255}.9", "ttl": 300})
for k in range(0, n, 500):
    with open(f"{work}/bulk-{k // 500:03}.json", "w") as f:
        json.dump(recs[k:k + 500], f)
EOF
  local base="/api/dns-services/$BENCH_DNS_SID/domains/$did/records"
  t0=$(date +%s.%N)
  for f in "$WORK"/bulk-*.json; do api POST "$base/" "$f" >/dev/null; done
  t1=$(date +%s.%N)
  for _ in $(seq 1 1200); do
    pending=$(api GET "$base/?state=pending&page_size=1" | jq .count)
    [ "$pending" = 0 ] && break
    sleep 0.05
  done
  t2=$(date +%s.%N)
  total=$(api GET "$base/?state=synced&page_size=1" | jq .count)
  local served
  served=$(curl -fsS -H "X-API-Key: $PDNS_KEY" "${PDNS_URL}api/v1/servers/localhost/zones/$zone." | jq '[.rrsets[] | select(.type=="A" or .type=="TXT") | .records | length] | add')
  echo "bulk import ($name): $n records in $(ls "$WORK"/bulk-*.json | wc -l) POSTs: POSTs $(printf '%.2f' "$(echo "$t1 - $t0" | bc)") s, all synced after $(printf '%.2f' "$(echo "$t2 - $t0" | bc)") s = $(printf '%.0f' "$(echo "$n / ($t2 - $t0)" | bc -l)") records/s (pending left: $pending; synced rows: $total; A+TXT records PowerDNS serves: $served)"
}

dns_requests() {
  local d="/api/dns-services/$BENCH_DNS_SID/domains/$BENCH_DNS_DID"
  echo "   (zone bench.test: $(api GET "$d/records/?page_size=1" | jq .count) records)"
  measure admin "$ADMIN_TOKEN" "$d/records/?page_size=50"
  measure admin "$ADMIN_TOKEN" "$d/records/?page_size=50&name=w123"
  measure admin "$ADMIN_TOKEN" "$d/records/?page_size=50&page=500"
  local t
  for k in 1 2; do
    t=$(curl -fsS -o "$WORK/drift.json" -w '%{time_total}' -H "Authorization: token $ADMIN_TOKEN" "http://127.0.0.1:$PORT$d/drift/")
    echo "drift check ($1, call $k): ${t} s, $(jq length "$WORK/drift.json") differences"
  done
}

# Deploy tasks: the list at 100k tasks, as an administrator and as `bench` (view_app on 500
# top-level applications and their children), then a deploy fanned out to FANOUT hosts.
exec_requests() {
  local dt=/api/application/deploy-tasks
  echo "   (deploy tasks: $(api GET "$dt/?page_size=1" | jq .count); bench sees $(curl -fsS -H "Authorization: token $BENCH_TOKEN" "http://127.0.0.1:$PORT$dt/?page_size=1" | jq .count))"
  measure admin "$ADMIN_TOKEN" "$dt/?page_size=50"
  measure bench "$BENCH_TOKEN" "$dt/?page_size=50"
  measure admin "$ADMIN_TOKEN" "$dt/?page_size=50&status=wait_review"
  measure bench "$BENCH_TOKEN" "$dt/?page_size=50&status=deploying"
  fan_out "$1"
}

json() { printf '%s' "$1" > "$WORK/body.json"; echo "$WORK/body.json"; }

# FANOUT OpenSSH servers on loopback ports (scripts/sshhost.sh, each with its own /srv and
# /etc), one instance each; a deploy whose pre_exec hook sleeps 1 s goes to all of them at once.
# Wall time is from the sub-task's POST to its end; an instance's time is its first to last step
# (the API's times are in whole seconds). The server's RSS is sampled every 0.2 s meanwhile.
fan_out() {
  local name=$1 n=${FANOUT:-100} key="$WORK/fan-client" i ids=() tasks=() h
  [ -f "$key" ] || ssh-keygen -q -t ed25519 -N '' -C '' -f "$key"
  for d in "$WORK"/fan/h*; do [ -d "$d" ] && bash scripts/sshhost.sh stop "$d"; done 2>/dev/null || true
  for i in $(seq 0 $((n - 1))); do SSHHOST_CLIENT_KEY=$key bash scripts/sshhost.sh start "$WORK/fan/h$i" $((24000 + i)) >/dev/null & done
  wait
  local cred
  cred=$(api POST /api/hosts/ssh-credentials/ "$(json "$(jq -n --arg k "$(cat "$key")" --arg n "fan-$name" '{name:$n, username:"root", kind:"private_key", private_key:$k}')")" | jq .id)
  for i in $(seq 0 $((n - 1))); do
    h=$(api POST /api/hosts/ "$(json "{\"name\":\"fan-$name-$i\"}")" | jq .id)
    api PUT "/api/hosts/$h/access/" "$(json "{\"credential_id\":$cred,\"address\":\"127.0.0.1\",\"port\":$((24000 + i))}")" >/dev/null
    ids+=("$h")
    tasks+=("$(api POST "/api/hosts/$h/actions/check-ssh/" "$(json '{}')" | jq -r .task_id)")
  done
  for t in "${tasks[@]}"; do
    for _ in $(seq 1 300); do [ "$(api GET "/api/tasks/$t/" | jq -r .status)" != running ] && break; sleep 0.2; done
  done
  local app script bench_id art task sub
  app=$(api POST /api/applications/ "$(json "{\"name\":\"fan$name\",\"run_user\":\"deploy\",\"startup_cmd\":\"nohup sleep 600 >/dev/null 2>&1 & echo \$! > app.pid\",\"stop_cmd\":\"kill \$(cat app.pid) 2>/dev/null; true\",\"pid_path\":\"app.pid\"}")" | jq .id)
  api POST "/api/application/$app/instances/" "$(json "$(printf '%s\n' "${ids[@]}" | jq -s 'map({hostid: .})')")" >/dev/null
  script=$(api POST /api/application/deploy-scripts/ "$(json "{\"name\":\"fan-sleep-$name\",\"language\":\"bash\",\"content\":\"sleep 1\"}")" | jq .id)
  api PATCH "/api/application/$app/deploy-settings/" "$(json "{\"enabled\":true,\"deploy_path\":\"/srv/fan$name\",\"script_running_user\":\"deploy\",\"lifecycle_hooks\":{\"running_user\":\"deploy\",\"pre_exec\":{\"script\":{\"id\":$script}}}}")" >/dev/null
  bench_id=$(api GET "/api/users/?username=bench" | jq '.results[0].id')
  api POST "/api/users/$bench_id/application/perms/" "$(json "{\"authorizations\":[{\"id\":$app,\"permission\":{\"view_app\":true,\"deploy_app\":true}}]}")" >/dev/null
  mkdir -p "$WORK/pkg" && echo 1.0 > "$WORK/pkg/VERSION" && tar -czf "$WORK/pkg.tgz" -C "$WORK/pkg" VERSION
  local B=(-fsS -H "Authorization: token $BENCH_TOKEN" -H 'content-type: application/json')
  art=$(curl -fsS -H "Authorization: token $BENCH_TOKEN" --data-binary "@$WORK/pkg.tgz" "http://127.0.0.1:$PORT/api/application/artifacts/?filename=fan.tgz" | jq -r .source)
  task=$(curl "${B[@]}" -X POST --data-binary "@$(json "{\"application_id\":$app,\"version\":\"1.0\",\"description\":\"fan-out\",\"level\":\"C\",\"package_source\":\"$art\",\"planned_exec_time\":0}")" "http://127.0.0.1:$PORT/api/application/deploy-tasks/" | jq .id)
  api POST "/api/application/deploy-tasks/$task/actions/approve/" "$(json '{}')" >/dev/null
  curl "${B[@]}" -X POST "http://127.0.0.1:$PORT/api/application/deploy-tasks/$task/actions/start/" >/dev/null
  local t0 t1 peak=0 rss st
  t0=$(date +%s.%N)
  sub=$(curl "${B[@]}" -X POST --data-binary "@$(json "$(printf '%s\n' "$(api GET "/api/application/deploy-tasks/$task/" | jq '[.instances[] | {id}]')" | jq '{instances: .}')")" "http://127.0.0.1:$PORT/api/application/deploy-tasks/$task/sub-upgrade-tasks/" | jq -r .task_id)
  while :; do
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"); [ "$rss" -gt "$peak" ] && peak=$rss
    st=$(api GET "/api/tasks/$sub/" | jq -r .status)
    [ "$st" != running ] && break
    sleep 0.2
  done
  t1=$(date +%s.%N)
  api GET "/api/tasks/$sub/" > "$WORK/fan.json"
  local slowest wall
  slowest=$(jq '[.results[] | ((.finished_time | sub("\\+00:00$"; "Z") | fromdateiso8601) - (.started_time | sub("\\+00:00$"; "Z") | fromdateiso8601))] | max' "$WORK/fan.json")
  wall=$(echo "$t1 - $t0" | bc)
  echo "fan-out ($name): $n instances, task $st ($(jq -r '"\(.progress.done) done, \(.progress.failed) failed"' "$WORK/fan.json")); wall $(printf '%.2f' "$wall") s; slowest instance ${slowest} s (target: wall <= 1.2 x slowest + 1 = $(echo "1.2 * $slowest + 1" | bc) s); server RSS peak during it $((peak / 1024)) MB"
  for d in "$WORK"/fan/h*; do bash scripts/sshhost.sh stop "$d"; done
}

run() { # name url
  local name=$1 url=$2
  echo "== $name: generating the estate ($mode)"
  local t0=$SECONDS
  (cd "$WORK" && env "${seed_env[@]}" OPSDECK_BENCH_PDNS_URL="${PDNS_URL:-}" OPSDECK_BENCH_PDNS_KEY="${PDNS_KEY:-}" \
     OPSDECK_DATABASE_URL="$url" OPSDECK_LOG=warn "$BIN" bench-seed | grep -E '^(ADMIN|BENCH)_[A-Z_]+=' > "$WORK/tokens.env")
  echo "   (seeded in $((SECONDS - t0)) s)"
  # shellcheck disable=SC1091
  source "$WORK/tokens.env"
  (cd "$WORK" && LEPTOS_SITE_ROOT="$OLDPWD/target/site" LEPTOS_ENV=PROD OPSDECK_DATABASE_URL="$url" OPSDECK_BIND="127.0.0.1:$PORT" OPSDECK_LOG=warn OPSDECK_DEPLOY_USERS=deploy exec "$BIN" serve > "$WORK/server-$name.log" 2>&1) &
  SERVER=$!
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
  printf '%-64s %10s %9s %9s\n' "request ($name)" "req/s" "p50" "p99"
  "${mode}_requests" "$name"
  [ "$mode" = dns ] && bulk_import "$name"
  echo "peak RSS ($name): $(awk '/VmHWM/ {print $2, $3}' /proc/$SERVER/status) (now: $(awk '/RssAnon|RssFile/ {printf "%s %s %s  ", $1, $2, $3}' /proc/$SERVER/status))"
  kill "$SERVER"; wait "$SERVER" 2>/dev/null || true; SERVER=""
}

start_pdns() {
  bash scripts/pdns.sh stop "$WORK/pdns" || true
  read -r PDNS_URL PDNS_KEY < <(bash scripts/pdns.sh start "$WORK/pdns" "$PDNS_PORT")
}

if [ "$which" = sqlite ] || [ "$which" = both ]; then
  [ "$mode" = dns ] && start_pdns
  run sqlite "sqlite://$WORK/bench.db?mode=rwc"
fi
if [ "$which" = postgres ] || [ "$which" = both ]; then
  [ "$mode" = dns ] && start_pdns
  PG=$(bash scripts/pg.sh start "$WORK/pg" 55499)
  run postgres "$PG"
fi
