// SPDX-License-Identifier: MIT
// The drill scenario's part of report.md and of the terminal summary: the seed's 3-hop table with
// the shipped build and the drill side by side (next to the seed's own rows), the maximum
// lossless rates, every run, and drill / shipped.
import { formatCompact, formatCount as fmt, formatTable } from '../src/cli/table';
import type { Build, DrillRow, DrillSummary } from './scenarios/drill';

const BUILD_LABEL: Record<Build, string> = { shipped: 'shipped build', drill: 'drill build (seed anti-pattern)' };

function mdTable(head: string[], rows: Array<Array<string | number>>): string {
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

const n0 = (x: number | null): string => (x === null ? '-' : fmt(Math.round(x)));
const pct = (x: number | null): string => (x === null ? '-' : `${x.toFixed(1)}%`);
const ratioOf = (a: number | null, b: number | null): number | null => (a === null || b === null || b === 0 ? null : a / b);
const times = (x: number | null): string => (x === null ? '-' : `${x.toFixed(2)}x`);

/** The seed's own figures for MCR-1, then `rest` for the columns the seed did not measure. */
function seedCells(label: string, f: DrillSummary['seed']['historical'], ...rest: string[]): string[] {
  return [label, fmt(f.generatorPps), fmt(f.ingressPps), fmt(f.egressPps), `${f.bufExhaustPct}%`, ...rest];
}

/** A build's MCR-1 rates and buf_exhaust: the columns report.md's and the terminal's tables share. */
function rateCells(r: DrillRow): string[] {
  return [
    n0(r.generatorPps),
    n0(r.ingressPps),
    n0(r.egressPps),
    r.bufExhaust === null ? '-' : `${n0(r.bufExhaust)} (${pct(r.bufExhaustPct)})`,
  ];
}

function seedRows(s: DrillSummary): Array<Array<string | number>> {
  const ours = (b: Build, r: DrillRow): string[] => [
    `mcr, ${BUILD_LABEL[b]} (MCR-1)`,
    ...rateCells(r),
    n0(r.pipeLines),
    n0(r.mcr1CpuNsPerPacket),
  ];
  return [
    seedCells('seed, historical (MCR-1)', s.seed.historical, '-', '-'),
    seedCells('seed, regressed (MCR-1)', s.seed.regressed, '512,945', '-'),
    ours('shipped', s.rows.shipped),
    ours('drill', s.rows.drill),
  ];
}

/** report.md's "The seed's incident, reproduced" section. */
export function drillSection(s: DrillSummary): string[] {
  const out: string[] = [];
  out.push(
    `The audit drill (\`${s.addons.drill}\`, built in ${s.addons.drillBuildS.toFixed(1)} s, loaded from a copy with sha256 ${s.addons.drillSha256.slice(0, 16)}) next to the shipped build (\`${s.addons.shipped}\`), ${s.rounds} round(s) alternating which goes first; ${s.startedAt} to ${s.endedAt}; load average ${s.loadBefore.join(' / ')} before, ${s.loadAfter.join(' / ')} after.`,
    '',
    `### The seed's 3-hop table (gen -> MCR-1 -> MCR-2 -> MCR-3, ${fmt(s.size)} B, ${fmt(s.count)} packets at a ${fmt(s.targetPps)} pps target)`,
    '',
    `Medians of the runs. MCR-1's figures come from its \`[STATS:Ingress FINAL]\` / \`[STATS:Egress FINAL]\` lines minus the warm-up, per second of the generator's elapsed time (as the seed computed them); buf_exhaust (ring drops + full send buffers) as a share of the packets that reached MCR-1's interface. Pipe lines: the drill's lines written to the supervisor's pipe by all three hops. CPU: utime + stime of MCR-1's data plane process over the run (/proc/PID/stat) per packet it received.`,
    '',
    mdTable(
      ['', 'generator pps', 'MCR-1 ingress pps', 'MCR-1 egress pps', 'buf_exhaust', 'pipe lines', 'MCR-1 data plane CPU, ns per packet'],
      seedRows(s),
    ),
    '',
    `Drill / shipped: MCR-1 ingress **${times(s.ratios.ingress)}**, egress **${times(s.ratios.egress)}** (the seed: 123k / 490k = 0.25x ingress, 83k / 307k = 0.27x egress); MCR-1's data plane CPU per packet **${times(s.ratios.mcr1CpuNsPerPacket)}**; buf_exhaust share **${times(ratioOf(s.rows.drill.bufExhaustPct, s.rows.shipped.bufExhaustPct))}**. On a machine where the generator and the three hops share two CPUs the rates per second move with the generator (a hop that drops more leaves its neighbours more CPU); the shares and the CPU per packet do not.`,
    '',
    `### Maximum lossless rate, 1 hop, ${fmt(s.size)} B (generator alone: ${n0(s.generatorMaxPps)} pps)`,
    '',
    mdTable(
      ['', 'max lossless pps (median)', 'each round', 'generator-limited'],
      (['shipped', 'drill'] as const).map((b) => [
        BUILD_LABEL[b],
        n0(s.rows[b].maxLosslessPps),
        s.rows[b].maxLosslessRuns.map((x) => fmt(Math.round(x))).join(', ') || '-',
        s.rows[b].generatorLimited ? 'yes' : 'no',
      ]),
    ),
    '',
    `Drill / shipped: **${times(s.ratios.maxLossless)}**.`,
    '',
    '### Every run',
    '',
    mdTable(
      [
        'round',
        'build',
        'started',
        'load',
        'sent',
        'generator pps',
        'MCR-1 recv',
        'MCR-1 egr_sent',
        'MCR-1 buf_exhaust',
        'delivered',
        'end-to-end loss',
        'pipe lines (mcr1/2/3)',
        'data plane ns/packet (mcr1/2/3)',
      ],
      s.seedRuns.map((r) => [
        r.round + 1,
        r.build,
        r.startedAt.slice(11, 19),
        r.loadavg1.toFixed(2),
        fmt(r.sent),
        n0(r.generatorPps),
        fmt(r.mcr1.recv),
        fmt(r.mcr1.egrSent),
        fmt(r.mcr1.bufExhaust),
        fmt(r.delivered),
        pct(r.endToEndLossPct),
        r.pipeLines.map((x) => fmt(x)).join(' / '),
        r.hops.map((h) => n0(h.cpuNsPerPacket)).join(' / '),
      ]),
    ),
    '',
    mdTable(
      ['round', 'build', 'max lossless pps', 'trials', 'bracket', 'pipe lines'],
      s.searches.map((x) => [
        x.round + 1,
        x.build,
        x.skipped ? `skipped: ${x.skipped}` : n0(x.maxLosslessPps),
        x.trials,
        `${fmt(Math.round(x.bracket[0]))} - ${x.bracket[1] === null ? '?' : fmt(Math.round(x.bracket[1]))}`,
        fmt(x.pipeLines),
      ]),
    ),
    '',
    "MCR-1's FINAL lines, one run per build:",
    '',
    '```',
    ...(['shipped', 'drill'] as const).flatMap((b) => {
      const r = s.seedRuns.find((x) => x.build === b);
      return r ? [`# ${b}, round ${r.round + 1}`, r.final] : [];
    }),
    '```',
    '',
  );
  return out;
}

/** The terminal summary's lines for the drill scenario. */
export function drillTerminal(s: DrillSummary): string[] {
  const head = [
    'seed 3-hop table (MCR-1)',
    'generator pps',
    'ingress pps',
    'egress pps',
    'buf_exhaust',
    'CPU ns/pkt',
    'max lossless 1400 B',
  ];
  const row = (label: string, r: DrillRow): string[] => [label, ...rateCells(r), n0(r.mcr1CpuNsPerPacket), n0(r.maxLosslessPps)];
  return [
    '',
    `drill: the seed's anti-pattern next to the shipped build, ${s.rounds} round(s), 3-hop ${formatCompact(s.count)} packets at ${formatCompact(s.targetPps)} pps target (medians)`,
    formatTable(
      head,
      [
        seedCells('seed, historical', s.seed.historical, '-', '-'),
        seedCells('seed, regressed', s.seed.regressed, '-', '-'),
        row('mcr shipped', s.rows.shipped),
        row('mcr drill', s.rows.drill),
        [
          'drill / shipped',
          '',
          times(s.ratios.ingress),
          times(s.ratios.egress),
          '',
          times(s.ratios.mcr1CpuNsPerPacket),
          times(s.ratios.maxLossless),
        ],
      ],
      (column) => column > 0,
    ),
  ];
}
