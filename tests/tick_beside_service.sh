#!/bin/sh
# `recoup tick` and `recoup import` on a SQLite book a service holds are
# refused, naming the service: it runs its timers and delivers its
# messages itself, a SQLite book's claims take no lease, and a tick
# beside it delivered the same queued messages from both processes. Once
# the service stopped, both work on the book again.
# usage: tick_beside_service.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
rm -rf "$work"
mkdir -p "$work/book"
cat >"$work/book/recoup.lua" <<'LUA'
institution { name = "Beside", timezone = "UTC", currency = "USD" }
tokens { ingest = "env:T_INGEST" }
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open", states = { open = {} },
})
LUA
printf 'id,borrower_id,borrower_name,balance,amount_due,currency,due_date\nC1,B1,One,1000,1000,USD,2026-01-01\n' >"$work/book.csv"
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
"$recoup" import "$work/book.csv" "$work/book" --db "$work/book.db" --real-time \
  >/dev/null 2>&1 || fail "the first import"
T_INGEST=ingest-secret "$recoup" serve "$work/book" --listen 127.0.0.1:0 \
  --db "$work/book.db" >"$work/stdout" 2>"$work/log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
i=0
until grep -q listening "$work/stdout"; do
  i=$((i + 1))
  [ $i -le 300 ] && kill -0 $server 2>/dev/null || fail "the service did not start"
  sleep 0.1
done
# By another name of the same file too: the lock is the file's.
for db in "$work/book.db" "$work/./book.db"; do
  "$recoup" tick "$work/book" --db "$db" >"$work/out" 2>&1 &&
    fail "tick beside the service was not refused"
  grep -q "^recoup: a service (pid $server, at 127.0.0.1:[0-9]*) holds $db and runs its timers and delivers its messages itself: no tick is needed beside it" "$work/out" ||
    { cat "$work/out" >&2; fail "tick's refusal"; }
  "$recoup" import "$work/book.csv" "$work/book" --db "$db" >"$work/out" 2>&1 &&
    fail "import beside the service was not refused"
  grep -q "import into it with POST /v1/import, or stop it first" "$work/out" ||
    { cat "$work/out" >&2; fail "import's refusal"; }
done
kill $server
wait $server 2>/dev/null
trap - EXIT
"$recoup" tick "$work/book" --db "$work/book.db" >"$work/out" 2>&1 ||
  { cat "$work/out" >&2; fail "tick once the service stopped"; }
"$recoup" import "$work/book.csv" "$work/book" --db "$work/book.db" >"$work/out" 2>&1 ||
  { cat "$work/out" >&2; fail "import once the service stopped"; }
echo "ok: tick and import refused beside a service, run once it stopped"
