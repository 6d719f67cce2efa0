// SPDX-License-Identifier: MIT
// Turns control-protocol results into mcrctl's human-readable text (tables, one-line summaries).
// Reads results defensively: a field a newer or older mcrd leaves out shows as 0 or '-', never a crash.

import type {
  Counters,
  IgmpGroupsResult,
  MrouteResult,
  MsdpPeersResult,
  MsdpSaResult,
  PimCountersView,
  PimInterfacesResult,
  PimJoinsResult,
  PimNeighborsResult,
  PimRpResult,
  PingResult,
  ReloadResult,
  RuleView,
  Stats,
  TraceResult,
  WorkersResult,
} from '../control/protocol';
import { describeRuleInput } from '../config/types';
import { spanDelta, spanHistogram, type SpanHistogram } from '../lib/histogram';
import { formatCount, formatTable } from './table';

/** Stats as rendered: a counter that an older or newer mcrd leaves out shows as 0. */
export type StatsView = Omit<Stats, 'totals' | 'workers'> & {
  totals: Partial<Counters>;
  workers: ({ worker: number } & Partial<Counters>)[];
};

/** The counters that are plain numbers (the worker table's columns). */
type CounterNumber = { [K in keyof Counters]: Counters[K] extends number ? K : never }[keyof Counters];

export function renderPing(result: PingResult): string {
  return `pong (dataplane ${result.dataplane}, up ${formatDuration(result.uptimeSeconds)})`;
}

export function renderRules(rules: RuleView[]): string {
  if (rules.length === 0) return 'no rules';
  const rows: string[][] = [];
  for (const rule of rules) {
    const outputs = rule.outputs ?? [];
    // ESP outputs are routed (the packet leaves as it came); port 0 keeps each packet's port.
    const esp = rule.input.protocol === 'esp';
    outputs.forEach((output, index) => {
      const cell = esp
        ? `${output.interface}, routed`
        : `${output.group}:${output.port === 0 ? 'same' : output.port}:${output.interface}, ttl ${output.ttl ?? '-'}${
            output.source === undefined ? '' : `, source ${output.source}`
          }`;
      const gated = (output as { onlyWithListeners?: boolean }).onlyWithListeners === true ? ', only with listeners' : '';
      rows.push(
        index === 0
          ? [rule.id, rule.name ?? '-', describeRuleInput(rule.input), cell + gated, ruleStatus(rule)]
          : ['', '', '', cell + gated, ''],
      );
    });
  }
  return formatTable(['ID', 'NAME', 'INPUT', 'OUTPUTS', 'STATUS'], rows);
}

/** One word when all is well; otherwise which interfaces the rule is waiting for. */
function ruleStatus(rule: RuleView): string {
  const waiting: string[] = [];
  const status = rule.status;
  if (status === undefined) return '-';
  // The core refused the rule (e.g. a source address that is not local): say why.
  if (status.error !== undefined) return `error: ${status.error}`;
  if (status.input === 'pending') return 'pending (data plane starting)';
  if (status.input !== undefined && status.input !== 'up') waiting.push(`${rule.input.interface} (input)`);
  (status.outputs ?? []).forEach((state, index) => {
    const iface = rule.outputs[index]?.interface;
    if (state !== 'up' && iface !== undefined && !waiting.includes(iface)) waiting.push(iface);
  });
  return waiting.length === 0 ? 'up' : `waiting for ${waiting.join(', ')}`;
}

const WORKER_COLUMNS: Array<[string, CounterNumber]> = [
  ['RX', 'rxFrames'],
  ['MATCHED', 'matched'],
  ['NO_MATCH', 'noMatch'],
  ['FILTERED', 'filtered'],
  ['TX', 'txPackets'],
  ['TX_ERR', 'txErrors'],
  ['RING_DROPS', 'ringDrops'],
  ['BUF_EXHAUST', 'bufExhaust'],
  ['TTL_EXPIRED', 'ttlExpired'],
];

/** How the workers waited for frames: wake-ups cost CPU (docs/performance.md), so they are shown. */
const WAIT_COLUMNS: Array<[string, CounterNumber]> = [
  ['BATCHES', 'batches'],
  ['WAKEUPS', 'wakeups'],
  ['HOLDOFFS', 'holdoffs'],
];

/** What a reload did beyond the rules: empty, or that the data plane restarted and for which settings. */
export function reloadRestartNote(result: Pick<ReloadResult, 'dataPlaneRestartedFor'>): string {
  // `?? []`: an mcrd older than the field answers without it.
  const keys = result.dataPlaneRestartedFor ?? [];
  return keys.length === 0 ? '' : `; data plane restarted (${keys.join(', ')} changed)`;
}

/**
 * Counter totals, or with `previous` the per-second rates between the two samples.
 * Rates use mcrd's own uptime as the clock, so a slow reply does not skew them.
 */
export function renderStats(current: StatsView, previous?: StatsView): string {
  const elapsed = previous === undefined ? 0 : current.uptimeSeconds - previous.uptimeSeconds;
  // mcrd restarted (uptime went back) or no time passed: there is no valid delta, show totals.
  const rates = previous !== undefined && elapsed > 0;
  const value = (now: unknown, before: unknown): string =>
    formatCount(rates ? Math.max(0, (number(now) - number(before)) / elapsed) : number(now));

  const title = rates
    ? `mcrd up ${formatDuration(current.uptimeSeconds)}; per second over the last ${elapsed.toFixed(1)} s (packets, batches, wake-ups)`
    : `mcrd up ${formatDuration(current.uptimeSeconds)}; totals since mcrd started`;

  const previousWorker = new Map((previous?.workers ?? []).map((w) => [w.worker, w]));
  const workerTable = (columns: Array<[string, CounterNumber]>): string => {
    const rows = current.workers.map((worker) => {
      const before = previousWorker.get(worker.worker);
      return [String(worker.worker), ...columns.map(([, key]) => value(worker[key], before?.[key]))];
    });
    rows.push(['total', ...columns.map(([, key]) => value(current.totals[key], previous?.totals[key]))]);
    return formatTable(['WORKER', ...columns.map(([title]) => title)], rows);
  };

  const previousRule = new Map((previous?.rules ?? []).map((r) => [r.id, r]));
  const ruleRows: string[][] = [];
  for (const rule of current.rules) {
    const before = previousRule.get(rule.id);
    ruleRows.push([rule.id, rule.name ?? '-', '(input, matched)', value(rule.matchedPackets, before?.matchedPackets), '']);
    for (const output of rule.outputs) {
      const outputBefore = before?.outputs.find(
        (o) => o.group === output.group && o.port === output.port && o.interface === output.interface,
      );
      ruleRows.push([
        '',
        '',
        `${output.group}:${output.port}:${output.interface}`,
        value(output.txPackets, outputBefore?.txPackets),
        value(output.txErrors, outputBefore?.txErrors),
      ]);
    }
  }
  const unit = rates ? 'PPS' : 'PACKETS';
  const ruleTable =
    ruleRows.length === 0 ? 'no rules' : formatTable(['RULE', 'NAME', 'OUTPUT', unit, rates ? 'TX_ERR/S' : 'TX_ERR'], ruleRows);
  const spans = renderSpans(current.totals.spans, rates ? previous?.totals.spans : undefined);
  const t = current.totals;
  // Only where a routing protocol asked for punts (PIM): a relay of static rules never punts.
  const punts =
    (t.punted ?? 0) + (t.puntRateLimited ?? 0) + (t.puntRingFull ?? 0) > 0
      ? `punts to mcrd (PIM): ${value(t.punted, previous?.totals.punted)} copied, ${value(t.puntRateLimited, previous?.totals.puntRateLimited)} over the rate, ${value(t.puntRingFull, previous?.totals.puntRingFull)} ring full`
      : undefined;
  // Routing protocols that run: their message totals (not rates: these are control-plane counts).
  const protocols = Object.entries(current.protocols ?? {}).map(
    ([name, c]) => `${name} (totals): received ${countList(c?.received)}; sent ${countList(c?.sent)}; malformed ${countList(c?.errors)}`,
  );
  return [
    title,
    '',
    workerTable(WORKER_COLUMNS),
    '',
    workerTable(WAIT_COLUMNS),
    ...(punts ? [punts] : []),
    ...(protocols.length > 0 ? ['', ...protocols] : []),
    '',
    ruleTable,
    ...(spans ? ['', spans] : []),
  ].join('\n');
}

/** What the sampled spans mean, for the table's heading. */
const SPAN_MEANING: Record<string, string> = {
  ringWait: 'frame waited in the receive ring',
  batch: 'worker handled a batch (parse, match, send)',
  idleSpin: 'busyPoll: one pass over empty rings',
};

/**
 * The sampled spans of all workers (over the rate window when `before` is given); percentiles
 * are bucket upper bounds, so "<= 64" means between 32 and 64 µs.
 */
function renderSpans(
  current: Record<string, SpanHistogram> | undefined,
  before: Record<string, SpanHistogram> | undefined,
): string | undefined {
  if (typeof current !== 'object' || current === null) return undefined;
  const rows = Object.entries(current).map(([name, h]) => {
    const prior = before?.[name];
    const window = Array.isArray(h?.buckets) ? (prior ? spanDelta(h, prior) : spanHistogram(h.buckets)) : spanHistogram([]);
    const us = (v: number | null): string => (v === null ? '-' : `<=${formatCount(v)}`);
    return [name, SPAN_MEANING[name] ?? '', formatCount(window.samples), us(window.p50Us), us(window.p99Us), us(window.maxUs)];
  });
  if (rows.length === 0) return undefined;
  return formatTable(['SPAN', 'MEANING', before ? 'SAMPLES_IN_INTERVAL' : 'SAMPLES', 'P50_US', 'P99_US', 'MAX_US'], rows);
}

export function renderWorkers(result: WorkersResult): string {
  const { dataplane } = result;
  const parts = [
    `pid ${dataplane.pid ?? '-'}`,
    dataplane.state,
    `${dataplane.restarts} ${dataplane.restarts === 1 ? 'restart' : 'restarts'}`,
  ];
  if (dataplane.startedAt !== undefined && dataplane.startedAt !== null) {
    parts.push(`started ${formatTimestamp(dataplane.startedAt)}`);
  }
  const rows = result.workers.map((w) => [
    String(w.worker),
    w.cpu === null || w.cpu === undefined ? '-' : String(w.cpu),
    formatCount(number(w.rxFrames)),
    formatCount(number(w.txPackets)),
    formatCount(number(w.ringDrops)),
  ]);
  const table = rows.length === 0 ? 'no workers' : formatTable(['WORKER', 'CPU', 'RX', 'TX', 'RING_DROPS'], rows);
  return [`dataplane: ${parts.join(', ')}`, '', table].join('\n');
}

export function renderTrace(result: TraceResult): string {
  const sampling = result.sampleEvery === 0 ? 'off' : result.sampleEvery === 1 ? 'every batch' : `1 batch in ${result.sampleEvery}`;
  const lines = [
    `sampling: ${sampling}${result.override ? ` (override until the next reload or data-plane restart; configured: ${result.configuredSampleEvery})` : ' (configured)'}`,
    `span records: ${result.exporting ? 'exported (OTLP traces)' : 'not exported'}; ${formatCount(result.spansWritten)} written, ${formatCount(result.spansDropped)} dropped (ring full)`,
  ];
  if (result.chase) lines.push(`chasing rule ${result.chase.rule}: ${result.chase.remaining} batches to go`);
  if (result.batches) {
    lines.push('');
    if (result.batches.length === 0) lines.push('no batch touched the rule before the wait ran out');
    else
      lines.push(
        formatTable(
          ['TIME', 'WORKER', 'INPUT', 'PKTS', 'RING_WAIT_US', 'CLASSIFY_US', 'BATCH_US', 'SENDS (IF PKTS/ERRS US)', 'RULES'],
          result.batches.map((b) => [
            b.at.slice(11, 23),
            String(b.worker),
            b.input,
            String(b.packets),
            b.ringWaitUs.toFixed(1),
            b.classifyUs.toFixed(1),
            b.batchUs.toFixed(1),
            b.sends
              .map((x) => `${x.interface} ${x.packets}/${x.errors}${x.errno ? ` errno ${x.errno}` : ''} ${x.us.toFixed(1)}`)
              .join(', ') + (b.sendsOverflow ? ` +${b.sendsOverflow} more` : ''),
            b.rules.join(','),
          ]),
        ),
      );
  }
  return lines.join('\n');
}

/** 12s, 5m03s, 2h05m, 3d04h: precise when short, readable when long. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.floor(number(seconds)));
  const pad = (n: number): string => String(n).padStart(2, '0');
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d${pad(Math.floor((s % 86400) / 3600))}h`;
}

/** startedAt is an ISO string or JS epoch milliseconds; either way show ISO 8601. */
function formatTimestamp(value: string | number): string {
  if (typeof value === 'number') {
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? String(value) : date.toISOString();
  }
  return value;
}

function number(value: unknown): number {
  return typeof value === 'number' && Number.isFinite(value) ? value : 0;
}

/**
 * One line per event (`mcrctl events`): time, type, then the fields, the known ones in words
 * and any others (a newer mcrd's events) as key=value, so no event is ever hidden.
 */
export function renderEvent(event: Record<string, unknown>): string {
  const { time, type, ...fields } = event;
  const head = `${String(time ?? '-')} ${String(type ?? '?')}`;
  const text = (v: unknown): string => (typeof v === 'string' && !/[\s"]/.test(v) ? v : JSON.stringify(v));
  const rest = (keys: string[]): string[] =>
    Object.entries(fields)
      .filter(([k]) => !keys.includes(k))
      .map(([k, v]) => `${k}=${text(v)}`);
  if ((type === 'route.add' || type === 'route.remove') && typeof fields.route === 'string') {
    const outputs = Array.isArray(fields.outputs)
      ? (fields.outputs as { interface?: unknown; group?: unknown; port?: unknown }[]).map((o) =>
          o.group === undefined ? String(o.interface) : `${String(o.group)}:${String(o.port)}:${String(o.interface)}`,
        )
      : [];
    const port = fields.port === 0 ? 'any port' : `port ${String(fields.port)}`;
    const words = [
      fields.route,
      `on ${String(fields.interface)}`,
      port,
      `-> ${outputs.length > 0 ? outputs.join(',') : '(none)'}`,
      String(fields.origin),
    ];
    if (fields.rule !== undefined) words.push(`rule ${String(fields.rule)}${fields.name === undefined ? '' : ` (${String(fields.name)})`}`);
    return [head, ...words, ...rest(['route', 'interface', 'group', 'source', 'port', 'outputs', 'origin', 'rule', 'name'])].join(' ');
  }
  return [head, ...Object.entries(fields).map(([k, v]) => `${k}=${text(v)}`)].join(' ');
}

/** "kind n, kind n" of a count map, or "none". */
function countList(c: Record<string, number> | undefined): string {
  return (
    Object.entries(c ?? {})
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none'
  );
}

/** The message-counter lines IGMP, PIM and MSDP views end with. */
function messageLines(
  c: { received?: Record<string, number>; sent?: Record<string, number>; errors?: Record<string, number> } | undefined,
): string[] {
  return [`received: ${countList(c?.received)}`, `sent: ${countList(c?.sent)}`, `malformed: ${countList(c?.errors)}`];
}

/** `mcrctl igmp groups`: the querier of each IGMP interface, then one row per group. */
export function renderIgmpGroups(result: IgmpGroupsResult): string {
  if (!result.enabled) return 'IGMP is off (no igmp section in the config)';
  const seconds = (s: number | null | undefined): string => (s === null || s === undefined ? '-' : `${s}s`);
  const lines = result.interfaces.map((i) => {
    if (i.querier === null) return `${i.interface}: waiting (${i.waiting ?? 'not started'})`;
    const q = i.querier.self
      ? `querier (this relay, ${i.querier.address})`
      : `non-querier: querier ${i.querier.address}, expires in ${seconds(i.querier.otherQuerierExpiresIn)}`;
    return `${i.interface}: ${q}`;
  });
  const rows = result.interfaces.flatMap((i) =>
    i.groups.map((g) => [
      i.interface,
      g.group,
      g.mode.toUpperCase(),
      g.sources.length === 0 ? '-' : g.sources.map((s) => (g.mode === 'exclude' && !s.forwarded ? `!${s.source}` : s.source)).join(','),
      g.lastReporter,
      `v${g.compatibilityVersion}`,
      seconds(g.expiresIn),
    ]),
  );
  const table =
    rows.length === 0
      ? 'no groups with listeners'
      : formatTable(['INTERFACE', 'GROUP', 'MODE', 'SOURCES', 'LAST_REPORTER', 'VERSION', 'EXPIRES'], rows);
  return [...lines, '', table, '', ...messageLines(result.counters)].join('\n');
}

/** `mcrctl pim neighbors`: one row per neighbour; DR marks the interface's elected DR. */
export function renderPimNeighbors(result: PimNeighborsResult): string {
  if (!result.enabled) return 'PIM is off (no pim section in the config)';
  if (result.neighbors.length === 0) return 'no PIM neighbours';
  const rows = result.neighbors.map((n) => [
    n.interface,
    n.address,
    formatDuration(number(n.uptime)),
    n.expiresIn === null || n.expiresIn === undefined ? 'never' : `${n.expiresIn}s`,
    n.drPriority === null || n.drPriority === undefined ? '-' : String(n.drPriority),
    n.generationId === null || n.generationId === undefined ? '-' : `0x${n.generationId.toString(16).padStart(8, '0')}`,
    n.dr ? 'DR' : '',
  ]);
  return formatTable(['INTERFACE', 'NEIGHBOR', 'UPTIME', 'EXPIRES', 'DR_PRIORITY', 'GENERATION_ID', ''], rows);
}

/** `mcrctl pim interfaces`: one row per PIM interface, then the message counts. */
export function renderPimInterfaces(result: PimInterfacesResult): string {
  if (!result.enabled) return 'PIM is off (no pim section in the config)';
  const total = (c: Record<string, number> | undefined): number => Object.values(c ?? {}).reduce((a, b) => a + number(b), 0);
  const rows = result.interfaces.map((i) => [
    i.interface,
    i.address ?? `waiting (${i.waiting ?? 'not started'})`,
    i.dr === null ? '-' : i.dr.self ? `${i.dr.address} (this router)` : i.dr.address,
    String(i.drPriority),
    `${i.helloInterval}s`,
    `${i.holdtime}s`,
    String(i.neighbors),
    formatCount(total(i.counters?.received)),
    formatCount(total(i.counters?.sent)),
    formatCount(total(i.counters?.errors)),
  ]);
  const table =
    rows.length === 0
      ? 'no PIM interfaces'
      : formatTable(
          ['INTERFACE', 'ADDRESS', 'DR', 'DR_PRIORITY', 'HELLO', 'HOLDTIME', 'NEIGHBORS', 'RX', 'TX', 'ERRORS'],
          rows,
          (c) => c >= 6,
        );
  const c: PimCountersView | undefined = result.counters;
  return [table, '', ...messageLines(c), `ignored: ${countList(c?.ignored)}`].join('\n');
}

/** Seconds left as "4.2s", or "-" when the timer is not running. */
function secondsLeft(s: number | null | undefined): string {
  return s === null || s === undefined ? '-' : `${s}s`;
}

/** `mcrctl pim rp`: one row per configured RP with the RPF answer towards it. */
export function renderPimRp(result: PimRpResult): string {
  if (!result.enabled) return 'PIM is off (no pim section in the config)';
  if (result.rps.length === 0) return 'no RPs configured';
  const rows = result.rps.map((r) => [
    r.groups,
    r.rp,
    r.self ? 'yes' : 'no',
    r.rpf?.interface ?? 'no route',
    r.rpf === null ? '-' : r.rpf.local ? 'local' : r.rpf.neighbor,
  ]);
  return formatTable(['GROUPS', 'RP', 'SELF', 'RPF_INTERFACE', 'RPF_NEIGHBOR'], rows);
}

/** `mcrctl pim joins`: upstream Join state, downstream Join/Prune state, then the (S,G) state data made. */
export function renderPimJoins(result: PimJoinsResult): string {
  if (!result.enabled) return 'PIM is off (no pim section in the config)';
  const upstream = result.upstream.map((u) => [
    u.route,
    u.rp ?? '-',
    u.state,
    u.rpf?.interface ?? 'no route',
    u.rpf?.neighbor ?? '-',
    secondsLeft(u.joinTimerIn),
    (u.rptPrunes ?? []).length === 0 ? '-' : (u.rptPrunes ?? []).join(','),
  ]);
  const downstream = result.downstream.map((d) => [
    d.route,
    d.kind,
    d.interface,
    d.state,
    // Joined with no Expiry Timer: a holdtime of forever (0xffff).
    d.expiresIn === null ? 'never' : secondsLeft(d.expiresIn),
    secondsLeft(d.prunePendingIn),
  ]);
  const sources = result.sources.map((s) => [
    s.route,
    s.kind,
    secondsLeft(s.keepaliveIn),
    s.register === null ? '-' : s.registerTimerIn === null ? s.register : `${s.register} (${s.registerTimerIn}s)`,
  ]);
  return [
    'upstream:',
    upstream.length === 0
      ? 'no upstream joins'
      : formatTable(['ROUTE', 'RP', 'STATE', 'RPF_INTERFACE', 'RPF_NEIGHBOR', 'JOIN_TIMER', 'RPT_PRUNES'], upstream),
    '',
    'downstream:',
    downstream.length === 0
      ? 'no joins or prunes received'
      : formatTable(['ROUTE', 'KIND', 'INTERFACE', 'STATE', 'EXPIRES', 'PRUNE_PENDING'], downstream),
    '',
    'sources:',
    sources.length === 0 ? 'no data-driven sources' : formatTable(['ROUTE', 'KIND', 'KEEPALIVE', 'REGISTER'], sources),
    // Only where another router forwards onto one of our LANs: most routers never assert.
    ...((result.asserts ?? []).length === 0
      ? []
      : [
          '',
          'asserts:',
          formatTable(
            ['ROUTE', 'INTERFACE', 'STATE', 'WINNER', 'TIMER'],
            (result.asserts ?? []).map((a) => [a.route, a.interface, a.state, a.winner, secondsLeft(a.timerIn)]),
          ),
        ]),
  ].join('\n');
}

/** `mcrctl msdp peers`: one row per configured peer, then the message counts. */
export function renderMsdpPeers(result: MsdpPeersResult): string {
  if (!result.enabled) return 'MSDP is off (no msdp section in the config)';
  const rows = (result.peers ?? []).map((p) => [
    p.address,
    p.state,
    p.uptime === null || p.uptime === undefined ? '-' : formatDuration(number(p.uptime)),
    p.meshGroup ?? '-',
    formatCount(number(p.messagesIn)),
    formatCount(number(p.messagesOut)),
    formatCount(number(p.saLearned)),
    p.lastResetReason ?? '-',
  ]);
  const table = formatTable(
    ['PEER', 'STATE', 'UPTIME', 'MESH_GROUP', 'MSGS_IN', 'MSGS_OUT', 'SA_LEARNED', 'LAST_RESET'],
    rows,
    (c) => c >= 4 && c <= 6,
  );
  const c = result.counters;
  return [
    `local address ${result.localAddress ?? '-'}`,
    table,
    '',
    ...messageLines(c),
    `SAs rejected: ${countList(c?.rejected)}`,
    `connections refused: ${number(c?.refusedConnections)}`,
  ].join('\n');
}

/** `mcrctl msdp sa`: the SA cache, one row per (S,G,RP). */
export function renderMsdpSa(result: MsdpSaResult): string {
  if (!result.enabled) return 'MSDP is off (no msdp section in the config)';
  const lines: string[] = [];
  const entries = result.entries ?? [];
  lines.push(
    entries.length === 0
      ? 'no SAs learned'
      : formatTable(
          ['SOURCE', 'GROUP', 'RP', 'LEARNED_FROM', 'EXPIRES'],
          entries.map((e) => [e.source, e.group, e.rp, e.peer, `${e.expiresIn}s`]),
        ),
  );
  const originated = result.originated ?? [];
  if (originated.length > 0) lines.push('', `originated as RP: ${originated.map((o) => `(${o.source}, ${o.group})`).join(', ')}`);
  return lines.join('\n');
}

/** `mcrctl mroute`: one row per entry of the data plane's table. */
export function renderMroute(result: MrouteResult): string {
  if (result.routes.length === 0) return 'no routes';
  const rows = result.routes.map((r) => [
    r.route,
    r.port === 0 ? 'any' : String(r.port),
    r.protocol,
    r.interface,
    r.outputs.length === 0
      ? '-'
      : r.outputs.map((o) => (o.forwarding === 'routed' ? o.interface : `${o.interface}>${o.group}:${o.port}`)).join(','),
    r.origins.join(','),
    formatCount(number(r.packets)),
  ]);
  return formatTable(['ROUTE', 'PORT', 'PROTO', 'INPUT', 'OUTPUTS', 'ORIGIN', 'PACKETS'], rows, (c) => c === 6);
}
