/**
 * The run report's `summary`: one plain sentence a person reads at a glance
 * (docs/operating.md), e.g. "12 healthy, 3 recovered, 1 needs a redeploy
 * (i-0a1b2c3d4e5f60718/agent); 1 host unreachable (i-0a1b2c3d4e5f60708)". Components and
 * hosts are counted apart, and every id a person may act on is written in full, so it can
 * be pasted into a console or a ticket. Pure: built from the finished RunReport.
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

/** Up to NAMED_PER_STATUS names, then "+N more". */
function named(names: readonly string[]): string {
  const listed = names.slice(0, NAMED_PER_STATUS);
  if (names.length > listed.length) listed.push(`+${names.length - listed.length} more`);
  return listed.length > 0 ? ` (${listed.join(', ')})` : '';
}

/** "1 host unreachable (i-…)", "2 hosts failed (i-…, i-…)": hosts settled as a whole. */
function hostParts(report: RunReport): string[] {
  const parts: string[] = [];
  for (const status of ['unreachable', 'failed'] as const) {
    const ids = report.hosts.filter((h) => h.status === status).map((h) => h.instanceId);
    if (ids.length > 0)
      parts.push(`${ids.length} ${ids.length === 1 ? 'host' : 'hosts'} ${status}${named(ids)}`);
  }
  return parts;
}

export function summarize(report: RunReport): string {
  if (report.skipped) return `Skipped: ${report.skipped.reason}.`;
  const components = report.hosts
    .filter((host) => !host.status)
    .flatMap((host) => host.components.map((component) => ({ instanceId: host.instanceId, ...component })));
  const parts: string[] = [];
  for (const [status, phrase] of PHRASES) {
    const count = report.totals[status] ?? 0;
    if (count === 0) continue;
    let text = phrase(count);
    if (NEEDS_ATTENTION.includes(status)) {
      text += named(components.filter((c) => c.status === status).map((c) => `${c.instanceId}/${c.name}`));
    }
    parts.push(text);
  }
  const examined = report.hosts.length - report.hosts.filter((h) => h.status).length;
  const hosts = hostParts(report);
  let sentence =
    parts.length > 0
      ? parts.join(', ')
      : report.hosts.length === 0
        ? 'no fleet hosts to reconcile'
        : examined > 0
          ? `${examined} ${examined === 1 ? 'host' : 'hosts'}, no Kasm components found`
          : '';
  sentence = [sentence, hosts.join(', ')].filter((text) => text !== '').join('; ');
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
