// SPDX-License-Identifier: MIT
// RPF answers from the kernel's routing table (src/routing/rpf.ts over native/core/route_lookup.cc)
// in a namespace of their own: router R has r0 10.0.1.1/24 to A (10.0.1.2) and r1 10.0.2.1/24 to
// B (10.0.2.2), and 10.99.0.0/16 via A. A child node process in R (a netlink socket works in its
// process's namespace) holds an RpfTable and answers commands. The route gives r0 and A as
// interface and neighbour (natively: unicast, prefix 16, R's source address); a directly connected
// address is its own neighbour; a local one is local. `ip route replace` via B is reported once
// with the new interface and neighbour, the other watched addresses not listed; deleting the route
// is reported as unreachable and a lookup gives undefined (natively ENETUNREACH naming the address);
// an `unreachable` route is EHOSTUNREACH; r1 going down is reported for the address behind it.
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NO_IPV6 } from '../../lab/netns';
import { start, type Proc } from '../../lab/proc';
import type { NativeRoute } from '../../src/native/addon';
import type { RpfAnswer, RpfChange } from '../../src/routing/rpf';
import { pollUntil } from '../helpers/control';
import { skipReason, Topology } from '../helpers/netns';

const skip = skipReason();
const RPF_MODULE = path.resolve(__dirname, '..', '..', 'src', 'routing', 'rpf.js');
const ADDON_MODULE = path.resolve(__dirname, '..', '..', 'src', 'native', 'addon.js');
const R0 = '10.0.1.1';
const A0 = '10.0.1.2';
const R1 = '10.0.2.1';
const B0 = '10.0.2.2';
const REMOTE = '10.99.1.1';

/**
 * The child in R: an RpfTable (100 ms debounce) printing one JSON line per change, and per command
 * ({id, cmd: 'watch'|'lookup'|'route', address}) one answer line with the same id; 'route' is the
 * native routeLookup (or its error's code and message).
 */
const RPF_CHILD = `
const { RpfTable } = require(process.argv[1]);
const { loadAddon } = require(process.argv[2]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\\n');
const table = new RpfTable({ onChange: (changes) => out({ type: 'change', changes }), onError: (e) => out({ type: 'error', message: e.message }) });
let pending = '';
process.stdin.on('data', (d) => {
  pending += d;
  for (let nl = pending.indexOf('\\n'); nl >= 0; nl = pending.indexOf('\\n')) {
    const c = JSON.parse(pending.slice(0, nl));
    pending = pending.slice(nl + 1);
    try {
      if (c.cmd === 'watch') out({ type: 'answer', id: c.id, answer: table.watch(c.address) ?? null });
      if (c.cmd === 'lookup') out({ type: 'answer', id: c.id, answer: table.lookup(c.address) ?? null });
      if (c.cmd === 'route') out({ type: 'answer', id: c.id, route: loadAddon().routeLookup(c.address) });
    } catch (e) {
      out({ type: 'answer', id: c.id, code: e.code, message: e.message });
    }
  }
});
process.stdin.on('end', () => table.close());
out({ type: 'ready' });
`;

/** A change as printed: JSON has no undefined, so an unreachable side is absent. */
interface PrintedChange {
  address: string;
  previous?: RpfAnswer;
  current?: RpfAnswer;
}

interface ChildLine {
  type: 'ready' | 'answer' | 'change' | 'error';
  id?: number;
  answer?: RpfAnswer | null;
  route?: NativeRoute;
  code?: string;
  message?: string;
  changes?: PrintedChange[];
}

/** RpfChange as the child prints it. */
function printed(change: RpfChange): PrintedChange {
  return JSON.parse(JSON.stringify(change)) as PrintedChange;
}

describe('RPF lookups from the kernel routing table', { skip }, () => {
  let t: Topology;
  let child: Proc;
  let nextId = 1;
  const viaA: RpfAnswer = { interface: 'r0', neighbor: A0, local: false };
  const viaB: RpfAnswer = { interface: 'r1', neighbor: B0, local: false };
  const connectedB: RpfAnswer = { interface: 'r1', neighbor: B0, local: false };

  const lines = (): ChildLine[] =>
    child.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as ChildLine);
  const changeLines = (from: number): ChildLine[] =>
    lines()
      .slice(from)
      .filter((l) => l.type === 'change');

  function waitForLine(what: string, match: (l: ChildLine) => boolean, from = 0): Promise<ChildLine> {
    return pollUntil(
      async () => {
        if (!child.running) throw new Error(`the RPF child exited: ${child.stderr}`);
        return lines().slice(from).find(match);
      },
      (l) => l !== undefined,
      `${what}; child said:\n${child.stdout}${child.stderr}`,
      10_000,
    ) as Promise<ChildLine>;
  }

  async function ask(cmd: 'watch' | 'lookup' | 'route', address: string): Promise<ChildLine> {
    const id = nextId++;
    child.child.stdin!.write(`${JSON.stringify({ id, cmd, address })}\n`);
    return waitForLine(`the answer to ${cmd} ${address}`, (l) => l.type === 'answer' && l.id === id);
  }

  /** The next change line from index `from` on, asserted to be the only one so far. */
  async function nextChange(what: string, from: number): Promise<PrintedChange[]> {
    const line = await waitForLine(what, (l) => l.type === 'change', from);
    assert.equal(changeLines(from).length, 1, `one change line for ${what}: ${child.stdout}`);
    return line.changes!;
  }

  before(async () => {
    t = new Topology('rl', { sysctls: NO_IPV6 });
    await t.addNamespace('r');
    await t.addNamespace('a');
    await t.addNamespace('b');
    await t.link('r', 'r0', `${R0}/24`, 'a', 'a0', `${A0}/24`);
    await t.link('r', 'r1', `${R1}/24`, 'b', 'b0', `${B0}/24`);
    await t.ip('r', ['route', 'add', '10.99.0.0/16', 'via', A0]);
    child = start('rpf table in r', 'ip', ['netns', 'exec', t.ns('r'), process.execPath, '-e', RPF_CHILD, RPF_MODULE, ADDON_MODULE], {
      stdin: 'pipe',
    });
    await waitForLine('ready line', (l) => l.type === 'ready');
  });

  after(async () => {
    child?.child.stdin?.end();
    await child?.stop('SIGKILL', 1000);
    await t?.destroy();
  });

  it('the native lookup: behind A is r0 via A, unicast, prefix 16, source r0; B is directly connected on r1', async () => {
    const ifindex = async (ifname: string): Promise<number> =>
      (JSON.parse((await t.ip('r', ['-j', 'link', 'show', 'dev', ifname])).stdout) as Array<{ ifindex: number }>)[0]!.ifindex;
    const { route } = await ask('route', REMOTE);
    assert.deepEqual(route, {
      interface: 'r0',
      ifindex: await ifindex('r0'),
      gateway: A0,
      preferredSource: R0,
      type: 'unicast',
      prefixLength: 16,
    });
    // Directly connected: no gateway, the connected /24.
    const connected = await ask('route', B0);
    assert.deepEqual(connected.route, {
      interface: 'r1',
      ifindex: await ifindex('r1'),
      preferredSource: R1,
      type: 'unicast',
      prefixLength: 24,
    });
  });

  it('watch: via A for the remote address, B itself when directly connected, local for R own address', async () => {
    assert.deepEqual((await ask('watch', REMOTE)).answer, viaA);
    assert.deepEqual((await ask('watch', B0)).answer, connectedB);
    assert.deepEqual((await ask('watch', R0)).answer, { interface: 'lo', neighbor: R0, local: true });
    const bad = await ask('watch', '10.99.1');
    assert.equal(bad.code, 'EINVAL');
    assert.match(bad.message!, /"10\.99\.1"/);
  });

  it('ip route replace via B: one change, the remote address now r1 and B; the others not listed', async () => {
    const from = lines().length;
    await t.ip('r', ['route', 'replace', '10.99.0.0/16', 'via', B0]);
    assert.deepEqual(await nextChange('the replaced route', from), [printed({ address: REMOTE, previous: viaA, current: viaB })]);
    assert.deepEqual((await ask('lookup', REMOTE)).answer, viaB);
  });

  it('deleting the route: reported unreachable, lookup gives nothing, natively ENETUNREACH naming the address', async () => {
    const from = lines().length;
    await t.ip('r', ['route', 'del', '10.99.0.0/16']);
    assert.deepEqual(await nextChange('the deleted route', from), [printed({ address: REMOTE, previous: viaB, current: undefined })]);
    assert.equal((await ask('lookup', REMOTE)).answer, null);
    const native = await ask('route', REMOTE);
    assert.equal(native.code, 'ENETUNREACH');
    assert.match(native.message!, /10\.99\.1\.1/);
  });

  it('an unreachable route is EHOSTUNREACH natively and no RPF answer; adding it is no change of the unreachable address', async () => {
    const from = lines().length;
    await t.ip('r', ['route', 'add', 'unreachable', '10.99.0.0/16']);
    const native = await ask('route', REMOTE);
    assert.equal(native.code, 'EHOSTUNREACH');
    assert.equal((await ask('lookup', REMOTE)).answer, null);
    // A marker change afterwards: the first change line is the marker's (nothing for the unreachable route).
    await t.ip('r', ['route', 'replace', '10.99.0.0/16', 'via', A0]);
    assert.deepEqual(await nextChange('the route back via A', from), [printed({ address: REMOTE, previous: undefined, current: viaA })]);
  });

  it('r1 going down: the directly connected B becomes unreachable', async () => {
    const from = lines().length;
    await t.ip('r', ['link', 'set', 'r1', 'down']);
    assert.deepEqual(await nextChange('r1 down', from), [printed({ address: B0, previous: connectedB, current: undefined })]);
    const back = lines().length;
    await t.ip('r', ['link', 'set', 'r1', 'up']);
    assert.deepEqual(await nextChange('r1 up', back), [printed({ address: B0, previous: undefined, current: connectedB })]);
  });
});
