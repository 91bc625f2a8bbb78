/**
 * npm run simulate -- --scenario FILE [--event JSON] [--out FILE]
 * Starts the proving ground, runs the real handler once, prints {report, fleet, awsCalls}.
 * Exit 0 when the run happened; 2 when the handler rejected the event (message on stderr).
 */
import { writeFileSync } from 'node:fs';
import { InvalidEventError, parseEvent } from '../../../shared/event-schema.ts';
import { agentMissingReason } from '../agent/build.ts';
import { startProvingGround } from '../proving-ground.ts';
import { loadScenario, ScenarioError } from '../scenario.ts';
import { runOnce } from '../simulation.ts';
import { parseFlags } from './args.ts';

const USAGE = 'usage: npm run simulate -- --scenario FILE [--event JSON] [--out FILE]';

async function main(): Promise<number> {
  const flags = parseFlags(process.argv.slice(2), ['scenario', 'event', 'out'], USAGE);
  const scenarioPath = flags.get('scenario');
  if (!scenarioPath) {
    process.stderr.write(`--scenario is required\n${USAGE}\n`);
    return 64;
  }
  let event: unknown = {};
  const eventText = flags.get('event');
  if (eventText !== undefined) {
    try {
      event = JSON.parse(eventText);
    } catch {
      process.stderr.write(`--event is not JSON: ${eventText}\n`);
      return 2;
    }
  }
  try {
    // The handler validates the event first too; doing it here leaves the fleet unstarted.
    parseEvent(event);
  } catch (error) {
    if (!(error instanceof InvalidEventError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  let scenario: ReturnType<typeof loadScenario>;
  try {
    scenario = loadScenario(scenarioPath);
  } catch (error) {
    process.stderr.write(`${error instanceof ScenarioError ? error.message : String(error)}\n`);
    return 1;
  }

  for (const warning of scenario.warnings ?? []) process.stderr.write(`scenario warning: ${warning}\n`);
  if (scenario.hostModel === 'agent') {
    const missing = agentMissingReason();
    if (missing) {
      process.stderr.write(`hostModel "agent" runs the real Amazon SSM Agent, but ${missing}\n`);
      return 1;
    }
  }
  const ground = await startProvingGround(scenario, {
    log: (line) => process.stderr.write(`proving ground: ${line}\n`),
  });
  for (const note of ground.timingNotes) process.stderr.write(`proving ground: awsTiming: ${note}\n`);
  try {
    const result = await runOnce(ground, event, { onLog: (line) => process.stderr.write(`${line}\n`) });
    const text = `${JSON.stringify(result, null, 2)}\n`;
    const out = flags.get('out');
    if (out) writeFileSync(out, text);
    else process.stdout.write(text);
    return 0;
  } catch (error) {
    if (error instanceof InvalidEventError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    await ground.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `simulate failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
