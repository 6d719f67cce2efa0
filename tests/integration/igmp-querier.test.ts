// SPDX-License-Identifier: MIT
// IGMP querier election (RFC 3376 6.6.2) between mcr and an independent querier, FRR's pimd, on
// one link: the lower address wins on both sides, the loser stops querying, and when the querier
// goes away the other takes over after its Other Querier Present interval.
//   mcr: m0 <-> frr: f0   (10.0.9.1 and 10.0.9.2, one way round or the other)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { frrSkipReason, startFrr, type FrrInstance } from '../../lab/frr';
import type { IgmpGroupsResult } from '../../src/control/protocol';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { skipReason, sleep, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';

const skip = skipReason() ?? frrSkipReason();
const LOW = '10.0.9.1';
const HIGH = '10.0.9.2';
// Short timers on both sides (FRR's robustness is fixed at 2).
const QUERY_INTERVAL = 2;
const QUERY_RESPONSE_INTERVAL = 1;
const ROBUSTNESS = 2;
/** The Other Querier Present interval of both sides with these timers: 4.5 s. */
const OQPI_MS = (ROBUSTNESS * QUERY_INTERVAL + QUERY_RESPONSE_INTERVAL / 2) * 1000;
/** Deadlines: the interval plus generous slack for a loaded machine. */
const TAKEOVER_DEADLINE_MS = OQPI_MS + 15_000;
const ELECTION_DEADLINE_MS = 15_000;

/** FRR's view of f0 (`show ip igmp interface f0 json`, the detail form: the brief one leaves `querier` out on a non-querier). */
interface FrrIgmpInterface {
  state: string;
  address: string;
  querier: 'local' | 'other';
  querierIp: string;
}

interface Lab {
  t: Topology;
  mcrd: DaemonHandle;
  frr: FrrInstance;
  dir: TempDir;
}

async function setUp(mcrAddress: string, frrAddress: string): Promise<Lab> {
  const t = new Topology('qrr');
  const dir = new TempDir();
  await t.addNamespace('mcr');
  await t.addNamespace('frr');
  await t.link('mcr', 'm0', `${mcrAddress}/24`, 'frr', 'f0', `${frrAddress}/24`);
  const configFile = dir.config('mcr.json', {
    igmp: {
      interfaces: ['m0'],
      queryInterval: QUERY_INTERVAL,
      queryResponseInterval: QUERY_RESPONSE_INTERVAL,
      robustness: ROBUSTNESS,
    },
    rules: [],
  });
  const mcrd = await startDaemon(t, 'mcr', { configFile });
  // query-max-response-time is in deciseconds and must not exceed the query interval, so it comes first
  const frr = await startFrr(t, 'frr', {
    pimd: [
      'interface f0',
      ' ip igmp',
      ` ip igmp query-max-response-time ${QUERY_RESPONSE_INTERVAL * 10}`,
      ` ip igmp query-interval ${QUERY_INTERVAL}`,
      '!',
    ].join('\n'),
  });
  return { t, mcrd, frr, dir };
}

async function tearDown(lab: Lab | undefined): Promise<void> {
  await lab?.mcrd.stop();
  await lab?.frr.stop();
  await lab?.t.destroy();
  lab?.dir.remove();
}

type McrQuerier = NonNullable<IgmpGroupsResult['interfaces'][number]['querier']>;

async function mcrView(mcrd: DaemonHandle): Promise<{ querier: McrQuerier | null; counters: IgmpGroupsResult['counters'] }> {
  const g = await mcrd.request('igmp.groups');
  return { querier: g.interfaces.find((i) => i.interface === 'm0')?.querier ?? null, counters: g.counters };
}

async function frrView(frr: FrrInstance): Promise<FrrIgmpInterface | undefined> {
  return (await frr.vtyshJson<Record<string, FrrIgmpInterface>>('show ip igmp interface f0')).f0;
}

/** FRR's IGMP counters on f0 (`show ip igmp statistics interface f0 json`). */
async function frrStats(frr: FrrInstance): Promise<{ queryV3: number; generalQueriesSent: number }> {
  const s = await frr.vtyshJson<Record<string, { queryV3?: unknown; generalQueriesSent?: unknown }>>(
    'show ip igmp statistics interface f0',
  );
  const { queryV3, generalQueriesSent } = s.f0 ?? {};
  if (typeof queryV3 !== 'number' || typeof generalQueriesSent !== 'number')
    throw new Error(`show ip igmp statistics json has no f0 queryV3 and generalQueriesSent: ${JSON.stringify(s)}`);
  return { queryV3, generalQueriesSent };
}

describe('IGMP querier election against FRR pimd', { skip }, () => {
  describe(`mcr ${LOW}, FRR ${HIGH}: mcr is the querier`, () => {
    let lab: Lab;
    before(async () => {
      lab = await setUp(LOW, HIGH);
    });
    after(() => tearDown(lab));

    it('both agree mcr is the querier, and FRR stops querying', async () => {
      const frr = await pollUntil(
        () => frrView(lab.frr),
        (v) => v?.state === 'up' && v.querier === 'other',
        'FRR to lose the election',
        ELECTION_DEADLINE_MS,
        200,
      );
      assert.equal(frr?.querierIp, LOW);
      const frrBefore = await frrStats(lab.frr);
      assert.ok(frrBefore.queryV3 > 0, 'FRR counted mcr queries');
      const mcr = await mcrView(lab.mcrd);
      assert.equal(mcr.querier?.self, true);
      assert.equal(mcr.querier?.address, LOW);
      assert.equal(mcr.querier?.otherQuerierExpiresIn, null);

      // A query interval and more with FRR as non-querier: no query from it reaches mcr, and mcr keeps querying.
      const before = mcr.counters;
      await sleep(QUERY_INTERVAL * 2 * 1000 + 500);
      const later = await mcrView(lab.mcrd);
      assert.equal(later.counters.received.query_v3 ?? 0, before.received.query_v3 ?? 0, 'no query from FRR reached mcr');
      const frrLater = await frrStats(lab.frr);
      assert.equal(frrLater.generalQueriesSent, frrBefore.generalQueriesSent, 'FRR sent no general query');
      assert.ok(frrLater.queryV3 > frrBefore.queryV3, 'FRR went on receiving mcr queries');
      assert.ok((later.counters.sent.query_v3 ?? 0) > (before.sent.query_v3 ?? 0), 'mcr went on querying');
      assert.equal(later.querier?.self, true);
      assert.deepEqual(later.counters.errors, {});
      assert.equal((await frrView(lab.frr))?.querier, 'other');
    });

    it('mcr stops: FRR takes over after its Other Querier Present interval', async () => {
      assert.equal((await frrView(lab.frr))?.querier, 'other');
      // Taken before the stop: mcr's last query came at most a query interval before this.
      const started = Date.now();
      await lab.mcrd.stop();
      await pollUntil(
        () => frrView(lab.frr),
        (v) => v?.querier === 'local' && v.querierIp === HIGH,
        'FRR to become the querier',
        TAKEOVER_DEADLINE_MS,
        100,
      );
      const tookMs = Date.now() - started;
      // FRR's interval is mcr's QRV x QQI (adopted) + its own response time / 2: 4.5 s as well.
      assert.ok(
        tookMs >= OQPI_MS - QUERY_INTERVAL * 1000,
        `FRR took over ${tookMs} ms after mcr stopped, before its interval ${OQPI_MS} ms could run out`,
      );
      process.stderr.write(`FRR took over ${tookMs} ms after mcr stopped (its interval ${OQPI_MS} ms)\n`);
    });
  });

  describe(`FRR ${LOW}, mcr ${HIGH}: FRR is the querier`, () => {
    let lab: Lab;
    before(async () => {
      lab = await setUp(HIGH, LOW);
    });
    after(() => tearDown(lab));

    it('both agree FRR is the querier, and mcr stops querying', async () => {
      const mcr = await pollUntil(
        () => mcrView(lab.mcrd),
        (v) => v.querier?.self === false,
        'mcr to lose the election',
        ELECTION_DEADLINE_MS,
        200,
      );
      assert.equal(mcr.querier?.address, LOW);
      const expiresIn = mcr.querier?.otherQuerierExpiresIn;
      assert.ok(expiresIn !== null && expiresIn !== undefined && expiresIn > 0 && expiresIn <= OQPI_MS / 1000, `expires in ${expiresIn} s`);
      assert.ok((mcr.counters.received.query_v3 ?? 0) > 0, 'mcr counted FRR queries');
      const frr = await frrView(lab.frr);
      assert.equal(frr?.querier, 'local');
      assert.equal(frr?.querierIp, LOW);
      const frrBefore = await frrStats(lab.frr);

      // Two query intervals later: FRR's queries keep arriving, mcr sent none and is still non-querier.
      const before = mcr.counters;
      await sleep(QUERY_INTERVAL * 2 * 1000 + 500);
      const later = await mcrView(lab.mcrd);
      assert.equal(later.counters.sent.query_v3 ?? 0, before.sent.query_v3 ?? 0, 'mcr sent no query');
      assert.ok((later.counters.received.query_v3 ?? 0) > (before.received.query_v3 ?? 0), 'FRR went on querying');
      assert.ok((await frrStats(lab.frr)).generalQueriesSent > frrBefore.generalQueriesSent, 'FRR counted its queries');
      assert.equal(later.querier?.self, false);
      assert.equal(later.querier?.address, LOW);
      // FRR's queries parsed cleanly, none dropped as malformed
      assert.deepEqual(later.counters.errors, {});
    });

    it('FRR stops: mcr takes over after its Other Querier Present interval', async () => {
      // before the request: mcr computed expiresIn no earlier than this
      const readAt = Date.now();
      const atStop = await mcrView(lab.mcrd);
      const sentBefore = atStop.counters.sent.query_v3 ?? 0;
      // what mcr's Other Querier Present timer had left (rounded to 0.1 s, and 10 ms for timer granularity); FRR may still query before it dies, which only adds
      const expiresInMs = (atStop.querier?.otherQuerierExpiresIn ?? 0) * 1000;
      // Taken before the stop: FRR's last query came at most a query interval before this.
      const started = Date.now();
      await lab.frr.stop();
      const mcr = await pollUntil(
        () => mcrView(lab.mcrd),
        (v) => v.querier?.self === true,
        'mcr to become the querier',
        TAKEOVER_DEADLINE_MS,
        100,
      );
      const tookMs = Date.now() - started;
      assert.equal(mcr.querier?.address, HIGH);
      assert.equal(mcr.querier?.otherQuerierExpiresIn, null);
      // Delays only make the takeover later, so this lower bound holds on a loaded machine too.
      assert.ok(
        tookMs >= OQPI_MS - QUERY_INTERVAL * 1000,
        `mcr took over ${tookMs} ms after FRR stopped, before its interval ${OQPI_MS} ms could run out`,
      );
      assert.ok(
        tookMs >= expiresInMs - 60 - (started - readAt),
        `mcr took over ${tookMs} ms after FRR stopped, before its timer (${expiresInMs} ms left) ran out`,
      );
      await pollUntil(
        async () => (await mcrView(lab.mcrd)).counters.sent.query_v3 ?? 0,
        (n) => n > sentBefore,
        'mcr to query again',
      );
      process.stderr.write(
        `mcr took over ${tookMs} ms after FRR stopped (its interval ${OQPI_MS} ms, ${expiresInMs} ms of it left at the stop)\n`,
      );
    });
  });
});
