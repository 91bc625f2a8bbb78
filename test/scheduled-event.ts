/**
 * The event the stack's schedule sends, with Scheduler's context keywords filled in as
 * Scheduler fills them at each invocation.
 * https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
 */
import { SCHEDULED_RUN_INPUT } from '../infra/schedule-trigger.ts';

const SCHEDULE_ARN = 'arn:aws:scheduler:eu-west-1:123456789012:schedule/default/kasm-token-reconciler-dev';

export function scheduledEvent(at = new Date()): Record<string, unknown> {
  const time = at.toISOString().replace(/\.\d{3}Z$/, 'Z');
  return JSON.parse(
    JSON.stringify(SCHEDULED_RUN_INPUT)
      .replaceAll('<aws.scheduler.scheduled-time>', time)
      .replaceAll('<aws.scheduler.schedule-arn>', SCHEDULE_ARN),
  );
}
