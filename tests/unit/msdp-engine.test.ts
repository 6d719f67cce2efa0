// SPDX-License-Identifier: MIT
// MSDP peer state machine (src/routing/msdp/peer.ts, RFC 3618 section 11) and SA cache
// (src/routing/msdp/sa-cache.ts, sections 5 and 10) driven with a fake clock in milliseconds:
// who connects and who listens, connect retry, KeepAlive and Hold timers, resets on malformed
// input, each peer-RPF rule, mesh-group flooding, SA expiry and periodic origination.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MsdpSourceActive } from '../../src/routing/msdp/codec';
import { MsdpPeer, type MsdpPeerResult } from '../../src/routing/msdp/peer';
import { type MsdpPeerInfo, SaCache } from '../../src/routing/msdp/sa-cache';

const actions = (r: MsdpPeerResult) => r.actions.map((a) => (a.type === 'send' ? `send:${a.message.type}` : a.type));
const changes = (r: MsdpPeerResult) =>
  r.changes.filter((c) => c.type !== 'state').map((c) => (c.type === 'peer_down' ? `down:${c.reason}` : c.type));

describe('MSDP peer FSM', () => {
  test('the lower address connects at once and retries every ConnectRetry period', () => {
    const p = new MsdpPeer({ localAddress: '10.0.0.1', peerAddress: '10.0.0.2', connectRetryMs: 30_000 });
    assert.equal(p.role, 'connect');
    assert.equal(p.state, 'inactive');
    assert.deepEqual(actions(p.enable(0)), ['connect']);
    assert.equal(p.state, 'connecting');
    assert.equal(p.nextDeadline(), 30_000);
    // a refused connect changes nothing: the timer retries
    assert.deepEqual(actions(p.closed(10)), []);
    assert.deepEqual(actions(p.tick(29_999)), []);
    assert.deepEqual(actions(p.tick(30_000)), ['close', 'connect']);
    assert.equal(p.nextDeadline(), 60_000);
    assert.equal(p.accepting, false, 'the connecting side takes no incoming connection');
  });

  test('the higher address listens, and only a listener accepts', () => {
    const p = new MsdpPeer({ localAddress: '10.0.0.9', peerAddress: '10.0.0.2' });
    assert.equal(p.role, 'listen');
    assert.deepEqual(actions(p.enable(0)), []);
    assert.equal(p.state, 'listen');
    assert.equal(p.accepting, true);
    assert.equal(p.nextDeadline(), null);
    const up = p.connected(5);
    assert.deepEqual(actions(up), ['send:keepalive']);
    assert.deepEqual(changes(up), ['peer_up']);
    assert.equal(p.accepting, false);
    assert.deepEqual(actions(p.connected(6)), ['close'], 'a second connection while established is closed');
  });

  test('KeepAlive goes out when nothing else was sent for the period; Hold resets with nothing received', () => {
    const p = new MsdpPeer({
      localAddress: '10.0.0.1',
      peerAddress: '10.0.0.2',
      keepAliveMs: 60_000,
      holdMs: 75_000,
      connectRetryMs: 30_000,
    });
    p.enable(0);
    p.connected(1_000);
    assert.equal(p.view().keepAliveAt, 61_000);
    assert.equal(p.view().holdAt, 76_000);
    p.sent(40_000); // an SA went out: no KeepAlive needed until 100 s
    assert.deepEqual(actions(p.tick(61_000)), []);
    assert.deepEqual(actions(p.receive(70_000, { ok: true, message: { type: 'keepalive' } })), []);
    assert.equal(p.view().holdAt, 145_000);
    assert.deepEqual(actions(p.tick(100_000)), ['send:keepalive']);
    assert.equal(p.view().keepAliveAt, 160_000);
    assert.deepEqual(actions(p.tick(144_999)), []);
    const expired = p.tick(145_000);
    assert.deepEqual(actions(expired), ['close']);
    assert.deepEqual(changes(expired), ['down:hold_expired']);
    assert.equal(p.state, 'connecting');
    // after a reset the connector waits one retry period
    assert.equal(p.nextDeadline(), 175_000);
    assert.deepEqual(actions(p.tick(175_000)), ['close', 'connect']);
    assert.equal(p.view().resets, 1);
  });

  test('a malformed message resets the session with its reason; the listener listens again', () => {
    const p = new MsdpPeer({ localAddress: '10.0.0.9', peerAddress: '10.0.0.2' });
    p.enable(0);
    p.connected(0);
    const r = p.receive(10, { ok: false, reason: 'bad_prefix_length' });
    assert.deepEqual(actions(r), ['close']);
    assert.deepEqual(changes(r), ['down:malformed_bad_prefix_length']);
    assert.equal(p.state, 'listen');
    assert.equal(p.view().lastDownReason, 'malformed_bad_prefix_length');
  });

  test('an SA is handed on; the peer closing resets; disable closes and stays disabled', () => {
    const p = new MsdpPeer({ localAddress: '10.0.0.9', peerAddress: '10.0.0.2' });
    p.enable(0);
    p.connected(0);
    const sa: MsdpSourceActive = { type: 'source_active', rp: '10.0.0.2', entries: [] };
    assert.deepEqual(p.receive(1, { ok: true, message: sa }).message, sa);
    assert.deepEqual(changes(p.closed(2)), ['down:peer_closed']);
    assert.equal(p.state, 'listen');
    p.connected(3);
    const d = p.disable(4);
    assert.deepEqual(actions(d), ['close']);
    assert.deepEqual(changes(d), ['down:disabled']);
    assert.equal(p.state, 'disabled');
    assert.equal(p.accepting, false);
    assert.equal(p.nextDeadline(), null);
  });

  test('bad configurations are refused with the reason', () => {
    assert.throws(() => new MsdpPeer({ localAddress: '10.0.0.1', peerAddress: '10.0.0.1' }), /the same as the local address/);
    assert.throws(
      () => new MsdpPeer({ localAddress: '10.0.0.1', peerAddress: '10.0.0.2', keepAliveMs: 10, holdMs: 10 }),
      /must exceed the keepalive/,
    );
  });
});

const peer = (address: string, meshGroup: string | null = null, established = true): MsdpPeerInfo => ({ address, meshGroup, established });
const sa = (rp: string, ...pairs: [string, string][]): MsdpSourceActive => ({
  type: 'source_active',
  rp,
  entries: pairs.map(([source, group]) => ({ source, group })),
});

describe('SA cache: peer-RPF rules (RFC 3618 10.1.3)', () => {
  const RP = '10.9.9.9';
  test('rule: a mesh group member is accepted whatever the RP', () => {
    const c = new SaCache({ localRp: '10.0.0.1' });
    const peers = [peer('10.0.0.2', 'm'), peer('10.0.0.3')];
    const r = c.receive(0, '10.0.0.2', sa(RP, ['10.1.1.1', '239.1.1.1']), peers);
    assert.equal(r.accepted, 'mesh_group');
    assert.deepEqual(
      r.changes.map((x) => x.type),
      ['sa_added'],
    );
  });

  test('rule: the peer is the originating RP', () => {
    const c = new SaCache({ localRp: '10.0.0.1' });
    const r = c.receive(0, '10.0.0.2', sa('10.0.0.2', ['10.1.1.1', '239.1.1.1']), [peer('10.0.0.2'), peer('10.0.0.3')]);
    assert.equal(r.accepted, 'originator');
  });

  test('rule: the only peer', () => {
    const c = new SaCache({ localRp: '10.0.0.1' });
    assert.equal(c.receive(0, '10.0.0.2', sa(RP, ['10.1.1.1', '239.1.1.1']), [peer('10.0.0.2')]).accepted, 'only_peer');
  });

  test('rule: the RPF peer towards the RP by unicast routing, and nobody else', () => {
    const c = new SaCache({ localRp: '10.0.0.1', rpfPeer: (rp) => (rp === RP ? '10.0.0.3' : null) });
    const peers = [peer('10.0.0.2'), peer('10.0.0.3')];
    const bad = c.receive(0, '10.0.0.2', sa(RP, ['10.1.1.1', '239.1.1.1']), peers);
    assert.equal(bad.rejected, 'rpf_failed');
    assert.deepEqual(bad.changes, []);
    assert.deepEqual(bad.send, []);
    assert.equal(c.receive(0, '10.0.0.3', sa(RP, ['10.1.1.1', '239.1.1.1']), peers).accepted, 'rpf_peer');
    assert.equal(c.receive(0, '10.0.0.2', sa('10.8.8.8', ['10.1.1.1', '239.1.1.1']), peers).rejected, 'rpf_failed', 'no route to the RP');
  });

  test('an SA naming our own RP is a loop and dropped; so is one from an unknown peer', () => {
    const c = new SaCache({ localRp: '10.0.0.1' });
    assert.equal(c.receive(0, '10.0.0.2', sa('10.0.0.1', ['10.1.1.1', '239.1.1.1']), [peer('10.0.0.2')]).rejected, 'own_rp');
    assert.equal(c.receive(0, '10.0.0.7', sa(RP, ['10.1.1.1', '239.1.1.1']), [peer('10.0.0.2')]).rejected, 'rpf_failed');
    assert.deepEqual(c.entries(), []);
  });
});

describe('SA cache: flooding, expiry, origination', () => {
  const RP = '10.9.9.9';
  test('from a mesh group member: to non-members only; from a non-member: to everyone but the sender', () => {
    const c = new SaCache({ localRp: '10.0.0.1' });
    const peers = [
      peer('10.0.0.2', 'm'),
      peer('10.0.0.3', 'm'),
      peer('10.0.0.4'),
      peer('10.0.0.5', null, false),
      peer('10.0.0.6', 'other'),
    ];
    const fromMember = c.receive(0, '10.0.0.2', sa(RP, ['10.1.1.1', '239.1.1.1']), peers);
    assert.deepEqual(
      fromMember.send.map((s) => s.peer),
      ['10.0.0.4', '10.0.0.6'],
    );
    assert.equal(fromMember.send[0]?.message.rp, RP, 'the RP field is kept');
    const fromOther = c.receive(0, '10.0.0.4', sa('10.0.0.4', ['10.1.1.2', '239.1.1.1']), peers);
    assert.deepEqual(
      fromOther.send.map((s) => s.peer),
      ['10.0.0.2', '10.0.0.3', '10.0.0.6'],
    );
  });

  test('entries expire SG-State-Period after the last SA; a refresh moves the expiry; peer down removes', () => {
    const c = new SaCache({ localRp: '10.0.0.1', sgStatePeriodMs: 90_000 });
    const peers = [peer('10.0.0.2')];
    c.receive(0, '10.0.0.2', sa(RP, ['10.1.1.1', '239.1.1.1'], ['10.1.1.2', '239.1.1.1']), peers);
    const again = c.receive(60_000, '10.0.0.2', sa(RP, ['10.1.1.1', '239.1.1.1']), peers);
    assert.deepEqual(again.changes, [], 'a refresh is no change');
    assert.equal(c.nextDeadline(), 90_000);
    assert.deepEqual(c.tick(89_999, peers).changes, []);
    assert.deepEqual(c.tick(90_000, peers).changes, [
      { type: 'sa_removed', source: '10.1.1.2', group: '239.1.1.1', rp: RP, peer: '10.0.0.2', reason: 'expired' },
    ]);
    assert.equal(c.nextDeadline(), 150_000);
    assert.deepEqual(c.peerDown('10.0.0.2'), [
      { type: 'sa_removed', source: '10.1.1.1', group: '239.1.1.1', rp: RP, peer: '10.0.0.2', reason: 'peer_down' },
    ]);
    assert.deepEqual(c.entries(), []);
  });

  test('an originated SA goes out at once and every advertisement period, until withdrawn', () => {
    const c = new SaCache({ localRp: '10.0.0.1', advertisementPeriodMs: 60_000 });
    const peers = [peer('10.0.0.2'), peer('10.0.0.3', null, false)];
    const now = c.originate(1_000, '10.0.1.1', '239.1.1.1', peers);
    assert.deepEqual(now, [{ peer: '10.0.0.2', message: sa('10.0.0.1', ['10.0.1.1', '239.1.1.1']) }]);
    assert.deepEqual(c.originate(2_000, '10.0.1.1', '239.1.1.1', peers), [], 'already originated');
    c.originate(3_000, '10.0.1.2', '239.1.1.1', peers);
    assert.equal(c.nextDeadline(), 61_000);
    assert.deepEqual(c.tick(60_999, peers).send, []);
    assert.deepEqual(c.tick(61_000, peers).send, [
      { peer: '10.0.0.2', message: sa('10.0.0.1', ['10.0.1.1', '239.1.1.1'], ['10.0.1.2', '239.1.1.1']) },
    ]);
    assert.deepEqual(c.originatedFor('10.0.0.3'), [
      { peer: '10.0.0.3', message: sa('10.0.0.1', ['10.0.1.1', '239.1.1.1'], ['10.0.1.2', '239.1.1.1']) },
    ]);
    assert.equal(c.withdraw('10.0.1.1', '239.1.1.1'), true);
    assert.equal(c.withdraw('10.0.1.2', '239.1.1.1'), true);
    assert.equal(c.nextDeadline(), null);
    assert.deepEqual(c.tick(121_000, peers).send, []);
  });
});
