/**
 * Before a scheduled run: is another run still at work on the whole fleet? Runs may overlap safely (each
 * push takes a host-side lock and never writes over a registration file that is waiting), but a scheduled
 * run that starts while the previous one is still reconciling the fleet would only repeat its work and
 * share its API budget. SSM's command history already tells: every command's Comment names its run and
 * scope (command-comment.ts), and no run lives longer than Lambda's 15-minute limit, so only commands
 * sent within that window can belong to a live run. No other state is kept anywhere.
 */

import { errorName } from '../aws/aws-call.ts';
import { type CommandComment, parseComment } from '../command-comment.ts';
import type { RunContext } from './context.ts';

/** Lambda's longest timeout: a command sent longer ago than this belongs to a run that has ended. */
export const LONGEST_RUN_MS = 15 * 60_000;

export interface RunAtWork {
  readonly runId: string;
  readonly step: CommandComment['step'];
  /** Epoch ms of that run's latest command still executing. */
  readonly lastSentAt: number;
}

/** Another full (not dry) run with commands still executing, if any; undefined when the history cannot be read. */
export async function fleetRunAtWork(ctx: RunContext): Promise<RunAtWork | undefined> {
  const { probe, push } = ctx.config.documents;
  let commands: Awaited<ReturnType<RunContext['fleet']['commandsInProgress']>>;
  try {
    commands = await ctx.fleet.commandsInProgress([probe, push], ctx.now() - LONGEST_RUN_MS);
  } catch (error) {
    // Overlap is safe: not knowing is no reason to skip.
    ctx.log.warn('reading the command history for another run at work failed', { error: errorName(error) });
    return undefined;
  }
  let found: RunAtWork | undefined;
  for (const command of commands) {
    const c = parseComment(command.comment);
    if (c === undefined || c.scope !== 'fleet' || c.runId === ctx.runId) continue;
    if (found === undefined || command.requestedAt > found.lastSentAt) {
      found = { runId: c.runId, step: c.step, lastSentAt: command.requestedAt };
    }
  }
  return found;
}
