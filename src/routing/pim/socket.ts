// SPDX-License-Identifier: MIT
// The raw PIM socket of one interface, typed: every PIM message that arrives on it for
// ALL-PIM-ROUTERS (224.0.0.13) or for this host, with the IP header stripped and its fields given
// separately, and sending PIM messages (the kernel writes the IP header). The native side
// (native/core/pim_socket.cc) says why one raw socket per interface and how the interface going
// down is noticed. Needs CAP_NET_RAW.
import { loadAddon, type NativePimPacket, type NativePimSocket } from '../../native/addon';

/** One received PIM message: `data` is the PIM message from its header on (not yet validated). */
export type PimPacket = NativePimPacket;

/** Messages taken per readable event; the poll fires again at once if more wait. */
const BATCH = 64;

export class PimPacketSocket {
  readonly interface: string;
  readonly ifindex: number;
  private native: NativePimSocket | undefined;
  private packetHandler: ((packet: PimPacket) => void) | undefined;
  private errorHandler: ((error: Error & { code?: string }) => void) | undefined;

  /** Opens the socket on `ifname` and joins 224.0.0.13 there; throws an Error naming the interface (code ENODEV when missing, EPERM without CAP_NET_RAW). */
  constructor(ifname: string) {
    this.native = new (loadAddon().PimSocket)(ifname);
    this.interface = this.native.interface;
    this.ifindex = this.native.ifindex;
  }

  get closed(): boolean {
    return this.native === undefined;
  }

  /**
   * Delivers every message received from now on, on the event loop. The socket keeps the process
   * alive from here until close().
   */
  onPacket(handler: (packet: PimPacket) => void): void {
    this.packetHandler = handler;
    this.native?.onReadable((error) => this.readable(error));
  }

  /**
   * Errors the socket reports while receiving (ENETDOWN once each time the interface goes down:
   * the socket receives again once it is back). Without a handler they are dropped.
   */
  onError(handler: (error: Error & { code?: string }) => void): void {
    this.errorHandler = handler;
  }

  /**
   * Sends one PIM message (header and checksum included, no IP header) to `destination`: TTL 1
   * to 224.0.0.13, the system default to a unicast address (Register, Register-Stop); it leaves
   * by this interface either way. Bytes sent; throws when closed or refused (ENETUNREACH while
   * the interface is down).
   */
  send(message: Uint8Array, destination: string): number {
    if (!this.native) throw Object.assign(new Error(`PIM socket on ${this.interface}: closed`), { code: 'EBADF' });
    return this.native.send(message, destination);
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
    if (!this.native) return;
    let packets: PimPacket[];
    try {
      packets = this.native.receive(BATCH);
    } catch (err) {
      this.errorHandler?.(err as Error & { code?: string });
      return;
    }
    for (const packet of packets) {
      // A handler may close the socket in the middle of a batch.
      if (!this.native) return;
      this.packetHandler?.(packet);
    }
  }
}
