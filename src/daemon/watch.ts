// SPDX-License-Identifier: MIT
// The counter watch: every second the supervisor compares the counter totals with the previous
// second's and turns what went wrong (drops, send errors, malformed frames) into log warnings,
// at most one batch every 10 s, so a flood of drops costs a few lines, not one per packet.
import type { Counters } from '../control/protocol';
import type { Logger } from '../lib/logger';

const WATCH_INTERVAL_MS = 1_000;
const WARN_EVERY_MS = 10_000;

export class CounterWatch {
  private timer: NodeJS.Timeout | undefined;
  private previous: Counters | undefined;
  private pending: Record<string, number> = {};
  private lastWarn = 0;

  /** `totals` reads the counters now (StatsReader through the daemon); `now` is the clock. */
  constructor(
    private readonly totals: () => Counters,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), WATCH_INTERVAL_MS);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One comparison with the previous reading; start() runs it every second. */
  tick(): void {
    const now = this.totals();
    const previous = this.previous;
    if (previous) {
      const delta = (pick: (c: Counters) => number): number => pick(now) - pick(previous);
      const events: Record<string, number> = {
        'receive ring full (kernel dropped)': delta((c) => c.ringDrops),
        'send buffer full (dropped)': delta((c) => c.txErrorsByErrno.EAGAIN ?? 0) + delta((c) => c.txErrorsByErrno.ENOBUFS ?? 0),
        'send errors (other)': delta((c) => c.txErrors) - delta((c) => (c.txErrorsByErrno.EAGAIN ?? 0) + (c.txErrorsByErrno.ENOBUFS ?? 0)),
        'malformed or unsupported frames dropped': delta((c) => c.filtered),
      };
      for (const [what, n] of Object.entries(events)) if (n > 0) this.pending[what] = (this.pending[what] ?? 0) + n;
      if (Object.keys(this.pending).length > 0 && this.now() - this.lastWarn >= WARN_EVERY_MS) {
        const seconds = this.lastWarn === 0 ? WATCH_INTERVAL_MS / 1000 : Math.round((this.now() - this.lastWarn) / 1000);
        for (const [what, n] of Object.entries(this.pending)) this.log.warn(`${what}: ${n} packets in the last ${seconds} s`);
        this.pending = {};
        this.lastWarn = this.now();
      }
    }
    this.previous = now;
  }
}
