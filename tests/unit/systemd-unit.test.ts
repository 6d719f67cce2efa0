// SPDX-License-Identifier: MIT
// packaging/systemd/mcrd.service and its drop-in, checked by systemd's own parser
// (`systemd-analyze verify`), and the promises the unit makes to docs/deployment.md: an
// unprivileged user, exactly CAP_NET_RAW and CAP_NET_ADMIN, the default socket's directory.
// verify exits 0 on most mistakes (an unknown key, a bad value: "ignoring"), so any output
// counts as a failure; it refuses an ExecStart binary that does not exist, so it checks a copy
// whose ExecStart runs this checkout's bin/mcrd.js. It does not look up User=.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_CONTROL_SOCKET } from '../../src/control/protocol';
import { ROOT } from '../helpers/netns';

const SYSTEMD_DIR = path.join(ROOT, 'packaging', 'systemd');
const UNIT = path.join(SYSTEMD_DIR, 'mcrd.service');
const DROP_IN = path.join(SYSTEMD_DIR, 'mcrd.service.d', 'realtime.conf');
const SYSUSERS = path.join(ROOT, 'packaging', 'sysusers.d', 'mcr.conf');
const INSTALLED_EXEC = /^ExecStart=\/usr\/bin\/node \/opt\/mcr\/bin\/mcrd\.js( .*)?$/m;

/** Every value of every key in [Service], in order (a key may repeat). */
function serviceKeys(text: string): Map<string, string[]> {
  const keys = new Map<string, string[]>();
  let section = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const [, header] = /^\[(.+)\]$/.exec(line) ?? [];
    if (header !== undefined) {
      section = header;
      continue;
    }
    const eq = line.indexOf('=');
    if (section !== 'Service' || eq < 0) continue;
    const key = line.slice(0, eq);
    keys.set(key, [...(keys.get(key) ?? []), line.slice(eq + 1)]);
  }
  return keys;
}

const words = (values: string[] | undefined): string[] =>
  (values ?? [])
    .flatMap((v) => v.split(/\s+/))
    .filter((w) => w !== '')
    .sort();

function verify(unitFile: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', unitFile], { encoding: 'utf8', timeout: 60_000 });
  if (r.error) throw new Error(`systemd-analyze: ${r.error.message} (Debian package systemd; .ci/run installs it)`);
  return { status: r.status, output: `${r.stdout}${r.stderr}`.trim() };
}

describe('systemd unit (packaging/systemd)', () => {
  let tmp: string;
  const unitText = readFileSync(UNIT, 'utf8');
  const dropInText = readFileSync(DROP_IN, 'utf8');

  /** The unit as installed, but starting this checkout's mcrd, in `dir` (with the drop-in if asked). */
  function copyUnit(dir: string, withDropIn: boolean, edit: (text: string) => string = (t) => t): string {
    mkdirSync(dir, { recursive: true });
    const local = unitText.replace(
      INSTALLED_EXEC,
      (_line, args: string | undefined) => `ExecStart=${process.execPath} ${path.join(ROOT, 'bin', 'mcrd.js')}${args ?? ''}`,
    );
    const file = path.join(dir, 'mcrd.service');
    writeFileSync(file, edit(local));
    if (withDropIn) cpSync(path.dirname(DROP_IN), path.join(dir, 'mcrd.service.d'), { recursive: true });
    return file;
  }

  before(() => {
    tmp = mkdtempSync(path.join(os.tmpdir(), 'mcr-unit-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('starts /usr/bin/node /opt/mcr/bin/mcrd.js (the layout docs/deployment.md installs)', () => {
    assert.equal(unitText.match(/^ExecStart=/gm)?.length, 1, 'exactly one ExecStart');
    assert.match(unitText, INSTALLED_EXEC);
  });

  it('passes systemd-analyze verify with no warning, alone and with the realtime drop-in', () => {
    for (const withDropIn of [false, true]) {
      const r = verify(copyUnit(path.join(tmp, withDropIn ? 'with-drop-in' : 'alone'), withDropIn));
      assert.equal(r.output, '', `verify (drop-in: ${withDropIn}) printed warnings`);
      assert.equal(r.status, 0);
    }
  });

  it('the check fails on a real mistake (a misspelt key, a bad value, a missing binary)', () => {
    const broken: [string, (t: string) => string][] = [
      ['misspelt key', (t) => t.replace(/^NoNewPrivileges=yes$/m, 'NoNewPrivilege=yes')],
      ['bad value', (t) => t.replace(/^ProtectSystem=strict$/m, 'ProtectSystem=strikt')],
      ['missing binary', (t) => t.replace(/^ExecStart=\S+/m, 'ExecStart=/nonexistent/node')],
    ];
    for (const [what, edit] of broken) {
      assert.notEqual(edit(unitText), unitText, `the ${what} edit changes the unit`);
      const r = verify(copyUnit(path.join(tmp, what.replace(/ /g, '-')), false, edit));
      assert.ok(r.status !== 0 || r.output !== '', `verify accepted a unit with a ${what}`);
    }
  });

  it('runs as the system user mcr with exactly CAP_NET_RAW and CAP_NET_ADMIN', () => {
    const keys = serviceKeys(unitText);
    assert.deepEqual(keys.get('User'), ['mcr']);
    assert.deepEqual(keys.get('Group'), ['mcr']);
    assert.equal(keys.get('DynamicUser'), undefined);
    // verify silently ignores unknown capability names, so the names are checked here.
    assert.deepEqual(words(keys.get('AmbientCapabilities')), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    assert.deepEqual(words(keys.get('CapabilityBoundingSet')), ['CAP_NET_ADMIN', 'CAP_NET_RAW']);
    assert.deepEqual(keys.get('NoNewPrivileges'), ['yes']);
    assert.deepEqual(keys.get('ProtectSystem'), ['strict']);
    // Both would break mcrd (V8's JIT, realtimePriority); the unit says why it leaves them out.
    assert.equal(keys.get('MemoryDenyWriteExecute'), undefined);
    assert.equal(keys.get('RestrictRealtime'), undefined);
    assert.match(unitText, /^# Not MemoryDenyWriteExecute=yes: .*JIT/m);
    assert.match(unitText, /^# Not RestrictRealtime=yes: .*realtimePriority/m);
    assert.deepEqual(keys.get('ExecReload'), ['/bin/kill -HUP $MAINPID']);
  });

  it('creates the directory of the default control socket', () => {
    const keys = serviceKeys(unitText);
    assert.deepEqual(keys.get('RuntimeDirectory'), [path.basename(path.dirname(DEFAULT_CONTROL_SOCKET))]);
    assert.equal(path.dirname(path.dirname(DEFAULT_CONTROL_SOCKET)), '/run');
  });

  it('the realtime drop-in adds CAP_SYS_NICE and nothing else', () => {
    const keys = serviceKeys(dropInText);
    assert.deepEqual([...keys.keys()].sort(), ['AmbientCapabilities', 'CapabilityBoundingSet']);
    assert.deepEqual(words(keys.get('AmbientCapabilities')), ['CAP_SYS_NICE']);
    assert.deepEqual(words(keys.get('CapabilityBoundingSet')), ['CAP_SYS_NICE']);
  });

  it('packaging/sysusers.d/mcr.conf creates the system user and group mcr (in a scratch root)', () => {
    const root = path.join(tmp, 'sysroot');
    mkdirSync(path.join(root, 'etc'), { recursive: true });
    const r = spawnSync('systemd-sysusers', [`--root=${root}`, SYSUSERS], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.error, undefined, 'systemd-sysusers runs (Debian package systemd)');
    assert.equal(r.status, 0, r.stderr);
    const user = readFileSync(path.join(root, 'etc', 'passwd'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('mcr:'));
    const group = readFileSync(path.join(root, 'etc', 'group'), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('mcr:'));
    assert.ok(user && group, 'user and group mcr created');
    const [, , uid, gid, , , shell] = user.split(':');
    assert.equal(gid, group.split(':')[2], 'primary group mcr');
    assert.ok(Number(uid) > 0 && Number(uid) < 1000, `a system uid (${uid})`);
    assert.equal(shell, '/usr/sbin/nologin');
  });
});
