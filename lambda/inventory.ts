/** Finds the managed nodes that carry the fleet tag, through DescribeInstanceInformation. */
import {
  type InstanceInformation,
  type InstanceInformationStringFilter,
  paginateDescribeInstanceInformation,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import type { Platform } from '../shared/catalog.ts';
import { chunk } from './concurrency.ts';

export interface ManagedNode {
  readonly instanceId: string;
  readonly platform: Platform;
  readonly online: boolean;
  readonly pingStatus: string;
}

export interface Inventory {
  readonly nodes: readonly ManagedNode[];
  /** Tagged nodes whose platform the reconciler has no scripts for (e.g. MacOS). */
  readonly unsupported: readonly string[];
}

/**
 * DescribeInstanceInformation pages hold 5 to 50 items, and an InstanceIds filter
 * takes at most 50 values.
 * https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeInstanceInformation.html
 */
const PAGE_SIZE = 50;
const IDS_PER_FILTER = 50;

export async function listManagedNodes(
  ssm: SSMClient,
  tag: { readonly key: string; readonly value: string },
  instanceIds?: readonly string[],
): Promise<Inventory> {
  const tagFilter: InstanceInformationStringFilter = { Key: `tag:${tag.key}`, Values: [tag.value] };
  const found = new Map<string, InstanceInformation>();
  const collect = async (Filters: InstanceInformationStringFilter[]) => {
    for await (const page of paginateDescribeInstanceInformation(
      { client: ssm, pageSize: PAGE_SIZE },
      { Filters },
    )) {
      for (const info of page.InstanceInformationList ?? [])
        if (info.InstanceId) found.set(info.InstanceId, info);
    }
  };
  if (!instanceIds) {
    await collect([tagFilter]);
    return toInventory(found);
  }
  try {
    for (const ids of chunk(instanceIds, IDS_PER_FILTER))
      await collect([tagFilter, { Key: 'InstanceIds', Values: ids }]);
  } catch (error) {
    // "If you specify a node ID that isn't valid or a node that you don't own, you receive
    // an error": one unknown id fails the filter, so list the tagged fleet and pick here.
    if (!(error instanceof Error) || error.name !== 'InvalidInstanceId') throw error;
    found.clear();
    await collect([tagFilter]);
    const wanted = new Set(instanceIds);
    for (const id of [...found.keys()]) if (!wanted.has(id)) found.delete(id);
  }
  return toInventory(found);
}

function toInventory(found: ReadonlyMap<string, InstanceInformation>): Inventory {
  const nodes: ManagedNode[] = [];
  const unsupported: string[] = [];
  for (const info of found.values()) {
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
    });
  }
  nodes.sort((a, b) => a.instanceId.localeCompare(b.instanceId));
  return { nodes, unsupported };
}
