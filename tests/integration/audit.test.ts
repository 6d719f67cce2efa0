// SPDX-License-Identifier: MIT
// The per-packet audit (profiling/audit.ts) end to end, on the real mcrd in the one-hop lab: the
// shipped build passes with 0 heap allocations and 0 write(2) per packet on the worker; the drill
// build (MCR_DRILL_SEED_ANTIPATTERN=1, built into build-drill/) fails, naming the allocation and
// the pipe write and the functions responsible, and leaves build/Release alone. The shipped addon
// must not contain any drill code.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { ROOT, skipReason } from '../helpers/netns';

const SHIPPED = path.join(ROOT, 'build', 'Release', 'mcr_native.node');
const DRILLED = path.join(ROOT, 'build-drill', 'mcr_native.node');
const tools = ['perf', 'valgrind', 'tc', 'nm'].filter((t) => spawnSync(t, ['--version']).error !== undefined);
const skip = skipReason() ?? (tools.length ? `not installed: ${tools.join(', ')}` : undefined);

/** The addon's defined symbols, demangled. */
function symbols(file: string): string {
  const r = spawnSync('nm', ['-C', '--defined-only', file], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, `nm ${file}: ${r.stderr}`);
  return r.stdout;
}

const sha256 = (file: string): string => createHash('sha256').update(readFileSync(file)).digest('hex');

function audit(args: string[]): { status: number | null; out: string; files: Record<string, string | undefined> } {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcraudit-'));
  try {
    const r = spawnSync(
      'bash',
      [
        path.join(ROOT, 'profiling', 'profile.sh'),
        'audit',
        '--rate',
        '10000',
        '--count',
        '20000',
        '--exhaust-count',
        '8000',
        '--out',
        dir,
        ...args,
      ],
      { encoding: 'utf8', timeout: 240_000, maxBuffer: 64 << 20 },
    );
    const read = (f: string): string | undefined => (existsSync(path.join(dir, f)) ? readFileSync(path.join(dir, f), 'utf8') : undefined);
    const files = Object.fromEntries(['profile/flamegraph.svg', 'shipped/flamegraph.svg', 'diff.svg'].map((f) => [f, read(f)]));
    return { status: r.status, out: `${r.stdout}\n${r.stderr}`, files };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('the shipped addon', () => {
  it('contains no drill code (no mcr::drill symbols, none of its messages)', () => {
    const syms = symbols(SHIPPED);
    assert.match(syms, /mcr::Worker::drain_ring/, 'nm sees the addon symbols');
    assert.doesNotMatch(syms, /drill/i);
    const bytes = readFileSync(SHIPPED).toString('latin1');
    assert.ok(!bytes.includes('Buffer exhausted ('), 'the drill exhaustion message is in the shipped addon');
    assert.ok(!bytes.includes('Packet: dst='), 'the drill trace message is in the shipped addon');
  });
});

describe('npm run profile -- audit', { skip }, () => {
  it('passes on the shipped build: 0 allocations and 0 write(2) per packet on the worker, streams exact, exhaustion exercised', () => {
    const { status, out } = audit([]);
    assert.equal(status, 0, out);
    assert.match(out, /shipped build build\/Release\/mcr_native\.node/);
    assert.match(out, /clean: sent 20000, worker received 20000, forwarded 20000, refused 0, sink received 20000/);
    assert.match(out, /traced: sent 20000, worker received 20000, forwarded 20000, refused 0, sink received 20000/);
    assert.match(out, /exhaustion: sent 8000, worker received 8000, forwarded \d+, refused [1-9]\d*/);
    assert.match(out, /worker heap allocations \(traced stream\) +0 \/pkt \(0 calls\) +<= 0 +ok/);
    assert.match(out, /worker write\(2\) calls \(traced stream\) +0 \/pkt \(0 calls\) +<= 0 +ok/);
    assert.match(out, /worker heap allocations \(exhaustion stream\) +0 \/refused pkt \(0 calls\) +<= 0 +ok/);
    assert.match(out, /worker write\(2\) calls \(exhaustion stream\) +0 \/refused pkt \(0 calls\) +<= 0 +ok/);
    assert.match(out, /worker sendmmsg +[\d.]+ \/pkt \([1-9]\d* calls, 0 errors\)/);
    assert.match(out, /replay gate instructions \(build\/Release\/mcr_replay\) +[\d.]+ \/pkt .* ok/);
    assert.doesNotMatch(out, /EXCEEDED|AUDIT ERROR/);
    assert.match(out, /audit passed: 0 budgets exceeded, 0 errors/);
  });

  it('--drill builds aside and fails, naming the allocation, the pipe write(2) and the functions responsible', () => {
    const before = sha256(SHIPPED);
    const { status, out, files } = audit(['--drill']);
    assert.equal(status, 1, out);
    // Flame graphs of both builds' worker, and the drill against the shipped one: the trace
    // formatting is a frame the shipped build does not have, so its share grew from 0.
    assert.match(files['shipped/flamegraph.svg'] ?? '', /mcr::Worker::drain_ring/);
    assert.match(files['profile/flamegraph.svg'] ?? '', /mcr::drill::format_packet_trace/);
    assert.match(files['diff.svg'] ?? '', /mcr::drill::format_packet_trace[^<]*: [\d.]+% of samples, was 0\.00% \(\+[\d.]+ points\)/);
    assert.match(out, /DRILL build \(MCR_DRILL_SEED_ANTIPATTERN=1\) build-drill\/mcr_native\.node/);
    assert.doesNotMatch(out, /AUDIT ERROR/, 'the drill fails on budgets, not because the run broke');
    // One allocation per packet, from the trace message formatted before the level check.
    assert.match(out, /BUDGET EXCEEDED: worker heap allocations \(traced stream\): 1 \/pkt \(20000 calls\), budget 0/);
    assert.match(out, /\d+ x malloc, in mcr::drill::format_packet_trace/);
    assert.match(out, /mcr::Worker::drain_ring \(mcr_native\.node\)/);
    // A write(2) to the pipe on buffer exhaustion, from the worker.
    assert.match(
      out,
      /BUDGET EXCEEDED: worker write\(2\) calls \(exhaustion stream\): [\d.]+ \/refused pkt \([1-9]\d* calls, to pipe \(fd 2,/,
    );
    assert.match(out, /x syscalls:sys_enter_write, in mcr::drill::write_to_supervisor_pipe/);
    assert.match(out, /mcr::SendBatcher::flush \(mcr_native\.node\)/);
    assert.match(out, /BUDGET EXCEEDED: replay gate instructions/);
    assert.match(out, /audit FAILED: \d+ budgets exceeded, 0 errors/);
    // Built aside: the shipped addon is byte for byte what it was, and the drill's has the drill in it.
    assert.equal(sha256(SHIPPED), before, 'build/Release/mcr_native.node changed');
    assert.match(symbols(DRILLED), /mcr::drill::format_packet_trace/);
  });
});
