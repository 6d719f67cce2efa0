// SPDX-License-Identifier: MIT
// The IGMP packet socket of one interface, typed: every IGMP datagram that arrives on it (v2
// reports for groups this host never joined included, which a raw IPPROTO_IGMP socket misses),
// and sending IGMP to a group's multicast MAC. The native side (native/core/igmp_socket.cc) says
// why an AF_PACKET socket and not the multicast-routing socket. Needs CAP_NET_RAW.
import { loadAddon, type NativeIgmpPacket } from '../../native/addon';
import { PolledSocket } from '../polled-socket';

/** One received IGMP datagram: `data` is the IPv4 packet from its header on (not yet validated). */
export type IgmpPacket = NativeIgmpPacket;

/**
 * send(packet, group): one IPv4 packet (header included: Router Alert, TTL 1) to `group`'s
 * multicast MAC.
 */
export class IgmpPacketSocket extends PolledSocket<IgmpPacket> {
  /** Opens the socket on `ifname`; throws an Error naming the interface (code ENODEV when missing, EPERM without CAP_NET_RAW). */
  constructor(ifname: string) {
    super(new (loadAddon().IgmpSocket)(ifname), 'IGMP');
  }
}
