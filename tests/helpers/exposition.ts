// SPDX-License-Identifier: MIT
// Reading a Prometheus text exposition in tests.

/** The sample lines (no comments) of an exposition, as name{labels} -> value. */
export function samples(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    m.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return m;
}
