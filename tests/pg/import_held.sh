#!/bin/sh
# A PostgreSQL import holds the cases it updates until it commits, and a
# node sweeps the same cases meanwhile. Its sweep claimed their due timers
# and then waited, in its step, for the import to commit: the node's loop,
# HTTP included, stopped for as long as the import took. A step now
# leaves a case another writer holds for after: the node answers
# throughout, and once the import has committed every due timer fires,
# once.
# The import is made to hold its cases for as long as the test needs: a
# psql session (session.sh) holds the file's last case, so the import
# updates the others and waits for it.
# usage: import_held.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: import_held.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
db=import_held_$$
. "$(dirname "$0")/book.sh"

# Eleven cases, no contact hours; the first ten are imported again.
sed -i '/contact_hours/d' "$inst/recoup.lua"
head -n 12 "$example/data/portfolio.csv" >"$work/eleven.csv"
head -n 11 "$example/data/portfolio.csv" >"$work/ten.csv"
last=$(sed -n 11p "$work/ten.csv" | cut -d, -f1)
other=$(sed -n 12p "$work/eleven.csv" | cut -d, -f1)
"$recoup" import "$work/eleven.csv" "$inst" --db "$url" >/dev/null
# Their escalations are due now.
cut=$(q "SELECT (extract(epoch FROM now()) * 1000)::bigint - 1000")
q "UPDATE timers SET due = $cut WHERE event = 'escalate'" >/dev/null

session_start
sql "BEGIN;"
sql "SELECT id FROM cases WHERE id = '$last' FOR NO KEY UPDATE;"
until_t "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = '$db' \
AND state = 'idle in transaction' AND query LIKE 'SELECT id FROM cases%'" \
  "the session did not take the case"
"$recoup" import "$work/ten.csv" "$inst" --db "$url" >"$work/import.out" 2>&1 3>&- &
ipid=$!
until_t "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = '$db' \
AND wait_event_type = 'Lock'" "the import did not wait for the held case"

# The node's sweep claims the ten due escalations, meets each case held
# and commits its batch all the same: the claims are seen.
node_up --real-time 3>&-
until_t "SELECT count(*) = 10 FROM timers WHERE event = 'escalate' \
AND due <= $cut AND claimed_by IS NOT NULL AND case_id <> '$other'" \
  "the sweep waited for the cases the import holds"
answers "$other" "the import holds its cases"
[ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' \
AND wait_event_type = 'Lock'")" = 1 ] ||
  fail "the import stopped waiting before the node's answers"

sql "COMMIT;"
session_end
wait "$ipid" || fail "the import failed: $(cat "$work/import.out")"
grep -q "10 updated" "$work/import.out" ||
  fail "the import did not update its ten cases: $(cat "$work/import.out")"
until_t "SELECT count(*) = 0 FROM timers WHERE event = 'escalate' AND due <= $cut" \
  "the due escalations did not fire after the import's commit"
got=$(q "SELECT count(*) || ' ' || count(DISTINCT case_id) FROM journal \
WHERE kind = 'event' AND detail LIKE '%\"escalate\"%'")
[ "$got" = "11 11" ] ||
  fail "escalations fired (times, cases): '$got', not once on each of the 11 cases"
[ $status -eq 0 ] && echo "an import holding its cases and a node sweeping them: the node answers, every due timer fires once after the commit"
exit $status
