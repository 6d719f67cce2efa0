#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Installed `mcrd` command: runs the compiled daemon (build with `npm run build`).

require('../dist/src/cli/mcrd.js');
