#!/usr/bin/env bash
# Creditdesk benchmark: seeds 1M customers and 10M ledger rows (bulk path, then `verify`) on
# SQLite and on PostgreSQL, then measures on each:
#   - Promo Credits tab throughput under wrk (signed in, random customers), against two
#     yardsticks measured in the same run (bench/yardstick.rs): a page that reads one random
#     customer by primary key and renders a small askama template, and a trivial handler;
#   - promo credit list latency p50/p95: page 1, a deep page, and each filter;
#   - dashboard latency p50/p95;
#   - API adjustments: 16 concurrent writers on 64 customers (one ledger row each): req/s,
#     p50, p99, non-2xx answers, and `creditdesk verify` after the load;
#   - the CSV export of all rows: time, bytes, server peak RSS above idle, against the
#     database's own CSV dump of the same columns;
#   - customer import from the command line: a file of $IMPORT_ROWS new customers with
#     opening balances in two currencies, on a fresh database (check + apply, the dry run
#     alone, and the same file again).
#   - the floors: the same database work without the console around it (bench/floor.rs, and
#     pgbench with bench/floor-postgres.sql on PostgreSQL);
# Figures go to stdout and to $BENCH_DIR/results.md. Needs: wrk, curl, sqlite3, psql, pgbench.
#
#   bench/run.sh                                 # everything (about 30 min on 2 cores)
#   CUSTOMERS=100000 ROWS=1000000 bench/run.sh   # smaller
#   REUSE=1 bench/run.sh                         # keep databases seeded (and verified) by an earlier run
#   MEASURES="api dashboard" bench/run.sh        # only some measures (tab list dashboard export api floor import)
#   BIN=/tmp/creditdesk-before bench/run.sh      # measure another build of the console
set -euo pipefail
cd "$(dirname "$0")/.."

CUSTOMERS=${CUSTOMERS:-1000000}
ROWS=${ROWS:-10000000}
DURATION=${DURATION:-15}
SAMPLES=${SAMPLES:-40}
BACKENDS=${BACKENDS:-"sqlite postgres"}
PG_ADMIN_URL=${PG_ADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
PG_DB=${PG_DB:-creditdesk_bench}
OUT=${BENCH_DIR:-target/bench}
REUSE=${REUSE:-0}
MEASURES=${MEASURES:-"tab list dashboard export api floor import"}
IMPORT_ROWS=${IMPORT_ROWS:-100000}
PORT=${PORT:-18500}
YARDSTICK_PORT=${YARDSTICK_PORT:-18501}
BENCH_EMAIL=bench-owner@example.com
BENCH_PASSWORD=bench-password-123

for tool in wrk curl sqlite3 psql; do
  command -v "$tool" >/dev/null || { echo "bench needs $tool (apt-get install wrk curl sqlite3 postgresql-client)"; exit 1; }
done
PGBENCH=${PGBENCH:-$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench 2>/dev/null | tail -n 1)}
mkdir -p "$OUT"
cargo build --release --bin creditdesk --example yardstick --example floor
BIN=${BIN:-target/release/creditdesk}
YARDSTICK=target/release/examples/yardstick
FLOOR=target/release/examples/floor
SERVER_PID=
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null || true; [ -n "${YARDSTICK_PID:-}" ] && kill "$YARDSTICK_PID" 2>/dev/null || true; }
trap cleanup EXIT

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

db_url() {
  case "$1" in
    sqlite) echo "$OUT/bench.db" ;;
    postgres) echo "${PG_ADMIN_URL%/*}/$PG_DB" ;;
  esac
}

declare -A R

seed() {
  local backend=$1 url
  url=$(db_url "$backend")
  if [ "$REUSE" = 1 ] && [ "$(count_rows "$backend")" -ge "$ROWS" ]; then
    echo "reusing the seeded $backend database"
    return
  fi
  if [ "$backend" = sqlite ]; then rm -f "$url" "$url-wal" "$url-shm"; else
    psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" -c "CREATE DATABASE $PG_DB"
  fi
  local started; started=$(now)
  "$BIN" --database-url "$url" seed --customers "$CUSTOMERS" --rows "$ROWS"
  R[$backend,seed_s]=$(since "$started")
  started=$(now)
  "$BIN" --database-url "$url" verify
  R[$backend,verify_s]=$(since "$started")
}

sql() {
  local backend=$1 query=$2
  if [ "$backend" = sqlite ]; then sqlite3 "$(db_url sqlite)" "$query"; else psql -qAt "$(db_url postgres)" -c "$query"; fi
}
count_rows() { sql "$1" "SELECT COUNT(*) FROM credit_transactions" 2>/dev/null || echo 0; }

start_server() {
  local url=$1
  DATABASE_URL="$url" RUST_LOG=warn CREDITDESK_API_RATE_LIMIT=0 "$BIN" serve --bind "127.0.0.1:$PORT" >"$OUT/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && return; sleep 0.1; done
  echo "server did not start"; cat "$OUT/server.log"; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

login() {
  local jar=$OUT/cookies
  rm -f "$jar"
  local token
  token=$(curl -s -c "$jar" -b "$jar" "http://127.0.0.1:$PORT/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"$//')
  curl -s -c "$jar" -b "$jar" -o /dev/null -X POST "http://127.0.0.1:$PORT/login" \
    --data-urlencode "csrf_token=$token" --data-urlencode "email=$BENCH_EMAIL" --data-urlencode "password=$BENCH_PASSWORD"
  COOKIE=$(awk '$6 == "creditdesk_session" { print "creditdesk_session=" $7 }' "$jar")
  [ -n "$COOKIE" ] || { echo "login failed"; exit 1; }
}

rps() { wrk "$@" | awk '/Requests\/sec/ { print $2 }'; }

throughput() {
  local backend=$1
  cat >"$OUT/tab.lua" <<LUA
math.randomseed(42)
wrk.headers["Cookie"] = "$COOKIE"
request = function()
  return wrk.format("GET", "/users/" .. math.random(1, $CUSTOMERS) .. "/promo-credits?currency=EUR")
end
LUA
  cat >"$OUT/yardstick.lua" <<LUA
math.randomseed(42)
request = function()
  return wrk.format("GET", "/customers/" .. math.random(1, $CUSTOMERS))
end
LUA
  R[$backend,tab_rps]=$(rps -t2 -c16 -d"${DURATION}s" -s "$OUT/tab.lua" "http://127.0.0.1:$PORT/")
  # The yardsticks alone on the machine: the console idles meanwhile.
  "$YARDSTICK" "127.0.0.1:$YARDSTICK_PORT" "$(db_url "$backend")" & YARDSTICK_PID=$!
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$YARDSTICK_PORT/" >/dev/null && break; sleep 0.1; done
  R[$backend,yardstick_rps]=$(rps -t2 -c16 -d"${DURATION}s" -s "$OUT/yardstick.lua" "http://127.0.0.1:$YARDSTICK_PORT/")
  R[$backend,trivial_rps]=$(rps -t2 -c16 -d"${DURATION}s" "http://127.0.0.1:$YARDSTICK_PORT/")
  kill "$YARDSTICK_PID"; wait "$YARDSTICK_PID" 2>/dev/null || true; YARDSTICK_PID=
}

# p50 and p95 in ms of SAMPLES sequential requests (after 3 warm-ups).
latency() {
  local path=$1 times
  for _ in 1 2 3; do curl -s -o /dev/null -b "$COOKIE" "http://127.0.0.1:$PORT$path"; done
  times=$(for _ in $(seq 1 "$SAMPLES"); do
    curl -s -o /dev/null -b "$COOKIE" -w '%{http_code} %{time_total}\n' "http://127.0.0.1:$PORT$path"
  done)
  if echo "$times" | grep -qv '^200 '; then echo "$path did not answer 200" >&2; fi
  echo "$times" | awk '{ print $2 * 1000 }' | sort -n | awk '{ v[NR] = $1 } END {
    p50 = v[int(NR * 0.50 + 0.999)]; p95 = v[int(NR * 0.95 + 0.999)]; printf "%.1f / %.1f", p50, p95 }'
}

# API adjustments: POST .../promo-credit/adjustments, 16 connections each sending one after
# the other, spread over 64 customers (so writers meet on the same accounts and days' totals),
# then `creditdesk verify` on the database the load wrote to.
WRITE_CUSTOMERS=64
api_throughput() {
  local backend=$1 key out
  key=$("$BIN" --database-url "$(db_url "$backend")" api-key create --name "bench $(date -u +%s)" | tail -n 1)
  cat >"$OUT/adjust.lua" <<LUA
math.randomseed(7)
wrk.method = "POST"
wrk.headers["Authorization"] = "Bearer $key"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"currency":"EUR","change":1,"note":"bench"}'
local step = math.max(1, math.floor($CUSTOMERS / $WRITE_CUSTOMERS))
request = function()
  return wrk.format(nil, "/api/v1/users/" .. (1 + step * math.random(0, $WRITE_CUSTOMERS - 1)) .. "/promo-credit/adjustments")
end
LUA
  out=$(wrk -t2 -c16 -d"${DURATION}s" --latency -s "$OUT/adjust.lua" "http://127.0.0.1:$PORT/")
  R[$backend,api_rps]=$(echo "$out" | awk '/Requests\/sec/ { print $2 }')
  R[$backend,api_p50]=$(echo "$out" | awk '$1 == "50%" { print $2 }')
  R[$backend,api_p99]=$(echo "$out" | awk '$1 == "99%" { print $2 }')
  R[$backend,api_errors]=$(echo "$out" | awk '/Non-2xx/ { print $5 }')
  R[$backend,api_errors]=${R[$backend,api_errors]:-0}
  if "$BIN" --database-url "$(db_url "$backend")" verify >"$OUT/verify.log" 2>&1; then
    R[$backend,api_verify]=clean
  else
    R[$backend,api_verify]="FAILED (see $OUT/verify.log)"
  fi
}

LIST_SCENARIOS=()
list_latency() {
  local backend=$1 deep invoice external from to
  deep=$(( ROWS / 10 ))
  invoice=$(sql "$backend" "SELECT invoice_id FROM credit_transactions WHERE id = (SELECT MIN(id) FROM credit_transactions WHERE invoice_id IS NOT NULL AND id > $deep)")
  external=$(sql "$backend" "SELECT external_id FROM users WHERE id = $(( CUSTOMERS / 2 ))")
  from=$(date -u -d '-200 days' +%F); to=$(date -u -d '-194 days' +%F)
  LIST_SCENARIOS=(
    "page 1|/promo-credits"
    "page 1, 100 rows|/promo-credits?per_page=100"
    "deep page (after=$deep)|/promo-credits?after=$deep"
    "email prefix (anna.)|/promo-credits?email=anna."
    "email prefix, deep|/promo-credits?email=anna.&after=$deep"
    "email (one customer)|/promo-credits?email=anna.$(( CUSTOMERS / 3 ))%40"
    "external_id|/promo-credits?external_id=$external"
    "invoice_id|/promo-credits?invoice_id=$invoice"
    "currency=USD|/promo-credits?currency=USD"
    "currency=USD, deep|/promo-credits?currency=USD&after=$deep"
    "type=admin_reduced|/promo-credits?type=admin_reduced"
    "type=admin_reduced, deep|/promo-credits?type=admin_reduced&after=$deep"
    "two types|/promo-credits?type=admin_reduced&type=api_reduced"
    "reason=goodwill|/promo-credits?reason=goodwill"
    "reason=goodwill, deep|/promo-credits?reason=goodwill&after=$deep"
    "one week (from/to)|/promo-credits?from=$from&to=$to"
    "oldest first|/promo-credits?order=asc"
    "balances page 1|/promo-credits/balances"
    "Promo Credits tab|/users/$(( CUSTOMERS / 2 ))/promo-credits"
  )
  for scenario in "${LIST_SCENARIOS[@]}"; do
    R[$backend,list:${scenario%%|*}]=$(latency "${scenario#*|}")
  done
}

EXPORT_QUERY_SELECT="SELECT t.id, t.user_id, u.external_id, u.email, t.currency, t.kind, t.reason, t.delta,
  t.balance_before, t.balance_after, t.currency_value, EXCHANGE_RATE,
  CASE t.actor_kind WHEN 'admin' THEN (SELECT email FROM admins WHERE id = t.actor_id)
    WHEN 'api_key' THEN (SELECT name FROM api_keys WHERE id = t.actor_id) ELSE 'system' END,
  t.note, t.invoice_id, t.created_at
  FROM credit_transactions t JOIN users u ON u.id = t.user_id
  ORDER BY t.created_at DESC, t.id DESC"

export_and_dump() {
  local backend=$1 url idle peak started out
  url=$(db_url "$backend")
  stop_server; start_server "$url"; login
  idle=$(awk '/VmRSS/ { print $2 }' "/proc/$SERVER_PID/status")
  started=$(now)
  out=$(curl -s -b "$COOKIE" -o /dev/null -w '%{http_code} %{size_download}' "http://127.0.0.1:$PORT/promo-credits/export.csv")
  R[$backend,export_s]=$(since "$started")
  R[$backend,export_bytes]=${out#* }
  peak=$(awk '/VmHWM/ { print $2 }' "/proc/$SERVER_PID/status")
  R[$backend,rss_idle_mb]=$(( idle / 1024 ))
  R[$backend,rss_growth_mb]=$(( (peak - idle) / 1024 ))
  started=$(now)
  local rate query
  if [ "$backend" = sqlite ]; then
    rate="printf('%.2f', t.exchange_rate_e4 / 10000.0)"
    query=${EXPORT_QUERY_SELECT/EXCHANGE_RATE/$rate}
    R[$backend,dump_bytes]=$(sqlite3 -csv -header "$url" "$query" | wc -c)
  else
    rate="(t.exchange_rate_e4 / 10000.0)::numeric(14,2)"
    query=${EXPORT_QUERY_SELECT/EXCHANGE_RATE/$rate}
    R[$backend,dump_bytes]=$(psql -q "$url" -c "\\copy ($(echo "$query" | tr '\n' ' ')) to stdout with csv header" | wc -c)
  fi
  R[$backend,dump_s]=$(since "$started")
}

# A file of $IMPORT_ROWS new customers: an EUR opening balance on most, USD on a third.
import_file() {
  awk -v n="$IMPORT_ROWS" 'BEGIN {
    print "external_id,email,first_name,last_name,country,credits_EUR,credits_USD"
    for (i = 1; i <= n; i++) {
      usd = (i % 3 == 0) ? (i * 7) % 300 : ""
      printf "imp-%d,import%d@example.com,First%d,Last %d,DE,%d,%s\n", i, i, i, i, i % 500, usd
    }
  }' >"$1"
}

# Times `creditdesk import customers` on a fresh database of $1 (EUR and USD set up by a
# one-customer demo): the dry run, check + apply, and the same file again.
import_timing() {
  local backend=$1 file="$OUT/import.csv" url
  [ -f "$file" ] && [ "$(($(wc -l <"$file") - 1))" = "$IMPORT_ROWS" ] || import_file "$file"
  if [ "$backend" = sqlite ]; then
    url="$OUT/import.db"; rm -f "$url" "$url-wal" "$url-shm"
  else
    psql -q "$PG_ADMIN_URL" -c "DROP DATABASE IF EXISTS ${PG_DB}_import" -c "CREATE DATABASE ${PG_DB}_import"
    url="${PG_ADMIN_URL%/*}/${PG_DB}_import"
  fi
  "$BIN" --database-url "$url" demo --customers 1 >/dev/null
  local started
  started=$(now); "$BIN" --database-url "$url" import customers "$file" --dry-run >/dev/null 2>&1
  R[$backend,import_dry_s]=$(since "$started")
  started=$(now); "$BIN" --database-url "$url" import customers "$file" >/dev/null 2>&1
  R[$backend,import_s]=$(since "$started")
  started=$(now); "$BIN" --database-url "$url" import customers "$file" >/dev/null 2>&1
  R[$backend,import_again_s]=$(since "$started")
  "$BIN" --database-url "$url" verify >/dev/null || { echo "verify failed after the import on $backend"; exit 1; }
  echo "import of $IMPORT_ROWS rows: ${R[$backend,import_s]} s (dry run ${R[$backend,import_dry_s]} s, again ${R[$backend,import_again_s]} s)"
}

# The floors: the same database work without the console around it, with the server
# stopped (bench/floor.rs: the tab's reads and the ledger's write in one thread, in process;
# on PostgreSQL also pgbench running an API adjustment's statements, bench/floor-postgres.sql,
# with 16 clients like wrk, then `verify`).
floors() {
  local backend=$1 url out token
  url=$(db_url "$backend")
  token=${COOKIE#creditdesk_session=}
  out=$("$FLOOR" "$url" "$CUSTOMERS" "$token")
  echo "$out"
  R[$backend,floor_yardstick_us]=$(echo "$out" | awk '/^yardstick read:/ { print $3 }')
  R[$backend,floor_tab_us]=$(echo "$out" | awk '/^tab reads/ { for (i = 1; i <= NF; i++) if ($i == "µs") { print $(i - 1); exit } }')
  R[$backend,floor_write_rps]=$(echo "$out" | awk '/^ledger write:/ { print $5 }')
  if [ "$backend" = postgres ]; then
    local step=$(( CUSTOMERS / WRITE_CUSTOMERS > 0 ? CUSTOMERS / WRITE_CUSTOMERS : 1 )) mode
    for mode in prepared extended; do
      R[$backend,floor_pgbench_$mode]=$("$PGBENCH" -n -M "$mode" -c16 -j2 -T"$DURATION" -D step="$step" \
        -f bench/floor-postgres.sql "$url" 2>&1 | awk '/^tps/ { printf "%.0f", $3 }')
    done
    "$BIN" --database-url "$url" verify >/dev/null || { echo "verify failed after pgbench"; exit 1; }
  fi
}

measure() { [[ " $MEASURES " == *" $1 "* ]]; }
served_measures() { local m; for m in tab list dashboard export api floor; do measure "$m" && return 0; done; return 1; }
for backend in $BACKENDS; do
  echo "=== $backend"
  if measure import; then echo "--- import"; import_timing "$backend"; fi
  served_measures || continue
  seed "$backend"
  url=$(db_url "$backend")
  "$BIN" --database-url "$url" admin create --email "$BENCH_EMAIL" --name Bench --role owner --password "$BENCH_PASSWORD" >/dev/null 2>&1 || true
  start_server "$url"
  login
  if measure tab; then echo "--- tab throughput"; throughput "$backend"; fi
  if measure list; then echo "--- list latency"; list_latency "$backend"; fi
  if measure dashboard; then echo "--- dashboard latency"; R[$backend,dashboard]=$(latency "/"); fi
  if measure api; then echo "--- API adjustments"; api_throughput "$backend"; fi
  if measure export; then echo "--- export"; export_and_dump "$backend"; fi
  stop_server
  if measure floor; then echo "--- floors"; floors "$backend"; fi
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
{
  echo "## $(date -u +%F) · $(nproc) cores · $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo) · $(free -g | awk '/Mem:/ { print $2 }') GiB"
  echo
  echo "$CUSTOMERS customers, $ROWS ledger rows; wrk -t2 -c16 ${DURATION}s; $SAMPLES sequential requests per latency line."
  echo
  printf '| %s |' "measure"; for b in $BACKENDS; do printf ' %s |' "$b"; done; echo
  printf '|---|'; for _ in $BACKENDS; do printf -- '---|'; done; echo
  # A measure this run did not take on any backend is left out.
  line() {
    local b any=
    for b in $BACKENDS; do [ -n "${R[$b,$2]:-}" ] && any=1; done
    [ -n "$any" ] || return 0
    printf '| %s |' "$1"; for b in $BACKENDS; do printf ' %s |' "${R[$b,$2]:--}"; done; echo
  }
  line "seed (s)" seed_s
  line "verify (s)" verify_s
  line "Promo Credits tab, req/s" tab_rps
  line "yardstick: one customer by id + small template, req/s" yardstick_rps
  line "trivial actix handler, req/s" trivial_rps
  if measure tab; then
    printf '| %s |' "tab / yardstick (target ≥ 0.50)"; for b in $BACKENDS; do printf ' %s |' "$(ratio "${R[$b,tab_rps]:-0}" "${R[$b,yardstick_rps]:-0}")"; done; echo
  fi
  for scenario in "${LIST_SCENARIOS[@]}"; do line "p50 / p95 ms: ${scenario%%|*}" "list:${scenario%%|*}"; done
  line "p50 / p95 ms: dashboard / (target p95 ≤ 100)" dashboard
  line "API adjustments, 16 writers on $WRITE_CUSTOMERS customers, req/s" api_rps
  line "API adjustments, p50 latency" api_p50
  line "API adjustments, p99 latency (target ≤ 50ms)" api_p99
  line "API adjustments, non-2xx answers" api_errors
  line "verify after the adjustments" api_verify
  line "floor: the yardstick's read alone, µs" floor_yardstick_us
  line "floor: the tab's reads alone (session, customer, account, 21 rows), µs" floor_tab_us
  line "floor: ledger writes one after the other, in process, writes/s" floor_write_rps
  line "floor: pgbench, an adjustment's statements, 16 clients, prepared, tx/s" floor_pgbench_prepared
  line "floor: pgbench, the same, parsed each time, tx/s" floor_pgbench_extended
  line "export all rows (s)" export_s
  line "export bytes" export_bytes
  line "database's own CSV dump (s)" dump_s
  line "dump bytes" dump_bytes
  if measure export; then
    printf '| %s |' "export / dump (target ≤ 1.10)"; for b in $BACKENDS; do printf ' %s |' "$(ratio "${R[$b,export_s]:-0}" "${R[$b,dump_s]:-0}")"; done; echo
  fi
  line "import $IMPORT_ROWS new customers, check + apply (s, target < 30 on SQLite)" import_s
  line "import: dry run alone (s)" import_dry_s
  line "import: the same file again, nothing to change (s)" import_again_s
  line "server RSS idle (MB)" rss_idle_mb
  line "server peak RSS above idle during export (MB, target ≤ 64)" rss_growth_mb
  echo
} | tee -a "$OUT/results.md"
