// SPDX-License-Identifier: MIT
// Leveled logger for the daemon's slow paths. The level is checked before anything is
// formatted (the seed incident formatted first); the forwarding core never logs at all.
import type { LogFormat, LogLevel } from '../config/types';

const SEVERITY: Record<LogLevel, number> = { error: 0, warn: 1, info: 2, debug: 3, trace: 4 };

export type LogFields = Record<string, string | number | boolean | null | undefined>;

interface SharedLevel {
  level: LogLevel;
  threshold: number;
}

export class Logger {
  private constructor(
    private readonly shared: SharedLevel,
    private readonly format: LogFormat,
    private readonly component: string,
    private readonly sink: (line: string) => void,
  ) {}

  static create(
    level: LogLevel,
    format: LogFormat,
    component: string,
    sink: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
  ): Logger {
    return new Logger({ level, threshold: SEVERITY[level] }, format, component, sink);
  }

  /** A logger for another component that follows this one's level changes. */
  child(component: string): Logger {
    return new Logger(this.shared, this.format, component, this.sink);
  }

  get level(): LogLevel {
    return this.shared.level;
  }

  setLevel(level: LogLevel): void {
    this.shared.level = level;
    this.shared.threshold = SEVERITY[level];
  }

  enabled(level: LogLevel): boolean {
    return SEVERITY[level] <= this.shared.threshold;
  }

  error(message: string, fields?: LogFields): void {
    if (this.shared.threshold >= 0) this.write('error', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    if (this.shared.threshold >= 1) this.write('warn', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    if (this.shared.threshold >= 2) this.write('info', message, fields);
  }
  debug(message: string, fields?: LogFields): void {
    if (this.shared.threshold >= 3) this.write('debug', message, fields);
  }

  private write(level: LogLevel, message: string, fields?: LogFields): void {
    const time = new Date().toISOString();
    if (this.format === 'json') {
      this.sink(JSON.stringify({ time, level, component: this.component, message, ...fields }));
      return;
    }
    let extra = '';
    if (fields)
      for (const [k, v] of Object.entries(fields))
        if (v !== undefined) extra += ` ${k}=${typeof v === 'string' && /\s/.test(v) ? JSON.stringify(v) : String(v)}`;
    this.sink(`${time} ${level.toUpperCase().padEnd(5)} ${this.component}: ${message}${extra}`);
  }
}
