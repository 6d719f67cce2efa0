// SPDX-License-Identifier: MIT
// Configuration parsing and validation: defaults, one case per rule with its exact message,
// JSON5 syntax errors, collection of several problems, CLI output shorthand, rule ids.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import {
  ConfigError,
  configWarnings,
  loadConfigFile,
  parseConfigText,
  parseOutputShorthand,
  validateRuleSpec,
} from '../../src/config/validate';
import { ruleId } from '../../src/daemon/rule-registry';
import { isIPv4, isMulticast } from '../../src/lib/ipv4';

type Json = Record<string, unknown>;

function rule(overrides: Json = {}): Json {
  return {
    input: { interface: 'eth0', group: '239.1.1.1', port: 5001 },
    outputs: [{ group: '239.2.2.2', port: 5002, interface: 'eth1' }],
    ...overrides,
  };
}

function output(overrides: Json = {}): Json {
  return { group: '239.2.2.2', port: 5002, interface: 'eth1', ...overrides };
}

function withInput(overrides: Json): Json {
  return rule({ input: { interface: 'eth0', group: '239.1.1.1', port: 5001, ...overrides } });
}

function problemsOf(config: unknown): string[] {
  try {
    parseConfigText(JSON.stringify(config));
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err.problems;
  }
  assert.fail('expected the config to be rejected');
}

describe('valid configs', () => {
  test('empty object gets every default', () => {
    assert.deepEqual(parseConfigText('{}'), {
      workers: 1,
      realtimePriority: 0,
      spanSampleEvery: 16,
      busyPoll: false,
      egress: 'packet',
      wakeupHoldoffUs: 50,
      xdp: false,
      ttl: 16,
      logLevel: 'info',
      logFormat: 'text',
      ringMiB: 32,
      telemetry: { spansPerSecond: 1000, ruleMetricsLimit: 256 },
      rules: [],
    });
  });

  test('busyPoll with wakeupHoldoffUs, default or set, is accepted (a busy-polling worker ignores the holdoff)', () => {
    assert.equal(parseConfigText('{ busyPoll: true }').wakeupHoldoffUs, 50);
    assert.equal(parseConfigText('{ busyPoll: true, wakeupHoldoffUs: 100 }').wakeupHoldoffUs, 100);
  });

  test('a holdoff set beside busyPoll is a warning (it does nothing); the default or 0 is not', () => {
    assert.deepEqual(configWarnings(parseConfigText('{ busyPoll: true, wakeupHoldoffUs: 100 }')), [
      'wakeupHoldoffUs: 100 has no effect with busyPoll (a busy-polling worker never sleeps)',
    ]);
    assert.deepEqual(configWarnings(parseConfigText('{ busyPoll: true }')), []);
    assert.deepEqual(configWarnings(parseConfigText('{ busyPoll: true, wakeupHoldoffUs: 0 }')), []);
    assert.deepEqual(configWarnings(parseConfigText('{ wakeupHoldoffUs: 100 }')), []);
  });

  test('full config keeps values and fills output ttl from the top-level ttl', () => {
    const text = `// comments and trailing commas are JSON5
      {
        workers: 2, cpus: [2, 3], realtimePriority: 50, spanSampleEvery: 1, ttl: 8, logLevel: 'debug', logFormat: 'json', ringMiB: 64,
        rules: [
          { name: 'feed', input: { interface: 'eth0', group: '239.1.1.1', port: 5001 },
            outputs: [ { group: '239.2.2.2', port: 5002, interface: 'eth1' },
                       { group: '10.0.2.9', port: 6000, interface: 'eth2', ttl: 64, source: '10.0.2.1' }, ] },
        ],
      }`;
    assert.deepEqual(parseConfigText(text), {
      workers: 2,
      cpus: [2, 3],
      realtimePriority: 50,
      spanSampleEvery: 1,
      busyPoll: false,
      egress: 'packet',
      wakeupHoldoffUs: 50,
      xdp: false,
      ttl: 8,
      logLevel: 'debug',
      logFormat: 'json',
      ringMiB: 64,
      telemetry: { spansPerSecond: 1000, ruleMetricsLimit: 256 },
      rules: [
        {
          name: 'feed',
          input: { interface: 'eth0', group: '239.1.1.1', port: 5001 },
          outputs: [
            { group: '239.2.2.2', port: 5002, interface: 'eth1', ttl: 8 },
            { group: '10.0.2.9', port: 6000, interface: 'eth2', ttl: 64, source: '10.0.2.1' },
          ],
        },
      ],
    });
  });

  const accepted: Array<[string, Json]> = [
    ['unicast input group', withInput({ group: '10.1.2.3' })],
    ['interface name with dot and dash', withInput({ interface: 'eth0.100' })],
    ['15-character interface name', withInput({ interface: 'abcdefghijklmno' })],
    ['port 1 and 65535', rule({ input: { interface: 'eth0', group: '239.1.1.1', port: 1 }, outputs: [output({ port: 65535 })] })],
    ['256 outputs', rule({ outputs: Array.from({ length: 256 }, (_, i) => output({ port: 1000 + i })) })],
    ['same output group on two interfaces', rule({ outputs: [output(), output({ interface: 'eth2' })] })],
    ['ttl "decrement" on an output', rule({ outputs: [output({ ttl: 'decrement' })] })],
  ];
  for (const [name, r] of accepted) {
    test(name, () => {
      assert.equal(parseConfigText(JSON.stringify({ rules: [r] })).rules.length, 1);
    });
  }
});

describe('one problem per rule, exact message', () => {
  const cases: Array<[string, unknown, string]> = [
    ['top level not an object', [1], 'top level: expected an object, got an array'],
    ['realtimePriority above 99', { realtimePriority: 100 }, 'realtimePriority: expected an integer from 0 to 99, got 100'],
    [
      'unknown top-level key',
      { worker: 2 },
      'worker: unknown key (expected one of workers, cpus, realtimePriority, spanSampleEvery, busyPoll, egress, wakeupHoldoffUs, xdp, ttl, logLevel, logFormat, ringMiB, telemetry, igmp, pim, msdp, rules)',
    ],
    ['spanSampleEvery negative', { spanSampleEvery: -1 }, 'spanSampleEvery: expected an integer from 0 to 1048576, got -1'],
    ['busyPoll not a boolean', { busyPoll: 'yes' }, 'busyPoll: expected true or false, got "yes"'],
    ['egress not a mode', { egress: 'raw' }, 'egress: expected one of packet, socket, got "raw"'],
    ['wakeupHoldoffUs over 1000', { wakeupHoldoffUs: 1001 }, 'wakeupHoldoffUs: expected an integer from 0 to 1000, got 1001'],
    ['xdp with socket egress', { xdp: true, egress: 'socket' }, "xdp: needs egress 'packet' (the XDP path sends what packet egress would)"],
    [
      'busyPoll with realtimePriority',
      { busyPoll: true, realtimePriority: 10 },
      "busyPoll: cannot be combined with realtimePriority: a spinning SCHED_FIFO worker starves its CPU's kernel threads",
    ],
    ['workers 0', { workers: 0 }, 'workers: expected an integer from 1 to 32, got 0'],
    ['workers 33', { workers: 33 }, 'workers: expected an integer from 1 to 32, got 33'],
    ['workers not an integer', { workers: 1.5 }, 'workers: expected an integer from 1 to 32, got 1.5'],
    ['workers as a string', { workers: '2' }, 'workers: expected an integer from 1 to 32, got "2"'],
    ['cpus not an array', { cpus: 3 }, 'cpus: expected an array of CPU numbers, got 3'],
    ['cpus negative', { cpus: [-1] }, 'cpus[0]: expected an integer >= 0, got -1'],
    ['cpus duplicate', { workers: 2, cpus: [3, 3] }, 'cpus[1]: CPU 3 is already used by cpus[0]'],
    ['cpus length differs from workers', { workers: 2, cpus: [1] }, 'cpus: expected 2 entries (one per worker), got 1'],
    ['cpus with default workers', { cpus: [1, 2] }, 'cpus: expected 1 entry (one per worker), got 2'],
    ['ttl 0', { ttl: 0 }, 'ttl: expected an integer from 1 to 255 or "decrement", got 0'],
    ['telemetry not an object', { telemetry: 5 }, 'telemetry: expected an object, got 5'],
    [
      'telemetry unknown key',
      { telemetry: { endpoint: 'x' } },
      'telemetry.endpoint: unknown key (expected one of otlpEndpoint, otlpProtocol, serviceName, resourceAttributes, metricExportIntervalMs, metricsListen, spansPerSecond, ruleMetricsLimit)',
    ],
    [
      'otlpEndpoint not a URL',
      { telemetry: { otlpEndpoint: 'localhost:4318' } },
      'telemetry.otlpEndpoint: expected an http:// or https:// URL, got "localhost:4318"',
    ],
    [
      'otlpProtocol grpc',
      { telemetry: { otlpProtocol: 'grpc' } },
      'telemetry.otlpProtocol: expected one of http/protobuf, http/json, got "grpc"',
    ],
    [
      'metricsListen without a port',
      { telemetry: { metricsListen: '127.0.0.1' } },
      'telemetry.metricsListen: expected HOST:PORT (for example 127.0.0.1:9464), got "127.0.0.1"',
    ],
    [
      'spansPerSecond negative',
      { telemetry: { spansPerSecond: -1 } },
      'telemetry.spansPerSecond: expected an integer from 0 to 100000, got -1',
    ],
    ['ttl 256', { ttl: 256 }, 'ttl: expected an integer from 1 to 255 or "decrement", got 256'],
    [
      'ttl "dec"',
      { rules: [rule({ outputs: [output({ ttl: 'dec' })] })] },
      'rules[0].outputs[0].ttl: expected an integer from 1 to 255 or "decrement", got "dec"',
    ],
    ['ringMiB 0', { ringMiB: 0 }, 'ringMiB: expected an integer from 1 to 1024, got 0'],
    ['ringMiB 2048', { ringMiB: 2048 }, 'ringMiB: expected an integer from 1 to 1024, got 2048'],
    ['logLevel', { logLevel: 'verbose' }, 'logLevel: expected one of error, warn, info, debug, trace, got "verbose"'],
    ['logFormat', { logFormat: 'xml' }, 'logFormat: expected one of text, json, got "xml"'],
    ['rules not an array', { rules: {} }, 'rules: expected an array of rules, got an object'],
    ['rule not an object', { rules: ['x'] }, 'rules[0]: expected an object, got "x"'],
    ['unknown rule key', { rules: [rule({ output: [] })] }, 'rules[0].output: unknown key (expected one of name, input, outputs)'],
    [
      'unknown input key',
      {
        rules: [
          rule(),
          withInput({ port: 5002 }),
          { ...withInput({}), input: { interface: 'eth0', group: '239.1.1.3', port: 1, grp: 'x' } },
        ],
      },
      'rules[2].input.grp: unknown key (expected one of interface, group, port, source, protocol)',
    ],
    [
      'unknown output key',
      { rules: [rule({ outputs: [output({ tll: 3 })] })] },
      'rules[0].outputs[0].tll: unknown key (expected one of group, port, interface, ttl, source, onlyWithListeners)',
    ],
    [
      'bad rule name',
      { rules: [rule({ name: 'video feed' })] },
      'rules[0].name: expected 1-64 characters from A-Z a-z 0-9 _ . -, got "video feed"',
    ],
    ['empty rule name', { rules: [rule({ name: '' })] }, 'rules[0].name: expected 1-64 characters from A-Z a-z 0-9 _ . -, got ""'],
    [
      'duplicate rule name',
      { rules: [rule({ name: 'feed' }), { ...withInput({ port: 5003 }), name: 'feed' }] },
      'rules[1].name: "feed" is already the name of rules[0]',
    ],
    ['missing input', { rules: [{ outputs: [output()] }] }, 'rules[0].input: missing (expected an object with interface, group and port)'],
    [
      'missing input port',
      { rules: [rule({ input: { interface: 'eth0', group: '239.1.1.1' } })] },
      'rules[0].input.port: missing (expected an integer from 0 (any port) to 65535)',
    ],
    [
      'input not an object',
      { rules: [rule({ input: 'eth0' })] },
      'rules[0].input: expected an object with interface, group and port, got "eth0"',
    ],
    [
      'interface too long',
      { rules: [withInput({ interface: 'abcdefghijklmnop' })] },
      `rules[0].input.interface: expected an interface name (1-15 characters, no '/', ':' or whitespace), got "abcdefghijklmnop"`,
    ],
    [
      'interface empty',
      { rules: [withInput({ interface: '' })] },
      `rules[0].input.interface: expected an interface name (1-15 characters, no '/', ':' or whitespace), got ""`,
    ],
    [
      'interface with slash',
      { rules: [withInput({ interface: 'eth/0' })] },
      `rules[0].input.interface: expected an interface name (1-15 characters, no '/', ':' or whitespace), got "eth/0"`,
    ],
    [
      'interface with colon',
      { rules: [withInput({ interface: 'eth0:1' })] },
      `rules[0].input.interface: expected an interface name (1-15 characters, no '/', ':' or whitespace), got "eth0:1"`,
    ],
    [
      'interface with space',
      { rules: [withInput({ interface: 'eth 0' })] },
      `rules[0].input.interface: expected an interface name (1-15 characters, no '/', ':' or whitespace), got "eth 0"`,
    ],
    [
      'interface ..',
      { rules: [withInput({ interface: '..' })] },
      `rules[0].input.interface: expected an interface name (1-15 characters, no '/', ':' or whitespace), got ".."`,
    ],
    ['input group shorthand', { rules: [withInput({ group: '239.1' })] }, 'rules[0].input.group: expected an IPv4 address, got "239.1"'],
    [
      'input group leading zero',
      { rules: [withInput({ group: '239.01.1.1' })] },
      'rules[0].input.group: expected an IPv4 address, got "239.01.1.1"',
    ],
    [
      'input group octet out of range',
      { rules: [withInput({ group: '239.1.1.256' })] },
      'rules[0].input.group: expected an IPv4 address, got "239.1.1.256"',
    ],
    [
      'input group 0.0.0.0',
      { rules: [withInput({ group: '0.0.0.0' })] },
      'rules[0].input.group: expected a unicast or multicast IPv4 address, got "0.0.0.0"',
    ],
    [
      'input group broadcast',
      { rules: [withInput({ group: '255.255.255.255' })] },
      'rules[0].input.group: expected a unicast or multicast IPv4 address, got "255.255.255.255"',
    ],
    [
      'input group as a number',
      { rules: [withInput({ group: 4026597633 })] },
      'rules[0].input.group: expected an IPv4 address, got 4026597633',
    ],
    ['port -1', { rules: [withInput({ port: -1 })] }, 'rules[0].input.port: expected an integer from 0 to 65535, got -1'],
    ['port 65536', { rules: [withInput({ port: 65536 })] }, 'rules[0].input.port: expected an integer from 0 to 65535, got 65536'],
    [
      'output port 0 on an input with a port',
      { rules: [rule({ outputs: [output({ port: 0 })] })] },
      "rules[0].outputs[0].port: 0 keeps each packet's port, which needs an input with port 0 (any port); expected 1 to 65535",
    ],
    [
      'input source multicast',
      { rules: [withInput({ source: '239.9.9.9' })] },
      'rules[0].input.source: expected a unicast IPv4 address, got "239.9.9.9"',
    ],
    ['input source not an address', { rules: [withInput({ source: 'a' })] }, 'rules[0].input.source: expected an IPv4 address, got "a"'],
    ['input protocol', { rules: [withInput({ protocol: 'tcp' })] }, 'rules[0].input.protocol: expected one of udp, esp, got "tcp"'],
    [
      'esp with a port',
      {
        rules: [
          rule({
            input: { interface: 'eth0', group: '239.1.1.1', port: 5001, protocol: 'esp' },
            outputs: [output({ group: '239.1.1.1', port: 0 })],
          }),
        ],
      },
      'rules[0].input.port: expected 0 or no port with protocol "esp" (ESP has no ports), got 5001',
    ],
    [
      'esp to a unicast group',
      {
        rules: [
          rule({ input: { interface: 'eth0', group: '10.1.1.1', protocol: 'esp' }, outputs: [output({ group: '10.1.1.1', port: 0 })] }),
        ],
      },
      'rules[0].input.group: expected a multicast group with protocol "esp", got "10.1.1.1"',
    ],
    [
      'esp output to another group',
      {
        rules: [
          rule({ input: { interface: 'eth0', group: '239.1.1.1', protocol: 'esp' }, outputs: [{ group: '239.2.2.2', interface: 'eth1' }] }),
        ],
      },
      'rules[0].outputs[0].group: an ESP rule\'s outputs keep the input group 239.1.1.1 (an ESP group SA is keyed by it), got "239.2.2.2"',
    ],
    [
      'esp output with a port',
      {
        rules: [
          rule({
            input: { interface: 'eth0', group: '239.1.1.1', protocol: 'esp' },
            outputs: [output({ group: '239.1.1.1', port: 6000 })],
          }),
        ],
      },
      "rules[0].outputs[0].port: expected 0 or no port on an ESP rule's output (it is routed: the packet keeps its own), got 6000",
    ],
    [
      'onlyWithListeners not a boolean',
      { rules: [rule({ outputs: [output({ onlyWithListeners: 'yes' })] })] },
      'rules[0].outputs[0].onlyWithListeners: expected true or false, got "yes"',
    ],
    [
      'onlyWithListeners on a unicast output',
      { rules: [rule({ outputs: [output({ group: '10.0.0.9', onlyWithListeners: true })] })] },
      'rules[0].outputs[0].onlyWithListeners: listeners join groups: only on a multicast output, not "10.0.0.9"',
    ],
    [
      'duplicate (S,G) rule',
      { rules: [withInput({ source: '10.0.0.1' }), withInput({ source: '10.0.0.1', protocol: 'udp' })] },
      'rules[1].input: same input match as rules[0] (eth0 10.0.0.1->239.1.1.1:5001)',
    ],
    [
      'explicit udp is the same rule as none',
      { rules: [withInput({}), withInput({ protocol: 'udp' })] },
      'rules[1].input: same input match as rules[0] (eth0 239.1.1.1:5001)',
    ],
    [
      'outputs missing',
      { rules: [{ input: { interface: 'eth0', group: '239.1.1.1', port: 5001 } }] },
      'rules[0].outputs: missing (expected a non-empty array of outputs)',
    ],
    ['outputs empty', { rules: [rule({ outputs: [] })] }, 'rules[0].outputs: expected a non-empty array of outputs, got []'],
    [
      'too many outputs',
      { rules: [rule({ outputs: Array.from({ length: 257 }, (_, i) => output({ port: 1000 + i })) })] },
      'rules[0].outputs: expected at most 256 outputs, got 257',
    ],
    [
      'output not an object',
      { rules: [rule({ outputs: [7] })] },
      'rules[0].outputs[0]: expected an object with group, port and interface, got 7',
    ],
    [
      'output group shorthand',
      { rules: [rule({ outputs: [output(), output({ group: '239.1', port: 6000 })] })] },
      'rules[0].outputs[1].group: expected an IPv4 address, got "239.1"',
    ],
    [
      'output group 0.0.0.0',
      { rules: [rule({ outputs: [output({ group: '0.0.0.0' })] })] },
      'rules[0].outputs[0].group: expected a unicast or multicast IPv4 address, got "0.0.0.0"',
    ],
    [
      'output port',
      { rules: [rule({ outputs: [output({ port: 70000 })] })] },
      'rules[0].outputs[0].port: expected an integer from 0 to 65535, got 70000',
    ],
    [
      'output interface missing',
      { rules: [rule({ outputs: [{ group: '239.2.2.2', port: 5002 }] })] },
      'rules[0].outputs[0].interface: missing (expected an interface name)',
    ],
    [
      'output ttl 0',
      { rules: [rule({ outputs: [output({ ttl: 0 })] })] },
      'rules[0].outputs[0].ttl: expected an integer from 1 to 255 or "decrement", got 0',
    ],
    [
      'output ttl 300',
      { rules: [rule({ outputs: [output({ ttl: 300 })] })] },
      'rules[0].outputs[0].ttl: expected an integer from 1 to 255 or "decrement", got 300',
    ],
    [
      'output source multicast',
      { rules: [rule({ outputs: [output({ source: '239.9.9.9' })] })] },
      'rules[0].outputs[0].source: expected a unicast IPv4 address, got "239.9.9.9"',
    ],
    [
      'output source not an address',
      { rules: [rule({ outputs: [output({ source: 'eth1' })] })] },
      'rules[0].outputs[0].source: expected an IPv4 address, got "eth1"',
    ],
    [
      'output on the input interface',
      { rules: [rule({ outputs: [output({ interface: 'eth0' })] })] },
      `rules[0].outputs[0].interface: "eth0" is also this rule's input interface (the relay would feed its own output back)`,
    ],
    [
      'duplicate rule input',
      { rules: [rule(), withInput({ port: 5009 }), rule({ outputs: [output({ interface: 'eth3' })] })] },
      'rules[2].input: same input match as rules[0] (eth0 239.1.1.1:5001)',
    ],
    [
      'duplicate output',
      { rules: [rule({ outputs: [output(), output({ port: 6000 }), output()] })] },
      'rules[0].outputs[2]: same group, port and interface as outputs[0] (239.2.2.2:5002 on eth1)',
    ],
  ];
  for (const [name, config, expected] of cases) {
    test(name, () => {
      assert.deepEqual(problemsOf(config), [expected]);
    });
  }
});

describe('errors', () => {
  test('JSON5 syntax error names line and column, prefixed by the source', () => {
    assert.throws(
      () => parseConfigText('{\n  workers: 2,\n  ttl: ?\n}', 'mcr.json5'),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.deepEqual(err.problems, [`line 3, column 8: invalid character '?'`]);
        assert.equal(err.message, `mcr.json5: line 3, column 8: invalid character '?'`);
        assert.equal(err.code, 'EINVAL');
        return true;
      },
    );
  });

  test('truncated file', () => {
    assert.throws(() => parseConfigText('{ rules: [', 'x.json5'), /^ConfigError: x\.json5: line 1, column 11: invalid end of input$/);
  });

  test('all problems are collected, in document order', () => {
    const config = {
      workers: 0,
      logLevel: 'loud',
      rules: [withInput({ group: '239.1', port: -1 }), rule({ outputs: [output({ interface: 'eth0', ttl: 0 })] })],
    };
    assert.deepEqual(problemsOf(config), [
      'workers: expected an integer from 1 to 32, got 0',
      'logLevel: expected one of error, warn, info, debug, trace, got "loud"',
      'rules[0].input.group: expected an IPv4 address, got "239.1"',
      'rules[0].input.port: expected an integer from 0 to 65535, got -1',
      `rules[1].outputs[0].interface: "eth0" is also this rule's input interface (the relay would feed its own output back)`,
      'rules[1].outputs[0].ttl: expected an integer from 1 to 255 or "decrement", got 0',
    ]);
  });

  test('message joins problems and names the source', () => {
    try {
      parseConfigText(JSON.stringify({ workers: 0, ttl: 0 }), 'mcr.json5');
      assert.fail('expected a ConfigError');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      assert.equal(
        err.message,
        'mcr.json5: workers: expected an integer from 1 to 32, got 0; ttl: expected an integer from 1 to 255 or "decrement", got 0',
      );
    }
  });

  test('loadConfigFile: missing file', () => {
    assert.throws(() => loadConfigFile('/nonexistent/mcr.json5'), {
      name: 'ConfigError',
      message: '/nonexistent/mcr.json5: cannot read: no such file',
    });
  });

  test('loadConfigFile: reads and validates a file', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'mcr-config-'));
    try {
      const file = path.join(dir, 'mcr.json5');
      writeFileSync(file, `{ rules: [ ${JSON.stringify(rule())} ] }`);
      assert.equal(loadConfigFile(file).rules[0]?.outputs[0]?.ttl, 16);
      writeFileSync(file, '{ ringMiB: 0 }');
      assert.throws(() => loadConfigFile(file), { message: `${file}: ringMiB: expected an integer from 1 to 1024, got 0` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('the shipped example config is valid', () => {
    const example = path.resolve(__dirname, '../../../docs/example.json5');
    const config = loadConfigFile(example);
    assert.equal(config.rules.length, 2);
  });
});

describe('validateRuleSpec', () => {
  test('fills output ttl with the given default, keeps explicit ones', () => {
    const spec = validateRuleSpec(rule({ outputs: [output(), output({ port: 6000, ttl: 3 })] }), 'rule', 32);
    assert.deepEqual(
      spec.outputs.map((o) => o.ttl),
      [32, 3],
    );
  });

  test('default path and ttl', () => {
    assert.equal(validateRuleSpec(rule()).outputs[0]?.ttl, 16);
    assert.throws(() => validateRuleSpec(withInput({ port: 'x' })), {
      message: 'rule.input.port: expected an integer from 0 to 65535, got "x"',
    });
  });

  test('name is kept; absent keys stay absent', () => {
    assert.deepEqual(validateRuleSpec(rule({ name: 'a.b-c_1' })), {
      name: 'a.b-c_1',
      input: { interface: 'eth0', group: '239.1.1.1', port: 5001 },
      outputs: [{ group: '239.2.2.2', port: 5002, interface: 'eth1', ttl: 16 }],
    });
  });
});

describe('richer inputs: (S,G), any port, ESP, onlyWithListeners', () => {
  test('an (S,G) any-port rule with a port-keeping output is accepted as written', () => {
    const spec = validateRuleSpec(
      rule({
        input: { interface: 'eth0', group: '239.1.1.1', port: 0, source: '10.0.0.1' },
        outputs: [output({ port: 0, onlyWithListeners: true }), output({ port: 7000 })],
      }),
    );
    assert.deepEqual(spec.input, { interface: 'eth0', group: '239.1.1.1', port: 0, source: '10.0.0.1' });
    assert.deepEqual(
      spec.outputs.map((o) => [o.port, o.onlyWithListeners]),
      [
        [0, true],
        [7000, undefined],
      ],
    );
  });

  test('ESP: port absent becomes 0, outputs keep the group and need no port', () => {
    const spec = validateRuleSpec(
      rule({ input: { interface: 'eth0', group: '239.1.1.1', protocol: 'esp' }, outputs: [{ group: '239.1.1.1', interface: 'eth1' }] }),
    );
    assert.deepEqual(spec.input, { interface: 'eth0', group: '239.1.1.1', port: 0, protocol: 'esp' });
    assert.equal(spec.outputs[0]?.port, 0);
  });

  test('(S,G), (*,G) and ESP rules of one group and port are different rules', () => {
    const config = parseConfigText(
      JSON.stringify({
        rules: [
          withInput({}),
          withInput({ source: '10.0.0.1' }),
          withInput({ source: '10.0.0.2' }),
          withInput({ port: 0 }),
          rule({ input: { interface: 'eth0', group: '239.1.1.1', protocol: 'esp' }, outputs: [output({ group: '239.1.1.1', port: 0 })] }),
        ],
      }),
    );
    assert.equal(new Set(config.rules.map((r) => ruleId(r))).size, 5);
  });
});

describe('parseOutputShorthand', () => {
  test('one and several outputs', () => {
    assert.deepEqual(parseOutputShorthand('239.2.2.2:5002:eth1'), [{ group: '239.2.2.2', port: 5002, interface: 'eth1' }]);
    assert.deepEqual(parseOutputShorthand('239.2.2.2:5002:eth1, 10.0.0.9:6000:eth2'), [
      { group: '239.2.2.2', port: 5002, interface: 'eth1' },
      { group: '10.0.0.9', port: 6000, interface: 'eth2' },
    ]);
  });

  const bad: Array<[string, string[]]> = [
    ['239.2.2.2:5002', ['output "239.2.2.2:5002": expected GROUP:PORT:INTERFACE']],
    ['239.2.2.2:5002:eth1:x', ['output "239.2.2.2:5002:eth1:x": expected GROUP:PORT:INTERFACE']],
    ['239.2:5002:eth1', ['output "239.2:5002:eth1" group: expected an IPv4 address, got "239.2"']],
    ['239.2.2.2:http:eth1', ['output "239.2.2.2:http:eth1" port: expected an integer from 0 to 65535, got "http"']],
    ['239.2.2.2:65536:eth1', ['output "239.2.2.2:65536:eth1" port: expected an integer from 0 to 65535, got 65536']],
    [
      '239.2.2.2:5002:eth1,,1.2.3.4:1:',
      [
        'output 2: empty (expected GROUP:PORT:INTERFACE)',
        `output "1.2.3.4:1:" interface: expected an interface name (1-15 characters, no '/', ':' or whitespace), got ""`,
      ],
    ],
  ];
  for (const [text, problems] of bad) {
    test(`rejects ${JSON.stringify(text)}`, () => {
      assert.throws(
        () => parseOutputShorthand(text),
        (err: unknown) => err instanceof ConfigError && assert.deepEqual(err.problems, problems) === undefined,
      );
    });
  }
});

describe('ruleId and IPv4 helpers', () => {
  test('ruleId is 12 hex digits of sha256(interface|group|port), independent of outputs and name', () => {
    const id = ruleId(validateRuleSpec(rule()));
    // printf '%s' 'eth0|239.1.1.1|5001' | sha256sum | cut -c1-12
    assert.equal(id, '112369aab3d3');
    assert.equal(ruleId(validateRuleSpec(rule({ name: 'x', outputs: [output({ port: 9 })] }))), id);
    assert.notEqual(ruleId(validateRuleSpec(withInput({ port: 5002 }))), id);
    // protocol "udp" written out is the same rule, with the same id, as none.
    assert.equal(ruleId(validateRuleSpec(withInput({ protocol: 'udp' }))), id);
  });

  test('ruleId with a source or ESP hashes interface|group|port|source|protocol', () => {
    // printf '%s' 'eth0|239.1.1.1|5001|10.0.0.1|udp' | sha256sum | cut -c1-12
    assert.equal(ruleId(validateRuleSpec(withInput({ source: '10.0.0.1' }))), 'b4e34e2e337b');
    // printf '%s' 'eth0|239.1.1.1|0|*|esp' | sha256sum | cut -c1-12
    assert.equal(
      ruleId(
        validateRuleSpec(
          rule({ input: { interface: 'eth0', group: '239.1.1.1', protocol: 'esp' }, outputs: [output({ group: '239.1.1.1', port: 0 })] }),
        ),
      ),
      'cc91d195ce21',
    );
  });

  test('isIPv4 / isMulticast', () => {
    for (const good of ['0.0.0.0', '10.0.0.1', '239.255.255.255', '255.255.255.255']) assert.ok(isIPv4(good), good);
    for (const bad of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1.2.3.-1', ' 1.2.3.4', '1..3.4', '0x1.2.3.4']) {
      assert.ok(!isIPv4(bad), bad);
    }
    assert.ok(isMulticast('224.0.0.1'));
    assert.ok(isMulticast('239.255.255.255'));
    assert.ok(!isMulticast('223.255.255.255'));
    assert.ok(!isMulticast('240.0.0.1'));
  });
});
