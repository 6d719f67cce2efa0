// SPDX-License-Identifier: MIT
// An MsdpService in a child process, for tests that need it inside a network namespace (the test
// process cannot enter one): `node dist/tests/helpers/msdp-peer.js '<MsdpServiceOptions as JSON>'`
// under `ip netns exec`. It prints one JSON line per event on stdout ({"event":"started"}, then
// each change as {"event":"change",...}) and takes one JSON command per line on stdin:
// {"originate":[source,group]}, {"status":true} (answered with {"event":"status",...}).
import { createInterface } from 'node:readline';
import { MsdpService, type MsdpServiceOptions } from '../../src/routing/msdp/service';

const print = (line: object): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (!arg) throw new Error("usage: msdp-peer.js '<options JSON>'");
  const options = JSON.parse(arg) as MsdpServiceOptions;
  const service = new MsdpService({ ...options, onChange: (change) => print({ event: 'change', ...change }) });
  await service.start();
  print({ event: 'started' });
  createInterface({ input: process.stdin }).on('line', (line) => {
    const command = JSON.parse(line) as { originate?: [string, string]; status?: boolean };
    if (command.originate) service.originate(...command.originate);
    if (command.status) print({ event: 'status', ...service.status() });
  });
  const stop = (): void => {
    service.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`msdp-peer: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
