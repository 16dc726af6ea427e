#!/bin/sh
# A row of one case the book refuses on PostgreSQL (a DBA's trigger on
# its timers): that case's step is set aside, in error, and the other
# cases' reminders go out, as on SQLite. The trigger raises with the
# SQLSTATE given: P0001 (RAISE EXCEPTION) or a class 22 code
# (invalid_parameter_value). On fa744ec the tick failed whole for
# either ("PostgreSQL: insert timer: ERROR: not for this case"): no
# case's step was kept.
# usage: refused_row.sh RECOUP EXAMPLE STATE WORKDIR ERRCODE
set -eu
[ $# -eq 5 ] || { echo "usage: refused_row.sh RECOUP EXAMPLE STATE WORKDIR ERRCODE" >&2; exit 2; }
recoup=$1 example=$2 state=$3 work=$4 errcode=$5
db=refused_row_$$
. "$(dirname "$0")/book.sh"

head -n 11 "$example/data/portfolio.csv" >"$work/ten.csv"
bad=$(sed -n 3p "$work/ten.csv" | cut -d, -f1)
"$recoup" import "$work/ten.csv" "$inst" --db "$url" \
  --now 2026-01-05T09:00 >/dev/null
before=$(q "SELECT count(*) FROM messages")
q "CREATE FUNCTION refuse_bad() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN IF NEW.case_id = '$bad' THEN
  RAISE EXCEPTION 'not for this case' USING ERRCODE = '$errcode';
END IF; RETURN NEW; END \$\$;
CREATE TRIGGER refuse_bad BEFORE INSERT ON timers
  FOR EACH ROW EXECUTE FUNCTION refuse_bad();" >/dev/null

# The tick exits 1 naming the case in error, as for any handler failed.
"$recoup" tick "$inst" --db "$url" --now 2026-02-04T09:00 \
  >"$work/tick.out" 2>"$work/tick.err" || true
grep -q "1 handler failed" "$work/tick.err" ||
  fail "the tick did not set one case aside: $(cat "$work/tick.err")"
[ "$(q "SELECT error IS NOT NULL FROM cases WHERE id = '$bad'")" = t ] ||
  fail "case $bad is not in error: $(cat "$work/tick.err")"
[ "$(q "SELECT count(*) FROM cases WHERE error IS NOT NULL")" = 1 ] ||
  fail "other cases are in error: $(q "SELECT id, error FROM cases WHERE error IS NOT NULL")"
q "SELECT error FROM cases WHERE id = '$bad'" | grep -q 'not for this case' ||
  fail "the case's error does not say the refusal: $(q "SELECT error FROM cases WHERE id = '$bad'")"
after=$(q "SELECT count(*) FROM messages WHERE case_id <> '$bad'")
[ "$after" -gt "$before" ] ||
  fail "no other case's reminder went out ($before messages before, $after after)"
[ $status -eq 0 ] && echo "a row the book refuses ($errcode) sets its case aside; the other cases went on"
exit $status
