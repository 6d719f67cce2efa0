// SPDX-License-Identifier: MIT
// mcrctl pim neighbors / interfaces / rp / joins as text: PIM off, nothing yet, waiting interfaces and the rows.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderPimInterfaces, renderPimJoins, renderPimNeighbors, renderPimRp } from '../../src/cli/render';
import type { PimInterfacesResult, PimJoinsResult } from '../../src/control/protocol';

const counters = { received: {}, sent: {}, errors: {}, ignored: {} };

describe('renderPimNeighbors', () => {
  test('PIM off and no neighbours', () => {
    assert.equal(renderPimNeighbors({ enabled: false, neighbors: [] }), 'PIM is off (no pim section in the config)');
    assert.equal(renderPimNeighbors({ enabled: true, neighbors: [] }), 'no PIM neighbours');
  });

  test('one row per neighbour: never-expiring, missing options and the DR mark', () => {
    const text = renderPimNeighbors({
      enabled: true,
      neighbors: [
        {
          interface: 'eth1',
          address: '10.0.0.2',
          uptime: 75,
          expiresIn: 2.7,
          holdtime: 3,
          drPriority: 5,
          generationId: 0xdee864,
          dr: true,
          secondaryAddresses: [],
        },
        {
          interface: 'eth1',
          address: '10.0.0.3',
          uptime: 3,
          expiresIn: null,
          holdtime: 0xffff,
          drPriority: null,
          generationId: null,
          dr: false,
          secondaryAddresses: [],
        },
      ],
    });
    assert.deepEqual(text.split('\n'), [
      'INTERFACE  NEIGHBOR  UPTIME  EXPIRES  DR_PRIORITY  GENERATION_ID',
      'eth1       10.0.0.2  1m15s   2.7s     5            0x00dee864     DR',
      'eth1       10.0.0.3  3s      never    -            -',
    ]);
  });
});

describe('renderPimInterfaces', () => {
  test('PIM off', () => {
    assert.equal(renderPimInterfaces({ enabled: false, counters, interfaces: [] }), 'PIM is off (no pim section in the config)');
  });

  test('a running and a waiting interface, then the totals', () => {
    const result: PimInterfacesResult = {
      enabled: true,
      counters: { received: { hello: 10, join_prune: 1 }, sent: { hello: 9 }, errors: { bad_checksum: 2 }, ignored: { not_hello: 1 } },
      interfaces: [
        {
          interface: 'eth1',
          waiting: null,
          address: '10.0.0.1',
          dr: { address: '10.0.0.1', self: true },
          drPriority: 10,
          helloInterval: 1,
          holdtime: 3,
          generationId: 1,
          nextHelloIn: 0.5,
          neighbors: 1,
          counters: { received: { hello: 10, join_prune: 1 }, sent: { hello: 9 }, errors: { bad_checksum: 2 }, ignored: { not_hello: 1 } },
        },
        {
          interface: 'eth2',
          waiting: 'interface missing or without an IPv4 address',
          address: null,
          dr: null,
          drPriority: 1,
          helloInterval: 30,
          holdtime: 105,
          generationId: null,
          nextHelloIn: null,
          neighbors: 0,
          counters,
        },
      ],
    };
    const lines = renderPimInterfaces(result).split('\n');
    assert.match(lines[0]!, /^INTERFACE\s+ADDRESS\s+DR\s+DR_PRIORITY\s+HELLO\s+HOLDTIME\s+NEIGHBORS\s+RX\s+TX\s+ERRORS$/);
    assert.match(lines[1]!, /^eth1\s+10\.0\.0\.1\s+10\.0\.0\.1 \(this router\)\s+10\s+1s\s+3s\s+1\s+11\s+9\s+2$/);
    assert.match(lines[2]!, /^eth2\s+waiting \(interface missing or without an IPv4 address\)\s+-\s+1\s+30s\s+105s\s+0\s+0\s+0\s+0$/);
    assert.deepEqual(lines.slice(3), [
      '',
      'received: hello 10, join_prune 1',
      'sent: hello 9',
      'malformed: bad_checksum 2',
      'ignored: not_hello 1',
    ]);
  });
});

describe('renderPimRp', () => {
  test('PIM off and no RPs', () => {
    assert.equal(renderPimRp({ enabled: false, rps: [] }), 'PIM is off (no pim section in the config)');
    assert.equal(renderPimRp({ enabled: true, rps: [] }), 'no RPs configured');
  });

  test('an RP through a neighbour, this router as RP, and an RP with no route', () => {
    const text = renderPimRp({
      enabled: true,
      rps: [
        { groups: '239.0.0.0/8', rp: '10.255.0.2', self: false, rpf: { interface: 'm0', neighbor: '10.0.41.2', local: false } },
        { groups: '238.1.0.0/16', rp: '10.255.0.1', self: true, rpf: { interface: 'lo', neighbor: '10.255.0.1', local: true } },
        { groups: '224.0.0.0/4', rp: '10.9.9.9', self: false, rpf: null },
      ],
    });
    assert.deepEqual(text.split('\n'), [
      'GROUPS        RP          SELF  RPF_INTERFACE  RPF_NEIGHBOR',
      '239.0.0.0/8   10.255.0.2  no    m0             10.0.41.2',
      '238.1.0.0/16  10.255.0.1  yes   lo             local',
      '224.0.0.0/4   10.9.9.9    no    no route       -',
    ]);
  });
});

describe('renderPimJoins', () => {
  test('PIM off, and PIM on with no state', () => {
    assert.equal(
      renderPimJoins({ enabled: false, upstream: [], downstream: [], sources: [], asserts: [] }),
      'PIM is off (no pim section in the config)',
    );
    assert.deepEqual(renderPimJoins({ enabled: true, upstream: [], downstream: [], sources: [], asserts: [] }).split('\n'), [
      'upstream:',
      'no upstream joins',
      '',
      'downstream:',
      'no joins or prunes received',
      '',
      'sources:',
      'no data-driven sources',
    ]);
  });

  test('the sections: upstream joins, downstream channels, data-driven sources, asserts', () => {
    const result: PimJoinsResult = {
      enabled: true,
      upstream: [
        {
          route: '(*,239.40.40.40)',
          source: null,
          group: '239.40.40.40',
          rp: '10.255.0.2',
          state: 'joined',
          rpf: { interface: 'm0', neighbor: '10.0.41.2' },
          joinTimerIn: 3.2,
          rptPrunes: ['10.0.40.9'],
        },
        {
          route: '(10.0.40.1,239.40.40.40)',
          source: '10.0.40.1',
          group: '239.40.40.40',
          rp: null,
          state: 'joined',
          rpf: { interface: 'm0', neighbor: '10.0.41.2' },
          joinTimerIn: 4.9,
          rptPrunes: [],
        },
        {
          route: '(*,239.1.1.1)',
          source: null,
          group: '239.1.1.1',
          rp: '10.9.9.9',
          state: 'not_joined',
          rpf: null,
          joinTimerIn: null,
          rptPrunes: [],
        },
      ],
      downstream: [
        {
          route: '(*,239.40.40.40)',
          kind: '*,G',
          source: null,
          group: '239.40.40.40',
          interface: 'm2',
          state: 'join',
          expiresIn: 16.5,
          prunePendingIn: null,
        },
        {
          route: '(10.0.40.1,239.40.40.40)',
          kind: 'S,G,rpt',
          source: '10.0.40.1',
          group: '239.40.40.40',
          interface: 'm2',
          state: 'prune_pending',
          expiresIn: 17,
          prunePendingIn: 2.5,
        },
        {
          route: '(10.0.40.1,239.40.40.40)',
          kind: 'S,G',
          source: '10.0.40.1',
          group: '239.40.40.40',
          interface: 'm3',
          state: 'join',
          expiresIn: null,
          prunePendingIn: null,
        },
      ],
      sources: [
        {
          route: '(10.0.40.1,239.40.40.40)',
          source: '10.0.40.1',
          group: '239.40.40.40',
          kind: 'spt',
          keepaliveIn: 209.8,
          register: null,
          registerTimerIn: null,
        },
        {
          route: '(10.0.42.2,239.2.2.2)',
          source: '10.0.42.2',
          group: '239.2.2.2',
          kind: 'first_hop',
          keepaliveIn: 180,
          register: 'prune',
          registerTimerIn: 41.3,
        },
        {
          route: '(10.0.42.3,239.2.2.2)',
          source: '10.0.42.3',
          group: '239.2.2.2',
          kind: 'first_hop',
          keepaliveIn: 200,
          register: 'join',
          registerTimerIn: null,
        },
      ],
      asserts: [
        {
          route: '(10.0.40.1,239.40.40.40)',
          source: '10.0.40.1',
          group: '239.40.40.40',
          interface: 'm2',
          state: 'loser',
          winner: '10.0.43.3',
          timerIn: 178.5,
        },
      ],
    };
    assert.deepEqual(renderPimJoins(result).split('\n'), [
      'upstream:',
      'ROUTE                     RP          STATE       RPF_INTERFACE  RPF_NEIGHBOR  JOIN_TIMER  RPT_PRUNES',
      '(*,239.40.40.40)          10.255.0.2  joined      m0             10.0.41.2     3.2s        10.0.40.9',
      '(10.0.40.1,239.40.40.40)  -           joined      m0             10.0.41.2     4.9s        -',
      '(*,239.1.1.1)             10.9.9.9    not_joined  no route       -             -           -',
      '',
      'downstream:',
      'ROUTE                     KIND     INTERFACE  STATE          EXPIRES  PRUNE_PENDING',
      '(*,239.40.40.40)          *,G      m2         join           16.5s    -',
      '(10.0.40.1,239.40.40.40)  S,G,rpt  m2         prune_pending  17s      2.5s',
      '(10.0.40.1,239.40.40.40)  S,G      m3         join           never    -',
      '',
      'sources:',
      'ROUTE                     KIND       KEEPALIVE  REGISTER',
      '(10.0.40.1,239.40.40.40)  spt        209.8s     -',
      '(10.0.42.2,239.2.2.2)     first_hop  180s       prune (41.3s)',
      '(10.0.42.3,239.2.2.2)     first_hop  200s       join',
      '',
      'asserts:',
      'ROUTE                     INTERFACE  STATE  WINNER     TIMER',
      '(10.0.40.1,239.40.40.40)  m2         loser  10.0.43.3  178.5s',
    ]);
  });
});
