// SPDX-License-Identifier: MIT
// The IGMP packet socket of one interface, typed: every IGMP datagram that arrives on it (v2
// reports for groups this host never joined included, which a raw IPPROTO_IGMP socket misses),
// and sending IGMP to a group's multicast MAC. The native side (native/core/igmp_socket.cc) says
// why an AF_PACKET socket and not the multicast-routing socket. Needs CAP_NET_RAW.
import { loadAddon, type NativeIgmpPacket, type NativeIgmpSocket } from '../../native/addon';

/** One received IGMP datagram: `data` is the IPv4 packet from its header on (not yet validated). */
export type IgmpPacket = NativeIgmpPacket;

/** Packets taken per receive call, and calls per readable event (the poll fires again if more wait). */
const BATCH = 64;
const BATCHES_PER_EVENT = 16;

export class IgmpPacketSocket {
  readonly interface: string;
  readonly ifindex: number;
  private native: NativeIgmpSocket | undefined;
  private packetHandler: ((packet: IgmpPacket) => void) | undefined;
  private errorHandler: ((error: Error & { code?: string }) => void) | undefined;

  /** Opens the socket on `ifname`; throws an Error naming the interface (code ENODEV when missing, EPERM without CAP_NET_RAW). */
  constructor(ifname: string) {
    this.native = new (loadAddon().IgmpSocket)(ifname);
    this.interface = this.native.interface;
    this.ifindex = this.native.ifindex;
  }

  get closed(): boolean {
    return this.native === undefined;
  }

  /**
   * Delivers every packet received from now on, on the event loop. The socket keeps the process
   * alive from here until close().
   */
  onPacket(handler: (packet: IgmpPacket) => void): void {
    this.packetHandler = handler;
    this.native?.onReadable((error) => this.readable(error));
  }

  /**
   * Errors the socket reports while receiving (ENETDOWN when the interface goes down: the socket
   * receives again once it is back). Without a handler they are dropped.
   */
  onError(handler: (error: Error & { code?: string }) => void): void {
    this.errorHandler = handler;
  }

  /** Sends one IPv4 packet (header included: Router Alert, TTL 1) to `group`'s multicast MAC; bytes sent. Throws when closed or refused. */
  send(packet: Uint8Array, group: string): number {
    if (!this.native) throw Object.assign(new Error(`IGMP socket on ${this.interface}: closed`), { code: 'EBADF' });
    return this.native.send(packet, group);
  }

  /** Stops the callbacks and closes the socket; idempotent. */
  close(): void {
    this.native?.close();
    this.native = undefined;
  }

  private readable(error: (Error & { code?: string }) | undefined): void {
    if (error) {
      this.errorHandler?.(error);
      return;
    }
    for (let i = 0; i < BATCHES_PER_EVENT; i++) {
      // A handler may close the socket in the middle of a batch.
      if (!this.native) return;
      let packets: IgmpPacket[];
      try {
        packets = this.native.receive(BATCH);
      } catch (err) {
        this.errorHandler?.(err as Error & { code?: string });
        return;
      }
      for (const packet of packets) {
        if (!this.native) return;
        this.packetHandler?.(packet);
      }
      if (packets.length < BATCH) return;
    }
  }
}
