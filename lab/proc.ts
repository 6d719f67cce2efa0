// SPDX-License-Identifier: MIT
// Child processes and the process-wide cleanup registry of the network lab (tests and bench): every
// process, namespace and temp directory the lab creates is registered here, so that once the bench
// has installed its signal handlers, Ctrl-C (SIGINT/SIGTERM), an error or a normal exit tears all
// of it down. Processes are only ever ended by their own pid.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Runs a command to completion; throws (with stderr) unless allowFail. */
export async function sh(
  cmd: string,
  args: string[],
  opts: { allowFail?: boolean; timeoutMs?: number; evenIfInterrupted?: boolean } = {},
): Promise<CommandResult> {
  // after Ctrl-C only the cleanup may run commands (nothing new gets created)
  if (signalled && !opts.evenIfInterrupted) throw new Error('interrupted');
  try {
    const { stdout, stderr } = await execFileP(cmd, args, { timeout: opts.timeoutMs ?? 60_000, maxBuffer: 64 << 20 });
    return { stdout, stderr, code: 0 };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; code?: number | string; message?: string };
    if (!opts.allowFail)
      throw new Error(`${cmd} ${args.join(' ')} failed: ${(e.stderr ?? e.message ?? '').trim()} (${String(e.code ?? '')})`);
    return { stdout: e.stdout ?? '', stderr: e.stderr ?? '', code: typeof e.code === 'number' ? e.code : 1 };
  }
}

/** Whether a process with this pid exists (signal 0 probes without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A spawned child with its output collected and its exit awaitable. */
export class Proc {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  constructor(
    readonly label: string,
    readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.stderr += d.toString()));
    this.exited = new Promise((resolve) => {
      child.on('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        resolve(this.exitCode);
      });
      child.on('error', () => {
        this.exitCode = -1;
        resolve(-1);
      });
    });
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Sends a signal, waits up to graceMs, then SIGKILL; resolves with the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<number | null> {
    if (!this.running) return this.exitCode ?? null;
    this.child.kill(signal);
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), graceMs));
    const r = await Promise.race([this.exited, timer]);
    if (r === 'timeout') {
      this.child.kill('SIGKILL');
      return this.exited;
    }
    return r;
  }
}

type Cleanup = () => Promise<void> | void;

class Registry {
  private readonly procs = new Set<Proc>();
  private readonly hooks = new Map<number, { label: string; fn: Cleanup }>();
  private nextHook = 1;
  private running: Promise<void> | undefined;

  track(p: Proc): Proc {
    this.procs.add(p);
    void p.exited.then(() => this.procs.delete(p));
    return p;
  }

  /** Registers a cleanup step (runs in reverse registration order); returns a handle to drop it. */
  add(label: string, fn: Cleanup): number {
    const id = this.nextHook++;
    this.hooks.set(id, { label, fn });
    return id;
  }

  remove(id: number): void {
    this.hooks.delete(id);
  }

  /** Kills every tracked process (by pid) and runs every hook; safe to call more than once. */
  runAll(): Promise<void> {
    this.running ??= (async () => {
      // SIGTERM first (mcrd removes its socket and counter file), SIGKILL what is left after 2 s
      const live = [...this.procs].filter((p) => p.running);
      for (const p of live) p.child.kill('SIGTERM');
      const deadline = Date.now() + 2000;
      while (live.some((p) => p.running) && Date.now() < deadline) await sleep(50);
      for (const p of live) if (p.running) p.child.kill('SIGKILL');
      const hooks = [...this.hooks.entries()].reverse();
      this.hooks.clear();
      for (const [, h] of hooks) {
        try {
          await h.fn();
        } catch (err) {
          process.stderr.write(`bench: cleanup "${h.label}" failed: ${(err as Error).message}\n`);
        }
      }
    })();
    const done = this.running;
    void done.then(() => (this.running = undefined));
    return done;
  }
}

export const cleanup = new Registry();

/** Spawns a tracked child (killed on Ctrl-C); stdout/stderr are collected on the Proc. */
export function start(label: string, cmd: string, args: string[], opts: { stdin?: 'ignore' | 'pipe' } = {}): Proc {
  if (signalled) throw new Error('interrupted');
  const child = spawn(cmd, args, { stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'] });
  return cleanup.track(new Proc(label, child));
}

/** A temp directory removed at cleanup. */
export function registerTempDir(dir: string): void {
  cleanup.add(`rm ${dir}`, () => rmSync(dir, { recursive: true, force: true }));
}

let signalled = false;

/**
 * Installs SIGINT/SIGTERM handlers (clean up everything, then exit 130/143), and the same cleanup
 * for a crash: an uncaught exception or a closed stdout/stderr pipe (`npm run bench | head`) must
 * not leave namespaces and relays behind.
 */
export function installSignalHandlers(onSignal?: () => void): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') return;
      // nobody reads any more: stop quietly
      signalled = true;
      void cleanup.runAll().finally(() => process.exit(141));
    });
  }
  const crash = (err: unknown): void => {
    if (signalled) return;
    signalled = true;
    try {
      process.stderr.write(`bench: ${(err as Error)?.stack ?? String(err)}\ncleaning up...\n`);
    } catch {
      // stderr may be gone
    }
    void cleanup.runAll().finally(() => process.exit(1));
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  const handler = (sig: NodeJS.Signals): void => {
    if (signalled) return;
    signalled = true;
    onSignal?.();
    process.stderr.write(`\nbench: ${sig}: stopping child processes and removing namespaces...\n`);
    void cleanup.runAll().finally(() => process.exit(sig === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

export function interrupted(): boolean {
  return signalled;
}
