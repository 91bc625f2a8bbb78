/**
 * The tests `npm run mutate` runs against each mutant: the fast unit tests only. The
 * PowerShell ones (windows-scripts, windows-agent) start pwsh or a proving ground and take a
 * minute between them; mutants they alone would kill show up as survivors and are listed.
 * (Not mergeConfig: it would concatenate `include` with the whole suite's.)
 */
import { defineConfig } from 'vitest/config';
import base from './vitest.config.ts';

export default defineConfig({
  test: {
    ...base.test,
    include: ['test/unit/**/*.test.ts'],
    exclude: ['test/unit/windows-scripts.test.ts', 'test/unit/windows-agent.test.ts', '**/node_modules/**'],
    coverage: { enabled: false },
  },
});
