// SPDX-License-Identifier: MIT
// Kernel multicast routing driven by smcroute (Debian package smcroute): smcrouted runs in the
// relay namespace with its own config, pid and socket files and installs one static (S,G) route
// per stream from the input to the output interface. The kernel keeps the group, so the sink sees
// the input group; it cannot fan out to other groups. Counters come from `ip -s mroute`.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { kernelMulticastRoutingMissing } from '../../lab/netns';
import { sleep } from '../proc';
import { which } from '../setup';
import { inputGroup, type Relay, type RelayCounters, type RelayInstance, type RelayPlan } from './relay';
import { relayInfo } from './registry';

async function mrouteCounters(plan: RelayPlan): Promise<RelayCounters> {
  const r = await plan.topo.ip(plan.ns, ['-s', 'mroute', 'show']);
  let rx = 0;
  for (const m of r.stdout.matchAll(/(\d+) packets,/g)) rx += Number(m[1]);
  // a static route forwards every packet it counts (to one output interface)
  return { rx, tx: rx };
}

export const kernelRelay: Relay = {
  id: 'kernel',
  label: relayInfo('kernel').label,
  unavailable: () =>
    which('smcrouted') ? kernelMulticastRoutingMissing() : 'smcroute is not installed (apt-get install smcroute failed?)',
  unsupported: (plan) =>
    plan.fanout > 1 ? 'kernel multicast routing keeps the group: it cannot send one stream to several groups' : undefined,
  async start(plan): Promise<RelayInstance> {
    const conf = path.join(plan.dir, `smcroute-${plan.ns}.conf`);
    const lines = [`phyint ${plan.inIf} enable`, `phyint ${plan.outIf} enable`];
    for (let k = 0; k < plan.streams; k++)
      lines.push(`mroute from ${plan.inIf} source ${plan.source} group ${inputGroup(k)} to ${plan.outIf}`);
    writeFileSync(conf, `${lines.join('\n')}\n`);
    const ident = `${plan.topo.prefix}-${plan.ns}`;
    const proc = plan.topo.spawn(plan.ns, 'smcrouted', 'smcrouted', [
      '-n',
      '-N',
      '-f',
      conf,
      '-i',
      ident,
      '-l',
      'notice',
      '-P',
      path.join(plan.dir, `${ident}.pid`),
      '-u',
      path.join(plan.dir, `${ident}.sock`),
    ]);
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (!proc.running) throw new Error(`smcrouted exited: ${proc.stderr.trim()}`);
      const r = await plan.topo.ip(plan.ns, ['mroute', 'show']);
      if ((r.stdout.match(/State: resolved/g) ?? []).length >= plan.streams) break;
      if (Date.now() > deadline) throw new Error(`smcrouted did not install ${plan.streams} routes: ${proc.stderr.trim()}`);
      await sleep(50);
    }
    return {
      pid: proc.pid,
      counters: () => mrouteCounters(plan),
      async stop() {
        const final = await mrouteCounters(plan).catch(() => undefined);
        await proc.stop('SIGTERM', 5000);
        return { final };
      },
    };
  },
  deliveredGroup: (plan, stream) => ({ group: inputGroup(stream), port: plan.port }),
};
