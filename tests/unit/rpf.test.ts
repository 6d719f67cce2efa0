// SPDX-License-Identifier: MIT
// The RPF table's logic (src/routing/rpf.ts) without a kernel: what a kernel route means for RPF
// (gateway or the address itself, local, other types unreachable), the diff of watched answers,
// and RpfTable over an injected lookup (a Map the test edits) and an injected change source (the
// test calls its notify): a burst of notifications is one recheck and one callback with every
// changed address, unchanged addresses are not reported, nothing is reported when nothing
// changed, unwatch stops the source with the last address, and a failing source reaches onError.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { McrError } from '../../src/lib/errors';
import type { NativeRoute } from '../../src/native/addon';
import {
  type RouteChangeSource,
  type RpfAnswer,
  type RpfChange,
  rpfChanges,
  rpfFromRoute,
  RpfTable,
  sameRpfAnswer,
} from '../../src/routing/rpf';

const VIA_A: RpfAnswer = { interface: 'a0', neighbor: '10.0.1.2', local: false };
const VIA_B: RpfAnswer = { interface: 'b0', neighbor: '10.0.2.2', local: false };

function route(fields: Partial<NativeRoute>): NativeRoute {
  return { interface: 'a0', ifindex: 2, type: 'unicast', prefixLength: 16, ...fields };
}

/** A change source the test drives: notify() as the kernel monitor would, and whether it runs. */
function manualSource(): {
  source: RouteChangeSource;
  notify: () => void;
  fail: (e: Error) => void;
  running: () => boolean;
  starts: () => number;
} {
  let notify: (() => void) | undefined;
  let fail: ((e: Error) => void) | undefined;
  let starts = 0;
  return {
    source: (n, f) => {
      notify = n;
      fail = f;
      starts++;
      return () => {
        notify = undefined;
        fail = undefined;
      };
    },
    notify: () => notify?.(),
    fail: (e) => fail?.(e),
    running: () => notify !== undefined,
    starts: () => starts,
  };
}

/** Resolves with the first onChange call's changes (the test's deadline is node:test's timeout). */
function nextChange(table: { waiting?: (changes: RpfChange[]) => void }): Promise<RpfChange[]> {
  return new Promise((resolve) => (table.waiting = resolve));
}

describe('rpfFromRoute', () => {
  test('a route through a gateway: that interface, the gateway as neighbour', () => {
    assert.deepEqual(rpfFromRoute('10.99.1.1', route({ gateway: '10.0.1.2' })), VIA_A);
  });
  test('a directly connected address is its own neighbour', () => {
    assert.deepEqual(rpfFromRoute('10.0.1.7', route({ prefixLength: 24 })), { interface: 'a0', neighbor: '10.0.1.7', local: false });
  });
  test('a local address is local, its own neighbour', () => {
    assert.deepEqual(rpfFromRoute('10.0.1.1', route({ interface: 'lo', type: 'local', prefixLength: 32 })), {
      interface: 'lo',
      neighbor: '10.0.1.1',
      local: true,
    });
  });
  test('other route types, and an interface gone meanwhile, have no RPF answer', () => {
    for (const type of ['multicast', 'broadcast', 'blackhole', 'unreachable', 'prohibit', 'throw'] as const)
      assert.equal(rpfFromRoute('10.99.1.1', route({ type })), undefined, type);
    assert.equal(rpfFromRoute('10.99.1.1', route({ interface: '', gateway: '10.0.1.2' })), undefined);
  });
});

describe('rpfChanges', () => {
  test('reports exactly the addresses whose interface, neighbour or locality changed, in order', () => {
    const previous = new Map<string, RpfAnswer | undefined>([
      ['10.99.0.1', VIA_A],
      ['10.98.0.1', VIA_A],
      ['10.97.0.1', undefined],
      ['10.96.0.1', VIA_B],
      ['10.95.0.1', VIA_B],
    ]);
    const now = new Map<string, RpfAnswer | undefined>([
      ['10.99.0.1', VIA_B], // interface and neighbour
      ['10.98.0.1', { ...VIA_A }], // equal, another object
      ['10.97.0.1', VIA_A], // became reachable
      ['10.96.0.1', undefined], // became unreachable
      ['10.95.0.1', { ...VIA_B, local: true }],
    ]);
    const { answers, changes } = rpfChanges(previous, (a) => now.get(a));
    assert.deepEqual([...answers], [...now]);
    assert.deepEqual(changes, [
      { address: '10.99.0.1', previous: VIA_A, current: VIA_B },
      { address: '10.97.0.1', previous: undefined, current: VIA_A },
      { address: '10.96.0.1', previous: VIA_B, current: undefined },
      { address: '10.95.0.1', previous: VIA_B, current: { ...VIA_B, local: true } },
    ]);
    assert.ok(sameRpfAnswer(undefined, undefined));
    assert.ok(!sameRpfAnswer(VIA_A, undefined));
  });
});

describe('RpfTable', () => {
  function table(kernel: Map<string, RpfAnswer>, debounceMs = 20) {
    const source = manualSource();
    let lookups = 0;
    const calls: RpfChange[][] = [];
    const errors: Error[] = [];
    const waiter: { waiting?: (changes: RpfChange[]) => void } = {};
    const rpf = new RpfTable({
      lookup: (address) => {
        lookups++;
        return kernel.get(address);
      },
      changeSource: source.source,
      debounceMs,
      onChange: (changes) => {
        calls.push(changes);
        waiter.waiting?.(changes);
        waiter.waiting = undefined;
      },
      onError: (e) => errors.push(e),
    });
    return { rpf, source, calls, errors, waiter, lookups: () => lookups };
  }

  test('watch gives the answer now and starts the change source once; a bad address is EINVAL naming it', () => {
    const kernel = new Map([['10.99.0.1', VIA_A]]);
    const { rpf, source } = table(kernel);
    assert.equal(source.running(), false, 'nothing watched: no source');
    assert.deepEqual(rpf.watch('10.99.0.1'), VIA_A);
    assert.equal(rpf.watch('10.98.0.1'), undefined);
    assert.equal(source.starts(), 1);
    assert.throws(
      () => rpf.watch('10.99.0'),
      (e: unknown) => e instanceof McrError && e.code === 'EINVAL' && e.message.includes('"10.99.0"'),
    );
    rpf.close();
    assert.equal(source.running(), false);
  });

  test('a burst of notifications is one recheck and one callback listing every changed address', async () => {
    const kernel = new Map([
      ['10.99.0.1', VIA_A],
      ['10.98.0.1', VIA_A],
      ['10.97.0.1', VIA_A],
    ]);
    const t = table(kernel);
    for (const address of kernel.keys()) t.rpf.watch(address);
    const lookupsAfterWatch = t.lookups();
    kernel.set('10.99.0.1', VIA_B);
    kernel.delete('10.98.0.1');
    const changed = nextChange(t.waiter);
    for (let i = 0; i < 10; i++) t.source.notify();
    assert.deepEqual(await changed, [
      { address: '10.99.0.1', previous: VIA_A, current: VIA_B },
      { address: '10.98.0.1', previous: VIA_A, current: undefined },
    ]);
    assert.equal(t.lookups() - lookupsAfterWatch, 3, 'one lookup per watched address for the whole burst');
    assert.equal(t.calls.length, 1);
    assert.deepEqual(t.rpf.watched().get('10.99.0.1'), VIA_B);
    t.rpf.close();
  });

  test('a notification that changed nothing watched calls nothing; the next real change is reported alone', async () => {
    const kernel = new Map([['10.99.0.1', VIA_A]]);
    const t = table(kernel);
    t.rpf.watch('10.99.0.1');
    t.rpf.watch('10.98.0.1');
    const lookupsBefore = t.lookups();
    t.source.notify(); // nothing changed
    while (t.lookups() < lookupsBefore + 2) await new Promise((resolve) => setTimeout(resolve, 5)); // that recheck ran
    assert.equal(t.calls.length, 0);
    kernel.set('10.98.0.1', VIA_B);
    const changed = nextChange(t.waiter);
    t.source.notify();
    assert.deepEqual(await changed, [{ address: '10.98.0.1', previous: undefined, current: VIA_B }]);
    assert.equal(t.calls.length, 1);
    t.rpf.close();
  });

  test('unwatch: the address is no longer reported; the last one stops the source', async () => {
    const kernel = new Map([
      ['10.99.0.1', VIA_A],
      ['10.98.0.1', VIA_A],
    ]);
    const t = table(kernel);
    t.rpf.watch('10.99.0.1');
    t.rpf.watch('10.98.0.1');
    t.rpf.unwatch('10.99.0.1');
    kernel.set('10.99.0.1', VIA_B);
    kernel.set('10.98.0.1', VIA_B);
    const changed = nextChange(t.waiter);
    t.source.notify();
    assert.deepEqual(await changed, [{ address: '10.98.0.1', previous: VIA_A, current: VIA_B }]);
    t.rpf.unwatch('10.98.0.1');
    assert.equal(t.source.running(), false);
    assert.equal(t.rpf.watched().size, 0);
  });

  test('lookup asks the lookup function every time, watched or not; a failing source reaches onError and stops', () => {
    const kernel = new Map([['10.99.0.1', VIA_A]]);
    const t = table(kernel);
    assert.deepEqual(t.rpf.lookup('10.99.0.1'), VIA_A);
    t.rpf.watch('10.99.0.1');
    kernel.set('10.99.0.1', VIA_B);
    assert.deepEqual(t.rpf.lookup('10.99.0.1'), VIA_B);
    assert.deepEqual(t.rpf.watched().get('10.99.0.1'), VIA_A, 'the watched answer changes with the recheck only');
    const failure = Object.assign(new Error('route monitor: recvfrom: boom'), { code: 'EIO' });
    t.source.fail(failure);
    assert.deepEqual(t.errors, [failure]);
    assert.equal(t.source.running(), false);
    t.rpf.close();
  });
});
