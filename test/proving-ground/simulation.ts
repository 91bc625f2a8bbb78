/**
 * Runs the real handler once against a proving ground: what `npm run simulate`, the
 * demo and the end-to-end tests share. Captures every log line the handler writes
 * (stdout, and stderr when asked).
 */
import { createHandler, type ReconcileHandler } from '../../lambda/handler.ts';
import type { RunReport } from '../../lambda/report.ts';
import type { FleetState } from './fleet.ts';
import type { ProvingGround } from './proving-ground.ts';

export interface SimulationResult {
  readonly report: RunReport;
  readonly fleet: FleetState;
  readonly awsCalls: Record<string, number>;
  /** Real seconds per simulated second: `report.durationMs × timeScale` estimates a real run. */
  readonly timeScale: number;
  /**
   * Per host, the files other than a component's regular `registration_token.txt` that hold the
   * registration token after the run (see `Fleet.strayTokenFiles`); `{}` when there are none.
   */
  readonly strayTokenFiles: Record<string, string[]>;
}

export interface RunOptions {
  /** Settings for this run on top of the proving ground's own, e.g. a shorter pick-up wait. */
  readonly env?: Readonly<Record<string, string>>;
  /** Called with each line the handler logs (Powertools writes JSON lines to stdout). */
  readonly onLog?: (line: string) => void;
  /**
   * Called with each line written to stderr during the run (Powertools' warnings and errors,
   * Node's warnings). Without it stderr is left alone.
   */
  readonly onStderr?: (line: string) => void;
  /** Load the handler from elsewhere, e.g. the bundle CDK synthesizes. */
  readonly loadHandler?: (env: Readonly<Record<string, string>>) => Promise<ReconcileHandler>;
  /** A Lambda context, e.g. to give the run little remaining time. */
  readonly context?: Parameters<ReconcileHandler>[1];
}

/** The SDK reads AWS_ENDPOINT_URL and credentials from process.env on first use. */
export function applyEnv(env: Readonly<Record<string, string>>): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [key, value] of Object.entries(env)) {
    saved.set(key, process.env[key]);
    process.env[key] = value;
  }
  return () => {
    for (const [key, value] of saved) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
}

/** Routes stdout writes made during `work` to `sink` (the handler's logs). */
export function capturingStdout<T>(sink: (line: string) => void, work: () => Promise<T>): Promise<T> {
  return capturing(process.stdout, sink, work);
}

/** Routes the lines written to `stream` during `work` to `sink` instead (the handler's logs). */
export async function capturing<T>(
  stream: NodeJS.WriteStream,
  sink: (line: string) => void,
  work: () => Promise<T>,
): Promise<T> {
  const original = stream.write;
  let pending = '';
  stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    pending += typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8');
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) sink(line);
    const callback = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    callback?.();
    return true;
  }) as typeof stream.write;
  try {
    return await work();
  } finally {
    stream.write = original;
    if (pending) sink(pending);
  }
}

/**
 * Invokes the handler once with `event`. Rejects with the handler's error when it
 * rejects the event. After the run, waits for two heartbeats so that what components
 * do with delivered files shows in the fleet state.
 */
export async function runOnce(
  ground: ProvingGround,
  event: unknown,
  options: RunOptions = {},
): Promise<SimulationResult> {
  const [result] = await runTogether(ground, [{ event }], options);
  return result as SimulationResult;
}

/** One of several handler invocations run at once; `after` holds it back until it resolves. */
export interface Invocation {
  readonly event: unknown;
  readonly after?: () => Promise<void>;
}

/**
 * Runs the handler several times at once, as Lambda runs overlapping invocations of one function (a
 * scheduled run and an instance-start batch, say): each its own handler, as each has its own execution
 * environment. Each result has that invocation's report, and the fleet as it stands after all of them.
 */
export async function runTogether(
  ground: ProvingGround,
  invocations: readonly Invocation[],
  options: RunOptions = {},
): Promise<SimulationResult[]> {
  const env = { ...ground.handlerEnv, ...options.env };
  const restore = applyEnv(env);
  try {
    const handlers = await Promise.all(
      invocations.map(() =>
        options.loadHandler ? options.loadHandler(env) : createHandler({ ...process.env, ...env }),
      ),
    );
    const sink = options.onLog ?? (() => undefined);
    const all = () =>
      Promise.all(
        invocations.map(async ({ event, after }, i) => {
          await after?.();
          return (handlers[i] as ReconcileHandler)(event, options.context);
        }),
      );
    const invoke = () => capturing(process.stdout, sink, all);
    const { onStderr } = options;
    const reports = await (onStderr ? capturing(process.stderr, onStderr, invoke) : invoke());
    await ground.fleet.waitForHeartbeats(2);
    const token = ground.scenario.registrationToken?.replace(/[\r\n]+$/, '');
    const fleet = ground.fleetState();
    const awsCalls = ground.awsCalls();
    const strayTokenFiles = token ? ground.fleet.strayTokenFiles(token) : {};
    return reports.map((report) => ({
      report,
      fleet,
      awsCalls,
      timeScale: ground.timeScale,
      strayTokenFiles,
    }));
  } finally {
    restore();
  }
}
