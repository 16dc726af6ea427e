#!/bin/sh
# `recoup tick` copies its WAL back into the database on a thread of its
# own while the sweep goes on, as the service does (engine_copy_apart):
# the thread is there while the tick runs, and the database file grows
# by its copies before the tick ends (without it, a tick's WAL under 64 MB
# was copied only as the tick closed the book). The book is intact after.
# usage: tick_walcopy.sh RECOUP INSTITUTION_DIR WORK_DIR
set -eu
recoup=$1
src=$2
work=$3
cases=${TICK_WALCOPY_CASES:-40000}
tick=
cleanup() { [ -n "$tick" ] && kill -KILL "$tick" 2>/dev/null || true; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

rm -rf "$work"
mkdir -p "$work"
cp -r "$src" "$work/inst"
awk -v n="$cases" 'BEGIN { print "id,borrower_id,borrower_name,phone,balance,amount_due,fees,due_date,branch";
  for (i = 0; i < n; i++) printf "C%07d,B%07d,Name %d,+86138%08d,%d,50000,1000,2025-12-%02d,north\n", i, i, i, i, 100000 + i, 1 + i % 28 }' > "$work/book.csv"
"$recoup" import "$work/book.csv" "$work/inst" --db "$work/book.db" --now 2026-01-05T09:00 > /dev/null

"$recoup" tick "$work/inst" --db "$work/book.db" --now 2026-01-07T09:00 --no-deliver \
  > "$work/tick.out" 2> "$work/tick.err" &
tick=$!
seen=0
grew=0
start=
while kill -0 "$tick" 2>/dev/null; do
  if grep -qx recoup-walcopy /proc/"$tick"/task/*/comm 2>/dev/null; then
    size=$(stat -c %s "$work/book.db")
    if [ "$seen" = 0 ]; then
      seen=1
      start=$size
    elif [ "$size" -gt "$start" ]; then
      grew=1
    fi
  fi
  sleep 0.05
done
wait "$tick" || fail "tick failed: $(cat "$work/tick.err")"
tick=
grep -q "$cases timers fired" "$work/tick.out" || fail "tick did not sweep every case: $(cat "$work/tick.out")"
[ "$seen" = 1 ] || fail "no WAL copier thread (recoup-walcopy) while the tick ran"
[ "$grew" = 1 ] || fail "the database file did not grow by the thread's copies while the tick ran"
[ "$(sqlite3 "$work/book.db" 'PRAGMA integrity_check')" = ok ] || fail "integrity_check"
[ "$(sqlite3 "$work/book.db" "SELECT count(*) FROM cases WHERE state = 'reminded'")" = "$cases" ] ||
  fail "not every case reminded"
echo "ok: $cases cases swept, the WAL copied back on its thread during the tick"
