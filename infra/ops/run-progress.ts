/**
 * How far a run has got, read from what the function logs while it works ("run started",
 * "inventory", and "progress" per finished batch of SSM commands, lambda/report-log.ts), so
 * an operator waiting on `invoke` sees the step and batch instead of a bare clock.
 * `describeProgress` is pure; `followRun` polls the log group and never fails the command.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { filterAll } from './last-run.ts';

/** The log lines this reads, as the function writes them (Powertools JSON). */
export interface RunLogLine {
  readonly message: string;
  readonly runId?: string;
  readonly timestamp: number;
  readonly trigger?: string;
  readonly dryRun?: boolean;
  readonly hosts?: number;
  readonly reachable?: number;
  readonly step?: string;
  readonly batchesDone?: number;
  readonly batches?: number;
  readonly nodesDone?: number;
  readonly nodes?: number;
}

/** Which run is ours: the first direct run of the same kind that started after we invoked. */
export function ourRun(
  lines: readonly RunLogLine[],
  invoked: { readonly at: number; readonly dryRun: boolean },
): string | undefined {
  return [...lines]
    .filter(
      (l) => l.message === 'run started' && l.trigger === 'direct' && Boolean(l.dryRun) === invoked.dryRun,
    )
    .filter((l) => l.timestamp >= invoked.at - CLOCK_SKEW_MS)
    .sort((a, b) => a.timestamp - b.timestamp)[0]?.runId;
}

/** The operator's clock and CloudWatch's may differ by a little. */
const CLOCK_SKEW_MS = 5000;

/** "inventory: 120 hosts, 118 online · probe: batch 2 of 3 (100 of 118 hosts)"; '' before anything. */
export function describeProgress(lines: readonly RunLogLine[], runId: string): string {
  const ours = lines.filter((l) => l.runId === runId).sort((a, b) => a.timestamp - b.timestamp);
  const parts: string[] = [];
  const inventory = ours.findLast((l) => l.message === 'inventory');
  if (inventory) parts.push(`inventory: ${inventory.hosts ?? 0} hosts, ${inventory.reachable ?? 0} online`);
  const progress = ours.findLast((l) => l.message === 'progress');
  if (progress) {
    parts.push(
      `${progress.step ?? 'step'}: batch ${progress.batchesDone ?? 0} of ${progress.batches ?? 0} ` +
        `(${progress.nodesDone ?? 0} of ${progress.nodes ?? 0} hosts)`,
    );
  }
  return parts.join(' · ');
}

const FILTER = '{ $.message = "run started" || $.message = "inventory" || $.message = "progress" }';

/**
 * Polls the function's log group every `intervalMs` until `signal` aborts, calling `onProgress`
 * with each new description of our run. A failed read (no permission, no log group yet) ends
 * the following quietly: progress is a courtesy, the run's report is what counts.
 */
export async function followRun(
  logs: CloudWatchLogsClient,
  logGroupName: string,
  invoked: { readonly at: number; readonly dryRun: boolean },
  onProgress: (text: string) => void,
  signal: AbortSignal,
  intervalMs = 2000,
): Promise<void> {
  let runId: string | undefined;
  let last = '';
  while (!signal.aborted) {
    try {
      await sleep(intervalMs, undefined, { signal });
    } catch {
      return; // aborted: the run is over
    }
    let lines: RunLogLine[];
    try {
      const events = await filterAll(logs, logGroupName, FILTER, invoked.at - CLOCK_SKEW_MS);
      lines = events.flatMap((e) => parse(e.message, e.timestamp ?? 0));
    } catch {
      return;
    }
    runId ??= ourRun(lines, invoked);
    const text = runId ? describeProgress(lines, runId) : '';
    if (text !== '' && text !== last) {
      last = text;
      onProgress(text);
    }
  }
}

function parse(message: string | undefined, timestamp: number): RunLogLine[] {
  try {
    const line = JSON.parse(message ?? '') as Omit<RunLogLine, 'timestamp'>;
    return typeof line.message === 'string' ? [{ ...line, timestamp }] : [];
  } catch {
    return [];
  }
}
