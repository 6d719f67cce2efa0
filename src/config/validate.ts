// SPDX-License-Identifier: MIT
// Parses and validates mcr configuration (file, `add` requests, CLI shorthand) and fills defaults.
// Every problem is reported as `<key path>: <reason>` and all of them are collected, so one
// edit-and-check round fixes a whole file instead of one mistake at a time.

import { readFileSync } from 'node:fs';
import * as JSON5 from 'json5';
import { addressText, addressValue, isIPv4, isMulticast, isUnspecifiedOrBroadcast } from '../lib/ipv4';
import {
  CONFIG_DEFAULTS,
  LIMITS,
  EGRESS_MODES,
  type EgressMode,
  INPUT_PROTOCOLS,
  type InputProtocol,
  LOG_FORMATS,
  LOG_LEVELS,
  OTLP_PROTOCOLS,
  TELEMETRY_DEFAULTS,
  type Config,
  IGMP_DEFAULTS,
  IGMP_LIMITS,
  type IgmpConfig,
  MSDP_DEFAULTS,
  MSDP_LIMITS,
  type MsdpConfig,
  type MsdpPeerConfig,
  PIM_DEFAULTS,
  PIM_LIMITS,
  type PimConfig,
  type PimInterfaceConfig,
  type PimRpConfig,
  type TelemetryConfig,
  type LogFormat,
  type LogLevel,
  type OutputSpec,
  type RuleInput,
  type RuleSpec,
  type Ttl,
  describeRuleInput,
  ruleMatchKey,
} from './types';
import { McrError } from '../lib/errors';

export class ConfigError extends McrError {
  readonly problems: string[];
  readonly source: string | undefined;

  constructor(problems: string[], source?: string) {
    super('EINVAL', (source === undefined ? '' : `${source}: `) + problems.join('; '));
    this.problems = problems;
    this.source = source;
  }
}

const CONFIG_KEYS = [
  'workers',
  'cpus',
  'realtimePriority',
  'spanSampleEvery',
  'busyPoll',
  'egress',
  'wakeupHoldoffUs',
  'xdp',
  'ttl',
  'logLevel',
  'logFormat',
  'ringMiB',
  'telemetry',
  'igmp',
  'pim',
  'msdp',
  'rules',
];
const IGMP_KEYS = ['interfaces', 'upstream', 'version', 'queryInterval', 'queryResponseInterval', 'lastMemberQueryInterval', 'robustness'];
const PIM_KEYS = ['interfaces', 'rp', 'joinPruneInterval', 'helloInterval', 'drPriority'];
const PIM_INTERFACE_KEYS = ['name', 'drPriority', 'helloInterval'];
const PIM_RP_KEYS = ['address', 'groups'];
const MSDP_KEYS = ['localAddress', 'peers', 'keepaliveInterval', 'holdTime', 'connectRetry'];
const MSDP_PEER_KEYS = ['address', 'meshGroup'];
const MESH_GROUP_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const TELEMETRY_KEYS = [
  'otlpEndpoint',
  'otlpProtocol',
  'serviceName',
  'resourceAttributes',
  'metricExportIntervalMs',
  'metricsListen',
  'spansPerSecond',
  'ruleMetricsLimit',
];
const RULE_KEYS = ['name', 'input', 'outputs'];
const INPUT_KEYS = ['interface', 'group', 'port', 'source', 'protocol'];
const OUTPUT_KEYS = ['group', 'port', 'interface', 'ttl', 'source', 'onlyWithListeners'];
const RULE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Linux IFNAMSIZ is 16 including the terminating NUL. */
const MAX_INTERFACE_NAME_BYTES = 15;

type Problems = string[];
type Fields = Record<string, unknown>;

export function parseConfigText(text: string, source?: string): Config {
  let value: unknown;
  try {
    value = JSON5.parse(text);
  } catch (err) {
    throw new ConfigError([describeSyntaxError(err)], source);
  }
  const problems: Problems = [];
  const config = checkConfig(value, problems);
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems, source);
  return config;
}

export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read: ${describeFsError(err)}`], path);
  }
  return parseConfigText(text, path);
}

/**
 * Settings that are valid but do nothing in this combination: mcrd logs them at start and reload,
 * `mcrctl config check` prints them. The default holdoff with busyPoll is not one (a shown config
 * carries it).
 */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  if (config.busyPoll && config.wakeupHoldoffUs !== 0 && config.wakeupHoldoffUs !== CONFIG_DEFAULTS.wakeupHoldoffUs)
    warnings.push(`wakeupHoldoffUs: ${config.wakeupHoldoffUs} has no effect with busyPoll (a busy-polling worker never sleeps)`);
  return warnings;
}

/** Validates one rule on its own (the daemon's `add`, the CLI before sending it); fills output ttl. */
export function validateRuleSpec(value: unknown, path = 'rule', defaultTtl: Ttl = CONFIG_DEFAULTS.ttl): RuleSpec {
  const problems: Problems = [];
  const rule = checkRule(value, path, defaultTtl, problems);
  if (problems.length > 0 || rule === undefined) throw new ConfigError(problems);
  return rule;
}

/** Parses the CLI's `GROUP:PORT:INTERFACE[,GROUP:PORT:INTERFACE...]` output list. */
export function parseOutputShorthand(text: string): OutputSpec[] {
  const problems: Problems = [];
  const outputs: OutputSpec[] = [];
  text.split(',').forEach((raw, index) => {
    const item = raw.trim();
    if (item === '') {
      problems.push(`output ${index + 1}: empty (expected GROUP:PORT:INTERFACE)`);
      return;
    }
    const label = `output ${JSON.stringify(item)}`;
    const parts = item.split(':');
    if (parts.length !== 3) {
      problems.push(`${label}: expected GROUP:PORT:INTERFACE`);
      return;
    }
    const [groupText, portText, ifaceText] = parts as [string, string, string];
    const group = checkAddress(groupText, `${label} group`, problems);
    // Port 0 (keep each packet's port) is checked against the input by validateRuleSpec.
    const port = checkPort(/^[0-9]+$/.test(portText) ? Number(portText) : portText, `${label} port`, problems);
    const iface = checkInterfaceName(ifaceText, `${label} interface`, problems);
    if (group !== undefined && port !== undefined && iface !== undefined) {
      outputs.push({ group, port, interface: iface });
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return outputs;
}

function checkConfig(value: unknown, problems: Problems): Config | undefined {
  if (!isPlainObject(value)) {
    problems.push(`top level: expected an object, got ${describe(value)}`);
    return undefined;
  }
  checkKeys(value, '', CONFIG_KEYS, problems);

  const workers = optional(value, 'workers', CONFIG_DEFAULTS.workers, (v, p) => checkInteger(v, p, 1, LIMITS.maxWorkers, problems));
  const cpus = Object.hasOwn(value, 'cpus') ? checkCpus(value.cpus, workers, problems) : undefined;
  const ttl = optional<Ttl>(value, 'ttl', CONFIG_DEFAULTS.ttl, (v, p) => checkTtl(v, p, problems));
  const logLevel = optional<LogLevel>(value, 'logLevel', CONFIG_DEFAULTS.logLevel, (v, p) => checkEnum(v, p, LOG_LEVELS, problems));
  const logFormat = optional<LogFormat>(value, 'logFormat', CONFIG_DEFAULTS.logFormat, (v, p) => checkEnum(v, p, LOG_FORMATS, problems));
  const ringMiB = optional(value, 'ringMiB', CONFIG_DEFAULTS.ringMiB, (v, p) => checkInteger(v, p, 1, LIMITS.maxRingMiB, problems));
  const realtimePriority = optional(value, 'realtimePriority', CONFIG_DEFAULTS.realtimePriority, (v, p) =>
    checkInteger(v, p, 0, 99, problems),
  );
  const spanSampleEvery = optional(value, 'spanSampleEvery', CONFIG_DEFAULTS.spanSampleEvery, (v, p) =>
    checkInteger(v, p, 0, LIMITS.maxSpanSampleEvery, problems),
  );
  const busyPoll = optional(value, 'busyPoll', CONFIG_DEFAULTS.busyPoll, (v, p) => checkBoolean(v, p, problems));
  if (busyPoll === true && realtimePriority !== undefined && realtimePriority > 0)
    problems.push("busyPoll: cannot be combined with realtimePriority: a spinning SCHED_FIFO worker starves its CPU's kernel threads");
  const egress = optional<EgressMode>(value, 'egress', CONFIG_DEFAULTS.egress, (v, p) => checkEnum(v, p, EGRESS_MODES, problems));
  const wakeupHoldoffUs = optional(value, 'wakeupHoldoffUs', CONFIG_DEFAULTS.wakeupHoldoffUs, (v, p) =>
    checkInteger(v, p, 0, LIMITS.maxWakeupHoldoffUs, problems),
  );
  // wakeupHoldoffUs with busyPoll is accepted and ignored (a busy-polling worker never sleeps): the
  // default is not 0, so a shown configuration (defaults filled in) must load again.
  const xdp = optional(value, 'xdp', CONFIG_DEFAULTS.xdp, (v, p) => checkBoolean(v, p, problems));
  if (xdp === true && egress === 'socket') problems.push("xdp: needs egress 'packet' (the XDP path sends what packet egress would)");
  // A bad top-level ttl is already reported; fall back so outputs are not reported again for it.
  const rules = Object.hasOwn(value, 'rules') ? checkRules(value.rules, ttl ?? CONFIG_DEFAULTS.ttl, problems) : [];
  const telemetry = Object.hasOwn(value, 'telemetry') ? checkTelemetry(value.telemetry, problems) : { ...TELEMETRY_DEFAULTS };
  const igmp = Object.hasOwn(value, 'igmp') ? checkIgmp(value.igmp, problems) : undefined;
  const pim = Object.hasOwn(value, 'pim') ? checkPim(value.pim, problems) : undefined;
  if (Object.hasOwn(value, 'pim') && igmp?.upstream !== undefined)
    problems.push('igmp.upstream: igmpproxy mode cannot run with a pim section (PIM joins upstream itself)');
  const msdp = Object.hasOwn(value, 'msdp') ? checkMsdp(value.msdp, problems) : undefined;

  if (
    workers === undefined ||
    ttl === undefined ||
    logLevel === undefined ||
    logFormat === undefined ||
    ringMiB === undefined ||
    realtimePriority === undefined ||
    spanSampleEvery === undefined ||
    busyPoll === undefined ||
    egress === undefined ||
    xdp === undefined ||
    wakeupHoldoffUs === undefined ||
    telemetry === undefined ||
    rules === undefined ||
    (Object.hasOwn(value, 'igmp') && igmp === undefined) ||
    (Object.hasOwn(value, 'pim') && pim === undefined) ||
    (Object.hasOwn(value, 'msdp') && msdp === undefined)
  ) {
    return undefined;
  }
  const config: Config = {
    workers,
    realtimePriority,
    spanSampleEvery,
    busyPoll,
    egress,
    wakeupHoldoffUs,
    xdp,
    ttl,
    logLevel,
    logFormat,
    ringMiB,
    telemetry,
    rules,
  };
  if (cpus !== undefined) config.cpus = cpus;
  if (igmp !== undefined) config.igmp = igmp;
  if (pim !== undefined) config.pim = pim;
  if (msdp !== undefined) config.msdp = msdp;
  problems.push(...listenerGateProblems(rules, igmp));
  return problems.length > 0 ? undefined : config;
}

/**
 * Outputs with onlyWithListeners need IGMP on their interface: without it nobody would ever be
 * seen listening and the output would never send. Each problem names the output's key path.
 */
export function listenerGateProblems(rules: readonly RuleSpec[], igmp: IgmpConfig | undefined, path = 'rules'): string[] {
  const problems: string[] = [];
  rules.forEach((rule, i) => {
    rule.outputs.forEach((o, j) => {
      if (o.onlyWithListeners !== true || igmp?.interfaces.includes(o.interface)) return;
      const where = rules.length === 1 && path !== 'rules' ? `${path}.outputs[${j}]` : `${path}[${i}].outputs[${j}]`;
      problems.push(
        igmp === undefined
          ? `${where}.onlyWithListeners: needs IGMP on ${o.interface} (an igmp section with ${o.interface} in igmp.interfaces)`
          : `${where}.onlyWithListeners: ${o.interface} is not in igmp.interfaces (${igmp.interfaces.join(', ')}), so no listener would ever be seen there`,
      );
    });
  });
  return problems;
}

function checkIgmp(value: unknown, problems: Problems): IgmpConfig | undefined {
  if (!isPlainObject(value)) {
    problems.push(`igmp: expected an object, got ${describe(value)}`);
    return undefined;
  }
  const before = problems.length;
  checkKeys(value, 'igmp', IGMP_KEYS, problems);
  const interfaces = required(value, 'igmp', 'interfaces', 'a list of interface names', problems, (v, p) => {
    if (!Array.isArray(v) || v.length === 0 || v.length > IGMP_LIMITS.maxInterfaces) {
      problems.push(`${p}: expected a list of 1-${IGMP_LIMITS.maxInterfaces} interface names, got ${describe(v)}`);
      return undefined;
    }
    const names = v.map((name, i) => checkInterfaceName(name, `${p}[${i}]`, problems));
    const seen = new Set<string>();
    names.forEach((name, i) => {
      if (name === undefined) return;
      if (seen.has(name)) problems.push(`${p}[${i}]: ${name} is listed twice`);
      seen.add(name);
    });
    return names.every((n) => n !== undefined) ? (names as string[]) : undefined;
  });
  const upstream = Object.hasOwn(value, 'upstream') ? checkInterfaceName(value.upstream, 'igmp.upstream', problems) : undefined;
  if (upstream !== undefined && interfaces?.includes(upstream))
    problems.push(`igmp.upstream: ${upstream} is also in igmp.interfaces (the upstream interface has no listeners of its own here)`);
  const version = optional<2 | 3>(
    value,
    'version',
    IGMP_DEFAULTS.version,
    (v, p) => {
      if (v === 2 || v === 3) return v;
      problems.push(`${p}: expected 2 or 3, got ${describe(v)}`);
      return undefined;
    },
    'igmp',
  );
  const seconds = (key: string, min: number, max: number, fallback: number): number | undefined =>
    optional(
      value,
      key,
      fallback,
      (v, p) => {
        if (typeof v === 'number' && Number.isFinite(v) && v >= min && v <= max) return v;
        problems.push(`${p}: expected seconds from ${min} to ${max}, got ${describe(v)}`);
        return undefined;
      },
      'igmp',
    );
  const queryInterval = seconds('queryInterval', IGMP_LIMITS.minQueryInterval, IGMP_LIMITS.maxQueryInterval, IGMP_DEFAULTS.queryInterval);
  const responseMax = version === 2 ? IGMP_LIMITS.maxQueryResponseIntervalV2 : IGMP_LIMITS.maxQueryResponseInterval;
  const queryResponseInterval = seconds(
    'queryResponseInterval',
    IGMP_LIMITS.minQueryResponseInterval,
    responseMax,
    IGMP_DEFAULTS.queryResponseInterval,
  );
  const lastMemberQueryInterval = seconds(
    'lastMemberQueryInterval',
    IGMP_LIMITS.minLastMemberQueryInterval,
    version === 2 ? IGMP_LIMITS.maxQueryResponseIntervalV2 : IGMP_LIMITS.maxLastMemberQueryInterval,
    IGMP_DEFAULTS.lastMemberQueryInterval,
  );
  const robustness = optional(
    value,
    'robustness',
    IGMP_DEFAULTS.robustness,
    (v, p) => checkInteger(v, p, IGMP_LIMITS.minRobustness, IGMP_LIMITS.maxRobustness, problems),
    'igmp',
  );
  // RFC 3376 8.3: the response window must fit inside the query interval.
  if (queryInterval !== undefined && queryResponseInterval !== undefined && queryResponseInterval >= queryInterval)
    problems.push(`igmp.queryResponseInterval: must be shorter than igmp.queryInterval (${queryInterval} s), got ${queryResponseInterval}`);
  if (
    problems.length > before ||
    interfaces === undefined ||
    version === undefined ||
    queryInterval === undefined ||
    queryResponseInterval === undefined ||
    lastMemberQueryInterval === undefined ||
    robustness === undefined
  )
    return undefined;
  const igmp: IgmpConfig = { interfaces, version, queryInterval, queryResponseInterval, lastMemberQueryInterval, robustness };
  if (upstream !== undefined) igmp.upstream = upstream;
  return igmp;
}

/** The `pim` section: interfaces as names or objects, each filled with the section's values it does not set. */
function checkPim(value: unknown, problems: Problems): PimConfig | undefined {
  if (!isPlainObject(value)) {
    problems.push(`pim: expected an object, got ${describe(value)}`);
    return undefined;
  }
  const before = problems.length;
  checkKeys(value, 'pim', PIM_KEYS, problems);
  const wholeSeconds = (min: number, max: number) => (v: unknown, p: string) => checkWholeSeconds(v, p, min, max, problems);
  const helloSeconds = wholeSeconds(PIM_LIMITS.minHelloInterval, PIM_LIMITS.maxHelloInterval);
  const priority = (v: unknown, p: string) => checkInteger(v, p, 0, PIM_LIMITS.maxDrPriority, problems);
  const joinPruneInterval = optional(
    value,
    'joinPruneInterval',
    PIM_DEFAULTS.joinPruneInterval,
    wholeSeconds(PIM_LIMITS.minJoinPruneInterval, PIM_LIMITS.maxJoinPruneInterval),
    'pim',
  );
  const helloInterval = optional(value, 'helloInterval', PIM_DEFAULTS.helloInterval, helloSeconds, 'pim');
  const drPriority = optional(value, 'drPriority', PIM_DEFAULTS.drPriority, priority, 'pim');

  const interfaces = required(
    value,
    'pim',
    'interfaces',
    'a list of interface names or { name, drPriority, helloInterval }',
    problems,
    (v, p) => {
      if (!Array.isArray(v) || v.length === 0 || v.length > PIM_LIMITS.maxInterfaces) {
        problems.push(`${p}: expected a list of 1-${PIM_LIMITS.maxInterfaces} interfaces, got ${describe(v)}`);
        return undefined;
      }
      const entries = v.map((entry, i): PimInterfaceConfig | undefined => {
        const at = `${p}[${i}]`;
        if (typeof entry === 'string') {
          const name = checkInterfaceName(entry, at, problems);
          return name === undefined ? undefined : { name, drPriority: drPriority ?? 0, helloInterval: helloInterval ?? 0 };
        }
        if (!isPlainObject(entry)) {
          problems.push(`${at}: expected an interface name or { name, drPriority, helloInterval }, got ${describe(entry)}`);
          return undefined;
        }
        checkKeys(entry, at, PIM_INTERFACE_KEYS, problems);
        const name = required(entry, at, 'name', 'an interface name', problems, (n, np) => checkInterfaceName(n, np, problems));
        const ownPriority = optional(entry, 'drPriority', drPriority ?? 0, priority, at);
        const ownHello = optional(entry, 'helloInterval', helloInterval ?? 0, helloSeconds, at);
        if (name === undefined || ownPriority === undefined || ownHello === undefined) return undefined;
        return { name, drPriority: ownPriority, helloInterval: ownHello };
      });
      const seen = new Set<string>();
      entries.forEach((entry, i) => {
        if (entry === undefined) return;
        if (seen.has(entry.name)) problems.push(`${p}[${i}]: ${entry.name} is listed twice`);
        seen.add(entry.name);
      });
      return entries.every((e) => e !== undefined) ? (entries as PimInterfaceConfig[]) : undefined;
    },
  );
  const rp = Object.hasOwn(value, 'rp') ? checkPimRps(value.rp, 'pim.rp', problems) : undefined;

  if (
    problems.length > before ||
    interfaces === undefined ||
    joinPruneInterval === undefined ||
    helloInterval === undefined ||
    drPriority === undefined
  )
    return undefined;
  const pim: PimConfig = { interfaces, joinPruneInterval, helloInterval, drPriority };
  if (rp !== undefined) pim.rp = rp;
  return pim;
}

/** The `msdp` section: a local address, distinct peers, and timers with hold longer than keepalive. */
function checkMsdp(value: unknown, problems: Problems): MsdpConfig | undefined {
  if (!isPlainObject(value)) {
    problems.push(`msdp: expected an object, got ${describe(value)}`);
    return undefined;
  }
  const before = problems.length;
  checkKeys(value, 'msdp', MSDP_KEYS, problems);
  const localAddress = required(value, 'msdp', 'localAddress', 'our unicast IPv4 address', problems, (v, p) =>
    checkSourceAddress(v, p, problems),
  );
  const seconds = (key: string, min: number, fallback: number): number | undefined =>
    optional(value, key, fallback, (v, p) => checkWholeSeconds(v, p, min, MSDP_LIMITS.maxSeconds, problems), 'msdp');
  const keepaliveInterval = seconds('keepaliveInterval', MSDP_LIMITS.minKeepaliveInterval, MSDP_DEFAULTS.keepaliveInterval);
  const holdTime = seconds('holdTime', MSDP_LIMITS.minHoldTime, MSDP_DEFAULTS.holdTime);
  const connectRetry = seconds('connectRetry', MSDP_LIMITS.minConnectRetry, MSDP_DEFAULTS.connectRetry);
  // RFC 3618 5.5: a KeepAlive must arrive before the peer's Hold timer runs out.
  if (keepaliveInterval !== undefined && holdTime !== undefined && holdTime <= keepaliveInterval)
    problems.push(`msdp.holdTime: must be longer than msdp.keepaliveInterval (${keepaliveInterval} s), got ${holdTime}`);
  const peers = required(value, 'msdp', 'peers', 'a list of { address, meshGroup }', problems, (v, p) => {
    if (!Array.isArray(v) || v.length === 0 || v.length > MSDP_LIMITS.maxPeers) {
      problems.push(`${p}: expected a list of 1-${MSDP_LIMITS.maxPeers} { address, meshGroup } entries, got ${describe(v)}`);
      return undefined;
    }
    const seen = new Map<string, string>();
    const entries = v.map((entry, i): MsdpPeerConfig | undefined => {
      const at = `${p}[${i}]`;
      if (!isPlainObject(entry)) {
        problems.push(`${at}: expected { address, meshGroup }, got ${describe(entry)}`);
        return undefined;
      }
      checkKeys(entry, at, MSDP_PEER_KEYS, problems);
      const address = required(entry, at, 'address', "the peer's unicast IPv4 address", problems, (a, ap) =>
        checkSourceAddress(a, ap, problems),
      );
      const meshGroup = Object.hasOwn(entry, 'meshGroup')
        ? ((): string | undefined => {
            if (typeof entry.meshGroup === 'string' && MESH_GROUP_NAME.test(entry.meshGroup)) return entry.meshGroup;
            problems.push(`${at}.meshGroup: expected a name of 1-64 letters, digits, '_', '.' or '-', got ${describe(entry.meshGroup)}`);
            return undefined;
          })()
        : undefined;
      if (address === undefined || (Object.hasOwn(entry, 'meshGroup') && meshGroup === undefined)) return undefined;
      if (address === localAddress) {
        problems.push(`${at}.address: ${address} is msdp.localAddress (a router does not peer with itself)`);
        return undefined;
      }
      const earlier = seen.get(address);
      if (earlier !== undefined) {
        problems.push(`${at}.address: ${address} is listed twice (${earlier})`);
        return undefined;
      }
      seen.set(address, at);
      return meshGroup === undefined ? { address } : { address, meshGroup };
    });
    return entries.every((e) => e !== undefined) ? (entries as MsdpPeerConfig[]) : undefined;
  });
  if (
    problems.length > before ||
    localAddress === undefined ||
    peers === undefined ||
    keepaliveInterval === undefined ||
    holdTime === undefined ||
    connectRetry === undefined
  )
    return undefined;
  return { localAddress, peers, keepaliveInterval, holdTime, connectRetry };
}

/** PIM's and MSDP's timers: whole seconds, as their messages carry them. */
function checkWholeSeconds(value: unknown, path: string, min: number, max: number, problems: Problems): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  problems.push(`${path}: expected whole seconds from ${min} to ${max}, got ${describe(value)}`);
  return undefined;
}

/** Static RPs: a unicast address and a group prefix each; no prefix given twice. */
function checkPimRps(value: unknown, path: string, problems: Problems): PimRpConfig[] | undefined {
  if (!Array.isArray(value) || value.length > PIM_LIMITS.maxRps) {
    problems.push(`${path}: expected a list of up to ${PIM_LIMITS.maxRps} { address, groups } entries, got ${describe(value)}`);
    return undefined;
  }
  const byPrefix = new Map<string, { address: string; at: string }>();
  const rps = value.map((entry, i): PimRpConfig | undefined => {
    const at = `${path}[${i}]`;
    if (!isPlainObject(entry)) {
      problems.push(`${at}: expected { address, groups }, got ${describe(entry)}`);
      return undefined;
    }
    checkKeys(entry, at, PIM_RP_KEYS, problems);
    const address = required(entry, at, 'address', "the RP's unicast IPv4 address", problems, (v, p) => checkSourceAddress(v, p, problems));
    const groups = required(entry, at, 'groups', 'a multicast prefix such as "239.0.0.0/8"', problems, (v, p) =>
      checkMulticastPrefix(v, p, problems),
    );
    if (address === undefined || groups === undefined) return undefined;
    const earlier = byPrefix.get(groups);
    if (earlier !== undefined) {
      problems.push(
        earlier.address === address
          ? `${at}: ${address} for ${groups} is listed twice (${earlier.at})`
          : `${at}.groups: ${groups} already has RP ${earlier.address} (${earlier.at}); one RP per group range`,
      );
      return undefined;
    }
    byPrefix.set(groups, { address, at });
    return { address, groups };
  });
  return rps.every((r) => r !== undefined) ? (rps as PimRpConfig[]) : undefined;
}

/** `A.B.C.D/LEN` inside 224.0.0.0/4 with no bits set past the length. */
function checkMulticastPrefix(value: unknown, path: string, problems: Problems): string | undefined {
  const match = typeof value === 'string' ? /^([0-9.]+)\/([0-9]{1,2})$/.exec(value) : null;
  const length = match ? Number(match[2]) : Number.NaN;
  if (!match || !isIPv4(match[1]!) || !(length >= 0 && length <= 32)) {
    problems.push(`${path}: expected a multicast prefix such as "239.0.0.0/8", got ${describe(value)}`);
    return undefined;
  }
  const base = addressValue(match[1]!);
  const mask = length === 0 ? 0 : (0xffffffff << (32 - length)) >>> 0;
  if (length < 4 || !isMulticast(match[1]!)) {
    problems.push(`${path}: ${value} is not inside the multicast range 224.0.0.0/4`);
    return undefined;
  }
  if ((base & mask) >>> 0 !== base) {
    problems.push(`${path}: ${value} has bits set past its /${length} (the prefix is ${addressText((base & mask) >>> 0)}/${length})`);
    return undefined;
  }
  return `${match[1]}/${length}`;
}

function checkTelemetry(value: unknown, problems: Problems): TelemetryConfig | undefined {
  if (!isPlainObject(value)) {
    problems.push(`telemetry: expected an object, got ${describe(value)}`);
    return undefined;
  }
  const before = problems.length;
  checkKeys(value, 'telemetry', TELEMETRY_KEYS, problems);
  const at = (key: string): string => `telemetry.${key}`;
  const t: TelemetryConfig = {
    spansPerSecond:
      optional(
        value,
        'spansPerSecond',
        TELEMETRY_DEFAULTS.spansPerSecond,
        (v, p) => checkInteger(v, p, 0, LIMITS.maxSpansPerSecond, problems),
        'telemetry',
      ) ?? 0,
    ruleMetricsLimit:
      optional(
        value,
        'ruleMetricsLimit',
        TELEMETRY_DEFAULTS.ruleMetricsLimit,
        (v, p) => checkInteger(v, p, 0, LIMITS.maxRuleMetrics, problems),
        'telemetry',
      ) ?? 0,
  };
  if (Object.hasOwn(value, 'otlpEndpoint')) {
    const url = checkHttpUrl(value.otlpEndpoint, at('otlpEndpoint'), problems);
    if (url !== undefined) t.otlpEndpoint = url;
  }
  if (Object.hasOwn(value, 'otlpProtocol')) {
    const protocol = checkEnum(value.otlpProtocol, at('otlpProtocol'), OTLP_PROTOCOLS, problems);
    if (protocol !== undefined) t.otlpProtocol = protocol;
  }
  if (Object.hasOwn(value, 'serviceName')) {
    const name = value.serviceName;
    if (typeof name === 'string' && name.length > 0 && name.length <= 255) t.serviceName = name;
    else problems.push(`${at('serviceName')}: expected a non-empty string of at most 255 characters, got ${describe(name)}`);
  }
  if (Object.hasOwn(value, 'resourceAttributes')) {
    const attrs = value.resourceAttributes;
    if (isPlainObject(attrs) && Object.values(attrs).every((v) => typeof v === 'string'))
      t.resourceAttributes = attrs as Record<string, string>;
    else problems.push(`${at('resourceAttributes')}: expected an object of string values, got ${describe(attrs)}`);
  }
  if (Object.hasOwn(value, 'metricExportIntervalMs')) {
    const ms = checkInteger(
      value.metricExportIntervalMs,
      at('metricExportIntervalMs'),
      LIMITS.minMetricExportIntervalMs,
      undefined,
      problems,
    );
    if (ms !== undefined) t.metricExportIntervalMs = ms;
  }
  if (Object.hasOwn(value, 'metricsListen')) {
    const listen = checkListenAddress(value.metricsListen, at('metricsListen'), problems);
    if (listen !== undefined) t.metricsListen = listen;
  }
  return problems.length === before ? t : undefined;
}

/** An http:// or https:// URL (the OTLP/HTTP exporters' endpoints). */
export function checkHttpUrl(value: unknown, path: string, problems: Problems): string | undefined {
  if (typeof value === 'string') {
    try {
      const url = new URL(value);
      if (url.protocol === 'http:' || url.protocol === 'https:') return value;
    } catch {
      // reported below
    }
  }
  problems.push(`${path}: expected an http:// or https:// URL, got ${describe(value)}`);
  return undefined;
}

/** `HOST:PORT` (an IPv4 address or a name, or [IPv6]), port 0-65535 (0: the kernel picks). */
export function checkListenAddress(value: unknown, path: string, problems: Problems): string | undefined {
  const m = typeof value === 'string' ? /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):([0-9]{1,5})$/.exec(value) : null;
  if (m && Number(m[2]) <= 65535) return value as string;
  problems.push(`${path}: expected HOST:PORT (for example 127.0.0.1:9464), got ${describe(value)}`);
  return undefined;
}

function checkCpus(value: unknown, workers: number | undefined, problems: Problems): number[] | undefined {
  if (!Array.isArray(value)) {
    problems.push(`cpus: expected an array of CPU numbers, got ${describe(value)}`);
    return undefined;
  }
  const before = problems.length;
  const firstIndexOf = new Map<number, number>();
  value.forEach((entry, index) => {
    const cpu = checkInteger(entry, `cpus[${index}]`, 0, undefined, problems);
    if (cpu === undefined) return;
    const first = firstIndexOf.get(cpu);
    if (first !== undefined) problems.push(`cpus[${index}]: CPU ${cpu} is already used by cpus[${first}]`);
    else firstIndexOf.set(cpu, index);
  });
  if (workers !== undefined && value.length !== workers) {
    problems.push(`cpus: expected ${workers} ${workers === 1 ? 'entry' : 'entries'} (one per worker), got ${value.length}`);
  }
  return problems.length === before ? (value as number[]) : undefined;
}

function checkRules(value: unknown, defaultTtl: Ttl, problems: Problems): RuleSpec[] | undefined {
  if (!Array.isArray(value)) {
    problems.push(`rules: expected an array of rules, got ${describe(value)}`);
    return undefined;
  }
  const rules: RuleSpec[] = [];
  const nameOwner = new Map<string, number>();
  const inputOwner = new Map<string, number>();
  let complete = true;
  value.forEach((entry, index) => {
    const path = `rules[${index}]`;
    const rule = checkRule(entry, path, defaultTtl, problems);
    if (rule === undefined) {
      complete = false;
      return;
    }
    if (rule.name !== undefined) {
      const first = nameOwner.get(rule.name);
      if (first !== undefined) {
        problems.push(`${path}.name: ${JSON.stringify(rule.name)} is already the name of rules[${first}]`);
      } else {
        nameOwner.set(rule.name, index);
      }
    }
    // The rule id's match key: interface, group, port, and source and protocol where given.
    const inputKey = ruleMatchKey(rule.input);
    const first = inputOwner.get(inputKey);
    if (first !== undefined) {
      problems.push(`${path}.input: same input match as rules[${first}] (${describeRuleInput(rule.input)})`);
    } else {
      inputOwner.set(inputKey, index);
    }
    rules.push(rule);
  });
  return complete ? rules : undefined;
}

function checkRule(value: unknown, path: string, defaultTtl: Ttl, problems: Problems): RuleSpec | undefined {
  if (!isPlainObject(value)) {
    problems.push(`${path}: expected an object, got ${describe(value)}`);
    return undefined;
  }
  const before = problems.length;
  checkKeys(value, path, RULE_KEYS, problems);

  let name: string | undefined;
  if (Object.hasOwn(value, 'name')) {
    if (typeof value.name === 'string' && RULE_NAME.test(value.name)) name = value.name;
    else problems.push(`${path}.name: expected 1-64 characters from A-Z a-z 0-9 _ . -, got ${describe(value.name)}`);
  }

  const input = required(value, path, 'input', 'an object with interface, group and port', problems, (v, p) => checkInput(v, p, problems));
  // Compare outputs with the input even when another input field is bad.
  const raw = isPlainObject(value.input) ? value.input : {};
  const context: OutputContext = {
    interface: typeof raw.interface === 'string' ? raw.interface : undefined,
    group: typeof raw.group === 'string' ? raw.group : undefined,
    anyPort: raw.port === 0 || raw.protocol === 'esp',
    esp: raw.protocol === 'esp',
  };
  const outputs = required(value, path, 'outputs', 'a non-empty array of outputs', problems, (v, p) =>
    checkOutputs(v, p, context, defaultTtl, problems),
  );

  if (problems.length > before || input === undefined || outputs === undefined) return undefined;
  const rule: RuleSpec = { input, outputs };
  if (name !== undefined) return { name, ...rule };
  return rule;
}

/** What an output is checked against: its rule's input, as far as it is readable. */
interface OutputContext {
  interface: string | undefined;
  group: string | undefined;
  /** the input's port is 0 (any), or it is ESP: an output may have port 0 */
  anyPort: boolean;
  esp: boolean;
}

function checkInput(value: unknown, path: string, problems: Problems): RuleInput | undefined {
  if (!isPlainObject(value)) {
    problems.push(`${path}: expected an object with interface, group and port, got ${describe(value)}`);
    return undefined;
  }
  const before = problems.length;
  checkKeys(value, path, INPUT_KEYS, problems);
  const iface = required(value, path, 'interface', 'an interface name', problems, (v, p) => checkInterfaceName(v, p, problems));
  const group = required(value, path, 'group', 'an IPv4 address', problems, (v, p) => checkAddress(v, p, problems));
  let protocol: InputProtocol | undefined;
  if (Object.hasOwn(value, 'protocol')) protocol = checkEnum(value.protocol, joinPath(path, 'protocol'), INPUT_PROTOCOLS, problems);
  let port: number | undefined;
  if (protocol === 'esp') {
    // ESP has no ports: absent or 0.
    port = 0;
    if (Object.hasOwn(value, 'port') && value.port !== 0)
      problems.push(`${joinPath(path, 'port')}: expected 0 or no port with protocol "esp" (ESP has no ports), got ${describe(value.port)}`);
    if (group !== undefined && !isMulticast(group))
      problems.push(`${joinPath(path, 'group')}: expected a multicast group with protocol "esp", got ${describe(group)}`);
  } else {
    port = required(value, path, 'port', 'an integer from 0 (any port) to 65535', problems, (v, p) => checkPort(v, p, problems));
  }
  let source: string | undefined;
  if (Object.hasOwn(value, 'source')) source = checkSourceAddress(value.source, joinPath(path, 'source'), problems);
  if (problems.length > before || iface === undefined || group === undefined || port === undefined) return undefined;
  const input: RuleInput = { interface: iface, group, port };
  if (source !== undefined) input.source = source;
  if (protocol !== undefined) input.protocol = protocol;
  return input;
}

function checkOutputs(value: unknown, path: string, context: OutputContext, defaultTtl: Ttl, problems: Problems): OutputSpec[] | undefined {
  if (!Array.isArray(value) || value.length === 0) {
    problems.push(`${path}: expected a non-empty array of outputs, got ${describe(value)}`);
    return undefined;
  }
  if (value.length > LIMITS.maxOutputsPerRule) {
    problems.push(`${path}: expected at most ${LIMITS.maxOutputsPerRule} outputs, got ${value.length}`);
    return undefined;
  }
  const outputs: OutputSpec[] = [];
  const owner = new Map<string, number>();
  let complete = true;
  value.forEach((entry, index) => {
    const itemPath = `${path}[${index}]`;
    const output = checkOutput(entry, itemPath, context, defaultTtl, problems);
    if (output === undefined) {
      complete = false;
      return;
    }
    const key = `${output.group}|${output.port}|${output.interface}`;
    const first = owner.get(key);
    if (first !== undefined) {
      problems.push(
        `${itemPath}: same group, port and interface as outputs[${first}] (${output.group}:${output.port} on ${output.interface})`,
      );
      complete = false;
      return;
    }
    owner.set(key, index);
    outputs.push(output);
  });
  return complete ? outputs : undefined;
}

function checkOutput(value: unknown, path: string, context: OutputContext, defaultTtl: Ttl, problems: Problems): OutputSpec | undefined {
  if (!isPlainObject(value)) {
    problems.push(`${path}: expected an object with group, port and interface, got ${describe(value)}`);
    return undefined;
  }
  const before = problems.length;
  checkKeys(value, path, OUTPUT_KEYS, problems);
  const group = required(value, path, 'group', 'an IPv4 address', problems, (v, p) => checkAddress(v, p, problems));
  // ESP outputs are routed (the packet leaves as it came): no port of their own, absent or 0.
  const port =
    context.esp && !Object.hasOwn(value, 'port')
      ? 0
      : required(value, path, 'port', 'an integer from 1 to 65535', problems, (v, p) => checkPort(v, p, problems));
  if (port === 0 && !context.anyPort)
    problems.push(`${path}.port: 0 keeps each packet's port, which needs an input with port 0 (any port); expected 1 to 65535`);
  if (context.esp) {
    if (port !== undefined && port !== 0)
      problems.push(`${path}.port: expected 0 or no port on an ESP rule's output (it is routed: the packet keeps its own), got ${port}`);
    if (group !== undefined && context.group !== undefined && group !== context.group)
      problems.push(
        `${path}.group: an ESP rule's outputs keep the input group ${context.group} (an ESP group SA is keyed by it), got ${describe(group)}`,
      );
  }
  const iface = required(value, path, 'interface', 'an interface name', problems, (v, p) => checkInterfaceName(v, p, problems));
  if (iface !== undefined && iface === context.interface) {
    problems.push(
      `${path}.interface: ${JSON.stringify(iface)} is also this rule's input interface (the relay would feed its own output back)`,
    );
  }
  const ttl = optional<Ttl>(value, 'ttl', defaultTtl, (v, p) => checkTtl(v, p, problems), path);
  let source: string | undefined;
  if (Object.hasOwn(value, 'source')) source = checkSourceAddress(value.source, `${path}.source`, problems);
  let onlyWithListeners: boolean | undefined;
  if (Object.hasOwn(value, 'onlyWithListeners')) {
    onlyWithListeners = checkBoolean(value.onlyWithListeners, `${path}.onlyWithListeners`, problems);
    if (onlyWithListeners === true && group !== undefined && !isMulticast(group))
      problems.push(`${path}.onlyWithListeners: listeners join groups: only on a multicast output, not ${describe(group)}`);
  }

  if (problems.length > before || group === undefined || port === undefined || iface === undefined || ttl === undefined) {
    return undefined;
  }
  const output: OutputSpec = { group, port, interface: iface, ttl };
  if (source !== undefined) output.source = source;
  if (onlyWithListeners !== undefined) output.onlyWithListeners = onlyWithListeners;
  return output;
}

// --- field checkers: each reports its own problem and returns undefined when the value is bad ---

function checkInteger(value: unknown, path: string, min: number, max: number | undefined, problems: Problems): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && (max === undefined || value <= max)) {
    return value;
  }
  const range = max === undefined ? `>= ${min}` : `from ${min} to ${max}`;
  problems.push(`${path}: expected an integer ${range}, got ${describe(value)}`);
  return undefined;
}

/** A fixed TTL, or "decrement": the received TTL minus one, as a router does (the loop guard). */
function checkTtl(value: unknown, path: string, problems: Problems): Ttl | undefined {
  if (value === 'decrement' || (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 255)) return value;
  problems.push(`${path}: expected an integer from 1 to 255 or "decrement", got ${describe(value)}`);
  return undefined;
}

function checkBoolean(value: unknown, path: string, problems: Problems): boolean | undefined {
  if (typeof value === 'boolean') return value;
  problems.push(`${path}: expected true or false, got ${describe(value)}`);
  return undefined;
}

/** 0 is a port here too: "any" on an input, "the packet's own" on an output (each checked against the other by its caller). */
function checkPort(value: unknown, path: string, problems: Problems): number | undefined {
  return checkInteger(value, path, 0, 65535, problems);
}

function checkEnum<T extends string>(value: unknown, path: string, allowed: readonly T[], problems: Problems): T | undefined {
  if (typeof value === 'string' && (allowed as readonly string[]).includes(value)) return value as T;
  problems.push(`${path}: expected one of ${allowed.join(', ')}, got ${describe(value)}`);
  return undefined;
}

/** Mirrors the kernel's dev_valid_name(). */
function checkInterfaceName(value: unknown, path: string, problems: Problems): string | undefined {
  if (
    typeof value === 'string' &&
    value.length > 0 &&
    Buffer.byteLength(value) <= MAX_INTERFACE_NAME_BYTES &&
    value !== '.' &&
    value !== '..' &&
    !/[/:\s\0]/.test(value)
  ) {
    return value;
  }
  problems.push(
    `${path}: expected an interface name (1-${MAX_INTERFACE_NAME_BYTES} characters, no '/', ':' or whitespace), got ${describe(value)}`,
  );
  return undefined;
}

/** A group or destination: unicast or multicast, but never 0.0.0.0 or 255.255.255.255. */
function checkAddress(value: unknown, path: string, problems: Problems): string | undefined {
  if (typeof value !== 'string' || !isIPv4(value)) {
    problems.push(`${path}: expected an IPv4 address, got ${describe(value)}`);
    return undefined;
  }
  if (isUnspecifiedOrBroadcast(value)) {
    problems.push(`${path}: expected a unicast or multicast IPv4 address, got ${describe(value)}`);
    return undefined;
  }
  return value;
}

function checkSourceAddress(value: unknown, path: string, problems: Problems): string | undefined {
  if (typeof value !== 'string' || !isIPv4(value)) {
    problems.push(`${path}: expected an IPv4 address, got ${describe(value)}`);
    return undefined;
  }
  if (isMulticast(value) || isUnspecifiedOrBroadcast(value)) {
    problems.push(`${path}: expected a unicast IPv4 address, got ${describe(value)}`);
    return undefined;
  }
  return value;
}

// --- structure helpers ---

function isPlainObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkKeys(value: Fields, path: string, allowed: string[], problems: Problems): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      problems.push(`${joinPath(path, key)}: unknown key (expected one of ${allowed.join(', ')})`);
    }
  }
}

function required<T>(
  value: Fields,
  path: string,
  key: string,
  expected: string,
  problems: Problems,
  check: (v: unknown, keyPath: string) => T | undefined,
): T | undefined {
  const keyPath = joinPath(path, key);
  if (!Object.hasOwn(value, key)) {
    problems.push(`${keyPath}: missing (expected ${expected})`);
    return undefined;
  }
  return check(value[key], keyPath);
}

function optional<T>(
  value: Fields,
  key: string,
  fallback: T,
  check: (v: unknown, keyPath: string) => T | undefined,
  path = '',
): T | undefined {
  return Object.hasOwn(value, key) ? check(value[key], joinPath(path, key)) : fallback;
}

function joinPath(path: string, key: string): string {
  const segment = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : JSON.stringify(key);
  if (path === '') return segment;
  return segment.startsWith('"') ? `${path}[${segment}]` : `${path}.${segment}`;
}

/** How a bad value is quoted in a message: strings in quotes, short enough for one line. */
function describe(value: unknown): string {
  if (typeof value === 'string') {
    return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
  }
  if (typeof value === 'number' || typeof value === 'boolean' || value === null) return String(value);
  if (Array.isArray(value)) return value.length === 0 ? '[]' : 'an array';
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** json5 says `JSON5: invalid character 'x' at 3:5`; report it as `line 3, column 5: invalid character 'x'`. */
function describeSyntaxError(err: unknown): string {
  if (err instanceof SyntaxError) {
    const { lineNumber, columnNumber } = err as SyntaxError & { lineNumber?: number; columnNumber?: number };
    const reason = err.message.replace(/^JSON5: /, '').replace(/ at \d+:\d+$/, '');
    if (lineNumber !== undefined && columnNumber !== undefined) {
      return `line ${lineNumber}, column ${columnNumber}: ${reason}`;
    }
    return `syntax error: ${reason}`;
  }
  return `syntax error: ${String(err)}`;
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
