#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# The igmp-latency scenario's listener and wire clock, run in the sink namespace. Per cycle: join
# GROUP on IFACE with a UDP socket (the kernel's IGMP host stack reports it), wait for the first
# UDP frame to GROUP:PORT on the wire, let it flow --hold-ms, leave (IP_DROP_MEMBERSHIP: the kernel
# sends the leave), and wait until no frame of the group has arrived for --quiet-ms. The wire is
# an AF_PACKET socket bound to IFACE, which sees every frame delivered to the interface whether or
# not anything is joined, each with its kernel receive timestamp (SO_TIMESTAMPNS, CLOCK_REALTIME).
# The join and leave times are CLOCK_REALTIME read just before the setsockopt, so all four times
# are on one clock. Prints "ready" on stderr once the capture is open and the wire has been quiet
# for --quiet-ms, then one JSON line per cycle (times in ns; joinSentNs and leaveSentNs are this
# host's IGMP report and leave for the group as they left on IFACE, null if none was seen):
#   {"cycle", "joinNs", "joinSentNs", "firstNs", "framesJoined", "leaveNs", "leaveSentNs", "lastNs",
#    "framesAfterLeave", "error"?}
#   python3 igmp-join-probe.py --interface s0 --group 239.1.1.1 --port 5001 --cycles 100
import argparse
import fcntl
import json
import select
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
ETH_P_IP = 0x0800
SIOCGIFADDR = 0x8915
SO_TIMESTAMPNS = 35  # SO_TIMESTAMPNS_OLD, SCM_TIMESTAMPNS: struct timespec of two longs
CMSG_SPACE = 64


def interface_address(name: str) -> bytes:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        return fcntl.ioctl(s.fileno(), SIOCGIFADDR, struct.pack("256s", name.encode()[:15]))[20:24]
    finally:
        s.close()


IGMPV2_REPORT = 0x16
IGMPV2_LEAVE = 0x17
IGMPV3_REPORT = 0x22
# IGMPv3 group record types: MODE_IS_EXCLUDE and CHANGE_TO_EXCLUDE join any-source,
# MODE_IS_INCLUDE and CHANGE_TO_INCLUDE with no sources leave
V3_JOIN = (2, 4)
V3_LEAVE = (1, 3)


class Wire:
    """UDP frames to one group and port on one interface, with their kernel receive times, and
    the IGMP joins and leaves for the group that this host sends out of it."""

    def __init__(self, iface: str, group: bytes, port: int) -> None:
        # ETH_P_ALL: the kernel hands outgoing frames only to taps of every protocol
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(ETH_P_ALL))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.sock.bind((iface, ETH_P_ALL))
        self.sock.setblocking(False)
        self.group = group
        self.port = port
        # (time, "join" or "leave") of the host's IGMP messages for the group, in order
        self.igmp: list[tuple[int, str]] = []

    def igmp_kind(self, ip: bytes, ihl: int) -> str | None:
        m = ip[ihl:]
        if len(m) >= 8 and m[0] in (IGMPV2_REPORT, IGMPV2_LEAVE) and m[4:8] == self.group:
            return "join" if m[0] == IGMPV2_REPORT else "leave"
        if len(m) >= 8 and m[0] == IGMPV3_REPORT:
            at = 8
            for _ in range(struct.unpack("!H", m[6:8])[0]):
                if len(m) < at + 8:
                    return None
                kind, aux, nsrc = m[at], m[at + 1], struct.unpack("!H", m[at + 2 : at + 4])[0]
                if m[at + 4 : at + 8] == self.group:
                    if kind in V3_JOIN:
                        return "join"
                    if kind in V3_LEAVE and nsrc == 0:
                        return "leave"
                at += 8 + 4 * nsrc + 4 * aux
        return None

    def drain(self) -> list[int]:
        """Receive times (ns) of the group's frames waiting in the socket (IGMP goes to self.igmp)."""
        out = []
        while True:
            try:
                data, anc, _flags, addr = self.sock.recvmsg(512, CMSG_SPACE)
            except BlockingIOError:
                return out
            if addr[1] != ETH_P_IP or len(data) < 24:
                continue
            ts = 0
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(value) >= 16:
                    sec, nsec = struct.unpack("qq", value[:16])
                    ts = sec * 1_000_000_000 + nsec
            # without a kernel timestamp, the time it was read
            ts = ts or time.time_ns()
            ihl = (data[0] & 0x0F) * 4
            if data[9] == 2 and addr[2] == socket.PACKET_OUTGOING:
                kind = self.igmp_kind(data, ihl)
                if kind:
                    self.igmp.append((ts, kind))
                continue
            # IPv4, UDP, to the group, to the port
            if data[9] != 17 or data[16:20] != self.group or len(data) < ihl + 4:
                continue
            if struct.unpack("!H", data[ihl + 2 : ihl + 4])[0] != self.port:
                continue
            out.append(ts)

    def wait(self, seconds: float) -> list[int]:
        select.select([self.sock], [], [], max(0.0, seconds))
        return self.drain()

    def first_igmp(self, kind: str, since: int) -> int | None:
        return next((t for t, k in self.igmp if k == kind and t >= since), None)


def quiet_until(wire: Wire, quiet_ns: int, limit_ns: int, last_ns: int) -> tuple[int, int, bool]:
    """Reads until no frame for quiet_ns after the last one (or after last_ns); returns the last
    frame's time, the frames seen and whether it went quiet before limit_ns (an absolute time)."""
    seen = 0
    while True:
        now = time.time_ns()
        if now - last_ns >= quiet_ns:
            return last_ns, seen, True
        if now >= limit_ns:
            return last_ns, seen, False
        got = wire.wait(min(quiet_ns - (now - last_ns), limit_ns - now) / 1e9)
        if got:
            seen += len(got)
            last_ns = max(last_ns, max(got))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--interface", required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--cycles", type=int, required=True)
    ap.add_argument("--hold-ms", type=float, default=100, help="forwarding time between the first frame and the leave")
    ap.add_argument("--quiet-ms", type=float, default=300, help="silence that counts as stopped")
    ap.add_argument("--join-timeout-s", type=float, default=5)
    ap.add_argument("--leave-timeout-s", type=float, default=10, help="longest the stream may go on after a leave")
    a = ap.parse_args()
    if a.cycles < 1:
        print("--cycles must be at least 1", file=sys.stderr)
        return 2

    group = socket.inet_aton(a.group)
    local = interface_address(a.interface)
    mreq = group + local
    wire = Wire(a.interface, group, a.port)
    quiet_ns = int(a.quiet_ms * 1e6)
    # Nothing may be forwarded before anyone joins.
    _last, stray, quiet = quiet_until(wire, quiet_ns, time.time_ns() + int(a.leave_timeout_s * 1e9), time.time_ns())
    if not quiet:
        print(f"the group's frames arrive on {a.interface} without a listener ({stray} frames)", file=sys.stderr)
        return 1
    print("ready", file=sys.stderr, flush=True)

    for cycle in range(a.cycles):
        rec: dict = {"cycle": cycle}
        listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        rec["joinNs"] = time.time_ns()
        listener.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
        first = None
        deadline = rec["joinNs"] + int(a.join_timeout_s * 1e9)
        while first is None and time.time_ns() < deadline:
            got = wire.wait((deadline - time.time_ns()) / 1e9)
            if got:
                first = min(got)
                joined = len(got)
        if first is None:
            rec["error"] = f"no frame within {a.join_timeout_s} s of the join"
            listener.close()
            print(json.dumps(rec), flush=True)
            return 1
        rec["firstNs"] = first
        hold_end = first + int(a.hold_ms * 1e6)
        while time.time_ns() < hold_end:
            joined += len(wire.wait((hold_end - time.time_ns()) / 1e9))
        joined += len(wire.drain())
        rec["framesJoined"] = joined
        rec["leaveNs"] = time.time_ns()
        listener.setsockopt(socket.IPPROTO_IP, socket.IP_DROP_MEMBERSHIP, mreq)
        listener.close()
        # Frames received before the leave was sent are counted from the leave on (at most a few).
        last, after, quiet = quiet_until(wire, quiet_ns, rec["leaveNs"] + int(a.leave_timeout_s * 1e9), rec["leaveNs"])
        rec["lastNs"] = last
        rec["framesAfterLeave"] = after
        if not quiet:
            rec["error"] = f"still forwarding {a.leave_timeout_s} s after the leave"
            print(json.dumps(rec), flush=True)
            return 1
        # the host's join and leave on the wire (the leave is sent before the stream stops)
        rec["joinSentNs"] = wire.first_igmp("join", rec["joinNs"])
        rec["leaveSentNs"] = wire.first_igmp("leave", rec["leaveNs"])
        wire.igmp.clear()
        print(json.dumps(rec), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
