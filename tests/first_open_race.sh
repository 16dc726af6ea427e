#!/bin/sh
# Two recoup processes that make a new SQLite book at once both find it
# made: each runs the schema's steps under the book's write lock, reading
# its version there, so the one that waited sees the other's steps done.
# Before, both read version 0 first and the second ran steps again
# ("database migration 1 failed: table meta already exists"; 9 of 10
# pairs of imports failed one).
# usage: first_open_race.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
rounds=8
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
rm -rf "$work"
mkdir -p "$work/book"
cat >"$work/book/recoup.lua" <<'LUA'
institution { name = "Race", timezone = "UTC", currency = "USD" }
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open", states = { open = {} },
})
LUA
for n in 1 2; do
  printf 'id,borrower_id,borrower_name,phone,balance,amount_due,currency,due_date\n' \
    >"$work/$n.csv"
  printf 'C%d,B%d,Borrower %d,+1555010%d,1000,1000,USD,2026-01-01\n' $n $n $n $n \
    >>"$work/$n.csv"
done
import() {
  "$recoup" import "$work/$1.csv" "$work/book" --db "$work/book.db" \
    --now 2026-01-05T09:00 >"$work/$1.out" 2>&1
}
tick() {
  "$recoup" tick "$work/book" --db "$work/book.db" --now 2026-01-05T09:00 \
    >"$work/$1.out" 2>&1
}
# pair FIRST SECOND: both at once into a new book; both must succeed.
pair() {
  rm -f "$work"/book.db*
  $1 1 &
  p1=$!
  $2 2 &
  p2=$!
  wait $p1 || { cat "$work/1.out" >&2; fail "$1 beside $2, the first"; }
  wait $p2 || { cat "$work/2.out" >&2; fail "$1 beside $2, the second"; }
}
i=0
while [ $i -lt $rounds ]; do
  pair import import
  [ "$(sqlite3 "$work/book.db" "SELECT group_concat(id) FROM (SELECT id FROM cases ORDER BY id)")" = "C1,C2" ] ||
    fail "two imports: cases $(sqlite3 "$work/book.db" "SELECT id FROM cases")"
  pair import tick
  [ "$(sqlite3 "$work/book.db" "SELECT count(*) FROM cases")" = 1 ] ||
    fail "import beside tick: cases $(sqlite3 "$work/book.db" "SELECT id FROM cases")"
  pair tick tick
  i=$((i + 1))
done
# A book of an older schema that another process keeps writing past the
# busy timeout: the upgrade says it has not begun and why, not only
# "database migration 25 failed: database is locked" (main). The book's
# version is set back by hand: only the step's start is looked at.
rm -f "$work"/book.db*
tick 1 || { cat "$work/1.out" >&2; fail "a book for the held upgrade"; }
target=$(sqlite3 "$work/book.db" "PRAGMA user_version")
sqlite3 "$work/book.db" "PRAGMA user_version = $((target - 1))"
printf 'BEGIN IMMEDIATE;\nDELETE FROM meta WHERE 0;\n.shell sleep 8\nCOMMIT;\n' |
  sqlite3 "$work/book.db" &
held=$!
sleep 1
if "$recoup" report "$work/book" --db "$work/book.db" >"$work/held.out" 2>&1; then
  fail "an upgrade beside a held book went on: $(cat "$work/held.out")"
fi
grep -q "database migration $target has not begun: another process kept writing the book for 5 s (database is locked); run this again once it is done" "$work/held.out" ||
  fail "an upgrade beside a held book said: $(cat "$work/held.out")"
wait $held
echo "ok: $rounds rounds of two processes making one book; an upgrade beside a held book"
