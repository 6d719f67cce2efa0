// SPDX-License-Identifier: MIT
// mcrctl entry point: parses the command line, sends one control-protocol request per command
// (docs/control-protocol.md), prints the result as a table or as JSON (--json).
// Exit codes: 0 ok, 1 failure (one `mcrctl: <reason>` line on stderr), 2 usage error.

import { setTimeout as sleep } from 'node:timers/promises';
import { Command, CommanderError, Option } from 'commander';
import { type InputProtocol, LIMITS, LOG_LEVELS, type LogLevel, type OutputSpec, type RuleSpec, type Ttl } from '../config/types';
import { ConfigError, configWarnings, loadConfigFile, parseOutputShorthand, validateRuleSpec } from '../config/validate';
import { ControlClient, type RequestArgs } from '../control/client';
import { defaultControlSocket, type Method, type Methods, type RuleSelector, type Stats, type VersionResult } from '../control/protocol';
import { packageVersion } from '../lib/version';
import { plural } from './table';
import {
  renderEvent,
  renderIgmpGroups,
  renderMroute,
  renderMsdpPeers,
  renderMsdpSa,
  renderPimInterfaces,
  renderPimJoins,
  renderPimNeighbors,
  renderPimRp,
  renderPing,
  renderRules,
  reloadRestartNote,
  renderStats,
  renderTrace,
  renderWorkers,
} from './render';
import { McrError } from '../lib/errors';

/** The user typed something mcrctl cannot accept (exit 2). */
class UsageError extends McrError {
  constructor(message: string) {
    super('EUSAGE', message);
  }
}

interface GlobalOptions {
  socket: string;
  json: boolean;
}

function buildProgram(): Command {
  const program = new Command('mcrctl')
    .description('control a running mcrd (multicast relay daemon)')
    .version(packageVersion(), '-V, --version')
    .addOption(
      new Option('--socket <path>', 'mcrd control socket (default: $MCR_CONTROL_SOCKET, else /run/mcr/mcrd.sock)').default(
        defaultControlSocket(),
      ),
    )
    .option('--json', 'print the raw result as JSON', false)
    .exitOverride()
    // Usage errors are printed by main() as one `mcrctl: ...` line.
    .configureOutput({ outputError: () => {} });

  const globals = (): GlobalOptions => program.opts<GlobalOptions>();

  program
    .command('add')
    .description('add a forwarding rule')
    .requiredOption('--input-interface <name>', 'interface the input stream arrives on')
    .requiredOption('--input-group <address>', 'group (or unicast address) the input stream is sent to')
    .option('--input-port <port>', 'UDP destination port of the input stream, 0 = any port (none with --input-protocol esp)')
    .option('--input-source <address>', 'only packets from this source address (an (S,G) rule)')
    .option(
      '--input-protocol <protocol>',
      'udp (default) or esp: IP protocol 50, no port, outputs keep the input group and are forwarded as a router',
    )
    .requiredOption('--outputs <list>', 'GROUP:PORT:INTERFACE[,GROUP:PORT:INTERFACE...] (repeatable)', collect)
    .option('--name <name>', 'a name for the rule')
    .option(
      '--ttl <ttl>',
      'TTL for the outputs given here: 1-255, or "decrement" (the received TTL minus one) (default: the daemon\'s configured ttl)',
    )
    .option('--source <address>', 'source address for the outputs given here')
    .option('--only-with-listeners', 'the outputs given here forward only while their group has a listener (IGMP)')
    .action(async (opts: AddOptions) => {
      const spec = ruleSpecFromOptions(opts);
      const result = await call(globals(), 'add', spec);
      print(globals(), result, () => result.rule.id);
    });

  program
    .command('remove')
    .description('remove a rule, by id or by name')
    .option('--rule-id <id>', 'the rule id (see `mcrctl list`)')
    .option('--name <name>', 'the rule name')
    .action(async (opts: { ruleId?: string; name?: string }) => {
      const params: RuleSelector | undefined =
        opts.ruleId === undefined
          ? opts.name === undefined
            ? undefined
            : { name: opts.name }
          : opts.name === undefined
            ? { id: opts.ruleId }
            : undefined;
      if (params === undefined) {
        throw new UsageError('remove: give exactly one of --rule-id or --name');
      }
      const result = await call(globals(), 'remove', params);
      const { id, name } = result.removed;
      print(globals(), result, () => `removed ${id}${name === undefined ? '' : ` (${name})`}`);
    });

  program
    .command('list')
    .description('list rules and their interface status')
    .action(async () => {
      const result = await call(globals(), 'list');
      print(globals(), result, () => renderRules(result.rules));
    });

  program
    .command('stats')
    .description('show packet counters; --watch shows rates until Ctrl-C')
    .option('--watch [seconds]', 'refresh every SECONDS (default 1) and show rates per second')
    .action(async (opts: { watch?: string | true }) => {
      if (opts.watch === undefined) {
        const result = await call(globals(), 'stats');
        print(globals(), result, () => renderStats(result));
        return;
      }
      await watchStats(globals(), parseInterval(opts.watch));
    });

  program
    .command('workers')
    .description('show the data-plane process and its workers')
    .action(async () => {
      const result = await call(globals(), 'workers');
      print(globals(), result, () => renderWorkers(result));
    });

  program
    .command('mroute')
    .description('show every route the data plane uses, static and learned, with its packets')
    .action(async () => {
      const result = await call(globals(), 'mroute');
      print(globals(), result, () => renderMroute(result));
    });

  program
    .command('igmp')
    .description('IGMP state')
    .command('groups')
    .description('show the querier of each IGMP interface and its groups with listeners')
    .action(async () => {
      const result = await call(globals(), 'igmp.groups');
      print(globals(), result, () => renderIgmpGroups(result));
    });

  const pim = program.command('pim').description('PIM state');
  pim
    .command('neighbors')
    .description('show the PIM neighbours of every PIM interface')
    .action(async () => {
      const result = await call(globals(), 'pim.neighbors');
      print(globals(), result, () => renderPimNeighbors(result));
    });
  pim
    .command('interfaces')
    .description('show each PIM interface: address, DR, Hello settings, neighbours and message counts')
    .action(async () => {
      const result = await call(globals(), 'pim.interfaces');
      print(globals(), result, () => renderPimInterfaces(result));
    });
  pim
    .command('rp')
    .description('show the RP of each group range and the RPF interface and neighbour towards it')
    .action(async () => {
      const result = await call(globals(), 'pim.rp');
      print(globals(), result, () => renderPimRp(result));
    });
  pim
    .command('joins')
    .description('show the Joins sent upstream, the Joins and Prunes received, and the (S,G) state data made')
    .action(async () => {
      const result = await call(globals(), 'pim.joins');
      print(globals(), result, () => renderPimJoins(result));
    });

  const msdp = program.command('msdp').description('MSDP state');
  msdp
    .command('peers')
    .description('show each MSDP peer: state, uptime, mesh group, messages, SAs learned, last reset reason')
    .action(async () => {
      const result = await call(globals(), 'msdp.peers');
      print(globals(), result, () => renderMsdpPeers(result));
    });
  msdp
    .command('sa')
    .description('show the MSDP SA cache: (source, group, RP), the peer each came from, and when it expires')
    .action(async () => {
      const result = await call(globals(), 'msdp.sa');
      print(globals(), result, () => renderMsdpSa(result));
    });

  program
    .command('trace')
    .description('show or change span sampling; --rule records the next batches of one rule')
    .option('--sample <n>', 'time one receive batch in N (0 = off) until the next reload or data-plane restart', (v) =>
      parseWhole(v, '--sample', 0, LIMITS.maxSpanSampleEvery),
    )
    .option('--rule <name-or-id>', 'record the next --count batches that touch this rule, whatever the sampling')
    .option('--count <k>', 'batches to record with --rule (default 1, at most 10000)', (v) => parseWhole(v, '--count', 1, 10_000))
    .option('--timeout <seconds>', 'how long --rule waits for them (default 10, at most 3600)', (v) => parseWhole(v, '--timeout', 1, 3600))
    .action(async (opts: { sample?: number; rule?: string; count?: number; timeout?: number }) => {
      if (opts.rule === undefined && (opts.count !== undefined || opts.timeout !== undefined))
        throw new UsageError('trace: --count and --timeout need --rule');
      const params = {
        ...(opts.sample !== undefined ? { sample: opts.sample } : {}),
        ...(opts.rule !== undefined ? { rule: opts.rule, count: opts.count ?? 1 } : {}),
        ...(opts.timeout !== undefined ? { timeoutSeconds: opts.timeout } : {}),
      };
      const waitMs = opts.rule !== undefined ? ((opts.timeout ?? 10) + 5) * 1000 : undefined;
      const client = new ControlClient(globals().socket, waitMs);
      try {
        const result = await client.request('trace', params);
        print(globals(), result, () => renderTrace(result));
      } finally {
        client.close();
      }
    });

  const logLevel = program.command('log-level').description('get or set the daemon log level');
  logLevel
    .command('get')
    .description('print the current log level')
    .action(async () => {
      const result = await call(globals(), 'logLevel.get');
      print(globals(), result, () => result.level);
    });
  logLevel
    .command('set')
    .description(`set the log level (${LOG_LEVELS.join(', ')})`)
    .argument('<level>')
    .action(async (level: string) => {
      if (!isLogLevel(level)) {
        throw new UsageError(`log-level set: expected one of ${LOG_LEVELS.join(', ')}, got "${level}"`);
      }
      const result = await call(globals(), 'logLevel.set', { level });
      print(globals(), result, () => `log level set to ${result.level}`);
    });

  const config = program.command('config').description('show, check or reload the configuration');
  config
    .command('show')
    .description('print the running configuration as JSON')
    .action(async () => {
      const result = await call(globals(), 'config.show');
      print(globals(), result, () => JSON.stringify(result.config, null, 2));
    });
  config
    .command('check')
    .description('validate a configuration file locally (no daemon needed)')
    .argument('<file>')
    .action((file: string) => checkConfigFile(globals(), file));
  config
    .command('reload')
    .description('re-read the configuration file (same as SIGHUP)')
    .action(async () => {
      const result = await call(globals(), 'config.reload');
      print(
        globals(),
        result,
        () =>
          `reloaded: ${plural(result.rules, 'rule')} (${result.added} added, ${result.changed ?? 0} changed, ${result.removed} removed)${reloadRestartNote(result)}`,
      );
    });

  program
    .command('events')
    .description("print the daemon's events as they happen (routes, interfaces, data plane) until Ctrl-C")
    .option('--queue <n>', 'events mcrd keeps for this client while it cannot keep up (default 1000)', (v) =>
      parseWhole(v, '--queue', 1, 10_000),
    )
    .action((opts: { queue?: number }) => followEvents(globals(), opts.queue));

  program
    .command('ping')
    .description('check that mcrd answers')
    .action(async () => {
      const result = await call(globals(), 'ping');
      print(globals(), result, () => renderPing(result));
    });

  program
    .command('version')
    .description('print the mcrctl version and, if reachable, the mcrd version')
    .action(async () => {
      let daemon: VersionResult | null = null;
      let unreachable = '';
      try {
        daemon = await call(globals(), 'version');
      } catch (err) {
        unreachable = errorMessage(err);
      }
      const result = { mcrctl: packageVersion(), mcrd: daemon };
      print(globals(), result, () =>
        [
          `mcrctl ${result.mcrctl}`,
          daemon === null ? `mcrd not reachable (${unreachable})` : `mcrd ${daemon.version} (protocol ${daemon.protocol})`,
        ].join('\n'),
      );
    });

  return program;
}

interface AddOptions {
  inputInterface: string;
  inputGroup: string;
  inputPort?: string;
  inputSource?: string;
  inputProtocol?: string;
  outputs: string[];
  name?: string;
  ttl?: string;
  source?: string;
  onlyWithListeners?: boolean;
}

/**
 * Checked locally so mistakes are reported at once, in terms of the options the user typed.
 * The spec sent leaves ttl out unless --ttl was given: the daemon fills in its configured default.
 */
function ruleSpecFromOptions(opts: AddOptions): RuleSpec {
  let outputs: OutputSpec[];
  try {
    outputs = opts.outputs.flatMap((list) => parseOutputShorthand(list));
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(`--outputs: ${err.problems.join('; ')}`);
    throw err;
  }
  for (const output of outputs) {
    if (opts.ttl !== undefined) output.ttl = integerOrText(opts.ttl) as Ttl;
    if (opts.source !== undefined) output.source = opts.source;
    if (opts.onlyWithListeners === true) output.onlyWithListeners = true;
  }
  if (opts.inputPort === undefined && opts.inputProtocol !== 'esp')
    throw new UsageError('--input-port: missing (a UDP port, or 0 for any port)');
  const spec: RuleSpec = {
    input: { interface: opts.inputInterface, group: opts.inputGroup, port: integerOrText(opts.inputPort ?? '0') as number },
    outputs,
  };
  if (opts.inputSource !== undefined) spec.input.source = opts.inputSource;
  if (opts.inputProtocol !== undefined) spec.input.protocol = opts.inputProtocol as InputProtocol;
  if (opts.name !== undefined) spec.name = opts.name;
  try {
    validateRuleSpec(structuredClone(spec));
  } catch (err) {
    if (err instanceof ConfigError) throw new UsageError(unique(err.problems.map(toOptionNames)).join('; '));
    throw err;
  }
  return spec;
}

/** `rule.input.port: ...` → `--input-port: ...`, so the message names what the user typed. */
function toOptionNames(problem: string): string {
  return problem
    .replace(/^rule\.input\.interface:/, '--input-interface:')
    .replace(/^rule\.input\.group:/, '--input-group:')
    .replace(/^rule\.input\.port:/, '--input-port:')
    .replace(/^rule\.input\.source:/, '--input-source:')
    .replace(/^rule\.input\.protocol:/, '--input-protocol:')
    .replace(/^rule\.outputs\[\d+\]\.onlyWithListeners:/, '--only-with-listeners:')
    .replace(/^rule\.name:/, '--name:')
    .replace(/^rule\.outputs\[\d+\]\.ttl:/, '--ttl:')
    .replace(/^rule\.outputs\[\d+\]\.source:/, '--source:')
    .replace(/^rule\.outputs(\[\d+\])?(\.\w+)?:/, '--outputs:');
}

function checkConfigFile(globals: GlobalOptions, file: string): void {
  try {
    const config = loadConfigFile(file);
    const warnings = configWarnings(config);
    if (!globals.json) for (const warning of warnings) process.stderr.write(`${file}: warning: ${warning}\n`);
    print(globals, { file, ok: true, rules: config.rules.length, warnings }, () => `${file}: ok (${plural(config.rules.length, 'rule')})`);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (globals.json) writeLine(JSON.stringify({ file, ok: false, problems: err.problems }, null, 2));
    else process.stderr.write(err.problems.map((problem) => `${file}: ${problem}\n`).join(''));
    process.exitCode = 1;
  }
}

async function watchStats(globals: GlobalOptions, intervalSeconds: number): Promise<void> {
  const client = new ControlClient(globals.socket);
  const stop = new AbortController();
  // Closing the client also ends a request in flight, so Ctrl-C never waits for a reply.
  const onInterrupt = (): void => {
    stop.abort();
    client.close();
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  const redraw = process.stdout.isTTY === true;
  let previous: Stats | undefined;
  try {
    while (!stop.signal.aborted) {
      let stats: Stats;
      try {
        stats = await client.request('stats');
      } catch (err) {
        if (stop.signal.aborted) break;
        throw err;
      }
      if (globals.json) {
        writeLine(JSON.stringify(stats));
      } else {
        // Clear and home the cursor on a terminal; when piped, separate samples by a blank line.
        const text = renderStats(stats, previous);
        process.stdout.write(redraw ? `\x1b[H\x1b[2J${text}\n` : `${previous === undefined ? '' : '\n'}${text}\n`);
      }
      previous = stats;
      try {
        await sleep(intervalSeconds * 1000, undefined, { signal: stop.signal });
      } catch {
        break; // Ctrl-C during the pause: a normal way to stop watching
      }
    }
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
    client.close();
  }
}

/**
 * `mcrctl events`: one line per event (--json: each event's JSON exactly as mcrd sent it) until
 * Ctrl-C (exit 0) or mcrd ends the stream (exit 1). A slow stdout pauses reading: mcrd then
 * drops the oldest events for us and says how many, instead of either side growing without bound.
 */
async function followEvents(globals: GlobalOptions, queue: number | undefined): Promise<void> {
  const client = new ControlClient(globals.socket);
  let interrupted = false;
  let paused = false;
  const onInterrupt = (): void => {
    interrupted = true;
    client.close();
  };
  process.once('SIGINT', onInterrupt);
  process.once('SIGTERM', onInterrupt);
  try {
    const { ended } = await client.subscribe('events', queue === undefined ? undefined : { queue }, (event, line) => {
      if (!process.stdout.write(`${globals.json ? line : renderEvent(event)}\n`) && !paused) {
        paused = true;
        client.pause();
        process.stdout.once('drain', () => {
          paused = false;
          client.resume();
        });
      }
    });
    const failure = await ended;
    if (failure && !interrupted) throw failure;
  } catch (err) {
    if (!interrupted) throw err;
  } finally {
    process.off('SIGINT', onInterrupt);
    process.off('SIGTERM', onInterrupt);
    client.close();
  }
}

function parseWhole(value: string, flag: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^[0-9]+$/.test(value) || n < min || n > max)
    throw new UsageError(`${flag}: expected a whole number from ${min} to ${max}, got "${value}"`);
  return n;
}

function parseInterval(value: string | true): number {
  if (value === true) return 1;
  const seconds = Number(value);
  if (!/^[0-9]*\.?[0-9]+$/.test(value) || !(seconds >= 0.1)) {
    throw new UsageError(`--watch: expected a number of seconds >= 0.1, got "${value}"`);
  }
  return seconds;
}

// A reload may restart the data plane (new rings, up to the daemon's own 15 s start limit), so it
// gets longer than the 5 s that every other request has.
const SLOW_METHODS: Partial<Record<Method, number>> = { 'config.reload': 30_000 };

async function call<M extends Method>(
  globals: GlobalOptions,
  method: M,
  ...args: RequestArgs<Methods[M]['params']>
): Promise<Methods[M]['result']> {
  const client = new ControlClient(globals.socket, SLOW_METHODS[method]);
  try {
    return await client.request(method, ...args);
  } finally {
    client.close();
  }
}

/** --json prints the result exactly as mcrd sent it; otherwise the human rendering. */
function print(globals: GlobalOptions, result: unknown, human: () => string): void {
  writeLine(globals.json ? JSON.stringify(result, null, 2) : human());
}

function writeLine(text: string): void {
  process.stdout.write(`${text}\n`);
}

function isLogLevel(text: string): text is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(text);
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}

/** Numeric option text becomes a number; anything else is passed on for validation to name. */
function integerOrText(text: string): number | string {
  return /^[0-9]+$/.test(text) ? Number(text) : text;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function errorMessage(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

async function main(argv: string[]): Promise<void> {
  // `mcrctl stats | head` closes stdout early; that is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and --version exit 0; help shown because no command was given already went to stderr.
      if (err.exitCode === 0) return;
      if (err.code !== 'commander.help') process.stderr.write(`mcrctl: ${errorMessage(err).replace(/^error: /, '')}\n`);
      process.exitCode = 2;
      return;
    }
    process.stderr.write(`mcrctl: ${errorMessage(err)}\n`);
    process.exitCode = err instanceof UsageError ? 2 : 1;
  }
}

void main(process.argv);
