// SPDX-License-Identifier: MIT
// The control socket under hostile and busy clients: garbage, unknown methods, oversize and
// never-finished lines get their documented error codes, and while such clients are connected
// other clients are still answered and forwarding does not lose a packet.
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { RawClient } from '../helpers/control';
import { oneHop, receive, ROOT, send, sh, skipReason, sleep, startDaemon, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const MCRCTL = path.join(ROOT, 'dist', 'src', 'cli', 'mcrctl.js');

function assertError(reply: Record<string, unknown> | undefined, id: unknown, code: string): void {
  assert.ok(reply, `no reply (expected error ${code}): the connection closed`);
  assert.deepEqual(Object.keys(reply).sort(), ['error', 'id', 'ok']);
  assert.equal(reply.id, id);
  assert.equal(reply.ok, false);
  const error = reply.error as { code: string; message: string };
  assert.equal(error.code, code);
  assert.equal(typeof error.message, 'string');
  assert.ok(error.message.length > 0 && !error.message.includes('\n'), `one-line message: ${error.message}`);
}

describe('control socket', { skip }, () => {
  let t: Topology;
  let mcrd: DaemonHandle;
  const open: RawClient[] = [];

  async function client(): Promise<RawClient> {
    const c = await RawClient.connect(mcrd.socket);
    open.push(c);
    return c;
  }

  before(async () => {
    t = await oneHop('ctrl');
    mcrd = await startDaemon(t, 'relay');
    await mcrd.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.2:5002:r1',
      '--name',
      'feed',
    ]);
  });
  after(async () => {
    for (const c of open) c.close();
    await mcrd?.stop();
    await t?.destroy();
  });

  it('answers a garbage line with EPARSE (id null) and keeps the connection usable', async () => {
    const c = await client();
    await c.write('this is not json\n');
    assertError((await c.replies(1))[0], null, 'EPARSE');
    await c.write('{"id": 1, "method": \n');
    assertError((await c.replies(2))[1], null, 'EPARSE');
    await c.write('[1,2,3]\n');
    assertError((await c.replies(3))[2], null, 'EPARSE');
    assertError(await c.call('a JSON string, not an object'), null, 'EPARSE');
    assertError(await c.call({ id: 7 }), 7, 'EPARSE');
    const pong = await c.call({ id: 8, method: 'ping' });
    assert.equal(pong.id, 8);
    assert.equal(pong.ok, true);
    assert.deepEqual({ ...(pong.result as object), uptimeSeconds: 0 }, { pong: true, dataplane: 'running', uptimeSeconds: 0 });
    assert.equal(c.closed, false);
  });

  it('answers an unknown method with EMETHOD and the request id', async () => {
    const c = await client();
    assertError(await c.call({ id: 'x-1', method: 'frobnicate' }), 'x-1', 'EMETHOD');
    assertError(await c.call({ id: 2, method: 'toString' }), 2, 'EMETHOD');
    assertError(await c.call({ id: 3, method: 'ping', params: [1] }), 3, 'EINVAL');
    const v = await c.call({ id: 4, method: 'version' });
    assert.deepEqual(v, { id: 4, ok: true, result: { version: '0.1.0', protocol: 1 } });
  });

  it('answers a line over 1 MiB with ETOOBIG and closes the connection', async () => {
    const c = await client();
    await c.write('x'.repeat((1 << 20) + 4096));
    const [reply] = await c.replies(1);
    assertError(reply as Record<string, unknown>, null, 'ETOOBIG');
    await c.closedAt;
    assert.equal(c.closed, true);
    assert.equal(c.lines.length, 1);
  });

  it('times out a silent partial line after 5 s while other clients and forwarding carry on', async (ctx) => {
    const count = 35_000; // 7 s at 5,000 pps: covers the whole 5 s timeout
    const sink = receive(t, 'sink', { group: '239.2.2.2', port: 5002, iface: 's0', count });
    await sink.ready;
    const sending = send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 5_000, count });

    const silent = await client();
    await silent.write('{"id": 1, "method": "pi');
    const silentSince = Date.now();

    // A garbage client keeps sending junk lines for as long as the silent one is connected.
    const garbage = await client();
    let junkSent = 0;
    const junk = (async () => {
      while (!silent.closed) {
        await garbage.write(`garbage ${junkSent++} }{\n`);
        await sleep(20);
      }
    })();

    // Meanwhile a third client asks for ping and stats again and again, and is answered each
    // time while the silent client is still connected (before its 5 s are up).
    const busy = await client();
    let answeredWhileSilentOpen = 0;
    for (let i = 0; Date.now() - silentSince < 4_000; i++) {
      const pong = await busy.call({ id: i * 2, method: 'ping' });
      const st = await busy.call({ id: i * 2 + 1, method: 'stats' });
      assert.equal(pong.ok, true);
      assert.equal(st.ok, true);
      assert.equal(st.id, i * 2 + 1);
      assert.ok(typeof (st.result as { totals: { matched: number } }).totals.matched === 'number');
      assert.equal(silent.closed, false, 'answered while the silent client is connected');
      answeredWhileSilentOpen++;
      await sleep(100);
    }
    assert.ok(answeredWhileSilentOpen >= 10, `${answeredWhileSilentOpen} ping+stats rounds answered`);

    const closedAt = await silent.closedAt;
    const waited = closedAt - silentSince;
    ctx.diagnostic(`silent client closed after ${waited} ms`);
    assert.equal(silent.lines.length, 1);
    assertError(JSON.parse(silent.lines[0]!) as Record<string, unknown>, null, 'ETIMEOUT');
    assert.ok(waited >= 4_500 && waited < 8_000, `closed after ${waited} ms, expected about 5 s`);

    await junk;
    const junkReplies = await garbage.replies(junkSent);
    assert.equal(junkReplies.length, junkSent);
    for (const r of junkReplies) assertError(r, null, 'EPARSE');
    assert.equal(garbage.closed, false);
    assert.equal(busy.closed, false);

    const sent = await sending;
    const got = await sink.result;
    assert.equal(sent.sent, count);
    assert.equal(got.unique, count);
    assert.equal(got.lost, 0);
    assert.equal(got.duplicates, 0);
  });

  it('matches 20 clients x 10 pipelined requests to their responses by id', async () => {
    const methods = ['ping', 'version', 'list', 'stats', 'logLevel.get', 'no.such.method', 'workers', 'config.show', 'ping', 'version'];
    const clients = await Promise.all(Array.from({ length: 20 }, () => client()));
    const idOf = (c: number, r: number): string | number => (r % 2 === 0 ? `c${c}-r${r}` : c * 100 + r);
    // Each client writes its 10 requests at once, all clients at the same time.
    await Promise.all(
      clients.map((cl, c) => cl.write(methods.map((method, r) => `${JSON.stringify({ id: idOf(c, r), method })}\n`).join(''))),
    );
    const all = await Promise.all(clients.map((cl) => cl.replies(10)));
    all.forEach((replies, c) => {
      const byId = new Map(replies.map((r) => [r.id, r]));
      assert.equal(byId.size, 10, `client ${c}: 10 distinct ids`);
      methods.forEach((method, r) => {
        const reply = byId.get(idOf(c, r));
        assert.ok(reply, `client ${c} request ${r} answered`);
        if (method === 'no.such.method') {
          assertError(reply, idOf(c, r), 'EMETHOD');
          return;
        }
        assert.equal(reply.ok, true, `${method}: ${JSON.stringify(reply)}`);
        const result = reply.result as Record<string, unknown>;
        const shape: Record<string, (x: Record<string, unknown>) => boolean> = {
          ping: (x) => x.pong === true,
          version: (x) => x.protocol === 1,
          list: (x) => Array.isArray(x.rules) && x.rules.length === 1,
          stats: (x) => typeof (x.totals as Record<string, unknown>).rxFrames === 'number',
          'logLevel.get': (x) => x.level === 'info',
          workers: (x) => (x.dataplane as Record<string, unknown>).state === 'running',
          'config.show': (x) => Array.isArray((x.config as Record<string, unknown>).rules),
        };
        assert.ok(shape[method]?.(result), `${method} result: ${JSON.stringify(result).slice(0, 200)}`);
      });
      assert.equal(clients[c]?.lines.length, 10, 'no extra replies');
    });
    for (const cl of clients) cl.close();
  });

  it('refuses a 65th connection with EBUSY', async () => {
    for (const c of open.splice(0)) c.close();
    await sleep(200); // the server has seen every earlier connection close
    const many = await Promise.all(Array.from({ length: 64 }, () => client()));
    // All 64 are served...
    const pongs = await Promise.all(many.map((c, i) => c.call({ id: i, method: 'ping' })));
    assert.deepEqual(
      pongs.map((p) => [p.id, p.ok]),
      many.map((_, i) => [i, true]),
    );
    // ...and the 65th is told so and closed.
    const c65 = await client();
    const [reply] = await c65.replies(1);
    assertError(reply as Record<string, unknown>, null, 'EBUSY');
    await c65.closedAt;
    for (const c of many) c.close();
    await sleep(100);
    const again = await client();
    assert.equal((await again.call({ id: 1, method: 'ping' })).ok, true);
  });

  it('a second mcrd on the same socket refuses with one line and leaves the first reachable', async () => {
    const mcrdJs = path.join(ROOT, 'dist', 'src', 'cli', 'mcrd.js');
    const r = await t.exec('relay', 'node', [mcrdJs, '--control-socket', mcrd.socket], { allowFail: true, timeoutMs: 15_000 });
    assert.equal(r.code, 1);
    assert.equal(r.stderr.trim(), `mcrd: another mcrd is already listening on ${mcrd.socket}`);
    assert.equal(r.stdout, '', 'no FINAL lines from a daemon that never started');
    assert.ok(existsSync(mcrd.socket));
    assert.deepEqual(await mcrd.request('ping').then((p) => p.pong), true);
  });

  it('refuses a --control-socket path that is not a socket and leaves the file alone', async () => {
    const file = `/tmp/${t.prefix}-precious.txt`;
    writeFileSync(file, 'keep me\n');
    try {
      const mcrdJs = path.join(ROOT, 'dist', 'src', 'cli', 'mcrd.js');
      const r = await t.exec('relay', 'node', [mcrdJs, '--control-socket', file], { allowFail: true, timeoutMs: 15_000 });
      assert.equal(r.code, 1);
      assert.equal(r.stderr.trim(), `mcrd: ${file} exists and is not a socket; refusing to replace it`);
      assert.equal(readFileSync(file, 'utf8'), 'keep me\n');
    } finally {
      rmSync(file, { force: true });
    }
  });

  it('creates the socket with mode 0660', () => {
    const st = statSync(mcrd.socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
  });

  it('mcrctl --socket /nonexistent ping exits 1 with one line', async () => {
    const r = await sh('node', [MCRCTL, '--socket', '/nonexistent', 'ping'], { allowFail: true });
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr, 'mcrctl: cannot connect to /nonexistent: no such file (is mcrd running?)\n');
  });
});
