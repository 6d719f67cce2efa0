// SPDX-License-Identifier: MIT
// FRR (zebra + pimd, the Debian frr package) started inside a lab namespace as an independent IGMP
// querier / PIM router to test mcr against. Each instance has its own FRR pathspace (`-N NAME`):
// /var/run/frr/NAME holds its vty sockets, pid files and zserv.api (so pimd finds its own zebra),
// /etc/frr/NAME its configs (the default place of <daemon>.conf and vtysh.conf under -N in 8.4;
// the daemons get theirs with -f anyway). The daemons run in the foreground under the cleanup registry, logging
// to stdout; stop() ends them by pid and removes both directories.
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { kernelMulticastRoutingMissing, type Topology } from './netns';
import { cleanup, sh, sleep, type Proc } from './proc';

export const FRR_DIR = '/usr/lib/frr';
const RUN_ROOT = '/var/run/frr';
const CONFIG_ROOT = '/etc/frr';
/** The package's daemon user and group: the daemons drop to them, so they must own the run dir and read the configs. */
const FRR_USER = 'frr';

export type FrrDaemon = 'zebra' | 'pimd';

/** Why FRR cannot run here, or undefined when it can. */
export function frrSkipReason(): string | undefined {
  for (const d of ['zebra', 'pimd'] as const)
    if (!existsSync(path.join(FRR_DIR, d))) return `FRR not installed (no ${FRR_DIR}/${d}): apt-get install frr`;
  if (!existsSync('/usr/bin/vtysh')) return 'FRR not installed (no vtysh)';
  if (frrIds() === undefined) return `no user ${FRR_USER} (the frr package creates it)`;
  const noMroute = kernelMulticastRoutingMissing();
  if (noMroute) return `FRR's pimd needs the kernel's multicast routing, and ${noMroute}`;
  return undefined;
}

function frrIds(): { uid: number; gid: number } | undefined {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${FRR_USER}:`));
  const [, , uid, gid] = line?.split(':') ?? [];
  return uid === undefined || gid === undefined ? undefined : { uid: Number(uid), gid: Number(gid) };
}

export interface FrrOptions {
  /** The pathspace name (`-N`): unique on the host, [A-Za-z0-9_-] only (default: the namespace's full name, unique already). */
  name?: string;
  /** pimd's configuration (interfaces with `ip igmp` / `ip pim`, MSDP peers, ...). */
  pimd: string;
  /** zebra's configuration (default: only the hostname). */
  zebra?: string;
  /** `--log-level` of both daemons (default informational). */
  logLevel?: 'debugging' | 'informational' | 'notifications' | 'warnings' | 'errors';
  /** How long to wait for both daemons' vty to answer (default 15 s). */
  timeoutMs?: number;
}

/** A running FRR instance: its daemons, and vtysh against them. */
export class FrrInstance {
  private readonly hook: number;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly runDir: string,
    readonly configDir: string,
    readonly daemons: ReadonlyMap<FrrDaemon, Proc>,
  ) {
    this.hook = cleanup.add(`frr ${name}`, () => this.stop());
  }

  /** Every daemon's log so far (stdout and stderr), for failure messages. */
  get logs(): string {
    return [...this.daemons].map(([d, p]) => `--- ${d} (${p.running ? 'running' : 'exited'})\n${p.stdout}${p.stderr}`).join('\n');
  }

  /**
   * Runs vtysh commands (several: one session, in order, e.g. 'configure terminal', 'interface x',
   * ...) and returns the output; throws on a command FRR refuses (vtysh exits non-zero) and on
   * output starting with `%` (FRR's error marker).
   */
  async vtysh(cmd: string | string[], daemon?: FrrDaemon): Promise<string> {
    const cmds = typeof cmd === 'string' ? [cmd] : cmd;
    const r = await sh('vtysh', ['-N', this.name, ...(daemon ? ['-d', daemon] : []), ...cmds.flatMap((c) => ['-c', c])], {
      allowFail: true,
      timeoutMs: 15_000,
    });
    const out = r.stdout.trim();
    if (r.code !== 0 || out.startsWith('%'))
      throw new Error(`vtysh -N ${this.name} ${cmds.map((c) => `-c '${c}'`).join(' ')} failed (${r.code}): ${(out || r.stderr).trim()}`);
    return r.stdout;
  }

  /** A show command's JSON form (`json` is appended): parsed, or an error quoting what came back. */
  async vtyshJson<T = unknown>(cmd: string, daemon?: FrrDaemon): Promise<T> {
    const out = await this.vtysh(`${cmd} json`, daemon);
    try {
      return JSON.parse(out) as T;
    } catch {
      throw new Error(`vtysh -N ${this.name} -c '${cmd} json' did not answer JSON: ${out.slice(0, 500)}`);
    }
  }

  /** Stops the daemons (pimd first, SIGTERM then SIGKILL after 5 s) and removes the run and config dirs. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      for (const d of [...this.daemons.keys()].reverse()) await this.daemons.get(d)?.stop('SIGTERM', 5000);
      rmSync(this.runDir, { recursive: true, force: true });
      rmSync(this.configDir, { recursive: true, force: true });
      cleanup.remove(this.hook);
    })();
    return this.stopping;
  }
}

/**
 * Starts zebra, then pimd, in namespace `ns` under pathspace `name` and waits until each answers
 * `show version` on its own vty. Whatever a previous run left in the pathspace's directories is
 * removed first. On a failure the daemons started so far are stopped and the error carries their logs.
 */
export async function startFrr(t: Topology, ns: string, o: FrrOptions): Promise<FrrInstance> {
  const name = o.name ?? t.ns(ns);
  if (!/^[A-Za-z0-9_-]+$/.test(name)) throw new Error(`FRR pathspace name ${JSON.stringify(name)}: use letters, digits, _ and - only`);
  const ids = frrIds();
  if (!ids) throw new Error(`FRR: no user ${FRR_USER} in /etc/passwd (install the frr package)`);
  const runDir = path.join(RUN_ROOT, name);
  const configDir = path.join(CONFIG_ROOT, name);

  // /var/run is a tmpfs: after a reboot /var/run/frr exists only once the frr service ran.
  if (!existsSync(RUN_ROOT)) {
    mkdirSync(RUN_ROOT, { mode: 0o755 });
    chownSync(RUN_ROOT, ids.uid, ids.gid);
  }
  for (const dir of [runDir, configDir]) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o750 });
    chownSync(dir, ids.uid, ids.gid);
  }
  const write = (file: string, text: string): string => {
    const p = path.join(configDir, file);
    writeFileSync(p, text.endsWith('\n') ? text : `${text}\n`, { mode: 0o640 });
    chownSync(p, ids.uid, ids.gid);
    return p;
  };
  const configs: Record<FrrDaemon, string> = {
    zebra: write('zebra.conf', o.zebra ?? `hostname ${name}\n`),
    pimd: write('pimd.conf', o.pimd),
  };
  // vtysh reads it on every call and complains to stderr when it is missing
  write('vtysh.conf', '');

  const daemons = new Map<FrrDaemon, Proc>();
  const inst = new FrrInstance(name, runDir, configDir, daemons);
  const timeoutMs = o.timeoutMs ?? 15_000;
  try {
    // zebra first: pimd connects to its zserv.api in the run dir at startup
    for (const d of ['zebra', 'pimd'] as const) {
      const args = [
        '-N',
        name,
        '-f',
        configs[d],
        '-i',
        path.join(runDir, `${d}.pid`),
        '--log',
        'stdout',
        '--log-level',
        o.logLevel ?? 'informational',
      ];
      // -P 0: no TCP vty (the unix socket in the run dir is all vtysh uses)
      daemons.set(d, t.spawn(ns, `${d} ${name}`, path.join(FRR_DIR, d), [...args, '-P', '0']));
      await waitForVty(inst, d, timeoutMs);
    }
  } catch (err) {
    const logs = inst.logs;
    await inst.stop();
    throw new Error(`${(err as Error).message}\n${logs}`);
  }
  return inst;
}

async function waitForVty(inst: FrrInstance, d: FrrDaemon, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const p = inst.daemons.get(d);
    if (!p?.running) throw new Error(`FRR ${inst.name}: ${d} exited before its vty answered`);
    try {
      if ((await inst.vtysh('show version', d)).includes('FRRouting')) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`FRR ${inst.name}: ${d} did not answer on its vty within ${timeoutMs / 1000} s: ${last}`);
    await sleep(100);
  }
}
