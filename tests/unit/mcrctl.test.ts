// SPDX-License-Identifier: MIT
// ControlClient and the compiled mcrctl CLI against a fake mcrd on a real UNIX socket, answering
// as docs/control-protocol.md says: table and --json output, exit codes, one-line errors.
// The real daemon is exercised by the integration tests.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ControlClient, ControlError } from '../../src/control/client';
import type { NoParams } from '../../src/control/protocol';

const CLI = path.resolve(__dirname, '../../src/cli/mcrctl.js');

interface Request {
  id: unknown;
  method: string;
  params?: unknown;
}
type Reply = { result: unknown } | { error: { code: string; message: string } } | { raw: string } | { none: true };

const RULE = {
  id: '112369aab3d3',
  name: 'video-feed',
  input: { interface: 'eth0', group: '239.1.1.1', port: 5001 },
  outputs: [
    { group: '239.2.2.2', port: 5002, interface: 'eth1', ttl: 16 },
    { group: '10.0.3.9', port: 6000, interface: 'eth2', ttl: 8, source: '10.0.2.1' },
  ],
  status: { input: 'up', outputs: ['up', 'waiting-for-interface'] },
};

const COUNTERS = {
  rxFrames: 1234567,
  rxBytes: 0,
  matched: 1200000,
  noMatch: 34567,
  filtered: 0,
  filteredByReason: {},
  txPackets: 2400000,
  txBytes: 0,
  txErrors: 3,
  txErrorsByErrno: { EAGAIN: 3 },
  ringDrops: 0,
  bufExhaust: 0,
  batches: 41152,
  wakeups: 40001,
  holdoffs: 38000,
};

function statsAt(uptimeSeconds: number, scale: number): unknown {
  const counters = Object.fromEntries(Object.entries(COUNTERS).map(([k, v]) => [k, typeof v === 'number' ? v * scale : v]));
  return {
    uptimeSeconds,
    totals: counters,
    workers: [{ worker: 0, ...counters }],
    rules: [
      {
        id: RULE.id,
        name: RULE.name,
        matchedPackets: 1200000 * scale,
        matchedBytes: 0,
        outputs: [{ group: '239.2.2.2', port: 5002, interface: 'eth1', txPackets: 1200000 * scale, txBytes: 0, txErrors: 0 }],
      },
    ],
  };
}

/** A stand-in for mcrd: answers each request line with `reply(request)`. */
class FakeDaemon {
  readonly requests: Request[] = [];
  reply: (request: Request) => Reply = () => ({ error: { code: 'EMETHOD', message: 'unknown method' } });
  private readonly server = net.createServer((socket) => this.serve(socket));
  private statsCalls = 0;

  constructor(readonly socketPath: string) {}

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  /** Standard answers for every method, as documented. */
  useDefaultReplies(): void {
    this.statsCalls = 0;
    this.reply = (request) => {
      switch (request.method) {
        case 'ping':
          return { result: { pong: true, dataplane: 'running', uptimeSeconds: 12.7 } };
        case 'version':
          return { result: { version: '0.1.0', protocol: 1 } };
        case 'list':
          return { result: { rules: [RULE] } };
        case 'add':
          return { result: { rule: { ...RULE, id: 'aaaaaaaaaaaa' } } };
        case 'remove': {
          const params = request.params as { id?: string; name?: string };
          if (params.id === RULE.id || params.name === RULE.name) return { result: { removed: RULE } };
          return { error: { code: 'ENOENT', message: `no rule with id "${params.id ?? params.name}"` } };
        }
        case 'stats':
          this.statsCalls++;
          return { result: statsAt(100 + this.statsCalls, this.statsCalls) };
        case 'workers':
          return {
            result: {
              dataplane: { pid: 4242, state: 'running', restarts: 1, startedAt: '2025-01-02T03:04:05.000Z' },
              workers: [
                { worker: 0, cpu: 2, rxFrames: 1000, txPackets: 2000, ringDrops: 0 },
                { worker: 1, cpu: null, rxFrames: 5, txPackets: 0, ringDrops: 7 },
              ],
            },
          };
        case 'logLevel.get':
          return { result: { level: 'info' } };
        case 'logLevel.set':
          return { result: { level: (request.params as { level: string }).level } };
        case 'config.show':
          return { result: { path: '/etc/mcr/mcr.json5', config: { workers: 1, rules: [] } } };
        case 'config.reload':
          return { result: { rules: 3, added: 1, changed: 0, removed: 0, dataPlaneRestartedFor: [] } };
        default:
          return { error: { code: 'EMETHOD', message: `unknown method "${request.method}"` } };
      }
    };
  }

  private serve(socket: net.Socket): void {
    let buffered = '';
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
        const request = JSON.parse(buffered.slice(0, newline)) as Request;
        buffered = buffered.slice(newline + 1);
        this.requests.push(request);
        const reply = this.reply(request);
        if ('none' in reply) continue;
        if ('raw' in reply) socket.write(reply.raw);
        else if ('result' in reply) socket.write(`${JSON.stringify({ id: request.id, ok: true, result: reply.result })}\n`);
        else socket.write(`${JSON.stringify({ id: request.id, ok: false, error: reply.error })}\n`);
      }
    });
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const { MCR_CONTROL_SOCKET: _ignored, ...inherited } = process.env;
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...inherited, ...env } }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
let daemon: FakeDaemon;
let socketPath: string;

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'mcrctl-test-'));
  socketPath = path.join(dir, 'mcrd.sock');
  daemon = new FakeDaemon(socketPath);
  await daemon.listen();
});

after(async () => {
  await daemon.close();
  rmSync(dir, { recursive: true, force: true });
});

beforeEach(() => {
  daemon.requests.length = 0;
  daemon.useDefaultReplies();
});

describe('ControlClient', () => {
  test('matches pipelined responses by id, whatever their order', async () => {
    const held: Array<() => void> = [];
    const server = net.createServer((socket) => {
      socket.setEncoding('utf8');
      let buffered = '';
      socket.on('data', (chunk: string) => {
        buffered += chunk;
        const lines = buffered.split('\n');
        buffered = lines.pop() ?? '';
        for (const line of lines) {
          const request = JSON.parse(line) as Request;
          held.push(() => socket.write(`${JSON.stringify({ id: request.id, ok: true, result: request.method })}\n`));
          // Answer both at once, newest first, in a single write split across a line.
          if (held.length === 2) {
            const [first, second] = held;
            second?.();
            first?.();
          }
        }
      });
    });
    const otherPath = path.join(dir, 'order.sock');
    await new Promise<void>((resolve) => server.listen(otherPath, resolve));
    // This fake answers every method with its name: a method map of its own.
    const client = new ControlClient<{ first: { params: NoParams; result: string }; second: { params: NoParams; result: string } }>(
      otherPath,
    );
    try {
      const [a, b] = await Promise.all([client.request('first'), client.request('second')]);
      assert.equal(a, 'first');
      assert.equal(b, 'second');
    } finally {
      client.close();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  test('error responses reject with the protocol code and message', async () => {
    const client = new ControlClient(socketPath);
    try {
      await assert.rejects(client.request('remove', { id: 'nope' }), (err: unknown) => {
        assert.ok(err instanceof ControlError);
        assert.equal(err.code, 'ENOENT');
        assert.equal(err.message, 'no rule with id "nope"');
        return true;
      });
      assert.deepEqual(daemon.requests, [{ id: 1, method: 'remove', params: { id: 'nope' } }]);
      // Same connection keeps working, ids keep counting.
      assert.deepEqual(await client.request('logLevel.get'), { level: 'info' });
      assert.equal(daemon.requests[1]?.id, 2);
      assert.equal('params' in (daemon.requests[1] ?? {}), false);
    } finally {
      client.close();
    }
  });

  test('an error with id null fails every outstanding request', async () => {
    daemon.reply = () => ({ raw: '{"id":null,"ok":false,"error":{"code":"EBUSY","message":"too many connections"}}\n' });
    const client = new ControlClient(socketPath);
    try {
      await assert.rejects(client.request('list'), { code: 'EBUSY', message: 'too many connections' });
    } finally {
      client.close();
    }
  });

  test('no reply within the timeout', async () => {
    daemon.reply = () => ({ none: true });
    const client = new ControlClient(socketPath);
    try {
      await assert.rejects(client.request('list', undefined, 100), {
        code: 'ETIMEOUT',
        message: 'no reply from mcrd to "list" within 0.1 s',
      });
    } finally {
      client.close();
    }
  });

  test('missing socket', async () => {
    const missing = path.join(dir, 'missing.sock');
    const client = new ControlClient(missing);
    await assert.rejects(client.request('ping'), {
      code: 'ECONNECT',
      message: `cannot connect to ${missing}: no such file (is mcrd running?)`,
    });
    client.close();
  });

  test('a path that is not a listening socket', async () => {
    const stale = path.join(dir, 'stale.sock');
    writeFileSync(stale, '');
    const client = new ControlClient(stale);
    await assert.rejects(client.request('ping'), {
      code: 'ECONNECT',
      message: `cannot connect to ${stale}: connection refused (is mcrd running?)`,
    });
    client.close();
  });
});

describe('mcrctl', () => {
  test('list prints a table, one row per output', async () => {
    const run = await runCli(['--socket', socketPath, 'list']);
    assert.equal(run.stderr, '');
    assert.equal(run.code, 0);
    assert.equal(
      run.stdout,
      [
        'ID            NAME        INPUT                OUTPUTS                                     STATUS',
        '112369aab3d3  video-feed  eth0 239.1.1.1:5001  239.2.2.2:5002:eth1, ttl 16                 waiting for eth2',
        '                                               10.0.3.9:6000:eth2, ttl 8, source 10.0.2.1',
        '',
      ].join('\n'),
    );
    assert.deepEqual(daemon.requests, [{ id: 1, method: 'list' }]);
  });

  test('list --json prints the raw result, options accepted after the command too', async () => {
    const run = await runCli(['list', '--json', '--socket', socketPath]);
    assert.equal(run.code, 0);
    assert.deepEqual(JSON.parse(run.stdout), { rules: [RULE] });
  });

  test('the socket path can come from MCR_CONTROL_SOCKET', async () => {
    const run = await runCli(['ping'], { MCR_CONTROL_SOCKET: socketPath });
    assert.equal(run.stdout, 'pong (dataplane running, up 12s)\n');
    assert.equal(run.code, 0);
  });

  test('an error response: one line on stderr, exit 1', async () => {
    const run = await runCli(['--socket', socketPath, 'remove', '--rule-id', 'abc']);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, 'mcrctl: no rule with id "abc"\n');
  });

  test('a missing socket: one line on stderr, exit 1', async () => {
    const missing = path.join(dir, 'nope.sock');
    const run = await runCli(['--socket', missing, 'list']);
    assert.equal(run.code, 1);
    assert.equal(run.stdout, '');
    assert.equal(run.stderr, `mcrctl: cannot connect to ${missing}: no such file (is mcrd running?)\n`);
  });

  test('usage errors: one line on stderr, exit 2', async () => {
    for (const [args, message] of [
      [['lisst'], "mcrctl: unknown command 'lisst' (Did you mean list?)\n"],
      [['list', '--bogus'], "mcrctl: unknown option '--bogus'\n"],
      [['remove'], 'mcrctl: remove: give exactly one of --rule-id or --name\n'],
      [['remove', '--rule-id', 'a', '--name', 'b'], 'mcrctl: remove: give exactly one of --rule-id or --name\n'],
      [['log-level', 'set', 'loud'], 'mcrctl: log-level set: expected one of error, warn, info, debug, trace, got "loud"\n'],
      [['stats', '--watch', '0'], 'mcrctl: --watch: expected a number of seconds >= 0.1, got "0"\n'],
    ] as Array<[string[], string]>) {
      const run = await runCli(['--socket', socketPath, ...args]);
      assert.equal(run.stderr, message, args.join(' '));
      assert.equal(run.code, 2, args.join(' '));
    }
    assert.deepEqual(daemon.requests, []);
  });

  test('add sends the rule and prints its id; ttl is left to the daemon unless given', async () => {
    const run = await runCli([
      '--socket',
      socketPath,
      'add',
      '--input-interface',
      'eth0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.2:5002:eth1,239.3.3.3:5003:eth1',
      '--outputs',
      '10.0.3.9:6000:eth2',
      '--name',
      'video-feed',
    ]);
    assert.equal(run.stderr, '');
    assert.equal(run.stdout, 'aaaaaaaaaaaa\n');
    assert.deepEqual(daemon.requests[0]?.params, {
      name: 'video-feed',
      input: { interface: 'eth0', group: '239.1.1.1', port: 5001 },
      outputs: [
        { group: '239.2.2.2', port: 5002, interface: 'eth1' },
        { group: '239.3.3.3', port: 5003, interface: 'eth1' },
        { group: '10.0.3.9', port: 6000, interface: 'eth2' },
      ],
    });
  });

  test('add --ttl and --source apply to every output', async () => {
    await runCli([
      '--socket',
      socketPath,
      'add',
      '--input-interface',
      'eth0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.2:5002:eth1,239.3.3.3:5003:eth2',
      '--ttl',
      '32',
      '--source',
      '10.0.0.1',
    ]);
    assert.deepEqual(daemon.requests[0]?.params, {
      input: { interface: 'eth0', group: '239.1.1.1', port: 5001 },
      outputs: [
        { group: '239.2.2.2', port: 5002, interface: 'eth1', ttl: 32, source: '10.0.0.1' },
        { group: '239.3.3.3', port: 5003, interface: 'eth2', ttl: 32, source: '10.0.0.1' },
      ],
    });
  });

  test('add is validated locally, naming the options', async () => {
    const run = await runCli([
      '--socket',
      socketPath,
      'add',
      '--input-interface',
      'eth0',
      '--input-group',
      '239.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.2:5002:eth0',
    ]);
    assert.equal(run.code, 2);
    assert.equal(
      run.stderr,
      `mcrctl: --input-group: expected an IPv4 address, got "239.1"; --outputs: "eth0" is also this rule's input interface (the relay would feed its own output back)\n`,
    );
    const bad = await runCli([
      '--socket',
      socketPath,
      'add',
      '--input-interface',
      'eth0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.2:x:eth1',
    ]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, 'mcrctl: --outputs: output "239.2.2.2:x:eth1" port: expected an integer from 0 to 65535, got "x"\n');
    assert.deepEqual(daemon.requests, []);
  });

  test('add --input-source, --input-protocol esp (no --input-port) and --only-with-listeners', async () => {
    const base = ['--socket', socketPath, 'add', '--input-interface', 'eth0', '--input-group', '239.1.1.1'];
    await runCli([...base, '--input-port', '0', '--input-source', '10.0.0.1', '--outputs', '239.2.2.2:0:eth1', '--only-with-listeners']);
    assert.deepEqual(daemon.requests[0]?.params, {
      input: { interface: 'eth0', group: '239.1.1.1', port: 0, source: '10.0.0.1' },
      outputs: [{ group: '239.2.2.2', port: 0, interface: 'eth1', onlyWithListeners: true }],
    });
    await runCli([...base, '--input-protocol', 'esp', '--outputs', '239.1.1.1:0:eth1']);
    assert.deepEqual(daemon.requests[1]?.params, {
      input: { interface: 'eth0', group: '239.1.1.1', port: 0, protocol: 'esp' },
      outputs: [{ group: '239.1.1.1', port: 0, interface: 'eth1' }],
    });
    const missing = await runCli([...base, '--outputs', '239.2.2.2:5002:eth1']);
    assert.equal(missing.code, 2);
    assert.equal(missing.stderr, 'mcrctl: --input-port: missing (a UDP port, or 0 for any port)\n');
    const bad = await runCli([
      ...base,
      '--input-port',
      '5001',
      '--input-source',
      '239.9.9.9',
      '--input-protocol',
      'tcp',
      '--outputs',
      '239.2.2.2:0:eth1',
    ]);
    assert.equal(bad.code, 2);
    assert.equal(
      bad.stderr,
      'mcrctl: --input-protocol: expected one of udp, esp, got "tcp"; --input-source: expected a unicast IPv4 address, got "239.9.9.9"; ' +
        "--outputs: 0 keeps each packet's port, which needs an input with port 0 (any port); expected 1 to 65535\n",
    );
    assert.equal(daemon.requests.length, 2);
  });

  test('remove by name', async () => {
    const run = await runCli(['--socket', socketPath, 'remove', '--name', 'video-feed']);
    assert.equal(run.stdout, 'removed 112369aab3d3 (video-feed)\n');
    assert.deepEqual(daemon.requests[0]?.params, { name: 'video-feed' });
  });

  test('stats: totals with thousands separators in the table, plain numbers in --json', async () => {
    const run = await runCli(['--socket', socketPath, 'stats']);
    assert.equal(run.code, 0);
    assert.equal(
      run.stdout,
      [
        'mcrd up 1m41s; totals since mcrd started',
        '',
        'WORKER  RX         MATCHED    NO_MATCH  FILTERED  TX         TX_ERR  RING_DROPS  BUF_EXHAUST  TTL_EXPIRED',
        '0       1,234,567  1,200,000  34,567    0         2,400,000  3       0           0            0',
        'total   1,234,567  1,200,000  34,567    0         2,400,000  3       0           0            0',
        '',
        'WORKER  BATCHES  WAKEUPS  HOLDOFFS',
        '0       41,152   40,001   38,000',
        'total   41,152   40,001   38,000',
        '',
        'RULE          NAME        OUTPUT               PACKETS    TX_ERR',
        '112369aab3d3  video-feed  (input, matched)     1,200,000',
        '                          239.2.2.2:5002:eth1  1,200,000  0',
        '',
      ].join('\n'),
    );
    const json = await runCli(['--socket', socketPath, '--json', 'stats']);
    // The fake daemon's counters grow by one sample's worth per call.
    assert.deepEqual(JSON.parse(json.stdout), statsAt(102, 2));
  });

  test('stats --watch --json prints one JSON line per sample until interrupted', async () => {
    const child = spawn(process.execPath, [CLI, '--socket', socketPath, '--json', 'stats', '--watch', '0.1']);
    let stdout = '';
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.split('\n').length > 3) resolve();
      });
    });
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.equal(stderr, '');
    const lines = stdout.trimEnd().split('\n');
    assert.ok(lines.length >= 3);
    assert.deepEqual(JSON.parse(lines[0] ?? ''), statsAt(101, 1));
    assert.deepEqual(JSON.parse(lines[1] ?? ''), statsAt(102, 2));
  });

  test('stats --watch shows rates from the deltas between samples', async () => {
    const child = spawn(process.execPath, [CLI, '--socket', socketPath, 'stats', '--watch', '0.1']);
    let stdout = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
        if (stdout.includes('per second')) resolve();
      });
    });
    child.kill('SIGINT');
    assert.equal(await exited, 0);
    // Not a terminal: samples are separated by a blank line, no screen clearing.
    assert.ok(!stdout.includes('\x1b['));
    // Sample 2 minus sample 1 over 1 s of mcrd uptime: exactly one sample's worth of counters.
    assert.match(stdout, /mcrd up 1m42s; per second over the last 1\.0 s \(packets, batches, wake-ups\)/);
    assert.match(stdout, /\ntotal {3}1,234,567 {2}1,200,000 {2}34,567 /);
    assert.match(stdout, /RULE {10}NAME {8}OUTPUT {15}PPS {8}TX_ERR\/S/);
  });

  test('workers', async () => {
    const run = await runCli(['--socket', socketPath, 'workers']);
    assert.equal(
      run.stdout,
      [
        'dataplane: pid 4242, running, 1 restart, started 2025-01-02T03:04:05.000Z',
        '',
        'WORKER  CPU  RX     TX     RING_DROPS',
        '0       2    1,000  2,000  0',
        '1       -    5      0      7',
        '',
      ].join('\n'),
    );
  });

  test('log-level get and set', async () => {
    assert.equal((await runCli(['--socket', socketPath, 'log-level', 'get'])).stdout, 'info\n');
    assert.equal((await runCli(['--socket', socketPath, 'log-level', 'set', 'debug'])).stdout, 'log level set to debug\n');
    assert.deepEqual(daemon.requests[1], { id: 1, method: 'logLevel.set', params: { level: 'debug' } });
  });

  test('config show and reload', async () => {
    const show = await runCli(['--socket', socketPath, 'config', 'show']);
    assert.deepEqual(JSON.parse(show.stdout), { workers: 1, rules: [] });
    const reload = await runCli(['--socket', socketPath, 'config', 'reload']);
    assert.equal(reload.stdout, 'reloaded: 3 rules (1 added, 0 changed, 0 removed)\n');
  });

  test('config reload says when the data plane restarted, and for which settings', async () => {
    daemon.reply = () => ({
      result: { rules: 1, added: 0, changed: 0, removed: 0, dataPlaneRestartedFor: ['workers', 'wakeupHoldoffUs'] },
    });
    const reload = await runCli(['--socket', socketPath, 'config', 'reload']);
    assert.equal(
      reload.stdout,
      'reloaded: 1 rule (0 added, 0 changed, 0 removed); data plane restarted (workers, wakeupHoldoffUs changed)\n',
    );
  });

  test('config check works without a daemon', async () => {
    const good = path.join(dir, 'good.json5');
    writeFileSync(
      good,
      "{ rules: [{ input: { interface: 'eth0', group: '239.1.1.1', port: 1 }, outputs: [{ group: '239.2.2.2', port: 2, interface: 'eth1' }] }] }",
    );
    const ok = await runCli(['--socket', path.join(dir, 'absent.sock'), 'config', 'check', good]);
    assert.equal(ok.code, 0);
    assert.equal(ok.stdout, `${good}: ok (1 rule)\n`);

    const bad = path.join(dir, 'bad.json5');
    writeFileSync(bad, '{ workers: 0, ttl: 0 }');
    const failed = await runCli(['config', 'check', bad]);
    assert.equal(failed.code, 1);
    assert.equal(failed.stdout, '');
    assert.equal(
      failed.stderr,
      `${bad}: workers: expected an integer from 1 to 32, got 0\n${bad}: ttl: expected an integer from 1 to 255 or "decrement", got 0\n`,
    );
    const json = await runCli(['--json', 'config', 'check', bad]);
    assert.equal(json.code, 1);
    assert.deepEqual(JSON.parse(json.stdout), {
      file: bad,
      ok: false,
      problems: ['workers: expected an integer from 1 to 32, got 0', 'ttl: expected an integer from 1 to 255 or "decrement", got 0'],
    });
  });

  test('version with and without a daemon', async () => {
    const reachable = await runCli(['--socket', socketPath, 'version']);
    assert.equal(reachable.stdout, 'mcrctl 0.1.0\nmcrd 0.1.0 (protocol 1)\n');
    const missing = path.join(dir, 'gone.sock');
    const unreachable = await runCli(['--socket', missing, 'version']);
    assert.equal(unreachable.code, 0);
    assert.equal(unreachable.stdout, `mcrctl 0.1.0\nmcrd not reachable (cannot connect to ${missing}: no such file (is mcrd running?))\n`);
  });
});
