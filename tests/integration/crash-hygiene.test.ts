// SPDX-License-Identifier: MIT
// What a crashed mcrd leaves behind does not pile up. `kill -9` of mcrd takes its data plane down
// with it (no unmanaged forwarding) and leaves its counter file in /dev/shm; the next mcrd to
// start removes it, and never the file of a daemon that is still running (each holds a lock on
// its own file, so this holds when PID namespaces share /dev/shm too).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { alive } from '../../lab/proc';
import { pollUntil } from '../helpers/control';
import { quietOneHop } from '../helpers/datapath';
import { skipReason, startDaemon, streamExactly, type DaemonHandle, type Topology } from '../helpers/netns';

const skip = skipReason();
const countersFile = (d: DaemonHandle): string => `/dev/shm/mcrd-${d.child.pid}.counters`;

describe('crash hygiene', { skip }, () => {
  let t: Topology;
  const daemons: DaemonHandle[] = [];

  before(async () => {
    t = await quietOneHop('hyg');
  });
  after(async () => {
    for (const d of daemons) await d.stop('SIGKILL');
    await t?.destroy();
  });

  it("kill -9 of mcrd stops its data plane; the next mcrd removes the dead one's counter file and keeps the live ones'", async () => {
    const crashed = await startDaemon(t, 'relay', { args: ['--workers', '1'] });
    daemons.push(crashed);
    await crashed.ctl([
      'add',
      '--input-interface',
      'r0',
      '--input-group',
      '239.1.1.1',
      '--input-port',
      '5001',
      '--outputs',
      '239.2.2.1:6001:r1',
    ]);
    await streamExactly(t, { group: '239.1.1.1', port: 5001, out: '239.2.2.1', outPort: 6001, count: 1_000 });
    const dataplane = await crashed.dataplanePid();
    // A second daemon, started while the first runs, leaves the first one's file alone.
    const live = await startDaemon(t, 'sink');
    daemons.push(live);
    assert.ok(existsSync(countersFile(crashed)), "a running daemon's counter file is kept");
    assert.ok(!live.stderr.includes(countersFile(crashed)), `the second daemon left the first one's file alone: ${live.stderr}`);

    assert.equal(await crashed.stop('SIGKILL'), null);
    await pollUntil(
      async () => alive(dataplane),
      (a) => !a,
      `the data plane (pid ${dataplane}) to exit after its supervisor died`,
      5_000,
    );
    // The data plane held the file too; once it is gone the file is a dead daemon's.
    assert.ok(existsSync(countersFile(crashed)), 'SIGKILL leaves the counter file behind');

    const next = await startDaemon(t, 'gen');
    daemons.push(next);
    assert.match(next.stderr, new RegExp(`removed ${countersFile(crashed)}, left by a daemon that is no longer running`));
    assert.ok(!existsSync(countersFile(crashed)), "the dead daemon's counter file is gone");
    assert.ok(existsSync(countersFile(live)) && existsSync(countersFile(next)), "the live daemons' counter files are kept");

    // A graceful stop removes the daemon's own file.
    for (const d of [live, next]) {
      assert.equal(await d.stop(), 0);
      assert.ok(!existsSync(countersFile(d)), `${countersFile(d)} removed on SIGTERM`);
    }
  });
});
