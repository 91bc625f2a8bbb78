/**
 * The fleet as SSM and EC2 show it (lambda/aws/ssm-fleet.ts), against a scripted SSM client and
 * a scripted EC2 client: listing pages of managed nodes, asking EC2 for the fleet tag, and
 * logging a long document run's progress. The e2e tests prove the same against the proving
 * ground's wire-level AWS.
 */
import type { EC2Client } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { AwsCaller } from '../../lambda/aws/aws-call.ts';
import type { DocumentRun } from '../../lambda/aws/command-runner.ts';
import { Pacer } from '../../lambda/aws/pacer.ts';
import { ssmFleet } from '../../lambda/aws/ssm-fleet.ts';
import type { FleetApi } from '../../lambda/fleet-api.ts';
import { awsError, type Behaviour, FakeSsm, HANG } from './fake-ssm.ts';

/** A SHA-256 as the stack computes it for a document's content. */
const DOCUMENT_HASH = '3f'.repeat(32);
const TAG = { key: 'kasm:reconcile', value: 'true' };
const ID = (n: number) => `i-0a1b2c3d4e5f6${n.toString(16).padStart(4, '0')}`;

/** A scripted EC2 client: DescribeTags answers the pages given, one a call. */
function fakeEc2(pages: object[]) {
  const inputs: Record<string, unknown>[] = [];
  const client = {
    send: async (command: { input: Record<string, unknown> }) => {
      inputs.push(command.input);
      return pages[inputs.length - 1] ?? {};
    },
  } as unknown as EC2Client;
  return { client, inputs };
}

/** Every filter value of one DescribeTags request, all filters together (what EC2 counts). */
const filterValues = (input: Record<string, unknown>) =>
  (input.Filters as { Values: string[] }[]).reduce((sum, f) => sum + f.Values.length, 0);

function fleetOf(
  ssm: FakeSsm,
  ec2: EC2Client,
  options: {
    now?: () => number;
    log?: { info: string[]; warn: string[] };
    throttled?: string[];
    deadlineInMs?: number;
  } = {},
) {
  const throttled = options.throttled;
  const caller = new AwsCaller({
    pacer: new Pacer({ ratePerSecond: 1000, burst: 1000 }),
    deadlineAt: Date.now() + (options.deadlineInMs ?? 10 * 60_000),
    // No real wait between retries of a throttled call.
    sleep: async () => {},
    ...(throttled ? { onThrottle: (operation: string) => throttled.push(operation) } : {}),
  });
  const log = options.log;
  return ssmFleet({
    ssm: ssm.client,
    ec2,
    caller,
    fleetTag: TAG,
    pollIntervalMs: 1,
    maxPollIntervalMs: 5,
    pickupSeconds: 30,
    ...(options.now ? { now: options.now } : {}),
    ...(log
      ? {
          log: {
            info: (m: string, e?: object) => log.info.push(`${m} ${JSON.stringify(e ?? {})}`),
            warn: (m: string, e?: object) => log.warn.push(`${m} ${JSON.stringify(e ?? {})}`),
          },
        }
      : {}),
  });
}

const documentRun = (instanceIds: string[], step: DocumentRun['comment']['step']): DocumentRun => ({
  documentName: 'Probe-doc',
  documentVersion: '1',
  documentHash: DOCUMENT_HASH,
  instanceIds,
  parametersFor: () => ({}),
  comment: { runId: 'run-1', scope: 'fleet', step },
  expectedSeconds: 10,
  executionSeconds: 20,
  giveUpAt: Date.now() + 10 * 60_000,
  giveUpReason: 'the run gave up',
});

describe('ssmFleet.listFleet', () => {
  it('lists every page of tagged nodes, sorted, with unsupported platforms apart', async () => {
    // Prepare: two pages; the second has a node SSM gives without an id, and two Macs
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject(
      'DescribeInstanceInformation',
      {
        InstanceInformationList: [
          {
            InstanceId: ID(3),
            PlatformType: 'Windows',
            PingStatus: 'ConnectionLost',
            AgentVersion: '3.3.2746.0',
          },
          { InstanceId: ID(1), PlatformType: 'Linux', PingStatus: 'Online', AgentVersion: '3.3.2746.0' },
        ],
        NextToken: 'page-2',
      },
      {
        InstanceInformationList: [
          { PlatformType: 'Linux', PingStatus: 'Online' },
          { InstanceId: 'mi-0123456789abcdef1', PlatformType: 'MacOS', PingStatus: 'Online' },
          { InstanceId: 'mi-0000000000000000a', PlatformType: 'MacOS', PingStatus: 'Online' },
          { InstanceId: ID(2), PlatformType: 'Linux' },
        ],
        NextToken: 'page-3',
      },
      {},
    );

    // Act
    const listing = await fleetOf(ssm, fakeEc2([]).client).listFleet();

    // Assess
    expect(listing).toStrictEqual({
      nodes: [
        {
          instanceId: ID(1),
          platform: 'Linux',
          online: true,
          pingStatus: 'Online',
          agentVersion: '3.3.2746.0',
        },
        { instanceId: ID(2), platform: 'Linux', online: false, pingStatus: 'Unknown', agentVersion: '' },
        {
          instanceId: ID(3),
          platform: 'Windows',
          online: false,
          pingStatus: 'ConnectionLost',
          agentVersion: '3.3.2746.0',
        },
      ],
      unsupported: ['mi-0000000000000000a', 'mi-0123456789abcdef1'],
    });
    // Listed by the tag alone (SSM refuses a tag filter mixed with others), page after page.
    expect(ssm.calls.map((c) => c.input)).toStrictEqual([
      { Filters: [{ Key: 'tag:kasm:reconcile', Values: ['true'] }], MaxResults: 50, NextToken: undefined },
      { Filters: [{ Key: 'tag:kasm:reconcile', Values: ['true'] }], MaxResults: 50, NextToken: 'page-2' },
      { Filters: [{ Key: 'tag:kasm:reconcile', Values: ['true'] }], MaxResults: 50, NextToken: 'page-3' },
    ]);
  });
});

/** An online Linux node as DescribeInstanceInformation shows it. */
const node = (id: string) => ({ InstanceId: id, PlatformType: 'Linux', PingStatus: 'Online' });

describe('ssmFleet.listFleet and describeNodes: the agent version', () => {
  it('is host text, made printable: an escape sequence in it can act on no terminal', async () => {
    // Prepare: an agent whose version sets the window title and clears the screen
    const version = '3.2.0.0\u001b]0;pwned\u0007\u001b[2J\u202e';
    const hostile = { ...node(ID(1)), AgentVersion: version };
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject(
      'DescribeInstanceInformation',
      { InstanceInformationList: [hostile] },
      { InstanceInformationList: [hostile] },
    );
    const fleet = fleetOf(ssm, fakeEc2([]).client);

    // Act
    const listed = await fleet.listFleet();
    const described = await fleet.describeNodes([ID(1)]);

    // Assess: every control character shown as an escape, the rest kept
    for (const listing of [listed, described]) {
      expect(listing.nodes.map((n) => n.agentVersion)).toStrictEqual([
        '3.2.0.0\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\u{202e}',
      ]);
    }
  });
});

describe('ssmFleet.describeNodes', () => {
  it('asks SSM about the named ids alone, 50 a call, and leaves out ids it refuses as not yet managed', async () => {
    // Prepare: 51 ids; SSM refuses any call naming ID(7) (never checked in), and lists ID(1) and ID(51)
    const ids = Array.from({ length: 51 }, (_, i) => ID(i + 1));
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject(
      'DescribeInstanceInformation',
      awsError('InvalidInstanceId', ''), // 1–50
      awsError('InvalidInstanceId', ''), // 1–25
      awsError('InvalidInstanceId', ''), // 1–13
      awsError('InvalidInstanceId', ''), // 1–7
      { InstanceInformationList: [node(ID(1))] }, // 1–4
      awsError('InvalidInstanceId', ''), // 5–7
      {}, // 5–6
      awsError('InvalidInstanceId', ''), // 7 alone: left out
      {}, // 8–13
      {}, // 14–25
      {}, // 26–50
      { InstanceInformationList: [node(ID(51)), node('i-0ffffffffffffffff')] }, // 51, and a stray SSM gave
    );

    // Act
    const listing = await fleetOf(ssm, fakeEc2([]).client).describeNodes(ids);

    // Assess
    expect(listing.nodes.map((n) => n.instanceId)).toStrictEqual([ID(1), ID(51)]);
    const asked = ssm.calls.map((c) => (c.input.Filters as { Key: string; Values: string[] }[])[0]);
    expect(asked.every((f) => f?.Key === 'InstanceIds')).toBe(true);
    expect(asked.map((f) => f?.Values.length)).toStrictEqual([50, 25, 13, 7, 4, 3, 2, 1, 6, 12, 25, 1]);
    expect(asked.filter((f) => f?.Values.length === 1).map((f) => f?.Values[0])).toStrictEqual([
      ID(7),
      ID(51),
    ]);
  });

  it('reads every page SSM gives for a call, and makes one call for exactly 50 ids', async () => {
    // Prepare: the one call is answered over two pages
    const ids = Array.from({ length: 50 }, (_, i) => ID(i + 1));
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject(
      'DescribeInstanceInformation',
      { InstanceInformationList: [node(ID(1))], NextToken: 'page-2' },
      { InstanceInformationList: [node(ID(50))] },
    );

    // Act
    const listing = await fleetOf(ssm, fakeEc2([]).client).describeNodes(ids);

    // Assess
    expect(listing.nodes.map((n) => n.instanceId)).toStrictEqual([ID(1), ID(50)]);
    expect(ssm.calls.map((c) => c.input.NextToken)).toStrictEqual([undefined, 'page-2']);
  });

  it('fails when SSM fails for another reason than an unknown id', async () => {
    // Prepare
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject('DescribeInstanceInformation', awsError('AccessDeniedException', 'not authorized'));

    // Act
    const described = fleetOf(ssm, fakeEc2([]).client).describeNodes([ID(1)]);

    // Assess
    await expect(described).rejects.toThrow('not authorized');
  });
});

describe('ssmFleet: a call that hangs', () => {
  /** An EC2 client whose every call hangs until its abort signal fires. */
  const hangingEc2 = {
    send: (_: unknown, options?: { abortSignal?: AbortSignal }) =>
      new Promise((_resolve, reject) =>
        options?.abortSignal?.addEventListener('abort', () => reject(options.abortSignal?.reason)),
      ),
  } as unknown as EC2Client;

  it.each([
    ['listFleet', 'DescribeInstanceInformation', (f: FleetApi) => f.listFleet()],
    ['describeNodes', 'DescribeInstanceInformation', (f: FleetApi) => f.describeNodes([ID(1)])],
    ['taggedInstances', 'DescribeTags', (f: FleetApi) => f.taggedInstances([ID(1)])],
  ])(
    '%s stops waiting for %s once the run reaches its deadline, naming the call',
    async (_, operation, act) => {
      // Prepare: the deadline falls 100 ms after the call is made, and the call never answers
      const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
      ssm.interject('DescribeInstanceInformation', HANG);

      // Act
      const done = act(fleetOf(ssm, hangingEc2, { deadlineInMs: 100 }));

      // Assess
      await expect(done).rejects.toThrow(`${operation} was not completed: the run reached its deadline`);
    },
    3000,
  );
});

describe('ssmFleet: throttles', () => {
  it('names the SSM and EC2 operations it was throttled on', async () => {
    // Prepare
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject('DescribeInstanceInformation', awsError('ThrottlingException', 'Rate exceeded'), {});
    const ec2 = fakeEc2([{}]);
    const send = ec2.client.send.bind(ec2.client);
    let refused = false;
    ec2.client.send = (async (command: never) => {
      if (!refused) {
        refused = true;
        throw awsError('RequestLimitExceeded', 'Request limit exceeded.');
      }
      return send(command);
    }) as never;
    const throttled: string[] = [];
    const fleet = fleetOf(ssm, ec2.client, { throttled });

    // Act
    await fleet.listFleet();
    await fleet.taggedInstances([ID(1)]);

    // Assess
    expect(throttled).toStrictEqual(['DescribeInstanceInformation', 'DescribeTags']);
  });
});

describe('ssmFleet.taggedInstances', () => {
  it('asks EC2 about EC2 ids only, at most 200 filter values a request, and keeps those carrying the fleet tag', async () => {
    // Prepare: 250 EC2 ids and a hybrid node; EC2 answers the first request over two pages
    const ids = [...Array.from({ length: 250 }, (_, i) => ID(i + 1)), 'mi-0123456789abcdef1'];
    const ec2 = fakeEc2([
      {
        Tags: [
          { ResourceId: ID(1), Key: TAG.key, Value: TAG.value },
          { ResourceId: ID(2), Key: TAG.key, Value: 'false' },
          { ResourceId: ID(3), Key: 'kasm:other', Value: TAG.value },
          { Key: TAG.key, Value: TAG.value },
        ],
        NextToken: 'more',
      },
      {},
      { Tags: [{ ResourceId: ID(250), Key: TAG.key, Value: TAG.value }] },
    ]);

    // Act
    const tagged = await fleetOf(new FakeSsm(() => ({ kind: 'succeed' })), ec2.client).taggedInstances(ids);

    // Assess: 198 ids + the key + the value is EC2's 200 values (FilterLimitExceeded past them)
    expect([...tagged]).toStrictEqual([ID(1), ID(250)]);
    const resourceIds = ec2.inputs.map(
      (i) =>
        (i.Filters as { Name: string; Values: string[] }[]).find((f) => f.Name === 'resource-id')?.Values,
    );
    expect(resourceIds.map((v) => v?.length)).toStrictEqual([198, 198, 52]);
    expect(ec2.inputs.map(filterValues)).toStrictEqual([200, 200, 54]);
    expect(resourceIds.flat()).not.toContain('mi-0123456789abcdef1');
    expect(ec2.inputs.map((i) => i.NextToken)).toStrictEqual([undefined, 'more', undefined]);
    expect(ec2.inputs.map((i) => (i.Filters as object[]).slice(1))).toStrictEqual(
      Array(3).fill([
        { Name: 'key', Values: [TAG.key] },
        { Name: 'value', Values: [TAG.value] },
      ]),
    );
  });

  it('asks about 1,000 started instances in requests of at most 200 filter values, and finds every tagged one', async () => {
    // Prepare: an EC2 that answers like EC2 (FilterLimitExceeded past 200 values), every third id tagged
    const ids = Array.from({ length: 1000 }, (_, i) => ID(i + 1));
    const inputs: Record<string, unknown>[] = [];
    const client = {
      send: async (command: { input: Record<string, unknown> }) => {
        inputs.push(command.input);
        if (filterValues(command.input) > 200) {
          throw awsError(
            'FilterLimitExceeded',
            'The maximum number of filter values specified on a single call is 200',
          );
        }
        const asked = (command.input.Filters as { Name: string; Values: string[] }[])[0]?.Values ?? [];
        return {
          Tags: asked
            .filter((id) => ids.indexOf(id) % 3 === 0)
            .map((id) => ({ ResourceId: id, Key: TAG.key, Value: TAG.value })),
        };
      },
    } as unknown as EC2Client;

    // Act
    const tagged = await fleetOf(new FakeSsm(() => ({ kind: 'succeed' })), client).taggedInstances(ids);

    // Assess
    expect(inputs.map(filterValues)).toStrictEqual([200, 200, 200, 200, 200, 12]);
    expect([...tagged].sort()).toStrictEqual(ids.filter((_, i) => i % 3 === 0));
  });

  it('asks EC2 nothing when no node is an EC2 instance', async () => {
    const ec2 = fakeEc2([]);
    const tagged = await fleetOf(new FakeSsm(() => ({ kind: 'succeed' })), ec2.client).taggedInstances([
      'mi-0123456789abcdef1',
    ]);
    expect([...tagged]).toStrictEqual([]);
    expect(ec2.inputs).toStrictEqual([]);
  });
});

describe('ssmFleet.runDocument', () => {
  it('logs the progress of a run of more than one command, one line per command, under its step', async () => {
    // Prepare
    const ssm = new FakeSsm((): Behaviour => ({ kind: 'succeed' }));
    const log = { info: [] as string[], warn: [] as string[] };
    const ids = Array.from({ length: 120 }, (_, i) => ID(i + 1));

    // Act
    const results = await fleetOf(ssm, fakeEc2([]).client, { log }).runDocument(documentRun(ids, 'observe'));

    // Assess
    expect(results.size).toBe(120);
    const progress = log.info.map((l) => JSON.parse(l.replace(/^progress /, '')));
    expect(progress.map((p) => [p.step, p.batchesDone, p.batches, p.nodes])).toStrictEqual([
      ['observe', 1, 3, 120],
      ['observe', 2, 3, 120],
      ['observe', 3, 3, 120],
    ]);
    expect(progress.at(-1)?.nodesDone).toBe(120);
  });

  it('logs no progress for a run of one command, nor without a log', async () => {
    // Prepare
    const ssm = new FakeSsm((): Behaviour => ({ kind: 'succeed' }));
    const log = { info: [] as string[], warn: [] as string[] };

    // Act
    const one = await fleetOf(ssm, fakeEc2([]).client, { log }).runDocument(
      documentRun([ID(1), ID(2)], 'deliver'),
    );
    const unlogged = await fleetOf(ssm, fakeEc2([]).client).runDocument(
      documentRun(
        Array.from({ length: 60 }, (_, i) => ID(i + 1)),
        'deliver',
      ),
    );

    // Assess
    expect(one.size).toBe(2);
    expect(unlogged.size).toBe(60);
    expect(log.info).toStrictEqual([]);
  });

  it('warns through the log when polling fails, and runs on the clock it is given', async () => {
    // Prepare: a clock 10 s further on at every look, so the pick-up time of a host that
    // never starts (40 s) comes after a few polls instead of 40 real seconds
    const ssm = new FakeSsm((): Behaviour => ({ kind: 'never-start' }));
    ssm.interject(
      'ListCommands',
      Object.assign(new Error('Internal failure'), { name: 'InternalServerError' }),
    );
    const log = { info: [] as string[], warn: [] as string[] };
    let virtual = Date.parse('2030-01-01T00:00:00Z');
    const now = () => {
      virtual += 10_000;
      return virtual;
    };

    // Act
    const results = await fleetOf(ssm, fakeEc2([]).client, { log, now }).runDocument({
      ...documentRun([ID(1)], 'observe'),
      giveUpAt: Date.parse('2030-01-01T01:00:00Z'),
    });

    // Assess
    expect(results.get(ID(1))).toMatchObject({ kind: 'unreachable' });
    expect(log.warn).toStrictEqual([
      'listing command statuses failed {"error":"InternalServerError: Internal failure"}',
    ]);
    // Sent at 00:00:10 by the given clock (not the machine's): listed from a minute earlier.
    const listed = ssm.calls.filter((c) => c.operation === 'ListCommands').map((c) => c.input.Filters);
    expect(listed[0]).toContainEqual({ key: 'InvokedAfter', value: '2029-12-31T23:59:10Z' });
  });
});

describe('ssmFleet.findCommand', () => {
  it('reads the command history through ListCommands', async () => {
    // Prepare
    const ssm = new FakeSsm(() => ({ kind: 'succeed' }));
    ssm.interject('ListCommands', {
      Commands: [{ Comment: 'kasm-token-reconciler run-1 fleet deliver', RequestedDateTime: new Date(5000) }],
    });

    // Act
    const found = await fleetOf(ssm, fakeEc2([]).client).findCommand(
      { documentNames: ['Push-doc'], sentAfter: 0, executingOnly: true },
      () => true,
    );

    // Assess
    expect(found).toStrictEqual({ comment: 'kasm-token-reconciler run-1 fleet deliver', requestedAt: 5000 });
    expect(ssm.count('ListCommands')).toBe(1);
  });
});
