// SPDX-License-Identifier: MIT
// The shape of the mcr configuration (the file and the running config) and its defaults.
// A RuleSpec is also the `add` request of the control protocol (docs/control-protocol.md).

export type LogLevel = 'error' | 'warn' | 'info' | 'debug' | 'trace';
export type LogFormat = 'text' | 'json';

export const LOG_LEVELS: readonly LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace'];
export const LOG_FORMATS: readonly LogFormat[] = ['text', 'json'];

/**
 * The IP TTL an output gives relayed packets: a fixed value, or "decrement" (the received TTL
 * minus one, as a router does; a packet that arrives with TTL 1 is dropped and counted as
 * ttl_expired). Decrement is what stops two relays wired into a loop from forwarding a stream
 * forever. It is not the default: Linux senders use TTL 1 for multicast unless told otherwise.
 */
export type Ttl = number | 'decrement';

export interface OutputSpec {
  group: string;
  port: number;
  interface: string;
  /** IP TTL of the relayed packets; filled from Config.ttl when the file leaves it out. */
  ttl?: Ttl;
  /** Source address for the relayed packets; the kernel picks the interface's address when absent. */
  source?: string;
}

export interface RuleSpec {
  name?: string;
  input: { interface: string; group: string; port: number };
  outputs: OutputSpec[];
}

export interface Config {
  workers: number;
  /** CPU to pin each worker to, one entry per worker. */
  cpus?: number[];
  /**
   * SCHED_FIFO priority of the worker threads (1-99), 0 for the normal scheduler. A real-time
   * worker runs as soon as a frame arrives instead of waiting for the CPU's other tasks.
   */
  realtimePriority: number;
  /**
   * Time one receive batch in this many (0 = never): the sampled spans `ring_wait` and `batch`
   * in `mcrctl stats`. Costs two clock reads per sampled batch, nothing per packet.
   */
  spanSampleEvery: number;
  /**
   * Workers spin on empty rings instead of sleeping in poll(): no wake-up latency, but each
   * worker uses a whole CPU all the time. For CPUs given to mcr alone (`cpus`, isolcpus).
   */
  busyPoll: boolean;
  /** Default TTL for outputs that do not set one. */
  ttl: Ttl;
  logLevel: LogLevel;
  logFormat: LogFormat;
  /** Size of the AF_PACKET receive ring, per worker per input interface. */
  ringMiB: number;
  rules: RuleSpec[];
}

/**
 * ttl is 16, not 1 (the old Rust relay's default): TTL 1 dies at the first router, which
 * silently breaks every routed path while looking fine on a flat test LAN.
 */
export const CONFIG_DEFAULTS = {
  workers: 1,
  realtimePriority: 0,
  spanSampleEvery: 16,
  busyPoll: false,
  ttl: 16,
  logLevel: 'info',
  logFormat: 'text',
  ringMiB: 32,
} as const satisfies Omit<Config, 'rules' | 'cpus'>;

export const LIMITS = {
  maxWorkers: 32,
  maxRingMiB: 1024,
  maxSpanSampleEvery: 1_048_576,
  maxOutputsPerRule: 256,
} as const;
