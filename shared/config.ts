/**
 * The function's settings, read once from the environment into a frozen object, by the
 * declarations in shared/settings.ts. The CDK stack writes these variables; a wrong one fails
 * the first invocation with a message naming the variable and what it accepts, before
 * anything touches a host.
 */
import { accepted, fromText, judge } from './setting-rules.ts';
import { SETTING_LIST, type SETTINGS, type SettingId } from './settings.ts';

export interface ReconcilerConfig {
  readonly fleetTag: { readonly key: string; readonly value: string };
  readonly secretId: string;
  /** Field to read when the secret is JSON; undefined: the secret string is the token. */
  readonly secretJsonField?: string;
  readonly documents: { readonly probe: string; readonly push: string };
  /** SHA-256 of each document's deployed content, sent as SendCommand's `DocumentHash`. */
  readonly documentHashes: { readonly probe: string; readonly push: string };
  /** Undefined: the Kasm API health is not checked (report says "unchecked"). */
  readonly kasmApiUrl?: string;
  readonly kasmCaFile?: string;
  readonly kasmCaPem?: string;
  readonly installRoot: string;
  readonly windowsInstallDir: string;
  readonly windowsServiceName: string;
  readonly gracePeriodSeconds: number;
  readonly heartbeatSeconds: number;
  /** How long a push waits on the host for the component to consume the file. */
  readonly confirmWaitSeconds: number;
  readonly stuckAfterSeconds: number;
  /** First poll of command status, and the interval after something finished. */
  readonly pollIntervalMs: number;
  /** Longest interval between polls while nothing finishes. */
  readonly maxPollIntervalMs: number;
  /** How long an invocation may wait for its agent to start it before the host is given up on. */
  readonly pickupSeconds: number;
  /** Client-side pace per AWS API operation, under the account's shared rate limits. */
  readonly apiCallsPerSecond: number;
  readonly apiBurst: number;
  readonly onlineWaitSeconds: number;
  /** Leave this much of the Lambda's remaining time for reporting. */
  readonly deadlineMarginMs: number;
  /** CloudWatch namespace of the per-run metrics. */
  readonly metricsNamespace: string;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type VariableSettingId = {
  [Id in SettingId]: (typeof SETTINGS)[Id] extends { variable: string } ? Id : never;
}[SettingId];

/** Each setting the function reads, with its environment variable. */
export const CONFIG_VARIABLES = Object.fromEntries(
  SETTING_LIST.flatMap((setting) => (setting.variable ? [[setting.id, setting.variable]] : [])),
) as { readonly [Id in VariableSettingId]: (typeof SETTINGS)[Id]['variable'] };

type Env = Readonly<Record<string, string | undefined>>;

/** Reads and validates every setting; throws ConfigError naming the variable. */
export function readConfig(env: Env = process.env): ReconcilerConfig {
  const read: Record<string, unknown> = {};
  for (const setting of SETTING_LIST) {
    const name = setting.variable;
    if (!name) continue;
    const raw = env[name]?.trim();
    if (!raw) {
      const fallback = typeof setting.default === 'function' ? setting.default(read) : setting.default;
      if (fallback === undefined && setting.required) {
        throw new ConfigError(`${name} is not set; the deployment must set it (see README "Settings").`);
      }
      read[setting.id] = fallback;
      continue;
    }
    const value = fromText(setting.rule, raw);
    const verdict = judge(setting.rule, value);
    if (verdict && 'expected' in verdict) {
      throw new ConfigError(`${name} must be ${accepted(setting.rule, raw)}, got "${raw}".`);
    }
    if (verdict) throw new ConfigError(`${name}: ${verdict.problem}.`);
    read[setting.id] = value;
  }
  if (read.kasmCaFile && read.kasmCaPem) {
    throw new ConfigError(
      `Set only one of ${CONFIG_VARIABLES.kasmCaFile} and ${CONFIG_VARIABLES.kasmCaPem}.`,
    );
  }
  // Every value passed its rule above, so each has the type ReconcilerConfig gives it.
  const {
    fleetTagKey,
    fleetTagValue,
    probeDocument,
    pushDocument,
    probeDocumentHash,
    pushDocumentHash,
    kasmApiUrl,
    ...flat
  } = read as Record<string, string>;
  const config = {
    ...(flat as unknown as Omit<
      ReconcilerConfig,
      'fleetTag' | 'documents' | 'documentHashes' | 'kasmApiUrl'
    >),
    fleetTag: { key: fleetTagKey as string, value: fleetTagValue as string },
    documents: { probe: probeDocument as string, push: pushDocument as string },
    documentHashes: { probe: probeDocumentHash as string, push: pushDocumentHash as string },
    kasmApiUrl: kasmApiUrl?.replace(/\/+$/, ''),
  };
  return Object.freeze(config);
}
