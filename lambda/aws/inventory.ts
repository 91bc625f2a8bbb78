/**
 * Lists the fleet: the SSM managed nodes that carry the fleet tag.
 *
 * DescribeInstanceInformation refuses a tag filter combined with any other filter type
 * ("Cannot mix tag or inventory filter with any other filter."), so the fleet is always
 * listed by the tag alone and named ids are picked from it in code.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html
 */
import {
  DescribeInstanceInformationCommand,
  type InstanceInformation,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { Platform } from '../../shared/catalog.ts';
import { printable } from '../../shared/printable.ts';
import type { AwsCaller } from './aws-call.ts';

export interface ManagedNode {
  readonly instanceId: string;
  readonly platform: Platform;
  readonly online: boolean;
  readonly pingStatus: string;
  /** The SSM Agent version the node reports ("" when SSM did not say). */
  readonly agentVersion: string;
}

export interface FleetListing {
  readonly nodes: readonly ManagedNode[];
  /** Tagged nodes whose platform the reconciler has no scripts for (e.g. MacOS). */
  readonly unsupported: readonly string[];
}

/** "Valid Range: Minimum value of 5. Maximum value of 50." (MaxResults) */
const PAGE_SIZE = 50;

export async function listFleet(
  ssm: SSMClient,
  caller: AwsCaller,
  tag: { readonly key: string; readonly value: string },
): Promise<FleetListing> {
  const found = new Map<string, InstanceInformation>();
  let nextToken: string | undefined;
  do {
    const page = await caller.call('DescribeInstanceInformation', (abortSignal) =>
      ssm.send(
        new DescribeInstanceInformationCommand({
          Filters: [{ Key: `tag:${tag.key}`, Values: [tag.value] }],
          MaxResults: PAGE_SIZE,
          NextToken: nextToken,
        }),
        { abortSignal },
      ),
    );
    for (const info of page.InstanceInformationList ?? [])
      if (info.InstanceId) found.set(info.InstanceId, info);
    nextToken = page.NextToken;
  } while (nextToken);
  return toListing(found.values());
}

function toListing(infos: Iterable<InstanceInformation>): FleetListing {
  const nodes: ManagedNode[] = [];
  const unsupported: string[] = [];
  for (const info of infos) {
    const id = info.InstanceId as string;
    if (info.PlatformType !== 'Linux' && info.PlatformType !== 'Windows') {
      unsupported.push(id);
      continue;
    }
    nodes.push({
      instanceId: id,
      platform: info.PlatformType,
      online: info.PingStatus === 'Online',
      pingStatus: info.PingStatus ?? 'Unknown',
      // What the host's agent says of itself: host text, so made printable before any report or log.
      agentVersion: printable(info.AgentVersion ?? ''),
    });
  }
  nodes.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  unsupported.sort();
  return { nodes, unsupported };
}
