// SPDX-License-Identifier: MIT
// The raw PIM socket of one interface, typed: every PIM message that arrives on it for
// ALL-PIM-ROUTERS (224.0.0.13) or for this host, with the IP header stripped and its fields given
// separately, and sending PIM messages (the kernel writes the IP header). The native side
// (native/core/pim_socket.cc) says why one raw socket per interface and how the interface going
// down is noticed. Needs CAP_NET_RAW.
import { loadAddon, type NativePimPacket } from '../../native/addon';
import { PolledSocket } from '../polled-socket';

/** One received PIM message: `data` is the PIM message from its header on (not yet validated). */
export type PimPacket = NativePimPacket;

/**
 * send(message, destination): one PIM message (header and checksum included, no IP header), TTL 1
 * to 224.0.0.13, the system default to a unicast address (Register, Register-Stop); it leaves by
 * this interface either way (ENETUNREACH while the interface is down). Receive errors: ENETDOWN
 * once each time the interface goes down.
 */
export class PimPacketSocket extends PolledSocket<PimPacket> {
  /** Opens the socket on `ifname` and joins 224.0.0.13 there; throws an Error naming the interface (code ENODEV when missing, EPERM without CAP_NET_RAW). */
  constructor(ifname: string) {
    super(new (loadAddon().PimSocket)(ifname), 'PIM');
  }
}
