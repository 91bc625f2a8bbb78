/**
 * Per-environment deployment settings, read once from the cdk.json context
 * (`"environments": {"dev": {...}, "prod": {...}}`) into frozen, validated objects.
 * A wrong or missing setting fails the synth with every problem listed, each naming the
 * environment and the field (`environments.prod.fleetTag.key: ...`).
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  DEFAULT_LINUX_INSTALL_ROOT,
  DEFAULT_WINDOWS_INSTALL_DIR,
  DEFAULT_WINDOWS_SERVICE_NAME,
} from '../shared/catalog.ts';
import { PARAMETER_PATTERNS } from '../shared/documents/ssm-documents.ts';

export const DEFAULT_SCHEDULE = 'rate(5 minutes)';
export const DEFAULT_FLEET_TAG = Object.freeze({ key: 'kasm:reconcile', value: 'true' });
export const DEFAULT_INSTALL_ROOT = DEFAULT_LINUX_INSTALL_ROOT;
export const DEFAULT_HEARTBEAT_SECONDS = 30;
export const DEFAULT_GRACE_PERIOD_SECONDS = 3600;
export const DEFAULT_LOG_RETENTION_DAYS = 90;

/** The values CloudWatch Logs accepts for a log group's retention. */
export const LOG_RETENTION_DAYS = Object.freeze([
  1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
]);

export interface FleetTag {
  readonly key: string;
  readonly value: string;
}

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
  /** Alarms notify this address (through a topic the stack creates) … */
  readonly alarmEmail?: string;
  /** … and/or this existing SNS topic. With neither, the stack has no alarms. */
  readonly alarmTopicArn?: string;
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

/** The keys an environment may have; anything else is a typo and fails the synth. */
const ENVIRONMENT_KEYS = [
  'account',
  'region',
  'schedule',
  'fleetTag',
  'registrationSecret',
  'kasmApi',
  'installRoot',
  'windows',
  'heartbeatSeconds',
  'gracePeriodSeconds',
  'logRetentionDays',
  'alarmEmail',
  'alarmTopicArn',
  'noSuccessfulRunMinutes',
  'consoleTestEvents',
  'dashboard',
] as const;

/** Schedule periods without a successful run before the "no successful run" alarm fires. */
export const MISSED_RUNS_BEFORE_ALARM = 3;
/** CloudWatch evaluates at most a day of data for an alarm on a period shorter than an hour. */
const MAX_NO_SUCCESSFUL_RUN_MINUTES = 1440;

const ENVIRONMENT_NAME = /^[A-Za-z][A-Za-z0-9-]{0,31}$/;
const ACCOUNT = /^\d{12}$/;
const REGION = /^[a-z]{2}(?:-[a-z]+)+-\d$/;
const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$/;
/** Tag keys and values: letters, digits, spaces and _ . : / = + - @ (EC2 and SSM tag rules). */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
const SECRET_ARN =
  /^arn:(aws[a-z-]*):secretsmanager:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
const KMS_KEY_ARN =
  /^arn:(aws[a-z-]*):kms:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):key\/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/;
/** Same rule as shared/config.ts applies to KASM_API_URL. */
const HTTPS_URL = /^https:\/\/[^\s/]+(?::\d+)?(?:\/[^\s]*)?$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const SNS_TOPIC_ARN = /^arn:(aws[a-z-]*):sns:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):[A-Za-z0-9_-]{1,256}$/;
/** Characters that survive the bundling hook's shell quoting on Linux, macOS and Windows. */
const SAFE_PATH = /^[A-Za-z0-9 _./\\:-]+$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return `"${value}"`;
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** Collects every problem of one environment so an operator fixes them in one go. */
class Problems {
  readonly #lines: string[] = [];
  constructor(readonly prefix: string) {}

  add(field: string, problem: string): undefined {
    this.#lines.push(`${this.prefix}.${field}: ${problem}`);
    return undefined;
  }

  get lines(): readonly string[] {
    return this.#lines;
  }

  unknownKeys(value: Json, field: string | undefined, allowed: readonly string[]): void {
    for (const key of Object.keys(value)) {
      if (!allowed.includes(key)) {
        this.add(field ? `${field}.${key}` : key, `unknown setting (allowed: ${allowed.join(', ')})`);
      }
    }
  }

  string(value: unknown, field: string, pattern: RegExp, hint: string): string | undefined {
    if (typeof value !== 'string' || value.trim() === '') {
      return this.add(field, `expected ${hint}, got ${value === undefined ? 'nothing' : describe(value)}`);
    }
    if (!pattern.test(value)) return this.add(field, `expected ${hint}, got ${describe(value)}`);
    return value;
  }

  optionalString(value: unknown, field: string, pattern: RegExp, hint: string): string | undefined {
    return value === undefined ? undefined : this.string(value, field, pattern, hint);
  }

  boolean(value: unknown, field: string, fallback: boolean): boolean {
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') {
      this.add(field, `expected true or false, got ${describe(value)}`);
      return fallback;
    }
    return value;
  }

  integer(value: unknown, field: string, fallback: number, min: number, max: number): number {
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.add(field, `expected a whole number from ${min} to ${max}, got ${describe(value)}`);
      return fallback;
    }
    return value;
  }
}

function schedule(problems: Problems, value: unknown): string {
  if (value === undefined) return DEFAULT_SCHEDULE;
  const hint = 'an EventBridge Scheduler expression such as "rate(5 minutes)" or "cron(0/5 * * * ? *)"';
  const text = problems.string(value, 'schedule', /^(?:rate|cron)\(.*\)$/, hint);
  if (text === undefined) return DEFAULT_SCHEDULE;
  const rate = RATE.exec(text);
  if (rate) {
    const amount = Number(rate[1]);
    const unit = rate[2] ?? '';
    if (amount < 1) problems.add('schedule', `the rate must be at least 1, got ${describe(text)}`);
    else if ((amount === 1) !== !unit.endsWith('s')) {
      problems.add(
        'schedule',
        `a rate of 1 takes a singular unit, any other a plural one, got ${describe(text)}`,
      );
    }
  } else if (!CRON.test(text)) {
    problems.add('schedule', `expected ${hint}, got ${describe(text)}`);
  }
  return text;
}

function fleetTag(problems: Problems, value: unknown): FleetTag {
  if (value === undefined) return DEFAULT_FLEET_TAG;
  if (!isObject(value)) {
    problems.add('fleetTag', `expected an object {"key": ..., "value": ...}, got ${describe(value)}`);
    return DEFAULT_FLEET_TAG;
  }
  problems.unknownKeys(value, 'fleetTag', ['key', 'value']);
  const tagHint = (max: number) => `1 to ${max} letters, digits, spaces or _ . : / = + - @`;
  const key = problems.string(value.key, 'fleetTag.key', TAG_TEXT, `a tag key of ${tagHint(128)}`);
  if (key !== undefined && key.trim() !== key)
    problems.add('fleetTag.key', 'must not start or end with a space');
  if (key !== undefined && key.length > 128)
    problems.add('fleetTag.key', 'a tag key has at most 128 characters');
  if (key?.toLowerCase().startsWith('aws:')) {
    problems.add('fleetTag.key', `keys starting with "aws:" are reserved by AWS, got ${describe(key)}`);
  }
  const tagValue = problems.string(value.value, 'fleetTag.value', TAG_TEXT, `a tag value of ${tagHint(256)}`);
  if (tagValue !== undefined && tagValue.trim() !== tagValue) {
    problems.add('fleetTag.value', 'must not start or end with a space');
  }
  if (tagValue !== undefined && tagValue.length > 256) {
    problems.add('fleetTag.value', 'a tag value has at most 256 characters');
  }
  return { key: key ?? DEFAULT_FLEET_TAG.key, value: tagValue ?? DEFAULT_FLEET_TAG.value };
}

const DEFAULT_WINDOWS: WindowsSettings = Object.freeze({
  installDir: DEFAULT_WINDOWS_INSTALL_DIR,
  serviceName: DEFAULT_WINDOWS_SERVICE_NAME,
});

function windowsSettings(problems: Problems, value: unknown): WindowsSettings {
  if (value === undefined) return DEFAULT_WINDOWS;
  if (!isObject(value)) {
    problems.add(
      'windows',
      `expected an object {"installDir": ..., "serviceName": ...}, got ${describe(value)}`,
    );
    return DEFAULT_WINDOWS;
  }
  problems.unknownKeys(value, 'windows', ['installDir', 'serviceName']);
  const installDir =
    value.installDir === undefined
      ? undefined
      : problems.string(
          value.installDir,
          'windows.installDir',
          new RegExp(PARAMETER_PATTERNS.windowsInstallDir),
          'a Windows folder path such as C:\\Program Files\\Kasm',
        );
  const serviceName =
    value.serviceName === undefined
      ? undefined
      : problems.string(
          value.serviceName,
          'windows.serviceName',
          new RegExp(PARAMETER_PATTERNS.windowsServiceName),
          'a Windows service name of letters, digits, spaces, "_", "-" and "."',
        );
  return Object.freeze({
    installDir: installDir ?? DEFAULT_WINDOWS.installDir,
    serviceName: serviceName ?? DEFAULT_WINDOWS.serviceName,
  });
}

function registrationSecret(
  problems: Problems,
  value: unknown,
  region: string | undefined,
): RegistrationSecretSettings {
  const fallback = { nameOrArn: 'invalid' };
  if (!isObject(value)) {
    problems.add(
      'registrationSecret',
      `required: an object {"nameOrArn": "kasm/registration-token"}, got ${value === undefined ? 'nothing' : describe(value)}`,
    );
    return fallback;
  }
  problems.unknownKeys(value, 'registrationSecret', ['nameOrArn', 'jsonField', 'kmsKeyArn']);
  const field = 'registrationSecret.nameOrArn';
  let nameOrArn: string | undefined;
  if (typeof value.nameOrArn === 'string' && value.nameOrArn.startsWith('arn:')) {
    nameOrArn = problems.string(
      value.nameOrArn,
      field,
      SECRET_ARN,
      'a full secret ARN ending in the 6-character suffix (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf)',
    );
    const arnRegion = nameOrArn && SECRET_ARN.exec(nameOrArn)?.[2];
    if (arnRegion && region && arnRegion !== region) {
      problems.add(field, `the secret must be in the function's region ${region}, got one in ${arnRegion}`);
    }
  } else {
    nameOrArn = problems.string(
      value.nameOrArn,
      field,
      SECRET_NAME,
      'a secret name of letters, digits and / _ + = . @ - (or the full secret ARN)',
    );
  }
  const jsonField = problems.optionalString(
    value.jsonField,
    'registrationSecret.jsonField',
    /^\S{1,256}$/,
    'the name of the JSON field holding the token',
  );
  const kmsKeyArn = problems.optionalString(
    value.kmsKeyArn,
    'registrationSecret.kmsKeyArn',
    KMS_KEY_ARN,
    'a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID); aliases cannot be used in IAM policies',
  );
  const keyRegion = kmsKeyArn && KMS_KEY_ARN.exec(kmsKeyArn)?.[2];
  if (keyRegion && region && keyRegion !== region) {
    problems.add(
      'registrationSecret.kmsKeyArn',
      `the key must be in the secret's region ${region}, got one in ${keyRegion}`,
    );
  }
  return {
    nameOrArn: nameOrArn ?? fallback.nameOrArn,
    ...(jsonField ? { jsonField } : {}),
    ...(kmsKeyArn ? { kmsKeyArn } : {}),
  };
}

function caFile(problems: Problems, value: unknown, projectRoot: string): string | undefined {
  const field = 'kasmApi.caFile';
  const relative = problems.optionalString(
    value,
    field,
    SAFE_PATH,
    'a path (relative to the repository root) of letters, digits, spaces and _ . / \\ : -',
  );
  if (relative === undefined) return undefined;
  const path = isAbsolute(relative) ? relative : resolve(projectRoot, relative);
  if (!SAFE_PATH.test(path)) {
    return problems.add(
      field,
      `the absolute path ${describe(path)} has characters the bundling hook cannot quote`,
    );
  }
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (error) {
    return problems.add(
      field,
      `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  if (!/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.test(pem)) {
    return problems.add(field, `${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  }
  return path;
}

function kasmApi(problems: Problems, value: unknown, projectRoot: string): KasmApiSettings | undefined {
  if (value === undefined) return undefined;
  if (!isObject(value)) {
    return problems.add(
      'kasmApi',
      `expected an object {"url": "https://...", "caFile": "..."}, got ${describe(value)}`,
    );
  }
  problems.unknownKeys(value, 'kasmApi', ['url', 'caFile']);
  const url = problems.string(
    value.url,
    'kasmApi.url',
    HTTPS_URL,
    'an https:// URL such as https://kasm.example.com',
  );
  const ca = caFile(problems, value.caFile, projectRoot);
  if (url === undefined) return undefined;
  return { url: url.replace(/\/+$/, ''), ...(ca ? { caFile: ca } : {}) };
}

function logRetentionDays(problems: Problems, value: unknown): number {
  if (value === undefined) return DEFAULT_LOG_RETENTION_DAYS;
  if (typeof value !== 'number' || !LOG_RETENTION_DAYS.includes(value)) {
    problems.add(
      'logRetentionDays',
      `expected one of ${LOG_RETENTION_DAYS.join(', ')} (the values CloudWatch Logs accepts), got ${describe(value)}`,
    );
    return DEFAULT_LOG_RETENTION_DAYS;
  }
  return value;
}

/** Minutes between two runs of a rate() schedule; undefined for cron(). */
export function scheduleIntervalMinutes(expression: string): number | undefined {
  const rate = RATE.exec(expression);
  if (!rate) return undefined;
  const amount = Number(rate[1]);
  const unit = rate[2] ?? '';
  return amount * (unit.startsWith('minute') ? 1 : unit.startsWith('hour') ? 60 : 1440);
}

function noSuccessfulRunMinutes(problems: Problems, value: unknown, scheduleExpression: string): number {
  const interval = scheduleIntervalMinutes(scheduleExpression);
  const fallback = Math.min(
    MAX_NO_SUCCESSFUL_RUN_MINUTES,
    interval === undefined ? MAX_NO_SUCCESSFUL_RUN_MINUTES : MISSED_RUNS_BEFORE_ALARM * interval,
  );
  const minutes = problems.integer(
    value,
    'noSuccessfulRunMinutes',
    fallback,
    1,
    MAX_NO_SUCCESSFUL_RUN_MINUTES,
  );
  if (interval !== undefined && minutes < interval) {
    problems.add(
      'noSuccessfulRunMinutes',
      `must be at least one schedule period (${interval} minutes), or the alarm fires between two healthy runs; got ${minutes}`,
    );
  }
  return minutes;
}

export interface ParseOptions {
  /** Directory that relative paths (the CA bundle) are resolved against. */
  readonly projectRoot: string;
}

/** Validates one environment's raw context; throws SettingsError listing every problem. */
export function parseEnvironment(name: string, raw: unknown, options: ParseOptions): EnvironmentSettings {
  const problems = new Problems(`environments.${name}`);
  if (!ENVIRONMENT_NAME.test(name)) {
    throw new SettingsError(
      `environments.${name}: an environment name is a letter followed by up to 31 letters, digits or "-" ` +
        '(it becomes part of the stack and SSM document names).',
    );
  }
  if (!isObject(raw)) {
    throw new SettingsError(`environments.${name}: expected an object of settings, got ${describe(raw)}.`);
  }
  problems.unknownKeys(raw, undefined, ENVIRONMENT_KEYS);
  const account = problems.optionalString(raw.account, 'account', ACCOUNT, 'a 12-digit AWS account id');
  const region = problems.optionalString(raw.region, 'region', REGION, 'an AWS region such as eu-west-1');
  // In the order of ENVIRONMENT_KEYS, so the problems read top to bottom like cdk.json.
  const scheduleExpression = schedule(problems, raw.schedule);
  const tag = fleetTag(problems, raw.fleetTag);
  const secret = registrationSecret(problems, raw.registrationSecret, region);
  const api = kasmApi(problems, raw.kasmApi, options.projectRoot);
  const installRoot =
    raw.installRoot === undefined
      ? DEFAULT_INSTALL_ROOT
      : (problems.string(
          raw.installRoot,
          'installRoot',
          new RegExp(PARAMETER_PATTERNS.installRoot),
          'an absolute path of letters, digits, ".", "_", "-" and "/"',
        ) ?? DEFAULT_INSTALL_ROOT);
  const windows = windowsSettings(problems, raw.windows);
  const heartbeatSeconds = problems.integer(
    raw.heartbeatSeconds,
    'heartbeatSeconds',
    DEFAULT_HEARTBEAT_SECONDS,
    1,
    3600,
  );
  const gracePeriodSeconds = problems.integer(
    raw.gracePeriodSeconds,
    'gracePeriodSeconds',
    DEFAULT_GRACE_PERIOD_SECONDS,
    0,
    31_536_000,
  );
  const retention = logRetentionDays(problems, raw.logRetentionDays);
  const alarmEmail = problems.optionalString(
    raw.alarmEmail,
    'alarmEmail',
    EMAIL,
    'an e-mail address such as ops@example.com',
  );
  const alarmTopicArn = problems.optionalString(
    raw.alarmTopicArn,
    'alarmTopicArn',
    SNS_TOPIC_ARN,
    'an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)',
  );
  const topicRegion = alarmTopicArn && SNS_TOPIC_ARN.exec(alarmTopicArn)?.[2];
  if (topicRegion && region && topicRegion !== region) {
    problems.add(
      'alarmTopicArn',
      `CloudWatch alarms notify topics in their own region ${region}, got one in ${topicRegion}`,
    );
  }
  const noRunMinutes = noSuccessfulRunMinutes(problems, raw.noSuccessfulRunMinutes, scheduleExpression);
  const consoleTestEvents = problems.boolean(raw.consoleTestEvents, 'consoleTestEvents', true);
  const dashboard = problems.boolean(raw.dashboard, 'dashboard', true);
  const settings: EnvironmentSettings = {
    name,
    ...(account ? { account } : {}),
    ...(region ? { region } : {}),
    schedule: scheduleExpression,
    fleetTag: Object.freeze(tag),
    registrationSecret: Object.freeze(secret),
    ...(api ? { kasmApi: Object.freeze(api) } : {}),
    installRoot,
    windows,
    heartbeatSeconds,
    gracePeriodSeconds,
    logRetentionDays: retention,
    ...(alarmEmail ? { alarmEmail } : {}),
    ...(alarmTopicArn ? { alarmTopicArn } : {}),
    noSuccessfulRunMinutes: noRunMinutes,
    consoleTestEvents,
    dashboard,
  };
  if (problems.lines.length > 0) {
    throw new SettingsError(`Invalid deployment settings in cdk.json:\n  ${problems.lines.join('\n  ')}`);
  }
  return Object.freeze(settings);
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
      'environments: cdk.json "context" must hold "environments": {"dev": {...}, "prod": {...}} with at least one environment (see infra/README.md).',
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
