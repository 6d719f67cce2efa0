// SPDX-License-Identifier: MIT
// `mcrd`: the relay daemon. Parses flags, loads the config, runs the supervisor, and maps
// signals: SIGTERM/SIGINT stop gracefully (FINAL stats lines), SIGHUP reloads the config.
import { Command, InvalidArgumentError, Option } from 'commander';
import { defaultConfig, LIMITS, LOG_FORMATS, LOG_LEVELS, type Config, type LogFormat, type LogLevel } from '../config/types';
import { checkHttpUrl, checkListenAddress, ConfigError, loadConfigFile } from '../config/validate';
import { Daemon } from '../daemon/daemon';
import { reloadRestartNote } from './render';
import { plural } from './table';
import { defaultControlSocket } from '../control/protocol';
import { resolveGroup, type GroupEntry } from '../lib/groups';
import { McrError } from '../lib/errors';
import { Logger } from '../lib/logger';
import { packageVersion } from '../lib/version';
import { TelemetrySettingsError } from '../telemetry/settings';

function parseWorkers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > LIMITS.maxWorkers)
    throw new InvalidArgumentError(`expected an integer from 1 to ${LIMITS.maxWorkers}, got "${value}"`);
  return n;
}

function parseGroup(value: string): GroupEntry {
  try {
    return resolveGroup(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
}

/** A commander argument parser from one of the config validator's checks (same message). */
function checked(check: (value: unknown, path: string, problems: string[]) => string | undefined, what: string) {
  return (value: string): string => {
    const problems: string[] = [];
    const ok = check(value, what, problems);
    if (ok === undefined) throw new InvalidArgumentError(problems.join('; ').replace(`${what}: `, ''));
    return ok;
  };
}

interface Flags {
  config?: string;
  controlSocket: string;
  controlSocketGroup?: GroupEntry;
  countersFile?: string;
  workers?: number;
  logLevel?: LogLevel;
  logFormat?: LogFormat;
  otlpEndpoint?: string;
  metricsListen?: string;
}

async function main(): Promise<void> {
  const program = new Command('mcrd')
    .description('Userspace multicast relay daemon: AF_PACKET in, UDP out, rules changed at runtime with mcrctl.')
    .version(packageVersion())
    .option('-c, --config <file>', 'JSON5 config file (rules, workers, defaults); reloaded on SIGHUP')
    .addOption(
      new Option('-s, --control-socket <path>', 'UNIX socket for mcrctl, mode 0660').default(
        defaultControlSocket(),
        '$MCR_CONTROL_SOCKET, else /run/mcr/mcrd.sock',
      ),
    )
    .option(
      '--control-socket-group <group>',
      "group (name or gid) given the control socket, mode 0660: its members may use mcrctl (default: mcrd's own group)",
      parseGroup,
    )
    .option('-w, --workers <n>', 'forwarding worker threads (overrides the config file)', parseWorkers)
    .addOption(new Option('--log-level <level>', 'error, warn, info, debug or trace (overrides the config file)').choices(LOG_LEVELS))
    .addOption(new Option('--log-format <format>', 'text or json (overrides the config file)').choices(LOG_FORMATS))
    .option(
      '--otlp-endpoint <url>',
      'export metrics and traces over OTLP/HTTP to this base URL (…/v1/metrics, …/v1/traces; overrides the config file and OTEL_EXPORTER_OTLP_*ENDPOINT)',
      checked(checkHttpUrl, '--otlp-endpoint'),
    )
    .option(
      '--metrics-listen <host:port>',
      'serve Prometheus metrics at GET /metrics on this address (port 0: any free port; overrides the config file)',
      checked(checkListenAddress, '--metrics-listen'),
    )
    .addOption(new Option('--counters-file <path>', 'shared counter file (default /dev/shm/mcrd-PID.counters)').hideHelp())
    .showHelpAfterError(false)
    .exitOverride()
    // Usage errors as one line, like mcrctl: `mcrd: <reason>`, exit 2.
    .configureOutput({ outputError: (text) => process.stderr.write(`mcrd: ${text.replace(/^error: /, '').trim()}\n`) });
  try {
    program.parse();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'commander.helpDisplayed' || code === 'commander.version') process.exit(0);
    process.exit(2);
  }
  const flags = program.opts<Flags>();

  let config: Config;
  try {
    config = flags.config ? loadConfigFile(flags.config) : defaultConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mcrd: invalid configuration: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = Logger.create(flags.logLevel ?? config.logLevel, flags.logFormat ?? config.logFormat, 'mcrd');
  let daemon: Daemon;
  try {
    daemon = new Daemon(
      {
        ...(flags.config ? { configPath: flags.config } : {}),
        controlSocket: flags.controlSocket,
        ...(flags.controlSocketGroup ? { controlSocketGroup: flags.controlSocketGroup } : {}),
        ...(flags.countersFile ? { countersPath: flags.countersFile } : {}),
        ...(flags.workers ? { workers: flags.workers } : {}),
        ...(flags.logLevel ? { logLevel: flags.logLevel } : {}),
        ...(flags.logFormat ? { logFormat: flags.logFormat } : {}),
        ...(flags.otlpEndpoint ? { otlpEndpoint: flags.otlpEndpoint } : {}),
        ...(flags.metricsListen ? { metricsListen: flags.metricsListen } : {}),
      },
      log,
      config,
    );
  } catch (err) {
    // A bad OTEL_* variable: the environment cannot work as given, so a restart would fail too.
    if (err instanceof TelemetrySettingsError) {
      process.stderr.write(`mcrd: invalid telemetry setting: ${err.message}\n`);
      process.exit(2);
    }
    // The counter file cannot be made (its name is a running daemon's, /dev/shm is full, ...).
    process.stderr.write(`mcrd: ${(err as Error).message}\n`);
    process.exit(1);
  }

  const stop = (signal: string): void => {
    log.info(`${signal}: stopping`);
    daemon.stop().then(
      () => process.exit(0),
      (err: Error) => {
        log.error(`stop failed: ${err.message}`);
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    daemon.reload().then(
      (r) =>
        log.info(
          `SIGHUP: configuration reloaded (${plural(r.rules, 'rule')}, ${r.added} added, ${r.changed} changed, ${r.removed} removed)${reloadRestartNote(r)}`,
        ),
      // An invalid file names only its problems; the data plane's refusal already says that the
      // running rules are unchanged, so it is logged as it is instead of with its words stripped.
      (err: Error) =>
        log.error(
          err instanceof ConfigError ? `SIGHUP: reload rejected, running rules unchanged: ${err.message}` : `SIGHUP: ${err.message}`,
        ),
    );
  });

  try {
    await daemon.start();
  } catch (err) {
    process.stderr.write(`mcrd: ${(err as Error).message}\n`);
    await daemon.stop().catch(() => undefined);
    // 2: the config or an option cannot work as given (cpus this machine lacks, a socket group
    // mcrd may not choose), so a restart would fail the same way; 1: anything else.
    process.exit(err instanceof McrError && err.code === 'EINVAL' ? 2 : 1);
  }
}

void main();
