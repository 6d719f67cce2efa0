#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# A bare PIM peer on raw IPPROTO_PIM sockets (the kernel writes and strips the IPv4 header), to
# test mcr's PIM socket against something that is not mcr.
#   send:   sends each --hex as one PIM message to --destination out of --interface-address
#           (multicast with TTL 1).
#   listen: joins 224.0.0.13 on --interface (bound to it) and prints one JSON object per PIM
#           message that arrives there: {"src", "dst", "ttl", "ihl", "hex"} (hex: the message
#           after the IP header). Prints "listening" on stderr once joined; exits after --count
#           messages or --timeout seconds.
#   python3 pim-peer.py send --interface-address 10.0.9.2 --destination 224.0.0.13 --hex 2000...
#   python3 pim-peer.py listen --interface b0 --count 1 --timeout 10
import argparse
import json
import socket
import struct
import sys
import time

IPPROTO_PIM = 103
ALL_PIM_ROUTERS = "224.0.0.13"


def send(a: argparse.Namespace) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_PIM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(a.interface_address))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    for h in a.hex:
        s.sendto(bytes.fromhex(h), (a.destination, 0))
    s.close()
    return 0


def listen(a: argparse.Namespace) -> int:
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_PIM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, a.interface.encode())
    mreqn = struct.pack("4s4si", socket.inet_aton(ALL_PIM_ROUTERS), b"\0" * 4, socket.if_nametoindex(a.interface))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    print("listening", file=sys.stderr, flush=True)
    deadline = time.monotonic() + a.timeout
    got = 0
    while got < a.count:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            packet = s.recv(65535)
        except socket.timeout:
            break
        ihl = (packet[0] & 0x0F) * 4
        line = {
            "src": socket.inet_ntoa(packet[12:16]),
            "dst": socket.inet_ntoa(packet[16:20]),
            "ttl": packet[8],
            "ihl": ihl,
            "hex": packet[ihl:].hex(),
        }
        print(json.dumps(line), flush=True)
        got += 1
    s.close()
    return 0


def main() -> int:
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="mode", required=True)
    sp = sub.add_parser("send")
    sp.add_argument("--interface-address", required=True)
    sp.add_argument("--destination", default=ALL_PIM_ROUTERS)
    sp.add_argument("--hex", action="append", required=True)
    lp = sub.add_parser("listen")
    lp.add_argument("--interface", required=True)
    lp.add_argument("--count", type=int, default=1)
    lp.add_argument("--timeout", type=float, default=10)
    a = ap.parse_args()
    return send(a) if a.mode == "send" else listen(a)


if __name__ == "__main__":
    sys.exit(main())
