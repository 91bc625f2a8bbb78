import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Token, Validations } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runbookAnchor } from '../../infra/alarm-runbook.ts';
import { PROJECT_ROOT } from '../../infra/reconciler-function.ts';
import { SCHEDULED_RUN_INPUT } from '../../infra/schedule-trigger.ts';
import { CONFIG_VARIABLES, readConfig } from '../../shared/config.ts';
import { deployedDocuments } from '../../shared/documents/deployed-content.ts';
import { documentNames, probeDocument, pushDocument } from '../../shared/documents/ssm-documents.ts';
import { parseEvent } from '../../shared/event-schema.ts';
import { BUNDLED_CA_FILE_PATH } from '../../shared/names.ts';
import { scheduledEvent } from '../scheduled-event.ts';
import { type Synthesized, synthStacks, temporaryCaFile } from './synth-stacks.ts';

const ca = temporaryCaFile();
const ACCOUNT = '111122223333';
const REGION = 'eu-west-1';
const KMS_KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/11111111-2222-3333-4444-555555555555`;
const PAGER_TOPIC = `arn:aws:sns:${REGION}:${ACCOUNT}:kasm-pager`;
const RUNBOOK_URL = 'https://git.example.com/platform/kasm-token-reconciler/-/blob/main/docs/operating.md';

const ENVIRONMENTS = {
  full: {
    account: ACCOUNT,
    region: REGION,
    schedule: 'cron(0/10 * * * ? *)',
    fleetTag: { key: 'team:kasm', value: 'fleet-a' },
    registrationSecret: { nameOrArn: 'kasm/registration', jsonField: 'token', kmsKeyArn: KMS_KEY },
    kasmApi: { url: 'https://kasm.example.com/', caFile: ca.path },
    installRoot: '/srv/kasm/current',
    windows: { installDir: 'D:\\Kasm', serviceName: 'KasmAgent' },
    heartbeatSeconds: 20,
    gracePeriodSeconds: 600,
    logRetentionDays: 30,
    reservedConcurrency: 3,
    alarmEmail: 'ops@example.com',
    runbookUrl: RUNBOOK_URL,
  },
  minimal: { registrationSecret: { nameOrArn: 'kasm/minimal/registration-token' } },
  paged: {
    region: REGION,
    schedule: 'rate(10 minutes)',
    registrationSecret: { nameOrArn: 'kasm/paged/registration-token' },
    alarmTopicArn: PAGER_TOPIC,
    noSuccessfulRunMinutes: 30,
    consoleTestEvents: false,
    dashboard: false,
  },
};

let synthesized: Synthesized;
let full: Template;
let minimal: Template;
let paged: Template;

beforeAll(() => {
  synthesized = synthStacks(ENVIRONMENTS);
  full = synthesized.templates.full as Template;
  minimal = synthesized.templates.minimal as Template;
  paged = synthesized.templates.paged as Template;
});
afterAll(() => ca.remove());

/** The one resource of a type whose logical id starts with the prefix. */
// biome-ignore lint/suspicious/noExplicitAny: template JSON is untyped; the assertions check its shape.
type TemplateJson = any;

function resource(
  template: Template,
  type: string,
  logicalIdPrefix: string,
): { id: string; properties: TemplateJson; raw: TemplateJson } {
  const matches = Object.entries(template.findResources(type)).filter(([id]) =>
    id.startsWith(logicalIdPrefix),
  );
  expect(matches.map(([id]) => id)).toHaveLength(1);
  const [id, raw] = matches[0] as [string, TemplateJson];
  return { id, properties: raw.Properties, raw };
}

const getAtt = (logicalId: string, attribute = 'Arn') => ({ 'Fn::GetAtt': [logicalId, attribute] });
/** An ARN as formatArn renders it in a stack with a known account and region. */
const arn = (service: string, rest: string) => ({
  'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:${service}:${REGION}:${ACCOUNT}:${rest}`]],
});
/** The same in an environment-agnostic stack. */
const agnosticArn = (service: string, rest: string) => ({
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      `:${service}:`,
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      `:${rest}`,
    ],
  ],
});

describe('the reconciler function', () => {
  it('runs on the newest Node.js runtime aws-cdk-lib knows, on arm64, for up to 15 minutes', () => {
    // Prepare
    const newestNode = Runtime.ALL.filter((runtime) => runtime.name.startsWith('nodejs'))
      .map((runtime) => runtime.name)
      .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
      .at(-1);

    // Act
    const fn = resource(full, 'AWS::Lambda::Function', 'ReconcilerFunction');

    // Assess
    expect(newestNode).toBe('nodejs24.x');
    expect(fn.properties).toMatchObject({
      FunctionName: 'KasmTokenReconciler-full',
      Runtime: newestNode,
      Architectures: ['arm64'],
      Timeout: 900,
      MemorySize: 512,
      Handler: 'index.handler',
      Role: getAtt(resource(full, 'AWS::IAM::Role', 'ReconcilerRole').id),
    });
  });

  it("reserves no concurrency unless the environment asks (a reservation fails low-quota accounts), cdk.json's dev included", () => {
    // Prepare: cdk.json's own dev environment, as `cdk deploy -c env=dev` synthesizes it
    const cdkJson = JSON.parse(readFileSync(join(PROJECT_ROOT, 'cdk.json'), 'utf8'));
    const dev = synthStacks(cdkJson.context.environments, { env: 'dev' }).templates.dev as Template;

    // Act
    const reserved = (template: Template) =>
      resource(template, 'AWS::Lambda::Function', 'ReconcilerFunction').properties
        .ReservedConcurrentExecutions;

    // Assess
    expect(reserved(dev)).toBeUndefined();
    expect(reserved(minimal)).toBeUndefined();
    expect(reserved(paged)).toBeUndefined();
    expect(reserved(full)).toBe(3);
    // What bounds instance-start runs instead: the SQS event source's own cap, on dev too.
    expect(
      resource(dev, 'AWS::Lambda::EventSourceMapping', 'ReconcilerFunctionSqsEventSource').properties
        .ScalingConfig,
    ).toStrictEqual({ MaximumConcurrency: 2 });
  });

  it('logs to its own log group with the configured retention', () => {
    // Act
    const fn = resource(full, 'AWS::Lambda::Function', 'ReconcilerFunction');
    const fullLogs = resource(full, 'AWS::Logs::LogGroup', 'ReconcilerLogs');
    const minimalLogs = resource(minimal, 'AWS::Logs::LogGroup', 'ReconcilerLogs');

    // Assess
    expect(fn.properties.LoggingConfig).toStrictEqual({ LogGroup: { Ref: fullLogs.id } });
    expect(fullLogs.properties.RetentionInDays).toBe(30);
    expect(minimalLogs.properties.RetentionInDays).toBe(90);
  });

  it('sends every failed asynchronous run to an encrypted, SSL-only queue without retrying it', () => {
    // Act
    const invokeConfig = resource(full, 'AWS::Lambda::EventInvokeConfig', 'ReconcilerFunction');
    const failedRuns = resource(full, 'AWS::SQS::Queue', 'ReconcilerFailedRuns');

    // Assess
    expect(invokeConfig.properties).toStrictEqual({
      FunctionName: { Ref: resource(full, 'AWS::Lambda::Function', 'ReconcilerFunction').id },
      Qualifier: '$LATEST',
      MaximumRetryAttempts: 0,
      MaximumEventAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: getAtt(failedRuns.id) } },
    });
    expect(failedRuns.properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    expectSslOnly(full, failedRuns.id);
  });

  it('sets exactly the environment variables shared/config.ts reads, with the deployed document names', () => {
    // Act
    const variables = resource(full, 'AWS::Lambda::Function', 'ReconcilerFunction').properties.Environment
      .Variables;

    // Assess
    expect(variables).toStrictEqual({
      FLEET_TAG_KEY: 'team:kasm',
      FLEET_TAG_VALUE: 'fleet-a',
      REGISTRATION_TOKEN_SECRET_ID: 'kasm/registration',
      REGISTRATION_TOKEN_SECRET_FIELD: 'token',
      PROBE_DOCUMENT_NAME: documentNames('full').probe,
      PUSH_DOCUMENT_NAME: documentNames('full').push,
      PROBE_DOCUMENT_HASH: deployedDocuments().probe.sha256,
      PUSH_DOCUMENT_HASH: deployedDocuments().push.sha256,
      KASM_API_URL: 'https://kasm.example.com',
      KASM_CA_FILE: BUNDLED_CA_FILE_PATH,
      KASM_INSTALL_ROOT: '/srv/kasm/current',
      KASM_WINDOWS_INSTALL_DIR: 'D:\\Kasm',
      KASM_WINDOWS_SERVICE_NAME: 'KasmAgent',
      KASM_HEARTBEAT_SECONDS: '20',
      KASM_GRACE_PERIOD_SECONDS: '600',
      POWERTOOLS_METRICS_NAMESPACE: 'KasmTokenReconciler/full',
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(
      Object.keys(variables).filter((name) => !Object.values<string>(CONFIG_VARIABLES).includes(name)),
    ).toEqual(['NODE_OPTIONS']);
    expect(readConfig(variables)).toMatchObject({
      kasmCaFile: '/var/task/kasm-ca.pem',
      heartbeatSeconds: 20,
      windowsInstallDir: 'D:\\Kasm',
      windowsServiceName: 'KasmAgent',
    });
  });

  it('leaves the optional variables out when the environment does not set them', () => {
    // Act
    const variables = resource(minimal, 'AWS::Lambda::Function', 'ReconcilerFunction').properties.Environment
      .Variables;

    // Assess
    expect(variables).toStrictEqual({
      FLEET_TAG_KEY: 'kasm:reconcile',
      FLEET_TAG_VALUE: 'true',
      REGISTRATION_TOKEN_SECRET_ID: 'kasm/minimal/registration-token',
      PROBE_DOCUMENT_NAME: documentNames('minimal').probe,
      PUSH_DOCUMENT_NAME: documentNames('minimal').push,
      PROBE_DOCUMENT_HASH: deployedDocuments().probe.sha256,
      PUSH_DOCUMENT_HASH: deployedDocuments().push.sha256,
      KASM_INSTALL_ROOT: '/opt/kasm/current',
      KASM_WINDOWS_INSTALL_DIR: 'C:\\Program Files\\Kasm',
      KASM_WINDOWS_SERVICE_NAME: 'Kasm',
      KASM_HEARTBEAT_SECONDS: '30',
      KASM_GRACE_PERIOD_SECONDS: '3600',
      POWERTOOLS_METRICS_NAMESPACE: 'KasmTokenReconciler/minimal',
      NODE_OPTIONS: '--enable-source-maps',
    });
  });

  it('is created only after the documents it runs and the permissions it needs', () => {
    // Act
    const fn = resource(full, 'AWS::Lambda::Function', 'ReconcilerFunction');

    // Assess
    expect(fn.raw.DependsOn).toEqual(
      expect.arrayContaining([
        resource(full, 'AWS::SSM::Document', 'DocumentsProbe').id,
        resource(full, 'AWS::SSM::Document', 'DocumentsPush').id,
        resource(full, 'AWS::IAM::Policy', 'ReconcilerPermissions').id,
      ]),
    );
  });
});

describe('the SSM documents', () => {
  it.each([
    ['Probe', probeDocument],
    ['Push', pushDocument],
  ])(
    'deploys the %s document with exactly the shared content under a name that carries its content hash, replaced when the content changes',
    (role, content) => {
      // Act
      const document = resource(full, 'AWS::SSM::Document', `Documents${role}`);

      // Assess
      expect(document.properties).toMatchObject({
        Name: expect.stringMatching(new RegExp(`^KasmTokenReconciler-full-${role}-[0-9a-f]{12}$`)),
        DocumentType: 'Command',
        DocumentFormat: 'JSON',
        UpdateMethod: 'Replace',
      });
      expect(document.properties.Name).toBe(documentNames('full')[role === 'Probe' ? 'probe' : 'push']);
      // Content is the very string whose SHA-256 the function sends as DocumentHash.
      const deployed = deployedDocuments()[role === 'Probe' ? 'probe' : 'push'];
      expect(document.properties.Content).toBe(deployed.content);
      expect(JSON.parse(document.properties.Content)).toStrictEqual(JSON.parse(JSON.stringify(content())));
      expect(createHash('sha256').update(document.properties.Content).digest('hex')).toBe(deployed.sha256);
      expect(
        readConfig(
          resource(full, 'AWS::Lambda::Function', 'ReconcilerFunction').properties.Environment.Variables,
        ).documentHashes[role === 'Probe' ? 'probe' : 'push'],
      ).toBe(deployed.sha256);
    },
  );
});

describe('the schedule', () => {
  it('invokes the function with a scheduled event on the configured expression, parking undeliverable runs in the failed-runs queue', () => {
    // Act
    const schedule = resource(full, 'AWS::Scheduler::Schedule', 'Schedule');

    // Assess
    expect(schedule.properties).toMatchObject({
      ScheduleExpression: 'cron(0/10 * * * ? *)',
      State: 'ENABLED',
      FlexibleTimeWindow: { Mode: 'OFF' },
      Target: {
        Arn: getAtt(resource(full, 'AWS::Lambda::Function', 'ReconcilerFunction').id),
        Input: JSON.stringify(SCHEDULED_RUN_INPUT),
        RoleArn: getAtt(resource(full, 'AWS::IAM::Role', 'ScheduleInvokeRole').id),
        DeadLetterConfig: { Arn: getAtt(resource(full, 'AWS::SQS::Queue', 'ReconcilerFailedRuns').id) },
      },
    });
    // The function must know the schedule started it: only a scheduled run leaves the fleet to
    // another run at work. Scheduler fills in its <aws.scheduler.*> keywords; either way it parses.
    expect(JSON.parse(schedule.properties.Target.Input)).toMatchObject({
      time: '<aws.scheduler.scheduled-time>',
      resources: ['<aws.scheduler.schedule-arn>'],
    });
    expect(parseEvent(JSON.parse(schedule.properties.Target.Input))).toMatchObject({ trigger: 'schedule' });
    expect(parseEvent(scheduledEvent())).toStrictEqual({
      trigger: 'schedule',
      dryRun: false,
      waitForOnline: false,
    });
  });

  it('defaults to every 5 minutes', () => {
    // Act
    const schedule = resource(minimal, 'AWS::Scheduler::Schedule', 'Schedule');

    // Assess
    expect(schedule.properties.ScheduleExpression).toBe('rate(5 minutes)');
  });

  it('uses a role that Scheduler alone assumes and that may only invoke the function and park failures', () => {
    // Prepare
    const fnId = resource(full, 'AWS::Lambda::Function', 'ReconcilerFunction').id;

    // Act
    const role = resource(full, 'AWS::IAM::Role', 'ScheduleInvokeRole');
    const policy = resource(full, 'AWS::IAM::Policy', 'ScheduleInvokeRoleDefaultPolicy');

    // Assess
    expect(role.properties.AssumeRolePolicyDocument.Statement).toStrictEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'scheduler.amazonaws.com' },
        Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
      },
    ]);
    expect(role.properties.ManagedPolicyArns).toBeUndefined();
    expect(policy.properties.PolicyDocument.Statement).toStrictEqual([
      {
        Action: 'lambda:InvokeFunction',
        Effect: 'Allow',
        Resource: [getAtt(fnId), { 'Fn::Join': ['', [getAtt(fnId), ':*']] }],
      },
      {
        Action: 'sqs:SendMessage',
        Effect: 'Allow',
        Resource: getAtt(resource(full, 'AWS::SQS::Queue', 'ReconcilerFailedRuns').id),
      },
    ]);
  });
});

describe('the instance-start trigger', () => {
  it('routes EC2 "running" notifications to a queue, never straight to the function', () => {
    // Act
    const rule = resource(full, 'AWS::Events::Rule', 'InstanceStartsRunning');

    // Assess
    expect(rule.properties.EventPattern).toStrictEqual({
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['running'] },
    });
    expect(rule.properties.Targets).toStrictEqual([
      { Id: 'Target0', Arn: getAtt(resource(full, 'AWS::SQS::Queue', 'InstanceStartsQueue').id) },
    ]);
  });

  it('lets only that rule send to the queue, over SSL only', () => {
    // Prepare
    const queueId = resource(full, 'AWS::SQS::Queue', 'InstanceStartsQueue').id;

    // Act
    const statements = queuePolicyStatements(full, queueId);

    // Assess
    expect(statements).toContainEqual({
      Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
      Condition: {
        ArnEquals: {
          'aws:SourceArn': getAtt(resource(full, 'AWS::Events::Rule', 'InstanceStartsRunning').id),
        },
      },
      Effect: 'Allow',
      Principal: { Service: 'events.amazonaws.com' },
      Resource: getAtt(queueId),
    });
    expectSslOnly(full, queueId);
  });

  it('keeps messages invisible for at least six function timeouts plus the batching window, then dead-letters them after five receives', () => {
    // Act
    const queue = resource(full, 'AWS::SQS::Queue', 'InstanceStartsQueue');
    const deadLetters = resource(full, 'AWS::SQS::Queue', 'InstanceStartsDeadLetterQueue');

    // Assess
    expect(queue.properties).toStrictEqual({
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 6 * 900 + 20,
      RedrivePolicy: { deadLetterTargetArn: getAtt(deadLetters.id), maxReceiveCount: 5 },
      Tags: expect.any(Array),
    });
    expect(deadLetters.properties).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
    });
    expectSslOnly(full, deadLetters.id);
  });

  it('drains the queue in batches of up to 1000 gathered for 20 seconds, so a burst of starts becomes few runs', () => {
    // Act
    const mapping = resource(full, 'AWS::Lambda::EventSourceMapping', 'ReconcilerFunctionSqsEventSource');

    // Assess
    expect(mapping.properties).toMatchObject({
      EventSourceArn: getAtt(resource(full, 'AWS::SQS::Queue', 'InstanceStartsQueue').id),
      FunctionName: { Ref: resource(full, 'AWS::Lambda::Function', 'ReconcilerFunction').id },
      BatchSize: 1000,
      MaximumBatchingWindowInSeconds: 20,
      // The event source's own cap on concurrent start runs (2 to 1000), in place of a reservation.
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    expect(
      resource(minimal, 'AWS::Lambda::EventSourceMapping', 'ReconcilerFunctionSqsEventSource').properties
        .ScalingConfig,
    ).toStrictEqual({ MaximumConcurrency: 2 });
  });

  it('lets the handler report the records it could not handle, so only those are received again', () => {
    // Act
    const mapping = resource(full, 'AWS::Lambda::EventSourceMapping', 'ReconcilerFunctionSqsEventSource');

    // Assess
    expect(mapping.properties.FunctionResponseTypes).toStrictEqual(['ReportBatchItemFailures']);
  });

  it('delivers a batch the handler accepts as one run over all the started instances', () => {
    // Prepare: what the event source mapping hands the function for three queued notifications
    const notification = (id: string) => ({
      version: '0',
      source: 'aws.ec2',
      'detail-type': 'EC2 Instance State-change Notification',
      detail: { 'instance-id': id, state: 'running' },
    });
    const ids = ['i-0a1b2c3d4e5f60718', 'i-0a1b2c3d4e5f60719', 'i-0a1b2c3d4e5f60718'];
    const event = {
      Records: ids.map((id, n) => ({
        messageId: `m-${n}`,
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:starts`,
        body: JSON.stringify(notification(id)),
      })),
    };

    // Act
    const request = parseEvent(event);

    // Assess
    expect(request).toStrictEqual({
      trigger: 'instance-start',
      dryRun: false,
      instanceIds: ['i-0a1b2c3d4e5f60718', 'i-0a1b2c3d4e5f60719'],
      waitForOnline: true,
      messageIds: ['m-0', 'm-1', 'm-2'],
      startRecords: ids.map((instanceId, n) => ({ messageId: `m-${n}`, instanceId })),
    });
  });

  it('lets the function consume its queue and post to the failed-runs queue, nothing more', () => {
    // Act
    const policy = resource(full, 'AWS::IAM::Policy', 'ReconcilerRoleDefaultPolicy');

    // Assess
    expect(policy.properties.PolicyDocument.Statement).toStrictEqual([
      {
        Action: ['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'],
        Effect: 'Allow',
        Resource: getAtt(resource(full, 'AWS::SQS::Queue', 'ReconcilerFailedRuns').id),
      },
      {
        Action: [
          'sqs:ReceiveMessage',
          'sqs:ChangeMessageVisibility',
          'sqs:GetQueueUrl',
          'sqs:DeleteMessage',
          'sqs:GetQueueAttributes',
        ],
        Effect: 'Allow',
        Resource: getAtt(resource(full, 'AWS::SQS::Queue', 'InstanceStartsQueue').id),
      },
    ]);
  });
});

describe('the function role', () => {
  it('is assumed by Lambda only and has no managed policies', () => {
    // Act
    const role = resource(full, 'AWS::IAM::Role', 'ReconcilerRole');

    // Assess
    expect(role.properties.AssumeRolePolicyDocument.Statement).toStrictEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' } },
    ]);
    expect(role.properties.ManagedPolicyArns).toBeUndefined();
  });

  it('grants exactly the least-privilege statements', () => {
    // Act
    const policy = resource(full, 'AWS::IAM::Policy', 'ReconcilerPermissions');

    // Assess
    expect(policy.properties.Roles).toStrictEqual([
      { Ref: resource(full, 'AWS::IAM::Role', 'ReconcilerRole').id },
    ]);
    expect(policy.properties.PolicyDocument.Statement).toStrictEqual([
      {
        Sid: 'WriteOwnLogs',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: getAtt(resource(full, 'AWS::Logs::LogGroup', 'ReconcilerLogs').id),
      },
      {
        Sid: 'RunOnlyReconcilerDocuments',
        Effect: 'Allow',
        Action: 'ssm:SendCommand',
        Resource: [
          arn('ssm', `document/${documentNames('full').probe}`),
          arn('ssm', `document/${documentNames('full').push}`),
        ],
      },
      {
        Sid: 'RunOnlyOnFleetNodes',
        Effect: 'Allow',
        Action: 'ssm:SendCommand',
        Resource: [arn('ec2', 'instance/*'), arn('ssm', 'managed-instance/*')],
        Condition: { StringEquals: { 'ssm:resourceTag/team:kasm': 'fleet-a' } },
      },
      {
        Sid: 'ReadCommandResultsAndInventory',
        Effect: 'Allow',
        Action: [
          'ssm:ListCommands',
          'ssm:ListCommandInvocations',
          'ssm:GetCommandInvocation',
          'ssm:DescribeInstanceInformation',
        ],
        Resource: '*',
      },
      { Sid: 'CancelAbandonedCommands', Effect: 'Allow', Action: 'ssm:CancelCommand', Resource: '*' },
      { Sid: 'ReadInstanceTags', Effect: 'Allow', Action: 'ec2:DescribeTags', Resource: '*' },
      {
        Sid: 'ReadRegistrationToken',
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: arn('secretsmanager', 'secret:kasm/registration-??????'),
      },
      {
        Sid: 'DecryptRegistrationTokenViaSecretsManager',
        Effect: 'Allow',
        Action: 'kms:Decrypt',
        Resource: KMS_KEY,
        Condition: { StringEquals: { 'kms:ViaService': `secretsmanager.${REGION}.amazonaws.com` } },
      },
    ]);
  });

  it('builds the ARNs from the deploying account and region in an environment-agnostic stack, without a KMS grant', () => {
    // Act
    const statements = resource(minimal, 'AWS::IAM::Policy', 'ReconcilerPermissions').properties
      .PolicyDocument.Statement;

    // Assess
    expect(statements.map((statement: { Sid: string }) => statement.Sid)).toStrictEqual([
      'WriteOwnLogs',
      'RunOnlyReconcilerDocuments',
      'RunOnlyOnFleetNodes',
      'ReadCommandResultsAndInventory',
      'CancelAbandonedCommands',
      'ReadInstanceTags',
      'ReadRegistrationToken',
    ]);
    expect(statements[2]).toMatchObject({
      Resource: [agnosticArn('ec2', 'instance/*'), agnosticArn('ssm', 'managed-instance/*')],
      Condition: { StringEquals: { 'ssm:resourceTag/kasm:reconcile': 'true' } },
    });
    expect(statements[6].Resource).toStrictEqual(
      agnosticArn('secretsmanager', 'secret:kasm/minimal/registration-token-??????'),
    );
  });

  it('grants a secret given by its full ARN on exactly that ARN', () => {
    // Prepare
    const secretArn = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:kasm/registration-AbCdEf`;

    // Act
    const { templates } = synthStacks({
      arn: { region: REGION, registrationSecret: { nameOrArn: secretArn } },
    });
    const statements = resource(templates.arn as Template, 'AWS::IAM::Policy', 'ReconcilerPermissions')
      .properties.PolicyDocument.Statement;

    // Assess
    expect(statements).toContainEqual({
      Sid: 'ReadRegistrationToken',
      Effect: 'Allow',
      Action: 'secretsmanager:GetSecretValue',
      Resource: secretArn,
    });
  });
});

describe('the alarms', () => {
  const alarmsOf = (template: Template) =>
    Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((alarm) => alarm.Properties);

  it('e-mail the configured address about function errors, parked failures, runs not ok, components needing a person and no successful run', () => {
    // Prepare
    const topic = resource(full, 'AWS::SNS::Topic', 'AlarmsTopic');

    // Act
    const alarms = alarmsOf(full);

    // Assess
    full.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ops@example.com',
      TopicArn: { Ref: topic.id },
    });
    expect(alarms.map((alarm) => [alarm.Namespace, alarm.MetricName]).sort()).toStrictEqual([
      ['AWS/Lambda', 'Errors'],
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible'],
      ['AWS/SQS', 'ApproximateNumberOfMessagesVisible'],
      ['KasmTokenReconciler/full', 'NeedingAttention'],
      ['KasmTokenReconciler/full', 'RunNotOk'],
      ['KasmTokenReconciler/full', 'RunOk'],
    ]);
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({
        AlarmActions: [{ Ref: topic.id }],
        OKActions: [{ Ref: topic.id }],
        Threshold: 1,
      });
    }
    expect(
      alarms
        .filter((alarm) => alarm.Namespace === 'AWS/SQS')
        .map((alarm) => alarm.Dimensions[0].Value['Fn::GetAtt'][0])
        .sort(),
    ).toStrictEqual(
      [
        resource(full, 'AWS::SQS::Queue', 'InstanceStartsDeadLetterQueue').id,
        resource(full, 'AWS::SQS::Queue', 'ReconcilerFailedRuns').id,
      ].sort(),
    );
  });

  it('carry the environment in their names and point at their runbook section of docs/operating.md in their descriptions', () => {
    // Prepare
    const readme = readFileSync(join(PROJECT_ROOT, 'docs', 'operating.md'), 'utf8');
    const headings = new Set(
      [...readme.matchAll(/^#+ (.+)$/gm)].map((m) => (m[1] ?? '').toLowerCase().replace(/ /g, '-')),
    );

    // Act
    const alarms = alarmsOf(full);

    // Assess
    expect(alarms.map((alarm) => alarm.AlarmName).sort()).toStrictEqual(
      [
        'ComponentsNeedAttention',
        'FailedRunsWaiting',
        'FunctionErrors',
        'InstanceStartsWaiting',
        'NoSuccessfulRun',
        'RunNotOk',
      ].map((id) => `KasmTokenReconciler-full-${id}`),
    );
    for (const alarm of alarms) {
      const id = (alarm.AlarmName as string).replace('KasmTokenReconciler-full-', '');
      expect(alarm.AlarmDescription).toMatch(/^full: /);
      expect(alarm.AlarmDescription).toContain(`Runbook: ${RUNBOOK_URL}#${runbookAnchor(id)}`);
      expect(headings.has(runbookAnchor(id)), `docs/operating.md has the heading "Alarm ${id}"`).toBe(true);
      // CloudWatch's limit for AlarmDescription.
      expect((alarm.AlarmDescription as string).length).toBeLessThanOrEqual(1024);
    }
  });

  it("link, by default, to the environment's dashboard, whose runbook panel lists every alarm, and else to the docs", () => {
    // Act
    const withDashboard = alarmsOf(minimal)[0]?.AlarmDescription;
    const withoutDashboard = alarmsOf(paged)[0]?.AlarmDescription as string;

    // Assess: minimal is environment-agnostic, so the region is the stack's own, and the console's
    // domain the one of the partition it deploys to
    expect(JSON.stringify(withDashboard)).toContain(
      'Runbook: https://",{"Fn::If":["InChinaPartition","console.amazonaws.cn",{"Fn::If":["InGovCloudPartition",' +
        '"console.amazonaws-us-gov.com","console.aws.amazon.com"]}]},"/cloudwatch/home?region=",{"Ref":"AWS::Region"},' +
        '"#dashboards:name=KasmTokenReconciler-minimal',
    );
    expect(minimal.toJSON().Conditions).toStrictEqual({
      InChinaPartition: { 'Fn::Equals': [{ Ref: 'AWS::Partition' }, 'aws-cn'] },
      InGovCloudPartition: { 'Fn::Equals': [{ Ref: 'AWS::Partition' }, 'aws-us-gov'] },
    });
    expect(withoutDashboard).toMatch(/Runbook: docs\/operating\.md#alarm-\w+$/);
    const dashboard = Object.values(minimal.findResources('AWS::CloudWatch::Dashboard'))[0];
    expect(JSON.stringify(dashboard)).toContain('## Runbook: when an alarm fires');
  });

  it("link to the dashboard in the console of the region's partition when the environment names its region", () => {
    // Act
    const regional = synthStacks({
      china: { region: 'cn-north-1', registrationSecret: { nameOrArn: 'kasm/china/registration-token' } },
      gov: { region: 'us-gov-west-1', registrationSecret: { nameOrArn: 'kasm/gov/registration-token' } },
      ireland: { region: REGION, registrationSecret: { nameOrArn: 'kasm/ireland/registration-token' } },
    }).templates;
    const link = (name: string) =>
      /Runbook: (\S+)$/.exec(String(alarmsOf(regional[name] as Template)[0]?.AlarmDescription))?.[1];

    // Assess: the region is known, so the domain is decided at synth time, with no condition
    expect(link('china')).toBe(
      'https://console.amazonaws.cn/cloudwatch/home?region=cn-north-1#dashboards:name=KasmTokenReconciler-china',
    );
    expect(link('gov')).toBe(
      'https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#dashboards:name=KasmTokenReconciler-gov',
    );
    expect(link('ireland')).toBe(
      `https://console.aws.amazon.com/cloudwatch/home?region=${REGION}#dashboards:name=KasmTokenReconciler-ireland`,
    );
    expect((regional.china as Template).toJSON().Conditions).toBeUndefined();
  });

  it('watch the run metrics the function publishes, in the environment namespace', () => {
    // Act
    const alarms = alarmsOf(full).filter((alarm) => alarm.Namespace === 'KasmTokenReconciler/full');

    // Assess
    expect(alarms.map((alarm) => [alarm.MetricName, alarm.Dimensions, alarm.Statistic]).sort()).toStrictEqual(
      [
        ['NeedingAttention', [{ Name: 'service', Value: 'kasm-token-reconciler' }], 'Maximum'],
        ['RunNotOk', [{ Name: 'service', Value: 'kasm-token-reconciler' }], 'Maximum'],
        ['RunOk', [{ Name: 'service', Value: 'kasm-token-reconciler' }], 'Sum'],
      ],
    );
    expect(full.findResources('AWS::Logs::MetricFilter')).toStrictEqual({});
  });

  it('fire when no run succeeded for three schedule periods, a missing run counting as a failed one', () => {
    // Act
    const everyTenMinutes = alarmsOf(paged).find((alarm) => alarm.MetricName === 'RunOk');
    const cron = alarmsOf(full).find((alarm) => alarm.MetricName === 'RunOk');

    // Assess
    expect(everyTenMinutes).toMatchObject({
      AlarmName: 'KasmTokenReconciler-paged-NoSuccessfulRun',
      Statistic: 'Sum',
      Period: 600,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      Threshold: 1,
      ComparisonOperator: 'LessThanThreshold',
      TreatMissingData: 'breaching',
    });
    // A cron schedule has no fixed period: one window of a day.
    expect(cron).toMatchObject({ Period: 86_400, EvaluationPeriods: 1, TreatMissingData: 'breaching' });
  });

  it('notify an existing SNS topic on alarm and on recovery, without creating a topic of their own', () => {
    // Act
    const alarms = alarmsOf(paged);

    // Assess
    paged.resourceCountIs('AWS::SNS::Topic', 0);
    expect(alarms).toHaveLength(6);
    for (const alarm of alarms) {
      expect(alarm).toMatchObject({ AlarmActions: [PAGER_TOPIC], OKActions: [PAGER_TOPIC] });
    }
  });

  it('exist without actions when the environment has neither an alarm e-mail nor an alarm topic', () => {
    // Act
    const alarms = alarmsOf(minimal);

    // Assess: the dashboard still shows their state; nobody is notified
    minimal.resourceCountIs('AWS::SNS::Topic', 0);
    expect(alarms).toHaveLength(6);
    for (const alarm of alarms) {
      expect(alarm.AlarmActions).toBeUndefined();
      expect(alarm.OKActions).toBeUndefined();
    }
  });
});

describe('cdk-nag (AWS Solutions)', () => {
  it('reports nothing unacknowledged for any environment', () => {
    // Act
    const reports = synthesized.stacks.map((stack) =>
      new AwsSolutionsChecks(synthesized.app).validateScope(stack),
    );

    // Assess
    for (const report of reports) expect(report).toStrictEqual({ success: true, violations: [] });
  });

  it('acknowledges only the exact wildcards it was told about, so a new wildcard still fails', () => {
    // Prepare
    const { stacks } = synthStacks({ dev: ENVIRONMENTS.minimal });
    const stack = stacks[0]!;
    stack.reconciler.role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['ssm:GetParameter'], resources: ['arn:aws:ssm:*:*:parameter/*'] }),
    );

    // Act
    const report = new AwsSolutionsChecks(stack).validateScope(stack);

    // Assess
    expect(report.success).toBe(false);
    expect(report.violations.map((violation) => violation.ruleName)).toStrictEqual([
      'AwsSolutions-IAM5[Resource::arn:aws:ssm:*:*:parameter/*]',
    ]);
  });

  it('gives every acknowledgement a one-sentence reason', () => {
    // Act
    const acknowledgements = collectAcknowledgements(synthesized.stacks[0]!);

    // Assess
    expect(Object.keys(acknowledgements).sort()).toStrictEqual([
      'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      'AwsSolutions-IAM5[Resource::*]',
      `AwsSolutions-IAM5[Resource::<ReconcilerFunction0432B6FF.Arn>:*]`,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ec2:${REGION}:${ACCOUNT}:instance/*]`,
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ssm:${REGION}:${ACCOUNT}:managed-instance/*]`,
      'AwsSolutions-SQS3',
    ]);
    for (const reason of Object.values(acknowledgements)) expect(reason).toMatch(/^[A-Z][^.]{30,}[^.]*\.$/);
  });
});

describe('environment selection', () => {
  it('synthesizes only the environment given with -c env=NAME', () => {
    // Act
    const { stacks } = synthStacks(ENVIRONMENTS, { env: 'minimal' });

    // Assess
    expect(stacks.map((stack) => stack.stackName)).toStrictEqual(['KasmTokenReconciler-minimal']);
  });

  it('synthesizes one stack per environment when no env is given, environment-agnostic without account and region', () => {
    // Act
    const stacks = synthesized.stacks.map((stack) => ({
      name: stack.stackName,
      account: Token.isUnresolved(stack.account) ? 'deploy-time' : stack.account,
      region: Token.isUnresolved(stack.region) ? 'deploy-time' : stack.region,
    }));

    // Assess
    expect(stacks).toStrictEqual([
      { name: 'KasmTokenReconciler-full', account: ACCOUNT, region: REGION },
      { name: 'KasmTokenReconciler-minimal', account: 'deploy-time', region: 'deploy-time' },
      { name: 'KasmTokenReconciler-paged', account: 'deploy-time', region: REGION },
    ]);
  });
});

function queuePolicyStatements(template: Template, queueId: string): unknown[] {
  return Object.values(template.findResources('AWS::SQS::QueuePolicy'))
    .filter((policy) => JSON.stringify(policy.Properties.Queues) === JSON.stringify([{ Ref: queueId }]))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement);
}

function expectSslOnly(template: Template, queueId: string): void {
  expect(queuePolicyStatements(template, queueId)).toContainEqual({
    Action: 'sqs:*',
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    Effect: 'Deny',
    Principal: { AWS: '*' },
    Resource: getAtt(queueId),
  });
}

/** Every acknowledged rule id in the tree, with its reason. */
function collectAcknowledgements(root: IConstruct): Record<string, string> {
  const found: Record<string, string> = {};
  for (const construct of root.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        found[id.replace(/^annotation::/i, '')] = reason;
      }
    }
  }
  return found;
}
