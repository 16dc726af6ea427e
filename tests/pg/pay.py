"""Payments over HTTP, round-robin to the nodes of serve_nodes.sh.

usage: pay.py PAYMENTS PORTS ACKS
  PAYMENTS  lines "case,amount"; the payment's ref is PAY-<case>
  PORTS     the nodes' ports, one a line (read again before each payment:
            a node restarted on a new port is written there)
  ACKS      each acknowledged payment appended: "ref status port"

Six clients post at once (payment i by client i mod 6, so that the nodes'
group commits take several at a time). Payment i goes to node i mod 3; a node that refuses, fails or does not
answer (killed, starting) is skipped and the same payment (same ref) goes
to the next: an answer "applied" or "duplicate" is an acknowledgement.
Exits non-zero when a payment is acknowledged by no node.
"""
import json
import sys
import threading
import time
import urllib.error
import urllib.request


def ports(path):
    with open(path) as f:
        return [p.strip() for p in f if p.strip()]


def post(port, body):
    req = urllib.request.Request(
        "http://127.0.0.1:%s/v1/payments" % port,
        data=json.dumps(body).encode(),
        headers={"Authorization": "Bearer ingest",
                 "Content-Type": "application/json"},
        method="POST")
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.load(r).get("status")
    except (urllib.error.URLError, OSError, ValueError):
        return None


def pay(rows, first, step, ports_file, out, lock, failed):
    try:
        pay_each(rows, first, step, ports_file, out, lock, failed)
    except Exception as e:  # a client that dies fails the run, not silently
        with lock:
            print("pay.py: client %d: %r" % (first, e), file=sys.stderr)
            failed.append("client %d" % first)


def pay_each(rows, first, step, ports_file, out, lock, failed):
    for i in range(first, len(rows), step):
        case, amount = rows[i]
        body = {"case": case, "amount": int(amount), "ref": "PAY-" + case}
        done = None
        for attempt in range(30):
            # The list is replaced by a rename, never seen half-written;
            # empty all the same (read at the wrong instant by hand): wait.
            nodes = ports(ports_file)
            if not nodes:
                time.sleep(0.2)
                continue
            port = nodes[(i + attempt) % len(nodes)]
            status = post(port, body)
            if status in ("applied", "duplicate"):
                done = (status, port)
                break
            time.sleep(0.2)
        with lock:
            if done:
                out.write("%s %s %s\n" % (body["ref"], done[0], done[1]))
            else:
                print("pay.py: no node took %s" % body["ref"], file=sys.stderr)
                failed.append(body["ref"])


def main():
    payments, ports_file, acks = sys.argv[1:4]
    out = open(acks, "a", buffering=1)
    with open(payments) as f:
        rows = [line.strip().split(",") for line in f if line.strip()]
    lock, failed, clients = threading.Lock(), [], 6
    threads = [threading.Thread(target=pay, args=(rows, k, clients, ports_file,
                                                   out, lock, failed))
               for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    sys.exit(1 if failed else 0)


main()
