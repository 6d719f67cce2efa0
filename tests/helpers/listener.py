#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A multicast listener as applications are: a UDP socket that joins a group on one interface
# (any-source with IP_ADD_MEMBERSHIP, or source-specific with IP_ADD_SOURCE_MEMBERSHIP), so the
# kernel's own IGMP host stack reports it. Counts datagrams by source address until SIGTERM or
# --seconds, then prints one JSON line: {"total": N, "bySource": {...}}. Closing the socket (the
# process ending) makes the kernel send the leave. Prints "joined" on stderr once joined.
#   python3 listener.py --interface s0 --group 232.1.1.1 --port 7000 [--source 10.0.1.1 ...]
import argparse
import fcntl
import json
import signal
import socket
import struct
import sys
import time

SIOCGIFADDR = 0x8915
IP_ADD_SOURCE_MEMBERSHIP = 39


def interface_address(name: str) -> bytes:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        ifreq = fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))
        return ifreq[20:24]
    finally:
        s.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interface", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--source", action="append", default=[])
    ap.add_argument("--seconds", type=float, default=0.0, help="0: until SIGTERM")
    a = ap.parse_args()

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((a.group, a.port))
    local = interface_address(a.interface)
    group = socket.inet_aton(a.group)
    if a.source:
        for s in a.source:
            # struct ip_mreq_source: multiaddr, interface, sourceaddr (Linux order)
            sock.setsockopt(socket.IPPROTO_IP, IP_ADD_SOURCE_MEMBERSHIP, group + local + socket.inet_aton(s))
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, group + local)
    print("joined", file=sys.stderr, flush=True)

    stop = False

    def on_term(_sig, _frame):
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    sock.settimeout(0.1)
    by_source: dict[str, int] = {}
    total = 0
    deadline = time.monotonic() + a.seconds if a.seconds > 0 else None
    while not stop and (deadline is None or time.monotonic() < deadline):
        try:
            _data, (addr, _port) = sock.recvfrom(65535)
        except socket.timeout:
            continue
        except InterruptedError:
            continue
        total += 1
        by_source[addr] = by_source.get(addr, 0) + 1
    sock.close()
    print(json.dumps({"total": total, "bySource": by_source}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
