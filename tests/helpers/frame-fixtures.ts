// SPDX-License-Identifier: MIT
// The shared frame fixture table (tests/fixtures/frames.json), read with every fixture's frame
// fields filled in from the table's defaults. The C++ side gets the same table as a header that
// native/tests/gen-frame-fixtures.js generates at build time.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { fixtureFrame, type FixtureSpec } from './frames';

export const FRAME_FIXTURES_FILE = path.resolve(__dirname, '..', '..', '..', 'tests', 'fixtures', 'frames.json');

export interface FrameFixture {
  name: string;
  spec: FixtureSpec;
  /** The worker counter the parser counts it under: "matched" or a filtered_* name. */
  verdict: string;
  /** The relay's socket filter drops it in the kernel: a relay never counts it. */
  kernelDrops: boolean;
  /** false: shorter than an Ethernet header; AF_PACKET refuses to send it. */
  sendable: boolean;
  frame: Buffer;
}

interface RawTable {
  defaults: FixtureSpec;
  frames: { name: string; frame?: Partial<FixtureSpec>; verdict: string; kernelDrops?: boolean; sendable?: boolean }[];
}

export function readFrameFixtures(file = FRAME_FIXTURES_FILE): { defaults: FixtureSpec; fixtures: FrameFixture[] } {
  const table = JSON.parse(readFileSync(file, 'utf8')) as RawTable;
  const fixtures = table.frames.map((f, i) => {
    for (const key of Object.keys(f.frame ?? {}))
      if (!(key in table.defaults)) throw new Error(`${file}: frames[${i}] (${f.name}): "${key}" is not a frame field`);
    const spec: FixtureSpec = { ...table.defaults, ...f.frame };
    return {
      name: f.name,
      spec,
      verdict: f.verdict,
      kernelDrops: f.kernelDrops ?? false,
      sendable: f.sendable ?? true,
      frame: fixtureFrame(spec),
    };
  });
  return { defaults: table.defaults, fixtures };
}

/** "filtered_bad_ip_header" -> "badIpHeader", the key of mcrctl stats' filteredByReason. */
export function filterReasonKey(verdict: string): string {
  return verdict.replace(/^filtered_/, '').replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
