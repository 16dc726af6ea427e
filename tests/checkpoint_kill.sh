#!/bin/sh
# A service killed (SIGKILL) while a big start-up sweep runs (200,000
# cases; each round killed before a fifth more of them are swept), its
# WAL copied
# back by the copier thread nearly without pause (the sweep writes about
# 2 MB of pages every 200 steps, and the thread copies each 2 MB), restarts
# with every payment it acknowledged, four times over; the database is
# intact at the end and its WAL never grew past the service's bound.
# usage: checkpoint_kill.sh RECOUP INSTITUTION_DIR WORK_DIR
set -eu
recoup=$1
src=$2
work=$3
cases=200000
server=
cleanup() { [ -n "$server" ] && kill -KILL "$server" 2>/dev/null || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

rm -rf "$work"
mkdir -p "$work"
cp -r "$src" "$work/inst"
awk -v n="$cases" 'BEGIN { print "id,borrower_id,borrower_name,phone,balance,amount_due,fees,due_date,branch";
  for (i = 0; i < n; i++) printf "C%07d,B%07d,Name %d,+86138%08d,%d,50000,1000,2025-12-%02d,north\n", i, i, i, i, 100000 + i, 1 + i % 28 }' > "$work/book.csv"
"$recoup" import "$work/book.csv" "$work/inst" --db "$work/book.db" --now 2026-01-05T09:00 > /dev/null
export RECOUP_INGEST_TOKEN=ckpt-ingest
: > "$work/acked"
ref=0
largest=0
for round in 1 2 3 4; do
  : > "$work/serve.out"
  "$recoup" serve "$work/inst" --db "$work/book.db" --listen 127.0.0.1:0 --real-time \
    > "$work/serve.out" 2> "$work/serve.err" &
  server=$!
  for i in $(seq 1 300); do grep -q listening "$work/serve.out" && break; sleep 0.1; done
  port=$(sed -n 's/.*127.0.0.1:\([0-9]*\).*/\1/p' "$work/serve.out")
  [ -n "$port" ] || fail "the service did not start (round $round): $(tail -3 "$work/serve.err")"
  # The kill comes after 15 + 5 x round payments, or sooner once the
  # sweep has fewer timers left than a fifth of the cases for each round
  # still to come (the fourth kill with 40,000 left): how much it sweeps
  # beside the payments depends on the machine's load (a loaded CI swept
  # ~50,000 a round, the fourth round's payments outlasted the sweep),
  # and a kill after the sweep ended tests nothing.
  left=$((cases * (5 - round) / 5))
  i=0
  while [ $i -lt $((15 + round * 5)) ]; do
    ref=$((ref + 1))
    body=$(printf '{"case":"C%07d","amount":1,"ref":"K%d"}' $((ref * 7 % cases)) "$ref")
    code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $RECOUP_INGEST_TOKEN" \
      -H 'Content-Type: application/json' -d "$body" "http://127.0.0.1:$port/v1/payments" || true)
    [ "$code" = 201 ] && echo "K$ref" >> "$work/acked"
    i=$((i + 1))
    overdue=$(curl -s "http://127.0.0.1:$port/metrics" | sed -n 's/^recoup_timers_overdue \([0-9]*\).*/\1/p')
    [ "${overdue:-0}" -le "$left" ] && break
  done
  wal=$(stat -c %s "$work/book.db-wal" 2>/dev/null || echo 0)
  [ "$wal" -gt "$largest" ] && largest=$wal
  # One payment in flight when the kill comes: it may or may not be kept.
  ref=$((ref + 1))
  curl -s -o /dev/null -H "Authorization: Bearer $RECOUP_INGEST_TOKEN" -H 'Content-Type: application/json' \
    -d "$(printf '{"case":"C0000001","amount":1,"ref":"K%d"}' "$ref")" "http://127.0.0.1:$port/v1/payments" &
  kill -KILL "$server"
  wait "$server" 2>/dev/null || true
  server=
  wait || true
  echo "round $round: killed with $overdue timers still overdue, WAL $wal bytes"
  [ "${overdue:-0}" -gt 0 ] || fail "the sweep ended before the kill (round $round): nothing was being copied"
done

acked=$(wc -l < "$work/acked")
[ "$acked" -ge 20 ] || fail "only $acked payments acknowledged"
sqlite3 "$work/book.db" "SELECT ref FROM payments" | sort > "$work/kept"
missing=$(sort "$work/acked" | comm -23 - "$work/kept" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing acknowledged payments lost: $(sort "$work/acked" | comm -23 - "$work/kept" | head -5)"
[ "$(sqlite3 "$work/book.db" "PRAGMA integrity_check")" = ok ] || fail "integrity_check"
# The service's bound: 64 MB of WAL and a quarter, and a slice's pages.
[ "$largest" -le $((88 * 1024 * 1024)) ] || fail "the WAL reached $largest bytes"
echo "ok: $acked acknowledged payments all kept across 4 kills; largest WAL $largest bytes"
