#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Receive-side CPU per packet and latency of the ways a worker can wait for frames, with nothing
# else held different: ring_probe (bench/tools/ring_probe.cc) reads a paced 1400-byte mcrgen
# stream on the relay's r0 as TPACKET_V2 with poll(), V2 with the adaptive holdoff
# (`wakeupHoldoffUs`), V2 with SO_BUSY_POLL, TPACKET_V3 with a 1 ms block timeout, and V3 busy
# polling; the generator alone is the baseline. Machine busy CPU is CPUs x wall time minus idle
# and iowait from /proc/stat over a 4 s window in the middle of an 8 s stream; ns/packet =
# (busy - the generator-alone median at the same rate) / packets in the window. Generator on
# CPU 0, reader on CPU 1. Latency is mcrgen's send timestamp to the reader seeing the frame.
# Usage: sudo bench/tools/ring-cpu.sh [--rates 50000,100000,150000] [--repetitions 2]
# Needs build/bench/ring_probe (node dist/bench/setup.js ring_probe) and build/Release/mcrgen.
# Sets net.core.busy_poll to 50 for the SO_BUSY_POLL variant and restores it on exit.
set -euo pipefail
cd "$(dirname "$0")/../.."
RATES=50000,100000,150000 REPS=2
while [ $# -gt 0 ]; do
  case "$1" in
    --rates) RATES=$2; shift 2 ;;
    --repetitions) REPS=$2; shift 2 ;;
    *) sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "ring-cpu: needs root" >&2; exit 1; }
for f in build/bench/ring_probe build/Release/mcrgen; do
  [ -x "$f" ] || { echo "ring-cpu: $f is missing (node dist/bench/setup.js ring_probe; npm install)" >&2; exit 1; }
done
declare -A VARIANT=(
  [v2-poll]="--version 2"
  [v2-holdoff50]="--version 2 --holdoff-us 50"
  [v2-so-busy-poll50]="--version 2 --so-busy-poll-us 50"
  [v3-tov1ms]="--version 3 --block-tov-ms 1"
  [v3-busy-poll]="--version 3 --block-tov-ms 1 --busy-poll"
)
ORDER=(gen v2-poll v2-holdoff50 v2-so-busy-poll50 v3-tov1ms v3-busy-poll)
OLD_BUSY_POLL=$(sysctl -n net.core.busy_poll)

# shellcheck source=scripts/netns-onehop.sh
. scripts/netns-onehop.sh
GEN_PID="" READER_PID=""
cleanup() {
  [ -n "$GEN_PID" ] && kill "$GEN_PID" 2>/dev/null
  [ -n "$READER_PID" ] && kill "$READER_PID" 2>/dev/null
  onehop_destroy
  sysctl -qw net.core.busy_poll="$OLD_BUSY_POLL"
}
trap cleanup EXIT
sysctl -qw net.core.busy_poll=50

# busy ms and wall ms since "$1 $2" (idle+iowait ticks, ns)
idle_ticks() { awk '/^cpu /{print $5 + $6}' /proc/stat; }
OUT=$(mktemp -d)

# trial VARIANT RATE -> prints "busy_ms wall_ms packets sleeps p50 p99"
trial() {
  local variant=$1 rate=$2 i0 i1 t0 t1
  onehop_create "ringcpu$$" --no-ipv6
  in_ns gen ethtool -K g0 tx off > /dev/null
  if [ "$variant" != gen ]; then
    # shellcheck disable=SC2086 # the variant's options are words
    ip netns exec "$ONEHOP_PREFIX-relay" taskset -c 1 build/bench/ring_probe --device r0 ${VARIANT[$variant]} \
      --count $((rate * 8)) --timeout 2 > "$OUT/probe.json" 2> /dev/null &
    READER_PID=$!
    sleep 0.5
  fi
  ip netns exec "$ONEHOP_PREFIX-gen" taskset -c 0 build/Release/mcrgen --group 239.1.1.1 --port 5001 \
    --interface 10.0.1.1 --rate "$rate" --count $((rate * 8)) --size 1400 > /dev/null 2>&1 &
  GEN_PID=$!
  sleep 2
  i0=$(idle_ticks); t0=$(date +%s%N)
  sleep 4
  i1=$(idle_ticks); t1=$(date +%s%N)
  local sleeps=0
  [ -n "$READER_PID" ] && sleeps=$(awk '/^voluntary_ctxt_switches/{print $2}' "/proc/$READER_PID/status")
  wait "$GEN_PID"; GEN_PID=""
  local p50=- p99=-
  if [ -n "$READER_PID" ]; then
    wait "$READER_PID" || true
    READER_PID=""
    p50=$(grep -o '"p50":[0-9]*' "$OUT/probe.json" | cut -d: -f2)
    p99=$(grep -o '"p99":[0-9]*' "$OUT/probe.json" | cut -d: -f2)
  fi
  onehop_destroy
  local wall_ms=$(((t1 - t0) / 1000000))
  echo "$(( $(nproc) * wall_ms - (i1 - i0) * 1000 / $(getconf CLK_TCK) )) $wall_ms $((rate * (t1 - t0) / 1000000000)) $sleeps $p50 $p99"
}

IFS=, read -r -a RATE_LIST <<< "$RATES"
for rate in "${RATE_LIST[@]}"; do
  : > "$OUT/$rate.txt"
  for rep in $(seq "$REPS"); do
    for v in "${ORDER[@]}"; do echo "$v $(trial "$v" "$rate")" >> "$OUT/$rate.txt"; done
    echo "ring-cpu: $rate pps, repetition $rep of $REPS done" >&2
  done
  # ns/packet per trial against the generator-alone median; sleeps per second of the 8 s stream
  gen=$(awk '$1 == "gen" { print $2 * 1000 / $3 }' "$OUT/$rate.txt" | sort -n |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
  awk -v rate="$rate" -v gen="$gen" '
    { busy[$1] = busy[$1] " " ($2 * 1000 / $3); sl[$1] = sl[$1] " " int($5 / 8); lat[$1] = lat[$1] " " $6 "/" $7 }
    END {
      printf "%d pps (generator alone: %.0f busy ms/s)\n", rate, gen
      printf "  %-18s %-22s %-22s %s\n", "variant", "ns/packet", "sleeps/s", "latency p50/p99 us"
      split("v2-poll v2-holdoff50 v2-so-busy-poll50 v3-tov1ms v3-busy-poll", order, " ")
      for (i = 1; i <= 5; i++) {
        v = order[i]; m = split(busy[v], b, " "); s = ""
        for (j = 1; j <= m; j++) s = s sprintf("%d ", (b[j] - gen) * 1e6 / rate)
        printf "  %-18s %-22s %-22s %s\n", v, s, sl[v], lat[v]
      }
    }' "$OUT/$rate.txt"
done
rm -rf "$OUT"
