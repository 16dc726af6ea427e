#!/bin/sh
# Writers on one PostgreSQL book that used to wait for each other, or
# deadlock, where SQLite's one writer makes the second wait (issue 18):
# - two `recoup import`s of the same 2,000 cases, one file reversed, at
#   once, on an empty book and again on the full one (they deadlocked
#   there, "deadlock detected", one import failed): both exit 0, and the
#   book is a single import's;
# - an import that the server ends to break a deadlock with another
#   writer (played by a psql session that locks a borrower, then waits
#   for the import) reads its file again and succeeds;
# - while another writer holds the opening of cases (an import running),
#   an event to an unknown case on a serve node answers 404 at once (it
#   waited for the import's commit);
# - two serve nodes opening one new case at once while the opening is
#   held: each sets it aside and goes on; after the commit one opens it,
#   the other updates it; no 5xx, one case.
# No time is asserted: the bounds below only end a test that went wrong.
# usage: locks.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: locks.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
here=$(dirname "$0")
cluster="sh $here/cluster.sh"
db=locks_$$ ref=locks_ref_$$ http=locks_http_$$
dir=$(cat "$state")
url="postgresql:///$db?host=$dir&user=recoup"
ref_url="postgresql:///$ref?host=$dir&user=recoup"
http_url="postgresql:///$http?host=$dir&user=recoup"
now=2026-01-05T09:00
n1= n2=
. "$here/session.sh" # the other writer: a psql session (session_start URL)

cleanup() {
  for p in $n1 $n2; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  [ -n "$spid" ] && kill "$spid" 2>/dev/null
  for d in $db $ref $http; do
    $cluster sql "$state" "DROP DATABASE IF EXISTS $d WITH (FORCE)" >/dev/null 2>&1 || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
cp -r "$example" "$work/inst"
rm -rf "$work/inst/var"
for d in $db $ref $http; do $cluster sql "$state" "CREATE DATABASE $d"; done
q() { $cluster sql "$state" "$1" "${2:-$db}"; }

until_t() { # SQL DATABASE WHAT: until the database answers t
  i=0
  until [ "$(q "$1" "$2")" = t ]; do
    i=$((i + 1))
    [ $i -le 600 ] || { fail "$3"; return 1; }
    sleep 0.2
  done
}
waiting() { # N DATABASE WHAT: N backends of the database wait for a lock
  until_t "SELECT count(*) >= $1 FROM pg_stat_activity WHERE datname = \
'$2' AND wait_event_type = 'Lock'" "$2" "$3: nothing waited for the lock"
}
holding() { # DATABASE STATEMENT WHAT: the session ran it and holds it
  until_t "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = \
'$1' AND state LIKE 'idle%' AND query LIKE '$2%'" "$1" "$3: the session did not run"
}

# --- two imports of the same cases, in opposite orders ---------------------

sh "$here/../../scripts/gen_portfolio.sh" microfinance 2000 >"$work/a.csv"
{ head -n 1 "$work/a.csv"; tail -n +2 "$work/a.csv" | sort -r; } >"$work/b.csv"
"$recoup" import /dev/null "$work/inst" --db "$url" >/dev/null 2>&1 || true # the schema
"$recoup" import "$work/a.csv" "$work/inst" --db "$ref_url" --now $now >/dev/null
both() { # ROUND: both files at once, let go together (the schema's lock)
  session_start "$url"
  sql "SELECT pg_advisory_lock(hashtext('recoup.schema'));"
  holding "$db" "SELECT pg_advisory_lock" "$1: the schema's lock"
  "$recoup" import "$work/a.csv" "$work/inst" --db "$url" --now $now \
    >"$work/a.out" 2>&1 &
  a=$!
  "$recoup" import "$work/b.csv" "$work/inst" --db "$url" --now $now \
    >"$work/b.out" 2>&1 &
  b=$!
  waiting 2 "$db" "$1: two imports"
  sql "SELECT pg_advisory_unlock(hashtext('recoup.schema'));"
  session_end
  wait "$a" || fail "$1: the import in file order failed: $(head -c 600 "$work/a.out")"
  wait "$b" || fail "$1: the reversed import failed: $(head -c 600 "$work/b.out")"
}
both "on an empty book"
both "on the full book"
"$recoup" report "$work/inst" --db "$ref_url" --now $now --json >"$work/ref.json"
"$recoup" report "$work/inst" --db "$url" --now $now --json >"$work/both.json"
cmp -s "$work/ref.json" "$work/both.json" ||
  fail "the book of two imports at once is not a single import's"
[ "$(q "SELECT count(*) FROM cases")" = 2000 ] || fail "not 2000 cases"

# --- an import ended by the server to break a deadlock -----------------------

# The session locks the file's last borrower; the import locks every
# borrower before it and waits there; the session then asks the opening of
# cases, which the import holds: a deadlock. The session looks for it late
# (deadlock_timeout), the import first, so the import is the one ended.
last=$(tail -n 1 "$work/a.csv" | cut -d, -f2)
deadlocks=$(q "SELECT deadlocks FROM pg_stat_database WHERE datname = '$db'")
session_start "$url"
sql "BEGIN; SET LOCAL deadlock_timeout = '10min';"
sql "UPDATE borrowers SET name = name WHERE id = '$last';"
holding "$db" "UPDATE borrowers" "the last borrower's lock"
PGOPTIONS='-c deadlock_timeout=3s' "$recoup" import "$work/a.csv" \
  "$work/inst" --db "$url" --now $now >"$work/c.out" 2>&1 &
c=$!
waiting 1 "$db" "the import at the last borrower"
sql "SELECT pg_advisory_xact_lock(hashtext('recoup.case'), 0);"
sql "COMMIT;"
session_end
wait "$c" || fail "the import ended by a deadlock failed: $(head -c 600 "$work/c.out")"
until_t "SELECT deadlocks > $deadlocks FROM pg_stat_database WHERE datname = '$db'" \
  "$db" "no deadlock happened: the test proves nothing"
"$recoup" report "$work/inst" --db "$url" --now $now --json >"$work/again.json"
cmp -s "$work/ref.json" "$work/again.json" ||
  fail "the book after the import read again is not a single import's"

# --- serve nodes: a lookup, and one new case opened on two nodes ---------------

"$recoup" import /dev/null "$work/inst" --db "$http_url" >/dev/null 2>&1 || true
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
p1=$(port) p2=$(port)
serve() { # PORT LOG
  RECOUP_INGEST_TOKEN=ingest RECOUP_READ_TOKEN=read "$recoup" serve \
    "$work/inst" --db "$http_url" --listen "127.0.0.1:$1" 2>"$2" &
}
serve "$p1" "$work/n1.log"
n1=$!
serve "$p2" "$work/n2.log"
n2=$!
for p in $p1 $p2; do
  i=0
  until curl -sf "http://127.0.0.1:$p/health" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -le 300 ] || { fail "node $p did not answer /health"; exit 1; }
    sleep 0.2
  done
done
post() { # PORT PATH BODY OUT: the status in OUT.code, the body in OUT
  curl -s -m 120 -o "$4" -w '%{http_code}' -X POST \
    -H "Authorization: Bearer ingest" -H "Content-Type: application/json" \
    -d "$3" "http://127.0.0.1:$1$2" >"$4.code" || true
}
case_json=$(python3 -c 'import json, sys; print(json.dumps({"id": "NEW-1",
  "borrower_id": "PNEW-1", "borrower_name": "王芳", "phone": "+8613800000001",
  "currency": "CNY", "principal": 100000, "balance": 80000,
  "amount_due": 20000, "due_date": "2025-12-01"}))')
session_start "$http_url"
sql "BEGIN;"
sql "SELECT pg_advisory_xact_lock(hashtext('recoup.case'), 0);"
holding "$http" "SELECT pg_advisory_xact_lock" "the opening of cases"
post "$p1" /v1/cases/NOPE-1/events '{"type": "dispute"}' "$work/nope"
[ "$(cat "$work/nope.code")" = 404 ] ||
  fail "an event to an unknown case while cases open: $(cat "$work/nope.code") $(cat "$work/nope")"
post "$p1" /v1/cases "$case_json" "$work/o1" &
o1=$!
post "$p2" /v1/cases "$case_json" "$work/o2" &
o2=$!
# Each node sets its write aside (it does not wait on the server: that
# would stop its loop) and says so once.
for log in "$work/n1.log" "$work/n2.log"; do
  set_aside "$log" "two nodes opening one case: $log did not set it aside"
done
sql "COMMIT;"
session_end
wait "$o1" "$o2" || true
codes="$(cat "$work/o1.code") $(cat "$work/o2.code")"
[ "$codes" = "200 201" ] || [ "$codes" = "201 200" ] ||
  fail "one case opened on two nodes: $codes: $(cat "$work/o1" "$work/o2")"
[ "$(q "SELECT count(*) FROM cases WHERE id = 'NEW-1'" "$http")" = 1 ] ||
  fail "the case is not there once"
grep -l "duplicate key\|unexpected constraint" "$work/n1.log" "$work/n2.log" &&
  fail "a node logs a duplicate key"

exit $status
