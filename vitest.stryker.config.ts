/**
 * The tests `npm run mutate` runs against each mutant: the unit and io tiers and the Linux script
 * tests (with Stryker's per-test coverage, a mutant runs only the tests that reach it). The
 * PowerShell ones (windows-scripts, key-rule) start pwsh and take a minute, and the Go pattern
 * and splice checks compile Go; mutants only they would kill show up as survivors and are listed in
 * test/mutation/equivalent.json or killed by a unit test.
 * One project, not the suite's tiers: Stryker's vitest runner runs the tests of one config.
 * (Not mergeConfig: it would concatenate `include` with the whole suite's.)
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

const slow = [
  'test/documents/windows-scripts.test.ts',
  'test/documents/key-rule.test.ts',
  'test/documents/patterns.test.ts',
  'test/documents/splice.test.ts',
  // The unit tier's own guard (no-io.ts), which this one config cannot set: it runs io tests too.
  'test/unit/no-io.test.ts',
];

export default defineConfig({
  test: {
    ...base.test,
    projects: undefined,
    include: ['test/unit/**/*.test.ts', 'test/io/**/*.test.ts', 'test/documents/**/*.test.ts'],
    exclude: [...slow, '**/node_modules/**'],
    coverage: { enabled: false },
  },
});
