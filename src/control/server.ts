// SPDX-License-Identifier: MIT
// Newline-delimited JSON over a UNIX socket (docs/control-protocol.md). Every client is
// bounded in line size, partial-line time, idle time and unread output, so a silent, slow or
// garbage-sending client only ever hurts itself.
import { promises as fs } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { GroupEntry } from '../lib/groups';
import { McrError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import type { Connection, Handlers, MethodMap, Methods, ParamChecks, StreamSource } from './protocol';

export const LIMITS = {
  maxLineBytes: 1 << 20,
  partialLineMs: 5_000,
  idleMs: 300_000,
  maxClients: 64,
  maxUnreadBytes: 16 << 20,
};

/** The methods a server answers: each one's params check and its handler. */
export interface ServerMethods<Map extends MethodMap<Map> = Methods> {
  checks: ParamChecks<Map>;
  handlers: Handlers<Map>;
}

function errorReply(id: unknown, code: string, message: string): string {
  return `${JSON.stringify({ id: id ?? null, ok: false, error: { code, message } })}\n`;
}

export class ControlServer<Map extends MethodMap<Map> = Methods> {
  private readonly server: net.Server;
  private readonly clients = new Set<net.Socket>();
  /** Connections turned into streams (`events`), with what they carry. */
  private readonly streams = new Map<net.Socket, StreamSource>();
  /** Only a server that bound the path removes it again (never another daemon's socket). */
  private listening = false;

  constructor(
    private readonly socketPath: string,
    private readonly methods: ServerMethods<Map>,
    private readonly log: Logger,
    /** Group given the socket (--control-socket-group); else it keeps mcrd's own group. */
    private readonly group?: GroupEntry,
  ) {
    this.server = net.createServer((socket) => this.accept(socket));
  }

  async listen(): Promise<void> {
    await fs.mkdir(path.dirname(this.socketPath), { recursive: true, mode: 0o755 });
    await this.removeStaleSocket();
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.socketPath, () => {
        this.server.off('error', reject);
        this.listening = true;
        resolve();
      });
    });
    // Group first, then the mode: the socket is never group-writable for the wrong group.
    if (this.group) await this.chownToGroup(this.group);
    // Group-writable so an operators' group can be given access without root.
    await fs.chmod(this.socketPath, 0o660);
  }

  private async chownToGroup(group: GroupEntry): Promise<void> {
    try {
      await fs.chown(this.socketPath, -1, group.gid);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // chown(2) lets a process without CAP_CHOWN choose only among its own groups.
      const why =
        e.code === 'EPERM'
          ? `mcrd (uid ${process.getuid?.() ?? '?'}) is not a member of it; run mcrd in that group (systemd: SupplementaryGroups=${group.name}) or as root`
          : e.message;
      // EINVAL: an option that cannot work as given; mcrd exits 2 and systemd does not retry it.
      throw new McrError('EINVAL', `cannot give the control socket ${this.socketPath} to group ${group.name} (gid ${group.gid}): ${why}`);
    }
  }

  async close(): Promise<void> {
    if (!this.listening) return;
    this.listening = false;
    for (const c of this.clients) c.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await fs.rm(this.socketPath, { force: true });
  }

  private async removeStaleSocket(): Promise<void> {
    let isSocket: boolean;
    try {
      isSocket = (await fs.lstat(this.socketPath)).isSocket();
    } catch {
      return;
    }
    // A typo must never delete a file: only a socket nobody answers on is removed.
    if (!isSocket) throw new Error(`${this.socketPath} exists and is not a socket; refusing to replace it`);
    const alive = await new Promise<boolean>((resolve) => {
      const probe = net.connect(this.socketPath);
      probe.once('connect', () => {
        probe.destroy();
        resolve(true);
      });
      probe.once('error', () => resolve(false));
    });
    if (alive) throw new Error(`another mcrd is already listening on ${this.socketPath}`);
    await fs.rm(this.socketPath, { force: true });
  }

  private accept(socket: net.Socket): void {
    if (this.clients.size >= LIMITS.maxClients) {
      socket.end(errorReply(null, 'EBUSY', `too many clients (at most ${LIMITS.maxClients})`));
      return;
    }
    this.clients.add(socket);
    socket.setEncoding('utf8');
    let buffered = '';
    let partialTimer: NodeJS.Timeout | undefined;
    const drop = (code: string, message: string): void => {
      clearTimeout(partialTimer);
      socket.end(errorReply(null, code, message));
      socket.destroySoon();
    };
    socket.setTimeout(LIMITS.idleMs, () => drop('ETIMEOUT', `idle for ${LIMITS.idleMs / 1000} s`));
    socket.on('data', (chunk: string) => {
      // A stream's connection takes no more requests: what the client sends is discarded.
      if (this.streams.has(socket)) return;
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline >= 0; newline = buffered.indexOf('\n')) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        clearTimeout(partialTimer);
        partialTimer = undefined;
        if (Buffer.byteLength(line) > LIMITS.maxLineBytes) return drop('ETOOBIG', `request line longer than ${LIMITS.maxLineBytes} bytes`);
        if (line.trim() !== '') void this.dispatch(socket, line);
        if (this.streams.has(socket)) {
          buffered = '';
          return;
        }
      }
      if (Buffer.byteLength(buffered) > LIMITS.maxLineBytes)
        return drop('ETOOBIG', `request line longer than ${LIMITS.maxLineBytes} bytes`);
      // The clock starts when a line starts and is not reset by more bytes of the same line,
      // so a client dribbling a byte every few seconds cannot hold a connection slot.
      if (buffered !== '' && partialTimer === undefined) {
        partialTimer = setTimeout(
          () => drop('ETIMEOUT', `incomplete request line for ${LIMITS.partialLineMs / 1000} s`),
          LIMITS.partialLineMs,
        );
      }
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(partialTimer);
      this.clients.delete(socket);
      this.streams.get(socket)?.close();
      this.streams.delete(socket);
    });
  }

  private async dispatch(socket: net.Socket, line: string): Promise<void> {
    let request: unknown;
    try {
      request = JSON.parse(line);
    } catch (err) {
      return this.reply(socket, errorReply(null, 'EPARSE', `invalid JSON: ${(err as Error).message}`));
    }
    if (typeof request !== 'object' || request === null || Array.isArray(request))
      return this.reply(socket, errorReply(null, 'EPARSE', 'a request must be a JSON object'));
    const { id, method, params } = request as { id?: unknown; method?: unknown; params?: unknown };
    if (typeof method !== 'string') return this.reply(socket, errorReply(id, 'EPARSE', 'request has no "method" string'));
    if (!this.answers(method)) return this.reply(socket, errorReply(id, 'EMETHOD', `unknown method "${method}"`));
    if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params)))
      return this.reply(socket, errorReply(id, 'EINVAL', 'params must be an object'));
    let stream: StreamSource | undefined;
    const connection: Connection = {
      stream: (source) => {
        if (this.streams.has(socket) || socket.destroyed) throw new McrError('EINVAL', 'this connection is a stream already');
        stream = source;
        // Marked at once, so the requests after this one in the same chunk are not dispatched.
        this.streams.set(socket, source);
      },
    };
    try {
      const result = await this.call(method, params as Record<string, unknown> | undefined, connection);
      this.reply(socket, `${JSON.stringify({ id: id ?? null, ok: true, result })}\n`);
      if (stream) this.pump(socket, stream);
    } catch (err) {
      if (stream) {
        stream.close();
        this.streams.delete(socket);
      }
      const e = err as { code?: unknown; message?: string };
      const code = typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code) ? e.code : 'EINTERNAL';
      if (code === 'EINTERNAL') this.log.error(`control request ${method} failed: ${e.message ?? String(err)}`);
      this.reply(socket, errorReply(id, code, e.message ?? String(err)));
    }
  }

  private answers(method: string): method is Extract<keyof Map, string> {
    return Object.hasOwn(this.methods.handlers, method) && Object.hasOwn(this.methods.checks, method);
  }

  /** The params are checked (a ProtocolError names what is wrong) before the handler sees them. */
  private call<M extends keyof Map>(
    method: M,
    raw: Record<string, unknown> | undefined,
    connection: Connection,
  ): Promise<Map[M]['result']> | Map[M]['result'] {
    return this.methods.handlers[method](this.methods.checks[method](raw), connection);
  }

  /**
   * Sends the source's items as fast as the client reads them: a write that fills the socket's
   * buffer stops the pump until 'drain', so a client that stops reading holds at most one
   * buffer of lines here; the rest waits (bounded) in the source. No idle timeout: a quiet
   * stream is a normal stream.
   */
  private pump(socket: net.Socket, source: StreamSource): void {
    if (socket.destroyed) {
      source.close();
      this.streams.delete(socket);
      return;
    }
    socket.setTimeout(0);
    let waitingForDrain = false;
    const send = (): void => {
      if (waitingForDrain || socket.destroyed) return;
      while (!socket.writableNeedDrain) {
        const item = source.take();
        if (item === undefined) return;
        socket.write(`${JSON.stringify(item)}\n`);
      }
      waitingForDrain = true;
      socket.once('drain', () => {
        waitingForDrain = false;
        send();
      });
    };
    source.onReadable(send);
    send();
  }

  private reply(socket: net.Socket, text: string): void {
    if (socket.destroyed) return;
    // A client that never reads its replies is cut off instead of growing our memory.
    if (socket.writableLength > LIMITS.maxUnreadBytes) {
      socket.destroy();
      return;
    }
    socket.write(text);
  }
}
