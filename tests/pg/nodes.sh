#!/bin/sh
# Several nodes on one PostgreSQL book: an example's portfolio imported,
# then three `recoup tick` nodes run the same month at once, sharing its
# timers and its counters (every case that moves changes the same
# figures_states rows); the third is killed with kill -9 in the middle and
# started again. The book must then say what one node on SQLite says
# (report, text and JSON: every timer handled once, the counters exact), no
# node may have failed (a deadlock between nodes is run again, never an
# error: the test makes one serialization failure), no case is in error,
# and nothing is left claimed.
# The portfolio is copied COPIES times (new case and borrower ids), so
# that the sweep is several batches (a node takes at most 1000 timers at a
# time) and the nodes share it.
# usage: nodes.sh RECOUP EXAMPLE STATE WORKDIR [COPIES]
set -eu
[ $# -ge 4 ] || { echo "usage: nodes.sh RECOUP EXAMPLE STATE WORKDIR [COPIES]" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4 copies=${5:-6}
cluster="sh $(dirname "$0")/cluster.sh"
. "$(dirname "$0")/three_ticks.sh"
db=nodes_$$
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
pids=

cleanup() {
  for p in $pids; do kill -9 "$p" 2>/dev/null || true; done
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
$cluster sql "$state" "CREATE DATABASE $db"
awk -F, -v OFS=, -v n="$copies" 'NR == 1 { print; next }
  { for (k = 1; k <= n; k++) { line = $0; sub(/^MF0/, "MF" k, line);
      sub(/,PMF0/, ",PMF" k, line); print line } }' \
  "$example/data/portfolio.csv" >"$work/portfolio.csv"
cases=$(($(wc -l <"$work/portfolio.csv") - 1))
echo "$cases cases, three nodes"

import() {
  "$recoup" import "$work/portfolio.csv" "$example" --db "$1" \
    --now 2026-01-05T09:00 >/dev/null
}
tick() {
  "$recoup" tick "$example" --db "$1" --now 2026-02-04T09:00
}
report() {
  "$recoup" report "$example" --db "$1" --now 2026-02-04T09:00 >"$work/$2.report"
  "$recoup" report "$example" --db "$1" --now 2026-02-04T09:00 --json \
    >"$work/$2.json"
}

# One node on SQLite: what the book must say.
import "$work/book.db"
tick "$work/book.db" >/dev/null
report "$work/book.db" sqlite

import "$url"
before=$($cluster sql "$state" "SELECT count(*) FROM journal_runs" "$db")
# The first claim of due timers fails as the server fails a deadlock's
# victim (a serialization failure, 40001): the node that meets it must run
# its batch again, not fail.
$cluster sql "$state" "CREATE SEQUENCE conflict_once;
CREATE FUNCTION conflict_once() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
  IF nextval('conflict_once') = 1 THEN
    RAISE EXCEPTION 'a conflict the test makes' USING ERRCODE = '40001';
  END IF;
  RETURN NULL;
END \$\$;
CREATE TRIGGER conflict_once AFTER UPDATE ON timers
  FOR EACH STATEMENT EXECUTE FUNCTION conflict_once()" "$db" >/dev/null
status=0
# The third is killed once the book shows the nodes at work (a journal
# row committed).
three_ticks 200
if [ "$($cluster sql "$state" "SELECT last_value > 1 FROM conflict_once" "$db")" != t ]; then
  echo "FAIL: the conflict the test makes was not met" >&2
  status=1
fi
report "$url" postgresql
for f in report json; do
  if ! diff -u "$work/sqlite.$f" "$work/postgresql.$f"; then
    echo "FAIL: the $f of three nodes on PostgreSQL (+) is not one node's on SQLite (-)" >&2
    status=1
  fi
done
grep -q "$cases" "$work/postgresql.report" || {
  echo "FAIL: the report does not count the example's cases" >&2
  status=1
}
left=$($cluster sql "$state" "SELECT (SELECT count(*) FROM cases WHERE \
error IS NOT NULL) + (SELECT count(*) FROM timers WHERE claimed_by IS NOT \
NULL) + (SELECT count(*) FROM events) + (SELECT count(*) FROM messages \
WHERE claimed_by IS NOT NULL)" "$db")
if [ "$left" != 0 ]; then
  echo "FAIL: $left cases in error, claims or events left in the book" >&2
  status=1
fi
# Every counter row is one connection's: no two nodes wrote one row.
slots=$($cluster sql "$state" "SELECT count(DISTINCT slot) FROM figures_states WHERE slot > 0" "$db")
if [ "$slots" -lt 2 ]; then
  echo "FAIL: the nodes' counters are in $slots slot(s), not one a node" >&2
  status=1
fi
[ $status -eq 0 ] && echo "three nodes, one killed, say what one node says"
exit $status
