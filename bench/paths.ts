// SPDX-License-Identifier: MIT
// Where the benchmark finds the project's binaries and scripts (compiled into dist/bench/).
import * as path from 'node:path';
import { ROOT } from '../lab/paths';

export { MCRCTL, MCRD, MCRGEN, ROOT } from '../lab/paths';
export const PEERS_DIR = path.join(ROOT, 'bench', 'peers');
export const BENCH_BUILD = path.join(ROOT, 'build', 'bench');
export const C_RELAY = path.join(BENCH_BUILD, 'c-relay');
export const LAT_RECV = path.join(BENCH_BUILD, 'lat-recv');
export const RING_PROBE = path.join(BENCH_BUILD, 'ring_probe');
export const NODE_RELAY = path.join(PEERS_DIR, 'node-relay.js');
/** the telemetry scenario's OTLP sink and scraper (bench/tools/telemetry-sink.ts, compiled) */
export const TELEMETRY_SINK = path.join(ROOT, 'dist', 'bench', 'tools', 'telemetry-sink.js');
export const RESULTS_DIR = path.join(ROOT, 'bench', 'results');
export const BASELINE = path.join(ROOT, 'bench', 'baseline.json');
export const TUNE_STATE = '/var/lib/mcr-bench/tune-host.state';
