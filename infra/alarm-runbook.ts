/**
 * What each alarm means and what to do, written once: the alarm descriptions (reconciler-alarms.ts),
 * the dashboard's runbook panel (reconciler-dashboard.ts) and docs/operating.md's section "When an
 * alarm fires" (`npm run docs:settings`, checked by a test) all come from here.
 */
import type { AlarmId } from '../shared/names.ts';

export interface AlarmRunbook {
  /** One sentence: what fired. Goes into the alarm description, so keep it short. */
  readonly means: string;
  /** What to do, in Markdown. */
  readonly todo: string;
}

export const ALARM_RUNBOOK: Readonly<Record<AlarmId, AlarmRunbook>> = {
  FunctionErrors: {
    means:
      'A reconcile run crashed or timed out (an invalid payload typed by hand does not count: it is rejected with a report).',
    todo:
      'The log group has the error (saved query _Failed runs and errors_, or `npm run ops -- last-run --env <env>`). ' +
      'A timeout on a large fleet: see the _Run duration against the timeout_ graph on the dashboard.',
  },
  FailedRunsWaiting: {
    means:
      'A failed asynchronous run (or an undeliverable scheduled one) is parked in the failed-runs queue.',
    todo:
      'The message says why. Fix the cause and purge the queue. If the messages say `EventAgeExceeded`, scheduled runs ' +
      'queued behind each other for an hour: runs take longer than the schedule period, so lengthen `schedule`.',
  },
  InstanceStartsWaiting: {
    means:
      'Instance-start notifications were received five times without being handled: the runs failed as a whole, ' +
      'or a started fleet instance never checked in with SSM.',
    todo:
      'Each message names its instance. A run that names it under `notCheckedIn` waited for it in vain: its SSM Agent ' +
      'cannot reach SSM (instance profile or hybrid activation, agent, network to the SSM endpoints), and no scheduled ' +
      'run can see it until that is fixed. Otherwise the function log says why the runs failed; the next scheduled run ' +
      'covers those hosts once fixed. Then purge the queue.',
  },
  RunNotOk: {
    means:
      'A run reported ok:false: it could not do its job (for example the secret is unreadable, or a permission is missing).',
    todo: 'Its `errors` (and its `summary`) say what: `npm run ops -- last-run --env <env>`. `npm run ops -- preflight --env <env>` checks the secret and the fleet.',
  },
  ComponentsNeedAttention: {
    means:
      'A run found components only a person can fix: a stuck registration file, a config without a token, an unreadable token, or a failed delivery.',
    todo:
      'Each has one `needs attention` log line saying what to do (saved query and dashboard table _Components needing attention_); ' +
      'act on it as the runbook table says, then `npm run ops -- invoke --env <env> --instance <id>`.',
  },
  NoSuccessfulRun: {
    means:
      'No run ended with ok:true for the alarm window: the schedule, the function or its permissions are broken.',
    todo:
      'Missing data counts as failing, so this also fires when nothing runs at all: check that the schedule is enabled, that the ' +
      'function is not throttled or crashing (_FunctionErrors_), and that runs are `ok` (_RunNotOk_).',
  },
};

/** The docs heading of an alarm, "Alarm FunctionErrors", has this anchor on GitHub and GitLab. */
export function runbookAnchor(alarmId: string): string {
  return `alarm-${alarmId.toLowerCase()}`;
}

/** The runbook as Markdown, one heading per alarm (docs/operating.md and the dashboard panel). */
export function alarmRunbookMarkdown(level = '####'): string {
  return Object.entries(ALARM_RUNBOOK)
    .map(([id, { means, todo }]) => `${level} Alarm ${id}\n\n${means} ${todo}`)
    .join('\n\n');
}
