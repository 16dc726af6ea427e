#!/bin/sh
# Three `recoup serve` nodes on one PostgreSQL book (issue 18): CASES cases
# of the microfinance example, four to a borrower, imported ten days ago
# (their reminder SMS queued, the fourth of each borrower deferred by the
# guard's 3 SMS a day, and an `escalate` timer each, three days on: due
# now). The three nodes sweep it together on the real clock while
# payments of whole balances go over HTTP round-robin to all three (so a
# borrower's four thank-you SMS are decided on different nodes, beside the
# released reminder: the cap must hold across nodes). In the middle, node
# 3 is killed with kill -9 (most likely inside an open batch: a batch
# holds hundreds of steps) and started again. Then:
#   - every case's reminder (escalate) handled once, exactly once for a
#     case no payment closed first (the journal);
#   - no message delivered twice (the outbox files' lines by idempotency
#     key, all nodes together), and every message the book calls sent is
#     in them;
#   - every acknowledged payment in the book, once;
#   - no borrower over the caps: at most 3 SMS in any rolling day (the
#     book's messages, each at the time the guard let it go);
#   - each case's timers in their due order (a deferred reminder released
#     before its case's escalation);
#   - nothing left claimed, no pending event, no case in error.
# The killed node's claims of the outbox (committed: a message is claimed,
# then written, then marked sent) would pass to the others when its 5-minute
# lease ends; the test brings that end forward rather than wait, and a
# message that node had written but not yet marked may then be written
# again under the same key (DESIGN.md: the receiver drops the repeat):
# the only repeat allowed, and counted.
# CASES: $RECOUP_NODES_CASES, else 800 (about two minutes here); the
# issue's 50,000 with RECOUP_NODES_CASES=50000 (not in CI: the import of
# that many cases alone takes half an hour on a loaded 2-core machine).
# usage: serve_nodes.sh RECOUP SOURCE_DIR STATE WORKDIR
set -eu
[ $# -eq 4 ] || { echo "usage: serve_nodes.sh RECOUP SOURCE_DIR STATE WORKDIR" >&2; exit 2; }
recoup=$1 src=$2 state=$3 work=$4
here=$(dirname "$0")
cluster="sh $here/cluster.sh"
cases=${RECOUP_NODES_CASES:-800}
db=snodes_$$
url=$($cluster url "$state" | sed "s|/postgres?|/$db?|")
p1= p2= p3= payer=
start=$(date +%s)

cleanup() {
  for p in $p1 $p2 $p3 $payer; do kill -9 "$p" 2>/dev/null || true; done
  [ -n "${RECOUP_NODES_KEEP:-}" ] && { echo "kept: database $db, $work"; return; }
  $cluster sql "$state" "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
rm -rf "$work"
mkdir -p "$work"
q() { $cluster sql "$state" "$1" "$db"; }
now_ms="(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# One institution directory a node (each writes its own outbox file),
# without contact hours: the test runs at any hour.
for n in 1 2 3; do
  cp -r "$src/examples/microfinance" "$work/n$n"
  rm -rf "$work/n$n/var"
  sed -i '/contact_hours/d' "$work/n$n/recoup.lua"
done
sh "$src/scripts/gen_portfolio.sh" microfinance "$cases" |
  awk -F, -v OFS=, 'NR == 1 { print; next }
    { $2 = sprintf("PB%05d", int((NR - 2) / 4) + 1); print }' >"$work/portfolio.csv"
$cluster sql "$state" "CREATE DATABASE $db"
"$recoup" import "$work/portfolio.csv" "$work/n1" --db "$url" \
  --now "$(date -u -d '10 days ago' +%Y-%m-%dT%H:%M)" >/dev/null
imported=$(($(date +%s) - start))
due=$(q "SELECT count(*) FROM timers WHERE event = 'escalate' AND due <= $now_ms")
[ "$due" = "$cases" ] || { echo "FAIL: $due of $cases reminders due" >&2; exit 1; }
# A payment of the whole balance for every case of every second borrower:
# each closes its case (a thank-you SMS) if the sweep has not done so.
awk -F, 'NR > 1 && (int((NR - 2) / 4) % 2) == 0 { print $1 "," $11 }' \
  "$work/portfolio.csv" >"$work/payments"

serve() { # node number, port; the pid in $!
  PGAPPNAME=node$1 RECOUP_INGEST_TOKEN=ingest RECOUP_READ_TOKEN=read RECOUP_ADMIN_TOKEN=admin \
    RECOUP_AGENT_TOKEN=agent "$recoup" serve "$work/n$1" --db "$url" \
    --listen "127.0.0.1:$2" --real-time 2>>"$work/n$1.log" >/dev/null &
}
up() { # port, pid
  i=0
  until curl -sf "http://127.0.0.1:$1/health" >/dev/null 2>&1; do
    i=$((i + 1))
    if [ $i -gt 600 ] || ! kill -0 "$2" 2>/dev/null; then
      echo "FAIL: the node on port $1 did not start" >&2
      cat "$work"/n*.log >&2
      exit 1
    fi
    sleep 0.1
  done
}
ports=$(free_port) ports="$ports $(free_port)" ports="$ports $(free_port)"
set -- $ports
port1=$1 port2=$2 port3=$3
sweep_start=$(date +%s)
serve 1 "$port1"
p1=$!
serve 2 "$port2"
p2=$!
serve 3 "$port3"
p3=$!
up "$port1" "$p1"
up "$port2" "$p2"
up "$port3" "$p3"
printf '%s\n%s\n%s\n' "$port1" "$port2" "$port3" >"$work/ports.new"
mv "$work/ports.new" "$work/ports"
python3 "$here/pay.py" "$work/payments" "$work/ports" "$work/acks" \
  2>"$work/pay.err" &
payer=$!

# Node 3 is killed in the middle (reminders or payments still coming),
# inside a transaction (a batch open, uncommitted), or after a while
# anyway. (libpq names each node's connections by PGAPPNAME.)
left="SELECT count(*) FROM timers WHERE event = 'escalate' AND due <= $now_ms"
total=$(wc -l <"$work/payments")
i=0 inside=no
while [ $i -lt 600 ]; do
  i=$((i + 1))
  acks=$(cat "$work/acks" 2>/dev/null | wc -l)
  if [ "$(q "SELECT ($left) > 0 OR $acks < $total / 2")" = f ]; then break; fi
  if [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND application_name = 'node3' AND xact_start IS NOT NULL")" != 0 ]; then
    inside=yes
    break
  fi
done
node3="$(uname -n):$p3"
kill -9 "$p3"
wait "$p3" 2>/dev/null || true
p3=
# Its server processes may outlive it a moment: one waiting for a lock, or
# running what the node had sent (a claim, a batch's last writes and its
# COMMIT) before it reads that the node is gone. What they commit counts
# as its: the end of its leases comes after them.
i=0
while [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE datname = '$db' AND application_name = 'node3'")" != 0 ]; do
  i=$((i + 1))
  [ $i -le 300 ] || { echo "FAIL: node 3's server processes outlived it by 30 s" >&2; exit 1; }
  sleep 0.1
done
at_kill=$(q "$left")
echo "node 3 killed with kill -9 ($at_kill of $cases reminders left, $(cat "$work/acks" 2>/dev/null | wc -l) of $total payments acknowledged; inside a transaction: $inside)"
# Its open batch rolls back when its server process finds the connection
# gone; what it had committed as claimed is freed here, as its lease's end
# would free it.
held=$(q "SELECT (SELECT count(*) FROM messages WHERE claimed_by = '$node3') + \
(SELECT count(*) FROM timers WHERE claimed_by = '$node3') + \
(SELECT count(*) FROM events WHERE claimed_by = '$node3')")
q "SELECT string_agg(id::text, ' ') FROM messages WHERE claimed_by = '$node3'" >"$work/held-messages"
q "UPDATE messages SET claimed_until = 0 WHERE claimed_by = '$node3';
UPDATE timers SET claimed_until = 0 WHERE claimed_by = '$node3';
UPDATE events SET claimed_until = 0 WHERE claimed_by = '$node3'" >/dev/null
echo "its committed claims, freed as at its lease's end: $held"
port3=$(free_port)
serve 3 "$port3"
p3=$!
up "$port3" "$p3"
printf '%s\n%s\n%s\n' "$port1" "$port2" "$port3" >"$work/ports.new"
mv "$work/ports.new" "$work/ports"

status=0
if ! wait "$payer"; then
  echo "FAIL: payments not acknowledged: $(cat "$work/pay.err")" >&2
  status=1
fi
payer=
# The sweep is over when nothing is due: no timer, no queued message, no
# pending event. A node's wake-up comes at most a minute after a change
# another made, so this waits up to three.
work_left="SELECT (SELECT count(*) FROM timers WHERE due <= $now_ms) + \
(SELECT count(*) FROM messages WHERE status = 'queued' AND next_attempt <= $now_ms) + \
(SELECT count(*) FROM events)"
i=0
while [ "$(q "$work_left")" != 0 ] && [ $i -lt 1800 ]; do
  i=$((i + 1))
  sleep 0.1
done
for p in $p1 $p2 $p3; do
  kill "$p"
  wait "$p" || { echo "FAIL: a node did not stop cleanly" >&2; status=1; }
done
p1= p2= p3=
swept=$(($(date +%s) - sweep_start))
fail() { echo "FAIL: $*" >&2; status=1; }

[ "$(q "$work_left")" = 0 ] || fail "work left: $(q "$work_left")"
# Every reminder once; exactly once where no payment closed the case.
q "SELECT c.id, c.state, (SELECT count(*) FROM journal j WHERE j.case_id = c.id \
AND j.kind = 'event' AND j.detail::json ->> 'type' = 'escalate'), \
(SELECT count(*) FROM payments p WHERE p.case_id = c.id) FROM cases c" \
  >"$work/reminders"
awk -F'|' '$3 > 1 || ($3 == 0 && $4 == 0) { n++; if (n <= 5) print "  " $0 }
  END { exit n > 0 }' "$work/reminders" >"$work/bad-reminders" ||
  fail "reminders not handled once (case|state|handled|payments): $(cat "$work/bad-reminders")"
handled=$(awk -F'|' '$3 == 1' "$work/reminders" | wc -l)
# A case's timers in their due order, whichever node took each: a fourth
# case's deferred reminder is released (due the day after the import)
# before its escalation (three days after); released after it, it finds
# the case moved on and is cancelled (36 of 200 in one run of 15 before
# a claim passed over a timer whose case's earlier one another node held).
# Cancelled at their release only (the journal's policy row without
# "what"): a reminder the outbox came to after its case's escalation is
# cancelled at send (its row says "what": "outbox"), as it should be, and a
# released one is queued with its not_before kept, so the message row
# alone cannot tell the two (54 counted so on a loaded machine).
moved=$(q "SELECT count(*) FROM journal j JOIN messages m ON m.id = (j.detail::json ->> 'message')::bigint \
WHERE j.kind = 'policy' AND j.detail::json ->> 'reason' = 'case_moved_on' \
AND j.detail::json ->> 'what' IS NULL AND m.template = 'due_reminder'")
[ "$moved" = 0 ] || fail "$moved deferred reminders released after their case's escalation (timers out of order)"
# Payments: every acknowledged one in the book, once.
acked=$(wc -l <"$work/acks")
[ "$acked" = "$(wc -l <"$work/payments")" ] || fail "$acked payments acknowledged of $(wc -l <"$work/payments")"
q "SELECT ref FROM payments" | sort >"$work/paid"
sort -u "$work/paid" | cmp -s - "$work/paid" || fail "a payment is in the book twice"
cut -d' ' -f1 "$work/acks" | sort -u >"$work/acked"
[ -z "$(comm -23 "$work/acked" "$work/paid")" ] ||
  fail "acknowledged payments missing: $(comm -23 "$work/acked" "$work/paid" | head -5)"
# Messages: the outbox files of all nodes, by idempotency key; the caps.
cat "$work"/n*/var/outbox-sms.jsonl >"$work/lines"
q "SELECT id FROM messages WHERE status = 'sent'" >"$work/sent"
# A contact's time is when the guard let it go: a deferred message's
# release (not_before), else its creation.
q "SELECT count(*) FROM (SELECT count(*) OVER (PARTITION BY borrower_id \
ORDER BY coalesce(not_before, at) RANGE BETWEEN 86399999 PRECEDING AND \
CURRENT ROW) AS n FROM messages WHERE channel = 'sms' AND status NOT IN \
('blocked', 'cancelled', 'deferred')) w WHERE n > 3" >"$work/over"
[ "$(cat "$work/over")" = 0 ] || fail "$(cat "$work/over") SMS over a borrower's 3 a day (the book)"
python3 - "$work/lines" "$work/sent" "$work/held-messages" <<'EOF' || status=1
import collections, json, sys
lines = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
sent = {l.strip() for l in open(sys.argv[2]) if l.strip()}
held = set(open(sys.argv[3]).read().split())
keys = collections.Counter(l["idempotency_key"] for l in lines)
by_key = {l["idempotency_key"]: l for l in lines}
bad = 0
repeats = [k for k, n in keys.items() if n > 1]
for k in repeats:
    if keys[k] > 2 or str(by_key[k]["id"]) not in held:
        print("FAIL: message %s delivered %d times" % (k, keys[k]), file=sys.stderr)
        bad = 1
ids = {str(l["id"]) for l in lines}
missing = sent - ids
if missing:
    print("FAIL: %d sent messages in no outbox file" % len(missing), file=sys.stderr)
    bad = 1
print("%d messages delivered, %d written twice under one key (node 3's, "
      "written before it was killed)" % (len(keys), len(repeats)))
sys.exit(bad)
EOF
# A killed node's claim on a timer not yet due (a held case's later one,
# claimed with it so that it does not run first) ends at its lease like
# the others, and nobody claims that timer again before it is due.
left=$(q "SELECT (SELECT count(*) FROM cases WHERE error IS NOT NULL) + \
(SELECT count(*) FROM timers WHERE claimed_by IS NOT NULL AND \
 NOT (claimed_by = '$node3' AND claimed_until = 0 AND due > $now_ms)) + \
(SELECT count(*) FROM messages WHERE claimed_by IS NOT NULL) + \
(SELECT count(*) FROM events)")
[ "$left" = 0 ] || fail "$left cases in error, claims or events left in the book"
deferred=$(q "SELECT count(*) FROM messages WHERE status = 'deferred' AND template = 'thank_you'")
echo "$cases cases ($((cases / 4)) borrowers), 3 nodes, one killed: import ${imported}s, sweep ${swept}s;" \
  "$handled reminders handled once, $acked payments acknowledged," \
  "$deferred thank-you SMS deferred by the cap"
[ $status -eq 0 ] && echo "three serve nodes, one killed, handled every case once within the caps"
exit $status
