/**
 * The Comment every SendCommand of a run carries, written and read here only: which run sent the
 * command, over what, and for which step. SSM keeps it in the command history, where a scheduled run
 * can see that another run is still at work on the whole fleet (steps/other-runs.ts).
 */
import { SERVICE_NAME } from '../shared/names.ts';

/** What a run covers: the whole fleet, named or started hosts only, or nothing at all (a dry run). */
export type RunScope = 'fleet' | 'hosts' | 'dry-run';
/** The steps that run documents. */
export type CommandStep = 'observe' | 'prepare' | 'deliver';

export interface CommandComment {
  readonly runId: string;
  readonly scope: RunScope;
  readonly step: CommandStep;
}

/** SendCommand's Comment: "Maximum length of 100" (API_SendCommand); a Lambda request id is 36 characters. */
const MAX_LENGTH = 100;

export function formatComment(c: CommandComment): string {
  return `${SERVICE_NAME} ${c.runId} ${c.scope} ${c.step}`.slice(0, MAX_LENGTH);
}

const SCOPES: readonly string[] = ['fleet', 'hosts', 'dry-run'] satisfies readonly RunScope[];
const STEPS: readonly string[] = ['observe', 'prepare', 'deliver'] satisfies readonly CommandStep[];

/** A comment this service wrote, read back; undefined for anything else (other tools' commands). */
export function parseComment(comment: string | undefined): CommandComment | undefined {
  const [service, runId, scope, step, ...rest] = (comment ?? '').split(' ');
  if (service !== SERVICE_NAME || !runId || rest.length > 0) return undefined;
  if (!scope || !SCOPES.includes(scope) || !step || !STEPS.includes(step)) return undefined;
  return { runId, scope: scope as RunScope, step: step as CommandStep };
}
