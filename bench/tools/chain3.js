// SPDX-License-Identifier: MIT
// 3-hop chain for issue #11 (docs/performance.md#cpu-per-packet-issue-11): gen -> h1 -> h2 -> h3
// -> sink, the same relay at every hop (mcr default `mcr`, mcr with `xdp`, or kernel routing via
// smcroute `kernel`), NIC-like frames from the generator and GRO on every receiving veth (XDP
// redirects need it); three runs of 1,000,000 1400-byte packets unpaced; prints the delivered rate
// and loss. As root, after `npm install`: node bench/tools/chain3.js xdp
const { Topology, kernelMulticastRoutingMissing } = require('../../dist/lab/netns');
const { startMcrd } = require('../../dist/lab/mcrd');
const { receive, send } = require('../../dist/tests/helpers/netns');
const fs = require('fs');
const LINKS = [
  { from: 'gen', down: 'g0', to: 'h1', up: 'a0' },
  { from: 'h1', down: 'a1', to: 'h2', up: 'b0' },
  { from: 'h2', down: 'b1', to: 'h3', up: 'c0' },
  { from: 'h3', down: 'c1', to: 'sink', up: 's0' },
];
(async () => {
  if (!['mcr', 'xdp', 'kernel'].includes(process.argv[2] ?? '')) {
    console.error('usage: node '+process.argv[1]+' mcr|xdp|kernel');
    process.exit(2);
  }
  const mode = process.argv[2];
  if (mode === 'kernel' && kernelMulticastRoutingMissing()) {
    console.error(`kernel: ${kernelMulticastRoutingMissing()}`);
    process.exit(2);
  }
  const t = new Topology('ch' + mode.slice(0, 2), { sysctls: { 'net.ipv6.conf.all.disable_ipv6': '1', 'net.ipv6.conf.default.disable_ipv6': '1' } });
  for (const ns of ['gen', ...LINKS.map((l) => l.to)]) await t.addNamespace(ns);
  for (const [i, l] of LINKS.entries()) await t.link(l.from, l.down, `10.0.${i + 1}.1/24`, l.to, l.up, `10.0.${i + 1}.2/24`);
  await t.ip('gen', ['route', 'add', '239.0.0.0/8', 'dev', 'g0']);
  await t.exec('gen', 'ethtool', ['-K', 'g0', 'tx', 'off']);
  for (const l of LINKS) await t.exec(l.to, 'ethtool', ['-K', l.up, 'gro', 'on']);
  const procs = [];
  for (let i = 0; i < 3; i++) {
    const ns = LINKS[i].to, inIf = LINKS[i].up, outIf = LINKS[i + 1].down;
    if (mode === 'kernel') {
      const conf = `/tmp/ch-${ns}.conf`;
      fs.writeFileSync(conf, `phyint ${inIf} enable\nphyint ${outIf} enable\nmroute from ${inIf} source 10.0.1.1 group 239.1.1.1 to ${outIf}\n`);
      procs.push(t.spawn(ns, 'smcrouted', 'smcrouted', ['-n', '-N', '-f', conf, '-i', `ch${ns}`, '-l', 'notice', '-P', `/tmp/ch${ns}.pid`, '-u', `/tmp/ch${ns}.sock`]));
    } else {
      const cfg = `/tmp/ch-${ns}.json`;
      fs.writeFileSync(cfg, JSON.stringify({ workers: 1, xdp: mode === 'xdp', logLevel: 'warn', rules: [{ name: 'a', input: { interface: inIf, group: '239.1.1.1', port: 5001 }, outputs: [{ interface: outIf, group: '239.1.1.1', port: 5001 }] }] }));
      procs.push(await startMcrd(t, ns, { socket: `/tmp/ch-${ns}.sock`, configFile: cfg }));
    }
  }
  await new Promise((r) => setTimeout(r, 2000));
  const N = 1_000_000;
  for (let run = 0; run < 3; run++) {
    const sink = receive(t, 'sink', { group: '239.1.1.1', port: 5001, iface: 's0', count: N, timeoutS: 2 });
    await sink.ready;
    const rx = async () => Number((await t.exec('h1', 'cat', ['/sys/class/net/a0/statistics/rx_packets'])).stdout);
    const a = await rx();
    const sent = await send(t, 'gen', { group: '239.1.1.1', port: 5001, source: '10.0.1.1', rate: 0, count: N, size: 1400 });
    const got = await sink.result;
    const offered = (await rx()) - a;
    console.log(JSON.stringify({ mode, run, genPps: Math.round(sent.pps), offered, delivered: got.unique, deliveredPps: Math.round(got.unique / sent.elapsed_s), lossPct: +(100 * (1 - got.unique / offered)).toFixed(3) }));
  }
  for (const p of procs) await (p.stop ? p.stop() : null);
  await t.destroy();
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(1); });
