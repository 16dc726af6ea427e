#!/bin/sh
# `recoup tick --deliver` under every small limit of open files (ulimit -n
# 4 to 64): each run finishes (0), or fails with a message (1), never a
# crash; then `recoup tick --no-deliver` (below). A limit between the
# database's files and the delivery loop's makes uv_loop_init fail; its
# return was once unchecked, and the loop used uninitialised (segfaults at
# four of these limits). SIGABRT is let pass: at two limits libuv itself
# aborts when its one-time signal pipe cannot be made (uv_loop_init's
# uv_once), before recoup can answer.
# usage: fd_limits.sh RECOUP WORKDIR
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
  states = { open = { enter = function(case) case:send("sms", "hi") end } },
})
LUA
printf 'id,borrower_id,borrower_name,phone,balance,amount_due,due_date\nL1,B1,Wang,+8613800000001,5000,2000,2026-01-01\n' >"$work/cases.csv"
if ! "$recoup" import "$work/cases.csv" "$work/book" --db "$work/base.db" \
    --no-deliver >"$work/out" 2>&1; then
  echo "FAIL: import:"; cat "$work/out"; exit 1
fi
fail=0 loop_refused=0 delivered=0
for n in $(seq 4 64); do
  rm -f "$work/t.db" "$work/t.db-wal" "$work/t.db-shm" "$work/book/sms.jsonl"
  cp "$work/base.db" "$work/t.db"
  sh -c 'ulimit -n "$1" && shift && exec "$@"' sh "$n" "$recoup" tick \
    "$work/book" --db "$work/t.db" --deliver >"$work/out" 2>"$work/err"
  code=$?
  case $code in
    0) delivered=$((delivered + 1)) ;;
    1) if [ ! -s "$work/err" ]; then
         echo "FAIL: ulimit -n $n: exit 1 with nothing said"; fail=1
       fi
       grep -q "cannot deliver" "$work/err" && loop_refused=$((loop_refused + 1)) ;;
    134) ;;
    127) # too few even to load the binary's libraries (the runner may
         # have left descriptors open: the sweep starts where they end)
         grep -q "error while loading shared libraries" "$work/err" || {
           echo "FAIL: ulimit -n $n: exit 127:"; cat "$work/err"; fail=1; } ;;
    *) echo "FAIL: ulimit -n $n: exit $code:"; cat "$work/err"; fail=1 ;;
  esac
done
# Without delivery, the same limits: the thread that copies the WAL back
# (engine_copy_apart) reads the book on a connection of its own, two
# descriptors more than the tick's. Where only that one cannot open, the
# tick sweeps all the same, copying on its own thread, and says so; on
# f82baf1 it refused the whole tick ("cannot open a second connection
# ... to copy its WAL back"): a cron's sweep left undone for a speed-up.
alone=0
for n in $(seq 4 64); do
  rm -f "$work/t.db" "$work/t.db-wal" "$work/t.db-shm"
  cp "$work/base.db" "$work/t.db"
  sh -c 'ulimit -n "$1" && shift && exec "$@"' sh "$n" "$recoup" tick \
    "$work/book" --db "$work/t.db" --no-deliver >"$work/out" 2>"$work/err"
  code=$?
  case $code in
    0) grep -q "on the sweep's own thread" "$work/err" && alone=$((alone + 1)) ;;
    1) [ -s "$work/err" ] || { echo "FAIL: no delivery, ulimit -n $n: exit 1 with nothing said"; fail=1; }
       if grep -q "copy its WAL back" "$work/err" &&
          ! grep -q "on the sweep's own thread" "$work/err"; then
         echo "FAIL: no delivery, ulimit -n $n: the tick refused for want of its WAL copier:"
         cat "$work/err"; fail=1
       fi ;;
    127) grep -q "error while loading shared libraries" "$work/err" || {
           echo "FAIL: no delivery, ulimit -n $n: exit 127:"; cat "$work/err"; fail=1; } ;;
    *) echo "FAIL: no delivery, ulimit -n $n: exit $code:"; cat "$work/err"; fail=1 ;;
  esac
done
# The sweep must reach both the failing loop and a delivery, and a limit
# where only the copier's connection failed, or it shows nothing of them.
[ $loop_refused -gt 0 ] || { echo "FAIL: no limit made the delivery loop fail"; fail=1; }
[ $delivered -gt 0 ] || { echo "FAIL: no limit let the tick finish"; fail=1; }
[ $alone -gt 0 ] || { echo "FAIL: no limit swept without the WAL copier's connection"; fail=1; }
[ $fail -eq 0 ] && echo "ok: $loop_refused limits refused the delivery loop with a message, $delivered delivered; $alone swept without the WAL copier"
exit $fail
