// SPDX-License-Identifier: MIT
// Saturation check for issue #11 (docs/performance.md#cpu-per-packet-issue-11): the one-hop lab
// with NIC-like frames (generator veth tx checksum offload off, GRO on the sink's veth), one
// relay (mcr default `mcr`, mcr with `xdp`, kernel routing via smcroute `kernel`, or the C
// recvmmsg/sendmmsg relay `c-relay`, built by `node dist/bench/setup.js c-relay`), and three
// runs of 1,000,000 1400-byte packets sent unpaced; prints offered (r0 rx), delivered (unique at
// the sink) and the loss per run. As root, after `npm install`: node bench/tools/saturation.js xdp
// mcr and the C relay are pinned to CPU 1, as in the efficiency scenario.
const { Topology, buildOneHop, kernelMulticastRoutingMissing } = require('../../dist/lab/netns');
const { startMcrd } = require('../../dist/lab/mcrd');
const { receive, send } = require('../../dist/tests/helpers/netns');
const fs = require('fs');
const path = require('path');
const MODES = ['mcr', 'xdp', 'kernel', 'c-relay'];
(async () => {
  if (!MODES.includes(process.argv[2] ?? '')) {
    console.error('usage: node '+process.argv[1]+' '+MODES.join('|'));
    process.exit(2);
  }
  const mode = process.argv[2];
  if (mode === 'kernel' && kernelMulticastRoutingMissing()) {
    console.error(`kernel: ${kernelMulticastRoutingMissing()}`);
    process.exit(2);
  }
  const t = await buildOneHop(new Topology('sat' + mode.slice(0, 2)), {});
  await t.exec('gen', 'ethtool', ['-K', 'g0', 'tx', 'off']);
  await t.exec('sink', 'ethtool', ['-K', 's0', 'gro', 'on']);
  let d;
  if (mode === 'kernel') {
    await t.exec('relay', 'sysctl', ['-qw', 'net.ipv4.conf.all.mc_forwarding=1']).catch(() => {});
    const conf = `/tmp/sat-smcroute.conf`;
    fs.writeFileSync(conf, 'phyint r0 enable\nphyint r1 enable\nmroute from r0 source 10.0.1.1 group 239.1.1.1 to r1\n');
    d = t.spawn('relay', 'smcroute', 'smcrouted', ['-n', '-N', '-f', conf, '-i', 'satk', '-l', 'notice', '-P', '/tmp/satk.pid', '-u', '/tmp/sat-smcroute.sock']);
    await new Promise((r) => setTimeout(r, 1500));
  } else if (mode === 'c-relay') {
    const bin = path.join(__dirname, '../../build/bench/c-relay');
    d = t.spawn('relay', 'c-relay', 'taskset', ['-c', '1', bin, '--in-addr', '10.0.1.2', '--group', '239.1.1.1', '--port', '5001', '--out-addr', '10.0.2.1', '--out-group', '239.1.1.1', '--out-port', '5001']);
    await new Promise((r) => setTimeout(r, 500));
  } else {
    const cfg = `/tmp/sat-${mode}.json`;
    fs.writeFileSync(cfg, JSON.stringify({ workers: 1, cpus: [1], xdp: mode === 'xdp', logLevel: 'warn', rules: [{ name: 'a', input: { interface: 'r0', group: '239.1.1.1', port: 5001 }, outputs: [{ interface: 'r1', group: '239.1.1.1', port: 5001 }] }] }));
    d = await startMcrd(t, 'relay', { socket: `/tmp/sat-${mode}.sock`, configFile: cfg });
  }
  const N = 1_000_000;
  for (let run = 0; run < 3; run++) {
    const sink = receive(t, 'sink', { group: '239.1.1.1', port: 5001, iface: 's0', count: N, timeoutS: 2 });
    await sink.ready;
    const r0 = Number((await t.exec('relay', 'cat', ['/sys/class/net/r0/statistics/rx_packets'])).stdout);
    const sent = await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 0, count: N, size: 1400 });
    const got = await sink.result;
    const r0b = Number((await t.exec('relay', 'cat', ['/sys/class/net/r0/statistics/rx_packets'])).stdout);
    console.log(JSON.stringify({ mode, run, offered: r0b - r0, sentPps: Math.round(sent.pps), delivered: got.unique, lossPct: +(100 * (1 - got.unique / (r0b - r0))).toFixed(3) }));
  }
  if (d.stop) await d.stop(); 
  await t.destroy();
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
