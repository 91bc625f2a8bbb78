/**
 * The operations `ops preflight` reads, driven with the unmodified SDK clients: SSM DescribeDocument,
 * CloudWatch DescribeAlarms (JSON 1.0) and SNS GetTopicAttributes (Query, XML), each answering and
 * refusing as its API reference says (cited in ssm/index.ts and monitoring.ts).
 */
import { createHash } from 'node:crypto';
import { CloudWatchClient, DescribeAlarmsCommand } from '@aws-sdk/client-cloudwatch';
import { GetTopicAttributesCommand, SNSClient } from '@aws-sdk/client-sns';
import { DescribeDocumentCommand } from '@aws-sdk/client-ssm';
import { describe, expect, it } from 'vitest';
import type { AwsServer } from './server.ts';
import {
  CREDENTIALS,
  DELIVER_DOC,
  REGION,
  rejection,
  ShellFleet,
  serversPerTest,
  ssmClient,
} from './testkit.ts';

const startServer = serversPerTest();

const setUp = (): Promise<AwsServer> => startServer(new ShellFleet([]));

const options = (server: AwsServer) => ({
  endpoint: server.endpoint,
  region: REGION,
  credentials: CREDENTIALS,
  maxAttempts: 1,
});
const TOPIC = `arn:aws:sns:${REGION}:123456789012:alerts`;

describe('DescribeDocument', () => {
  it('describes a document with the SHA-256 of the content it was created from, Active, at version 1', async () => {
    // Prepare
    const ssm = ssmClient(await setUp());

    // Act
    const { Document } = await ssm.send(new DescribeDocumentCommand({ Name: 'Test-Deliver' }));

    // Assess
    expect(Document).toMatchObject({
      Name: 'Test-Deliver',
      Hash: createHash('sha256').update(JSON.stringify(DELIVER_DOC)).digest('hex'),
      HashType: 'Sha256',
      Status: 'Active',
      DocumentVersion: '1',
      DocumentType: 'Command',
      SchemaVersion: '2.2',
    });
  });

  it('refuses an unknown name with InvalidDocument, a version it lacks with InvalidDocumentVersion, and no name at all', async () => {
    // Prepare
    const ssm = ssmClient(await setUp());

    // Act
    const unknown = await rejection(ssm.send(new DescribeDocumentCommand({ Name: 'Nobody' })));
    const version = await rejection(
      ssm.send(new DescribeDocumentCommand({ Name: 'Test-Deliver', DocumentVersion: '2' })),
    );
    const noName = await rejection(ssm.send(new DescribeDocumentCommand({} as never)));

    // Assess
    expect([unknown.name, unknown.message]).toStrictEqual([
      'InvalidDocument',
      'Document with name Nobody does not exist.',
    ]);
    expect(version.name).toBe('InvalidDocumentVersion');
    expect(noName.message).toBe(
      "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null",
    );
  });
});

describe('DescribeAlarms', () => {
  it('lists the alarms with the name prefix, with their actions, paged by MaxRecords', async () => {
    // Prepare
    const server = await setUp();
    for (const name of ['App-prod-A', 'App-prod-B', 'App-dev-A'])
      server.cloudwatch.alarms.push({ name, actions: [TOPIC] });
    const cloudwatch = new CloudWatchClient(options(server));

    // Act
    const first = await cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNamePrefix: 'App-prod-', MaxRecords: 1 }),
    );
    const second = await cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNamePrefix: 'App-prod-', MaxRecords: 1, NextToken: first.NextToken }),
    );

    // Assess
    expect(first.MetricAlarms?.map((a) => [a.AlarmName, a.AlarmActions])).toStrictEqual([
      ['App-prod-A', [TOPIC]],
    ]);
    expect(second.MetricAlarms?.map((a) => a.AlarmName)).toStrictEqual(['App-prod-B']);
    expect(second.NextToken).toBeUndefined();
  });

  it('lists by AlarmNames exactly the alarms of those names, not those that only share a prefix, and skips names no alarm has', async () => {
    // Prepare: "App-prod-eu-A" starts with "App-prod-", the names of another environment
    const server = await setUp();
    for (const name of ['App-prod-A', 'App-prod-B', 'App-prod-eu-A'])
      server.cloudwatch.alarms.push({ name, actions: [TOPIC] });
    const cloudwatch = new CloudWatchClient(options(server));

    // Act
    const named = await cloudwatch.send(
      new DescribeAlarmsCommand({ AlarmNames: ['App-prod-A', 'App-prod-B', 'App-prod-C'] }),
    );
    const prefixed = await cloudwatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'App-prod-' }));

    // Assess
    expect(named.MetricAlarms?.map((a) => a.AlarmName)).toStrictEqual(['App-prod-A', 'App-prod-B']);
    expect(prefixed.MetricAlarms?.map((a) => a.AlarmName)).toStrictEqual([
      'App-prod-A',
      'App-prod-B',
      'App-prod-eu-A',
    ]);
  });

  it('refuses more than 100 AlarmNames, and a name longer than 255 characters', async () => {
    // Prepare
    const cloudwatch = new CloudWatchClient(options(await setUp()));

    // Act
    const tooMany = await rejection(
      cloudwatch.send(
        new DescribeAlarmsCommand({ AlarmNames: Array.from({ length: 101 }, (_, i) => `A-${i}`) }),
      ),
    );
    const tooLong = await rejection(
      cloudwatch.send(new DescribeAlarmsCommand({ AlarmNames: ['x'.repeat(256)] })),
    );

    // Assess
    expect(tooMany.name).toBe('ValidationException');
    expect(tooMany.message).toMatch(
      /^1 validation error detected: Value '\[A-0, .*A-100\]' at 'alarmNames' failed to satisfy constraint: Member must have length less than or equal to 100$/,
    );
    expect(tooLong.message).toMatch(
      /at 'alarmNames\.1\.member' failed to satisfy constraint: Member must have length less than or equal to 255$/,
    );
  });

  it('refuses MaxRecords over 100, and a name prefix together with names', async () => {
    // Prepare
    const cloudwatch = new CloudWatchClient(options(await setUp()));

    // Act
    const tooMany = await rejection(cloudwatch.send(new DescribeAlarmsCommand({ MaxRecords: 101 })));
    const both = await rejection(
      cloudwatch.send(new DescribeAlarmsCommand({ AlarmNamePrefix: 'A', AlarmNames: ['A'] })),
    );

    // Assess
    expect(tooMany.message).toBe(
      "1 validation error detected: Value '101' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to 100",
    );
    expect(both.name).toBe('InvalidParameterCombinationException');
  });
});

describe('GetTopicAttributes', () => {
  it('counts confirmed and pending subscriptions, and answers NotFound for a topic that does not exist', async () => {
    // Prepare
    const server = await setUp();
    server.sns.topics.set(TOPIC, { confirmed: 0, pending: 2 });
    const sns = new SNSClient(options(server));

    // Act
    const { Attributes } = await sns.send(new GetTopicAttributesCommand({ TopicArn: TOPIC }));
    const missing = await rejection(sns.send(new GetTopicAttributesCommand({ TopicArn: `${TOPIC}-gone` })));
    const malformed = await rejection(sns.send(new GetTopicAttributesCommand({ TopicArn: 'alerts' })));

    // Assess
    expect(Attributes).toMatchObject({
      TopicArn: TOPIC,
      SubscriptionsConfirmed: '0',
      SubscriptionsPending: '2',
    });
    expect([missing.name, missing.message]).toStrictEqual(['NotFoundException', 'Topic does not exist']);
    expect(malformed.name).toBe('InvalidParameterException');
    expect(server.calls.filter((c) => c.service === 'sns').map((c) => c.status)).toStrictEqual([
      200, 404, 400,
    ]);
  });
});
