/**
 * Lambda entry point: event → validated request → one reconcile pass → report.
 * The report, with its one-sentence summary first, is returned and logged once per run,
 * followed by one line per component that needs a person.
 */
import { randomUUID } from 'node:crypto';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SSMClient } from '@aws-sdk/client-ssm';
import type { Context } from 'aws-lambda';
import { type ReconcilerConfig, readConfig } from '../shared/config.ts';
import { parseEvent } from '../shared/event-schema.ts';
import { checkKasmHealth } from './kasm-health.ts';
import { logger } from './logger.ts';
import { reconcile } from './reconcile.ts';
import { attentionLogLines, reportLogLines } from './report-log.ts';
import { type SummarizedRunReport, withSummary } from './report-summary.ts';
import { publishRunMetrics } from './run-metrics.ts';

/**
 * Throttling and 5xx storms are ridden out by the SDK's own retry: more attempts than the
 * default 3, standard mode (exponential backoff with jitter, longer for throttling).
 */
const CLIENT_SETTINGS = {
  maxAttempts: 10,
  retryMode: 'standard',
  requestHandler: { connectionTimeout: 5000, requestTimeout: 20_000 },
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** Config and clients are made on first use and kept for the life of the handler. */
function lazyDependencies(env: Env) {
  let made: { config: ReconcilerConfig; ssm: SSMClient; secrets: SecretsManagerClient } | undefined;
  return () => {
    made ??= {
      config: readConfig(env),
      ssm: new SSMClient(CLIENT_SETTINGS),
      secrets: new SecretsManagerClient(CLIENT_SETTINGS),
    };
    return made;
  };
}

/** Without a Lambda context (local runs) a run may take as long as Lambda's maximum. */
const MAX_RUN_MS = 15 * 60 * 1000;

export type ReconcileHandler = (event: unknown, context?: Partial<Context>) => Promise<SummarizedRunReport>;

/** A handler bound to one environment; tests and `simulate` make their own. */
export function createHandler(env: Env = process.env): ReconcileHandler {
  const dependencies = lazyDependencies(env);
  return async (event, context) => {
    const request = parseEvent(event);
    const { config, ssm, secrets } = dependencies();
    const runId = context?.awsRequestId ?? randomUUID();
    const remaining = context?.getRemainingTimeInMillis?.() ?? MAX_RUN_MS;
    logger.appendKeys({ runId });
    logger.info('run started', {
      trigger: request.trigger,
      dryRun: request.dryRun,
      instanceIds: request.instanceIds?.length ?? 'all',
    });
    const reconciled = await reconcile(request, {
      config,
      ssm,
      secrets,
      checkKasm: () =>
        checkKasmHealth({
          ...(config.kasmApiUrl ? { url: config.kasmApiUrl } : {}),
          ...(config.kasmCaPem ? { caPem: config.kasmCaPem } : {}),
          ...(config.kasmCaFile ? { caFile: config.kasmCaFile } : {}),
        }),
      log: {
        info: (message, extra) => logger.info(message, { ...extra }),
        warn: (message, extra) => logger.warn(message, { ...extra }),
      },
      runId,
      deadlineAt: Date.now() + remaining - config.deadlineMarginMs,
    });
    const report = withSummary(reconciled);
    for (const { message, ...extra } of reportLogLines(report)) logger.info(message, extra);
    for (const { message, ...extra } of attentionLogLines(report)) logger.warn(message, extra);
    publishRunMetrics(report, config.metricsNamespace);
    return report;
  };
}

/** The Lambda entry point. */
export const handler: ReconcileHandler = createHandler();
