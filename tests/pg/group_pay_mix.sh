#!/bin/sh
# Two `recoup serve` nodes on one PostgreSQL book take hostile payments
# at once (session 17's attack on a group's payments read ahead): refs
# from a small pool, so that the same ref comes to both nodes for one case
# or for two, resent or raced; cases that do not exist; refs of odd texts;
# events and task-free writes between the payments, which end a group's
# reads ahead. Every ref is kept at most once, each answer says what the
# book holds (201 kept, 200 a duplicate of a kept one, 409 a conflict,
# 404 an unknown case), and each case's balance is what it owed less the
# payments kept on it.
# With RECOUP_MIX_KILLS=1 the nodes' sessions are also ended by the
# server every half second (pg_terminate_backend): a payment or an event
# may then be answered 503, kept or not (its resend is the duplicate),
# never twice.
# usage: group_pay_mix.sh RECOUP EXAMPLE STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: group_pay_mix.sh RECOUP EXAMPLE STATE WORKDIR" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4
cluster="sh $(dirname "$0")/cluster.sh"
db=group_pay_mix_$$
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
$cluster sql "$state" "SELECT id FROM cases ORDER BY id LIMIT 30" "$db" >"$work/cases"
$cluster sql "$state" "SELECT id || ' ' || balance FROM cases ORDER BY id" "$db" >"$work/before"

killer=
if [ "${RECOUP_MIX_KILLS:-0}" = 1 ]; then
  (while :; do
     sleep 0.5
     $cluster sql "$state" "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '$db' AND pid <> pg_backend_pid() AND backend_type = 'client backend'" "$db" >>"$work/kills" 2>&1
   done) &
  killer=$!
fi
# 16 clients, 8 to each node, 80 writes each: a payment of 1 or 2 to one
# of 30 cases (or to one that does not exist), its ref one of 300 (odd
# texts among them), or an event to a case.
python3 - "$work/cases" $ports >"$work/answers" <<'PY'
import json, random, sys, threading, urllib.request, urllib.error
cases = [l.strip() for l in open(sys.argv[1]) if l.strip()]
ports = sys.argv[2:]
out, lock = [], threading.Lock()
odd = ["\u4ed8\u6b3e-%d", "q'uo\"te-%d", "sp ace-%d", "x" * 120 + "-%d"]
def post(port, path, body):
    req = urllib.request.Request(
        "http://127.0.0.1:%s%s" % (port, path), data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer ingest",
                 "Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError as e:
        return 0, str(e)
def client(k):
    rnd = random.Random(k)
    port = ports[k % len(ports)]
    for i in range(80):
        roll = rnd.random()
        if roll < 0.1:
            c = rnd.choice(cases)
            code, _ = post(port, "/v1/cases/%s/events" % c,
                           {"type": "note_added", "data": {"k": k}})
            with lock: out.append(("event", c, "", 0, code))
            continue
        n = rnd.randrange(300)
        ref = (odd[n % 4] % n) if n % 7 == 0 else "M-%d" % n
        # most refs belong to one case and amount; a few come with
        # another case or amount (a conflict), some to no case at all
        c = cases[n % len(cases)] if rnd.random() < 0.9 else rnd.choice(cases)
        if rnd.random() < 0.03: c = "NO-SUCH-%d" % n
        amount = 1 + (n % 2) if rnd.random() < 0.95 else 5
        code, _ = post(port, "/v1/payments", {"case": c, "amount": amount, "ref": ref})
        with lock: out.append(("pay", c, ref, amount, code))
threads = [threading.Thread(target=client, args=(k,)) for k in range(16)]
for t in threads: t.start()
for t in threads: t.join()
for o in out: print(json.dumps(o))
PY

[ -z "$killer" ] || {
  kill "$killer"; wait "$killer" 2>/dev/null || true
  echo "sessions ended: $(awk '$1 ~ /^[0-9]+$/ { s += $1 } END { print s + 0 }' "$work/kills")"
}
$cluster sql "$state" "SELECT json_build_array(ref, case_id, amount) FROM payments" "$db" >"$work/kept"
$cluster sql "$state" "SELECT c.id || ' ' || c.balance || ' ' || c.overpaid || ' ' || coalesce((SELECT sum(amount) FROM payments p WHERE p.case_id = c.id), 0) FROM cases c ORDER BY c.id" "$db" >"$work/after"
python3 - "$work/answers" "$work/kept" "$work/before" "$work/after" "${RECOUP_MIX_KILLS:-0}" <<'PY'
import json, sys, collections
answers = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
kept = {}
for l in open(sys.argv[2]):
    if not l.strip(): continue
    ref, c, a = json.loads(l)
    if ref in kept: print("FAIL: ref %r kept twice" % ref); sys.exit(1)
    kept[ref] = (c, a)
bad = lost = 0
killed = sys.argv[5] == "1"
created = collections.Counter()
unsure = set(a[2] for a in answers if a[4] == 503)
for kind, c, ref, amount, code in answers:
    if kind == "event":
        # An event, like a payment, may be answered 503 when its
        # session ended during its commit (docs/operations.md).
        if code not in (202, 404) and not (code == 503 and killed):
            bad += 1; print("event", c, code)
        continue
    k = kept.get(ref)
    if code == 201:
        created[ref] += 1
        if k != (c, amount): bad += 1; print("201 but kept", ref, c, amount, k)
    elif code == 200:
        if k != (c, amount): bad += 1; print("200 duplicate but kept", ref, c, amount, k)
    elif code == 409:
        if k is None or k == (c, amount): bad += 1; print("409 but kept", ref, c, amount, k)
    elif code == 404:
        if not c.startswith("NO-SUCH"): bad += 1; print("404 on", c, ref)
    elif code == 503 and killed:
        lost += 1
    else:
        bad += 1; print("answer", code, c, ref, amount)
for ref, n in created.items():
    if n > 1: bad += 1; print("ref %r created %d times" % (ref, n))
for ref in kept:
    if created[ref] != 1 and not (created[ref] == 0 and ref in unsure): bad += 1; print("ref %r kept, created %d times" % (ref, created[ref]))
before = dict(l.split() for l in open(sys.argv[3]) if l.strip())
for l in open(sys.argv[4]):
    if not l.strip(): continue
    c, bal, over, paid = l.split()
    if int(before[c]) - int(bal) + int(over) != int(paid):
        bad += 1; print("case", c, "owed", before[c], "owes", bal, "over", over, "paid", paid)
print("%d answers, %d kept, %d answered 503, %d wrong" % (len(answers), len(kept), lost, bad))
sys.exit(1 if bad else 0)
PY
