// SPDX-License-Identifier: MIT
// mcrd's side of the workers' span rings and trace switches (native/include/mcr/span_record.h):
// the one consumer of the rings, and the one writer of the switches. An exporter (OTLP traces,
// src/telemetry/traces.ts) drains through `drain`; a `mcrctl trace --rule` chase taps the
// chased records out of the same stream, and when no exporter is draining, this class polls
// the rings itself for as long as a chase waits.
import type { NativeCounters, NativeSpanRecord } from '../native/addon';
import { ProtocolError } from '../control/protocol';

const POLL_MS = 50;
const DRAIN_MAX = 512;
/** more than a span ring ever holds: take everything */
const WHOLE_RING = 0xffff_ffff;

interface Chase {
  slot: number;
  want: number;
  got: NativeSpanRecord[];
  done: (records: NativeSpanRecord[]) => void;
  timer: NodeJS.Timeout;
}

export class SpanRecords {
  private exporting = false;
  private sampleOverride: number | undefined;
  private chase: Chase | undefined;
  private poller: NodeJS.Timeout | undefined;

  constructor(
    private readonly counters: Pick<NativeCounters, 'drainSpans' | 'skipSpans' | 'setTrace' | 'traceState'>,
    /** workers whose rings may hold records (the highest count any data plane used) */
    private readonly workers: () => number,
  ) {}

  /** The exporter's take from one worker's ring; chased records are copied to the chase first. */
  drain(worker: number, max: number): NativeSpanRecord[] {
    const records = this.counters.drainSpans(worker, max);
    const chase = this.chase;
    if (chase)
      for (const r of records) if (r.chased && r.ruleSlots.includes(chase.slot) && chase.got.length < chase.want) chase.got.push(r);
    if (chase && chase.got.length >= chase.want) this.finishChase();
    return records;
  }

  /**
   * The exporter's way to drop what its rate limit would drop anyway, without turning each record
   * into an object first. During a chase the records are read (the chase needs its own).
   */
  skip(worker: number): number {
    if (this.chase) return this.drain(worker, WHOLE_RING).length;
    return this.counters.skipSpans(worker);
  }

  /** An exporter starts or stops reading: workers write span records only while one does. */
  setExporting(on: boolean): void {
    this.exporting = on;
    this.counters.setTrace({ recordsEnabled: on });
    this.updatePoller();
  }

  get isExporting(): boolean {
    return this.exporting;
  }

  /** `mcrctl trace --sample N`: in force until the next reload or data-plane start (resetSample). */
  overrideSample(every: number): void {
    this.sampleOverride = every;
    this.counters.setTrace({ sampleEvery: every });
  }

  /** After a reload or a data-plane start: the configured rate again. */
  resetSample(configured: number): void {
    this.sampleOverride = undefined;
    this.counters.setTrace({ sampleEvery: configured });
  }

  get override(): number | undefined {
    return this.sampleOverride;
  }

  /** The chase in progress: its rule slot and how many batches it still waits for. */
  get chasing(): { slot: number; remaining: number } | undefined {
    return this.chase ? { slot: this.chase.slot, remaining: this.chase.want - this.chase.got.length } : undefined;
  }

  /**
   * Records the next `count` batches that touch rule `slot`, whatever the sampling; resolves
   * with them, or with those recorded so far when `timeoutMs` runs out. One chase at a time.
   */
  chaseRule(slot: number, count: number, timeoutMs: number): Promise<NativeSpanRecord[]> {
    if (this.chase)
      throw new ProtocolError('EBUSY', `a trace of another rule is in progress (${this.chase.want - this.chase.got.length} batches to go)`);
    // Records left from an earlier chase nobody took must not count for this one.
    if (!this.exporting) for (let w = 0; w < this.workers(); w++) this.counters.skipSpans(w);
    return new Promise((resolve) => {
      this.chase = { slot, want: count, got: [], done: resolve, timer: setTimeout(() => this.finishChase(), timeoutMs) };
      this.counters.setTrace({ chaseRuleSlot: slot, chaseRemaining: count });
      this.updatePoller();
    });
  }

  stop(): void {
    if (this.chase) this.finishChase();
    if (this.poller) clearInterval(this.poller);
    this.poller = undefined;
  }

  private finishChase(): void {
    const chase = this.chase;
    if (!chase) return;
    this.chase = undefined;
    clearTimeout(chase.timer);
    this.counters.setTrace({ chaseRemaining: 0 });
    this.updatePoller();
    chase.done(chase.got);
  }

  /** Polls the rings itself only while a chase waits and no exporter drains them. */
  private updatePoller(): void {
    const wanted = this.chase !== undefined && !this.exporting;
    if (wanted && !this.poller) {
      this.poller = setInterval(() => {
        for (let w = 0; w < this.workers(); w++) this.drain(w, DRAIN_MAX);
      }, POLL_MS);
    } else if (!wanted && this.poller) {
      clearInterval(this.poller);
      this.poller = undefined;
    }
  }
}
