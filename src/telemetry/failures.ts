// SPDX-License-Identifier: MIT
// Export failures (OTLP endpoint down, black-holed, refusing): counted per signal and logged at
// a bounded rate, so a dead backend costs one log line a minute, never a flood, and never
// anything on the forwarding path (exports run on the supervisor's event loop only).
import type { Logger } from '../lib/logger';

export type Signal = 'metrics' | 'traces';

export const FAILURE_LOG_INTERVAL_MS = 60_000;

export class ExportFailures {
  /** Failed exports since mcrd started, per signal (mcr_telemetry_export_failures_total). */
  readonly counts: Record<Signal, number> = { metrics: 0, traces: 0 };
  private lastLogAt = Number.NEGATIVE_INFINITY;
  private unlogged = 0;

  constructor(
    private readonly log: Logger,
    private readonly intervalMs = FAILURE_LOG_INTERVAL_MS,
    private readonly now: () => number = Date.now,
  ) {}

  /** One failed export (or an error the OpenTelemetry SDK reported), logged unless one was logged less than intervalMs ago. */
  failed(signal: Signal | undefined, error: unknown): void {
    if (signal) this.counts[signal]++;
    const at = this.now();
    if (at - this.lastLogAt < this.intervalMs) {
      this.unlogged++;
      return;
    }
    const more = this.unlogged > 0 ? ` (and ${this.unlogged} more since the last such message)` : '';
    this.log.warn(`${signal ? `OTLP ${signal} export failed` : 'telemetry error'}: ${describe(error)}${more}; forwarding is not affected`);
    this.lastLogAt = at;
    this.unlogged = 0;
  }
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (typeof error === 'string') return error;
  return String(error);
}
