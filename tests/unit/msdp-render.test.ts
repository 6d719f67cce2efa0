// SPDX-License-Identifier: MIT
// mcrctl msdp peers / msdp sa as text: MSDP off, nothing learned, peers up and down, originated SAs.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderMsdpPeers, renderMsdpSa } from '../../src/cli/render';
import type { MsdpPeersResult } from '../../src/control/protocol';

const noCounters = { received: {}, sent: {}, errors: {}, rejected: {}, refusedConnections: 0 };

describe('renderMsdpPeers', () => {
  test('MSDP off', () => {
    assert.equal(
      renderMsdpPeers({ enabled: false, localAddress: null, counters: noCounters, peers: [] }),
      'MSDP is off (no msdp section in the config)',
    );
  });

  test('one row per peer: established with a mesh group, down with its last reset reason; counters below', () => {
    const result: MsdpPeersResult = {
      enabled: true,
      localAddress: '10.0.0.1',
      counters: {
        received: { keepalive: 12, source_active: 3 },
        sent: { keepalive: 9 },
        errors: {},
        rejected: { rpf_failed: 2 },
        refusedConnections: 1,
      },
      peers: [
        {
          address: '10.0.0.2',
          state: 'established',
          role: 'connect',
          uptime: 75,
          meshGroup: 'core',
          messagesIn: 15,
          messagesOut: 9,
          saLearned: 3,
          resets: 0,
          lastResetReason: null,
          holdExpiresIn: 70.2,
        },
        {
          address: '10.0.0.9',
          state: 'connecting',
          role: 'listen',
          uptime: null,
          meshGroup: null,
          messagesIn: 0,
          messagesOut: 1,
          saLearned: 0,
          resets: 1,
          lastResetReason: 'hold_expired',
          holdExpiresIn: null,
        },
      ],
    };
    assert.equal(
      renderMsdpPeers(result),
      [
        'local address 10.0.0.1',
        'PEER      STATE        UPTIME  MESH_GROUP  MSGS_IN  MSGS_OUT  SA_LEARNED  LAST_RESET',
        '10.0.0.2  established  1m15s   core             15         9           3  -',
        '10.0.0.9  connecting   -       -                 0         1           0  hold_expired',
        '',
        'received: keepalive 12, source_active 3',
        'sent: keepalive 9',
        'malformed: none',
        'SAs rejected: rpf_failed 2',
        'connections refused: 1',
      ].join('\n'),
    );
  });
});

describe('renderMsdpSa', () => {
  test('MSDP off, and an empty cache', () => {
    assert.equal(renderMsdpSa({ enabled: false, entries: [], originated: [] }), 'MSDP is off (no msdp section in the config)');
    assert.equal(renderMsdpSa({ enabled: true, entries: [], originated: [] }), 'no SAs learned');
  });

  test('one row per (S,G,RP), then what mcr originates', () => {
    assert.equal(
      renderMsdpSa({
        enabled: true,
        entries: [{ source: '10.0.28.2', group: '239.2.2.2', rp: '10.0.29.2', peer: '10.0.29.2', expiresIn: 88.4 }],
        originated: [{ source: '10.0.1.1', group: '239.1.1.1' }],
      }),
      [
        'SOURCE     GROUP      RP         LEARNED_FROM  EXPIRES',
        '10.0.28.2  239.2.2.2  10.0.29.2  10.0.29.2     88.4s',
        '',
        'originated as RP: (10.0.1.1, 239.1.1.1)',
      ].join('\n'),
    );
  });
});
