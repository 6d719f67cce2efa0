// SPDX-License-Identifier: MIT
// MSDP's I/O edge: TCP port 639 through Node's `net`. One listener bound to the local address
// takes connections from configured peers with a lower address (anything else is closed at
// once); connections to peers with a higher address go out from the local address. Each socket's
// bytes go through an MsdpReader into the peer's engine (MsdpPeer), SAs into the SaCache; the
// engines' timers run on one setTimeout at the earliest deadline. Everything protocol-shaped is in
// the engines; this only moves bytes and time, counts, and reports changes.
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { encodeSourceActive, MSDP_PORT, MsdpReader, type MsdpMessage } from './codec';
import { MsdpPeer, type MsdpPeerAction, type MsdpPeerChange, type MsdpPeerResult, type MsdpPeerView } from './peer';
import { type MsdpPeerInfo, SaCache, type SaCacheEntry, type SaChange, type SaSend } from './sa-cache';
import { bump } from '../message-counters';

export interface MsdpServiceOptions {
  localAddress: string;
  peers: { address: string; meshGroup?: string }[];
  /** The RP field of originated SAs (default localAddress). */
  localRp?: string;
  rpfPeer?: (rp: string) => string | null;
  connectRetryMs?: number;
  keepAliveMs?: number;
  holdMs?: number;
  sgStatePeriodMs?: number;
  advertisementPeriodMs?: number;
  /** Default 639; tests may use another. */
  port?: number;
  /** Milliseconds, monotonic (default performance.now). */
  clock?: () => number;
  onChange?: (change: MsdpChange) => void;
}

/** Peer state changes, peer up/down, and SA cache additions and removals. */
export type MsdpChange = MsdpPeerChange | SaChange;

export interface MsdpCounters {
  /** messages received, by type (source_active, keepalive, ...) */
  received: Record<string, number>;
  sent: Record<string, number>;
  /** malformed streams, by parse reason; each reset its session */
  errors: Record<string, number>;
  /** SAs not accepted, by reason (rpf_failed, own_rp) */
  rejected: Record<string, number>;
  /** incoming connections closed at once: not from a configured peer, or the peer is not ours to accept */
  refusedConnections: number;
  /** sessions that went down, by reason */
  resets: Record<string, number>;
}

export interface MsdpStatus {
  listening: boolean;
  peers: MsdpPeerView[];
  sa: SaCacheEntry[];
  originated: { source: string; group: string }[];
  counters: MsdpCounters;
  /** Messages received from and sent to each peer (by address), over all its sessions. */
  peerMessages: Record<string, { received: number; sent: number }>;
}

interface PeerSlot {
  engine: MsdpPeer;
  socket: net.Socket | null;
  reader: MsdpReader;
  received: number;
  sent: number;
}

export class MsdpService {
  private readonly slots = new Map<string, PeerSlot>();
  private readonly cache: SaCache;
  private readonly clock: () => number;
  private readonly port: number;
  private readonly counters: MsdpCounters = { received: {}, sent: {}, errors: {}, rejected: {}, refusedConnections: 0, resets: {} };
  private server: net.Server | null = null;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly options: MsdpServiceOptions) {
    this.clock = options.clock ?? (() => performance.now());
    this.port = options.port ?? MSDP_PORT;
    this.cache = new SaCache({
      localRp: options.localRp ?? options.localAddress,
      ...(options.rpfPeer ? { rpfPeer: options.rpfPeer } : {}),
      ...(options.sgStatePeriodMs !== undefined ? { sgStatePeriodMs: options.sgStatePeriodMs } : {}),
      ...(options.advertisementPeriodMs !== undefined ? { advertisementPeriodMs: options.advertisementPeriodMs } : {}),
    });
    for (const p of options.peers) {
      if (this.slots.has(p.address)) throw new RangeError(`MSDP peer ${p.address}: configured twice`);
      const engine = new MsdpPeer({
        localAddress: options.localAddress,
        peerAddress: p.address,
        ...(p.meshGroup !== undefined ? { meshGroup: p.meshGroup } : {}),
        ...(options.connectRetryMs !== undefined ? { connectRetryMs: options.connectRetryMs } : {}),
        ...(options.keepAliveMs !== undefined ? { keepAliveMs: options.keepAliveMs } : {}),
        ...(options.holdMs !== undefined ? { holdMs: options.holdMs } : {}),
      });
      this.slots.set(p.address, { engine, socket: null, reader: new MsdpReader(), received: 0, sent: 0 });
    }
  }

  /** Starts listening (when any peer has a lower address) and connecting; resolves once the listener is bound. */
  async start(): Promise<void> {
    if ([...this.slots.values()].some((s) => s.engine.role === 'listen')) {
      const server = net.createServer((socket) => this.accept(socket));
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ host: this.options.localAddress, port: this.port }, () => {
          server.off('error', reject);
          resolve();
        });
      });
      this.server = server;
    }
    const now = this.clock();
    for (const slot of this.slots.values()) this.apply(slot, slot.engine.enable(now));
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
    const now = this.clock();
    for (const slot of this.slots.values()) this.apply(slot, slot.engine.disable(now));
    this.server?.close();
    this.server = null;
  }

  /** Starts originating an SA for (source, group) with us as RP (the PIM RP calls this on a Register). */
  originate(source: string, group: string): void {
    this.sendSa(this.cache.originate(this.clock(), source, group, this.peerInfo()));
    this.schedule();
  }

  withdraw(source: string, group: string): boolean {
    const removed = this.cache.withdraw(source, group);
    this.schedule();
    return removed;
  }

  /** The engines' clock (ms): the time base of the views' upSince, holdAt and expiresAt. */
  now(): number {
    return this.clock();
  }

  status(): MsdpStatus {
    return {
      listening: this.server !== null,
      peers: [...this.slots.values()].map((s) => s.engine.view()),
      sa: this.cache.entries(),
      originated: this.cache.originated(),
      counters: structuredClone(this.counters),
      peerMessages: Object.fromEntries([...this.slots].map(([address, s]) => [address, { received: s.received, sent: s.sent }])),
    };
  }

  // ---- sockets -----------------------------------------------------------------------------------

  private accept(socket: net.Socket): void {
    // an IPv4 listener reports plain dotted quads; strip a mapped prefix anyway
    const from = (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const slot = this.slots.get(from);
    if (this.stopped || !slot || !slot.engine.accepting) {
      this.counters.refusedConnections++;
      socket.destroy();
      return;
    }
    this.attach(slot, socket);
    this.apply(slot, slot.engine.connected(this.clock()));
    this.schedule();
  }

  private connect(slot: PeerSlot): void {
    const socket = net.connect({ host: slot.engine.peer, port: this.port, localAddress: this.options.localAddress });
    this.attach(slot, socket);
    socket.once('connect', () => {
      if (slot.socket !== socket) return;
      this.apply(slot, slot.engine.connected(this.clock()));
      this.schedule();
    });
  }

  private attach(slot: PeerSlot, socket: net.Socket): void {
    slot.socket = socket;
    slot.reader = new MsdpReader();
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      if (slot.socket !== socket) return;
      for (const parsed of slot.reader.push(chunk)) {
        if (parsed.ok) {
          bump(this.counters.received, parsed.message.type);
          slot.received++;
        } else bump(this.counters.errors, parsed.reason);
        this.apply(slot, slot.engine.receive(this.clock(), parsed));
        if (slot.socket !== socket) break;
      }
      this.schedule();
    });
    // errors end in 'close' too; the listener keeps an unhandled 'error' from throwing
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (slot.socket !== socket) return;
      slot.socket = null;
      this.apply(slot, slot.engine.closed(this.clock()));
      this.schedule();
    });
  }

  // ---- engines -----------------------------------------------------------------------------------

  private apply(slot: PeerSlot, r: MsdpPeerResult): void {
    for (const a of r.actions) this.act(slot, a);
    for (const c of r.changes) {
      if (c.type === 'peer_down') {
        bump(this.counters.resets, c.reason);
        this.options.onChange?.(c);
        for (const sc of this.cache.peerDown(c.peer)) this.options.onChange?.(sc);
      } else {
        this.options.onChange?.(c);
        if (c.type === 'peer_up') this.sendSa(this.cache.originatedFor(c.peer));
      }
    }
    if (r.message) this.handle(slot, r.message);
  }

  private act(slot: PeerSlot, a: MsdpPeerAction): void {
    switch (a.type) {
      case 'connect':
        if (!this.stopped) this.connect(slot);
        break;
      case 'close': {
        const socket = slot.socket;
        slot.socket = null;
        socket?.destroy();
        break;
      }
      case 'send':
        this.write(slot, a.bytes, a.message);
        break;
    }
  }

  private write(slot: PeerSlot, bytes: Uint8Array, message: MsdpMessage): void {
    if (!slot.socket) return;
    slot.socket.write(bytes);
    bump(this.counters.sent, message.type);
    slot.sent++;
  }

  private handle(slot: PeerSlot, message: MsdpMessage): void {
    if (message.type !== 'source_active' && message.type !== 'sa_response') return; // SA-Request: we do not answer (optional)
    const r = this.cache.receive(this.clock(), slot.engine.peer, message, this.peerInfo());
    if (r.rejected) bump(this.counters.rejected, r.rejected);
    for (const c of r.changes) this.options.onChange?.(c);
    this.sendSa(r.send);
  }

  private sendSa(sends: SaSend[]): void {
    const now = this.clock();
    for (const s of sends) {
      const slot = this.slots.get(s.peer);
      if (!slot?.engine.established) continue;
      for (const bytes of encodeSourceActive(s.message.rp, s.message.entries)) this.write(slot, bytes, s.message);
      slot.engine.sent(now);
    }
  }

  private peerInfo(): MsdpPeerInfo[] {
    return [...this.slots.values()].map((s) => ({
      address: s.engine.peer,
      meshGroup: s.engine.meshGroup,
      established: s.engine.established,
    }));
  }

  private schedule(): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    const deadlines = [...this.slots.values()].map((s) => s.engine.nextDeadline());
    deadlines.push(this.cache.nextDeadline());
    const next = Math.min(...deadlines.filter((d): d is number => d !== null));
    if (!Number.isFinite(next)) return;
    this.timer = setTimeout(() => this.tick(), Math.max(0, Math.ceil(next - this.clock())));
  }

  private tick(): void {
    const now = this.clock();
    for (const slot of this.slots.values()) this.apply(slot, slot.engine.tick(now));
    const r = this.cache.tick(now, this.peerInfo());
    for (const c of r.changes) this.options.onChange?.(c);
    this.sendSa(r.send);
    this.schedule();
  }
}
