// SPDX-License-Identifier: MIT
// PIM Hello, neighbours and DR election (RFC 7761 4.3) between mcr and FRR's pimd on one link:
// each lists the other as a neighbour, both elect the same DR by priority and, at equal priority,
// by the higher address; a config reload changes mcr's priority and the election follows; a
// reload shows pim.neighbor.up on `mcrctl events --json`; stopping mcr makes FRR drop it at once
// (the holdtime-0 Hello), long before the holdtime mcr announced could run out.
//   mcr: m0 <-> frr: f0   (10.0.19.1 and 10.0.19.2, one way round or the other)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { frrSkipReason, startFrr, type FrrInstance } from '../../lab/frr';
import { MCRCTL } from '../../lab/paths';
import type { Proc } from '../../lab/proc';
import type { PimInterfacesResult, PimNeighborsResult } from '../../src/control/protocol';
import type { McrEvent } from '../../src/daemon/events';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { skipReason, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';

const skip = skipReason() ?? frrSkipReason();
const LOW = '10.0.19.1';
const HIGH = '10.0.19.2';
const FRR_PRIORITY = 5;
/** mcr's first Hello waits a random 0..5 s; FRR's come every second. Generous for a loaded machine. */
const DEADLINE_MS = 20_000;

/** One neighbour in FRR's `show ip pim neighbor json`: interface -> neighbour address -> this. */
interface FrrPimNeighbor {
  interface: string;
  neighbor: string;
  drPriority?: number;
}

/** FRR's `show ip pim interface f0 json` (detail form). */
interface FrrPimInterface {
  state?: string;
  address?: string;
  drAddress?: string;
  drPriority?: number;
}

interface Lab {
  t: Topology;
  mcrd: DaemonHandle;
  frr: FrrInstance;
  dir: TempDir;
  configFile: string;
}

function mcrConfig(drPriority: number, helloInterval: number): unknown {
  return {
    pim: { interfaces: [{ name: 'm0', drPriority, helloInterval }] },
    telemetry: { metricsListen: '127.0.0.1:9464' },
    rules: [],
  };
}

async function setUp(mcrAddress: string, frrAddress: string, mcrPriority: number, mcrHelloInterval = 1): Promise<Lab> {
  const t = new Topology('pimf');
  const dir = new TempDir();
  await t.addNamespace('mcr');
  await t.addNamespace('frr');
  await t.link('mcr', 'm0', `${mcrAddress}/24`, 'frr', 'f0', `${frrAddress}/24`);
  const configFile = dir.config('mcr.json', mcrConfig(mcrPriority, mcrHelloInterval));
  const mcrd = await startDaemon(t, 'mcr', { configFile });
  const frr = await startFrr(t, 'frr', {
    pimd: ['interface f0', ' ip pim', ' ip pim hello 1 3', ` ip pim drpriority ${FRR_PRIORITY}`, '!'].join('\n'),
  });
  return { t, mcrd, frr, dir, configFile };
}

async function tearDown(lab: Lab | undefined): Promise<void> {
  await lab?.mcrd.stop();
  await lab?.frr.stop();
  await lab?.t.destroy();
  lab?.dir.remove();
}

/** FRR's neighbours on f0, by address. */
async function frrNeighbors(frr: FrrInstance): Promise<Record<string, FrrPimNeighbor>> {
  const all = await frr.vtyshJson<Record<string, Record<string, FrrPimNeighbor>>>('show ip pim neighbor');
  return all.f0 ?? {};
}

async function frrInterface(frr: FrrInstance): Promise<FrrPimInterface | undefined> {
  return (await frr.vtyshJson<Record<string, FrrPimInterface>>('show ip pim interface f0')).f0;
}

async function mcrNeighbors(lab: Lab): Promise<PimNeighborsResult> {
  return JSON.parse((await lab.mcrd.ctl(['pim', 'neighbors', '--json'])).stdout) as PimNeighborsResult;
}

async function mcrInterface(lab: Lab): Promise<PimInterfacesResult['interfaces'][number] | undefined> {
  const r = JSON.parse((await lab.mcrd.ctl(['pim', 'interfaces', '--json'])).stdout) as PimInterfacesResult;
  return r.interfaces.find((i) => i.interface === 'm0');
}

/** Waits until each side lists the other as a neighbour; returns mcr's view of FRR. */
async function neighbours(lab: Lab, mcrAddress: string, frrAddress: string): Promise<PimNeighborsResult['neighbors'][number]> {
  const frrSide = await pollUntil(
    () => frrNeighbors(lab.frr),
    (n) => n[mcrAddress] !== undefined,
    `FRR to list mcr (${mcrAddress}) as a PIM neighbour`,
    DEADLINE_MS,
    200,
  );
  assert.equal(frrSide[mcrAddress]?.interface, 'f0');
  const mcrSide = await pollUntil(
    () => mcrNeighbors(lab),
    (r) => r.neighbors.some((n) => n.address === frrAddress),
    `mcr to list FRR (${frrAddress}) as a PIM neighbour`,
    DEADLINE_MS,
    200,
  );
  assert.equal(mcrSide.enabled, true);
  assert.equal(mcrSide.neighbors.length, 1, JSON.stringify(mcrSide));
  const n = mcrSide.neighbors[0]!;
  assert.equal(n.interface, 'm0');
  assert.equal(n.drPriority, FRR_PRIORITY);
  assert.equal(typeof n.generationId, 'number');
  // FRR's `ip pim hello 1 3`: holdtime 3 s.
  assert.equal(n.holdtime, 3);
  return n;
}

/**
 * Waits until FRR lists mcr (`mcrAddress`) with `mcrPriority` and both sides elect `dr`;
 * `mcrIsDr` says whose address that is. FRR alone elects itself, so it must see mcr first.
 */
async function bothElect(lab: Lab, dr: string, mcrIsDr: boolean, mcrAddress: string, mcrPriority: number): Promise<void> {
  await pollUntil(
    () => frrNeighbors(lab.frr),
    (n) => n[mcrAddress]?.drPriority === mcrPriority,
    `FRR to list mcr (${mcrAddress}) with DR priority ${mcrPriority}`,
    DEADLINE_MS,
    200,
  );
  const frr = await pollUntil(
    () => frrInterface(lab.frr),
    (i) => i?.drAddress === dr,
    `FRR to elect ${dr}`,
    DEADLINE_MS,
    200,
  );
  assert.equal(frr?.drAddress, dr);
  const mcr = await pollUntil(
    () => mcrInterface(lab),
    (i) => i?.dr?.address === dr && i.neighbors === 1,
    `mcr to elect ${dr}`,
    DEADLINE_MS,
    200,
  );
  assert.deepEqual(mcr?.dr, { address: dr, self: mcrIsDr });
  const neighbor = (await mcrNeighbors(lab)).neighbors[0];
  assert.equal(neighbor?.dr, !mcrIsDr, 'the neighbour row marks FRR as DR exactly when it is');
  // Both views were taken with each the other's neighbour.
  assert.equal((await frrNeighbors(lab.frr))[mcrAddress]?.drPriority, mcrPriority);
  assert.equal(mcr?.neighbors, 1);
}

/** Rewrites mcr's config file and applies it with `mcrctl config reload`. */
async function reload(lab: Lab, drPriority: number, helloInterval = 1): Promise<void> {
  lab.dir.config('mcr.json', mcrConfig(drPriority, helloInterval));
  await lab.mcrd.ctl(['config', 'reload']);
}

/** The stdout lines of a running `mcrctl events --json`, complete lines only, parsed. */
function eventsOf(proc: Proc): McrEvent[] {
  const text = proc.stdout;
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as McrEvent);
}

describe('PIM neighbours and DR election against FRR pimd', { skip }, () => {
  describe(`mcr ${LOW}, FRR ${HIGH}`, () => {
    let lab: Lab;
    before(async () => {
      lab = await setUp(LOW, HIGH, 10);
    });
    after(() => tearDown(lab));

    it('each lists the other; mcr (priority 10) is DR on both sides though its address is lower', async () => {
      await neighbours(lab, LOW, HIGH);
      await bothElect(lab, LOW, true, LOW, 10);
      const frrSide = await frrNeighbors(lab.frr);
      assert.equal(frrSide[LOW]?.drPriority, 10, 'FRR read the DR Priority of mcr Hellos');
      const mcr = await mcrInterface(lab);
      assert.equal(mcr?.address, LOW);
      assert.equal(mcr?.neighbors, 1);
      assert.ok((mcr?.counters.received.hello ?? 0) > 0, 'mcr counted FRR Hellos');
      assert.ok((mcr?.counters.sent.hello ?? 0) > 0, 'mcr counted its Hellos');
      assert.deepEqual(mcr?.counters.errors, {}, 'FRR Hellos parsed with no error');
      // The same as metrics, read through mcrd's Prometheus endpoint in its namespace.
      const metrics = (
        await lab.t.exec('mcr', 'python3', [
          '-c',
          'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9464/metrics").read().decode())',
        ])
      ).stdout;
      assert.match(metrics, /^mcr_pim_neighbors\{interface="m0"[^}]*\} 1$/m);
      assert.match(metrics, /^mcr_pim_messages_total\{direction="sent",type="hello"[^}]*\} [1-9]\d*$/m);
      assert.match(metrics, /^mcr_pim_messages_total\{direction="received",type="hello"[^}]*\} [1-9]\d*$/m);
      assert.doesNotMatch(metrics, /^mcr_pim_errors_total/m);
    });

    it('a reload to priority 1 makes FRR (priority 5) DR on both sides; pim.neighbor.up and pim.dr arrive on mcrctl events', async () => {
      const follower = lab.t.spawn('mcr', 'mcrctl events --json', 'node', [MCRCTL, '--socket', lab.mcrd.socket, 'events', '--json']);
      try {
        // The daemon keeps no backlog: an event before the subscription is not delivered. Each
        // reload restarts PIM (goodbye, new generation ID, neighbours learned again), so reload
        // until the follower shows the whole restart: FRR down (stopped), then up again, then
        // FRR elected.
        const restart = (): McrEvent[] | undefined => {
          const events = eventsOf(follower);
          const down = events.findIndex((e) => e.type === 'pim.neighbor.down' && e.neighbor === HIGH && e.reason === 'stopped');
          if (down < 0) return undefined;
          const up = events.findIndex((e, i) => i > down && e.type === 'pim.neighbor.up' && e.neighbor === HIGH && e.interface === 'm0');
          const dr = events.findIndex((e, i) => i > up && e.type === 'pim.dr' && e.interface === 'm0' && e.dr === HIGH);
          return up < 0 || dr < 0 ? undefined : events.slice(down);
        };
        let priority = 1;
        for (let attempt = 0; restart() === undefined; attempt++) {
          await reload(lab, priority);
          try {
            await pollUntil(
              async () => restart(),
              (e) => e !== undefined,
              'a PIM restart on mcrctl events',
              5_000,
              100,
            );
          } catch (err) {
            if (attempt >= 10) throw err;
            priority = priority === 1 ? 2 : 1;
          }
        }
        const events = restart() ?? [];
        const up = events.find((e) => e.type === 'pim.neighbor.up');
        assert.equal(up?.type, 'pim.neighbor.up');
        if (up?.type === 'pim.neighbor.up') {
          assert.equal(up.drPriority, FRR_PRIORITY);
          assert.equal(typeof up.generationId, 'number');
        }
        // Stopping PIM reported no DR, and FRR won once it was a neighbour again.
        assert.ok(
          events.some((e) => e.type === 'pim.dr' && e.dr === null),
          JSON.stringify(events),
        );
        assert.ok(
          events.some((e) => e.type === 'pim.dr' && e.dr === HIGH && e.self === false),
          JSON.stringify(events),
        );
        if (priority !== 1) await reload(lab, 1);
        await bothElect(lab, HIGH, false, LOW, 1);
      } finally {
        await follower.stop('SIGINT', 5000);
      }
    });

    it(`equal priority (${FRR_PRIORITY}): the higher address, FRR's, wins on both sides`, async () => {
      await reload(lab, FRR_PRIORITY);
      await bothElect(lab, HIGH, false, LOW, FRR_PRIORITY);
    });
  });

  describe(`mcr ${HIGH}, FRR ${LOW}`, () => {
    let lab: Lab;
    // Hellos every 10 s: the holdtime mcr announces is 35 s, so only its goodbye makes FRR drop it soon after the stop.
    const HELLO = 10;
    before(async () => {
      lab = await setUp(HIGH, LOW, FRR_PRIORITY, HELLO);
    });
    after(() => tearDown(lab));

    it(`equal priority (${FRR_PRIORITY}): the higher address, mcr's, wins on both sides`, async () => {
      await neighbours(lab, HIGH, LOW);
      await bothElect(lab, HIGH, true, HIGH, FRR_PRIORITY);
      assert.equal((await mcrInterface(lab))?.holdtime, 35);
    });

    it('mcr stops: FRR drops it at once (holdtime-0 Hello) and becomes DR', async () => {
      assert.notEqual((await frrNeighbors(lab.frr))[HIGH], undefined);
      const started = Date.now();
      await lab.mcrd.stop();
      // Without the goodbye FRR would keep mcr for 35 s after its last Hello, which was at most 10 s before the stop.
      const goodbyeDeadlineMs = HELLO * 3.5 * 1000 - HELLO * 1000 - 5_000;
      await pollUntil(
        () => frrNeighbors(lab.frr),
        (n) => n[HIGH] === undefined,
        'FRR to drop mcr as a neighbour',
        goodbyeDeadlineMs,
        100,
      );
      const tookMs = Date.now() - started;
      await pollUntil(
        () => frrInterface(lab.frr),
        (i) => i?.drAddress === LOW,
        'FRR to elect itself',
        DEADLINE_MS,
        200,
      );
      process.stderr.write(`FRR dropped mcr ${tookMs} ms after the stop began (mcr's holdtime 35 s)\n`);
    });
  });
});
