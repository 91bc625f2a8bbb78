/**
 * npm run ops -- <command> --env NAME: the operator's command line for a deployed
 * environment, with the operator's own AWS credentials. See USAGE in args.ts.
 * Exit codes: 0 the run did its job, 1 it did not (or the call failed), 2 usage error.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { stackName } from '../../shared/names.ts';
import { parseArgs, USAGE, UsageError } from './args.ts';
import { withElapsed } from './elapsed.ts';
import { FunctionError, invokeFunction } from './invoke.ts';
import { lastRunReport, logGroupOf, NoRunFound } from './last-run.ts';
import { type Report, renderReport } from './render.ts';
import { resolveTarget, type Target } from './target.ts';

/** A run may take Lambda's maximum of 15 minutes; the connection must outlast it. */
const INVOKE_TIMEOUT_MS = 16 * 60 * 1000;

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
    return `${message}\nAnother run is in progress (runs never overlap); try again in a few minutes.`;
  }
  if (name === 'AccessDeniedException' || name === 'AccessDenied') {
    return `${message}\nYour credentials lack a permission README.md lists under "Operator command line".`;
  }
  return message;
}

async function main(argv: readonly string[]): Promise<number> {
  let command: ReturnType<typeof parseArgs>;
  try {
    command = parseArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  const target = resolveTarget(command.env);
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? target.region;
  const clientConfig = region ? { region } : {};
  const lambda = new LambdaClient({
    ...clientConfig,
    // Never re-send an invoke: a lost connection does not mean the run did not happen.
    maxAttempts: 1,
    requestHandler: { requestTimeout: INVOKE_TIMEOUT_MS },
  });
  const logs = new CloudWatchLogsClient(clientConfig);
  try {
    let report: Report;
    if (command.name === 'invoke') {
      const what = 'dryRun' in command.event ? 'dry run' : 'run';
      report = await withElapsed(process.stderr, `${target.functionName}: ${what} in progress`, () =>
        invokeFunction(lambda, target.functionName, command.event),
      );
    } else {
      const logGroup = await logGroupOf(lambda, target.functionName);
      report = await lastRunReport(logs, logGroup, { sinceHours: command.sinceHours });
    }
    process.stdout.write(command.json ? `${JSON.stringify(report, null, 2)}\n` : renderReport(report));
    return report.ok ? 0 : 1;
  } catch (error) {
    if (error instanceof FunctionError || error instanceof NoRunFound) {
      process.stderr.write(`${error.message}\n`);
      return 1;
    }
    process.stderr.write(`${explain(error, target)}\n`);
    return 1;
  } finally {
    lambda.destroy();
    logs.destroy();
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `ops failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
