// SPDX-License-Identifier: MIT
// The pictures in docs/diagrams are drawn from their .dot sources: each committed SVG must be what
// Graphviz renders from the committed source, so the two cannot drift apart.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const DIAGRAMS = path.resolve(__dirname, '..', '..', '..', 'docs', 'diagrams');

const sources = readdirSync(DIAGRAMS).filter((f) => f.endsWith('.dot'));

test('docs/diagrams has the architecture and telemetry pictures', () => {
  assert.deepEqual(sources.sort(), ['architecture.dot', 'telemetry.dot']);
});

for (const dot of sources) {
  const svg = dot.replace(/\.dot$/, '.svg');
  test(`docs/diagrams/${svg} is rendered from ${dot} (npm run docs:diagrams)`, () => {
    const rendered = execFileSync('dot', ['-Tsvg', path.join(DIAGRAMS, dot)], { encoding: 'utf8' });
    assert.equal(readFileSync(path.join(DIAGRAMS, svg), 'utf8'), rendered, 'run npm run docs:diagrams and commit the SVG');
  });
}
