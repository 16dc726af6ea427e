#!/bin/sh
# Two `recoup tick --deliver` on one SQLite book send each queued message
# once: the messages a tick is sending are known only to it, so the
# second waits for the first's delivery (saying so) and then finds them
# sent. Before, both sent both (the gateway ran 4 times for 2 messages).
# A second tick interrupted while it waits sends nothing and says so.
# usage: ticks_deliver_once.sh RECOUP WORKDIR
set -u
recoup=$1 work=$2
. "$(dirname "$0")/lib/slow_book.sh"
# A send waits until the test lets it go ($RELEASE): no timing to win.
export SENT="$work/sent" RELEASE="$work/release"
slow_book 'echo sent >>"$SENT"; touch "$SENDING"; i=0; while [ ! -e "$RELEASE" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done' 2
first() {
  SENDING=$work/sending "$recoup" tick "$work/book" --db "$work/book.db" \
    --deliver >"$work/first.out" 2>&1 &
  tick=$!
  i=0
  until [ -e "$work/sending" ]; do
    i=$((i + 1))
    [ $i -le 300 ] || fail "the first tick never delivered: $(cat "$work/first.out")"
    sleep 0.1
  done
}
second_waits() {
  # The last second tick's words are not this one's: a stale "waiting"
  # let the test interrupt a tick that had not begun, which ignored it.
  rm -f "$work/second.out"
  SENDING=$work/second "$recoup" tick "$work/book" --db "$work/book.db" \
    --deliver >"$work/second.out" 2>&1 &
  second=$!
  i=0
  until grep -qs "waiting for it" "$work/second.out"; do
    i=$((i + 1))
    if [ $i -gt 300 ] || ! kill -0 $second 2>/dev/null; then
      touch "$RELEASE"
      cat "$work/second.out" >&2
      fail "the second tick did not wait"
    fi
    sleep 0.1
  done
}
first
trap 'touch "$RELEASE"; kill $tick $second 2>/dev/null; wait 2>/dev/null' EXIT
second=
second_waits
grep -q "^recoup: another tick or import is delivering $work/book.db's messages: waiting for it" \
  "$work/second.out" || { cat "$work/second.out" >&2; fail "the second tick's word"; }
touch "$RELEASE"
wait $second || { cat "$work/second.out" >&2; fail "the second tick"; }
wait $tick || { cat "$work/first.out" >&2; fail "the first tick"; }
n=$(wc -l <"$work/sent")
[ "$n" -eq 2 ] || fail "the gateway ran $n times for 2 messages"
[ "$(sqlite3 "$work/book.db" "SELECT group_concat(status) FROM messages")" = "sent,sent" ] ||
  fail "messages: $(sqlite3 "$work/book.db" "SELECT id, status FROM messages")"

# Interrupted while it waits: nothing sent by it, a clear word, not 0.
cases 3 3 >"$work/more.csv"
book_import "$work/more.csv" || fail "the second import"
rm -f "$work/sending" "$work/sent" "$RELEASE"
first
second_waits
kill -INT $second
wait $second && fail "an interrupted tick exited 0"
touch "$RELEASE"
grep -q "interrupted while waiting for another tick or import delivering" \
  "$work/second.out" || { cat "$work/second.out" >&2; fail "the interrupted tick's word"; }
wait $tick || fail "the first tick, again"
n=$(wc -l <"$work/sent")
[ "$n" -eq 1 ] || fail "the gateway ran $n times for 1 message"
echo "ok: two ticks delivered each message once"
