#!/bin/sh
# A sweep's step on a PostgreSQL book and another node's payment to the
# same case at once. The sweep claims a due timer and locks its case,
# passing over a case another transaction holds (a payment on another
# node). Its step then waited for that case, and the node's whole loop
# with it, HTTP included, for as long as the other writer held it (an
# import: to its commit). The step now tries the case: held, its timer
# is left for after, and the node goes on answering; once the payment has
# committed, the timer fires once, and the promise the payment kept stays
# kept, with what was paid (a step that read the case before the payment
# wrote the promise back broken).
# The other node is played by a psql session (session.sh) holding a
# payment's writes uncommitted: the case, then the promise kept.
# usage: held_step.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: held_step.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
db=held_step_$$
. "$(dirname "$0")/book.sh"

head -n 3 "$example/data/portfolio.csv" >"$work/two.csv"
case=$(sed -n 2p "$work/two.csv" | cut -d, -f1)
other=$(sed -n 3p "$work/two.csv" | cut -d, -f1)
"$recoup" import "$work/two.csv" "$inst" --db "$url" >/dev/null

# The promise, taken by an agent through the service.
node_up
curl -s -X POST -H "Authorization: Bearer agent" -H "Content-Type: application/json" \
  -d '{"amount": 1000, "by": "7d"}' \
  "http://127.0.0.1:$port/v1/cases/$case/promises" >"$work/promise"
grep -q '"open"' "$work/promise" || { echo "FAIL: no promise: $(cat "$work/promise")" >&2; exit 1; }
kill $pids && wait $pids 2>/dev/null || true
pids=
# Its day has passed: its timer is due at the next sweep.
q "UPDATE timers SET due = 1 WHERE event = '__promise_due'" >/dev/null

# The other node's payment of the promise, uncommitted: the case held as
# engine_pay holds it, the promise kept with what was paid.
session_start
sql "BEGIN;"
sql "SELECT id FROM cases WHERE id = '$case' FOR NO KEY UPDATE;"
sql "UPDATE promises SET paid = 1000, status = 'kept' WHERE case_id = '$case';"
until_t "SELECT count(*) = 1 FROM pg_stat_activity WHERE datname = '$db' \
AND state = 'idle in transaction' AND query LIKE 'UPDATE promises%'" \
  "the session did not take the case"

# A node's sweep claims the timer, meets the case held and commits its
# batch all the same: the claim is seen, the timer left in place. (The
# node does not inherit the session's pipe, which would keep it open.)
node_up 3>&-
until_t "SELECT count(*) = 1 FROM timers WHERE event = '__promise_due' \
AND claimed_by IS NOT NULL" "the sweep waited for the held case"
answers "$other" "the case is held"
[ "$(q "SELECT count(*) FROM payments WHERE ref = 'HELD-$other'")" = 1 ] ||
  fail "another case's payment was not kept while the case was held"
[ "$(q "SELECT state FROM pg_stat_activity WHERE datname = '$db' \
AND query LIKE 'UPDATE promises%'")" = "idle in transaction" ] ||
  fail "the session stopped holding the case before the node's answers"

sql "COMMIT;"
session_end
# After the commit the node tries the case again: the timer fires.
until_t "SELECT count(*) = 0 FROM timers WHERE event = '__promise_due'" \
  "the promise's timer did not fire after the payment's commit"

got=$(q "SELECT status || ' ' || paid FROM promises WHERE case_id = '$case'")
[ "$got" = "kept 1000" ] ||
  fail "the promise the payment kept is '$got' after the sweep, not 'kept 1000'"
broken=$(q "SELECT count(*) FROM journal WHERE case_id = '$case' \
AND detail LIKE '%promise_broken%'")
[ "$broken" = 0 ] || fail "the kept promise's timer broke it $broken time(s)"
[ $status -eq 0 ] && echo "a sweep's step and a payment to its case: the node answers meanwhile, the timer fires after, the promise stays kept"
exit $status
