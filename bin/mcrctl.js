#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Installed `mcrctl` command: runs the compiled CLI (build with `npm run build:ts`).

require('../dist/src/cli/mcrctl.js');
