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

/** Statuses only a person can fix, and what that person should do about each. */
export const ATTENTION_ACTIONS = {
  stuck:
    'A registration token file has waited unread for longer than a heartbeat: check that the component is running on the host (restart its service or container), then run the reconciler again for this instance.',
  'needs-redeploy':
    "The component's config holds no token at all, so a registration token cannot help: redeploy the component from the Kasm admin UI.",
  unreadable:
    "The token in the component's config is not a JWT the reconciler understands: inspect the config file on the host and redeploy the component if it is damaged.",
  failed:
    'The reconciler could not finish this component (see reason): fix what the reason names, then run the reconciler again for this instance.',
} as const;

export type AttentionStatus = keyof typeof ATTENTION_ACTIONS;

/** At most this many per-component lines per run; a fleet-wide failure says the rest in one line. */
export const MAX_ATTENTION_LINES = 500;

export type AttentionLogLine =
  | {
      readonly message: 'needs attention';
      readonly instanceId: string;
      readonly platform: string;
      /** `all` for a host that failed as a whole (its components are unknown). */
      readonly component: string;
      readonly status: AttentionStatus;
      readonly reason?: string;
      readonly action: string;
    }
  | { readonly message: 'needs attention (more)'; readonly notListed: number; readonly action: string };

function isAttention(status: string): status is AttentionStatus {
  return Object.hasOwn(ATTENTION_ACTIONS, status);
}

/** One line per component that needs a person, saying what to do. */
export function attentionLogLines(report: RunReport, max = MAX_ATTENTION_LINES): AttentionLogLine[] {
  const lines: AttentionLogLine[] = [];
  let notListed = 0;
  for (const host of report.hosts) {
    // A host that failed as a whole needs one person once, not once per catalog component.
    const items =
      host.status === 'failed'
        ? [{ name: 'all', status: 'failed' as const, ...(host.reason ? { reason: host.reason } : {}) }]
        : host.components;
    for (const component of items) {
      if (!isAttention(component.status)) continue;
      if (lines.length >= max) {
        notListed += 1;
        continue;
      }
      lines.push({
        message: 'needs attention',
        instanceId: host.instanceId,
        platform: host.platform,
        component: component.name,
        status: component.status,
        ...(component.reason ? { reason: component.reason } : {}),
        action: ATTENTION_ACTIONS[component.status],
      });
    }
  }
  if (notListed > 0) {
    lines.push({
      message: 'needs attention (more)',
      notListed,
      action: 'Read the run report (npm run ops -- last-run) for the components not listed here.',
    });
  }
  return lines;
}

/** What a command runner reports after each batch of SSM commands finishes. */
export interface BatchProgress {
  /** Which step, e.g. "probe" or "push". */
  readonly step: string;
  /** Batches finished so far, and in all. */
  readonly batchesDone: number;
  readonly batches: number;
  /** Nodes whose invocations ended so far, and in all. */
  readonly nodesDone: number;
  readonly nodes: number;
}

/**
 * The hook a command runner calls after each batch, so a long run shows how far it got:
 * `const progress = progressLogger(deps.log)` when a step starts, then
 * `progress({step: 'probe', …})` per finished batch logs `"progress"` with the counts and
 * the time since the hook was made.
 */
export function progressLogger(
  log: { info(message: string, extra?: object): void },
  now: () => number = Date.now,
): (progress: BatchProgress) => void {
  const start = now();
  return (progress) => {
    log.info('progress', {
      ...progress,
      percent: progress.nodes === 0 ? 100 : Math.floor((100 * progress.nodesDone) / progress.nodes),
      elapsedMs: now() - start,
    });
  };
}
