// SPDX-License-Identifier: MIT
// The efficiency scenario's part of report.md and of the terminal summary: relay-added ns of CPU
// per packet by relay, rate and size (median and min-max), mcr's ratios to the C relay and kernel
// routing with their paired noise bands, frames per wake-up, the baseline and what was set aside.
import { formatCompact, formatTable } from '../src/cli/table';
import type { Spread } from './cpu';
import { relayInfo } from './relays/registry';
import type { EfficiencyCell, EfficiencySummary } from './scenarios/efficiency';

function mdTable(head: string[], rows: Array<Array<string | number>>): string {
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? '---' : '--:')).join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

/** median (min-max), whole numbers unless `digits` */
function spreadCell(sp: Spread, digits = 0): string {
  if (sp.median === null || sp.min === null || sp.max === null) return '-';
  const f = (x: number): string => x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return sp.n > 1 ? `${f(sp.median)} (${f(sp.min)}-${f(sp.max)})` : f(sp.median);
}

const times = (x: number | null): string => (x === null ? '-' : `${x.toFixed(2)}x`);

/** "1400 B 100k": the columns of every table, size then rate. */
function columns(s: EfficiencySummary): Array<{ size: number; ratePps: number; head: string }> {
  return s.sizes.flatMap((size) => s.rates.map((ratePps) => ({ size, ratePps, head: `${size} B ${formatCompact(ratePps)} pps` })));
}

function cellOf(s: EfficiencySummary, relay: string, size: number, ratePps: number): EfficiencyCell | undefined {
  return s.cells.find((c) => c.relay === relay && c.size === size && c.ratePps === ratePps);
}

function validNote(c: EfficiencyCell | undefined): string {
  return c && c.setAside > 0 ? ` [${c.valid}/${c.trials}]` : '';
}

export function efficiencySection(s: EfficiencySummary): string[] {
  const cols = columns(s);
  const out: string[] = [];
  out.push(
    `${s.repetitions} interleaved repetitions (each: every size and rate, the generator alone and every relay once, the order rotated per repetition), ${s.trialS} s measured windows after a ${s.preRollS} s pre-roll; ${s.startedAt} to ${s.endedAt}; load average ${s.loadBefore.join(' / ')} before, ${s.loadAfter.join(' / ')} after; 1-minute load over the trials ${spreadCell(s.load, 2)}; machine busy just before each stream (relay idle, nothing sent: others' work) ${spreadCell(s.quietBusyMsPerS)} ms per s (all CPUs).`,
    '',
    '**Relay-added CPU, ns per packet** (median (min-max) of the valid trials; [valid/trials] where trials were set aside):',
    '',
    mdTable(
      ['relay', ...cols.map((c) => c.head)],
      s.relays.map((id) => [
        relayInfo(id).label,
        ...cols.map((c) => {
          const cell = cellOf(s, id, c.size, c.ratePps);
          return cell ? `${spreadCell(cell.relayAddedNsPerPacket)}${validNote(cell)}` : '-';
        }),
      ]),
    ),
    '',
  );
  if (s.ratios.length)
    out.push(
      'Ratios of the medians (lower is better; 1.0x = the same CPU per packet), with the range (min-max) of the per-repetition ratios and the noise band taken from their quartiles:',
      '',
      mdTable(
        ['ratio', ...cols.map((c) => c.head)],
        [...new Set(s.ratios.map((r) => `${r.relay}/${r.peer}`))].map((pair) => [
          pair,
          ...cols.map((c) => {
            const r = s.ratios.find((x) => `${x.relay}/${x.peer}` === pair && x.size === c.size && x.ratePps === c.ratePps);
            if (!r) return '-';
            const range = r.paired.min !== null && r.paired.max !== null ? ` (${r.paired.min.toFixed(2)}-${r.paired.max.toFixed(2)})` : '';
            return `${times(r.value)}${range}${r.band !== null ? ` ±${Math.round(r.band * 100)}%` : ''}`;
          }),
        ]),
      ),
      '',
    );
  const mcr = s.relays.filter((id) => id.startsWith('mcr'));
  if (mcr.length)
    out.push(
      "mcr's own processes (mcrd + data plane, utime + stime) in ns per packet, and frames per poll() wake-up / per receive batch over the whole stream:",
      '',
      mdTable(
        ['', ...cols.map((c) => c.head)],
        mcr.flatMap((id) => [
          [
            `${id} processes, ns/packet`,
            ...cols.map((c) => spreadCell(cellOf(s, id, c.size, c.ratePps)?.relayProcessesNsPerPacket ?? emptySpread)),
          ],
          [`${id} frames per wake-up`, ...cols.map((c) => spreadCell(cellOf(s, id, c.size, c.ratePps)?.framesPerWakeup ?? emptySpread, 2))],
          [`${id} frames per batch`, ...cols.map((c) => spreadCell(cellOf(s, id, c.size, c.ratePps)?.framesPerBatch ?? emptySpread, 2))],
        ]),
      ),
      '',
    );
  out.push(
    'Baseline: the machine busy with the generator alone, ms of CPU per s (subtracted, scaled to each window):',
    '',
    mdTable(
      ['', ...cols.map((c) => c.head)],
      [
        [
          'generator alone',
          ...cols.map((c) => {
            const b = s.baseline.find((x) => x.size === c.size && x.ratePps === c.ratePps);
            return b ? `${spreadCell(b.busyMsPerS)}${b.valid < b.trials ? ` [${b.valid}/${b.trials}]` : ''}` : '-';
          }),
        ],
      ],
    ),
    '',
  );
  const skipped = Object.entries(s.skipped);
  if (skipped.length) out.push('Not run:', '', ...skipped.map(([id, why]) => `- ${id}: ${why}`), '');
  out.push(
    `Set aside (not in the medians): ${s.setAside.length} of ${s.trials.length} trials${s.errors.length ? `, and ${s.errors.length} failed to run` : ''}.`,
    '',
    ...s.setAside.map((x) => `- #${x.order} ${x.relay} ${x.size} B ${formatCompact(x.ratePps)} pps rep ${x.rep}: ${x.problems.join('; ')}`),
    ...s.errors.map((x) => `- #${x.order} ${x.relay} ${x.size} B ${formatCompact(x.ratePps)} pps rep ${x.rep}: failed: ${x.error}`),
  );
  if (s.setAside.length || s.errors.length) out.push('');
  return out;
}

const emptySpread: Spread = { n: 0, median: null, min: null, max: null, q1: null, q3: null };

/** The terminal's table: ns per packet (median, min-max) per relay and column, and the ratios. */
export function efficiencyTerminal(s: EfficiencySummary): string[] {
  const cols = columns(s);
  const out = [
    '',
    `efficiency: relay-added ns of CPU per packet, ${s.repetitions} repetitions of ${s.trialS} s windows; load ${s.loadBefore[0]} -> ${s.loadAfter[0]}; ${s.setAside.length} of ${s.trials.length} trials set aside (median, min-max)`,
  ];
  const rows: string[][] = [
    ['', ...cols.map((c) => c.head)],
    ...s.relays.map((id) => [
      id,
      ...cols.map((c) => {
        const cell = cellOf(s, id, c.size, c.ratePps);
        return cell ? `${spreadCell(cell.relayAddedNsPerPacket)}${validNote(cell)}` : '-';
      }),
    ]),
    ...[...new Set(s.ratios.map((r) => `${r.relay}/${r.peer}`))].map((pair) => [
      pair,
      ...cols.map((c) =>
        times(s.ratios.find((x) => `${x.relay}/${x.peer}` === pair && x.size === c.size && x.ratePps === c.ratePps)?.value ?? null),
      ),
    ]),
  ];
  out.push(formatTable(rows[0] ?? [], rows.slice(1), (column) => column > 0));
  return out;
}
