// SPDX-License-Identifier: MIT
// mcrd's side of the control protocol (src/control/protocol.ts): the check of every method's
// params as they arrive from the wire, and the handler that answers it. Rule changes are
// delegated to RuleChanges; everything else reads the supervisor's state.
import { LOG_LEVELS, type Config, type LogLevel } from '../config/types';
import { validateRuleSpec } from '../config/validate';
import {
  noParams,
  PROTOCOL_VERSION,
  ProtocolError,
  type Handlers,
  type ParamChecks,
  type RuleSelector,
  type RuleView,
  type Stats,
} from '../control/protocol';
import type { Logger } from '../lib/logger';
import { packageVersion } from '../lib/version';
import type { DataPlane } from './dataplane-process';
import type { RuleChanges } from './rule-changes';
import type { RuleRecord, RuleRegistry } from './rule-registry';

/** The daemon's config as the handlers read it. */
export interface ConfigView {
  readonly config: Config;
  readonly configPath: string | undefined;
}

export interface HandlerParts {
  registry: Pick<RuleRegistry, 'list'>;
  changes: Pick<RuleChanges, 'add' | 'remove' | 'reload'>;
  dataPlane: DataPlane;
  host: ConfigView;
  log: Logger;
  /** Epoch ms of mcrd's start. */
  startedAt: number;
  readStats(): Stats;
}

export function paramChecks(host: ConfigView): ParamChecks {
  return {
    ping: noParams,
    version: noParams,
    list: noParams,
    // The spec's outputs get the daemon's default ttl in force when the request arrives.
    add: (raw) => validateRuleSpec(raw ?? {}, 'rule', host.config.ttl),
    remove: ruleSelector,
    stats: noParams,
    workers: noParams,
    'logLevel.get': noParams,
    'logLevel.set': (raw) => {
      const level = raw?.level;
      if (!isLogLevel(level))
        throw new ProtocolError('EINVAL', `level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
      return { level };
    },
    'config.show': noParams,
    'config.reload': noParams,
  };
}

export function handlers(parts: HandlerParts): Handlers {
  const { registry, changes, dataPlane, host, log } = parts;
  return {
    ping: () => ({ pong: true, dataplane: dataPlane.state, uptimeSeconds: Math.round((Date.now() - parts.startedAt) / 1000) }),
    version: () => ({ version: packageVersion(), protocol: PROTOCOL_VERSION }),
    list: () => ({ rules: registry.list().map(ruleView) }),
    add: async (spec) => ({ rule: ruleView(await changes.add(spec)) }),
    remove: async (which) => ({ removed: ruleView(await changes.remove(which)) }),
    stats: () => parts.readStats(),
    workers: () => ({
      dataplane: {
        pid: dataPlane.pid ?? null,
        state: dataPlane.state,
        restarts: dataPlane.restarts,
        startedAt: dataPlane.startedAt?.toISOString() ?? null,
      },
      workers: parts.readStats().workers.map((w) => {
        const thread = dataPlane.workers[w.worker];
        return {
          worker: w.worker,
          // The CPU it actually runs on: null when not pinned or when the kernel refused.
          cpu: thread?.pinned ? thread.cpu : null,
          tid: thread?.tid ?? null,
          realtime: thread?.realtime ?? false,
          rxFrames: w.rxFrames,
          txPackets: w.txPackets,
          ringDrops: w.ringDrops,
        };
      }),
    }),
    'logLevel.get': () => ({ level: log.level }),
    'logLevel.set': ({ level }) => {
      log.setLevel(level);
      dataPlane.setLogLevel(level);
      return { level };
    },
    'config.show': () => ({
      path: host.configPath ?? null,
      config: { ...host.config, logLevel: log.level, rules: registry.list().map((r) => r.spec) },
    }),
    // The journal should show a refused reload too, not only the client that asked.
    'config.reload': () =>
      changes.reload().catch((err: Error) => {
        log.warn(`config reload (control socket) rejected: ${err.message}`);
        throw err;
      }),
  };
}

/** A rule as the protocol shows it: `pending` until a data plane has reported on it. */
export function ruleView(r: RuleRecord): RuleView {
  return {
    id: r.id,
    ...(r.spec.name ? { name: r.spec.name } : {}),
    input: r.spec.input,
    outputs: r.spec.outputs,
    status: r.status
      ? { input: r.status.input, outputs: r.status.outputs, ...(r.status.error ? { error: r.status.error } : {}) }
      : { input: 'pending', outputs: r.spec.outputs.map(() => 'pending') },
  };
}

function ruleSelector(raw: Record<string, unknown> | undefined): RuleSelector {
  const id = raw?.id;
  const name = raw?.name;
  if ((id === undefined) === (name === undefined)) throw new ProtocolError('EINVAL', 'give exactly one of "id" or "name"');
  if (id !== undefined) {
    if (typeof id !== 'string') throw new ProtocolError('EINVAL', 'id: expected a string');
    return { id };
  }
  if (typeof name !== 'string') throw new ProtocolError('EINVAL', 'name: expected a string');
  return { name };
}

function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}
