// SPDX-License-Identifier: MIT
// A small progress bar on stderr, one per scenario: redrawn in place with \r on a terminal, and
// reduced to one line per finished item when stderr is not a terminal (CI logs, pipes).

import { interrupted } from './proc';

const BAR = 24;

function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
}

export class Progress {
  private readonly tty = process.stderr.isTTY === true;
  private readonly t0 = Date.now();
  private done = 0;
  private within = 0;
  private text = '';
  private timer: NodeJS.Timeout | undefined;

  /** `items` units of work; each item may report partial progress (0..1) while it runs. */
  constructor(
    readonly scenario: string,
    private items: number,
  ) {
    if (this.tty) this.timer = setInterval(() => this.draw(), 500);
    this.draw();
  }

  setItems(n: number): void {
    this.items = Math.max(1, n);
    this.draw();
  }

  /** What is running now, and how far into the current item (0..1). */
  status(text: string, within = this.within): void {
    this.text = text;
    this.within = Math.min(0.95, Math.max(0, within));
    this.draw();
  }

  /** Finishes one item; `line` (if given) is printed above the bar. */
  item(line?: string): void {
    this.done++;
    this.within = 0;
    if (line) this.log(line);
    this.draw();
  }

  /** Prints a line above the bar. */
  log(line: string): void {
    if (interrupted()) return;
    if (this.tty) process.stderr.write(`\r\x1b[K`);
    process.stderr.write(`  ${line}\n`);
    this.draw();
  }

  finish(summary: string): void {
    if (this.timer) clearInterval(this.timer);
    this.done = this.items;
    this.within = 0;
    this.text = summary;
    if (this.tty) {
      this.draw();
      process.stderr.write('\n');
    } else {
      process.stderr.write(`${this.scenario}: done in ${clock(Date.now() - this.t0)}: ${summary}\n`);
    }
  }

  private draw(): void {
    if (!this.tty || interrupted()) return;
    const frac = Math.min(1, (this.done + this.within) / this.items);
    const fill = Math.round(frac * BAR);
    const bar = `${'#'.repeat(fill)}${'-'.repeat(BAR - fill)}`;
    const cols = process.stderr.columns ?? 100;
    const line = `${this.scenario.padEnd(11)} [${bar}] ${String(Math.round(frac * 100)).padStart(3)}% ${clock(Date.now() - this.t0)}  ${this.text}`;
    process.stderr.write(`\r\x1b[K${line.slice(0, cols - 1)}`);
  }
}
