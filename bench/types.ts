// SPDX-License-Identifier: MIT
// The shapes of results.json: one Trial per generator run with every counter it read, searches
// over trials, and per-scenario summaries; shared by the scenarios, the report and compare.
import type { HostMeta } from './setup';
import type { RelayCounters } from './relays/relay';

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

export interface ScenarioResult {
  trials: Trial[];
  summary: Record<string, unknown>;
  notes: string[];
  durationS: number;
  /** checks that failed (the run then exits non-zero); scenarios that only measure leave it out */
  failures?: string[];
}

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
  scenarios: Record<string, ScenarioResult>;
}
