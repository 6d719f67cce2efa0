// SPDX-License-Identifier: MIT
// Host preparation for a bench run: root check, a lock against two runs at once, removal of
// namespaces a crashed run left, installation of missing peers (apt-get: smcroute, socat), the
// build of the bench's own tools (the only place they are built), and the facts about the host
// that go into results.json's meta.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BENCH_BUILD, C_RELAY, LAT_RECV, MCRD, MCRGEN, PEERS_DIR, RING_PROBE, ROOT, TUNE_STATE } from './paths';
import { cleanup, sh } from './proc';
import { deleteNamespace, staleNamespaces } from './topology';

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = path.join(dir, cmd);
    try {
      if (statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Why the bench cannot run here at all, or undefined. */
export function refuseReason(): string | undefined {
  if (process.platform !== 'linux') return 'the benchmark needs Linux (network namespaces, AF_PACKET)';
  if (process.getuid?.() !== 0)
    return 'the benchmark must run as root: it creates network namespaces and veth pairs, and mcr opens AF_PACKET sockets (try: sudo npm run bench)';
  if (!which('ip')) return 'iproute2 (`ip`) is not installed';
  if (!existsSync(MCRGEN)) return `${MCRGEN} is missing: run npm install (or npm run build) first`;
  if (!existsSync(MCRD)) return `${MCRD} is missing: run npm run build:ts first`;
  return undefined;
}

const LOCK = '/run/mcr-bench.lock';

/** Takes the run lock; refuses if another live bench holds it. */
export function takeLock(): string | undefined {
  if (existsSync(LOCK)) {
    const pid = Number(readFileSync(LOCK, 'utf8').trim());
    if (pid > 0 && pid !== process.pid) {
      try {
        process.kill(pid, 0);
        return `another benchmark (pid ${pid}) is running (lock ${LOCK})`;
      } catch {
        // stale lock
      }
    }
  }
  writeFileSync(LOCK, `${process.pid}\n`);
  cleanup.add('lock', () => rmSync(LOCK, { force: true }));
  return undefined;
}

export async function removeStaleNamespaces(log: (s: string) => void): Promise<void> {
  const stale = await staleNamespaces();
  if (stale.length === 0) return;
  log(`removing ${stale.length} namespace(s) left by an earlier run: ${stale.join(' ')}`);
  for (const ns of stale) await deleteNamespace(ns);
}

export interface PeerSetup {
  installed: string[];
  skipped: Record<string, string>;
}

/** Installs smcroute and socat where missing (printing what it does); a failure only skips that peer. */
export async function installPeers(log: (s: string) => void): Promise<PeerSetup> {
  const out: PeerSetup = { installed: [], skipped: {} };
  const peers: Array<[pkg: string, bin: string]> = [
    ['smcroute', 'smcrouted'],
    ['socat', 'socat'],
  ];
  const missing = peers.filter(([, bin]) => !which(bin));
  if (missing.length > 0) {
    const pkgs = missing.map(([p]) => p);
    if (!which('apt-get')) {
      for (const p of pkgs) out.skipped[p] = 'not installed and apt-get is not available';
    } else {
      log(`installing missing peers: apt-get install -y ${pkgs.join(' ')}`);
      const apt = (args: string[]) =>
        sh('env', ['DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args], { allowFail: true, timeoutMs: 300_000 });
      let r = await apt(['install', '-y', '-q', ...pkgs]);
      if (r.code !== 0) {
        log('apt-get install failed; running apt-get update once and retrying');
        await apt(['update', '-q']);
        r = await apt(['install', '-y', '-q', ...pkgs]);
      }
      for (const [p, bin] of missing) {
        if (which(bin)) out.installed.push(p);
        else out.skipped[p] = `apt-get install ${p} failed: ${r.stderr.trim().split('\n').pop() ?? ''}`;
      }
      if (out.installed.length > 0) log(`installed: ${out.installed.join(', ')}`);
    }
  }
  for (const [p, why] of Object.entries(out.skipped)) log(`skipping peer ${p}: ${why}`);
  return out;
}

/**
 * The bench's own tools, built into build/bench/ (-O2) by buildTools, the one place they are built
 * (npm install builds only the relay, mcrgen and the tests).
 */
const TOOLS: Record<string, { language: 'C' | 'C++'; args: string[] }> = {
  'c-relay': { language: 'C', args: ['-O2', '-Wall', '-o', C_RELAY, path.join(PEERS_DIR, 'c-relay.c')] },
  'lat-recv': { language: 'C', args: ['-O2', '-Wall', '-o', LAT_RECV, path.join(ROOT, 'bench', 'tools', 'lat-recv.c')] },
  // The TPACKET_V2/V3 experiment behind the ring choice (docs/performance.md), with the core's
  // parser compiled in. No scenario runs it: `node dist/bench/setup.js ring_probe` builds it.
  ring_probe: {
    language: 'C++',
    args: [
      '-std=c++20',
      '-O2',
      '-Wall',
      `-I${path.join(ROOT, 'native', 'include')}`,
      `-I${path.join(ROOT, 'native', 'tools', 'mcrgen')}`,
      '-o',
      RING_PROBE,
      path.join(ROOT, 'bench', 'tools', 'ring_probe.cc'),
      path.join(ROOT, 'native', 'core', 'parse.cc'),
    ],
  },
};

/** Builds the named tools (by default the two a bench run uses); returns error texts by tool. */
export async function buildTools(names: string[] = ['c-relay', 'lat-recv']): Promise<Record<string, string>> {
  mkdirSync(BENCH_BUILD, { recursive: true });
  const compilers = { C: which('cc') ?? which('gcc'), 'C++': which('c++') ?? which('g++') };
  const errors: Record<string, string> = {};
  for (const name of names) {
    const tool = TOOLS[name];
    if (!tool) {
      errors[name] = `unknown tool (known: ${Object.keys(TOOLS).join(', ')})`;
      continue;
    }
    const compiler = compilers[tool.language];
    if (!compiler) {
      errors[name] = `no ${tool.language} compiler (${tool.language === 'C' ? 'cc' : 'c++'}) found`;
      continue;
    }
    const r = await sh(compiler, tool.args, { allowFail: true });
    if (r.code !== 0) errors[name] = `${path.basename(compiler)} failed: ${r.stderr.trim()}`;
  }
  return errors;
}

export interface HostMeta {
  date: string;
  gitCommit: string;
  gitDirty: boolean;
  kernel: string;
  cpuModel: string;
  nproc: number;
  memoryGiB: number;
  node: string;
  tuneHostApplied: boolean;
  sysctls: Record<string, string>;
}

function readSysctl(key: string): string {
  try {
    return readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8').trim();
  } catch {
    return '?';
  }
}

export function hostMeta(): HostMeta {
  const git = (args: string[]): string => {
    try {
      return execFileSync('git', ['-C', ROOT, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      return '';
    }
  };
  const cpuModel = /model name\s*:\s*(.*)/.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    date: new Date().toISOString(),
    gitCommit: git(['rev-parse', 'HEAD']) || 'unknown',
    gitDirty: git(['status', '--porcelain', '--untracked-files=no']).length > 0,
    kernel: os.release(),
    cpuModel,
    nproc: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    tuneHostApplied: existsSync(TUNE_STATE),
    sysctls: Object.fromEntries(
      ['net.core.rmem_max', 'net.core.wmem_max', 'net.core.rmem_default', 'net.core.wmem_default', 'net.core.netdev_max_backlog'].map(
        (k) => [k, readSysctl(k)],
      ),
    ),
  };
}

// `node dist/bench/setup.js TOOL...` builds tools no bench run needs (ring_probe).
if (require.main === module) {
  const names = process.argv.slice(2);
  if (names.length === 0) {
    console.error(`usage: node dist/bench/setup.js TOOL... (${Object.keys(TOOLS).join(', ')})`);
    process.exitCode = 2;
  } else
    void buildTools(names).then((errors) => {
      for (const [name, why] of Object.entries(errors)) console.error(`${name}: ${why}`);
      for (const name of names.filter((n) => !(n in errors))) console.log(`built ${path.relative(ROOT, path.join(BENCH_BUILD, name))}`);
      process.exitCode = Object.keys(errors).length > 0 ? 1 : 0;
    });
}
