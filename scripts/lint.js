#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Mechanical checks that keep the layering honest: only native/binding may include <napi.h>
// (the forwarding core is a plain C++ library), every source file carries an SPDX header, shell
// scripts parse and pass shellcheck, TypeScript/JavaScript pass Biome, and C/C++ is formatted by
// clang-format.

const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const problems = [];

function walk(dir, out) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'build', 'dist', '.git', 'results'].includes(entry.name)) continue;
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full, out);
    else out.push(full);
  }
  return out;
}

const files = ['native', 'src', 'lab', 'tests', 'scripts', 'bench', 'profiling', 'bin']
  .map((d) => path.join(root, d))
  .filter((d) => fs.existsSync(d))
  .flatMap((d) => walk(d, []));

for (const file of files) {
  const rel = path.relative(root, file);
  if (!/\.(cc|h|ts|js|sh|py)$/.test(file)) continue;
  const text = fs.readFileSync(file, 'utf8');
  if (!/SPDX-License-Identifier: MIT/.test(text.split('\n').slice(0, 3).join('\n')))
    problems.push(`${rel}: missing "SPDX-License-Identifier: MIT" in the first lines`);
  if (/\.(cc|h)$/.test(file) && /#\s*include\s*[<"]napi\.h[>"]/.test(text) && !rel.startsWith(path.join('native', 'binding')))
    problems.push(`${rel}: includes <napi.h>; only native/binding/ may (the core stays a plain C++ library)`);
}

// Shell scripts must at least parse (demo.sh once shipped with a reserved word as a name).
const { spawnSync } = require('node:child_process');
for (const file of files.filter((f) => f.endsWith('.sh')).concat(path.join(root, '.ci', 'run'))) {
  const r = spawnSync('bash', ['-n', file], { encoding: 'utf8' });
  if (r.status !== 0) problems.push(`${path.relative(root, file)}: bash -n: ${r.stderr.trim()}`);
}

// TypeScript and JavaScript: Biome's linter (recommended preset) and formatter (biome.json);
// `npm run format` applies the formatter.
const biome = spawnSync(path.join(root, 'node_modules', '.bin', 'biome'), ['check', '--colors=off', '--max-diagnostics=50', '.'], {
  encoding: 'utf8',
  cwd: root,
  maxBuffer: 64 << 20,
});
if (biome.error) problems.push(`biome not found (${biome.error.message}): run npm install`);
else if (biome.status !== 0)
  problems.push(`biome check failed (npm run format fixes formatting):\n${(biome.stderr + biome.stdout).trim()}`);

// shellcheck on every shell script, notes included.
const scripts = files.filter((f) => f.endsWith('.sh')).concat(path.join(root, '.ci', 'run'));
const shellcheck = spawnSync('shellcheck', ['-f', 'gcc', '-x', ...scripts], { encoding: 'utf8', cwd: root });
if (shellcheck.error) problems.push(`shellcheck not found (${shellcheck.error.message}): apt-get install shellcheck`);
else if (shellcheck.status !== 0)
  for (const line of shellcheck.stdout.trim().split('\n')) problems.push(`shellcheck: ${path.relative(root, line)}`);

// C and C++ follow .clang-format (clang-format 14 from Debian; `npm run format` applies it).
const cFiles = files.filter((f) => /\.(cc|h|c)$/.test(f));
const format = spawnSync('clang-format', ['--dry-run', '-Werror', ...cFiles], { encoding: 'utf8', maxBuffer: 64 << 20 });
if (format.error) problems.push(`clang-format not found (${format.error.message}): apt-get install clang-format`);
else if (format.status !== 0) {
  const offenders = [...new Set([...format.stderr.matchAll(/^(.+?):\d+:\d+: error:/gm)].map((m) => path.relative(root, m[1])))];
  problems.push(`clang-format: ${offenders.length} file(s) differ from .clang-format (run npm run format): ${offenders.join(', ')}`);
}

if (problems.length > 0) {
  for (const p of problems) console.error(`lint: ${p}`);
  process.exit(1);
}
console.log(`lint: ${files.length} files checked, no problems`);
