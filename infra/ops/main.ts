/**
 * What `npm run ops` does, apart from the process it runs in (cli.ts): parse the command
 * line, invoke the environment's function or read its last report from the logs, print it.
 * Its output streams, environment and AWS clients are handed in, so tests run it in-process.
 * Exit codes: 0 the run did its job, 1 it did not (or the call failed), 2 usage error.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { stackName } from '../../shared/names.ts';
import { parseArgs, USAGE, UsageError } from './args.ts';
import { type ProgressStream, withElapsed } from './elapsed.ts';
import { FunctionError, invokeFunction } from './invoke.ts';
import { lastRunReport, logGroupOf, NoRunFound } from './last-run.ts';
import { type Report, renderReport } from './render.ts';
import { resolveTarget, type Target } from './target.ts';

/** A run may take Lambda's maximum of 15 minutes; the connection must outlast it. */
export const INVOKE_TIMEOUT_MS = 16 * 60 * 1000;

export interface OpsClients {
  readonly lambda: LambdaClient;
  readonly logs: CloudWatchLogsClient;
}

export interface OpsIo {
  readonly stdout: { write(text: string): unknown };
  /** Usage, errors and the wait for a run (rewritten in place on a terminal). */
  readonly stderr: ProgressStream;
  /** The operator's environment: AWS_REGION or AWS_DEFAULT_REGION choose the region. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The AWS clients for a region (undefined: the SDK's own lookup); cli.ts passes makeClients. */
  readonly clients: (region: string | undefined) => OpsClients;
  /** cdk.json with the environments (default: the repository's). */
  readonly cdkJsonPath?: string;
}

/** The operator's own AWS clients, for the region chosen (or the SDK's default when none). */
export function makeClients(region: string | undefined): OpsClients {
  const clientConfig = region ? { region } : {};
  return {
    lambda: new LambdaClient({
      ...clientConfig,
      // Never re-send an invoke: a lost connection does not mean the run did not happen.
      maxAttempts: 1,
      requestHandler: { requestTimeout: INVOKE_TIMEOUT_MS },
    }),
    logs: new CloudWatchLogsClient(clientConfig),
  };
}

function explain(error: unknown, target: Target): string {
  const name = (error as { name?: string }).name ?? '';
  const message = error instanceof Error ? error.message : String(error);
  if (name === 'ResourceNotFoundException') {
    return (
      `${message}\nIs the stack ${stackName(target.env)} deployed in this account and region? ` +
      `(environments in cdk.json: ${target.known.join(', ') || 'none'})`
    );
  }
  if (name === 'TooManyRequestsException') {
    return `${message}\nLambda throttled the run: the account's concurrency (or the environment's reservedConcurrency) is in use; try again in a few minutes.`;
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied') {
    return `${message}\nYour credentials lack a permission README.md lists under "Operator command line".`;
  }
  return message;
}

export async function runOps(argv: readonly string[], io: OpsIo): Promise<number> {
  let command: ReturnType<typeof parseArgs>;
  try {
    command = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  const target = resolveTarget(command.env, io.cdkJsonPath);
  const region = io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION ?? target.region;
  const { lambda, logs } = io.clients(region);
  try {
    let report: Report;
    if (command.name === 'invoke') {
      const what = 'dryRun' in command.event ? 'dry run' : 'run';
      report = await withElapsed(io.stderr, `${target.functionName}: ${what} in progress`, () =>
        invokeFunction(lambda, target.functionName, command.event),
      );
    } else {
      const logGroup = await logGroupOf(lambda, target.functionName);
      report = await lastRunReport(logs, logGroup, { sinceHours: command.sinceHours });
    }
    io.stdout.write(command.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof FunctionError || error instanceof NoRunFound) {
      io.stderr.write(`${error.message}\n`);
      return 1;
    }
    io.stderr.write(`${explain(error, target)}\n`);
    return 1;
  } finally {
    lambda.destroy();
    logs.destroy();
  }
}

/** What the operator sees when the CLI itself fails (a bug, not an AWS answer). */
export function crashMessage(error: unknown): string {
  return `ops failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`;
}
