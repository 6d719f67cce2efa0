#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Hot-path regression gate: runs build/Release/mcr_replay under callgrind, divides the
// instructions of its measured loop by the packets it forwarded and fails when that is more
// than the tolerance over baseline-instructions.json next to it. `--update` records a new baseline.
// The frame set's outputs use packet egress, the default for multicast outputs; the same set with
// every output on its UDP socket (--socket-egress, the path of unicast outputs and datagrams
// over the MTU) is measured and gated too, against its own committed figure. Two frame sets:
// v2 (the default, top-level figures) and v3-match (the matching beyond (*,G,port): (S,G) and
// any-port entries, ESP, routed and port-keeping outputs; its figures under `v3Match`), each
// gated against its own baseline. A third, pim (PIM's routes: routed (*,G) punting new_source,
// (S,G) beside it, the input's (*,*)), is gated with packet egress only (its outputs are all
// routed, which never use a UDP socket) and with the punts rate-limited away, PIM's steady state;
// the same set with every punt copied (--punt-all, the worst case while sources switch) is
// measured and printed, not gated. Its figures are under `pim`.
// It also prices the span code: sampling off must stay within 1% of a build without it
// (mcr_replay_nospans), every 64th batch traced within 3%.
// Plain Node, no dependencies; docs/hot-path-gate.md explains what is measured.

const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.resolve(__dirname, '..', '..', '..');
const harness = path.join(root, 'build', 'Release', 'mcr_replay');
const committedBaselinePath = path.join(__dirname, 'baseline-instructions.json');
const defaultTolerance = 0.03;

function fail(message) {
  console.error(`hot-path gate: ${message}`);
  process.exit(1);
}

// --baseline FILE: compare with (or --update) another file than the committed one (the unit test
// uses it to prove a regression fails the gate).
const args = process.argv.slice(2);
// --update-set KEY: record one frame set's figures and keep the others' (a new set's first baseline).
let update = false;
let updateOnly;
let baselinePath = committedBaselinePath;
for (let i = 0; i < args.length; ++i) {
  if (args[i] === '--update') update = true;
  else if (args[i] === '--update-set' && i + 1 < args.length) {
    update = true;
    updateOnly = args[++i];
  } else if (args[i] === '--baseline' && i + 1 < args.length) baselinePath = path.resolve(args[++i]);
  else {
    console.error('usage: node native/tests/hot-path/gate.js [--update | --update-set v2|v3-match|pim] [--baseline FILE]');
    process.exit(2);
  }
}

if (!fs.existsSync(harness)) fail(`${path.relative(root, harness)} is missing: run \`npm run build\` first`);
const version = spawnSync('valgrind', ['--version'], { encoding: 'utf8' });
if (version.error) fail('valgrind is not installed (Debian: apt-get install valgrind)');
const valgrindVersion = version.stdout.trim();

// The harness switches instrumentation on only around its measured loop (callgrind client
// requests), so warm-up, setup and the checks afterwards are not counted.
function measure(binary, args = []) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mcr-gate-'));
  const outFile = path.join(tmp, 'callgrind.out');
  let run;
  let profile;
  try {
    run = spawnSync(
      'valgrind',
      ['--tool=callgrind', '--instr-atstart=no', '--collect-atstart=no', `--callgrind-out-file=${outFile}`, binary, ...args],
      { encoding: 'utf8', timeout: 120_000, maxBuffer: 16 << 20 },
    );
    profile = fs.existsSync(outFile) ? fs.readFileSync(outFile, 'utf8') : '';
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  const name = [path.basename(binary), ...args].join(' ');
  if (run.error) fail(`could not run valgrind: ${run.error.message}`);
  if (run.status !== 0) {
    // The harness names what it found wrong (counters, batching, allocations) on stderr;
    // valgrind's own chatter is the lines starting with ==pid==.
    const own = (run.stderr ?? '').split('\n').filter((l) => l.trim() !== '' && !/^==\d+==/.test(l));
    fail(`${name} exited with ${run.status ?? run.signal}${own.length ? `:\n  ${own.join('\n  ')}` : ''}`);
  }
  const jsonLine = (run.stdout ?? '').split('\n').find((l) => l.startsWith('{'));
  if (!jsonLine) fail(`${name} printed no JSON summary:\n${run.stdout}`);
  const summary = JSON.parse(jsonLine);
  if (!summary.underValgrind) fail(`${name} did not detect valgrind; the count would be meaningless`);
  if (!summary.countersVerified || !summary.batchingVerified) fail(`${name} could not verify its counters`);
  const allocations = summary.allocationsInLoop.operatorNew + summary.allocationsInLoop.malloc;
  if (allocations !== 0) fail(`${name}: the measured loop allocated ${allocations} times; the per-packet path must not allocate`);
  // `events:` names the columns; Ir (instructions) is the only event without cache simulation.
  // `totals:` is the sum over the collected region; older callgrind versions write `summary:`.
  const events = (profile.match(/^events:\s*(.+)$/m) ?? [])[1]?.trim().split(/\s+/) ?? [];
  const irColumn = events.indexOf('Ir');
  const totalsLine = (profile.match(/^totals:\s*(.+)$/m) ?? profile.match(/^summary:\s*(.+)$/m) ?? [])[1];
  if (irColumn < 0 || totalsLine === undefined) fail(`${name}: no Ir totals in the callgrind output`);
  const instructions = Number(totalsLine.trim().split(/\s+/)[irColumn]);
  if (!(instructions > 0)) fail(`${name}: callgrind counted no instructions: were the client requests compiled in?`);
  return { summary, instructions, allocations, perPacket: instructions / summary.packets };
}

// Each frame set with packet egress (the default for multicast outputs) and with every output on
// its UDP socket. `key` is mcr_replay's --frame-set; `stored` where its figures live in the file
// (`field`: under which key, none for v2's top-level figures). pim's outputs are all routed (packet
// egress only), so it has no socket egress figure; it is measured once more with every punt copied.
const FRAME_SETS = [
  { key: 'v2', prefix: '', stored: (b) => b, socketEgress: true },
  { key: 'v3-match', prefix: 'v3-match ', field: 'v3Match', stored: (b) => b?.v3Match, socketEgress: true },
  { key: 'pim', prefix: 'pim ', field: 'pim', stored: (b) => b?.pim, socketEgress: false, puntAll: true },
];
if (updateOnly !== undefined && !FRAME_SETS.some((set) => set.key === updateOnly))
  fail(`--update-set must name a frame set (${FRAME_SETS.map((set) => set.key).join(', ')}), got "${updateOnly}"`);
const runs = FRAME_SETS.map((set) => ({
  ...set,
  packet: measure(harness, ['--frame-set', set.key]),
  socket: set.socketEgress ? measure(harness, ['--frame-set', set.key, '--socket-egress']) : undefined,
  puntAll: set.puntAll ? measure(harness, ['--frame-set', set.key, '--punt-all']) : undefined,
}));
const perPacket = runs[0].packet.perPacket; // v2, the span cost's reference

const fmt = (n) => n.toFixed(1);
const pct = (r) => `${r >= 0 ? '+' : ''}${(r * 100).toFixed(1)}%`;
const detail = ({ summary, instructions, allocations }) =>
  `${summary.packets} packets (${Object.entries(summary.categories)
    .map(([name, n]) => `${name} ${n}`)
    .join(', ')}), ${summary.sends} sends in ${summary.sendCalls} send calls, ` +
  `${instructions} instructions; heap allocations in the measured loop: ${allocations} ` +
  `(operator new ${summary.allocationsInLoop.operatorNew}, malloc ${summary.allocationsInLoop.malloc})`;

const baseline = fs.existsSync(baselinePath) ? JSON.parse(fs.readFileSync(baselinePath, 'utf8')) : undefined;
const shown = path.relative(root, baselinePath);

if (update) {
  const today = new Date().toISOString().slice(0, 10);
  const round = (n) => Math.round(n * 100) / 100;
  const figures = (run) => ({
    instructionsPerPacket: round(run.packet.perPacket),
    ...(run.socket ? { socketEgressInstructionsPerPacket: round(run.socket.perPacket) } : {}),
    // Not gated: the cost when every punt is copied, kept for reference.
    ...(run.puntAll ? { puntAllInstructionsPerPacket: round(run.puntAll.perPacket) } : {}),
    frameSet: run.packet.summary.frameSet,
    measuredOn: `${run.packet.summary.compiler}, ${valgrindVersion}, ${today}`,
  });
  let next;
  if (updateOnly === undefined) {
    next = { ...figures(runs[0]), tolerance: baseline?.tolerance ?? defaultTolerance };
    for (const run of runs.slice(1)) next[run.field] = figures(run);
  } else {
    const run = runs.find((r) => r.key === updateOnly);
    next = run.field ? { ...baseline, [run.field]: figures(run) } : { ...baseline, ...figures(run) };
  }
  fs.writeFileSync(baselinePath, `${JSON.stringify(next, null, 2)}\n`);
  for (const run of runs.filter((r) => updateOnly === undefined || r.key === updateOnly)) {
    const was = run.stored(baseline) ? `, was ${fmt(run.stored(baseline).instructionsPerPacket)}` : '';
    console.log(`hot-path gate: ${run.key} baseline set to ${fmt(run.packet.perPacket)} instructions/packet${was}`);
    if (run.socket) console.log(`  socket egress: ${fmt(run.socket.perPacket)} instructions/packet`);
    if (run.puntAll) console.log(`  every punt copied: ${fmt(run.puntAll.perPacket)} instructions/packet`);
    console.log(`  ${detail(run.packet)}`);
  }
  process.exit(0);
}

if (!baseline) fail(`no ${shown}: record one with \`node native/tests/hot-path/gate.js --update\``);
const tolerance = baseline.tolerance ?? defaultTolerance;
const gated = [];
for (const run of runs) {
  const stored = run.stored(baseline);
  if (!stored) fail(`${shown} has no ${run.key} figures: record them with \`node native/tests/hot-path/gate.js --update-set ${run.key}\``);
  if (stored.frameSet !== run.packet.summary.frameSet)
    fail(
      `frame set ${run.key} changed ("${run.packet.summary.frameSet}"; the baseline was measured on "${stored.frameSet}"): ` +
        `record a new baseline with \`node native/tests/hot-path/gate.js --update-set ${run.key}\``,
    );
  const figures = [['hot path', run.packet, stored.instructionsPerPacket]];
  if (run.socket) figures.push(['socket egress', run.socket, stored.socketEgressInstructionsPerPacket]);
  for (const [label, measured, committed] of figures) {
    const change = measured.perPacket / committed - 1;
    gated.push({
      label: `${run.prefix}${label}`,
      change,
      detail: detail(measured),
      measuredOn: stored.measuredOn,
      text: `${fmt(measured.perPacket)} instructions/packet, committed ${fmt(committed)} (${pct(change)}, limit +${(tolerance * 100).toFixed(0)}%)`,
    });
  }
}
const regressed = gated.filter((g) => !(g.change <= tolerance));
for (const g of regressed) {
  console.error(`${g.label} regressed: ${g.text}`);
  console.error(`  ${g.detail}`);
  console.error(`  baseline measured on ${g.measuredOn}`);
}
if (regressed.length > 0) process.exit(1);
for (const g of gated) console.log(`${g.label} ok: ${g.text}`);
for (const run of runs) console.log(`  ${run.key}: ${detail(run.packet)}`);
for (const run of runs.filter((r) => r.puntAll)) {
  const p = (m) => m.summary.punts;
  console.log(
    `  ${run.key} punts: rate-limited ${p(run.packet).rateLimited} (punted ${p(run.packet).punted}); with every punt copied ` +
      `(--punt-all, not gated): ${fmt(run.puntAll.perPacket)} instructions/packet, punted ${p(run.puntAll).punted}, ` +
      `ring full ${p(run.puntAll).ringFull}`,
  );
}
if (gated.some((g) => g.change < -tolerance))
  console.log(
    `note: more than ${(tolerance * 100).toFixed(0)}% under a committed figure; if that is the new normal, ` +
      'record it so later regressions are measured from here: node native/tests/hot-path/gate.js --update',
  );

// The span code's cost (issue #9): the shipped build with sampling off against a build without
// the span code (MCR_ENABLE_SPANS=0, same sources and flags), and with every 64th batch traced
// (records written, sends timed, rules noted).
const withoutSpans = path.join(root, 'build', 'Release', 'mcr_replay_nospans');
if (!fs.existsSync(withoutSpans)) fail(`${path.relative(root, withoutSpans)} is missing: run \`npm run build\` first`);
const bare = measure(withoutSpans).perPacket;
const sampled = measure(harness, ['--sample-every', '64']).perPacket;
const SPAN_LIMITS = { off: 0.01, every64: 0.03 };
const spanLines = [
  ['sampling off', perPacket, SPAN_LIMITS.off],
  ['every 64th batch traced', sampled, SPAN_LIMITS.every64],
].map(([label, value, limit]) => {
  const over = value / bare - 1;
  return {
    ok: over <= limit,
    text: `${label}: ${fmt(value)} instructions/packet, ${pct(over)} over MCR_ENABLE_SPANS=0 (${fmt(bare)}; limit +${limit * 100}%)`,
  };
});
for (const l of spanLines) (l.ok ? console.log : console.error)(`span cost ${l.ok ? 'ok' : 'too high'}: ${l.text}`);
if (spanLines.some((l) => !l.ok)) process.exit(1);
