// SPDX-License-Identifier: MIT
// The rule-change transactions (src/daemon/rule-changes.ts) against a fake data plane: no root,
// no namespaces, no addon. The registry, its slot pools and the config validation are the real
// ones; the data plane answers each setRules as a test tells it to (take the set, refuse a rule
// the way the core does, or die mid-change). Whatever fails, the registry must be exactly as it
// was, every counter slot taken for the change must be back, and the error must say why.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { after, beforeEach, describe, test } from 'node:test';
import type { Config, RuleSpec } from '../../src/config/types';
import { ConfigError, loadConfigFile, parseConfigText } from '../../src/config/validate';
import type { DataPlaneState } from '../../src/control/protocol';
import { DataPlaneError } from '../../src/daemon/dataplane-process';
import { RuleChanges, type ConfigHost, type DataPlaneKey } from '../../src/daemon/rule-changes';
import { RuleRegistry, SlotPool, type RuleRecord } from '../../src/daemon/rule-registry';
import { Logger } from '../../src/lib/logger';
import type { NativeRule, NativeRuleStatus, RuleSetResult } from '../../src/native/addon';

const UP: NativeRuleStatus = { input: 'up', outputs: ['up'] };

function rule(name: string, group: string, port: number, outPort = port + 1000, source?: string): RuleSpec {
  return {
    name,
    input: { interface: 'in0', group, port },
    outputs: [{ group: '239.2.2.2', port: outPort, interface: 'out0', ttl: 16, ...(source ? { source } : {}) }],
  };
}

/** Answers setRules as the test says; by default it takes every set. */
class FakeDataPlane {
  state: DataPlaneState = 'running';
  readonly sets: { rules: NativeRule[]; allOrNothing: boolean | undefined }[] = [];
  answer: (rules: NativeRule[]) => Promise<RuleSetResult> = (rules) => Promise.resolve({ applied: true, statuses: rules.map(() => UP) });

  setRules(rules: NativeRule[], allOrNothing?: boolean): Promise<RuleSetResult> {
    this.sets.push({ rules, allOrNothing });
    return this.answer(rules);
  }

  /** The core's answer to a set with one rule it cannot install: nothing applied, that rule's reason. */
  refuse(port: number, error: string): void {
    this.answer = (rules) => Promise.resolve({ applied: false, statuses: rules.map((r) => (r.port === port ? { ...UP, error } : UP)) });
  }
}

/** The config file is a real file read by the real loader; committing only records the call. */
class FakeHost implements ConfigHost {
  readonly commits: { next: Config; restartFor: DataPlaneKey[] }[] = [];
  constructor(
    public config: Config,
    readonly file: string,
  ) {}

  loadConfig(): Config {
    return loadConfigFile(this.file);
  }

  async commitConfig(next: Config, restartFor: DataPlaneKey[]): Promise<void> {
    this.config = next;
    this.commits.push({ next, restartFor });
  }
}

const dir = mkdtempSync(path.join(tmpdir(), 'mcr-rule-changes-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function configText(rules: RuleSpec[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...extra, rules }, null, 2);
}

const A = rule('a', '239.1.1.1', 5001);
const B = rule('b', '239.1.1.2', 5002);

let ruleSlots: SlotPool;
let outputSlots: SlotPool;
let registry: RuleRegistry;
let dataPlane: FakeDataPlane;
let host: FakeHost;
let changes: RuleChanges;
const marked: number[] = [];
const logged: string[] = [];

beforeEach(() => {
  ruleSlots = new SlotPool(8, 'rule');
  outputSlots = new SlotPool(16, 'output');
  registry = new RuleRegistry(ruleSlots, outputSlots);
  dataPlane = new FakeDataPlane();
  const file = path.join(dir, 'mcr.json5');
  writeFileSync(file, configText([A, B]));
  host = new FakeHost(parseConfigText(configText([A, B])), file);
  marked.length = 0;
  logged.length = 0;
  changes = new RuleChanges({
    registry,
    dataPlane,
    counters: { markBase: (record: RuleRecord) => marked.push(record.slot) },
    host,
    log: Logger.create('info', 'text', 'test', (line) => logged.push(line)),
  });
  changes.seed(host.config.rules);
});

/** The registry's whole state, to compare before and after a change that must not happen. */
function snapshot(): unknown {
  return { rules: structuredClone(registry.list()), freeRuleSlots: ruleSlots.available(), freeOutputSlots: outputSlots.available() };
}

function writeConfig(rules: RuleSpec[], extra: Record<string, unknown> = {}): void {
  writeFileSync(host.file, configText(rules, extra));
}

describe('add', () => {
  test('success: one all-or-nothing set with every rule, the new one last; then it is in the registry', async () => {
    const C = rule('c', '239.1.1.3', 5003);
    const record = await changes.add(C);
    assert.equal(dataPlane.sets.length, 1);
    assert.notEqual(dataPlane.sets[0]?.allOrNothing, false);
    assert.deepEqual(
      dataPlane.sets[0]?.rules.map((r) => r.port),
      [5001, 5002, 5003],
    );
    assert.deepEqual(
      registry.list().map((r) => r.spec.name),
      ['a', 'b', 'c'],
    );
    assert.deepEqual(record.status, UP);
    assert.equal(ruleSlots.available(), 8 - 3);
    assert.match(logged.join('\n'), /rule added/);
  });

  test("per-rule refusal: EDATAPLANE with the core's reason, registry unchanged, slots back", async () => {
    const before = snapshot();
    const reason = 'bind(source 10.0.2.77) for output interface out0: Cannot assign requested address';
    dataPlane.refuse(5003, reason);
    await assert.rejects(changes.add(rule('c', '239.1.1.3', 5003, 6003, '10.0.2.77')), {
      code: 'EDATAPLANE',
      message: `rule rejected: ${reason}`,
    });
    assert.deepEqual(snapshot(), before);
  });

  test('data plane dies mid-change: its error surfaces, registry unchanged, slots back', async () => {
    const before = snapshot();
    dataPlane.answer = () => Promise.reject(new DataPlaneError('data plane exited'));
    await assert.rejects(changes.add(rule('c', '239.1.1.3', 5003)), { code: 'EDATAPLANE', message: 'data plane exited' });
    assert.deepEqual(snapshot(), before);
    // The next change goes through: the failure did not wedge the queue.
    dataPlane.answer = (rules) => Promise.resolve({ applied: true, statuses: rules.map(() => UP) });
    await changes.add(rule('c', '239.1.1.3', 5003));
    assert.equal(registry.size, 3);
  });

  test('same input or same name: EEXIST, the data plane is not asked', async () => {
    const before = snapshot();
    await assert.rejects(changes.add(rule('other', A.input.group, A.input.port)), { code: 'EEXIST' });
    await assert.rejects(changes.add(rule('a', '239.1.9.9', 5999)), { code: 'EEXIST', message: 'a rule named "a" exists already' });
    assert.equal(dataPlane.sets.length, 0);
    assert.deepEqual(snapshot(), before);
  });

  test('while the data plane is not running the rule is accepted, pending, without a set', async () => {
    dataPlane.state = 'starting';
    const record = await changes.add(rule('c', '239.1.1.3', 5003));
    assert.equal(dataPlane.sets.length, 0);
    assert.equal(record.status, null);
    assert.equal(registry.size, 3);
  });
});

describe('remove', () => {
  test('by name and by id; the slots go back', async () => {
    const removed = await changes.remove({ name: 'a' });
    assert.equal(removed.spec.name, 'a');
    assert.deepEqual(
      dataPlane.sets[0]?.rules.map((r) => r.port),
      [5002],
    );
    const b = registry.byName('b');
    assert.ok(b);
    await changes.remove({ id: b.id });
    assert.equal(registry.size, 0);
    assert.equal(ruleSlots.available(), 8);
    assert.equal(outputSlots.available(), 16);
  });

  test('no such rule: ENOENT, nothing sent', async () => {
    await assert.rejects(changes.remove({ name: 'nope' }), { code: 'ENOENT', message: 'no rule named "nope"' });
    await assert.rejects(changes.remove({ id: 'ffffffffffff' }), { code: 'ENOENT', message: 'no rule with id "ffffffffffff"' });
    assert.equal(dataPlane.sets.length, 0);
  });

  test('data plane dies mid-change: the rule stays', async () => {
    const before = snapshot();
    dataPlane.answer = () => Promise.reject(new DataPlaneError('data plane exited'));
    await assert.rejects(changes.remove({ name: 'a' }), { message: 'data plane exited' });
    assert.deepEqual(snapshot(), before);
  });
});

describe('reload', () => {
  test('success: kept, edited (same id and rule slot), added and removed rules; the config is committed', async () => {
    const a = registry.byName('a');
    assert.ok(a);
    const editedA = { ...A, outputs: [...A.outputs, { group: '239.2.2.9', port: 7009, interface: 'out1', ttl: 16 }] };
    const C = rule('c', '239.1.1.3', 5003);
    writeConfig([editedA, C]);
    const result = await changes.reload();
    assert.deepEqual(result, { rules: 2, added: 1, changed: 1, removed: 1, dataPlaneRestartedFor: [] });
    assert.equal(dataPlane.sets.length, 1);
    assert.deepEqual(
      dataPlane.sets[0]?.rules.map((r) => r.port),
      [5001, 5003],
    );
    const list = registry.list();
    assert.deepEqual(
      list.map((r) => r.spec.name),
      ['a', 'c'],
    );
    assert.equal(list[0]?.id, a.id);
    assert.equal(list[0]?.slot, a.slot, 'an edited rule keeps its rule slot (and so its counters)');
    assert.equal(list[0]?.outputSlots[0], a.outputSlots[0], 'and the slot of its unchanged output');
    assert.equal(host.commits.length, 1);
    assert.deepEqual(host.commits[0]?.restartFor, []);
    // a (2 outputs) and c (1): b's rule and output slots are back.
    assert.equal(ruleSlots.available(), 8 - 2);
    assert.equal(outputSlots.available(), 16 - 3);
  });

  test('per-rule refusal: EDATAPLANE naming the rule and the reason, nothing changed, slots back', async () => {
    const before = snapshot();
    const config = host.config;
    writeConfig([A, B, rule('c', '239.1.1.3', 5003, 6003, '10.0.2.77')]);
    dataPlane.refuse(5003, 'bind(source 10.0.2.77) for output interface out0: Cannot assign requested address');
    await assert.rejects(changes.reload(), {
      code: 'EDATAPLANE',
      message:
        'reload refused, running rules unchanged: c: bind(source 10.0.2.77) for output interface out0: Cannot assign requested address',
    });
    assert.deepEqual(snapshot(), before);
    assert.equal(host.commits.length, 0);
    assert.equal(host.config, config);
  });

  test('data plane dies mid-change: its error surfaces, nothing changed, slots back', async () => {
    const before = snapshot();
    writeConfig([{ ...A, outputs: [{ group: '239.2.2.9', port: 7009, interface: 'out1', ttl: 16 }] }, rule('c', '239.1.1.3', 5003)]);
    dataPlane.answer = () => Promise.reject(new DataPlaneError('data plane exited'));
    await assert.rejects(changes.reload(), { code: 'EDATAPLANE', message: 'data plane exited' });
    assert.deepEqual(snapshot(), before);
    assert.equal(host.commits.length, 0);
  });

  test('an invalid file: a ConfigError naming the key path, nothing sent, nothing changed', async () => {
    const before = snapshot();
    writeConfig([A, { ...B, outputs: [{ group: '239.2.2.2', port: 70000, interface: 'out0' }] }]);
    await assert.rejects(changes.reload(), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.code, 'EINVAL');
      assert.deepEqual(err.problems, ['rules[1].outputs[0].port: expected an integer from 0 to 65535, got 70000']);
      return true;
    });
    assert.equal(dataPlane.sets.length, 0);
    assert.deepEqual(snapshot(), before);
    assert.equal(host.commits.length, 0);
  });

  test('a data-plane key changed: no set is sent, the host restarts the data plane with the new rules', async () => {
    writeConfig([A, B, rule('c', '239.1.1.3', 5003)], { workers: 2 });
    const result = await changes.reload();
    assert.deepEqual(result, { rules: 3, added: 1, changed: 0, removed: 0, dataPlaneRestartedFor: ['workers'] });
    assert.equal(dataPlane.sets.length, 0);
    assert.deepEqual(host.commits[0]?.restartFor, ['workers']);
    assert.equal(registry.size, 3);
  });
});

describe('changes wait for each other', () => {
  test('an add sent while a reload waits for the data plane runs after it, against the reloaded set', async () => {
    let release: (() => void) | undefined;
    dataPlane.answer = (rules) =>
      new Promise((resolve) => {
        release = () => resolve({ applied: true, statuses: rules.map(() => UP) });
      });
    writeConfig([A]);
    const reload = changes.reload();
    const add = changes.add(rule('c', '239.1.1.3', 5003));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(dataPlane.sets.length, 1, 'the add has not been sent yet');
    dataPlane.answer = (rules) => Promise.resolve({ applied: true, statuses: rules.map(() => UP) });
    release?.();
    await reload;
    await add;
    assert.deepEqual(
      dataPlane.sets[1]?.rules.map((r) => r.port),
      [5001, 5003],
    );
    assert.deepEqual(
      registry.list().map((r) => r.spec.name),
      ['a', 'c'],
    );
  });
});
