// SPDX-License-Identifier: MIT
// The config file's `igmp` section (src/config/validate.ts): defaults, bounds, and the errors a
// user sees for each mistake.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { IGMP_DEFAULTS } from '../../src/config/types';
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

describe('igmp config', () => {
  test('no section: no IGMP', () => {
    assert.equal(parseConfigText('{}').igmp, undefined);
  });

  test('defaults fill a section that names only interfaces', () => {
    assert.deepEqual(parseConfigText('{ igmp: { interfaces: ["d1", "d2"] } }').igmp, { interfaces: ['d1', 'd2'], ...IGMP_DEFAULTS });
  });

  test('fractions of seconds and proxy mode', () => {
    const igmp = parseConfigText(
      '{ igmp: { interfaces: ["d1"], upstream: "up", version: 2, queryInterval: 2.5, queryResponseInterval: 0.5, lastMemberQueryInterval: 0.2, robustness: 1 } }',
    ).igmp;
    assert.deepEqual(igmp, {
      interfaces: ['d1'],
      upstream: 'up',
      version: 2,
      queryInterval: 2.5,
      queryResponseInterval: 0.5,
      lastMemberQueryInterval: 0.2,
      robustness: 1,
    });
  });

  test('each mistake is named by its key path', () => {
    assert.deepEqual(problems('{ igmp: { interfaces: [] } }'), ['igmp.interfaces: expected a list of 1-64 interface names, got []']);
    assert.deepEqual(problems('{ igmp: {} }'), ['igmp.interfaces: missing (expected a list of interface names)']);
    assert.deepEqual(problems('{ igmp: { interfaces: ["d1"], enabled: true } }'), [
      'igmp.enabled: unknown key (expected one of interfaces, upstream, version, queryInterval, queryResponseInterval, lastMemberQueryInterval, robustness)',
    ]);
    assert.deepEqual(problems('{ igmp: { interfaces: ["d1", "d1"] } }'), ['igmp.interfaces[1]: d1 is listed twice']);
    assert.deepEqual(problems('{ igmp: { interfaces: ["d1"], upstream: "d1" } }'), [
      'igmp.upstream: d1 is also in igmp.interfaces (the upstream interface has no listeners of its own here)',
    ]);
    assert.deepEqual(problems('{ igmp: { interfaces: ["d1"], version: 1 } }'), ['igmp.version: expected 2 or 3, got 1']);
    assert.deepEqual(problems('{ igmp: { interfaces: ["d1"], queryInterval: 0.5 } }'), [
      'igmp.queryInterval: expected seconds from 1 to 31744, got 0.5',
    ]);
    assert.deepEqual(problems('{ igmp: { interfaces: ["d1"], version: 2, queryResponseInterval: 30, queryInterval: 60 } }'), [
      'igmp.queryResponseInterval: expected seconds from 0.1 to 25.5, got 30',
    ]);
    assert.deepEqual(problems('{ igmp: { interfaces: ["d1"], queryInterval: 5, queryResponseInterval: 5 } }'), [
      'igmp.queryResponseInterval: must be shorter than igmp.queryInterval (5 s), got 5',
    ]);
    assert.deepEqual(problems('{ igmp: { interfaces: ["d1"], robustness: 0 } }'), [
      'igmp.robustness: expected an integer from 1 to 7, got 0',
    ]);
  });
});

describe('onlyWithListeners needs IGMP on its interface', () => {
  const rule = (iface: string) =>
    `{ input: { interface: "in", group: "239.1.1.1", port: 5000 }, outputs: [{ interface: "${iface}", group: "239.2.2.2", port: 6000, onlyWithListeners: true }] }`;

  test('accepted on an IGMP interface', () => {
    const config = parseConfigText(`{ igmp: { interfaces: ["d1"] }, rules: [${rule('d1')}] }`);
    assert.equal(config.rules[0]?.outputs[0]?.onlyWithListeners, true);
  });

  test('refused without IGMP, and on an interface IGMP does not run on', () => {
    assert.deepEqual(problems(`{ rules: [${rule('d1')}] }`), [
      'rules[0].outputs[0].onlyWithListeners: needs IGMP on d1 (an igmp section with d1 in igmp.interfaces)',
    ]);
    assert.deepEqual(problems(`{ igmp: { interfaces: ["d2"] }, rules: [${rule('d1')}] }`), [
      'rules[0].outputs[0].onlyWithListeners: d1 is not in igmp.interfaces (d2), so no listener would ever be seen there',
    ]);
  });
});
