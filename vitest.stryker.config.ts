/**
 * The tests `npm run mutate` runs against each mutant: the fast unit tests only. The
 * PowerShell one (windows-scripts) starts pwsh and a proving ground and takes a minute;
 * mutants it alone would kill show up as survivors and are listed.
 *
 * `npm run mutate:shared` (MUTATE_SCOPE=shared) also leaves out the two tests of the
 * reconcile loop (reconcile, command-runner): they exercise lambda/ with real polling, take
 * about 15 s per mutant they cover, and would make a shared/ run take hours on a shared
 * machine; shared/'s rules must be pinned by their own unit tests anyway.
 * (Not mergeConfig: it would concatenate `include` with the whole suite's.)
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

const slow = ['test/unit/windows-scripts.test.ts'];
const loop = ['test/unit/reconcile.test.ts', 'test/unit/command-runner.test.ts'];

export default defineConfig({
  test: {
    ...base.test,
    include: ['test/unit/**/*.test.ts'],
    exclude: [...slow, ...(process.env.MUTATE_SCOPE === 'shared' ? loop : []), '**/node_modules/**'],
    coverage: { enabled: false },
  },
});
