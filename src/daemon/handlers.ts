// SPDX-License-Identifier: MIT
// mcrd's side of the control protocol (src/control/protocol.ts): the check of every method's
// params as they arrive from the wire, and the handler that answers it. Rule changes are
// delegated to RuleChanges; everything else reads the supervisor's state.
import { LOG_LEVELS, type Config, type LogLevel } from '../config/types';
import { ConfigError, listenerGateProblems, validateRuleSpec } from '../config/validate';
import {
  noParams,
  PROTOCOL_VERSION,
  ProtocolError,
  type Handlers,
  type ParamChecks,
  type RuleSelector,
  type RuleView,
  type Stats,
  type TraceParams,
  type TraceResult,
  type TracedBatch,
} from '../control/protocol';
import type { InterfaceNames } from '../lib/interfaces';
import type { HrTime, NativeSpanRecord } from '../native/addon';
import type { SpanRecords } from './span-records';
import type { Logger } from '../lib/logger';
import { packageVersion } from '../lib/version';
import type { DataPlane } from './dataplane-process';
import { DEFAULT_QUEUE_LIMIT, MAX_QUEUE_LIMIT, type EventBus } from './events';
import type { RuleChanges } from './rule-changes';
import type { RuleRecord, RuleRegistry } from './rule-registry';
import type { DaemonRouting } from './routing';
import { LIMITS } from '../config/types';

/** The daemon's config as the handlers read it. */
export interface ConfigView {
  readonly config: Config;
  readonly configPath: string | undefined;
}

export interface HandlerParts {
  registry: Pick<RuleRegistry, 'list' | 'byId' | 'byName' | 'bySlot'>;
  changes: Pick<RuleChanges, 'add' | 'remove' | 'reload'>;
  dataPlane: DataPlane;
  host: ConfigView;
  log: Logger;
  /** Epoch ms of mcrd's start. */
  startedAt: number;
  readStats(): Stats;
  spans: SpanRecords;
  interfaces: InterfaceNames;
  /** `events` subscribes to it. */
  events: Pick<EventBus, 'subscribe'>;
  /** Learned routes, IGMP, PIM and MSDP (mcrctl igmp groups, mcrctl mroute, mcrctl pim ..., mcrctl msdp ...). */
  routing: Pick<DaemonRouting, 'groups' | 'mroute' | 'pimNeighbors' | 'pimInterfaces' | 'pimRp' | 'pimJoins' | 'msdpPeers' | 'msdpSa'>;
}

export function paramChecks(host: ConfigView): ParamChecks {
  return {
    ping: noParams,
    version: noParams,
    list: noParams,
    // The spec's outputs get the daemon's default ttl in force when the request arrives.
    add: (raw) => {
      const spec = validateRuleSpec(raw ?? {}, 'rule', host.config.ttl);
      const gates = listenerGateProblems([spec], host.config.igmp, 'rule');
      if (gates.length > 0) throw new ConfigError(gates);
      return spec;
    },
    remove: ruleSelector,
    stats: noParams,
    workers: noParams,
    trace: traceParams,
    'logLevel.get': noParams,
    'logLevel.set': (raw) => {
      const level = raw?.level;
      if (!isLogLevel(level))
        throw new ProtocolError('EINVAL', `level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}`);
      return { level };
    },
    'config.show': noParams,
    'config.reload': noParams,
    events: (raw) => {
      const queue = raw?.queue;
      if (queue === undefined) return undefined;
      if (typeof queue !== 'number' || !Number.isInteger(queue) || queue < 1 || queue > MAX_QUEUE_LIMIT)
        throw new ProtocolError('EINVAL', `queue: expected an integer from 1 to ${MAX_QUEUE_LIMIT}, got ${JSON.stringify(queue)}`);
      return { queue };
    },
    'igmp.groups': noParams,
    'pim.neighbors': noParams,
    'pim.interfaces': noParams,
    'pim.rp': noParams,
    'pim.joins': noParams,
    'msdp.peers': noParams,
    'msdp.sa': noParams,
    mroute: noParams,
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
    trace: (params) => trace(parts, params ?? {}),
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
    events: (params, connection) => {
      const subscriber = parts.events.subscribe(params?.queue ?? DEFAULT_QUEUE_LIMIT);
      connection.stream(subscriber);
      return { subscribed: true, queue: subscriber.limit };
    },
    'igmp.groups': () => parts.routing.groups(),
    'pim.neighbors': () => parts.routing.pimNeighbors(),
    'pim.interfaces': () => parts.routing.pimInterfaces(),
    'pim.rp': () => parts.routing.pimRp(),
    'pim.joins': () => parts.routing.pimJoins(),
    'msdp.peers': () => parts.routing.msdpPeers(),
    'msdp.sa': () => parts.routing.msdpSa(),
    mroute: () => parts.routing.mroute(),
  };
}

async function trace(parts: HandlerParts, params: TraceParams): Promise<TraceResult> {
  const { spans, registry, host } = parts;
  const label = (slot: number): string => {
    const r = registry.bySlot(slot);
    return r ? (r.spec.name ?? r.id) : `slot ${slot}`;
  };
  if (params.sample !== undefined) spans.overrideSample(params.sample);
  let batches: TracedBatch[] | undefined;
  if (params.rule !== undefined) {
    const record = registry.byName(params.rule) ?? registry.byId(params.rule);
    if (!record) throw new ProtocolError('ENOENT', `no rule named or with id "${params.rule}"`);
    const records = await spans.chaseRule(record.slot, params.count ?? 1, (params.timeoutSeconds ?? 10) * 1000);
    batches = records.map((r) => tracedBatch(r, label, parts.interfaces));
  }
  const state = spans.chasing;
  const totals = parts.readStats().totals;
  return {
    sampleEvery: spans.override ?? host.config.spanSampleEvery,
    configuredSampleEvery: host.config.spanSampleEvery,
    override: spans.override !== undefined,
    exporting: spans.isExporting,
    chase: state ? { rule: label(state.slot), remaining: state.remaining } : null,
    spansWritten: totals.spansWritten,
    spansDropped: totals.spansDropped,
    ...(batches ? { batches } : {}),
  };
}

const ns = (t: HrTime): number => t[0] * 1e9 + t[1];
const usBetween = (from: HrTime, to: HrTime): number => Math.round((ns(to) - ns(from)) / 100) / 10;

function tracedBatch(r: NativeSpanRecord, label: (slot: number) => string, interfaces: InterfaceNames): TracedBatch {
  return {
    at: new Date(r.pickup[0] * 1000 + r.pickup[1] / 1e6).toISOString(),
    worker: r.worker,
    input: interfaces.name(r.inputIfindex),
    packets: r.packets,
    bytes: r.bytes,
    ringWaitUs: usBetween(r.oldestFrame, r.pickup),
    classifyUs: usBetween(r.pickup, r.classified),
    batchUs: usBetween(r.pickup, r.released),
    rules: r.ruleSlots.map(label),
    sends: r.sends.map((s) => ({
      interface: interfaces.name(s.ifindex),
      packets: s.packets,
      errors: s.errors,
      errno: s.errno,
      us: usBetween(s.start, s.end),
    })),
    sendsOverflow: r.sendsOverflow,
  };
}

function traceParams(raw: Record<string, unknown> | undefined): TraceParams | undefined {
  if (raw === undefined) return undefined;
  const out: TraceParams = {};
  const integer = (key: string, min: number, max: number): number | undefined => {
    const v = raw[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      throw new ProtocolError('EINVAL', `${key}: expected an integer from ${min} to ${max}, got ${JSON.stringify(v)}`);
    return v;
  };
  const sample = integer('sample', 0, LIMITS.maxSpanSampleEvery);
  if (sample !== undefined) out.sample = sample;
  const count = integer('count', 1, 10_000);
  const timeout = integer('timeoutSeconds', 1, 3600);
  if (raw.rule !== undefined) {
    if (typeof raw.rule !== 'string' || raw.rule === '') throw new ProtocolError('EINVAL', 'rule: expected a rule name or id');
    out.rule = raw.rule;
    out.count = count ?? 1;
    if (timeout !== undefined) out.timeoutSeconds = timeout;
  } else if (count !== undefined || timeout !== undefined) {
    throw new ProtocolError('EINVAL', 'count and timeoutSeconds need a rule');
  }
  return out;
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
