#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Sends hand-made IGMP messages from a raw IPPROTO_IGMP socket (the kernel writes the IPv4 header,
# with a correct checksum; the IGMP bytes are exactly those given), to test how a querier counts
# malformed ones. Each --hex is one message, sent to --destination out of --interface-address.
#   python3 send-igmp.py --interface-address 10.0.2.2 --destination 224.0.0.22 --hex 1600ffff...
import argparse
import socket
import sys


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interface-address", required=True)
    ap.add_argument("--destination", default="224.0.0.22")
    ap.add_argument("--hex", action="append", required=True)
    a = ap.parse_args()
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_IGMP)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(a.interface_address))
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    for h in a.hex:
        s.sendto(bytes.fromhex(h), (a.destination, 0))
    s.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
