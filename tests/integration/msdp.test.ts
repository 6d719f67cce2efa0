// SPDX-License-Identifier: MIT
// MSDP in the real mcrd (config `msdp` section) against FRR 8.4's pimd: the session comes up on
// both sides; FRR, RP and first-hop router of a source on its other link, originates an SA that
// mcrd caches with the right (S,G,RP) and shows in `mcrctl msdp sa --json`; msdp.peer.up and
// msdp.sa.add arrive on `mcrctl events --json`; a frozen FRR is dropped by mcrd's Hold timer
// (short timers) and its SA goes with it; a reload restarts MSDP only when its section changed.
// Metrics are read from mcrd's Prometheus endpoint. A second lab starts mcrd before its
// localAddress exists: the listener binds once the address appears and FRR's session comes up.
//   mcr: m0 10.0.29.1 <-> frr: f0 10.0.29.2   (mcr has the lower address: it connects)
//                         frr: f1 10.0.28.1 <-> src: s0 10.0.28.2 (a multicast source; FRR is its RP)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { frrSkipReason, startFrr, type FrrInstance } from '../../lab/frr';
import { send } from '../../lab/mcrgen';
import { MCRCTL } from '../../lab/paths';
import type { Proc } from '../../lab/proc';
import type { MsdpPeersResult, MsdpSaResult } from '../../src/control/protocol';
import type { McrEvent } from '../../src/daemon/events';
import { pollUntil } from '../helpers/control';
import { TempDir } from '../helpers/datapath';
import { skipReason, startDaemon, Topology, type DaemonHandle } from '../helpers/netns';

const skip = skipReason() ?? frrSkipReason();
const MCR = '10.0.29.1';
const FRR = '10.0.29.2';
const SOURCE = '10.0.28.2';
const GROUP = '239.2.2.2';
/** Short timers on both sides: KeepAlive 2 s, Hold 6 s, ConnectRetry 2 s. */
const KEEPALIVE_S = 2;
const HOLD_S = 6;
const CONNECT_RETRY_S = 2;
const DEADLINE_MS = 20_000;
const HOLD_DEADLINE_MS = HOLD_S * 1000 + 15_000;

interface FrrMsdpPeer {
  peer: string;
  local: string;
  state: string;
}

interface Lab {
  t: Topology;
  mcrd: DaemonHandle;
  frr: FrrInstance;
  dir: TempDir;
  events: Proc;
}

function mcrConfig(meshGroup?: string): unknown {
  return {
    msdp: {
      localAddress: MCR,
      peers: [meshGroup === undefined ? { address: FRR } : { address: FRR, meshGroup }],
      keepaliveInterval: KEEPALIVE_S,
      holdTime: HOLD_S,
      connectRetry: CONNECT_RETRY_S,
    },
    telemetry: { metricsListen: '127.0.0.1:9464' },
    rules: [],
  };
}

/** FRR: the MSDP peer with the same short timers, and PIM with itself as RP for every group. */
const FRR_PIMD = [
  `ip msdp timers ${KEEPALIVE_S} ${HOLD_S} ${CONNECT_RETRY_S}`,
  `ip msdp peer ${MCR} source ${FRR}`,
  `ip pim rp ${FRR} 224.0.0.0/4`,
  'interface f0',
  ' ip pim',
  '!',
  'interface f1',
  ' ip pim',
  '!',
].join('\n');

async function setUp(): Promise<Lab> {
  const t = new Topology('msdf');
  const dir = new TempDir();
  await t.addNamespace('mcr');
  await t.addNamespace('frr');
  await t.addNamespace('src');
  await t.link('mcr', 'm0', `${MCR}/24`, 'frr', 'f0', `${FRR}/24`);
  await t.link('src', 's0', `${SOURCE}/24`, 'frr', 'f1', '10.0.28.1/24');
  const configFile = dir.config('mcr.json', mcrConfig());
  const mcrd = await startDaemon(t, 'mcr', { configFile });
  // Subscribed before FRR starts: the daemon keeps no backlog, and the session comes up with FRR.
  const events = t.spawn('mcr', 'mcrctl events --json', 'node', [MCRCTL, '--socket', mcrd.socket, 'events', '--json']);
  // subscribed once its connection to the control socket is up (no other client runs now)
  await pollUntil(
    async () => (await t.exec('mcr', 'ss', ['-x', '-H', 'state', 'connected', 'src', mcrd.socket])).stdout.trim(),
    (out) => out !== '',
    'mcrctl events connected to mcrd',
  );
  const frr = await startFrr(t, 'frr', { pimd: FRR_PIMD });
  return { t, mcrd, frr, dir, events };
}

async function tearDown(lab: Lab | undefined): Promise<void> {
  await lab?.events.stop('SIGINT', 5000);
  await lab?.mcrd.stop();
  await lab?.frr.stop();
  await lab?.t.destroy();
  lab?.dir.remove();
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

async function mcrPeers(lab: Lab): Promise<MsdpPeersResult> {
  return JSON.parse((await lab.mcrd.ctl(['msdp', 'peers', '--json'])).stdout) as MsdpPeersResult;
}

async function mcrSa(lab: Lab): Promise<MsdpSaResult> {
  return JSON.parse((await lab.mcrd.ctl(['msdp', 'sa', '--json'])).stdout) as MsdpSaResult;
}

async function metrics(lab: Lab): Promise<string> {
  return (
    await lab.t.exec('mcr', 'python3', [
      '-c',
      'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9464/metrics").read().decode())',
    ])
  ).stdout;
}

describe('MSDP in mcrd against FRR pimd', { skip }, () => {
  let lab: Lab | undefined;
  before(async () => {
    lab = await setUp();
  });
  after(() => tearDown(lab));

  it('the session is established on both sides; msdp.peer.up arrives on mcrctl events', async () => {
    assert.ok(lab);
    const frr = lab.frr;
    await pollUntil(
      () => frr.vtyshJson<Record<string, FrrMsdpPeer>>('show ip msdp peer'),
      (p) => p[MCR]?.state === 'established',
      `FRR's peer ${MCR} established`,
      DEADLINE_MS,
      200,
    );
    const l = lab;
    const peers = await pollUntil(
      () => mcrPeers(l),
      (r) => r.peers[0]?.state === 'established' && r.peers[0].messagesIn > 0 && r.peers[0].messagesOut > 0,
      "mcr's peer established with messages both ways",
      DEADLINE_MS,
      200,
    );
    assert.equal(peers.enabled, true);
    assert.equal(peers.localAddress, MCR);
    assert.equal(peers.peers.length, 1);
    const p = peers.peers[0]!;
    assert.equal(p.address, FRR);
    assert.equal(p.role, 'connect', 'the lower address connects');
    assert.equal(p.meshGroup, null);
    assert.equal(typeof p.uptime, 'number');
    assert.equal(p.lastResetReason, null);
    assert.ok(p.holdExpiresIn !== null && p.holdExpiresIn <= HOLD_S, `hold timer runs with ${HOLD_S} s: ${JSON.stringify(p)}`);
    assert.deepEqual(peers.counters.errors, {}, 'FRR sent nothing mcr could not parse');
    const up = await pollUntil(
      async () => eventsOf(l.events).filter((e) => e.type === 'msdp.peer.up'),
      (e) => e.length >= 1,
      'msdp.peer.up on mcrctl events',
      DEADLINE_MS,
      100,
    );
    assert.deepEqual(
      up.map((e) => (e.type === 'msdp.peer.up' ? e.peer : '')),
      [FRR],
    );
  });

  it('a reload leaves an unchanged msdp section alone; a changed one restarts MSDP (down disabled, then up)', async () => {
    assert.ok(lab);
    const l = lab;
    const kinds = (): string[] => eventsOf(l.events).map((e) => (e.type === 'msdp.peer.down' ? `down:${e.reason}` : e.type));
    const before = kinds().length;
    const resetsBefore = (await mcrPeers(l)).peers[0]?.resets;
    await l.mcrd.ctl(['config', 'reload']);
    // the reload is done when the call returns; a following meshGroup change then shows the order
    l.dir.config('mcr.json', mcrConfig('core'));
    await l.mcrd.ctl(['config', 'reload']);
    const after = await pollUntil(
      async () => kinds().slice(before),
      (k) => k.includes('msdp.peer.up'),
      'the session back after the changed section',
      DEADLINE_MS,
      100,
    );
    // exactly one restart: the unchanged reload reset nothing
    assert.deepEqual(
      after.filter((k) => k.startsWith('down:') || k === 'msdp.peer.up'),
      ['down:disabled', 'msdp.peer.up'],
    );
    const peers = await pollUntil(
      () => mcrPeers(l),
      (r) => r.peers[0]?.state === 'established',
      'established again',
      DEADLINE_MS,
      200,
    );
    assert.equal(peers.peers[0]?.meshGroup, 'core');
    // a new service: its counts start again
    assert.equal(peers.peers[0]?.resets, 0, `resets before the restart ${resetsBefore}`);
    const frr = l.frr;
    await pollUntil(
      () => frr.vtyshJson<Record<string, FrrMsdpPeer>>('show ip msdp peer'),
      (p) => p[MCR]?.state === 'established',
      `FRR's peer ${MCR} established again`,
      DEADLINE_MS,
      200,
    );
  });

  it('FRR as RP originates an SA for its source; mcr caches (S,G,RP) and reports it', async (ctx) => {
    assert.ok(lab);
    const l = lab;
    // a short stream from src: FRR, first-hop router and RP, registers the source with itself
    const sent = await send(l.t, 'src', { group: GROUP, port: 5000, source: SOURCE, rate: 20, count: 20, ttl: 8 });
    assert.equal(sent.sent, 20);
    const sa = await pollUntil(
      () => mcrSa(l),
      (r) => r.entries.length > 0,
      `mcrctl msdp sa lists an SA; FRR's view: ${await l.frr.vtysh('show ip msdp sa').catch(String)}`,
      DEADLINE_MS,
      200,
    );
    assert.equal(sa.enabled, true);
    assert.deepEqual(
      sa.entries.map((e) => ({ source: e.source, group: e.group, rp: e.rp, peer: e.peer })),
      [{ source: SOURCE, group: GROUP, rp: FRR, peer: FRR }],
    );
    assert.ok(
      sa.entries[0]!.expiresIn > 0 && sa.entries[0]!.expiresIn <= 90,
      `expires within SG-State-Period: ${sa.entries[0]!.expiresIn}`,
    );
    assert.deepEqual(sa.originated, []);
    const added = await pollUntil(
      async () => eventsOf(l.events).filter((e) => e.type === 'msdp.sa.add'),
      (e) => e.length >= 1,
      'msdp.sa.add on mcrctl events',
      DEADLINE_MS,
      100,
    );
    assert.deepEqual(added, [{ ...added[0], type: 'msdp.sa.add', source: SOURCE, group: GROUP, rp: FRR, peer: FRR }]);
    const peers = await mcrPeers(l);
    assert.equal(peers.peers[0]?.saLearned, 1);
    assert.deepEqual(peers.counters.rejected, {});
    assert.ok((peers.counters.received.source_active ?? 0) >= 1);
    // the text forms show the same rows
    const saText = (await l.mcrd.ctl(['msdp', 'sa'])).stdout;
    assert.match(saText, new RegExp(`^${SOURCE}\\s+${GROUP}\\s+${FRR}\\s+${FRR}\\s+\\d+(\\.\\d)?s$`, 'm'), saText);
    const peersText = (await l.mcrd.ctl(['msdp', 'peers'])).stdout;
    assert.match(peersText, new RegExp(`^${FRR}\\s+established\\s`, 'm'), peersText);
    ctx.diagnostic(`mcrctl msdp peers:\n${peersText}\nmcrctl msdp sa:\n${saText}`);
    const m = await metrics(l);
    assert.match(m, new RegExp(`^mcr_msdp_peer_up\\{peer="${FRR}"[^}]*\\} 1$`, 'm'));
    assert.match(m, /^mcr_msdp_sa_cache_entries(\{[^}]*\})? 1$/m);
    assert.match(m, /^mcr_msdp_messages_total\{direction="received",type="source_active"[^}]*\} [1-9]\d*$/m);
    assert.match(m, /^mcr_msdp_messages_total\{direction="received",type="keepalive"[^}]*\} [1-9]\d*$/m);
    assert.match(m, /^mcr_msdp_messages_total\{direction="sent",type="keepalive"[^}]*\} [1-9]\d*$/m);
    assert.doesNotMatch(m, /^mcr_msdp_errors_total/m);
  });

  it("a frozen FRR is dropped by mcr's Hold timer; its SA is removed; msdp.peer.down and msdp.sa.remove arrive", async (ctx) => {
    assert.ok(lab);
    const l = lab;
    const pimd = l.frr.daemons.get('pimd');
    assert.ok(pimd);
    // frozen, pimd keeps its TCP connection open but sends nothing: only the Hold timer can notice
    const seen = eventsOf(l.events).length;
    const frozenAt = Date.now();
    pimd.child.kill('SIGSTOP');
    try {
      const down = await pollUntil(
        async () =>
          eventsOf(l.events)
            .slice(seen)
            .filter((e) => e.type === 'msdp.peer.down'),
        (e) => e.length >= 1,
        "msdp.peer.down after mcr's Hold timer",
        HOLD_DEADLINE_MS,
        100,
      );
      const tookMs = Date.now() - frozenAt;
      ctx.diagnostic(`msdp.peer.down seen ${tookMs} ms after SIGSTOP (hold ${HOLD_S} s, events polled every 100 ms)`);
      assert.deepEqual(down, [{ ...down[0], type: 'msdp.peer.down', peer: FRR, reason: 'hold_expired' }]);
      // no earlier than the hold time less one KeepAlive interval (the last message came at most that long before the stop)
      assert.ok(tookMs >= (HOLD_S - KEEPALIVE_S) * 1000 - 500, `dropped after ${tookMs} ms`);
      const removed = await pollUntil(
        async () =>
          eventsOf(l.events)
            .slice(seen)
            .filter((e) => e.type === 'msdp.sa.remove'),
        (e) => e.length >= 1,
        'msdp.sa.remove on mcrctl events',
        DEADLINE_MS,
        100,
      );
      assert.deepEqual(removed, [
        { ...removed[0], type: 'msdp.sa.remove', source: SOURCE, group: GROUP, rp: FRR, peer: FRR, reason: 'peer_down' },
      ]);
      assert.deepEqual((await mcrSa(l)).entries, []);
      const peers = await mcrPeers(l);
      assert.notEqual(peers.peers[0]?.state, 'established');
      assert.equal(peers.peers[0]?.lastResetReason, 'hold_expired');
      assert.equal(peers.peers[0]?.uptime, null);
      assert.equal(peers.peers[0]?.saLearned, 0);
      const m = await metrics(l);
      assert.match(m, new RegExp(`^mcr_msdp_peer_up\\{peer="${FRR}"[^}]*\\} 0$`, 'm'));
      assert.match(m, /^mcr_msdp_sa_cache_entries(\{[^}]*\})? 0$/m);
    } finally {
      pimd.child.kill('SIGKILL');
    }
  });
});

describe('MSDP in mcrd: the listener waits for localAddress', { skip }, () => {
  // mcr 10.0.27.2 (higher: it listens), FRR 10.0.27.1 connects; m0 gets mcr's address only after mcrd started
  const LISTEN_MCR = '10.0.27.2';
  const LISTEN_FRR = '10.0.27.1';
  let t: Topology | undefined;
  let mcrd: DaemonHandle | undefined;
  let frr: FrrInstance | undefined;
  const dir = new TempDir();
  after(async () => {
    await mcrd?.stop();
    await frr?.stop();
    await t?.destroy();
    dir.remove();
  });

  it('binds once the address appears (retrying every connectRetry), then FRR connects and both sides are established', async () => {
    t = new Topology('msdf');
    await t.addNamespace('mcr');
    await t.addNamespace('frr');
    await t.link('mcr', 'm0', null, 'frr', 'f0', `${LISTEN_FRR}/24`);
    const configFile = dir.config('mcr.json', {
      msdp: { localAddress: LISTEN_MCR, peers: [{ address: LISTEN_FRR }], keepaliveInterval: 2, holdTime: 6, connectRetry: 1 },
      rules: [],
    });
    mcrd = await startDaemon(t, 'mcr', { configFile });
    const d = mcrd;
    await pollUntil(
      async () => d.stdout + d.stderr,
      (log) => log.includes(`cannot listen on ${LISTEN_MCR}:639`),
      'mcrd to log the failed bind',
      DEADLINE_MS,
      100,
    );
    const waiting = JSON.parse((await d.ctl(['msdp', 'peers', '--json'])).stdout) as MsdpPeersResult;
    assert.equal(waiting.enabled, true);
    assert.equal(waiting.peers[0]?.state, 'disabled', 'not started while the address is missing');
    frr = await startFrr(t, 'frr', {
      pimd: [`ip msdp timers 2 6 1`, `ip msdp peer ${LISTEN_MCR} source ${LISTEN_FRR}`, 'interface f0', ' ip pim', '!'].join('\n'),
    });
    await t.ip('mcr', ['addr', 'add', `${LISTEN_MCR}/24`, 'dev', 'm0']);
    const peers = await pollUntil(
      async () => JSON.parse((await d.ctl(['msdp', 'peers', '--json'])).stdout) as MsdpPeersResult,
      (r) => r.peers[0]?.state === 'established',
      "mcr's peer established after the address appeared",
      DEADLINE_MS,
      200,
    );
    assert.equal(peers.peers[0]?.role, 'listen');
    const f = frr;
    await pollUntil(
      () => f.vtyshJson<Record<string, FrrMsdpPeer>>('show ip msdp peer'),
      (p) => p[LISTEN_MCR]?.state === 'established',
      `FRR's peer ${LISTEN_MCR} established`,
      DEADLINE_MS,
      200,
    );
  });
});
