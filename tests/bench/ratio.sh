# ratio A B [FORMAT]: A / B printed with FORMAT (%.3f unless given), or
# nothing when B is 0 or empty: a run that measured nothing gives no
# figure, where awk would stop the bench with "division by zero".
# Sourced by pg.sh; tests/bench/test_ratio.sh checks it.
ratio() {
  awk -v a="$1" -v b="${2:-0}" -v f="${3:-%.3f}" \
    'BEGIN { if (b + 0 != 0) printf f, a / b }'
}
