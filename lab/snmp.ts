// SPDX-License-Identifier: MIT
// One field of a /proc/net/snmp protocol section ("Udp", "Ip", ...): a header line of names and a
// value line, both starting with "Proto:". Used by the bench (sink buffer overflows) and the tests
// (the relay's UDP output counter).

/** The field's value, or undefined when the section or the field is missing. */
export function snmpField(text: string, proto: string, field: string): number | undefined {
  const [head, values] = text.split('\n').filter((l) => l.startsWith(`${proto}:`));
  if (head === undefined || values === undefined) return undefined;
  const i = head.split(/\s+/).indexOf(field);
  const value = i > 0 ? values.split(/\s+/)[i] : undefined;
  return value !== undefined ? Number(value) : undefined;
}
