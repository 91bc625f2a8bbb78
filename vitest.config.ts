import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';

/**
 * One tier per folder: the folder a test sits in says what it may start and how long it takes
 * (test/README.md). `npm run test:unit` runs the first alone, in seconds.
 */
function tier(
  name: string,
  extra: TestProjectInlineConfiguration['test'] = {},
): TestProjectInlineConfiguration {
  return { extends: true, test: { name, include: [`test/${name}/**/*.test.ts`], ...extra } };
}

export default defineConfig({
  test: {
    projects: [
      // Pure parts and the whole loop on an in-memory fleet. A process or a socket fails the test that
      // opens it: no-io.ts holds the tier to its promise.
      tier('unit', { setupFiles: ['test/unit/no-io.ts'] }),
      // The function in process against loopback servers: the handler, the Kasm health check.
      tier('io'),
      // The host scripts in real bash and PowerShell, their patterns compiled by Go.
      tier('documents'),
      // The local AWS, Kasm API and hosts, held to how AWS behaves.
      tier('proving-ground'),
      // The real handler against the proving ground: statuses, the command line, scale, leaks.
      tier('e2e'),
      // The CDK app: templates, cdk-nag, the bundle, the docs it generates.
      tier('infra'),
    ],
    // Hang guards, not assertions: a CDK synth takes up to 56 s and the Windows e2e nearly a minute
    // on an idle 2-core machine, and twice that under load, so 60 s failed runs by timing alone.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    env: { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    coverage: {
      // On in CI (.ci/run sets CI=true, then runs `npm test`); locally with --coverage.
      enabled: process.env.CI === 'true',
      provider: 'v8',
      // Product code only; every file counts, whether a test loads it or not.
      include: ['lambda/**/*.ts', 'shared/**/*.ts', 'infra/**/*.ts'],
      exclude: ['**/*.test.ts', '**/*.d.ts'],
      reporter: ['text-summary', 'text', 'json-summary'],
      reportsDirectory: 'coverage',
      reportOnFailure: true,
      // Over all tiers (unit, proving ground, e2e, infra): measured 97.3 % lines, 91.7 % branches
      // (1147 of 1251). The floors leave room for branches that only timing takes (throttle
      // retries) and for a machine too loaded for some e2e runs; infra/ops counts through its
      // in-process unit tests (test/unit/ops-*.test.ts), not the e2e tests' child processes.
      thresholds: { lines: 90, branches: 80 },
    },
  },
});
