#!/bin/sh
# The same book on both stores: an example's portfolio imported, a month of
# its timers run, and its report, once on SQLite and once on the throwaway
# PostgreSQL cluster (a database of this test's own), must say the same,
# in text and in JSON; and the PostgreSQL book must hold no claim and no
# queued event afterwards.
# usage: same_report.sh RECOUP EXAMPLE STATE WORKDIR
#   STATE: the cluster's state file (cluster.sh start wrote it)
set -eu
[ $# -eq 4 ] || { echo "usage: same_report.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
cluster="sh $(dirname "$0")/cluster.sh"
db=same_report_$$
base=$($cluster url "$state")
url=$(echo "$base" | sed "s|/postgres?|/$db?|")

cleanup() {
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
$cluster sql "$state" "CREATE DATABASE $db"

# The example's own story (its README): imported on the 5th of January,
# ticked on the 4th of February.
book() {
  "$recoup" import "$example/data/portfolio.csv" "$example" --db "$1" \
    --now 2026-01-05T09:00 >"$work/$2.import"
  "$recoup" tick "$example" --db "$1" --now 2026-02-04T09:00 >"$work/$2.tick"
  "$recoup" report "$example" --db "$1" --now 2026-02-04T09:00 >"$work/$2.report"
  "$recoup" report "$example" --db "$1" --now 2026-02-04T09:00 --json \
    >"$work/$2.json"
}
book "$work/book.db" sqlite
book "$url" postgresql

status=0
for f in import tick report json; do
  # the times an import and a tick took differ; what they did may not
  sed 's/ in [0-9.]*s/ in Ts/g' "$work/sqlite.$f" >"$work/sqlite.$f.cmp"
  sed 's/ in [0-9.]*s/ in Ts/g' "$work/postgresql.$f" >"$work/postgresql.$f.cmp"
  if ! diff -u "$work/sqlite.$f.cmp" "$work/postgresql.$f.cmp"; then
    echo "FAIL: $f differs between SQLite (-) and PostgreSQL (+)" >&2
    status=1
  fi
done
# A report that says nothing would be the same on both: it must count the
# example's 500 cases.
grep -q '500' "$work/postgresql.report" || {
  echo "FAIL: the report does not count the example's cases" >&2
  status=1
}
# Nothing left half done: every timer that fired was ended, no event waits,
# no claim is held.
left=$($cluster sql "$state" "SELECT (SELECT count(*) FROM timers WHERE \
claimed_by IS NOT NULL) + (SELECT count(*) FROM events) + (SELECT count(*) \
FROM messages WHERE claimed_by IS NOT NULL)" "$db")
if [ "$left" != 0 ]; then
  echo "FAIL: $left claims or events left in the PostgreSQL book" >&2
  status=1
fi
[ $status -eq 0 ] && echo "same report on SQLite and PostgreSQL"
exit $status
