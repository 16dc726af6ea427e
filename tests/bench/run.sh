#!/bin/sh
# make bench: every benchmark, figures as "name value unit" lines, and the
# same as JSON in build/bench.json. usage: run.sh BUILD_DIR
set -eu
build=${1:-build-release}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sizes=${RECOUP_BENCH_SIZES:-"10000 100000 1000000"}
out="$work/figures.txt"
"$build/tests/bench_sweep" "$here/institution" "$work" $sizes | tee "$out"
mkdir -p build
awk 'BEGIN { printf "{" } { printf "%s\"%s\": %s", (NR > 1 ? ", " : ""), $1, $2 } END { print "}" }' \
  "$out" > build/bench.json
echo "wrote build/bench.json"
