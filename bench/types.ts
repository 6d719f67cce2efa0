// SPDX-License-Identifier: MIT
// The shapes of results.json: one Trial per generator run with every counter it read, searches
// over trials, and per-scenario summaries; shared by the scenarios, the report and compare.
import type { HostMeta } from './setup';
import type { RelayCounters } from './relays/relay';
import type { Timing } from './scenarios/control';
import type { DrillSummary } from './scenarios/drill';
import type { EfficiencySummary } from './scenarios/efficiency';
import type { IgmpLatencySummary } from './scenarios/igmp-latency';
import type { HopResult, SEED } from './scenarios/pipeline';
import type { SoakSummary } from './scenarios/soak';
import type { TelemetrySummary } from './scenarios/telemetry';
import type { Ratio } from './scenarios/throughput';

/** What a trial or a search measured: which relay, payload size, streams, fan-out, workers. */
export interface RelayCase {
  relay: string;
  label: string;
  size: number;
  streams: number;
  fanout: number;
  workers?: number;
}

export interface Trial extends RelayCase {
  /** requested rate (0 = unlimited) */
  requestedPps: number;
  count: number;
  /** what mcrgen says it sent, and how long it took */
  sent: number;
  genElapsedS: number;
  sendErrors: number;
  /** offered = rx_packets delta of the relay's input interface */
  offered: number;
  offeredPps: number;
  /** delivered = rx_packets delta of the sink interface divided by the fan-out */
  deliveredRaw: number;
  delivered: number;
  deliveredPps: number;
  /** frames the generator's veth could not hand to the relay side (g0 tx_dropped delta) */
  vethDrops: number;
  /** sink and relay-input rx_dropped deltas */
  inputRxDropped: number;
  sinkRxDropped: number;
  /** the relay's own counters over the trial, if it has live counters */
  relayDelta?: RelayCounters;
  /** undefined if the relay has no counters; false names the disagreement in `mismatch` */
  countersAgree?: boolean;
  mismatch?: string;
  lossless: boolean;
  loss: number;
  lossPct: number;
  wallS: number;
}

export interface SearchSummary extends RelayCase {
  /** offered pps of the best lossless trial (measured, not requested) */
  maxLosslessPps: number;
  /** output pps at that point (maxLosslessPps x fan-out) */
  outputPps: number;
  /** the first trial (unlimited generator) was already lossless: the relay was not the limit */
  generatorLimited: boolean;
  /** requested-rate bracket at the end: highest lossless, lowest lossy */
  bracket: [number, number | null];
  trials: number;
  countersAgree?: boolean;
  relayFinal?: RelayCounters;
  skipped?: string;
}

export interface LatencyPoint {
  relay: string;
  label: string;
  loadPct: number;
  ratePps: number;
  offeredPps: number;
  received: number;
  sent: number;
  lost: number;
  /** one-way latency percentiles in µs: from the kernel's receive timestamp at the sink when
   *  the probe has one (tool lat-recv), else from the receiving process (mcrgen recv) */
  p50: number | null;
  p90: number | null;
  p99: number | null;
  p999: number | null;
  max: number | null;
  /** the same measured when the receiving process got each packet (includes its queueing) */
  app: { p50: number | null; p99: number | null; p999: number | null };
  /** mcr only: its own sampled spans over this point (bucket upper bounds, µs) */
  spans?: Record<string, { samples: number; p50Us: number | null; p99Us: number | null; maxUs: number | null; buckets: number[] }>;
  tool: string;
}

/** Relays a scenario did not run, with the reason (key: relay id, or "id 1:N" in fan-out). */
type Skipped = Record<string, string>;

export interface ThroughputSummary {
  searches: SearchSummary[];
  /** payload size -> "mcr-1w/peer" -> ratio of max lossless rates */
  ratios: Record<string, Record<string, Ratio>>;
  generatorMaxPps: Record<string, number | undefined>;
  skipped: Skipped;
}

export interface PipelineSeedRun {
  count: number;
  targetPps: number;
  sent: number;
  generatorPps: number;
  elapsedS: number;
  delivered: number;
  endToEndLoss: number;
  endToEndLossPct: number;
  hops: HopResult[];
  /** each hop's FINAL line, cumulative over its mcrd's life */
  finalLines?: Array<{ text: string; parsed: unknown }>;
}

export interface PipelineSummary {
  seed: typeof SEED;
  /** undefined when the pipeline failed before the seed run finished */
  seedRun?: PipelineSeedRun;
  search?: SearchSummary;
}

export interface FanoutSummary {
  searches: SearchSummary[];
  /** "1:N" -> mcr-1w / c-relay (null: the C relay had no lossless rate) */
  ratiosVsCRelay: Record<string, number | null>;
  /** the 1:50 at 10k pps trials */
  goal10k: Trial[];
  skipped: Skipped;
}

export interface StreamsSummary {
  searches: SearchSummary[];
  /** stream count -> mcr-1w / c-relay */
  ratiosVsCRelay: Record<string, number | null>;
  skipped: Skipped;
}

export interface LatencySummary {
  points: LatencyPoint[];
  maxRates: Record<string, { pps: number; source: string }>;
  /** load % -> percentile -> mcr minus the no-relay path, µs */
  mcrAddedUs: Record<string, Record<string, number | null>>;
  skipped: Skipped;
  stampGroup: number;
}

/** Packets into r0 and packets mcr dropped during one phase of the control scenario. */
export interface ControlPhase {
  offered: number;
  mcrDropped: number;
}

export interface ControlForwarding {
  ratePps: number;
  offered: number;
  maxLosslessPps: number;
  maxSource: string;
  sent: number;
  delivered: number;
  loss: number;
  lossPct: number;
  durationS: number;
  offeredPps: number;
  mcrRx: number;
  mcrTx: number;
  ringDrops: number;
  bufExhaust: number;
  countersAgree: boolean;
  protocolPhase: ControlPhase;
  cliPhase: ControlPhase;
}

/** Operation (add, remove, stats) -> its timings in ms. */
export type Timings = Record<string, Timing>;

export interface ControlSummary {
  n?: number;
  idle?: { protocol: Timings };
  load?: { protocol: Timings; cli: Timings };
  forwarding?: ControlForwarding;
}

/** What each scenario's `summary` holds in results.json, by scenario id. */
export interface Summaries {
  throughput: ThroughputSummary;
  pipeline: PipelineSummary;
  fanout: FanoutSummary;
  streams: StreamsSummary;
  latency: LatencySummary;
  control: ControlSummary;
  soak: SoakSummary;
  drill: DrillSummary;
  telemetry: TelemetrySummary;
  efficiency: EfficiencySummary;
  'igmp-latency': IgmpLatencySummary;
}

export type ScenarioId = keyof Summaries;

export interface ScenarioResult<K extends ScenarioId = ScenarioId> {
  trials: Trial[];
  /** missing when the scenario failed (then `error` says why) */
  summary?: Summaries[K];
  error?: string;
  notes: string[];
  durationS: number;
  /** checks that failed (the run then exits non-zero); scenarios that only measure leave it out */
  failures?: string[];
}

export type ScenarioResults = { [K in ScenarioId]?: ScenarioResult<K> };

export interface ResultsMeta extends HostMeta {
  quick: boolean;
  durationS: number;
  trialSeconds: number;
  scenariosRun: string[];
  peersInstalled: string[];
  peersSkipped: Record<string, string>;
  generatorMaxPps: Record<string, number>;
  pinning: string;
}

export interface Results {
  meta: ResultsMeta;
  scenarios: ScenarioResults;
}
