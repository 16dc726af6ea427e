#!/bin/sh
# Two `recoup serve` nodes on one PostgreSQL book take payments to the same
# cases at once, each node's group commit holding many: groups that wrote
# the same cases in different orders deadlocked, and the group the server
# ended answered every writer in it 503 (two nodes did a few payments a
# second). Each group is now applied in case order and run again when the
# server ends it anyway: every payment is answered 2xx, and every one is in
# the book once.
# usage: group_pay.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: group_pay.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
cluster="sh $(dirname "$0")/cluster.sh"
db=group_pay_$$
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
pids=

cleanup() {
  for p in $pids; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
cp -r "$example" "$work/inst"
rm -rf "$work/inst/var"
$cluster sql "$state" "CREATE DATABASE $db"
"$recoup" import "$example/data/portfolio.csv" "$work/inst" --db "$url" >/dev/null

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
ports=
for node in 1 2; do
  port=$(free_port)
  RECOUP_INGEST_TOKEN=ingest "$recoup" serve "$work/inst" --db "$url" \
    --listen "127.0.0.1:$port" 2>"$work/serve$node.log" &
  pids="$pids $!"
  ports="$ports $port"
  i=0
  until curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1; do
    i=$((i + 1))
    [ $i -le 300 ] || { echo "FAIL: node $node did not answer" >&2; exit 1; }
    sleep 0.2
  done
done
$cluster sql "$state" "SELECT id FROM cases ORDER BY id LIMIT 40" "$db" >"$work/cases"
# What each case owed before: every payment of 1 must take 1 off it.
$cluster sql "$state" "SELECT id || ' ' || balance FROM cases ORDER BY id LIMIT 40" "$db" >"$work/before"

# 16 clients, 8 to each node, 60 payments each of 1 (minor unit) to the
# same 40 cases in an order of their own: each group holds several, and
# the two nodes' groups meet on the same cases.
python3 - "$work/cases" $ports >"$work/statuses" <<'PY'
import json, random, sys, threading, urllib.request, urllib.error
cases = [l.strip() for l in open(sys.argv[1]) if l.strip()]
ports = sys.argv[2:]
out, lock = [], threading.Lock()
def client(k):
    rnd = random.Random(k)
    port = ports[k % len(ports)]
    for i in range(60):
        body = {"case": rnd.choice(cases), "amount": 1, "ref": "G-%d-%d" % (k, i)}
        req = urllib.request.Request(
            "http://127.0.0.1:%s/v1/payments" % port,
            data=json.dumps(body).encode(),
            headers={"Authorization": "Bearer ingest",
                     "Content-Type": "application/json"}, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                code = r.status
        except urllib.error.HTTPError as e:
            code = e.code
        except OSError:
            code = 0
        with lock:
            out.append(code)
threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
for t in threads: t.start()
for t in threads: t.join()
for c in out: print(c)
PY

status=0
bad=$(grep -cv '^20[01]$' "$work/statuses" || true)
total=$(wc -l <"$work/statuses")
[ "$total" -eq 960 ] || { echo "FAIL: $total answers, not 960" >&2; status=1; }
[ "$bad" -eq 0 ] || {
  echo "FAIL: $bad of $total payments not acknowledged:" >&2
  sort "$work/statuses" | uniq -c >&2
  status=1
}
kept=$($cluster sql "$state" "SELECT count(*) FROM payments WHERE ref LIKE 'G-%'" "$db")
[ "$kept" -eq 960 ] || { echo "FAIL: $kept payments in the book, not 960" >&2; status=1; }
# Each node read a case's balance and wrote the balance less the payment:
# unless that read holds the case, two nodes paying one case at once both
# start from the same balance and one payment's amount is lost.
$cluster sql "$state" "SELECT c.id || ' ' || c.balance || ' ' || (SELECT count(*) FROM payments p WHERE p.case_id = c.id AND p.ref LIKE 'G-%') FROM cases c ORDER BY c.id LIMIT 40" "$db" >"$work/after"
lost=$(awk 'NR == FNR { was[$1] = $2; next } was[$1] - $2 != $3 { n++; print "case " $1 ": owed " was[$1] ", paid " $3 " times 1, owes " $2 > "/dev/stderr" } END { print n + 0 }' "$work/before" "$work/after")
[ "$lost" -eq 0 ] || { echo "FAIL: $lost cases' balances lost payments" >&2; status=1; }
# A ref names a payment in its currency (read from PostgreSQL's row): the
# same amount in dollars under a yuan payment's ref is another payment,
# 409; in yuan, its resend (on 6fcc684 both were answered duplicate).
ref_case=$($cluster sql "$state" "SELECT case_id FROM payments WHERE ref = 'G-0-0'" "$db")
port=${ports##* }
resend() {
  curl -s -o "$work/resend" -w '%{http_code}' -H 'Authorization: Bearer ingest' \
    -H 'Content-Type: application/json' -X POST "http://127.0.0.1:$port/v1/payments" \
    -d "{\"case\":\"$ref_case\",\"amount\":1,\"ref\":\"G-0-0\",\"currency\":\"$1\"}"
}
got=$(resend USD)
[ "$got" = 409 ] && grep -q "already used for 1 CNY on case $ref_case, not USD" "$work/resend" ||
  { echo "FAIL: dollars under a yuan payment's ref: $got $(cat "$work/resend")" >&2; status=1; }
got=$(resend CNY)
[ "$got" = 200 ] && grep -q duplicate "$work/resend" ||
  { echo "FAIL: the yuan payment's resend: $got $(cat "$work/resend")" >&2; status=1; }
[ $status -eq 0 ] && echo "two nodes' groups of payments to the same cases: all acknowledged, all kept once"
exit $status
