#!/bin/sh
# The console's figures at the size of a book: each figures route timed on
# a running service (best and median of N requests, in ms), as "name value
# unit" lines like the other benchmarks.
# usage: figures.sh PORT TOKEN [N]   (TOKEN: an admin token of the service)
set -eu
port=$1 token=$2 n=${3:-11}
for route in overview workflows outbox "outbox?status=queued" users; do
  name=$(echo "$route" | tr '?=' '__')
  times=$(i=0; while [ $i -lt "$n" ]; do
    curl -s -o /dev/null -w '%{time_total}\n' -H "Authorization: Bearer $token" \
      "http://127.0.0.1:$port/v1/$route"
    i=$((i + 1))
  done | sort -n)
  best=$(echo "$times" | head -1)
  median=$(echo "$times" | sed -n "$(( (n + 1) / 2 ))p")
  echo "figures_${name}_best_ms $(awk -v t="$best" 'BEGIN { printf "%.1f", t * 1000 }') ms"
  echo "figures_${name}_median_ms $(awk -v t="$median" 'BEGIN { printf "%.1f", t * 1000 }') ms"
done
