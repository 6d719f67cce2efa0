// SPDX-License-Identifier: MIT
// socat as a relay: UDP4-RECV joined to the input group -> UDP4-SENDTO the output group through
// the output interface (Debian package socat, installed by the bench's setup when missing).
// One stream, one output (socat has no fan-out; see docs/benchmarks.md).
import { ProcessRelayInstance, waitForMembership } from './process';
import { INPUT_BASE, OUTPUT_BASE, pinned, type Relay } from './relay';
import { relayInfo } from './registry';
import { which } from '../setup';

export const socatRelay: Relay = {
  id: 'socat',
  label: relayInfo('socat').label,
  unavailable: () => (which('socat') ? undefined : 'socat is not installed (apt-get install socat failed?)'),
  unsupported: (plan) => (plan.fanout > 1 || plan.streams > 1 ? 'socat relays one stream to one destination' : undefined),
  async start(plan) {
    const proc = plan.topo.spawn(
      plan.ns,
      'socat',
      ...pinned(plan, 'socat', [
        '-u',
        '-b',
        '65536',
        `UDP4-RECV:${plan.port},ip-add-membership=${INPUT_BASE}:${plan.inAddr},reuseaddr`,
        `UDP4-SENDTO:${OUTPUT_BASE}:${plan.outPort},ip-multicast-if=${plan.outAddr},ip-multicast-ttl=16,ip-multicast-loop=0`,
      ]),
    );
    await waitForMembership(plan, [INPUT_BASE], proc);
    return new ProcessRelayInstance(proc);
  },
  deliveredGroup: (plan) => ({ group: OUTPUT_BASE, port: plan.outPort }),
};
