#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Generates the C++ table of the shared frame fixtures (tests/fixtures/frames.json) for the core's
// parse tests; binding.gyp runs it as an action of mcr_core_tests into the build's intermediate
// dir, so the core never parses JSON. Usage: gen-frame-fixtures.js FRAMES.json OUT.h
// Each fixture becomes a FrameSpec with designated initializers in declaration order (the order
// of the table's "defaults"), so a field in the wrong order, a value that does not fit its type
// or an unknown verdict counter fails the compile; anything else wrong here is a clear error.

const fs = require('node:fs');
const path = require('node:path');

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error('usage: gen-frame-fixtures.js FRAMES.json OUT.h');
  process.exit(2);
}

function fail(message) {
  console.error(`gen-frame-fixtures: ${input}: ${message}`);
  process.exit(1);
}

let table;
try {
  table = JSON.parse(fs.readFileSync(input, 'utf8'));
} catch (err) {
  fail(err.message);
}
const defaults = table.defaults;
if (typeof defaults !== 'object' || defaults === null) fail('"defaults" must be an object of FrameSpec fields');
if (!Array.isArray(table.frames) || table.frames.length === 0) fail('"frames" must be a non-empty array');

const snake = (key) => key.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const cString = (s, where) => {
  if (typeof s !== 'string' || !/^[\x20-\x7e]*$/.test(s)) fail(`${where} must be a printable ASCII string`);
  return JSON.stringify(s);
};
function cValue(value, kind, where) {
  if (kind === 'string') return cString(value, where);
  if (kind === 'boolean') {
    if (typeof value !== 'boolean') fail(`${where} must be true or false`);
    return String(value);
  }
  if (!Number.isInteger(value)) fail(`${where} must be an integer`);
  return String(value);
}
const kinds = Object.fromEntries(Object.entries(defaults).map(([k, v]) => [k, typeof v === 'number' ? 'integer' : typeof v]));
// A FrameSpec with every field given, in declaration order.
const spec = (fields, where) =>
  `FrameSpec{${Object.keys(defaults)
    .filter((k) => k in fields)
    .map((k) => `.${snake(k)} = ${cValue(fields[k], kinds[k], `${where}.${k}`)}`)
    .join(', ')}}`;

const names = new Set();
const rows = table.frames.map((f, i) => {
  const where = `frames[${i}]`;
  if (typeof f !== 'object' || f === null) fail(`${where} must be an object`);
  cString(f.name, `${where}.name`);
  if (names.has(f.name)) fail(`${where}.name "${f.name}" appears twice`);
  names.add(f.name);
  const fields = f.frame ?? {};
  for (const k of Object.keys(fields))
    if (!(k in defaults)) fail(`${where}.frame.${k} is not a FrameSpec field (known: ${Object.keys(defaults).join(', ')})`);
  if (typeof f.verdict !== 'string' || !/^(matched|filtered_[a-z0-9_]+)$/.test(f.verdict))
    fail(`${where}.verdict must be "matched" or a filtered_* counter name`);
  for (const k of ['kernelDrops', 'sendable']) if (k in f && typeof f[k] !== 'boolean') fail(`${where}.${k} must be true or false`);
  return `    {${cString(f.name, `${where}.name`)}, ${spec(fields, `${where}.frame`)}, mcr::${f.verdict}},`;
});

const header = `// Generated from ${path.basename(input)} by native/tests/gen-frame-fixtures.js; do not edit.
#pragma once

#include "frame_builder.h"
#include "mcr/counters.h"

namespace mcr_test {

struct FrameFixture {
  const char* name;
  FrameSpec spec;
  mcr::WorkerCounter verdict;
};

// The table's "defaults", which must be FrameSpec's own (a core test compares them).
inline const FrameSpec kFrameFixtureDefaults = ${spec(defaults, 'defaults')};

inline const FrameFixture kFrameFixtures[] = {
${rows.join('\n')}
};

}  // namespace mcr_test
`;
fs.mkdirSync(path.dirname(output), { recursive: true });
fs.writeFileSync(output, header);
