#!/bin/sh
# `recoup migrate-store`: a SQLite book that has lived (the microfinance
# portfolio imported, payments, promises and a plan taken through the
# service, a console user signed in, a month ticked) moved into a fresh
# PostgreSQL database of the throwaway cluster; then
#   - `recoup report` (text and --json) is the same on both,
#   - a further week ticked on both gives the same tick and the same report
#     (the timers and pending events came across),
#   - a second move into the same database, a move into a database
#     holding another book, and one into the same database by another URL
#     are refused, that book untouched; a move into another schema of the
#     same database goes through,
#   - a FROM that is missing, no database, no recoup book, of a newer
#     schema, or held by a running service is refused with a clear message
#     and TO untouched (no table made); a row PostgreSQL refuses (a
#     message of a case not in the book) leaves no row in TO,
#   - a copy corrupted on its way (RECOUP_MIGRATE_CORRUPT) is caught by the
#     check and rolled back: TO holds nothing,
#   - the PostgreSQL book moved back into a new SQLite file reports the
#     same again.
# usage: migrate.sh RECOUP EXAMPLE STATE WORKDIR
#   STATE: the cluster's state file (cluster.sh start wrote it)
set -eu
[ $# -eq 4 ] || { echo "usage: migrate.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
cluster="sh $(dirname "$0")/cluster.sh"
db=migrate_$$ other=migrate_other_$$ bad=migrate_bad_$$
base=$($cluster url "$state")
url=$(echo "$base" | sed "s|/postgres?|/$db?|")
other_url=$(echo "$base" | sed "s|/postgres?|/$other?|")
bad_url=$(echo "$base" | sed "s|/postgres?|/$bad?|")
pid=

cleanup() {
  [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  for d in $db $other $bad; do
    $cluster sql "$state" "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
for d in $db $other $bad; do $cluster sql "$state" "CREATE DATABASE $d"; done
# The institution copied: its file channels write under its directory.
cp -r "$example" "$work/inst"
rm -rf "$work/inst/var"
inst=$work/inst book=$work/book.db

status=0
fail() {
  echo "FAIL: $*" >&2
  status=1
}
# expect_refused NAME TEXT COMMAND...: exits 1 and says TEXT on stderr.
expect_refused() {
  name=$1 text=$2
  shift 2
  if "$@" >"$work/out" 2>"$work/err"; then
    fail "$name: accepted"
  elif ! grep -q "$text" "$work/err"; then
    fail "$name: not '$text': $(cat "$work/err")"
  fi
}
tables_in() { # the tables a PostgreSQL database of the cluster holds
  $cluster sql "$state" "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'" "$1"
}

# --- a book that has lived, on SQLite -----------------------------------
# Imported three days ago (a short rehearsal), then put on the real clock:
# every case is then at its collector's call, whose tasks the service takes.
"$recoup" import "$example/data/portfolio.csv" "$inst" --db "$book" \
  --now "$(date -u -d '-3 days' +%Y-%m-%dT%H:%M)" >/dev/null
"$recoup" tick "$inst" --db "$book" --real-time --no-deliver >/dev/null
echo 'li-wei-password-1' | "$recoup" user add li.wei --role agent \
  --queues phone,field,hardship "$inst" --db "$book" >/dev/null

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
RECOUP_INGEST_TOKEN=ingest RECOUP_READ_TOKEN=read RECOUP_ADMIN_TOKEN=admin \
  RECOUP_AGENT_TOKEN=agent "$recoup" serve "$inst" --db "$book" \
  --listen "127.0.0.1:$port" 2>"$work/serve.log" &
pid=$!
svc="http://127.0.0.1:$port"
i=0
until curl -sf "$svc/health" >/dev/null 2>&1; do
  i=$((i + 1))
  if [ $i -gt 300 ] || ! kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: the service did not answer /health" >&2
    cat "$work/serve.log" >&2
    exit 1
  fi
  sleep 0.2
done
post() { # TOKEN PATH BODY
  curl -s -X POST -H "Authorization: Bearer $1" \
    -H "Content-Type: application/json" -d "$3" "$svc$2"
}
ids() { # the "id"s of a listing on stdin, N of them
  python3 -c 'import json, sys
d = json.load(sys.stdin)
rows = d.get("cases") or d.get("tasks") or []
print("\n".join(str(r["id"]) for r in rows[:int(sys.argv[1])]))' "$1"
}
# Payments on 20 cases, a sign-in, 20 calls finished: promises, hardship.
curl -s -H "Authorization: Bearer read" "$svc/v1/cases?limit=20" | ids 20 >"$work/cases"
n=0
while read -r c; do
  n=$((n + 1))
  post ingest /v1/payments "{\"case\": \"$c\", \"amount\": $((n * 1000)), \"ref\": \"BANK-$n\"}" >/dev/null
done <"$work/cases"
post none /v1/session '{"name": "li.wei", "password": "li-wei-password-1"}' \
  >"$work/session"
grep -q li.wei "$work/session" || fail "sign-in: $(cat "$work/session")"
curl -s -H "Authorization: Bearer agent" "$svc/v1/tasks?queue=phone&status=open&limit=20" |
  ids 20 >"$work/calls"
n=0
while read -r t; do
  n=$((n + 1))
  if [ $n -le 12 ]; then
    body="{\"outcome\": \"promise\", \"amount\": $((n * 2000)), \"by\": \"7d\"}"
  else
    body='{"outcome": "hardship"}'
  fi
  post agent "/v1/tasks/$t/complete" "$body" >"$work/done"
  grep -q '"done"' "$work/done" || fail "task $t: $(cat "$work/done")"
done <"$work/calls"
# The hardship cases' reviews: a plan agreed on each.
sleep 1
curl -s -H "Authorization: Bearer agent" "$svc/v1/tasks?queue=hardship&status=open&limit=8" |
  ids 8 >"$work/reviews"
[ -s "$work/reviews" ] || fail "no restructuring review to agree a plan on"
while read -r t; do
  post agent "/v1/tasks/$t/complete" '{"outcome": "agreed", "installments": 3}' >/dev/null
done <"$work/reviews"

# A service holds the book: no move while it runs.
expect_refused "a FROM held by a service" "stop it first" \
  "$recoup" migrate-store "$book" "$bad_url"
[ "$(tables_in $bad)" = 0 ] || fail "a refused move made tables in TO"
kill "$pid"
wait "$pid" || fail "the service did not stop cleanly"
pid=
"$recoup" tick "$inst" --db "$book" --now 30d --no-deliver >/dev/null

# --- hostile FROMs: refused, TO untouched --------------------------------
expect_refused "a missing FROM" "no database at" \
  "$recoup" migrate-store "$work/none.db" "$bad_url"
echo 'not a database at all' >"$work/text.db"
expect_refused "a FROM that is no database" "not a database" \
  "$recoup" migrate-store "$work/text.db" "$bad_url"
sqlite3 "$work/other.db" "CREATE TABLE t(x); INSERT INTO t VALUES (1);"
expect_refused "a FROM that is no recoup book" "not a recoup database" \
  "$recoup" migrate-store "$work/other.db" "$bad_url"
cp "$book" "$work/newer.db"
sqlite3 "$work/newer.db" "PRAGMA user_version = 999"
expect_refused "a FROM of a newer schema" "newer than this recoup" \
  "$recoup" migrate-store "$work/newer.db" "$bad_url"
[ "$(tables_in $bad)" = 0 ] || fail "a refused FROM made tables in TO"

# --- a row PostgreSQL refuses: a message added by hand for a case the book
# does not hold (SQLite's schema 20 has no key to stop it; PostgreSQL's
# has): refused naming the table and the key, no row left in TO -----------
cp "$book" "$work/stray.db"
sqlite3 "$work/stray.db" "INSERT INTO messages(case_id, borrower_id, channel, template, status, at) SELECT 'GONE', borrower_id, channel, template, status, at FROM messages LIMIT 1"
expect_refused "a message of a case not in the book" \
  'Key (case_id)=(GONE) is not present in table "cases"' \
  "$recoup" migrate-store "$work/stray.db" "$bad_url"
grep -q '^recoup: TO: PostgreSQL: writing messages: ' "$work/err" ||
  fail "the refused message: $(cat "$work/err")"
[ "$($cluster sql "$state" "SELECT (SELECT count(*) FROM cases) + (SELECT count(*) FROM messages) + (SELECT count(*) FROM borrowers)" "$bad")" = 0 ] ||
  fail "a refused row left rows in TO"

# --- a copy corrupted on its way: caught, rolled back ----------------------
RECOUP_MIGRATE_CORRUPT=payments.amount expect_refused "a corrupted copy" \
  "the copy does not match: payments CNY" \
  "$recoup" migrate-store "$book" "$url"
grep -q "rolled back" "$work/err" || fail "the corrupted copy: $(cat "$work/err")"
[ "$($cluster sql "$state" "SELECT (SELECT count(*) FROM cases) + (SELECT count(*) FROM payments) + (SELECT count(*) FROM journal_runs)" "$db")" = 0 ] ||
  fail "a rolled back copy left rows in TO"

# --- the move ----------------------------------------------------------------
RECOUP_MIGRATE_EVERY=2000 "$recoup" migrate-store "$book" "$url" \
  >"$work/moved" 2>"$work/progress" || {
  fail "the move: $(cat "$work/progress")"
  exit 1
}
cat "$work/moved"
grep -q "cases 500" "$work/moved" || fail "the move does not say 500 cases"
grep -q "payments 20" "$work/moved" || fail "the move does not say 20 payments"
grep -q "migrate-store: 2000 rows" "$work/progress" || fail "no progress line"
for t in payments promises plans installments users users_log sessions; do
  n=$($cluster sql "$state" "SELECT count(*) FROM $t" "$db")
  [ "$n" -gt 0 ] || fail "the book moved without $t (the test's book lacks them?)"
done
[ "$($cluster sql "$state" "SELECT count(*) FROM tasks WHERE status = 'done'" "$db")" -ge 20 ] ||
  fail "the done tasks did not move"

same() { # what: the files $work/sqlite.$1 and $work/postgresql.$1
  sed 's/ in [0-9.]*s/ in Ts/g' "$work/sqlite.$1" >"$work/sqlite.$1.cmp"
  sed 's/ in [0-9.]*s/ in Ts/g' "$work/postgresql.$1" >"$work/postgresql.$1.cmp"
  diff -u "$work/sqlite.$1.cmp" "$work/postgresql.$1.cmp" ||
    fail "$1 differs between SQLite (-) and PostgreSQL (+)"
}
report() { # DB NAME SUFFIX
  "$recoup" report "$inst" --db "$1" >"$work/$2.report$3"
  "$recoup" report "$inst" --db "$1" --json >"$work/$2.json$3"
}
report "$book" sqlite ""
report "$url" postgresql ""
same report
same json
grep -q 500 "$work/postgresql.report" || fail "the report does not count 500 cases"

# --- refused: a second move, a TO with a book -------------------------------
expect_refused "a second move into the same TO" "already holds a book" \
  "$recoup" migrate-store "$book" "$url"
head -n 6 "$example/data/portfolio.csv" >"$work/small.csv"
"$recoup" import "$work/small.csv" "$inst" --db "$other_url" --no-deliver >/dev/null
expect_refused "a TO holding another book" "never merges" \
  "$recoup" migrate-store "$book" "$other_url"
[ "$($cluster sql "$state" "SELECT count(*) FROM cases" "$other")" = 5 ] ||
  fail "the other book changed"
# The same book by two URLs: said so (FROM's own connection was counted as
# "1 other recoup process" holding TO).
expect_refused "the same database by two URLs" "FROM and TO are the same database" \
  "$recoup" migrate-store "$url" "$url&application_name=other"

# --- two books in two schemas of one database ---------------------------------
# Each book's processes are its own (the counter slots' advisory locks are
# keyed by schema): the move from the public schema's book into a schema
# of the same database goes through, FROM's connection not counted as one
# holding TO, and the copy reports the same.
$cluster sql "$state" "CREATE SCHEMA copy" "$db"
copy_url="$url&options=-csearch_path%3Dcopy"
"$recoup" migrate-store "$url" "$copy_url" >"$work/copied" 2>&1 ||
  fail "the move between two schemas: $(cat "$work/copied")"
report "$copy_url" copy ""
cmp -s "$work/postgresql.report" "$work/copy.report" ||
  fail "the book moved into another schema reports otherwise"

# --- a further week on both ---------------------------------------------------
"$recoup" tick "$inst" --db "$book" --now 7d --no-deliver >"$work/sqlite.tick"
"$recoup" tick "$inst" --db "$url" --now 7d --no-deliver >"$work/postgresql.tick"
same tick
grep -q "timers fired" "$work/postgresql.tick" || fail "the week's tick: $(cat "$work/postgresql.tick")"
report "$book" sqlite .week
report "$url" postgresql .week
same report.week
same json.week
cmp -s "$work/sqlite.report" "$work/sqlite.report.week" &&
  fail "a week later the report is the same: the tick did nothing"

# --- and back: PostgreSQL to a new SQLite file ----------------------------------
"$recoup" migrate-store "$url" "$work/back.db" >"$work/back" 2>&1 ||
  fail "the move back: $(cat "$work/back")"
report "$work/back.db" back .week
for f in report.week json.week; do
  cmp -s "$work/postgresql.$f" "$work/back.$f" ||
    fail "$f differs after the move back to SQLite"
done

[ $status -eq 0 ] && echo "the book moved, checked, and reports the same on both stores"
exit $status
