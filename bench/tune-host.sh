#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Host tuning for benchmarks: raises the socket buffer limits and the per-CPU input backlog,
# printing each change and why; `--undo` restores the values saved in the state file. These are
# global (host) sysctls: network namespaces inherit the limits, so they must be set from the host.
# `npm run bench` records in its report whether this was applied (the state file exists).
set -euo pipefail

STATE_DIR=/var/lib/mcr-bench
STATE="$STATE_DIR/tune-host.state"

# key  value  why
SETTINGS=(
  "net.core.rmem_max|67108864|lets a receiving socket ask for a 64 MiB buffer (SO_RCVBUF): socket-based relays (the C relay asks for 8 MiB, socat, Node) and mcrgen recv absorb bursts instead of dropping"
  "net.core.wmem_max|67108864|same for send buffers (SO_SNDBUF): a relay's egress socket can queue a whole fan-out batch"
  "net.core.rmem_default|4194304|4 MiB default receive buffer for sockets that never set SO_RCVBUF (socat, the naive Node relay)"
  "net.core.wmem_default|4194304|4 MiB default send buffer for the same"
  "net.core.netdev_max_backlog|30000|per-CPU queue of received frames waiting for the softirq (veth delivers into it); 1000 by default overflows during generator bursts"
)

usage() {
  cat <<EOF
usage: $0 [--undo | --show]
  (no option)  apply the benchmark tuning, saving the previous values to $STATE
  --undo       restore the values saved in $STATE and remove it
  --show       print the current values and whether the tuning is applied
EOF
}

need_root() {
  if [ "$(id -u)" -ne 0 ]; then
    echo "tune-host.sh: must run as root (it changes global sysctls)" >&2
    exit 1
  fi
}

show() {
  for s in "${SETTINGS[@]}"; do
    key=${s%%|*}
    printf '%-28s %s\n' "$key" "$(sysctl -n "$key")"
  done
  if [ -f "$STATE" ]; then echo "tuning: applied (state in $STATE)"; else echo "tuning: not applied"; fi
}

apply() {
  need_root
  if [ -f "$STATE" ]; then
    echo "tune-host.sh: already applied (previous values saved in $STATE); run --undo first to re-apply" >&2
    exit 0
  fi
  mkdir -p "$STATE_DIR"
  : >"$STATE.tmp"
  for s in "${SETTINGS[@]}"; do
    IFS='|' read -r key value why <<<"$s"
    old=$(sysctl -n "$key")
    echo "$key=$old" >>"$STATE.tmp"
    if [ "$old" -ge "$value" ] 2>/dev/null; then
      echo "keep   $key = $old (already >= $value)"
      continue
    fi
    sysctl -qw "$key=$value"
    echo "set    $key: $old -> $value"
    echo "       why: $why"
  done
  mv "$STATE.tmp" "$STATE"
  echo "previous values saved in $STATE; undo with: $0 --undo"
}

undo() {
  need_root
  if [ ! -f "$STATE" ]; then
    echo "tune-host.sh: nothing to undo ($STATE does not exist)"
    exit 0
  fi
  while IFS='=' read -r key old; do
    [ -n "$key" ] || continue
    cur=$(sysctl -n "$key")
    if [ "$cur" != "$old" ]; then
      sysctl -qw "$key=$old"
      echo "restore $key: $cur -> $old"
    else
      echo "keep    $key = $old"
    fi
  done <"$STATE"
  rm -f "$STATE"
  echo "host tuning undone"
}

case "${1:-}" in
  "") apply ;;
  --undo) undo ;;
  --show) show ;;
  -h | --help) usage ;;
  *)
    usage >&2
    exit 2
    ;;
esac
