/**
 * `last-run`: the latest run report from the function's log group. The handler logs each
 * report as one JSON line with `"message": "run report"` (a large one as a head line plus
 * `"run report hosts"` parts, lambda/report-log.ts); FilterLogEvents with JSON filter
 * patterns finds them.
 */
import {
  type CloudWatchLogsClient,
  type FilteredLogEvent,
  FilterLogEventsCommand,
} from '@aws-sdk/client-cloudwatch-logs';
import { GetFunctionConfigurationCommand, type LambdaClient } from '@aws-sdk/client-lambda';
import type { Report } from './render.ts';

export class NoRunFound extends Error {
  override readonly name = 'NoRunFound';
}

/** The log group the function writes to (its logging configuration names it). */
export async function logGroupOf(lambda: LambdaClient, functionName: string): Promise<string> {
  const configuration = await lambda.send(
    new GetFunctionConfigurationCommand({ FunctionName: functionName }),
  );
  return configuration.LoggingConfig?.LogGroup ?? `/aws/lambda/${functionName}`;
}

export async function filterAll(
  logs: CloudWatchLogsClient,
  logGroupName: string,
  filterPattern: string,
  startTime: number,
  endTime?: number,
): Promise<FilteredLogEvent[]> {
  const events: FilteredLogEvent[] = [];
  let nextToken: string | undefined;
  do {
    const page = await logs.send(
      new FilterLogEventsCommand({
        logGroupName,
        filterPattern,
        startTime,
        ...(endTime === undefined ? {} : { endTime }),
        ...(nextToken ? { nextToken } : {}),
      }),
    );
    events.push(...(page.events ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return events;
}

type ReportLine = { report: Report & { hostParts?: number }; runId?: string };

export async function lastRunReport(
  logs: CloudWatchLogsClient,
  logGroupName: string,
  options: { readonly sinceHours: number; readonly now?: number },
): Promise<Report> {
  const now = options.now ?? Date.now();
  const heads = await filterAll(
    logs,
    logGroupName,
    '{ $.message = "run report" }',
    now - options.sinceHours * 3_600_000,
  );
  const latest = heads.reduce<FilteredLogEvent | undefined>(
    (best, event) => ((event.timestamp ?? 0) >= (best?.timestamp ?? -1) ? event : best),
    undefined,
  );
  if (!latest?.message) {
    throw new NoRunFound(
      `No run report in ${logGroupName} in the last ${options.sinceHours} hours (try --since with more hours).`,
    );
  }
  const line = JSON.parse(latest.message) as ReportLine;
  const { hostParts, ...report } = line.report;
  if (!hostParts) return report;
  // A report too large for one log event: its hosts follow in numbered parts.
  const runId = line.runId ?? report.runId;
  const parts = await filterAll(
    logs,
    logGroupName,
    `{ $.message = "run report hosts" && $.runId = "${runId}" }`,
    (latest.timestamp ?? now) - 60_000,
  );
  const byPart = new Map<number, Report['hosts']>();
  for (const event of parts) {
    const part = JSON.parse(event.message ?? '{}') as { part: number; hosts: Report['hosts'] };
    byPart.set(part.part, part.hosts);
  }
  const hosts: Report['hosts'][number][] = [];
  for (let part = 1; part <= hostParts; part++) {
    const these = byPart.get(part);
    if (!these)
      throw new NoRunFound(`Run ${runId}: host part ${part} of ${hostParts} is missing from the log.`);
    hosts.push(...these);
  }
  return { ...report, hosts };
}
