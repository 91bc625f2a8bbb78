/**
 * The run report's `summary`: one plain sentence a person reads at a glance
 * (README.md "Invoking it"), e.g. "12 healthy, 3 recovered, 1 needs a redeploy (i-0a1b…/agent)".
 * Pure: built from the finished RunReport, after reconcile returns.
 */
import type { ComponentStatus } from '../shared/token-rules.ts';
import type { RunReport } from './report.ts';
import { NEEDS_ATTENTION } from './run-metrics.ts';

/** The report as the handler returns and logs it: `summary` first. */
export type SummarizedRunReport = { readonly summary: string } & RunReport;

/** At most this many components are named per status; the rest are counted. */
export const NAMED_PER_STATUS = 3;

/** Reading order: what is fine, what happened, what waits, then what needs a person. */
const PHRASES: ReadonlyArray<readonly [ComponentStatus, (n: number) => string]> = [
  ['healthy', (n) => `${n} healthy`],
  ['in-grace', (n) => `${n} in grace (refreshing itself)`],
  ['recovered', (n) => `${n} recovered`],
  ['pending', (n) => `${n} pending (delivered, not yet read)`],
  ['would-push', (n) => `${n} would get a token`],
  ['deferred', (n) => `${n} deferred (Kasm API unhealthy)`],
  ['unreachable', (n) => `${n} unreachable`],
  ['stuck', (n) => `${n} stuck`],
  ['needs-redeploy', (n) => `${n} ${n === 1 ? 'needs' : 'need'} a redeploy`],
  ['unreadable', (n) => `${n} unreadable`],
  ['failed', (n) => `${n} failed`],
];

/** "i-0a1b2c3d4e5f60718" → "i-0a1b…", longer where two named ids would read alike. */
export function abbreviateIds(ids: readonly string[]): Map<string, string> {
  const unique = [...new Set(ids)];
  for (let keep = 4; ; keep += 2) {
    const short = new Map(unique.map((id) => [id, shorten(id, keep)]));
    if (new Set(short.values()).size === unique.length) return short;
  }
}

function shorten(id: string, keep: number): string {
  const dash = id.indexOf('-');
  const end = dash + 1 + keep;
  return end < id.length - 1 ? `${id.slice(0, end)}…` : id;
}

export function summarize(report: RunReport): string {
  if (report.skipped) return `Skipped: ${report.skipped.reason}.`;
  const components = report.hosts.flatMap((host) =>
    host.components.map((component) => ({ instanceId: host.instanceId, ...component })),
  );
  const named = components.filter((c) => NEEDS_ATTENTION.includes(c.status));
  const short = abbreviateIds(
    NEEDS_ATTENTION.flatMap((status) =>
      named
        .filter((c) => c.status === status)
        .slice(0, NAMED_PER_STATUS)
        .map((c) => c.instanceId),
    ),
  );
  const parts: string[] = [];
  for (const [status, phrase] of PHRASES) {
    const count = report.totals[status] ?? 0;
    if (count === 0) continue;
    let text = phrase(count);
    if (NEEDS_ATTENTION.includes(status)) {
      const these = named.filter((c) => c.status === status);
      const listed = these.slice(0, NAMED_PER_STATUS).map((c) => `${short.get(c.instanceId)}/${c.name}`);
      if (these.length > listed.length) listed.push(`+${these.length - listed.length} more`);
      if (listed.length > 0) text += ` (${listed.join(', ')})`;
    }
    parts.push(text);
  }
  const hostCount = report.hosts.length;
  let sentence =
    parts.length > 0
      ? parts.join(', ')
      : hostCount === 0
        ? 'no fleet hosts to reconcile'
        : `${hostCount} ${hostCount === 1 ? 'host' : 'hosts'}, no Kasm components found`;
  if (report.dryRun) sentence = `Dry run: ${sentence}`;
  if (!report.ok) {
    const first = report.errors[0] ?? 'no reason given';
    return `Run could not do its job: ${first}${report.errors.length > 1 ? ` (+${report.errors.length - 1} more errors)` : ''}; ${sentence}`;
  }
  if (report.errors.length > 0) {
    sentence += `; ${report.errors.length} run ${report.errors.length === 1 ? 'error' : 'errors'}`;
  }
  return sentence;
}

/** The report with `summary` as its first key, as the handler returns it. */
export function withSummary(report: RunReport): SummarizedRunReport {
  return { summary: summarize(report), ...report };
}
