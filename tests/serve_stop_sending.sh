#!/bin/sh
# `recoup serve` stopped (SIGTERM) while an exec gateway command is still
# delivering a message stops cleanly, the message left queued for the
# next run. Before, the outbox freed the delivery the command's job still
# held: read after free when the command's handles closed, then the
# outbox's clock (a segmentation fault in the Debug build, ASan's
# heap-use-after-free in channel_exec.c's finish).
# usage: serve_stop_sending.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
. "$(dirname "$0")/lib/slow_book.sh"
slow_book 'touch "$SENDING"; sleep 2' 1
SENDING=$work/sending T_INGEST=ingest-secret "$recoup" serve "$work/book" \
  --listen 127.0.0.1:0 --db "$work/book.db" >"$work/stdout" 2>"$work/log" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT
i=0
until [ -e "$work/sending" ]; do
  i=$((i + 1))
  [ $i -le 300 ] && kill -0 $server 2>/dev/null ||
    { cat "$work/log" >&2; fail "the service never delivered"; }
  sleep 0.1
done
kill -TERM $server
wait $server
rc=$?
trap - EXIT
[ $rc -lt 128 ] || { tail -40 "$work/log" >&2; fail "the service stopped by signal $((rc - 128))"; }
grep -q "AddressSanitizer\|runtime error" "$work/log" && { cat "$work/log" >&2; fail "sanitizer"; }
echo "ok: a service stopped while its gateway command ran exited $rc"
