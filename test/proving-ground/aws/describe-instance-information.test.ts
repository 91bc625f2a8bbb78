import { DescribeInstanceInformationCommand, paginateDescribeInstanceInformation } from '@aws-sdk/client-ssm';
import { afterEach, describe, expect, it } from 'vitest';
import type { AwsServer } from './server.ts';
import {
  ec2Id,
  hybridId,
  node,
  rawCall,
  rejection,
  ShellFleet,
  ssmClient,
  startTestServer,
  TAG,
} from './testkit.ts';

const servers: AwsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serverWith(fleet: ShellFleet): Promise<AwsServer> {
  const server = await startTestServer(fleet);
  servers.push(server);
  return server;
}

/** 120 tagged nodes (every fourth one hybrid, every fifth one offline) and 10 untagged ones. */
function bigFleet(): ShellFleet {
  const tagged = Array.from({ length: 120 }, (_, i) =>
    node(i % 4 === 3 ? hybridId(i + 1) : ec2Id(i + 1), {
      online: i % 5 !== 4,
      tags: { [TAG.key]: TAG.value, Name: `kasm-${i}` },
    }),
  );
  const untagged = Array.from({ length: 10 }, (_, i) =>
    node(ec2Id(1000 + i), { tags: { Name: `other-${i}` } }),
  );
  return new ShellFleet([...tagged, ...untagged]);
}

describe('DescribeInstanceInformation', () => {
  it('pages through 120 tagged nodes 50 at a time and returns every tagged node exactly once', async () => {
    // Prepare
    const server = await serverWith(bigFleet());
    const ssm = ssmClient(server);
    const pages: number[] = [];
    const ids: string[] = [];

    // Act
    for await (const page of paginateDescribeInstanceInformation(
      { client: ssm, pageSize: 50 },
      { Filters: [{ Key: `tag:${TAG.key}`, Values: [TAG.value] }] },
    )) {
      pages.push(page.InstanceInformationList?.length ?? 0);
      ids.push(...(page.InstanceInformationList ?? []).map((i) => i.InstanceId ?? ''));
    }

    // Assess
    expect(pages).toEqual([50, 50, 20]);
    expect(new Set(ids).size).toBe(120);
    expect(ids.some((id) => id.startsWith('mi-'))).toBe(true);
    expect(ids).not.toContain(ec2Id(1000));
    const describeCalls = server.calls.filter((c) => c.operation === 'DescribeInstanceInformation');
    expect(describeCalls).toHaveLength(3);
  });

  it('lists untagged nodes as well when no tag filter is given, 10 per page by default', async () => {
    // Prepare
    const server = await serverWith(bigFleet());
    const ssm = ssmClient(server);

    // Act
    const first = await ssm.send(new DescribeInstanceInformationCommand({}));
    let total = 0;
    for await (const page of paginateDescribeInstanceInformation({ client: ssm, pageSize: 50 }, {})) {
      total += page.InstanceInformationList?.length ?? 0;
    }

    // Assess
    expect(first.InstanceInformationList).toHaveLength(10);
    expect(first.NextToken).toBeTypeOf('string');
    expect(total).toBe(130);
  });

  it('describes each node with ping status, platform, resource type and a ping time', async () => {
    // Prepare
    const fleet = new ShellFleet([
      node(ec2Id(1)),
      node(hybridId(2), { platform: 'Windows', online: false, tags: {} }),
    ]);
    const server = await serverWith(fleet);

    // Act
    const out = await ssmClient(server).send(new DescribeInstanceInformationCommand({ MaxResults: 5 }));

    // Assess
    const [ec2, hybrid] = out.InstanceInformationList ?? [];
    expect(ec2).toMatchObject({
      InstanceId: ec2Id(1),
      PingStatus: 'Online',
      PlatformType: 'Linux',
      ResourceType: 'EC2Instance',
      ComputerName: `${ec2Id(1)}.fleet.internal`,
      IPAddress: '10.0.0.1',
      IsLatestVersion: true,
    });
    expect(ec2?.LastPingDateTime).toBeInstanceOf(Date);
    expect(Math.abs((ec2?.LastPingDateTime?.getTime() ?? 0) - Date.now())).toBeLessThan(60_000);
    expect(ec2?.AgentVersion).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(hybrid).toMatchObject({
      PingStatus: 'ConnectionLost',
      PlatformType: 'Windows',
      ResourceType: 'ManagedInstance',
    });
    expect(hybrid?.LastPingDateTime?.getTime()).toBeLessThan(Date.now() - 3600_000);
    expect(out.NextToken).toBeUndefined();
  });

  it('combines filters: PingStatus and PlatformTypes must both match, and the legacy list works alone', async () => {
    // Prepare
    const fleet = new ShellFleet([
      node(ec2Id(1)),
      node(ec2Id(2), { online: false }),
      node(ec2Id(3), { platform: 'Windows' }),
      node(ec2Id(4), { tags: {} }),
    ]);
    const server = await serverWith(fleet);

    // Act
    const out = await ssmClient(server).send(
      new DescribeInstanceInformationCommand({
        Filters: [
          { Key: 'PingStatus', Values: ['Online'] },
          { Key: 'PlatformTypes', Values: ['Linux'] },
        ],
      }),
    );
    const legacy = await ssmClient(server).send(
      new DescribeInstanceInformationCommand({
        InstanceInformationFilterList: [{ key: 'InstanceIds', valueSet: [ec2Id(2), ec2Id(3)] }],
      }),
    );

    // Assess
    expect(out.InstanceInformationList?.map((i) => i.InstanceId)).toEqual([ec2Id(1), ec2Id(4)]);
    expect(legacy.InstanceInformationList?.map((i) => i.InstanceId)).toEqual([ec2Id(2), ec2Id(3)]);
  });

  it('rejects MaxResults below 5 and above 50 with the ValidationException AWS sends', async () => {
    // Prepare
    const server = await serverWith(new ShellFleet([node(ec2Id(1))]));
    const ssm = ssmClient(server);

    // Act
    const low = await rejection(ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 4 })));
    const high = await rejection(ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 51 })));

    // Assess
    expect(low.name).toBe('ValidationException');
    expect(low.message).toBe(
      "1 validation error detected: Value '4' at 'maxResults' failed to satisfy constraint: " +
        'Member must have value greater than or equal to 5',
    );
    expect(high.name).toBe('ValidationException');
    expect(high.message).toBe(
      "1 validation error detected: Value '51' at 'maxResults' failed to satisfy constraint: " +
        'Member must have value less than or equal to 50',
    );
    expect(server.calls.map((c) => [c.status, c.errorType])).toEqual([
      [400, 'ValidationException'],
      [400, 'ValidationException'],
    ]);
  });

  it('rejects a NextToken it did not issue, or one issued for another query, with InvalidNextToken', async () => {
    // Prepare
    const server = await serverWith(bigFleet());
    const ssm = ssmClient(server);
    const first = await ssm.send(new DescribeInstanceInformationCommand({ MaxResults: 5 }));

    // Act
    const forged = await rejection(
      ssm.send(new DescribeInstanceInformationCommand({ NextToken: 'not-a-token' })),
    );
    const replayed = await rejection(
      ssm.send(
        new DescribeInstanceInformationCommand({
          NextToken: first.NextToken,
          Filters: [{ Key: 'PingStatus', Values: ['Online'] }],
        }),
      ),
    );

    // Assess
    expect(first.NextToken).toBeTypeOf('string');
    expect(forged.name).toBe('InvalidNextToken');
    expect(replayed.name).toBe('InvalidNextToken');
  });

  it('answers InvalidInstanceId for an InstanceIds filter naming a node that is not managed', async () => {
    // Prepare
    const server = await serverWith(new ShellFleet([node(ec2Id(1))]));

    // Act
    const error = await rejection(
      ssmClient(server).send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: 'InstanceIds', Values: [ec2Id(1), ec2Id(9)] }],
        }),
      ),
    );

    // Assess
    expect(error.name).toBe('InvalidInstanceId');
  });

  it('answers InvalidFilterKey for an unknown key and InvalidInstanceInformationFilterValue for a bad value', async () => {
    // Prepare
    const server = await serverWith(new ShellFleet([node(ec2Id(1))]));

    // Act
    const badKey = await rawCall(server, 'AmazonSSM.DescribeInstanceInformation', {
      Filters: [{ Key: 'Colour', Values: ['blue'] }],
    });
    const badValue = await rejection(
      ssmClient(server).send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: 'PingStatus', Values: ['Asleep'] }] }),
      ),
    );

    // Assess
    expect(badKey.status).toBe(400);
    expect(badKey.json).toEqual({ __type: 'InvalidFilterKey' });
    expect(badKey.headers.get('x-amzn-errortype')).toBe('InvalidFilterKey');
    expect(badValue.name).toBe('InvalidInstanceInformationFilterValue');
    expect(badValue.message).toBe("The specified filter value isn't valid.");
  });
});
