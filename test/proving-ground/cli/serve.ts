/**
 * npm run proving-ground -- --scenario FILE
 * Starts the proving ground alone, prints one JSON line describing it, serves until
 * SIGTERM or SIGINT, then stops everything it started.
 */
import { startProvingGround } from '../proving-ground.ts';
import { loadScenario, ScenarioError } from '../scenario.ts';
import { parseFlags } from './args.ts';

const USAGE = 'usage: npm run proving-ground -- --scenario FILE';

async function main(): Promise<void> {
  const flags = parseFlags(process.argv.slice(2), ['scenario'], USAGE);
  const path = flags.get('scenario');
  if (!path) {
    process.stderr.write(`--scenario is required\n${USAGE}\n`);
    process.exit(64);
  }
  let scenario: ReturnType<typeof loadScenario>;
  try {
    scenario = loadScenario(path);
  } catch (error) {
    process.stderr.write(`${error instanceof ScenarioError ? error.message : String(error)}\n`);
    process.exit(1);
  }
  for (const warning of scenario.warnings ?? []) process.stderr.write(`scenario warning: ${warning}\n`);
  // Benchmarks raise this: pushes mostly sleep on the host, which real hosts do in parallel.
  const steps = Number(process.env.PROVING_GROUND_MAX_STEPS) || undefined;
  const ground = await startProvingGround(scenario, steps ? { maxConcurrentSteps: steps } : {});
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    ground.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // For the bench (its handler runs in another process): one JSON line of what the ground saw so far.
  process.on('SIGUSR2', () => {
    const components = Object.values(ground.fleetState()).flatMap((host) => Object.values(host));
    const stats = {
      awsCalls: ground.awsCalls(),
      awsBytes: ground.awsBytes(),
      components: components.length,
      tokensValid: components.filter((c) => c.tokenValid).length,
      timingNotes: ground.timingNotes,
    };
    process.stdout.write(`${JSON.stringify(stats)}\n`);
  });
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdout.write(`${JSON.stringify(ground.info)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`proving-ground failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
