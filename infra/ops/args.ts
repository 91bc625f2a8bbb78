/** The operator CLI's command line: `<command> --env NAME [options]`. */
import { parseEvent } from '../../shared/event-schema.ts';

export const USAGE = `usage: npm run ops -- <command> --env NAME [options]

commands:
  invoke    run the function now and print what it did (waits for the run to finish)
              --dry-run          observe and plan only; nothing on any host changes
              --instance ID      only this instance (repeat for more); it must carry the fleet tag
              --json             print the run report as JSON instead of the table
  last-run  print the latest run report from the function's CloudWatch Logs
              --since HOURS      how far back to look (default 24)
              --json             print the run report as JSON instead of the table

Uses your own AWS credentials and region (AWS_PROFILE, AWS_REGION, ...); the region of the
environment in cdk.json is used when none is set. See README.md, "Operator command line".`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type Command =
  | { readonly name: 'invoke'; readonly env: string; readonly event: object; readonly json: boolean }
  | { readonly name: 'last-run'; readonly env: string; readonly sinceHours: number; readonly json: boolean };

const ENVIRONMENT_NAME = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;

export function parseArgs(argv: readonly string[]): Command {
  const [name, ...rest] = argv;
  if (name !== 'invoke' && name !== 'last-run') {
    throw new UsageError(name === undefined ? 'a command is required' : `unknown command "${name}"`);
  }
  let env: string | undefined;
  let dryRun = false;
  let json = false;
  let sinceHours = 24;
  const instances: string[] = [];
  const allowed =
    name === 'invoke' ? ['--env', '--dry-run', '--instance', '--json'] : ['--env', '--since', '--json'];
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] ?? '';
    if (!allowed.includes(flag)) throw new UsageError(`unexpected argument "${flag}" for ${name}`);
    if (flag === '--dry-run') dryRun = true;
    else if (flag === '--json') json = true;
    else {
      const value = rest[++i];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      if (flag === '--env') env = value;
      else if (flag === '--instance') instances.push(value);
      else if (flag === '--since') {
        sinceHours = Number(value);
        if (!(sinceHours > 0 && sinceHours <= 24 * 30)) {
          throw new UsageError(`--since takes a number of hours from 0 to 720, got "${value}"`);
        }
      }
    }
  }
  if (env === undefined) throw new UsageError('--env NAME is required (an environment of cdk.json)');
  if (!ENVIRONMENT_NAME.test(env)) throw new UsageError(`--env "${env}" is not an environment name`);
  if (name === 'last-run') return { name, env, sinceHours, json };
  const event = {
    ...(dryRun ? { dryRun: true } : {}),
    ...(instances.length > 0 ? { instanceIds: instances } : {}),
  };
  // The function's own validation, so a typo fails here, before anything runs.
  try {
    parseEvent(event);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return { name, env, event, json };
}
