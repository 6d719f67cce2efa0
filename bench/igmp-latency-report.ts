// SPDX-License-Identifier: MIT
// The igmp-latency scenario's part of report.md and of the terminal summary: join-to-forward and
// leave-to-stop per relay (p50, p99, max over the measured cycles), each split at the host's IGMP
// message on the wire, and the leave timers they ran with.
import { formatTable } from '../src/cli/table';
import type { IgmpLatencySummary, IgmpRelayLatency, LatencyStats } from './scenarios/igmp-latency';

const ms = (x: number | null): string => (x === null ? '-' : x < 100 ? x.toFixed(1) : x.toFixed(0));
const stats = (s: LatencyStats | undefined): string[] => (s?.n ? [ms(s.p50), ms(s.p99), ms(s.max)] : ['-', '-', '-']);

function rows(r: IgmpRelayLatency): string[][] {
  const out: string[][] = [
    ['join -> first frame', ...stats(r.joinToForwardMs)],
    ['  join -> report on the wire (host)', ...stats(r.joinReportMs)],
    ['  report -> first frame (relay)', ...stats(r.reportToForwardMs)],
  ];
  if (r.routeAddToForwardMs) out.push(['  route.add event -> first frame', ...stats(r.routeAddToForwardMs)]);
  out.push(
    ['leave -> last frame', ...stats(r.leaveToStopMs)],
    ['  leave -> leave on the wire (host)', ...stats(r.leaveReportMs)],
    ['  leave on the wire -> last frame (relay)', ...stats(r.leaveToLastFrameMs)],
  );
  if (r.routeRemoveToLastFrameMs) out.push(['  route.remove event -> last frame', ...stats(r.routeRemoveToLastFrameMs)]);
  return out;
}

function heading(r: IgmpRelayLatency): string {
  const lmqt = r.lastMemberQueryIntervalS * r.lastMemberQueryCount;
  const state = r.skipped
    ? `skipped: ${r.skipped}`
    : r.error
      ? `FAILED: ${r.error}`
      : `${r.joinToForwardMs.n} cycle${r.joinToForwardMs.n === 1 ? '' : 's'}${r.warmup ? ` after ${r.warmup} warm-up` : ''}`;
  return `${r.label}: ${state}; leave timers ${r.lastMemberQueryCount} x ${r.lastMemberQueryIntervalS} s = ${lmqt} s`;
}

export function igmpLatencySection(s: IgmpLatencySummary): string[] {
  const out: string[] = [
    `${s.group}:${s.port} at ${s.ratePps} pps (${s.size} B), ${s.holdMs} ms joined per cycle, stopped = ${s.quietMs} ms without a frame; ${s.startedAt} to ${s.endedAt}, load average ${s.loadBefore.join(' / ')} before, ${s.loadAfter.join(' / ')} after. Milliseconds, p50 / p99 / max over the cycles.`,
    '',
  ];
  for (const r of s.relays) {
    out.push(`**${heading(r)}**`, '');
    if (!r.joinToForwardMs.n) continue;
    out.push('| | p50 | p99 | max |', '|---|--:|--:|--:|', ...rows(r).map((row) => `| ${row.join(' | ')} |`), '');
  }
  return out;
}

export function igmpLatencyTerminal(s: IgmpLatencySummary): string[] {
  const out = ['', `IGMP join/leave latency (ms, p50 / p99 / max), ${s.group} at ${s.ratePps} pps`];
  for (const r of s.relays) {
    out.push(heading(r));
    if (r.joinToForwardMs.n) out.push(formatTable(['', 'p50', 'p99', 'max'], rows(r)));
  }
  return out;
}
