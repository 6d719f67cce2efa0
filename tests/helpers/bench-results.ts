// SPDX-License-Identifier: MIT
// A bench results header (Results['meta']) for unit tests of the report and the charts: a run on
// a 2-CPU machine with nothing tuned; the tests override what they are about.
import type { Results } from '../../bench/types';

export function benchMeta(overrides: Partial<Results['meta']> = {}): Results['meta'] {
  return {
    date: 'd',
    gitCommit: 'c'.repeat(40),
    gitDirty: false,
    kernel: 'k',
    cpuModel: 'cpu',
    nproc: 2,
    memoryGiB: 4,
    node: 'v20',
    tuneHostApplied: false,
    sysctls: {},
    quick: false,
    durationS: 600,
    trialSeconds: 2,
    scenariosRun: [],
    peersInstalled: [],
    peersSkipped: {},
    generatorMaxPps: {},
    pinning: 'none',
    ...overrides,
  };
}
