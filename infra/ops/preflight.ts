/**
 * `npm run ops -- preflight --env NAME`: checks, with the operator's own credentials, what a
 * deployment rests on, and prints one line per check with the fix (preflight-checks.ts judges;
 * this file asks AWS). The registration token is read to check its form and never printed.
 */

import { join } from 'node:path';
import { DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { GetFunctionConfigurationCommand } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand } from '@aws-sdk/client-secrets-manager';
import { GetTopicAttributesCommand } from '@aws-sdk/client-sns';
import { DescribeDocumentCommand, DescribeInstanceInformationCommand } from '@aws-sdk/client-ssm';
import { deployedDocuments } from '../../shared/documents/deployed-content.ts';
import type { DocumentRole } from '../../shared/documents/ssm-documents.ts';
import { ALARM_IDS, alarmName } from '../../shared/names.ts';
import { parseEnvironment } from '../settings.ts';
import type { Command } from './args.ts';
import { EXIT } from './exit-codes.ts';
import { explain, hintOf, type Where } from './hints.ts';
import type { OpsClients, OpsIo } from './main.ts';
import {
  type AlarmTarget,
  alarmsCheck,
  type Check,
  type CheckedSettings,
  documentsCheck,
  type FleetNode,
  fleetCheck,
  preflightFailed,
  renderChecks,
  secretCheck,
  secretErrorCheck,
} from './preflight-checks.ts';
import type { Target } from './target.ts';

type Preflight = Extract<Command, { name: 'preflight' }>;

/** Where cdk.json's relative paths (the Kasm CA file) start; not reconciler-function.ts, which loads the CDK. */
const PROJECT_ROOT = join(import.meta.dirname, '..', '..');

const errorName = (error: unknown) => (error as { name?: string } | undefined)?.name ?? 'Error';

/** The deployed function's settings, from its environment variables; undefined when not deployed. */
async function deployedSettings(clients: OpsClients, target: Target): Promise<CheckedSettings | undefined> {
  let variables: Record<string, string>;
  try {
    const config = await clients.lambda.send(
      new GetFunctionConfigurationCommand({ FunctionName: target.functionName }),
    );
    variables = config.Environment?.Variables ?? {};
  } catch (error) {
    if (errorName(error) === 'ResourceNotFoundException') return undefined;
    throw error;
  }
  const v = (name: string) => variables[name] ?? '';
  return {
    secretId: v('REGISTRATION_TOKEN_SECRET_ID'),
    ...(variables.REGISTRATION_TOKEN_SECRET_FIELD
      ? { secretJsonField: v('REGISTRATION_TOKEN_SECRET_FIELD') }
      : {}),
    fleetTag: { key: v('FLEET_TAG_KEY'), value: v('FLEET_TAG_VALUE') },
    documents: {
      probe: { name: v('PROBE_DOCUMENT_NAME'), hash: v('PROBE_DOCUMENT_HASH') },
      push: { name: v('PUSH_DOCUMENT_NAME'), hash: v('PUSH_DOCUMENT_HASH') },
    },
  };
}

/** This checkout's settings for the environment (cdk.json), for a stack not deployed yet. */
function checkoutSettings(target: Target): CheckedSettings | { problem: string } {
  if (target.settings === undefined) {
    return {
      problem: `cdk.json has no environment "${target.env}" (it has: ${target.known.join(', ') || 'none'})`,
    };
  }
  try {
    const s = parseEnvironment(target.env, target.settings, { projectRoot: PROJECT_ROOT });
    return {
      secretId: s.registrationSecret.nameOrArn,
      ...(s.registrationSecret.jsonField ? { secretJsonField: s.registrationSecret.jsonField } : {}),
      fleetTag: s.fleetTag,
    };
  } catch (error) {
    return { problem: error instanceof Error ? error.message : String(error) };
  }
}

async function readSecret(clients: OpsClients, settings: CheckedSettings, where: Where): Promise<Check> {
  try {
    const secret = await clients.secrets.send(new GetSecretValueCommand({ SecretId: settings.secretId }));
    return secretCheck(settings, secret.SecretString);
  } catch (error) {
    // A secret's own errors get their fix; credentials, region and connection the CLI's hint.
    return secretErrorCheck(settings, errorName(error), hintOf(error, where));
  }
}

async function listFleet(clients: OpsClients, settings: CheckedSettings): Promise<FleetNode[]> {
  const nodes: FleetNode[] = [];
  let NextToken: string | undefined;
  do {
    const page = await clients.ssm.send(
      new DescribeInstanceInformationCommand({
        Filters: [{ Key: `tag:${settings.fleetTag.key}`, Values: [settings.fleetTag.value] }],
        MaxResults: 50,
        ...(NextToken ? { NextToken } : {}),
      }),
    );
    for (const info of page.InstanceInformationList ?? []) {
      nodes.push({
        instanceId: info.InstanceId ?? '?',
        pingStatus: info.PingStatus ?? 'unknown',
        platform: info.PlatformType ?? 'unknown',
        agentVersion: info.AgentVersion ?? 'unknown',
      });
    }
    NextToken = page.NextToken;
  } while (NextToken);
  return nodes;
}

async function checkDocuments(clients: OpsClients, settings: CheckedSettings, env: string): Promise<Check> {
  const described: Partial<Record<DocumentRole, { hash?: string; status?: string }>> = {};
  for (const role of ['probe', 'push'] as const) {
    const name = settings.documents?.[role].name;
    if (!name) continue;
    try {
      const { Document } = await clients.ssm.send(new DescribeDocumentCommand({ Name: name }));
      described[role] = {
        ...(Document?.Hash ? { hash: Document.Hash } : {}),
        ...(Document?.Status ? { status: Document.Status } : {}),
      };
    } catch (error) {
      if (errorName(error) !== 'InvalidDocument') throw error;
    }
  }
  const docs = deployedDocuments();
  return documentsCheck(
    { probe: docs.probe.sha256, push: docs.push.sha256 },
    settings.documents,
    described,
    env,
  );
}

async function checkAlarms(clients: OpsClients, env: string): Promise<Check> {
  // Exactly the stack's alarms: a name prefix would also match another environment's ("prod" and "prod-eu").
  const expected = ALARM_IDS.map((id) => alarmName(env, id));
  const names: string[] = [];
  const topics = new Set<string>();
  let NextToken: string | undefined;
  do {
    const page = await clients.cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNames: expected, ...(NextToken ? { NextToken } : {}) }),
    );
    for (const alarm of page.MetricAlarms ?? []) {
      names.push(alarm.AlarmName ?? '');
      for (const action of alarm.AlarmActions ?? [])
        if (action.startsWith('arn:aws:sns:') || action.includes(':sns:')) topics.add(action);
    }
    NextToken = page.NextToken;
  } while (NextToken);
  const targets: AlarmTarget[] = [];
  for (const topicArn of topics) {
    try {
      const { Attributes = {} } = await clients.sns.send(
        new GetTopicAttributesCommand({ TopicArn: topicArn }),
      );
      targets.push({
        topicArn,
        confirmed: Number(Attributes.SubscriptionsConfirmed ?? 0),
        pending: Number(Attributes.SubscriptionsPending ?? 0),
      });
    } catch (error) {
      targets.push({ topicArn, error: errorName(error) });
    }
  }
  return alarmsCheck(expected, names, targets, env);
}

/** Runs one check; an AWS error becomes that check's failure with its hint, never the command's. */
async function guarded(name: string, where: Where, work: () => Promise<Check>): Promise<Check> {
  try {
    return await work();
  } catch (error) {
    const [detail = '', hint] = explain(error, where).split('\n');
    return { name, status: 'fail', detail: `${errorName(error)}: ${detail}`, ...(hint ? { fix: hint } : {}) };
  }
}

export async function runPreflight(
  command: Preflight,
  target: Target,
  clients: OpsClients,
  io: OpsIo,
  region: string | undefined,
): Promise<number> {
  const where = {
    env: command.env,
    known: target.known,
    ...(region ? { region } : {}),
    ...(io.env.AWS_ENDPOINT_URL ? { endpoint: io.env.AWS_ENDPOINT_URL } : {}),
  };
  const checks: Check[] = [];
  const skip = (name: string) => checks.push({ name, status: 'skip', detail: 'skipped (--before-deploy)' });
  let settings: CheckedSettings | undefined;
  if (command.beforeDeploy) {
    skip('function');
  } else {
    const found = await guarded('function', where, async () => {
      settings = await deployedSettings(clients, target);
      return settings
        ? { name: 'function', status: 'pass', detail: `${target.functionName} is deployed` }
        : {
            name: 'function',
            status: 'fail',
            detail: `${target.functionName} is not deployed in ${region ?? 'your default region'}`,
            fix: `npx cdk deploy -c env=${command.env} (or --region for another region; --before-deploy checks what a deploy needs)`,
          };
    });
    checks.push(found);
  }
  if (!settings) {
    const fromCheckout = checkoutSettings(target);
    if ('problem' in fromCheckout) {
      checks.push({
        name: 'settings',
        status: 'fail',
        detail: fromCheckout.problem,
        fix: 'see docs/deploying.md, "Configure an environment"',
      });
    } else {
      settings = fromCheckout;
    }
  }
  if (settings) {
    const s = settings;
    checks.push(await readSecret(clients, s, where));
    checks.push(await guarded('fleet nodes', where, async () => fleetCheck(s, await listFleet(clients, s))));
    if (command.beforeDeploy) skip('documents');
    else if (s.documents)
      checks.push(await guarded('documents', where, () => checkDocuments(clients, s, command.env)));
  }
  if (command.beforeDeploy) skip('alarms');
  else checks.push(await guarded('alarms', where, () => checkAlarms(clients, command.env)));

  if (command.json) io.stdout.write(`${JSON.stringify({ env: command.env, region, checks }, null, 2)}\n`);
  else {
    io.stdout.write(`preflight ${target.functionName} in ${region ?? 'your default region'}\n`);
    io.stdout.write(renderChecks(checks));
  }
  return preflightFailed(checks) ? EXIT.failed : EXIT.ok;
}
