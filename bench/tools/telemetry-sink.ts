// SPDX-License-Identifier: MIT
// The telemetry scenario's OTLP sink and Prometheus scraper, one small process of its own (so its
// CPU can be measured and subtracted): it answers every POST /v1/traces and /v1/metrics with 200
// (an empty OTLP response, protobuf or JSON as asked) without decoding anything, counts requests
// and bytes, and GETs mcrd's /metrics every --interval-ms, keeping the last values of
// mcr_spans_exported_total and mcr_spans_dropped_total. On SIGUSR2 it prints its counts as one
// JSON line on stdout (SIGUSR1 belongs to Node's inspector); on SIGTERM a last line, then exits.
//
//   node dist/bench/tools/telemetry-sink.js --listen 127.0.0.1:4318 [--scrape http://127.0.0.1:9464/metrics] [--interval-ms 1000]
import * as http from 'node:http';

export interface SinkCounts {
  requests: number;
  bytes: number;
}

/** What the last successful scrape read. */
export interface ScrapeValues {
  /** CLOCK_MONOTONIC milliseconds when the response was complete */
  atMs: number;
  spansExported: number | null;
  spansDroppedRate: number | null;
  spansDroppedQueue: number | null;
  exportFailures: number | null;
}

export interface SinkSnapshot {
  seq: number;
  atMs: number;
  traces: SinkCounts;
  metrics: SinkCounts;
  /** requests to any other path or method (answered 404) */
  other: SinkCounts;
  scrapes: { ok: number; failed: number; bytes: number; lastError?: string };
  last?: ScrapeValues;
}

/**
 * The sum of every sample of `name` in a Prometheus text exposition whose labels include all of
 * `labels` (null when there is none).
 */
export function promValue(text: string, name: string, labels: Record<string, string> = {}): number | null {
  let sum: number | null = null;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[3] ?? '';
    if (!Object.entries(labels).every(([k, v]) => have.split(',').includes(`${k}="${v}"`))) continue;
    const v = Number(m[4]);
    if (Number.isFinite(v)) sum = (sum ?? 0) + v;
  }
  return sum;
}

export function scrapeValues(text: string, atMs: number): ScrapeValues {
  return {
    atMs,
    spansExported: promValue(text, 'mcr_spans_exported_total'),
    spansDroppedRate: promValue(text, 'mcr_spans_dropped_total', { reason: 'rate' }),
    spansDroppedQueue: promValue(text, 'mcr_spans_dropped_total', { reason: 'queue' }),
    exportFailures: promValue(text, 'mcr_telemetry_export_failures_total'),
  };
}

const nowMs = (): number => Number(process.hrtime.bigint()) / 1e6;

function main(argv: string[]): void {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const listen = opt('--listen') ?? '127.0.0.1:4318';
  const scrapeUrl = opt('--scrape');
  const intervalMs = Number(opt('--interval-ms') ?? 1000);
  const colon = listen.lastIndexOf(':');
  const host = listen.slice(0, colon);
  const port = Number(listen.slice(colon + 1));

  const snap: Omit<SinkSnapshot, 'seq' | 'atMs'> = {
    traces: { requests: 0, bytes: 0 },
    metrics: { requests: 0, bytes: 0 },
    other: { requests: 0, bytes: 0 },
    scrapes: { ok: 0, failed: 0, bytes: 0 },
  };
  let seq = 0;
  const print = (): void => {
    const line: SinkSnapshot = { seq: seq++, atMs: nowMs(), ...snap };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  };

  const server = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (chunk: Buffer) => (bytes += chunk.length));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0];
      const signal =
        req.method === 'POST' ? (path === '/v1/traces' ? 'traces' : path === '/v1/metrics' ? 'metrics' : undefined) : undefined;
      const counts = signal ? snap[signal] : snap.other;
      counts.requests++;
      counts.bytes += bytes;
      if (!signal) {
        res.writeHead(404).end();
        return;
      }
      // an empty Export*ServiceResponse: nothing rejected
      if ((req.headers['content-type'] ?? '').includes('json')) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  server.keepAliveTimeout = 60_000;

  let scraping = false;
  const scrape = (): void => {
    if (!scrapeUrl || scraping) return;
    scraping = true;
    const req = http.get(scrapeUrl, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        scraping = false;
        const body = Buffer.concat(chunks);
        snap.scrapes.bytes += body.length;
        if (res.statusCode !== 200) {
          snap.scrapes.failed++;
          snap.scrapes.lastError = `HTTP ${res.statusCode}`;
          return;
        }
        snap.scrapes.ok++;
        snap.last = scrapeValues(body.toString('utf8'), nowMs());
      });
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', (err) => {
      scraping = false;
      snap.scrapes.failed++;
      snap.scrapes.lastError = err.message;
    });
  };

  process.on('SIGUSR2', print);
  process.on('SIGTERM', () => {
    print();
    server.close();
    process.exit(0);
  });
  server.listen(port, host, () => {
    process.stderr.write(`telemetry-sink: listening on ${listen}${scrapeUrl ? `, scraping ${scrapeUrl} every ${intervalMs} ms` : ''}\n`);
    if (scrapeUrl) setInterval(scrape, intervalMs);
  });
}

if (require.main === module) main(process.argv.slice(2));
