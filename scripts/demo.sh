#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A self-contained demo of the README's example: three network namespaces joined by veth pairs
# (gen -> relay -> sink), mcrd in the relay namespace, a rule added with mcrctl, traffic from
# mcrgen, the result read back with mcrgen recv and mcrctl stats. Needs root. Cleans up after.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo: needs root (network namespaces)"; exit 1; }

# shellcheck source=scripts/netns-onehop.sh
. scripts/netns-onehop.sh
P=mcrdemo$$   # unique, so two demos never touch each other
OUT=$(mktemp -d)
cleanup() {
  if [ -n "${MCRD_PID:-}" ]; then
    kill "$MCRD_PID" 2>/dev/null || true
    wait "$MCRD_PID" 2>/dev/null || true
  fi
  onehop_destroy
  rm -rf "$OUT"
}
trap cleanup EXIT
# The README's interface names on the relay: eth0 in, eth1 out.
onehop_create "$P" --relay-ifs eth0 eth1
SOCK=$OUT/mcrd.sock

echo "+ mcrd --control-socket $SOCK   (in the relay namespace)"
# Not through in_ns(): `ip netns exec` execs mcrd, so $! is mcrd itself.
ip netns exec "$P-relay" ./bin/mcrd.js --control-socket "$SOCK" & MCRD_PID=$!
for _ in $(seq 50); do ./bin/mcrctl.js --socket "$SOCK" ping >/dev/null 2>&1 && break; sleep 0.1; done
echo "+ mcrctl add --input-interface eth0 --input-group 239.1.1.1 --input-port 5001 --outputs 239.2.2.2:5002:eth1 --name demo"
./bin/mcrctl.js --socket "$SOCK" add --input-interface eth0 --input-group 239.1.1.1 --input-port 5001 --outputs 239.2.2.2:5002:eth1 --name demo
in_ns sink ./bin/mcrgen.js recv --group 239.2.2.2 --port 5002 --interface s0 --count 100000 --quiet > "$OUT/recv.txt" &
RECV=$!
sleep 0.3
echo "+ mcrgen --group 239.1.1.1 --port 5001 --interface 10.0.1.1 --rate 50000 --count 100000   (in the gen namespace)"
in_ns gen ./bin/mcrgen.js --group 239.1.1.1 --port 5001 --interface 10.0.1.1 --rate 50000 --count 100000
wait $RECV || true
echo "+ mcrgen recv (in the sink namespace) reported:"
cat "$OUT/recv.txt"
echo "+ mcrctl stats"
./bin/mcrctl.js --socket "$SOCK" stats
