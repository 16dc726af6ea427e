#!/bin/sh
# pg.sh's ratios: a figure of exactly 0 below the line gives no ratio
# (it stopped the bench with awk's "division by zero"), one above it 0.
# usage: test_ratio.sh BENCH_DIR
set -eu
. "$1/ratio.sh"
fail() { echo "FAIL: $1"; exit 1; }
[ "$(ratio 1200 4000)" = 0.300 ] || fail "1200/4000 is 0.300"
[ "$(ratio 3 2 %.2f)" = 1.50 ] || fail "a format given is used"
[ "$(ratio 0 4000)" = 0.000 ] || fail "nothing over something is 0"
[ -z "$(ratio 4000 0)" ] || fail "something over 0 gives no ratio"
[ -z "$(ratio 4000 0.0)" ] || fail "0.0 is 0 too"
[ -z "$(ratio 4000 '')" ] || fail "an empty figure gives no ratio"
echo ok
