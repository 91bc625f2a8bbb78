/**
 * Per-environment deployment settings, read once from the cdk.json context
 * (`"environments": {"dev": {...}, "prod": {...}}`) into frozen, validated objects, by the
 * declarations in shared/settings.ts. This file adds only what needs the whole environment
 * or the disk: regions that must match, the CA file, the alarm window against the schedule.
 * A wrong or missing setting fails the synth with every problem listed, each naming the
 * environment and the field (`environments.prod.fleetTag.key: ...`).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { describe } from '../shared/setting-rules.ts';
import {
  type ContextSettingId,
  type FleetTag,
  KMS_KEY_ARN,
  MAX_NO_SUCCESSFUL_RUN_MINUTES,
  MISSED_RUNS_BEFORE_ALARM,
  RATE,
  SAFE_PATH,
  SECRET_ARN,
  SETTINGS,
  type SettingValues,
  SNS_TOPIC_ARN,
} from '../shared/settings.ts';
import { isObject, readFields } from './context-fields.ts';

export type { FleetTag } from '../shared/settings.ts';
export { MISSED_RUNS_BEFORE_ALARM } from '../shared/settings.ts';

export interface RegistrationSecretSettings {
  /** Secret name (same account and region as the stack) or its full ARN. */
  readonly nameOrArn: string;
  /** Field to read when the secret string is JSON. */
  readonly jsonField?: string;
  /** ARN of the customer managed KMS key that encrypts the secret. */
  readonly kmsKeyArn?: string;
}

export interface KasmApiSettings {
  readonly url: string;
  /** Absolute path of the PEM CA bundle that is copied into the function's code. */
  readonly caFile?: string;
}

export interface WindowsSettings {
  readonly installDir: string;
  readonly serviceName: string;
}

export interface EnvironmentSettings {
  readonly name: string;
  readonly account?: string;
  readonly region?: string;
  readonly schedule: string;
  readonly fleetTag: FleetTag;
  readonly registrationSecret: RegistrationSecretSettings;
  readonly kasmApi?: KasmApiSettings;
  readonly installRoot: string;
  readonly windows: WindowsSettings;
  readonly heartbeatSeconds: number;
  readonly gracePeriodSeconds: number;
  readonly logRetentionDays: number;
  /**
   * Concurrent executions reserved for the function; none by default, because a reservation
   * fails the deployment on low-quota accounts and runs may overlap safely anyway.
   */
  readonly reservedConcurrency?: number;
  /** Alarms notify this address (through a topic the stack creates) … */
  readonly alarmEmail?: string;
  /** … and/or this existing SNS topic. With neither, the alarms exist but notify nobody. */
  readonly alarmTopicArn?: string;
  /** The page alarm descriptions link to (docs/operating.md on the team's Git host); default the dashboard. */
  readonly runbookUrl?: string;
  /**
   * The "no successful run" alarm fires when no run ended with `ok: true` for this long.
   * Default: three schedule periods for a rate() schedule, a day for a cron() one.
   */
  readonly noSuccessfulRunMinutes: number;
  /** Deploy shareable Lambda console test events (EventBridge Schemas registry). Default true. */
  readonly consoleTestEvents: boolean;
  /** Deploy the CloudWatch dashboard. Default true. */
  readonly dashboard: boolean;
}

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

const ENVIRONMENT_NAME = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;

/** The CA bundle's absolute path, once it is known to be readable and to hold a certificate. */
function caFile(relative: string, projectRoot: string): { path: string } | { problem: string } {
  const path = isAbsolute(relative) ? relative : resolve(projectRoot, relative);
  if (!SAFE_PATH.test(path)) {
    return { problem: `the absolute path ${describe(path)} has characters the bundling hook cannot quote` };
  }
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    return { problem: `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(pem)) {
    return { problem: `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` };
  }
  return { path };
}

/** Minutes between two runs of a rate() schedule; undefined for cron(). */
export function scheduleIntervalMinutes(expression: string): number | undefined {
  const rate = RATE.exec(expression);
  if (!rate) return undefined;
  const amount = Number(rate[1]);
  const unit = rate[2] ?? '';
  return amount * (unit.startsWith('minute') ? 1 : unit.startsWith('hour') ? 60 : 1440);
}

/** The region inside an ARN the pattern captures as group 2, when it differs from `region`. */
function otherRegion(pattern: RegExp, arn: unknown, region: unknown): string | undefined {
  const arnRegion = typeof arn === 'string' ? pattern.exec(arn)?.[2] : undefined;
  return arnRegion && typeof region === 'string' && arnRegion !== region ? arnRegion : undefined;
}

export interface ParseOptions {
  /** Directory that relative paths (the CA bundle) are resolved against. */
  readonly projectRoot: string;
}

/** Validates one environment's raw context; throws SettingsError listing every problem. */
export function parseEnvironment(name: string, raw: unknown, options: ParseOptions): EnvironmentSettings {
  if (!ENVIRONMENT_NAME.test(name)) {
    throw new SettingsError(
      `environments.${name}: an environment name is a letter followed by up to 31 letters, digits or "-" ` +
        '(it becomes part of the stack and SSM document names).',
    );
  }
  if (!isObject(raw)) {
    throw new SettingsError(`environments.${name}: expected an object of settings, got ${describe(raw)}.`);
  }
  const problems: string[] = [];
  const add = (field: string, problem: string) => problems.push(`environments.${name}.${field}: ${problem}`);
  // What readFields keeps passed its rule (a wrong value was added as a problem instead), so each value has
  // its declaration's type; a missing required one is a problem too, and nothing is built past problems.
  const v = readFields(raw, add) as SettingValues<ContextSettingId>;
  const field = (id: ContextSettingId): string => SETTINGS[id].context;

  const { region } = v;
  const secretRegion = otherRegion(SECRET_ARN, v.secretId, region);
  if (secretRegion) {
    add(
      field('secretId'),
      `the secret must be in the function's region ${region}, got one in ${secretRegion}`,
    );
  }
  const keyRegion = otherRegion(KMS_KEY_ARN, v.kmsKeyArn, region);
  if (keyRegion)
    add(field('kmsKeyArn'), `the key must be in the secret's region ${region}, got one in ${keyRegion}`);
  const topicRegion = otherRegion(SNS_TOPIC_ARN, v.alarmTopicArn, region);
  if (topicRegion) {
    add(
      field('alarmTopicArn'),
      `CloudWatch alarms notify topics in their own region ${region}, got one in ${topicRegion}`,
    );
  }
  const ca = v.caFile === undefined ? undefined : caFile(v.caFile, options.projectRoot);
  if (ca && 'problem' in ca) add(field('caFile'), ca.problem);

  const { schedule } = v;
  const interval = scheduleIntervalMinutes(schedule);
  const noSuccessfulRunMinutes =
    v.noSuccessfulRunMinutes ??
    Math.min(
      MAX_NO_SUCCESSFUL_RUN_MINUTES,
      MISSED_RUNS_BEFORE_ALARM * (interval ?? MAX_NO_SUCCESSFUL_RUN_MINUTES),
    );
  if (interval !== undefined && noSuccessfulRunMinutes < interval) {
    add(
      field('noSuccessfulRunMinutes'),
      `must be at least one schedule period (${interval} minutes), or the alarm fires between two healthy runs; got ${noSuccessfulRunMinutes}`,
    );
  }
  if (problems.length > 0) {
    throw new SettingsError(`Invalid deployment settings in cdk.json:\n  ${problems.join('\n  ')}`);
  }

  const optional = <K extends string, T>(key: K, value: T | undefined) =>
    (value === undefined ? {} : { [key]: value }) as { [P in K]?: T };
  const kasmApi: KasmApiSettings | undefined =
    v.kasmApiUrl === undefined
      ? undefined
      : Object.freeze({
          url: v.kasmApiUrl.replace(/\/+$/, ''),
          ...optional('caFile', ca && 'path' in ca ? ca.path : undefined),
        });
  return Object.freeze({
    name,
    ...optional('account', v.account),
    ...optional('region', region),
    schedule,
    fleetTag: Object.freeze({ key: v.fleetTagKey, value: v.fleetTagValue }),
    registrationSecret: Object.freeze({
      nameOrArn: v.secretId,
      ...optional('jsonField', v.secretJsonField),
      ...optional('kmsKeyArn', v.kmsKeyArn),
    }),
    ...optional('kasmApi', kasmApi),
    installRoot: v.installRoot,
    windows: Object.freeze({
      installDir: v.windowsInstallDir,
      serviceName: v.windowsServiceName,
    }),
    heartbeatSeconds: v.heartbeatSeconds,
    gracePeriodSeconds: v.gracePeriodSeconds,
    logRetentionDays: v.logRetentionDays,
    ...optional('reservedConcurrency', v.reservedConcurrency),
    ...optional('alarmEmail', v.alarmEmail),
    ...optional('alarmTopicArn', v.alarmTopicArn),
    ...optional('runbookUrl', v.runbookUrl),
    noSuccessfulRunMinutes,
    consoleTestEvents: v.consoleTestEvents,
    dashboard: v.dashboard,
  });
}

/** What `-c env=NAME` and the `environments` context select. */
export interface SelectionContext {
  readonly environments: unknown;
  /** The `env` context value; undefined selects every environment. */
  readonly env: unknown;
}

/** Parses the selected environments (all of them when no `env` is given). */
export function selectEnvironments(context: SelectionContext, options: ParseOptions): EnvironmentSettings[] {
  const { environments, env } = context;
  if (!isObject(environments) || Object.keys(environments).length === 0) {
    throw new SettingsError(
      'environments: cdk.json "context" must hold "environments": {"dev": {...}, "prod": {...}} with at least one environment (see docs/deploying.md, "3. Configure an environment").',
    );
  }
  const names = Object.keys(environments);
  if (env === undefined) {
    return names.map((name) => parseEnvironment(name, environments[name], options));
  }
  if (typeof env !== 'string' || !names.includes(env)) {
    throw new SettingsError(
      `-c env=${String(env)}: no such environment in cdk.json "environments" (defined: ${names.join(', ')}).`,
    );
  }
  return [parseEnvironment(env, environments[env], options)];
}
