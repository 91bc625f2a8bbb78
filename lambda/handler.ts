/**
 * Lambda entry point: event → validated request → one reconcile pass → report.
 * The report, with its one-sentence summary first, is returned and logged once per run,
 * followed by one line per component that needs a person; for SQS batches it carries the
 * partial batch response.
 */
import { randomUUID } from 'node:crypto';
import { EC2Client } from '@aws-sdk/client-ec2';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { type ReconcilerConfig, readConfig } from '../shared/config.ts';
import { InvalidEventError, parseEvent, type ReconcileRequest } from '../shared/event-schema.ts';
import { DEFAULT_METRICS_NAMESPACE } from '../shared/names.ts';
import { AwsCaller } from './aws/aws-call.ts';
import { Pacer } from './aws/pacer.ts';
import { ssmFleet } from './aws/ssm-fleet.ts';
import { checkKasmHealth } from './kasm-health.ts';
import { logger } from './logger.ts';
import { reconcile } from './reconcile.ts';
import { readRegistrationToken } from './registration-secret.ts';
import { attentionLogLines, reportLogLines } from './report-log.ts';
import { type SummarizedRunReport, withSummary } from './report-summary.ts';
import { publishRejectedEvent, publishRunMetrics } from './run-metrics.ts';

/**
 * The SDK's adaptive mode slows a client down after throttles; the run's own pacing and
 * backoff (AwsCaller) ride out longer throttling without spending the SDK's retry quota.
 * https://docs.aws.amazon.com/sdkref/latest/guide/feature-retry-behavior.html
 */
const CLIENT_SETTINGS = {
  maxAttempts: 3,
  retryMode: 'adaptive',
  requestHandler: { connectionTimeout: 5000, requestTimeout: 20_000 },
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** Config and clients are made on first use and kept for the life of the handler. */
function lazyDependencies(env: Env) {
  let made:
    | { config: ReconcilerConfig; ssm: SSMClient; ec2: EC2Client; secrets: SecretsManagerClient }
    | undefined;
  return () => {
    made ??= {
      config: readConfig(env),
      ssm: new SSMClient(CLIENT_SETTINGS),
      ec2: new EC2Client(CLIENT_SETTINGS),
      secrets: new SecretsManagerClient(CLIENT_SETTINGS),
    };
    return made;
  };
}

/** Without a Lambda context (local runs) a run may take as long as Lambda's maximum. */
const MAX_RUN_MS = 15 * 60 * 1000;
/** Calls in flight are cut this long before Lambda would stop the function. */
const HARD_STOP_MARGIN_MS = 5000;

export type HandlerReport = SummarizedRunReport & {
  /** SQS partial batch response: the records SQS should deliver again (or dead-letter). */
  readonly batchItemFailures?: readonly { readonly itemIdentifier: string }[];
};

export type ReconcileHandler = (event: unknown, context?: Partial<Context>) => Promise<HandlerReport>;

/** A handler bound to one environment; tests and `simulate` make their own. */
export function createHandler(env: Env = process.env): ReconcileHandler {
  const dependencies = lazyDependencies(env);
  return async (event, context) => {
    const request = parseEvent(event);
    const { config, ssm, ec2, secrets } = dependencies();
    const startedAt = Date.now();
    const runId = context?.awsRequestId ?? randomUUID();
    const endsAt = startedAt + (context?.getRemainingTimeInMillis?.() ?? MAX_RUN_MS);
    logger.appendKeys({ runId });
    logger.info('run started', {
      trigger: request.trigger,
      dryRun: request.dryRun,
      instanceIds: request.instanceIds?.length ?? 'all',
    });
    for (const record of request.rejectedRecords ?? []) {
      logger.warn('SQS record set aside', { messageId: record.messageId, problem: record.problem });
    }
    const log = {
      info: (message: string, extra?: object) => logger.info(message, { ...extra }),
      warn: (message: string, extra?: object) => logger.warn(message, { ...extra }),
    };
    const caller = new AwsCaller({
      pacer: new Pacer({ ratePerSecond: config.apiCallsPerSecond, burst: config.apiBurst }),
      // Work stops at deadlineAt; calls (cancels, the last reads) may go on until the hard stop.
      deadlineAt: endsAt - HARD_STOP_MARGIN_MS,
    });
    const report = await reconcile(request, {
      config,
      fleet: ssmFleet({
        ssm,
        ec2,
        caller,
        fleetTag: config.fleetTag,
        pollIntervalMs: config.pollIntervalMs,
        maxPollIntervalMs: config.maxPollIntervalMs,
        pickupSeconds: config.pickupSeconds,
        log,
      }),
      readSecret: () => readRegistrationToken(secrets, config.secretId, config.secretJsonField, caller),
      checkKasm: () =>
        checkKasmHealth({
          ...(config.kasmApiUrl ? { url: config.kasmApiUrl } : {}),
          ...(config.kasmCaPem ? { caPem: config.kasmCaPem } : {}),
          ...(config.kasmCaFile ? { caFile: config.kasmCaFile } : {}),
        }),
      log,
      runId,
      now: Date.now,
      deadlineAt: endsAt - config.deadlineMarginMs,
    });
    const full = withBatchResponse(
      request,
      withSummary({ ...report, errors: [...rejectedRecordErrors(request), ...report.errors] }),
    );
    for (const { message, ...extra } of reportLogLines(full)) logger.info(message, extra);
    for (const { message, ...extra } of attentionLogLines(full)) logger.warn(message, extra);
    publishRunMetrics(full, config.metricsNamespace, caller.throttles);
    return full;
  };
}

function rejectedRecordErrors(request: ReconcileRequest): string[] {
  return (request.rejectedRecords ?? []).map(
    (r) => `SQS message ${r.messageId} is not a running-state notification (${r.problem}); it was set aside.`,
  );
}

/**
 * SQS partial batch response: set-aside records, and the starts of fleet instances that never
 * checked in with SSM, go back (and on to the dead-letter queue after maxReceiveCount); when the
 * run as a whole failed, every record goes back.
 * https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
 */
function withBatchResponse(request: ReconcileRequest, report: SummarizedRunReport): HandlerReport {
  if (!request.messageIds) return report;
  const unseen = new Set(report.notCheckedIn);
  const failed = report.ok
    ? [
        ...(request.rejectedRecords ?? []).map((r) => r.messageId),
        ...(request.startRecords ?? []).filter((r) => unseen.has(r.instanceId)).map((r) => r.messageId),
      ]
    : request.messageIds;
  return { ...report, batchItemFailures: failed.map((itemIdentifier) => ({ itemIdentifier })) };
}

/** What the deployed function returns for an event it rejects: nothing was done, and why. */
export type RejectedEventReport = SummarizedRunReport & { readonly rejected: true };

/**
 * The deployed entry point: `createHandler`, except that an invalid event typed by hand (the
 * console, `aws lambda invoke`) is answered with a report saying why, logged, and counted in the
 * RejectedEvents metric, instead of a function error: the FunctionErrors alarm pages for crashes,
 * not for a typo. An SQS batch that is not one SQS sends still fails, so SQS keeps the messages.
 */
export function createLambdaHandler(env: Env = process.env): ReconcileHandler {
  const run = createHandler(env);
  return async (event, context) => {
    try {
      return await run(event, context);
    } catch (error) {
      if (!(error instanceof InvalidEventError) || isSqsShaped(event)) throw error;
      logger.warn('event rejected', { problem: error.message });
      publishRejectedEvent(env.POWERTOOLS_METRICS_NAMESPACE ?? DEFAULT_METRICS_NAMESPACE);
      return rejectedEventReport(error.message, context?.awsRequestId ?? randomUUID(), new Date());
    }
  };
}

function isSqsShaped(event: unknown): boolean {
  return (
    typeof event === 'object' && event !== null && Array.isArray((event as { Records?: unknown }).Records)
  );
}

/** A report in the run report's shape, for an event no run was started for. */
export function rejectedEventReport(message: string, runId: string, at: Date): RejectedEventReport {
  return {
    summary: `Event rejected, nothing was done: ${message}`,
    ok: false,
    dryRun: false,
    runId,
    trigger: 'rejected',
    startedAt: at.toISOString(),
    durationMs: 0,
    kasmApi: 'unchecked',
    totals: {},
    hostTotals: {},
    hosts: [],
    errors: [message],
    rejected: true,
  };
}

/** The Lambda entry point. */
export const handler: ReconcileHandler = createLambdaHandler();
