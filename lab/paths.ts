// SPDX-License-Identifier: MIT
// Where the lab finds the project's binaries (this file runs as dist/lab/paths.js).
import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The repository root: the nearest directory above with a package.json. */
export const ROOT = (() => {
  let dir = __dirname;
  while (!existsSync(path.join(dir, 'package.json')) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
})();

export const MCRGEN = path.join(ROOT, 'build', 'Release', 'mcrgen');
export const MCRD = path.join(ROOT, 'dist', 'src', 'cli', 'mcrd.js');
export const MCRCTL = path.join(ROOT, 'dist', 'src', 'cli', 'mcrctl.js');
