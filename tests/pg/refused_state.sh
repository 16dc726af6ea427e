#!/bin/sh
# A case's state write that keeps no row on PostgreSQL (a DBA's trigger
# that returns NULL for it, skipping the update): that case's step is
# set aside, in error, nothing of it kept (its event kept for a retry,
# its state and journal as they were), and the other cases go on, as SQLite does
# (test_store's test_a_state_write_that_keeps_no_row_is_refused). On
# 4921bb4 the tick went on: the case's escalation timer was used up and
# its journal said it moved to call, where its row still said reminder.
# With "quoted", that case's id holds a '"' (MF00002"x, which ids may):
# on 72d03b3 its error said "case MF00002", the message cut at the quote,
# naming another id than the case's own.
# usage: refused_state.sh RECOUP EXAMPLE STATE WORKDIR [quoted]
set -eu
[ $# -eq 4 ] || [ $# -eq 5 ] ||
  { echo "usage: refused_state.sh RECOUP EXAMPLE STATE WORKDIR [quoted]" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4 quoted=${5:-}
db=refused_state_$$
. "$(dirname "$0")/book.sh"

head -n 11 "$example/data/portfolio.csv" >"$work/ten.csv"
bad=$(sed -n 3p "$work/ten.csv" | cut -d, -f1)
if [ "$quoted" = quoted ]; then
  sed -i '3s/^\([^,]*\),/"\1""x",/' "$work/ten.csv"
  bad="$bad\"x"
fi
"$recoup" import "$work/ten.csv" "$inst" --db "$url" \
  --now 2026-01-05T09:00 >/dev/null

q "CREATE FUNCTION keep_state() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN IF NEW.id = '$bad' AND NEW.state IS DISTINCT FROM OLD.state THEN
  RETURN NULL;
END IF; RETURN NEW; END \$\$;
CREATE TRIGGER keep_state BEFORE UPDATE ON cases
  FOR EACH ROW EXECUTE FUNCTION keep_state();" >/dev/null

# Three days on, every case escalates from reminder to call.
"$recoup" tick "$inst" --db "$url" --now 2026-01-09T09:00 \
  >"$work/tick.out" 2>"$work/tick.err" || true
grep -q "1 handler failed" "$work/tick.err" ||
  fail "the tick did not set one case aside: $(cat "$work/tick.err")"
q "SELECT error FROM cases WHERE id = '$bad'" |
  grep -q "set state: 1 of [0-9]* rows not kept by the table cases: case $bad (its row deleted, or a trigger added to the book by hand drops it)" ||
  fail "the case's error does not say its state was not kept: $(q "SELECT error FROM cases WHERE id = '$bad'")"
[ "$(q "SELECT state FROM cases WHERE id = '$bad'")" = reminder ] ||
  fail "case $bad moved: $(q "SELECT state FROM cases WHERE id = '$bad'")"
[ "$(q "SELECT type FROM events WHERE case_id = '$bad' AND status = 'failed'")" = escalate ] ||
  fail "case $bad's escalation is not kept for a retry: $(q "SELECT type, status FROM events WHERE case_id = '$bad'")"
q "SELECT rows FROM journal_runs WHERE case_id = '$bad' ORDER BY id" |
  grep -q '"call"' && fail "case $bad's journal says it moved to call"
[ "$(q "SELECT count(*) FROM cases WHERE error IS NOT NULL")" = 1 ] ||
  fail "other cases are in error: $(q "SELECT id, error FROM cases WHERE error IS NOT NULL")"
[ "$(q "SELECT count(*) FROM cases WHERE state = 'call'")" = 9 ] ||
  fail "the other cases did not move to call: $(q "SELECT id, state FROM cases")"
[ $status -eq 0 ] && echo "a state write that keeps no row sets its case aside; the other cases went on"
exit $status
