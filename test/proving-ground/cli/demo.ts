/**
 * npm run demo: a dozen hosts after a weekend power-down, on the built-in proving ground.
 * Prints host, component, state before the run, status after it, and the totals.
 */
import { fileURLToPath } from 'node:url';
import { textTable } from '../../../shared/text-table.ts';
import { artifactSources, runArtifacts } from '../../e2e/run-artifacts.ts';
import { describeLeaks, scanForLeaks } from '../../leak-scanner.ts';
import { startProvingGround } from '../proving-ground.ts';
import { loadScenario } from '../scenario.ts';
import { runOnce } from '../simulation.ts';

const SCENARIO = fileURLToPath(new URL('../../scenarios/demo.json', import.meta.url));

const BEFORE: Record<string, string> = {
  valid: 'token valid',
  expiring: 'token about to expire',
  'in-grace': 'expired, in grace',
  expired: 'LOCKED OUT (past grace)',
  missing: 'no token in config',
  garbage: 'token unreadable',
};

async function main(): Promise<void> {
  const scenario = loadScenario(SCENARIO);
  process.stdout.write(
    `Proving ground: ${scenario.hosts.length} hosts after a weekend power-down (heartbeat ${scenario.kasm.heartbeatSeconds}s, ` +
      `grace ${scenario.kasm.gracePeriodSeconds}s). Running the reconciler once…\n\n`,
  );
  const ground = await startProvingGround(scenario);
  const logs: string[] = [];
  const stderr: string[] = [];
  try {
    const { report, fleet } = await runOnce(
      ground,
      {},
      { onLog: (l) => logs.push(l), onStderr: (l) => stderr.push(l) },
    );
    // Shown as before, after the run; captured so that the leak search covers it too.
    for (const line of stderr) process.stderr.write(`${line}\n`);
    const rows = [['host', 'component', 'before', 'after', 'token now']];
    for (const host of scenario.hosts) {
      const reported = report.hosts.find((h) => h.instanceId === host.id);
      for (const [name, component] of Object.entries(host.components)) {
        const before = `${host.online ? '' : 'offline, '}${BEFORE[component.token] ?? component.token}`;
        const after = reported
          ? (reported.components.find((c) => c.name === name)?.status ?? '-')
          : 'not listed (no fleet tag)';
        const state = fleet[host.id]?.[name];
        rows.push([host.id, name, before, after, state ? (state.tokenValid ? 'valid' : 'INVALID') : '-']);
      }
    }
    process.stdout.write(`${textTable(rows)}\n\n`);
    process.stdout.write(`summary: ${(report as { summary?: string }).summary ?? ''}\n`);
    process.stdout.write(
      `components: ${JSON.stringify(report.totals)}; hosts: ${JSON.stringify(report.hostTotals)}\n`,
    );
    process.stdout.write(`Kasm API: ${report.kasmApi}; run took ${report.durationMs} ms; ok: ${report.ok}\n`);
    for (const error of report.errors) process.stdout.write(`error: ${error}\n`);
    const token = scenario.registrationToken?.trim() ?? '';
    const leaks = token
      ? scanForLeaks(token, artifactSources(runArtifacts(ground, { report, logs, stderr })))
      : [];
    process.stdout.write(
      `registration token found in report, logs, AWS calls, host steps or host files: ${leaks.length > 0 ? `YES (bug!)\n${describeLeaks(leaks)}` : 'nowhere'}\n`,
    );
  } finally {
    await ground.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `demo failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exit(1);
});
