// SPDX-License-Identifier: MIT
// The userspace floor: bench/peers/c-relay.c (recvmmsg batch 64 -> sendmmsg), built into
// build/bench/ by the bench's setup. It fans out natively (--fanout) and joins many groups
// (--streams), sending every stream to the same output group(s).
import { existsSync } from 'node:fs';
import { C_RELAY } from '../paths';
import { ProcessRelayInstance, waitForLine } from './process';
import { INPUT_BASE, OUTPUT_BASE, outputGroup, pinned, type Relay } from './relay';
import { relayInfo } from './registry';

export const cRelay: Relay = {
  id: 'c-relay',
  label: relayInfo('c-relay').label,
  unavailable: () => (existsSync(C_RELAY) ? undefined : `${C_RELAY} was not built (cc failed?)`),
  unsupported: () => undefined,
  async start(plan) {
    const proc = plan.topo.spawn(
      plan.ns,
      'c-relay',
      ...pinned(plan, C_RELAY, [
        '--in-addr',
        plan.inAddr,
        '--group',
        INPUT_BASE,
        '--streams',
        String(plan.streams),
        '--port',
        String(plan.port),
        '--out-addr',
        plan.outAddr,
        '--out-group',
        OUTPUT_BASE,
        '--fanout',
        String(plan.fanout),
        '--out-port',
        String(plan.outPort),
      ]),
    );
    await waitForLine(proc, 'ready');
    return new ProcessRelayInstance(proc);
  },
  deliveredGroup: (plan, _stream, out) => ({ group: outputGroup(out), port: plan.outPort }),
};
