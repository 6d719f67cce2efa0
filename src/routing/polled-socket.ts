// SPDX-License-Identifier: MIT
// What the protocol sockets of the binding (IGMP, PIM) have in common on the JavaScript side:
// the native socket is polled on the event loop, drained in batches when readable, and its
// receive errors (ENETDOWN when the interface goes down) go to one handler.

/** A native protocol socket of the binding (NativeIgmpSocket, NativePimSocket). */
export interface NativePolledSocket<Packet> {
  readonly interface: string;
  readonly ifindex: number;
  onReadable(callback: (error?: Error & { code?: string }) => void): void;
  receive(max?: number): Packet[];
  send(data: Uint8Array, destination: string): number;
  close(): void;
}

export type SocketError = Error & { code?: string };

/** Packets taken per receive call, and calls per readable event (the poll fires again if more wait). */
const BATCH = 64;
const BATCHES_PER_EVENT = 16;

export class PolledSocket<Packet> {
  readonly interface: string;
  readonly ifindex: number;
  private native: NativePolledSocket<Packet> | undefined;
  private packetHandler: ((packet: Packet) => void) | undefined;
  private errorHandler: ((error: SocketError) => void) | undefined;

  /** `protocol` names the socket in errors ("IGMP socket on eth0: closed"). */
  protected constructor(
    native: NativePolledSocket<Packet>,
    private readonly protocol: string,
  ) {
    this.native = native;
    this.interface = native.interface;
    this.ifindex = native.ifindex;
  }

  get closed(): boolean {
    return this.native === undefined;
  }

  /**
   * Delivers every packet received from now on, on the event loop. The socket keeps the process
   * alive from here until close().
   */
  onPacket(handler: (packet: Packet) => void): void {
    this.packetHandler = handler;
    this.native?.onReadable((error) => this.readable(error));
  }

  /**
   * Errors the socket reports while receiving (ENETDOWN when the interface goes down: the socket
   * receives again once it is back). Without a handler they are dropped.
   */
  onError(handler: (error: SocketError) => void): void {
    this.errorHandler = handler;
  }

  /** Bytes sent; throws when closed (EBADF) or refused. What `destination` is depends on the protocol. */
  send(data: Uint8Array, destination: string): number {
    if (!this.native) throw Object.assign(new Error(`${this.protocol} socket on ${this.interface}: closed`), { code: 'EBADF' });
    return this.native.send(data, destination);
  }

  /** Stops the callbacks and closes the socket; idempotent. */
  close(): void {
    this.native?.close();
    this.native = undefined;
  }

  private readable(error: SocketError | undefined): void {
    if (error) {
      this.errorHandler?.(error);
      return;
    }
    for (let i = 0; i < BATCHES_PER_EVENT; i++) {
      // A handler may close the socket in the middle of a batch.
      if (!this.native) return;
      let packets: Packet[];
      try {
        packets = this.native.receive(BATCH);
      } catch (err) {
        this.errorHandler?.(err as SocketError);
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
