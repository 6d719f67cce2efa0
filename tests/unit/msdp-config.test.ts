// SPDX-License-Identifier: MIT
// The config file's `msdp` section (src/config/validate.ts): defaults, timer bounds and their
// relation, peers, and the error a user sees for each mistake, by its key path.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MSDP_DEFAULTS } from '../../src/config/types';
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

const PEER = '{ address: "10.0.0.2" }';

describe('msdp config', () => {
  test('no section: no MSDP', () => {
    assert.equal(parseConfigText('{}').msdp, undefined);
  });

  test('defaults: keepalive 60 s, hold 75 s, connect retry 30 s (RFC 3618 section 5)', () => {
    assert.deepEqual(MSDP_DEFAULTS, { keepaliveInterval: 60, holdTime: 75, connectRetry: 30 });
    assert.deepEqual(parseConfigText(`{ msdp: { localAddress: "10.0.0.1", peers: [${PEER}] } }`).msdp, {
      localAddress: '10.0.0.1',
      peers: [{ address: '10.0.0.2' }],
      keepaliveInterval: 60,
      holdTime: 75,
      connectRetry: 30,
    });
  });

  test('every value set, mesh groups kept per peer', () => {
    const msdp = parseConfigText(`{
      msdp: {
        localAddress: "10.0.0.1",
        peers: [{ address: "10.0.0.2", meshGroup: "core-1" }, { address: "10.0.0.3", meshGroup: "core-1" }, { address: "192.0.2.9" }],
        keepaliveInterval: 1,
        holdTime: 3,
        connectRetry: 1,
      },
    }`).msdp;
    assert.deepEqual(msdp, {
      localAddress: '10.0.0.1',
      peers: [{ address: '10.0.0.2', meshGroup: 'core-1' }, { address: '10.0.0.3', meshGroup: 'core-1' }, { address: '192.0.2.9' }],
      keepaliveInterval: 1,
      holdTime: 3,
      connectRetry: 1,
    });
  });

  test('timers: whole seconds, keepalive and connect retry at least 1, hold at least 3, all at most 65535', () => {
    const timers = (t: string) => problems(`{ msdp: { localAddress: "10.0.0.1", peers: [${PEER}], ${t} } }`);
    assert.deepEqual(timers('keepaliveInterval: 0'), ['msdp.keepaliveInterval: expected whole seconds from 1 to 65535, got 0']);
    assert.deepEqual(timers('keepaliveInterval: 1.5'), ['msdp.keepaliveInterval: expected whole seconds from 1 to 65535, got 1.5']);
    assert.deepEqual(timers('holdTime: 2, keepaliveInterval: 1'), ['msdp.holdTime: expected whole seconds from 3 to 65535, got 2']);
    assert.deepEqual(timers('holdTime: 65536'), ['msdp.holdTime: expected whole seconds from 3 to 65535, got 65536']);
    assert.deepEqual(timers('connectRetry: "30"'), ['msdp.connectRetry: expected whole seconds from 1 to 65535, got "30"']);
  });

  test('hold time must be longer than the keepalive interval', () => {
    const timers = (t: string) => problems(`{ msdp: { localAddress: "10.0.0.1", peers: [${PEER}], ${t} } }`);
    assert.deepEqual(timers('keepaliveInterval: 10, holdTime: 10'), [
      'msdp.holdTime: must be longer than msdp.keepaliveInterval (10 s), got 10',
    ]);
    // the default hold (75) against a keepalive set above it
    assert.deepEqual(timers('keepaliveInterval: 90'), ['msdp.holdTime: must be longer than msdp.keepaliveInterval (90 s), got 75']);
    assert.equal(
      parseConfigText(`{ msdp: { localAddress: "10.0.0.1", peers: [${PEER}], keepaliveInterval: 2, holdTime: 3 } }`).msdp?.holdTime,
      3,
    );
  });

  test('localAddress: required, unicast IPv4', () => {
    assert.deepEqual(problems(`{ msdp: { peers: [${PEER}] } }`), ['msdp.localAddress: missing (expected our unicast IPv4 address)']);
    assert.deepEqual(problems(`{ msdp: { localAddress: "239.1.1.1", peers: [${PEER}] } }`), [
      'msdp.localAddress: expected a unicast IPv4 address, got "239.1.1.1"',
    ]);
    assert.deepEqual(problems(`{ msdp: { localAddress: "0.0.0.0", peers: [${PEER}] } }`), [
      'msdp.localAddress: expected a unicast IPv4 address, got "0.0.0.0"',
    ]);
    assert.deepEqual(problems(`{ msdp: { localAddress: "host", peers: [${PEER}] } }`), [
      'msdp.localAddress: expected an IPv4 address, got "host"',
    ]);
  });

  test('peers: 1-64 entries, unicast, each once, never localAddress; mesh group names checked', () => {
    const peers = (p: string) => problems(`{ msdp: { localAddress: "10.0.0.1", peers: ${p} } }`);
    assert.deepEqual(problems('{ msdp: { localAddress: "10.0.0.1" } }'), [
      'msdp.peers: missing (expected a list of { address, meshGroup })',
    ]);
    assert.deepEqual(peers('[]'), ['msdp.peers: expected a list of 1-64 { address, meshGroup } entries, got []']);
    assert.deepEqual(peers('["10.0.0.2"]'), ['msdp.peers[0]: expected { address, meshGroup }, got "10.0.0.2"']);
    assert.deepEqual(peers('[{ meshGroup: "a" }]'), ["msdp.peers[0].address: missing (expected the peer's unicast IPv4 address)"]);
    assert.deepEqual(peers('[{ address: "224.0.0.1" }]'), ['msdp.peers[0].address: expected a unicast IPv4 address, got "224.0.0.1"']);
    assert.deepEqual(peers('[{ address: "10.0.0.1" }]'), [
      'msdp.peers[0].address: 10.0.0.1 is msdp.localAddress (a router does not peer with itself)',
    ]);
    assert.deepEqual(peers('[{ address: "10.0.0.2" }, { address: "10.0.0.2", meshGroup: "m" }]'), [
      'msdp.peers[1].address: 10.0.0.2 is listed twice (msdp.peers[0])',
    ]);
    assert.deepEqual(peers('[{ address: "10.0.0.2", meshGroup: "two words" }]'), [
      "msdp.peers[0].meshGroup: expected a name of 1-64 letters, digits, '_', '.' or '-', got \"two words\"",
    ]);
    assert.deepEqual(peers('[{ address: "10.0.0.2", meshGroup: "" }]'), [
      "msdp.peers[0].meshGroup: expected a name of 1-64 letters, digits, '_', '.' or '-', got \"\"",
    ]);
  });

  test('unknown keys are refused, naming the key path and the keys allowed there', () => {
    assert.deepEqual(problems('{ msdp: true }'), ['msdp: expected an object, got true']);
    assert.deepEqual(problems(`{ msdp: { localAddress: "10.0.0.1", peers: [${PEER}], keepalive: 5 } }`), [
      'msdp.keepalive: unknown key (expected one of localAddress, peers, keepaliveInterval, holdTime, connectRetry)',
    ]);
    assert.deepEqual(problems('{ msdp: { localAddress: "10.0.0.1", peers: [{ address: "10.0.0.2", password: "x" }] } }'), [
      'msdp.peers[0].password: unknown key (expected one of address, meshGroup)',
    ]);
  });
});
