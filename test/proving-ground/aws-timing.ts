/**
 * `awsTiming: true` (the scenario file: test/proving-ground/README.md): AWS-like time costs, each drawn from a range of real-world
 * seconds and divided by the scenario's `timeScale` (real Kasm heartbeat 30 s / the scenario's
 * heartbeat), so that `report.durationMs × timeScale` estimates a run on a real fleet.
 *
 * Where each figure comes from (real seconds):
 * - API latency, 0.03–0.2 s per call: an assumption. AWS publishes no latency for the SSM, EC2 or
 *   Secrets Manager control-plane APIs; tens of milliseconds from inside the region, up to ~200 ms for
 *   calls that list or page, is what SDK users commonly see. Not measured here.
 * - Agent pick-up, 1–2 s from SendCommand to the script starting: SSM Agent 3.1.821.0 and later receive
 *   Run Command documents pushed over the MGS control channel (falling back to MDS long polling,
 *   ec2messages:GetMessages), so a connected agent starts a command within a second or two
 *   (https://github.com/aws/amazon-ssm-agent/releases/tag/3.1.821.0; the long-poll flow is described in
 *   https://towardsdatascience.com/aws-system-manager-manage-server-remotely-4f8ffe63575d/). The figure
 *   itself is an assumption within that.
 * - Probe run, 0.5–1.5 s; sealing key (openssl genpkey RSA-2048) a further 0.5–1.5 s; push unseal and
 *   write 0.3–0.8 s: assumptions for a small instance (RSA-2048 keygen costs 0.1–0.25 s of CPU on this
 *   machine; a busy t3 host, bash start-up and several stat/awk processes make up the rest).
 * - Boot to agent check-in, 30–60 s after the instance reaches `running`: github.com/DataDog/stratus-red-team
 *   issue 108 observed "randomly from 30s to several minutes" for a fresh instance to show up in SSM; a
 *   restarted instance whose agent is already registered checks in at the short end. 30–60 s is the
 *   assumption used; the long tail (minutes) is not modelled.
 * - SQS batching window before an instance-start run: 60 s, the stack's `maxBatchingWindow`
 *   (infra/instance-start-trigger.ts); the bench models it, the proving ground does not.
 *
 * Every draw comes from a PRNG seeded by the scenario's fault seed: runs are reproducible.
 */
import { SETTINGS, type Setting, type SettingId } from '../../shared/settings.ts';
import { seededRandom } from './aws/server.ts';
import { REAL_HEARTBEAT_SECONDS, type Scenario, timeScaleOf } from './scenario.ts';

/** A range of real seconds. */
export interface RealRange {
  readonly min: number;
  readonly max: number;
}

export const REAL_COSTS = {
  apiLatency: { min: 0.03, max: 0.2 },
  agentPickup: { min: 1, max: 2 },
  probeRun: { min: 0.5, max: 1.5 },
  keygen: { min: 0.5, max: 1.5 },
  pushRun: { min: 0.3, max: 0.8 },
  agentCheckIn: { min: 30, max: 60 },
} as const satisfies Record<string, RealRange>;

export type Cost = keyof typeof REAL_COSTS;

export interface AwsTiming {
  readonly enabled: boolean;
  /** Real seconds per simulated second. */
  readonly timeScale: number;
  /** A draw of `cost` in simulated milliseconds; 0 when awsTiming is off. */
  ms(cost: Cost): number;
}

export function awsTimingFor(scenario: Pick<Scenario, 'kasm' | 'awsTiming' | 'faults'>): AwsTiming {
  const timeScale = timeScaleOf(scenario);
  const random = seededRandom((scenario.faults.seed ^ 0x5eed) >>> 0);
  return {
    enabled: scenario.awsTiming,
    timeScale,
    ms(cost) {
      if (!scenario.awsTiming) return 0;
      const { min, max } = REAL_COSTS[cost];
      return ((min + (max - min) * random()) * 1000) / timeScale;
    },
  };
}

/**
 * The product's waits and pace, compressed by timeScale (awsTiming only), so that a run on the proving
 * ground takes 1/timeScale of what it would take on AWS: the deployed defaults (shared/settings.ts, with
 * the real 30 s heartbeat) divided (waits) or multiplied (calls per second) by timeScale. Without awsTiming
 * the proving ground keeps its own fast settings above.
 *
 * A compressed value outside a setting's declared range is clamped into it and noted: a clamped pick-up
 * wait only matters for hosts that never start a command; a clamped rate makes the run slower than the
 * estimate it stands for.
 */
export function compressedWaits(timing: AwsTiming, notes: string[]): Record<string, string> {
  if (!timing.enabled) return {};
  const t = timing.timeScale;
  const env: Record<string, string> = {};
  // The deployed defaults and ranges, read from the settings' one declaration (real 30 s heartbeat).
  const deployed = (id: SettingId): { value: number; min: number; max: number; variable: string } => {
    const setting: Setting = SETTINGS[id];
    const { default: fallback, rule, variable } = setting;
    const value =
      typeof fallback === 'function'
        ? fallback({ heartbeatSeconds: REAL_HEARTBEAT_SECONDS })
        : Number(fallback);
    if (rule.type !== 'integer' || !variable) throw new Error(`${id} is not a whole-number variable`);
    return { value, min: rule.min, max: rule.max, variable };
  };
  const set = (id: SettingId, compress: (real: number) => number) => {
    const { value, min, max, variable } = deployed(id);
    const exact = Math.round(compress(value));
    const used = Math.min(max, Math.max(min, exact));
    if (used !== exact) {
      notes.push(
        `${variable}: the deployed ${value} compressed by timeScale ${t} is ${exact}, outside its range ${min}..${max} (shared/settings.ts); ${used} used`,
      );
    }
    env[variable] = String(used);
  };
  set('apiCallsPerSecond', (v) => v * t);
  set('pollIntervalMs', (v) => v / t);
  set('maxPollIntervalMs', (v) => v / t);
  set('pickupSeconds', (v) => v / t);
  set('onlineWaitSeconds', (v) => v / t);
  set('confirmWaitSeconds', (v) => Math.max(1, v / t));
  set('deadlineMarginMs', (v) => v / t);
  return env;
}
