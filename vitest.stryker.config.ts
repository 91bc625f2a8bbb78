/**
 * The tests `npm run mutate` runs against each mutant: the fast unit tests only (with Stryker's
 * per-test coverage, a mutant runs only the tests that reach it). The PowerShell one
 * (windows-scripts) starts pwsh and a proving ground and takes a minute; mutants it alone
 * would kill show up as survivors and are listed in test/mutation/equivalent.json or killed
 * by a unit test.
 * (Not mergeConfig: it would concatenate `include` with the whole suite's.)
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

const slow = ['test/unit/windows-scripts.test.ts'];

export default defineConfig({
  test: {
    ...base.test,
    include: ['test/unit/**/*.test.ts'],
    exclude: [...slow, '**/node_modules/**'],
    coverage: { enabled: false },
  },
});
