#!/bin/sh
# A live /metrics passes `promtool check metrics` (Prometheus's own lint:
# HELP and TYPE for every family, counters ending in _total, base units).
# The service runs a small book whose workflow sends an SMS the guard
# refuses, so that every family the service writes has samples, the
# guard's reason label among them. Exit 77 (ctest's SKIP_RETURN_CODE) when
# promtool is not installed (Debian's prometheus package; make deps
# installs it).
# usage: metrics_promtool.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIP: promtool is not installed (Debian's prometheus package; make deps installs it)"
  exit 77
fi
rm -rf "$work"
mkdir -p "$work/book"
cat >"$work/book/recoup.lua" <<'LUA'
institution { name = "Metrics", timezone = "UTC", currency = "USD" }
policy { max_contacts = { { channels = { "sms" }, limit = 0, per = "1d" } } }
channel "sms" { driver = "file", path = "sms.jsonl" }
tokens { ingest = "env:T_INGEST" }
templates { hi = { sms = "Hi {borrower.name}" } }
workflow(recoup.workflow {
  name = "m", version = 1, initial = "open",
  states = { open = { enter = function(case) case:send("sms", "hi") end } },
})
LUA
T_INGEST=ingest-secret "$recoup" serve "$work/book" --listen 127.0.0.1:0 \
  --db "$work/book.db" >"$work/stdout" 2>"$work/log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT

# The first line names the port the service picked.
port=
for _ in $(seq 1 1000); do
  port=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\).*|\1|p' "$work/stdout")
  [ -n "$port" ] && break
  kill -0 $server 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL: the service did not start:"; cat "$work/stdout" "$work/log"; exit 1
fi
base=http://127.0.0.1:$port

code=$(curl -s -o "$work/answer" -w '%{http_code}' -H 'Authorization: Bearer ingest-secret' \
  -H 'Content-Type: application/json' -X POST "$base/v1/cases" \
  -d '{"id":"L1","balance":5000,"amount_due":2000,"due_date":"2026-01-01","borrower":{"id":"B1","name":"Wang","phones":["+8613800000001"]}}')
if [ "$code" != 201 ]; then
  echo "FAIL: POST /v1/cases answered $code:"; cat "$work/answer"; exit 1
fi

# The case's opening event is handled after the answer: wait for the
# guard's refusal to be counted (the service is the clock, not this test).
found=
for _ in $(seq 1 1000); do
  curl -s -o "$work/metrics" "$base/metrics" || break
  if grep -q '^recoup_policy_decisions_total{' "$work/metrics"; then found=1; break; fi
  sleep 0.1
done
if [ -z "$found" ]; then
  echo "FAIL: no guard decision in /metrics:"; cat "$work/metrics" "$work/log"; exit 1
fi

fail=0
if ! out=$(promtool check metrics <"$work/metrics" 2>&1); then
  echo "FAIL: promtool check metrics:"; echo "$out"; fail=1
fi
# Every family the service writes is there, each with its HELP line.
for family in recoup_http_requests_total recoup_http_request_duration_seconds \
    recoup_events_processed_total recoup_handler_errors_total \
    recoup_timers_fired_total recoup_transitions_total recoup_timers_pending \
    recoup_timers_overdue recoup_group_commits_total \
    recoup_delivery_attempts_total recoup_outbox_messages \
    recoup_policy_decisions_total; do
  grep -q "^# HELP $family " "$work/metrics" || {
    echo "FAIL: no HELP line for $family"; fail=1; }
done
if [ $fail -ne 0 ]; then
  echo "the scrape:"; cat "$work/metrics"; exit 1
fi
echo "ok: promtool check metrics passes on a live /metrics"
