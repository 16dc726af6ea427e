#!/bin/sh
# `recoup serve` on a SQLite book a `recoup tick` is writing is refused,
# saying so: the tick shares the book's lock while it runs, which a
# service needs whole (before, a service started beside a tick, and both
# could deliver the same queued message). A `recoup backup` beside the
# tick still copies the book itself, and once the tick is done the
# service starts. The tick is held in its delivery by a gateway command
# that sleeps.
# usage: serve_beside_tick.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
. "$(dirname "$0")/lib/slow_book.sh"
slow_book 'touch "$SENDING"; sleep 4' 1
SENDING=$work/sending "$recoup" tick "$work/book" --db "$work/book.db" \
  --deliver >"$work/tick.out" 2>&1 &
tick=$!
trap 'kill $tick 2>/dev/null; wait $tick 2>/dev/null' EXIT
i=0
until [ -e "$work/sending" ]; do
  i=$((i + 1))
  [ $i -le 300 ] || fail "the tick never delivered: $(cat "$work/tick.out")"
  sleep 0.1
done
# A service that starts (the failure) runs on: it is stopped, not waited.
T_INGEST=ingest-secret "$recoup" serve "$work/book" --listen 127.0.0.1:0 \
  --db "$work/book.db" >"$work/serve.out" 2>&1 &
early=$!
i=0
while kill -0 $early 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 100 ] || grep -q listening "$work/serve.out"; then
    kill $early
    wait $early
    fail "a service started beside the tick"
  fi
  sleep 0.1
done
wait $early && fail "a service beside the tick exited 0"
grep -q "^recoup: a tick or an import (recoup tick, recoup import) runs on $work/book.db" "$work/serve.out" ||
  { cat "$work/serve.out" >&2; fail "the service's refusal"; }
"$recoup" backup "$work/copy.db" --db "$work/book.db" >"$work/backup.out" 2>&1 ||
  { cat "$work/backup.out" >&2; fail "a backup beside the tick was refused"; }
kill -0 $tick 2>/dev/null || fail "the tick ended before the checks: the test proves nothing"
wait $tick || { cat "$work/tick.out" >&2; fail "the tick"; }
trap - EXIT
grep -q "1 sent" "$work/tick.out" || fail "the tick's delivery: $(cat "$work/tick.out")"
T_INGEST=ingest-secret "$recoup" serve "$work/book" --listen 127.0.0.1:0 \
  --db "$work/book.db" >"$work/stdout" 2>"$work/log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
i=0
until grep -q listening "$work/stdout"; do
  i=$((i + 1))
  [ $i -le 300 ] && kill -0 $server 2>/dev/null ||
    { cat "$work/log" >&2; fail "the service did not start once the tick was done"; }
  sleep 0.1
done
echo "ok: a service refused beside a tick, a backup beside it taken, the service started after"
