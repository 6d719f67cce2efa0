// SPDX-License-Identifier: MIT
// Property-based tests (fast-check) of the control server's line handling, against a real
// ControlServer on a temporary UNIX socket with trivial methods. A client sends an arbitrary
// byte stream (requests good and bad, garbage, invalid UTF-8, blank lines, runs of newlines,
// lines near the 1 MiB limit) cut into arbitrary chunks. Then either every non-blank line got
// exactly the reply the protocol defines and the connection still answers, or a line was over
// the limit and the client got an ETOOBIG error and a clean close; the server answers a new
// client afterwards. A case that gets neither within its deadline fails as a stuck client.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as fc from 'fast-check';
import { ProtocolError, type ParamCheck } from '../../src/control/protocol';
import { ControlServer, LIMITS, type ServerMethods } from '../../src/control/server';
import { Logger } from '../../src/lib/logger';

const MAX = LIMITS.maxLineBytes;
/** Liveness bound for one case: far above what a case takes, so only a stuck client hits it. */
const CASE_DEADLINE_MS = 10_000;
const SEED = 0x6d6372;

type Raw = Record<string, unknown> | undefined;
interface TestMethods {
  ping: { params: Raw; result: string };
  fail: { params: Raw; result: never };
  boom: { params: Raw; result: never };
  later: { params: Raw; result: string };
  /** Its params check wants an integer `n`. */
  strict: { params: { n: number }; result: number };
}
const anyParams: ParamCheck<Raw> = (raw) => raw;
const METHODS: ServerMethods<TestMethods> = {
  checks: {
    ping: anyParams,
    fail: anyParams,
    boom: anyParams,
    later: anyParams,
    strict: (raw) => {
      if (raw === undefined || !Number.isInteger(raw.n)) throw new ProtocolError('EINVAL', 'n: expected an integer');
      return { n: raw.n as number };
    },
  },
  handlers: {
    ping: () => 'pong',
    fail: () => {
      throw new ProtocolError('EBUSY', 'busy on purpose');
    },
    boom: () => {
      throw new Error('an unexpected bug');
    },
    later: async () => 'later',
    strict: ({ n }) => n,
  },
};

// ---- the protocol's answer to one line (docs/control-protocol.md) -----------------------------

/** `id outcome` for the reply a non-blank request line must get. */
function expectedReply(line: string): string {
  let request: unknown;
  try {
    request = JSON.parse(line);
  } catch {
    return 'null EPARSE';
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) return 'null EPARSE';
  const { id, method, params } = request as { id?: unknown; method?: unknown; params?: unknown };
  const idText = JSON.stringify(id ?? null);
  if (typeof method !== 'string') return `${idText} EPARSE`;
  if (!Object.hasOwn(METHODS.handlers, method)) return `${idText} EMETHOD`;
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) return `${idText} EINVAL`;
  if (method === 'strict' && !Number.isInteger((params as { n?: unknown } | undefined)?.n)) return `${idText} EINVAL`;
  if (method === 'fail') return `${idText} EBUSY`;
  if (method === 'boom') return `${idText} EINTERNAL`;
  return `${idText} ok`;
}

function replyKey(reply: string): string {
  const r = JSON.parse(reply) as { id: unknown; ok: boolean; error?: { code: string; message: string } };
  assert.equal(typeof r.ok, 'boolean', reply);
  if (!r.ok) {
    assert.match(r.error?.code ?? '', /^E[A-Z]+$/, reply);
    assert.equal(typeof r.error?.message, 'string', reply);
  }
  return `${JSON.stringify(r.id)} ${r.ok ? 'ok' : r.error?.code}`;
}

/** What the server sees: the bytes decoded as UTF-8 (invalid bytes become U+FFFD), cut at '\n'. */
function model(stream: Buffer): { lines: string[]; oversizeAt: number } {
  const lines = stream.toString('utf8').split('\n');
  lines.pop(); // every stream ends with '\n'
  return { lines, oversizeAt: lines.findIndex((l) => Buffer.byteLength(l) > MAX) };
}

const sorted = (keys: string[]): string[] => [...keys].sort();

// ---- one client ------------------------------------------------------------------------------------

interface Exchange {
  replies: string[];
  closedByServer: boolean;
}

/**
 * Sends the chunks; then, unless the server closes, one final ping whose reply marks the end of
 * the server's answers, and closes. Rejects when the case does not finish within the deadline.
 */
function exchange(socketPath: string, chunks: Buffer[], finalPing: boolean): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    const replies: string[] = [];
    let buffer = Buffer.alloc(0);
    let closedByServer = false;
    let weEnded = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`stuck client: no close within ${CASE_DEADLINE_MS} ms; replies so far: ${JSON.stringify(replies.slice(-3))}`));
    }, CASE_DEADLINE_MS);
    socket.on('data', (data: Buffer) => {
      buffer = Buffer.concat([buffer, data]);
      for (let nl = buffer.indexOf(0x0a); nl >= 0; nl = buffer.indexOf(0x0a)) {
        const line = buffer.subarray(0, nl).toString('utf8');
        buffer = buffer.subarray(nl + 1);
        if (finalPing && !weEnded && line.includes('"id":"final"')) {
          weEnded = true;
          socket.end();
        } else replies.push(line);
      }
    });
    socket.on('end', () => {
      if (!weEnded) closedByServer = true;
    });
    // EPIPE/ECONNRESET when the server has cut us off mid-send; the close that follows decides.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      assert.equal(buffer.length, 0, 'the server left a reply unterminated');
      resolve({ replies, closedByServer });
    });
    socket.once('connect', async () => {
      for (const chunk of chunks) {
        if (socket.destroyed || socket.writableEnded) return;
        await new Promise<void>((done) => socket.write(chunk, () => done()));
        await new Promise((done) => setImmediate(done)); // lets chunks arrive as separate reads
      }
      if (finalPing && !socket.destroyed) socket.write('{"id":"final","method":"ping"}\n');
    });
  });
}

// ---- arbitraries ---------------------------------------------------------------------------------

const jsonObject = fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 });
const request = fc
  .record(
    {
      id: fc.oneof(fc.integer(), fc.string({ maxLength: 8 }), fc.constant(null), fc.jsonValue({ maxDepth: 1 })),
      method: fc.oneof(
        fc.constantFrom('ping', 'fail', 'boom', 'later', 'strict', 'nope', 'constructor', '__proto__', 'toString'),
        fc.jsonValue({ maxDepth: 1 }),
      ),
      params: fc.oneof(jsonObject, fc.jsonValue({ maxDepth: 1 }), fc.record({ n: fc.oneof(fc.integer(), fc.double(), fc.string()) })),
    },
    { requiredKeys: [], noNullPrototype: true },
  )
  .map((r) => Buffer.from(`${JSON.stringify(r)}\n`));
const piece = fc.oneof(
  { weight: 4, arbitrary: request },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(`${JSON.stringify(v)}\n`)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 48 }).map((b) => Buffer.from(b)) },
  {
    weight: 1,
    // Invalid UTF-8: stray continuation bytes, truncated sequences, overlongs, surrogates, > U+10FFFF.
    arbitrary: fc
      .constantFrom([0xff], [0x80], [0xc3], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xf4, 0x90, 0x80, 0x80], [0xf0, 0x9f, 0x98])
      .map((b) => Buffer.from(b)),
  },
  { weight: 1, arbitrary: fc.constantFrom('\n', '   \n', '\r\n', '\t \n', '\u00a0\n', '\u2028\n').map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 300 }).map((n) => Buffer.from('\n'.repeat(n))) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 24 }).map((s) => Buffer.from(s)) },
);

/** A line of exactly `bytes` bytes before its '\n': a ping padded in params, or 2-byte characters. */
const bigLine = fc
  .tuple(fc.constantFrom(MAX - 1, MAX, MAX + 1, MAX + 4096), fc.constantFrom('request', 'two-byte'))
  .map(([bytes, kind]) => {
    if (kind === 'two-byte') {
      const text = 'é'.repeat(Math.floor(bytes / 2)) + (bytes % 2 ? 'x' : '');
      return Buffer.from(`${text}\n`);
    }
    const shell = JSON.stringify({ id: 'big', method: 'ping', params: { pad: '' } });
    return Buffer.from(`${JSON.stringify({ id: 'big', method: 'ping', params: { pad: 'x'.repeat(bytes - Buffer.byteLength(shell)) } })}\n`);
  });

/** The pieces joined and ended with '\n', cut at arbitrary points. */
function stream(pieces: fc.Arbitrary<Buffer[]>): fc.Arbitrary<{ bytes: Buffer; chunks: Buffer[] }> {
  return fc.tuple(pieces, fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 8 })).map(([parts, cuts]) => {
    const bytes = Buffer.concat([...parts, Buffer.from('\n')]);
    const points = [...new Set(cuts.map((c) => Math.floor(c * bytes.length)))]
      .filter((p) => p > 0 && p < bytes.length)
      .sort((a, b) => a - b);
    const chunks: Buffer[] = [];
    let from = 0;
    for (const p of [...points, bytes.length]) {
      chunks.push(bytes.subarray(from, p));
      from = p;
    }
    return { bytes, chunks };
  });
}

// ---- the properties ------------------------------------------------------------------------------

describe('control server line handling properties (fast-check)', () => {
  let dir: string;
  let socketPath: string;
  let server: ControlServer<TestMethods>;
  const logged: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'mcr-control-prop-'));
    socketPath = path.join(dir, 'control.sock');
    server = new ControlServer(
      socketPath,
      METHODS,
      Logger.create('error', 'text', 'control', (line) => logged.push(line)),
    );
    await server.listen();
  });
  after(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** The server still answers a good request on a new connection. */
  async function assertServerAnswers(): Promise<void> {
    const { replies, closedByServer } = await exchange(socketPath, [Buffer.from('{"id":"probe","method":"ping"}\n')], true);
    assert.deepEqual(replies.map(replyKey), ['"probe" ok']);
    assert.equal(closedByServer, false);
  }

  async function check(bytes: Buffer, chunks: Buffer[]): Promise<void> {
    const { lines, oversizeAt } = model(bytes);
    const internalBefore = logged.length;
    if (oversizeAt < 0) {
      const { replies, closedByServer } = await exchange(socketPath, chunks, true);
      assert.equal(closedByServer, false, 'the server closed a connection that broke no limit');
      const requests = lines.filter((l) => l.trim() !== '');
      assert.deepEqual(
        sorted(replies.map(replyKey)),
        sorted(requests.map(expectedReply)),
        'one reply per non-blank line, as the protocol defines',
      );
      // Each unexpected handler failure is logged once, as an error.
      assert.equal(logged.length - internalBefore, requests.map(expectedReply).filter((k) => k.endsWith(' EINTERNAL')).length);
    } else {
      const { replies, closedByServer } = await exchange(socketPath, chunks, false);
      assert.equal(closedByServer, true, 'a line over the limit must end the connection');
      const last = replies.pop();
      assert.ok(last !== undefined, 'no error before the close');
      assert.equal(replyKey(last), 'null ETOOBIG');
      // Lines before the long one get at most their one reply each (the cut may come first).
      const allowed = lines
        .slice(0, oversizeAt)
        .filter((l) => l.trim() !== '')
        .map(expectedReply);
      for (const key of replies.map(replyKey)) {
        const at = allowed.indexOf(key);
        assert.ok(at >= 0, `unexpected or repeated reply ${key}`);
        allowed.splice(at, 1);
      }
    }
    await assertServerAnswers();
  }

  test('arbitrary bytes in arbitrary chunks: one reply per non-blank line, and the server keeps answering', async () => {
    await fc.assert(
      fc.asyncProperty(stream(fc.array(piece, { maxLength: 24 })), ({ bytes, chunks }) => check(bytes, chunks)),
      { numRuns: 150, seed: SEED },
    );
  });

  test('lines near the 1 MiB limit: accepted up to it, ETOOBIG and a clean close beyond, in bytes not characters', async () => {
    let cut = 0;
    await fc.assert(
      fc.asyncProperty(
        stream(
          fc.tuple(fc.array(piece, { maxLength: 4 }), bigLine, fc.array(piece, { maxLength: 4 })).map(([a, big, b]) => [...a, big, ...b]),
        ),
        async ({ bytes, chunks }) => {
          if (model(bytes).oversizeAt >= 0) cut++;
          await check(bytes, chunks);
        },
      ),
      { numRuns: 16, seed: SEED },
    );
    assert.ok(cut > 0 && cut < 16, `both sides of the limit were tried (${cut} of 16 over it)`);
  });
});
