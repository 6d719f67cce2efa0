#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// The naive Node.js relay a user might write: dgram socket joined to the input group(s),
// 'message' -> send() to every output. Counters are printed as one JSON line on SIGINT/SIGTERM.
// usage: node-relay.js IN_ADDR GROUP STREAMS PORT OUT_ADDR OUT_GROUP FANOUT OUT_PORT [TTL]
'use strict';
const dgram = require('node:dgram');

const [inAddr, group, streams, port, outAddr, outGroup, fanout, outPort, ttl] = process.argv.slice(2);
if (!outPort) {
  process.stderr.write('usage: node-relay.js IN_ADDR GROUP STREAMS PORT OUT_ADDR OUT_GROUP FANOUT OUT_PORT [TTL]\n');
  process.exit(2);
}

const plus = (addr, k) => {
  const n = addr.split('.').reduce((acc, o) => acc * 256 + Number(o), 0) + k;
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
};
const dests = Array.from({ length: Number(fanout) }, (_, k) => plus(outGroup, k));
let rx = 0;
let tx = 0;
let txErrors = 0;

const out = dgram.createSocket('udp4');
const input = dgram.createSocket({ type: 'udp4', reuseAddr: true });

out.bind({ address: outAddr, port: 0 }, () => {
  out.setMulticastInterface(outAddr);
  out.setMulticastTTL(Number(ttl ?? 16));
  out.setMulticastLoopback(false);
  input.bind(Number(port), () => {
    for (let k = 0; k < Number(streams); k++) input.addMembership(plus(group, k), inAddr);
    process.stderr.write('node-relay: ready\n');
  });
});

input.on('message', (msg) => {
  rx++;
  for (const d of dests) {
    out.send(msg, Number(outPort), d, (err) => {
      if (err) txErrors++;
      else tx++;
    });
  }
});

const finish = () => {
  process.stdout.write(`${JSON.stringify({ rx, tx, tx_errors: txErrors })}\n`);
  process.exit(0);
};
process.on('SIGINT', finish);
process.on('SIGTERM', finish);
