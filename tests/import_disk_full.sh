#!/bin/sh
# A first import that fills the disk while it makes its indexes again (a
# book without cases loads without them, store/sqlite.c "an import's
# indexes"): the import is refused naming the full disk, a book it made
# is taken away again, one made before is left as it was, every index
# there; once space returns the same import goes
# in whole and a tick runs on the book. A later import into a book with
# cases, which fills the disk where it writes the new cases it held, is
# refused naming the full disk too. The book lives on a small tmpfs
# this test mounts (it needs root; without it the test reports itself
# skipped). 25,000 rows with long ids load within the book's 64 MB cache
# and make indexes larger than the 8 MB the build is given, so the first
# write to the disk is the build's.
# usage: import_disk_full.sh RECOUP WORK_DIR
set -eu
recoup=$1
work=$2
data=$work/data
fail() { echo "FAIL: $*"; exit 1; }

umount "$data" 2>/dev/null || true
rm -rf "$work"
mkdir -p "$data" "$work/inst"
if [ "$(id -u)" != 0 ] || ! mount -t tmpfs -o size=6m,mode=0700 tmpfs "$data" 2>/dev/null; then
  echo "skipped: cannot mount a small filesystem here"
  exit 77
fi
trap 'umount "$data" 2>/dev/null || true' EXIT
cat > "$work/inst/recoup.lua" <<'EOF'
institution { name = "Full Lender", timezone = "UTC", currency = "USD" }
workflow(recoup.workflow {
  name = "w", version = 1, initial = "due",
  states = { due = { enter = function(case) case:after("1d", "remind") end,
                     on = { remind = function(case) end } } },
})
EOF
rows() { # N: a CSV of N cases with long ids
  awk -v n="$1" 'BEGIN { pad = sprintf("%0110d", 0);
    print "id,borrower_id,borrower_name,phone,balance,amount_due,due_date";
    for (i = 0; i < n; i++)
      printf "C%s%08d,B%s%08d,Name %d,+86138%08d,%d,5000,2025-12-%02d\n",
        pad, i, pad, int(i / 2), i, i, 100000 + i, 1 + i % 28 }'
}
rows 25000 > "$work/book.csv"
schema() {
  sqlite3 "$1" "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name"
}
# A fresh book made by a command that may make one (report refuses a
# book that is not there).
"$recoup" tick "$work/inst" --db "$work/fresh.db" --now 2025-11-20T09:00 --no-deliver > /dev/null
schema "$work/fresh.db" > "$work/fresh.schema"

# Into a book the import makes: refused, it takes the book away again.
if "$recoup" import "$work/book.csv" "$work/inst" --db "$data/made.db" \
    --now 2025-11-20T09:00 --no-deliver > "$work/out" 2> "$work/err"; then
  fail "the import went in on a full disk"
fi
grep -q "disk is full" "$work/err" || fail "the refusal does not name the full disk: $(cat "$work/err")"
for f in made.db made.db.lock made.db-wal made.db-shm made.db-journal; do
  [ ! -e "$data/$f" ] || fail "the refused import left $f behind"
done
# Into a book made before, without cases: left as it was.
"$recoup" tick "$work/inst" --db "$data/book.db" --now 2025-11-20T09:00 --no-deliver > /dev/null ||
  fail "a new book on the small disk"
if "$recoup" import "$work/book.csv" "$work/inst" --db "$data/book.db" \
    --now 2025-11-20T09:00 --no-deliver > "$work/out" 2> "$work/err"; then
  fail "the import went in on a full disk"
fi
grep -q "disk is full" "$work/err" || fail "the refusal does not name the full disk: $(cat "$work/err")"
schema "$data/book.db" | cmp -s - "$work/fresh.schema" || fail "the refused import changed the schema"
[ "$(sqlite3 "$data/book.db" "PRAGMA integrity_check")" = ok ] || fail "integrity_check after the refusal"
[ "$(sqlite3 "$data/book.db" "SELECT count(*) FROM cases")" = 0 ] || fail "a case of the refused import is in the book"

mount -o remount,size=256m "$data"
"$recoup" import "$work/book.csv" "$work/inst" --db "$data/book.db" \
  --now 2025-11-20T09:00 --no-deliver > "$work/out" 2> "$work/err" ||
  fail "the import once space returned: $(cat "$work/err")"
schema "$data/book.db" | cmp -s - "$work/fresh.schema" || fail "the imported book's schema is not a fresh book's"
[ "$(sqlite3 "$data/book.db" "PRAGMA integrity_check")" = ok ] || fail "integrity_check after the import"
[ "$(sqlite3 "$data/book.db" "SELECT count(*) FROM cases")" = 25000 ] || fail "not every case imported"
"$recoup" tick "$work/inst" --db "$data/book.db" --now 2025-11-22T09:00 --no-deliver > "$work/out" 2> "$work/err" ||
  fail "tick on the imported book: $(cat "$work/err")"
grep -q "25000 timers fired" "$work/out" || fail "tick: $(cat "$work/out")"

# An import into a book with cases (its indexes in place) holds its new
# cases until their handlers run; a statement that may read them writes
# them first (store/sqlite.c held_barrier). 50,000 rows outgrow the
# book's cache there, and the full disk rolled the whole transaction
# back: the import was refused as "savepoint: the transaction was rolled
# back by an earlier failure", naming no cause.
umount "$data"
mount -t tmpfs -o size=12m,mode=0700 tmpfs "$data" || fail "mount again"
head -n 2 "$work/book.csv" | sed 's/^C0/D0/' > "$work/one.csv"
"$recoup" import "$work/one.csv" "$work/inst" --db "$data/book.db" \
  --now 2025-11-20T09:00 --no-deliver > "$work/out" 2> "$work/err" ||
  fail "the import of one case: $(cat "$work/err")"
rows 50000 > "$work/more.csv"
if "$recoup" import "$work/more.csv" "$work/inst" --db "$data/book.db" \
    --now 2025-11-20T09:00 --no-deliver > "$work/out" 2> "$work/err"; then
  fail "the second import went in on a full disk"
fi
grep -q "disk is full" "$work/err" || fail "the second refusal does not name the full disk: $(cat "$work/err")"
[ "$(sqlite3 "$data/book.db" "PRAGMA integrity_check")" = ok ] || fail "integrity_check after the second refusal"
[ "$(sqlite3 "$data/book.db" "SELECT count(*) FROM cases")" = 1 ] || fail "a case of the second refused import is in the book"
echo "ok"
