// SPDX-License-Identifier: MIT
// What a clinic doctor report (`npm run profile -- doctor`) says, as text: doctor's verdict (the
// analysis embedded in the HTML) and its samples of mcrd's main thread (CPU, event-loop delay,
// event-loop utilization, heap) summarized over the report's interval.
//
//   node dist/profiling/doctor-report.js OUT/doctor/PID.clinic-doctor.html
import { readFileSync } from 'node:fs';

export interface DoctorSample {
  timestamp: number;
  /** event-loop delay, ms */
  delay: number;
  /** process CPU, fraction of one CPU */
  cpu: number;
  memory: { rss: number; heapUsed: number };
  /** event-loop utilization, percent */
  loopUtilization?: number;
}

export interface DoctorAnalysis {
  interval: [number, number];
  issues: Record<string, unknown>;
  issueCategory: string;
}

/** The "analysis" object and the samples the report's HTML embeds. */
export function readDoctorReport(html: string): { analysis: DoctorAnalysis; samples: DoctorSample[] } {
  const at = html.indexOf('"analysis":');
  if (at < 0) throw new Error('no "analysis" in the report');
  const start = html.indexOf('{', at);
  const end = html.indexOf('"issueCategory"', start);
  const close = html.indexOf('}', end);
  const analysis = JSON.parse(html.slice(start, close + 1)) as DoctorAnalysis;
  const samples: DoctorSample[] = [];
  for (const m of html.matchAll(/\{"timestamp":\d+,"delay":[^\n]*\}/g)) {
    try {
      samples.push(JSON.parse(m[0]) as DoctorSample);
    } catch {
      // not a sample line
    }
  }
  return { analysis, samples };
}

export function formatDoctor(analysis: DoctorAnalysis, samples: DoctorSample[]): string {
  const inside = samples.filter((s) => s.timestamp >= analysis.interval[0] && s.timestamp <= analysis.interval[1]);
  const stat = (values: number[]): string => {
    if (values.length === 0) return 'none';
    const sorted = [...values].sort((a, b) => a - b);
    const mean = values.reduce((a, b) => a + b, 0) / values.length;
    return `mean ${mean.toFixed(1)}, p50 ${(sorted[Math.floor(sorted.length / 2)] ?? 0).toFixed(1)}, max ${(sorted[sorted.length - 1] ?? 0).toFixed(1)}`;
  };
  return [
    `clinic doctor: issue category "${analysis.issueCategory}"; issues ${JSON.stringify(analysis.issues)}`,
    `  over its analysis interval (${((analysis.interval[1] - analysis.interval[0]) / 1000).toFixed(1)} s, ${inside.length} samples of mcrd):`,
    `  CPU % of one core: ${stat(inside.map((s) => s.cpu * 100))}`,
    `  event-loop delay ms: ${stat(inside.map((s) => s.delay))}`,
    `  event-loop utilization %: ${stat(inside.flatMap((s) => (s.loopUtilization === undefined ? [] : [s.loopUtilization])))}`,
    `  heap used MB: ${stat(inside.map((s) => s.memory.heapUsed / 1e6))}`,
  ].join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: doctor-report.js REPORT_HTML\n');
    process.exit(2);
  }
  const { analysis, samples } = readDoctorReport(readFileSync(file, 'utf8'));
  process.stdout.write(`${formatDoctor(analysis, samples)}\n`);
}
