// SPDX-License-Identifier: MIT
// The naive Node.js relay (bench/peers/node-relay.js): dgram 'message' -> send, what a user would
// write in five minutes. Run for one stream and one output only (see docs/benchmarks.md).
import { NODE_RELAY } from '../paths';
import { ProcessRelayInstance, waitForLine } from './process';
import { INPUT_BASE, OUTPUT_BASE, outputGroup, pinned, type Relay } from './relay';
import { relayInfo } from './registry';

export const nodeRelay: Relay = {
  id: 'node',
  label: relayInfo('node').label,
  unavailable: () => undefined,
  unsupported: (plan) =>
    plan.fanout > 1 || plan.streams > 1
      ? 'run for 1 stream and 1 output only (a per-packet send loop; its 1:1 ceiling already says it all)'
      : undefined,
  async start(plan) {
    const proc = plan.topo.spawn(
      plan.ns,
      'node-relay',
      ...pinned(plan, 'node', [
        NODE_RELAY,
        plan.inAddr,
        INPUT_BASE,
        String(plan.streams),
        String(plan.port),
        plan.outAddr,
        OUTPUT_BASE,
        String(plan.fanout),
        String(plan.outPort),
        '16',
      ]),
    );
    await waitForLine(proc, 'ready');
    return new ProcessRelayInstance(proc);
  },
  deliveredGroup: (plan, _stream, out) => ({ group: outputGroup(out), port: plan.outPort }),
};
