// SPDX-License-Identifier: MIT
// Unix group look-ups for the control socket's group (mcrd) and the permission message (mcrctl).
// Node has no getgrnam/getgrgid, so this asks `getent group`, which goes through NSS (LDAP, sssd)
// like every other tool on the host; /etc/group is read only where getent is not installed.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

export interface GroupEntry {
  name: string;
  gid: number;
}

/** Highest valid gid: (gid_t)-1 means "no change" to chown(2). */
const MAX_GID = 0xfffffffe;

function parseLine(line: string): GroupEntry | undefined {
  const [name, , gidText] = line.split(':');
  const gid = Number(gidText);
  return name && gidText !== undefined && /^\d+$/.test(gidText) ? { name, gid } : undefined;
}

/** The group entry for a name or a numeric gid, or undefined when the host has none. */
function lookUp(key: string): GroupEntry | undefined {
  try {
    const out = execFileSync('getent', ['group', '--', key], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 });
    return parseLine(out.split('\n')[0] ?? '');
  } catch (err) {
    // getent exits 2 for "not found"; only a missing getent falls back to the file.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return undefined;
  }
  try {
    const numeric = /^\d+$/.test(key);
    for (const line of readFileSync('/etc/group', 'utf8').split('\n')) {
      const entry = parseLine(line);
      if (entry && (numeric ? entry.gid === Number(key) : entry.name === key)) return entry;
    }
  } catch {
    // no /etc/group either
  }
  return undefined;
}

/**
 * A group given by name or number. A number the host has no name for is accepted as is (like
 * chgrp), a name must exist; anything else throws an Error whose message names the value.
 */
export function resolveGroup(value: string): GroupEntry {
  if (/^\d+$/.test(value)) {
    const gid = Number(value);
    if (gid > MAX_GID) throw new Error(`group id ${value} is out of range (0 to ${MAX_GID})`);
    return lookUp(value) ?? { name: value, gid };
  }
  const entry = value === '' ? undefined : lookUp(value);
  if (!entry) throw new Error(`no such group "${value}"`);
  return entry;
}

/** The name of a gid for messages, or the number when the host has no name for it. */
export function groupName(gid: number): string {
  return lookUp(String(gid))?.name ?? String(gid);
}
