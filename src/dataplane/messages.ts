// SPDX-License-Identifier: MIT
// Messages between the supervisor and the data-plane process (Node IPC channel, JSON).
import type { LogFormat, LogLevel } from '../config/types';
import type { NativeRule, NativeRuleStatus, NativeWorker, RelayOptions } from '../native/addon';

/** The core's own options (one definition, in addon.ts) plus what the data-plane process needs. */
export interface InitMessage extends RelayOptions {
  type: 'init';
  logLevel: LogLevel;
  logFormat: LogFormat;
  rules: NativeRule[];
  /** config `xdp`: load the XDP path */
  xdp: boolean;
}

export type ToDataPlane =
  | InitMessage
  | { type: 'setRules'; requestId: number; rules: NativeRule[]; allOrNothing: boolean }
  | { type: 'setLogLevel'; level: LogLevel }
  | { type: 'shutdown' };

export type FromDataPlane =
  | { type: 'ready'; statuses: NativeRuleStatus[]; workers: NativeWorker[] }
  | { type: 'rulesApplied'; requestId: number; applied: boolean; statuses: NativeRuleStatus[] }
  | { type: 'rulesFailed'; requestId: number; code: string; message: string }
  | { type: 'status'; statuses: NativeRuleStatus[] }
  | { type: 'fatal'; code: string; message: string };
