// SPDX-License-Identifier: MIT
// report.md for a results set (tables, method, charts, the seed comparison, mcr/peer ratios and the
// goals), and the plain-text summary table printed on the terminal at the end of a run.
import type { Chart } from './charts';
import { formatCompact, formatCount as fmt, formatTable } from '../src/cli/table';
import { drillSection, drillTerminal } from './drill-report';
import { efficiencySection, efficiencyTerminal } from './efficiency-report';
import { igmpLatencySection, igmpLatencyTerminal } from './igmp-latency-report';
import { goals, ratioFigures } from './figures';
import { byRelay, relayOrder } from './relays/registry';
import type { Spread } from './cpu';
import type { SoakSummary } from './scenarios/soak';
import type { TelemetrySummary } from './scenarios/telemetry';
import { SEED } from './scenarios/pipeline';
import type { ControlPhase, Results, ScenarioId, SearchSummary } from './types';

/** A Markdown table; numeric columns (all but the first) right-aligned unless `left`. */
function table(head: string[], rows: Array<Array<string | number>>, left = false): string {
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 || left ? '---' : '--:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

function ss(r: Results, scenario: 'throughput' | 'fanout' | 'streams'): SearchSummary[] {
  return (r.scenarios[scenario]?.summary?.searches ?? []).slice().sort(byRelay);
}

function agreeText(s: SearchSummary): string {
  return s.countersAgree === undefined ? '-' : s.countersAgree ? 'yes' : '**no**';
}

function charts(list: Chart[], scenario: string): string {
  return list
    .filter((c) => c.scenario === scenario)
    .map((c) => `![${c.title}](${c.file})`)
    .join('\n\n');
}

function notes(r: Results, scenario: ScenarioId): string {
  const n = r.scenarios[scenario]?.notes ?? [];
  return n.length ? n.map((x) => `- ${x}`).join('\n') : '';
}

function searchRows(list: SearchSummary[], extra?: (s: SearchSummary) => string[]): Array<Array<string | number>> {
  return list.map((s) =>
    s.skipped
      ? [s.label, 'skipped', '', '', '', s.skipped, ...(extra ? extra(s).map(() => '') : [])]
      : [
          s.label,
          `**${fmt(s.maxLosslessPps)}**`,
          s.generatorLimited ? 'yes' : 'no',
          s.trials,
          agreeText(s),
          s.relayFinal ? `rx ${fmt(s.relayFinal.rx)}, tx ${fmt(s.relayFinal.tx)}` : '',
          ...(extra ? extra(s) : []),
        ],
  );
}

function goalText(met: boolean | null | 'inconclusive'): string {
  if (met === null) return 'not measured';
  if (met === 'inconclusive') return 'inconclusive (mcr generator-limited: its rate is a lower bound)';
  return met ? '**met**' : '**not met**';
}

/** From bench/results/<timestamp>/report.md (the default --out) to the method in the docs. */
const METHOD_LINK = '../../../docs/benchmarks.md#what-is-measured-and-how';

export function renderReport(r: Results, chartList: Chart[]): string {
  const m = r.meta;
  const out: string[] = [];
  out.push('# mcr benchmark report', '');
  out.push(
    table(
      ['', ''],
      [
        ['date', m.date],
        ['commit', `${m.gitCommit.slice(0, 12)}${m.gitDirty ? ' (uncommitted changes)' : ''}`],
        ['kernel', m.kernel],
        ['CPU', `${m.cpuModel}, ${m.nproc} CPUs, ${m.memoryGiB} GiB`],
        ['Node', m.node],
        ['CPU pinning', m.pinning ?? 'none'],
        ['host tuning (bench/tune-host.sh)', m.tuneHostApplied ? 'applied' : 'not applied'],
        [
          'sysctls',
          Object.entries(m.sysctls)
            .map(([key, v]) => `${key}=${v}`)
            .join(', '),
        ],
        [
          'run',
          `${m.quick ? '**quick** (short trials: a smoke test, not for publishing)' : 'standard'}; ${m.trialSeconds} s trials; ${Math.round(m.durationS)} s in all; scenarios: ${m.scenariosRun.join(', ')}`,
        ],
        [
          'peers',
          `installed now: ${m.peersInstalled.join(', ') || 'none'}; skipped: ${
            Object.entries(m.peersSkipped)
              .map(([p, why]) => `${p} (${why})`)
              .join('; ') || 'none'
          }`,
        ],
      ],
      true,
    ),
    '',
  );
  out.push(
    '> Every figure here was measured in this run, side by side with the peers it is compared with, on the same topology and',
    '> machine. The machine is a small shared VM: read absolute rates as orders of magnitude and compare ratios.',
    '',
  );

  out.push('## Goals', '');
  out.push(
    table(
      ['goal', 'measured', 'met'],
      goals(r).map((g) => [g.goal, g.measured, goalText(g.met)]),
      true,
    ),
    '',
  );

  out.push('## Method', '');
  out.push(
    `The topology, how packets are counted, the lossless-rate search and the relays are described in \`docs/benchmarks.md\`, [What is measured, and how](${METHOD_LINK}). This run: ${m.trialSeconds} s trials; the search ends within ${m.quick ? '5' : '3'}% or after ${m.quick ? 7 : 10} trials; CPU pinning: ${m.pinning ?? 'none'}.`,
    '',
  );

  // 1 throughput
  const tp = ss(r, 'throughput');
  if (r.scenarios.throughput) {
    out.push('## 1. Throughput (1 hop)', '');
    const gm = r.scenarios.throughput.summary?.generatorMaxPps ?? {};
    const sizes = [...new Set(tp.map((s) => s.size))].sort((a, b) => a - b);
    for (const size of sizes) {
      out.push(`### ${size}-byte payload${size > 1472 ? ' (MTU 9000)' : ''}: generator alone ${fmt(gm[String(size)] ?? 0)} pps`, '');
      out.push(
        table(
          ['relay', 'max lossless pps', 'generator-limited', 'trials', 'own counters agree', 'relay totals'],
          searchRows(tp.filter((s) => s.size === size)),
        ),
        '',
      );
    }
    const ratios = r.scenarios.throughput.summary?.ratios ?? {};
    const pairs = [...new Set(Object.values(ratios).flatMap((x) => Object.keys(x)))];
    if (pairs.length) {
      out.push('### mcr ÷ peer (max lossless rate, same run)', '');
      out.push(
        table(
          ['payload', ...pairs],
          Object.entries(ratios).map(([size, byPair]) => [
            `${size} B`,
            ...pairs.map((p) => {
              const x = byPair[p];
              if (!x) return '';
              return x.value === null ? 'inf (peer had no lossless rate)' : `${x.lowerBound ? '>= ' : ''}${x.value.toFixed(2)}x`;
            }),
          ]),
        ),
        '',
      );
    }
    out.push(charts(chartList, 'throughput'), '', notes(r, 'throughput'), '');
  }

  // 2 pipeline
  const pl = r.scenarios.pipeline?.summary;
  if (pl?.seedRun?.hops) {
    const s = pl.seedRun;
    out.push("## 2. The seed's 3-hop pipeline", '');
    out.push(
      `gen -> mcr1 -> mcr2 -> mcr3 -> sink (5 namespaces, veth), 1 worker per hop, 1400 B, target 1,000,000 pps, ${fmt(s.count)} packets. The generator sent ${fmt(s.sent)} packets in ${s.elapsedS.toFixed(2)} s (${fmt(s.generatorPps)} pps). Rates are packets / generator elapsed time, as the seed computed them.`,
      '',
    );
    out.push(
      table(
        ['', 'generator pps', 'ingress pps (recv)', 'egress pps (egr_sent)', 'buf_exhaust', 'loss at this hop'],
        [
          [
            'seed, historical (MCR-1)',
            fmt(SEED.historical.generatorPps),
            fmt(SEED.historical.ingressPps),
            fmt(SEED.historical.egressPps),
            `${SEED.historical.bufExhaustPct}%`,
            '',
          ],
          [
            'seed, regressed (MCR-1)',
            fmt(SEED.regressed.generatorPps),
            fmt(SEED.regressed.ingressPps),
            fmt(SEED.regressed.egressPps),
            `${SEED.regressed.bufExhaustPct}% (512,945)`,
            '',
          ],
          ...s.hops.map((h, i) => [
            `this run, ${h.hop}`,
            i === 0 ? fmt(s.generatorPps) : '',
            fmt(h.ingressPps),
            fmt(h.egressPps),
            `${fmt(h.bufExhaust)}${h.ringDrops ? ` (ring drops ${fmt(h.ringDrops)})` : ''}`,
            `${fmt(h.loss)} (${h.lossPct.toFixed(3)}%)${h.countersAgree ? '' : ' counters disagree'}`,
          ]),
        ],
      ),
      '',
    );
    out.push(
      `End to end: ${fmt(s.sent)} sent, ${fmt(s.delivered)} delivered, **${fmt(s.endToEndLoss)} lost (${s.endToEndLossPct.toFixed(3)}%)**.`,
      '',
    );
    if (pl.search)
      out.push(
        `Highest lossless 3-hop rate (search, ${pl.search.trials} trials): **${fmt(pl.search.maxLosslessPps)} pps**${pl.search.generatorLimited ? ' (generator-limited)' : ''}.`,
        '',
      );
    out.push(`> ${SEED.caveat}`, '');
    out.push(charts(chartList, 'pipeline'), '', notes(r, 'pipeline'), '');
  } else if (r.scenarios.pipeline) out.push("## 2. The seed's 3-hop pipeline", '', notes(r, 'pipeline'), '');

  // 3 fan-out, 4 streams
  for (const [scenario, title, col, key] of [
    ['fanout', '## 3. Fan-out', 'outputs', (s: SearchSummary) => `1:${s.fanout}`],
    ['streams', '## 4. Many streams', 'streams', (s: SearchSummary) => `${s.streams}`],
  ] as const) {
    const list = ss(r, scenario);
    if (!r.scenarios[scenario]) continue;
    out.push(title, '');
    const groups = [...new Set(list.map(key))];
    out.push(
      table(
        [col, 'relay', 'max lossless input pps', 'output pps', 'generator-limited', 'trials', 'own counters agree'],
        groups.flatMap((g) =>
          list
            .filter((s) => key(s) === g)
            .map((s) =>
              s.skipped
                ? [g, s.label, 'skipped', '', '', '', s.skipped]
                : [g, s.label, `**${fmt(s.maxLosslessPps)}**`, fmt(s.outputPps), s.generatorLimited ? 'yes' : 'no', s.trials, agreeText(s)],
            ),
        ),
      ),
      '',
    );
    const ratios = r.scenarios[scenario]?.summary?.ratiosVsCRelay ?? {};
    if (Object.keys(ratios).length)
      out.push(
        `mcr ÷ C relay: ${Object.entries(ratios)
          .map(([g, v]) => `${scenario === 'fanout' ? g : `${g} streams`}: ${v === null ? 'inf' : `${v.toFixed(2)}x`}`)
          .join(', ')}`,
        '',
      );
    if (scenario === 'fanout') {
      const goal = r.scenarios.fanout?.summary?.goal10k ?? [];
      if (goal.length)
        out.push(
          table(
            ['1:50 at 10k pps', 'sent', 'offered', 'delivered (sink / 50)', 'loss'],
            goal.map((t) => [t.label, fmt(t.sent), fmt(t.offered), fmt(t.delivered), t.lossless ? '**0**' : `**${fmt(t.loss)}**`]),
          ),
          '',
        );
    }
    out.push(charts(chartList, scenario), '', notes(r, scenario), '');
  }

  // 5 latency
  const points = (r.scenarios.latency?.summary?.points ?? []).slice().sort((a, b) => byRelay(a, b) || a.loadPct - b.loadPct);
  if (r.scenarios.latency) {
    out.push('## 5. Latency', '');
    const mr = r.scenarios.latency.summary?.maxRates ?? {};
    out.push(
      table(
        [
          'relay',
          'load',
          'rate pps',
          'p50 µs',
          'p90 µs',
          'p99 µs',
          'p99.9 µs',
          'max µs',
          'app p50 / p99 / p99.9 µs',
          'lost',
          'mcr spans p50 / p99 / max µs: ring wait; batch',
        ],
        points.map((p) => [
          p.label,
          `${p.loadPct}%`,
          fmt(p.offeredPps),
          p.p50 ?? '-',
          p.p90 ?? '-',
          p.p99 ?? '-',
          p.p999 ?? '-',
          p.max ?? '-',
          p.app ? `${p.app.p50 ?? '-'} / ${p.app.p99 ?? '-'} / ${p.app.p999 ?? '-'}` : '-',
          fmt(p.lost),
          p.spans
            ? ['ringWait', 'batch']
                .map((s) => `≤${p.spans?.[s]?.p50Us ?? '-'} / ≤${p.spans?.[s]?.p99Us ?? '-'} / ≤${p.spans?.[s]?.maxUs ?? '-'}`)
                .join('; ')
            : '',
        ]),
      ),
      '',
      "The last column is mcr's own sampled spans over the same point (`mcrctl stats`; one receive batch in 16, log2 buckets, so ≤64 means 32-64 µs): *ring wait* is how long a batch's oldest frame sat in the receive ring before the worker took it (wake-up and scheduling delay), *batch* how long the worker then spent on it (parse, match, `sendmmsg`, and on veth the sink's receive softirq). Spans count batches, not packets: a stall that delays hundreds of packets is one sample, so a per-packet p99 in the millisecond range shows up in the spans' max, not their p99.",
      "Offered rates can fall short of a load's target (in `results.json`): the generator shares CPU 0 with the relay's receive path (AF_PACKET or socket enqueue runs in its softirq on veth) and the probe; every figure is at the measured rate shown.",
      '',
    );
    const added = r.scenarios.latency.summary?.mcrAddedUs ?? {};
    if (Object.keys(added).length)
      out.push(
        `mcr-added latency (mcr minus the no-relay path at the same rate): ${Object.entries(added)
          .map(([l, v]) => `${l}%: p50 ${v.p50} µs, p99 ${v.p99} µs, p99.9 ${v.p999} µs`)
          .join('; ')}.`,
        '',
      );
    if (Object.keys(mr).length)
      out.push(
        `Maximum rates used: ${Object.entries(mr)
          .map(([id, v]) => `${id} ${fmt(v.pps)} pps (${v.source})`)
          .join('; ')}.`,
        '',
      );
    out.push(charts(chartList, 'latency'), '', notes(r, 'latency'), '');
  }

  // 6 control
  const cp = r.scenarios.control?.summary;
  if (r.scenarios.control) {
    out.push('## 6. Control plane under load', '');
    if (cp?.load) {
      const rows: Array<Array<string | number>> = [];
      for (const [via, t] of [
        ['protocol, idle', cp.idle?.protocol],
        ['protocol, under load', cp.load.protocol],
        ['mcrctl, under load', cp.load.cli],
      ] as const) {
        for (const op of ['add', 'remove', 'stats']) {
          const x = t?.[op];
          if (x) rows.push([via, op, x.n, x.p50, x.p99, x.max]);
        }
      }
      out.push(table(['via', 'operation', 'n', 'p50 ms', 'p99 ms', 'max ms'], rows), '');
      const f = cp.forwarding;
      const phase = (ph: ControlPhase | undefined): string =>
        ph ? `${fmt(ph.offered)} offered, ${fmt(ph.mcrDropped)} dropped by mcr` : 'n/a';
      if (f)
        out.push(
          `Forwarding meanwhile at ${fmt(f.offeredPps)} pps (90% of ${fmt(f.maxLosslessPps)} pps, ${f.maxSource}): sent ${fmt(f.sent)}, delivered ${fmt(f.delivered)}, **loss ${fmt(f.loss)}** (${f.lossPct.toFixed(4)}%); mcr rx ${fmt(f.mcrRx)}, tx ${fmt(f.mcrTx)}, ring drops ${fmt(f.ringDrops)}; counters agree with the kernel: ${f.countersAgree ? 'yes' : '**no**'}. By phase: protocol operations ${phase(f.protocolPhase)}; mcrctl processes ${phase(f.cliPhase)}.`,
          '',
        );
    }
    out.push(charts(chartList, 'control'), '', notes(r, 'control'), '');
  }

  // soak (not in the standard suite)
  const sk = r.scenarios.soak?.summary;
  if (r.scenarios.soak) {
    out.push('## Soak', '');
    if (sk?.outputs) out.push(...soakSection(sk), '');
    out.push(charts(chartList, 'soak'), '', notes(r, 'soak'), '');
  }

  // the seed's incident with the audit drill (not in the standard suite)
  if (r.scenarios.drill) {
    const dr = r.scenarios.drill.summary;
    out.push("## The seed's incident, reproduced (the audit drill)", '', ...(dr ? drillSection(dr) : []), notes(r, 'drill'), '');
  }

  // telemetry cost (not in the standard suite)
  const tm = r.scenarios.telemetry?.summary;
  if (r.scenarios.telemetry) {
    out.push('## Cost of telemetry export', '');
    if (tm?.off) out.push(...telemetrySection(tm), '');
    out.push(charts(chartList, 'telemetry'), '', notes(r, 'telemetry'), '');
  }

  // cost per packet (issue #11; not in the standard suite)
  if (r.scenarios.efficiency) {
    const ef = r.scenarios.efficiency.summary;
    out.push('## CPU per forwarded packet (efficiency)', '', ...(ef ? efficiencySection(ef) : []));
    out.push(charts(chartList, 'efficiency'), '', notes(r, 'efficiency'), '');
  }

  // igmpproxy mode's join and leave latency (not in the standard suite)
  if (r.scenarios['igmp-latency']) {
    const il = r.scenarios['igmp-latency'].summary;
    out.push('## IGMP join and leave latency', '', ...(il ? igmpLatencySection(il) : []), notes(r, 'igmp-latency'), '');
  }

  const figs = ratioFigures(r);
  if (Object.keys(figs).length) {
    out.push('## Regression figures', '');
    out.push('What `bench/baseline.json` keeps and `npm run bench:compare` checks (ratios to peers in the same run):', '');
    out.push(
      table(
        ['figure', 'value', 'noise band'],
        Object.entries(figs).map(([name, f]) => [name, `${f.lowerBound ? '>= ' : ''}${f.value}`, `±${Math.round(f.band * 100)}%`]),
      ),
      '',
    );
  }
  out.push(
    '## Files',
    '',
    '- `results.json`: every trial with every counter, per-scenario summaries, host facts.',
    ...chartList.map((c) => `- \`${c.file}\`: ${c.title}`),
    '',
  );
  return out.join('\n').replace(/\n{3,}/g, '\n\n');
}

function soakSection(s: SoakSummary): string[] {
  const out: string[] = [];
  out.push(
    `**${s.failures.length ? 'FAILED' : 'passed'}**: ${s.durationS} s, ${fmt(s.size)}-byte payload, fan-out 1:${s.fanout}, requested ${fmt(s.ratePps)} pps (${s.rateSource}).`,
    '',
  );
  if (s.failures.length) out.push(...s.failures.map((f) => `- **${f}**`), '');
  out.push(
    table(
      ['', 'packets'],
      [
        ['sent (mcrgen)', fmt(s.sent)],
        ['offered (r0 rx)', `${fmt(s.offered)} (${fmt(s.offeredPps)} pps over ${s.genElapsedS.toFixed(1)} s)`],
        ...s.outputs.map((o) => [
          `delivered to ${o.group}:${o.port}`,
          `${fmt(o.unique)} distinct, ${fmt(o.duplicates)} duplicates, ${fmt(o.corrupted)} corrupted (mcrgen recv); mcr sent ${fmt(o.mcrTx)}: ${o.exact ? '**exact**' : '**not exact**'}`,
        ]),
        ['sink interface (s0 rx)', `${fmt(s.sinkPackets)} (${s.fanout} x ${fmt(s.sent)} = ${fmt(s.fanout * s.sent)})`],
        [
          'mcr counters',
          `rx ${fmt(s.mcr.rx)}, tx ${fmt(s.mcr.tx)}, ring drops ${fmt(s.mcr.ringDrops)}, buf_exhaust ${fmt(s.mcr.bufExhaust)}, tx errors ${fmt(s.mcr.txErrors)}`,
        ],
        [
          'FINAL line (over the stream)',
          s.mcr.finalRecv === undefined ? 'none' : `recv ${fmt(s.mcr.finalRecv)}, egr_sent ${fmt(s.mcr.finalEgrSent ?? 0)}`,
        ],
      ],
      true,
    ),
    '',
  );
  const c = s.control;
  out.push(
    `Control plane: ${fmt(c.ops)} operations (${c.opsPerS}/s, target ${c.targetOpsPerS}/s), ${fmt(c.errors)} errors${c.errorSamples.length ? ` (${c.errorSamples.join('; ')})` : ''}, ${fmt(c.slotsSkipped)} schedule slots dropped.`,
    '',
    table(
      ['operation', 'n', 'p50 ms', 'p99 ms', 'max ms', 'errors'],
      (['add', 'remove', 'stats'] as const).map((op) => [
        op,
        fmt(c.latencyMs[op].n),
        c.latencyMs[op].p50,
        c.latencyMs[op].p99,
        c.latencyMs[op].max,
        fmt(c.errorsByOp[op]),
      ]),
    ),
    '',
  );
  const m = s.memory;
  out.push(
    `Memory (/proc/PID/status every ${m.intervalS} s; mcrd pid ${m.pids.mcrd}, data plane pid ${m.pids.dataplane}, data-plane restarts ${m.dataplaneRestarts}; the verdict is on RssAnon, VmRSS is shown):`,
    '',
    table(
      [
        'process',
        'VmRSS start / end MiB',
        'VmHWM MiB',
        'VmRSS slope',
        'RssAnon start / end MiB',
        'RssAnon slope after warm-up',
        'growth over window',
        'second half (decides)',
        'allowed',
        'verdict',
      ],
      (['mcrd', 'dataplane'] as const).map((k) => {
        const g = m.growth[k];
        const v = m.rssGrowth[k];
        return [
          k === 'mcrd' ? 'mcrd' : 'data plane',
          `${v.startMiB} / ${v.endMiB}`,
          v.peakMiB,
          `${v.slopeKiBPerS} KiB/s`,
          `${g.startMiB} / ${g.endMiB}`,
          `${g.slopeKiBPerS} KiB/s`,
          `${g.growthMiB} MiB over ${g.windowS} s`,
          `${g.tailGrowthMiB} MiB over ${g.tailWindowS} s (${g.tailSlopeKiBPerS} KiB/s)`,
          `${g.thresholdMiB} MiB`,
          g.growing ? '**growing**' : 'flat',
        ];
      }),
    ),
    '',
    s.mcr.ringDrops > 0
      ? `mcr's ring overflowed in ${s.dropSeconds} of ${s.timeline.length - 1} seconds${s.worstDropSecond ? ` (worst: ${fmt(s.worstDropSecond.ringDrops)} frames in the second before t = ${s.worstDropSecond.t} s)` : ''}.`
      : 'No ring drops.',
    '',
  );
  return out;
}

/** "median (min-max)" of a spread, `digits` decimals; "-" when nothing was measured. */
export function spreadText(sp: Spread | undefined, digits = 0): string {
  if (!sp || sp.median === null || sp.min === null || sp.max === null) return '-';
  const f = (x: number): string => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return sp.n > 1 ? `${f(sp.median)} (${f(sp.min)}-${f(sp.max)})` : f(sp.median);
}

const ratioText = (x: number | null): string => (x === null ? '-' : `${x.toFixed(2)}x`);

function telemetrySection(s: TelemetrySummary): string[] {
  const out: string[] = [];
  const rows: Array<[string, keyof TelemetrySummary['off'], number, string?]> = [
    ['**relay-added CPU, ns per packet**', 'relayAddedNsPerPacket', 0, ratioText(s.ratios.relayAddedNsPerPacket)],
    ["mcr's processes (mcrd + data plane) CPU, ns per packet", 'mcrProcessesNsPerPacket', 0, ratioText(s.ratios.mcrProcessesNsPerPacket)],
    ['machine busy CPU, ms per s (all CPUs)', 'machineBusyMsPerS', 0],
    ['mcrd (supervisor) CPU, ms per s', 'mcrdMsPerS', 1, ratioText(s.ratios.mcrdMsPerS)],
    ['mcrd CPU, ns per packet', 'mcrdNsPerPacket', 0],
    ['data plane CPU, ms per s', 'dataplaneMsPerS', 1, ratioText(s.ratios.dataplaneMsPerS)],
    ['data plane CPU, ns per packet', 'dataplaneNsPerPacket', 0],
    ['spans exported per s (mcr_spans_exported_total)', 'spansExportedPerS', 0],
    ['span records over the budget per s (dropped, reason rate)', 'spansDroppedRatePerS', 0],
    ['OTLP trace requests per s', 'tracesRequestsPerS', 2],
    ['OTLP trace kB per s', 'tracesKBPerS', 1],
    ['OTLP metric requests per s', 'metricsRequestsPerS', 2],
    ['OTLP metric kB per s', 'metricsKBPerS', 1],
    ['/metrics scrapes per s', 'scrapesPerS', 2],
    ['sink + scraper CPU, ms per s (subtracted)', 'sinkMsPerS', 1],
  ];
  out.push(
    `mcr with one worker forwarding one ${fmt(s.size)}-byte stream 1:1 at ${fmt(s.ratePps)} pps; ${s.rounds} rounds of interleaved trials (generator alone, then off and on, alternating which goes first), ${s.trialS} s measured windows in the middle of each stream; ${s.startedAt} to ${s.endedAt}; load average ${s.loadBefore.join(' / ')} before, ${s.loadAfter.join(' / ')} after.`,
    '',
    `Medians of the valid trials, (min-max) in brackets. Baseline: the generator alone keeps the machine busy ${spreadText(s.baseline.busyMsPerS, 0)} ms per s (${s.baseline.valid} of ${s.baseline.trials} trials); that, scaled to each window's length, and the sink's own CPU are subtracted from the machine's busy CPU before dividing by the packets delivered.`,
    '',
    table(
      ['', `off (${s.off.valid}/${s.off.trials} trials)`, `on (${s.on.valid}/${s.on.trials} trials)`, 'on / off'],
      rows.map(([label, key, digits, ratio]) => [
        label,
        spreadText(s.off[key] as Spread, digits),
        spreadText(s.on[key] as Spread, digits),
        ratio ?? '',
      ]),
    ),
    '',
  );
  const band = s.noiseBand;
  out.push(
    `On minus off: **${s.deltaNsPerPacket === null ? '-' : `${s.deltaNsPerPacket >= 0 ? '+' : ''}${fmt(s.deltaNsPerPacket)}`} ns per packet**. Noise band (the off trials' spread): ${
      band.min === null || band.max === null
        ? '-'
        : `${fmt(band.min)}-${fmt(band.max)} ns per packet, ${fmt(band.widthNsPerPacket ?? 0)} wide (${(band.widthPctOfMedian ?? 0).toFixed(0)}% of the off median)`
    }; the on median is ${s.onOutsideNoise === null ? 'not comparable' : s.onOutsideNoise ? '**outside** it' : 'inside it (the difference is within the noise)'}. Supervisor CPU while exporting ${spreadText(s.on.spansExportedPerS, 0)} spans per s: ${spreadText(s.on.mcrdMsPerS, 1)} ms per s, against ${spreadText(s.off.mcrdMsPerS, 1)} without telemetry.`,
    '',
  );
  if (s.setAside.length || s.errors.length)
    out.push(
      'Set aside (not in the medians):',
      '',
      ...s.setAside.map((x) => `- #${x.order} ${x.config}: ${x.problems.join('; ')}`),
      ...s.errors.map((x) => `- #${x.order} ${x.config}: failed: ${x.error}`),
      '',
    );
  const f1 = (x: number | null | undefined, d = 0): string =>
    x === null || x === undefined ? '-' : x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
  out.push(
    table(
      [
        '#',
        'config',
        'started',
        'load',
        'window s',
        'delivered in window',
        'busy ms/s',
        'relay-added ns/pkt',
        'mcrd ms/s',
        'data plane ms/s',
        'spans/s',
        'exact',
      ],
      s.trials.map((t) => [
        t.order,
        t.config,
        t.startedAt.slice(11, 19),
        t.loadavg1.toFixed(2),
        t.window.s.toFixed(2),
        t.config === 'gen' ? `(${fmt(t.window.offered)} offered)` : fmt(t.window.delivered),
        f1(t.figures?.machineBusyMsPerS),
        f1(t.figures?.relayAddedNsPerPacket),
        f1(t.figures?.mcrdMsPerS, 1),
        f1(t.figures?.dataplaneMsPerS, 1),
        f1(t.figures?.spansExportedPerS),
        t.problems.length ? '**set aside**' : t.exact ? 'yes' : 'no',
      ]),
    ),
    '',
  );
  return out;
}

/** A terminal table: the first row is the header; the first column left-aligned, the rest right-aligned. */
function pad(rows: string[][]): string {
  return formatTable(rows[0] ?? [], rows.slice(1), (column) => column > 0);
}

/** The table printed at the end of a run. */
export function terminalSummary(r: Results): string {
  const out: string[] = [
    '',
    `mcr benchmark, ${r.meta.date}${r.meta.quick ? ' (quick)' : ''}: kernel ${r.meta.kernel}, ${r.meta.nproc} CPUs, host tuning ${r.meta.tuneHostApplied ? 'applied' : 'not applied'}`,
  ];
  const tp = ss(r, 'throughput');
  if (tp.length) {
    const sizes = [...new Set(tp.map((s) => s.size))].sort((a, b) => a - b);
    const ids = relayOrder(tp.map((s) => s.relay));
    out.push('', 'max lossless rate, 1 hop (pps; * = generator-limited)');
    const rows = [['payload', ...ids, ...ids.filter((i) => !i.startsWith('mcr')).map((i) => `mcr/${i}`)]];
    for (const size of sizes) {
      const get = (id: string): SearchSummary | undefined => tp.find((s) => s.size === size && s.relay === id);
      const m = get('mcr-1w');
      rows.push([
        `${size} B`,
        ...ids.map((id) => {
          const s = get(id);
          return !s ? '' : s.skipped ? 'skip' : `${formatCompact(s.maxLosslessPps)}${s.generatorLimited ? '*' : ''}`;
        }),
        ...ids
          .filter((i) => !i.startsWith('mcr'))
          .map((id) => {
            const s = get(id);
            return m && s && !s.skipped && !m.skipped
              ? s.maxLosslessPps > 0
                ? `${(m.maxLosslessPps / s.maxLosslessPps).toFixed(2)}x`
                : 'inf'
              : '';
          }),
      ]);
    }
    out.push(pad(rows));
  }
  const pl = r.scenarios.pipeline?.summary;
  if (pl?.seedRun?.hops) {
    out.push('', `3-hop pipeline (seed: 490k in / 307k out historical, 123k / 83k regressed; other hardware)`);
    out.push(
      pad([
        ['hop', 'ingress pps', 'egress pps', 'buf_exhaust', 'loss'],
        ...pl.seedRun.hops.map((h) => [
          h.hop,
          formatCompact(h.ingressPps),
          formatCompact(h.egressPps),
          fmt(h.bufExhaust),
          `${fmt(h.loss)} (${h.lossPct.toFixed(2)}%)`,
        ]),
      ]),
    );
    out.push(
      `generator ${formatCompact(pl.seedRun.generatorPps)} pps, end-to-end loss ${fmt(pl.seedRun.endToEndLoss)}${pl.search ? `; 3-hop max lossless ${formatCompact(pl.search.maxLosslessPps)} pps${pl.search.generatorLimited ? '*' : ''}` : ''}`,
    );
  }
  for (const [scenario, title, key] of [
    ['fanout', 'fan-out, max lossless input pps', (s: SearchSummary) => `1:${s.fanout}`],
    ['streams', 'many streams, max lossless aggregate pps', (s: SearchSummary) => `${s.streams}`],
  ] as const) {
    const list = ss(r, scenario);
    if (!list.length) continue;
    const groups = [...new Set(list.map(key))];
    const ids = relayOrder(list.map((s) => s.relay));
    out.push('', title);
    out.push(
      pad([
        [scenario === 'fanout' ? 'outputs' : 'streams', ...ids],
        ...groups.map((g) => [
          g,
          ...ids.map((id) => {
            const s = list.find((x) => x.relay === id && key(x) === g);
            return !s ? '' : s.skipped ? 'skip' : `${formatCompact(s.maxLosslessPps)}${s.generatorLimited ? '*' : ''}`;
          }),
        ]),
      ]),
    );
  }
  const points = (r.scenarios.latency?.summary?.points ?? []).slice().sort((a, b) => byRelay(a, b) || a.loadPct - b.loadPct);
  if (points.length) {
    out.push('', 'latency (µs, one way, 1400 B)');
    out.push(
      pad([
        ['relay', 'load', 'pps', 'p50', 'p99', 'p99.9', 'lost'],
        ...points.map((p) => [
          p.relay,
          `${p.loadPct}%`,
          formatCompact(p.offeredPps),
          String(p.p50 ?? '-'),
          String(p.p99 ?? '-'),
          String(p.p999 ?? '-'),
          fmt(p.lost),
        ]),
      ]),
    );
  }
  const cp = r.scenarios.control?.summary;
  if (cp?.load) {
    out.push(
      '',
      `control plane while forwarding ${formatCompact(cp.forwarding?.offeredPps ?? 0)} pps (loss meanwhile: ${fmt(cp.forwarding?.loss ?? 0)}), ms p50/p99`,
    );
    out.push(
      pad([
        ['via', 'add', 'remove', 'stats'],
        ...(['protocol', 'cli'] as const).map((via) => [
          via,
          ...['add', 'remove', 'stats'].map((op) => `${cp.load?.[via][op]?.p50 ?? '-'}/${cp.load?.[via][op]?.p99 ?? '-'}`),
        ]),
      ]),
    );
  }
  const g = goals(r).filter((x) => x.met !== null);
  if (g.length) {
    out.push('', 'goals');
    for (const x of g) out.push(`  [${x.met === 'inconclusive' ? 'inconclusive' : x.met ? 'met' : 'NOT MET'}] ${x.goal}: ${x.measured}`);
  }
  const sk = r.scenarios.soak?.summary;
  if (sk?.outputs) {
    out.push(
      '',
      `soak: ${sk.durationS} s at ${formatCompact(sk.offeredPps)} pps in, 1:${sk.fanout}; ${sk.control.ops} control ops (${sk.control.opsPerS}/s, ${sk.control.errors} errors)`,
    );
    out.push(
      pad([
        ['output', 'sent', 'distinct', 'duplicates', 'mcr tx', ''],
        ...sk.outputs.map((o) => [
          `${o.group}:${o.port}`,
          fmt(sk.sent),
          fmt(o.unique),
          fmt(o.duplicates),
          fmt(o.mcrTx),
          o.exact ? 'exact' : 'NOT EXACT',
        ]),
      ]),
    );
    out.push(
      pad([
        ['process', 'VmRSS start', 'end', 'RssAnon start', 'end', 'slope KiB/s', 'growth MiB', '2nd half MiB', 'allowed', ''],
        ...(['mcrd', 'dataplane'] as const).map((p) => {
          const g = sk.memory.growth[p];
          const v = sk.memory.rssGrowth[p];
          return [
            p,
            `${v.startMiB}`,
            `${v.endMiB}`,
            `${g.startMiB}`,
            `${g.endMiB}`,
            `${g.slopeKiBPerS}`,
            `${g.growthMiB}`,
            `${g.tailGrowthMiB}`,
            `${g.thresholdMiB}`,
            g.growing ? 'GROWING' : 'flat',
          ];
        }),
      ]),
    );
  }
  const tm = r.scenarios.telemetry?.summary;
  if (tm?.off) {
    out.push(
      '',
      `telemetry export cost: mcr-1w, ${fmt(tm.size)} B at ${formatCompact(tm.ratePps)} pps, ${tm.rounds} rounds of ${tm.trialS} s windows; load ${tm.loadBefore[0]} -> ${tm.loadAfter[0]} (median, min-max)`,
    );
    const row = (label: string, key: keyof TelemetrySummary['off'], digits: number, ratio?: number | null): string[] => [
      label,
      spreadText(tm.off[key] as Spread, digits),
      spreadText(tm.on[key] as Spread, digits),
      ratio === undefined ? '' : ratioText(ratio),
    ];
    out.push(
      pad([
        ['', `off (${tm.off.valid}/${tm.off.trials})`, `on (${tm.on.valid}/${tm.on.trials})`, 'on/off'],
        row('relay-added ns/pkt', 'relayAddedNsPerPacket', 0, tm.ratios.relayAddedNsPerPacket),
        row('mcrd + data plane ns/pkt', 'mcrProcessesNsPerPacket', 0, tm.ratios.mcrProcessesNsPerPacket),
        row('mcrd ms/s', 'mcrdMsPerS', 1, tm.ratios.mcrdMsPerS),
        row('data plane ms/s', 'dataplaneMsPerS', 1, tm.ratios.dataplaneMsPerS),
        row('spans exported/s', 'spansExportedPerS', 0),
        row('OTLP trace requests/s', 'tracesRequestsPerS', 2),
      ]),
    );
    out.push(
      `noise band (off spread): ${tm.noiseBand.min === null ? '-' : `${fmt(tm.noiseBand.min)}-${fmt(tm.noiseBand.max ?? 0)} ns/pkt`}; on - off ${tm.deltaNsPerPacket === null ? '-' : `${fmt(tm.deltaNsPerPacket)} ns/pkt`}, ${tm.onOutsideNoise === null ? 'not comparable' : tm.onOutsideNoise ? 'OUTSIDE the noise band' : 'within the noise band'}${tm.setAside.length + tm.errors.length ? `; ${tm.setAside.length + tm.errors.length} trial(s) set aside` : ''}`,
    );
  }
  const dr = r.scenarios.drill?.summary;
  if (dr) out.push(...drillTerminal(dr));
  const ef = r.scenarios.efficiency?.summary;
  if (ef) out.push(...efficiencyTerminal(ef));
  const il = r.scenarios['igmp-latency']?.summary;
  if (il) out.push(...igmpLatencyTerminal(il));
  for (const [name, sc] of Object.entries(r.scenarios)) if (sc.error) out.push('', `scenario ${name} FAILED: ${sc.error}`);
  for (const [name, sc] of Object.entries(r.scenarios))
    if (sc.failures?.length) out.push('', `scenario ${name} FAILED:`, ...sc.failures.map((f) => `  - ${f}`));
  return `${out.join('\n')}\n`;
}
