/**
 * Before a scheduled run: is another run still at work on the whole fleet? Runs may overlap safely (each
 * push takes a host-side lock and never writes over a registration file that is waiting), but a scheduled
 * run that starts while the previous one is still reconciling the fleet would only repeat its work and
 * share its API budget. SSM's command history already tells: every command's Comment names its run and
 * scope (command-comment.ts). A run is at work while one of its commands still executes, or while it is
 * between two steps: its latest command sent moments ago. No run outlives Lambda's 15-minute limit, so
 * older commands belong to runs that have ended. No state is kept anywhere else.
 */
import { errorName } from '../aws/aws-call.ts';
import { type CommandComment, parseComment } from '../command-comment.ts';
import type { CommandSent, HistoryQuery } from '../fleet-api.ts';
import type { RunContext } from './context.ts';

/** Lambda's longest timeout: a command sent longer ago than this belongs to a run that has ended. */
export const LONGEST_RUN_MS = 15 * 60_000;
/**
 * A run sends its next step's command within moments of the last one finishing (a poll interval, the
 * sealing): a fleet run's command sent this recently means it may be between steps. A run that has just
 * ended looks the same; skipping then is harmless, the fleet was reconciled a minute ago.
 */
export const BETWEEN_STEPS_MS = 60_000;

export interface RunAtWork {
  readonly runId: string;
  readonly step: CommandComment['step'];
  /** Epoch ms of the command that showed it. */
  readonly sentAt: number;
}

/** Another full (not dry) run at work on the fleet, if any; undefined also when the history cannot be read. */
export async function fleetRunAtWork(
  ctx: Pick<RunContext, 'config' | 'fleet' | 'now' | 'runId' | 'log'>,
): Promise<RunAtWork | undefined> {
  const { probe, push } = ctx.config.documents;
  const now = ctx.now();
  const ofAnotherFleetRun = (command: CommandSent) => {
    const c = parseComment(command.comment);
    return c !== undefined && c.scope === 'fleet' && c.runId !== ctx.runId;
  };
  const queries: readonly HistoryQuery[] = [
    { documentNames: [probe, push], sentAfter: now - BETWEEN_STEPS_MS, executingOnly: false },
    { documentNames: [probe, push], sentAfter: now - LONGEST_RUN_MS, executingOnly: true },
  ];
  try {
    for (const query of queries) {
      const found = await ctx.fleet.findCommand(query, ofAnotherFleetRun);
      const c = parseComment(found?.comment);
      if (found && c) return { runId: c.runId, step: c.step, sentAt: found.requestedAt };
    }
    return undefined;
  } catch (error) {
    // Overlap is safe: not knowing is no reason to skip.
    ctx.log.warn('reading the command history for another run at work failed', { error: errorName(error) });
    return undefined;
  }
}
