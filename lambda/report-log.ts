/**
 * The run report as log lines. CloudWatch Logs caps one event at 256 KB, so a report of
 * thousands of hosts is logged as a head line (everything but the hosts) plus host parts.
 * https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutLogEvents.html
 */
import type { HostReport, RunReport } from './report.ts';

/** Leaves room for the logger's own keys within the 256 KB event limit. */
export const MAX_LOG_LINE_CHARS = 200_000;

export type ReportLogLine =
  | {
      readonly message: 'run report';
      readonly report: RunReport | (Omit<RunReport, 'hosts'> & { hostParts: number });
    }
  | {
      readonly message: 'run report hosts';
      readonly part: number;
      readonly of: number;
      readonly hosts: readonly HostReport[];
    };

export function reportLogLines(report: RunReport, maxChars = MAX_LOG_LINE_CHARS): ReportLogLine[] {
  if (JSON.stringify(report).length <= maxChars) return [{ message: 'run report', report }];
  const parts: HostReport[][] = [[]];
  let size = 0;
  for (const host of report.hosts) {
    const hostSize = JSON.stringify(host).length + 1;
    if (size + hostSize > maxChars && (parts.at(-1)?.length ?? 0) > 0) {
      parts.push([]);
      size = 0;
    }
    parts.at(-1)?.push(host);
    size += hostSize;
  }
  const { hosts: _hosts, ...head } = report;
  return [
    { message: 'run report', report: { ...head, hostParts: parts.length } },
    ...parts.map((hosts, i) => ({
      message: 'run report hosts' as const,
      part: i + 1,
      of: parts.length,
      hosts,
    })),
  ];
}
