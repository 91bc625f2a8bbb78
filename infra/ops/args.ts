/** The operator CLI's command line: `<command> --env NAME [options]`, and its help. */
import { parseEvent } from '../../shared/event-schema.ts';
import { EXIT_CODES_HELP } from './exit-codes.ts';

const COMMON = `  --env NAME         the environment (cdk.json "environments"); required
  --region REGION    AWS region (default: AWS_REGION, AWS_DEFAULT_REGION, the environment's
                     region in cdk.json, then your profile's)
  --profile NAME     AWS profile of your shared config/credentials files (default: AWS_PROFILE)
  -h, --help         this help`;

const CREDENTIALS = `Uses your own AWS credentials (profile, SSO, environment variables). Docs: docs/operating.md,
"Operator command line".`;

/** Per-command help: what it does, its options, and (for the commands that run) the exit codes. */
export const HELP: Readonly<Record<CommandName, string>> = {
  invoke: `usage: npm run ops -- invoke --env NAME [--dry-run] [--instance ID ...] [options]

Runs the environment's function now (Lambda Invoke, RequestResponse) and prints what it did:
the summary, a before/after table per component, and what needs a person. Waits for the run
(up to 15 minutes), showing its progress by step and batch; never re-sends it.

options:
  --dry-run          observe and plan only; nothing on any host changes
  --instance ID      only this instance (repeat for more); it must carry the fleet tag
  --json             print the run report as JSON instead of the table
  --wide             do not narrow the table to the terminal's width
${COMMON}

${EXIT_CODES_HELP}

${CREDENTIALS}`,
  'last-run': `usage: npm run ops -- last-run --env NAME [--since HOURS] [options]

Prints the latest run report the function logged (CloudWatch Logs), whoever started the run.

options:
  --since HOURS      how far back to look (default 24, at most 720)
  --json             print the run report as JSON instead of the table
  --wide             do not narrow the table to the terminal's width
${COMMON}

${EXIT_CODES_HELP}

${CREDENTIALS}`,
  preflight: `usage: npm run ops -- preflight --env NAME [--before-deploy] [options]

Checks what a deployment rests on, one line per check with the fix when it fails: the
registration token secret (readable and well-formed; its value is never printed), the fleet
nodes (agent versions and ping status), the deployed SSM documents against this checkout's
content hash, and that the alarms have somewhere to go. Every check calls AWS with your
credentials in the region chosen, so refused credentials, a missing region or an unreachable
endpoint fail the checks with a hint of what to do.

options:
  --before-deploy    skip the checks of the deployed stack (function, documents, alarms)
  --json             print the checks as JSON
${COMMON}

exit codes:
  0  every check passed (warnings allowed)
  1  a check failed
  2  usage error

${CREDENTIALS}`,
  help: `usage: npm run ops -- help [COMMAND]`,
};

export const USAGE = `usage: npm run ops -- <command> --env NAME [options]

commands:
  preflight  check what a deployment rests on: secret, fleet nodes, documents, alarms
  invoke     run the function now and print what it did (waits for the run to finish)
  last-run   print the latest run report from the function's CloudWatch Logs
  help       this help; "help COMMAND" (or COMMAND --help) for a command's options

common options:
${COMMON}

${EXIT_CODES_HELP}

${CREDENTIALS}`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export type CommandName = 'invoke' | 'last-run' | 'preflight' | 'help';

/** Where the command reaches AWS: the operator's choices, or undefined for the defaults. */
export interface AwsChoice {
  readonly region?: string;
  readonly profile?: string;
}

export type Command =
  | { readonly name: 'help'; readonly text: string }
  | (AwsChoice & {
      readonly name: 'invoke';
      readonly env: string;
      readonly event: { readonly dryRun?: true; readonly instanceIds?: readonly string[] };
      readonly json: boolean;
      readonly wide: boolean;
    })
  | (AwsChoice & {
      readonly name: 'last-run';
      readonly env: string;
      readonly sinceHours: number;
      readonly json: boolean;
      readonly wide: boolean;
    })
  | (AwsChoice & {
      readonly name: 'preflight';
      readonly env: string;
      readonly beforeDeploy: boolean;
      readonly json: boolean;
    });

const ENVIRONMENT_NAME = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d$/;
const PROFILE = /^[A-Za-z0-9_.@+=-]{1,64}$/;
const HELP_FLAGS = ['-h', '--help'];

/** Flags each command takes besides the common ones; those with a value are listed in VALUED. */
const FLAGS: Readonly<Record<Exclude<CommandName, 'help'>, readonly string[]>> = {
  invoke: ['--dry-run', '--instance', '--json', '--wide'],
  'last-run': ['--since', '--json', '--wide'],
  preflight: ['--before-deploy', '--json'],
};
const COMMON_FLAGS = ['--env', '--region', '--profile'];
const VALUED = new Set(['--env', '--region', '--profile', '--instance', '--since']);
/** Flags that may be given more than once. */
const REPEATABLE = new Set(['--instance']);

function isCommand(name: string | undefined): name is CommandName {
  return name === 'invoke' || name === 'last-run' || name === 'preflight' || name === 'help';
}

export function parseArgs(argv: readonly string[]): Command {
  const [name, ...rest] = argv;
  if (name === undefined) throw new UsageError('a command is required');
  if (HELP_FLAGS.includes(name)) return { name: 'help', text: USAGE };
  if (!isCommand(name)) throw new UsageError(`unknown command "${name}"`);
  if (name === 'help') {
    // "help --help", "help -h" and "help help" ask for help too: the usage, which describes help.
    const [topic, ...extra] = rest.filter((arg) => !HELP_FLAGS.includes(arg));
    if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" for help`);
    if (topic === undefined || topic === 'help') return { name, text: USAGE };
    if (!isCommand(topic)) throw new UsageError(`no help for "${topic}": not a command`);
    return { name, text: HELP[topic] };
  }
  if (rest.some((arg) => HELP_FLAGS.includes(arg))) return { name: 'help', text: HELP[name] };

  const values = new Map<string, string>();
  const switches = new Set<string>();
  const instances: string[] = [];
  const allowed = [...COMMON_FLAGS, ...FLAGS[name]];
  const given = new Set<string>();
  for (let i = 0; i < rest.length; i++) {
    const flag = rest[i] ?? '';
    if (!allowed.includes(flag)) throw new UsageError(`unexpected argument "${flag}" for ${name}`);
    // Only --instance repeats; a second --env (or any other) would silently win over the first.
    if (given.has(flag) && !REPEATABLE.has(flag)) {
      throw new UsageError(`${flag} is given more than once; give it once`);
    }
    given.add(flag);
    if (!VALUED.has(flag)) {
      switches.add(flag);
      continue;
    }
    const value = rest[++i];
    if (value === undefined || value.startsWith('-')) throw new UsageError(`${flag} needs a value`);
    if (flag === '--instance') instances.push(value);
    else values.set(flag, value);
  }
  const env = values.get('--env');
  if (env === undefined) throw new UsageError('--env NAME is required (an environment of cdk.json)');
  if (!ENVIRONMENT_NAME.test(env)) throw new UsageError(`--env "${env}" is not an environment name`);
  const region = values.get('--region');
  if (region !== undefined && !REGION.test(region)) {
    throw new UsageError(`--region "${region}" is not an AWS region (e.g. eu-west-1)`);
  }
  const profile = values.get('--profile');
  if (profile !== undefined && !PROFILE.test(profile)) {
    throw new UsageError(`--profile "${profile}" is not a profile name`);
  }
  const aws = { ...(region ? { region } : {}), ...(profile ? { profile } : {}) };
  const json = switches.has('--json');
  const wide = switches.has('--wide');

  if (name === 'preflight') return { name, env, ...aws, beforeDeploy: switches.has('--before-deploy'), json };
  if (name === 'last-run') {
    const since = values.get('--since');
    const sinceHours = since === undefined ? 24 : Number(since);
    if (!(sinceHours > 0 && sinceHours <= 24 * 30)) {
      throw new UsageError(`--since takes a number of hours from 0 to 720, got "${since}"`);
    }
    return { name, env, ...aws, sinceHours, json, wide };
  }
  const event = {
    ...(switches.has('--dry-run') ? { dryRun: true as const } : {}),
    ...(instances.length > 0 ? { instanceIds: instances } : {}),
  };
  // The function's own validation, so a typo fails here, before anything runs.
  try {
    parseEvent(event);
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  return { name, env, ...aws, event, json, wide };
}
