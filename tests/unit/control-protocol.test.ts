// SPDX-License-Identifier: MIT
// The control protocol's method map (src/control/protocol.ts) against its document: every method
// mcrd answers is in docs/control-protocol.md's methods table, and the table lists no method the
// map lacks. Also: mcrd's param checks and handlers cover exactly the map's methods.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { defaultConfig } from '../../src/config/types';
import { METHODS } from '../../src/control/protocol';
import { paramChecks } from '../../src/daemon/handlers';

const DOC = path.resolve(__dirname, '..', '..', '..', 'docs', 'control-protocol.md');

/** The first column of the table under "## Methods": `| \`name\` | params | result |`. */
function documentedMethods(): string[] {
  const text = readFileSync(DOC, 'utf8');
  const start = text.indexOf('\n## Methods\n');
  assert.ok(start >= 0, `${DOC} has no "## Methods" section`);
  const next = text.indexOf('\n## ', start + 1);
  const section = text.slice(start, next < 0 ? undefined : next);
  return [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1] ?? '');
}

describe('control protocol', () => {
  test('every method of the map is in docs/control-protocol.md, and the doc lists no other', () => {
    const documented = documentedMethods();
    assert.deepEqual(
      METHODS.filter((m) => !documented.includes(m)),
      [],
      'methods missing from the methods table of docs/control-protocol.md',
    );
    assert.deepEqual(
      documented.filter((m) => !(METHODS as readonly string[]).includes(m)),
      [],
      'methods in docs/control-protocol.md that src/control/protocol.ts does not have',
    );
    assert.equal(new Set(documented).size, documented.length, 'a method is listed twice in the doc');
  });

  test("mcrd checks the params of exactly the map's methods", () => {
    const checks = paramChecks({ config: defaultConfig(), configPath: undefined });
    assert.deepEqual(Object.keys(checks).sort(), [...METHODS].sort());
  });
});
