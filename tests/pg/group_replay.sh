#!/bin/sh
# Two `recoup serve` nodes on one PostgreSQL book, each group commit
# holding writes that are refused after they wrote among good ones: a
# list of cases whose second case is invalid (its first was opened, its
# borrower written, before the second was read) beside payments and
# updates of the same cases. A group's jobs have no savepoint each on
# PostgreSQL: such a job rolls the group back and the group runs again
# without it, while what the node keeps to write (counters, journal runs,
# new states) goes at the group's commit. Afterwards nothing of a refused
# list is in the book, every payment is kept once, and the console's
# counters are a recount of the cases.
# usage: group_replay.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: group_replay.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
db=group_replay_$$
. "$(dirname "$0")/book.sh"
"$recoup" import "$example/data/portfolio.csv" "$inst" --db "$url" >/dev/null
ports=
for node in 1 2; do
  node_up
  ports="$ports${ports:+,}$port"
done
q "SELECT id FROM cases ORDER BY id LIMIT 40" >"$work/cases"

# 12 clients, 40 writes each, to both nodes in turn: a third lists of
# cases refused at their second, the rest payments, new cases and
# updates of the same 40 cases' amounts.
python3 - "$work/cases" "$ports" >"$work/answers" <<'PY'
import json, random, sys, threading, urllib.request, urllib.error
cases = [l.strip() for l in open(sys.argv[1]) if l.strip()]
ports = sys.argv[2].split(",")
out, lock = [], threading.Lock()
def post(port, path, body):
    req = urllib.request.Request(
        "http://127.0.0.1:%s%s" % (port, path), data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer ingest",
                 "Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0
def client(k):
    rnd = random.Random(k)
    for i in range(40):
        port, op, c = ports[(k + i) % len(ports)], rnd.random(), rnd.choice(cases)
        if op < 0.3:
            kind, path = "refused", "/v1/cases"
            body = [{"id": "NEW-%d-%d" % (k, i), "balance": 100000,
                     "due_date": "2026-01-01", "borrower": {"id": "BN-%d-%d" % (k, i)}},
                    {"id": "BAD-%d-%d" % (k, i), "balance": "lots",
                     "due_date": "2026-01-01", "borrower": {"id": "BB-%d-%d" % (k, i)}}]
        elif op < 0.45:
            kind, path = "opened", "/v1/cases"
            body = [{"id": "OK-%d-%d" % (k, i), "balance": 5000,
                     "due_date": "2026-01-01", "borrower": {"id": "BO-%d" % k}}]
        elif op < 0.6:
            kind, path = "updated", "/v1/cases"
            body = {"id": c, "balance": rnd.randint(1000, 2000000), "amount_due": 1000,
                    "due_date": "2025-10-05", "borrower": {"id": "P" + c}}
        else:
            kind, path = "paid", "/v1/payments"
            body = {"case": c, "amount": rnd.randint(1, 5000), "ref": "R-%d-%d" % (k, i)}
        code = post(port, path, body)
        with lock:
            out.append("%s %d" % (kind, code))
threads = [threading.Thread(target=client, args=(k,)) for k in range(12)]
for t in threads: t.start()
for t in threads: t.join()
print("\n".join(out))
PY

expect() {
  n=$(grep -c "^$1 " "$work/answers" || true)
  ok=$(grep -c "^$1 $2\$" "$work/answers" || true)
  [ "$n" -eq "$ok" ] || fail "$((n - ok)) of $n $1 writes not answered $2: $(grep "^$1 " "$work/answers" | sort | uniq -c | tr '\n' ' ')"
}
expect refused 422
expect opened 201
expect updated 200
expect paid 201
[ "$(wc -l <"$work/answers")" -eq 480 ] || fail "$(wc -l <"$work/answers") answers, not 480"
left=$(q "SELECT (SELECT count(*) FROM cases WHERE id LIKE 'NEW-%' OR id LIKE 'BAD-%') + (SELECT count(*) FROM borrowers WHERE id LIKE 'BN-%' OR id LIKE 'BB-%') + (SELECT count(*) FROM journal_runs WHERE case_id LIKE 'NEW-%')")
[ "$left" -eq 0 ] || fail "$left rows of refused lists of cases are in the book"
paid=$(grep -c '^paid 201$' "$work/answers" || true)
kept=$(q "SELECT count(DISTINCT ref) || ' ' || count(*) FROM payments WHERE ref LIKE 'R-%'")
[ "$kept" = "$paid $paid" ] || fail "payments kept (distinct, all): $kept; answered: $paid"
opened=$(grep -c '^opened 201$' "$work/answers" || true)
[ "$(q "SELECT count(*) FROM cases WHERE id LIKE 'OK-%'")" -eq "$opened" ] ||
  fail "the opened cases are not the $opened answered"
# The console's counters against a recount of the cases and payments.
off=$(q "WITH f AS (SELECT workflow, state, sum(cases) n, sum(balance) b,
    sum(errors) e, sum(closed) c FROM figures_states GROUP BY 1, 2
    HAVING sum(cases) <> 0 OR sum(balance) <> 0),
  r AS (SELECT workflow, state, count(*) n, sum(balance) b,
    count(*) FILTER (WHERE error IS NOT NULL) e,
    count(*) FILTER (WHERE closed <> 0) c FROM cases GROUP BY 1, 2)
  SELECT count(*) FROM f FULL JOIN r USING (workflow, state)
  WHERE (f.n, f.b, f.e, f.c) IS DISTINCT FROM (r.n, r.b, r.e, r.c)")
[ "$off" -eq 0 ] || fail "$off of the cases' counters differ from a recount: $(q "SELECT workflow, state, sum(cases), sum(balance) FROM figures_states GROUP BY 1, 2" | tr '\n' ' ')"
figs=$(q "SELECT (SELECT sum(n) || ' ' || sum(amount) FROM figures_days WHERE figure = 'payment') || ' / ' || (SELECT count(*) || ' ' || sum(amount) FROM payments)")
[ "${figs% / *}" = "${figs#* / }" ] || fail "the payments' figure (n, amount) is not the payments': $figs"
figs=$(q "SELECT (SELECT sum(n) FROM figures_days WHERE figure = 'opened') || ' ' || (SELECT count(*) FROM cases)")
[ "${figs% *}" = "${figs#* }" ] || fail "the cases opened by the figures, and in the book: $figs"
[ $status -eq 0 ] && echo "groups with lists refused after they wrote: nothing of them kept, every payment once, the counters a recount"
exit $status
