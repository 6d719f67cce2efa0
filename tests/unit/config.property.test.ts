// SPDX-License-Identifier: MIT
// Property-based tests (fast-check) of configuration validation: whatever the input (any JSON
// value, objects with the real keys holding wrong values, any text as JSON5), the result is an
// accepted Config or a ConfigError whose every problem starts with a key path that names a real
// place in the input (or "top level" / a JSON5 line and column), never another exception.
// Valid generated configs are accepted with their defaults filled, and survive a round trip.

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as fc from 'fast-check';
import * as JSON5 from 'json5';
import { ConfigError, parseConfigText, validateRuleSpec } from '../../src/config/validate';
import {
  CONFIG_DEFAULTS,
  defaultConfig,
  LIMITS,
  LOG_FORMATS,
  LOG_LEVELS,
  type Config,
  type OutputSpec,
  type RuleSpec,
  type Ttl,
} from '../../src/config/types';

// Fixed seed: a failure is reproduced by the next run, and fast-check prints the shrunk case.
const RUNS = { numRuns: 400, seed: 0x6d6372 };

type Outcome = { config: Config } | { error: ConfigError };

/** Any exception other than ConfigError escapes and fails the property. */
function outcome(run: () => Config): Outcome {
  try {
    return { config: run() };
  } catch (err) {
    if (err instanceof ConfigError) return { error: err };
    throw err;
  }
}

// ---- key paths --------------------------------------------------------------------------------
// validate.ts writes paths as `rules[0].outputs[1].port`, quoting keys that are not identifiers
// as JSON strings: `rules[0]["a b"]`, or `"a b"` at the top level.

type Segment = string | number;
const IDENT = '[A-Za-z_$][A-Za-z0-9_$]*';
const QUOTED = '"(?:[^"\\\\]|\\\\.)*"';
const FIRST = new RegExp(`^(?:(${IDENT})|(${QUOTED}))`);
const NEXT = new RegExp(`^(?:\\.(${IDENT})|\\[(\\d+)\\]|\\[(${QUOTED})\\])`);

/** A quoted key segment's text (the alternative of the pattern that matched when the others did not). */
function unquote(quoted: string | undefined): string {
  if (quoted === undefined) throw new Error('path segment: no alternative of the pattern matched');
  return JSON.parse(quoted) as string;
}

/** Splits `path: reason` into the path's segments, or undefined when it does not start with one. */
function parsePath(problem: string): { segments: Segment[]; reason: string } | undefined {
  let rest = problem;
  const first = FIRST.exec(rest);
  if (!first) return undefined;
  const segments: Segment[] = [first[1] ?? unquote(first[2])];
  rest = rest.slice(first[0].length);
  for (let m = NEXT.exec(rest); m; m = NEXT.exec(rest)) {
    if (m[1] !== undefined) segments.push(m[1]);
    else if (m[2] !== undefined) segments.push(Number(m[2]));
    else segments.push(unquote(m[3]));
    rest = rest.slice(m[0].length);
  }
  if (!rest.startsWith(': ') || rest.length === 2) return undefined;
  return { segments, reason: rest.slice(2) };
}

function has(container: unknown, key: Segment): boolean {
  if (typeof key === 'number') return Array.isArray(container) && key < container.length;
  return typeof container === 'object' && container !== null && !Array.isArray(container) && Object.hasOwn(container, key);
}

/**
 * Every problem names where it is: a path whose parents exist in the input and whose last key
 * exists too, unless the problem is that it is missing. `prefix` is the path validateRuleSpec
 * was given for the value.
 */
function assertKeyPathProblems(err: ConfigError, input: unknown, prefix?: string): void {
  assert.ok(err.problems.length > 0, 'a ConfigError lists at least one problem');
  assert.equal(err.message, err.problems.join('; '));
  for (const problem of err.problems) {
    if (prefix === undefined && /^top level: expected an object, got /.test(problem)) {
      assert.ok(typeof input !== 'object' || input === null || Array.isArray(input), problem);
      continue;
    }
    const parsed = parsePath(problem);
    assert.ok(parsed, `problem does not start with a key path: ${JSON.stringify(problem)}`);
    let segments = parsed.segments;
    if (prefix !== undefined) {
      assert.equal(segments[0], prefix, `problem does not start with ${prefix}: ${problem}`);
      segments = segments.slice(1);
    }
    let at: unknown = input;
    segments.forEach((segment, i) => {
      const last = i === segments.length - 1;
      if (last && parsed.reason.startsWith('missing (expected ')) {
        assert.ok(!has(at, segment), `reported missing but present: ${problem}`);
        return;
      }
      assert.ok(has(at, segment), `path names no place in the input: ${problem}`);
      at = (at as Record<string | number, unknown>)[segment];
    });
  }
}

function checkText(text: string, input: unknown): Outcome {
  const result = outcome(() => parseConfigText(text));
  if ('error' in result) assertKeyPathProblems(result.error, input);
  return result;
}

// ---- arbitraries --------------------------------------------------------------------------------

const anyJson = fc.jsonValue({ maxDepth: 4 });
/** A value of the right kind most of the time, anything at all otherwise. */
const orAny = <T>(good: fc.Arbitrary<T>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: anyJson });

const address = fc.ipV4().filter((a) => a !== '0.0.0.0' && a !== '255.255.255.255');
const nearAddress = fc.oneof(address, fc.constantFrom('0.0.0.0', '255.255.255.255', '239.1', '239.01.1.1', '256.1.1.1', ''));
const interfaceName = fc.stringMatching(/^[A-Za-z0-9_.@-]{1,15}$/).filter((s) => s !== '.' && s !== '..');
const nearInterface = fc.oneof(interfaceName, fc.constantFrom('', 'a/b', 'a:b', 'a b', 'sixteen-chars-xx', '..'));
const nearPort = fc.oneof(fc.integer({ min: -2, max: 70000 }), fc.double());
const nearTtl = fc.oneof(fc.integer({ min: -1, max: 300 }), fc.constantFrom('decrement', 'Decrement', '16'));
const extraKeys = fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 2 });

/** An object with the real keys (each maybe left out), wrong values mixed in, sometimes extra keys. */
function nearRecord(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  return fc
    .tuple(fc.record(fields, { requiredKeys: [] }), fc.option(extraKeys, { freq: 4 }))
    .map(([known, extra]) => ({ ...(extra ?? {}), ...known }));
}

const nearOutput = nearRecord({
  group: orAny(nearAddress),
  port: orAny(nearPort),
  interface: orAny(nearInterface),
  ttl: orAny(nearTtl),
  source: orAny(nearAddress),
});
const nearInput = nearRecord({ interface: orAny(nearInterface), group: orAny(nearAddress), port: orAny(nearPort) });
const nearRule = nearRecord({
  name: orAny(fc.oneof(fc.stringMatching(/^[A-Za-z0-9_.-]{1,64}$/), fc.string({ maxLength: 70 }))),
  input: orAny(nearInput),
  outputs: orAny(fc.array(orAny(nearOutput), { maxLength: 4 })),
});
const nearPimInterface = nearRecord({
  name: orAny(nearInterface),
  drPriority: orAny(fc.integer({ min: -1, max: 2 ** 32 })),
  helloInterval: orAny(fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.double())),
});
const nearPrefix = fc.constantFrom(
  '239.0.0.0/8',
  '224.0.0.0/4',
  '232.1.2.3/32',
  '239.1.0.0/8',
  '10.0.0.0/8',
  '239.0.0.0/33',
  '239.0.0.0',
  '',
);
const nearPim = nearRecord({
  interfaces: orAny(fc.array(orAny(fc.oneof(nearInterface, nearPimInterface)), { maxLength: 4 })),
  rp: orAny(fc.array(orAny(nearRecord({ address: orAny(nearAddress), groups: orAny(nearPrefix) })), { maxLength: 3 })),
  joinPruneInterval: orAny(fc.integer({ min: 0, max: 20_000 })),
  helloInterval: orAny(fc.integer({ min: 0, max: 20_000 })),
  drPriority: orAny(fc.integer({ min: -1, max: 2 ** 32 })),
});
const nearConfig = nearRecord({
  workers: orAny(fc.integer({ min: -1, max: 40 })),
  cpus: orAny(fc.array(orAny(fc.integer({ min: -1, max: 8 })), { maxLength: 5 })),
  realtimePriority: orAny(fc.integer({ min: -1, max: 100 })),
  spanSampleEvery: orAny(fc.integer({ min: -1, max: LIMITS.maxSpanSampleEvery + 1 })),
  busyPoll: orAny(fc.boolean()),
  ttl: orAny(nearTtl),
  logLevel: orAny(fc.constantFrom(...LOG_LEVELS, 'verbose')),
  logFormat: orAny(fc.constantFrom(...LOG_FORMATS, 'xml')),
  ringMiB: orAny(fc.integer({ min: 0, max: LIMITS.maxRingMiB + 1 })),
  rules: orAny(fc.array(orAny(nearRule), { maxLength: 4 })),
});

// Valid configs. Input and output interfaces come from disjoint name sets so an output never
// reuses its rule's input interface; names get a unique suffix.
const ttl: fc.Arbitrary<Ttl> = fc.oneof(fc.integer({ min: 1, max: 255 }), fc.constant('decrement' as const));
const validOutput: fc.Arbitrary<OutputSpec> = fc.record(
  {
    group: address,
    port: fc.integer({ min: 1, max: 65535 }),
    interface: fc.stringMatching(/^out[a-z0-9]{0,12}$/),
    ttl,
    source: address.filter((a) => Number(a.split('.')[0]) < 224 || Number(a.split('.')[0]) > 239),
  },
  { requiredKeys: ['group', 'port', 'interface'], noNullPrototype: true },
);
const validRule: fc.Arbitrary<RuleSpec> = fc.record(
  {
    name: fc.stringMatching(/^[A-Za-z0-9_.-]{1,56}$/),
    input: fc.record(
      { interface: fc.stringMatching(/^in[a-z0-9]{0,13}$/), group: address, port: fc.integer({ min: 1, max: 65535 }) },
      { noNullPrototype: true },
    ),
    outputs: fc.uniqueArray(validOutput, { minLength: 1, maxLength: 4, selector: (o) => `${o.group}|${o.port}|${o.interface}` }),
  },
  { requiredKeys: ['input', 'outputs'], noNullPrototype: true },
);
/** [the file's object, the Config it must give]. */
const validConfig: fc.Arbitrary<[Record<string, unknown>, Config]> = fc
  .record(
    {
      workers: fc.integer({ min: 1, max: LIMITS.maxWorkers }),
      realtimePriority: fc.integer({ min: 0, max: 99 }),
      spanSampleEvery: fc.integer({ min: 0, max: LIMITS.maxSpanSampleEvery }),
      busyPoll: fc.boolean(),
      ttl,
      logLevel: fc.constantFrom(...LOG_LEVELS),
      logFormat: fc.constantFrom(...LOG_FORMATS),
      ringMiB: fc.integer({ min: 1, max: LIMITS.maxRingMiB }),
      rules: fc.uniqueArray(validRule, { maxLength: 4, selector: (r) => `${r.input.interface}|${r.input.group}|${r.input.port}` }),
    },
    { requiredKeys: [], noNullPrototype: true },
  )
  .chain((file) =>
    fc.option(fc.uniqueArray(fc.nat(1023), { minLength: file.workers ?? 1, maxLength: file.workers ?? 1 }), { freq: 2 }).map((cpus) => {
      const input: Record<string, unknown> = { ...file };
      if (input.busyPoll === true) input.realtimePriority = 0; // the one cross-field rule
      if (cpus !== null) input.cpus = cpus;
      const rules = (file.rules ?? []).map((r, i) => (r.name === undefined ? r : { ...r, name: `${r.name}-${i}` }));
      input.rules = rules;
      const defaultTtl = (input.ttl as Ttl | undefined) ?? CONFIG_DEFAULTS.ttl;
      const expected: Config = {
        ...defaultConfig(),
        ...(input as Partial<Config>),
        rules: rules.map((r) => ({ ...r, outputs: r.outputs.map((o) => ({ ...o, ttl: o.ttl ?? defaultTtl })) })),
      };
      return [input, expected] as [Record<string, unknown>, Config];
    }),
  );

// ---- properties -----------------------------------------------------------------------------------

describe('config validation properties (fast-check)', () => {
  test('the key-path check itself rejects paths that name no place and messages without a path', () => {
    const input = { rules: [{ outputs: [{ port: 0 }] }] };
    assert.doesNotThrow(() =>
      assertKeyPathProblems(new ConfigError(['rules[0].outputs[0].port: bad', 'rules[0].input: missing (expected x)']), input),
    );
    for (const problem of [
      'rules[1].outputs: bad',
      'rules[0].outputs[0].group: bad',
      'rules[0].outputs[0].port: missing (expected x)',
      'something went wrong',
      'rules[0]:',
    ])
      assert.throws(() => assertKeyPathProblems(new ConfigError([problem]), input), assert.AssertionError, problem);
  });

  test('any JSON value: a Config or a ConfigError of key-path problems', () => {
    fc.assert(
      fc.property(anyJson, (value) => void checkText(JSON.stringify(value), value)),
      RUNS,
    );
  });

  test('objects with the real keys and wrong values: a Config or key-path problems that name real places', () => {
    let accepted = 0;
    fc.assert(
      fc.property(nearConfig, (value) => {
        if ('config' in checkText(JSON.stringify(value), value)) accepted++;
      }),
      RUNS,
    );
    // The generator is near the valid set, not only far off it: some cases pass.
    assert.ok(accepted > 0, 'no generated near-valid config was accepted');
  });

  test('pim sections with the real keys and wrong values: a Config or key-path problems that name real places', () => {
    let accepted = 0;
    fc.assert(
      fc.property(nearPim, (pim) => {
        if ('config' in checkText(JSON.stringify({ pim }), { pim })) accepted++;
      }),
      RUNS,
    );
    assert.ok(accepted > 0, 'no generated near-valid pim section was accepted');
  });

  test('any rule value given to validateRuleSpec: a RuleSpec or problems under the given path', () => {
    fc.assert(
      fc.property(fc.oneof(nearRule, anyJson), (value) => {
        try {
          validateRuleSpec(value, 'rule');
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          assertKeyPathProblems(err, value, 'rule');
        }
      }),
      RUNS,
    );
  });

  test('any text as JSON5: a Config or a ConfigError (syntax errors give line and column)', () => {
    const valid = JSON5.stringify({
      rules: [
        { input: { interface: 'eth0', group: '239.1.1.1', port: 5001 }, outputs: [{ group: '239.2.2.2', port: 5002, interface: 'eth1' }] },
      ],
    });
    // Arbitrary strings, and the valid text with a stretch replaced by arbitrary characters.
    const mutated = fc
      .tuple(fc.nat(valid.length), fc.nat(6), fc.string({ maxLength: 6, unit: 'binary' }))
      .map(([at, cut, insert]) => valid.slice(0, at) + insert + valid.slice(at + cut));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'binary-ascii' }), mutated), (text) => {
        let value: unknown;
        try {
          value = JSON5.parse(text);
        } catch {
          const result = outcome(() => parseConfigText(text));
          assert.ok('error' in result, 'text JSON5 rejects was accepted');
          assert.equal(result.error.problems.length, 1);
          assert.match(result.error.problems[0]!, /^(line \d+, column \d+|syntax error): ./);
          return;
        }
        checkText(text, value);
      }),
      RUNS,
    );
  });

  test('valid generated configs are accepted with defaults filled, and round-trip through JSON and JSON5', () => {
    // Fewer runs: each case is a whole config of up to 4 rules with 4 outputs each.
    fc.assert(
      fc.property(validConfig, ([input, expected]) => {
        const result = checkText(JSON.stringify(input), input);
        assert.ok('config' in result, 'error' in result ? result.error.message : '');
        assert.deepEqual(result.config, expected);
        assert.deepEqual(parseConfigText(JSON.stringify(result.config)), result.config);
        assert.deepEqual(parseConfigText(JSON5.stringify(result.config, null, 2)), result.config);
      }),
      { ...RUNS, numRuns: 150 },
    );
  });
});
