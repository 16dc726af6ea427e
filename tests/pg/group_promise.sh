#!/bin/sh
# Two `recoup serve` nodes on one PostgreSQL book take payments to ten
# cases with an open promise and an open plan each, from eight clients at
# once, refs drawn from a small pool: a ref comes again in the same group,
# in another group, on the other node (the same case and amount: a
# duplicate), and with another amount (409). A payment's node reads the
# case's promise and unpaid installments with its hold, and reads its
# writes with the next payment's: afterwards every payment answered 201 or
# 200 is in the book once, as it was sent; each case's balance, its
# promise's paid and its installments' paid moved by exactly the sum of
# its payments; and each case's journal has one payment entry a payment.
# usage: group_promise.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: group_promise.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
db=group_promise_$$
. "$(dirname "$0")/book.sh"
head -n 11 "$example/data/portfolio.csv" >"$work/cases.csv"
"$recoup" import "$work/cases.csv" "$inst" --db "$url" >/dev/null
q "INSERT INTO promises(case_id, amount, by_date, status, at)
   SELECT id, 100000000, '2099-12-31', 'open', 1 FROM cases;
   INSERT INTO plans(case_id, total, status, at)
   SELECT id, 300000000, 'open', 1 FROM cases;
   INSERT INTO installments(plan_id, seq, due_date, amount, status)
   SELECT p.id, s, '2099-0' || s || '-01', 100000000, 'due'
   FROM plans p, generate_series(1, 3) s" >/dev/null
q "SELECT id || ' ' || balance FROM cases ORDER BY id" >"$work/before"
ports=
for node in 1 2; do
  node_up
  ports="$ports${ports:+,}$port"
done

python3 - "$work/before" "$ports" >"$work/answers" <<'PY'
import json, random, sys, threading, urllib.request, urllib.error
cases = [l.split()[0] for l in open(sys.argv[1]) if l.strip()]
ports = sys.argv[2].split(",")
out, lock = [], threading.Lock()
def pay(port, case, amount, ref):
    body = json.dumps({"case": case, "amount": amount, "ref": ref}).encode()
    req = urllib.request.Request(
        "http://127.0.0.1:%s/v1/payments" % port, data=body, method="POST",
        headers={"Authorization": "Bearer ingest",
                 "Content-Type": "application/json"})
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
        n = rnd.randrange(120)
        case, amount = cases[n % len(cases)], 100 + n
        if rnd.random() < 0.1:
            amount += 1  # the ref with another amount: 409
        code = pay(ports[(k + i) % len(ports)], case, amount, "R%d" % n)
        with lock:
            out.append("%d %s %d R%d" % (code, case, amount, n))
threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print("\n".join(out))
PY

bad=$(grep -cv '^20[01] \|^409 ' "$work/answers" || true)
[ "$bad" -eq 0 ] || fail "$bad payments answered neither 201, 200 nor 409: $(grep -v '^20[01] \|^409 ' "$work/answers" | cut -d' ' -f1 | sort | uniq -c | tr '\n' ' ')"
grep '^20[01] ' "$work/answers" | while read -r code case amount ref; do
  echo "$ref $case $amount"
done | sort -u >"$work/acked"
q "SELECT ref || ' ' || case_id || ' ' || amount FROM payments ORDER BY 1" | sort >"$work/kept"
missing=$(comm -23 "$work/acked" "$work/kept" | wc -l)
[ "$missing" -eq 0 ] || fail "$missing acknowledged payments are not in the book as sent: $(comm -23 "$work/acked" "$work/kept" | head -3 | tr '\n' ';')"
extra=$(comm -13 "$work/acked" "$work/kept" | wc -l)
[ "$extra" -eq 0 ] || fail "$extra payments in the book were never acknowledged"
grep '^409 ' "$work/answers" >"$work/conflicts" || true
while read -r code case amount ref <&3; do
  [ "$(q "SELECT count(*) FROM payments WHERE ref = '$ref' AND amount = $amount")" = 0 ] ||
    echo "$ref"
done 3<"$work/conflicts" >"$work/refused_kept"
[ ! -s "$work/refused_kept" ] || fail "payments answered 409 are in the book: $(tr '\n' ' ' <"$work/refused_kept")"
while read -r case before <&3; do
  got=$(q "SELECT coalesce(sum(amount), 0) || ' ' ||
    ($before - (SELECT balance FROM cases WHERE id = '$case')) || ' ' ||
    (SELECT paid FROM promises WHERE case_id = '$case') || ' ' ||
    (SELECT sum(i.paid) FROM installments i JOIN plans p ON p.id = i.plan_id
     WHERE p.case_id = '$case') || ' ' ||
    (SELECT count(*) FROM journal WHERE case_id = '$case' AND kind = 'payment')
    FROM payments WHERE case_id = '$case'")
  set -- $got
  [ "$1 $1 $1 $1" = "$1 $2 $3 $4" ] ||
    fail "case $case: payments $1, its balance fell by $2, its promise paid $3, its installments paid $4"
  [ "$5" = "$(q "SELECT count(*) FROM payments WHERE case_id = '$case'")" ] ||
    fail "case $case: $5 payment entries in its journal for $(q "SELECT count(*) FROM payments WHERE case_id = '$case'") payments"
done 3<"$work/before"
[ $status -eq 0 ] && echo "payments with refs repeated within and across groups and nodes, to cases with a promise and a plan ($(cut -d' ' -f1 "$work/answers" | sort | uniq -c | tr -s ' \n' ' ')): each kept once, every amount moved exactly"
exit $status
