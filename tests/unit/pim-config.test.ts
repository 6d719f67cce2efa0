// SPDX-License-Identifier: MIT
// The config file's `pim` section (src/config/validate.ts): defaults, per-interface values,
// static RPs, bounds, and the error a user sees for each mistake, by its key path.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PIM_DEFAULTS } from '../../src/config/types';
import { ConfigError, parseConfigText } from '../../src/config/validate';

const problems = (text: string): string[] => {
  try {
    parseConfigText(text);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
};

describe('pim config', () => {
  test('no section: no PIM', () => {
    assert.equal(parseConfigText('{}').pim, undefined);
  });

  test('defaults: interfaces named by string take the section values, which default to 60 s, 30 s and priority 1', () => {
    assert.deepEqual(PIM_DEFAULTS, { joinPruneInterval: 60, helloInterval: 30, drPriority: 1 });
    assert.deepEqual(parseConfigText('{ pim: { interfaces: ["up0", "d1"] } }').pim, {
      interfaces: [
        { name: 'up0', drPriority: 1, helloInterval: 30 },
        { name: 'd1', drPriority: 1, helloInterval: 30 },
      ],
      joinPruneInterval: 60,
      helloInterval: 30,
      drPriority: 1,
    });
  });

  test('section values, per-interface overrides, static RPs', () => {
    const pim = parseConfigText(`{
      pim: {
        interfaces: ["up0", { name: "d1", drPriority: 200 }, { name: "d2", helloInterval: 1 }],
        rp: [{ address: "10.0.0.1", groups: "224.0.0.0/4" }, { address: "10.0.0.2", groups: "239.1.0.0/16" }],
        joinPruneInterval: 1,
        helloInterval: 10,
        drPriority: 0,
      },
    }`).pim;
    assert.deepEqual(pim, {
      interfaces: [
        { name: 'up0', drPriority: 0, helloInterval: 10 },
        { name: 'd1', drPriority: 200, helloInterval: 10 },
        { name: 'd2', drPriority: 0, helloInterval: 1 },
      ],
      rp: [
        { address: '10.0.0.1', groups: '224.0.0.0/4' },
        { address: '10.0.0.2', groups: '239.1.0.0/16' },
      ],
      joinPruneInterval: 1,
      helloInterval: 10,
      drPriority: 0,
    });
  });

  test('bounds: seconds are whole, 1 to 18724; DR priority 0 to 4294967295', () => {
    assert.equal(
      parseConfigText('{ pim: { interfaces: ["d1"], helloInterval: 18724, drPriority: 4294967295 } }').pim?.helloInterval,
      18724,
    );
    assert.deepEqual(problems('{ pim: { interfaces: ["d1"], helloInterval: 0 } }'), [
      'pim.helloInterval: expected whole seconds from 1 to 18724, got 0',
    ]);
    assert.deepEqual(problems('{ pim: { interfaces: ["d1"], helloInterval: 18725 } }'), [
      'pim.helloInterval: expected whole seconds from 1 to 18724, got 18725',
    ]);
    assert.deepEqual(problems('{ pim: { interfaces: ["d1"], joinPruneInterval: 0.5 } }'), [
      'pim.joinPruneInterval: expected whole seconds from 1 to 18724, got 0.5',
    ]);
    assert.deepEqual(problems('{ pim: { interfaces: ["d1"], drPriority: -1 } }'), [
      'pim.drPriority: expected an integer from 0 to 4294967295, got -1',
    ]);
    assert.deepEqual(problems('{ pim: { interfaces: [{ name: "d1", helloInterval: "30" }] } }'), [
      'pim.interfaces[0].helloInterval: expected whole seconds from 1 to 18724, got "30"',
    ]);
    assert.deepEqual(problems('{ pim: { interfaces: [{ name: "d1", drPriority: 2.5 }] } }'), [
      'pim.interfaces[0].drPriority: expected an integer from 0 to 4294967295, got 2.5',
    ]);
  });

  test('each structural mistake is named by its key path', () => {
    assert.deepEqual(problems('{ pim: true }'), ['pim: expected an object, got true']);
    assert.deepEqual(problems('{ pim: {} }'), [
      'pim.interfaces: missing (expected a list of interface names or { name, drPriority, helloInterval })',
    ]);
    assert.deepEqual(problems('{ pim: { interfaces: [] } }'), ['pim.interfaces: expected a list of 1-64 interfaces, got []']);
    assert.deepEqual(problems('{ pim: { interfaces: ["d1", "d1"] } }'), ['pim.interfaces[1]: d1 is listed twice']);
    assert.deepEqual(problems('{ pim: { interfaces: ["d1", { name: "d1" }] } }'), ['pim.interfaces[1]: d1 is listed twice']);
    assert.deepEqual(problems('{ pim: { interfaces: ["a/b"] } }'), [
      "pim.interfaces[0]: expected an interface name (1-15 characters, no '/', ':' or whitespace), got \"a/b\"",
    ]);
    assert.deepEqual(problems('{ pim: { interfaces: [7] } }'), [
      'pim.interfaces[0]: expected an interface name or { name, drPriority, helloInterval }, got 7',
    ]);
    assert.deepEqual(problems('{ pim: { interfaces: [{ drPriority: 5 }] } }'), [
      'pim.interfaces[0].name: missing (expected an interface name)',
    ]);
  });

  test('unknown keys are refused, naming the key path and the keys allowed there', () => {
    assert.deepEqual(problems('{ pim: { interfaces: ["d1"], enabled: true } }'), [
      'pim.enabled: unknown key (expected one of interfaces, rp, joinPruneInterval, helloInterval, drPriority)',
    ]);
    assert.deepEqual(problems('{ pim: { interfaces: [{ name: "d1", priority: 5 }] } }'), [
      'pim.interfaces[0].priority: unknown key (expected one of name, drPriority, helloInterval)',
    ]);
    assert.deepEqual(problems('{ pim: { interfaces: ["d1"], rp: [{ address: "10.0.0.1", groups: "239.0.0.0/8", group: "x" }] } }'), [
      'pim.rp[0].group: unknown key (expected one of address, groups)',
    ]);
  });

  test('static RPs: a unicast address and a multicast prefix, one RP per prefix', () => {
    const rp = (entries: string) => problems(`{ pim: { interfaces: ["d1"], rp: ${entries} } }`);
    assert.deepEqual(rp('{}'), ['pim.rp: expected a list of up to 64 { address, groups } entries, got an object']);
    assert.deepEqual(rp('[{ groups: "239.0.0.0/8" }]'), ["pim.rp[0].address: missing (expected the RP's unicast IPv4 address)"]);
    assert.deepEqual(rp('[{ address: "10.0.0.1" }]'), ['pim.rp[0].groups: missing (expected a multicast prefix such as "239.0.0.0/8")']);
    assert.deepEqual(rp('[{ address: "239.1.1.1", groups: "239.0.0.0/8" }]'), [
      'pim.rp[0].address: expected a unicast IPv4 address, got "239.1.1.1"',
    ]);
    assert.deepEqual(rp('[{ address: "10.0.0.1", groups: "239.0.0.0" }]'), [
      'pim.rp[0].groups: expected a multicast prefix such as "239.0.0.0/8", got "239.0.0.0"',
    ]);
    assert.deepEqual(rp('[{ address: "10.0.0.1", groups: "239.0.0.0/33" }]'), [
      'pim.rp[0].groups: expected a multicast prefix such as "239.0.0.0/8", got "239.0.0.0/33"',
    ]);
    assert.deepEqual(rp('[{ address: "10.0.0.1", groups: "10.0.0.0/8" }]'), [
      'pim.rp[0].groups: 10.0.0.0/8 is not inside the multicast range 224.0.0.0/4',
    ]);
    assert.deepEqual(rp('[{ address: "10.0.0.1", groups: "224.0.0.0/3" }]'), [
      'pim.rp[0].groups: 224.0.0.0/3 is not inside the multicast range 224.0.0.0/4',
    ]);
    assert.deepEqual(rp('[{ address: "10.0.0.1", groups: "239.1.0.0/8" }]'), [
      'pim.rp[0].groups: 239.1.0.0/8 has bits set past its /8 (the prefix is 239.0.0.0/8)',
    ]);
    assert.deepEqual(rp('[{ address: "10.0.0.1", groups: "239.0.0.0/8" }, { address: "10.0.0.2", groups: "239.0.0.0/8" }]'), [
      'pim.rp[1].groups: 239.0.0.0/8 already has RP 10.0.0.1 (pim.rp[0]); one RP per group range',
    ]);
    assert.deepEqual(rp('[{ address: "10.0.0.1", groups: "239.0.0.0/8" }, { address: "10.0.0.1", groups: "239.0.0.0/8" }]'), [
      'pim.rp[1]: 10.0.0.1 for 239.0.0.0/8 is listed twice (pim.rp[0])',
    ]);
    assert.deepEqual(parseConfigText('{ pim: { interfaces: ["d1"], rp: [] } }').pim?.rp, []);
    assert.deepEqual(parseConfigText('{ pim: { interfaces: ["d1"], rp: [{ address: "10.0.0.1", groups: "232.1.2.3/32" }] } }').pim?.rp, [
      { address: '10.0.0.1', groups: '232.1.2.3/32' },
    ]);
  });

  test('igmpproxy mode (igmp.upstream) is refused with a pim section; IGMP on PIM interfaces is fine', () => {
    assert.deepEqual(problems('{ igmp: { interfaces: ["d1"], upstream: "up0" }, pim: { interfaces: ["up0"] } }'), [
      'igmp.upstream: igmpproxy mode cannot run with a pim section (PIM joins upstream itself)',
    ]);
    // Refused even when the pim section has mistakes of its own: both are reported.
    assert.deepEqual(problems('{ igmp: { interfaces: ["d1"], upstream: "up0" }, pim: { interfaces: [] } }'), [
      'pim.interfaces: expected a list of 1-64 interfaces, got []',
      'igmp.upstream: igmpproxy mode cannot run with a pim section (PIM joins upstream itself)',
    ]);
    const config = parseConfigText('{ igmp: { interfaces: ["d1"] }, pim: { interfaces: ["up0", "d1"] } }');
    assert.deepEqual(config.igmp?.interfaces, ['d1']);
    assert.deepEqual(
      config.pim?.interfaces.map((i) => i.name),
      ['up0', 'd1'],
    );
  });
});
