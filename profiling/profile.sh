#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# One-command profile of mcr forwarding: builds gen -> relay -> sink in throw-away network
# namespaces, runs mcrd (worker pinned to the last CPU, generator to CPU 0) and a paced mcrgen
# stream, records `perf record -e cpu-clock -a -g` in the middle of it, and writes to OUT:
#   report.txt      rates, mcr's counters and spans, CPU use, top symbols per CPU and per thread
#   hot-path.txt    share of the workers' samples under allocation, formatting, write(), locks
#   flamegraph.svg  all CPUs, one tower per thread;  stacks.folded  the same as folded stacks
#   perf.data       for `perf report -i OUT/perf.data`
# Usage: sudo profiling/profile.sh [--rate PPS] [--seconds S] [--size BYTES] [--busy-poll] [--out DIR]
#        sudo profiling/profile.sh audit [--rate PPS] [--count N] [--drill] ...   (docs/profiling.md)
#        sudo profiling/profile.sh js|doctor [...]   the supervisor's JS under 0x or clinic doctor
#                                                    (profiling/profile-js.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
# `profile.sh audit ...`: the per-packet audit against profiling/budgets.json (profiling/audit.ts).
if [ "${1:-}" = audit ]; then
  shift
  [ -e dist/profiling/audit.js ] || { echo "profile: dist/profiling/audit.js is missing: run npm install (or npm run build) first" >&2; exit 1; }
  exec node dist/profiling/audit.js "$@"
fi
case "${1:-}" in
  js|doctor) exec bash profiling/profile-js.sh "$@" ;;
esac

RATE=200000 SECONDS_REC=4 SIZE=1400 BUSY=false OUT=""
usage() { sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
value() { [ $# -ge 2 ] || { echo "profile: $1 needs a value" >&2; exit 2; }; }
number() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "profile: $1: expected a whole number > 0, got \"$2\"" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rate) value "$@"; number "$1" "$2"; RATE=$2; shift 2 ;;
    --seconds) value "$@"; number "$1" "$2"; SECONDS_REC=$2; shift 2 ;;
    --size) value "$@"; number "$1" "$2"; SIZE=$2; shift 2 ;;
    --busy-poll) BUSY=true; shift ;;
    --out) value "$@"; OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "profile: unknown option $1" >&2; usage 2 >&2 ;;
  esac
done
if ! { [ "$SIZE" -ge 32 ] && [ "$SIZE" -le 8972 ]; }; then
  echo "profile: --size: expected 32 to 8972 bytes, got $SIZE" >&2
  exit 2
fi
[ "$(id -u)" = 0 ] || { echo "profile: needs root (network namespaces, perf -a)" >&2; exit 1; }
command -v perf >/dev/null || { echo "profile: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
for f in build/Release/mcrgen dist/src/cli/mcrd.js dist/profiling/flamegraph.js; do
  [ -e "$f" ] || { echo "profile: $f is missing: run npm install (or npm run build) first" >&2; exit 1; }
done
OUT=${OUT:-profiling/results/$(date -u +%Y-%m-%dT%H%M%S)}
mkdir -p "$OUT"
NCPU=$(nproc)
WORKER_CPU=$((NCPU - 1))

# shellcheck source=scripts/netns-onehop.sh
. scripts/netns-onehop.sh
P=mcrprof$$
cleanup() {
  if [ -n "${GEN_PID:-}" ]; then kill "$GEN_PID" 2>/dev/null || true; fi
  if [ -n "${MCRD_PID:-}" ]; then
    kill "$MCRD_PID" 2>/dev/null || true
    wait "$MCRD_PID" 2>/dev/null || true
  fi
  onehop_destroy
}
trap cleanup EXIT
# No IPv6: nothing but the stream moves the interface counters.
onehop_create "$P" --no-ipv6

CPUS=""
[ "$NCPU" -ge 2 ] && CPUS="cpus: [$WORKER_CPU],"
cat > "$OUT/mcr.json5" <<EOF
{ workers: 1, $CPUS busyPoll: $BUSY, logLevel: 'warn',
  rules: [ { name: 'profiled', input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
             outputs: [ { group: '239.2.2.2', port: 5002, interface: 'r1' } ] } ] }
EOF
SOCK="$OUT/mcrd.sock"
ip netns exec "$P-relay" node dist/src/cli/mcrd.js --config "$OUT/mcr.json5" --control-socket "$SOCK" > "$OUT/mcrd.log" 2>&1 &
MCRD_PID=$!
for _ in $(seq 100); do ./bin/mcrctl.js --socket "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.1; done
./bin/mcrctl.js --socket "$SOCK" ping >/dev/null || { echo "profile: mcrd did not start:" >&2; cat "$OUT/mcrd.log" >&2; exit 1; }

counter() { in_ns "$1" cat "/sys/class/net/$2/statistics/$3"; }
busy() { awk '/^cpu[0-9]+ /{printf "%s=%s ", $1, $2+$3+$4+$7+$8+$9}' /proc/stat; }
TOTAL_S=$((SECONDS_REC + 3))
COUNT=$((RATE * TOTAL_S))
echo "profile: $SIZE-byte packets at $RATE pps for $TOTAL_S s, perf recording $SECONDS_REC s of it; busyPoll $BUSY; results in $OUT"
rx0=$(counter relay r0 rx_packets); sink0=$(counter sink s0 rx_packets)
ip netns exec "$P-gen" taskset -c 0 build/Release/mcrgen --group 239.1.1.1 --port 5001 --interface 10.0.1.1 \
  --rate "$RATE" --count "$COUNT" --size "$SIZE" > "$OUT/mcrgen.txt" 2>&1 &
GEN_PID=$!
sleep 1.5
# perf itself takes a moment to start and stop: CPU time is read around the whole command and
# shown against the wall time it took, not against --seconds.
b0=$(busy); t0=$(date +%s%N)
perf record -e cpu-clock -F 999 -a -g -o "$OUT/perf.data" -- sleep "$SECONDS_REC" > "$OUT/perf-record.log" 2>&1
b1=$(busy); t1=$(date +%s%N)
WINDOW_CS=$(( (t1 - t0) / 10000000 ))
wait "$GEN_PID"; GEN_PID=""
sleep 0.3
# After the stream: the counters are final, so worker and rule figures agree.
./bin/mcrctl.js --socket "$SOCK" stats > "$OUT/stats.txt"
rx=$(( $(counter relay r0 rx_packets) - rx0 )); delivered=$(( $(counter sink s0 rx_packets) - sink0 ))

perf script -i "$OUT/perf.data" -F comm,tid,cpu,ip,sym,dso > "$OUT/perf-script.txt" 2>/dev/null
node dist/profiling/flamegraph.js "$OUT/perf-script.txt" "$OUT" --title "mcr, $SIZE B at $RATE pps, busyPoll $BUSY ($(uname -r), $NCPU CPUs)" > /dev/null
rm -f "$OUT/perf-script.txt"

# The first N lines of a perf report (head closing the pipe early is not an error).
top() { local n=$1; shift; perf report -i "$OUT/perf.data" --no-children -g none -q "$@" 2>/dev/null > "$OUT/.top"; head -n "$n" "$OUT/.top"; rm -f "$OUT/.top"; }
{
  echo "mcr profile $(date -u +%FT%TZ), kernel $(uname -r), $NCPU CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "stream: $SIZE B at $RATE pps (generator on CPU 0, worker on CPU $WORKER_CPU, busyPoll $BUSY)"
  echo "relay input received $rx, sink received $delivered, lost $((rx - delivered))"
  echo
  echo "CPU busy during the recording (centiseconds per CPU, of $WINDOW_CS elapsed):"
  for kv in $b1; do k=${kv%%=*}; v=${kv#*=}; for kv0 in $b0; do [ "${kv0%%=*}" = "$k" ] && echo "  $k: $((v - ${kv0#*=}))"; done; done
  echo
  cat "$OUT/stats.txt"
  echo
  echo "== hot-path check (forwarding workers) =="
  cat "$OUT/hot-path.txt"
  echo
  echo "== samples per thread =="
  top 12 --sort comm
  for cpu in $(seq 0 $((NCPU - 1))); do
    echo
    echo "== top symbols on CPU $cpu (idle is pvm_safe_halt/default_idle) =="
    top 25 --cpu "$cpu" --sort sym
  done
} > "$OUT/report.txt"
sed -n '1,4p' "$OUT/report.txt"
echo
cat "$OUT/hot-path.txt"
echo
echo "profile: $OUT/report.txt, $OUT/flamegraph.svg"
