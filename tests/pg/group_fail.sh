#!/bin/sh
# One payment of a group commit whose journal row the database refuses
# (a DBA's statement_timeout over a slow trigger, or a trigger raising a
# check that names a column) beside 20 good payments sent at the same
# moment, three times. The node keeps a group's journal rows and sends
# them as one statement at the commit: the refusal failed the commit and
# every write of the group was answered 503, none kept. Now the group
# runs again with each job's writes read at its end, where the refused
# one is left out: each good payment is answered 201 and kept once, and
# the refused one gets its own answer, nothing of it written (timeout:
# 503 `unavailable`; check: 422 naming the trigger's column). `deferred`:
# the same check in a trigger deferred to the commit (DEFERRABLE
# INITIALLY DEFERRED), which refused the COMMIT itself: every payment of
# its group was answered 503, the group never run again. `payment`,
# `balance`: the payment's own insert, or its case's new balance, refused
# by a trigger: written while the job ran, not read at its end but with
# the next job's first read, which is no fault of that next job's.
# usage: group_fail.sh RECOUP EXAMPLE STATE WORKDIR timeout|check|deferred|payment|balance
set -eu
[ $# -eq 5 ] || { echo "usage: group_fail.sh RECOUP EXAMPLE STATE WORKDIR timeout|check|deferred|payment|balance" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4 mode=$5
db=group_fail_$$
. "$(dirname "$0")/book.sh"
head -n 22 "$example/data/portfolio.csv" >"$work/cases.csv"
"$recoup" import "$work/cases.csv" "$inst" --db "$url" >/dev/null
bad=$(sed -n 2p "$work/cases.csv" | cut -d, -f1)
before=$(q "SELECT sum(balance) FROM cases WHERE id <> '$bad'")

trigger="TRIGGER refuse_bad BEFORE INSERT ON journal_runs" key=case_id
if [ "$mode" = timeout ]; then
  refuse="PERFORM pg_sleep(5);"
  q "ALTER DATABASE $db SET statement_timeout = '300ms'" >/dev/null
  want="503 unavailable"
else
  refuse="RAISE EXCEPTION 'not for this case' USING ERRCODE = 'check_violation', COLUMN = 'amount';"
  want="422 amount"
  [ "$mode" = deferred ] && trigger="CONSTRAINT TRIGGER refuse_bad AFTER INSERT ON journal_runs DEFERRABLE INITIALLY DEFERRED"
  [ "$mode" = payment ] && trigger="TRIGGER refuse_bad BEFORE INSERT ON payments"
  [ "$mode" = balance ] && trigger="TRIGGER refuse_bad BEFORE UPDATE ON cases" key=id
fi
q "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN IF NEW.$key = '$bad' THEN $refuse END IF; RETURN NEW; END \$\$;
CREATE $trigger
  FOR EACH ROW EXECUTE FUNCTION refuse_bad();" >/dev/null
node_up

q "SELECT id FROM cases WHERE id <> '$bad' ORDER BY id" >"$work/good"
python3 - "$work/good" "$bad" "$port" >"$work/answers" <<'PY'
import json, sys, threading, urllib.request, urllib.error
good = [l.strip() for l in open(sys.argv[1]) if l.strip()]
bad, port = sys.argv[2], sys.argv[3]
out, lock = [], threading.Lock()
def pay(kind, case, ref, go):
    body = json.dumps({"case": case, "amount": 100, "ref": ref}).encode()
    req = urllib.request.Request(
        "http://127.0.0.1:%s/v1/payments" % port, data=body, method="POST",
        headers={"Authorization": "Bearer ingest",
                 "Content-Type": "application/json"})
    go.wait()
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            code, field = r.status, ""
    except urllib.error.HTTPError as e:
        answer = json.loads(e.read() or b"{}")
        err = answer.get("error", answer)
        code = e.code
        field = "%s %s" % (err.get("code", ""), err.get("field", ""))
    except OSError:
        code, field = 0, ""
    with lock:
        out.append(("%s %d %s" % (kind, code, field)).strip())
for round in range(3):
    go = threading.Event()
    threads = [threading.Thread(target=pay, args=("good", c, "G%d-%s" % (round, c), go))
               for c in good]
    threads.insert(len(threads) // 2, threading.Thread(
        target=pay, args=("bad", bad, "B%d" % round, go)))
    for t in threads: t.start()
    go.set()
    for t in threads: t.join()
print("\n".join(out))
PY

n=$(grep -c '^good ' "$work/answers" || true)
ok=$(grep -c '^good 201$' "$work/answers" || true)
[ "$n" -eq 60 ] && [ "$ok" -eq 60 ] ||
  fail "$((n - ok)) of $n good payments beside a refused one not answered 201: $(grep '^good ' "$work/answers" | sort | uniq -c | tr '\n' ' ')"
grep '^bad ' "$work/answers" | while read -r kind code what; do
  case "$code $what" in
    "$(echo "$want" | cut -d' ' -f1) "*"$(echo "$want" | cut -d' ' -f2)"*) ;;
    *) echo "FAIL: the refused payment answered '$code $what', not $want" >&2; exit 1 ;;
  esac
done || status=1
[ "$(q "SELECT count(*) || ' ' || count(DISTINCT ref) FROM payments WHERE ref LIKE 'G%'")" = "60 60" ] ||
  fail "the good payments are not kept once each: $(q "SELECT count(*), count(DISTINCT ref) FROM payments WHERE ref LIKE 'G%'")"
[ "$(q "SELECT count(*) FROM payments WHERE case_id = '$bad'")" = 0 ] ||
  fail "the refused payment was written"
after=$(q "SELECT sum(balance) FROM cases WHERE id <> '$bad'")
[ "$after" = $((before - 6000)) ] ||
  fail "the good cases' balances fell by $((before - after)), not 6000"
[ $status -eq 0 ] && echo "a payment the database refuses ($mode) beside good ones in a group: it alone is refused ($want)"
exit $status
