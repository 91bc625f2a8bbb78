/**
 * What every step of a run is given: the settings, the fleet behind its narrow interface,
 * the clock, the deadline, a logger and the run-wide reads (the secret, the Kasm API's health).
 * Steps take the previous step's value and return their own; none of them keeps state between
 * runs.
 */
import type { ReconcilerConfig } from '../../shared/config.ts';
import type { RunScope } from '../command-comment.ts';
import type { FleetApi } from '../fleet-api.ts';
import type { KasmHealthResult } from '../kasm-health.ts';
import type { SecretRead } from '../registration-secret.ts';

export interface RunLog {
  info(message: string, extra?: object): void;
  warn(message: string, extra?: object): void;
}

export interface RunContext {
  readonly config: ReconcilerConfig;
  readonly fleet: FleetApi;
  readonly runId: string;
  /** What the run covers; its commands say so in SSM's history, where other runs read it. */
  readonly scope: RunScope;
  /** Epoch ms after which no new work starts; what is left is reported for the next run. */
  readonly deadlineAt: number;
  readonly now: () => number;
  readonly log: RunLog;
  /** The registration token, read once per run, as soon as the run starts. */
  readonly secret: Promise<SecretRead>;
  /** The Kasm Admin API's health, checked once per run, as soon as the run starts. */
  readonly kasmHealth: Promise<KasmHealthResult>;
}

export const nowSeconds = (ctx: Pick<RunContext, 'now'>): number => Math.floor(ctx.now() / 1000);

/** Said of hosts and components the run had no time for. */
export const LEFT_FOR_NEXT_RUN = 'the run reached its deadline before this work; the next run takes it up';
