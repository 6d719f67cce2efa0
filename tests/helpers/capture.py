#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# Captures IPv4/UDP frames to one UDP destination port on one interface with an AF_PACKET
# socket and prints one JSON object per frame: Ethernet and IP header fields, the UDP payload
# (hex), the UDP checksum on the wire, whether the kernel marked it partial
# (TP_STATUS_CSUMNOTREADY: the NIC would finish it) and, when it is not partial, whether it is
# correct. Used by the packet egress and IP sender tests to read what was put on the wire. With
# --protocol esp it captures IP protocol 50 (no port) instead and prints the IP header fields and
# the IP payload as hex. Prints "capturing" on stderr once the socket is bound.
#   python3 capture.py --interface s0 --port 6000 --count 10 --timeout 10
#   python3 capture.py --interface s0 --protocol esp --count 10
import argparse
import json
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_CSUMNOTREADY = 1 << 3
IPPROTO_ESP = 50


def ones_complement_sum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def mac(b: bytes) -> str:
    return ":".join(f"{x:02x}" for x in b)


def ip_fields(frame: bytes, ihl: int) -> dict:
    ip = frame[14:]
    total, ident, frag = struct.unpack("!HHH", ip[2:8])
    return {
        "dstMac": mac(frame[0:6]),
        "srcMac": mac(frame[6:12]),
        "src": socket.inet_ntoa(ip[12:16]),
        "dst": socket.inet_ntoa(ip[16:20]),
        "ttl": ip[8],
        "tos": ip[1],
        "id": ident,
        "df": bool(frag & 0x4000),
        "ipChecksumValid": ones_complement_sum(ip[:ihl]) == 0xFFFF,
        "totalLength": total,
    }


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interface", required=True)
    ap.add_argument("--protocol", choices=["udp", "esp"], default="udp")
    ap.add_argument("--port", type=int, help="UDP destination port (required for udp)")
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--timeout", type=float, default=10.0)
    a = ap.parse_args()
    if a.protocol == "udp" and a.port is None:
        ap.error("--port is required with --protocol udp")

    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    # Room for a burst: frames are read one by one, far slower than they arrive.
    SO_RCVBUFFORCE = 33
    s.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, 16 << 20)
    s.bind((a.interface, 0))
    s.settimeout(0.2)
    print("capturing", file=sys.stderr, flush=True)
    deadline = time.monotonic() + a.timeout
    got = 0
    while got < a.count and time.monotonic() < deadline:
        try:
            frame, anc, _flags, addr = s.recvmsg(65535, socket.CMSG_SPACE(64))
        except socket.timeout:
            continue
        if addr[2] == socket.PACKET_OUTGOING or len(frame) < 42 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if a.protocol == "esp":
            if ip[9] != IPPROTO_ESP:
                continue
            # The IP total length, not the frame: short frames carry Ethernet padding.
            total = struct.unpack("!H", ip[2:4])[0]
            print(json.dumps({**ip_fields(frame, ihl), "payload": ip[ihl:total].hex()}), flush=True)
            got += 1
            continue
        if ip[9] != 17:
            continue
        udp = ip[ihl:]
        sport, dport, ulen, ucsum = struct.unpack("!HHHH", udp[:8])
        if dport != a.port:
            continue
        status = 0
        for level, kind, data in anc:
            if level == SOL_PACKET and kind == PACKET_AUXDATA:
                status = struct.unpack("I", data[:4])[0]
        partial = bool(status & TP_STATUS_CSUMNOTREADY)
        valid = None
        if not partial and ucsum != 0:
            pseudo = ip[12:20] + struct.pack("!BBH", 0, 17, ulen)
            valid = ones_complement_sum(pseudo + udp[:ulen]) == 0xFFFF
        print(
            json.dumps(
                {
                    **ip_fields(frame, ihl),
                    "srcPort": sport,
                    "dstPort": dport,
                    "udpLength": ulen,
                    "udpChecksum": ucsum,
                    "udpChecksumPartial": partial,
                    "udpChecksumValid": valid,
                    "payload": udp[8:ulen].hex(),
                }
            ),
            flush=True,
        )
        got += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
