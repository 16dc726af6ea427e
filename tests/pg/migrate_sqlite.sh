#!/bin/sh
# `recoup migrate-store` between two SQLite files, for builds and machines
# without PostgreSQL (tests/pg/migrate.sh moves to PostgreSQL and back):
# the example's book imported and ticked two weeks (its 500 reminders'
# timers pending), moved into a new file; the same report (text, JSON) on
# both, and again after two further weeks ticked on both (the timers came
# across); a second move into the file refused; a FROM whose lock a
# process holds refused; the same file by another name refused as the
# same; a corrupted copy caught, rolled back, and the new file it made
# removed; a case whose two rows were parted by hand refused.
# usage: migrate_sqlite.sh RECOUP EXAMPLE WORKDIR
set -eu
[ $# -eq 3 ] || { echo "usage: migrate_sqlite.sh RECOUP EXAMPLE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 work=$3
holder=

cleanup() {
  [ -n "$holder" ] && kill "$holder" 2>/dev/null && wait "$holder" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
book=$work/book.db copy=$work/copy.db

status=0
fail() {
  echo "FAIL: $*" >&2
  status=1
}
expect_refused() { # NAME TEXT COMMAND...: exits 1 and says TEXT on stderr
  name=$1 text=$2
  shift 2
  if "$@" >"$work/out" 2>"$work/err"; then
    fail "$name: accepted"
  elif ! grep -q "$text" "$work/err"; then
    fail "$name: not '$text': $(cat "$work/err")"
  fi
}

"$recoup" import "$example/data/portfolio.csv" "$example" --db "$book" \
  --now 2026-01-05T09:00 >/dev/null
"$recoup" tick "$example" --db "$book" --now 2026-01-20T09:00 >/dev/null

# A process holds the book's lock (as a running service does).
# The subshell becomes the sleep (exec), so killing it lets the lock go.
(
  exec 9>"$book.lock"
  flock 9
  exec sleep 600
) &
holder=$!
i=0
until ! flock -n "$book.lock" true 2>/dev/null; do
  i=$((i + 1))
  [ $i -gt 100 ] && { echo "FAIL: the lock was never taken" >&2; exit 1; }
  sleep 0.1
done
expect_refused "a FROM another process holds" "stop it first" \
  "$recoup" migrate-store "$book" "$copy"
kill "$holder"
wait "$holder" 2>/dev/null || true
holder=
[ -e "$copy" ] && fail "a refused move left $copy"

# The same file by another name: refused as the same, not as a file
# "another process" holds (FROM's own lock), and nothing written.
before=$(cksum <"$book")
expect_refused "the same file by another path" \
  "FROM and TO are the same database" \
  "$recoup" migrate-store "$book" "$(dirname "$book")/./$(basename "$book")"
ln "$book" "$work/link.db"
expect_refused "the same file by a hard link" \
  "FROM and TO are the same database" \
  "$recoup" migrate-store "$book" "$work/link.db"
rm -f "$work/link.db"
[ "$(cksum <"$book")" = "$before" ] || fail "a refused move changed the book"

RECOUP_MIGRATE_CORRUPT=cases.balance expect_refused "a corrupted copy" \
  "the copy does not match: balance CNY" \
  "$recoup" migrate-store "$book" "$copy"
[ -e "$copy" ] && fail "a rolled back move left $copy"

"$recoup" migrate-store "$book" "$copy" >"$work/moved" ||
  { fail "the move"; exit 1; }
grep -q "cases 500" "$work/moved" || fail "the move: $(cat "$work/moved")"
expect_refused "a second move into the same file" "already holds a book" \
  "$recoup" migrate-store "$book" "$copy"

same() { # SUFFIX: reports of both books, text and JSON, the same
  for db in book copy; do
    "$recoup" report "$example" --db "$work/$db.db" >"$work/$db.report$1"
    "$recoup" report "$example" --db "$work/$db.db" --json >"$work/$db.json$1"
  done
  for f in report json; do
    diff -u "$work/book.$f$1" "$work/copy.$f$1" ||
      fail "$f$1 differs between the book (-) and its copy (+)"
  done
}
same ""
grep -q 500 "$work/copy.report" || fail "the report does not count 500 cases"
# Each borrower's contacts packed on its row (schema 23) are not copied
# but made again from the contacts copied: the same texts, none NULL.
if command -v sqlite3 >/dev/null; then
  for db in book copy; do
    sqlite3 "$work/$db.db" "SELECT id, contacts_packed IS NULL,
      contacts_packed FROM borrowers ORDER BY id" >"$work/$db.packed"
  done
  diff -q "$work/book.packed" "$work/copy.packed" >/dev/null ||
    fail "the copy's packed contacts differ from the book's"
  grep -q '|1|' "$work/copy.packed" && fail "a packed contacts NULL in the copy"
  grep -q '|0|p' "$work/copy.packed" || fail "no packed phone in the copy"
fi
# Each timer keeps its case's case_steps rowid (schema 30): the copy's
# own, filled once the rows are in, not the book's.
if command -v sqlite3 >/dev/null; then
  rows=$(sqlite3 "$work/copy.db" "SELECT count(*) > 0 AND count(*) =
    sum(t.step_row = (SELECT s.rowid FROM case_steps s
    WHERE s.id = t.case_id)) FROM timers t" 2>&1) || true
  [ "$rows" = 1 ] || fail "the copy's timers keep other rows: $rows"
  # And each case's two rows share one step_row (schema 33), the copy's.
  rows=$(sqlite3 "$work/copy.db" "SELECT count(*) = 500 AND count(*) =
    (SELECT count(*) FROM case_rows) FROM case_steps s JOIN case_rows r
    ON r.step_row = s.step_row AND r.id = s.id" 2>&1) || true
  [ "$rows" = 1 ] || fail "the copy's cases are not keyed alike: $rows"
fi
# The checks generation comes across; a book made before generations
# were kept (no key: generation 1) moves without one, not at today's, so
# that what its service only warned of does not refuse the moved one (on
# 08382c0 its move was refused: meta's rows did not count the same).
if command -v sqlite3 >/dev/null; then
  gen() { sqlite3 "$1" "SELECT value FROM meta WHERE key = 'checks.generation'"; }
  [ "$(gen "$work/copy.db")" = "$(gen "$book")" ] ||
    fail "the copy's checks generation: $(gen "$work/copy.db")"
  sqlite3 "$book" ".backup '$work/old.db'"
  sqlite3 "$work/old.db" "DELETE FROM meta WHERE key = 'checks.generation'"
  "$recoup" migrate-store "$work/old.db" "$work/old-copy.db" >/dev/null ||
    fail "the move of a book without a checks generation"
  [ -z "$(gen "$work/old-copy.db")" ] ||
    fail "a book without a checks generation moved as '$(gen "$work/old-copy.db")'"
  rm -f "$work/old.db" "$work/old-copy.db"
fi
for db in book copy; do
  "$recoup" tick "$example" --db "$work/$db.db" --now 14d |
    sed 's/ in [0-9.]*s/ in Ts/g' >"$work/$db.tick"
done
diff -u "$work/book.tick" "$work/copy.tick" || fail "the week's ticks differ"
grep -q "[1-9][0-9]* timers fired" "$work/copy.tick" ||
  fail "the copy's week fired no timer: $(cat "$work/copy.tick")"
same .week

# A case whose case_steps row was deleted and inserted again by hand (its
# case_rows row left at the old step_row) is not in the view the move
# reads cases from: refused, named, nothing made, where it was left
# behind and the counts (both read through the view) agreed.
rm -f "$work/parted.db"*
cp "$book" "$work/parted.db"
sqlite3 "$work/parted.db" "CREATE TEMP TABLE k AS SELECT * FROM case_steps
  WHERE id = 'MF00005'; DELETE FROM case_steps WHERE id = 'MF00005';
  INSERT INTO case_steps SELECT id, state, closed, outcome, timer_keys,
  journal_last, tasks_open, message_last, NULL, mover FROM k;"
expect_refused "a case's rows parted by hand" \
  "case MF00005 has a case_steps row but no case_rows row" \
  "$recoup" migrate-store "$work/parted.db" "$work/parted-copy.db"
[ -e "$work/parted-copy.db" ] && fail "a refused move left parted-copy.db"

[ $status -eq 0 ] && echo "the book moved between SQLite files, checked"
exit $status
