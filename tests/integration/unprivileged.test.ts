// SPDX-License-Identifier: MIT
// mcrd as deployed (docs/deployment.md): an unprivileged uid holding only CAP_NET_RAW and
// CAP_NET_ADMIN, started by setpriv the way packaging/systemd/mcrd.service starts it, forwards
// a stream exactly. And the control socket's group decides who may use mcrctl: a uid outside it
// gets one permission line naming the group (exit 1), a member gets an answer.
//
// The uids and gids are numbers no account uses, so the test creates nothing system-wide. The
// checkout may sit in a directory those uids cannot read (/root is 0700), so mcrd and mcrctl run
// from a world-readable copy of what they load at run time, removed afterwards.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { quietOneHop, ruleStats, stats } from '../helpers/datapath';
import {
  parseFinal,
  ROOT,
  sh,
  skipReason,
  startMcrd,
  streamExactly,
  type CommandResult,
  type DaemonHandle,
  type Topology,
} from '../helpers/netns';

const skip = skipReason();

/** CAP_NET_ADMIN is bit 12, CAP_NET_RAW bit 13 (linux/capability.h). */
const NET_CAPS = (1n << 12n) | (1n << 13n);
const CAPS = '-all,+net_raw,+net_admin';
const COUNT = 10_000;

/** The first number from `start` up that `getent <db>` knows nothing about. */
function unusedId(db: 'passwd' | 'group', start: number, taken: number[] = []): number {
  for (let id = start; id < start + 1000; id++) {
    if (taken.includes(id)) continue;
    if (spawnSync('getent', [db, String(id)]).status === 2) return id;
  }
  throw new Error(`no unused ${db} id from ${start}`);
}

/** The fields of /proc/PID/status that say who a process is and what it may do. */
function identity(pid: number): {
  uid: string;
  gid: string;
  groups: string;
  capEff: bigint;
  capPrm: bigint;
  capInh: bigint;
  capAmb: bigint;
  capBnd: bigint;
  noNewPrivs: string;
} {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): string => (new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1] ?? '').trim();
  const cap = (name: string): bigint => BigInt(`0x${field(name)}`);
  return {
    uid: field('Uid'),
    gid: field('Gid'),
    groups: field('Groups'),
    capEff: cap('CapEff'),
    capPrm: cap('CapPrm'),
    capInh: cap('CapInh'),
    capAmb: cap('CapAmb'),
    capBnd: cap('CapBnd'),
    noNewPrivs: field('NoNewPrivs'),
  };
}

/**
 * A copy of what mcrd and mcrctl load at run time (compiled JS, bin/, package.json for the
 * version, the addon, the runtime dependencies), readable by every uid.
 */
function readableCopy(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mcr-unpriv-'));
  chmodSync(dir, 0o755);
  cpSync(path.join(ROOT, 'dist', 'src'), path.join(dir, 'dist', 'src'), { recursive: true });
  cpSync(path.join(ROOT, 'bin'), path.join(dir, 'bin'), { recursive: true });
  cpSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'));
  cpSync(path.join(ROOT, 'build', 'Release', 'mcr_native.node'), path.join(dir, 'build', 'Release', 'mcr_native.node'));
  const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
  for (const dep of Object.keys(pkg.dependencies ?? {}))
    cpSync(path.join(ROOT, 'node_modules', dep), path.join(dir, 'node_modules', dep), { recursive: true });
  spawnSync('chmod', ['-R', 'a+rX', dir]);
  return dir;
}

/** setpriv arguments for a uid/gid with no other groups, and with `caps` (or none). */
function asUser(uid: number, gid: number, o: { groups?: number[]; caps?: string } = {}): string[] {
  const ids = ['--reuid', String(uid), '--regid', String(gid), ...(o.groups ? [`--groups=${o.groups.join(',')}`] : ['--clear-groups'])];
  const caps = o.caps ? [`--inh-caps=${o.caps}`, `--ambient-caps=${o.caps}`, `--bounding-set=${o.caps}`] : [];
  return [...ids, ...caps, '--no-new-privs'];
}

describe('mcrd unprivileged (setpriv, CAP_NET_RAW + CAP_NET_ADMIN only)', { skip }, () => {
  let t: Topology;
  let copy: string;
  let mcrd: DaemonHandle | undefined;
  let rootMcrd: DaemonHandle | undefined;
  const relayUid = unusedId('passwd', 47_100);
  const otherUid = unusedId('passwd', relayUid + 1);
  const relayGid = unusedId('group', 47_100);
  const opsGid = unusedId('group', relayGid + 1);
  const otherGid = unusedId('group', opsGid + 1);

  /** mcrctl from the copy, run as `uid` (group otherGid, and `groups`) with no capabilities. */
  function ctlAs(uid: number, groups: number[] | undefined, socket: string, args: string[]): Promise<CommandResult> {
    const who = asUser(uid, otherGid, groups ? { groups } : {});
    return sh('setpriv', [...who, process.execPath, path.join(copy, 'bin', 'mcrctl.js'), '--socket', socket, ...args], { allowFail: true });
  }

  /** Starts mcrd from the copy in the relay namespace, behind `prefix` (e.g. setpriv), and waits until it forwards. */
  async function startFromCopy(ns: string, socket: string, prefix: string[], args: string[] = []): Promise<DaemonHandle> {
    return startMcrd(t, ns, { socket, command: [...prefix, process.execPath, path.join(copy, 'bin', 'mcrd.js')], args });
  }

  before(async () => {
    copy = readableCopy();
    // The uid's own directory for the socket, as RuntimeDirectory= makes /run/mcr.
    mkdirSync(path.join(copy, 'run'));
    chownSync(path.join(copy, 'run'), relayUid, relayGid);
    mkdirSync(path.join(copy, 'root-run'), { mode: 0o755 });
    t = await quietOneHop('unpr');
  });
  after(async () => {
    await mcrd?.stop();
    await rootMcrd?.stop();
    await t?.destroy();
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  it(`forwards ${COUNT.toLocaleString('en')} packets exactly, as a non-root uid with only the two capabilities`, async () => {
    const socket = path.join(copy, 'run', 'mcrd.sock');
    mcrd = await startFromCopy('relay', socket, ['setpriv', ...asUser(relayUid, relayGid, { caps: CAPS })]);

    // Who the supervisor and the data plane really are: the uid, no groups, exactly the two
    // capabilities (ambient, so they survive exec), no way to gain more.
    const pids = [mcrd.child.pid as number, await mcrd.dataplanePid()];
    for (const pid of pids) {
      const id = identity(pid);
      assert.equal(id.uid, `${relayUid}\t${relayUid}\t${relayUid}\t${relayUid}`, `pid ${pid} uid`);
      assert.equal(id.gid, `${relayGid}\t${relayGid}\t${relayGid}\t${relayGid}`, `pid ${pid} gid`);
      assert.equal(id.groups, '', `pid ${pid} supplementary groups`);
      for (const [set, value] of [
        ['CapEff', id.capEff],
        ['CapPrm', id.capPrm],
        ['CapInh', id.capInh],
        ['CapAmb', id.capAmb],
        ['CapBnd', id.capBnd],
      ] as const)
        assert.equal(value, NET_CAPS, `pid ${pid} ${set} is ${value.toString(16)}, want CAP_NET_RAW + CAP_NET_ADMIN (3000)`);
      assert.equal(id.noNewPrivs, '1', `pid ${pid} NoNewPrivs`);
    }
    // The socket belongs to the uid and its group, 0660, like /run/mcr/mcrd.sock under systemd.
    const st = statSync(socket);
    assert.deepEqual({ uid: st.uid, gid: st.gid, mode: (st.mode & 0o777).toString(8) }, { uid: relayUid, gid: relayGid, mode: '660' });

    // A member of the socket's group runs the rule change, not root.
    const add = await ctlAs(otherUid, [relayGid], socket, [
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.2:5002:r1',
      '--name',
      'unpriv',
    ]);
    assert.equal(add.code, 0, add.stderr);
    await streamExactly(t, { group: '239.1.1.1', port: 5001, out: '239.2.2.2', outPort: 5002, count: COUNT });

    const s = await stats(mcrd);
    assert.equal(s.totals.matched, COUNT);
    assert.equal(s.totals.txPackets, COUNT);
    assert.equal(s.totals.bufExhaust, 0);
    assert.equal(ruleStats(s, 'unpriv').outputs[0]?.txPackets, COUNT);
    assert.equal(await mcrd.stop(), 0);
    assert.deepEqual(parseFinal(mcrd.stdout), { recv: COUNT, matched: COUNT, egr_sent: COUNT, filtered: 0, no_match: 0, buf_exhaust: 0 });
    assert.equal(statSync(socket, { throwIfNoEntry: false }), undefined, 'socket removed on stop');
  });

  it('refuses, in one line, a --control-socket-group the uid is not a member of (and leaves no socket)', async () => {
    const socket = path.join(copy, 'run', 'refused.sock');
    const r = await t.exec(
      'relay',
      'setpriv',
      [
        ...asUser(relayUid, relayGid, { caps: CAPS }),
        process.execPath,
        path.join(copy, 'bin', 'mcrd.js'),
        '--control-socket',
        socket,
        '--control-socket-group',
        String(opsGid),
      ],
      { allowFail: true },
    );
    assert.equal(r.code, 2);
    assert.equal(
      r.stderr,
      `mcrd: cannot give the control socket ${socket} to group ${opsGid} (gid ${opsGid}): mcrd (uid ${relayUid}) is not a member of it; run mcrd in that group (systemd: SupplementaryGroups=${opsGid}) or as root\n`,
    );
    assert.equal(statSync(socket, { throwIfNoEntry: false }), undefined);
  });

  it('rejects an unknown --control-socket-group as a usage error naming it', async () => {
    const r = await sh(
      process.execPath,
      [
        path.join(copy, 'bin', 'mcrd.js'),
        '--control-socket',
        path.join(copy, 'root-run', 'x.sock'),
        '--control-socket-group',
        'no-such-group-mcr',
      ],
      { allowFail: true },
    );
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^mcrd: .*'no-such-group-mcr' is invalid\. no such group "no-such-group-mcr"\n$/);
  });

  it('--control-socket-group: a uid outside the group gets one permission line (exit 1), a member gets an answer', async () => {
    const socket = path.join(copy, 'root-run', 'mcrd.sock');
    rootMcrd = await startFromCopy('sink', socket, [], ['--control-socket-group', String(opsGid)]);
    const st = statSync(socket);
    assert.deepEqual({ uid: st.uid, gid: st.gid, mode: (st.mode & 0o777).toString(8) }, { uid: 0, gid: opsGid, mode: '660' });

    const outsider = await ctlAs(otherUid, undefined, socket, ['workers']);
    assert.equal(outsider.code, 1);
    assert.equal(outsider.stdout, '');
    assert.equal(
      outsider.stderr,
      `mcrctl: permission denied on ${socket}: ask for membership of group ${opsGid} (a new membership needs a new login)\n`,
    );

    const member = await ctlAs(otherUid, [opsGid], socket, ['workers']);
    assert.equal(member.code, 0, member.stderr);
    assert.match(member.stdout, /^dataplane: pid \d+, running/);
    assert.equal(await rootMcrd.stop(), 0);
  });
});
