#!/usr/bin/env node
// SPDX-License-Identifier: MIT
// Builds the libFuzzer targets in native/fuzz/ (clang, ASan + UBSan) into build/fuzz/ and runs
// them. Two modes:
//   npm run fuzz [-- --seconds N] [--target frame|payload]
//       each target for N seconds (default 60); new corpus entries go to build/fuzz/corpus/<target>/
//       (kept between runs), never into the committed seeds in native/fuzz/corpus/<target>/.
//   node scripts/fuzz.js --runs N   (what npm test runs)
//       each target for exactly N executions from a fixed seed over the committed seeds, into
//       an empty scratch corpus, so a run is reproducible; also checks that the seeds cover every
//       class the parser and the payload checker name, and every path the frame target reports.
//       Binaries, corpus and logs go to a fresh build/fuzz/run-XXXXXX/ (concurrent runs do not
//       share files), removed when all pass and kept, with the reproducer, when one fails.
// Exits 1 on a crash, a sanitizer report or a failed check, naming the target and the
// reproducer file; exits 1 too when clang or its libFuzzer runtime is missing.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const outDir = path.join(root, 'build', 'fuzz');
const INSTALL_HINT = 'install them with: apt-get install clang libclang-rt-14-dev (.ci/run does)';

const CORE = ['parse.cc', 'rule_table.cc', 'egress.cc', 'counters.cc'].map((f) => path.join('native', 'core', f));
const TARGETS = {
  frame: {
    sources: ['native/fuzz/frame_fuzzer.cc', ...CORE],
    includes: ['-Inative/tests'],
    // Every frame class the parser counts must have a seed: matched, no_match and each filtered_*.
    classes: () => ['matched', 'no_match', ...readNames('native/include/mcr/counters.h', /X\((filtered_\w+)\)/g)],
    // Paths beyond the verdict (frame_fuzzer.cc prints "path NAME"), each needing a seed too.
    paths: [
      'esp_accepted', // the parser took an ESP packet (IP protocol 50) as a datagram
      'esp_truncated', // ESP shorter than its 8-byte header: filtered_truncated
      'esp_match', // an ESP rule matched
      'sg_port_match', // an (S,G,port) rule matched
      'sg_any_port_match', // an (S,G,any) rule matched
      'any_port_match', // a (*,G,any) rule matched
      'plain_table_match', // a table of (*,G,port) UDP rules only (the one-probe lookup) matched
      'routed_sent', // a routed output's header reached the sink
      'routed_ttl_expired', // a routed output's copy not sent: received TTL <= 1
      'routed_too_big', // a routed output's copy not sent: IP packet over its MTU
      'keep_port_socket_sent', // a port-0 output's copy through the UDP socket reached the sink
      'keep_port_packet_sent', // a port-0 output's copy through packet egress reached the sink
      'packet_sent', // a republished copy through packet egress reached the sink
      'punt_copied', // a punting rule's packet copied into the punt ring
      'punt_copy_capped', // a punted packet longer than a record: its first kPuntPacketBytes copied
      'punt_rate_limited', // a punt not made: the bucket empty (rate or burst 0)
      'punt_ring_full', // a punt not made: the ring's reader a whole ring behind
      'punt_no_punter', // a punting rule's packet with no Punter in the batcher: forwarded only
      'any_group_punt', // an input's (*,*) entry took routable multicast no rule matched
      'any_group_skipped_link_local', // 224.0.0.0/24 on the (*,*) entry's input: no_match
      'any_group_skipped_not_multicast', // unicast or 240/4 on the (*,*) entry's input: no_match
    ],
  },
  payload: {
    sources: ['native/fuzz/payload_fuzzer.cc'],
    includes: ['-Inative/tools/mcrgen'],
    classes: () => {
      const text = fs.readFileSync(path.join(root, 'native/tools/mcrgen/payload.h'), 'utf8');
      const body = (text.match(/enum class Verdict \{([^}]*)\}/) ?? [])[1] ?? '';
      return body
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
    },
  },
};

function readNames(file, re) {
  return [...fs.readFileSync(path.join(root, file), 'utf8').matchAll(re)].map((m) => m[1]);
}

function usage(message) {
  console.error(
    `fuzz: ${message}\nusage: npm run fuzz [-- --seconds N] [--target ${Object.keys(TARGETS).join('|')}]  |  node scripts/fuzz.js --runs N`,
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { seconds: 60, runs: undefined, targets: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    const positive = (name, v) => {
      if (!/^[1-9]\d*$/.test(v)) usage(`${name} must be a positive integer, got "${v}"`);
      return Number(v);
    };
    if (a === '--seconds') opts.seconds = positive('--seconds', value());
    else if (a === '--runs') opts.runs = positive('--runs', value());
    else if (a === '--target') {
      const t = value();
      if (!(t in TARGETS)) usage(`unknown target "${t}"`);
      opts.targets.push(t);
    } else usage(`unknown argument "${a}"`);
  }
  if (opts.targets.length === 0) opts.targets = Object.keys(TARGETS);
  return opts;
}

function findClang() {
  for (const cxx of ['clang++', 'clang++-14']) {
    const r = spawnSync(cxx, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return { cxx, version: r.stdout.split('\n')[0] };
  }
  return undefined;
}

function build(cxx, name, workDir) {
  const binary = path.join(workDir, `${name}_fuzzer`);
  const args = [
    '-std=c++20',
    '-g',
    '-O1',
    '-fsanitize=fuzzer,address,undefined',
    '-fno-sanitize-recover=undefined',
    '-Inative/include',
    ...(TARGETS[name].includes ?? []),
    ...TARGETS[name].sources,
    '-o',
    binary,
  ];
  const r = spawnSync(cxx, args, { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) {
    process.stdout.write(r.stderr);
    if (/libclang_rt\.fuzzer|fuzzer.*No such file|cannot find -l?.*(asan|ubsan|fuzzer)/i.test(r.stderr))
      console.log(`fuzz: ${cxx} lacks the libFuzzer/ASan/UBSan runtimes; ${INSTALL_HINT}`);
    console.log(`fuzz ${name}: build failed: ${cxx} ${args.join(' ')}`);
    return undefined;
  }
  return binary;
}

// Runs each committed seed once and checks that together they reach every class.
function checkSeedCoverage(name, binary) {
  const seedDir = path.join(root, 'native', 'fuzz', 'corpus', name);
  const seeds = fs.readdirSync(seedDir).map((f) => path.join(seedDir, f));
  const r = spawnSync(binary, seeds, { encoding: 'utf8', env: { ...process.env, MCR_FUZZ_PRINT_VERDICT: '1' } });
  const seen = new Set([...r.stdout.matchAll(/^verdict (\w+)$/gm)].map((m) => m[1]));
  const paths = TARGETS[name].paths ?? [];
  const seenPaths = new Set([...r.stdout.matchAll(/^path (\w+)$/gm)].map((m) => m[1]));
  const missing = [...TARGETS[name].classes().filter((c) => !seen.has(c)), ...paths.filter((p) => !seenPaths.has(p))];
  const unknown = [...seenPaths].filter((p) => !paths.includes(p));
  if (r.status !== 0) {
    process.stdout.write(r.stderr.split('\n').slice(-40).join('\n'));
    console.log(`fuzz ${name}: a committed seed fails on its own (exit ${r.status})`);
    return false;
  }
  if (unknown.length > 0) {
    console.log(
      `fuzz ${name}: the target prints path ${unknown.join(', ')}, which scripts/fuzz.js does not list (add it to TARGETS.${name}.paths)`,
    );
    return false;
  }
  if (missing.length > 0) {
    console.log(
      `fuzz ${name}: no seed in native/fuzz/corpus/${name}/ reaches ${missing.join(', ')} (add one to native/fuzz/make-corpus.js)`,
    );
    return false;
  }
  console.log(
    `fuzz ${name}: ${seeds.length} seeds cover all ${seen.size} classes (${[...seen].sort().join(', ')})` +
      (paths.length > 0 ? ` and all ${paths.length} paths (${paths.join(', ')})` : ''),
  );
  return true;
}

function run(name, binary, opts, workDir) {
  const seedDir = path.join(root, 'native', 'fuzz', 'corpus', name);
  // libFuzzer adds new inputs to the first corpus directory only.
  const scratch = path.join(workDir, 'corpus', name);
  fs.mkdirSync(scratch, { recursive: true });
  const artifacts = path.join(workDir, 'artifacts');
  fs.mkdirSync(artifacts, { recursive: true });
  const before = fs.readdirSync(scratch).length;
  const budget = opts.runs !== undefined ? [`-runs=${opts.runs}`, '-seed=1', '-reload=0'] : [`-max_total_time=${opts.seconds}`];
  const args = [...budget, '-timeout=10', '-print_final_stats=1', `-artifact_prefix=${artifacts}/${name}-`, scratch, seedDir];
  const log = path.join(workDir, `${name}.log`);
  const logFd = fs.openSync(log, 'w');
  const started = Date.now();
  return new Promise((resolve) => {
    const child = spawn(binary, args, { cwd: root, stdio: ['ignore', logFd, logFd] });
    child.on('close', (code, signal) => {
      fs.closeSync(logFd);
      const text = fs.readFileSync(log, 'utf8');
      const stat = (key) => (text.match(new RegExp(`^stat::${key}:\\s*(\\d+)`, 'm')) ?? [])[1];
      const last = [...text.matchAll(/^#\d+\s+(?:DONE|pulse|NEW|REDUCE|INITED)\s+cov: (\d+) ft: (\d+) corp: (\d+)/gm)].pop();
      const inited = text.match(/^#\d+\s+INITED\s+cov: (\d+) ft: (\d+) corp: (\d+)/m);
      const execs = Number(stat('number_of_executed_units') ?? 0);
      const seconds = (Date.now() - started) / 1000;
      const after = fs.existsSync(scratch) ? fs.readdirSync(scratch).length : 0;
      const cov = last
        ? `cov ${inited ? `${inited[1]} -> ` : ''}${last[1]}, ft ${inited ? `${inited[2]} -> ` : ''}${last[2]}, corpus ${inited ? `${inited[3]} -> ` : ''}${last[3]}`
        : 'no coverage line';
      const summary =
        `fuzz ${name}: ${execs} executions in ${seconds.toFixed(1)} s (${Math.round(execs / Math.max(seconds, 0.001))}/s), ${cov}, new inputs ${after - before}` +
        (opts.runs !== undefined ? ' (scratch corpus)' : ` in ${path.relative(root, scratch)}`);
      if (code === 0) {
        console.log(`${summary}: ok`);
        resolve(true);
        return;
      }
      // The sanitizer's or the check's report, then where the reproducer is.
      const lines = text.split('\n');
      const reportStart = lines.findIndex((l) =>
        /ERROR: (AddressSanitizer|UndefinedBehaviorSanitizer|libFuzzer)|runtime error:|check failed at|==\d+==ERROR/.test(l),
      );
      process.stdout.write(
        `${lines
          .slice(reportStart >= 0 ? reportStart : -60)
          .slice(0, 80)
          .join('\n')}\n`,
      );
      const artifact = (text.match(/Test unit written to (\S+)/) ?? [])[1];
      console.log(`${summary}`);
      console.log(
        `fuzz ${name}: FAILED (exit ${code ?? signal}); full log ${path.relative(root, log)}` +
          (artifact
            ? `; reproducer ${path.relative(root, path.resolve(root, artifact))} (reproduce: ${path.relative(root, binary)} ${path.relative(root, path.resolve(root, artifact))})`
            : ''),
      );
      resolve(false);
    });
  });
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const clang = findClang();
  if (!clang) {
    console.log(`fuzz: clang++ not found; the fuzz targets need clang with libFuzzer, ASan and UBSan: ${INSTALL_HINT}`);
    console.log(`fuzz: 0 passed, ${opts.targets.length} failed`);
    process.exit(1);
  }
  console.log(
    `fuzz: ${clang.version}; targets ${opts.targets.join(', ')}; ` +
      (opts.runs !== undefined ? `${opts.runs} executions each (-seed=1)` : `${opts.seconds} s each`),
  );
  fs.mkdirSync(outDir, { recursive: true });
  const workDir = opts.runs !== undefined ? fs.mkdtempSync(path.join(outDir, 'run-')) : outDir;
  let passed = 0;
  let failed = 0;
  for (const name of opts.targets) {
    const binary = build(clang.cxx, name, workDir);
    const ok =
      binary !== undefined && (opts.runs === undefined || checkSeedCoverage(name, binary)) && (await run(name, binary, opts, workDir));
    if (ok) passed++;
    else failed++;
  }
  if (opts.runs !== undefined) {
    if (failed === 0) fs.rmSync(workDir, { recursive: true, force: true });
    else console.log(`fuzz: binaries, logs and reproducers kept in ${path.relative(root, workDir)}/`);
  }
  console.log(`fuzz: ${passed} passed, ${failed} failed`);
  process.exit(failed > 0 ? 1 : 0);
}

main();
