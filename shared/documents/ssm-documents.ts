/**
 * The probe and push SSM documents (schemaVersion 2.2), built from the catalog and the
 * host scripts beside this file. The CDK stack deploys exactly this content and the
 * proving ground executes exactly this content.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  DEFAULT_LINUX_INSTALL_ROOT,
  DEFAULT_WINDOWS_INSTALL_DIR,
  DEFAULT_WINDOWS_SERVICE_NAME,
  LINUX_COMPONENTS,
  LINUX_LEGACY_STATE_DIR,
  LINUX_STATE_DIR,
  REGISTRATION_FILE_NAME,
  WINDOWS_COMPONENTS,
  WINDOWS_STATE_DIR_NAME,
} from '../catalog.ts';

export interface SsmDocumentParameter {
  readonly type: 'String';
  readonly description: string;
  readonly default?: string;
  readonly allowedPattern: string;
  readonly interpolationType: 'ENV_VAR';
}

export interface SsmDocumentStep {
  readonly action: 'aws:runShellScript' | 'aws:runPowerShellScript';
  readonly name: string;
  readonly precondition: { readonly StringEquals: readonly ['platformType', 'Linux' | 'Windows'] };
  readonly inputs: { readonly timeoutSeconds: string; readonly runCommand: readonly string[] };
}

export interface SsmDocumentContent {
  readonly schemaVersion: '2.2';
  readonly description: string;
  readonly parameters: Readonly<Record<string, SsmDocumentParameter>>;
  readonly mainSteps: readonly SsmDocumentStep[];
}

export type DocumentRole = 'probe' | 'push';

/** The probe's step timeout (`timeoutSeconds`): longest it runs once a host has picked it up. */
export const PROBE_TIMEOUT_SECONDS = 120;
/** The push's step timeout; its wait on the host (WaitSeconds, at most 999) and its work fit inside. */
export const PUSH_TIMEOUT_SECONDS = 1200;

/**
 * Per-environment names that carry a hash of the document's content, so the function and
 * the stack agree without lookups, and each content is its own document at version 1.
 * The function runs exactly version 1 (never whatever `$DEFAULT` points at), and a deploy
 * that changes a script replaces the document instead of adding a version to it.
 */
export function documentNames(environment: string): Readonly<Record<DocumentRole, string>> {
  return {
    probe: `KasmTokenReconciler-${environment}-Probe-${contentHash(probeDocument())}`,
    push: `KasmTokenReconciler-${environment}-Push-${contentHash(pushDocument())}`,
  };
}

/** The version each document name holds: its one and only. */
export const PINNED_DOCUMENT_VERSION = '1';

function contentHash(content: SsmDocumentContent): string {
  return createHash('sha256').update(JSON.stringify(content)).digest('hex').slice(0, 12);
}

const INSTANCE_ID = '(?:i-[0-9a-f]{8}|i-[0-9a-f]{17}|mi-[0-9a-f]{17})';
const COMPONENT_LIST = '[a-z_]{1,24}(?:\\+[a-z_]{1,24}){0,7}';
/** RSA-2048 OAEP ciphertext is 256 bytes: 344 base64 characters. */
const SEALED = '[A-Za-z0-9+/]{342}==';
const DELIVERY = `${INSTANCE_ID}:${COMPONENT_LIST}:${SEALED}`;
/**
 * One push serves at most 50 hosts, the SendCommand InstanceIds limit. The function keeps to it (its
 * command runner sends at most MAX_INSTANCES_PER_COMMAND hosts per SendCommand, and each push carries one
 * entry per host of its batch); the Deliveries pattern cannot say it: the SSM Agent compiles every
 * allowedPattern with Go's regexp, which refuses nested repeat counts whose product passes 1000, and
 * `{0,49}` around an entry holding `{342}` is one ("invalid repeat count: `{0,49}`", on every host).
 */
export const MAX_DELIVERIES_PER_PUSH = 50;

export const PARAMETER_PATTERNS = Object.freeze({
  installRoot: '^/[A-Za-z0-9._/-]{0,255}$',
  runId: '^[A-Za-z0-9-]{1,64}$',
  keyPair: '^(none|create|auto)$',
  /** Kasm's grace period in whole seconds (up to a year): the probe's own reading of who needs a delivery. */
  graceSeconds: '^[0-9]{1,8}$',
  waitSeconds: '^[0-9]{1,3}$',
  /** Epoch seconds after which the push does nothing on the host (the run has given up on it). */
  notAfter: '^[0-9]{10}$',
  /** One entry or more (`*`, not a count: see MAX_DELIVERIES_PER_PUSH); the host takes its own. */
  deliveries: `^${DELIVERY}(?: ${DELIVERY})*$`,
  /** A drive-letter path of plain characters (spaces and parentheses allowed: `C:\Program Files (x86)\Kasm`). */
  windowsInstallDir: '^[A-Za-z]:\\\\(?:[A-Za-z0-9 ._()-]{1,64}(?:\\\\[A-Za-z0-9 ._()-]{1,64}){0,15}\\\\?)?$',
  /** A Windows service name (the short name, not the display name). */
  windowsServiceName: '^[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}$',
});

const installRoot: SsmDocumentParameter = {
  type: 'String',
  description: 'Kasm install root on Linux hosts.',
  default: DEFAULT_LINUX_INSTALL_ROOT,
  allowedPattern: PARAMETER_PATTERNS.installRoot,
  interpolationType: 'ENV_VAR',
};
const runId: SsmDocumentParameter = {
  type: 'String',
  description: 'Reconcile run id; names the ephemeral sealing key.',
  default: 'none',
  allowedPattern: PARAMETER_PATTERNS.runId,
  interpolationType: 'ENV_VAR',
};

/** Parameters of the Windows steps, declared by both documents (the function sends them with every command). */
const windowsParameters: Readonly<Record<string, SsmDocumentParameter>> = {
  WindowsInstallDir: {
    type: 'String',
    description: 'Kasm install folder on Windows hosts; config.yaml and registration_token.txt live in it.',
    default: DEFAULT_WINDOWS_INSTALL_DIR,
    allowedPattern: PARAMETER_PATTERNS.windowsInstallDir,
    interpolationType: 'ENV_VAR',
  },
  WindowsServiceName: {
    type: 'String',
    description: 'Windows service of the Kasm agent; restarted once by the push so that it reads the file.',
    default: DEFAULT_WINDOWS_SERVICE_NAME,
    allowedPattern: PARAMETER_PATTERNS.windowsServiceName,
    interpolationType: 'ENV_VAR',
  },
};

function readScript(file: string): string {
  return readFileSync(new URL(file, import.meta.url), 'utf8');
}

/** The catalog as bash variables, spliced where a script says `# @@CATALOG@@`. */
function catalogBash(): string {
  const rows = LINUX_COMPONENTS.map(
    (c) => `  '${c.name}|${c.configDir}|${c.configFile}|${c.tokenPath[0]}|${c.tokenPath[1]}|${c.container}'`,
  );
  return [
    `STATE_DIR='${LINUX_STATE_DIR}'`,
    `LEGACY_STATE_DIR='${LINUX_LEGACY_STATE_DIR}'`,
    `REG_FILE='${REGISTRATION_FILE_NAME}'`,
    'COMPONENTS=(',
    ...rows,
    ')',
  ].join('\n');
}

/**
 * `script` without its comment lines (a line that is only a `#` comment), but a `#!` line and shellcheck's
 * directives: a document's content may hold 64 KB, the push's parameters included, and the comments would
 * be a third of it. The sources keep them; neither script has a multi-line string holding such a line.
 */
export function withoutCommentLines(script: string): string {
  return script
    .split('\n')
    .filter((line) => !/^\s*#(?!!| shellcheck )/.test(line))
    .join('\n');
}

/**
 * A Linux step's full bash text: the role's script with the catalog spliced in at `# @@CATALOG@@` and
 * linux/common.sh (the functions both documents use) at `# @@COMMON@@`, without comment lines.
 */
export function linuxScript(role: DocumentRole): string {
  const common = readScript('./linux/common.sh').replace(/^# shellcheck shell=bash\n/, '');
  // Replacer functions: a replacement string would expand `$'` (bash's ANSI-C quoting) and `$&`.
  return withoutCommentLines(
    readScript(`./linux/${role}.sh`)
      .replace('# @@CATALOG@@', () => catalogBash())
      .replace('# @@COMMON@@', () => common.trimEnd()),
  );
}

/** A PowerShell single-quoted string literal. */
function psQuote(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

/** The catalog as PowerShell variables, spliced where a Windows script says `# @@CATALOG@@`. */
function catalogPowerShell(): string {
  const rows = WINDOWS_COMPONENTS.map(
    (c) =>
      `  @{ Name = ${psQuote(c.name)}; ConfigFile = ${psQuote(c.configFile)}; ` +
      `Section = ${psQuote(c.tokenPath[0])}; Key = ${psQuote(c.tokenPath[1])} }`,
  );
  return [
    `$DefaultInstallDir = ${psQuote(DEFAULT_WINDOWS_INSTALL_DIR)}`,
    `$DefaultServiceName = ${psQuote(DEFAULT_WINDOWS_SERVICE_NAME)}`,
    `$StateDirName = ${psQuote(WINDOWS_STATE_DIR_NAME)}`,
    `$RegFile = ${psQuote(REGISTRATION_FILE_NAME)}`,
    '$Components = @(',
    ...rows,
    ')',
  ].join('\n');
}

/**
 * A Windows step's full PowerShell text: the role's script with the catalog spliced in at `# @@CATALOG@@`
 * and windows/common.ps1 (the functions both documents use) at `# @@COMMON@@`, without comment lines. Runs on Windows
 * PowerShell 5.1 and PowerShell 7 (test/pwsh-check.ps1 holds it to 5.1 syntax).
 */
export function windowsScript(role: DocumentRole): string {
  const common = readScript('./windows/common.ps1').trimEnd();
  // Replacer functions: PowerShell text is full of `$'` and `$&`, which a replacement string would expand.
  return withoutCommentLines(
    readScript(`./windows/${role}.ps1`)
      .replace('# @@CATALOG@@', () => catalogPowerShell())
      .replace('# @@COMMON@@', () => common),
  );
}

function windowsStep(role: DocumentRole, timeoutSeconds: number): SsmDocumentStep {
  return {
    action: 'aws:runPowerShellScript',
    name: `${role}Windows`,
    precondition: { StringEquals: ['platformType', 'Windows'] },
    inputs: { timeoutSeconds: String(timeoutSeconds), runCommand: windowsScript(role).split('\n') },
  };
}

function linuxStep(role: DocumentRole, timeoutSeconds: number): SsmDocumentStep {
  return {
    action: 'aws:runShellScript',
    name: `${role}Linux`,
    precondition: { StringEquals: ['platformType', 'Linux'] },
    inputs: { timeoutSeconds: String(timeoutSeconds), runCommand: linuxScript(role).split('\n') },
  };
}

export function probeDocument(): SsmDocumentContent {
  return {
    schemaVersion: '2.2',
    description:
      'kasm-token-reconciler probe: reports each Kasm component token header and payload (never the signature), ' +
      'a waiting registration file and its age; makes an ephemeral sealing key with KeyPair=create, or with ' +
      'KeyPair=auto where a component is locked out (token expired past GraceSeconds, no file waiting).',
    parameters: {
      InstallRoot: installRoot,
      RunId: runId,
      KeyPair: {
        type: 'String',
        description:
          'create: make an ephemeral RSA key for sealed delivery and return its public key; auto: only where ' +
          "a component needs a delivery by the host's own reading of the rule; none: make no key.",
        default: 'none',
        allowedPattern: PARAMETER_PATTERNS.keyPair,
        interpolationType: 'ENV_VAR',
      },
      GraceSeconds: {
        type: 'String',
        description:
          "Kasm's grace period in seconds, for KeyPair=auto: a token expired longer ago is locked out.",
        default: '3600',
        allowedPattern: PARAMETER_PATTERNS.graceSeconds,
        interpolationType: 'ENV_VAR',
      },
      ...windowsParameters,
    },
    mainSteps: [linuxStep('probe', PROBE_TIMEOUT_SECONDS), windowsStep('probe', PROBE_TIMEOUT_SECONDS)],
  };
}

export function pushDocument(): SsmDocumentContent {
  return {
    schemaVersion: '2.2',
    description:
      'kasm-token-reconciler push: unseals the registration token with the host key, writes ' +
      'registration_token.txt (0600, atomic) beside each named config and waits for the component to consume it.',
    parameters: {
      InstallRoot: installRoot,
      RunId: { ...runId, default: undefined } as SsmDocumentParameter,
      Deliveries: {
        type: 'String',
        description: 'Space-separated instanceId:component+component:ciphertext entries, one per host.',
        allowedPattern: PARAMETER_PATTERNS.deliveries,
        interpolationType: 'ENV_VAR',
      },
      WaitSeconds: {
        type: 'String',
        description: 'How long the host waits for components to consume the file.',
        default: '65',
        allowedPattern: PARAMETER_PATTERNS.waitSeconds,
        interpolationType: 'ENV_VAR',
      },
      NotAfter: {
        type: 'String',
        description:
          'Epoch seconds; a host whose clock is past it writes nothing (the run that sent the push has given up on it).',
        allowedPattern: PARAMETER_PATTERNS.notAfter,
        interpolationType: 'ENV_VAR',
      },
      ...windowsParameters,
    },
    mainSteps: [linuxStep('push', PUSH_TIMEOUT_SECONDS), windowsStep('push', PUSH_TIMEOUT_SECONDS)],
  };
}
