#!/bin/sh
# `recoup tick` under every small limit of open files (ulimit -n 4 to 64),
# without delivery: the thread that copies the WAL back (engine_copy_apart)
# needs a second connection to the book, two descriptors more. Where the
# tick's own connection opens but that second one cannot, the tick sweeps
# all the same, copying on its own thread as it did before the copier,
# and says so: a cron's tick refused each night for a speed-up (its sweep
# left undone) was the copier's cost at those limits. Every other limit
# finishes (0) or fails with a message (1), never a crash.
# usage: tick_few_descriptors.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
rm -rf "$work"
mkdir -p "$work/book"
cat >"$work/book/recoup.lua" <<'LUA'
institution { name = "Files", timezone = "UTC", currency = "USD" }
channel "sms" { driver = "file", path = "sms.jsonl" }
templates { hi = { sms = "Hi {borrower.name}" } }
workflow(recoup.workflow {
  name = "f", version = 1, initial = "open",
  states = {
    open = { enter = function(case) case:after("1d", "remind") end,
      on = { remind = function(case) case:send("sms", "hi") return "reminded" end } },
    reminded = { on = {} },
  },
  transitions = { open = { "reminded" } },
})
LUA
{
  echo id,borrower_id,borrower_name,phone,balance,amount_due,due_date
  for i in 1 2 3 4 5 6 7 8; do
    echo "L$i,B$i,Wang $i,+861380000000$i,5000,2000,2026-01-01"
  done
} >"$work/cases.csv"
if ! "$recoup" import "$work/cases.csv" "$work/book" --db "$work/base.db" \
    --now 2026-01-05T09:00 --no-deliver >"$work/out" 2>&1; then
  echo "FAIL: import:"; cat "$work/out"; exit 1
fi
fail=0 swept=0 alone=0
for n in $(seq 4 64); do
  rm -f "$work/t.db" "$work/t.db-wal" "$work/t.db-shm"
  cp "$work/base.db" "$work/t.db"
  sh -c 'ulimit -n "$1" && shift && exec "$@"' sh "$n" "$recoup" tick \
    "$work/book" --db "$work/t.db" --now 2026-01-07T09:00 --no-deliver \
    >"$work/out" 2>"$work/err"
  code=$?
  case $code in
    0) grep -q "8 timers fired" "$work/out" ||
         { echo "FAIL: ulimit -n $n: exit 0 without the sweep:"; cat "$work/out"; fail=1; }
       swept=$((swept + 1))
       grep -q "copied back on the sweep's own thread" "$work/err" && alone=$((alone + 1)) ;;
    1) if [ ! -s "$work/err" ]; then
         echo "FAIL: ulimit -n $n: exit 1 with nothing said"; fail=1
       fi
       # refused for the copier, not warned of it then failed further on
       if grep -q "copy its WAL back\|copies the WAL back" "$work/err" &&
          ! grep -q "on the sweep's own thread" "$work/err"; then
         echo "FAIL: ulimit -n $n: the tick refused for want of its WAL copier:"
         cat "$work/err"; fail=1
       fi ;;
    127) grep -q "error while loading shared libraries" "$work/err" || {
           echo "FAIL: ulimit -n $n: exit 127:"; cat "$work/err"; fail=1; } ;;
    *) echo "FAIL: ulimit -n $n: exit $code:"; cat "$work/err"; fail=1 ;;
  esac
done
# The sweep must reach a limit where only the copier's connection failed,
# or it shows nothing about it.
[ $alone -gt 0 ] || { echo "FAIL: no limit swept without the copier's connection"; fail=1; }
[ $swept -gt 0 ] || { echo "FAIL: no limit let the tick finish"; fail=1; }
[ $fail -eq 0 ] && echo "ok: $swept limits swept, $alone of them copying on the sweep's own thread"
exit $fail
