#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The one-hop network lab for shell scripts (scripts/demo.sh, profiling/profile.sh), in the style
# of the kernel selftests' in_netns.sh; the same topology as buildOneHop() in lab/netns.ts:
#   gen: g0 10.0.1.1/24 <-> relay: IN 10.0.1.2/24 | OUT 10.0.2.1/24 <-> sink: s0 10.0.2.2/24
# Source it, then:
#   onehop_create PREFIX [--relay-ifs IN OUT] [--no-ipv6]
#       namespaces PREFIX-gen, PREFIX-relay, PREFIX-sink; relay interfaces r0 and r1 unless named;
#       --no-ipv6: IPv6 off before any link exists, so only the stream moves interface counters
#   in_ns NAME CMD...   runs CMD in namespace PREFIX-NAME
#   onehop_destroy      deletes the namespaces (safe before onehop_create and when called twice)
# The caller's EXIT trap calls onehop_destroy once it has stopped what it started in them. To get
# a background command's own pid, start it as `ip netns exec "$ONEHOP_PREFIX-NAME" CMD &`: ip
# execs CMD, so $! is CMD itself (through in_ns, $! would be a subshell).

ONEHOP_PREFIX=""
ONEHOP_NAMESPACES=()

onehop_create() {
  local prefix=$1 relay_in=r0 relay_out=r1 no_ipv6=false n
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      --relay-ifs) relay_in=$2; relay_out=$3; shift 3 ;;
      --no-ipv6) no_ipv6=true; shift ;;
      *) echo "onehop_create: unknown option $1" >&2; return 2 ;;
    esac
  done
  ONEHOP_PREFIX=$prefix
  for n in gen relay sink; do
    ip netns add "$prefix-$n"
    ONEHOP_NAMESPACES+=("$prefix-$n")
    ip -n "$prefix-$n" link set lo up
    if $no_ipv6; then
      ip netns exec "$prefix-$n" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    fi
  done
  ip link add g0 netns "$prefix-gen" type veth peer name "$relay_in" netns "$prefix-relay"
  ip link add "$relay_out" netns "$prefix-relay" type veth peer name s0 netns "$prefix-sink"
  ip -n "$prefix-gen" addr add 10.0.1.1/24 dev g0 && ip -n "$prefix-gen" link set g0 up
  ip -n "$prefix-relay" addr add 10.0.1.2/24 dev "$relay_in" && ip -n "$prefix-relay" link set "$relay_in" up
  ip -n "$prefix-relay" addr add 10.0.2.1/24 dev "$relay_out" && ip -n "$prefix-relay" link set "$relay_out" up
  ip -n "$prefix-sink" addr add 10.0.2.2/24 dev s0 && ip -n "$prefix-sink" link set s0 up
}

in_ns() {
  local name=$1
  shift
  ip netns exec "$ONEHOP_PREFIX-$name" "$@"
}

onehop_destroy() {
  local ns
  for ns in "${ONEHOP_NAMESPACES[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
  ONEHOP_NAMESPACES=()
}
