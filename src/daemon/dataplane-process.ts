// SPDX-License-Identifier: MIT
// Runs the data-plane process and keeps it running: restart with escalating backoff after a
// crash (reset only after it has stayed up for a while, so a crash right after start keeps
// escalating), every rule restored from the supervisor's registry on each start.
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import type { LogLevel } from '../config/types';
import type { DataPlaneState } from '../control/protocol';
import type { InitMessage, FromDataPlane, ToDataPlane } from '../dataplane/messages';
import type { Logger } from '../lib/logger';
import type { NativeRule, NativeRuleStatus, NativeWorker, RuleSetResult } from '../native/addon';
import { McrError } from '../lib/errors';

const BACKOFF_MS = [100, 200, 400, 800, 1600, 3200, 6400, 10_000];
const STABLE_AFTER_MS = 30_000;
const READY_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export class DataPlaneError extends McrError {
  constructor(message: string, code = 'EDATAPLANE') {
    super(code, message);
  }
}

interface Pending {
  resolve: (result: RuleSetResult) => void;
  reject: (err: Error) => void;
}

/** The data plane as the supervisor's parts use it (DataPlaneProcess; a fake in unit tests). */
export interface DataPlane {
  readonly state: DataPlaneState;
  readonly pid: number | undefined;
  readonly restarts: number;
  readonly startedAt: Date | undefined;
  readonly workers: NativeWorker[];
  setRules(rules: NativeRule[], allOrNothing?: boolean): Promise<RuleSetResult>;
  setLogLevel(level: LogLevel): void;
}

/** Events: 'ready' (statuses), 'status' (statuses), 'exit' (code, signal). */
export class DataPlaneProcess extends EventEmitter implements DataPlane {
  state: DataPlaneState = 'stopped';
  restarts = 0;
  pid: number | undefined;
  startedAt: Date | undefined;
  workers: NativeWorker[] = [];

  private child: ChildProcess | undefined;
  private consecutiveCrashes = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextRequest = 1;
  private stopping = false;
  /** Until the first data plane is ready a failure is mcrd's start-up error, not a crash. */
  private everReady = false;

  constructor(
    private readonly log: Logger,
    private readonly initMessage: () => InitMessage,
  ) {
    super();
  }

  /** Starts the first data plane and waits until it forwards (or fails to start). */
  start(): Promise<NativeRuleStatus[]> {
    this.stopping = false;
    return this.spawn();
  }

  setRules(rules: NativeRule[], allOrNothing = true): Promise<RuleSetResult> {
    const child = this.child;
    if (this.state !== 'running' || !child) return Promise.reject(new DataPlaneError(`data plane is ${this.state}`));
    const requestId = this.nextRequest++;
    return new Promise((resolve, reject) => {
      this.pending.set(requestId, { resolve, reject });
      this.send({ type: 'setRules', requestId, rules, allOrNothing });
    });
  }

  setLogLevel(level: LogLevel): void {
    if (this.state === 'running') this.send({ type: 'setLogLevel', level });
  }

  /** Graceful stop: the data plane joins its workers and reads the final kernel drop counts. */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) {
      this.state = 'stopped';
      return;
    }
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.send({ type: 'shutdown' });
    const timer = setTimeout(() => {
      this.log.warn('data plane did not stop in time; killing it', { pid: child.pid });
      child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
    this.state = 'stopped';
  }

  private send(message: ToDataPlane): void {
    try {
      this.child?.send(message);
    } catch (err) {
      this.log.debug(`cannot send to data plane: ${(err as Error).message}`);
    }
  }

  private spawn(): Promise<NativeRuleStatus[]> {
    this.state = this.restarts > 0 || this.consecutiveCrashes > 0 ? 'restarting' : 'starting';
    const script = path.join(__dirname, '..', 'dataplane', 'main.js');
    const child = fork(script, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
    this.child = child;
    this.pid = child.pid;
    const spawnedAt = Date.now();
    return new Promise((resolve, reject) => {
      let settled = false;
      const readyTimer = setTimeout(() => {
        if (settled) return;
        settled = true;
        this.log.error('data plane did not become ready; killing it', { pid: child.pid });
        child.kill('SIGKILL');
        reject(new DataPlaneError('data plane did not become ready'));
      }, READY_TIMEOUT_MS);

      child.on('message', (msg: FromDataPlane) => {
        switch (msg.type) {
          case 'ready':
            this.everReady = true;
            this.state = 'running';
            this.startedAt = new Date();
            this.workers = msg.workers;
            if (!settled) {
              settled = true;
              clearTimeout(readyTimer);
              resolve(msg.statuses);
            }
            this.emit('ready', msg.statuses);
            return;
          case 'fatal':
            this.log.error(`data plane failed to start: ${msg.message}`, { code: msg.code });
            if (!settled) {
              settled = true;
              clearTimeout(readyTimer);
              reject(new DataPlaneError(msg.message, msg.code));
            }
            return;
          case 'rulesApplied':
          case 'rulesFailed': {
            const p = this.pending.get(msg.requestId);
            this.pending.delete(msg.requestId);
            if (msg.type === 'rulesApplied') p?.resolve({ applied: msg.applied, statuses: msg.statuses });
            else p?.reject(new DataPlaneError(msg.message, msg.code));
            return;
          }
          case 'status':
            this.emit('status', msg.statuses);
            return;
        }
      });
      child.on('error', (err) => this.log.error(`data plane process error: ${err.message}`));
      child.on('exit', (code, signal) => {
        clearTimeout(readyTimer);
        for (const p of this.pending.values()) p.reject(new DataPlaneError('data plane exited'));
        this.pending.clear();
        this.child = undefined;
        this.emit('exit', code, signal);
        if (!settled) {
          settled = true;
          reject(new DataPlaneError(`data plane exited during start (${signal ?? `code ${code}`})`));
          if (!this.everReady) return; // the first start failed: the daemon reports it
        }
        if (this.stopping) {
          this.state = 'stopped';
          return;
        }
        if (Date.now() - spawnedAt >= STABLE_AFTER_MS) this.consecutiveCrashes = 0;
        const delay = BACKOFF_MS[Math.min(this.consecutiveCrashes, BACKOFF_MS.length - 1)]!;
        this.consecutiveCrashes++;
        this.restarts++;
        this.state = 'restarting';
        this.log.error(`data plane exited unexpectedly (${signal ?? `code ${code}`}); restarting in ${delay} ms`, {
          pid: this.pid,
          restarts: this.restarts,
        });
        this.restartTimer = setTimeout(() => {
          this.spawn().catch((err: Error) => this.log.error(`data plane restart failed: ${err.message}`));
        }, delay);
      });
      this.send(this.initMessage());
    });
  }
}
