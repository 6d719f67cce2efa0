// SPDX-License-Identifier: MIT
// The mcr version, read from the package.json this code was installed with, so the CLI, the
// daemon and the package never disagree.

import { readFileSync } from 'node:fs';
import * as path from 'node:path';

let cached: string | undefined;

/** Walks up from this file (src/lib or dist/src/lib) to the package root. */
export function packageVersion(): string {
  if (cached !== undefined) return cached;
  let dir = __dirname;
  for (;;) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'mcr' && typeof pkg.version === 'string') {
        cached = pkg.version;
        return cached;
      }
    } catch {
      // not here (or unreadable): keep walking up
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      cached = 'unknown';
      return cached;
    }
    dir = parent;
  }
}
