/**
 * The judgements of `ops preflight`, apart from the AWS calls that feed them (preflight.ts):
 * each takes what AWS answered and returns one check, with the fix when it fails. Pure.
 */
import type { DocumentRole } from '../../shared/documents/ssm-documents.ts';
import { agentVersionAtLeast, MIN_AGENT_VERSION } from '../../shared/limits.ts';
import { tokenFromSecretString } from '../../shared/registration-token.ts';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  /** What was found, in one line. */
  readonly detail: string;
  /** What to do, when it did not pass. */
  readonly fix?: string;
  /** Lines shown under the check (e.g. one per fleet node). */
  readonly items?: readonly string[];
}

/** What the environment's function runs with: from its deployed configuration, or cdk.json. */
export interface CheckedSettings {
  readonly secretId: string;
  readonly secretJsonField?: string;
  readonly fleetTag: { readonly key: string; readonly value: string };
  /** From the deployed function only: the documents it runs and the hashes it pins. */
  readonly documents?: Readonly<Record<DocumentRole, { readonly name: string; readonly hash: string }>>;
}

/** The secret's value was read: is it a token the function would accept? The value is never shown. */
export function secretCheck(settings: CheckedSettings, secretString: string | undefined): Check {
  const name = 'secret';
  const field = settings.secretJsonField;
  if (secretString === undefined) {
    return {
      name,
      status: 'fail',
      detail: `${settings.secretId} has no SecretString (binary secrets are not supported)`,
      fix: 'store the token as a string: aws secretsmanager put-secret-value --secret-id ID --secret-string file://token.txt',
    };
  }
  const read = tokenFromSecretString(secretString, settings.secretId, field);
  if (!read.ok) {
    return {
      name,
      status: 'fail',
      detail: read.problem,
      fix:
        field === undefined
          ? 'put the Component Registration Token alone in the secret (docs/deploying.md, "The registration token secret")'
          : `store JSON with the token in field "${field}", or remove registrationSecret.jsonField (docs/deploying.md)`,
    };
  }
  return {
    name,
    status: 'pass',
    detail: `${settings.secretId} is readable and holds a well-formed token (${field === undefined ? 'plain string' : `JSON field "${field}"`}, ${read.token.length} characters)`,
  };
}

/**
 * GetSecretValue failed. Errors about the secret itself get their own fix; any other (credentials,
 * region, connection) gets `hint`, what hints.ts explain() says of it, since the console cannot help
 * there.
 */
export function secretErrorCheck(settings: CheckedSettings, errorName: string, hint?: string): Check {
  const fix =
    errorName === 'ResourceNotFoundException'
      ? `create it: aws secretsmanager create-secret --name ${settings.secretId} --secret-string file://token.txt (docs/deploying.md)`
      : errorName === 'AccessDeniedException'
        ? 'your identity needs secretsmanager:GetSecretValue on the secret (and kms:Decrypt on its key) to check it'
        : errorName === 'DecryptionFailure'
          ? "your identity needs kms:Decrypt on the secret's KMS key to check it"
          : (hint ?? 'check the secret in the Secrets Manager console');
  return {
    name: 'secret',
    status: 'fail',
    detail: `${settings.secretId} could not be read (${errorName})`,
    fix,
  };
}

export interface FleetNode {
  readonly instanceId: string;
  readonly pingStatus: string;
  readonly platform: string;
  readonly agentVersion: string;
}

/** The nodes carrying the fleet tag: listed, each with its agent and whether it answers. */
export function fleetCheck(settings: CheckedSettings, nodes: readonly FleetNode[]): Check {
  const tag = `${settings.fleetTag.key}=${settings.fleetTag.value}`;
  const name = 'fleet nodes';
  if (nodes.length === 0) {
    return {
      name,
      status: 'fail',
      detail: `no SSM managed node carries the fleet tag ${tag}`,
      fix:
        `tag the Kasm hosts: aws ec2 create-tags --resources i-… --tags Key=${settings.fleetTag.key},Value=${settings.fleetTag.value} ` +
        '(hybrid nodes: aws ssm add-tags-to-resource --resource-type ManagedInstance); each needs a running SSM Agent (docs/deploying.md)',
    };
  }
  const items: string[] = [];
  const problems: string[] = [];
  for (const node of [...nodes].sort((a, b) => a.instanceId.localeCompare(b.instanceId))) {
    const notes: string[] = [];
    if (node.pingStatus !== 'Online') notes.push(`agent not answering (${node.pingStatus})`);
    if (node.platform !== 'Linux' && node.platform !== 'Windows') notes.push('platform not supported');
    if (!agentVersionAtLeast(node.agentVersion))
      notes.push(`agent older than ${MIN_AGENT_VERSION}: update it`);
    if (notes.length > 0) problems.push(node.instanceId);
    items.push(
      `${node.instanceId}  ${node.platform}  ${node.pingStatus}  agent ${node.agentVersion}${notes.length > 0 ? `  (${notes.join('; ')})` : ''}`,
    );
  }
  const online = nodes.filter((n) => n.pingStatus === 'Online').length;
  const detail = `${nodes.length} ${nodes.length === 1 ? 'node carries' : 'nodes carry'} the fleet tag ${tag}, ${online} online`;
  if (online === 0) {
    return {
      name,
      status: 'fail',
      detail,
      fix: 'start the hosts, or check their SSM Agent is running and can reach SSM (docs/deploying.md, "Before you start": what each Kasm host needs)',
      items,
    };
  }
  if (problems.length > 0) {
    return {
      name,
      status: 'warn',
      detail: `${detail}; ${problems.length} to look at`,
      fix: 'start or fix the hosts marked below (a host that is meant to be off can stay off)',
      items,
    };
  }
  return { name, status: 'pass', detail, items };
}

/**
 * The documents the deployed function runs, against this checkout: the function pins each by
 * its content hash, and SSM must hold a document of that name with that very hash.
 */
export function documentsCheck(
  expected: Readonly<Record<DocumentRole, string>>,
  deployed: CheckedSettings['documents'],
  described: Readonly<Partial<Record<DocumentRole, { readonly hash?: string; readonly status?: string }>>>,
  env: string,
): Check {
  const name = 'documents';
  const redeploy = `npx cdk deploy -c env=${env} from this checkout (or check out the version that is deployed)`;
  if (!deployed) return { name, status: 'fail', detail: 'the function names no documents', fix: redeploy };
  const problems: string[] = [];
  for (const role of ['probe', 'push'] as const) {
    const { name: documentName, hash } = deployed[role];
    const found = described[role];
    if (hash !== expected[role])
      problems.push(`${role}: the function pins ${short(hash)}, this checkout has ${short(expected[role])}`);
    else if (!found) problems.push(`${role}: ${documentName} does not exist in SSM`);
    else if (found.hash !== hash)
      problems.push(
        `${role}: ${documentName} in SSM has content ${short(found.hash ?? 'none')}, not ${short(hash)}`,
      );
    else if (found.status !== undefined && found.status !== 'Active')
      problems.push(`${role}: ${documentName} is ${found.status}`);
  }
  if (problems.length > 0) return { name, status: 'fail', detail: problems.join('; '), fix: redeploy };
  return {
    name,
    status: 'pass',
    detail: `probe and push in SSM match this checkout (sha256 ${short(expected.probe)}, ${short(expected.push)})`,
  };
}

function short(hash: string): string {
  return hash.slice(0, 12);
}

export interface AlarmTarget {
  readonly topicArn: string;
  /** SNS GetTopicAttributes, or undefined when the topic could not be read. */
  readonly confirmed?: number;
  readonly pending?: number;
  readonly error?: string;
}

/**
 * The stack's alarms exist and notify a topic someone has confirmed. `expected`: the names the stack
 * gives its alarms; `found`: those CloudWatch has.
 */
export function alarmsCheck(
  expected: readonly string[],
  found: readonly string[],
  targets: readonly AlarmTarget[],
  env: string,
): Check {
  const name = 'alarms';
  const alarmCount = found.length;
  if (alarmCount === 0) {
    return {
      name,
      status: 'fail',
      detail: 'the environment has no alarms',
      fix: `npx cdk deploy -c env=${env} (every stack has its alarms)`,
    };
  }
  const have = new Set(found);
  const missing = expected.filter((alarm) => !have.has(alarm));
  if (missing.length > 0) {
    return {
      name,
      status: 'fail',
      detail: `${alarmCount} of the stack's ${expected.length} alarms exist; missing: ${missing.join(', ')}`,
      fix: `npx cdk deploy -c env=${env} from this checkout (every stack has all ${expected.length})`,
    };
  }
  if (targets.length === 0) {
    return {
      name,
      status: 'fail',
      detail: `${alarmCount} alarms, but they notify nobody`,
      fix: `set "alarmEmail" or "alarmTopicArn" for ${env} in cdk.json, then npx cdk deploy -c env=${env}`,
    };
  }
  const items = targets.map((t) =>
    t.error
      ? `${t.topicArn}: could not be read (${t.error})`
      : `${t.topicArn}: ${t.confirmed ?? 0} confirmed, ${t.pending ?? 0} pending subscription(s)`,
  );
  const reached = targets.filter((t) => (t.confirmed ?? 0) > 0);
  if (reached.length === 0) {
    const pending = targets.some((t) => (t.pending ?? 0) > 0);
    return {
      name,
      status: 'fail',
      detail: `${alarmCount} alarms notify ${targets.length} topic(s), but no subscription is confirmed`,
      fix: pending
        ? 'confirm the subscription: open the "AWS Notification - Subscription Confirmation" e-mail (check the spam folder) and click "Confirm subscription"'
        : 'subscribe someone to the topic (aws sns subscribe --topic-arn ARN --protocol email --notification-endpoint ADDRESS)',
      items,
    };
  }
  return {
    name,
    status: 'pass',
    detail: `${alarmCount} alarms notify ${targets.length} topic(s) with a confirmed subscription`,
    items,
  };
}

/** Preflight's exit code: 1 when any check failed. */
export function preflightFailed(checks: readonly Check[]): boolean {
  return checks.some((c) => c.status === 'fail');
}

/** One line per check, its items indented below, and the fix on the check's own line. */
export function renderChecks(checks: readonly Check[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const check of checks) {
    const mark = check.status.toUpperCase().padEnd(4);
    lines.push(
      `${mark}  ${check.name.padEnd(width)}  ${check.detail}${check.fix ? ` — fix: ${check.fix}` : ''}`,
    );
    for (const item of check.items ?? []) lines.push(`${' '.repeat(width + 8)}${item}`);
  }
  return `${lines.join('\n')}\n`;
}
