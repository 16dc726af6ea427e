#!/bin/sh
# A sweep's step on a PostgreSQL book and another node's payment to the
# same case at once. The sweep claims a due timer and locks its case,
# passing over a case another transaction holds (a payment on another
# node). The step then read that case without a lock, and a promise's due
# timer read the promise as it was before the payment: it wrote the
# promise back broken with the paid amount it had read, and the payment
# that kept it was lost from the promise. The step now holds its case
# from its read, as a payment does: it waits for the payment, and the
# promise it finds kept stays kept, with what was paid.
# The other node is played by a psql session (session.sh) holding a
# payment's writes uncommitted: the case, then the promise kept.
# usage: held_step.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: held_step.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
db=held_step_$$
. "$(dirname "$0")/book.sh"

head -n 2 "$example/data/portfolio.csv" >"$work/one.csv"
case=$(tail -n 1 "$work/one.csv" | cut -d, -f1)
"$recoup" import "$work/one.csv" "$inst" --db "$url" >/dev/null

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

"$recoup" tick "$inst" --db "$url" --no-deliver >"$work/tick.out" 2>&1 &
pids=$!
# The sweep waits for the payment: for the case (held) or the promise.
until_t "SELECT count(*) >= 1 FROM pg_stat_activity WHERE datname = '$db' \
AND wait_event_type = 'Lock'" "the sweep did not meet the payment"
sql "COMMIT;"
session_end
wait "$pids" || fail "tick failed: $(cat "$work/tick.out")"
pids=

got=$(q "SELECT status || ' ' || paid FROM promises WHERE case_id = '$case'")
[ "$got" = "kept 1000" ] ||
  fail "the promise the payment kept is '$got' after the sweep, not 'kept 1000'"
[ $status -eq 0 ] && echo "a sweep's step and a payment to its case: the promise the payment kept stays kept"
exit $status
