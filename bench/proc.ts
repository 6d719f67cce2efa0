// SPDX-License-Identifier: MIT
// The bench's processes and cleanup registry are the network lab's (lab/proc.ts); this name stays
// so the scenario files' imports do not move.
export * from '../lab/proc';
