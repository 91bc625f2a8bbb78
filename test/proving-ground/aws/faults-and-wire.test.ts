import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import {
  DescribeInstanceInformationCommand,
  ListCommandInvocationsCommand,
  SendCommandCommand,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import type { AwsServer, AwsServerOptions } from './server.ts';
import {
  CREDENTIALS,
  ec2Id,
  node,
  REGION,
  rawCall,
  rejection,
  ShellFleet,
  secretsClient,
  ssmClient,
  startTestServer,
} from './testkit.ts';

const servers: AwsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** A `random` that plays back the given draws, then always answers 0.99 (no fault). */
function draws(...values: number[]): () => number {
  const queue = [...values];
  return () => queue.shift() ?? 0.99;
}

async function serverWith(fleet: ShellFleet, extra: Partial<AwsServerOptions>): Promise<AwsServer> {
  const server = await startTestServer(fleet, extra);
  servers.push(server);
  return server;
}

describe('fault injection', () => {
  it('lets the SDK retry injected throttling until the call succeeds, recording every attempt', async () => {
    // Prepare
    const server = await serverWith(new ShellFleet([node(ec2Id(1))]), {
      faults: { throttleRate: 0.5, serverErrorRate: 0 },
      random: draws(0.1, 0.2),
    });

    // Act
    const out = await ssmClient(server, 10).send(new DescribeInstanceInformationCommand({}));

    // Assess
    expect(out.InstanceInformationList).toHaveLength(1);
    expect(out.$metadata.attempts).toBe(3);
    expect(server.calls.map((c) => [c.operation, c.status, c.errorType])).toEqual([
      ['DescribeInstanceInformation', 400, 'ThrottlingException'],
      ['DescribeInstanceInformation', 400, 'ThrottlingException'],
      ['DescribeInstanceInformation', 200, undefined],
    ]);
  });

  it('lets the SDK retry injected HTTP 500s, for SSM and for Secrets Manager alike', async () => {
    // Prepare
    const server = await serverWith(new ShellFleet([node(ec2Id(1))]), {
      faults: { throttleRate: 0, serverErrorRate: 0.5 },
      random: draws(0.3, 0.99, 0.3, 0.3),
      secrets: new Map([['kasm/registration-token', 'abc\n']]),
    });

    // Act
    const described = await ssmClient(server, 5).send(new DescribeInstanceInformationCommand({}));
    const secret = await secretsClient(server, 5).send(
      new GetSecretValueCommand({ SecretId: 'kasm/registration-token' }),
    );

    // Assess
    expect(described.$metadata.attempts).toBe(2);
    expect(secret.SecretString).toBe('abc\n');
    expect(secret.$metadata.attempts).toBe(3);
    expect(server.calls.map((c) => [c.service, c.status, c.errorType])).toEqual([
      ['ssm', 500, 'InternalServerError'],
      ['ssm', 200, undefined],
      ['secretsmanager', 500, 'InternalServiceError'],
      ['secretsmanager', 500, 'InternalServiceError'],
      ['secretsmanager', 200, undefined],
    ]);
  });

  it('gives a throttled SendCommand no side effect: nothing runs and no invocation exists', async () => {
    // Prepare
    const fleet = new ShellFleet([node(ec2Id(1))]);
    const server = await serverWith(fleet, {
      faults: { throttleRate: 0.5, serverErrorRate: 0 },
      random: draws(0.1),
    });
    const ssm = ssmClient(server);

    // Act
    const error = await rejection(
      ssm.send(new SendCommandCommand({ DocumentName: 'Test-Noise', InstanceIds: [ec2Id(1)] })),
    );
    await server.idle();
    const listed = await ssm.send(new ListCommandInvocationsCommand({}));

    // Assess
    expect(error.name).toBe('ThrottlingException');
    expect(error.message).toBe('Rate exceeded');
    expect(fleet.runs).toHaveLength(0);
    expect(listed.CommandInvocations).toEqual([]);
  });
});

describe('AWS JSON 1.1 wire form', () => {
  it('is reached by unconfigured SDK clients through AWS_ENDPOINT_URL alone', async () => {
    // Prepare
    const server = await serverWith(new ShellFleet([node(ec2Id(1))]), {
      secrets: new Map([['kasm/registration-token', 'abc']]),
    });
    const saved = process.env.AWS_ENDPOINT_URL;
    process.env.AWS_ENDPOINT_URL = server.endpoint;

    // Act
    try {
      const ssm = new SSMClient({ region: REGION, credentials: CREDENTIALS, maxAttempts: 1 });
      const secrets = new SecretsManagerClient({ region: REGION, credentials: CREDENTIALS, maxAttempts: 1 });
      const described = await ssm.send(new DescribeInstanceInformationCommand({}));
      const secret = await secrets.send(new GetSecretValueCommand({ SecretId: 'kasm/registration-token' }));

      // Assess
      expect(described.InstanceInformationList?.[0]?.InstanceId).toBe(ec2Id(1));
      expect(secret.SecretString).toBe('abc');
      expect(server.calls.map((c) => c.operation)).toEqual(['DescribeInstanceInformation', 'GetSecretValue']);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
      else process.env.AWS_ENDPOINT_URL = saved;
    }
  });

  it('answers throttling as HTTP 400 with __type, message and the x-amzn-errortype header', async () => {
    // Prepare
    const server = await serverWith(new ShellFleet([]), {
      faults: { throttleRate: 1, serverErrorRate: 0 },
    });

    // Act
    const res = await rawCall(server, 'AmazonSSM.DescribeInstanceInformation', {});

    // Assess
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ __type: 'ThrottlingException', message: 'Rate exceeded' });
    expect(res.headers.get('x-amzn-errortype')).toBe('ThrottlingException');
    expect(res.headers.get('content-type')).toBe('application/x-amz-json-1.1');
  });

  it('answers modeled errors with Message, and a server fault as HTTP 500 of the service type', async () => {
    // Prepare
    const server = await serverWith(new ShellFleet([node(ec2Id(1))]), {
      faults: { throttleRate: 0, serverErrorRate: 0.5 },
      random: draws(0.99, 0.1),
    });

    // Act
    const invalid = await rawCall(server, 'AmazonSSM.SendCommand', {
      DocumentName: 'Nope-Doc',
      InstanceIds: [ec2Id(1)],
    });
    const fault = await rawCall(server, 'AmazonSSM.DescribeInstanceInformation', {});

    // Assess
    expect(invalid.status).toBe(400);
    expect(invalid.json).toMatchObject({ __type: 'InvalidDocument' });
    expect(invalid.json.Message).toBeTypeOf('string');
    expect(fault.status).toBe(500);
    expect(fault.json).toEqual({
      __type: 'InternalServerError',
      Message: 'An error occurred on the server side.',
    });
    expect(fault.headers.get('x-amzn-errortype')).toBe('InternalServerError');
  });

  it('answers an operation it does not implement with UnknownOperationException and records the call', async () => {
    // Prepare
    const server = await serverWith(new ShellFleet([]), {});

    // Act
    const unknown = await rawCall(server, 'AmazonSSM.ListDocuments', {});
    const strange = await rawCall(server, 'Nobody.DoesThis', {});

    // Assess
    expect(unknown.status).toBe(400);
    expect(unknown.json).toEqual({ __type: 'UnknownOperationException' });
    expect(strange.json).toEqual({ __type: 'UnknownOperationException' });
    expect(server.calls.map((c) => [c.operation, c.status, c.errorType])).toEqual([
      ['ListDocuments', 400, 'UnknownOperationException'],
      ['Nobody.DoesThis', 400, 'UnknownOperationException'],
    ]);
  });

  it('records each request with its service, operation, parsed params and time', async () => {
    // Prepare
    const server = await serverWith(new ShellFleet([node(ec2Id(1))]), {});

    // Act
    await ssmClient(server).send(new DescribeInstanceInformationCommand({ MaxResults: 5 }));
    await rejection(secretsClient(server).send(new GetSecretValueCommand({ SecretId: 'missing' })));

    // Assess
    expect(server.calls).toHaveLength(2);
    expect(server.calls[0]).toMatchObject({
      service: 'ssm',
      operation: 'DescribeInstanceInformation',
      params: { MaxResults: 5 },
      status: 200,
    });
    expect(server.calls[1]).toMatchObject({
      service: 'secretsmanager',
      operation: 'GetSecretValue',
      params: { SecretId: 'missing' },
      status: 400,
      errorType: 'ResourceNotFoundException',
    });
    expect(Date.parse(server.calls[0]?.at ?? '')).not.toBeNaN();
  });
});
