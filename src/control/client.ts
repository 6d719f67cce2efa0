// SPDX-License-Identifier: MIT
// Client side of the mcrd control protocol (docs/control-protocol.md): one UNIX socket
// connection, newline-delimited JSON, requests matched to responses by id so they can be pipelined.

import { statSync, type Stats } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { groupName } from '../lib/groups';
import { McrError } from '../lib/errors';
import type { MethodMap, Methods } from './protocol';

/** A failure reported by mcrd (code is the protocol's, e.g. EINVAL) or by the connection itself. */
export class ControlError extends McrError {}

interface Pending {
  method: string;
  resolve: (result: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

interface Response {
  id?: unknown;
  ok?: unknown;
  result?: unknown;
  error?: { code?: unknown; message?: unknown };
}

/** A method's params may be left out when it takes none (`undefined`). */
export type RequestArgs<P> = undefined extends P ? [params?: P, timeoutMs?: number] : [params: P, timeoutMs?: number];

/** Typed by a method map: Methods (mcrd's protocol), or a test's own. */
export class ControlClient<Map extends MethodMap<Map> = Methods> {
  private socket: net.Socket | undefined;
  private connecting: Promise<net.Socket> | undefined;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private received = '';
  /** A streaming request's items (lines without `ok`), each with its exact text. */
  private onItem: ((item: Record<string, unknown>, line: string) => void) | undefined;
  private streamEnded: ((err: Error | undefined) => void) | undefined;

  /** timeoutMs: how long each request may wait for its reply, unless the request says otherwise. */
  constructor(
    readonly socketPath: string,
    private readonly timeoutMs = 5000,
  ) {}

  /** Connects if not connected; request() calls this, so calling it first is optional. */
  async connect(timeoutMs = this.timeoutMs): Promise<void> {
    await this.ensureConnected(timeoutMs);
  }

  /**
   * Sends one request and resolves with its result, typed by the method map: mcrd is trusted to
   * answer as docs/control-protocol.md says, so the result is not checked here.
   */
  async request<M extends keyof Map & string>(
    method: M,
    ...[params, timeoutMs = this.timeoutMs]: RequestArgs<Map[M]['params']>
  ): Promise<Map[M]['result']> {
    const socket = await this.ensureConnected(timeoutMs);
    const id = this.nextId++;
    const message = params === undefined ? { id, method } : { id, method, params };
    return new Promise<Map[M]['result']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new ControlError('ETIMEOUT', `no reply from mcrd to "${method}" within ${timeoutMs / 1000} s`));
      }, timeoutMs);
      this.pending.set(id, { method, resolve: (result) => resolve(result as Map[M]['result']), reject, timer });
      socket.write(`${JSON.stringify(message)}\n`);
    });
  }

  /**
   * A streaming request (`events`): resolves with its reply, after which every line mcrd sends
   * goes to `onItem` (parsed, and its exact text). `ended` resolves when the stream ends: with
   * undefined after close(), with the reason when mcrd or the connection ended it.
   */
  async subscribe<M extends keyof Map & string>(
    method: M,
    params: Map[M]['params'],
    onItem: (item: Record<string, unknown>, line: string) => void,
  ): Promise<{ result: Map[M]['result']; ended: Promise<Error | undefined> }> {
    if (this.onItem) throw new ControlError('EINVAL', 'this connection carries a stream already');
    const ended = new Promise<Error | undefined>((resolve) => {
      this.streamEnded = resolve;
    });
    this.onItem = onItem;
    try {
      const result = await this.request(method, ...([params] as RequestArgs<Map[M]['params']>));
      return { result, ended };
    } catch (err) {
      this.onItem = undefined;
      this.streamEnded = undefined;
      throw err;
    }
  }

  /** Stops reading from mcrd (its queue for us fills; it drops, never waits) until resume(). */
  pause(): void {
    this.socket?.pause();
  }

  resume(): void {
    this.socket?.resume();
  }

  close(): void {
    this.endStream(undefined);
    const socket = this.socket;
    this.socket = undefined;
    this.connecting = undefined;
    this.failAll(new ControlError('ECLOSED', 'the control connection was closed'));
    socket?.destroy();
  }

  private ensureConnected(timeoutMs: number): Promise<net.Socket> {
    if (this.socket !== undefined) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<net.Socket>((resolve, reject) => {
      const socket = net.createConnection(this.socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ControlError('ECONNECT', `cannot connect to ${this.socketPath}: timed out after ${timeoutMs / 1000} s`));
      }, timeoutMs);
      socket.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        this.connecting = undefined;
        const message =
          err.code === 'EACCES' || err.code === 'EPERM'
            ? permissionDenied(this.socketPath)
            : `cannot connect to ${this.socketPath}: ${describeConnectError(err)}`;
        reject(new ControlError('ECONNECT', message, { cause: err }));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        this.attach(socket);
        resolve(socket);
      });
    });
    return this.connecting;
  }

  private attach(socket: net.Socket): void {
    this.socket = socket;
    this.received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => {
      const failure = new ControlError('ECLOSED', `control connection to ${this.socketPath} failed: ${err.message}`, { cause: err });
      this.failAll(failure);
      this.endStream(failure);
    });
    socket.on('close', () => {
      if (this.socket === socket) {
        this.socket = undefined;
        this.connecting = undefined;
      }
      const closed = new ControlError('ECLOSED', 'mcrd closed the control connection');
      this.failAll(closed);
      this.endStream(closed);
    });
  }

  private onData(chunk: string): void {
    this.received += chunk;
    for (let newline = this.received.indexOf('\n'); newline !== -1; newline = this.received.indexOf('\n')) {
      const line = this.received.slice(0, newline).trim();
      this.received = this.received.slice(newline + 1);
      if (line !== '') this.onLine(line);
    }
  }

  private onLine(line: string): void {
    let response: Response;
    try {
      const parsed: unknown = JSON.parse(line);
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
      response = parsed as Response;
    } catch {
      this.failAll(new ControlError('EPROTO', 'mcrd sent a reply that is not a JSON object'));
      return;
    }
    const error =
      response.ok === true
        ? undefined
        : new ControlError(
            typeof response.error?.code === 'string' ? response.error.code : 'EPROTO',
            typeof response.error?.message === 'string' ? response.error.message : 'mcrd reported an error without a message',
          );
    // id null: the server could not tell which request failed (unparseable line, ETOOBIG, EBUSY),
    // and closes the connection after it, so every outstanding request has failed.
    if (response.id === null) {
      if (error !== undefined) {
        this.failAll(error);
        this.endStream(error);
      }
      return;
    }
    // A stream's item: it answers no request.
    if (this.onItem && response.ok === undefined && response.id === undefined) {
      this.onItem(response as Record<string, unknown>, line);
      return;
    }
    if (typeof response.id !== 'number') return;
    const pending = this.pending.get(response.id);
    if (pending === undefined) return;
    this.pending.delete(response.id);
    clearTimeout(pending.timer);
    if (error === undefined) pending.resolve(response.result);
    else pending.reject(error);
  }

  private endStream(err: Error | undefined): void {
    const ended = this.streamEnded;
    this.onItem = undefined;
    this.streamEnded = undefined;
    ended?.(err);
  }

  private failAll(err: Error): void {
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(err);
    }
    this.pending.clear();
  }
}

function describeConnectError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ENOENT':
      return 'no such file (is mcrd running?)';
    case 'ECONNREFUSED':
      return 'connection refused (is mcrd running?)';
    case 'ENOTSOCK':
      return 'not a socket';
    default:
      return err.message;
  }
}

/** What a user refused by the socket's permissions needs: usually membership of its group. */
function permissionDenied(socketPath: string): string {
  const prefix = `permission denied on ${socketPath}`;
  let st: Stats;
  try {
    st = statSync(socketPath);
  } catch {
    return `${prefix}: its directory ${path.dirname(socketPath)} is closed to uid ${process.getuid?.() ?? '?'}`;
  }
  const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
  // mcrd makes it 0660; a mode without group write is someone else's doing.
  if ((st.mode & 0o020) === 0) return `${prefix}: it is mode ${mode}, only its owner (uid ${st.uid}) may connect`;
  return `${prefix}: ask for membership of group ${groupName(st.gid)} (a new membership needs a new login)`;
}
