// SPDX-License-Identifier: MIT
// An OTLP/HTTP receiver for tests, in process on 127.0.0.1: it takes /v1/traces and /v1/metrics
// requests, decodes protobuf bodies with the official OTLP schema (the generated protobufjs root
// of @opentelemetry/otlp-transformer 0.216.0, pinned exactly as a devDependency: later versions
// ship no request decoder) and JSON bodies with JSON.parse, into one shape for both.
//
// Modes: 'normal' answers 200; 'down' is a closed port (connection refused); 'blackhole'
// accepts the request, reads it and never answers (close() drops those connections).
//
// OtlpReceiver.start() listens in the test process; OtlpReceiver.startIn(topology, ns) runs this
// file as a child inside a network namespace (mcrd's loopback is its namespace's own) and
// streams what it decodes back as JSON lines, into the same object.
import { once } from 'node:events';
import * as http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Topology } from './netns';

export type ReceiverMode = 'normal' | 'down' | 'blackhole';

export type AttributeValue = string | number | boolean | AttributeValue[];
export type AttributeMap = Record<string, AttributeValue>;

export interface ReceivedSpan {
  /** lower-case hex, as in the W3C trace context */
  traceId: string;
  spanId: string;
  /** '' for a root span */
  parentSpanId: string;
  name: string;
  kind: number;
  startNs: bigint;
  endNs: bigint;
  attributes: AttributeMap;
  /** code 0 unset, 1 ok, 2 error */
  status: { code: number; message: string };
  scope: string;
  resource: AttributeMap;
}

export interface ReceivedPoint {
  attributes: AttributeMap;
  startNs: bigint;
  timeNs: bigint;
  /** sum and gauge points */
  value?: number;
  /** histogram points */
  count?: number;
  sum?: number;
  bucketCounts?: number[];
  explicitBounds?: number[];
}

export interface ReceivedMetric {
  name: string;
  unit: string;
  description: string;
  type: 'sum' | 'gauge' | 'histogram';
  /** sums only */
  monotonic?: boolean;
  /** 1 delta, 2 cumulative (sums and histograms) */
  temporality?: number;
  points: ReceivedPoint[];
  scope: string;
  resource: AttributeMap;
}

export interface ReceivedRequest {
  path: string;
  contentType: string;
  bytes: number;
  format: 'protobuf' | 'json';
  spans: ReceivedSpan[];
  metrics: ReceivedMetric[];
}

type Waiter = { check: () => boolean; resolve: () => void };

export class OtlpReceiver {
  /** every decoded request, in arrival order */
  readonly requests: ReceivedRequest[] = [];
  /** requests a blackhole took and never answered */
  blackholed = 0;
  /** requests that could not be decoded (the test should fail on any) */
  readonly errors: string[] = [];
  private readonly waiters = new Set<Waiter>();
  private readonly sockets = new Set<Socket>();
  private stopChild: (() => Promise<unknown>) | undefined;

  private constructor(
    readonly mode: ReceiverMode,
    readonly endpoint: string,
    private readonly server: http.Server | undefined,
  ) {}

  /** A receiver inside namespace `ns` of the topology, listening on that namespace's 127.0.0.1. */
  static async startIn(t: Topology, ns: string, mode: ReceiverMode = 'normal', timeoutMs = 15_000): Promise<OtlpReceiver> {
    const proc = t.spawn(ns, `otlp receiver ${ns}`, process.execPath, [__filename, '--serve', mode]);
    let receiver: OtlpReceiver | undefined;
    let pending = '';
    const ready = new Promise<OtlpReceiver>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`OTLP receiver in ${ns} not ready within ${timeoutMs} ms: ${proc.stderr}`)),
        timeoutMs,
      );
      void proc.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`OTLP receiver in ${ns} exited ${code}: ${proc.stderr}`));
      });
      proc.child.stdout?.on('data', (data: Buffer) => {
        pending += data.toString();
        for (let nl = pending.indexOf('\n'); nl >= 0; nl = pending.indexOf('\n')) {
          const line = pending.slice(0, nl);
          pending = pending.slice(nl + 1);
          const event = JSON.parse(line, (key, value) =>
            NS_KEYS.has(key) && typeof value === 'string' ? BigInt(value) : value,
          ) as ChildEvent;
          if (event.type === 'ready') {
            clearTimeout(timer);
            receiver = new OtlpReceiver(mode, event.endpoint, undefined);
            receiver.stopChild = () => proc.stop('SIGTERM', 2000);
            resolve(receiver);
          } else if (receiver) receiver.take(event);
        }
      });
    });
    return ready;
  }

  static async start(mode: ReceiverMode = 'normal'): Promise<OtlpReceiver> {
    const server = http.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const endpoint = `http://127.0.0.1:${port}`;
    if (mode === 'down') {
      server.close();
      await once(server, 'close');
      return new OtlpReceiver(mode, endpoint, undefined);
    }
    const receiver = new OtlpReceiver(mode, endpoint, server);
    server.on('connection', (socket: Socket) => {
      receiver.sockets.add(socket);
      socket.on('close', () => receiver.sockets.delete(socket));
    });
    server.on('request', (req, res) => receiver.handle(req, res));
    return receiver;
  }

  /** every span received, in arrival order */
  spans(): ReceivedSpan[] {
    return this.requests.flatMap((r) => r.spans);
  }

  metrics(): ReceivedMetric[] {
    return this.requests.flatMap((r) => r.metrics);
  }

  /** Resolves when check() holds after a request arrived, answered or blackholed (or now); rejects after timeoutMs, saying what. */
  waitFor(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        check,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`OTLP receiver: no ${what} within ${timeoutMs} ms (${this.requests.length} requests received)`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  async close(): Promise<void> {
    if (this.stopChild) await this.stopChild();
    if (!this.server) return;
    for (const socket of this.sockets) socket.destroy();
    this.server.close();
    if (this.server.listening) await once(this.server, 'close');
  }

  private take(event: ChildEvent): void {
    if (event.type === 'request') this.requests.push(event.request);
    else if (event.type === 'blackholed') this.blackholed++;
    else if (event.type === 'error') this.errors.push(event.error);
    this.notify();
  }

  /** Every event of this receiver as a line on stdout, for the parent of startIn (the child's main calls it). */
  streamToStdout(): void {
    const write = (event: ChildEvent): void => {
      process.stdout.write(`${JSON.stringify(event, (_key, value) => (typeof value === 'bigint' ? String(value) : value))}\n`);
    };
    const requests = this.requests;
    const errors = this.errors;
    requests.push = (...items: ReceivedRequest[]) => {
      for (const request of items) write({ type: 'request', request });
      return 0;
    };
    errors.push = (...items: string[]) => {
      for (const error of items) write({ type: 'error', error });
      return 0;
    };
    let blackholed = 0;
    Object.defineProperty(this, 'blackholed', {
      get: () => blackholed,
      set: (n: number) => {
        blackholed = n;
        write({ type: 'blackholed' });
      },
    });
    write({ type: 'ready', endpoint: this.endpoint });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (this.mode === 'blackhole') {
        this.blackholed++;
        this.notify();
        return;
      }
      const path = (req.url ?? '').split('?')[0] ?? '';
      const contentType = req.headers['content-type'] ?? '';
      const body = Buffer.concat(chunks);
      const json = contentType.startsWith('application/json');
      try {
        if (path !== '/v1/traces' && path !== '/v1/metrics') throw new Error(`unexpected path ${path}`);
        const request: ReceivedRequest = {
          path,
          contentType,
          bytes: body.length,
          format: json ? 'json' : 'protobuf',
          spans: [],
          metrics: [],
        };
        if (path === '/v1/traces') request.spans = json ? tracesFromJson(JSON.parse(body.toString('utf8'))) : tracesFromProtobuf(body);
        else request.metrics = json ? metricsFromJson(JSON.parse(body.toString('utf8'))) : metricsFromProtobuf(body);
        this.requests.push(request);
      } catch (err) {
        this.errors.push(`${path} ${contentType}: ${(err as Error).message}`);
        res.writeHead(400).end();
        return;
      }
      // An empty response message: no partial success.
      if (json) res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      else res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      this.notify();
    });
  }

  private notify(): void {
    for (const waiter of this.waiters)
      if (waiter.check()) {
        this.waiters.delete(waiter);
        waiter.resolve();
      }
  }
}

type ChildEvent =
  | { type: 'ready'; endpoint: string }
  | { type: 'request'; request: ReceivedRequest }
  | { type: 'blackholed' }
  | { type: 'error'; error: string };

/** The bigint fields, sent as decimal strings between the child and the parent. */
const NS_KEYS = new Set(['startNs', 'endNs', 'timeNs']);

// `node otlp-receiver.js --serve MODE`: the child of startIn. It stops on SIGTERM.
if (require.main === module && process.argv[2] === '--serve') {
  const mode = (process.argv[3] ?? 'normal') as ReceiverMode;
  void OtlpReceiver.start(mode).then((receiver) => receiver.streamToStdout());
}

// ---- decoding ---------------------------------------------------------------------------------
// The protobuf path goes through the schema's toObject with longs as strings and bytes as arrays;
// the JSON path (OTLP/JSON: hex ids, int64 as decimal strings or numbers) is read as it comes.
// Both meet in the same plain-object walk below.

interface ProtoType {
  decode(buf: Uint8Array): unknown;
  toObject(message: unknown, options: Record<string, unknown>): unknown;
}
let schema: { traces: ProtoType; metrics: ProtoType } | undefined;
function proto(): { traces: ProtoType; metrics: ProtoType } {
  if (!schema) {
    const root = require('@opentelemetry/otlp-transformer/build/src/generated/root.js') as {
      opentelemetry: { proto: { collector: { trace: { v1: Record<string, ProtoType> }; metrics: { v1: Record<string, ProtoType> } } } };
    };
    const collector = root.opentelemetry.proto.collector;
    const traces = collector.trace.v1.ExportTraceServiceRequest;
    const metrics = collector.metrics.v1.ExportMetricsServiceRequest;
    if (!traces || !metrics) throw new Error('otlp-transformer root has no ExportTraceServiceRequest/ExportMetricsServiceRequest');
    schema = { traces, metrics };
  }
  return schema;
}

const TO_OBJECT = { longs: String, enums: Number, bytes: Array, defaults: false, arrays: true };

function tracesFromProtobuf(body: Buffer): ReceivedSpan[] {
  const { traces } = proto();
  return tracesFromJson(traces.toObject(traces.decode(body), TO_OBJECT));
}

function metricsFromProtobuf(body: Buffer): ReceivedMetric[] {
  const { metrics } = proto();
  return metricsFromJson(metrics.toObject(metrics.decode(body), TO_OBJECT));
}

// biome-ignore lint/suspicious/noExplicitAny: the walk reads decoded OTLP messages, checked field by field
type Obj = any;

function hexId(id: unknown): string {
  if (id === undefined || id === null) return '';
  if (typeof id === 'string') return id.toLowerCase();
  return Buffer.from(id as number[]).toString('hex');
}

function ns(value: unknown): bigint {
  if (value === undefined || value === null) return 0n;
  return BigInt(value as string | number);
}

function anyValue(v: Obj): AttributeValue {
  if (v === undefined || v === null) return '';
  if ('stringValue' in v) return v.stringValue;
  if ('boolValue' in v) return v.boolValue;
  if ('intValue' in v) return Number(v.intValue);
  if ('doubleValue' in v) return Number(v.doubleValue);
  if ('arrayValue' in v) return ((v.arrayValue?.values ?? []) as Obj[]).map(anyValue);
  throw new Error(`unsupported attribute value ${JSON.stringify(v)}`);
}

function attributeMap(list: Obj[] | undefined): AttributeMap {
  const out: AttributeMap = {};
  for (const kv of list ?? []) out[kv.key] = anyValue(kv.value);
  return out;
}

function tracesFromJson(body: Obj): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributeMap(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        out.push({
          traceId: hexId(s.traceId),
          spanId: hexId(s.spanId),
          parentSpanId: hexId(s.parentSpanId),
          name: s.name,
          kind: Number(s.kind ?? 0),
          startNs: ns(s.startTimeUnixNano),
          endNs: ns(s.endTimeUnixNano),
          attributes: attributeMap(s.attributes),
          status: { code: Number(s.status?.code ?? 0), message: s.status?.message ?? '' },
          scope: ss.scope?.name ?? '',
          resource,
        });
  }
  return out;
}

function numberValue(p: Obj): number {
  if (p.asInt !== undefined) return Number(p.asInt);
  if (p.asDouble !== undefined) return Number(p.asDouble);
  return 0;
}

function metricsFromJson(body: Obj): ReceivedMetric[] {
  const out: ReceivedMetric[] = [];
  for (const rm of body.resourceMetrics ?? []) {
    const resource = attributeMap(rm.resource?.attributes);
    for (const sm of rm.scopeMetrics ?? [])
      for (const m of sm.metrics ?? []) {
        const base = { name: m.name, unit: m.unit ?? '', description: m.description ?? '', scope: sm.scope?.name ?? '', resource };
        const point = (p: Obj): ReceivedPoint => ({
          attributes: attributeMap(p.attributes),
          startNs: ns(p.startTimeUnixNano),
          timeNs: ns(p.timeUnixNano),
        });
        if (m.sum)
          out.push({
            ...base,
            type: 'sum',
            monotonic: Boolean(m.sum.isMonotonic),
            temporality: Number(m.sum.aggregationTemporality ?? 0),
            points: (m.sum.dataPoints ?? []).map((p: Obj) => ({ ...point(p), value: numberValue(p) })),
          });
        else if (m.gauge)
          out.push({
            ...base,
            type: 'gauge',
            points: (m.gauge.dataPoints ?? []).map((p: Obj) => ({ ...point(p), value: numberValue(p) })),
          });
        else if (m.histogram)
          out.push({
            ...base,
            type: 'histogram',
            temporality: Number(m.histogram.aggregationTemporality ?? 0),
            points: (m.histogram.dataPoints ?? []).map((p: Obj) => ({
              ...point(p),
              count: Number(p.count ?? 0),
              sum: p.sum === undefined ? undefined : Number(p.sum),
              bucketCounts: ((p.bucketCounts ?? []) as unknown[]).map(Number),
              explicitBounds: ((p.explicitBounds ?? []) as unknown[]).map(Number),
            })),
          });
        else throw new Error(`metric ${m.name}: unsupported data type ${Object.keys(m).join(',')}`);
      }
  }
  return out;
}
