// SPDX-License-Identifier: MIT
// One MSDP peering's state machine (RFC 3618 section 11): Disabled, Inactive, Listen, Connecting,
// Established, with the ConnectRetry, KeepAlive and Hold timers of section 5. Of the two ends the
// one with the higher address listens and the lower connects (11.1), so there is never a
// connection collision to resolve. Pure, like the PIM and IGMP engines: it takes events (the TCP
// connection came up or went down, a message or a parse error arrived, the time passed) with the
// time from the caller's clock in milliseconds, and returns what to do (connect, close, send) and
// what changed; the caller calls tick(now) at nextDeadline().
import { addressValue } from '../../lib/ipv4';
import { encodeMsdpMessage, type MsdpMessage, type MsdpParseError } from './codec';

/** RFC 3618 section 5 timer defaults. */
export const CONNECT_RETRY_PERIOD_MS = 30_000;
export const KEEPALIVE_PERIOD_MS = 60_000;
export const HOLD_TIME_PERIOD_MS = 75_000;

export type MsdpPeerState = 'disabled' | 'inactive' | 'listen' | 'connecting' | 'established';

export interface MsdpPeerConfig {
  /** Our address: the connection's source, and our side of the listen/connect decision. */
  localAddress: string;
  peerAddress: string;
  /** Members of one mesh group do not forward each other's SAs to each other (RFC 3618 10.2). */
  meshGroup?: string;
  connectRetryMs?: number;
  keepAliveMs?: number;
  holdMs?: number;
}

export type MsdpPeerDownReason =
  | 'hold_expired'
  | 'peer_closed'
  | 'disabled'
  /** A malformed message: the stream is out of step, the session starts over. */
  | `malformed_${MsdpParseError}`;

export type MsdpPeerAction =
  /** Open a TCP connection to the peer's port 639 from localAddress. */
  | { type: 'connect' }
  /** Close the connection (or the attempt) to the peer. */
  | { type: 'close' }
  | { type: 'send'; bytes: Uint8Array; message: MsdpMessage };

export type MsdpPeerChange =
  | { type: 'peer_up'; peer: string }
  | { type: 'peer_down'; peer: string; reason: MsdpPeerDownReason }
  | { type: 'state'; peer: string; state: MsdpPeerState; previous: MsdpPeerState };

export interface MsdpPeerResult {
  actions: MsdpPeerAction[];
  changes: MsdpPeerChange[];
  /** A valid message from the peer for the SA cache (SA, SA-Response, SA-Request). */
  message?: MsdpMessage;
}

export interface MsdpPeerView {
  peer: string;
  local: string;
  state: MsdpPeerState;
  /** connect: we open the connection; listen: the peer does. */
  role: 'connect' | 'listen';
  meshGroup: string | null;
  upSince: number | null;
  /** Sessions reset (any reason) since enable. */
  resets: number;
  lastDownReason: MsdpPeerDownReason | null;
  connectRetryAt: number | null;
  keepAliveAt: number | null;
  holdAt: number | null;
}

const KEEPALIVE_BYTES = encodeMsdpMessage({ type: 'keepalive' });

export class MsdpPeer {
  readonly peer: string;
  readonly local: string;
  readonly role: 'connect' | 'listen';
  readonly meshGroup: string | null;
  private readonly connectRetryMs: number;
  private readonly keepAliveMs: number;
  private readonly holdMs: number;
  private currentState: MsdpPeerState = 'inactive';
  private connectRetryAt: number | null = null;
  private keepAliveAt: number | null = null;
  private holdAt: number | null = null;
  private upSince: number | null = null;
  private resets = 0;
  private lastDownReason: MsdpPeerDownReason | null = null;

  constructor(config: MsdpPeerConfig) {
    const local = addressValue(config.localAddress);
    const peer = addressValue(config.peerAddress);
    if (local === peer) throw new RangeError(`MSDP peer ${config.peerAddress}: the same as the local address`);
    this.peer = config.peerAddress;
    this.local = config.localAddress;
    this.role = local < peer ? 'connect' : 'listen';
    this.meshGroup = config.meshGroup ?? null;
    this.connectRetryMs = config.connectRetryMs ?? CONNECT_RETRY_PERIOD_MS;
    this.keepAliveMs = config.keepAliveMs ?? KEEPALIVE_PERIOD_MS;
    this.holdMs = config.holdMs ?? HOLD_TIME_PERIOD_MS;
    if (this.holdMs <= this.keepAliveMs)
      throw new RangeError(
        `MSDP peer ${config.peerAddress}: hold time ${this.holdMs} ms must exceed the keepalive period ${this.keepAliveMs} ms`,
      );
  }

  get state(): MsdpPeerState {
    return this.currentState;
  }

  get established(): boolean {
    return this.currentState === 'established';
  }

  /** Whether an incoming connection from the peer is wanted now (we listen and have none). */
  get accepting(): boolean {
    return this.currentState === 'listen';
  }

  /** E1: Inactive -> Listen (higher address) or Connecting (lower: connect now, and retry on the timer). */
  enable(now: number): MsdpPeerResult {
    const r = this.result();
    if (this.currentState !== 'inactive' && this.currentState !== 'disabled') return r;
    this.startOver(now, r, false);
    return r;
  }

  /** E2: any state -> Disabled; an established session is closed. */
  disable(_now: number): MsdpPeerResult {
    const r = this.result();
    if (this.currentState === 'disabled') return r;
    this.down(r, 'disabled');
    r.actions.push({ type: 'close' });
    this.stopTimers();
    this.setState('disabled', r);
    return r;
  }

  /** E3: the TCP connection is up (our connect completed, or we accepted the peer's). */
  connected(now: number): MsdpPeerResult {
    const r = this.result();
    const expected = this.role === 'connect' ? 'connecting' : 'listen';
    if (this.currentState !== expected) {
      // not ours to take (a second connection while established, or while disabled)
      r.actions.push({ type: 'close' });
      return r;
    }
    this.connectRetryAt = null;
    this.setState('established', r);
    this.upSince = now;
    this.holdAt = now + this.holdMs;
    // a KeepAlive at once tells the peer we are here before any SA is due (FRR does the same)
    this.send(now, r, { type: 'keepalive' }, KEEPALIVE_BYTES);
    r.changes.push({ type: 'peer_up', peer: this.peer });
    return r;
  }

  /** E6: the connection closed or failed (a failed connect leaves Connecting waiting for the retry timer). */
  closed(now: number): MsdpPeerResult {
    const r = this.result();
    if (this.currentState === 'established') this.reset(now, r, 'peer_closed');
    return r;
  }

  /** E7/E8: a parsed message or a parse error from the peer's stream. */
  receive(now: number, parsed: { ok: true; message: MsdpMessage } | { ok: false; reason: MsdpParseError }): MsdpPeerResult {
    const r = this.result();
    if (this.currentState !== 'established') return r;
    if (!parsed.ok) {
      this.reset(now, r, `malformed_${parsed.reason}`);
      return r;
    }
    this.holdAt = now + this.holdMs;
    if (parsed.message.type !== 'keepalive' && parsed.message.type !== 'notification') r.message = parsed.message;
    return r;
  }

  /** Something else (an SA) was sent to the peer: the KeepAlive timer restarts (RFC 3618 5.4). */
  sent(now: number): void {
    if (this.currentState === 'established') this.keepAliveAt = now + this.keepAliveMs;
  }

  tick(now: number): MsdpPeerResult {
    const r = this.result();
    if (this.currentState === 'established') {
      if (this.holdAt !== null && now >= this.holdAt) {
        this.reset(now, r, 'hold_expired');
        return r;
      }
      if (this.keepAliveAt !== null && now >= this.keepAliveAt) this.send(now, r, { type: 'keepalive' }, KEEPALIVE_BYTES);
    } else if (this.currentState === 'connecting' && this.connectRetryAt !== null && now >= this.connectRetryAt) {
      // E4: close a hanging attempt and try again
      r.actions.push({ type: 'close' }, { type: 'connect' });
      this.connectRetryAt = now + this.connectRetryMs;
    }
    return r;
  }

  nextDeadline(): number | null {
    const times = [this.connectRetryAt, this.keepAliveAt, this.holdAt].filter((t): t is number => t !== null);
    return times.length ? Math.min(...times) : null;
  }

  view(): MsdpPeerView {
    return {
      peer: this.peer,
      local: this.local,
      state: this.currentState,
      role: this.role,
      meshGroup: this.meshGroup,
      upSince: this.upSince,
      resets: this.resets,
      lastDownReason: this.lastDownReason,
      connectRetryAt: this.connectRetryAt,
      keepAliveAt: this.keepAliveAt,
      holdAt: this.holdAt,
    };
  }

  private result(): MsdpPeerResult {
    return { actions: [], changes: [] };
  }

  private send(now: number, r: MsdpPeerResult, message: MsdpMessage, bytes: Uint8Array): void {
    r.actions.push({ type: 'send', bytes, message });
    this.keepAliveAt = now + this.keepAliveMs;
  }

  /** Established -> Listen or Connecting: close, and start over as the role says. */
  private reset(now: number, r: MsdpPeerResult, reason: MsdpPeerDownReason): void {
    this.resets++;
    this.down(r, reason);
    r.actions.push({ type: 'close' });
    this.startOver(now, r, true);
  }

  private down(r: MsdpPeerResult, reason: MsdpPeerDownReason): void {
    if (this.currentState !== 'established') return;
    this.lastDownReason = reason;
    this.upSince = null;
    r.changes.push({ type: 'peer_down', peer: this.peer, reason });
  }

  /**
   * To Listen or Connecting. After a reset the connecting side waits one ConnectRetry period
   * before connecting again (RFC 3618 11.2: the timer is set, the connect happens on its expiry);
   * on enable it connects at once.
   */
  private startOver(now: number, r: MsdpPeerResult, afterReset: boolean): void {
    this.stopTimers();
    if (this.role === 'listen') {
      this.setState('listen', r);
      return;
    }
    this.setState('connecting', r);
    if (!afterReset) r.actions.push({ type: 'connect' });
    this.connectRetryAt = now + this.connectRetryMs;
  }

  private stopTimers(): void {
    this.connectRetryAt = null;
    this.keepAliveAt = null;
    this.holdAt = null;
  }

  private setState(state: MsdpPeerState, r: MsdpPeerResult): void {
    if (state === this.currentState) return;
    r.changes.push({ type: 'state', peer: this.peer, state, previous: this.currentState });
    this.currentState = state;
  }
}
