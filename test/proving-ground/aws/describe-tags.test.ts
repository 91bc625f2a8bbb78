import { afterEach, describe, expect, it } from 'vitest';
import type { AwsServer } from './server.ts';
import { ec2Id, hybridId, node, ShellFleet, startTestServer, TAG } from './testkit.ts';

const servers: AwsServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** An EC2 Query-protocol request, the way the SDK's EC2 client and the AWS CLI send it. */
async function ec2Call(
  server: AwsServer,
  params: Record<string, string>,
): Promise<{ status: number; xml: string }> {
  const res = await fetch(server.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: new URLSearchParams({ Action: 'DescribeTags', Version: '2016-11-15', ...params }).toString(),
  });
  return { status: res.status, xml: await res.text() };
}

describe('EC2 DescribeTags', () => {
  it('answers the tags of EC2 instances, stopped ones included, in XML, filtered by resource-id and key, and records the call as ec2', async () => {
    // Prepare
    const fleet = new ShellFleet([
      node(ec2Id(1)),
      node(ec2Id(2), { state: 'stopped' }),
      node(ec2Id(3), { tags: { Name: 'other' } }),
      node(hybridId(4)),
    ]);
    const server = await startTestServer(fleet);
    servers.push(server);

    // Act
    const out = await ec2Call(server, {
      'Filter.1.Name': 'resource-id',
      'Filter.1.Value.1': ec2Id(2),
      'Filter.1.Value.2': ec2Id(3),
      'Filter.1.Value.3': hybridId(4),
      'Filter.2.Name': 'key',
      'Filter.2.Value.1': TAG.key,
    });
    const all = await ec2Call(server, {});

    // Assess
    expect(out.status).toBe(200);
    expect(out.xml).toMatch(
      new RegExp(
        '^<\\?xml version="1.0" encoding="UTF-8"\\?>\\n<DescribeTagsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' +
          '<requestId>[0-9a-f-]{36}</requestId><tagSet><item><resourceId>i-0+2</resourceId><resourceType>instance</resourceType>' +
          '<key>kasm:reconcile</key><value>true</value></item></tagSet></DescribeTagsResponse>$',
      ),
    );
    expect(all.xml).not.toContain('mi-');
    expect(server.calls.map((c) => [c.service, c.operation, c.status])).toEqual([
      ['ec2', 'DescribeTags', 200],
      ['ec2', 'DescribeTags', 200],
    ]);
  });

  it('answers an unknown filter and an out-of-range MaxResults with EC2 XML errors', async () => {
    // Prepare
    const server = await startTestServer(new ShellFleet([node(ec2Id(1))]));
    servers.push(server);

    // Act
    const badFilter = await ec2Call(server, { 'Filter.1.Name': 'colour', 'Filter.1.Value.1': 'blue' });
    const badMax = await ec2Call(server, { MaxResults: '4' });

    // Assess
    expect(badFilter.status).toBe(400);
    expect(badFilter.xml).toMatch(
      /<Response><Errors><Error><Code>InvalidParameterValue<\/Code><Message>The filter 'colour' is invalid<\/Message><\/Error><\/Errors><RequestID>[0-9a-f-]{36}<\/RequestID><\/Response>$/,
    );
    expect(badMax.status).toBe(400);
    expect(badMax.xml).toContain('<Code>InvalidParameterValue</Code>');
  });

  it('answers FilterLimitExceeded (HTTP 400) past 200 filter values, counting every filter of the call', async () => {
    // Prepare
    const server = await startTestServer(new ShellFleet([node(ec2Id(1))]));
    servers.push(server);
    const ids = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`Filter.1.Value.${i + 1}`, ec2Id(i + 1)]));
    const tagFilters = {
      'Filter.2.Name': 'key',
      'Filter.2.Value.1': TAG.key,
      'Filter.3.Name': 'value',
      'Filter.3.Value.1': TAG.value,
    };

    // Act: 198 ids + key + value is 200 values; 199 ids + key + value is 201
    const atLimit = await ec2Call(server, { 'Filter.1.Name': 'resource-id', ...ids(198), ...tagFilters });
    const pastLimit = await ec2Call(server, { 'Filter.1.Name': 'resource-id', ...ids(199), ...tagFilters });
    const idsAlone = await ec2Call(server, { 'Filter.1.Name': 'resource-id', ...ids(201) });

    // Assess
    expect(atLimit.status).toBe(200);
    expect(atLimit.xml).toContain(`<resourceId>${ec2Id(1)}</resourceId>`);
    for (const refused of [pastLimit, idsAlone]) {
      expect(refused.status).toBe(400);
      expect(refused.xml).toMatch(
        /<Response><Errors><Error><Code>FilterLimitExceeded<\/Code><Message>The maximum number of filter values specified on a single call is 200<\/Message><\/Error><\/Errors>/,
      );
    }
  });

  it('throttles DescribeTags with EC2 RequestLimitExceeded (HTTP 503) once its token bucket is empty', async () => {
    // Prepare
    const server = await startTestServer(new ShellFleet([node(ec2Id(1))]), {
      faults: {
        throttleRate: 0,
        serverErrorRate: 0,
        throttle: { DescribeTags: { ratePerSecond: 0.01, burst: 1 } },
      },
    });
    servers.push(server);

    // Act
    const first = await ec2Call(server, {});
    const second = await ec2Call(server, {});

    // Assess
    expect(first.status).toBe(200);
    expect(second.status).toBe(503);
    expect(second.xml).toContain(
      '<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>',
    );
  });
});
