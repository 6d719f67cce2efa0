// SPDX-License-Identifier: MIT
// The architecture picture in docs/ is drawn from its .dot source: the committed SVG must be what
// Graphviz renders from the committed source, so the two cannot drift apart.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';

const DIAGRAMS = path.resolve(__dirname, '..', '..', '..', 'docs', 'diagrams');

test('docs/diagrams/architecture.svg is rendered from architecture.dot (npm run docs:diagrams)', () => {
  const rendered = execFileSync('dot', ['-Tsvg', path.join(DIAGRAMS, 'architecture.dot')], { encoding: 'utf8' });
  assert.equal(readFileSync(path.join(DIAGRAMS, 'architecture.svg'), 'utf8'), rendered, 'run npm run docs:diagrams and commit the SVG');
});
