// SPDX-License-Identifier: MIT
// mcrctl pim neighbors / pim interfaces as text: PIM off, nothing yet, waiting interfaces and the rows.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderPimInterfaces, renderPimNeighbors } from '../../src/cli/render';
import type { PimInterfacesResult } from '../../src/control/protocol';

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
