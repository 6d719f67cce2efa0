// SPDX-License-Identifier: MIT
// `npm run bench [-- --scenario NAME] [--quick]`: the benchmark suite's entry point. Prepares the
// host (root, lock, stale namespaces, peers), runs the scenarios, writes
// bench/results/<timestamp>/ (results.json, report.md, SVG charts) and prints the summary table.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import { writeCharts, type Chart } from './charts';
import { cleanup, installSignalHandlers, interrupted, registerTempDir } from './proc';
import { mcrRelay, mcrVariant } from './relays/mcr';
import { cRelay } from './relays/c-relay';
import { kernelRelay } from './relays/kernel';
import { nodeRelay } from './relays/node-relay';
import { socatRelay } from './relays/socat';
import type { Relay } from './relays/relay';
import { RESULTS_DIR } from './paths';
import { pinning } from './traffic';
import { renderReport, terminalSummary } from './report';
import { relayInfo, SELECTABLE_RELAYS } from './relays/registry';
import type { BenchContext } from './scenarios/common';
import { control } from './scenarios/control';
import { DRILL_DEFAULT_COUNT, DRILL_DEFAULT_ROUNDS, drill } from './scenarios/drill';
import { EFFICIENCY_DEFAULT_REPETITIONS, EFFICIENCY_DEFAULT_TRIAL_S, efficiency } from './scenarios/efficiency';
import { fanout } from './scenarios/fanout';
import { IGMP_LATENCY_IGMPPROXY_CYCLES, IGMP_LATENCY_MCR_CYCLES, igmpLatency } from './scenarios/igmp-latency';
import { latency } from './scenarios/latency';
import { pipeline } from './scenarios/pipeline';
import { soak, SOAK_CONTROL_OPS_PER_S, SOAK_DEFAULT_S } from './scenarios/soak';
import { streams } from './scenarios/streams';
import { telemetry, TELEMETRY_DEFAULT_RATE, TELEMETRY_DEFAULT_ROUNDS, TELEMETRY_DEFAULT_TRIAL_S } from './scenarios/telemetry';
import { throughput } from './scenarios/throughput';
import { buildTools, hostMeta, installPeers, refuseReason, removeStaleNamespaces, takeLock } from './setup';
import type { Results, ScenarioId, ScenarioResult } from './types';

interface Scenario<K extends ScenarioId> {
  name: K;
  aliases: string[];
  fn: (ctx: BenchContext) => Promise<ScenarioResult<K>>;
  what: string;
  standard?: false;
}

/** The standard suite, in the order it runs (latency and control reuse throughput's figures). */
export const SCENARIOS: Array<{ [K in ScenarioId]: Scenario<K> }[ScenarioId]> = [
  {
    name: 'throughput',
    aliases: ['1'],
    fn: throughput,
    what: 'max lossless rate, 1 hop, 64/512/1400/8000 B, mcr 1 and 2 workers vs peers',
  },
  {
    name: 'pipeline',
    aliases: ['2', 'three-hop', '3hop'],
    fn: pipeline,
    what: "the seed's 3-hop test gen -> mcr1 -> mcr2 -> mcr3 (1400 B, 1M pps target)",
  },
  { name: 'fanout', aliases: ['3', 'fan-out'], fn: fanout, what: 'max lossless input rate for 1:1, 1:10, 1:50' },
  { name: 'streams', aliases: ['4', 'many-streams'], fn: streams, what: 'max lossless aggregate rate for 1, 10, 100 input groups' },
  { name: 'latency', aliases: ['5'], fn: latency, what: 'relay-added latency p50/p99/p99.9 at 10/50/90% of max' },
  {
    name: 'control',
    aliases: ['6', 'control-plane'],
    fn: control,
    what: 'rule add/remove and stats latency while forwarding at 90% of max',
  },
  // not in the standard suite: it takes --duration (10 minutes by default)
  {
    name: 'soak',
    aliases: [],
    fn: soak,
    what: `1:2 stream at half of max for --duration S (default ${SOAK_DEFAULT_S}) with 50 control ops/s: exact delivery, RSS over time (not in the standard suite)`,
    standard: false,
  },
  // not in the standard suite: builds the audit drill (issue #10) and sets it next to the shipped build
  {
    name: 'drill',
    aliases: ['seed-incident'],
    fn: drill,
    what: `the audit drill build next to the shipped one: max lossless at 1400 B and the seed's 3-hop table (${DRILL_DEFAULT_COUNT / 1e6}M packets at 1M pps), ${DRILL_DEFAULT_ROUNDS} interleaved rounds (not in the standard suite)`,
    standard: false,
  },
  // not in the standard suite: a cost study of one feature, about 3 minutes
  {
    name: 'telemetry',
    aliases: ['otel'],
    fn: telemetry,
    what: `CPU per packet with OTLP export + Prometheus scraping on vs off, mcr-1w at --rate (default ${TELEMETRY_DEFAULT_RATE / 1000}k) pps, interleaved trials (not in the standard suite)`,
    standard: false,
  },
  // not in the standard suite: issue #11's cost per packet, about 20 minutes
  {
    name: 'efficiency',
    aliases: ['cpu'],
    fn: efficiency,
    what: `relay-added CPU per packet of mcr (default, busyPoll), kernel routing and the C relay at 50k/100k/250k pps, 1400 and 64 B, ${EFFICIENCY_DEFAULT_REPETITIONS} interleaved repetitions (not in the standard suite)`,
    standard: false,
  },
  // not in the standard suite: igmpproxy mode's reaction to listeners, about 2.5 minutes
  {
    name: 'igmp-latency',
    aliases: ['igmp'],
    fn: igmpLatency,
    what: `join-to-forward and leave-to-stop in igmpproxy mode, ${IGMP_LATENCY_MCR_CYCLES} join/leave cycles of a kernel-stack listener; kernel routing driven by igmpproxy, ${IGMP_LATENCY_IGMPPROXY_CYCLES} cycles (not in the standard suite)`,
    standard: false,
  },
];

const SCENARIO_LIST = SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.what}`).join('\n');

interface Args {
  scenarios: string[];
  quick: boolean;
  relays?: string[];
  sizes?: number[];
  trialSeconds?: number;
  out?: string;
  install: boolean;
  pin: boolean;
  render?: string;
  durationS?: number;
  ratePps?: number;
  controlRate?: number;
  repetitions?: number;
  rates?: number[];
  batch?: number;
}

/** A commander argument parser: `value` as a number that passes `ok`, else `what` as the error. */
function num(what: string, ok: (n: number) => boolean): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (value.trim() === '' || !ok(n)) throw new InvalidArgumentError(what);
    return n;
  };
}

function parseArgs(argv: string[]): Args {
  const program = new Command('npm run bench --')
    .usage('[OPTIONS]     (as root)')
    .option(
      '-s, --scenario <names>',
      'run one scenario (repeatable, or a comma list); default: the standard suite',
      (v: string, prev: string[] | undefined) => [...(prev ?? []), ...v.split(',')],
    )
    .option('--quick', 'short trials and counts (a smoke run, not for publishing)')
    .option('--relays <ids>', `only these relays (comma list of ${SELECTABLE_RELAYS.join(', ')})`, (v: string) => v.split(','))
    .option('--sizes <list>', 'throughput payload sizes (default 64,512,1400,8000)', (v: string) =>
      v.split(',').map(num('integers from 32 to 8972', (n) => Number.isInteger(n) && n >= 32 && n <= 8972)),
    )
    .option(
      '--trial-seconds <s>',
      `length of one search trial (default 2, quick 0.5); telemetry and efficiency: of one measured window (default ${TELEMETRY_DEFAULT_TRIAL_S} and ${EFFICIENCY_DEFAULT_TRIAL_S}, quick 1)`,
      num('a positive number', (n) => n > 0),
    )
    .option(
      '--duration <s>',
      `soak: length of the stream in seconds (default ${SOAK_DEFAULT_S})`,
      num('seconds, at least 10', (n) => n >= 10),
    )
    .option(
      '--rate <pps>',
      `soak: input rate (default: half of a short 1:2 search's maximum); telemetry: the stream's rate (default ${TELEMETRY_DEFAULT_RATE})`,
      num('packets per second, an integer of at least 100', (n) => Number.isInteger(n) && n >= 100),
    )
    .option(
      '--control-rate <n>',
      `soak: control operations per second (default ${SOAK_CONTROL_OPS_PER_S}; 0 = none)`,
      num('operations per second, an integer from 0 to 1000', (n) => Number.isInteger(n) && n >= 0 && n <= 1000),
    )
    .option(
      '--repetitions <n>',
      `telemetry: rounds of (generator alone, off, on) trials (default ${TELEMETRY_DEFAULT_ROUNDS}, quick 2); efficiency: interleaved repetitions (default ${EFFICIENCY_DEFAULT_REPETITIONS}, quick 2)`,
      num('an integer from 1 to 100', (n) => Number.isInteger(n) && n >= 1 && n <= 100),
    )
    .option('--rates <list>', 'efficiency: offered rates in pps (default 50000,100000,250000; quick 100000)', (v: string) =>
      v.split(',').map(num('integers of at least 1000', (n) => Number.isInteger(n) && n >= 1000)),
    )
    .option(
      '--batch <n>',
      "efficiency: datagrams per paced sendmmsg (default: mcrgen's rate/1000, 1 ms bursts; e.g. 4 for finely paced input)",
      num('an integer from 1 to 64', (n) => Number.isInteger(n) && n >= 1 && n <= 64),
    )
    .option('--out <dir>', 'results directory (default bench/results/<timestamp>)')
    .option('--no-install', 'do not apt-get install missing peers (they are skipped)')
    .option('--no-pin', 'do not pin the generator to CPU 0 and the relays to CPU 1')
    .option('--render <dir>', 'only re-render report.md and the charts of an existing results directory')
    .option('--list', 'list the scenarios')
    .helpOption('-h, --help', 'this text')
    .addHelpText('after', `\nscenarios:\n${SCENARIO_LIST}\n`)
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(`bench: ${text.replace(/^error: /, '')}`) })
    // usage errors exit 2 (as mcrctl's do); --help exits 0
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  program.parse(argv, { from: 'user' });
  const o = program.opts<{
    scenario?: string[];
    quick?: boolean;
    relays?: string[];
    sizes?: number[];
    trialSeconds?: number;
    duration?: number;
    rate?: number;
    controlRate?: number;
    repetitions?: number;
    rates?: number[];
    batch?: number;
    out?: string;
    install: boolean;
    pin: boolean;
    render?: string;
    list?: boolean;
  }>();
  if (o.list) {
    process.stdout.write(`${SCENARIOS.map((s) => `${s.name.padEnd(12)} ${s.what}`).join('\n')}\n`);
    process.exit(0);
  }
  const fail = (msg: string): never => program.error(msg, { exitCode: 2 });
  const scenarios = o.scenario ?? [];
  for (const s of scenarios)
    if (!SCENARIOS.some((x) => x.name === s || x.aliases.includes(s)))
      fail(`unknown scenario "${s}" (known: ${SCENARIOS.map((x) => x.name).join(', ')})`);
  const named = (name: string): boolean =>
    scenarios.some((n) => SCENARIOS.some((x) => x.name === name && (x.name === n || x.aliases.includes(n))));
  if ((o.duration !== undefined || o.controlRate !== undefined) && !named('soak'))
    fail('--duration and --control-rate belong to --scenario soak');
  if (o.rate !== undefined && !named('soak') && !named('telemetry')) fail('--rate belongs to --scenario soak or telemetry');
  if (o.repetitions !== undefined && !named('telemetry') && !named('efficiency'))
    fail('--repetitions belongs to --scenario telemetry or efficiency');
  if (o.rates !== undefined && !named('efficiency')) fail('--rates belongs to --scenario efficiency');
  if (o.batch !== undefined && !named('efficiency')) fail('--batch belongs to --scenario efficiency');
  for (const r of o.relays ?? []) if (!SELECTABLE_RELAYS.includes(r)) fail(`unknown relay "${r}" (known: ${SELECTABLE_RELAYS.join(', ')})`);
  return {
    scenarios,
    quick: o.quick ?? false,
    relays: o.relays,
    sizes: o.sizes,
    trialSeconds: o.trialSeconds,
    out: o.out,
    install: o.install,
    pin: o.pin,
    render: o.render,
    durationS: o.duration,
    ratePps: o.rate,
    controlRate: o.controlRate,
    repetitions: o.repetitions,
    rates: o.rates,
    batch: o.batch,
  };
}

function stamp(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}${p(d.getMinutes())}${p(d.getSeconds())}`;
}

async function runScenario<K extends ScenarioId>(s: Scenario<K>, ctx: BenchContext): Promise<void> {
  // (TypeScript cannot index the mapped ScenarioResults with a generic key on the left of =)
  Object.assign(ctx.results, { [s.name]: await s.fn(ctx) });
}

/** Writes results.json's report and charts into `dir`; returns the charts. */
async function render(results: Results, dir: string): Promise<Chart[]> {
  const charts = await writeCharts(results, dir);
  writeFileSync(path.join(dir, 'report.md'), renderReport(results, charts));
  return charts;
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  if (args.render) {
    const results = JSON.parse(readFileSync(path.join(args.render, 'results.json'), 'utf8')) as Results;
    const charts = await render(results, args.render);
    process.stdout.write(terminalSummary(results));
    process.stdout.write(`\nre-rendered ${args.render}/report.md and ${charts.length} charts\n`);
    return 0;
  }
  const refuse = refuseReason();
  if (refuse) {
    process.stderr.write(`bench: refusing to run: ${refuse}\n`);
    return 1;
  }
  installSignalHandlers();
  const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);
  const t0 = Date.now();
  const lock = takeLock();
  if (lock) {
    process.stderr.write(`bench: refusing to run: ${lock}\n`);
    return 1;
  }
  await removeStaleNamespaces(log);
  const peers = args.install ? await installPeers(log) : { installed: [], skipped: {} };
  const ccErrors = await buildTools();
  for (const [tool, why] of Object.entries(ccErrors))
    log(`${tool} not built (${tool === 'c-relay' ? 'the C relay is skipped' : 'latency falls back to mcrgen recv'}): ${why}`);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcrb-'));
  registerTempDir(dir);
  // The generator on CPU 0, relays on CPU 1 (mcr with 2 workers, the pipeline hops and the latency
  // probe are left to the scheduler).
  const pin = args.pin && os.cpus().length >= 2 ? { gen: 0, relay: [1, 0] } : undefined;
  pinning.gen = pin?.gen;
  pinning.relay = pin?.relay;
  const relays: Relay[] = [
    mcrRelay(1),
    mcrRelay(2),
    mcrRelay(1, true),
    mcrVariant('mcr-1w-socket', relayInfo('mcr-1w-socket').label, { egress: 'socket' }),
    mcrVariant('mcr-1w-noholdoff', relayInfo('mcr-1w-noholdoff').label, { wakeupHoldoffUs: 0 }),
    mcrVariant('mcr-1w-xdp', relayInfo('mcr-1w-xdp').label, { xdp: true }),
    kernelRelay,
    cRelay,
    nodeRelay,
    socatRelay,
  ];
  const ctx: BenchContext = {
    quick: args.quick,
    trialSeconds: args.trialSeconds ?? (args.quick ? 0.5 : 2),
    resolution: args.quick ? 0.05 : 0.03,
    maxTrials: args.quick ? 7 : 10,
    dir,
    relays,
    onlyRelays: args.relays,
    sizes: args.sizes,
    pin,
    genMax: {},
    results: {},
    log,
    soakDurationS: args.durationS,
    soakRatePps: args.ratePps,
    soakControlRate: args.controlRate,
    telemetryRatePps: args.ratePps,
    telemetryTrialS: args.trialSeconds,
    telemetryRounds: args.repetitions,
    efficiencyTrialS: args.trialSeconds,
    efficiencyRepetitions: args.repetitions,
    efficiencyRates: args.rates,
    efficiencyBatch: args.batch,
  };
  const selected =
    args.scenarios.length === 0
      ? SCENARIOS.filter((s) => s.standard !== false)
      : SCENARIOS.filter((s) => args.scenarios.some((n) => n === s.name || s.aliases.includes(n)));
  const meta0 = hostMeta();
  log(
    `${selected.length} scenario(s): ${selected.map((s) => s.name).join(', ')}${args.quick ? ' (quick)' : ''}; kernel ${meta0.kernel}, ${meta0.nproc} CPUs, host tuning ${meta0.tuneHostApplied ? 'applied' : 'not applied'}`,
  );

  const outDir = args.out ?? path.join(RESULTS_DIR, stamp(new Date()));
  const errors: Record<string, string> = {};
  for (const s of selected) {
    try {
      await runScenario(s, ctx);
    } catch (err) {
      // after Ctrl-C the signal handler cleans up and exits: write nothing half-done
      if (interrupted()) await new Promise(() => undefined);
      const msg = (err as Error).stack ?? String(err);
      errors[s.name] = msg;
      log(`scenario ${s.name} failed: ${msg}`);
      ctx.results[s.name] = { trials: [], error: (err as Error).message, notes: [`failed: ${(err as Error).message}`], durationS: 0 };
    }
  }

  if (interrupted()) await new Promise(() => undefined);
  const results: Results = {
    meta: {
      ...meta0,
      quick: args.quick,
      durationS: (Date.now() - t0) / 1000,
      trialSeconds: ctx.trialSeconds,
      scenariosRun: selected.map((s) => s.name),
      peersInstalled: peers.installed,
      peersSkipped: { ...peers.skipped, ...ccErrors },
      generatorMaxPps: ctx.genMax,
      pinning: pin
        ? `generator on CPU ${pin.gen}; relays on CPU ${pin.relay[0]} (mcr with 2 workers and the pipeline hops unpinned; the latency probe on the generator's CPU)`
        : 'none',
    },
    scenarios: ctx.results,
  };
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'results.json'), `${JSON.stringify(results, null, 2)}\n`);
  const charts = await render(results, outDir);
  process.stdout.write(terminalSummary(results));
  process.stdout.write(
    `\nresults: ${path.relative(process.cwd(), outDir) || outDir}/ (results.json, report.md, ${charts.length} charts) in ${Math.round(results.meta.durationS)} s\n`,
  );
  await cleanup.runAll();
  const failed = Object.entries(results.scenarios).filter(([, sc]) => (sc.failures?.length ?? 0) > 0);
  for (const [name, sc] of failed)
    process.stderr.write(`bench: scenario ${name} FAILED:\n${(sc.failures ?? []).map((f) => `  - ${f}`).join('\n')}\n`);
  return Object.keys(errors).length > 0 || failed.length > 0 ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  async (err: unknown) => {
    process.stderr.write(`bench: ${(err as Error).stack ?? String(err)}\n`);
    await cleanup.runAll();
    process.exit(1);
  },
);
