// SPDX-License-Identifier: MIT
// mcr's counters as OpenTelemetry metrics, for the Prometheus endpoint and OTLP export. Loaded
// only when telemetry is on. Nothing is counted here: every value is read from the shared
// counter file at collection time, once per collection, so a metric costs nothing between
// scrapes and the forwarding core never knows it is observed.
//
// Two paths feed one MeterProvider:
// - per-worker counters and the singletons: SDK observable instruments fed by ONE batch callback
//   (attributes precomputed per worker, reason and errno);
// - per-rule and per-output counters and the span histograms: a MetricProducer. Rules come and
//   go, and the SDK keeps reporting an asynchronous instrument's attribute set with its last value
//   after it stops being observed (checked with sdk-metrics 2.12.0): a removed rule would stay in
//   every scrape forever and churn would fill the 2000-series limit. The producer reports exactly
//   the rules in force. The histograms are pre-aggregated in the core and have no other way in.
//
// Counters survive data-plane restarts: the counter file is the supervisor's and outlives every
// data plane, so a restarted data plane continues from the values its predecessor left.
import { ValueType, type Attributes, type BatchObservableResult, type HrTime, type Observable } from '@opentelemetry/api';
import { ExportResultCode, millisToHrTime } from '@opentelemetry/core';
import { OTLPMetricExporter as HttpJsonExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { OTLPMetricExporter as ProtobufExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import type { Resource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  AggregationType,
  DataPointType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type AggregationOption,
  type CollectionResult,
  type HistogramMetricData,
  type InstrumentType,
  type MetricData,
  type MetricProducer,
  type MetricReader,
  type PushMetricExporter,
  type ResourceMetrics,
  type SumMetricData,
} from '@opentelemetry/sdk-metrics';
import type { Counters, Stats } from '../control/protocol';
import type { SpanHistogram } from '../lib/histogram';
import type { Logger } from '../lib/logger';
import { packageVersion } from '../lib/version';
import type { ExportFailures } from './failures';
import type { TelemetrySettings } from './settings';
import type { TraceStats } from './traces';

/**
 * Every metric mcrd exports, as the Prometheus exposition names it (the OTLP name is the same
 * without `_total`). docs/observability.md copies this table.
 *
 * | metric | type | labels | meaning |
 * |---|---|---|---|
 * | mcr_rx_packets_total | counter | worker | frames the worker took off its receive rings |
 * | mcr_rx_bytes_total | counter | worker | bytes of those frames as on the wire (Ethernet header included) |
 * | mcr_matched_packets_total | counter | worker | frames that matched a rule |
 * | mcr_tx_packets_total | counter | worker | packets sent (one per output per matched frame) |
 * | mcr_tx_bytes_total | counter | worker | UDP payload bytes sent |
 * | mcr_ring_drops_total | counter | worker | frames the kernel dropped because a receive ring was full |
 * | mcr_filtered_packets_total | counter | worker, reason | frames refused by the parser: truncated, bad_ip_header, bad_ip_checksum, fragment, not_udp, bad_udp_length, not_ipv4, oversize |
 * | mcr_no_match_packets_total | counter | worker | well-formed frames no rule wanted |
 * | mcr_tx_errors_total | counter | worker, errno | copies not sent: EAGAIN, ENOBUFS, unreachable, EMSGSIZE, EPERM, other, tooBig (a routed copy over the output MTU) |
 * | mcr_ttl_expired_packets_total | counter | worker | copies not sent by a `ttl: "decrement"` output (TTL 1 or 0 on arrival) |
 * | mcr_batches_total | counter | worker | receive batches processed (rx / batches = frames per batch) |
 * | mcr_wakeups_total | counter | worker | times the worker slept in poll() and woke (0 with busyPoll) |
 * | mcr_holdoffs_total | counter | worker | wake-ups followed by a `wakeupHoldoffUs` sleep (dense traffic only) |
 * | mcr_span_records_written_total | counter | worker | span records written into the worker's span ring (only while traces are exported, or a trace is chased) |
 * | mcr_span_records_dropped_total | counter | worker | span records lost because the span ring was full |
 * | mcr_punted_packets_total | counter | worker | packets copied to mcrd for PIM's data-driven events |
 * | mcr_punt_rate_limited_packets_total | counter | worker | punts not made: over the punt rate |
 * | mcr_punt_ring_full_packets_total | counter | worker | punts not made: mcrd had not emptied the punt ring |
 * | mcr_rule_matched_packets_total | counter | rule | frames that matched the rule |
 * | mcr_rule_matched_bytes_total | counter | rule | UDP payload bytes of those frames |
 * | mcr_output_tx_packets_total | counter | rule, output | packets sent to one output (`group:port@interface`) |
 * | mcr_output_tx_bytes_total | counter | rule, output | UDP payload bytes sent to it |
 * | mcr_output_tx_errors_total | counter | rule, output | copies for it that could not be sent |
 * | mcr_dataplane_restarts_total | counter | | data-plane crashes the supervisor recovered from |
 * | mcr_telemetry_export_failures_total | counter | signal | failed OTLP exports (metrics, traces) |
 * | mcr_spans_exported_total | counter | | spans the OTLP traces endpoint acknowledged (with traces only) |
 * | mcr_spans_dropped_total | counter | reason | span records not exported: rate (over telemetry.spansPerSecond), queue (no export queue room), export (in failed requests) (with traces only) |
 * | mcr_igmp_groups | gauge | interface | groups with listeners on an IGMP interface (igmp.interfaces) |
 * | mcr_igmp_messages_total | counter | direction, type | IGMP messages received and sent: query_v1/v2/v3, report_v1/v2/v3, leave_v2 |
 * | mcr_igmp_errors_total | counter | reason | malformed IGMP messages dropped (truncated, bad_ip_checksum, bad_igmp_checksum, ...) and send failures (send_failed) |
 * | mcr_pim_neighbors | gauge | interface | PIM neighbours on a PIM interface (pim.interfaces) |
 * | mcr_pim_messages_total | counter | direction, type | PIM messages received and sent: hello, join_prune, register, register_stop, assert |
 * | mcr_pim_errors_total | counter | reason | malformed PIM messages dropped (truncated, bad_checksum, unsupported_type, ...) and send failures (send_failed) |
 * | mcr_msdp_peer_up | gauge | peer | 1 while the MSDP session with a configured peer (msdp.peers) is established, else 0 |
 * | mcr_msdp_sa_cache_entries | gauge | | (S,G,RP) entries in the MSDP SA cache, learned from peers (absent without MSDP) |
 * | mcr_msdp_messages_total | counter | direction, type | MSDP messages received and sent: source_active, keepalive, sa_request, sa_response, notification |
 * | mcr_msdp_errors_total | counter | reason | malformed MSDP streams (a session reset each: unknown_type, bad_length, ...), SAs rejected (sa_rpf_failed, sa_own_rp) and connections refused (refused_connection) |
 * | mcr_route_changes_total | counter | origin | routes added to or removed from the routing table: static (rules), igmp and pim (learned) |
 * | mcr_build_info | gauge | version | always 1 |
 * | mcr_ring_wait_seconds | histogram | worker | sampled batches: oldest frame's kernel timestamp to pickup |
 * | mcr_batch_seconds | histogram | worker | sampled batches: pickup to the ring slots' release (parse, match, every sendmmsg) |
 *
 * `rule` is the rule's name, or its id when it has none. Cardinality: per worker, at most 32
 * workers; `reason` 8 values, `errno` 6; per rule, the first `telemetry.ruleMetricsLimit` rules
 * in `mcrctl list` order (default 256, at most 1000; the rest count in the per-worker
 * totals only, and mcrd logs that once); per output, the outputs of those rules (at most 256
 * each). Histogram buckets: the core's log2 microsecond buckets, le = 2 µs, 4 µs, ... 2^19 µs
 * (0.52 s), +Inf. `_sum` is the core's exact sum of the sampled durations (it sums nanoseconds
 * next to the buckets: SpanHistogram.sumUs).
 */
export const METRICS = [
  'mcr_rx_packets_total',
  'mcr_rx_bytes_total',
  'mcr_matched_packets_total',
  'mcr_tx_packets_total',
  'mcr_tx_bytes_total',
  'mcr_ring_drops_total',
  'mcr_filtered_packets_total',
  'mcr_no_match_packets_total',
  'mcr_tx_errors_total',
  'mcr_ttl_expired_packets_total',
  'mcr_batches_total',
  'mcr_wakeups_total',
  'mcr_holdoffs_total',
  'mcr_span_records_written_total',
  'mcr_span_records_dropped_total',
  'mcr_punted_packets_total',
  'mcr_punt_rate_limited_packets_total',
  'mcr_punt_ring_full_packets_total',
  'mcr_rule_matched_packets_total',
  'mcr_rule_matched_bytes_total',
  'mcr_output_tx_packets_total',
  'mcr_output_tx_bytes_total',
  'mcr_output_tx_errors_total',
  'mcr_dataplane_restarts_total',
  'mcr_telemetry_export_failures_total',
  'mcr_spans_exported_total',
  'mcr_spans_dropped_total',
  'mcr_igmp_groups',
  'mcr_igmp_messages_total',
  'mcr_igmp_errors_total',
  'mcr_pim_neighbors',
  'mcr_pim_messages_total',
  'mcr_pim_errors_total',
  'mcr_msdp_peer_up',
  'mcr_msdp_sa_cache_entries',
  'mcr_msdp_messages_total',
  'mcr_msdp_errors_total',
  'mcr_route_changes_total',
  'mcr_build_info',
  'mcr_ring_wait_seconds',
  'mcr_batch_seconds',
] as const;

/** What the metrics read, at collection time only. */
export interface MetricSources {
  /** Counters with the first `maxRules` rules (in registry order); totals and workers are complete. */
  readStats(maxRules: number): Stats;
  /** Rules in force, including those beyond the limit. */
  ruleCount(): number;
  /** Data-plane crashes the supervisor recovered from. */
  dataPlaneRestarts(): number;
  /** IGMP, PIM, MSDP and routing-table counts (empty maps for a protocol that is off; route changes always count static rules). */
  routing?(): RoutingMetrics;
}

/** What the routing side counts (src/daemon/routing.ts). */
export interface RoutingMetrics {
  /** IGMP interface -> groups with listeners; empty without IGMP */
  igmpGroups: Record<string, number>;
  igmpReceived: Record<string, number>;
  igmpSent: Record<string, number>;
  igmpErrors: Record<string, number>;
  /** PIM interface -> neighbours; empty without PIM */
  pimNeighbors: Record<string, number>;
  pimReceived: Record<string, number>;
  pimSent: Record<string, number>;
  pimErrors: Record<string, number>;
  /** MSDP peer address -> 1 established / 0 not; empty without MSDP */
  msdpPeerUp: Record<string, number>;
  /** SA cache entries; null without MSDP */
  msdpSaEntries: number | null;
  msdpReceived: Record<string, number>;
  msdpSent: Record<string, number>;
  msdpErrors: Record<string, number>;
  /** origin -> route.add + route.remove */
  routeChanges: Record<string, number>;
}

/** One counter-file read serves every instrument and the producer of one collection. */
const STATS_REUSE_MS = 100;

/** The per-worker counters: metric name (OTLP; Prometheus adds _total), unit, description, field. */
const WORKER_COUNTERS = [
  ['mcr_rx_packets', '{packet}', 'frames the worker took off its receive rings', 'rxFrames'],
  ['mcr_rx_bytes', 'By', 'bytes of the frames received, as on the wire (Ethernet header included)', 'rxBytes'],
  ['mcr_matched_packets', '{packet}', 'frames that matched a rule', 'matched'],
  ['mcr_tx_packets', '{packet}', 'packets sent (one per output per matched frame)', 'txPackets'],
  ['mcr_tx_bytes', 'By', 'UDP payload bytes sent', 'txBytes'],
  ['mcr_ring_drops', '{packet}', 'frames the kernel dropped because a receive ring was full', 'ringDrops'],
  ['mcr_no_match_packets', '{packet}', 'well-formed frames no rule wanted', 'noMatch'],
  ['mcr_ttl_expired_packets', '{packet}', 'copies not sent by a ttl "decrement" output: TTL 1 or 0 on arrival', 'ttlExpired'],
  ['mcr_batches', '{batch}', 'receive batches processed', 'batches'],
  ['mcr_wakeups', '{wakeup}', 'times the worker slept in poll() and woke', 'wakeups'],
  ['mcr_holdoffs', '{holdoff}', 'wake-ups followed by a wakeupHoldoffUs sleep (dense traffic only)', 'holdoffs'],
  ['mcr_span_records_written', '{record}', 'span records the worker wrote into its span ring for export', 'spansWritten'],
  ['mcr_span_records_dropped', '{record}', 'span records lost because the span ring was full (nobody took them in time)', 'spansDropped'],
  ['mcr_punted_packets', '{packet}', 'packets copied to mcrd for a routing protocol (PIM data-driven events)', 'punted'],
  ['mcr_punt_rate_limited_packets', '{packet}', 'punts not made because they were over the punt rate', 'puntRateLimited'],
  ['mcr_punt_ring_full_packets', '{packet}', 'punts not made because mcrd had not emptied the punt ring', 'puntRingFull'],
] as const satisfies readonly (readonly [string, string, string, keyof Counters])[];

/** The span histograms exported, by their key in Counters.spans. */
const HISTOGRAMS = [
  ['mcr_ring_wait_seconds', 'ringWait', "sampled receive batches: the oldest frame's kernel timestamp to pickup by the worker"],
  ['mcr_batch_seconds', 'batch', "sampled receive batches: pickup to the ring slots' release"],
] as const;

/** The map's value for key, made and stored on first use. */
function once<V>(map: Map<string, V>, key: string, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}

const DROP_REASONS = { rate: { reason: 'rate' }, queue: { reason: 'queue' }, export: { reason: 'export' } } as const;

const snake = (camel: string): string => camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

/** Upper bounds, in seconds, of the core's log2 µs buckets but the open last one: 2, 4, ... 2^(n-1) µs. */
export function bucketBoundariesSeconds(bucketCount: number): number[] {
  return Array.from({ length: bucketCount - 1 }, (_, i) => 2 ** (i + 1) / 1e6);
}

/** The histogram's _sum in seconds: the core sums the sampled durations in nanoseconds. */
export function sumSeconds(h: SpanHistogram): number {
  return h.sumUs / 1e6;
}

/** The output label: `group:port@interface`, as mcrctl writes an output. */
export function outputLabel(o: { group: string; port: number; interface: string }): string {
  return `${o.group}:${o.port}@${o.interface}`;
}

export interface MetricsParts {
  settings: TelemetrySettings;
  resource: Resource;
  sources: MetricSources;
  failures: ExportFailures;
  log: Logger;
  /** The trace export's counts, when traces are exported. */
  traceStats?: () => TraceStats | undefined;
  /** The Prometheus exporter (a MetricReader), when metricsListen is set; built by prometheus.ts. */
  prometheusReader?: (producers: MetricProducer[]) => MetricReader;
}

export class McrMetrics {
  private readonly provider: MeterProvider;
  private statsAt = Number.NEGATIVE_INFINITY;
  private stats: Stats | undefined;
  private warnedRuleLimit = false;
  /** Per worker: its attribute sets, built once when the worker first shows up. */
  private readonly workerAttrs: { worker: Attributes; reason: Map<string, Attributes>; errno: Map<string, Attributes> }[] = [];
  private readonly buildAttrs: Attributes = { version: packageVersion() };
  private readonly signalAttrs = { metrics: { signal: 'metrics' }, traces: { signal: 'traces' } };
  /** Per rule/output series: its attributes and cumulative start, kept while it is exported. */
  private series = new Map<string, { attrs: Attributes; start: HrTime; last: number }>();
  private readonly startTime: HrTime = millisToHrTime(Date.now());
  readonly reader: MetricReader | undefined;

  constructor(private readonly parts: MetricsParts) {
    const { settings, failures } = parts;
    const producer: MetricProducer = { collect: () => this.produce() };
    const readers: MetricReader[] = [];
    if (parts.prometheusReader) {
      this.reader = parts.prometheusReader([producer]);
      readers.push(this.reader);
    }
    if (settings.metricsEndpoint) {
      const interval = settings.metricExportIntervalMs;
      const config = {
        url: settings.metricsEndpoint,
        // The exporter gives up (and reports a failure we count) before the reader's own timeout.
        timeoutMillis: Math.max(50, Math.min(10_000, interval - 50)),
      };
      const exporter = settings.protocol === 'http/json' ? new HttpJsonExporter(config) : new ProtobufExporter(config);
      readers.push(
        new PeriodicExportingMetricReader({
          exporter: new CountingExporter(exporter, failures),
          exportIntervalMillis: interval,
          exportTimeoutMillis: interval,
          metricProducers: [producer],
        }),
      );
    }
    this.provider = new MeterProvider({ resource: parts.resource, readers });
    this.instruments();
  }

  /** Exports what is left (OTLP), then stops the readers. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }

  private latest(): Stats {
    const now = Date.now();
    if (!this.stats || now - this.statsAt > STATS_REUSE_MS) {
      this.stats = this.parts.sources.readStats(this.parts.settings.ruleMetricsLimit);
      this.statsAt = now;
      const rules = this.parts.sources.ruleCount();
      if (rules > this.parts.settings.ruleMetricsLimit && !this.warnedRuleLimit) {
        this.warnedRuleLimit = true;
        this.parts.log.warn(
          `${rules} rules: only the first ${this.parts.settings.ruleMetricsLimit} (telemetry.ruleMetricsLimit) have per-rule and per-output metrics; the others count in the per-worker totals only`,
        );
      }
    }
    return this.stats;
  }

  private attrsOf(worker: number): NonNullable<McrMetrics['workerAttrs'][number]> {
    let a = this.workerAttrs[worker];
    if (!a) {
      const w = String(worker);
      a = { worker: { worker: w }, reason: new Map(), errno: new Map() };
      this.workerAttrs[worker] = a;
    }
    return a;
  }

  private instruments(): void {
    const meter = this.provider.getMeter('mcr', packageVersion());
    const int = { valueType: ValueType.INT };
    const counter = (name: string, unit: string, description: string) => meter.createObservableCounter(name, { ...int, unit, description });
    const counters = WORKER_COUNTERS.map(([name, unit, description, field]) => [counter(name, unit, description), field] as const);
    const filtered = counter('mcr_filtered_packets', '{packet}', 'frames refused by the parser, by reason');
    const txErrors = counter('mcr_tx_errors', '{packet}', 'copies not sent, by errno');
    const restarts = counter('mcr_dataplane_restarts', '{restart}', 'data-plane crashes the supervisor recovered from');
    const exportFailures = counter('mcr_telemetry_export_failures', '{export}', 'failed OTLP exports, by signal');
    const spansExported = counter('mcr_spans_exported', '{span}', 'spans the OTLP traces endpoint acknowledged');
    const spansDropped = counter(
      'mcr_spans_dropped',
      '{span}',
      'span records not exported: over the spans-per-second budget (rate), no queue room (queue), in failed requests (export)',
    );
    const buildInfo = meter.createObservableGauge('mcr_build_info', { ...int, description: 'mcr version; always 1' });
    const igmpGroups = meter.createObservableGauge('mcr_igmp_groups', {
      ...int,
      unit: '{group}',
      description: 'groups with listeners on an IGMP interface',
    });
    const igmpMessages = counter('mcr_igmp_messages', '{message}', 'IGMP messages received and sent, by direction and type');
    const igmpErrors = counter('mcr_igmp_errors', '{message}', 'malformed IGMP messages dropped and sends that failed, by reason');
    const pimNeighbors = meter.createObservableGauge('mcr_pim_neighbors', {
      ...int,
      unit: '{neighbor}',
      description: 'PIM neighbours on a PIM interface',
    });
    const pimMessages = counter('mcr_pim_messages', '{message}', 'PIM messages received and sent, by direction and type');
    const pimErrors = counter('mcr_pim_errors', '{message}', 'malformed PIM messages dropped and sends that failed, by reason');
    const msdpPeerUp = meter.createObservableGauge('mcr_msdp_peer_up', {
      ...int,
      unit: '{session}',
      description: 'whether the MSDP session with a configured peer is established (1) or not (0)',
    });
    const msdpSaEntries = meter.createObservableGauge('mcr_msdp_sa_cache_entries', {
      ...int,
      unit: '{entry}',
      description: '(S,G,RP) entries in the MSDP SA cache',
    });
    const msdpMessages = counter('mcr_msdp_messages', '{message}', 'MSDP messages received and sent, by direction and type');
    const msdpErrors = counter('mcr_msdp_errors', '{error}', 'malformed MSDP streams, rejected SAs and refused connections, by reason');
    const routeChanges = counter('mcr_route_changes', '{change}', 'routes added to or removed from the routing table, by origin');
    const observables: Observable[] = [
      ...counters.map(([c]) => c),
      filtered,
      txErrors,
      restarts,
      exportFailures,
      spansExported,
      spansDropped,
      buildInfo,
      igmpGroups,
      igmpMessages,
      igmpErrors,
      pimNeighbors,
      pimMessages,
      pimErrors,
      msdpPeerUp,
      msdpSaEntries,
      msdpMessages,
      msdpErrors,
      routeChanges,
    ];

    // ONE callback per collection: one counter-file read, precomputed attribute objects.
    meter.addBatchObservableCallback((result: BatchObservableResult) => {
      const stats = this.latest();
      for (const w of stats.workers) {
        const attrs = this.attrsOf(w.worker);
        for (const [instrument, field] of counters) result.observe(instrument, w[field], attrs.worker);
        for (const [reason, value] of Object.entries(w.filteredByReason))
          result.observe(
            filtered,
            value,
            once(attrs.reason, reason, () => ({ worker: String(w.worker), reason: snake(reason) })),
          );
        for (const [errno, value] of Object.entries(w.txErrorsByErrno))
          result.observe(
            txErrors,
            value,
            once(attrs.errno, errno, () => ({ worker: String(w.worker), errno })),
          );
      }
      result.observe(restarts, this.parts.sources.dataPlaneRestarts());
      for (const signal of ['metrics', 'traces'] as const)
        result.observe(exportFailures, this.parts.failures.counts[signal], this.signalAttrs[signal]);
      result.observe(buildInfo, 1, this.buildAttrs);
      const routing = this.parts.sources.routing?.();
      if (routing) {
        // One point per key of a count map, the key under `label`, with `fixed` attributes beside it.
        const each = (instrument: Observable, counts: Record<string, number>, label: string, fixed: Attributes = {}): void => {
          for (const [key, n] of Object.entries(counts)) result.observe(instrument, n, { ...fixed, [label]: key });
        };
        each(igmpGroups, routing.igmpGroups, 'interface');
        each(igmpMessages, routing.igmpReceived, 'type', { direction: 'received' });
        each(igmpMessages, routing.igmpSent, 'type', { direction: 'sent' });
        each(igmpErrors, routing.igmpErrors, 'reason');
        each(pimNeighbors, routing.pimNeighbors, 'interface');
        each(pimMessages, routing.pimReceived, 'type', { direction: 'received' });
        each(pimMessages, routing.pimSent, 'type', { direction: 'sent' });
        each(pimErrors, routing.pimErrors, 'reason');
        each(msdpPeerUp, routing.msdpPeerUp, 'peer');
        if (routing.msdpSaEntries !== null) result.observe(msdpSaEntries, routing.msdpSaEntries);
        each(msdpMessages, routing.msdpReceived, 'type', { direction: 'received' });
        each(msdpMessages, routing.msdpSent, 'type', { direction: 'sent' });
        each(msdpErrors, routing.msdpErrors, 'reason');
        each(routeChanges, routing.routeChanges, 'origin');
      }
      const traces = this.parts.traceStats?.();
      if (traces) {
        result.observe(spansExported, traces.exported);
        result.observe(spansDropped, traces.droppedRate, DROP_REASONS.rate);
        result.observe(spansDropped, traces.droppedQueue, DROP_REASONS.queue);
        result.observe(spansDropped, traces.droppedExport, DROP_REASONS.export);
      }
    }, observables);
  }

  /** The MetricProducer: per-rule and per-output sums and the span histograms, from the same read. */
  private async produce(): Promise<CollectionResult> {
    const stats = this.latest();
    const now = millisToHrTime(Date.now());
    const next = new Map<string, { attrs: Attributes; start: HrTime; last: number }>();
    // A series keeps its start while it is exported; a value lower than the last one reported
    // (a rule removed and added again under the same label) is a reset and starts anew.
    const point = (key: string, attrs: () => Attributes, value: number) => {
      let s = this.series.get(key);
      if (!s || value < s.last) s = { attrs: s?.attrs ?? attrs(), start: now, last: value };
      s.last = value;
      next.set(key, s);
      return { startTime: s.start, endTime: now, attributes: s.attrs, value };
    };
    const sum = (name: string, unit: string, description: string, dataPoints: SumMetricData['dataPoints']): SumMetricData => ({
      descriptor: { name, unit, description, valueType: ValueType.INT },
      aggregationTemporality: AggregationTemporality.CUMULATIVE,
      dataPointType: DataPointType.SUM,
      isMonotonic: true,
      dataPoints,
    });
    const matchedPackets: SumMetricData['dataPoints'] = [];
    const matchedBytes: SumMetricData['dataPoints'] = [];
    const outPackets: SumMetricData['dataPoints'] = [];
    const outBytes: SumMetricData['dataPoints'] = [];
    const outErrors: SumMetricData['dataPoints'] = [];
    for (const r of stats.rules) {
      const rule = r.name ?? r.id;
      const ruleAttrs = () => ({ rule });
      matchedPackets.push(point(`p\0${rule}`, ruleAttrs, r.matchedPackets));
      matchedBytes.push(point(`b\0${rule}`, ruleAttrs, r.matchedBytes));
      for (const o of r.outputs) {
        const output = outputLabel(o);
        const attrs = () => ({ rule, output });
        outPackets.push(point(`op\0${rule}\0${output}`, attrs, o.txPackets));
        outBytes.push(point(`ob\0${rule}\0${output}`, attrs, o.txBytes));
        outErrors.push(point(`oe\0${rule}\0${output}`, attrs, o.txErrors));
      }
    }
    this.series = next;

    const metrics: MetricData[] = [
      sum('mcr_rule_matched_packets', '{packet}', 'frames that matched the rule', matchedPackets),
      sum('mcr_rule_matched_bytes', 'By', 'UDP payload bytes of the frames that matched the rule', matchedBytes),
      sum('mcr_output_tx_packets', '{packet}', 'packets sent to one output of a rule', outPackets),
      sum('mcr_output_tx_bytes', 'By', 'UDP payload bytes sent to one output of a rule', outBytes),
      sum('mcr_output_tx_errors', '{packet}', 'copies for one output of a rule that could not be sent', outErrors),
    ];
    for (const [name, key, description] of HISTOGRAMS) {
      const dataPoints: HistogramMetricData['dataPoints'] = [];
      for (const w of stats.workers) {
        const h: SpanHistogram | undefined = w.spans[key];
        if (!h) continue;
        dataPoints.push({
          startTime: this.startTime,
          endTime: now,
          attributes: this.attrsOf(w.worker).worker,
          value: {
            buckets: { boundaries: bucketBoundariesSeconds(h.buckets.length), counts: [...h.buckets] },
            count: h.samples,
            sum: sumSeconds(h),
          },
        });
      }
      metrics.push({
        descriptor: { name, unit: 's', description, valueType: ValueType.DOUBLE },
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints,
      });
    }
    const resourceMetrics: ResourceMetrics = {
      resource: this.parts.resource,
      scopeMetrics: [{ scope: { name: 'mcr', version: packageVersion() }, metrics }],
    };
    return { resourceMetrics, errors: [] };
  }
}

/** The OTLP exporter, with every failed export counted and logged at a bounded rate. */
class CountingExporter implements PushMetricExporter {
  constructor(
    private readonly inner: PushMetricExporter,
    private readonly failures: ExportFailures,
  ) {}

  export(metrics: ResourceMetrics, done: Parameters<PushMetricExporter['export']>[1]): void {
    this.inner.export(metrics, (result) => {
      if (result.code !== ExportResultCode.SUCCESS) this.failures.failed('metrics', result.error ?? 'export failed');
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  selectAggregationTemporality(type: InstrumentType): AggregationTemporality {
    return this.inner.selectAggregationTemporality?.(type) ?? AggregationTemporality.CUMULATIVE;
  }

  selectAggregation(type: InstrumentType): AggregationOption {
    return this.inner.selectAggregation?.(type) ?? { type: AggregationType.DEFAULT };
  }
}
