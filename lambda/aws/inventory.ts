/**
 * Lists the fleet: the SSM managed nodes that carry the fleet tag, and named nodes by id.
 *
 * DescribeInstanceInformation refuses a tag filter combined with any other filter type
 * ("Cannot mix tag or inventory filter with any other filter."), so the fleet is always
 * listed by the tag alone and named ids are picked from it in code. Only the instance-start
 * wait lists by id (nodes whose fleet tag EC2 has already confirmed), so that what it costs
 * grows with the started hosts, not with the fleet.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html
 */
import {
  DescribeInstanceInformationCommand,
  type InstanceInformation,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { Platform } from '../../shared/catalog.ts';
import type { FleetTag } from '../../shared/config.ts';
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

export async function listFleet(ssm: SSMClient, caller: AwsCaller, tag: FleetTag): Promise<FleetListing> {
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

/** At most this many ids per InstanceIds filter: a page holds them all (the filter takes 1 to 100 values). */
const IDS_PER_CALL = PAGE_SIZE;

/**
 * The managed nodes SSM knows among `ids`, whatever their ping status. "If you specify a node ID that
 * isn't valid or a node that you don't own, you receive an error" (InvalidInstanceId, for the whole
 * call): an instance that has never checked in is not a managed node yet. Such a call is halved until
 * the unknown ids stand alone; they are left out of the listing, as nodes SSM does not list yet.
 */
export async function describeNodes(
  ssm: SSMClient,
  caller: AwsCaller,
  ids: readonly string[],
): Promise<FleetListing> {
  const found = new Map<string, InstanceInformation>();
  const describe = async (batch: readonly string[]): Promise<void> => {
    try {
      let nextToken: string | undefined;
      do {
        const page = await caller.call('DescribeInstanceInformation', (abortSignal) =>
          ssm.send(
            new DescribeInstanceInformationCommand({
              Filters: [{ Key: 'InstanceIds', Values: [...batch] }],
              MaxResults: PAGE_SIZE,
              NextToken: nextToken,
            }),
            { abortSignal },
          ),
        );
        for (const info of page.InstanceInformationList ?? [])
          if (info.InstanceId && batch.includes(info.InstanceId)) found.set(info.InstanceId, info);
        nextToken = page.NextToken;
      } while (nextToken);
    } catch (error) {
      if (!(error instanceof Error && error.name === 'InvalidInstanceId')) throw error;
      if (batch.length === 1) return;
      const half = Math.ceil(batch.length / 2);
      await describe(batch.slice(0, half));
      await describe(batch.slice(half));
    }
  };
  for (let i = 0; i < ids.length; i += IDS_PER_CALL) await describe(ids.slice(i, i + IDS_PER_CALL));
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
