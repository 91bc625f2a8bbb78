/**
 * The function's settings, read once from the environment into a frozen object.
 * The CDK stack writes these variables; a wrong one fails the first invocation with a
 * message naming the variable, before anything touches a host.
 */
import {
  DEFAULT_LINUX_INSTALL_ROOT,
  DEFAULT_WINDOWS_INSTALL_DIR,
  DEFAULT_WINDOWS_SERVICE_NAME,
} from './catalog.ts';
import { PARAMETER_PATTERNS } from './documents/ssm-documents.ts';

export interface ReconcilerConfig {
  readonly fleetTag: { readonly key: string; readonly value: string };
  readonly secretId: string;
  /** Field to read when the secret is JSON; undefined: the secret string is the token. */
  readonly secretJsonField?: string;
  readonly documents: { readonly probe: string; readonly push: string };
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

export const CONFIG_VARIABLES = {
  fleetTagKey: 'FLEET_TAG_KEY',
  fleetTagValue: 'FLEET_TAG_VALUE',
  secretId: 'REGISTRATION_TOKEN_SECRET_ID',
  secretJsonField: 'REGISTRATION_TOKEN_SECRET_FIELD',
  probeDocument: 'PROBE_DOCUMENT_NAME',
  pushDocument: 'PUSH_DOCUMENT_NAME',
  kasmApiUrl: 'KASM_API_URL',
  kasmCaFile: 'KASM_CA_FILE',
  kasmCaPem: 'KASM_CA_PEM',
  installRoot: 'KASM_INSTALL_ROOT',
  windowsInstallDir: 'KASM_WINDOWS_INSTALL_DIR',
  windowsServiceName: 'KASM_WINDOWS_SERVICE_NAME',
  gracePeriodSeconds: 'KASM_GRACE_PERIOD_SECONDS',
  heartbeatSeconds: 'KASM_HEARTBEAT_SECONDS',
  confirmWaitSeconds: 'CONFIRM_WAIT_SECONDS',
  stuckAfterSeconds: 'STUCK_AFTER_SECONDS',
  pollIntervalMs: 'COMMAND_POLL_INTERVAL_MS',
  maxPollIntervalMs: 'COMMAND_MAX_POLL_INTERVAL_MS',
  pickupSeconds: 'PICKUP_WAIT_SECONDS',
  apiCallsPerSecond: 'API_CALLS_PER_SECOND',
  apiBurst: 'API_BURST',
  onlineWaitSeconds: 'ONLINE_WAIT_SECONDS',
  deadlineMarginMs: 'DEADLINE_MARGIN_MS',
  metricsNamespace: 'POWERTOOLS_METRICS_NAMESPACE',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

function text(env: Env, name: string, fallback?: string): string {
  const value = env[name]?.trim();
  if (value) return value;
  if (fallback !== undefined) return fallback;
  throw new ConfigError(`${name} is not set; the deployment must set it (see README "Settings").`);
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < min || value > max) {
    throw new ConfigError(`${name} must be a whole number from ${min} to ${max}, got "${raw}".`);
  }
  return value;
}

function matching(
  env: Env,
  name: string,
  pattern: RegExp,
  fallback: string | undefined,
  hint: string,
): string {
  const value = text(env, name, fallback);
  if (!pattern.test(value)) throw new ConfigError(`${name} must be ${hint}, got "${value}".`);
  return value;
}

/** Reads and validates every setting; throws ConfigError naming the variable. */
export function readConfig(env: Env = process.env): ReconcilerConfig {
  const v = CONFIG_VARIABLES;
  const heartbeatSeconds = integer(env, v.heartbeatSeconds, 30, 1, 3600);
  const kasmApiUrl = optional(env, v.kasmApiUrl);
  if (kasmApiUrl !== undefined && !/^https:\/\/[^\s/]+(?::\d+)?(?:\/[^\s]*)?$/.test(kasmApiUrl)) {
    throw new ConfigError(
      `${v.kasmApiUrl} must be an https:// URL such as https://kasm.example.com, got "${kasmApiUrl}".`,
    );
  }
  const documentName = /^[A-Za-z0-9_.-]{3,128}$/;
  const config: ReconcilerConfig = {
    fleetTag: {
      key: matching(
        env,
        v.fleetTagKey,
        /^[^\s].{0,127}$/,
        'kasm:reconcile',
        'a tag key of 1 to 128 characters',
      ),
      value: text(env, v.fleetTagValue, 'true'),
    },
    secretId: text(env, v.secretId),
    secretJsonField: optional(env, v.secretJsonField),
    documents: {
      probe: matching(env, v.probeDocument, documentName, undefined, 'an SSM document name'),
      push: matching(env, v.pushDocument, documentName, undefined, 'an SSM document name'),
    },
    kasmApiUrl: kasmApiUrl?.replace(/\/+$/, ''),
    kasmCaFile: optional(env, v.kasmCaFile),
    kasmCaPem: optional(env, v.kasmCaPem),
    installRoot: matching(
      env,
      v.installRoot,
      new RegExp(PARAMETER_PATTERNS.installRoot),
      DEFAULT_LINUX_INSTALL_ROOT,
      'an absolute path of letters, digits, ".", "_", "-" and "/"',
    ),
    windowsInstallDir: matching(
      env,
      v.windowsInstallDir,
      new RegExp(PARAMETER_PATTERNS.windowsInstallDir),
      DEFAULT_WINDOWS_INSTALL_DIR,
      'a Windows folder path such as C:\\Program Files\\Kasm',
    ),
    windowsServiceName: matching(
      env,
      v.windowsServiceName,
      new RegExp(PARAMETER_PATTERNS.windowsServiceName),
      DEFAULT_WINDOWS_SERVICE_NAME,
      'a Windows service name (letters, digits, "_", "-", ".")',
    ),
    gracePeriodSeconds: integer(env, v.gracePeriodSeconds, 3600, 0, 31_536_000),
    heartbeatSeconds,
    confirmWaitSeconds: integer(env, v.confirmWaitSeconds, Math.min(2 * heartbeatSeconds + 5, 999), 0, 999),
    stuckAfterSeconds: integer(env, v.stuckAfterSeconds, 10 * heartbeatSeconds, 1, 31_536_000),
    pollIntervalMs: integer(env, v.pollIntervalMs, 2000, 50, 60_000),
    maxPollIntervalMs: integer(env, v.maxPollIntervalMs, 10_000, 50, 60_000),
    // An online agent starts a command within seconds; half a minute means it is not coming.
    pickupSeconds: integer(env, v.pickupSeconds, 30, 5, 600),
    // AWS does not publish SSM's rates and shares them account-wide: a few calls per second.
    apiCallsPerSecond: integer(env, v.apiCallsPerSecond, 5, 1, 100),
    apiBurst: integer(env, v.apiBurst, 10, 1, 100),
    onlineWaitSeconds: integer(env, v.onlineWaitSeconds, 120, 0, 600),
    deadlineMarginMs: integer(env, v.deadlineMarginMs, 20_000, 0, 300_000),
    metricsNamespace: matching(
      env,
      v.metricsNamespace,
      /^[A-Za-z0-9._/#:-]{1,255}$/,
      'KasmTokenReconciler',
      'a CloudWatch namespace',
    ),
  };
  if (config.kasmCaFile && config.kasmCaPem) {
    throw new ConfigError(`Set only one of ${v.kasmCaFile} and ${v.kasmCaPem}.`);
  }
  return Object.freeze(config);
}
