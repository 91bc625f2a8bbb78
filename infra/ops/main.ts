/**
 * What `npm run ops` does, apart from the process it runs in (cli.ts): parse the command
 * line, then check a deployment (preflight), invoke the environment's function, or read its
 * last report from the logs, and print it. Its output streams, environment and AWS clients
 * are handed in, so tests run it in-process. Exit codes: exit-codes.ts.
 */
import { CloudWatchClient } from '@aws-sdk/client-cloudwatch';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SNSClient } from '@aws-sdk/client-sns';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type AwsChoice, type Command, parseArgs, USAGE, UsageError } from './args.ts';
import { type ProgressStream, withElapsed } from './elapsed.ts';
import { EXIT, exitCodeOf, notReconciled, unreachableRequested } from './exit-codes.ts';
import { explain } from './hints.ts';
import { FunctionError, invokeFunction } from './invoke.ts';
import { lastRunReport, logGroupOf, NoRunFound } from './last-run.ts';
import { runPreflight } from './preflight.ts';
import { type Report, renderReport } from './render.ts';
import { followRun } from './run-progress.ts';
import { resolveTarget, type Target } from './target.ts';

/** A run may take Lambda's maximum of 15 minutes; the connection must outlast it. */
export const INVOKE_TIMEOUT_MS = 16 * 60 * 1000;

export interface OpsClients {
  readonly lambda: LambdaClient;
  readonly logs: CloudWatchLogsClient;
  readonly ssm: SSMClient;
  readonly secrets: SecretsManagerClient;
  readonly cloudwatch: CloudWatchClient;
  readonly sns: SNSClient;
}

export interface OpsIo {
  /** Reports; on a terminal (`isTTY`), tables are narrowed to `columns` unless --wide. */
  readonly stdout: { write(text: string): unknown; readonly isTTY?: boolean; readonly columns?: number };
  /** Usage, errors and the wait for a run (rewritten in place on a terminal). */
  readonly stderr: ProgressStream;
  /** The operator's environment: AWS_REGION or AWS_DEFAULT_REGION choose the region. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The AWS clients for a region and profile (undefined: the SDK's own lookup); cli.ts passes makeClients. */
  readonly clients: (choice: AwsChoice) => OpsClients;
  /** cdk.json with the environments (default: the repository's). */
  readonly cdkJsonPath?: string;
  /** How often `invoke` reads the run's progress from its log group (default 2 s). */
  readonly progressIntervalMs?: number;
}

/** The operator's own AWS clients, for the region and profile chosen (else the SDK's defaults). */
export function makeClients(choice: AwsChoice): OpsClients {
  const config = {
    ...(choice.region ? { region: choice.region } : {}),
    ...(choice.profile ? { profile: choice.profile } : {}),
  };
  return {
    lambda: new LambdaClient({
      ...config,
      // Never re-send an invoke: a lost connection does not mean the run did not happen.
      maxAttempts: 1,
      requestHandler: { requestTimeout: INVOKE_TIMEOUT_MS },
    }),
    logs: new CloudWatchLogsClient(config),
    ssm: new SSMClient(config),
    secrets: new SecretsManagerClient(config),
    cloudwatch: new CloudWatchClient(config),
    sns: new SNSClient(config),
  };
}

type RunCommand = Exclude<Command, { name: 'help' }>;

export async function runOps(argv: readonly string[], io: OpsIo): Promise<number> {
  let command: Command;
  try {
    command = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`${error.message}\n\n${USAGE}\n`);
    return EXIT.usage;
  }
  if (command.name === 'help') {
    io.stdout.write(`${command.text}\n`);
    return EXIT.ok;
  }
  const target = resolveTarget(command.env, io.cdkJsonPath);
  const region = command.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? target.region;
  const profile = command.profile;
  const clients = io.clients({ ...(region ? { region } : {}), ...(profile ? { profile } : {}) });
  const where = {
    env: command.env,
    known: target.known,
    ...(region ? { region } : {}),
    ...(io.env.AWS_ENDPOINT_URL ? { endpoint: io.env.AWS_ENDPOINT_URL } : {}),
  };
  try {
    if (command.name === 'preflight') {
      return await runPreflight(command, target, clients, io, region);
    }
    return await runReportCommand(command, target, clients, io);
  } catch (error) {
    if (error instanceof FunctionError || error instanceof NoRunFound) {
      io.stderr.write(`${error.message}\n`);
      return EXIT.failed;
    }
    io.stderr.write(`${explain(error, where)}\n`);
    return EXIT.failed;
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}

async function runReportCommand(
  command: Exclude<RunCommand, { name: 'preflight' }>,
  target: Target,
  clients: OpsClients,
  io: OpsIo,
): Promise<number> {
  const { lambda, logs } = clients;
  let report: Report;
  let requested: readonly string[] | undefined;
  if (command.name === 'invoke') {
    requested = command.event.instanceIds;
    const dryRun = command.event.dryRun === true;
    report = await withElapsed(
      io.stderr,
      `${target.functionName}: ${dryRun ? 'dry run' : 'run'} in progress`,
      async (progress) => {
        const stop = new AbortController();
        const invoked = { at: Date.now(), dryRun };
        // The log group is only needed for progress: a refusal here must not stop the run.
        const following = logGroupOf(lambda, target.functionName).then(
          (group) => followRun(logs, group, invoked, progress, stop.signal, io.progressIntervalMs ?? 2000),
          () => undefined,
        );
        try {
          return await invokeFunction(lambda, target.functionName, command.event);
        } finally {
          stop.abort();
          await following;
        }
      },
    );
  } else {
    const logGroup = await logGroupOf(lambda, target.functionName);
    report = await lastRunReport(logs, logGroup, { sinceHours: command.sinceHours });
  }
  const width = !command.wide && io.stdout.isTTY ? io.stdout.columns : undefined;
  io.stdout.write(
    command.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report, width ? { width } : {}),
  );
  const untouched = notReconciled(report, requested);
  if (untouched.length > 0) {
    io.stderr.write(
      `Not reconciled, not a fleet node (no fleet tag, not managed by SSM, or stopped): ${untouched.join(', ')}\n`,
    );
  }
  const offline = unreachableRequested(report, requested);
  if (offline.length > 0) {
    io.stderr.write(
      `Not reconciled, offline (SSM lists it, but its agent did not answer): ${offline.join(', ')}\n`,
    );
  }
  return exitCodeOf(report, requested);
}

/** What the operator sees when the CLI itself fails (a bug, not an AWS answer). */
export function crashMessage(error: unknown): string {
  return `ops failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`;
}
