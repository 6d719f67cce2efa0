// SPDX-License-Identifier: MIT
// Interface index -> name, for span records (the core records ifindexes). Read from
// /sys/class/net on a miss, so an interface created after start is still named; an index that
// no longer exists is shown as "if<N>".
import { readdirSync, readFileSync } from 'node:fs';

export class InterfaceNames {
  private names = new Map<number, string>();

  constructor(private readonly sysClassNet = '/sys/class/net') {}

  name(ifindex: number): string {
    const known = this.names.get(ifindex);
    if (known !== undefined) return known;
    this.refresh();
    return this.names.get(ifindex) ?? `if${ifindex}`;
  }

  private refresh(): void {
    const next = new Map<number, string>();
    let entries: string[] = [];
    try {
      entries = readdirSync(this.sysClassNet);
    } catch {
      // no sysfs (a container without it): names stay numeric
    }
    for (const name of entries) {
      try {
        next.set(Number(readFileSync(`${this.sysClassNet}/${name}/ifindex`, 'utf8').trim()), name);
      } catch {
        // gone between readdir and read
      }
    }
    this.names = next;
  }
}
