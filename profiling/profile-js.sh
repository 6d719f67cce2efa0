#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The supervisor's JavaScript under a V8 profiler: `npm run profile -- js` (0x) or `-- doctor`
# (clinic doctor). Builds gen -> relay -> sink in throw-away namespaces, runs the real mcrd in the
# relay namespace under the profiler with telemetry on (OTLP traces and metrics every second to a
# local sink, GET /metrics scraped every second), streams packets through it, and drives its
# control socket (stats reads, rule adds and removes: profiling/js-load.ts). Writes to OUT:
#   js/flamegraph.html   0x's flame graph (js), with js/ticks.json and the V8 log beside it
#   doctor/*.html        clinic doctor's report (doctor)
#   summary.txt          the load, the supervisor's CPU, and (js) the top functions by self samples
# Usage: sudo profiling/profile.sh js|doctor [--seconds S] [--rate PPS] [--stats-rate N]
#          [--rule-rate N] [--no-telemetry] [--out DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

MODE=${1:-}
case "$MODE" in
  js|doctor) shift ;;
  *) echo "profile-js: expected js or doctor, got \"$MODE\"" >&2; exit 2 ;;
esac
SECONDS_LOAD=10 RATE=20000 STATS_RATE=100 RULE_RATE=10 TELEMETRY=true OUT=""
usage() { sed -n '3,13p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
value() { [ $# -ge 2 ] || { echo "profile: $1 needs a value" >&2; exit 2; }; }
number() { [[ "$2" =~ ^[1-9][0-9]*$ ]] || { echo "profile: $1: expected a whole number > 0, got \"$2\"" >&2; exit 2; }; }
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) value "$@"; number "$1" "$2"; SECONDS_LOAD=$2; shift 2 ;;
    --rate) value "$@"; number "$1" "$2"; RATE=$2; shift 2 ;;
    --stats-rate) value "$@"; number "$1" "$2"; STATS_RATE=$2; shift 2 ;;
    --rule-rate) value "$@"; number "$1" "$2"; RULE_RATE=$2; shift 2 ;;
    --no-telemetry) TELEMETRY=false; shift ;;
    --out) value "$@"; OUT=$2; shift 2 ;;
    -h|--help) usage 0 ;;
    *) echo "profile: unknown option $1" >&2; usage 2 >&2 ;;
  esac
done
[ "$(id -u)" = 0 ] || { echo "profile: needs root (network namespaces)" >&2; exit 1; }
SINK_JS=dist/bench/tools/telemetry-sink.js
for f in build/Release/mcrgen dist/src/cli/mcrd.js dist/profiling/js-load.js dist/profiling/js-ticks.js dist/profiling/doctor-report.js "$SINK_JS"; do
  [ -e "$f" ] || { echo "profile: $f is missing: run npm install (or npm run build) first" >&2; exit 1; }
done
if [ "$MODE" = js ]; then PROFILER=(node "$ROOT/node_modules/0x/cmd.js"); else PROFILER=(node "$ROOT/node_modules/clinic/bin.js"); fi
[ -e "${PROFILER[1]}" ] || { echo "profile: ${PROFILER[1]} is missing: run npm install (0x and clinic are devDependencies)" >&2; exit 1; }
WHAT=$([ "$MODE" = js ] && echo "V8's tick profiler, rendered by 0x" || echo 'clinic doctor')
OUT=${OUT:-profiling/results/$(date -u +%Y-%m-%dT%H%M%S)}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# shellcheck source=scripts/netns-onehop.sh
. scripts/netns-onehop.sh
P=mcrjs$$
cleanup() {
  if [ -n "${GEN_PID:-}" ]; then kill "$GEN_PID" 2>/dev/null || true; fi
  # mcrd stops on SIGINT as on Ctrl+C (under clinic, clinic then writes its report and exits).
  if [ -n "${MCRD_PID:-}" ]; then kill -INT "$MCRD_PID" 2>/dev/null || true; fi
  if [ -n "${WAIT_PID:-}" ]; then wait "$WAIT_PID" 2>/dev/null || true; fi
  if [ -n "${SINK_PID:-}" ]; then
    kill "$SINK_PID" 2>/dev/null || true
    wait "$SINK_PID" 2>/dev/null || true
  fi
  onehop_destroy
}
trap cleanup EXIT
onehop_create "$P" --no-ipv6

OTLP=127.0.0.1:4318 METRICS=127.0.0.1:9464
TELEMETRY_CONF=""
if $TELEMETRY; then
  TELEMETRY_CONF="telemetry: { otlpEndpoint: 'http://$OTLP', metricsListen: '$METRICS', metricExportIntervalMs: 1000 },"
fi
cat > "$OUT/mcr.json5" <<EOF
{ workers: 1, logLevel: 'warn', $TELEMETRY_CONF
  rules: [ { name: 'profiled', input: { interface: 'r0', group: '239.1.1.1', port: 5001 },
             outputs: [ { group: '239.2.2.2', port: 5002, interface: 'r1' } ] } ] }
EOF
SOCK="$OUT/mcrd.sock"
rm -f "$SOCK"

if $TELEMETRY; then
  # The OTLP sink and the Prometheus scraper: mcrd's loopback is the relay namespace's.
  ip netns exec "$P-relay" node "$SINK_JS" --listen "$OTLP" --scrape "http://$METRICS/metrics" --interval-ms 1000 \
    > "$OUT/sink.jsonl" 2> "$OUT/sink.log" &
  SINK_PID=$!
  # mcrd's first export must find it listening.
  for _ in $(seq 100); do grep -q listening "$OUT/sink.log" 2>/dev/null && break; sleep 0.1; done
  grep -q listening "$OUT/sink.log" || { echo "profile: the telemetry sink did not start:" >&2; cat "$OUT/sink.log" >&2; exit 1; }
fi

MCRD=("$ROOT/dist/src/cli/mcrd.js" --config "$OUT/mcr.json5" --control-socket "$SOCK")
ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
T_START=$(ms_now)
if [ "$MODE" = js ]; then
  # 0x's own launcher cannot run mcrd: it preloads a module that opens fd 3 as stdout into every
  # process that inherits its flags, and mcrd forks its data plane with them, where fd 3 is the IPC
  # channel (the data plane dies with "open EEXIST"). So mcrd runs under V8's tick profiler with
  # the flags 0x's collector gives it (--prof, a log per process), and 0x renders the log
  # (--visualize-only, its collect/visualize split). The data plane writes its own log too.
  mkdir -p "$OUT/js"
  ip netns exec "$P-relay" node --prof --logfile="$OUT/js/%p-v8.log" "${MCRD[@]}" \
    < /dev/null > "$OUT/mcrd.log" 2>&1 &
else
  # clinic must not reach the network nor wait for a prompt: NO_INSIGHT=1 answers its usage
  # statistics question (without it, and no TTY on stdin, clinic exits 0 having done nothing),
  # NO_UPDATE_NOTIFIER=1 turns off its update check (a registry request). Its settings files go to
  # OUT, not ~/.config (XDG_CONFIG_HOME), and node_trace.*.log to its working directory, OUT.
  mkdir -p "$OUT/doctor-config"
  (cd "$OUT" && NO_INSIGHT=1 NO_UPDATE_NOTIFIER=1 XDG_CONFIG_HOME="$OUT/doctor-config" exec ip netns exec "$P-relay" "${PROFILER[@]}" doctor --open=false \
    --dest "$OUT/doctor" -- node "${MCRD[@]}") < /dev/null > "$OUT/mcrd.log" 2> "$OUT/profiler.log" &
fi
WAIT_PID=$!
ctl() { ./bin/mcrctl.js --socket "$SOCK" "$@"; }
for _ in $(seq 200); do ctl ping >/dev/null 2>&1 && break; kill -0 "$WAIT_PID" 2>/dev/null || break; sleep 0.1; done
if ! ctl ping >/dev/null 2>&1; then
  if ! kill -0 "$WAIT_PID" 2>/dev/null; then
    # clinic without NO_INSIGHT and no TTY exits 0 this way, having started nothing.
    wait "$WAIT_PID" && rc=0 || rc=$?
    echo "profile: $([ "$MODE" = js ] && echo mcrd || echo clinic) exited (status $rc) before mcrd answered on $SOCK:" >&2
  else
    echo "profile: mcrd did not answer on $SOCK within 20 s:" >&2
  fi
  WAIT_PID=""
  cat "$OUT/mcrd.log" "$OUT"/profiler.log >&2 2>/dev/null
  exit 1
fi
if [ "$MODE" = js ]; then MCRD_PID=$WAIT_PID; else MCRD_PID=$(ps -o pid= --ppid "$WAIT_PID" | tr -d ' ' | head -n 1); fi
[ -n "$MCRD_PID" ] || { echo "profile: cannot find mcrd under clinic (pid $WAIT_PID)" >&2; exit 1; }

COUNT=$((RATE * (SECONDS_LOAD + 4)))
echo "profile: $MODE: mcrd (pid $MCRD_PID) under $WHAT, telemetry $TELEMETRY," \
  "stream $RATE pps, control load ${STATS_RATE} stats/s and $RULE_RATE rule adds+removes/s for $SECONDS_LOAD s; results in $OUT"
ip netns exec "$P-gen" build/Release/mcrgen --group 239.1.1.1 --port 5001 --interface 10.0.1.1 \
  --rate "$RATE" --count "$COUNT" --size 1400 > "$OUT/mcrgen.txt" 2>&1 &
GEN_PID=$!
sleep 1
# The sink prints its counts on SIGUSR2: one line before the load and one after it.
snapshot() { if [ -n "${SINK_PID:-}" ]; then kill -USR2 "$SINK_PID"; fi; }
snapshot
T_LOAD0=$(ms_now)
node dist/profiling/js-load.js --socket "$SOCK" --pid "$MCRD_PID" --seconds "$SECONDS_LOAD" --stats-rate "$STATS_RATE" \
  --rule-rate "$RULE_RATE" --json "$OUT/load.json" > "$OUT/load.txt"
T_LOAD1=$(ms_now)
snapshot
ctl stats > "$OUT/stats.txt"
kill "$GEN_PID" 2>/dev/null || true
wait "$GEN_PID" 2>/dev/null || true
GEN_PID=""

# Stop mcrd as Ctrl+C would (under clinic, clinic then analyses and writes its report), and then
# the sink, which takes mcrd's last export.
kill -INT "$MCRD_PID"
RC=0
wait "$WAIT_PID" || RC=$?
WAIT_PID=""
if [ -n "${SINK_PID:-}" ]; then
  kill "$SINK_PID" 2>/dev/null || true
  wait "$SINK_PID" 2>/dev/null || true
  SINK_PID=""
fi
if [ "$MODE" = js ]; then
  # One V8 log per process: mcrd's is rendered, the data plane's kept aside under another name
  # (0x --visualize-only takes the first isolate-*.log it finds).
  for f in "$OUT"/js/isolate-*-v8.log; do
    case "$f" in *"-$MCRD_PID-v8.log") ;; *) mv "$f" "$OUT/js/dataplane-$(basename "$f")" ;; esac
  done
  # The flame graph and the figures leave out mcrd's start (module loading and compiling) with
  # --collect-delay, counted from the first tick as js-ticks counts it.
  "${PROFILER[@]}" --visualize-only "$OUT/js" --collect-delay "$((T_LOAD0 - T_START))" --title "mcrd supervisor: control load, telemetry $TELEMETRY ($(uname -r))" \
    > "$OUT/profiler.log" 2>&1 || RC=$?
fi

{
  echo "mcr supervisor profile ($MODE) $(date -u +%FT%TZ), kernel $(uname -r), $(nproc) CPUs, commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')"
  echo "mcrd under $WHAT, telemetry $TELEMETRY, stream $RATE pps of 1400 B"
  cat "$OUT/load.txt"
  if $TELEMETRY; then
    # The first two lines are the snapshots around the load.
    # shellcheck disable=SC2016 # JavaScript, not shell
    node -e '
      const [a, b] = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
      const d = (k, f) => b[k][f] - a[k][f];
      console.log(`telemetry during the load: ${d("traces", "requests")} OTLP trace requests (${d("traces", "bytes")} B), ` +
        `${d("metrics", "requests")} OTLP metric requests (${d("metrics", "bytes")} B), ${d("scrapes", "ok")} /metrics scrapes ` +
        `(${d("scrapes", "bytes")} B, ${d("scrapes", "failed")} failed); spans exported ${b.last?.spansExported ?? "?"} since the start`);
    ' "$OUT/sink.jsonl"
  fi
  if [ "$MODE" = doctor ]; then
    echo
    node dist/profiling/doctor-report.js "$OUT/doctor/$MCRD_PID.clinic-doctor.html" || true
  else
    echo
    # 0x leaves V8's preprocessed log beside the log (named …-v8.log.json by this 0x).
    node dist/profiling/js-ticks.js "$(find "$OUT/js" -maxdepth 1 -name "isolate-*-$MCRD_PID-v8*.json" | head -n 1)" \
      --from-ms "$((T_LOAD0 - T_START))" --to-ms "$((T_LOAD1 - T_START))"
  fi
} > "$OUT/summary.txt"
cat "$OUT/summary.txt"
if [ "$MODE" = js ]; then
  [ -s "$OUT/js/flamegraph.html" ] || { echo "profile: 0x wrote no flame graph:" >&2; cat "$OUT/profiler.log" >&2; exit 1; }
  echo "profile: $OUT/js/flamegraph.html, $OUT/summary.txt"
else
  REPORT=$(find "$OUT/doctor" -maxdepth 1 -name '*.html' | head -n 1)
  [ -n "$REPORT" ] || { echo "profile: clinic doctor wrote no report:" >&2; cat "$OUT/profiler.log" >&2; exit 1; }
  echo "profile: $REPORT, $OUT/summary.txt"
fi
[ "$RC" = 0 ] || { echo "profile: mcrd or the profiler exited $RC:" >&2; cat "$OUT/mcrd.log" "$OUT/profiler.log" >&2; exit 1; }
