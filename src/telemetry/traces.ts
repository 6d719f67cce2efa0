// SPDX-License-Identifier: MIT
// Traces: the workers' span records, and the control plane's operations, as OpenTelemetry spans
// exported over OTLP/HTTP (docs/observability.md has the span model).
//
// API (src/telemetry/index.ts calls it; the daemon calls controlSpan):
//   startTraces(options: TraceOptions): TraceExport
//     options.tracesUrl       the full URL (TelemetrySettings.tracesEndpoint), used as is; or
//     options.endpoint        an OTLP/HTTP base URL: spans go to endpoint + '/v1/traces'
//     options.protocol        'http/protobuf' | 'http/json'
//     options.resource        the resource (src/telemetry/resource.ts); without it one is made of
//                             options.serviceName (default mcrd) and options.resourceAttributes
//                             (serviceName wins over a service.name among them, as OTEL_SERVICE_NAME does)
//     options.spansPerSecond  spans per second at most (a batch tree is 3 + one per sendmmsg);
//                             records over it are counted (droppedRate) and discarded
//     options.source          the workers' span rings and the names for slots and ifindexes
//     options.log             where export failures are reported, one line per 30 s at most
//     options.onExportFailure  called once per failed export request (e.g. ExportFailures.failed);
//                             when set, it reports those failures and this module's line only
//                             reports records dropped for want of queue room and failed drains
//   TraceExport.controlSpan(name, attributes, fn)   runs fn inside a span (status ERROR when it throws)
//   TraceExport.stats()      the counts in TraceStats, all exact
//   TraceExport.stop()       last drain, records off, flush bounded by stopTimeoutMs
//   noTraces()               the same interface doing nothing, for a relay without export
//
// Each span record becomes one trace: `mcr.batch` (oldest frame's kernel timestamp to ring
// release) with children `mcr.ring_wait` (oldest frame to pickup), `mcr.classify` (pickup to end
// of parse/match) and one `mcr.send` per sendmmsg; every time is the record's CLOCK_REALTIME
// HrTime, passed to the SDK as is (the only ns-exact time input it has).
//
// Memory stays bounded whatever the traffic or the endpoint does: a token bucket admits
// spansPerSecond spans per second (whole trees only), and a tree is only created when the BatchSpanProcessor's queue
// has room for all of its spans (our own count: spans created minus spans handed to the exporter,
// which is exactly the processor's queue), so the processor never drops silently and every record
// is accounted for as exported, droppedRate or droppedQueue.
//
// The OpenTelemetry SDK is loaded by startTraces only: importing this module's types costs nothing.
import type { Attributes, Context, Span, Tracer } from '@opentelemetry/api';
import type { ExportResult } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { BatchSpanProcessor, ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { OtlpProtocol } from '../config/types';
import type { Logger } from '../lib/logger';
import { packageVersion } from '../lib/version';
import type { HrTime, NativeSpanRecord, NativeSpanSend } from '../native/addon';

export interface TraceSource {
  /** workers whose rings are drained (0..workers()-1); read on every drain, so it may change */
  workers(): number;
  /** takes up to `max` span records out of one worker's ring, oldest first */
  drainSpans(worker: number, max: number): NativeSpanRecord[];
  /** discards the rest of one worker's ring unread, returns how many (optional: without it, every record is read) */
  skipSpans?(worker: number): number;
  /** the rule that owns a counter slot now (undefined when the slot is free) */
  ruleForSlot(slot: number): { id: string; name?: string } | undefined;
  interfaceName(ifindex: number): string | undefined;
  /** tells the workers whether anyone reads span records (otherwise they only feed histograms) */
  setRecordsEnabled(on: boolean): void;
}

export interface TraceOptions {
  /** the full traces URL, used as is */
  tracesUrl?: string;
  /** an OTLP/HTTP base URL, when tracesUrl is not given */
  endpoint?: string;
  protocol: OtlpProtocol;
  resource?: Resource;
  serviceName?: string;
  resourceAttributes?: Record<string, string>;
  spansPerSecond: number;
  source: TraceSource;
  log: Logger;
  onExportFailure?: (error: Error) => void;
  /** milliseconds between drains of the workers' rings (default 100) */
  drainIntervalMs?: number;
  /** one export request's deadline, retries included (default 10000) */
  exportTimeoutMs?: number;
  /** milliseconds a span waits in the queue for a fuller export request (default 1000) */
  scheduledDelayMs?: number;
  /** spans queued for export at most (default: 2 s of budget, at least 2048; a full bucket drained at once is 1 s) */
  maxQueueSize?: number;
  /** milliseconds between two log lines about export failures (default 30000) */
  failureLogIntervalMs?: number;
  /** how long stop() waits for the last export (default 2000) */
  stopTimeoutMs?: number;
  /** monotonic milliseconds, for the rate limit and the failure log (tests pin it) */
  now?: () => number;
}

export interface TraceStats {
  /** span records taken out of the workers' rings: each one a batch, droppedRate, droppedQueue or a drain error */
  records: number;
  /** records turned into mcr.batch span trees */
  batches: number;
  /** records over the spans-per-second budget, discarded */
  droppedRate: number;
  /** records discarded because the export queue was full (the endpoint is slow or unreachable) */
  droppedQueue: number;
  /** control-plane spans */
  controlSpans: number;
  /** spans waiting in the export queue now */
  queued: number;
  /** spans the endpoint acknowledged */
  exported: number;
  /** spans in export requests that failed */
  droppedExport: number;
  /** failed export requests */
  exportFailures: number;
  /** drains that threw (the counter file went away under a restart, for example), and records that could not be turned into spans */
  drainErrors: number;
}

export type ControlAttributes = Record<string, string | number | boolean | undefined>;

/** Adds a span event to the control-plane span being run (a route change, for one): controlSpan's fn gets one. */
export type SpanEventAdder = (name: string, attributes?: ControlAttributes) => void;

export interface TraceExport {
  /** Runs fn inside a span `name`; a throw sets status ERROR with the message and is rethrown. */
  controlSpan<T>(name: string, attributes: ControlAttributes, fn: (addEvent: SpanEventAdder) => T | Promise<T>): Promise<T>;
  /** One drain of every worker's ring now (the timer does this every drainIntervalMs). */
  drainNow(): void;
  /** Exports everything queued; resolves when the requests are answered or failed, never rejects. */
  flush(): Promise<void>;
  stats(): TraceStats;
  stop(): Promise<void>;
}

/** The control-plane span names (the daemon calls controlSpan with these). */
export const CONTROL_SPANS = {
  add: 'mcr.control.add',
  remove: 'mcr.control.remove',
  reload: 'mcr.control.reload',
  dataplaneRestart: 'mcr.dataplane.restart',
} as const;

/** Records taken from one ring per drainSpans call, and per drain at most. */
const DRAIN_CHUNK = 1024;
const MAX_RECORDS_PER_WORKER_PER_DRAIN = 8192;
/** Queue room kept for control-plane spans, which are never rate limited (a quarter of small queues). */
const CONTROL_RESERVE = 64;

/** A relay without trace export: controlSpan just runs fn. */
export function noTraces(): TraceExport {
  const zero: TraceStats = {
    records: 0,
    batches: 0,
    droppedRate: 0,
    droppedQueue: 0,
    controlSpans: 0,
    queued: 0,
    exported: 0,
    droppedExport: 0,
    exportFailures: 0,
    drainErrors: 0,
  };
  return {
    controlSpan: async (_name, _attributes, fn) => fn(() => {}),
    drainNow: () => {},
    flush: async () => {},
    stats: () => ({ ...zero }),
    stop: async () => {},
  };
}

export function tracesUrl(options: Pick<TraceOptions, 'endpoint' | 'tracesUrl'>): string {
  if (options.tracesUrl !== undefined) return options.tracesUrl;
  if (options.endpoint === undefined) throw new Error('trace export needs tracesUrl or endpoint');
  return `${options.endpoint.replace(/\/+$/, '')}/v1/traces`;
}

let errnoNames: Map<number, string> | undefined;
/** `errno 11: EAGAIN`; of two names for one number (EAGAIN/EWOULDBLOCK) the first Node lists. */
export function errnoMessage(errno: number): string {
  if (errnoNames === undefined) {
    errnoNames = new Map();
    const { constants } = require('node:os') as typeof import('node:os');
    for (const [name, value] of Object.entries(constants.errno)) if (!errnoNames.has(value)) errnoNames.set(value, name);
  }
  const name = errnoNames.get(errno);
  return name === undefined ? `errno ${errno}` : `errno ${errno}: ${name}`;
}

export function startTraces(options: TraceOptions): TraceExport {
  return new OtlpTraces(options);
}

type Api = typeof import('@opentelemetry/api');

class OtlpTraces implements TraceExport {
  private readonly api: Api;
  private readonly tracer: Tracer;
  private readonly processor: BatchSpanProcessor;
  private readonly provider: { shutdown(): Promise<void> };
  private readonly url: string;
  private readonly now: () => number;
  /** spans of batch trees allowed in the queue: maxQueueSize less the control-plane reserve */
  private readonly batchQueueLimit: number;
  private readonly timer: NodeJS.Timeout;
  private readonly counts: Omit<TraceStats, 'queued'> = {
    records: 0,
    batches: 0,
    droppedRate: 0,
    droppedQueue: 0,
    controlSpans: 0,
    exported: 0,
    droppedExport: 0,
    exportFailures: 0,
    drainErrors: 0,
  };
  /** spans created, and spans handed to the exporter: the difference is the processor's queue */
  private spansCreated = 0;
  private spansHanded = 0;
  private tokens: number;
  private tokensAt: number;
  private readonly unreported = { failedRequests: 0, lostSpans: 0, droppedQueue: 0, drainErrors: 0, lastError: '' };
  private lastReportAt: number | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly options: TraceOptions) {
    this.api = require('@opentelemetry/api') as Api;
    const sdk = require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base');
    const resources = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
    const exporterModule =
      options.protocol === 'http/json'
        ? (require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http'))
        : (require('@opentelemetry/exporter-trace-otlp-proto') as typeof import('@opentelemetry/exporter-trace-otlp-proto'));

    this.url = tracesUrl(options);
    this.now = options.now ?? (() => performance.now());
    const exportTimeoutMs = options.exportTimeoutMs ?? 10_000;
    const maxQueueSize = options.maxQueueSize ?? Math.max(2048, options.spansPerSecond * 2);
    this.batchQueueLimit = maxQueueSize - Math.min(CONTROL_RESERVE, Math.floor(maxQueueSize / 4));
    this.tokens = options.spansPerSecond;
    this.tokensAt = this.now();

    const otlp = new exporterModule.OTLPTraceExporter({ url: this.url, timeoutMillis: exportTimeoutMs });
    // Every option explicit: OTEL_BSP_* would otherwise change the queue our count relies on. The
    // processor waits longer than the exporter's own deadline, so one request is in flight at a time.
    this.processor = new sdk.BatchSpanProcessor(this.countingExporter(otlp), {
      maxQueueSize,
      maxExportBatchSize: Math.min(512, maxQueueSize),
      scheduledDelayMillis: options.scheduledDelayMs ?? 1000,
      exportTimeoutMillis: exportTimeoutMs + 5000,
    });
    const resource =
      options.resource ??
      resources
        .defaultResource()
        .merge(resources.resourceFromAttributes({ ...options.resourceAttributes, 'service.name': options.serviceName ?? 'mcrd' }));
    // Always on: the workers sample already, and a sampler dropping spans here would break the count.
    const provider = new sdk.BasicTracerProvider({ resource, sampler: new sdk.AlwaysOnSampler(), spanProcessors: [this.processor] });
    this.provider = provider;
    this.tracer = provider.getTracer('mcr', packageVersion());

    try {
      options.source.setRecordsEnabled(true);
    } catch (err) {
      options.log.warn(`cannot switch span records on: ${(err as Error).message}`);
    }
    this.timer = setInterval(() => this.drainNow(), options.drainIntervalMs ?? 100);
    this.timer.unref();
  }

  stats(): TraceStats {
    return { ...this.counts, queued: this.spansCreated - this.spansHanded };
  }

  async controlSpan<T>(name: string, attributes: ControlAttributes, fn: (addEvent: SpanEventAdder) => T | Promise<T>): Promise<T> {
    if (this.stopping) return fn(() => {});
    const defined = (attrs: ControlAttributes): Attributes => {
      const out: Attributes = {};
      for (const [key, value] of Object.entries(attrs)) if (value !== undefined) out[key] = value;
      return out;
    };
    const span = this.tracer.startSpan(name, { attributes: defined(attributes), root: true }, this.api.ROOT_CONTEXT);
    this.counts.controlSpans++;
    try {
      const result = await fn((event, attrs) => span.addEvent(event, defined(attrs ?? {})));
      this.endSpan(span);
      return result;
    } catch (err) {
      span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
      this.endSpan(span);
      throw err;
    }
  }

  drainNow(): void {
    if (this.stopping) return;
    this.drain();
  }

  async flush(): Promise<void> {
    try {
      await this.processor.forceFlush();
    } catch {
      // a failed export is counted by the exporter wrapper; flush only waits for it
    }
  }

  stop(): Promise<void> {
    this.stopping ??= this.shutdown();
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    clearInterval(this.timer);
    this.drain();
    try {
      this.options.source.setRecordsEnabled(false);
    } catch {
      // the counter file may be gone already; the workers stop with it
    }
    let timeout: NodeJS.Timeout | undefined;
    await Promise.race([
      this.provider.shutdown().catch(() => {}),
      new Promise<void>((resolve) => {
        timeout = setTimeout(resolve, this.options.stopTimeoutMs ?? 2000);
        timeout.unref();
      }),
    ]);
    clearTimeout(timeout);
    this.reportFailures(true);
  }

  private drain(): void {
    const { source } = this.options;
    const taken: NativeSpanRecord[][] = [];
    let longest = 0;
    this.refillTokens();
    try {
      const workers = source.workers();
      // With skipSpans, only as many records as the budget could pass are read (a tree is at
      // least 3 spans), shared out over the workers; the rest are discarded unread and counted
      // as over the rate: reading a record costs far more than skipping it.
      const perWorker = source.skipSpans
        ? Math.ceil(Math.max(1, Math.ceil(this.tokens / 3)) / Math.max(1, workers))
        : MAX_RECORDS_PER_WORKER_PER_DRAIN;
      for (let worker = 0; worker < workers; worker++) {
        const records: NativeSpanRecord[] = [];
        const limit = Math.min(perWorker, MAX_RECORDS_PER_WORKER_PER_DRAIN);
        let emptied = false;
        while (records.length < limit) {
          const chunk = source.drainSpans(worker, Math.min(DRAIN_CHUNK, limit - records.length));
          for (const record of chunk) records.push(record);
          if (chunk.length === 0) {
            emptied = true;
            break;
          }
        }
        // Skip only when the budget stopped the reading: a ring read empty may hold a record the
        // worker wrote a moment later, which the budget has room for (the next drain takes it).
        if (source.skipSpans && !emptied) {
          const skipped = source.skipSpans(worker);
          this.counts.records += skipped;
          this.counts.droppedRate += skipped;
        }
        taken.push(records);
        longest = Math.max(longest, records.length);
      }
    } catch (err) {
      this.counts.drainErrors++;
      this.unreported.drainErrors++;
      this.unreported.lastError = `drain: ${(err as Error).message}`;
    }
    // Round robin over the workers, so one busy worker cannot take the whole budget.
    for (let i = 0; i < longest; i++)
      for (const records of taken) {
        const record = records[i];
        if (record === undefined) continue;
        // This runs on mcrd's timer: a throw here would end the daemon, so a bad record only counts.
        try {
          this.admit(record);
        } catch (err) {
          this.counts.drainErrors++;
          this.unreported.drainErrors++;
          this.unreported.lastError = `record: ${(err as Error).message}`;
        }
      }
    this.reportFailures(false);
  }

  private refillTokens(): void {
    const now = this.now();
    const rate = this.options.spansPerSecond;
    this.tokens = Math.min(rate, this.tokens + ((now - this.tokensAt) * rate) / 1000);
    this.tokensAt = now;
  }

  private admit(record: NativeSpanRecord): void {
    this.counts.records++;
    // The budget is in spans (a tree is the batch, its ring wait and classify, and one per send);
    // a tree larger than the whole budget still passes when the bucket is full, with a debt.
    const spans = 2 + (hasTime(record.oldestFrame) ? 1 : 0) + record.sends.length;
    if (this.tokens < Math.min(spans, this.options.spansPerSecond)) {
      this.counts.droppedRate++;
      return;
    }
    if (this.spansCreated - this.spansHanded + spans > this.batchQueueLimit) {
      this.counts.droppedQueue++;
      this.unreported.droppedQueue++;
      return;
    }
    this.tokens -= spans;
    this.emitBatch(record);
    this.counts.batches++;
  }

  private emitBatch(record: NativeSpanRecord): void {
    const { api, tracer } = this;
    const { source } = this.options;
    const ringWait = hasTime(record.oldestFrame);
    const attributes: Attributes = {
      'mcr.worker': record.worker,
      'mcr.packets': record.packets,
      'mcr.bytes': record.bytes,
      'network.interface.name': source.interfaceName(record.inputIfindex) ?? String(record.inputIfindex),
      'mcr.rules.matched': record.rulesMatched,
      'mcr.sends': record.sends.length + record.sendsOverflow,
      'mcr.sends.overflow': record.sendsOverflow,
      'mcr.sampled': record.sampled,
      'mcr.chased': record.chased,
    };
    if (record.ruleSlots.length > 0) {
      const rules = record.ruleSlots.map((slot) => source.ruleForSlot(slot));
      const ids = rules.map((rule, i) => rule?.id ?? `slot:${record.ruleSlots[i]}`);
      attributes['mcr.rule.id'] = ids[0];
      attributes['mcr.rule.ids'] = ids;
      const firstName = rules[0]?.name;
      if (firstName !== undefined) attributes['mcr.rule.name'] = firstName;
    }
    let errors = 0;
    for (const send of record.sends) errors += send.errors;
    if (errors > 0) attributes['mcr.errors'] = errors;

    const batch = tracer.startSpan('mcr.batch', { startTime: ringWait ? record.oldestFrame : record.pickup, attributes, root: true });
    const parent = api.trace.setSpan(api.ROOT_CONTEXT, batch);
    if (ringWait) this.endSpan(tracer.startSpan('mcr.ring_wait', { startTime: record.oldestFrame }, parent), record.pickup);
    this.endSpan(tracer.startSpan('mcr.classify', { startTime: record.pickup }, parent), record.classified);
    for (const send of record.sends) this.emitSend(send, parent);
    this.endSpan(batch, record.released);
  }

  private emitSend(send: NativeSpanSend, parent: Context): void {
    const attributes: Attributes = {
      'network.interface.name': this.options.source.interfaceName(send.ifindex) ?? String(send.ifindex),
      'mcr.packets': send.packets,
      'mcr.bytes': send.bytes,
    };
    if (send.errors > 0) attributes['mcr.errors'] = send.errors;
    const span = this.tracer.startSpan('mcr.send', { startTime: send.start, attributes }, parent);
    if (send.errors > 0 || send.errno !== 0) span.setStatus({ code: this.api.SpanStatusCode.ERROR, message: errnoMessage(send.errno) });
    this.endSpan(span, send.end);
  }

  private endSpan(span: Span, end?: HrTime): void {
    this.spansCreated++;
    span.end(end);
  }

  /** The OTLP exporter with counts: what it was handed, what the endpoint took, what failed. */
  private countingExporter(inner: SpanExporter): SpanExporter {
    const finished = (spans: number, result: ExportResult): void => {
      if (result.code === 0 /* ExportResultCode.SUCCESS */) {
        this.counts.exported += spans;
        return;
      }
      this.counts.exportFailures++;
      this.counts.droppedExport += spans;
      const error = result.error ?? new Error('export failed');
      if (this.options.onExportFailure) {
        try {
          this.options.onExportFailure(error);
        } catch {
          // the hook's trouble must not stop the export pipeline
        }
        return;
      }
      this.unreported.failedRequests++;
      this.unreported.lostSpans += spans;
      this.unreported.lastError = error.message;
      this.reportFailures(false);
    };
    return {
      export: (spans: ReadableSpan[], done: (result: ExportResult) => void) => {
        this.spansHanded += spans.length;
        try {
          inner.export(spans, (result) => {
            finished(spans.length, result);
            done(result);
          });
        } catch (err) {
          const result = { code: 1 /* ExportResultCode.FAILED */, error: err as Error };
          finished(spans.length, result);
          done(result);
        }
      },
      shutdown: () => inner.shutdown(),
      forceFlush: () => inner.forceFlush?.() ?? Promise.resolve(),
    };
  }

  /** One warning per failureLogIntervalMs at most, with the counts since the last one. */
  private reportFailures(final: boolean): void {
    const u = this.unreported;
    if (u.failedRequests + u.droppedQueue + u.drainErrors === 0) return;
    const now = this.now();
    const interval = this.options.failureLogIntervalMs ?? 30_000;
    if (!final && this.lastReportAt !== undefined && now - this.lastReportAt < interval) return;
    this.lastReportAt = now;
    this.options.log.warn(
      `trace export: requests failed or span trees dropped for want of queue room (one line per ${Math.round(interval / 1000)} s at most)`,
      {
        url: this.url,
        failedRequests: u.failedRequests,
        lostSpans: u.lostSpans,
        droppedRecords: u.droppedQueue,
        drainErrors: u.drainErrors || undefined,
        lastError: u.lastError || undefined,
      },
    );
    u.failedRequests = 0;
    u.lostSpans = 0;
    u.droppedQueue = 0;
    u.drainErrors = 0;
    u.lastError = '';
  }
}

function hasTime(time: HrTime): boolean {
  return time[0] !== 0 || time[1] !== 0;
}
