// SPDX-License-Identifier: MIT
// `GET /metrics` on telemetry.metricsListen / --metrics-listen. The OTel PrometheusExporter is
// used as a MetricReader only (preventServerStart): its own server answers with a bare
// `text/plain`, which Prometheus 3 may refuse, so this handler serves the same serialization
// with the text format's full content type. Anything but /metrics is 404.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { MetricProducer } from '@opentelemetry/sdk-metrics';
import type { Logger } from '../lib/logger';
import type { ExportFailures } from './failures';
import { splitListenAddress } from './settings';

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export interface PrometheusEndpoint {
  /** The address actually bound (port 0 resolved), as HOST:PORT. */
  readonly address: string;
  close(): Promise<void>;
}

/** The reader the MeterProvider collects through (no server of its own). */
export function prometheusReader(producers: MetricProducer[]): PrometheusExporter {
  return new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: producers });
}

export async function servePrometheus(
  listen: string,
  reader: PrometheusExporter,
  failures: ExportFailures,
  log: Logger,
): Promise<PrometheusEndpoint> {
  // prefix none, no timestamps, no resource labels on every series, target_info kept, no scope labels
  const serializer = new PrometheusSerializer(undefined, false, undefined, false, true);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: mcrd serves GET /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    reader.collect().then(
      ({ resourceMetrics, errors }) => {
        if (errors.length > 0) failures.failed(undefined, errors[0]);
        const body = serializer.serialize(resourceMetrics);
        res.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Content-Length': Buffer.byteLength(body) });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        failures.failed(undefined, err);
        res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`collection failed: ${String(err)}\n`);
      },
    );
  });
  const { host, port } = splitListenAddress(listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host, port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address = `${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`;
  log.info(`Prometheus metrics on http://${address}/metrics`, { metricsListen: address });
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Prometheus keeps its scrape connection open; without this close() waits for it.
        server.closeAllConnections();
      }),
  };
}
