/**
 * What `npm run ops` exits with, so a script or a pipeline can tell the outcomes apart.
 * Listed in `--help` (args.ts) and docs/operating.md from this one table.
 */
import type { Report } from './render.ts';

export const EXIT = {
  /** The run did its job (or was a scheduled run skipped while another covered the fleet), and nothing needs a person. */
  ok: 0,
  /** The run could not do its job (`ok: false`), or the call to AWS failed; a preflight check failed. */
  failed: 1,
  /** The command line was wrong; nothing was invoked. */
  usage: 2,
  /** The run did its job, but components need a person (stuck, needs-redeploy, unreadable, failed). */
  needsPerson: 3,
  /**
   * The run did nothing it was asked to: a requested instance is not a fleet node, every requested
   * instance was offline (settled `unreachable`), or the fleet is empty.
   */
  nothingDone: 4,
} as const;

export const EXIT_CODES_HELP = `exit codes:
  ${EXIT.ok}  the run did its job and nothing needs a person, or it was a scheduled run skipped while
     another run covered the fleet (preflight: every check passed)
  ${EXIT.failed}  the run could not do its job (ok: false), or AWS refused the call (preflight: a check failed)
  ${EXIT.usage}  usage error: nothing was invoked
  ${EXIT.needsPerson}  the run did its job, but components need a person (stuck, needs-redeploy, unreadable, failed)
  ${EXIT.nothingDone}  the run did nothing it was asked to: a --instance is not a fleet node (no fleet tag,
     not managed by SSM, or stopped), every --instance is offline (unreachable), or the fleet
     has no hosts at all`;

/** Statuses only a person can fix (docs/operating.md runbook). */
const PERSON = new Set(['stuck', 'needs-redeploy', 'unreadable', 'failed']);

/** Requested instances the report does not list: the function did not touch them. */
export function notReconciled(report: Report, requested: readonly string[] | undefined): string[] {
  if (!requested) return [];
  const listed = new Set(report.hosts.map((h) => h.instanceId));
  return requested.filter((id) => !listed.has(id));
}

/**
 * Requested instances the report lists as settled `unreachable` as a whole: SSM lists them (so they
 * carry the fleet tag) but they were offline, or their agent never started the command.
 */
export function unreachableRequested(report: Report, requested: readonly string[] | undefined): string[] {
  if (!requested) return [];
  const offline = new Set(report.hosts.filter((h) => h.status === 'unreachable').map((h) => h.instanceId));
  return requested.filter((id) => offline.has(id));
}

/** The exit code of a run report; `requested`: the instance ids the operator named. */
export function exitCodeOf(report: Report, requested?: readonly string[]): number {
  // A scheduled run that left the fleet to another run at work on it did its job by doing nothing.
  if (report.skipped) return EXIT.ok;
  if (!report.ok) return EXIT.failed;
  if (notReconciled(report, requested).length > 0 || report.hosts.length === 0) return EXIT.nothingDone;
  // Every host asked for was offline: nothing was done, though each is a fleet node.
  if (
    requested &&
    requested.length > 0 &&
    unreachableRequested(report, requested).length === requested.length
  )
    return EXIT.nothingDone;
  const needsPerson = report.hosts.some(
    (h) => h.status === 'failed' || h.components.some((c) => PERSON.has(c.status)),
  );
  return needsPerson ? EXIT.needsPerson : EXIT.ok;
}
