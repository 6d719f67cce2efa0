// SPDX-License-Identifier: MIT
// Messages between the supervisor and the data-plane process (Node IPC channel, JSON).
import type { LogFormat, LogLevel } from '../config/types';
import type { WorkerInfo } from '../daemon/dataplane-process';
import type { NativeRule, NativeRuleStatus } from '../native/addon';

export interface InitMessage {
  type: 'init';
  workers: number;
  cpus?: number[];
  ringBytes: number;
  countersPath: string;
  realtimePriority: number;
  spanSampleEvery: number;
  busyPoll: boolean;
  logLevel: LogLevel;
  logFormat: LogFormat;
  rules: NativeRule[];
}

export type ToDataPlane =
  | InitMessage
  | { type: 'setRules'; requestId: number; rules: NativeRule[] }
  | { type: 'setLogLevel'; level: LogLevel }
  | { type: 'shutdown' };

export type FromDataPlane =
  | { type: 'ready'; statuses: NativeRuleStatus[]; workers: WorkerInfo[] }
  | { type: 'rulesApplied'; requestId: number; statuses: NativeRuleStatus[] }
  | { type: 'rulesFailed'; requestId: number; code: string; message: string }
  | { type: 'status'; statuses: NativeRuleStatus[] }
  | { type: 'fatal'; code: string; message: string };
