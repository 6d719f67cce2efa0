#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Runs the native traffic tool build/Release/mcrgen with this process's arguments, stdio
// and exit status. Stop signals are passed on so the tool can still print its summary.

const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const binary = path.join(__dirname, '..', 'build', 'Release', 'mcrgen');

if (!fs.existsSync(binary)) {
  process.stderr.write('mcrgen binary not built: run npm install\n');
  process.exit(1);
}

const child = spawn(binary, process.argv.slice(2), { stdio: 'inherit' });

// A terminal's Ctrl-C reaches the child directly too; a second SIGINT only repeats the stop.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => child.kill(signal));
}

child.on('error', (err) => {
  process.stderr.write(`mcrgen: cannot run ${binary}: ${err.message}\n`);
  process.exit(1);
});

child.on('exit', (code, signal) => {
  if (signal !== null) {
    // Die of the same signal so callers see what the tool saw.
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
    return;
  }
  process.exit(code);
});
