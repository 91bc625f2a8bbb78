/** A run report as an operator reads it: the summary, a before/after table, what to do. */

import { printable } from '../../shared/printable.ts';
import { textTable } from '../../shared/text-table.ts';
import type { ComponentStatus } from '../../shared/token-rules.ts';
import { fitColumns } from './fit-columns.ts';

/** The run report's fields the CLI reads (docs/operating.md runbook). */
export interface Report {
  readonly summary?: string;
  readonly ok: boolean;
  readonly dryRun: boolean;
  readonly runId: string;
  readonly trigger?: string;
  readonly startedAt: string;
  readonly durationMs: number;
  readonly kasmApi: string;
  readonly totals: Partial<Record<string, number>>;
  /** Hosts examined and hosts settled as a whole (absent from reports of older functions). */
  readonly hostTotals?: Partial<Record<string, number>>;
  readonly hosts: readonly {
    readonly instanceId: string;
    readonly platform?: string;
    readonly reason?: string;
    /** Set when the host as a whole could not be examined. */
    readonly status?: string;
    readonly components: readonly {
      readonly name: string;
      readonly status: string;
      readonly tokenExpiresAt?: string;
      readonly reason?: string;
    }[];
  }[];
  readonly errors: readonly string[];
  /** A scheduled run that left the fleet to another run still at work on it: it did nothing, by design. */
  readonly skipped?: { readonly reason: string; readonly otherRunId: string };
}

/** What each status says about the component before the run (docs/operating.md runbook). */
const BEFORE: Readonly<Record<ComponentStatus, string>> = {
  healthy: 'token valid',
  'in-grace': 'expired, in grace',
  recovered: 'LOCKED OUT (past grace)',
  pending: 'LOCKED OUT (past grace)',
  stuck: 'token file waiting, unread',
  'would-push': 'LOCKED OUT (past grace)',
  deferred: 'LOCKED OUT (past grace)',
  'needs-redeploy': 'no token in config',
  unreadable: 'token unreadable',
  unreachable: 'unknown (host not reached)',
  failed: 'unknown',
};

/** What a person does about a status; empty when nothing is needed. */
export const TO_DO: Readonly<Record<ComponentStatus, string>> = {
  healthy: '',
  'in-grace': '',
  recovered: '',
  pending: '',
  stuck: 'check the component is running (restart it), then invoke again for this instance',
  'would-push': '',
  deferred: '',
  'needs-redeploy': 'redeploy the component from the Kasm admin UI',
  unreadable: 'inspect the config on the host; redeploy the component if it is damaged',
  unreachable: '',
  failed: 'fix what the reason says, then invoke again for this instance',
};

function before(status: string): string {
  return (BEFORE as Record<string, string>)[status] ?? '?';
}

function tokenNow(expiresAt: string | undefined, now: number): string {
  if (!expiresAt) return '-';
  return Date.parse(expiresAt) > now ? `valid until ${expiresAt}` : `EXPIRED since ${expiresAt}`;
}

/** `{healthy: 12, recovered: 3}` → "12 healthy, 3 recovered"; "none" when empty. */
function counts(totals: Partial<Record<string, number>> | undefined): string {
  const parts = Object.entries(totals ?? {}).map(([key, n]) => `${n} ${key}`);
  return parts.length > 0 ? parts.join(', ') : 'none';
}

export interface RenderOptions {
  /** "Now", for whether a token is still valid. */
  readonly now?: number;
  /** Narrow the table to this many columns (a terminal's width); undefined: as wide as it needs. */
  readonly width?: number;
}

/** The table's columns that may be cut to fit: before, after, token now (never host or component). */
const SHRINKABLE = [2, 3, 4];

export function renderReport(report: Report, options: RenderOptions = {}): string {
  const now = options.now ?? Date.now();
  const lines: string[] = [];
  lines.push(report.summary ?? '(this report has no summary: the function predates it)');
  lines.push('');
  const rows = [['host', 'component', 'before', 'after', 'token now']];
  const actions: string[] = [];
  for (const host of report.hosts) {
    if (host.status || host.components.length === 0) {
      // A host settled as a whole is one row: its components are only the catalog's guess.
      const why = host.reason ? `${host.status ?? 'not examined'}: ${host.reason}` : 'no components';
      rows.push([host.instanceId, host.status ? 'all' : '-', host.status ? 'unknown' : '-', why, '-']);
      if (host.status === 'failed') {
        actions.push(
          `  ${host.instanceId} (host failed: ${host.reason ?? 'no reason given'}): ${TO_DO.failed}`,
        );
      }
      continue;
    }
    for (const c of host.components) {
      rows.push([
        host.instanceId,
        c.name,
        before(c.status),
        c.reason ? `${c.status} (${c.reason})` : c.status,
        tokenNow(c.tokenExpiresAt, now),
      ]);
      const todo = (TO_DO as Record<string, string>)[c.status];
      if (todo) {
        actions.push(
          `  ${host.instanceId}/${c.name} (${c.status}${c.reason ? `: ${c.reason}` : ''}): ${todo}`,
        );
      }
    }
  }
  const table = options.width === undefined ? rows : fitColumns(rows, options.width, SHRINKABLE);
  if (report.skipped) {
    lines.push(
      `Skipped, as it should be: run ${report.skipped.otherRunId} was still reconciling the whole fleet, ` +
        'so this scheduled run changed nothing; the next scheduled run covers the fleet.',
    );
  } else lines.push(report.hosts.length > 0 ? textTable(table) : 'No fleet hosts were reconciled.');
  lines.push('');
  lines.push(`components: ${counts(report.totals)}`);
  if (report.hostTotals) lines.push(`hosts: ${counts(report.hostTotals)}`);
  lines.push(
    `${report.dryRun ? 'dry run' : 'run'} ${report.runId}${report.trigger ? ` (${report.trigger})` : ''} ` +
      `started ${report.startedAt}, took ${(report.durationMs / 1000).toFixed(1)} s; Kasm API: ${report.kasmApi}; ok: ${report.ok}`,
  );
  for (const error of report.errors) lines.push(`error: ${error}`);
  if (actions.length > 0) {
    lines.push('');
    lines.push('Needs a person (docs/operating.md, "Runbook"):');
    lines.push(...actions);
  }
  // Reasons quote hosts; whatever escaped the function's own cleaning never acts on the terminal.
  return `${lines.join('\n').split('\n').map(printable).join('\n')}\n`;
}
