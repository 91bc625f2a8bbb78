/**
 * Every setting of the reconciler, declared once: where an operator sets it (a field of an
 * environment in cdk.json), the environment variable the function reads it from, the values
 * it accepts, its default and what it means. From this list follow the synth-time validation
 * (infra/settings.ts), the function's environment (infra/function-environment.ts), the
 * function's own reader (shared/config.ts) and the settings tables in docs/deploying.md
 * (infra/settings-docs.ts, `npm run docs:settings`).
 *
 * The list is long because there are this many settings; each entry is a few lines.
 */
import {
  DEFAULT_LINUX_INSTALL_ROOT,
  DEFAULT_WINDOWS_INSTALL_DIR,
  DEFAULT_WINDOWS_SERVICE_NAME,
} from './catalog.ts';
import { PARAMETER_PATTERNS } from './documents/ssm-documents.ts';
import { BUNDLED_CA_FILE_PATH, DEFAULT_METRICS_NAMESPACE } from './names.ts';
import { boolean, integer, oneOf, type Rule, type RuleValue, type TextRule, text } from './setting-rules.ts';

export interface Setting {
  /** Its path under `environments.NAME` in cdk.json; none: the operator does not set it. */
  readonly context?: string;
  /** The function's environment variable; none: only the stack uses it. */
  readonly variable?: string;
  readonly rule: Rule;
  /** The function cannot run without it (in cdk.json, GROUPS says which fields an object needs). */
  readonly required?: true;
  /** The value when it is not given; a function of the settings read before it. */
  readonly default?: string | number | boolean | ((read: Readonly<Record<string, unknown>>) => number);
  /** The default as the README says it, where the value alone would not. */
  readonly defaultText?: string;
  readonly meaning: string;
}

export interface Group {
  /** How the object looks, for messages. */
  readonly shape: string;
  /** An environment must have this object. */
  readonly required?: true;
  /** Fields the object must have when it is given. */
  readonly requires?: readonly string[];
}

/** The objects of cdk.json fields (`fleetTag.key` is field `key` of group `fleetTag`). */
export const GROUPS: Readonly<Record<string, Group>> = {
  fleetTag: { shape: '{"key": ..., "value": ...}', requires: ['key', 'value'] },
  registrationSecret: {
    shape: '{"nameOrArn": "kasm/registration-token"}',
    required: true,
    requires: ['nameOrArn'],
  },
  kasmApi: { shape: '{"url": "https://...", "caFile": "..."}', requires: ['url'] },
  windows: { shape: '{"installDir": ..., "serviceName": ...}' },
};

const AWS_REGION = '[a-z]{2}(?:-[a-z]+)+-\\d';
export const REGION = new RegExp(`^${AWS_REGION}$`);
export const RATE = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/;
const CRON = /^cron\(\S+ \S+ \S+ \S+ \S+ \S+\)$/;
/** Tag keys and values: letters, digits, spaces and _ . : / = + - @, lengths in Unicode characters (EC2 User Guide, "Tag restrictions"). */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u;
export const SECRET_ARN = new RegExp(
  `^arn:(aws[a-z-]*):secretsmanager:(${AWS_REGION}):(\\d{12}):secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`,
);
export const KMS_KEY_ARN = new RegExp(
  `^arn:(aws[a-z-]*):kms:(${AWS_REGION}):(\\d{12}):key/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$`,
);
export const SNS_TOPIC_ARN = new RegExp(
  `^arn:(aws[a-z-]*):sns:(${AWS_REGION}):(\\d{12}):[A-Za-z0-9_-]{1,256}$`,
);
/** Characters that survive the bundling hook's shell quoting on Linux, macOS and Windows. */
export const SAFE_PATH = /^[A-Za-z0-9 _./\\:-]+$/;
const DOCUMENT_NAME = /^[A-Za-z0-9_.-]{3,128}$/;

const SCHEDULE_HINT =
  'an EventBridge Scheduler expression such as "rate(5 minutes)" or "cron(0/5 * * * ? *)"';
function scheduleProblem(value: string): string | undefined {
  const rate = RATE.exec(value);
  if (!rate) return CRON.test(value) ? undefined : `expected ${SCHEDULE_HINT}, got "${value}"`;
  const amount = Number(rate[1]);
  if (amount < 1) return `the rate must be at least 1, got "${value}"`;
  if ((amount === 1) !== !(rate[2] ?? '').endsWith('s')) {
    return `a rate of 1 takes a singular unit, any other a plural one, got "${value}"`;
  }
  return undefined;
}

const tagText = (what: 'key' | 'value', max: number): TextRule =>
  text(TAG_TEXT, `a tag ${what} of 1 to ${max} letters, digits, spaces or _ . : / = + - @`, {
    checks: [
      (value) => (value.trim() === value ? undefined : 'must not start or end with a space'),
      (value) => ([...value].length <= max ? undefined : `a tag ${what} has at most ${max} characters`),
      (value) =>
        what === 'key' && value.toLowerCase().startsWith('aws:')
          ? `keys starting with "aws:" are reserved by AWS, got "${value}"`
          : undefined,
    ],
  });

/** CloudWatch evaluates at most a day of data for an alarm on a period shorter than an hour. */
export const MAX_NO_SUCCESSFUL_RUN_MINUTES = 1440;
/** Schedule periods without a successful run before the "no successful run" alarm fires. */
export const MISSED_RUNS_BEFORE_ALARM = 3;

export const SETTINGS = {
  account: {
    context: 'account',
    rule: text(/^\d{12}$/, 'a 12-digit AWS account id'),
    defaultText: "none: the CLI's current account",
    meaning:
      'where the stack deploys; without `account` and `region` the stack is environment-agnostic (ARNs use `AWS::AccountId`/`AWS::Region`). Either way synth needs no AWS lookups',
  },
  region: {
    context: 'region',
    rule: text(REGION, 'an AWS region such as eu-west-1'),
    defaultText: "none: the CLI's current region",
    meaning: 'the region the stack deploys to',
  },
  schedule: {
    context: 'schedule',
    rule: text(/^(?:rate|cron)\(.*\)$/, SCHEDULE_HINT, { checks: [scheduleProblem] }),
    default: 'rate(5 minutes)',
    meaning:
      'EventBridge Scheduler expression of the full reconcile: `rate(N minute[s]/hour[s]/day[s])` or `cron(6 fields)`, UTC',
  },
  fleetTagKey: {
    context: 'fleetTag.key',
    variable: 'FLEET_TAG_KEY',
    rule: tagText('key', 128),
    default: 'kasm:reconcile',
    meaning:
      'the tag that makes an EC2 instance or hybrid node (`mi-`) part of the fleet. The function only finds tagged nodes, and IAM only lets it send commands to tagged nodes',
  },
  fleetTagValue: {
    context: 'fleetTag.value',
    variable: 'FLEET_TAG_VALUE',
    rule: tagText('value', 256),
    default: 'true',
    meaning: "the fleet tag's value",
  },
  secretId: {
    context: 'registrationSecret.nameOrArn',
    variable: 'REGISTRATION_TOKEN_SECRET_ID',
    rule: text(
      /^[A-Za-z0-9/_+=.@-]{1,512}$/,
      'a secret name of letters, digits and / _ + = . @ - (or the full secret ARN)',
      {
        arn: {
          pattern: SECRET_ARN,
          hint: 'a full secret ARN ending in the 6-character suffix (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME-AbCdEf)',
        },
      },
    ),
    required: true,
    meaning:
      "the Secrets Manager secret holding the Kasm registration token: a name in the stack's account and region, or the full ARN (with its 6-character suffix)",
  },
  secretJsonField: {
    context: 'registrationSecret.jsonField',
    variable: 'REGISTRATION_TOKEN_SECRET_FIELD',
    rule: text(/^\S{1,256}$/, 'the name of the JSON field holding the token'),
    defaultText: 'none: the secret string is the token',
    meaning: 'the field to read when the secret is JSON',
  },
  kmsKeyArn: {
    context: 'registrationSecret.kmsKeyArn',
    rule: text(
      KMS_KEY_ARN,
      'a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/KEY-ID); aliases cannot be used in IAM policies',
    ),
    defaultText: 'none: the AWS managed key',
    meaning: 'the customer managed KMS key that encrypts the secret',
  },
  probeDocument: {
    variable: 'PROBE_DOCUMENT_NAME',
    rule: text(DOCUMENT_NAME, 'an SSM document name'),
    required: true,
    defaultText: "set by the stack: the environment's `-Probe` document",
    meaning: 'the SSM document that observes hosts',
  },
  pushDocument: {
    variable: 'PUSH_DOCUMENT_NAME',
    rule: text(DOCUMENT_NAME, 'an SSM document name'),
    required: true,
    defaultText: "set by the stack: the environment's `-Push` document",
    meaning: 'the SSM document that delivers the sealed token',
  },
  probeDocumentHash: {
    variable: 'PROBE_DOCUMENT_HASH',
    rule: text(/^[0-9a-f]{64}$/, 'the SHA-256 of a document, 64 lower-case hex digits'),
    required: true,
    defaultText: 'set by the stack: the SHA-256 of the `-Probe` content it deploys',
    meaning: 'every probe SendCommand carries it as `DocumentHash`: SSM refuses to run other content',
  },
  pushDocumentHash: {
    variable: 'PUSH_DOCUMENT_HASH',
    rule: text(/^[0-9a-f]{64}$/, 'the SHA-256 of a document, 64 lower-case hex digits'),
    required: true,
    defaultText: 'set by the stack: the SHA-256 of the `-Push` content it deploys',
    meaning: 'every push SendCommand carries it as `DocumentHash`: SSM refuses to run other content',
  },
  kasmApiUrl: {
    context: 'kasmApi.url',
    variable: 'KASM_API_URL',
    rule: text(
      /^https:\/\/[^\s/]+(?::\d+)?(?:\/[^\s]*)?$/,
      'an https:// URL such as https://kasm.example.com',
    ),
    defaultText: 'none: the Kasm API health is not checked (report says `unchecked`)',
    meaning: 'base URL of the Kasm Admin API; while it is unhealthy, deliveries wait (`deferred`)',
  },
  caFile: {
    context: 'kasmApi.caFile',
    rule: text(
      SAFE_PATH,
      'a path (relative to the repository root) of letters, digits, spaces and _ . / \\ : -',
    ),
    defaultText: "none: the runtime's public CAs",
    meaning: `PEM CA bundle for a private Kasm certificate; copied into the function code as \`${BUNDLED_CA_FILE_PATH}\``,
  },
  kasmCaFile: {
    variable: 'KASM_CA_FILE',
    rule: text(/^.+$/, 'a file path'),
    defaultText: 'set by the stack when `kasmApi.caFile` is',
    meaning: 'CA bundle file for a self-signed Kasm certificate',
  },
  kasmCaPem: {
    variable: 'KASM_CA_PEM',
    rule: text(/-----BEGIN CERTIFICATE-----/, 'a PEM CA bundle'),
    defaultText: "none: the runtime's public CAs",
    meaning: 'the CA bundle itself, instead of `KASM_CA_FILE` (not both)',
  },
  installRoot: {
    context: 'installRoot',
    variable: 'KASM_INSTALL_ROOT',
    rule: text(
      new RegExp(PARAMETER_PATTERNS.installRoot),
      'an absolute path of letters, digits, ".", "_", "-" and "/"',
    ),
    default: DEFAULT_LINUX_INSTALL_ROOT,
    meaning: 'Kasm install root on Linux hosts',
  },
  windowsInstallDir: {
    context: 'windows.installDir',
    variable: 'KASM_WINDOWS_INSTALL_DIR',
    rule: text(
      new RegExp(PARAMETER_PATTERNS.windowsInstallDir),
      'a Windows folder path such as C:\\Program Files\\Kasm',
    ),
    default: DEFAULT_WINDOWS_INSTALL_DIR,
    meaning: 'Windows agent folder (holds `config.yaml`)',
  },
  windowsServiceName: {
    context: 'windows.serviceName',
    variable: 'KASM_WINDOWS_SERVICE_NAME',
    rule: text(
      new RegExp(PARAMETER_PATTERNS.windowsServiceName),
      'a Windows service name of letters, digits, spaces, "_", "-" and "."',
    ),
    default: DEFAULT_WINDOWS_SERVICE_NAME,
    meaning: "the Windows agent's service, restarted once when the agent does not pick up the file",
  },
  heartbeatSeconds: {
    context: 'heartbeatSeconds',
    variable: 'KASM_HEARTBEAT_SECONDS',
    rule: integer(1, 3600),
    default: 30,
    meaning:
      'how often Kasm components wake; sets how long a push waits to see the file consumed and when a waiting file counts as `stuck`',
  },
  gracePeriodSeconds: {
    context: 'gracePeriodSeconds',
    variable: 'KASM_GRACE_PERIOD_SECONDS',
    rule: integer(0, 31_536_000),
    default: 3600,
    meaning:
      "how long past expiry a component still refreshes itself (`in-grace`), so nothing is delivered yet; match Kasm's own setting",
  },
  confirmWaitSeconds: {
    variable: 'CONFIRM_WAIT_SECONDS',
    rule: integer(0, 999),
    default: (read) => Math.min(2 * Number(read.heartbeatSeconds) + 5, 999),
    defaultText: '2 × heartbeat + 5',
    meaning: 'how long a push waits on the host for the file to be consumed',
  },
  stuckAfterSeconds: {
    variable: 'STUCK_AFTER_SECONDS',
    rule: integer(1, 31_536_000),
    default: (read) => 10 * Number(read.heartbeatSeconds),
    defaultText: '10 × heartbeat',
    meaning: 'a waiting file older than this is `stuck`',
  },
  pollIntervalMs: {
    variable: 'COMMAND_POLL_INTERVAL_MS',
    rule: integer(50, 60_000),
    default: 2000,
    meaning: 'first `ListCommands` poll, and the interval after something finished',
  },
  maxPollIntervalMs: {
    variable: 'COMMAND_MAX_POLL_INTERVAL_MS',
    rule: integer(50, 60_000),
    // Short enough that a finished step is noticed within seconds (power-on to recovered
    // within two minutes), long enough that 10,000 hosts cost few ListCommands calls.
    default: 4000,
    meaning: 'longest interval the poll backs off to while nothing finishes',
  },
  pickupSeconds: {
    variable: 'PICKUP_WAIT_SECONDS',
    rule: integer(1, 600),
    // An online agent starts a command within seconds; half a minute means it is not coming.
    default: 30,
    meaning:
      "how long a command may wait for a host's agent to start it; then the host is `unreachable` and the command cancelled",
  },
  apiCallsPerSecond: {
    variable: 'API_CALLS_PER_SECOND',
    rule: integer(1, 200),
    // AWS does not publish SSM's rates and shares them account-wide: a few calls per second.
    default: 5,
    meaning: "client-side pace per AWS API operation (the account's limits are shared)",
  },
  apiBurst: {
    variable: 'API_BURST',
    rule: integer(1, 100),
    // A step's 20 commands (1,000 hosts) go at once; the pace holds for longer steps.
    default: 20,
    meaning: 'calls per AWS API operation allowed at once before the pace applies',
  },
  onlineWaitSeconds: {
    variable: 'ONLINE_WAIT_SECONDS',
    rule: integer(0, 840),
    // Booting and checking in take about 2 minutes on Linux and often 5 to 10 on Windows.
    default: 600,
    meaning:
      "how long an instance-start run waits for a started host's SSM agent to come online; never so long that the host cannot be reconciled before the function's timeout",
  },
  deadlineMarginMs: {
    variable: 'DEADLINE_MARGIN_MS',
    rule: integer(0, 300_000),
    default: 20_000,
    meaning: 'Lambda time kept back for reporting',
  },
  metricsNamespace: {
    variable: 'POWERTOOLS_METRICS_NAMESPACE',
    rule: text(/^[A-Za-z0-9._/#:-]{1,255}$/, 'a CloudWatch namespace'),
    default: DEFAULT_METRICS_NAMESPACE,
    defaultText: 'set by the stack: `KasmTokenReconciler/<env>`',
    meaning: 'CloudWatch namespace of the per-run metrics',
  },
  reservedConcurrency: {
    context: 'reservedConcurrency',
    rule: integer(1, 1000),
    defaultText: "none: the function draws on the account's unreserved concurrency",
    meaning:
      "concurrent runs reserved for the function (and its cap). Not needed for safety: runs may overlap. A reservation must leave the account's minimum unreserved concurrency (100), so on an account whose concurrency quota is low (new accounts often have 10) any value fails the deployment; below 2 (the instance-start queue's maximum concurrency) start batches can be throttled back to the queue",
  },
  logRetentionDays: {
    context: 'logRetentionDays',
    rule: oneOf(
      [
        1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288,
        3653,
      ],
      'the values CloudWatch Logs accepts',
    ),
    default: 90,
    meaning: "retention of the function's log group",
  },
  alarmEmail: {
    context: 'alarmEmail',
    rule: text(/^[^\s@]+@[^\s@]+\.[^\s@]+$/, 'an e-mail address such as ops@example.com'),
    defaultText: 'none',
    meaning: 'address subscribed to an alarm topic the stack creates (confirm the subscription e-mail)',
  },
  alarmTopicArn: {
    context: 'alarmTopicArn',
    rule: text(SNS_TOPIC_ARN, 'an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME)'),
    defaultText: 'none',
    meaning:
      'an existing SNS topic (same region) the alarms also notify, e.g. a pager; with neither this nor `alarmEmail` the alarms still exist (and show on the dashboard) but notify nobody',
  },
  runbookUrl: {
    context: 'runbookUrl',
    rule: text(
      /^https:\/\/[^\s#]+$/,
      "an https:// URL without a fragment, e.g. your Git host's page of docs/operating.md",
    ),
    defaultText:
      "the environment's CloudWatch dashboard (its runbook panel), in the console of the stack's partition; with `dashboard: false`, only the relative path docs/operating.md#alarm-<name>, which a pager cannot open",
    meaning:
      'where the page an alarm names is: every alarm description ends in "Runbook: URL#alarm-<name>", a link a person paged at night can open. Point it at docs/operating.md as your Git host shows it; set it whenever `dashboard` is false',
  },
  noSuccessfulRunMinutes: {
    context: 'noSuccessfulRunMinutes',
    rule: integer(1, MAX_NO_SUCCESSFUL_RUN_MINUTES),
    defaultText: `${MISSED_RUNS_BEFORE_ALARM} schedule periods (\`rate\`), ${MAX_NO_SUCCESSFUL_RUN_MINUTES} (\`cron\`), at most ${MAX_NO_SUCCESSFUL_RUN_MINUTES}`,
    meaning:
      'the _NoSuccessfulRun_ alarm fires when no run ended `ok: true` for this long; at least one schedule period',
  },
  consoleTestEvents: {
    context: 'consoleTestEvents',
    rule: boolean,
    default: true,
    meaning: 'deploy the shareable Lambda console test events',
  },
  dashboard: {
    context: 'dashboard',
    rule: boolean,
    default: true,
    meaning:
      "deploy the CloudWatch dashboard (dashboards beyond an account's first three cost money, see [Cost](operating.md#cost))",
  },
} as const satisfies Record<string, Setting>;

export type SettingId = keyof typeof SETTINGS;

/**
 * The value of a setting once read and validated: its rule's type, and undefined only for a setting that
 * has neither a default nor `required` (the readers give every such setting its default first).
 */
export type SettingValue<Id extends SettingId> = (typeof SETTINGS)[Id] extends
  | { readonly required: true }
  | { readonly default: unknown }
  ? RuleValue<(typeof SETTINGS)[Id]['rule']>
  : RuleValue<(typeof SETTINGS)[Id]['rule']> | undefined;

/** Settings by id, each with its value's type. */
export type SettingValues<Ids extends SettingId> = { readonly [Id in Ids]: SettingValue<Id> };

/** Settings the function reads from its environment. */
export type VariableSettingId = {
  [Id in SettingId]: (typeof SETTINGS)[Id] extends { readonly variable: string } ? Id : never;
}[SettingId];

/** Settings an operator sets in cdk.json. */
export type ContextSettingId = {
  [Id in SettingId]: (typeof SETTINGS)[Id] extends { readonly context: string } ? Id : never;
}[SettingId];

/** The tag that makes a node part of the fleet. */
export interface FleetTag {
  readonly key: string;
  readonly value: string;
}

/** Every setting with its id, in the order declared (cdk.json's order for problems and docs). */
export const SETTING_LIST: readonly (Setting & { readonly id: SettingId })[] = Object.entries(SETTINGS).map(
  ([id, setting]) => ({ id: id as SettingId, ...(setting as Setting) }),
);
